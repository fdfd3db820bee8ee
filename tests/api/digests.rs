//! Verification from memory: a well-formed but made-up key is answered
//! from the index of digests, reaching neither the database nor the
//! cache of real keys; a key created, rotated or present at start is
//! never refused by the index.

use keydesk::domain::{KeyPrefix, Secret};
use reqwest::Method;

use crate::helpers::{OwnServer, TestApp, serve_config, spawn_app};

/// A value of `/metrics`.
async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app
        .send(app.request(Method::GET, "/metrics", None))
        .await
        .expect(200)
        .text;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .parse()
        .unwrap()
}

/// A secret in the tenant's format, with a valid checksum, of no key.
fn made_up() -> String {
    let prefix = KeyPrefix::parse("kd").unwrap();
    Secret::generate(&prefix).expose().to_owned()
}

#[tokio::test]
async fn a_flood_of_made_up_keys_reaches_neither_the_database_nor_the_cache() {
    let app = spawn_app().await;
    app.enabled_tenant("acme").await;
    let real = app
        .create_key("acme", &app.admin, serde_json::json!({"name": "real"}))
        .await;
    assert_eq!(app.verify(&real.secret).await, "VALID");
    let reads = metric(&app, "keydesk_verify_store_reads_total").await;
    let cached = metric(&app, "keydesk_verify_cache_entries").await;
    assert!(reads >= 1);
    for _ in 0..500 {
        assert_eq!(app.verify(&made_up()).await, "NOT_FOUND");
    }
    assert_eq!(
        metric(&app, "keydesk_verify_store_reads_total").await,
        reads,
        "a made-up key read the database"
    );
    assert_eq!(
        metric(&app, "keydesk_verify_index_refusals_total").await,
        500
    );
    assert_eq!(metric(&app, "keydesk_verify_cache_entries").await, cached);
    // The real key is still answered from the cache.
    assert_eq!(app.verify(&real.secret).await, "VALID");
    assert_eq!(
        metric(&app, "keydesk_verify_store_reads_total").await,
        reads
    );
}

#[tokio::test]
async fn every_secret_handed_out_verifies_at_once() {
    let app = spawn_app().await;
    app.enabled_tenant("acme").await;
    let key = app
        .create_key("acme", &app.admin, serde_json::json!({"name": "k"}))
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
    // Rotated with a grace: both secrets.
    let rotated = app
        .post(
            &format!("/v1/tenants/acme/keys/{}/regenerate", key.id),
            &app.admin,
            serde_json::json!({"grace_seconds": 3600}),
        )
        .await
        .expect(200);
    let new = rotated.json["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.verify(&new).await, "VALID");
    assert_eq!(app.verify(&key.secret).await, "VALID");
    // Duplicated.
    let copy = app
        .post(
            &format!("/v1/tenants/acme/keys/{}/duplicate", key.id),
            &app.admin,
            serde_json::json!({}),
        )
        .await
        .expect(201);
    assert_eq!(
        app.verify(copy.json["secret"].as_str().unwrap()).await,
        "VALID"
    );
    // A revoked key is still known: it answers REVOKED, not NOT_FOUND.
    app.post_empty(
        &format!("/v1/tenants/acme/keys/{}/revoke", key.id),
        &app.admin,
    )
    .await
    .expect(200);
    assert_eq!(app.verify(&new).await, "REVOKED");
}

#[tokio::test]
async fn keys_in_the_store_at_start_are_in_the_index() {
    let data = tempfile::tempdir().unwrap();
    let config = serve_config(data.path());
    let first = OwnServer::start_with(&config).await;
    let app = TestApp::connect(&first.base, data.path());
    app.enabled_tenant("acme").await;
    let key = app
        .create_key("acme", &app.admin, serde_json::json!({"name": "old"}))
        .await;
    first.stop().await;
    let second = OwnServer::start_with(&config).await;
    let app = TestApp::connect(&second.base, data.path());
    assert!(metric(&app, "keydesk_digest_index_entries").await >= 1);
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(app.verify(&made_up()).await, "NOT_FOUND");
    assert_eq!(metric(&app, "keydesk_verify_index_refusals_total").await, 1);
    second.stop().await;
}

/// Another process writing to the SQLite file beside the server: within a
/// second the server forgets what it cached and learns the new digests, so
/// a key deleted by hand stops verifying and a key inserted by hand verifies.
#[tokio::test]
async fn a_write_to_the_sqlite_file_by_another_process_is_noticed() {
    if crate::backend::skip_unless_sqlite("another process writing to the SQLite file") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let server = OwnServer::start_with(&serve_config(data.path())).await;
    let app = TestApp::connect(&server.base, data.path());
    app.enabled_tenant("acme").await;
    let deleted = app
        .create_key("acme", &app.admin, serde_json::json!({"name": "deleted"}))
        .await;
    let model = app
        .create_key("acme", &app.admin, serde_json::json!({"name": "model"}))
        .await;
    assert_eq!(app.verify(&deleted.secret).await, "VALID");
    // A key of this tenant's format, written beside the server.
    let secret = Secret::generate(&KeyPrefix::parse("kd").unwrap());
    let keyring = keydesk::domain::Keyring::from_pepper(crate::helpers::PEPPER.as_bytes()).unwrap();
    let digest = keyring.secret_digest(&secret);
    assert_eq!(app.verify(secret.expose()).await, "NOT_FOUND");
    let file = rusqlite::Connection::open(data.path().join("keydesk.db")).unwrap();
    file.execute("DELETE FROM keys WHERE id = ?1", [&deleted.id])
        .unwrap();
    file.execute_batch(&format!(
        "CREATE TEMP TABLE copy AS SELECT * FROM keys WHERE id = '{}';
         UPDATE copy SET id = 'key_01KDBYHAND000000000000000', secret_digest = '{digest}',
                         previous_secret_digest = NULL;
         INSERT INTO keys SELECT * FROM copy;",
        model.id
    ))
    .unwrap();
    drop(file);
    let since = std::time::Instant::now();
    loop {
        let gone = app.verify(&deleted.secret).await == "NOT_FOUND";
        let found = app.verify(secret.expose()).await == "VALID";
        if gone && found {
            break;
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(2),
            "not noticed: deleted {gone}, inserted {found}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.stop().await;
}
