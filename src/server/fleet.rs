//! Seeing the fleet (issue 10 point 5): `GET /v1/fleet` lists the
//! instances serving this database with their lag, and any mutation may
//! ask `?wait=fleet` to be answered only once every live instance has
//! applied its change (or `wait_ms` passed), saying which confirmed in the
//! `Keydesk-Fleet` header. The store does the work (PostgreSQL: heartbeats
//! and the change counter, `store::postgres::fleet`); under SQLite one
//! instance is the whole fleet and has applied everything it committed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, RefOr, Required, Type};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::Caller;
use crate::api::{FleetInstanceBody, FleetStatus, Problem};
use crate::domain::policy;
use crate::store::{FleetInstance, InstanceInfo};

/// How recent a heartbeat must be for its instance to count as live:
/// three beats may be missed (they come every second).
pub const LIVE_WITHIN: Duration = Duration::from_secs(3);
/// `?wait_ms` when not given, and its largest value.
pub const WAIT_DEFAULT: Duration = Duration::from_millis(2000);
pub const WAIT_MAX: Duration = Duration::from_millis(10_000);
/// How often a waiting answer reads the instances' heartbeats.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// The response header of `?wait=fleet`.
pub const HEADER: &str = "keydesk-fleet";

/// A random instance id for a server started without `--instance-id`.
#[must_use]
pub fn random_instance_id() -> String {
    format!("i-{:012x}", rand::random::<u64>() >> 16)
}

/// This instance as the fleet sees it when the store has no fleet (SQLite).
fn alone(me: &InstanceInfo) -> FleetInstance {
    let now = super::now();
    FleetInstance {
        id: me.id.clone(),
        address: me.address.clone(),
        started_at: me.started_at,
        seen_at: now,
        applied_change: 0,
        applied_at: now,
    }
}

