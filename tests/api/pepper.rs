//! "The pepper lives outside the database" (SPEC §2), so it can be lost or
//! mixed up, and then no key or token verifies. The server refuses to start
//! with a pepper that is not its database's (a fingerprint of it is kept),
//! never generates one for a database in use, and reads a pepper file as
//! bytes: text peppers keep their meaning, binary ones keep all of theirs.

use std::path::Path;

use keydesk::server::ServeConfig;

use crate::helpers::{OwnServer, PEPPER, TestApp, serve_config};

/// Starts a server by `config`, makes a key, stops; returns its secret.
async fn database_with_a_key(config: &ServeConfig) -> String {
    let server = OwnServer::start_with(config).await;
    let app = TestApp::connect(&server.base, Path::new("."));
    app.enabled_tenant("acme").await;
    let key = app.key_for("acme", &app.admin_id().await, "ci").await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
    server.stop().await;
    key.secret
}

/// What `secret` verifies as on a server started by `config`.
async fn verify_after_start(config: &ServeConfig, secret: &str) -> String {
    let server = OwnServer::start_with(config).await;
    let code = TestApp::connect(&server.base, Path::new("."))
        .verify(secret)
        .await;
    server.stop().await;
    code
}

/// Why the server refused to start by `config`.
async fn refusal(config: &ServeConfig) -> String {
    match keydesk::server::prepare(config).await {
        Ok(_) => panic!("the server started, where it must refuse"),
        Err(err) => format!("{err:#}"),
    }
}

/// A configuration that reads the pepper from `file` (no KEYDESK_PEPPER).
fn with_pepper_file(data_dir: &Path, file: &Path) -> ServeConfig {
    ServeConfig {
        pepper: None,
        pepper_file: Some(file.to_owned()),
        ..serve_config(data_dir)
    }
}

/// 32 random bytes, none of them valid UTF-8 alone (continuation bytes):
/// read as lossy text, every such pepper was the same 32 replacement characters.
fn binary_pepper() -> Vec<u8> {
    (0..32)
        .map(|_| 0x80 + rand::random::<u8>() % 0x40)
        .collect()
}

#[tokio::test]
async fn a_lost_pepper_file_stops_the_server_instead_of_every_key() {
    let data = tempfile::tempdir().unwrap();
    // No KEYDESK_PEPPER, no --pepper-file: the pepper is generated on first start.
    let config = ServeConfig {
        pepper: None,
        ..serve_config(data.path())
    };
    let secret = database_with_a_key(&config).await;
    let pepper_file = data.path().join("pepper");
    let pepper = std::fs::read(&pepper_file).unwrap();

    std::fs::remove_file(&pepper_file).unwrap();
    let refused = refusal(&config).await;
    assert!(
        refused.contains(&pepper_file.display().to_string()) && refused.contains("Restore"),
        "the refusal names the file to restore: {refused}"
    );
    assert!(
        !pepper_file.exists(),
        "no new pepper is generated for a database in use"
    );

    std::fs::write(&pepper_file, &pepper).unwrap();
    assert_eq!(verify_after_start(&config, &secret).await, "VALID");
}

#[tokio::test]
async fn a_pepper_that_is_not_the_databases_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let config = serve_config(data.path());
    let secret = database_with_a_key(&config).await;

    let other = ServeConfig {
        pepper: Some(format!("{PEPPER}-but-another")),
        ..config.clone()
    };
    let refused = refusal(&other).await;
    assert!(
        refused.contains("KEYDESK_PEPPER is not the pepper the database"),
        "{refused}"
    );
    assert_eq!(verify_after_start(&config, &secret).await, "VALID");
}

#[tokio::test]
async fn two_binary_pepper_files_give_two_keyrings() {
    let files = tempfile::tempdir().unwrap();
    let mut fingerprints = Vec::new();
    for name in ["one", "two"] {
        let file = files.path().join(name);
        std::fs::write(&file, binary_pepper()).unwrap();
        let data = tempfile::tempdir().unwrap();
        let prepared = keydesk::server::prepare(&with_pepper_file(data.path(), &file))
            .await
            .unwrap();
        fingerprints.push(prepared.state.keyring.token_digest("kdm_the_same_token"));
    }
    assert_ne!(
        fingerprints[0], fingerprints[1],
        "two different binary peppers keyed tokens alike"
    );
}

#[tokio::test]
async fn a_binary_pepper_counts_its_bytes() {
    let files = tempfile::tempdir().unwrap();
    let short = files.path().join("short");
    // 11 bytes; as lossy text, 33 (each became a 3-byte replacement character).
    std::fs::write(&short, [0xFF; 11]).unwrap();
    let data = tempfile::tempdir().unwrap();
    let refused = refusal(&with_pepper_file(data.path(), &short)).await;
    assert!(refused.contains("at least 32 bytes"), "{refused}");

    let long = files.path().join("long");
    std::fs::write(&long, binary_pepper()).unwrap();
    let config = with_pepper_file(data.path(), &long);
    let secret = database_with_a_key(&config).await;
    assert_eq!(verify_after_start(&config, &secret).await, "VALID");
    std::fs::write(&long, binary_pepper()).unwrap();
    let refused = refusal(&config).await;
    assert!(
        refused.contains("is not the pepper the database"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_text_pepper_means_the_same_from_the_environment_or_a_file() {
    let data = tempfile::tempdir().unwrap();
    let secret = database_with_a_key(&serve_config(data.path())).await;
    let file = data.path().join("pepper.txt");
    std::fs::write(&file, format!("  {PEPPER}\n")).unwrap();
    assert_eq!(
        verify_after_start(&with_pepper_file(data.path(), &file), &secret).await,
        "VALID"
    );
}

#[tokio::test]
async fn a_database_from_before_fingerprints_keeps_verifying_with_its_binary_pepper() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("pepper.bin");
    let pepper = random_binary();
    std::fs::write(&file, &pepper).unwrap();
    // What keydesk made of a binary pepper file before it read bytes.
    let as_text = String::from_utf8_lossy(&pepper).trim().to_owned();
    let secret = database_with_a_key(&ServeConfig {
        pepper: Some(as_text),
        ..serve_config(data.path())
    })
    .await;
    // As a database from before fingerprints: none recorded.
    if let Some(url) = crate::backend::existing_database(data.path()) {
        crate::backend::on_the_side(url, |client| async move {
            client.execute("DELETE FROM pepper", &[]).await.unwrap();
        });
    } else {
        let database = rusqlite::Connection::open(data.path().join("keydesk.db")).unwrap();
        database.execute("DELETE FROM pepper", []).unwrap();
        drop(database);
    }

    let config = with_pepper_file(data.path(), &file);
    assert_eq!(verify_after_start(&config, &secret).await, "VALID");
    // Recorded now: the next start checks it.
    assert_eq!(verify_after_start(&config, &secret).await, "VALID");
    std::fs::write(&file, random_binary()).unwrap();
    assert!(refusal(&config).await.contains("is not the pepper"));
}

/// 32 random bytes that are not UTF-8 (the first never is), of which the
/// lossy text differs from one to the next.
fn random_binary() -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..32).map(|_| rand::random()).collect();
    bytes[0] = 0xFF;
    bytes
}
