//! `/v1/me` and `/v1/tenants/{tenant}/users`: who is calling, and the users
//! of a tenant, their roles, licenses and management tokens; disabling,
//! enabling and deleting them. Nobody but a user receives a working token
//! for them (`policy::may_obtain_token`); an e-mail address is shown only to
//! whom `policy::may_see_email` allows.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, Caller};
use super::{AppState, visible_tenant};
use crate::api::{self, Problem};
use crate::domain::secret::generate_token;
use crate::domain::{Email, EventAction, PersonName, Role, Roles, User, UserId, policy};

#[utoipa::path(
    get, path = "/v1/me", tag = "users",
    responses(
        (status = 200, description = "The caller and the tenants they see (none while they hold no role)", body = api::Me),
        (status = 401, description = "No or an invalid management token (UNAUTHENTICATED), or a disabled user (USER_DISABLED)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<api::Me>> {
    let tenants = state
        .store
        .list_tenants()
        .await?
        .iter()
        .filter(|t| policy::lists_tenant(&caller.user, &t.id))
        .map(api::TenantBody::from_domain)
        .collect();
    Ok(Json(api::Me {
        user: api::UserBody::from_domain(&caller.user),
        tenants,
    }))
}

/// Query parameters of the user list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/users", tag = "users",
    params(("tenant" = String, Path, description = "Tenant id"), UserListParams),
    responses(
        (status = 200, description = "The tenant's users (not the deleted ones); e-mail addresses only for tenant and system admins, and each user's own", body = api::UserList),
        (status = 422, description = "VALIDATION_FAILED: a limit outside 1–1000, or a cursor not of this list", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller holds no role in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    super::extract::ApiQuery(params): super::extract::ApiQuery<UserListParams>,
) -> ApiResult<Json<api::UserList>> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit: must be between 1 and 1000"));
    }
    let after = match params.cursor.as_deref() {
        None => None,
        Some(cursor)
            if cursor.starts_with("usr_")
                && cursor.len() <= 64
                && cursor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Some(crate::domain::UserId::from_trusted(cursor.to_owned()))
        }
        Some(_) => return Err(ApiError::invalid("cursor: not a cursor of this list")),
    };
    let mut users = state
        .store
        .list_users(&tenant.id, after.as_ref(), limit + 1)
        .await?;
    let next_cursor = (users.len() > limit as usize).then(|| {
        users.truncate(limit as usize);
        users.last().map(|u| u.id.as_str().to_owned())
    });
    Ok(Json(api::UserList {
        items: users
            .iter()
            .map(|user| api::UserBody::seen_by(user, &caller.user))
            .collect(),
        next_cursor: next_cursor.flatten(),
    }))
}

fn refuse_system_admin_in_tenant(roles: &[Role]) -> ApiResult<()> {
    if roles.contains(&Role::SystemAdmin) {
        return Err(ApiError::invalid(
            "roles: system_admin belongs to no tenant and cannot be granted to a tenant's user",
        ));
    }
    Ok(())
}

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/users", tag = "users",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = api::CreateUser,
    responses(
        (status = 201, description = "Created; the management token is shown this once", body = api::UserWithToken),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only tenant admins manage users", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "USER_NAME_TAKEN: another user of the tenant has a name like it (case, width and look-alike letters folded), or it looks like a system administrator's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, email or roles", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(body): ApiJson<api::CreateUser>,
) -> ApiResult<(StatusCode, Json<api::UserWithToken>)> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    policy::may_manage_users(&caller.user, &body.roles)?;
    refuse_system_admin_in_tenant(&body.roles)?;
    let now = super::now();
    let user = User {
        id: UserId::generate(),
        name: PersonName::parse(&body.name)?,
        email: Email::parse(&body.email)?,
        tenant_id: Some(tenant.id.clone()),
        roles: Roles::new(body.roles.iter().copied()),
        licensed: body.licensed,
        created_at: now,
        disabled: false,
        has_token: true,
    };
    let token = generate_token();
    let event = caller.origin().about_user(
        now,
        EventAction::UserCreated,
        &user,
        json!({ "roles": user.roles, "licensed": user.licensed, "email": user.email }),
    );
    state
        .store
        .create_user(&user, &state.keyring.token_digest(token.expose()), &event)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(api::UserWithToken {
            user: api::UserBody::from_domain(&user),
            token: token.expose().to_owned(),
        }),
    ))
}

