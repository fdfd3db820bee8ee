//! The management API server (axum): `app(state)` builds the router,
//! `run(listener, state, shutdown)` serves it, `start` does what `keydesk
//! serve` does before that (data directory, pepper, database, bootstrap).
//! Handlers live one module per resource and stay thin: parse, ask the
//! domain, call the store, shape the answer.

pub mod auth;
pub mod bulk;
pub mod cache;
pub mod connections;
mod contract;
pub mod digests;
pub mod error;
pub mod event_stream;
pub mod events;
pub mod extract;
pub mod fleet;
pub mod keys;
pub mod lookup;
pub mod ops;
pub mod tenants;
pub mod usage;
pub mod users;
pub mod verify;
// Issue 8: verifier tokens and per-key rate limits.
pub mod rate_limit;
pub mod verifiers;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use chrono::Utc;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use self::cache::KeyCache;
use self::error::{ApiError, ApiResult};
use self::extract::Caller;
use self::ops::Metrics;
use self::usage::UsageRecorder;
use crate::domain::secret::generate_token;
use crate::domain::{Email, Keyring, PersonName, Role, Roles, Tenant, TenantId, User, UserId};
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{InstanceInfo, Store};

/// Largest request body accepted; every body of this API is small.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub cache: Arc<KeyCache>,
    pub usage: Arc<UsageRecorder>,
    pub metrics: Arc<Metrics>,
    /// Failed token attempts per address: what slows a guesser down.
    pub auth_failures: Arc<auth::Failures>,
    /// The OpenAPI document, rendered once.
    pub openapi: Arc<String>,
    /// Ends the open event streams at shutdown.
    pub streams: Arc<event_stream::Streams>,
    /// Whether `/v1/verify` answers callers without a token.
    pub verify_auth: verify::VerifyAuth,
    /// `/metrics`' token and `Server-Timing`.
    pub observability: Arc<Observability>,
    /// The verifiers and users behind the tokens sent to `/v1/verify`.
    pub credentials: Arc<cache::CredentialCache>,
    /// Each rate-limited key's current window.
    pub rate_limits: Arc<rate_limit::RateLimiter>,
    /// Every secret digest of the store: a made-up key is answered without a read.
    pub digests: Arc<digests::DigestIndex>,
    /// How `run` serves connections: timeouts, limit, shutdown deadline.
    pub connections: connections::ConnectionConfig,
    /// Who this instance is in its fleet.
    pub instance: Arc<InstanceInfo>,
}

impl AppState {
    #[must_use]
    pub fn new(store: Arc<dyn Store>, keyring: Keyring) -> Self {
        let document = openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".to_owned());
        let cache = Arc::new(KeyCache::default());
        // A committed change leaves the cache before its event leaves the
        // writer: whoever sees a revoke on the stream cannot verify the key
        // from the cache any more (the handler forgets it again after).
        let forget = Arc::clone(&cache);
        let credentials = Arc::new(cache::CredentialCache::default());
        let forget_credentials = Arc::clone(&credentials);
        store.before_publishing(Arc::new(move |event| {
            forget.forget_changed_by(event);
            forget_credentials.forget_changed_by(event);
        }));
        // Every digest a key is given is known before its secret leaves.
        let digests = Arc::new(digests::DigestIndex::default());
        let learn = Arc::clone(&digests);
        store.when_keys_written(Arc::new(move |digest| learn.learn([digest])));
        // A change of another instance that may have been missed (the
        // listening connection lost, the change counter unreadable): forget
        // everything, as a settings change does; misses read the database.
        let (forget, forget_credentials) = (Arc::clone(&cache), Arc::clone(&credentials));
        store.on_fleet_reset(Arc::new(move || {
            forget.clear();
            forget_credentials.clear();
        }));
        Self {
            store,
            keyring: Arc::new(keyring),
            cache,
            usage: Arc::new(UsageRecorder::default()),
            metrics: Arc::new(Metrics::default()),
            auth_failures: Arc::new(auth::Failures::default()),
            openapi: Arc::new(document),
            streams: Arc::new(event_stream::Streams::default()),
            verify_auth: verify::VerifyAuth::default(),
            observability: Arc::new(Observability::default()),
            credentials,
            digests,
            rate_limits: Arc::new(rate_limit::RateLimiter::default()),
            connections: connections::ConnectionConfig::default(),
            instance: Arc::new(InstanceInfo {
                id: fleet::random_instance_id(),
                address: None,
                started_at: now(),
                notifications: true,
            }),
        }
    }

