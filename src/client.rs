//! The typed client of the management API: the console and the CLI speak to
//! a server only through this, exactly as they would to a remote one. Every
//! failure is a [`ClientError`] that says whether the server refused (with
//! its problem) or could not be reached at all.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::api::{self, Problem};

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a problem (4xx/5xx).
    #[error("{}", .0.detail)]
    Api(Problem),
    /// No answer: refused, timed out, DNS, TLS.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// An answer that is not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl ClientError {
    /// True when retrying later may succeed (the server is down or failing).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable(_) => true,
            ClientError::Api(problem) => problem.status >= 500,
            ClientError::Protocol(_) => false,
        }
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
    pub sort: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A management API client for one server and token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: std::sync::Arc<Zeroizing<String>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
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
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: std::sync::Arc::new(Zeroizing::new(token.to_owned())),
        })
    }

    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str())
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> ClientResult<T> {
        let response = request.send().await.map_err(|e| {
            ClientError::Unreachable(if e.is_timeout() {
                "the request timed out".to_owned()
            } else if e.is_connect() {
                "connection refused or unreachable".to_owned()
            } else {
                e.to_string()
            })
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        if status.is_success() {
            let body: &[u8] = if status == StatusCode::NO_CONTENT {
                b"null"
            } else {
                &bytes
            };
            return serde_json::from_slice(body).map_err(|e| ClientError::Protocol(e.to_string()));
        }
        Err(match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => ClientError::Api(problem),
            Err(_) => ClientError::Api(Problem {
                kind: "about:blank".to_owned(),
                title: status.canonical_reason().unwrap_or("Error").to_owned(),
                status: status.as_u16(),
                detail: format!("the server answered {status}"),
                code: "HTTP_ERROR".to_owned(),
            }),
        })
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

    pub async fn regenerate_key(&self, tenant: &str, id: &str) -> ClientResult<api::KeyWithSecret> {
        self.key_action(tenant, id, "regenerate").await
    }

    pub async fn duplicate_key(&self, tenant: &str, id: &str) -> ClientResult<api::KeyWithSecret> {
        self.key_action(tenant, id, "duplicate").await
    }

    pub async fn reveal_key(&self, tenant: &str, id: &str) -> ClientResult<api::RevealedSecret> {
        self.key_action(tenant, id, "reveal").await
    }

    pub async fn users(&self, tenant: &str) -> ClientResult<api::UserList> {
        let path = format!("/v1/tenants/{}/users", encode(tenant));
        self.send(self.request(Method::GET, &path)).await
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

    pub async fn events(
        &self,
        tenant: &str,
        key: Option<&str>,
        cursor: Option<&str>,
    ) -> ClientResult<api::EventList> {
        let path = format!("/v1/tenants/{}/events", encode(tenant));
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(key) = key {
            query.push(("key", key));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        self.send(self.request(Method::GET, &path).query(&query))
            .await
    }

    pub async fn verify(
        &self,
        key: &str,
        scope: Option<&str>,
    ) -> ClientResult<api::VerifyResponse> {
        let body = api::VerifyRequest {
            key: key.to_owned(),
            scope: scope.map(str::to_owned),
        };
        self.send(
            self.http
                .post(format!("{}/v1/verify", self.base))
                .json(&body),
        )
        .await
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
