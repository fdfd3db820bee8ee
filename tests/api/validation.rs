//! Bad input answers a 4xx `application/problem+json` and writes nothing:
//! malformed JSON, wrong types, unknown fields and enum values, oversized
//! bodies, names with escape codes, missing or bad tokens, unknown routes
//! and methods. (`TestApp::send` also asserts that nothing answers 5xx.)

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// The tenant `acme` (keys on), one key, and the number of events so far.
async fn setup(app: &TestApp) -> (String, String) {
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(
            &tenant,
            &app.admin,
            json!({ "name": "existing", "scopes": ["read"] }),
        )
        .await;
    (tenant, key.id)
}

/// Everything the tenant holds, to compare before and after.
async fn snapshot(app: &TestApp, tenant: &str) -> Value {
    let keys = app.list_keys(tenant, "limit=1000").await;
    let events = app.events(tenant, "").await;
    let settings = app.settings(tenant).await.json;
    let users = app
        .get(&format!("/v1/tenants/{tenant}/users"), &app.admin)
        .await
        .expect(200)
        .json;
    let tenants = app.get("/v1/tenants", &app.admin).await.expect(200).json;
    json!({ "keys": keys, "events": events, "settings": settings, "users": users, "tenants": tenants })
}

async fn raw(app: &TestApp, method: Method, path: &str, body: &str) -> crate::helpers::Reply {
    app.send(
        app.request(method, path, Some(&app.admin))
            .header("content-type", "application/json")
            .body(body.to_owned()),
    )
    .await
}

