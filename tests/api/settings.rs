//! Each tenant setting's rule (SPEC §2), and "new keys only": changing a
//! limit or the prefix leaves existing keys verifying and unchanged.

use serde_json::json;

use crate::helpers::{Reply, in_days, spawn_app};

#[tokio::test]
async fn a_new_tenant_has_the_documented_defaults_and_keys_switched_off() {
    let app = spawn_app().await;
    app.create_tenant("fresh", json!({})).await;
    let settings = app.settings("fresh").await;
    let s = &settings.json;
    assert_eq!(s["api_keys_enabled"], false);
    assert!(s["max_expiry_days"].is_null());
    assert!(s["max_keys_per_user"].is_null());
    assert_eq!(s["key_creators"], "developers");
    assert_eq!(s["scopes_editable"], true);
    assert_eq!(s["revoke_requires_disabled"], false);
    assert_eq!(s["secret_retrieval"], "never");
    assert_eq!(s["key_prefix"], "kd");
    assert!(!s["scopes"].as_array().unwrap().is_empty());
    assert_eq!(settings.etag(), format!("\"{}\"", s["version"]));

    app.try_create_key("fresh", &app.admin, json!({ "name": "k" }))
        .await
        .expect_problem(409, "API_KEYS_DISABLED");
    assert_eq!(app.list_keys("fresh", "").await["total"], 0);

    // A tenant admin switches them on.
    let admin = app
        .create_user("fresh", "Ada", &["tenant_admin", "developer"], true)
        .await;
    app.patch_settings("fresh", &admin.token, json!({ "api_keys_enabled": true }))
        .await
        .expect(200);
    let key = app
        .create_key("fresh", &admin.token, json!({ "name": "k" }))
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
}

#[tokio::test]
async fn max_expiry_days_requires_an_expiry_within_the_limit() {
    let app = spawn_app().await;
    app.create_tenant(
        "bounded",
        json!({ "api_keys_enabled": true, "max_expiry_days": 30 }),
    )
    .await;
    app.try_create_key("bounded", &app.admin, json!({ "name": "forever" }))
        .await
        .expect_problem(422, "EXPIRY_REQUIRED");
    app.try_create_key(
        "bounded",
        &app.admin,
        json!({ "name": "too-long", "expires_at": in_days(31) }),
    )
    .await
    .expect_problem(422, "EXPIRY_TOO_LONG");
    assert_eq!(app.list_keys("bounded", "").await["total"], 0);

    let key = app
        .create_key(
            "bounded",
            &app.admin,
            json!({ "name": "month", "expires_at": in_days(29) }),
        )
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
}

#[tokio::test]
async fn max_keys_per_user_counts_live_keys_and_not_revoked_ones() {
    let app = spawn_app().await;
    app.create_tenant(
        "limited",
        json!({ "api_keys_enabled": true, "max_keys_per_user": 2 }),
    )
    .await;
    let dev = app
        .create_user("limited", "Dev", &["developer"], true)
        .await;
    let peer = app
        .create_user("limited", "Peer", &["developer"], true)
        .await;
    let first = app
        .create_key("limited", &dev.token, json!({ "name": "one" }))
        .await;
    app.create_key("limited", &dev.token, json!({ "name": "two" }))
        .await;
    app.try_create_key("limited", &dev.token, json!({ "name": "three" }))
        .await
        .expect_problem(409, "KEY_LIMIT_REACHED");
    app.act("limited", &dev.token, &first.id, "duplicate")
        .await
        .expect_problem(409, "KEY_LIMIT_REACHED");

    // A disabled key is still live.
    app.act("limited", &dev.token, &first.id, "disable")
        .await
        .expect(200);
    app.try_create_key("limited", &dev.token, json!({ "name": "three" }))
        .await
        .expect_problem(409, "KEY_LIMIT_REACHED");
    assert_eq!(app.list_keys("limited", "").await["total"], 2);

    // The limit is per user.
    app.create_key("limited", &peer.token, json!({ "name": "peer" }))
        .await;

    // A revoked key does not count.
    app.act("limited", &dev.token, &first.id, "revoke")
        .await
        .expect(200);
    app.create_key("limited", &dev.token, json!({ "name": "three" }))
        .await;
    app.try_create_key("limited", &dev.token, json!({ "name": "four" }))
        .await
        .expect_problem(409, "KEY_LIMIT_REACHED");
}

