//! Retention (issue 8 #15): events and idempotency records past their
//! retention are deleted; events are kept for ever unless a retention is
//! set. The pruning the server runs every few minutes calls this same store
//! operation (`serve --event-retention-days`, `--idempotency-retention-hours`).

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn events_and_idempotency_records_past_their_retention_are_deleted() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let path = format!("/v1/tenants/{tenant}/keys");
    let create = |name: &'static str| {
        app.request(reqwest::Method::POST, &path, Some(&app.admin))
            .header("idempotency-key", "nightly-2026-12-04")
            .json(&json!({ "name": name }))
    };
    let first = app.send(create("once")).await.expect(201);
    let replayed = app.send(create("once")).await.expect(200);
    assert_eq!(replayed.json["key"]["id"], first.json["key"]["id"]);
    assert!(!app.events(&tenant, "").await.is_empty());
    let store = app.store.clone().expect("an in-process server");

    // Events kept for ever (no retention), idempotency records past theirs.
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    store.prune_records(None, now).await.unwrap();
    assert!(
        !app.events(&tenant, "").await.is_empty(),
        "events are kept by default"
    );
    let again = app.send(create("once")).await.expect(201);
    assert_ne!(
        again.json["key"]["id"], first.json["key"]["id"],
        "the record is gone: a new key"
    );

    // With an event retention, old events go.
    store.prune_records(Some(now), now).await.unwrap();
    let after = chrono::Utc::now() + chrono::Duration::seconds(2);
    store.prune_records(Some(after), after).await.unwrap();
    assert!(app.events(&tenant, "").await.is_empty());
}
