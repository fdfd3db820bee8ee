//! `/v1/tenants/{tenant}/keys`: list, create, get, edit, delete and the
//! lifecycle actions. Handlers parse, ask the domain inside the store's write
//! transaction, then drop the key from the verification cache *before*
//! answering, so the very next verification sees the change.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, IdempotencyKey, IfMatch, OptionalJson};
use super::{AppState, visible_tenant};
use crate::api::{self, Problem, Usage24h};
use crate::domain::policy::{self, KeyAction};
use crate::domain::tenant::parse_scopes;
use crate::domain::{
    ApiKey, Description, EventAction, KeyCopy, KeyEdit, KeyName, KeySort, KeyStatus, NewKey,
    Refusal, Secret, UserId,
};
use crate::store::{Created, Idempotency, KeyCommitted, KeyCursor, KeyFacts, KeyQuery, KeyWrite};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 1000;

/// Query parameters of the key list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyListParams {
    /// Case-insensitive substring of name, id, owner name or start.
    q: Option<String>,
    /// `active`, `disabled`, `expired` or `revoked`.
    status: Option<String>,
    /// An owner's user id or name.
    owner: Option<String>,
    /// `status` (default: active first, then newest), `name`, `created`,
    /// `last_used` or `expires`; prefix `-` to reverse.
    sort: Option<String>,
    /// Page size, 1–1000 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `true`: only the keys the server flags as suspicious (`false` or absent: no filter).
    suspicious: Option<bool>,
    /// `true`: only the keys in a rotation's grace, whose previous secret
    /// still verifies (`false` or absent: no filter).
    rotating: Option<bool>,
}

/// The cursor as sent over the wire: the sort it belongs to, and the position.
#[derive(serde::Serialize, Deserialize)]
struct WireCursor {
    sort: String,
    #[serde(flatten)]
    position: KeyCursor,
}

fn encode_cursor(sort: KeySort, position: KeyCursor) -> String {
    let wire = WireCursor {
        sort: sort.to_param(),
        position,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
}

fn decode_cursor(raw: &str, sort: KeySort) -> ApiResult<KeyCursor> {
    let invalid =
        || ApiError::invalid("cursor: not a cursor from this list; start again without it");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let wire: WireCursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if wire.sort != sort.to_param() {
        return Err(ApiError::invalid(
            "cursor: it belongs to a list with another sort",
        ));
    }
    Ok(wire.position)
}

fn parse_list_params(params: KeyListParams) -> ApiResult<KeyQuery> {
    let sort = match params.sort.as_deref() {
        None | Some("") => KeySort::default(),
        Some(raw) => KeySort::parse(raw).ok_or_else(|| {
            ApiError::invalid(format!(
                "sort: {raw:?} is not one of status, name, created, last_used, expires (prefix '-' to reverse)"
            ))
        })?,
    };
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(KeyStatus::parse(raw).ok_or_else(|| {
            ApiError::invalid(format!(
                "status: {raw:?} is not one of active, disabled, expired, revoked"
            ))
        })?),
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: must be between 1 and {MAX_LIMIT}"
        )));
    }
    let cursor = params
        .cursor
        .as_deref()
        .map(|c| decode_cursor(c, sort))
        .transpose()?;
    let q = params
        .q
        .filter(|q| !q.trim().is_empty())
        .map(|q| q.trim().to_owned());
    if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::invalid("q: at most 200 characters"));
    }
    Ok(KeyQuery {
        q,
        status,
        owner: params.owner.filter(|o| !o.is_empty()),
        sort,
        limit,
        cursor,
        rotating: params.rotating == Some(true),
        ..KeyQuery::default()
    })
}

/// Builds API bodies for `keys`, with 24-hour usage from the store plus what
/// is counted in memory but not yet written.
pub(super) async fn key_bodies(state: &AppState, keys: &[ApiKey]) -> ApiResult<Vec<api::Key>> {
    let now = super::now();
    let since = (now - chrono::Duration::hours(24))
        .timestamp()
        .div_euclid(60);
    let ids: Vec<_> = keys.iter().map(|k| k.id.clone()).collect();
    let stored = state.store.usage_since(&ids, since).await?;
    let pending = state.usage.pending_for(&ids, since);
    Ok(keys
        .iter()
        .map(|key| {
            let stored = stored.get(&key.id).copied().unwrap_or_default();
            let (extra, used) = pending.get(&key.id).copied().unwrap_or_default();
            let usage = Usage24h {
                valid: stored.valid + extra.valid,
                failed: stored.failed + extra.failed,
            };
            let mut body = api::Key::from_domain(key, usage, now);
            body.last_used_at = body.last_used_at.max(used);
            body.suspicious = state
                .usage
                .suspicion(&key.id)
                .map(|reason| api::Suspicion { reason });
            body
        })
        .collect())
}

