//! `POST /v1/tenants/{tenant}/keys/revoke`: revoke many keys at once (seed
//! 001's checkboxes, the console's `:revoke owner=…`), named by id or
//! picked by a filter, with a dry run to preview. Each key is decided
//! exactly as a single revoke decides it (permission by `domain::policy`,
//! status by the status machine), so a refusal carries the same code.
//!
//! All keys of one request are decided and written in *one* write
//! transaction ([`crate::store::Store::update_keys`]): a refused key changes
//! nothing and does not stop the others, every revoked key gets its own
//! `key.revoked` event, and every revoked key leaves the verification cache
//! before the answer is sent. A dry run makes the same decisions on the
//! same data and writes nothing.

use axum::Json;
use axum::extract::State;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, Caller};
use super::keys::status_change;
use super::{AppState, visible_tenant};
use crate::api::{self, BULK_REVOKE_MAX, BulkOutcome, Problem};
use crate::domain::policy::{self, KeyAction};
use crate::domain::{EventAction, KeySort, Scope, Tenant};
use crate::store::{KeyQuery, KeysMutation};

/// The ids a bulk revoke names: listed (repeats once, in order), or those a
/// filter matches now (in the key list's default order).
async fn target_ids(
    state: &AppState,
    tenant: &Tenant,
    body: &api::BulkRevoke,
) -> ApiResult<Vec<String>> {
    match (&body.ids, &body.filter) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > BULK_REVOKE_MAX {
                return Err(ApiError::invalid(format!(
                    "ids: 1 to {BULK_REVOKE_MAX} key ids"
                )));
            }
            let mut seen = std::collections::HashSet::new();
            Ok(ids
                .iter()
                .filter(|id| seen.insert(id.as_str()))
                .cloned()
                .collect())
        }
        (None, Some(filter)) => {
            let query = filter_query(filter)?;
            let page = state
                .store
                .list_keys(&tenant.id, &query, super::now())
                .await?;
            if page.total > BULK_REVOKE_MAX as u64 {
                return Err(ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "TOO_MANY_KEYS",
                    format!(
                        "the filter matches {} keys; one bulk revoke acts on at most {BULK_REVOKE_MAX}: narrow the filter",
                        page.total
                    ),
                ));
            }
            Ok(page
                .keys
                .iter()
                .map(|key| key.id.as_str().to_owned())
                .collect())
        }
        _ => Err(ApiError::invalid(
            "send exactly one of ids (a list of key ids) and filter",
        )),
    }
}

/// A bulk filter as a key list query of every match (at most one page).
fn filter_query(filter: &api::BulkRevokeFilter) -> ApiResult<KeyQuery> {
    let given = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let q = given(&filter.q);
    if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::invalid("filter.q: at most 200 characters"));
    }
    let scope = given(&filter.scope)
        .map(|raw| Scope::parse(&raw).map(|scope| scope.as_str().to_owned()))
        .transpose()
        .map_err(|e| ApiError::invalid(format!("filter.{e}")))?;
    let query = KeyQuery {
        q,
        status: filter.status,
        owner: given(&filter.owner),
        created_by: given(&filter.created_by),
        scope,
        sort: KeySort::default(),
        limit: u32::try_from(BULK_REVOKE_MAX).unwrap_or(u32::MAX),
        ..KeyQuery::default()
    };
    let empty = query.q.is_none()
        && query.status.is_none()
        && query.owner.is_none()
        && query.created_by.is_none()
        && query.scope.is_none();
    if empty {
        return Err(ApiError::invalid(
            "filter: give at least one of owner, created_by, scope, q, status (to revoke every key, name them by ids)",
        ));
    }
    Ok(query)
}

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/keys/revoke", tag = "keys",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body(
        content = api::BulkRevoke,
        description = "Exactly one of `ids` (1 to 1000) and `filter` (at least one field; at most 1000 keys may match); `dry_run: true` previews",
    ),
    responses(
        (status = 200, description = "One result per key: `revoked` (dry run: `would_revoke`), or `refused` with the code and detail a single revoke of that key would answer (KEY_REVOKED, REVOKE_REQUIRES_DISABLED, FORBIDDEN, NOT_FOUND for an id that names no key of the tenant). All keys are decided and written in one transaction; each revoked key gets a key.revoked event and stops verifying (both secrets of a rotating key) before this answer. A dry run writes nothing", body = api::BulkRevokeResult),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller holds no role in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body without a JSON content type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of ids and filter, no or more than 1000 ids, an empty filter, a bad scope or status (VALIDATION_FAILED), or a filter matching more than 1000 keys (TOO_MANY_KEYS)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn bulk_revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(body): ApiJson<api::BulkRevoke>,
) -> ApiResult<Json<api::BulkRevokeResult>> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let ids = target_ids(&state, &tenant, &body).await?;
    let (origin, actor) = (caller.origin(), caller.user.clone());
    let now = super::now();
    // The single revoke's decision (`keys::change_key`), minus If-Match.
    let mutation: KeysMutation = Box::new(move |mut key, tenant| {
        policy::may_act_on_key(&actor, KeyAction::Revoke, &tenant.settings, &key.owner.id)?;
        let before = key.status(now);
        key.revoke(&tenant.settings, origin.actor.clone(), now)?;
        let mut changes = status_change(before, key.status(now));
        changes["bulk"] = json!(true);
        let event = origin.event(
            now,
            Some(key.tenant_id.clone()),
            EventAction::KeyRevoked,
            (key.id.as_str(), key.name.as_str()),
            changes,
        );
        Ok((key, vec![event]))
    });
    let commit = !body.dry_run;
    let (store, cache, tenant_id) = (state.store.clone(), state.cache.clone(), tenant.id);
    // One task to the end, so a client that hangs up cannot leave a revoked
    // key in the cache.
    let outcomes = state
        .to_completion(async move {
            let outcomes = store.update_keys(&tenant_id, ids, commit, mutation).await?;
            if commit {
                for outcome in &outcomes {
                    if let (Some(key), None) = (&outcome.key, &outcome.refusal) {
                        cache.forget_key(key);
                    }
                }
            }
            Ok(outcomes)
        })
        .await?;

    let mut result = api::BulkRevokeResult {
        dry_run: body.dry_run,
        results: Vec::with_capacity(outcomes.len()),
        revoked: 0,
        would_revoke: 0,
        refused: 0,
    };
    for outcome in outcomes {
        let (outcome_kind, code, detail) = match outcome.refusal {
            None if commit => {
                result.revoked += 1;
                (BulkOutcome::Revoked, None, None)
            }
            None => {
                result.would_revoke += 1;
                (BulkOutcome::WouldRevoke, None, None)
            }
            Some(refusal) => {
                result.refused += 1;
                let error = ApiError::from(refusal);
                (
                    BulkOutcome::Refused,
                    Some(error.code.to_owned()),
                    Some(error.detail),
                )
            }
        };
        result.results.push(api::BulkRevokeItem {
            id: outcome.id,
            name: outcome.key.map(|key| key.name.as_str().to_owned()),
            outcome: outcome_kind,
            code,
            detail,
        });
    }
    Ok(Json(result))
}
