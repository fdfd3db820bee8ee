//! The management API server (axum): `app(state)` builds the router,
//! `run(listener, state, shutdown)` serves it, `start` does what `keydesk
//! serve` does before that (data directory, pepper, database, bootstrap).
//! Handlers live one module per resource and stay thin: parse, ask the
//! domain, call the store, shape the answer.

pub mod bulk;
pub mod cache;
pub mod error;
pub mod event_stream;
pub mod events;
pub mod extract;
pub mod keys;
pub mod lookup;
pub mod ops;
pub mod tenants;
pub mod usage;
pub mod users;
pub mod verify;

use std::future::Future;
use std::net::SocketAddr;
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
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

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
    /// The OpenAPI document, rendered once.
    pub openapi: Arc<String>,
    /// Ends the open event streams at shutdown.
    pub streams: Arc<event_stream::Streams>,
}

impl AppState {
    #[must_use]
    pub fn new(store: Arc<dyn Store>, keyring: Keyring) -> Self {
        let document = openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".to_owned());
        Self {
            store,
            keyring: Arc::new(keyring),
            cache: Arc::new(KeyCache::default()),
            usage: Arc::new(UsageRecorder::default()),
            metrics: Arc::new(Metrics::default()),
            openapi: Arc::new(document),
            streams: Arc::new(event_stream::Streams::default()),
        }
    }

    /// Flags keys as suspicious by `rules` instead of the defaults.
    #[must_use]
    pub fn with_suspicion(mut self, rules: crate::domain::SuspicionRules) -> Self {
        self.usage = Arc::new(UsageRecorder::new(rules));
        self
    }

    /// With `false`, verifications are not counted at all (no usage
    /// history, no last use, no suspicion): `--usage-history off`.
    #[must_use]
    pub fn with_usage_history(mut self, on: bool) -> Self {
        if !on {
            self.usage = Arc::new(UsageRecorder::off());
        }
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
/// existence does not leak across tenants.
pub(crate) async fn visible_tenant(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> ApiResult<Tenant> {
    let id = TenantId::parse(raw).map_err(|_| tenants::tenant_not_found())?;
    if !caller.user.can_see(&id) {
        return Err(tenants::tenant_not_found());
    }
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
        (name = "verify", description = "The endpoint services call"),
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
                    .description(Some("A management token (kdm_…)"))
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
        .routes(routes!(users::update_user))
        .routes(routes!(users::rotate_token))
        .routes(routes!(verify::verify))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
        // Rotation, lookup by secret, bulk revoke.
        .routes(routes!(keys::end_rotation))
        .routes(routes!(lookup::lookup_key))
        .routes(routes!(bulk::bulk_revoke))
}

/// The OpenAPI document of every route.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// The current time at the store's precision (milliseconds), so what a
/// mutation answers equals what a later read returns.
#[must_use]
pub fn now() -> chrono::DateTime<Utc> {
    use chrono::SubsecRound as _;
    Utc::now().trunc_subsecs(3)
}

/// Counts responses for `/metrics` and reports the time spent in the server
/// as `Server-Timing: app;dur=<ms>` (what the benchmarks read).
async fn count_responses(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    state.metrics.count_response(response.status().as_u16());
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!("app;dur={millis:.3}")) {
        response.headers_mut().insert("server-timing", value);
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

/// The application: every route, problem+json fallbacks, a body limit, tracing.
pub fn app(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then writes the
/// pending usage counters.
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
    let served = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    flusher.abort();
    state.usage.flush(state.store.as_ref()).await;
    served
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
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self {
            usage_history: true,
            suspicion: crate::domain::SuspicionRules::default(),
            event_stream_buffer: crate::store::sqlite::EVENT_BUFFER,
        }
    }
}

/// The user's data directory for keydesk.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    dirs::data_dir()
        .map(|d| d.join("keydesk"))
        .context("no data directory is known for this user; pass --data-dir")
}

/// The SQLite path named by `--database`.
pub fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        anyhow::bail!("PostgreSQL is not supported by this version yet; use sqlite://PATH");
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    anyhow::ensure!(!path.is_empty(), "--database: expected sqlite://PATH");
    Ok(PathBuf::from(path))
}

/// Reads the pepper from the environment or `--pepper-file`, or generates
/// one into `<data-dir>/pepper` (mode 0600) on first start.
fn load_pepper(config: &ServeConfig, data_dir: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if let Some(pepper) = &config.pepper {
        return Ok(Zeroizing::new(pepper.trim().as_bytes().to_vec()));
    }
    let path = config
        .pepper_file
        .clone()
        .unwrap_or_else(|| data_dir.join("pepper"));
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            Ok(Zeroizing::new(
                String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec(),
            ))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && config.pepper_file.is_none() => {
            let mut random = Zeroizing::new([0u8; 32]);
            rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, random.as_mut())
                .map_err(|e| anyhow::anyhow!("the OS random source failed: {e}"))?;
            let pepper = Zeroizing::new(hex::encode(random.as_ref()).into_bytes());
            write_private(&path, &pepper)
                .with_context(|| format!("cannot write the pepper to {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new pepper; back it up with the database");
            Ok(pepper)
        }
        Err(err) => {
            Err(err).with_context(|| format!("cannot read the pepper file {}", path.display()))
        }
    }
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
                token.trim().len() >= 16,
                "KEYDESK_BOOTSTRAP_TOKEN must be at least 16 characters"
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
    anyhow::ensure!(
        config.activity.event_stream_buffer >= 1,
        "--event-stream-buffer: the event stream buffer must hold at least one event"
    );
    let data_dir = match &config.data_dir {
        Some(dir) => dir.clone(),
        None => default_data_dir()?,
    };
    let database = match &config.database {
        Some(url) => sqlite_path(url)?,
        None => data_dir.join("keydesk.db"),
    };
    create_private_dir(&data_dir)?;
    let pepper = load_pepper(config, &data_dir)?;
    let keyring = Keyring::from_pepper(&pepper).map_err(|e| anyhow::anyhow!("pepper: {e}"))?;
    let store = SqliteStore::open(&database)
        .with_context(|| format!("cannot open the database {}", database.display()))?
        .with_event_buffer(config.activity.event_stream_buffer);
    let store: Arc<dyn Store> = Arc::new(store);
    let bootstrap_token =
        bootstrap(store.as_ref(), &keyring, config.bootstrap_token.as_deref()).await?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    Ok(Prepared {
        state: AppState::new(store, keyring)
            .with_suspicion(config.activity.suspicion)
            .with_usage_history(config.activity.usage_history),
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