    /// Serves as `instance` of its fleet (the store joins the fleet apart:
    /// [`Store::join_fleet`]).
    #[must_use]
    pub fn with_instance(mut self, instance: InstanceInfo) -> Self {
        self.instance = Arc::new(instance);
        self
    }

    /// Flags keys as suspicious by `rules` instead of the defaults.
    #[must_use]
    pub fn with_activity(mut self, activity: &ActivityConfig) -> Self {
        let recorder = UsageRecorder::new(activity.suspicion, activity.retention);
        self.usage = Arc::new(if activity.usage_history {
            recorder
        } else {
            recorder.off()
        });
        self
    }

    /// Answers `/v1/verify` as `auth` says (`--verify-auth`).
    #[must_use]
    pub fn with_verify_auth(mut self, auth: verify::VerifyAuth) -> Self {
        self.verify_auth = auth;
        self
    }

    /// Closes `/metrics` behind a token, or sends `Server-Timing`, as `observability` says.
    #[must_use]
    pub fn with_observability(mut self, observability: Observability) -> Self {
        self.observability = Arc::new(observability);
        self
    }

    /// Serves connections by `config` instead of the defaults.
    #[must_use]
    pub fn with_connections(mut self, config: connections::ConnectionConfig) -> Self {
        self.connections = config;
        self
    }
}

impl AppState {
    /// Runs `work` as a task of its own and waits for it. A handler is
    /// dropped when its client hangs up; work spawned here still finishes, so
    /// a committed mutation is always followed by its cache invalidation (a
    /// revoke whose client vanished must still stop the key verifying).
    pub(crate) async fn to_completion<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: Future<Output = ApiResult<T>> + Send + 'static,
    {
        tokio::spawn(work).await.map_err(ApiError::internal)?
    }
}

/// Loads a tenant the caller may see; any other id answers 404, so
/// existence does not leak across tenants. A caller of the tenant who holds
/// no role is refused (403): every route of a tenant starts here.
pub(crate) async fn visible_tenant(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> ApiResult<Tenant> {
    let id = TenantId::parse(raw).map_err(|_| tenants::tenant_not_found())?;
    if !caller.user.can_see(&id) {
        return Err(tenants::tenant_not_found());
    }
    crate::domain::policy::may_read_tenant(&caller.user)?;
    state
        .store
        .get_tenant(&id)
        .await?
        .ok_or_else(tenants::tenant_not_found)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keydesk management API",
        description = "API keys for your services: create, rotate, revoke and verify them. \
Errors are RFC 9457 problem+json with a stable `code`. Keys and settings carry an ETag; send it back \
as If-Match to refuse lost updates (412). Key creation honours Idempotency-Key.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "keys", description = "API keys and their lifecycle"),
        (name = "verify", description = "The endpoint services call, and the verifier tokens they may call it with"),
        (name = "tenants", description = "Tenants"),
        (name = "settings", description = "Per-tenant rules"),
        (name = "users", description = "Users, roles, licenses, tokens"),
        (name = "events", description = "The audit log"),
        (name = "operations", description = "Health, metrics, this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A management token (kdm_…); on /v1/verify also a verifier token (kdv_…)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every route, registered with its OpenAPI description: a route cannot be
/// served without being documented.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::me))
        .routes(routes!(users::rotate_own_token))
        .routes(routes!(tenants::list_tenants, tenants::create_tenant))
        .routes(routes!(tenants::get_settings, tenants::update_settings))
        .routes(routes!(keys::list_keys, keys::create_key))
        .routes(routes!(keys::get_key, keys::update_key, keys::delete_key))
        .routes(routes!(keys::disable_key))
        .routes(routes!(keys::enable_key))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(keys::regenerate_key))
        .routes(routes!(keys::duplicate_key))
        .routes(routes!(keys::reveal_key))
        .routes(routes!(events::list_events))
        .routes(routes!(event_stream::event_stream))
        .routes(routes!(usage::key_usage))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::update_user, users::delete_user))
        .routes(routes!(users::issue_token, users::revoke_token))
        .routes(routes!(verify::verify))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
        // Rotation, lookup by secret, bulk revoke.
        .routes(routes!(keys::end_rotation))
        .routes(routes!(lookup::lookup_key))
        .routes(routes!(bulk::bulk_revoke))
        .routes(routes!(
            verifiers::list_verifiers,
            verifiers::create_verifier
        ))
        .routes(routes!(verifiers::revoke_verifier))
        // Issue 8: users disabled and enabled.
        .routes(routes!(users::disable_user))
        .routes(routes!(users::enable_user))
        // Issue 10: the fleet.
        .routes(routes!(fleet::fleet_status))
}