#[tokio::test]
async fn only_system_admins_create_keys_when_key_creators_is_system_admins() {
    let app = spawn_app().await;
    app.create_tenant(
        "onboarding",
        json!({ "api_keys_enabled": true, "key_creators": "system_admins" }),
    )
    .await;
    let dev = app
        .create_user("onboarding", "Dev", &["developer"], true)
        .await;
    let boss = app
        .create_user("onboarding", "Boss", &["tenant_admin", "developer"], true)
        .await;
    let refused = |reply: Reply| {
        let reply = reply.expect_problem(403, "FORBIDDEN");
        assert!(
            reply.detail().contains("system administrators"),
            "{}",
            reply.text
        );
    };
    for user in [&dev, &boss] {
        refused(
            app.try_create_key("onboarding", &user.token, json!({ "name": "mine" }))
                .await,
        );
    }
    let key = app
        .create_key(
            "onboarding",
            &app.admin,
            json!({ "name": "for-dev", "owner": dev.id }),
        )
        .await;
    assert_eq!(key.key["owner"]["id"], dev.id.as_str());
    // Duplicating and regenerating make a secret as creating does: refused
    // for the owner too, who still manages the key otherwise.
    for action in ["duplicate", "regenerate"] {
        refused(app.act("onboarding", &dev.token, &key.id, action).await);
    }
    assert_eq!(app.list_keys("onboarding", "").await["total"], 1);
    assert_eq!(app.verify(&key.secret).await, "VALID");
    app.act("onboarding", &dev.token, &key.id, "disable")
        .await
        .expect(200);
    app.act("onboarding", &app.admin, &key.id, "regenerate")
        .await
        .expect(200);
}

#[tokio::test]
async fn scopes_are_fixed_at_creation_when_scopes_editable_is_false() {
    let app = spawn_app().await;
    app.create_tenant(
        "fixed",
        json!({ "api_keys_enabled": true, "scopes_editable": false }),
    )
    .await;
    let key = app
        .create_key(
            "fixed",
            &app.admin,
            json!({ "name": "k", "scopes": ["read"] }),
        )
        .await;
    let path = format!("/v1/tenants/fixed/keys/{}", key.id);
    app.patch(&path, &app.admin, json!({ "scopes": ["read", "write"] }))
        .await
        .expect_problem(409, "SCOPES_FIXED");
    app.patch(
        &path,
        &app.admin,
        json!({ "name": "renamed", "scopes": ["write"] }),
    )
    .await
    .expect_problem(409, "SCOPES_FIXED");
    let read = app.get_key("fixed", &key.id).await.expect(200);
    assert_eq!(read.json["scopes"], json!(["read"]));
    assert_eq!(read.json["name"], "k", "a refused edit changes nothing");
    assert_eq!(read.etag(), key.etag);
    assert_eq!(
        app.verify_scope(&key.secret, "write").await,
        "INSUFFICIENT_SCOPE"
    );

    // Renaming is still allowed, also with the unchanged scopes in the body.
    let renamed = app
        .patch(
            &path,
            &app.admin,
            json!({ "name": "renamed", "scopes": ["read"] }),
        )
        .await
        .expect(200);
    assert_eq!(renamed.json["name"], "renamed");
}

#[tokio::test]
async fn revoke_requires_disabled_refuses_to_revoke_an_active_key() {
    let app = spawn_app().await;
    app.create_tenant(
        "gateway",
        json!({ "api_keys_enabled": true, "revoke_requires_disabled": true }),
    )
    .await;
    let key = app
        .create_key("gateway", &app.admin, json!({ "name": "merchant" }))
        .await;
    app.act("gateway", &app.admin, &key.id, "revoke")
        .await
        .expect_problem(409, "REVOKE_REQUIRES_DISABLED");
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(
        app.get_key("gateway", &key.id).await.expect(200).json["status"],
        "active"
    );

    app.act("gateway", &app.admin, &key.id, "disable")
        .await
        .expect(200);
    app.act("gateway", &app.admin, &key.id, "revoke")
        .await
        .expect(200);
    assert_eq!(app.verify(&key.secret).await, "REVOKED");
}

#[tokio::test]
async fn switching_secret_retrieval_to_never_erases_stored_secrets() {
    let app = spawn_app().await;
    app.create_tenant(
        "copyable",
        json!({ "api_keys_enabled": true, "secret_retrieval": "admins" }),
    )
    .await;
    let key = app
        .create_key("copyable", &app.admin, json!({ "name": "k" }))
        .await;
    let revealed = app
        .act("copyable", &app.admin, &key.id, "reveal")
        .await
        .expect(200);
    assert_eq!(revealed.json["secret"], key.secret.as_str());

    app.patch_settings(
        "copyable",
        &app.admin,
        json!({ "secret_retrieval": "never" }),
    )
    .await
    .expect(200);
    app.act("copyable", &app.admin, &key.id, "reveal")
        .await
        .expect_problem(409, "SECRET_NOT_RETRIEVABLE");

    // Switching back does not bring the erased secret back.
    app.patch_settings(
        "copyable",
        &app.admin,
        json!({ "secret_retrieval": "admins" }),
    )
    .await
    .expect(200);
    app.act("copyable", &app.admin, &key.id, "reveal")
        .await
        .expect_problem(409, "SECRET_NOT_STORED");
    assert_eq!(
        app.get_key("copyable", &key.id).await.expect(200).json["secret_retrievable"],
        false
    );
    assert_eq!(app.verify(&key.secret).await, "VALID");

    // A key regenerated now is stored again.
    let regenerated = app
        .act("copyable", &app.admin, &key.id, "regenerate")
        .await
        .expect(200);
    let fresh = regenerated.json["secret"].as_str().unwrap();
    let revealed = app
        .act("copyable", &app.admin, &key.id, "reveal")
        .await
        .expect(200);
    assert_eq!(revealed.json["secret"], fresh);
}