/// Loads a user of `tenant` for the caller, or 404.
async fn tenant_user(state: &AppState, caller: &Caller, tenant: &str, id: &str) -> ApiResult<User> {
    let tenant = visible_tenant(state, caller, tenant).await?;
    state
        .store
        .get_user(&UserId::from_trusted(id.to_owned()))
        .await?
        .filter(|u| u.tenant_id.as_ref() == Some(&tenant.id))
        .ok_or_else(|| ApiError::not_found("user"))
}

#[utoipa::path(
    patch, path = "/v1/tenants/{tenant}/users/{id}", tag = "users",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "User id")),
    request_body = api::UpdateUser,
    responses(
        (status = 200, description = "The user after the change", body = api::UserBody),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only tenant admins grant roles and licenses", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "USER_NAME_TAKEN: the new name is like another user's of the tenant, or a system administrator's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<api::UpdateUser>,
) -> ApiResult<Json<api::UserBody>> {
    let target = tenant_user(&state, &caller, &tenant, &id).await?;
    let granting = body.roles.clone().unwrap_or_default();
    policy::may_manage_users(&caller.user, &granting)?;
    refuse_system_admin_in_tenant(&granting)?;
    let name = body.name.as_deref().map(PersonName::parse).transpose()?;
    let email = body.email.as_deref().map(Email::parse).transpose()?;
    let origin = caller.origin();
    let now = super::now();
    let updated = state
        .store
        .update_user(
            &target.id,
            Box::new(move |mut user| {
                let before = api::UserBody::from_domain(&user);
                if let Some(name) = name {
                    user.name = name;
                }
                if let Some(email) = email {
                    user.email = email;
                }
                if let Some(roles) = body.roles {
                    user.roles = Roles::new(roles);
                }
                if let Some(licensed) = body.licensed {
                    user.licensed = licensed;
                }
                let after = api::UserBody::from_domain(&user);
                let (b, a) = (json!(before), json!(after));
                let changes: serde_json::Map<_, _> = ["name", "email", "roles", "licensed"]
                    .into_iter()
                    .filter(|f| b[*f] != a[*f])
                    .map(|f| (f.to_owned(), json!({ "from": b[f], "to": a[f] })))
                    .collect();
                let event = (!changes.is_empty()).then(|| {
                    origin.about_user(
                        now,
                        EventAction::UserUpdated,
                        &user,
                        serde_json::Value::Object(changes),
                    )
                });
                Ok((user, event))
            }),
        )
        .await?;
    Ok(Json(api::UserBody::from_domain(&updated)))
}

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/users/{id}/token", tag = "users",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "A new management token, shown once. For the caller themself: their old token stopped working (user.token_rotated). For an admin: only for a user who holds no token (user.token_issued), to hand over as at creation", body = api::UserWithToken),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the user themself nor a tenant admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "USER_HAS_TOKEN: the user holds a working token, which only they may replace; revoke it first", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn issue_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<api::UserWithToken>> {
    let target = tenant_user(&state, &caller, &tenant, &id).await?;
    policy::may_obtain_token(&caller.user, &target)?;
    new_token(&state, &caller, &target.id).await
}