/// The OpenAPI document of every route.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = routes().split_for_parts().1;
    utoipa::Modify::modify(&fleet::WaitParameters, &mut document);
    utoipa::Modify::modify(&contract::CommonResponses, &mut document);
    document
}

/// The current time at the store's precision (milliseconds), so what a
/// mutation answers equals what a later read returns.
#[must_use]
pub fn now() -> chrono::DateTime<Utc> {
    use chrono::SubsecRound as _;
    Utc::now().trunc_subsecs(3)
}

/// Counts responses for `/metrics` and, with `--server-timing`, reports the
/// time spent in the server as `Server-Timing: app;dur=<ms>` (what the
/// benchmarks read).
async fn count_responses(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    state.metrics.count_response(response.status().as_u16());
    if state.observability.server_timing {
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        if let Ok(value) = axum::http::HeaderValue::from_str(&format!("app;dur={millis:.3}")) {
            response.headers_mut().insert("server-timing", value);
        }
    }
    response
}

async fn no_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such route; see /openapi.json",
    )
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "this route does not answer that method; see /openapi.json",
    )
}

/// The span of a request: method and path only. The query string is left
/// out because a caller may search for a pasted secret (`?q=kd_…`), and the
/// log must never hold one.
fn request_span(request: &Request) -> tracing::Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
}

/// The application: every route, problem+json fallbacks, a body limit,
/// tracing, and `Cache-Control: no-store` on every answer that does not say
/// otherwise: answers carry secrets, tokens and who owns what, and no
/// cache between the server and its caller may keep any of them.
pub fn app(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            fleet::wait_for_fleet,
        ))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            ),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        .layer(middleware::from_fn(contract::utf8_only))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes and the open
/// connections have finished (or met the shutdown deadline), then writes
/// the pending usage counters.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let flusher = tokio::spawn(Arc::clone(&state.usage).run(Arc::clone(&state.store)));
    // Event streams never end by themselves; a graceful shutdown ends them.
    let streams = Arc::clone(&state.streams);
    let shutdown = async move {
        shutdown.await;
        streams.close_all();
    };
    connections::serve(listener, app(state.clone()), state.connections, shutdown).await;
    flusher.abort();
    state.usage.flush(state.store.as_ref()).await;
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
}

