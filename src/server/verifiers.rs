//! `/v1/tenants/{tenant}/verifiers`: the tenant's verifier tokens, service
//! credentials that may only call `POST /v1/verify` and bind it to their
//! tenant. A tenant admin creates one (its token shown once), lists them
//! (never with tokens) and revokes one (it stops at once); both audited.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiResult;
use super::extract::{ApiJson, ApiPath, Caller};
use super::{AppState, visible_tenant};
use crate::api::{self, Problem};
use crate::domain::secret::generate_verifier_token;
use crate::domain::{DisplayName, EventAction, Verifier, VerifierId, policy};

#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/verifiers", tag = "verify",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The tenant's verifiers, oldest first; never their tokens", body = api::VerifierList),
        (status = 401, description = "No or an invalid management token (a verifier token is not one)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_verifiers(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> ApiResult<Json<api::VerifierList>> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let verifiers = state.store.list_verifiers(&tenant.id).await?;
    Ok(Json(api::VerifierList {
        items: verifiers
            .iter()
            .map(api::VerifierBody::from_domain)
            .collect(),
    }))
}

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/verifiers", tag = "verify",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = api::CreateVerifier,
    responses(
        (status = 201, description = "Created; the token (`kdv_…`) is shown this once. A `verifier.created` event records it", body = api::VerifierWithToken),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only tenant admins manage verifiers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not sent as application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or invalid name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_verifier(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(body): ApiJson<api::CreateVerifier>,
) -> ApiResult<Response> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    policy::may_manage_verifiers(&caller.user)?;
    let now = super::now();
    let verifier = Verifier {
        id: VerifierId::generate(),
        tenant_id: tenant.id.clone(),
        name: DisplayName::parse(&body.name)?,
        created_at: now,
        created_by: caller.user_ref(),
    };
    let token = generate_verifier_token();
    let event = caller.origin().event(
        now,
        Some(tenant.id.clone()),
        EventAction::VerifierCreated,
        (verifier.id.as_str(), verifier.name.as_str()),
        json!({ "name": verifier.name.as_str() }),
    );
    state
        .store
        .create_verifier(
            &verifier,
            &state.keyring.token_digest(token.expose()),
            &event,
        )
        .await?;
    let body = api::VerifierWithToken {
        verifier: api::VerifierBody::from_domain(&verifier),
        token: token.expose().to_owned(),
    };
    // The token is in this answer and nowhere else: no cache may keep it.
    let no_store = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    Ok((StatusCode::CREATED, no_store, Json(body)).into_response())
}

#[utoipa::path(
    delete, path = "/v1/tenants/{tenant}/verifiers/{id}", tag = "verify",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Verifier id")),
    responses(
        (status = 204, description = "Revoked: its token stopped working before this answer. A `verifier.revoked` event records it"),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only tenant admins manage verifiers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such verifier in this tenant, or no such tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_verifier(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    policy::may_manage_verifiers(&caller.user)?;
    let origin = caller.origin();
    let now = super::now();
    let revocation: crate::store::VerifierRevocation = Box::new(move |verifier| {
        origin.event(
            now,
            Some(verifier.tenant_id.clone()),
            EventAction::VerifierRevoked,
            (verifier.id.as_str(), verifier.name.as_str()),
            json!({ "name": verifier.name.as_str() }),
        )
    });
    let (store, credentials) = (state.store.clone(), state.credentials.clone());
    state
        .to_completion(async move {
            store
                .delete_verifier(&tenant.id, &VerifierId::from_trusted(id), revocation)
                .await?;
            // Already forgotten as the event was committed; again, as a key
            // is, so no verification after this answer accepts the token.
            credentials.clear();
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