pub(super) async fn key_body(state: &AppState, key: &ApiKey) -> ApiResult<api::Key> {
    let mut bodies = key_bodies(state, std::slice::from_ref(key)).await?;
    bodies
        .pop()
        .ok_or_else(|| ApiError::internal("key body missing"))
}

/// The `ETag` header for a resource at `version`.
pub(super) fn etag_header(version: i64) -> [(header::HeaderName, HeaderValue); 1] {
    let value = HeaderValue::from_str(&crate::domain::key::etag(version))
        .unwrap_or(HeaderValue::from_static("\"0\""));
    [(header::ETAG, value)]
}

fn with_secret(key: api::Key, secret: Option<&Secret>) -> api::KeyWithSecret {
    api::KeyWithSecret {
        key,
        secret: secret.map(|s| s.expose().to_owned()),
    }
}

#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/keys", tag = "keys",
    params(("tenant" = String, Path, description = "Tenant id"), KeyListParams),
    responses(
        (status = 200, description = "One page of keys, sorted", body = api::KeyList),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller holds no role in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad filter, sort, limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(params): ApiQuery<KeyListParams>,
) -> ApiResult<Json<api::KeyList>> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let suspicious = params.suspicious == Some(true);
    let mut query = parse_list_params(params)?;
    if suspicious {
        let flagged = state.usage.suspicious_keys();
        query.only_ids = Some(flagged.iter().map(|id| id.as_str().to_owned()).collect());
    }
    let page = state
        .store
        .list_keys(&tenant.id, &query, super::now())
        .await?;
    let items = key_bodies(&state, &page.keys).await?;
    Ok(Json(api::KeyList {
        items,
        next_cursor: page.next_cursor.map(|c| encode_cursor(query.sort, c)),
        total: page.total,
    }))
}

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/keys", tag = "keys",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key and body creates nothing new: the first key is answered (200, `secret: null`)"),
    ),
    request_body = api::CreateKey,
    responses(
        (status = 201, description = "Created; the secret is shown this once", body = api::KeyWithSecret),
        (status = 200, description = "Idempotent replay: the key created earlier, without its secret", body = api::KeyWithSecret),
        (status = 400, description = "Malformed JSON or header", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not create keys here (the reason says why)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "API_KEYS_DISABLED or KEY_LIMIT_REACHED", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, description, scopes, owner or expiry (VALIDATION_FAILED, also an owner who is not a user of this tenant; OWNER_NOT_DEVELOPER; UNKNOWN_SCOPE, EXPIRY_REQUIRED, EXPIRY_TOO_LONG, IDEMPOTENCY_KEY_REUSED)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    ApiJson(body): ApiJson<api::CreateKey>,
) -> ApiResult<Response> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let name = KeyName::parse(&body.name)?;
    let description = Description::parse(&body.description)?;
    let scopes = parse_scopes(&body.scopes)?;
    // Whether they may own keys here is decided with the write
    // (`ApiKey::create` asks `policy::may_own_key`), after whether the caller
    // may create keys at all.
    let owner = match &body.owner {
        None => caller.user.clone(),
        Some(id) => state
            .store
            .get_user(&UserId::from_trusted(id.clone()))
            .await?
            .ok_or_else(|| policy::unknown_owner(id))?,
    };
    policy::may_create_key(&caller.user, &tenant.settings, &owner.id)?;
    let request = NewKey {
        name,
        description,
        scopes,
        owner: crate::domain::UserRef {
            id: owner.id.clone(),
            name: owner.name.as_str().to_owned(),
        },
        expires_at: body.expires_at,
    };
    let idempotency = idempotency_key.map(|key| Idempotency {
        user_id: caller.user.id.clone(),
        key,
        request_hash: hex::encode(Sha256::digest(
            serde_json::to_vec(&body).unwrap_or_default(),
        )),
    });
    let (keyring, origin, actor) = (state.keyring.clone(), caller.origin(), caller.user.clone());
    let now = super::now();
    let creation: crate::store::KeyCreation = Box::new(move |facts| {
        // Checked again against the settings inside the transaction.
        policy::may_create_key(&actor, &facts.tenant.settings, &request.owner.id)?;
        let (key, secret) = ApiKey::create(&facts, request, origin.actor.clone(), &keyring, now)?;
        let event = origin.event(
            now,
            Some(key.tenant_id.clone()),
            EventAction::KeyCreated,
            (key.id.as_str(), key.name.as_str()),
            json!({
                "name": key.name.as_str(),
                "owner": key.owner.id.as_str(),
                "scopes": key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "expires_at": key.expires_at,
            }),
        );
        Ok((key, secret, event))
    });
    let (store, cache, tenant_id, owner_id) = (
        state.store.clone(),
        state.cache.clone(),
        tenant.id.clone(),
        owner.id.clone(),
    );
    let created = state
        .to_completion(async move {
            let created = store
                .create_key(&tenant_id, &owner_id, idempotency, creation)
                .await?;
            if let Created::New(key, _) = &created {
                cache.forget_key(key);
            }
            Ok(created)
        })
        .await?;
    match created {
        Created::New(key, secret) => {
            let body = with_secret(key_body(&state, &key).await?, Some(&secret));
            let location = format!("/v1/tenants/{}/keys/{}", key.tenant_id, key.id);
            let mut response =
                (StatusCode::CREATED, etag_header(key.version), Json(body)).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            Ok(response)
        }
        Created::Replayed(key) => {
            let body = with_secret(key_body(&state, &key).await?, None);
            let mut response =
                (StatusCode::OK, etag_header(key.version), Json(body)).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(response)
        }
    }
}