/// How `keydesk serve` was asked to run.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: String,
    /// `sqlite://PATH`; `None` for `<data-dir>/keydesk.db`.
    pub database: Option<String>,
    /// Where the default database and the generated pepper live.
    pub data_dir: Option<PathBuf>,
    pub pepper_file: Option<PathBuf>,
    /// `KEYDESK_PEPPER`.
    pub pepper: Option<String>,
    /// `KEYDESK_BOOTSTRAP_TOKEN`.
    pub bootstrap_token: Option<String>,
    /// Suspicion thresholds and the event stream's buffer.
    pub activity: ActivityConfig,
    /// `--verify-auth`: whether `/v1/verify` answers callers without a token.
    pub verify_auth: verify::VerifyAuth,
    /// Timeouts, the connection limit and the shutdown deadline.
    pub connections: connections::ConnectionConfig,
    /// Who may read `/metrics`, and whether answers carry `Server-Timing`.
    pub observability: Observability,
    /// This instance's name in its fleet, and how it hears of other
    /// instances' changes.
    pub fleet: FleetConfig,
}

/// `--instance-id` and `--fleet-notifications`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfig {
    /// A stable name for this instance (`None`: random at each start).
    pub instance_id: Option<String>,
    /// Listen for other instances' changes (PostgreSQL `LISTEN`); off,
    /// only the change counter read every 250 ms tells of them, which
    /// still keeps the one-second promise (for a pooler that cannot
    /// `LISTEN`, such as PgBouncer in transaction mode).
    pub notifications: bool,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            instance_id: None,
            notifications: true,
        }
    }
}

impl FleetConfig {
    /// Checks `--instance-id`: 1 to 64 letters, digits, `.`, `_` or `-`.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(id) = &self.instance_id {
            anyhow::ensure!(
                (1..=64).contains(&id.len())
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
                "--instance-id: 1 to 64 letters, digits, '.', '_' or '-'"
            );
        }
        Ok(())
    }
}

/// `--metrics-token` and `--server-timing`: what the server tells about
/// itself, and to whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observability {
    /// When set, `/metrics` answers only `Authorization: Bearer <this>`
    /// (401 otherwise); unset, it answers anyone who reaches the port.
    pub metrics_token: Option<String>,
    /// Whether every answer carries `Server-Timing: app;dur=<ms>` (the
    /// benchmarks read it); off by default, since it tells any caller how
    /// long the server worked.
    pub server_timing: bool,
}

/// The address `keydesk serve` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";

impl Default for ServeConfig {
    /// `keydesk serve` with no option and no environment.
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            database: None,
            data_dir: None,
            pepper_file: None,
            pepper: None,
            bootstrap_token: None,
            activity: ActivityConfig::default(),
            connections: connections::ConnectionConfig::default(),
            verify_auth: verify::VerifyAuth::default(),
            observability: Observability::default(),
            fleet: FleetConfig::default(),
        }
    }
}

/// How `keydesk serve` counts usage, judges it and feeds live consoles (the
/// `--usage-history`, `--suspicious-*` and `--event-stream-buffer` options;
/// defaults in README).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivityConfig {
    /// Count verifications per key and minute (on by default); off, no
    /// usage, last use or suspicion is recorded.
    pub usage_history: bool,
    /// When a key is flagged suspicious.
    pub suspicion: crate::domain::SuspicionRules,
    /// How many committed events are held for event streams that have not
    /// sent them yet; a stream further behind is closed (its client resumes).
    pub event_stream_buffer: usize,
    /// How long usage, events and idempotency records are kept.
    pub retention: usage::Retention,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self {
            usage_history: true,
            suspicion: crate::domain::SuspicionRules::default(),
            event_stream_buffer: crate::store::sqlite::EVENT_BUFFER,
            retention: usage::Retention::default(),
        }
    }
}

/// The user's data directory for keydesk.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    dirs::data_dir()
        .map(|d| d.join("keydesk"))
        .context("no data directory is known for this user; pass --data-dir")
}

/// The database `--database` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `sqlite://PATH` (or a bare path).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, as given (it may hold a password).
    Postgres(String),
}

