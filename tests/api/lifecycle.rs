//! The whole life of a key through HTTP (SPEC §2 status machine, §3 routes):
//! create, read, edit, disable, enable, revoke, regenerate, duplicate,
//! reveal, delete, and every verification code.

use serde_json::json;

use crate::helpers::{in_days, in_seconds, spawn_app};

#[tokio::test]
async fn creating_a_key_answers_201_with_the_secret_once_an_etag_and_a_location() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let dev = app.create_user(&tenant, "Ana", &["developer"], true).await;

    let reply = app
        .try_create_key(
            &tenant,
            &dev.token,
            json!({ "name": "billing-sync", "description": "nightly export", "scopes": ["read"] }),
        )
        .await
        .expect(201);
    let key = &reply.json["key"];
    let id = key["id"].as_str().unwrap().to_owned();
    let secret = reply.json["secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("key_"), "{id}");
    assert!(secret.starts_with("kd_"), "{secret}");
    assert!(secret.starts_with(key["start"].as_str().unwrap()));
    assert_eq!(key["status"], "active");
    assert_eq!(key["owner"]["id"], dev.id.as_str());
    assert_eq!(key["created_by"]["id"], dev.id.as_str());
    assert_eq!(key["scopes"], json!(["read"]));
    assert_eq!(reply.etag(), format!("\"{}\"", key["version"]));
    let location = reply.header("location").expect("a Location header");
    assert_eq!(location, format!("/v1/tenants/{tenant}/keys/{id}"));

    // The secret is shown once: neither the key nor the list carries it again.
    let read = app.get(location, &dev.token).await.expect(200);
    assert_eq!(read.json["id"], id.as_str());
    assert_eq!(read.json["name"], "billing-sync");
    assert_eq!(read.json["description"], "nightly export");
    assert_eq!(read.etag(), reply.etag());
    assert!(!read.text.contains(&secret));
    let list = app
        .get(&format!("/v1/tenants/{tenant}/keys"), &dev.token)
        .await
        .expect(200);
    assert_eq!(list.json["total"], 1);
    assert!(!list.text.contains(&secret));

    let verified = app.verify_body(json!({ "key": secret })).await;
    assert_eq!(verified["code"], "VALID");
    assert_eq!(verified["key_id"], id.as_str());
    assert_eq!(verified["tenant"], tenant.as_str());
    assert_eq!(verified["owner"], dev.id.as_str());
    assert_eq!(verified["scopes"], json!(["read"]));
}

#[tokio::test]
async fn editing_a_key_changes_its_name_description_and_scopes_and_its_etag() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(
            &tenant,
            &app.admin,
            json!({ "name": "ci", "scopes": ["read"] }),
        )
        .await;

    let edited = app
        .patch(
            &format!("/v1/tenants/{tenant}/keys/{}", key.id),
            &app.admin,
            json!({ "name": "ci-deploy", "description": "deploys", "scopes": ["read", "write"] }),
        )
        .await
        .expect(200);
    assert_eq!(edited.json["name"], "ci-deploy");
    assert_eq!(edited.json["description"], "deploys");
    assert_eq!(edited.json["scopes"], json!(["read", "write"]));
    assert_ne!(edited.etag(), key.etag);
    assert_eq!(edited.etag(), format!("\"{}\"", edited.json["version"]));

    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.json["name"], "ci-deploy");
    assert_eq!(read.json["scopes"], json!(["read", "write"]));
    assert_eq!(read.etag(), edited.etag());
    assert_eq!(app.verify_scope(&key.secret, "write").await, "VALID");
}

#[tokio::test]
async fn disabling_a_key_stops_verification_and_enabling_restores_it() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "k" }))
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");

    let disabled = app
        .act(&tenant, &app.admin, &key.id, "disable")
        .await
        .expect(200);
    assert_eq!(disabled.json["status"], "disabled");
    assert_eq!(app.verify(&key.secret).await, "DISABLED");
    app.act(&tenant, &app.admin, &key.id, "disable")
        .await
        .expect_problem(409, "KEY_ALREADY_DISABLED");

    let enabled = app
        .act(&tenant, &app.admin, &key.id, "enable")
        .await
        .expect(200);
    assert_eq!(enabled.json["status"], "active");
    assert_eq!(app.verify(&key.secret).await, "VALID");
    app.act(&tenant, &app.admin, &key.id, "enable")
        .await
        .expect_problem(409, "KEY_ALREADY_ACTIVE");
}

