//! Verification that a service can trust (issue 8, points 8–10): bound to a
//! tenant by the request or by a verifier token, closed to the world with
//! `--verify-auth required`, saying nothing about a key unless it is valid
//! or the caller is authenticated for its tenant, and rate-limited per key.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, ServerProcess, TestApp, TestUser, spawn_app};

/// Two tenants with keys on, each with a tenant admin and a key.
struct World {
    acme_admin: TestUser,
    acme_dev: TestUser,
    acme_key: crate::helpers::NewKey,
    globex_admin: TestUser,
    globex_key: crate::helpers::NewKey,
}

async fn world(app: &TestApp) -> World {
    app.enabled_tenant("acme").await;
    app.enabled_tenant("globex").await;
    let acme_admin = app
        .create_user("acme", "Adele", &["tenant_admin"], true)
        .await;
    let acme_dev = app.create_user("acme", "Ana", &["developer"], true).await;
    let globex_admin = app
        .create_user("globex", "Gus", &["tenant_admin"], true)
        .await;
    let globex_dev = app
        .create_user("globex", "Hana", &["developer"], true)
        .await;
    let acme_key = app
        .create_key(
            "acme",
            &acme_dev.token,
            json!({ "name": "billing", "scopes": ["read"] }),
        )
        .await;
    let globex_key = app
        .create_key("globex", &globex_dev.token, json!({ "name": "ledger" }))
        .await;
    World {
        acme_admin,
        acme_dev,
        acme_key,
        globex_admin,
        globex_key,
    }
}

/// POSTs a verification with `token` (none: anonymous); any status.
async fn verify_as(app: &TestApp, token: Option<&str>, body: Value) -> Reply {
    app.send(app.request(Method::POST, "/v1/verify", token).json(&body))
        .await
}

/// The answer carries nothing about the key: no id, tenant, owner, scopes or expiry.
#[track_caller]
fn assert_says_nothing(answer: &Value) {
    for field in ["key_id", "tenant", "owner", "expires_at"] {
        assert_eq!(answer[field], Value::Null, "{field} in {answer}");
    }
    assert_eq!(answer["scopes"], json!([]), "{answer}");
}

async fn create_verifier(app: &TestApp, tenant: &str, token: &str, name: &str) -> Reply {
    app.post(
        &format!("/v1/tenants/{tenant}/verifiers"),
        token,
        json!({ "name": name }),
    )
    .await
}

// ------------------------------------------------------------ point 8

#[tokio::test]
async fn a_verification_bound_to_a_tenant_refuses_a_key_of_another_tenant() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let bound = |tenant: &str| json!({ "key": w.acme_key.secret, "tenant": tenant });

    let answer = app.verify_body(bound("acme")).await;
    assert_eq!(answer["code"], "VALID");
    assert_eq!(answer["tenant"], "acme");
    let answer = app.verify_body(bound("globex")).await;
    assert_eq!(answer["code"], "NOT_FOUND", "{answer}");
    assert_says_nothing(&answer);
    // Cached by now: the binding is judged on every answer, not only on a miss.
    assert_eq!(app.verify_body(bound("globex")).await["code"], "NOT_FOUND");
    // A tenant that does not exist is as foreign as any other.
    assert_eq!(app.verify_body(bound("nowhere")).await["code"], "NOT_FOUND");
    // Not a tenant id at all: the request is refused, not answered.
    verify_as(&app, None, bound("Not A Slug"))
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    // Unbound, as before.
    assert_eq!(app.verify(&w.globex_key.secret).await, "VALID");
}