impl Database {
    /// Parses `--database`.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        anyhow::ensure!(
            !path.is_empty(),
            "--database: expected sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        );
        Ok(Self::Sqlite(PathBuf::from(path)))
    }
}

/// A pepper as read, and where it came from (for the messages that name it).
struct Pepper {
    bytes: Zeroizing<Vec<u8>>,
    /// For a binary pepper file: the text keydesk made of it before it read
    /// pepper files as bytes (invalid UTF-8 replaced, then trimmed). A
    /// database from then is keyed with that text.
    earlier_reading: Option<Zeroizing<Vec<u8>>>,
    origin: String,
}

/// What the configuration says the pepper is.
enum PepperSource {
    Read(Pepper),
    /// The default pepper file, which does not exist.
    Missing(PathBuf),
}

impl Pepper {
    /// A pepper file is bytes. One of UTF-8 text loses the whitespace around
    /// it (a trailing newline), as `KEYDESK_PEPPER` does, so a text pepper
    /// means what it always meant; any other is used byte for byte.
    fn from_file(bytes: Zeroizing<Vec<u8>>, path: &Path) -> Self {
        let origin = format!("the pepper file {}", path.display());
        match std::str::from_utf8(&bytes) {
            Ok(text) => Self {
                bytes: Zeroizing::new(text.trim().as_bytes().to_vec()),
                earlier_reading: None,
                origin,
            },
            Err(_) => {
                let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
                Self {
                    earlier_reading: Some(Zeroizing::new(text.trim().as_bytes().to_vec())),
                    bytes,
                    origin,
                }
            }
        }
    }

    /// Generates a pepper into `path` (mode 0600): 32 random bytes, as hex
    /// text, which is the pepper.
    fn generate(path: &Path) -> anyhow::Result<Self> {
        let mut random = Zeroizing::new([0u8; 32]);
        rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, random.as_mut())
            .map_err(|e| anyhow::anyhow!("the OS random source failed: {e}"))?;
        let bytes = Zeroizing::new(hex::encode(random.as_ref()).into_bytes());
        write_private(path, &bytes)
            .with_context(|| format!("cannot write the pepper to {}", path.display()))?;
        tracing::info!(path = %path.display(), "generated a new pepper; back it up with the database");
        Ok(Self {
            bytes,
            earlier_reading: None,
            origin: format!("the pepper file {}", path.display()),
        })
    }
}

