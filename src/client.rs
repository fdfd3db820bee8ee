//! The typed client of the management API: the console and the CLI speak to
//! a server only through this, exactly as they would to a remote one. Every
//! failure is a [`ClientError`] that says whether the server refused (with
//! its problem), could not be reached at all, or was never asked because
//! the session is read-only. Read-only is decided in one place, [`Client`]'s
//! `send`, from the request itself, so no mutating method can forget it.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::api::{self, Problem};
use crate::domain::KeySort;

mod sse;
pub use sse::EventStream;

/// Why a request failed. Its `Display` is a sentence a status line or the
/// CLI prints as it is.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a problem (4xx/5xx).
    #[error("{}", describe_problem(.0))]
    Api(Problem),
    /// No answer from `server`: refused, timed out, DNS, TLS.
    #[error("cannot reach {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// An answer that is not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The session is read-only and the request would change something;
    /// it was not sent.
    #[error("read-only session: nothing was sent")]
    ReadOnly { method: String, path: String },
}

/// A problem as one line: the server's sentence and its stable code; a
/// refused token says so plainly, whatever the server's wording.
fn describe_problem(problem: &Problem) -> String {
    if problem.status == StatusCode::UNAUTHORIZED.as_u16() {
        "the server refused the token".to_owned()
    } else {
        format!("{} ({})", problem.detail, problem.code)
    }
}

impl ClientError {
    /// True when retrying later may succeed (the server is down or failing).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Api(problem) => problem.status >= 500,
            ClientError::Protocol(_) | ClientError::ReadOnly { .. } => false,
        }
    }

    /// True when the server refused the management token (401): a new
    /// token, not a retry, is what helps.
    #[must_use]
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ClientError::Api(problem) if problem.status == StatusCode::UNAUTHORIZED.as_u16())
    }

    /// The problem's stable code, if the server sent one.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api(problem) => Some(&problem.code),
            _ => None,
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// Filters and position of a key list request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyListQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<KeySort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// `Some(true)`: only the keys the server flags as suspicious.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspicious: Option<bool>,
    /// `Some(true)`: only the keys in a rotation's grace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotating: Option<bool>,
}

/// Filters and position of an event list request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventListQuery {
    /// Only events about this key (or user, or tenant) id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Only this action, e.g. `key.revoked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// What a `Keydesk-Fleet` header says: how many of the live instances had
/// applied a mutation when its answer was sent, after how long, and which
/// were still waited for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetApplied {
    pub applied: u32,
    pub instances: u32,
    pub ms: u64,
    pub waiting: Vec<String>,
}

impl FleetApplied {
    /// Reads `applied=2/3; ms=2000; waiting=i-1,i-2`.
    #[must_use]
    pub fn parse(header: &str) -> Option<Self> {
        let mut fleet = Self {
            applied: 0,
            instances: 0,
            ms: 0,
            waiting: Vec::new(),
        };
        let mut seen_applied = false;
        for part in header.split(';') {
            let (name, value) = part.trim().split_once('=')?;
            match name.trim() {
                "applied" => {
                    let (applied, instances) = value.split_once('/')?;
                    fleet.applied = applied.trim().parse().ok()?;
                    fleet.instances = instances.trim().parse().ok()?;
                    seen_applied = true;
                }
                "ms" => fleet.ms = value.trim().parse().ok()?,
                "waiting" => {
                    fleet.waiting = value
                        .split(',')
                        .map(|id| id.trim().to_owned())
                        .filter(|id| !id.is_empty())
                        .collect();
                }
                _ => {}
            }
        }
        seen_applied.then_some(fleet)
    }

    /// True when every live instance had applied it.
    #[must_use]
    pub fn everywhere(&self) -> bool {
        self.applied >= self.instances
    }

    /// `applied on 3 of 3 instances in 4 ms`, or which lag.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut text = format!(
            "applied on {} of {} instance{} in {} ms",
            self.applied,
            self.instances,
            if self.instances == 1 { "" } else { "s" },
            self.ms
        );
        if !self.waiting.is_empty() {
            text.push_str(&format!("; not yet on {}", self.waiting.join(", ")));
        }
        text
    }
}

