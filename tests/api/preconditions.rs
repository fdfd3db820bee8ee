//! Lost updates and retries (SPEC §3): a stale `If-Match` is refused with
//! 412 and changes nothing; an `Idempotency-Key` retry creates nothing new.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app};

async fn with_if_match(
    app: &TestApp,
    method: Method,
    path: &str,
    etag: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .request(method, path, Some(&app.admin))
        .header("if-match", etag);
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.send(request).await
}

#[tokio::test]
async fn a_stale_if_match_on_a_key_edit_is_refused_with_412_and_changes_nothing() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "shared" }))
        .await;
    let path = format!("/v1/tenants/{tenant}/keys/{}", key.id);

    // Two admins read the key; the first edits it.
    let first = with_if_match(
        &app,
        Method::PATCH,
        &path,
        &key.etag,
        Some(json!({ "name": "first" })),
    )
    .await
    .expect(200);
    assert_ne!(first.etag(), key.etag);
    // The second still holds the old ETag.
    with_if_match(
        &app,
        Method::PATCH,
        &path,
        &key.etag,
        Some(json!({ "name": "second" })),
    )
    .await
    .expect_problem(412, "PRECONDITION_FAILED");
    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.json["name"], "first");
    assert_eq!(read.etag(), first.etag());

    // With the current ETag (or `*`) the edit goes through.
    let second = with_if_match(
        &app,
        Method::PATCH,
        &path,
        &first.etag(),
        Some(json!({ "name": "second" })),
    )
    .await
    .expect(200);
    assert_eq!(second.json["name"], "second");
    with_if_match(
        &app,
        Method::PATCH,
        &path,
        "*",
        Some(json!({ "name": "third" })),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_stale_if_match_on_revoke_disable_and_delete_is_refused_and_the_key_keeps_working() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "k" }))
        .await;
    let path = format!("/v1/tenants/{tenant}/keys/{}", key.id);
    let current = app
        .patch(&path, &app.admin, json!({ "description": "changed" }))
        .await
        .expect(200)
        .etag();

    for (method, target) in [
        (Method::POST, format!("{path}/revoke")),
        (Method::POST, format!("{path}/disable")),
        (Method::POST, format!("{path}/regenerate")),
        (Method::DELETE, path.clone()),
    ] {
        let reply = with_if_match(&app, method.clone(), &target, &key.etag, None).await;
        assert_eq!(reply.status, 412, "{method} {target}: {}", reply.text);
        reply.expect_problem(412, "PRECONDITION_FAILED");
        assert_eq!(app.verify(&key.secret).await, "VALID", "{method} {target}");
    }
    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.etag(), current);
    assert_eq!(read.json["status"], "active");

    let revoked = with_if_match(
        &app,
        Method::POST,
        &format!("{path}/revoke"),
        &current,
        None,
    )
    .await
    .expect(200);
    assert_eq!(revoked.json["status"], "revoked");
    assert_eq!(app.verify(&key.secret).await, "REVOKED");
    with_if_match(&app, Method::DELETE, &path, &revoked.etag(), None)
        .await
        .expect(204);
}

#[tokio::test]
async fn a_stale_if_match_on_settings_is_refused_with_412_and_changes_nothing() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let path = format!("/v1/tenants/{tenant}/settings");
    let read = app.settings(&tenant).await;
    let stale = read.etag();

    let first = with_if_match(
        &app,
        Method::PATCH,
        &path,
        &stale,
        Some(json!({ "max_keys_per_user": 5 })),
    )
    .await
    .expect(200);
    assert_ne!(first.etag(), stale);
    with_if_match(
        &app,
        Method::PATCH,
        &path,
        &stale,
        Some(json!({ "api_keys_enabled": false, "max_keys_per_user": 50 })),
    )
    .await
    .expect_problem(412, "PRECONDITION_FAILED");
    let now = app.settings(&tenant).await;
    assert_eq!(now.json, first.json, "nothing changed");
    assert_eq!(now.json["api_keys_enabled"], true);
    assert_eq!(now.json["max_keys_per_user"], 5);

    let second = with_if_match(
        &app,
        Method::PATCH,
        &path,
        &first.etag(),
        Some(json!({ "max_keys_per_user": 50 })),
    )
    .await
    .expect(200);
    assert_eq!(second.json["max_keys_per_user"], 50);
}

#[tokio::test]
async fn retrying_a_creation_with_the_same_idempotency_key_creates_one_key() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let body = json!({ "name": "ci", "scopes": ["read"] });
    let create = || {
        app.request(
            Method::POST,
            &format!("/v1/tenants/{tenant}/keys"),
            Some(&app.admin),
        )
        .header("idempotency-key", "deploy-42")
        .json(&body)
    };

    let first = app.send(create()).await.expect(201);
    assert!(first.header("idempotent-replayed").is_none());
    let id = first.json["key"]["id"].as_str().unwrap().to_owned();
    let secret = first.json["secret"].as_str().unwrap().to_owned();

    let replay = app.send(create()).await.expect(200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.json["key"]["id"], id.as_str());
    assert!(
        replay.json["secret"].is_null(),
        "the secret is shown once: {}",
        replay.text
    );
    assert!(!replay.text.contains(&secret));

    let list = app.list_keys(&tenant, "").await;
    assert_eq!(list["total"], 1);
    assert_eq!(app.events(&tenant, "action=key.created").await.len(), 1);
    assert_eq!(app.verify(&secret).await, "VALID");

    // The same key with another body is refused, and creates nothing.
    let other = app
        .send(
            app.request(
                Method::POST,
                &format!("/v1/tenants/{tenant}/keys"),
                Some(&app.admin),
            )
            .header("idempotency-key", "deploy-42")
            .json(&json!({ "name": "something else" })),
        )
        .await;
    other.expect_problem(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.list_keys(&tenant, "").await["total"], 1);

    // Another Idempotency-Key is another creation.
    app.send(
        app.request(
            Method::POST,
            &format!("/v1/tenants/{tenant}/keys"),
            Some(&app.admin),
        )
        .header("idempotency-key", "deploy-43")
        .json(&body),
    )
    .await
    .expect(201);
    assert_eq!(app.list_keys(&tenant, "").await["total"], 2);
}