#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/keys/{id}", tag = "keys",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Key id")),
    responses(
        (status = 200, description = "The key; its ETag in the header", body = api::Key),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller holds no role in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let key = state
        .store
        .get_key(&tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("key"))?;
    let body = key_body(&state, &key).await?;
    Ok((etag_header(key.version), Json(body)).into_response())
}

/// A change to one key, decided inside the write transaction.
enum KeyOp {
    /// An edit, and the new owner it names, if any: the store reads them in
    /// the transaction and the edit receives them as `KeyEdit::owner`.
    Edit(Box<KeyEdit>, Option<UserId>),
    Disable,
    Enable,
    Revoke,
    /// With the grace the replaced secret keeps verifying (zero: none).
    Regenerate(chrono::Duration),
    EndRotation,
    Delete,
    Reveal,
}

impl KeyOp {
    fn action(&self) -> KeyAction {
        match self {
            KeyOp::Edit(..) => KeyAction::Edit,
            KeyOp::Disable => KeyAction::Disable,
            KeyOp::Enable => KeyAction::Enable,
            KeyOp::Revoke => KeyAction::Revoke,
            KeyOp::Regenerate(_) => KeyAction::Regenerate,
            KeyOp::EndRotation => KeyAction::EndRotation,
            KeyOp::Delete => KeyAction::Delete,
            KeyOp::Reveal => KeyAction::Reveal,
        }
    }
}

pub(super) fn status_change(from: KeyStatus, to: KeyStatus) -> serde_json::Value {
    json!({ "status": { "from": from, "to": to } })
}

