//! `POST /v1/verify`: the hot path. A malformed key or bad checksum is
//! answered without touching the store; known digests are answered from
//! the cache; usage is counted in memory. A rotating key's previous secret
//! verifies like its current one until the grace ends, judged on every
//! request; after that it is `NOT_FOUND`, as an unknown secret.
//!
//! A verification can be bound to a tenant: by the request's `tenant`, and
//! by the caller's token (a verifier token of one tenant, or a management
//! token, bound to the tenants its user sees); a key outside them is
//! `NOT_FOUND`. With `--verify-auth required` a caller without a token is
//! refused (401). An answer other than `VALID` names the key only to a
//! caller authenticated for its tenant. A key over its rate limit answers
//! `RATE_LIMITED` with the seconds until its window closes. Tokens are
//! resolved through [`CredentialCache`] and limits counted in memory, so
//! none of this reads the database on a cached verification.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::cache::{Credential, Lookup, VerifyRecord};
use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use crate::api::{self, Problem, VerifyCode};
use crate::domain::{KeyStatus, RateLimit, Secret, TenantId};

/// Whether `/v1/verify` answers callers without a token (`--verify-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum VerifyAuth {
    /// Anyone may verify; a token, if sent, binds and must be valid.
    #[default]
    Optional,
    /// Only a verifier token or a management token may verify: 401 without one.
    Required,
}

/// Who is verifying: nobody in particular, or the holder of a valid token.
pub struct VerifyCaller(Option<Arc<Credential>>);

impl VerifyCaller {
    /// May this caller learn about keys of `tenant`? Anonymous callers may not.
    fn sees(&self, tenant: &TenantId) -> bool {
        self.0.as_ref().is_some_and(|c| c.sees(tenant))
    }

    /// Is a key of `tenant` outside what this caller verifies? A token binds
    /// its caller to the tenants it is authenticated for.
    fn bound_away_from(&self, tenant: &TenantId) -> bool {
        self.0.as_ref().is_some_and(|c| !c.sees(tenant))
    }
}

/// A 401 that says which scheme to use (RFC 9110).
fn unauthenticated(detail: &str) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", detail).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in
/// any case, RFC 9110): `Ok(None)` without the header, `Err` for a header
/// that holds no bearer token.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let (scheme, token) = value
        .to_str()
        .ok()
        .and_then(|value| value.trim().split_once(' '))
        .ok_or(())?;
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
        Ok(Some(token))
    } else {
        Err(())
    }
}

/// Finds the verifier or user a token belongs to, from the cache or the store.
async fn credential(state: &AppState, token: &str) -> ApiResult<Option<Arc<Credential>>> {
    let digest = state.keyring.token_digest(token);
    let epoch = match state.credentials.get(&digest) {
        Lookup::Hit(credential) => return Ok(Some(credential)),
        Lookup::Miss(epoch) => epoch,
    };
    let found = match state.store.verifier_by_token_digest(&digest).await? {
        Some(verifier) => Some(Credential::Verifier(verifier.tenant_id)),
        None => state
            .store
            .user_by_token_digest(&digest)
            .await?
            .map(Credential::User),
    };
    let Some(found) = found.map(Arc::new) else {
        return Ok(None);
    };
    state.credentials.insert(digest, Arc::clone(&found), epoch);
    Ok(Some(found))
}

impl<S> FromRequestParts<S> for VerifyCaller
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let token = bearer_token(&parts.headers).map_err(|()| {
            unauthenticated(
                "send a verifier or management token as 'Authorization: Bearer <token>'",
            )
        })?;
        let Some(token) = token else {
            if state.verify_auth == VerifyAuth::Required {
                return Err(unauthenticated(
                    "this server verifies keys only for callers with a verifier or management token",
                ));
            }
            return Ok(Self(None));
        };
        match credential(&state, token).await {
            Ok(Some(found)) => Ok(Self(Some(found))),
            Ok(None) => Err(unauthenticated(
                "the token is neither a verifier nor a management token",
            )),
            Err(err) => Err(err.into_response()),
        }
    }
}