#[tokio::test]
async fn a_verifier_token_verifies_its_tenants_keys_and_does_nothing_else() {
    let app = spawn_app().await;
    let w = world(&app).await;

    let created = create_verifier(&app, "acme", &w.acme_admin.token, "checkout-service")
        .await
        .expect(201);
    let token = created.json["token"]
        .as_str()
        .expect("the token, once")
        .to_owned();
    let id = created.json["verifier"]["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("kdv_"), "{token}");
    assert!(id.starts_with("ver_"), "{id}");
    assert_eq!(created.json["verifier"]["name"], "checkout-service");
    assert_eq!(created.json["verifier"]["tenant"], "acme");
    assert_eq!(
        created.json["verifier"]["created_by"]["id"],
        w.acme_admin.id.as_str()
    );
    let listed = app
        .get("/v1/tenants/acme/verifiers", &w.acme_admin.token)
        .await
        .expect(200);
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    assert!(!listed.text.contains(&token), "a token is shown once");
    // The other tenant neither sees nor lists it.
    let theirs = app
        .get("/v1/tenants/globex/verifiers", &w.globex_admin.token)
        .await
        .expect(200);
    assert_eq!(theirs.json["items"], json!([]));

    // It verifies acme's keys, with everything about them…
    let answer = verify_as(&app, Some(&token), json!({ "key": w.acme_key.secret }))
        .await
        .expect(200);
    assert_eq!(answer.json["code"], "VALID");
    assert_eq!(answer.json["key_id"], w.acme_key.id.as_str());
    // …and no other tenant's, whatever the request says.
    for body in [
        json!({ "key": w.globex_key.secret }),
        json!({ "key": w.globex_key.secret, "tenant": "globex" }),
    ] {
        let answer = verify_as(&app, Some(&token), body).await.expect(200);
        assert_eq!(answer.json["code"], "NOT_FOUND", "{}", answer.text);
        assert_says_nothing(&answer.json);
    }

    // Every other route refuses it as it refuses any token that is not a management token.
    for (method, path) in [
        (Method::GET, "/v1/me".to_owned()),
        (Method::GET, "/v1/tenants/acme/keys".to_owned()),
        (Method::GET, "/v1/tenants/acme/verifiers".to_owned()),
        (Method::POST, "/v1/keys/lookup".to_owned()),
        (
            Method::POST,
            format!("/v1/tenants/acme/keys/{}/revoke", w.acme_key.id),
        ),
    ] {
        let reply = app
            .send(
                app.request(method.clone(), &path, Some(&token))
                    .json(&json!({})),
            )
            .await;
        reply.expect_problem(401, "UNAUTHENTICATED");
    }
    assert_eq!(app.verify(&w.acme_key.secret).await, "VALID", "not revoked");

    // Revoked, it stops at once; the log holds both events, never the token.
    app.delete(
        &format!("/v1/tenants/acme/verifiers/{id}"),
        &w.acme_admin.token,
    )
    .await
    .expect(204);
    verify_as(&app, Some(&token), json!({ "key": w.acme_key.secret }))
        .await
        .expect_problem(401, "UNAUTHENTICATED");
    app.delete(
        &format!("/v1/tenants/acme/verifiers/{id}"),
        &w.acme_admin.token,
    )
    .await
    .expect_problem(404, "NOT_FOUND");
    let events = app.events("acme", "").await;
    let actions: Vec<&str> = events
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("verifier."))
        .collect();
    assert_eq!(actions, ["verifier.revoked", "verifier.created"]);
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(&token[4..]), "no token in the log");
}

#[tokio::test]
async fn only_a_tenant_admin_manages_verifiers_and_only_in_their_tenant() {
    let app = spawn_app().await;
    let w = world(&app).await;
    create_verifier(&app, "acme", &w.acme_dev.token, "mine")
        .await
        .expect_problem(403, "FORBIDDEN");
    create_verifier(&app, "globex", &w.acme_admin.token, "theirs")
        .await
        .expect_problem(404, "NOT_FOUND");
    let theirs = create_verifier(&app, "globex", &w.globex_admin.token, "ledger-api")
        .await
        .expect(201);
    let id = theirs.json["verifier"]["id"].as_str().unwrap();
    // Another tenant's verifier is not there to be revoked.
    app.delete(
        &format!("/v1/tenants/acme/verifiers/{id}"),
        &w.acme_admin.token,
    )
    .await
    .expect_problem(404, "NOT_FOUND");
    app.delete(
        &format!("/v1/tenants/globex/verifiers/{id}"),
        &w.acme_admin.token,
    )
    .await
    .expect_problem(404, "NOT_FOUND");
    app.delete(
        &format!("/v1/tenants/globex/verifiers/{id}"),
        &w.acme_dev.token,
    )
    .await
    .expect_problem(404, "NOT_FOUND");
    create_verifier(&app, "acme", &w.acme_admin.token, " ")
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    // The system administrator manages them everywhere.
    create_verifier(&app, "acme", &app.admin, "from-root")
        .await
        .expect(201);
}

#[tokio::test]
async fn required_verify_auth_closes_verification_to_callers_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with_env(
        dir.path(),
        logs.path(),
        "verify-auth",
        &[("KEYDESK_VERIFY_AUTH", "required")],
    )
    .await;
    let app = TestApp::connect(&server.base, dir.path());
    let w = world(&app).await;
    let body = json!({ "key": w.acme_key.secret });

    for token in [None, Some("kdv_not_a_token_at_all"), Some("")] {
        let reply = verify_as(&app, token, body.clone()).await;
        let reply = reply.expect_problem(401, "UNAUTHENTICATED");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer"),
            "{token:?}"
        );
    }
    // A garbage key is refused for its caller before it is looked at.
    verify_as(&app, None, json!({ "key": "kd_nonsense" }))
        .await
        .expect_problem(401, "UNAUTHENTICATED");

    let verifier = create_verifier(&app, "acme", &w.acme_admin.token, "checkout")
        .await
        .expect(201);
    let verifier = verifier.json["token"].as_str().unwrap();
    for token in [
        verifier,
        w.acme_admin.token.as_str(),
        w.acme_dev.token.as_str(),
    ] {
        let answer = verify_as(&app, Some(token), body.clone()).await.expect(200);
        assert_eq!(answer.json["code"], "VALID", "{}", answer.text);
    }
    // A management token of another tenant is a caller, bound to its tenant.
    let answer = verify_as(&app, Some(&w.globex_admin.token), body.clone())
        .await
        .expect(200);
    assert_eq!(answer.json["code"], "NOT_FOUND");
    assert_says_nothing(&answer.json);
    // The system administrator sees every tenant.
    let answer = verify_as(&app, Some(&app.admin), body).await.expect(200);
    assert_eq!(answer.json["code"], "VALID");
}