/// Applies `op` to key `id`: If-Match, permission and status machine are all
/// checked in the transaction that writes the change and its event.
async fn change_key(
    state: &AppState,
    caller: &Caller,
    tenant: &str,
    id: &str,
    if_match: IfMatch,
    op: KeyOp,
) -> ApiResult<KeyCommitted> {
    let tenant = visible_tenant(state, caller, tenant).await?;
    let (keyring, origin, actor) = (state.keyring.clone(), caller.origin(), caller.user.clone());
    let now: DateTime<Utc> = super::now();
    // Every change but a reveal drops the key from the verification cache,
    // so the next verification reads its new status, expiry, owner, scopes.
    let forgets = !matches!(op, KeyOp::Reveal);
    let new_owner = match &op {
        KeyOp::Edit(_, owner) => owner.clone(),
        _ => None,
    };
    let mutation: crate::store::KeyMutation = Box::new(move |mut key, facts| {
        let KeyFacts {
            tenant,
            owner: owner_facts,
        } = facts;
        if_match.check(&key.etag())?;
        policy::may_act_on_key(&actor, op.action(), &tenant.settings, &key.owner.id)?;
        let settings = &tenant.settings;
        let before = key.status(now);
        let who = origin.actor.clone();
        let mut secret = None;
        let (action, changes) = match op {
            KeyOp::Edit(mut edit, owner) => {
                if let Some(owner) = owner {
                    if owner != key.owner.id {
                        policy::may_change_owner(&actor)?;
                    }
                    edit.owner =
                        Some(owner_facts.ok_or_else(|| policy::unknown_owner(owner.as_str()))?);
                }
                if edit.rate_limit.is_some_and(|limit| limit != key.rate_limit) {
                    policy::may_change_rate_limit(&actor)?;
                }
                let old = key.clone();
                let changed = key.edit(*edit, settings, who, now)?;
                let mut changes = serde_json::Map::new();
                for field in &changed {
                    let (from, to) = match *field {
                        "name" => (json!(old.name), json!(key.name)),
                        "description" => (json!(old.description), json!(key.description)),
                        "owner" => (json!(old.owner.id), json!(key.owner.id)),
                        "expires_at" => (json!(old.expires_at), json!(key.expires_at)),
                        "rate_limit" => (json!(old.rate_limit), json!(key.rate_limit)),
                        _ => (json!(old.scopes), json!(key.scopes)),
                    };
                    changes.insert((*field).to_owned(), json!({ "from": from, "to": to }));
                }
                if changed.is_empty() {
                    return Ok(KeyWrite {
                        key: Some(key),
                        events: Vec::new(),
                        secret: None,
                    });
                }
                (EventAction::KeyUpdated, serde_json::Value::Object(changes))
            }
            KeyOp::Disable => {
                key.disable(settings, who, now)?;
                (
                    EventAction::KeyDisabled,
                    status_change(before, key.status(now)),
                )
            }
            KeyOp::Enable => {
                key.enable(settings, who, now)?;
                (
                    EventAction::KeyEnabled,
                    status_change(before, key.status(now)),
                )
            }
            KeyOp::Revoke => {
                key.revoke(settings, who, now)?;
                (
                    EventAction::KeyRevoked,
                    status_change(before, key.status(now)),
                )
            }
            KeyOp::Regenerate(grace) => {
                let old_start = key.start.clone();
                secret = Some(key.rotate(settings, &keyring, who, now, grace)?);
                (
                    EventAction::KeyRegenerated,
                    json!({
                        "start": { "from": old_start, "to": key.start },
                        "grace_seconds": grace.num_seconds(),
                        "rotating_until": key.rotating_until(now),
                    }),
                )
            }
            KeyOp::EndRotation => {
                let until = key.end_rotation(settings, who, now)?;
                (
                    EventAction::KeyRotationEnded,
                    json!({ "rotating_until": { "from": until, "to": null } }),
                )
            }
            KeyOp::Delete => {
                let event = origin.event(
                    now,
                    Some(key.tenant_id.clone()),
                    EventAction::KeyDeleted,
                    (key.id.as_str(), key.name.as_str()),
                    json!({ "status": before, "owner": key.owner.id.as_str() }),
                );
                return Ok(KeyWrite {
                    key: None,
                    events: vec![event],
                    secret: None,
                });
            }
            KeyOp::Reveal => {
                secret = Some(key.reveal(settings, &keyring, now)?);
                (EventAction::KeySecretRevealed, json!({}))
            }
        };
        let event = origin.event(
            now,
            Some(key.tenant_id.clone()),
            action,
            (key.id.as_str(), key.name.as_str()),
            changes,
        );
        Ok(KeyWrite {
            key: Some(key),
            events: vec![event],
            secret,
        })
    });
    let (store, cache) = (state.store.clone(), state.cache.clone());
    let (tenant_id, id) = (tenant.id.clone(), id.to_owned());
    state
        .to_completion(async move {
            let committed = store
                .update_key(&tenant_id, &id, new_owner.as_ref(), mutation)
                .await?;
            if forgets {
                cache.forget_key(&committed.key);
            }
            Ok(committed)
        })
        .await
}

async fn key_response(state: &AppState, committed: &KeyCommitted) -> ApiResult<Response> {
    let body = key_body(state, &committed.key).await?;
    Ok((etag_header(committed.key.version), Json(body)).into_response())
}