/// Reads the pepper from `KEYDESK_PEPPER` or the pepper file (by default
/// `<data-dir>/pepper`).
fn read_pepper(config: &ServeConfig, data_dir: &Path) -> anyhow::Result<PepperSource> {
    if let Some(pepper) = &config.pepper {
        return Ok(PepperSource::Read(Pepper {
            bytes: Zeroizing::new(pepper.trim().as_bytes().to_vec()),
            earlier_reading: None,
            origin: "KEYDESK_PEPPER".to_owned(),
        }));
    }
    let path = config
        .pepper_file
        .clone()
        .unwrap_or_else(|| data_dir.join("pepper"));
    match std::fs::read(&path) {
        Ok(bytes) => Ok(PepperSource::Read(Pepper::from_file(
            Zeroizing::new(bytes),
            &path,
        ))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && config.pepper_file.is_none() => {
            Ok(PepperSource::Missing(path))
        }
        Err(err) => {
            Err(err).with_context(|| format!("cannot read the pepper file {}", path.display()))
        }
    }
}

/// The pepper for the database at `database`: the one read, or a new one
/// for a database that holds nothing yet. A missing pepper file is never
/// replaced for a database in use: every key and token would stop verifying.
async fn pepper_for(
    store: &dyn Store,
    config: &ServeConfig,
    data_dir: &Path,
    database: &str,
) -> anyhow::Result<Pepper> {
    match read_pepper(config, data_dir)? {
        PepperSource::Read(pepper) => Ok(pepper),
        PepperSource::Missing(path) => {
            anyhow::ensure!(
                !store.holds_data().await?,
                "the pepper file {} is missing, but the database {} is in use: its keys and \
                 management tokens were digested with the pepper that file held. Restore the \
                 file from your backup (or give that pepper with --pepper-file or \
                 KEYDESK_PEPPER). No new pepper is generated for a database in use: no key or \
                 token would verify with it",
                path.display(),
                database
            );
            Pepper::generate(&path)
        }
    }
}

/// The keyring of `pepper`, if it is the pepper the database is keyed with:
/// its fingerprint must be the one recorded. A database without one (new,
/// or from before fingerprints) records it now.
async fn keyring_for(
    store: &dyn Store,
    pepper: &Pepper,
    database: &str,
) -> anyhow::Result<Keyring> {
    let current =
        Keyring::from_pepper(&pepper.bytes).map_err(|e| anyhow::anyhow!("{}: {e}", pepper.origin));
    let earlier = pepper
        .earlier_reading
        .as_ref()
        .and_then(|text| Keyring::from_pepper(text).ok());
    match store.pepper_fingerprint().await?.as_deref() {
        Some(recorded) => match (current, earlier) {
            (Ok(keyring), _) if keyring.fingerprint() == recorded => Ok(keyring),
            (_, Some(keyring)) if keyring.fingerprint() == recorded => {
                warn_earlier_reading(pepper);
                Ok(keyring)
            }
            (Err(err), _) => Err(err),
            (Ok(_), _) => Err(anyhow::anyhow!(
                "{} is not the pepper the database {} is keyed with (their fingerprints \
                 differ): with it, no key or management token would verify. Start with the \
                 pepper the database was created with: restore its file from your backup, or \
                 point --pepper-file or KEYDESK_PEPPER at it",
                pepper.origin,
                database
            )),
        },
        None => {
            // Before fingerprints, a binary pepper file was read as lossy
            // text: a database in use since then is keyed with that text.
            let in_use = earlier.is_some() && store.holds_data().await?;
            let keyring = match earlier {
                Some(keyring) if in_use => {
                    warn_earlier_reading(pepper);
                    keyring
                }
                _ => current?,
            };
            store
                .record_pepper_fingerprint(keyring.fingerprint())
                .await?;
            Ok(keyring)
        }
    }
}

fn warn_earlier_reading(pepper: &Pepper) {
    tracing::warn!(
        "{} is binary, and this database is keyed with the text an earlier keydesk made of it \
         (invalid bytes replaced), which keeps less of its randomness: leave the file as it is, \
         and plan a move to a new database with a new pepper",
        pepper.origin
    );
}

/// Creates the data directory readable by its owner only (it holds the
/// pepper and, by default, the database).
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Creates the first system administrator if there is none. Returns the
/// token when one was generated (to be printed once).
pub async fn bootstrap(
    store: &dyn Store,
    keyring: &Keyring,
    token_from_env: Option<&str>,
) -> anyhow::Result<Option<Zeroizing<String>>> {
    let generated = match token_from_env {
        Some(token) => {
            anyhow::ensure!(
                token.trim().chars().count() >= 32,
                "KEYDESK_BOOTSTRAP_TOKEN must be at least 32 characters: it is a system administrator's password (e.g. `openssl rand -hex 24`)"
            );
            None
        }
        None => Some(generate_token()),
    };
    let token = token_from_env.map_or_else(
        || {
            generated
                .as_ref()
                .map(|t| t.expose().to_owned())
                .unwrap_or_default()
        },
        |t| t.trim().to_owned(),
    );
    let token = Zeroizing::new(token);
    let admin = User {
        id: UserId::generate(),
        name: PersonName::parse("admin").map_err(|e| anyhow::anyhow!(e))?,
        email: Email::parse("admin@localhost").map_err(|e| anyhow::anyhow!(e))?,
        tenant_id: None,
        roles: Roles::new([Role::SystemAdmin]),
        licensed: true,
        created_at: now(),
        disabled: false,
        has_token: true,
    };
    let created = store
        .bootstrap_system_admin(&admin, &keyring.token_digest(&token))
        .await?;
    Ok((created && generated.is_some()).then_some(token))
}

/// A ready server: its state and the bound listener.
pub struct Prepared {
    pub state: AppState,
    pub listener: TcpListener,
    /// The generated bootstrap token, to print once.
    pub bootstrap_token: Option<Zeroizing<String>>,
}

/// Opens the data directory, pepper and database, bootstraps the first
/// administrator and binds the listener.
pub async fn prepare(config: &ServeConfig) -> anyhow::Result<Prepared> {
    config
        .activity
        .suspicion
        .validate()
        .map_err(|e| anyhow::anyhow!("suspicion thresholds: {e}"))?;
    config.fleet.validate()?;
    anyhow::ensure!(
        config.activity.event_stream_buffer >= 1,
        "--event-stream-buffer: the event stream buffer must hold at least one event"
    );
    let data_dir = match &config.data_dir {
        Some(dir) => dir.clone(),
        None => default_data_dir()?,
    };
    let database = match &config.database {
        Some(url) => Database::parse(url)?,
        None => Database::Sqlite(data_dir.join("keydesk.db")),
    };
    create_private_dir(&data_dir)?;
    let (store, database): (Arc<dyn Store>, String) = match database {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(&path)
                .with_context(|| format!("cannot open the database {}", path.display()))?
                .with_event_buffer(config.activity.event_stream_buffer);
            (Arc::new(store), path.display().to_string())
        }
        Database::Postgres(url) => {
            // The error names host, port and database; never the URL, which
            // may hold a password.
            let store = PgStore::connect(&url)
                .await
                .map_err(|err| match err {
                    crate::store::StoreError::Unavailable(cause)
                    | crate::store::StoreError::Backend(cause) => anyhow::anyhow!(cause),
                    other => anyhow::anyhow!(other),
                })?
                .with_event_buffer(config.activity.event_stream_buffer);
            let target = format!("postgres://{}", store.target());
            (Arc::new(store), target)
        }
    };
    let pepper = pepper_for(store.as_ref(), config, &data_dir, &database).await?;
    let keyring = keyring_for(store.as_ref(), &pepper, &database).await?;
    let bootstrap_token =
        bootstrap(store.as_ref(), &keyring, config.bootstrap_token.as_deref()).await?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let instance = InstanceInfo {
        id: config
            .fleet
            .instance_id
            .clone()
            .unwrap_or_else(fleet::random_instance_id),
        address: listener
            .local_addr()
            .ok()
            .map(|address| address.to_string()),
        started_at: now(),
        notifications: config.fleet.notifications,
    };
    let state = AppState::new(Arc::clone(&store), keyring);
    // After the hooks are set: what the fleet applies reaches the caches.
    store.join_fleet(&instance);
    // Only a store that hears of every key written may answer for the
    // digests it never heard of; otherwise the index stays "perhaps".
    if store.hears_every_key_write() {
        state
            .digests
            .load(store.as_ref())
            .await
            .context("cannot read the key digests")?;
    }
    Ok(Prepared {
        state: state
            .with_instance(instance)
            .with_activity(&config.activity)
            .with_verify_auth(config.verify_auth)
            .with_observability(config.observability.clone())
            .with_connections(config.connections),
        listener,
        bootstrap_token,
    })
}

#[cfg(test)]
mod tests {
    /// `assets/openapi.json` is the committed contract; regenerate it with
    /// `UPDATE_OPENAPI=1 cargo test committed_openapi`.
    #[test]
    fn committed_openapi_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/openapi.json");
        let current = super::openapi().to_pretty_json().unwrap() + "\n";
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &current).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == current,
            "assets/openapi.json is stale: run UPDATE_OPENAPI=1 cargo test committed_openapi"
        );
    }
}