#[tokio::test]
async fn key_prefix_applies_to_new_secrets_only() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let old = app
        .create_key(&tenant, &app.admin, json!({ "name": "old" }))
        .await;
    assert!(old.secret.starts_with("kd_"));

    app.patch_settings(&tenant, &app.admin, json!({ "key_prefix": "acme" }))
        .await
        .expect(200);
    let new = app
        .create_key(&tenant, &app.admin, json!({ "name": "new" }))
        .await;
    assert!(new.secret.starts_with("acme_"), "{}", new.secret);
    assert!(new.key["start"].as_str().unwrap().starts_with("acme_"));
    assert_eq!(app.verify(&new.secret).await, "VALID");

    assert_eq!(app.verify(&old.secret).await, "VALID");
    let unchanged = app.get_key(&tenant, &old.id).await.expect(200);
    assert_eq!(unchanged.json["start"], old.key["start"]);
    assert_eq!(unchanged.etag(), old.etag);
}

#[tokio::test]
async fn lowering_limits_leaves_existing_keys_verifying_and_unchanged() {
    let app = spawn_app().await;
    app.create_tenant(
        "tightened",
        json!({ "api_keys_enabled": true, "max_expiry_days": 90 }),
    )
    .await;
    let dev = app
        .create_user("tightened", "Dev", &["developer"], true)
        .await;
    let mut keys = Vec::new();
    for n in 0..3 {
        keys.push(
            app.create_key(
                "tightened",
                &dev.token,
                json!({ "name": format!("k{n}"), "expires_at": in_days(60) }),
            )
            .await,
        );
    }

    app.patch_settings(
        "tightened",
        &app.admin,
        json!({ "max_expiry_days": 7, "max_keys_per_user": 1 }),
    )
    .await
    .expect(200);

    for key in &keys {
        assert_eq!(app.verify(&key.secret).await, "VALID");
        let read = app.get_key("tightened", &key.id).await.expect(200);
        assert_eq!(read.json["expires_at"], key.key["expires_at"]);
        assert_eq!(read.json["status"], "active");
        assert_eq!(read.etag(), key.etag);
    }
    // New keys meet the new limits.
    app.try_create_key(
        "tightened",
        &dev.token,
        json!({ "name": "new", "expires_at": in_days(6) }),
    )
    .await
    .expect_problem(409, "KEY_LIMIT_REACHED");
    let peer = app
        .create_user("tightened", "Peer", &["developer"], true)
        .await;
    app.try_create_key(
        "tightened",
        &peer.token,
        json!({ "name": "new", "expires_at": in_days(8) }),
    )
    .await
    .expect_problem(422, "EXPIRY_TOO_LONG");
    app.create_key(
        "tightened",
        &peer.token,
        json!({ "name": "new", "expires_at": in_days(6) }),
    )
    .await;
}

#[tokio::test]
async fn a_settings_change_is_answered_with_the_new_settings_and_etag() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let before = app.settings(&tenant).await;
    let after = app
        .patch_settings(
            &tenant,
            &app.admin,
            json!({ "max_expiry_days": 14, "scopes": ["read", "payments:write"] }),
        )
        .await
        .expect(200);
    assert_eq!(after.json["max_expiry_days"], 14);
    assert_eq!(after.json["scopes"], json!(["read", "payments:write"]));
    assert_ne!(after.etag(), before.etag());
    let read = app.settings(&tenant).await;
    assert_eq!(read.json, after.json);
    assert_eq!(read.etag(), after.etag());

    // `null` clears a limit.
    let cleared = app
        .patch_settings(&tenant, &app.admin, json!({ "max_expiry_days": null }))
        .await
        .expect(200);
    assert!(cleared.json["max_expiry_days"].is_null());
    // A scope the tenant no longer offers cannot be granted.
    app.try_create_key(
        &tenant,
        &app.admin,
        json!({ "name": "k", "scopes": ["write"] }),
    )
    .await
    .expect_problem(422, "UNKNOWN_SCOPE");
}