#[utoipa::path(
    patch, path = "/v1/tenants/{tenant}/keys/{id}", tag = "keys",
    params(
        ("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Key id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last read; a stale one is refused with 412 and nothing changes"),
    ),
    request_body = api::UpdateKey,
    responses(
        (status = 200, description = "The key after the edit; a key.updated event records each change (from, to)", body = api::Key),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not edit this key, or may not change its owner or rate limit (only tenant and system admins may)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "KEY_REVOKED, SCOPES_FIXED, or KEY_LIMIT_REACHED (the new owner has max_keys_per_user live keys)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: VALIDATION_FAILED (also an owner who is not a user of this tenant, or an expiry in the past), UNKNOWN_SCOPE, OWNER_NOT_DEVELOPER, EXPIRY_REQUIRED (null with max_expiry_days set), EXPIRY_TOO_LONG; a rate_limit out of bounds", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<api::UpdateKey>,
) -> ApiResult<Response> {
    let edit = KeyEdit {
        name: body.name.as_deref().map(KeyName::parse).transpose()?,
        description: body
            .description
            .as_deref()
            .map(Description::parse)
            .transpose()?,
        scopes: body.scopes.as_deref().map(parse_scopes).transpose()?,
        owner: None,
        expires_at: body.expires_at,
        rate_limit: body.rate_limit,
    };
    let owner = body.owner.map(UserId::from_trusted);
    let committed = change_key(
        &state,
        &caller,
        &tenant,
        &id,
        if_match,
        KeyOp::Edit(Box::new(edit), owner),
    )
    .await?;
    key_response(&state, &committed).await
}

#[utoipa::path(
    delete, path = "/v1/tenants/{tenant}/keys/{id}", tag = "keys",
    params(
        ("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Key id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last read"),
    ),
    responses(
        (status = 204, description = "Deleted for good; its audit events remain"),
        (status = 403, description = "The caller may not delete this key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    change_key(&state, &caller, &tenant, &id, if_match, KeyOp::Delete).await?;
    Ok(StatusCode::NO_CONTENT)
}

macro_rules! lifecycle_route {
    ($name:ident, $path:literal, $op:expr, $what:literal, $conflicts:literal) => {
        #[utoipa::path(
            post, path = $path, tag = "keys",
            params(
                ("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Key id"),
                ("If-Match" = Option<String>, Header, description = "The ETag last read"),
            ),
            responses(
                (status = 200, description = $what, body = api::Key),
                (status = 400, description = "An If-Match header that is not valid text", body = Problem, content_type = "application/problem+json"),
                (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
                (status = 403, description = "The caller may not do this to this key", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = $conflicts, body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = []))
        )]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            ApiPath((tenant, id)): ApiPath<(String, String)>,
            if_match: IfMatch,
        ) -> ApiResult<Response> {
            let committed = change_key(&state, &caller, &tenant, &id, if_match, $op).await?;
            key_response(&state, &committed).await
        }
    };
}