#[tokio::test]
async fn revoking_a_key_makes_the_next_verification_fail() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let admin_id = app.admin_id().await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "leaked" }))
        .await;
    // Verified once, so the verification cache holds it as valid.
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(app.verify(&key.secret).await, "VALID");

    let revoked = app
        .act(&tenant, &app.admin, &key.id, "revoke")
        .await
        .expect(200);
    assert_eq!(revoked.json["status"], "revoked");
    assert_eq!(revoked.json["revoked_by"]["id"], admin_id.as_str());
    assert!(revoked.json["revoked_at"].is_string());
    assert_eq!(app.verify(&key.secret).await, "REVOKED");

    // A disabled key may be revoked too.
    let other = app
        .create_key(&tenant, &app.admin, json!({ "name": "other" }))
        .await;
    app.act(&tenant, &app.admin, &other.id, "disable")
        .await
        .expect(200);
    app.act(&tenant, &app.admin, &other.id, "revoke")
        .await
        .expect(200);
    assert_eq!(app.verify(&other.secret).await, "REVOKED");
}

#[tokio::test]
async fn a_revoked_key_is_terminal_stays_listed_and_can_only_be_deleted() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(
            &tenant,
            &app.admin,
            json!({ "name": "gone", "scopes": ["read"] }),
        )
        .await;
    let revoked = app
        .act(&tenant, &app.admin, &key.id, "revoke")
        .await
        .expect(200);
    let version = revoked.json["version"].clone();
    let path = format!("/v1/tenants/{tenant}/keys/{}", key.id);

    for action in [
        "enable",
        "disable",
        "revoke",
        "regenerate",
        "duplicate",
        "reveal",
    ] {
        let reply = app.act(&tenant, &app.admin, &key.id, action).await;
        assert_eq!(reply.status, 409, "{action}: {}", reply.text);
        reply.expect_problem(409, "KEY_REVOKED");
    }
    app.patch(&path, &app.admin, json!({ "name": "back" }))
        .await
        .expect_problem(409, "KEY_REVOKED");
    app.patch(&path, &app.admin, json!({ "scopes": ["read", "write"] }))
        .await
        .expect_problem(409, "KEY_REVOKED");

    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.json["status"], "revoked");
    assert_eq!(read.json["name"], "gone");
    assert_eq!(read.json["version"], version, "nothing changed");
    let list = app.list_keys(&tenant, "").await;
    assert_eq!(list["total"], 1, "a duplicate was refused, so one key");
    assert_eq!(list["items"][0]["id"], key.id.as_str());
    assert_eq!(list["items"][0]["status"], "revoked");
    assert_eq!(app.verify(&key.secret).await, "REVOKED");

    app.delete(&path, &app.admin).await.expect(204);
    app.get_key(&tenant, &key.id)
        .await
        .expect_problem(404, "NOT_FOUND");
}

#[tokio::test]
async fn regenerating_a_key_invalidates_the_old_secret_at_once() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(
            &tenant,
            &app.admin,
            json!({ "name": "rotating", "scopes": ["write"] }),
        )
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");

    let reply = app
        .act(&tenant, &app.admin, &key.id, "regenerate")
        .await
        .expect(200);
    let fresh = reply.json["secret"]
        .as_str()
        .expect("the new secret")
        .to_owned();
    assert_ne!(fresh, key.secret);
    assert!(fresh.starts_with("kd_"));
    let regenerated = &reply.json["key"];
    assert_eq!(regenerated["id"], key.id.as_str());
    assert_eq!(regenerated["name"], "rotating");
    assert_eq!(regenerated["scopes"], json!(["write"]));
    assert_eq!(regenerated["created_at"], key.key["created_at"]);
    assert!(fresh.starts_with(regenerated["start"].as_str().unwrap()));
    assert_ne!(reply.etag(), key.etag);

    assert_eq!(app.verify(&key.secret).await, "NOT_FOUND");
    let verified = app.verify_body(json!({ "key": fresh })).await;
    assert_eq!(verified["code"], "VALID");
    assert_eq!(verified["key_id"], key.id.as_str());
    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert!(!read.text.contains(&fresh), "the new secret is shown once");
}

