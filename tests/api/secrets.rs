//! "The server stores only HMAC-SHA-256(pepper, secret) … and never logs a
//! secret" (SPEC §2): after creating, regenerating, duplicating, revealing
//! and verifying, no plaintext secret or management token is in any file of
//! the data directory (database, WAL, shared memory) or in the logs.

use serde_json::json;

use crate::helpers::{
    ADMIN_TOKEN, PEPPER, ServerProcess, TestApp, assert_absent_from_files, spawn_app,
};

/// Exercises every path that shows a secret or token; returns them all.
async fn handle_secrets(app: &TestApp) -> Vec<String> {
    let mut shown = vec![ADMIN_TOKEN.to_owned()];
    app.create_tenant(
        "stored",
        json!({ "api_keys_enabled": true, "secret_retrieval": "admins" }),
    )
    .await;
    let never = app.enabled_tenant("never").await;
    for tenant in ["stored", never.as_str()] {
        let admin = app
            .create_user(tenant, "Ada", &["tenant_admin", "developer"], true)
            .await;
        shown.push(admin.token.clone());
        for n in 0..3 {
            let key = app
                .create_key(
                    tenant,
                    &admin.token,
                    json!({ "name": format!("k{n}"), "scopes": ["read"] }),
                )
                .await;
            shown.push(key.secret.clone());
            assert_eq!(app.verify(&key.secret).await, "VALID");
            assert_eq!(
                app.verify_scope(&key.secret, "write").await,
                "INSUFFICIENT_SCOPE"
            );
            let regenerated = app
                .act(tenant, &admin.token, &key.id, "regenerate")
                .await
                .expect(200);
            let fresh = regenerated.json["secret"].as_str().unwrap().to_owned();
            assert_eq!(app.verify(&fresh).await, "VALID");
            assert_eq!(app.verify(&key.secret).await, "NOT_FOUND");
            shown.push(fresh.clone());
            if tenant == "stored" {
                let revealed = app
                    .act(tenant, &admin.token, &key.id, "reveal")
                    .await
                    .expect(200);
                assert_eq!(revealed.json["secret"], fresh.as_str());
            }
            let copy = app
                .act(tenant, &admin.token, &key.id, "duplicate")
                .await
                .expect(201);
            shown.push(copy.json["secret"].as_str().unwrap().to_owned());
        }
        let rotated = app
            .post_empty(
                &format!("/v1/tenants/{tenant}/users/{}/token", admin.id),
                &admin.token,
            )
            .await
            .expect(200);
        shown.push(rotated.json["token"].as_str().unwrap().to_owned());
    }
    shown
}

#[tokio::test]
async fn no_plaintext_secret_or_token_is_ever_written_to_the_data_directory() {
    let app = spawn_app().await;
    let shown = handle_secrets(&app).await;
    assert!(shown.len() > 20);
    // Give the usage counters a chance to be written too.
    tokio::time::sleep(
        keydesk::server::usage::FLUSH_INTERVAL + std::time::Duration::from_millis(300),
    )
    .await;
    let files = crate::helpers::files_under(&app.data_dir);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    if !crate::backend::is_postgres() {
        assert!(names.iter().any(|n| n == "keydesk.db"), "{names:?}");
        assert!(names.iter().any(|n| n == "keydesk.db-wal"), "{names:?}");
    }
    let mut needles = shown;
    needles.push(PEPPER.to_owned());
    assert_absent_from_files(&app.data_dir, &needles);
}

#[tokio::test]
async fn the_server_binary_logs_no_secret_or_token_even_at_debug_level() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data.path(), logs.path(), "serve").await;
    let app = TestApp::connect(&server.base, data.path());
    let shown = handle_secrets(&app).await;
    server.kill();

    assert_logs_hold_none_of(&server.logs(), &shown);
    let mut needles = shown;
    needles.push(PEPPER.to_owned());
    assert_absent_from_files(data.path(), &needles);
}

/// Asserts that debug logging was on and that no log line holds any of `shown`.
#[track_caller]
fn assert_logs_hold_none_of(output: &str, shown: &[String]) {
    assert!(
        output.contains("/v1/verify") && output.contains("DEBUG"),
        "debug request logging was not on, so this test proves nothing:\n{output}"
    );
    assert!(
        !output.contains("shown this once"),
        "with KEYDESK_BOOTSTRAP_TOKEN set, no token is printed"
    );
    let leaks: Vec<String> = shown
        .iter()
        .chain(std::iter::once(&PEPPER.to_owned()))
        .flat_map(|secret| {
            output
                .lines()
                .filter(|line| line.contains(secret.as_str()))
                .map(|line| line.replace(secret.as_str(), "<SECRET>"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "{} log lines hold a secret or token, e.g.:\n{}",
        leaks.len(),
        leaks[..leaks.len().min(3)].join("\n")
    );
}

#[tokio::test]
async fn a_leaked_secret_pasted_into_the_key_search_is_not_logged() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data.path(), logs.path(), "serve").await;
    let app = TestApp::connect(&server.base, data.path());
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "leaked" }))
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
    // The on-call engineer pastes the leaked secret into the search
    // (SPEC §4: filter by "name, ID, owner, start, or a pasted secret").
    app.list_keys(&tenant, &format!("q={}", key.secret)).await;
    server.kill();
    assert_logs_hold_none_of(&server.logs(), &[key.secret, ADMIN_TOKEN.to_owned()]);
}

#[tokio::test]
async fn a_generated_bootstrap_token_is_printed_once_and_never_logged_or_stored() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut first = ServerProcess::start_with(data.path(), logs.path(), "first", None).await;
    let stdout = std::fs::read_to_string(&first.stdout).unwrap();
    let token = stdout
        .split_whitespace()
        .find(|word| word.starts_with("kdm_"))
        .unwrap_or_else(|| panic!("no token printed on first start: {stdout}"))
        .to_owned();
    let mut app = TestApp::connect(&first.base, data.path());
    app.admin = token.clone();
    let me = app.get("/v1/me", &token).await.expect(200);
    assert_eq!(me.json["user"]["roles"], json!(["system_admin"]));
    app.enabled_tenant("acme").await;
    first.kill();
    let stderr = std::fs::read_to_string(&first.stderr).unwrap();
    assert!(stderr.contains("DEBUG"), "debug logging was on");
    assert!(!stderr.contains(&token), "the token went to the log");
    assert_absent_from_files(data.path(), std::slice::from_ref(&token));

    // Printed once: a restart on the same data prints nothing, and the token still works.
    let second = ServerProcess::start_with(data.path(), logs.path(), "second", None).await;
    let again = second.logs();
    assert!(!again.contains("kdm_"), "printed again: {again}");
    let app = TestApp::connect(&second.base, data.path());
    app.get("/v1/me", &token).await.expect(200);
}