lifecycle_route!(
    disable_key,
    "/v1/tenants/{tenant}/keys/{id}/disable",
    KeyOp::Disable,
    "Disabled: it stops verifying until enabled",
    "KEY_REVOKED, KEY_EXPIRED or KEY_ALREADY_DISABLED"
);
lifecycle_route!(
    enable_key,
    "/v1/tenants/{tenant}/keys/{id}/enable",
    KeyOp::Enable,
    "Active again",
    "KEY_REVOKED, KEY_EXPIRED or KEY_ALREADY_ACTIVE"
);
lifecycle_route!(
    revoke_key,
    "/v1/tenants/{tenant}/keys/{id}/revoke",
    KeyOp::Revoke,
    "Revoked for good: the very next verification answers REVOKED, also for the previous secret of a rotating key (until its grace would have ended; NOT_FOUND after)",
    "KEY_REVOKED or REVOKE_REQUIRES_DISABLED"
);
lifecycle_route!(
    end_rotation,
    "/v1/tenants/{tenant}/keys/{id}/end-rotation",
    KeyOp::EndRotation,
    "The rotation's grace ended now: the previous secret verifies as NOT_FOUND from the very next verification; a key.rotation_ended event records when it would have ended",
    "KEY_NOT_ROTATING (no previous secret still verifies) or KEY_REVOKED"
);

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/keys/{id}/regenerate", tag = "keys",
    params(
        ("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Key id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last read"),
    ),
    request_body(
        content = Option<api::RegenerateKey>,
        description = "Optional: `grace_seconds` (0 to 604800) during which the replaced secret keeps verifying. Without a body, or with 0, it stops at once",
    ),
    responses(
        (status = 200, description = "A new secret, shown once. Without a grace the old one stopped verifying; with one, both verify until the key's `rotating_until`, after which the old one is NOT_FOUND. Regenerating during a grace ends the earlier grace at once: only the secret just replaced gets the new one. A key.regenerated event records `grace_seconds` and `rotating_until`", body = api::KeyWithSecret),
        (status = 400, description = "Malformed JSON, or an If-Match header that is not valid text", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only the owner, a developer who may create keys in this tenant (licensed, and key_creators allowing it), may regenerate", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "KEY_REVOKED or KEY_EXPIRED", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body without a JSON content type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "grace_seconds out of range, or an unknown field (VALIDATION_FAILED)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn regenerate_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
    if_match: IfMatch,
    OptionalJson(body): OptionalJson<api::RegenerateKey>,
) -> ApiResult<Response> {
    let grace = crate::domain::grace_period(body.grace_seconds)?;
    let op = KeyOp::Regenerate(grace);
    let committed = change_key(&state, &caller, &tenant, &id, if_match, op).await?;
    let body = with_secret(
        key_body(&state, &committed.key).await?,
        committed.secret.as_ref(),
    );
    Ok((etag_header(committed.key.version), Json(body)).into_response())
}

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/keys/{id}/reveal", tag = "keys",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Key id")),
    responses(
        (status = 200, description = "The stored secret; a key.secret_revealed event was written", body = api::RevealedSecret),
        (status = 403, description = "Only tenant admins may reveal", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SECRET_NOT_RETRIEVABLE, SECRET_NOT_STORED or KEY_REVOKED", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn reveal_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<api::RevealedSecret>> {
    let committed = change_key(&state, &caller, &tenant, &id, IfMatch(None), KeyOp::Reveal).await?;
    let secret = committed
        .secret
        .ok_or_else(|| ApiError::internal("reveal produced no secret"))?;
    Ok(Json(api::RevealedSecret {
        id: committed.key.id.as_str().to_owned(),
        secret: secret.expose().to_owned(),
    }))
}

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/keys/{id}/duplicate", tag = "keys",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Key id of the source")),
    request_body(
        content = Option<api::DuplicateKey>,
        description = "Optional: a name and description for the copy. Without a body, the copy is named after the source, suffixed with \" (copy)\"",
    ),
    responses(
        (status = 201, description = "A new key with the source's presets and a new secret, shown once", body = api::KeyWithSecret),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not create keys (the rules of creation apply), or not from this one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "KEY_REVOKED, API_KEYS_DISABLED or KEY_LIMIT_REACHED", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body without a JSON content type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid name or description (VALIDATION_FAILED), or the copied expiry exceeds the tenant's maximum (EXPIRY_REQUIRED, EXPIRY_TOO_LONG)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn duplicate_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
    OptionalJson(body): OptionalJson<api::DuplicateKey>,
) -> ApiResult<Response> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let copy = KeyCopy {
        name: body.name.as_deref().map(KeyName::parse).transpose()?,
        description: body
            .description
            .as_deref()
            .map(Description::parse)
            .transpose()?,
    };
    let source = state
        .store
        .get_key(&tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("key"))?;
    policy::may_act_on_key(
        &caller.user,
        KeyAction::Duplicate,
        &tenant.settings,
        &source.owner.id,
    )?;
    let (keyring, origin, actor) = (state.keyring.clone(), caller.origin(), caller.user.clone());
    let now = super::now();
    let creation: crate::store::KeyCreation = Box::new(move |facts| {
        policy::may_act_on_key(
            &actor,
            KeyAction::Duplicate,
            &facts.tenant.settings,
            &source.owner.id,
        )?;
        let (key, secret) = source.duplicate(copy, &facts, origin.actor.clone(), &keyring, now)?;
        let event = origin.event(
            now,
            Some(key.tenant_id.clone()),
            EventAction::KeyDuplicated,
            (key.id.as_str(), key.name.as_str()),
            json!({ "source": source.id.as_str() }),
        );
        Ok((key, secret, event))
    });
    let (store, cache, tenant_id, owner_id) = (
        state.store.clone(),
        state.cache.clone(),
        tenant.id.clone(),
        caller.user.id.clone(),
    );
    let created = state
        .to_completion(async move {
            let created = store
                .create_key(&tenant_id, &owner_id, None, creation)
                .await?;
            if let Created::New(key, _) = &created {
                cache.forget_key(key);
            }
            Ok(created)
        })
        .await?;
    let Created::New(key, secret) = created else {
        return Err(
            Refusal::conflict("UNEXPECTED_REPLAY", "duplicate was answered as a replay").into(),
        );
    };
    let body = with_secret(key_body(&state, &key).await?, Some(&secret));
    Ok((StatusCode::CREATED, etag_header(key.version), Json(body)).into_response())
}
