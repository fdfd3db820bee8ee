//! `/v1/me` and `/v1/tenants/{tenant}/users`: who is calling, and the users
//! of a tenant, their roles, licenses and management tokens.

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
        (status = 200, description = "The caller and the tenants they see", body = api::Me),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<api::Me>> {
    let tenants = state
        .store
        .list_tenants()
        .await?
        .iter()
        .filter(|t| caller.user.can_see(&t.id))
        .map(api::TenantBody::from_domain)
        .collect();
    Ok(Json(api::Me {
        user: api::UserBody::from_domain(&caller.user),
        tenants,
    }))
}

#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/users", tag = "users",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The tenant's users", body = api::UserList),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> ApiResult<Json<api::UserList>> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let users = state.store.list_users(&tenant.id).await?;
    Ok(Json(api::UserList {
        items: users.iter().map(api::UserBody::from_domain).collect(),
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
    };
    let token = generate_token();
    let event = caller.origin().event(
        now,
        Some(tenant.id.clone()),
        EventAction::UserCreated,
        (user.id.as_str(), user.name.as_str()),
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
                    origin.event(
                        now,
                        user.tenant_id.clone(),
                        EventAction::UserUpdated,
                        (user.id.as_str(), user.name.as_str()),
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
        (status = 200, description = "A new management token, shown once; the old one stopped working", body = api::UserWithToken),
        (status = 403, description = "Only the user themself or a tenant admin may rotate a token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<api::UserWithToken>> {
    let target = tenant_user(&state, &caller, &tenant, &id).await?;
    if target.id != caller.user.id {
        policy::may_manage_users(&caller.user, &[])?;
    }
    issue_token(&state, &caller, target).await
}

#[utoipa::path(
    post, path = "/v1/me/token", tag = "users",
    responses(
        (status = 200, description = "A new management token for the caller, shown once; the one used for this request stopped working", body = api::UserWithToken),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn rotate_own_token(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<api::UserWithToken>> {
    // Also the way a system administrator, who belongs to no tenant, rotates
    // the token printed (or set) at bootstrap.
    let me = caller.user.clone();
    issue_token(&state, &caller, me).await
}

/// Gives `target` a new management token (the old one stops working) and
/// records the rotation; the token is in the answer and nowhere else.
async fn issue_token(
    state: &AppState,
    caller: &Caller,
    target: User,
) -> ApiResult<Json<api::UserWithToken>> {
    let token = generate_token();
    let event = caller.origin().event(
        super::now(),
        target.tenant_id.clone(),
        EventAction::UserTokenRotated,
        (target.id.as_str(), target.name.as_str()),
        json!({}),
    );
    state
        .store
        .set_user_token(
            &target.id,
            &state.keyring.token_digest(token.expose()),
            &event,
        )
        .await?;
    Ok(Json(api::UserWithToken {
        user: api::UserBody::from_domain(&target),
        token: token.expose().to_owned(),
    }))
}