#[tokio::test]
async fn duplicating_a_key_gives_a_new_id_and_secret_with_the_same_presets() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let dev = app.create_user(&tenant, "Bo", &["developer"], true).await;
    let source = app
        .create_key(
            &tenant,
            &app.admin,
            json!({
                "name": "payments", "description": "card capture",
                "scopes": ["read", "write"], "expires_at": in_days(10), "owner": dev.id,
            }),
        )
        .await;

    let reply = app
        .act(&tenant, &dev.token, &source.id, "duplicate")
        .await
        .expect(201);
    let copy = &reply.json["key"];
    let secret = reply.json["secret"].as_str().expect("a new secret");
    assert_ne!(copy["id"], source.id.as_str());
    assert_ne!(secret, source.secret);
    assert_eq!(copy["name"], "payments (copy)");
    assert_eq!(copy["description"], "card capture");
    assert_eq!(copy["scopes"], json!(["read", "write"]));
    assert_eq!(copy["owner"]["id"], dev.id.as_str());
    assert_eq!(copy["status"], "active");
    let lifetime = |key: &serde_json::Value| {
        let parse = |field: &str| {
            chrono::DateTime::parse_from_rfc3339(key[field].as_str().unwrap()).unwrap()
        };
        parse("expires_at") - parse("created_at")
    };
    let difference = (lifetime(copy) - lifetime(&source.key)).num_seconds().abs();
    assert!(difference <= 2, "same expiry length, off by {difference} s");

    assert_eq!(app.verify(secret).await, "VALID");
    assert_eq!(app.verify(&source.secret).await, "VALID");
    assert_eq!(app.list_keys(&tenant, "").await["total"], 2);
}

#[tokio::test]
async fn revealing_a_secret_needs_secret_retrieval_admins_and_is_audited() {
    let app = spawn_app().await;
    app.create_tenant(
        "stored",
        json!({ "api_keys_enabled": true, "secret_retrieval": "admins" }),
    )
    .await;
    let never = app.enabled_tenant("never").await;
    let admin_id = app.admin_id().await;

    let key = app
        .create_key("stored", &app.admin, json!({ "name": "copyable" }))
        .await;
    assert_eq!(key.key["secret_retrievable"], true);
    let revealed = app
        .act("stored", &app.admin, &key.id, "reveal")
        .await
        .expect(200);
    assert_eq!(revealed.json["id"], key.id.as_str());
    assert_eq!(revealed.json["secret"], key.secret.as_str());
    let events = app
        .events(
            "stored",
            &format!("key={}&action=key.secret_revealed", key.id),
        )
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"]["id"], admin_id.as_str());
    assert_eq!(events[0]["target_id"], key.id.as_str());
    assert!(!events[0].to_string().contains(&key.secret));

    let once = app
        .create_key(&never, &app.admin, json!({ "name": "shown-once" }))
        .await;
    assert_eq!(once.key["secret_retrievable"], false);
    app.act(&never, &app.admin, &once.id, "reveal")
        .await
        .expect_problem(409, "SECRET_NOT_RETRIEVABLE");
    assert!(
        app.events(&never, "action=key.secret_revealed")
            .await
            .is_empty(),
        "a refused reveal writes no event"
    );
}

#[tokio::test]
async fn deleting_a_key_answers_204_then_404_and_keeps_its_audit_events() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "temporary" }))
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
    let path = format!("/v1/tenants/{tenant}/keys/{}", key.id);

    let deleted = app.delete(&path, &app.admin).await.expect(204);
    assert!(deleted.text.is_empty());
    app.get(&path, &app.admin)
        .await
        .expect_problem(404, "NOT_FOUND");
    app.delete(&path, &app.admin)
        .await
        .expect_problem(404, "NOT_FOUND");
    app.act(&tenant, &app.admin, &key.id, "enable")
        .await
        .expect_problem(404, "NOT_FOUND");
    assert_eq!(app.verify(&key.secret).await, "NOT_FOUND");
    assert_eq!(app.list_keys(&tenant, "").await["total"], 0);

    let events = app.events(&tenant, &format!("key={}", key.id)).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["key.deleted", "key.created"]);
    assert_eq!(events[0]["target_name"], "temporary");
}

#[tokio::test]
async fn malformed_and_unknown_secrets_verify_as_not_found() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "real" }))
        .await;

    // One character changed: the checksum no longer matches.
    let mut tampered: Vec<char> = key.secret.chars().collect();
    let i = 6;
    tampered[i] = if tampered[i] == 'a' { 'b' } else { 'a' };
    let tampered: String = tampered.into_iter().collect();
    // Well formed, correct checksum, never issued.
    let prefix = keydesk::domain::KeyPrefix::parse("kd").unwrap();
    let unknown = keydesk::domain::Secret::generate(&prefix);

    for candidate in [
        "",
        "hello",
        "kd_",
        "kd_short",
        tampered.as_str(),
        &format!("{}x", key.secret),
        unknown.expose(),
    ] {
        let answer = app.verify_body(json!({ "key": candidate })).await;
        assert_eq!(answer["code"], "NOT_FOUND", "{candidate:?}");
        assert_eq!(answer["valid"], false);
        assert!(answer["key_id"].is_null());
    }
    assert_eq!(app.verify(&key.secret).await, "VALID");
}