/// A management API client for one server and token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// The path part of `base` (e.g. `/keydesk` behind a proxy), so `send`
    /// sees the API path of a built request.
    base_path: String,
    token: std::sync::Arc<Zeroizing<String>>,
    readonly: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("readonly", &self.readonly)
            .finish_non_exhaustive()
    }
}

/// What a read-only session may still send: reads, and the POSTs that
/// change no key: a verification, finding a key by its secret, and
/// revealing a stored secret (the last two only record their audit event).
/// Everything else is refused before it is sent.
fn allowed_when_readonly(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => true,
        Method::POST => {
            let segments: Vec<&str> = path.split('/').collect();
            path == "/v1/verify"
                || path == "/v1/keys/lookup"
                || matches!(
                    segments.as_slice(),
                    ["", "v1", "tenants", _, "keys", _, "reveal"]
                )
        }
        _ => false,
    }
}

/// How long one request may take before it counts as unreachable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:7070`) with a management token.
    pub fn new(base: &str, token: &str) -> ClientResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .user_agent(concat!("keydesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let base = base.trim_end_matches('/').to_owned();
        let base_path = reqwest::Url::parse(&base)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Ok(Self {
            http,
            base,
            base_path,
            token: std::sync::Arc::new(Zeroizing::new(token.to_owned())),
            readonly: false,
        })
    }

    /// With `on`, a read-only client: every request that could change
    /// something answers [`ClientError::ReadOnly`] without being sent.
    #[must_use]
    pub fn readonly(mut self, on: bool) -> Self {
        self.readonly = on;
        self
    }

    #[must_use]
    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    fn unreachable(&self, reason: impl Into<String>) -> ClientError {
        ClientError::Unreachable {
            server: self.base.clone(),
            reason: reason.into(),
        }
    }

    /// Why a request got no answer, in words (the URL is said by the error).
    fn no_answer(&self, err: reqwest::Error) -> ClientError {
        if err.is_timeout() {
            return self.unreachable("the request timed out");
        }
        if err.is_connect() {
            return self.unreachable("the connection was refused or the host is unreachable");
        }
        // reqwest's own sentence is generic; the innermost cause says what happened.
        let mut cause: &dyn std::error::Error = &err;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        self.unreachable(cause.to_string())
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str())
    }

    /// Sends a request and reads its answer.
    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> ClientResult<T> {
        self.exchange(request).await.map(|(_, body)| body)
    }

    /// Sends a mutation with `?wait=fleet`: its answer, and what its
    /// `Keydesk-Fleet` header says of the instances that applied it.
    async fn send_waiting<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> ClientResult<(T, Option<FleetApplied>)> {
        let request = request.query(&[("wait", "fleet")]);
        let (headers, body) = self.exchange(request).await?;
        let applied = headers
            .get("keydesk-fleet")
            .and_then(|value| value.to_str().ok())
            .and_then(FleetApplied::parse);
        Ok((body, applied))
    }

    /// Sends a request and reads its answer and headers. Every request
    /// passes here, so this is where a read-only session stops whatever
    /// could change something.
    async fn exchange<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> ClientResult<(reqwest::header::HeaderMap, T)> {
        let request = request.build().map_err(|e| self.no_answer(e))?;
        if self.readonly {
            let path = request.url().path();
            let path = path.strip_prefix(&self.base_path).unwrap_or(path);
            if !allowed_when_readonly(request.method(), path) {
                return Err(ClientError::ReadOnly {
                    method: request.method().to_string(),
                    path: path.to_owned(),
                });
            }
        }
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| self.no_answer(e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| self.no_answer(e))?;
        if status.is_success() {
            let body: &[u8] = if status == StatusCode::NO_CONTENT {
                b"null"
            } else {
                &bytes
            };
            return serde_json::from_slice(body)
                .map(|body| (headers, body))
                .map_err(|e| ClientError::Protocol(e.to_string()));
        }
        Err(refusal(status, &bytes))
    }

    fn key_path(tenant: &str, id: &str) -> String {
        format!("/v1/tenants/{}/keys/{}", encode(tenant), encode(id))
    }

    pub async fn me(&self) -> ClientResult<api::Me> {
        self.send(self.request(Method::GET, "/v1/me")).await
    }

    pub async fn tenants(&self) -> ClientResult<api::TenantList> {
        self.send(self.request(Method::GET, "/v1/tenants")).await
    }

    pub async fn create_tenant(&self, body: &api::CreateTenant) -> ClientResult<api::TenantBody> {
        self.send(self.request(Method::POST, "/v1/tenants").json(body))
            .await
    }

    pub async fn settings(&self, tenant: &str) -> ClientResult<api::Settings> {
        let path = format!("/v1/tenants/{}/settings", encode(tenant));
        self.send(self.request(Method::GET, &path)).await
    }

    pub async fn update_settings(
        &self,
        tenant: &str,
        body: &api::UpdateSettings,
        if_match: Option<i64>,
    ) -> ClientResult<api::Settings> {
        let path = format!("/v1/tenants/{}/settings", encode(tenant));
        let mut request = self.request(Method::PATCH, &path).json(body);
        if let Some(version) = if_match {
            request = request.header("if-match", crate::domain::key::etag(version));
        }
        self.send(request).await
    }

    pub async fn list_keys(
        &self,
        tenant: &str,
        query: &KeyListQuery,
    ) -> ClientResult<api::KeyList> {
        let path = format!("/v1/tenants/{}/keys", encode(tenant));
        self.send(self.request(Method::GET, &path).query(query))
            .await
    }

    pub async fn create_key(
        &self,
        tenant: &str,
        body: &api::CreateKey,
    ) -> ClientResult<api::KeyWithSecret> {
        let path = format!("/v1/tenants/{}/keys", encode(tenant));
        self.send(self.request(Method::POST, &path).json(body))
            .await
    }

    pub async fn key(&self, tenant: &str, id: &str) -> ClientResult<api::Key> {
        self.send(self.request(Method::GET, &Self::key_path(tenant, id)))
            .await
    }

    pub async fn update_key(
        &self,
        tenant: &str,
        id: &str,
        body: &api::UpdateKey,
        if_match: Option<i64>,
    ) -> ClientResult<api::Key> {
        let mut request = self
            .request(Method::PATCH, &Self::key_path(tenant, id))
            .json(body);
        if let Some(version) = if_match {
            request = request.header("if-match", crate::domain::key::etag(version));
        }
        self.send(request).await
    }

    pub async fn delete_key(&self, tenant: &str, id: &str) -> ClientResult<()> {
        self.send(self.request(Method::DELETE, &Self::key_path(tenant, id)))
            .await
    }

    async fn key_action<T: DeserializeOwned>(
        &self,
        tenant: &str,
        id: &str,
        action: &str,
    ) -> ClientResult<T> {
        let path = format!("{}/{action}", Self::key_path(tenant, id));
        self.send(self.request(Method::POST, &path)).await
    }

    pub async fn disable_key(&self, tenant: &str, id: &str) -> ClientResult<api::Key> {
        self.key_action(tenant, id, "disable").await
    }

    pub async fn enable_key(&self, tenant: &str, id: &str) -> ClientResult<api::Key> {
        self.key_action(tenant, id, "enable").await
    }

    pub async fn revoke_key(&self, tenant: &str, id: &str) -> ClientResult<api::Key> {
        self.key_action(tenant, id, "revoke").await
    }

    /// Revokes key `id` and waits (up to the server's 2 s) until every live
    /// instance of the fleet has applied it; the answer says how that went.
    pub async fn revoke_key_everywhere(
        &self,
        tenant: &str,
        id: &str,
    ) -> ClientResult<(api::Key, Option<FleetApplied>)> {
        let path = format!("{}/revoke", Self::key_path(tenant, id));
        self.send_waiting(self.request(Method::POST, &path)).await
    }

    pub async fn regenerate_key(&self, tenant: &str, id: &str) -> ClientResult<api::KeyWithSecret> {
        self.key_action(tenant, id, "regenerate").await
    }

    /// A new key with the presets of key `id`; `body` may name and describe
    /// it (`DuplicateKey::default()` copies the source's, the name suffixed).
    pub async fn duplicate_key(
        &self,
        tenant: &str,
        id: &str,
        body: &api::DuplicateKey,
    ) -> ClientResult<api::KeyWithSecret> {
        let path = format!("{}/duplicate", Self::key_path(tenant, id));
        self.send(self.request(Method::POST, &path).json(body))
            .await
    }

    pub async fn reveal_key(&self, tenant: &str, id: &str) -> ClientResult<api::RevealedSecret> {
        self.key_action(tenant, id, "reveal").await
    }

    /// Regenerates key `id` with a grace: the replaced secret keeps
    /// verifying for `grace_seconds` (0 to 604800; 0 is [`Client::regenerate_key`]).
    pub async fn rotate_key(
        &self,
        tenant: &str,
        id: &str,
        grace_seconds: u32,
    ) -> ClientResult<api::KeyWithSecret> {
        let path = format!("{}/regenerate", Self::key_path(tenant, id));
        let body = api::RegenerateKey { grace_seconds };
        self.send(self.request(Method::POST, &path).json(&body))
            .await
    }

    /// Ends key `id`'s rotation now: its previous secret stops verifying.
    pub async fn end_rotation(&self, tenant: &str, id: &str) -> ClientResult<api::Key> {
        self.key_action(tenant, id, "end-rotation").await
    }

    /// The key a secret (current, or previous in a rotation's grace)
    /// belongs to, and its tenant; a secret of no key the caller may look
    /// up is a `NOT_FOUND` problem. Allowed in a read-only session: it
    /// changes nothing but the audit log.
    pub async fn lookup_key(&self, secret: &str) -> ClientResult<api::LookupResult> {
        let body = api::LookupKey {
            secret: secret.to_owned(),
        };
        self.send(self.request(Method::POST, "/v1/keys/lookup").json(&body))
            .await
    }

    /// Revokes the keys `body` names (ids, or a filter), or previews it
    /// (`dry_run`); one result per key.
    pub async fn bulk_revoke(
        &self,
        tenant: &str,
        body: &api::BulkRevoke,
    ) -> ClientResult<api::BulkRevokeResult> {
        let path = format!("/v1/tenants/{}/keys/revoke", encode(tenant));
        self.send(self.request(Method::POST, &path).json(body))
            .await
    }

    /// As [`Client::bulk_revoke`], waiting until every live instance has
    /// applied the revocations (not for a dry run).
    pub async fn bulk_revoke_everywhere(
        &self,
        tenant: &str,
        body: &api::BulkRevoke,
    ) -> ClientResult<(api::BulkRevokeResult, Option<FleetApplied>)> {
        let path = format!("/v1/tenants/{}/keys/revoke", encode(tenant));
        self.send_waiting(self.request(Method::POST, &path).json(body))
            .await
    }

    /// The server instances and how far each has applied the changes
    /// (system administrators).
    pub async fn fleet(&self) -> ClientResult<api::FleetStatus> {
        self.send(self.request(Method::GET, "/v1/fleet")).await
    }

    /// Every user of the tenant, page after page.
    pub async fn users(&self, tenant: &str) -> ClientResult<api::UserList> {
        let path = format!("/v1/tenants/{}/users", encode(tenant));
        let mut all = api::UserList {
            items: Vec::new(),
            next_cursor: None,
        };
        let mut cursor: Option<String> = None;
        loop {
            let mut request = self.request(Method::GET, &path).query(&[("limit", "1000")]);
            if let Some(cursor) = &cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            let page: api::UserList = self.send(request).await?;
            all.items.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }

    pub async fn create_user(
        &self,
        tenant: &str,
        body: &api::CreateUser,
    ) -> ClientResult<api::UserWithToken> {
        let path = format!("/v1/tenants/{}/users", encode(tenant));
        self.send(self.request(Method::POST, &path).json(body))
            .await
    }

    /// Grants or withdraws roles and the license, renames, changes the e-mail.
    pub async fn update_user(
        &self,
        tenant: &str,
        id: &str,
        body: &api::UpdateUser,
    ) -> ClientResult<api::UserBody> {
        self.send(
            self.request(Method::PATCH, &Self::user_path(tenant, id))
                .json(body),
        )
        .await
    }

    fn user_path(tenant: &str, id: &str) -> String {
        format!("/v1/tenants/{}/users/{}", encode(tenant), encode(id))
    }

    /// A new management token for a user of `tenant`, shown once: the
    /// caller's own (the old one stops working), or, for a tenant admin, a
    /// first one for a user who holds none (409 `USER_HAS_TOKEN` otherwise).
    pub async fn rotate_user_token(
        &self,
        tenant: &str,
        id: &str,
    ) -> ClientResult<api::UserWithToken> {
        let path = format!("{}/token", Self::user_path(tenant, id));
        self.send(self.request(Method::POST, &path)).await
    }

    /// Takes a user's management token away: it stops working, and they
    /// hold none until one is issued.
    pub async fn revoke_user_token(&self, tenant: &str, id: &str) -> ClientResult<()> {
        let path = format!("{}/token", Self::user_path(tenant, id));
        self.send(self.request(Method::DELETE, &path)).await
    }

    /// Disables a user: their token is refused until they are enabled.
    pub async fn disable_user(&self, tenant: &str, id: &str) -> ClientResult<api::UserBody> {
        let path = format!("{}/disable", Self::user_path(tenant, id));
        self.send(self.request(Method::POST, &path)).await
    }

    /// Enables a disabled user: their token works again.
    pub async fn enable_user(&self, tenant: &str, id: &str) -> ClientResult<api::UserBody> {
        let path = format!("{}/enable", Self::user_path(tenant, id));
        self.send(self.request(Method::POST, &path)).await
    }

    /// Deletes a user; the keys they own stay theirs, their events stay.
    pub async fn delete_user(&self, tenant: &str, id: &str) -> ClientResult<()> {
        self.send(self.request(Method::DELETE, &Self::user_path(tenant, id)))
            .await
    }

    /// A new management token for the caller, shown once; this client's
    /// token stops working, so make a new client with the answer.
    pub async fn rotate_own_token(&self) -> ClientResult<api::UserWithToken> {
        self.send(self.request(Method::POST, "/v1/me/token")).await
    }

    pub async fn events(
        &self,
        tenant: &str,
        key: Option<&str>,
        cursor: Option<&str>,
    ) -> ClientResult<api::EventList> {
        self.events_page(tenant, key, cursor, None).await
    }

    /// A page of the audit log, newest first: of key `key` only, before
    /// `cursor`, at most `limit` events (the server's default: 100).
    pub async fn events_page(
        &self,
        tenant: &str,
        key: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> ClientResult<api::EventList> {
        let query = EventListQuery {
            key: key.map(str::to_owned),
            action: None,
            cursor: cursor.map(str::to_owned),
            limit,
        };
        self.event_list(tenant, &query).await
    }

    /// A page of the audit log, newest first, as `query` narrows it.
    pub async fn event_list(
        &self,
        tenant: &str,
        query: &EventListQuery,
    ) -> ClientResult<api::EventList> {
        let path = format!("/v1/tenants/{}/events", encode(tenant));
        self.send(self.request(Method::GET, &path).query(query))
            .await
    }

    /// Verifies `key` as a service does, requiring `scope` if given.
    pub async fn verify(
        &self,
        key: &str,
        scope: Option<&str>,
    ) -> ClientResult<api::VerifyResponse> {
        self.verify_with(&api::VerifyRequest {
            key: key.to_owned(),
            tenant: None,
            scope: scope.map(str::to_owned),
        })
        .await
    }

    /// Verifies as `body` says (also bound to its `tenant`). This client's
    /// token, if it has one (a verifier or a management token), goes with
    /// it: it binds the verification to the tenants it is authenticated
    /// for, and gets answers that name the key even when it is not valid.
    pub async fn verify_with(
        &self,
        body: &api::VerifyRequest,
    ) -> ClientResult<api::VerifyResponse> {
        let mut request = self
            .http
            .post(format!("{}/v1/verify", self.base))
            .json(body);
        if !self.token.is_empty() {
            request = request.bearer_auth(self.token.as_str());
        }
        self.send(request).await
    }

    /// The tenant's verifier tokens (never the tokens themselves).
    pub async fn verifiers(&self, tenant: &str) -> ClientResult<api::VerifierList> {
        let path = format!("/v1/tenants/{}/verifiers", encode(tenant));
        self.send(self.request(Method::GET, &path)).await
    }

    /// A new verifier token for `tenant`, shown once in the answer.
    pub async fn create_verifier(
        &self,
        tenant: &str,
        name: &str,
    ) -> ClientResult<api::VerifierWithToken> {
        let path = format!("/v1/tenants/{}/verifiers", encode(tenant));
        let body = api::CreateVerifier {
            name: name.to_owned(),
        };
        self.send(self.request(Method::POST, &path).json(&body))
            .await
    }

    /// Revokes verifier `id` of `tenant`: its token stops working at once.
    pub async fn revoke_verifier(&self, tenant: &str, id: &str) -> ClientResult<()> {
        let path = format!("/v1/tenants/{}/verifiers/{}", encode(tenant), encode(id));
        self.send(self.request(Method::DELETE, &path)).await
    }

    /// Key `id`'s verifications over `window`, in buckets: successes, and failures by code.
    pub async fn key_usage(
        &self,
        tenant: &str,
        id: &str,
        window: crate::domain::UsageWindow,
    ) -> ClientResult<api::UsageHistory> {
        let path = format!("{}/usage", Self::key_path(tenant, id));
        self.send(
            self.request(Method::GET, &path)
                .query(&[("window", window.as_str())]),
        )
        .await
    }

    /// The tenant's audit events as they are committed, live. With
    /// `last_event_id`, every later event is sent first (from the log), so
    /// a stream resumed with the id of the last event received misses and
    /// repeats nothing. Answers once the server has accepted the stream (a
    /// refusal is the usual [`ClientError`]); the stream then ends as
    /// [`EventStream`] says. It has no overall timeout, only one for
    /// silence: [`STREAM_SILENCE`] without even a heartbeat breaks it.
    pub async fn event_stream(
        &self,
        tenant: &str,
        last_event_id: Option<i64>,
    ) -> ClientResult<EventStream> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .read_timeout(STREAM_SILENCE)
            .user_agent(concat!("keydesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let path = format!("/v1/tenants/{}/events/stream", encode(tenant));
        let mut request = http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str())
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.map_err(|e| self.no_answer(e))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.map_err(|e| self.no_answer(e))?;
            return Err(refusal(status, &bytes));
        }
        let client = self.clone();
        Ok(EventStream::new(
            response,
            Box::new(move |err| client.no_answer(err)),
        ))
    }
}

