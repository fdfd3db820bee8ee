//! "Revocation takes effect for the very next verification" (SPEC §2),
//! under load: verifications run concurrently while the key is revoked, and
//! none sent after the revoke was answered may still say VALID.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

const VERIFIERS: usize = 16;
/// Verifications before the revoke, and after it.
const BEFORE: usize = 150;
const AFTER: usize = 300;

/// Sixteen verifiers send `secret` without pause; once `BEFORE` verifications
/// have been answered, `act` runs, and the verifiers go on for `AFTER` more.
/// Answers the codes of the verifications sent before `act` was answered,
/// and of those sent after.
pub async fn verify_during(
    app: Arc<TestApp>,
    secret: &str,
    act: impl std::future::Future<Output = ()>,
) -> (Vec<String>, Vec<String>) {
    let secret = Arc::new(secret.to_owned());
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut verifiers = Vec::new();
    for _ in 0..VERIFIERS {
        let (app, secret, done, stop) = (app.clone(), secret.clone(), done.clone(), stop.clone());
        verifiers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let sent = Instant::now();
                let code = app.verify(&secret).await;
                seen.push((sent, code));
                done.fetch_add(1, Ordering::SeqCst);
            }
            seen
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while done.load(Ordering::SeqCst) < BEFORE {
        assert!(Instant::now() < deadline, "verifiers too slow");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    act.await;
    let answered = Instant::now();
    let target = done.load(Ordering::SeqCst) + AFTER;
    while done.load(Ordering::SeqCst) < target {
        assert!(Instant::now() < deadline, "verifiers too slow");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut all = Vec::new();
    for verifier in verifiers {
        all.extend(verifier.await.expect("a verifier"));
    }
    let (after, before): (Vec<_>, Vec<_>) = all.into_iter().partition(|(sent, _)| *sent > answered);
    let codes = |seen: Vec<(Instant, String)>| seen.into_iter().map(|(_, code)| code).collect();
    let (before, after): (Vec<String>, Vec<String>) = (codes(before), codes(after));
    assert!(
        after.len() >= AFTER - VERIFIERS,
        "only {} verifications after the change was answered",
        after.len()
    );
    (before, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_verification_sent_after_a_revoke_was_answered_says_valid() {
    let app = Arc::new(spawn_app().await);
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "hot" }))
        .await;
    let (before, after) = verify_during(app.clone(), &key.secret, async {
        app.act(&tenant, &app.admin, &key.id, "revoke")
            .await
            .expect(200);
    })
    .await;
    assert!(
        before.iter().any(|code| code == "VALID"),
        "the key verified before it was revoked"
    );
    let stale: Vec<_> = after.iter().filter(|code| *code != "REVOKED").collect();
    assert!(
        stale.is_empty(),
        "{} of {} verifications sent after the revoke was answered did not say REVOKED: {stale:?}",
        stale.len(),
        after.len(),
    );
    assert!(
        before
            .iter()
            .chain(&after)
            .all(|code| code == "VALID" || code == "REVOKED"),
        "only VALID and REVOKED are possible"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_edits_with_the_same_etag_exactly_one_wins() {
    let app = Arc::new(spawn_app().await);
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "contested" }))
        .await;
    let path = format!("/v1/tenants/{tenant}/keys/{}", key.id);
    let mut edits = Vec::new();
    for n in 0..8 {
        let (app, path, etag) = (app.clone(), path.clone(), key.etag.clone());
        edits.push(tokio::spawn(async move {
            let request = app
                .request(reqwest::Method::PATCH, &path, Some(&app.admin))
                .header("if-match", etag)
                .json(&json!({ "name": format!("admin-{n}") }));
            (n, app.send(request).await)
        }));
    }
    let mut winners = Vec::new();
    for edit in edits {
        let (n, reply) = edit.await.expect("an edit");
        match reply.status.as_u16() {
            200 => winners.push(n),
            412 => {
                reply.expect_problem(412, "PRECONDITION_FAILED");
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.json["name"], format!("admin-{}", winners[0]));
    assert_eq!(
        app.events(&tenant, "action=key.updated").await.len(),
        1,
        "one edit, one event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_never_exceed_max_keys_per_user() {
    let app = Arc::new(spawn_app().await);
    app.create_tenant(
        "limited",
        json!({ "api_keys_enabled": true, "max_keys_per_user": 3 }),
    )
    .await;
    let dev = app
        .create_user("limited", "Dev", &["developer"], true)
        .await;
    let mut creations = Vec::new();
    for n in 0..12 {
        let (app, token) = (app.clone(), dev.token.clone());
        creations.push(tokio::spawn(async move {
            app.try_create_key("limited", &token, json!({ "name": format!("k{n}") }))
                .await
        }));
    }
    let mut created = 0;
    for creation in creations {
        let reply = creation.await.expect("a creation");
        if reply.status == 201 {
            created += 1;
        } else {
            reply.expect_problem(409, "KEY_LIMIT_REACHED");
        }
    }
    assert_eq!(created, 3);
    assert_eq!(app.list_keys("limited", "").await["total"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_with_one_idempotency_key_create_one_key() {
    let app = Arc::new(spawn_app().await);
    let tenant = app.enabled_tenant("acme").await;
    let mut retries = Vec::new();
    for _ in 0..8 {
        let (app, tenant) = (app.clone(), tenant.clone());
        retries.push(tokio::spawn(async move {
            let request = app
                .request(
                    reqwest::Method::POST,
                    &format!("/v1/tenants/{tenant}/keys"),
                    Some(&app.admin),
                )
                .header("idempotency-key", "retry-storm")
                .json(&json!({ "name": "once" }));
            app.send(request).await
        }));
    }
    let (mut new, mut replayed, mut ids) = (0, 0, HashSet::new());
    for retry in retries {
        let reply = retry.await.expect("a retry");
        match reply.status.as_u16() {
            201 => new += 1,
            200 => {
                assert_eq!(reply.header("idempotent-replayed"), Some("true"));
                assert!(reply.json["secret"].is_null());
                replayed += 1;
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
        ids.insert(reply.json["key"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!((new, replayed, ids.len()), (1, 7, 1));
    assert_eq!(app.list_keys(&tenant, "").await["total"], 1);
}

/// A client that sends a revoke and hangs up at once (Ctrl-C on curl, a
/// timeout) must not leave the key verifying: whenever the revoke reached
/// the database, the very next verification answers REVOKED.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoke_whose_client_hung_up_still_stops_the_key_verifying() {
    use tokio::io::AsyncWriteExt;

    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut revoked = 0;
    for round in 0..20 {
        let key = app
            .create_key(
                &tenant,
                &app.admin,
                json!({ "name": format!("hangup-{round}") }),
            )
            .await;
        assert_eq!(app.verify(&key.secret).await, "VALID", "cached as valid");
        let request = format!(
            "POST /v1/tenants/{tenant}/keys/{}/revoke HTTP/1.1\r\nHost: {address}\r\n\
             Authorization: Bearer {}\r\nContent-Length: 0\r\n\r\n",
            key.id, app.admin
        );
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        // Hang up at varying moments: before, during and after the write.
        tokio::time::sleep(Duration::from_micros(500 * (round % 20))).await;
        drop(socket);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stored = app.get_key(&tenant, &key.id).await.expect(200);
        let code = app.verify(&key.secret).await;
        match stored.json["status"].as_str().unwrap() {
            "revoked" => {
                revoked += 1;
                assert_eq!(
                    code, "REVOKED",
                    "round {round}: revoked in the store, {code} at verify"
                );
            }
            "active" => assert_eq!(code, "VALID", "round {round}"),
            other => panic!("round {round}: status {other}"),
        }
    }
    assert!(
        revoked > 0,
        "no revoke reached the server: the test proved nothing"
    );
}
