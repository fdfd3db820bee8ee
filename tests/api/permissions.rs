//! The permission matrix of SPEC §2, enforced by the server: every role
//! against every mutating endpoint, on its own keys and on others'; a
//! refusal is a 403 with the reason in `detail` and changes nothing. Across
//! tenants everything answers 404, so existence does not leak.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, TestUser, spawn_app};

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
}

const ROLES: [Role; 6] = [
    Role::Viewer,
    Role::Developer,
    Role::UnlicensedDeveloper,
    Role::TenantAdmin,
    Role::TenantAdminDeveloper,
    Role::SystemAdmin,
];

/// SPEC §2's table: what `role` may do to a key it owns (`own`) or not.
fn may(role: Role, action: Action, own: bool) -> bool {
    use Action::*;
    match role {
        Role::Viewer => false,
        Role::Developer => own && action != Reveal,
        // Duplicating creates a key, which needs the license.
        Role::UnlicensedDeveloper => own && !matches!(action, Reveal | Duplicate),
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
        }
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
    let mut wrong = Vec::new();
    for own in [true, false] {
        for action in ACTIONS {
            let owner = if own { actor } else { &team.other };
            let key = app
                .key_for(tenant, &owner.id, &format!("{action:?}-{own}"))
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
                if reply.status != 403 || reply.code() != "FORBIDDEN" || reply.detail().len() < 10 {
                    wrong.push(format!(
                        "{case}: expected 403 FORBIDDEN with a reason, got {} {}",
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
async fn an_unlicensed_developer_manages_own_keys_but_may_not_duplicate() {
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

/// Creating keys, changing settings, managing users, creating tenants.
#[tokio::test]
async fn only_the_right_roles_create_keys_change_settings_manage_users_and_create_tenants() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
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
    } else if reply.status != 403 || reply.code() != "FORBIDDEN" || reply.detail().len() < 10 {
        wrong.push(format!(
            "{role:?} {what}: expected 403 with a reason, got {} {}",
            reply.status, reply.text
        ));
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

#[tokio::test]
async fn a_user_rotates_their_own_token_and_only_an_admin_rotates_another_s() {
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

    let others = format!("/v1/tenants/{tenant}/users/{}/token", team.other.id);
    app.post_empty(&others, &fresh)
        .await
        .expect_problem(403, "FORBIDDEN");
    app.get("/v1/me", &team.other.token).await.expect(200);
    app.post_empty(&others, &team.admin.token).await.expect(200);
    app.get("/v1/me", &team.other.token)
        .await
        .expect_problem(401, "UNAUTHENTICATED");
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
