//! The permission matrix of SPEC §2, enforced by the server: every role
//! (and a user whose roles were all withdrawn, and a disabled user) against
//! every mutating endpoint, on its own keys and on others'; a refusal is a
//! 403 with the reason in `detail` (401 for a disabled user) and changes
//! nothing. Across tenants everything answers 404, so existence does not
//! leak. Nobody obtains a working token for another user; a key's owner is
//! always a developer of its tenant, however the key is made.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{NewKey, Reply, TestApp, TestUser, spawn_app};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Edit,
    Duplicate,
    Regenerate,
    Disable,
    Enable,
    Revoke,
    Delete,
    Reveal,
}

const ACTIONS: [Action; 8] = [
    Action::Edit,
    Action::Duplicate,
    Action::Regenerate,
    Action::Disable,
    Action::Enable,
    Action::Revoke,
    Action::Delete,
    Action::Reveal,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Viewer,
    Developer,
    UnlicensedDeveloper,
    TenantAdmin,
    TenantAdminDeveloper,
    SystemAdmin,
    /// A licensed developer whose every role was withdrawn.
    Roleless,
    /// A licensed developer, disabled by a tenant admin.
    Disabled,
}

const ROLES: [Role; 8] = [
    Role::Viewer,
    Role::Developer,
    Role::UnlicensedDeveloper,
    Role::TenantAdmin,
    Role::TenantAdminDeveloper,
    Role::SystemAdmin,
    Role::Roleless,
    Role::Disabled,
];

impl Role {
    /// How the server refuses this user: a disabled user's token no longer
    /// authenticates at all; anyone else is told why they may not.
    fn refusal(self) -> (u16, &'static str) {
        if self == Role::Disabled {
            (401, "USER_DISABLED")
        } else {
            (403, "FORBIDDEN")
        }
    }
}

/// SPEC §2's table: what `role` may do to a key it owns (`own`) or not.
fn may(role: Role, action: Action, own: bool) -> bool {
    use Action::*;
    match role {
        Role::Viewer | Role::Roleless | Role::Disabled => false,
        Role::Developer => own && action != Reveal,
        // Duplicating and regenerating make a secret, as creating does:
        // both need the license.
        Role::UnlicensedDeveloper => own && !matches!(action, Reveal | Duplicate | Regenerate),
        // Every key: edit, disable/enable, revoke, reveal; deleting needs the
        // developer role (seed 001), regenerating is the owner's, duplicating creates.
        Role::TenantAdmin => matches!(action, Edit | Disable | Enable | Revoke | Reveal),
        Role::TenantAdminDeveloper => action != Regenerate || own,
        Role::SystemAdmin => true,
    }
}

/// A tenant with one user per role, and `other`, a developer whose keys
/// are "someone else's" for everyone.
struct Team {
    tenant: String,
    viewer: TestUser,
    developer: TestUser,
    unlicensed: TestUser,
    admin: TestUser,
    admin_developer: TestUser,
    system: TestUser,
    other: TestUser,
    roleless: TestUser,
    disabled: TestUser,
}

impl Team {
    async fn new(app: &TestApp) -> Self {
        let tenant = "acme".to_owned();
        app.create_tenant(
            &tenant,
            json!({ "api_keys_enabled": true, "secret_retrieval": "admins" }),
        )
        .await;
        Self {
            viewer: app.create_user(&tenant, "Vera", &["viewer"], true).await,
            developer: app.create_user(&tenant, "Dev", &["developer"], true).await,
            unlicensed: app.create_user(&tenant, "Una", &["developer"], false).await,
            admin: app
                .create_user(&tenant, "Ada", &["tenant_admin"], true)
                .await,
            admin_developer: app
                .create_user(&tenant, "Max", &["tenant_admin", "developer"], true)
                .await,
            other: app.create_user(&tenant, "Otto", &["developer"], true).await,
            roleless: app.create_user(&tenant, "Noa", &[], true).await,
            disabled: app.create_user(&tenant, "Dora", &["developer"], true).await,
            system: TestUser {
                id: app.admin_id().await,
                name: "admin".to_owned(),
                token: app.admin.clone(),
            },
            tenant,
        }
    }

    fn user(&self, role: Role) -> &TestUser {
        match role {
            Role::Viewer => &self.viewer,
            Role::Developer => &self.developer,
            Role::UnlicensedDeveloper => &self.unlicensed,
            Role::TenantAdmin => &self.admin,
            Role::TenantAdminDeveloper => &self.admin_developer,
            Role::SystemAdmin => &self.system,
            Role::Roleless => &self.roleless,
            Role::Disabled => &self.disabled,
        }
    }

    /// Disables the disabled user (before that, they are a developer).
    async fn disable(&self, app: &TestApp) {
        let path = format!(
            "/v1/tenants/{}/users/{}/disable",
            self.tenant, self.disabled.id
        );
        let reply = app.post_empty(&path, &app.admin).await.expect(200);
        assert_eq!(reply.json["disabled"], true, "{}", reply.text);
    }

