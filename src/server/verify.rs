//! `POST /v1/verify`: the hot path. A malformed key or bad checksum is
//! answered without touching the store; known digests are answered from
//! the cache; usage is counted in memory. A rotating key's previous secret
//! verifies like its current one until the grace ends, judged on every
//! request; after that it is `NOT_FOUND`, as an unknown secret.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::cache::{Lookup, VerifyRecord};
use super::error::ApiResult;
use super::extract::ApiJson;
use crate::api::{self, Problem, VerifyCode};
use crate::domain::{KeyStatus, Secret};

fn answer(code: VerifyCode, record: Option<&VerifyRecord>) -> api::VerifyResponse {
    match record {
        None => api::VerifyResponse {
            valid: false,
            code,
            key_id: None,
            tenant: None,
            owner: None,
            scopes: Vec::new(),
            expires_at: None,
        },
        Some(record) => {
            let key = &record.key;
            api::VerifyResponse {
                valid: code == VerifyCode::Valid,
                code,
                key_id: Some(key.id.as_str().to_owned()),
                tenant: Some(key.tenant_id.as_str().to_owned()),
                owner: Some(key.owner.id.as_str().to_owned()),
                scopes: key.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
                expires_at: key.expires_at,
            }
        }
    }
}

#[utoipa::path(
    post, path = "/v1/verify", tag = "verify",
    request_body = api::VerifyRequest,
    responses(
        (status = 200, description = "Always 200 for a well-formed request; `valid` and `code` give the outcome", body = api::VerifyResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or mistyped fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<api::VerifyRequest>,
) -> ApiResult<Json<api::VerifyResponse>> {
    let Ok(secret) = Secret::parse(&request.key) else {
        state.metrics.count_verify(VerifyCode::NotFound);
        return Ok(Json(answer(VerifyCode::NotFound, None)));
    };
    let digest = state.keyring.secret_digest(&secret);
    drop(secret);
    let cached = match state.cache.get(&digest) {
        Lookup::Hit(cached) => cached,
        Lookup::Miss(epoch) => {
            let found = state
                .store
                .key_by_digest(&digest)
                .await?
                .map(|(key, settings)| {
                    Arc::new(VerifyRecord {
                        key,
                        api_keys_enabled: settings.api_keys_enabled,
                    })
                });
            state.cache.insert(digest.clone(), found.clone(), epoch);
            found
        }
    };
    // Read after the record, so no answer is later than the time it judged.
    let now = super::now();
    // A previous secret whose grace is over is unknown: no key, no usage.
    let Some(record) = cached.filter(|record| record.key.which_secret(&digest, now).is_some())
    else {
        state.metrics.count_verify(VerifyCode::NotFound);
        return Ok(Json(answer(VerifyCode::NotFound, None)));
    };
    let code = match record.key.status(now) {
        KeyStatus::Revoked => VerifyCode::Revoked,
        KeyStatus::Disabled => VerifyCode::Disabled,
        KeyStatus::Expired => VerifyCode::Expired,
        KeyStatus::Active if !record.api_keys_enabled => VerifyCode::TenantDisabled,
        KeyStatus::Active => match &request.scope {
            Some(scope) if !record.key.scopes.iter().any(|s| s.as_str() == scope) => {
                VerifyCode::InsufficientScope
            }
            _ => VerifyCode::Valid,
        },
    };
    state.usage.record(&record.key.id, code.as_str(), now);
    state.metrics.count_verify(code);
    Ok(Json(answer(code, Some(&record))))
}
