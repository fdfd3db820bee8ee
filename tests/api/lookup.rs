//! `POST /v1/keys/lookup` (issue 7, "which key is this leaked secret?"):
//! every role, across tenants, a bad checksum answered without the store,
//! the audit event, and the secret nowhere afterwards: not in an answer,
//! an event, the database files or the debug log.

use keydesk::client::{Client, ClientError};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_TOKEN, NewKey, Reply, ServerProcess, TestApp, TestUser, assert_absent_from_files,
    spawn_app,
};

async fn lookup(app: &TestApp, token: &str, secret: &str) -> Reply {
    app.post("/v1/keys/lookup", token, json!({ "secret": secret }))
        .await
}

/// The audit events of the whole server, oldest first, straight from the
/// database (the system log has no route): (tenant, action, target, changes).
fn all_events(app: &TestApp) -> Vec<(Option<String>, String, String, Value)> {
    if let Some(url) = crate::backend::database_for(&app.data_dir) {
        return crate::backend::on_the_side(url, |client| async move {
            let rows = client
                .query(
                    "SELECT tenant_id, action, target_id, changes FROM events ORDER BY id",
                    &[],
                )
                .await
                .unwrap();
            rows.iter()
                .map(|row| {
                    let changes: String = row.get(3);
                    (
                        row.get(0),
                        row.get(1),
                        row.get(2),
                        serde_json::from_str(&changes).unwrap(),
                    )
                })
                .collect()
        });
    }
    let path = app.data_dir.join("keydesk.db");
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut statement = conn
        .prepare("SELECT tenant_id, action, target_id, changes FROM events ORDER BY id")
        .unwrap();
    statement
        .query_map([], |row| {
            let changes: String = row.get(3)?;
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                serde_json::from_str(&changes).unwrap(),
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A secret of the right shape whose checksum is wrong.
fn bad_checksum(secret: &str) -> String {
    let mut chars: Vec<char> = secret.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

struct World {
    acme_admin: TestUser,
    developer: TestUser,
    viewer: TestUser,
    other_admin: TestUser,
    key: NewKey,
}

async fn world(app: &TestApp) -> World {
    app.enabled_tenant("acme").await;
    app.enabled_tenant("other").await;
    let acme_admin = app
        .create_user("acme", "Ada", &["tenant_admin"], true)
        .await;
    let developer = app.create_user("acme", "Dev", &["developer"], true).await;
    let viewer = app.create_user("acme", "Vic", &["viewer"], true).await;
    let other_admin = app
        .create_user("other", "Oto", &["tenant_admin", "developer"], true)
        .await;
    let key = app
        .create_key("acme", &developer.token, json!({ "name": "leaked" }))
        .await;
    World {
        acme_admin,
        developer,
        viewer,
        other_admin,
        key,
    }
}

#[tokio::test]
async fn admins_find_a_key_by_its_secret_and_everyone_else_gets_the_same_404() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // A well-formed secret of no key: a deleted key's.
    let stranger = app
        .create_key("other", &w.other_admin.token, json!({ "name": "theirs" }))
        .await;
    app.delete(
        &format!("/v1/tenants/other/keys/{}", stranger.id),
        &w.other_admin.token,
    )
    .await
    .expect(204);
    let gone = lookup(&app, &app.admin, &stranger.secret)
        .await
        .expect_problem(404, "NOT_FOUND");

    for (who, token) in [
        ("the tenant admin", &w.acme_admin.token),
        ("the system administrator", &app.admin),
    ] {
        let found = lookup(&app, token, &w.key.secret).await.expect(200);
        assert_eq!(found.json["key"]["id"], w.key.id.as_str(), "{who}");
        assert_eq!(found.json["key"]["name"], "leaked");
        assert_eq!(found.json["key"]["owner"]["id"], w.developer.id.as_str());
        assert_eq!(found.json["tenant"]["id"], "acme", "{who}");
        assert_eq!(found.json["tenant"]["settings"]["api_keys_enabled"], true);
        assert_eq!(found.json["matched"], "current");
        assert!(
            !found.text.contains(&w.key.secret),
            "the answer holds no secret"
        );
    }
    // Not theirs to look up: the owner (a developer), a viewer, another
    // tenant's admin. The same body as a secret of no key.
    for (who, token) in [
        ("the owner, a developer", &w.developer.token),
        ("a viewer", &w.viewer.token),
        ("another tenant's admin", &w.other_admin.token),
    ] {
        let hidden = lookup(&app, token, &w.key.secret)
            .await
            .expect_problem(404, "NOT_FOUND");
        assert_eq!(hidden.json, gone.json, "{who}");
    }
    let malformed = lookup(&app, &w.acme_admin.token, &bad_checksum(&w.key.secret))
        .await
        .expect_problem(404, "NOT_FOUND");
    assert_eq!(malformed.json, gone.json);
    app.post("/v1/keys/lookup", &app.admin, json!({ "key": "x" }))
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    app.send(
        app.request(reqwest::Method::POST, "/v1/keys/lookup", None)
            .json(&json!({ "secret": w.key.secret })),
    )
    .await
    .expect_problem(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_bad_checksum_is_answered_without_the_store_and_a_secret_of_no_key_is_logged_for_the_system()
 {
    let app = spawn_app().await;
    let w = world(&app).await;
    let before = all_events(&app);

    // A bad checksum, a malformed string: 404, and nothing reached the store
    // (a lookup that did would have written its event).
    for garbage in [
        bad_checksum(&w.key.secret),
        "kd_short".to_owned(),
        "not a secret at all".to_owned(),
        String::new(),
    ] {
        lookup(&app, &app.admin, &garbage)
            .await
            .expect_problem(404, "NOT_FOUND");
    }
    assert_eq!(all_events(&app), before, "no event, no store access");

    // A well-formed secret of no key: 404, and an event with no tenant.
    app.delete(
        &format!("/v1/tenants/acme/keys/{}", w.key.id),
        &w.developer.token,
    )
    .await
    .expect(204);
    lookup(&app, &w.acme_admin.token, &w.key.secret)
        .await
        .expect_problem(404, "NOT_FOUND");
    let events = all_events(&app);
    let (tenant, action, target, changes) = events.last().unwrap();
    assert_eq!((tenant, action.as_str()), (&None, "key.looked_up"));
    assert_eq!(target, "");
    assert_eq!(changes["found"], false);
    let start = w.key.key["start"].as_str().unwrap();
    assert_eq!(changes["start"], start);
    // The tenant's own log has nothing: nothing of theirs was found.
    assert!(app.events("acme", "action=key.looked_up").await.is_empty());
}

#[tokio::test]
async fn every_lookup_is_an_audit_event_in_the_log_of_the_tenant_it_answered() {
    let app = spawn_app().await;
    let w = world(&app).await;
    lookup(&app, &w.acme_admin.token, &w.key.secret)
        .await
        .expect(200);
    let events = app.events("acme", "action=key.looked_up").await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["actor"]["id"], w.acme_admin.id.as_str());
    assert_eq!(event["target_id"], w.key.id.as_str());
    assert_eq!(event["target_name"], "leaked");
    assert_eq!(event["changes"]["start"], w.key.key["start"]);
    assert_eq!(event["changes"]["matched"], "current");
    assert!(!event.to_string().contains(&w.key.secret));

    // A refused lookup (not theirs) goes to the system log, not the tenant's.
    lookup(&app, &w.other_admin.token, &w.key.secret)
        .await
        .expect(404);
    lookup(&app, &w.viewer.token, &w.key.secret)
        .await
        .expect(404);
    assert_eq!(app.events("acme", "action=key.looked_up").await.len(), 1);
    assert!(app.events("other", "action=key.looked_up").await.is_empty());
    let system: Vec<_> = all_events(&app)
        .into_iter()
        .filter(|(tenant, action, ..)| tenant.is_none() && action == "key.looked_up")
        .collect();
    assert_eq!(system.len(), 2);
    for (_, _, target, changes) in &system {
        assert_eq!(target, &w.key.id);
        assert_eq!(changes["found"], true);
        assert_eq!(changes["key_tenant"], "acme");
        assert_eq!(changes["answered"], "not_found");
    }
}

#[tokio::test]
async fn a_rotating_keys_previous_secret_finds_it_until_the_grace_ends() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let rotated = app
        .post(
            &format!("/v1/tenants/acme/keys/{}/regenerate", w.key.id),
            &w.developer.token,
            json!({ "grace_seconds": 3600 }),
        )
        .await
        .expect(200);
    let fresh = rotated.json["secret"].as_str().unwrap();
    let old = lookup(&app, &w.acme_admin.token, &w.key.secret)
        .await
        .expect(200);
    assert_eq!(old.json["key"]["id"], w.key.id.as_str());
    assert_eq!(old.json["matched"], "previous");
    assert!(old.json["key"]["rotating_until"].is_string());
    let new = lookup(&app, &w.acme_admin.token, fresh).await.expect(200);
    assert_eq!(new.json["matched"], "current");
    app.act("acme", &w.developer.token, &w.key.id, "end-rotation")
        .await
        .expect(200);
    lookup(&app, &w.acme_admin.token, &w.key.secret)
        .await
        .expect_problem(404, "NOT_FOUND");
}

#[tokio::test]
async fn the_client_looks_up_even_when_read_only() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let client = Client::new(&app.base, &w.acme_admin.token)
        .unwrap()
        .readonly(true);
    let found = client.lookup_key(&w.key.secret).await.unwrap();
    assert_eq!(found.key.id, w.key.id);
    assert_eq!(found.tenant.id, "acme");
    let err = client
        .lookup_key(&bad_checksum(&w.key.secret))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Api(_)), "{err:?}");
    assert_eq!(err.code(), Some("NOT_FOUND"));
    assert!(!err.to_string().contains(&w.key.secret));
}