#[utoipa::path(
    delete, path = "/v1/tenants/{tenant}/users/{id}/token", tag = "users",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "The user's management token stopped working; they hold none until they are issued one (user.token_revoked)"),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the user themself nor a tenant admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let target = tenant_user(&state, &caller, &tenant, &id).await?;
    policy::may_revoke_token(&caller.user, &target)?;
    let (actor, origin) = (caller.user.clone(), caller.origin());
    state
        .store
        .change_user_token(
            &target.id,
            Box::new(move |user| {
                policy::may_revoke_token(&actor, user)?;
                let event =
                    origin.about_user(super::now(), EventAction::UserTokenRevoked, user, json!({}));
                Ok((None, event))
            }),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/v1/me/token", tag = "users",
    responses(
        (status = 200, description = "A new management token for the caller, shown once; the one used for this request stopped working", body = api::UserWithToken),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn rotate_own_token(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<api::UserWithToken>> {
    // Also the way a system administrator, who belongs to no tenant, rotates
    // the token printed (or set) at bootstrap.
    new_token(&state, &caller, &caller.user.id).await
}

/// Gives user `id` a new management token (the old one, if any, stops
/// working), as [`policy::may_obtain_token`] decides on the user as the
/// transaction reads them, and records it as what it is: a rotation by the
/// user, or an issue by an admin. The token is in the answer and nowhere else.
async fn new_token(
    state: &AppState,
    caller: &Caller,
    id: &UserId,
) -> ApiResult<Json<api::UserWithToken>> {
    let token = generate_token();
    let digest = state.keyring.token_digest(token.expose());
    let (actor, origin) = (caller.user.clone(), caller.origin());
    let user = state
        .store
        .change_user_token(
            id,
            Box::new(move |user| {
                let action = match policy::may_obtain_token(&actor, user)? {
                    policy::TokenGrant::Rotated => EventAction::UserTokenRotated,
                    policy::TokenGrant::Issued => EventAction::UserTokenIssued,
                };
                let event = origin.about_user(super::now(), action, user, json!({}));
                Ok((Some(digest), event))
            }),
        )
        .await?;
    Ok(Json(api::UserWithToken {
        user: api::UserBody::from_domain(&user),
        token: token.expose().to_owned(),
    }))
}

/// Disables or enables `target` (`disabled`), as an admin may; no event
/// when nothing changes.
async fn set_disabled(
    state: &AppState,
    caller: &Caller,
    target: &User,
    disabled: bool,
) -> ApiResult<Json<api::UserBody>> {
    policy::may_disable_or_delete_user(&caller.user, target)?;
    let (actor, origin) = (caller.user.clone(), caller.origin());
    let updated = state
        .store
        .update_user(
            &target.id,
            Box::new(move |mut user| {
                policy::may_disable_or_delete_user(&actor, &user)?;
                if user.disabled == disabled {
                    return Ok((user, None));
                }
                user.disabled = disabled;
                let event = origin.about_user(
                    super::now(),
                    if disabled {
                        EventAction::UserDisabled
                    } else {
                        EventAction::UserEnabled
                    },
                    &user,
                    json!({ "disabled": { "from": !disabled, "to": disabled } }),
                );
                Ok((user, Some(event)))
            }),
        )
        .await?;
    Ok(Json(api::UserBody::seen_by(&updated, &caller.user)))
}

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/users/{id}/disable", tag = "users",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user, disabled: their management token is refused (401 USER_DISABLED) from the very next request, and their event streams end; their keys stay as they are. A user.disabled event, unless they already were", body = api::UserBody),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only tenant admins disable users, and never themselves", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<api::UserBody>> {
    let target = tenant_user(&state, &caller, &tenant, &id).await?;
    set_disabled(&state, &caller, &target, true).await
}

#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/users/{id}/enable", tag = "users",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user, enabled: their management token works again. A user.enabled event, unless they were not disabled", body = api::UserBody),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only tenant admins enable users", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn enable_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<api::UserBody>> {
    let target = tenant_user(&state, &caller, &tenant, &id).await?;
    set_disabled(&state, &caller, &target, false).await
}

#[utoipa::path(
    delete, path = "/v1/tenants/{tenant}/users/{id}", tag = "users",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted: gone from the user list, their token refused; the keys they own stay theirs (listed with their name) and every event stays. A user.deleted event"),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only tenant admins delete users, and never themselves", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let target = tenant_user(&state, &caller, &tenant, &id).await?;
    policy::may_disable_or_delete_user(&caller.user, &target)?;
    let (actor, origin) = (caller.user.clone(), caller.origin());
    state
        .store
        .delete_user(
            &target.id,
            Box::new(move |user| {
                policy::may_disable_or_delete_user(&actor, user)?;
                Ok(origin.about_user(
                    super::now(),
                    EventAction::UserDeleted,
                    user,
                    json!({ "roles": user.roles, "licensed": user.licensed }),
                ))
            }),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