/// The answer: the key's fields only when `named` (a valid key, or a caller
/// authenticated for its tenant), else the code alone.
fn answer(code: VerifyCode, record: Option<&VerifyRecord>, named: bool) -> api::VerifyResponse {
    let mut response = api::VerifyResponse {
        valid: code == VerifyCode::Valid,
        code,
        key_id: None,
        tenant: None,
        owner: None,
        scopes: Vec::new(),
        expires_at: None,
        retry_after_seconds: None,
    };
    if let Some(key) = record.filter(|_| named).map(|record| &record.key) {
        response.key_id = Some(key.id.as_str().to_owned());
        response.tenant = Some(key.tenant_id.as_str().to_owned());
        response.owner = Some(key.owner.id.as_str().to_owned());
        response.scopes = key.scopes.iter().map(|s| s.as_str().to_owned()).collect();
        response.expires_at = key.expires_at;
    }
    response
}

fn not_found(state: &AppState) -> Response {
    state.metrics.count_verify(VerifyCode::NotFound);
    Json(answer(VerifyCode::NotFound, None, false)).into_response()
}

#[utoipa::path(
    post, path = "/v1/verify", tag = "verify",
    request_body = api::VerifyRequest,
    responses(
        (status = 200, description = "Always 200 for a well-formed request; `valid` and `code` give the outcome. `RATE_LIMITED` also sends `Retry-After` (seconds), as `retry_after_seconds`", body = api::VerifyResponse,
            headers(("Retry-After" = u64, description = "With RATE_LIMITED: seconds until the key's window closes"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A token that is neither a verifier nor a management token, an Authorization header without a bearer token, or (with `--verify-auth required`) no token at all; sent with `WWW-Authenticate: Bearer`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not sent as application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or mistyped fields, or a `tenant` that is not a tenant id", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: VerifyCaller,
    ApiJson(request): ApiJson<api::VerifyRequest>,
) -> ApiResult<Response> {
    let bound_to = request.tenant.as_deref().map(TenantId::parse).transpose()?;
    let Ok(secret) = Secret::parse(&request.key) else {
        return Ok(not_found(&state));
    };
    let digest = state.keyring.secret_digest(&secret);
    drop(secret);
    let cached = match state.cache.get(&digest) {
        Lookup::Hit(cached) => cached,
        // No key ever held this digest: no read, and no room taken in the cache.
        Lookup::Miss(_) if !state.digests.may_exist(&digest) => {
            state.metrics.count_index_refusal();
            None
        }
        Lookup::Miss(epoch) => {
            state.metrics.count_store_read();
            let found = state
                .store
                .key_by_digest(&digest)
                .await?
                .map(|(key, settings)| {
                    Arc::new(VerifyRecord {
                        key,
                        api_keys_enabled: settings.api_keys_enabled,
                        tenant_rate_limit: settings.rate_limit,
                    })
                });
            state.cache.insert(digest.clone(), found.clone(), epoch);
            found
        }
    };
    // Read after the record, so no answer is later than the time it judged.
    let now = super::now();
    // A previous secret whose grace is over is unknown: no key, no usage;
    // so is a key outside the tenant the request or the caller is bound to.
    let Some(record) = cached.filter(|record| {
        let tenant = &record.key.tenant_id;
        record.key.which_secret(&digest, now).is_some()
            && bound_to.as_ref().is_none_or(|bound| bound == tenant)
            && !caller.bound_away_from(tenant)
    }) else {
        return Ok(not_found(&state));
    };
    let key = &record.key;
    let mut retry_after = None;
    let code = match key.status(now) {
        KeyStatus::Revoked => VerifyCode::Revoked,
        KeyStatus::Disabled => VerifyCode::Disabled,
        KeyStatus::Expired => VerifyCode::Expired,
        KeyStatus::Active if !record.api_keys_enabled => VerifyCode::TenantDisabled,
        KeyStatus::Active => {
            // Every use of a live key counts, whatever scope it asks for.
            let limit = RateLimit::effective(key.rate_limit, record.tenant_rate_limit);
            let lacks_scope = |scope: &String| !key.scopes.iter().any(|s| s.as_str() == scope);
            match limit.map(|limit| state.rate_limits.admit(&key.id, limit, now)) {
                Some(Err(seconds)) => {
                    retry_after = Some(seconds);
                    VerifyCode::RateLimited
                }
                _ if request.scope.as_ref().is_some_and(lacks_scope) => {
                    VerifyCode::InsufficientScope
                }
                _ => VerifyCode::Valid,
            }
        }
    };
    state.usage.record(&key.id, code.as_str(), now);
    state.metrics.count_verify(code);
    let named = code == VerifyCode::Valid || caller.sees(&key.tenant_id);
    let mut body = answer(code, Some(&record), named);
    body.retry_after_seconds = retry_after;
    let mut response = Json(body).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    Ok(response)
}