#[tokio::test]
async fn a_replaced_management_token_stops_verifying_at_once() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let body = json!({ "key": w.acme_key.secret });
    // Twice: the second answer comes from the credential cache.
    for _ in 0..2 {
        let answer = verify_as(&app, Some(&w.acme_admin.token), body.clone())
            .await
            .expect(200);
        assert_eq!(answer.json["code"], "VALID");
    }
    let replaced = app
        .post_empty("/v1/me/token", &w.acme_admin.token)
        .await
        .expect(200);
    verify_as(&app, Some(&w.acme_admin.token), body.clone())
        .await
        .expect_problem(401, "UNAUTHENTICATED");
    let fresh = replaced.json["token"].as_str().unwrap();
    let answer = verify_as(&app, Some(fresh), body).await.expect(200);
    assert_eq!(answer.json["code"], "VALID");
}

#[tokio::test]
async fn optional_verify_auth_still_refuses_a_token_that_is_not_valid() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let reply = verify_as(
        &app,
        Some("kdm_made_up_token_0000000000000000000"),
        json!({ "key": w.acme_key.secret }),
    )
    .await
    .expect_problem(401, "UNAUTHENTICATED");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
}

// ------------------------------------------------------------ point 9

#[tokio::test]
async fn an_answer_that_is_not_valid_says_nothing_about_the_key_to_a_stranger() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // Insufficient scope, then revoked.
    let scoped = json!({ "key": w.acme_key.secret, "scope": "write" });
    let answer = app.verify_body(scoped.clone()).await;
    assert_eq!(answer["code"], "INSUFFICIENT_SCOPE");
    assert_says_nothing(&answer);
    app.act("acme", &w.acme_admin.token, &w.acme_key.id, "revoke")
        .await
        .expect(200);
    let plain = json!({ "key": w.acme_key.secret });
    let answer = app.verify_body(plain.clone()).await;
    assert_eq!(answer["code"], "REVOKED");
    assert_says_nothing(&answer);

    // Authenticated for the key's tenant: the whole answer, to understand the refusal.
    for token in [&w.acme_admin.token, &w.acme_dev.token, &app.admin] {
        let answer = verify_as(&app, Some(token), plain.clone())
            .await
            .expect(200);
        assert_eq!(answer.json["code"], "REVOKED");
        assert_eq!(answer.json["key_id"], w.acme_key.id.as_str());
        assert_eq!(answer.json["tenant"], "acme");
        assert_eq!(answer.json["owner"], w.acme_dev.id.as_str());
        assert_eq!(answer.json["scopes"], json!(["read"]));
    }
    let verifier = create_verifier(&app, "acme", &w.acme_admin.token, "svc")
        .await
        .expect(201);
    let verifier = verifier.json["token"].as_str().unwrap();
    let answer = verify_as(&app, Some(verifier), scoped).await.expect(200);
    assert_eq!(answer.json["code"], "REVOKED");
    assert_eq!(answer.json["key_id"], w.acme_key.id.as_str());
    // Another tenant's caller learns only that it is not theirs.
    let answer = verify_as(&app, Some(&w.globex_admin.token), plain)
        .await
        .expect(200);
    assert_eq!(answer.json["code"], "NOT_FOUND");
    assert_says_nothing(&answer.json);
}

// ------------------------------------------------------------ point 10

async fn set_key_limit(app: &TestApp, token: &str, key: &str, limit: Value) -> Reply {
    app.patch(
        &format!("/v1/tenants/acme/keys/{key}"),
        token,
        json!({ "rate_limit": limit }),
    )
    .await
}