/// How long an event stream may stay silent before the client gives up on
/// it: three of the server's 15-second heartbeats.
pub const STREAM_SILENCE: Duration = Duration::from_secs(45);

/// A refusal's answer as a [`ClientError`]: its problem, or one made up from the status.
fn refusal(status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<Problem>(bytes) {
        Ok(problem) => ClientError::Api(problem),
        Err(_) => ClientError::Api(Problem {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: format!("the server answered {status}"),
            code: "HTTP_ERROR".to_owned(),
        }),
    }
}

/// Percent-encodes a path segment (ids are plain, but never trust that).
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(status: u16, code: &str, detail: &str) -> ClientError {
        ClientError::Api(Problem {
            kind: format!("urn:keydesk:problem:{}", code.to_ascii_lowercase()),
            title: "Error".to_owned(),
            status,
            detail: detail.to_owned(),
            code: code.to_owned(),
        })
    }

    #[test]
    fn a_read_only_session_sends_reads_verifications_lookups_and_reveals_only() {
        let allowed = [
            (Method::GET, "/v1/tenants/acme/keys"),
            (Method::GET, "/v1/me"),
            (Method::HEAD, "/healthz"),
            (Method::POST, "/v1/verify"),
            (Method::POST, "/v1/tenants/acme/keys/key_1/reveal"),
            (Method::POST, "/v1/keys/lookup"),
        ];
        for (method, path) in allowed {
            assert!(allowed_when_readonly(&method, path), "{method} {path}");
        }
        let refused = [
            (Method::POST, "/v1/tenants"),
            (Method::POST, "/v1/tenants/acme/keys"),
            (Method::POST, "/v1/tenants/acme/keys/key_1/revoke"),
            (Method::POST, "/v1/tenants/acme/keys/key_1/regenerate"),
            (Method::POST, "/v1/tenants/acme/keys/key_1/end-rotation"),
            (Method::POST, "/v1/tenants/acme/keys/revoke"),
            (Method::POST, "/v1/keys/lookup/x"),
            (Method::POST, "/v1/tenants/acme/users/usr_1/token"),
            (Method::DELETE, "/v1/tenants/acme/users/usr_1/token"),
            (Method::POST, "/v1/tenants/acme/users/usr_1/disable"),
            (Method::POST, "/v1/tenants/acme/users/usr_1/enable"),
            (Method::DELETE, "/v1/tenants/acme/users/usr_1"),
            (Method::POST, "/v1/me/token"),
            (Method::PATCH, "/v1/tenants/acme/settings"),
            (Method::PATCH, "/v1/tenants/acme/keys/key_1"),
            (Method::DELETE, "/v1/tenants/acme/keys/key_1"),
            (Method::PUT, "/v1/verify"),
            // Not a reveal: a key named "reveal" in another place of the path.
            (Method::POST, "/v1/tenants/acme/keys/reveal"),
            (Method::POST, "/v1/tenants/acme/keys/key_1/reveal/x"),
        ];
        for (method, path) in refused {
            assert!(!allowed_when_readonly(&method, path), "{method} {path}");
        }
    }

    #[tokio::test]
    async fn a_read_only_client_refuses_before_connecting_and_behind_a_path_prefix() {
        // Nothing listens here: a request that was sent would be Unreachable.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}/keydesk/");
        let client = Client::new(&base, "kdm_x").unwrap().readonly(true);
        assert!(client.is_readonly());
        let err = client.revoke_key("acme", "key_1").await.unwrap_err();
        let ClientError::ReadOnly { method, path } = &err else {
            panic!("expected ReadOnly, got {err:?}");
        };
        assert_eq!(
            (method.as_str(), path.as_str()),
            ("POST", "/v1/tenants/acme/keys/key_1/revoke")
        );
        assert_eq!(err.to_string(), "read-only session: nothing was sent");
        assert!(!err.is_transient());
        // A reveal is sent, and so finds nobody listening.
        let err = client.reveal_key("acme", "key_1").await.unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
        // Switching read-only off lets mutations through again.
        let err = client
            .readonly(false)
            .revoke_key("acme", "key_1")
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_named_in_the_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let err = Client::new(&base, "kdm_x").unwrap().me().await.unwrap_err();
        assert!(err.is_transient());
        assert!(!err.is_unauthorized());
        assert_eq!(err.code(), None);
        assert_eq!(
            err.to_string(),
            format!("cannot reach {base}: the connection was refused or the host is unreachable")
        );
    }

    #[test]
    fn problems_read_as_one_line_with_their_code() {
        let missing = problem(404, "NOT_FOUND", "key not found");
        assert_eq!(missing.to_string(), "key not found (NOT_FOUND)");
        assert_eq!(missing.code(), Some("NOT_FOUND"));
        assert!(!missing.is_transient() && !missing.is_unauthorized());

        let refused = problem(401, "UNAUTHENTICATED", "send a management token");
        assert_eq!(refused.to_string(), "the server refused the token");
        assert!(refused.is_unauthorized() && !refused.is_transient());

        let failing = problem(503, "INTERNAL", "the server failed");
        assert!(failing.is_transient() && !failing.is_unauthorized());
    }
}

#[cfg(test)]
mod fleet_tests {
    use super::FleetApplied;

    #[test]
    fn the_fleet_header_is_read_and_said() {
        let all = FleetApplied::parse("applied=3/3; ms=4").unwrap();
        assert!(all.everywhere());
        assert_eq!(all.describe(), "applied on 3 of 3 instances in 4 ms");
        let some = FleetApplied::parse("applied=2/3; ms=2000; waiting=i-3f9c").unwrap();
        assert!(!some.everywhere());
        assert_eq!(
            some.describe(),
            "applied on 2 of 3 instances in 2000 ms; not yet on i-3f9c"
        );
        assert_eq!(
            FleetApplied::parse("applied=1/1; ms=0").unwrap().describe(),
            "applied on 1 of 1 instance in 0 ms"
        );
        assert!(FleetApplied::parse("ms=4").is_none());
        assert!(FleetApplied::parse("applied=x/3").is_none());
    }
}
