//! `/v1/tenants/{tenant}/events`: the audit log, newest first (an e-mail
//! address in a user's event only for whom may see it).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiPath, ApiQuery, Caller};
use super::{AppState, visible_tenant};
use crate::api::{self, Problem};
use crate::domain::EventAction;
use crate::store::EventQuery;

/// Query parameters of the event list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListParams {
    /// Only events about this key (or user, or tenant) id.
    key: Option<String>,
    /// Only this action, e.g. `key.revoked`.
    action: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/events", tag = "events",
    params(("tenant" = String, Path, description = "Tenant id"), EventListParams),
    responses(
        (status = 200, description = "One page of events, newest first", body = api::EventList),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller holds no role in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown action, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(params): ApiQuery<EventListParams>,
) -> ApiResult<Json<api::EventList>> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let action = match params.action.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(EventAction::parse(raw).ok_or_else(|| {
            let known: Vec<&str> = EventAction::ALL.iter().map(|a| a.as_str()).collect();
            ApiError::invalid(format!(
                "action: {raw:?} is not one of {}",
                known.join(", ")
            ))
        })?),
    };
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit: must be between 1 and 1000"));
    }
    let before = params
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::invalid("cursor: not a cursor from this list"))
        })
        .transpose()?;
    let query = EventQuery {
        key: params.key.filter(|k| !k.is_empty()),
        action,
        limit,
        before,
    };
    let events = state.store.list_events(&tenant.id, &query).await?;
    let next_cursor = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(Json(api::EventList {
        items: events
            .iter()
            .map(|event| api::EventBody::seen_by(event, &caller.user))
            .collect(),
        next_cursor,
    }))
}