#[tokio::test]
async fn a_key_over_its_rate_limit_is_rate_limited_until_its_window_ends() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let limit = json!({ "requests": 3, "window_seconds": 3600 });
    let edited = set_key_limit(&app, &w.acme_admin.token, &w.acme_key.id, limit.clone())
        .await
        .expect(200);
    assert_eq!(edited.json["rate_limit"], limit);
    assert_eq!(
        app.get_key("acme", &w.acme_key.id).await.json["rate_limit"],
        limit
    );
    let event = &app
        .events("acme", &format!("key={}&action=key.updated", w.acme_key.id))
        .await[0];
    assert_eq!(event["changes"]["rate_limit"]["from"], Value::Null);
    assert_eq!(event["changes"]["rate_limit"]["to"], limit);

    for _ in 0..3 {
        assert_eq!(app.verify(&w.acme_key.secret).await, "VALID");
    }
    let limited = verify_as(&app, None, json!({ "key": w.acme_key.secret }))
        .await
        .expect(200);
    assert_eq!(limited.json["code"], "RATE_LIMITED", "{}", limited.text);
    assert_eq!(limited.json["valid"], false);
    assert_says_nothing(&limited.json);
    let retry = limited.json["retry_after_seconds"]
        .as_u64()
        .expect("retry_after_seconds");
    assert!((3590..=3600).contains(&retry), "{retry}");
    assert_eq!(
        limited.header("retry-after"),
        Some(retry.to_string().as_str())
    );
    // The tenant's admin is told which key it is.
    let limited = verify_as(
        &app,
        Some(&w.acme_admin.token),
        json!({ "key": w.acme_key.secret }),
    )
    .await
    .expect(200);
    assert_eq!(limited.json["code"], "RATE_LIMITED");
    assert_eq!(limited.json["key_id"], w.acme_key.id.as_str());
    // Other keys are not affected; a valid answer has no retry time.
    let other = app.verify_body(json!({ "key": w.globex_key.secret })).await;
    assert_eq!(other["code"], "VALID");
    assert_eq!(other["retry_after_seconds"], Value::Null);

    // Lifting the limit lifts it at once.
    set_key_limit(&app, &w.acme_admin.token, &w.acme_key.id, Value::Null)
        .await
        .expect(200);
    assert_eq!(app.verify(&w.acme_key.secret).await, "VALID");
}

#[tokio::test]
async fn a_tenant_default_rate_limit_applies_to_keys_without_their_own() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let limit = json!({ "requests": 2, "window_seconds": 1 });
    let settings = app
        .patch_settings("acme", &w.acme_admin.token, json!({ "rate_limit": limit }))
        .await
        .expect(200);
    assert_eq!(settings.json["rate_limit"], limit);
    assert_eq!(app.settings("acme").await.json["rate_limit"], limit);
    let roomy = app
        .create_key("acme", &w.acme_dev.token, json!({ "name": "roomy" }))
        .await;
    set_key_limit(
        &app,
        &w.acme_admin.token,
        &roomy.id,
        json!({ "requests": 100, "window_seconds": 60 }),
    )
    .await
    .expect(200);

    assert_eq!(app.verify(&w.acme_key.secret).await, "VALID");
    assert_eq!(app.verify(&w.acme_key.secret).await, "VALID");
    assert_eq!(app.verify(&w.acme_key.secret).await, "RATE_LIMITED");
    for _ in 0..5 {
        assert_eq!(
            app.verify(&roomy.secret).await,
            "VALID",
            "its own limit wins"
        );
    }
    assert_eq!(
        app.verify(&w.globex_key.secret).await,
        "VALID",
        "another tenant"
    );
    // The window closes a second after it opened.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.verify(&w.acme_key.secret).await, "VALID");
}

#[tokio::test]
async fn rate_limits_are_validated_and_set_by_tenant_admins_only() {
    let app = spawn_app().await;
    let w = world(&app).await;
    for bad in [
        json!({ "requests": 0, "window_seconds": 60 }),
        json!({ "requests": 10, "window_seconds": 0 }),
        json!({ "requests": 10, "window_seconds": 86_401 }),
        json!({ "requests": 1_000_001, "window_seconds": 60 }),
        json!({ "requests": 10 }),
        json!({ "requests": 10, "window_seconds": 60, "burst": 3 }),
    ] {
        set_key_limit(&app, &w.acme_admin.token, &w.acme_key.id, bad.clone())
            .await
            .expect(422);
        app.patch_settings("acme", &w.acme_admin.token, json!({ "rate_limit": bad }))
            .await
            .expect(422);
    }
    // The owner may edit their key, but not lift or raise what protects the services.
    set_key_limit(
        &app,
        &w.acme_dev.token,
        &w.acme_key.id,
        json!({ "requests": 5, "window_seconds": 60 }),
    )
    .await
    .expect_problem(403, "FORBIDDEN");
    app.patch_settings(
        "acme",
        &w.acme_dev.token,
        json!({ "rate_limit": { "requests": 5, "window_seconds": 60 } }),
    )
    .await
    .expect_problem(403, "FORBIDDEN");
    let key = app.get_key("acme", &w.acme_key.id).await.expect(200);
    assert_eq!(key.json["rate_limit"], Value::Null);
    assert_eq!(app.settings("acme").await.json["rate_limit"], Value::Null);
}
