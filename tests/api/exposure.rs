//! Where a secret or token could be kept by someone else: a cache between
//! the server and its caller (every answer says `Cache-Control: no-store`),
//! or the database files (mode 0600 wherever they are, not only in a data
//! directory the server made).

use serde_json::json;

use crate::helpers::{Reply, TestApp, serve_config, spawn_app};

#[track_caller]
fn assert_not_stored(what: &str, reply: &Reply) {
    assert_eq!(
        reply.header("cache-control"),
        Some("no-store"),
        "{what} answered {} without Cache-Control: no-store",
        reply.status
    );
}

#[tokio::test]
async fn answers_that_carry_a_secret_or_token_may_not_be_stored() {
    let app = spawn_app().await;
    app.create_tenant(
        "acme",
        json!({ "api_keys_enabled": true, "secret_retrieval": "admins" }),
    )
    .await;
    let created = app
        .post(
            "/v1/tenants/acme/users",
            &app.admin,
            json!({ "name": "Ada", "email": "ada@example.com", "roles": ["tenant_admin", "developer"], "licensed": true }),
        )
        .await
        .expect(201);
    assert_not_stored("user creation", &created);
    let ada = created.json["user"]["id"].as_str().unwrap().to_owned();
    let token = created.json["token"].as_str().unwrap().to_owned();

    let key = app
        .try_create_key("acme", &token, json!({ "name": "ci" }))
        .await
        .expect(201);
    assert_not_stored("key creation", &key);
    let id = key.json["key"]["id"].as_str().unwrap().to_owned();
    for (action, status) in [("regenerate", 200), ("reveal", 200), ("duplicate", 201)] {
        let reply = app.act("acme", &token, &id, action).await.expect(status);
        assert!(reply.json["secret"].is_string(), "{action}: {}", reply.text);
        assert_not_stored(action, &reply);
    }
    let rotated = app
        .post_empty(&format!("/v1/tenants/acme/users/{ada}/token"), &token)
        .await
        .expect(200);
    assert_not_stored("a user's new token", &rotated);
    let token = rotated.json["token"].as_str().unwrap().to_owned();
    let own = app.post_empty("/v1/me/token", &token).await.expect(200);
    assert_not_stored("the caller's new token", &own);
    // Not only answers with a secret: who owns which key is nobody else's either.
    assert_not_stored("a key", &app.get_key("acme", &id).await.expect(200));
}

#[cfg(unix)]
#[tokio::test]
async fn database_files_are_private_wherever_they_are() {
    use std::os::unix::fs::PermissionsExt as _;
    let data = tempfile::tempdir().unwrap();
    // A directory the server did not create, open to everyone's eyes.
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let database = shared.path().join("keys.db");
    let mut config = serve_config(data.path());
    config.database = Some(format!("sqlite://{}", database.display()));
    let server = crate::helpers::OwnServer::start_with(&config).await;
    let app = TestApp::connect(&server.base, data.path());
    app.enabled_tenant("acme").await;
    app.key_for("acme", &app.admin_id().await, "ci").await;
    for suffix in ["", "-wal", "-shm"] {
        let file = shared.path().join(format!("keys.db{suffix}"));
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{} has mode {mode:o}", file.display());
    }
    server.stop().await;
}
