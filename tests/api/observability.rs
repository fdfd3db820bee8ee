//! What the server tells about itself, and to whom (issue 8 #15):
//! `/metrics` closed behind a token when one is set, `Server-Timing` only
//! when asked for.

use reqwest::Method;

use crate::helpers::{spawn_app, spawn_app_with};

const METRICS_TOKEN: &str = "metrics-token-for-the-scraper-0123456789";

#[tokio::test]
async fn server_timing_is_sent_only_when_enabled() {
    let quiet = spawn_app().await;
    let reply = quiet
        .send(quiet.request(Method::GET, "/healthz", None))
        .await;
    assert_eq!(reply.header("server-timing"), None);

    let timed = spawn_app_with(|c| c.observability.server_timing = true, None).await;
    let reply = timed
        .send(timed.request(Method::GET, "/healthz", None))
        .await;
    assert!(
        reply
            .header("server-timing")
            .is_some_and(|v| v.starts_with("app;dur=")),
        "{:?}",
        reply.header("server-timing")
    );
}

#[tokio::test]
async fn metrics_behind_a_token_answer_only_that_token() {
    let app = spawn_app_with(
        |c| c.observability.metrics_token = Some(METRICS_TOKEN.to_owned()),
        None,
    )
    .await;
    app.send(app.request(Method::GET, "/metrics", None))
        .await
        .expect_problem(401, "UNAUTHENTICATED");
    app.send(app.request(Method::GET, "/metrics", Some(&app.admin)))
        .await
        .expect_problem(401, "UNAUTHENTICATED");
    let scraped = app
        .send(app.request(Method::GET, "/metrics", Some(METRICS_TOKEN)))
        .await
        .expect(200);
    assert!(scraped.text.contains("keydesk_"), "{}", scraped.text);
    // Health stays open: a load balancer has no token.
    app.send(app.request(Method::GET, "/healthz", None))
        .await
        .expect(200);
}