#[tokio::test]
async fn malformed_json_wrong_types_and_unknown_fields_are_refused_and_write_nothing() {
    let app = spawn_app().await;
    let (tenant, id) = setup(&app).await;
    let before = snapshot(&app, &tenant).await;
    let keys = format!("/v1/tenants/{tenant}/keys");
    let key = format!("{keys}/{id}");
    let settings = format!("/v1/tenants/{tenant}/settings");
    let users = format!("/v1/tenants/{tenant}/users");

    // (method, target, body, status, code); targets: keys, key, settings, users, tenants, verify.
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        ("POST", "keys", r#"{"name": "x""#, 400, "MALFORMED_JSON"),
        ("POST", "keys", "not json", 400, "MALFORMED_JSON"),
        ("POST", "keys", r#"{"name": "x"} trailing"#, 400, "MALFORMED_JSON"),
        ("PATCH", "key", "{", 400, "MALFORMED_JSON"),
        ("PATCH", "settings", r#"{"api_keys_enabled": tru"#, 400, "MALFORMED_JSON"),
        ("POST", "verify", "{key:}", 400, "MALFORMED_JSON"),
        // Wrong types and missing fields.
        ("POST", "keys", r#"{"name": 5}"#, 422, "VALIDATION_FAILED"),
        ("POST", "keys", r#"{"name": "x", "scopes": "read"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "keys", r#"{"name": "x", "expires_at": "tomorrow"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "keys", r#"{"description": "no name"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "keys", "[]", 422, "VALIDATION_FAILED"),
        ("PATCH", "key", r#"{"name": ["x"]}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"api_keys_enabled": "no"}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"max_keys_per_user": -1}"#, 422, "VALIDATION_FAILED"),
        ("POST", "verify", r#"{"key": 5}"#, 422, "VALIDATION_FAILED"),
        ("POST", "verify", "{}", 422, "VALIDATION_FAILED"),
        // Unknown fields: a typo is an error, not a silent no-op.
        ("POST", "keys", r#"{"name": "x", "colour": "red"}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "key", r#"{"nmae": "typo"}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"api_keys_enabeld": false}"#, 422, "VALIDATION_FAILED"),
        ("POST", "users", r#"{"name": "A", "email": "a@example.com", "admin": true}"#, 422, "VALIDATION_FAILED"),
        ("POST", "tenants", r#"{"id": "new", "name": "N", "plan": "gold"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "verify", r#"{"key": "kd_x", "scopes": ["read"]}"#, 422, "VALIDATION_FAILED"),
        // Unknown enum values.
        ("PATCH", "settings", r#"{"key_creators": "x"}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"secret_retrieval": "sometimes"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "users", r#"{"name": "W", "email": "w@example.com", "roles": ["wizard"]}"#, 422, "VALIDATION_FAILED"),
        // Values out of range.
        ("PATCH", "settings", r#"{"max_expiry_days": 0}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"max_expiry_days": 100000}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"max_keys_per_user": 0}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"key_prefix": "K_D"}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"key_prefix": ""}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"scopes": ["Read Me"]}"#, 422, "VALIDATION_FAILED"),
        ("PATCH", "settings", r#"{"scopes": ["read", "read"]}"#, 422, "VALIDATION_FAILED"),
        ("POST", "keys", r#"{"name": "x", "scopes": ["nope"]}"#, 422, "UNKNOWN_SCOPE"),
        ("PATCH", "key", r#"{"scopes": ["nope"]}"#, 422, "UNKNOWN_SCOPE"),
        ("POST", "keys", r#"{"name": "x", "scopes": ["read", "read"]}"#, 422, "VALIDATION_FAILED"),
        ("POST", "keys", r#"{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "keys", r#"{"name": "x", "owner": "usr_nobody"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "users", r#"{"name": "A", "email": "not-an-address"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "users", r#"{"name": "A", "email": "a@example.com", "roles": ["system_admin"]}"#, 422, "VALIDATION_FAILED"),
        ("POST", "tenants", r#"{"id": "Bad_Id", "name": "N"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "tenants", r#"{"id": "x", "name": "N"}"#, 422, "VALIDATION_FAILED"),
        ("POST", "tenants", r#"{"id": "acme", "name": "Again"}"#, 409, "TENANT_EXISTS"),
    ];
    for &(method, target, body, status, code) in cases {
        let path = match target {
            "keys" => keys.as_str(),
            "key" => key.as_str(),
            "settings" => settings.as_str(),
            "users" => users.as_str(),
            "tenants" => "/v1/tenants",
            _ => "/v1/verify",
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let reply = raw(&app, method.clone(), path, body).await;
        assert_eq!(
            reply.status, status,
            "{method} {path} {body}: {}",
            reply.text
        );
        reply.expect_problem(status, code);
    }
    assert_eq!(
        snapshot(&app, &tenant).await,
        before,
        "a refused request wrote something"
    );
}

#[tokio::test]
async fn unknown_query_values_are_refused() {
    let app = spawn_app().await;
    let (tenant, _) = setup(&app).await;
    let keys = format!("/v1/tenants/{tenant}/keys");
    let events = format!("/v1/tenants/{tenant}/events");
    for (path, status, code) in [
        (format!("{keys}?status=bogus"), 422, "VALIDATION_FAILED"),
        (format!("{keys}?sort=colour"), 422, "VALIDATION_FAILED"),
        (format!("{keys}?limit=0"), 422, "VALIDATION_FAILED"),
        (format!("{keys}?limit=1001"), 422, "VALIDATION_FAILED"),
        (format!("{keys}?cursor=garbage"), 422, "VALIDATION_FAILED"),
        (format!("{keys}?limit=ten"), 400, "INVALID_QUERY"),
        (
            format!("{events}?action=key.exploded"),
            422,
            "VALIDATION_FAILED",
        ),
        (
            format!("{events}?cursor=yesterday"),
            422,
            "VALIDATION_FAILED",
        ),
        (format!("{events}?limit=-5"), 400, "INVALID_QUERY"),
    ] {
        let reply = app.get(&path, &app.admin).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text);
        reply.expect_problem(status, code);
    }
    // A cursor from one sort is refused by another.
    for n in 0..3 {
        app.create_key(&tenant, &app.admin, json!({ "name": format!("k{n}") }))
            .await;
    }
    let page = app.list_keys(&tenant, "sort=name&limit=1").await;
    let cursor = page["next_cursor"].as_str().expect("a next page");
    app.get(&format!("{keys}?sort=-created&cursor={cursor}"), &app.admin)
        .await
        .expect_problem(422, "VALIDATION_FAILED");
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_with_413() {
    let app = spawn_app().await;
    let (tenant, id) = setup(&app).await;
    let before = snapshot(&app, &tenant).await;
    let huge = "x".repeat(70 * 1024);
    for (method, path, body) in [
        (
            Method::POST,
            format!("/v1/tenants/{tenant}/keys"),
            json!({ "name": "big", "description": huge }),
        ),
        (
            Method::PATCH,
            format!("/v1/tenants/{tenant}/keys/{id}"),
            json!({ "description": huge }),
        ),
        (
            Method::PATCH,
            format!("/v1/tenants/{tenant}/settings"),
            json!({ "scopes": [huge] }),
        ),
        (
            Method::POST,
            "/v1/verify".to_owned(),
            json!({ "key": huge }),
        ),
    ] {
        let reply = app
            .send(
                app.request(method.clone(), &path, Some(&app.admin))
                    .json(&body),
            )
            .await;
        assert_eq!(reply.status, 413, "{method} {path}: {}", reply.text);
        reply.expect_problem(413, "BODY_TOO_LARGE");
    }
    assert_eq!(snapshot(&app, &tenant).await, before);
}

#[tokio::test]
async fn names_that_are_empty_too_long_or_hold_escape_codes_are_refused() {
    let app = spawn_app().await;
    let (tenant, id) = setup(&app).await;
    let user = app.create_user(&tenant, "Ana", &["viewer"], true).await.id;
    let before = snapshot(&app, &tenant).await;
    let bad_names = [
        String::new(),
        "   ".to_owned(),
        "n".repeat(101),
        "evil\u{1b}[2Jname".to_owned(),
        "\u{1b}]52;c;cHduZWQ=\u{7}".to_owned(),
        "two\nlines".to_owned(),
        "nul\u{0}byte".to_owned(),
        "c1\u{9b}2Jcsi".to_owned(),
    ];
    for name in &bad_names {
        let requests = [
            (
                Method::POST,
                format!("/v1/tenants/{tenant}/keys"),
                json!({ "name": name }),
            ),
            (
                Method::PATCH,
                format!("/v1/tenants/{tenant}/keys/{id}"),
                json!({ "name": name }),
            ),
            (
                Method::POST,
                format!("/v1/tenants/{tenant}/users"),
                json!({ "name": name, "email": "x@example.com" }),
            ),
            (
                Method::PATCH,
                format!("/v1/tenants/{tenant}/users/{user}"),
                json!({ "name": name }),
            ),
            (
                Method::POST,
                "/v1/tenants".to_owned(),
                json!({ "id": "other", "name": name }),
            ),
        ];
        for (method, path, body) in requests {
            let reply = app
                .send(
                    app.request(method.clone(), &path, Some(&app.admin))
                        .json(&body),
                )
                .await;
            assert_eq!(
                reply.status, 422,
                "{method} {path} {name:?}: {}",
                reply.text
            );
            reply.expect_problem(422, "VALIDATION_FAILED");
        }
    }
    for description in ["\u{1b}[31mred".to_owned(), "d".repeat(1001)] {
        app.patch(
            &format!("/v1/tenants/{tenant}/keys/{id}"),
            &app.admin,
            json!({ "description": description }),
        )
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    }
    assert_eq!(snapshot(&app, &tenant).await, before);

    // The limits themselves are allowed: 100 characters, newlines in descriptions.
    let edited = app
        .patch(
            &format!("/v1/tenants/{tenant}/keys/{id}"),
            &app.admin,
            json!({ "name": "n".repeat(100), "description": "line one\nline two" }),
        )
        .await
        .expect(200);
    assert_eq!(edited.json["name"], "n".repeat(100));
}

#[tokio::test]
async fn a_missing_or_bad_token_answers_401() {
    let app = spawn_app().await;
    let (tenant, id) = setup(&app).await;
    let before = snapshot(&app, &tenant).await;
    let paths = [
        (Method::GET, "/v1/me".to_owned()),
        (Method::GET, "/v1/tenants".to_owned()),
        (Method::GET, format!("/v1/tenants/{tenant}/keys")),
        (Method::POST, format!("/v1/tenants/{tenant}/keys")),
        (
            Method::POST,
            format!("/v1/tenants/{tenant}/keys/{id}/revoke"),
        ),
        (Method::DELETE, format!("/v1/tenants/{tenant}/keys/{id}")),
        (Method::PATCH, format!("/v1/tenants/{tenant}/settings")),
        (Method::GET, format!("/v1/tenants/{tenant}/events")),
    ];
    for (method, path) in paths {
        let body = json!({ "name": "x" });
        let unauthenticated = [
            app.client.request(method.clone(), app.url(&path)),
            app.client
                .request(method.clone(), app.url(&path))
                .bearer_auth("kdm_not_a_real_token_000000000000"),
            app.client
                .request(method.clone(), app.url(&path))
                .header("authorization", format!("Basic {}", app.admin)),
            app.client
                .request(method.clone(), app.url(&path))
                .header("authorization", "Bearer "),
        ];
        for request in unauthenticated {
            let reply = app.send(request.json(&body)).await;
            assert_eq!(reply.status, 401, "{method} {path}: {}", reply.text);
            reply.expect_problem(401, "UNAUTHENTICATED");
        }
    }
    assert_eq!(snapshot(&app, &tenant).await, before);
}

#[tokio::test]
async fn an_unknown_route_answers_404_and_a_wrong_method_405() {
    let app = spawn_app().await;
    let (tenant, id) = setup(&app).await;
    for path in [
        "/",
        "/v2/me",
        "/v1/tenants/acme/keys/x/y/z",
        "/v1/tenants/acme/widgets",
        "/v1/verify/now",
    ] {
        let reply = app.get(path, &app.admin).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        let reply = reply.expect_problem(404, "NOT_FOUND");
        assert!(
            reply.detail().starts_with("no such route"),
            "{path}: {}",
            reply.text
        );
    }
    for (method, path) in [
        (Method::PUT, format!("/v1/tenants/{tenant}/keys/{id}")),
        (Method::DELETE, "/v1/verify".to_owned()),
        (Method::GET, "/v1/verify".to_owned()),
        (Method::POST, "/v1/me".to_owned()),
        (Method::DELETE, format!("/v1/tenants/{tenant}/settings")),
        (
            Method::GET,
            format!("/v1/tenants/{tenant}/keys/{id}/revoke"),
        ),
        (Method::PUT, "/healthz".to_owned()),
    ] {
        let reply = app
            .send(app.request(method.clone(), &path, Some(&app.admin)))
            .await;
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.text);
        let allow = reply.header("allow").unwrap_or_default().to_owned();
        assert!(
            !allow.is_empty() && !allow.split(',').any(|m| m == method.as_str()),
            "{method} {path}: Allow {allow:?}"
        );
        reply.expect_problem(405, "METHOD_NOT_ALLOWED");
    }
    assert_eq!(
        app.verify(
            &app.create_key(&tenant, &app.admin, json!({"name": "k"}))
                .await
                .secret
        )
        .await,
        "VALID"
    );
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_refused() {
    let app = spawn_app().await;
    let (tenant, _) = setup(&app).await;
    let reply = app
        .send(
            app.request(
                Method::POST,
                &format!("/v1/tenants/{tenant}/keys"),
                Some(&app.admin),
            )
            .header("content-type", "text/plain")
            .body(r#"{"name": "x"}"#),
        )
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.text);
    crate::helpers::assert_problem_shape(&reply);
    let reply = app
        .send(
            app.request(
                Method::POST,
                &format!("/v1/tenants/{tenant}/keys"),
                Some(&app.admin),
            )
            .header("idempotency-key", "")
            .json(&json!({ "name": "x" })),
        )
        .await;
    reply.expect_problem(400, "INVALID_HEADER");
    assert_eq!(app.list_keys(&tenant, "").await["total"], 1);
}

/// Issue 8 #14 (found by the fuzzer): a body is a JSON object, and lists
/// appear only where a list of strings is documented; serde alone would
/// read a settings change or a user edit from `[null, null]`.
#[tokio::test]
async fn a_body_that_is_a_list_or_holds_one_where_an_object_belongs_is_refused() {
    let app = crate::helpers::spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let settings = format!("/v1/tenants/{tenant}/settings");
    for body in [
        serde_json::json!([null, null]),
        serde_json::json!({ "rate_limit": [10, 60] }),
        serde_json::json!({ "scopes": [null] }),
    ] {
        app.patch(&settings, &app.admin, body.clone())
            .await
            .expect_problem(422, "VALIDATION_FAILED");
    }
    app.post(
        "/v1/tenants",
        &app.admin,
        serde_json::json!({ "id": "listed", "name": "Listed", "settings": [null, null] }),
    )
    .await
    .expect_problem(422, "VALIDATION_FAILED");
    // Lists where they belong still work.
    app.patch(
        &settings,
        &app.admin,
        serde_json::json!({ "scopes": ["a:read"] }),
    )
    .await
    .expect(200);
}