#[utoipa::path(
    get, path = "/v1/fleet", tag = "operations",
    responses(
        (status = 200, description = "The live instances (heartbeat at most 3 s old) and how far each has applied the changes committed by any of them. Under SQLite: this instance alone", body = FleetStatus),
        (status = 403, description = "FORBIDDEN: only system administrators see the fleet", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn fleet_status(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<FleetStatus>> {
    policy::may_read_fleet(&caller.user)?;
    let (change, instances) = match state.store.fleet(LIVE_WITHIN).await? {
        Some(view) => (view.change, view.instances),
        None => (0, vec![alone(&state.instance)]),
    };
    let now = Utc::now();
    Ok(Json(FleetStatus {
        change,
        this_instance: state.instance.id.clone(),
        live_within_ms: millis(LIVE_WITHIN),
        instances: instances
            .into_iter()
            .map(|instance| FleetInstanceBody {
                heartbeat_age_ms: u64::try_from((now - instance.seen_at).num_milliseconds())
                    .unwrap_or(0),
                lag: (change - instance.applied_change).max(0),
                id: instance.id,
                address: instance.address,
                started_at: instance.started_at,
                seen_at: instance.seen_at,
                applied_change: instance.applied_change,
                applied_at: instance.applied_at,
            })
            .collect(),
    }))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// What `?wait=fleet&wait_ms=…` asked: how long to wait at most.
fn wait_asked(request: &Request) -> Result<Option<Duration>, ApiError> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || request.uri().path() == "/v1/verify"
    {
        return Ok(None);
    }
    let Ok(Query(query)) = Query::<HashMap<String, String>>::try_from_uri(request.uri()) else {
        return Ok(None);
    };
    let wait_ms = query.get("wait_ms");
    match query.get("wait").map(String::as_str) {
        None if wait_ms.is_none() => return Ok(None),
        Some("fleet") => {}
        _ => {
            return Err(ApiError::bad_request(
                "INVALID_QUERY",
                "wait: the only value is `fleet` (answer once every live instance applied the change); wait_ms goes with it",
            ));
        }
    }
    match wait_ms {
        None => Ok(Some(WAIT_DEFAULT)),
        Some(text) => match text.parse::<u64>() {
            Ok(ms) if ms <= millis(WAIT_MAX) => Ok(Some(Duration::from_millis(ms))),
            _ => Err(ApiError::bad_request(
                "INVALID_QUERY",
                format!(
                    "wait_ms: a whole number of milliseconds from 0 to {}",
                    millis(WAIT_MAX)
                ),
            )),
        },
    }
}

/// `?wait=fleet` on a mutation: once it succeeded, waits until every live
/// instance has applied the change this instance reached with it (at most
/// `wait_ms`), and says how it went in `Keydesk-Fleet`. Every other
/// request passes untouched.
pub async fn wait_for_fleet(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = match wait_asked(&request) {
        Ok(Some(limit)) => limit,
        Ok(None) => return next.run(request).await,
        Err(err) => return err.into_response(),
    };
    let mut response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    // At least this mutation's change: the store applied it before the
    // handler could answer.
    let target = state.store.applied_change();
    let started = Instant::now();
    let outcome = loop {
        let outcome = confirmations(&state, target).await;
        let done = outcome
            .as_ref()
            .is_ok_and(|(confirmed, waiting)| !confirmed.is_empty() && waiting.is_empty());
        if done || started.elapsed() >= limit {
            break outcome;
        }
        tokio::time::sleep(POLL_EVERY.min(limit.saturating_sub(started.elapsed()))).await;
    };
    let ms = started.elapsed().as_millis();
    let value = match outcome {
        Ok((confirmed, waiting)) => {
            let mut value = format!(
                "applied={}/{}; ms={ms}",
                confirmed.len(),
                confirmed.len() + waiting.len()
            );
            if !waiting.is_empty() {
                value.push_str(&format!("; waiting={}", waiting.join(",")));
            }
            value
        }
        Err(_) => format!("unknown; ms={ms}"),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// The live instances that have applied `target` and those that have not.
async fn confirmations(state: &AppState, target: i64) -> ApiResult<(Vec<String>, Vec<String>)> {
    let Some(view) = state.store.fleet(LIVE_WITHIN).await? else {
        return Ok((vec![state.instance.id.clone()], Vec::new()));
    };
    let me = &state.instance.id;
    // This instance counts from memory (its heartbeat may be a beat behind).
    let mut confirmed = vec![me.clone()];
    let mut waiting = Vec::new();
    for instance in view.instances.into_iter().filter(|i| &i.id != me) {
        if instance.applied_change >= target {
            confirmed.push(instance.id);
        } else {
            waiting.push(instance.id);
        }
    }
    Ok((confirmed, waiting))
}

/// Documents `wait` and `wait_ms` on every operation they apply to: every
/// mutation (not `/v1/verify`, which changes nothing).
pub struct WaitParameters;

impl utoipa::Modify for WaitParameters {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            if path == "/v1/verify" {
                continue;
            }
            for operation in [
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_wait(operation);
            }
        }
    }
}

fn add_wait(operation: &mut Operation) {
    let wait = ParameterBuilder::new()
        .name("wait")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(
            "`fleet`: once the mutation succeeded, answer only when every live instance \
             (heartbeat at most 3 s old) has applied its change, or `wait_ms` passed. A \
             successful answer then carries `Keydesk-Fleet: applied=N/M; ms=T` (and \
             `; waiting=ID,…` naming the instances that had not applied it). Under SQLite: \
             at once, `applied=1/1`. Any other value: 400 INVALID_QUERY",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["fleet"])),
        ))
        .build();
    let wait_ms = ParameterBuilder::new()
        .name("wait_ms")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(
            "With `wait=fleet`: the longest wait in milliseconds (default 2000, at most \
             10000; beyond: 400 INVALID_QUERY)",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(10_000))
                .default(Some(serde_json::json!(2000))),
        ))
        .build();
    let parameters: &mut Vec<Parameter> = operation.parameters.get_or_insert_with(Vec::new);
    parameters.push(wait);
    parameters.push(wait_ms);
    for (status, response) in &mut operation.responses.responses {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                "Keydesk-Fleet".to_owned(),
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some(
                        "Only with `wait=fleet`: `applied=N/M; ms=T`, N of the M live instances \
                         having applied the change after T ms, then `; waiting=ID,…` if N < M",
                    ))
                    .build(),
            );
        }
    }
}
