//! Authentication with a management token: the scheme as RFC 9110 reads
//! it, `WWW-Authenticate` on every 401, failed attempts counted, logged
//! (without the token) and slowed down per address, and a bootstrap token
//! long enough to withstand guessing.

use std::time::Instant;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{ServerProcess, TestApp, spawn_app};

#[tokio::test]
async fn the_bearer_scheme_is_matched_whatever_its_case() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let request = app
            .request(Method::GET, "/v1/me", None)
            .header("authorization", format!("{scheme} {}", app.admin));
        let reply = app.send(request).await;
        assert_eq!(reply.status, 200, "{scheme}: {}", reply.text);
    }
    // Another scheme, or none, is no token.
    for value in [format!("Basic {}", app.admin), app.admin.clone()] {
        let request = app
            .request(Method::GET, "/v1/me", None)
            .header("authorization", value);
        app.send(request)
            .await
            .expect_problem(401, "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn every_401_asks_for_a_bearer_token() {
    let app = spawn_app().await;
    let requests = [
        app.request(Method::GET, "/v1/me", None),
        app.request(Method::GET, "/v1/tenants", Some("kdm_not_a_token")),
        app.request(Method::POST, "/v1/tenants", None)
            .json(&json!({ "id": "acme", "name": "Acme" })),
        app.request(Method::GET, "/v1/me", None)
            .header("authorization", "Basic YWRtaW46YWRtaW4="),
    ];
    for request in requests {
        let reply = app
            .send(request)
            .await
            .expect_problem(401, "UNAUTHENTICATED");
        let challenge = reply.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer"),
            "WWW-Authenticate: {challenge:?}"
        );
    }
}

/// The failed token attempts `/metrics` reports.
async fn failures_counted(app: &TestApp) -> u64 {
    let metrics = app
        .send(app.request(Method::GET, "/metrics", None))
        .await
        .expect(200);
    metrics
        .text
        .lines()
        .find_map(|line| line.strip_prefix("keydesk_auth_failures_total "))
        .unwrap_or_else(|| panic!("no keydesk_auth_failures_total in {}", metrics.text))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn failed_token_attempts_are_counted_in_the_metrics() {
    let app = spawn_app().await;
    assert_eq!(failures_counted(&app).await, 0);
    for n in 0..3 {
        app.get("/v1/me", &format!("kdm_guess_{n}"))
            .await
            .expect_problem(401, "UNAUTHENTICATED");
    }
    // A request without a token is no attempt; a valid token is none either.
    app.send(app.request(Method::GET, "/v1/me", None))
        .await
        .expect(401);
    app.get("/v1/me", &app.admin).await.expect(200);
    assert_eq!(failures_counted(&app).await, 3);
}

#[tokio::test]
async fn repeated_failures_from_one_address_slow_down_every_attempt_from_it() {
    let app = spawn_app().await;
    // As README says: 10 failures a minute go free; each attempt after
    // them waits 100 ms more than the last (at most 2 s).
    let threshold = 10;
    let step = std::time::Duration::from_millis(100);
    let started = Instant::now();
    for n in 0..threshold {
        app.get("/v1/me", &format!("kdm_guess_{n}"))
            .await
            .expect(401);
    }
    // The free attempts are not held back (a generous bound for a busy machine).
    assert!(
        started.elapsed() < step * threshold,
        "{threshold} first failures took {:?}",
        started.elapsed()
    );
    let timed = |token: String| {
        let app = &app;
        async move {
            let started = Instant::now();
            let reply = app.get("/v1/me", &token).await;
            (started.elapsed(), reply.status.as_u16())
        }
    };
    let (took, status) = timed("kdm_one_guess_too_many".to_owned()).await;
    assert_eq!(status, 401);
    assert!(took >= step, "a failure past the free ones took {took:?}");
    // Held back before the token is looked at, so a fast answer tells a
    // guesser nothing; a right token from that address waits as well.
    let (took, status) = timed(app.admin.clone()).await;
    assert_eq!(status, 200);
    assert!(took >= step * 2, "the next attempt took {took:?}");
    // Verification takes no management token and is never held back.
    let started = Instant::now();
    app.verify_body(json!({ "key": "kd_nothing" })).await;
    assert!(started.elapsed() < step, "{:?}", started.elapsed());
}

#[tokio::test]
async fn failed_attempts_are_logged_without_the_token_and_not_once_each() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data.path(), logs.path(), "serve").await;
    let app = TestApp::connect(&server.base, data.path());
    let guesses: Vec<String> = (0..8).map(|n| format!("kdm_guess_{n}_Zx81qQ")).collect();
    for guess in &guesses {
        app.get("/v1/me", guess).await.expect(401);
    }
    server.kill();
    let output = server.logs();
    let lines: Vec<&str> = output
        .lines()
        .filter(|line| line.contains("management token refused"))
        .collect();
    assert!(
        !lines.is_empty() && lines.len() < guesses.len(),
        "{} log lines for {} failures:\n{output}",
        lines.len(),
        guesses.len()
    );
    assert!(lines[0].contains("127.0.0.1"), "{}", lines[0]);
    for guess in &guesses {
        assert!(!output.contains(guess.as_str()), "the log holds a token");
    }
}

#[tokio::test]
async fn a_bootstrap_token_shorter_than_32_characters_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    let store: Box<dyn keydesk::store::Store> = match crate::backend::database_for(data.path()) {
        Some(url) => Box::new(
            keydesk::store::postgres::PgStore::connect(&url)
                .await
                .unwrap(),
        ),
        None => Box::new(
            keydesk::store::sqlite::SqliteStore::open(&data.path().join("keydesk.db")).unwrap(),
        ),
    };
    let keyring = keydesk::domain::Keyring::from_pepper(crate::helpers::PEPPER.as_bytes()).unwrap();
    let short = "kdm_".to_owned() + &"x".repeat(27);
    assert_eq!(short.len(), 31);
    let Err(refusal) = keydesk::server::bootstrap(store.as_ref(), &keyring, Some(&short)).await
    else {
        panic!("a 31-character bootstrap token was accepted");
    };
    let message = format!("{refusal:#}");
    assert!(
        message.contains("KEYDESK_BOOTSTRAP_TOKEN") && message.contains("32"),
        "{message}"
    );
    let long = "kdm_".to_owned() + &"x".repeat(28);
    keydesk::server::bootstrap(store.as_ref(), &keyring, Some(&long))
        .await
        .unwrap();
}
