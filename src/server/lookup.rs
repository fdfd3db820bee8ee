//! `POST /v1/keys/lookup`: the on-call engineer holds a leaked secret and
//! asks which key it is. The answer is the key and its tenant, within what
//! the caller may see (`domain::policy::may_look_up_key`); everything else,
//! a secret of no key included, is the same 404, so a secret's owner does
//! not leak.
//!
//! A malformed secret or bad checksum is answered before any store access
//! (it can be no one's key, so it leaves no event either). Every other
//! lookup is an audit event, `key.looked_up`: in the key's tenant log when
//! the key is answered, otherwise in the system log (no tenant). The secret
//! itself never reaches an event, a log line or the answer: events hold
//! its `start`, and the request is read from a body, never a URL.

use axum::Json;
use axum::extract::State;
use serde_json::json;
use zeroize::Zeroizing;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Caller};
use crate::api::{self, MatchedSecret, Problem};
use crate::domain::policy;
use crate::domain::{EventAction, Secret, WhichSecret};

#[utoipa::path(
    post, path = "/v1/keys/lookup", tag = "keys",
    request_body = api::LookupKey,
    responses(
        (status = 200, description = "The key this secret belongs to (its current secret, or the previous one of a rotating key still in its grace) and its tenant; a key.looked_up event in that tenant's log records who asked and the secret's start", body = api::LookupResult),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No key the caller may look up has this secret: a malformed secret or bad checksum (answered without any store access), a secret of no key, or a key outside what the caller may see (a tenant admin finds the keys of their tenant, a system administrator any; other roles none). Always the same body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body without a JSON content type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or mistyped fields (VALIDATION_FAILED)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn lookup_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<api::LookupKey>,
) -> ApiResult<Json<api::LookupResult>> {
    let not_found = || ApiError::not_found("key");
    let candidate = Zeroizing::new(body.secret);
    let Ok(secret) = Secret::parse(&candidate) else {
        return Err(not_found());
    };
    drop(candidate);
    let digest = state.keyring.secret_digest(&secret);
    let start = secret.start();
    drop(secret);

    let found = state.store.key_by_digest(&digest).await?;
    let now = super::now();
    let found = found.and_then(|(key, _)| key.which_secret(&digest, now).map(|which| (key, which)));
    let origin = caller.origin();
    if let Some((key, which)) = &found {
        if policy::may_look_up_key(&caller.user, &key.tenant_id) {
            let tenant = state
                .store
                .get_tenant(&key.tenant_id)
                .await?
                .ok_or_else(|| ApiError::internal("a key without its tenant"))?;
            let matched = match which {
                WhichSecret::Current => MatchedSecret::Current,
                WhichSecret::Previous => MatchedSecret::Previous,
            };
            let event = origin.event(
                now,
                Some(key.tenant_id.clone()),
                EventAction::KeyLookedUp,
                (key.id.as_str(), key.name.as_str()),
                json!({ "start": start, "matched": matched }),
            );
            state.store.append_event(&event).await?;
            return Ok(Json(api::LookupResult {
                tenant: api::TenantBody::from_domain(&tenant),
                key: super::keys::key_body(&state, key).await?,
                matched,
            }));
        }
    }
    // Nothing the caller may see: the system log says what was (not) found.
    let (target, changes) = match &found {
        Some((key, _)) => (
            (key.id.as_str(), key.name.as_str()),
            json!({ "start": start, "found": true, "key_tenant": key.tenant_id.as_str(), "answered": "not_found" }),
        ),
        None => (("", ""), json!({ "start": start, "found": false })),
    };
    let event = origin.event(now, None, EventAction::KeyLookedUp, target, changes);
    state.store.append_event(&event).await?;
    Err(not_found())
}