#[tokio::test]
async fn no_looked_up_secret_is_in_the_database_files_or_the_debug_log() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data.path(), logs.path(), "serve").await;
    let app = TestApp::connect(&server.base, data.path());
    let w = world(&app).await;
    let mut secrets = vec![w.key.secret.clone()];
    assert_eq!(app.verify(&w.key.secret).await, "VALID");
    let rotated = app
        .post(
            &format!("/v1/tenants/acme/keys/{}/regenerate", w.key.id),
            &w.developer.token,
            json!({ "grace_seconds": 3600 }),
        )
        .await
        .expect(200);
    secrets.push(rotated.json["secret"].as_str().unwrap().to_owned());
    let gone = app
        .create_key("acme", &w.developer.token, json!({ "name": "gone" }))
        .await;
    app.delete(
        &format!("/v1/tenants/acme/keys/{}", gone.id),
        &w.developer.token,
    )
    .await
    .expect(204);
    secrets.push(gone.secret.clone());
    let garbage = bad_checksum(&w.key.secret);
    for secret in secrets.iter().chain(std::iter::once(&garbage)) {
        for token in [&app.admin, &w.acme_admin.token, &w.viewer.token] {
            lookup(&app, token, secret).await;
        }
    }
    server.kill();
    let log = server.logs();
    assert!(
        log.contains("/v1/keys/lookup") && log.contains("DEBUG"),
        "debug request logging was not on, so this proves nothing:\n{log}"
    );
    let mut needles = secrets;
    needles.push(garbage);
    needles.push(ADMIN_TOKEN.to_owned());
    for needle in &needles {
        assert!(
            !log.contains(needle.as_str()),
            "the log holds a looked-up secret ({}…)",
            &needle[..8]
        );
    }
    assert_absent_from_files(data.path(), &needles);
}