    /// A key owned by `owner`. Only developers of the tenant (and a system
    /// administrator, for themself) own keys; for anyone else the developer
    /// role is granted for the creation and withdrawn again: their key
    /// stays theirs, as keys do when roles change.
    async fn key_owned_by(&self, app: &TestApp, owner: &TestUser, name: &str) -> NewKey {
        let tenant = self.tenant.as_str();
        if owner.id == self.system.id {
            return app
                .create_key(tenant, &app.admin, json!({ "name": name }))
                .await;
        }
        let path = format!("/v1/tenants/{tenant}/users/{}", owner.id);
        let roles = app
            .get(&format!("/v1/tenants/{tenant}/users"), &app.admin)
            .await
            .expect(200)
            .json["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == owner.id.as_str())
            .unwrap()["roles"]
            .clone();
        let developer = roles.as_array().unwrap().iter().any(|r| r == "developer");
        if !developer {
            let mut granted = roles.as_array().unwrap().clone();
            granted.push(json!("developer"));
            app.patch(&path, &app.admin, json!({ "roles": granted }))
                .await
                .expect(200);
        }
        let key = app.key_for(tenant, &owner.id, name).await;
        if !developer {
            app.patch(&path, &app.admin, json!({ "roles": roles }))
                .await
                .expect(200);
        }
        key
    }
}

async fn attempt(app: &TestApp, tenant: &str, actor: &TestUser, action: Action, id: &str) -> Reply {
    let path = format!("/v1/tenants/{tenant}/keys/{id}");
    match action {
        Action::Edit => {
            app.patch(&path, &actor.token, json!({ "name": "renamed" }))
                .await
        }
        Action::Delete => app.delete(&path, &actor.token).await,
        Action::Duplicate => app.act(tenant, &actor.token, id, "duplicate").await,
        Action::Regenerate => app.act(tenant, &actor.token, id, "regenerate").await,
        Action::Disable => app.act(tenant, &actor.token, id, "disable").await,
        Action::Enable => app.act(tenant, &actor.token, id, "enable").await,
        Action::Revoke => app.act(tenant, &actor.token, id, "revoke").await,
        Action::Reveal => app.act(tenant, &actor.token, id, "reveal").await,
    }
}

/// Runs every key action as `role` on its own and on someone else's key;
/// returns every way the server disagreed with SPEC §2.
async fn key_actions_follow_the_matrix(role: Role) {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let actor = team.user(role);
    if role == Role::Disabled {
        team.disable(&app).await;
    }
    let (refused_status, refused_code) = role.refusal();
    let mut wrong = Vec::new();
    for own in [true, false] {
        for action in ACTIONS {
            let owner = if own { actor } else { &team.other };
            let key = team
                .key_owned_by(&app, owner, &format!("{action:?}-{own}"))
                .await;
            if action == Action::Enable {
                app.act(tenant, &app.admin, &key.id, "disable")
                    .await
                    .expect(200);
            }
            let before = app.get_key(tenant, &key.id).await.expect(200).json;
            let total = app.list_keys(tenant, "").await["total"].clone();
            let reply = attempt(&app, tenant, actor, action, &key.id).await;
            let case = format!(
                "{role:?} {action:?} on {} key",
                if own { "own" } else { "another's" }
            );
            if may(role, action, own) {
                let expected = match action {
                    Action::Duplicate => 201,
                    Action::Delete => 204,
                    _ => 200,
                };
                if reply.status != expected {
                    wrong.push(format!(
                        "{case}: expected {expected}, got {} {}",
                        reply.status, reply.text
                    ));
                    continue;
                }
                let after = app.get_key(tenant, &key.id).await;
                let took_effect = match action {
                    Action::Edit => after.json["name"] == "renamed",
                    Action::Disable => after.json["status"] == "disabled",
                    Action::Enable => after.json["status"] == "active",
                    Action::Revoke => app.verify(&key.secret).await == "REVOKED",
                    Action::Delete => after.status == 404,
                    Action::Regenerate => {
                        let fresh = reply.json["secret"].as_str().unwrap_or_default();
                        app.verify(fresh).await == "VALID"
                            && app.verify(&key.secret).await == "NOT_FOUND"
                    }
                    Action::Duplicate => app.list_keys(tenant, "").await["total"] != total,
                    Action::Reveal => reply.json["secret"] == key.secret.as_str(),
                };
                if !took_effect {
                    wrong.push(format!(
                        "{case}: answered {} but had no effect",
                        reply.status
                    ));
                }
            } else {
                if reply.status != refused_status
                    || reply.code() != refused_code
                    || reply.detail().len() < 10
                {
                    wrong.push(format!(
                        "{case}: expected {refused_status} {refused_code} with a reason, got {} {}",
                        reply.status, reply.text
                    ));
                    continue;
                }
                let after = app.get_key(tenant, &key.id).await.expect(200).json;
                if after != before || app.list_keys(tenant, "").await["total"] != total {
                    wrong.push(format!("{case}: refused, yet the key or the list changed"));
                }
                let expected_code = if action == Action::Enable {
                    "DISABLED"
                } else {
                    "VALID"
                };
                if app.verify(&key.secret).await != expected_code {
                    wrong.push(format!(
                        "{case}: refused, yet the secret no longer verifies as before"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the permission matrix was not followed:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn a_viewer_may_not_change_any_key() {
    key_actions_follow_the_matrix(Role::Viewer).await;
}

#[tokio::test]
async fn a_licensed_developer_manages_own_keys_only_and_never_reveals() {
    key_actions_follow_the_matrix(Role::Developer).await;
}

#[tokio::test]
async fn an_unlicensed_developer_manages_own_keys_but_may_not_duplicate_or_regenerate() {
    key_actions_follow_the_matrix(Role::UnlicensedDeveloper).await;
}

#[tokio::test]
async fn a_tenant_admin_edits_disables_revokes_and_reveals_every_key_but_may_not_delete() {
    key_actions_follow_the_matrix(Role::TenantAdmin).await;
}

#[tokio::test]
async fn a_tenant_admin_with_the_developer_role_may_also_delete_any_key() {
    key_actions_follow_the_matrix(Role::TenantAdminDeveloper).await;
}

#[tokio::test]
async fn a_system_admin_may_do_everything_to_every_key() {
    key_actions_follow_the_matrix(Role::SystemAdmin).await;
}

#[tokio::test]
async fn a_user_whose_roles_were_all_withdrawn_may_not_change_any_key_not_even_their_own() {
    key_actions_follow_the_matrix(Role::Roleless).await;
}

#[tokio::test]
async fn a_disabled_user_may_not_change_any_key() {
    key_actions_follow_the_matrix(Role::Disabled).await;
}

/// Creating keys, changing settings, managing users, creating tenants.
#[tokio::test]
async fn only_the_right_roles_create_keys_change_settings_manage_users_and_create_tenants() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    team.disable(&app).await;
    let tenant = team.tenant.as_str();
    let mut wrong = Vec::new();
    for (n, role) in ROLES.into_iter().enumerate() {
        let actor = team.user(role);
        let creates_keys = matches!(
            role,
            Role::Developer | Role::TenantAdminDeveloper | Role::SystemAdmin
        );
        let administers = matches!(
            role,
            Role::TenantAdmin | Role::TenantAdminDeveloper | Role::SystemAdmin
        );

        let keys = app.list_keys(tenant, "").await["total"].clone();
        let reply = app
            .try_create_key(tenant, &actor.token, json!({ "name": format!("own-{n}") }))
            .await;
        check(&mut wrong, role, "create key", &reply, creates_keys, 201);
        let created = app.list_keys(tenant, "").await["total"] != keys;
        if created != creates_keys {
            wrong.push(format!("{role:?} create key: created = {created}"));
        }

        let version = app.settings(tenant).await.json["version"].clone();
        let reply = app
            .patch_settings(
                tenant,
                &actor.token,
                json!({ "max_keys_per_user": 1000 + n }),
            )
            .await;
        check(&mut wrong, role, "patch settings", &reply, administers, 200);
        let changed = app.settings(tenant).await.json["version"] != version;
        if changed != administers {
            wrong.push(format!("{role:?} patch settings: changed = {changed}"));
        }

        let users = users_of(&app, tenant).await.len();
        let reply = app
            .post(
                &format!("/v1/tenants/{tenant}/users"),
                &actor.token,
                json!({ "name": format!("New {n}"), "email": format!("new{n}@example.com"), "roles": ["viewer"] }),
            )
            .await;
        check(&mut wrong, role, "create user", &reply, administers, 201);
        if (users_of(&app, tenant).await.len() != users) != administers {
            wrong.push(format!(
                "{role:?} create user: the user list says otherwise"
            ));
        }

        let path = format!("/v1/tenants/{tenant}/users/{}", team.other.id);
        let reply = app
            .patch(&path, &actor.token, json!({ "name": format!("Otto {n}") }))
            .await;
        check(&mut wrong, role, "patch user", &reply, administers, 200);
        let renamed = users_of(&app, tenant)
            .await
            .iter()
            .any(|u| u["name"] == format!("Otto {n}").as_str());
        if renamed != administers {
            wrong.push(format!("{role:?} patch user: renamed = {renamed}"));
        }

        let tenants = app.get("/v1/tenants", &app.admin).await.json["items"]
            .as_array()
            .unwrap()
            .len();
        let reply = app
            .post(
                "/v1/tenants",
                &actor.token,
                json!({ "id": format!("new-{n}"), "name": "New" }),
            )
            .await;
        let system = role == Role::SystemAdmin;
        check(&mut wrong, role, "create tenant", &reply, system, 201);
        let now = app.get("/v1/tenants", &app.admin).await.json["items"]
            .as_array()
            .unwrap()
            .len();
        if (now != tenants) != system {
            wrong.push(format!(
                "{role:?} create tenant: tenant count {tenants} -> {now}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "the permission matrix was not followed:\n{}",
        wrong.join("\n")
    );
}

fn check(
    wrong: &mut Vec<String>,
    role: Role,
    what: &str,
    reply: &Reply,
    allowed: bool,
    status: u16,
) {
    if allowed {
        if reply.status != status {
            wrong.push(format!(
                "{role:?} {what}: expected {status}, got {} {}",
                reply.status, reply.text
            ));
        }
    } else {
        let (refused, code) = role.refusal();
        if reply.status != refused || reply.code() != code || reply.detail().len() < 10 {
            wrong.push(format!(
                "{role:?} {what}: expected {refused} {code} with a reason, got {} {}",
                reply.status, reply.text
            ));
        }
    }
}

async fn users_of(app: &TestApp, tenant: &str) -> Vec<Value> {
    app.get(&format!("/v1/tenants/{tenant}/users"), &app.admin)
        .await
        .expect(200)
        .json["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_refused_key_creation_says_why() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let cases = [
        (&team.unlicensed, "license"),
        (&team.admin, "developer role"),
        (&team.viewer, "developer role"),
    ];
    for (user, reason) in cases {
        let reply = app
            .try_create_key(tenant, &user.token, json!({ "name": "x" }))
            .await
            .expect_problem(403, "FORBIDDEN");
        assert!(
            reply.detail().contains(reason),
            "{}: {}",
            user.name,
            reply.text
        );
    }
    let reply = app
        .act(
            tenant,
            &team.developer.token,
            &app.key_for(tenant, &team.other.id, "k").await.id,
            "disable",
        )
        .await
        .expect_problem(403, "FORBIDDEN");
    assert!(
        reply.detail().contains("only keys you own"),
        "{}",
        reply.text
    );
    assert_eq!(app.list_keys(tenant, "").await["total"], 1);
}

#[tokio::test]
async fn only_a_tenant_admin_creates_a_key_owned_by_someone_else() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let body = json!({ "name": "for-otto", "owner": team.other.id });
    app.try_create_key(tenant, &team.developer.token, body.clone())
        .await
        .expect_problem(403, "FORBIDDEN");
    assert_eq!(app.list_keys(tenant, "").await["total"], 0);
    let key = app
        .create_key(tenant, &team.admin_developer.token, body)
        .await;
    assert_eq!(key.key["owner"]["id"], team.other.id.as_str());
    assert_eq!(
        key.key["created_by"]["id"],
        team.admin_developer.id.as_str()
    );
}

#[tokio::test]
async fn a_key_is_owned_only_by_a_developer_of_its_tenant_however_it_is_made() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let creator = &team.admin_developer;
    // The system administrator belongs to no tenant: nobody hands them a
    // key. Viewers and tenant admins without the developer role own none:
    // the same rule as giving a key to a new owner.
    let cases = [
        (&team.system, 422, "VALIDATION_FAILED"),
        (&team.viewer, 422, "OWNER_NOT_DEVELOPER"),
        (&team.admin, 422, "OWNER_NOT_DEVELOPER"),
        (&team.roleless, 422, "OWNER_NOT_DEVELOPER"),
    ];
    for (owner, status, code) in cases {
        for actor in [creator, &team.system] {
            if actor.id == owner.id {
                continue;
            }
            let body = json!({ "name": "theirs", "owner": owner.id });
            app.try_create_key(tenant, &actor.token, body)
                .await
                .expect_problem(status, code);
        }
    }
    assert_eq!(app.list_keys(tenant, "").await["total"], 0);

    // Giving an existing key away follows the same rule.
    let key = app
        .create_key(tenant, &creator.token, json!({ "name": "mine" }))
        .await;
    let path = format!("/v1/tenants/{tenant}/keys/{}", key.id);
    for (owner, status, code) in cases {
        app.patch(&path, &creator.token, json!({ "owner": owner.id }))
            .await
            .expect_problem(status, code);
    }
    let after = app.get_key(tenant, &key.id).await.expect(200);
    assert_eq!(after.json["owner"]["id"], creator.id.as_str());

    // A system administrator makes keys for themself (seed 003), or for a
    // developer of the tenant.
    let own = app
        .create_key(tenant, &app.admin, json!({ "name": "root's" }))
        .await;
    assert_eq!(own.key["owner"]["id"], team.system.id.as_str());
    let given = app.key_for(tenant, &team.developer.id, "dev's").await;
    assert_eq!(given.key["owner"]["id"], team.developer.id.as_str());
    app.patch(&path, &app.admin, json!({ "owner": team.system.id }))
        .await
        .expect(200);
}

#[tokio::test]
async fn a_tenant_admin_grants_roles_and_licenses_also_to_themself_but_never_system_admin() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let admin = &team.admin;
    let path = format!("/v1/tenants/{tenant}/users/{}", admin.id);
    app.try_create_key(tenant, &admin.token, json!({ "name": "before" }))
        .await
        .expect_problem(403, "FORBIDDEN");

    let granted = app
        .patch(
            &path,
            &admin.token,
            json!({ "roles": ["tenant_admin", "developer"] }),
        )
        .await
        .expect(200);
    assert_eq!(granted.json["roles"], json!(["developer", "tenant_admin"]));
    app.create_key(tenant, &admin.token, json!({ "name": "after" }))
        .await;

    // Withdrawing the license takes effect on the next request.
    app.patch(
        &format!("/v1/tenants/{tenant}/users/{}", team.developer.id),
        &admin.token,
        json!({ "licensed": false }),
    )
    .await
    .expect(200);
    app.try_create_key(tenant, &team.developer.token, json!({ "name": "x" }))
        .await
        .expect_problem(403, "FORBIDDEN");

    app.patch(&path, &admin.token, json!({ "roles": ["system_admin"] }))
        .await
        .expect_problem(403, "FORBIDDEN");
    app.post(
        &format!("/v1/tenants/{tenant}/users"),
        &admin.token,
        json!({ "name": "Root", "email": "root@example.com", "roles": ["system_admin"] }),
    )
    .await
    .expect_problem(403, "FORBIDDEN");
    let me = app.get("/v1/me", &admin.token).await.expect(200);
    assert_eq!(
        me.json["user"]["roles"],
        json!(["developer", "tenant_admin"])
    );
}

/// The events of `tenant` with `action` about `target`, oldest first.
async fn events_about(app: &TestApp, tenant: &str, action: &str, target: &str) -> Vec<Value> {
    let mut events: Vec<Value> = app
        .events(tenant, &format!("action={action}"))
        .await
        .into_iter()
        .filter(|e| e["target_id"] == target)
        .collect();
    events.reverse();
    events
}

#[tokio::test]
async fn a_user_rotates_their_own_token_and_nobody_else_obtains_one_for_them() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let own = format!("/v1/tenants/{tenant}/users/{}/token", team.developer.id);
    let rotated = app
        .post_empty(&own, &team.developer.token)
        .await
        .expect(200);
    let fresh = rotated.json["token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, team.developer.token);
    app.get("/v1/me", &team.developer.token)
        .await
        .expect_problem(401, "UNAUTHENTICATED");
    app.get("/v1/me", &fresh).await.expect(200);
    let events = events_about(&app, tenant, "user.token_rotated", &team.developer.id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"]["id"], team.developer.id.as_str());

    // Nobody else, however strong, receives a working token of Otto's: a
    // tenant admin who did would act, and be logged, as Otto.
    let others = format!("/v1/tenants/{tenant}/users/{}/token", team.other.id);
    app.post_empty(&others, &fresh)
        .await
        .expect_problem(403, "FORBIDDEN");
    for admin in [&team.admin, &team.admin_developer, &team.system] {
        let reply = app
            .post_empty(&others, &admin.token)
            .await
            .expect_problem(409, "USER_HAS_TOKEN");
        assert!(reply.json.get("token").is_none(), "{}", reply.text);
        assert!(reply.detail().contains("revoke"), "{}", reply.text);
    }
    app.get("/v1/me", &team.other.token).await.expect(200);

    // A developer may not take another's token away; an admin may, and the
    // log says the admin did it.
    app.delete(&others, &fresh)
        .await
        .expect_problem(403, "FORBIDDEN");
    app.get("/v1/me", &team.other.token).await.expect(200);
    app.delete(&others, &team.admin.token).await.expect(204);
    app.get("/v1/me", &team.other.token)
        .await
        .expect_problem(401, "UNAUTHENTICATED");
    let revoked = events_about(&app, tenant, "user.token_revoked", &team.other.id).await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["actor"]["id"], team.admin.id.as_str());
    let listed = users_of(&app, tenant).await;
    let otto = listed
        .iter()
        .find(|u| u["id"] == team.other.id.as_str())
        .unwrap();
    assert_eq!(otto["has_token"], false, "{otto}");

    // A user without a token gets a first one from an admin, to hand over,
    // as at creation; recorded as issued by the admin, not as Otto's rotation.
    let issued = app.post_empty(&others, &team.admin.token).await.expect(200);
    let handed_over = issued.json["token"].as_str().unwrap().to_owned();
    assert_eq!(issued.json["user"]["has_token"], true, "{}", issued.text);
    let me = app.get("/v1/me", &handed_over).await.expect(200);
    assert_eq!(me.json["user"]["id"], team.other.id.as_str());
    let events = events_about(&app, tenant, "user.token_issued", &team.other.id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"]["id"], team.admin.id.as_str());
    assert!(
        events_about(&app, tenant, "user.token_rotated", &team.other.id)
            .await
            .is_empty()
    );
    // Once they hold it, only they replace it.
    app.post_empty(&others, &team.admin.token)
        .await
        .expect_problem(409, "USER_HAS_TOKEN");
    app.get("/v1/me", &handed_over).await.expect(200);
}

#[tokio::test]
async fn a_user_without_a_role_reads_nothing_and_a_disabled_user_nothing_at_all() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let key = app.key_for(tenant, &team.other.id, "k").await;
    let reads = [
        format!("/v1/tenants/{tenant}/keys"),
        format!("/v1/tenants/{tenant}/keys/{}", key.id),
        format!("/v1/tenants/{tenant}/keys/{}/usage", key.id),
        format!("/v1/tenants/{tenant}/events"),
        format!("/v1/tenants/{tenant}/events/stream"),
        format!("/v1/tenants/{tenant}/users"),
        format!("/v1/tenants/{tenant}/settings"),
    ];
    // Status and code of each read; a granted event stream never ends, so
    // only its status is read.
    let reads_all = |token: String| {
        let app = &app;
        let reads = &reads;
        async move {
            let mut statuses = Vec::new();
            for path in reads {
                let response = app
                    .request(Method::GET, path, Some(&token))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let code = if status == 200 {
                    String::new()
                } else {
                    crate::helpers::Reply::read(response)
                        .await
                        .code()
                        .to_owned()
                };
                statuses.push((path.clone(), status, code));
            }
            statuses
        }
    };
    for (path, status, _) in reads_all(team.viewer.token.clone()).await {
        assert_eq!(status, 200, "a viewer reads {path}");
    }
    for (path, status, code) in reads_all(team.roleless.token.clone()).await {
        assert_eq!(
            (status, code.as_str()),
            (403, "FORBIDDEN"),
            "no role, {path}"
        );
    }
    // They still learn who they are, and that they see no tenant.
    let me = app.get("/v1/me", &team.roleless.token).await.expect(200);
    assert_eq!(me.json["user"]["roles"], json!([]));
    assert_eq!(me.json["tenants"], json!([]));
    let tenants = app
        .get("/v1/tenants", &team.roleless.token)
        .await
        .expect(200);
    assert_eq!(tenants.json["items"], json!([]));

    team.disable(&app).await;
    for (path, status, code) in reads_all(team.disabled.token.clone()).await {
        assert_eq!(
            (status, code.as_str()),
            (401, "USER_DISABLED"),
            "disabled, {path}"
        );
    }
    app.get("/v1/me", &team.disabled.token)
        .await
        .expect_problem(401, "USER_DISABLED");

    // A role granted again reads again, at once.
    app.patch(
        &format!("/v1/tenants/{tenant}/users/{}", team.roleless.id),
        &team.admin.token,
        json!({ "roles": ["viewer"] }),
    )
    .await
    .expect(200);
    for (path, status, _) in reads_all(team.roleless.token.clone()).await {
        assert_eq!(status, 200, "viewer again, {path}");
    }
}

#[tokio::test]
async fn disabling_a_user_stops_their_token_at_once_and_enabling_restores_it() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let dev = &team.developer;
    let key = app.key_for(tenant, &dev.id, "theirs").await;
    let disable = format!("/v1/tenants/{tenant}/users/{}/disable", dev.id);
    let enable = format!("/v1/tenants/{tenant}/users/{}/enable", dev.id);

    // Only an admin disables, and never themself (nobody could enable them).
    app.post_empty(&disable, &team.other.token)
        .await
        .expect_problem(403, "FORBIDDEN");
    app.post_empty(&disable, &team.viewer.token)
        .await
        .expect_problem(403, "FORBIDDEN");
    app.post_empty(
        &format!("/v1/tenants/{tenant}/users/{}/disable", team.admin.id),
        &team.admin.token,
    )
    .await
    .expect_problem(403, "FORBIDDEN");
    app.get("/v1/me", &dev.token).await.expect(200);

    let disabled = app
        .post_empty(&disable, &team.admin.token)
        .await
        .expect(200);
    assert_eq!(disabled.json["disabled"], true, "{}", disabled.text);
    let refused = app
        .get("/v1/me", &dev.token)
        .await
        .expect_problem(401, "USER_DISABLED");
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    app.try_create_key(tenant, &dev.token, json!({ "name": "x" }))
        .await
        .expect_problem(401, "USER_DISABLED");
    // Their keys are not theirs to use, but they stay as they were.
    assert_eq!(app.verify(&key.secret).await, "VALID");
    let listed = users_of(&app, tenant).await;
    let row = listed.iter().find(|u| u["id"] == dev.id.as_str()).unwrap();
    assert_eq!(row["disabled"], true);
    // Disabling again changes nothing and records nothing.
    app.post_empty(&disable, &team.admin.token)
        .await
        .expect(200);
    let events = events_about(&app, tenant, "user.disabled", &dev.id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"]["id"], team.admin.id.as_str());

    let enabled = app.post_empty(&enable, &team.admin.token).await.expect(200);
    assert_eq!(enabled.json["disabled"], false);
    app.get("/v1/me", &dev.token).await.expect(200);
    app.create_key(tenant, &dev.token, json!({ "name": "again" }))
        .await;
    let events = events_about(&app, tenant, "user.enabled", &dev.id).await;
    assert_eq!(events.len(), 1, "{events:?}");
}

#[tokio::test]
async fn a_deleted_user_is_gone_but_their_keys_and_events_stay() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let dev = &team.developer;
    let key = app.key_for(tenant, &dev.id, "theirs").await;
    let path = format!("/v1/tenants/{tenant}/users/{}", dev.id);

    app.delete(&path, &team.other.token)
        .await
        .expect_problem(403, "FORBIDDEN");
    app.delete(
        &format!("/v1/tenants/{tenant}/users/{}", team.admin.id),
        &team.admin.token,
    )
    .await
    .expect_problem(403, "FORBIDDEN");
    app.delete(&path, &team.admin.token).await.expect(204);

    app.get("/v1/me", &dev.token)
        .await
        .expect_problem(401, "UNAUTHENTICATED");
    assert!(
        users_of(&app, tenant)
            .await
            .iter()
            .all(|u| u["id"] != dev.id.as_str())
    );
    app.patch(&path, &team.admin.token, json!({ "name": "Back" }))
        .await
        .expect_problem(404, "NOT_FOUND");
    app.post_empty(&format!("{path}/token"), &team.admin.token)
        .await
        .expect_problem(404, "NOT_FOUND");
    app.delete(&path, &team.admin.token)
        .await
        .expect_problem(404, "NOT_FOUND");

    // The key stays, owned as before, and verifies as before.
    let after = app.get_key(tenant, &key.id).await.expect(200);
    assert_eq!(
        after.json["owner"],
        json!({ "id": dev.id, "name": dev.name })
    );
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(
        app.list_keys(tenant, &format!("owner={}", dev.id)).await["total"],
        1
    );
    // Nobody gives them a key any more.
    app.try_create_key(
        tenant,
        &app.admin,
        json!({ "name": "more", "owner": dev.id }),
    )
    .await
    .expect_problem(422, "VALIDATION_FAILED");

    // Their history remains, and the deletion is in it.
    assert_eq!(
        events_about(&app, tenant, "user.created", &dev.id)
            .await
            .len(),
        1
    );
    let deleted = events_about(&app, tenant, "user.deleted", &dev.id).await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["actor"]["id"], team.admin.id.as_str());
    assert_eq!(deleted[0]["target_name"], dev.name.as_str());
}

#[tokio::test]
async fn only_those_who_manage_users_see_e_mail_addresses() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let users = format!("/v1/tenants/{tenant}/users");
    // Viewers and developers see who is who (names, roles: whose keys, whom
    // to ask), not how to reach them; SPEC gives them keys, events, usage
    // and settings to read, and users to tenant admins to manage.
    for reader in [&team.viewer, &team.developer, &team.unlicensed] {
        let listed = app.get(&users, &reader.token).await.expect(200);
        let items = listed.json["items"].as_array().unwrap();
        assert_eq!(items.len(), 8, "{}", listed.text);
        for user in items {
            if user["id"] == reader.id.as_str() {
                assert!(user["email"].as_str().unwrap().contains('@'), "{user}");
                continue;
            }
            assert_eq!(user["email"], Value::Null, "{} reads {user}", reader.name);
            assert!(user["name"].is_string() && user["roles"].is_array());
        }
        let me = app.get("/v1/me", &reader.token).await.expect(200);
        assert!(me.json["user"]["email"].as_str().unwrap().contains('@'));
        // Nor through the audit log.
        let events = app
            .get(
                &format!("/v1/tenants/{tenant}/events?action=user.created"),
                &reader.token,
            )
            .await
            .expect(200);
        let own = format!("{}@example.com", reader.name.to_lowercase());
        let others = events.text.replace(&own, "");
        assert!(!others.contains("@example.com"), "{}", events.text);
    }
    for admin in [&team.admin, &team.admin_developer, &team.system] {
        let listed = app.get(&users, &admin.token).await.expect(200);
        for user in listed.json["items"].as_array().unwrap() {
            assert!(user["email"].as_str().unwrap().contains('@'), "{user}");
        }
        let events = app
            .get(
                &format!("/v1/tenants/{tenant}/events?action=user.created"),
                &admin.token,
            )
            .await
            .expect(200);
        assert!(events.text.contains("@example.com"), "{}", events.text);
    }
}

#[tokio::test]
async fn everything_of_another_tenant_answers_404_and_stays_untouched() {
    let app = spawn_app().await;
    let a = Team::new(&app).await;
    app.create_tenant(
        "beta",
        json!({ "api_keys_enabled": true, "secret_retrieval": "admins" }),
    )
    .await;
    let b_user = app.create_user("beta", "Bea", &["developer"], true).await;
    let b_key = app.key_for("beta", &b_user.id, "beta-key").await;
    let before = app.get_key("beta", &b_key.id).await.expect(200).json;
    let events_before = app.events("beta", "").await.len();
    // The strongest user of tenant A: tenant admin and developer.
    let intruder = &a.admin_developer;
    let token = intruder.token.as_str();

    let mut requests: Vec<(Method, String, Option<Value>)> = Vec::new();
    for tenant in ["beta", "acme", "no-such-tenant"] {
        let keys = format!("/v1/tenants/{tenant}/keys");
        let key = format!("{keys}/{}", b_key.id);
        requests.push((Method::GET, key.clone(), None));
        requests.push((Method::PATCH, key.clone(), Some(json!({ "name": "pwned" }))));
        requests.push((Method::DELETE, key.clone(), None));
        for action in [
            "disable",
            "enable",
            "revoke",
            "regenerate",
            "duplicate",
            "reveal",
        ] {
            requests.push((Method::POST, format!("{key}/{action}"), None));
        }
        let user = format!("/v1/tenants/{tenant}/users/{}", b_user.id);
        requests.push((
            Method::PATCH,
            user.clone(),
            Some(json!({ "roles": ["tenant_admin"] })),
        ));
        requests.push((Method::POST, format!("{user}/token"), None));
        if tenant != "acme" {
            requests.push((Method::GET, keys.clone(), None));
            requests.push((Method::POST, keys, Some(json!({ "name": "intruder" }))));
            let settings = format!("/v1/tenants/{tenant}/settings");
            requests.push((Method::GET, settings.clone(), None));
            requests.push((
                Method::PATCH,
                settings,
                Some(json!({ "api_keys_enabled": false })),
            ));
            let users = format!("/v1/tenants/{tenant}/users");
            requests.push((Method::GET, users.clone(), None));
            requests.push((
                Method::POST,
                users,
                Some(json!({ "name": "Mole", "email": "mole@example.com" })),
            ));
            requests.push((Method::GET, format!("/v1/tenants/{tenant}/events"), None));
        }
    }
    let mut answers = std::collections::HashMap::new();
    for (method, path, body) in requests {
        let mut request = app.request(method.clone(), &path, Some(token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = app.send(request).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.text);
        let reply = reply.expect_problem(404, "NOT_FOUND");
        answers.insert((method, path), reply.text);
    }
    // A foreign tenant answers exactly as a tenant that does not exist.
    for ((method, path), text) in &answers {
        if let Some(rest) = path.strip_prefix("/v1/tenants/beta/") {
            let twin = (method.clone(), format!("/v1/tenants/no-such-tenant/{rest}"));
            assert_eq!(Some(text), answers.get(&twin), "{method} {path}");
        }
    }

    assert_eq!(
        app.get_key("beta", &b_key.id).await.expect(200).json,
        before
    );
    assert_eq!(app.verify(&b_key.secret).await, "VALID");
    assert_eq!(app.events("beta", "").await.len(), events_before);
    let b_users = users_of(&app, "beta").await;
    assert_eq!(b_users.len(), 1);
    assert_eq!(b_users[0]["roles"], json!(["developer"]));
    app.get("/v1/me", &b_user.token).await.expect(200);
    assert_eq!(app.list_keys("acme", "").await["total"], 0);

    // The tenant list and /v1/me show only the caller's own tenant.
    let tenants = app.get("/v1/tenants", token).await.expect(200);
    assert_eq!(crate::helpers::ids_of(&tenants.json["items"]), ["acme"]);
    let me = app.get("/v1/me", token).await.expect(200);
    assert_eq!(crate::helpers::ids_of(&me.json["tenants"]), ["acme"]);
    // Events of A filtered by B's key show nothing of B.
    let filtered = app
        .get(&format!("/v1/tenants/acme/events?key={}", b_key.id), token)
        .await
        .expect(200);
    assert_eq!(filtered.json["items"], json!([]));
}

#[tokio::test]
async fn the_bootstrap_system_administrator_rotates_its_own_token() {
    let app = spawn_app().await;
    let rotated = app.post_empty("/v1/me/token", &app.admin).await.expect(200);
    let fresh = rotated.json["token"].as_str().unwrap().to_owned();
    assert!(fresh.starts_with("kdm_"), "{fresh}");
    assert_eq!(rotated.json["user"]["roles"], json!(["system_admin"]));
    assert_eq!(rotated.json["user"]["tenant"], Value::Null);
    app.get("/v1/me", &app.admin)
        .await
        .expect_problem(401, "UNAUTHENTICATED");
    app.get("/v1/tenants", &fresh).await.expect(200);
    app.post_empty("/v1/me/token", "not-a-token")
        .await
        .expect_problem(401, "UNAUTHENTICATED");
}

/// The next item of `stream` within 10 s: an event, or `None` once it ended.
async fn next_event(stream: &mut keydesk::client::EventStream) -> Option<keydesk::api::EventBody> {
    use futures::StreamExt as _;
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("an event or the end within 10 s")
        .map(|event| event.expect("an event"))
}

#[tokio::test]
async fn an_open_event_stream_ends_when_its_reader_is_disabled_or_loses_their_roles() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let tenant = team.tenant.as_str();
    let path =
        |user: &TestUser, action: &str| format!("/v1/tenants/{tenant}/users/{}{action}", user.id);
    // Disabled (a POST), or every role withdrawn (a PATCH).
    let cases = [
        (&team.viewer, path(&team.viewer, "/disable"), Value::Null),
        (
            &team.developer,
            path(&team.developer, ""),
            json!({ "roles": [] }),
        ),
    ];
    for (reader, path, body) in cases {
        let client = keydesk::client::Client::new(&app.base, &reader.token).unwrap();
        let mut stream = client.event_stream(tenant, None).await.unwrap();
        // Events of others flow as before.
        let key = app.key_for(tenant, &team.other.id, "k").await;
        let created = next_event(&mut stream).await.unwrap();
        assert_eq!(created.target_id, key.id);
        if body.is_null() {
            app.post_empty(&path, &team.admin.token).await.expect(200);
        } else {
            app.patch(&path, &team.admin.token, body).await.expect(200);
        }
        let about_them = next_event(&mut stream).await.unwrap();
        assert_eq!(about_them.target_id, reader.id);
        assert!(
            next_event(&mut stream).await.is_none(),
            "{}'s stream went on after the change",
            reader.name
        );
        // Resuming asks for the token again: refused now.
        let resumed = client.event_stream(tenant, Some(about_them.id)).await;
        assert!(resumed.is_err(), "{} resumed the stream", reader.name);
    }
}