#[tokio::test]
async fn a_key_past_its_expiry_verifies_as_expired_and_refuses_lifecycle_changes() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(
            &tenant,
            &app.admin,
            json!({ "name": "short-lived", "expires_at": in_seconds(2) }),
        )
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");

    let expires_at = chrono::DateTime::parse_from_rfc3339(key.key["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let wait = (expires_at - chrono::Utc::now()).num_milliseconds() + 100;
    if wait > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(wait.unsigned_abs())).await;
    }

    assert_eq!(app.verify(&key.secret).await, "EXPIRED");
    assert_eq!(
        app.get_key(&tenant, &key.id).await.expect(200).json["status"],
        "expired"
    );
    for action in ["disable", "regenerate"] {
        app.act(&tenant, &app.admin, &key.id, action)
            .await
            .expect_problem(409, "KEY_EXPIRED");
    }
    assert_eq!(app.verify(&key.secret).await, "EXPIRED");
}

#[tokio::test]
async fn switching_keys_off_for_a_tenant_makes_its_keys_verify_as_tenant_disabled() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "k" }))
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");

    app.patch_settings(&tenant, &app.admin, json!({ "api_keys_enabled": false }))
        .await
        .expect(200);
    assert_eq!(app.verify(&key.secret).await, "TENANT_DISABLED");
    app.try_create_key(&tenant, &app.admin, json!({ "name": "new" }))
        .await
        .expect_problem(409, "API_KEYS_DISABLED");

    app.patch_settings(&tenant, &app.admin, json!({ "api_keys_enabled": true }))
        .await
        .expect(200);
    assert_eq!(app.verify(&key.secret).await, "VALID");
}

#[tokio::test]
async fn a_scope_the_key_lacks_verifies_as_insufficient_scope() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(
            &tenant,
            &app.admin,
            json!({ "name": "reader", "scopes": ["read"] }),
        )
        .await;
    assert_eq!(app.verify_scope(&key.secret, "read").await, "VALID");
    let answer = app
        .verify_body(json!({ "key": key.secret, "scope": "write" }))
        .await;
    assert_eq!(answer["code"], "INSUFFICIENT_SCOPE");
    assert_eq!(answer["valid"], false);
    // Nothing about the key to a caller without a token of its tenant.
    assert_eq!(answer["key_id"], serde_json::Value::Null);
    assert_eq!(app.verify(&key.secret).await, "VALID", "no scope asked");
}

#[tokio::test]
async fn verifications_are_counted_in_usage_and_last_used() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(
            &tenant,
            &app.admin,
            json!({ "name": "busy", "scopes": ["read"] }),
        )
        .await;
    assert!(key.key["last_used_at"].is_null());
    assert_eq!(key.key["usage_24h"], json!({ "valid": 0, "failed": 0 }));
    for _ in 0..3 {
        assert_eq!(app.verify(&key.secret).await, "VALID");
    }
    assert_eq!(
        app.verify_scope(&key.secret, "write").await,
        "INSUFFICIENT_SCOPE"
    );
    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.json["usage_24h"], json!({ "valid": 3, "failed": 1 }));
    let last_used = read.json["last_used_at"].clone();
    assert!(last_used.is_string(), "{}", read.text);

    // Once the counters are written to the database, nothing is counted twice.
    tokio::time::sleep(
        keydesk::server::usage::FLUSH_INTERVAL + std::time::Duration::from_millis(500),
    )
    .await;
    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.json["usage_24h"], json!({ "valid": 3, "failed": 1 }));
    assert_eq!(read.json["last_used_at"], last_used);
    let listed = app.list_keys(&tenant, "").await;
    assert_eq!(
        listed["items"][0]["usage_24h"],
        json!({ "valid": 3, "failed": 1 })
    );
    assert_eq!(read.etag(), key.etag, "usage is not an edit");
}

/// SPEC §2/§3: `POST …/regenerate {grace_seconds}` — "both secrets verify
/// until the grace ends". (More of rotation in `rotation`.)
#[tokio::test]
async fn regenerating_with_a_grace_period_keeps_the_old_secret_verifying_until_it_ends() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "rotating" }))
        .await;
    let reply = app
        .post(
            &format!("/v1/tenants/{tenant}/keys/{}/regenerate", key.id),
            &app.admin,
            json!({ "grace_seconds": 2 }),
        )
        .await
        .expect(200);
    let fresh = reply.json["secret"].as_str().unwrap().to_owned();
    assert!(
        reply.json["key"]["rotating_until"].is_string(),
        "the grace period is shown: {}",
        reply.text
    );
    assert_eq!(app.verify(&fresh).await, "VALID");
    assert_eq!(
        app.verify(&key.secret).await,
        "VALID",
        "the old secret verifies during the grace period"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    assert_ne!(app.verify(&key.secret).await, "VALID");
    assert_eq!(app.verify(&fresh).await, "VALID");
}
