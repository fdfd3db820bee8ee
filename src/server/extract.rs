//! Request extractors that answer with problem+json when they fail: the
//! authenticated caller, JSON bodies (required or optional), queries, paths
//! and `If-Match`.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::domain::{Origin, Refusal, User, UserRef};

/// A JSON body; a malformed or mistyped one is a 400/422 problem. The body
/// is a JSON object, and the only lists in it are lists of strings named as
/// such ([`LIST_FIELDS`]): serde would otherwise read a struct from a list
/// (`[null, null]` as a settings change), which the contract does not allow.
pub struct ApiJson<T>(pub T);

/// The request fields that hold a list (always of strings).
const LIST_FIELDS: [&str; 3] = ["scopes", "ids", "roles"];

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) =
            axum::Json::<serde_json::Value>::from_request(request, state).await?;
        if !value.is_object() {
            return Err(ApiError::invalid("the body must be a JSON object"));
        }
        typed(value).map(Self)
    }
}

/// Reads a body already parsed as JSON into `T`, after checking its shape.
fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    check_lists(&value)?;
    serde_json::from_value(value).map_err(|err| {
        ApiError::invalid(format!(
            "Failed to deserialize the JSON body into the target type: {err}"
        ))
    })
}

/// Refuses a list anywhere but in [`LIST_FIELDS`], and a list there that
/// holds anything but strings.
fn check_lists(value: &serde_json::Value) -> Result<(), ApiError> {
    let serde_json::Value::Object(fields) = value else {
        return Ok(());
    };
    for (name, field) in fields {
        match field {
            serde_json::Value::Array(items) => {
                if !LIST_FIELDS.contains(&name.as_str()) {
                    return Err(ApiError::invalid(format!("{name}: must not be a list")));
                }
                if !items.iter().all(serde_json::Value::is_string) {
                    return Err(ApiError::invalid(format!(
                        "{name}: must be a list of strings"
                    )));
                }
            }
            serde_json::Value::Object(_) => check_lists(field)?,
            _ => {}
        }
    }
    Ok(())
}

/// An optional JSON body, for actions that were bodiless before they took
/// options (duplicate): no body, only whitespace, or `null` is `T::default()`;
/// anything else is read as [`ApiJson`] reads it, with the same refusals.
pub struct OptionalJson<T>(pub T);

/// `application/json` or `application/<anything>+json`, as axum's `Json` accepts.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
    else {
        return false;
    };
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        // Bytes honours the body limit of the router (DefaultBodyLimit).
        let bytes = Bytes::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !is_json(content_type.as_ref()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "a request body must be sent with 'Content-Type: application/json'",
            ));
        }
        // `null` is no body too, as the OpenAPI document's `oneOf: [null, T]` says.
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_bytes(&bytes)?;
        if value.is_null() {
            return Ok(Self(T::default()));
        }
        if !value.is_object() {
            return Err(ApiError::invalid(
                "the body must be a JSON object (or null)",
            ));
        }
        typed(value).map(Self)
    }
}

/// Query parameters; bad ones are a 400 problem.
#[derive(FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Path parameters; bad ones are a 400 problem.
#[derive(FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// The authenticated user behind the bearer token ([`super::auth`]), and
/// where they call from.
pub struct Caller {
    pub user: User,
    pub source: String,
}

impl Caller {
    #[must_use]
    pub fn user_ref(&self) -> UserRef {
        UserRef {
            id: self.user.id.clone(),
            name: self.user.name.as_str().to_owned(),
        }
    }

    /// Actor and source, for the audit events of a mutation.
    #[must_use]
    pub fn origin(&self) -> Origin {
        Origin {
            actor: self.user_ref(),
            source: self.source.clone(),
        }
    }
}

/// The peer address, when the server was started with connect info.
pub fn source_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string())
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let user = super::auth::authenticate(&state, parts).await?;
        Ok(Self {
            user,
            source: source_address(parts),
        })
    }
}

/// The `If-Match` header, if sent: the version the caller last saw.
pub struct IfMatch(pub Option<String>);

impl IfMatch {
    /// Refuses with 412 unless the header is absent, `*`, or names `etag`.
    pub fn check(&self, etag: &str) -> Result<(), Refusal> {
        match &self.0 {
            None => Ok(()),
            Some(value) if value.trim() == "*" => Ok(()),
            Some(value) => {
                // Strong comparison (RFC 9110 §13.1.1): a weak validator
                // (`W/"3"`) never matches, so it is a 412.
                let matches = value.split(',').map(str::trim).any(|tag| tag == etag);
                if matches {
                    Ok(())
                } else {
                    Err(Refusal::stale())
                }
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(header::IF_MATCH) {
            None => Ok(Self(None)),
            Some(value) => value
                .to_str()
                .map(|v| Self(Some(v.to_owned())))
                .map_err(|_| ApiError::bad_request("INVALID_HEADER", "If-Match is not valid text")),
        }
    }
}

/// The `Idempotency-Key` header, if sent.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let value = value.to_str().unwrap_or_default().trim();
        if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::bad_request(
                "INVALID_HEADER",
                "Idempotency-Key must be 1-255 visible ASCII characters",
            ));
        }
        Ok(Self(Some(value.to_owned())))
    }
}
