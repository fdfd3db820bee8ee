//! `/v1/tenants` and `/v1/tenants/{tenant}/settings`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, Caller, IfMatch};
use super::{AppState, visible_tenant};
use crate::api::{self, Problem};
use crate::domain::tenant::parse_scopes;
use crate::domain::{
    DisplayName, EventAction, KeyPrefix, SecretRetrieval, SettingsPatch, Tenant, TenantId,
    TenantSettings, policy,
};
use crate::store::SettingsWrite;

/// Parses a settings patch body into the domain's patch.
pub(super) fn parse_patch(body: &api::UpdateSettings) -> ApiResult<SettingsPatch> {
    Ok(SettingsPatch {
        api_keys_enabled: body.api_keys_enabled,
        max_expiry_days: body.max_expiry_days,
        max_keys_per_user: body.max_keys_per_user,
        key_creators: body.key_creators,
        scopes_editable: body.scopes_editable,
        revoke_requires_disabled: body.revoke_requires_disabled,
        secret_retrieval: body.secret_retrieval,
        key_prefix: body
            .key_prefix
            .as_deref()
            .map(KeyPrefix::parse)
            .transpose()?,
        scopes: body.scopes.as_deref().map(parse_scopes).transpose()?,
        rate_limit: body.rate_limit,
    })
}

fn settings_response(tenant: &Tenant) -> Response {
    (
        super::keys::etag_header(tenant.settings_version),
        Json(api::Settings::from_domain(
            &tenant.settings,
            tenant.settings_version,
        )),
    )
        .into_response()
}

#[utoipa::path(
    get, path = "/v1/tenants", tag = "tenants",
    responses(
        (status = 200, description = "The tenants the caller sees: all for system administrators, else their own (none while they hold no role)", body = api::TenantList),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<api::TenantList>> {
    let tenants = state.store.list_tenants().await?;
    let items = tenants
        .iter()
        .filter(|t| policy::lists_tenant(&caller.user, &t.id))
        .map(api::TenantBody::from_domain)
        .collect();
    Ok(Json(api::TenantList { items }))
}

#[utoipa::path(
    post, path = "/v1/tenants", tag = "tenants",
    request_body = api::CreateTenant,
    responses(
        (status = 201, description = "Created", body = api::TenantBody),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only system administrators create tenants", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "TENANT_EXISTS", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id, name or settings", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<api::CreateTenant>,
) -> ApiResult<(StatusCode, Json<api::TenantBody>)> {
    policy::may_create_tenant(&caller.user)?;
    let id = TenantId::parse(&body.id)?;
    let name = DisplayName::parse(&body.name)?;
    let settings = match &body.settings {
        Some(patch) => TenantSettings::default().apply(&parse_patch(patch)?)?.0,
        None => TenantSettings::default(),
    };
    let now = super::now();
    let tenant = Tenant {
        id,
        name,
        settings,
        settings_version: 1,
        created_at: now,
    };
    let event = caller.origin().event(
        now,
        Some(tenant.id.clone()),
        EventAction::TenantCreated,
        (tenant.id.as_str(), tenant.name.as_str()),
        json!({ "settings": api::Settings::from_domain(&tenant.settings, 1) }),
    );
    state.store.create_tenant(&tenant, &event).await?;
    Ok((
        StatusCode::CREATED,
        Json(api::TenantBody::from_domain(&tenant)),
    ))
}

#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/settings", tag = "settings",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The settings; their ETag in the header", body = api::Settings),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller holds no role in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> ApiResult<Response> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    Ok(settings_response(&tenant))
}

#[utoipa::path(
    patch, path = "/v1/tenants/{tenant}/settings", tag = "settings",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last read; a stale one is refused with 412"),
    ),
    request_body = api::UpdateSettings,
    responses(
        (status = 200, description = "The settings after the change; limits apply to new keys only", body = api::Settings),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only tenant admins change settings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<api::UpdateSettings>,
) -> ApiResult<Response> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    policy::may_update_settings(&caller.user)?;
    let patch = parse_patch(&body)?;
    let origin = caller.origin();
    let now = super::now();
    let mutation: crate::store::SettingsMutation = Box::new(move |mut tenant| {
        if_match.check(&tenant.settings_etag())?;
        let (next, changed) = tenant.settings.apply(&patch)?;
        let before = api::Settings::from_domain(&tenant.settings, 0);
        let after = api::Settings::from_domain(&next, 0);
        let (before, after) = (json!(before), json!(after));
        let changes: serde_json::Map<_, _> = changed
            .iter()
            .map(|f| {
                (
                    (*f).to_owned(),
                    json!({ "from": before[*f], "to": after[*f] }),
                )
            })
            .collect();
        let forget_stored_secrets = tenant.settings.secret_retrieval == SecretRetrieval::Admins
            && next.secret_retrieval == SecretRetrieval::Never;
        if !changed.is_empty() {
            tenant.settings = next;
            tenant.settings_version += 1;
        }
        let event = (!changes.is_empty()).then(|| {
            origin.event(
                now,
                Some(tenant.id.clone()),
                EventAction::SettingsUpdated,
                (tenant.id.as_str(), tenant.name.as_str()),
                serde_json::Value::Object(changes),
            )
        });
        Ok(SettingsWrite {
            tenant,
            event,
            forget_stored_secrets,
        })
    });
    let (store, cache, tenant_id) = (state.store.clone(), state.cache.clone(), tenant.id.clone());
    let updated = state
        .to_completion(async move {
            let updated = store.update_settings(&tenant_id, mutation).await?;
            // Settings decide verification (api_keys_enabled): forget every cached answer.
            cache.clear();
            Ok(updated)
        })
        .await?;
    Ok(settings_response(&updated))
}

/// Unreachable tenants and unknown ids look the same: 404.
pub(super) fn tenant_not_found() -> ApiError {
    ApiError::not_found("tenant")
}
