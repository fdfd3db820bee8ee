//! Rotation with a grace period (SPEC §2 Regenerate): both secrets verify
//! until the grace ends, then only the new one; `end-rotation` ends it at
//! once; revoke, disable and delete act on both secrets; and under
//! concurrent verifiers nothing stale is VALID once a change was answered.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keydesk::client::{Client, KeyListQuery};
use serde_json::{Value, json};

use crate::concurrency::verify_during;
use crate::helpers::{NewKey, Reply, TestApp, ids_of, spawn_app};

/// Regenerates `key` with `grace_seconds`; returns the reply (200) and the new secret.
async fn rotate(app: &TestApp, tenant: &str, key: &NewKey, grace_seconds: u32) -> (Reply, String) {
    let reply = app
        .post(
            &format!("/v1/tenants/{tenant}/keys/{}/regenerate", key.id),
            &app.admin,
            json!({ "grace_seconds": grace_seconds }),
        )
        .await
        .expect(200);
    let secret = reply.json["secret"].as_str().unwrap().to_owned();
    (reply, secret)
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a time, not {value}"))
        .parse()
        .unwrap()
}

async fn rotating_ids(app: &TestApp, tenant: &str) -> Vec<String> {
    ids_of(&app.list_keys(tenant, "rotating=true").await["items"])
}

#[tokio::test]
async fn both_secrets_verify_during_the_grace_and_only_the_new_one_after_it() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "rotating" }))
        .await;
    let calm = app
        .create_key(&tenant, &app.admin, json!({ "name": "calm" }))
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");

    let asked = Utc::now();
    let (reply, fresh) = rotate(&app, &tenant, &key, 2).await;
    let until = time(&reply.json["key"]["rotating_until"]);
    let grace = until - asked;
    assert!(
        grace > chrono::Duration::milliseconds(1500) && grace <= chrono::Duration::seconds(3),
        "rotating_until is about 2 s away: {grace}"
    );
    assert_eq!(reply.json["key"]["id"], key.id.as_str(), "same key");
    assert!(
        reply.json["key"]["start"]
            .as_str()
            .is_some_and(|s| fresh.starts_with(s))
    );
    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(time(&read.json["rotating_until"]), until);
    assert_eq!(
        app.get_key(&tenant, &calm.id).await.json["rotating_until"],
        Value::Null
    );
    assert_eq!(rotating_ids(&app, &tenant).await, vec![key.id.as_str()]);

    // The old secret was cached as this key before the rotation; both verify now.
    assert_eq!(app.verify(&fresh).await, "VALID");
    assert_eq!(app.verify(&key.secret).await, "VALID");
    let old = app.verify_body(json!({ "key": key.secret })).await;
    assert_eq!(old["key_id"], key.id.as_str());

    let event = &app.events(&tenant, "action=key.regenerated").await[0];
    assert_eq!(event["target_id"], key.id.as_str());
    assert_eq!(event["changes"]["grace_seconds"], 2);
    assert_eq!(time(&event["changes"]["rotating_until"]), until);

    // After the grace: the old secret is unknown, though it is still cached.
    let wait = (until - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(100);
    tokio::time::sleep(wait).await;
    let old = app.verify_body(json!({ "key": key.secret })).await;
    assert_eq!(old["code"], "NOT_FOUND");
    assert_eq!(old["key_id"], Value::Null, "nothing about the key");
    assert_eq!(app.verify(&fresh).await, "VALID");
    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.json["rotating_until"], Value::Null);
    assert!(rotating_ids(&app, &tenant).await.is_empty());
}

#[tokio::test]
async fn ending_a_rotation_early_stops_the_old_secret_at_once() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let dev = app.create_user(&tenant, "Ana", &["developer"], true).await;
    let viewer = app.create_user(&tenant, "Vic", &["viewer"], true).await;
    let key = app.key_for(&tenant, &dev.id, "rotating").await;
    let end = format!("/v1/tenants/{tenant}/keys/{}/end-rotation", key.id);

    // Not rotating: nothing to end.
    app.post_empty(&end, &dev.token)
        .await
        .expect_problem(409, "KEY_NOT_ROTATING");

    let (reply, fresh) = rotate(&app, &tenant, &key, 3600).await;
    let until = time(&reply.json["key"]["rotating_until"]);
    // Both cached, the old one first: ending must forget it too, though
    // the key no longer names it.
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(app.verify(&fresh).await, "VALID");
    app.post_empty(&end, &viewer.token)
        .await
        .expect_problem(403, "FORBIDDEN");
    assert_eq!(
        app.verify(&key.secret).await,
        "VALID",
        "a refusal ends nothing"
    );

    let ended = app.post_empty(&end, &dev.token).await.expect(200);
    assert_eq!(ended.json["rotating_until"], Value::Null);
    assert_eq!(ended.json["status"], "active");
    assert_ne!(ended.etag(), reply.etag(), "a change: a new version");
    assert_eq!(app.verify(&key.secret).await, "NOT_FOUND");
    assert_eq!(app.verify(&fresh).await, "VALID");
    app.post_empty(&end, &dev.token)
        .await
        .expect_problem(409, "KEY_NOT_ROTATING");
    let events = app.events(&tenant, "action=key.rotation_ended").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"]["id"], dev.id.as_str());
    assert_eq!(events[0]["target_id"], key.id.as_str());
    assert_eq!(time(&events[0]["changes"]["rotating_until"]["from"]), until);
    assert_eq!(events[0]["changes"]["rotating_until"]["to"], Value::Null);
    assert!(rotating_ids(&app, &tenant).await.is_empty());
}

#[tokio::test]
async fn regenerating_again_ends_the_earlier_grace_and_no_grace_is_todays_behaviour() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "twice" }))
        .await;
    let (_, second) = rotate(&app, &tenant, &key, 3600).await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(app.verify(&second).await, "VALID");
    let second_key = NewKey {
        secret: second.clone(),
        ..key.clone()
    };
    // Only the secret just replaced keeps a grace; the first one stops now.
    let (_, third) = rotate(&app, &tenant, &second_key, 3600).await;
    assert_eq!(app.verify(&key.secret).await, "NOT_FOUND");
    assert_eq!(app.verify(&second).await, "VALID");
    assert_eq!(app.verify(&third).await, "VALID");

    // grace_seconds 0, or no body at all: the replaced secret stops at once.
    let (reply, fourth) = rotate(&app, &tenant, &second_key, 0).await;
    assert_eq!(reply.json["key"]["rotating_until"], Value::Null);
    assert_eq!(app.verify(&second).await, "NOT_FOUND");
    assert_eq!(app.verify(&third).await, "NOT_FOUND");
    let plain = app
        .act(&tenant, &app.admin, &key.id, "regenerate")
        .await
        .expect(200);
    assert_eq!(app.verify(&fourth).await, "NOT_FOUND");
    assert_eq!(
        app.verify(plain.json["secret"].as_str().unwrap()).await,
        "VALID"
    );

    // Seven days at most.
    let path = format!("/v1/tenants/{tenant}/keys/{}/regenerate", key.id);
    app.post(&path, &app.admin, json!({ "grace_seconds": 604_801 }))
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    app.post(&path, &app.admin, json!({ "grace_seconds": -1 }))
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    app.post(&path, &app.admin, json!({ "grace": 60 }))
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    let week = app
        .post(&path, &app.admin, json!({ "grace_seconds": 604_800 }))
        .await
        .expect(200);
    let until = time(&week.json["key"]["rotating_until"]);
    assert!(until > Utc::now() + chrono::Duration::days(6));
}

#[tokio::test]
async fn a_revoke_during_the_grace_kills_both_secrets() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "leaked" }))
        .await;
    let (_, fresh) = rotate(&app, &tenant, &key, 3600).await;
    // Both cached as valid first.
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(app.verify(&fresh).await, "VALID");
    let revoked = app
        .act(&tenant, &app.admin, &key.id, "revoke")
        .await
        .expect(200);
    assert_eq!(
        revoked.json["rotating_until"],
        Value::Null,
        "a revoked key is not rotating"
    );
    // The old secret is still the key's: it says REVOKED, not NOT_FOUND.
    assert_eq!(app.verify(&key.secret).await, "REVOKED");
    assert_eq!(app.verify(&fresh).await, "REVOKED");
    assert!(rotating_ids(&app, &tenant).await.is_empty());
    app.act(&tenant, &app.admin, &key.id, "end-rotation")
        .await
        .expect_problem(409, "KEY_REVOKED");
}

#[tokio::test]
async fn disable_makes_both_secrets_disabled_and_delete_forgets_both() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "paused" }))
        .await;
    let (_, fresh) = rotate(&app, &tenant, &key, 3600).await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(app.verify(&fresh).await, "VALID");
    let disabled = app
        .act(&tenant, &app.admin, &key.id, "disable")
        .await
        .expect(200);
    assert!(
        disabled.json["rotating_until"].is_string(),
        "the grace runs on"
    );
    assert_eq!(app.verify(&key.secret).await, "DISABLED");
    assert_eq!(app.verify(&fresh).await, "DISABLED");
    // Enabled within the grace, both verify again: disabling is reversible.
    app.act(&tenant, &app.admin, &key.id, "enable")
        .await
        .expect(200);
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(app.verify(&fresh).await, "VALID");

    app.delete(&format!("/v1/tenants/{tenant}/keys/{}", key.id), &app.admin)
        .await
        .expect(204);
    assert_eq!(app.verify(&key.secret).await, "NOT_FOUND");
    assert_eq!(app.verify(&fresh).await, "NOT_FOUND");
}

#[tokio::test]
async fn the_client_rotates_lists_rotating_keys_and_ends_the_rotation() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "typed" }))
        .await;
    let client = Client::new(&app.base, &app.admin).unwrap();
    let rotated = client.rotate_key(&tenant, &key.id, 600).await.unwrap();
    assert!(rotated.key.rotating_until.is_some());
    let fresh = rotated.secret.unwrap();
    let query = KeyListQuery {
        rotating: Some(true),
        ..KeyListQuery::default()
    };
    let listed = client.list_keys(&tenant, &query).await.unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].id, key.id);
    assert!(client.verify(&key.secret, None).await.unwrap().valid);
    let ended = client.end_rotation(&tenant, &key.id).await.unwrap();
    assert_eq!(ended.rotating_until, None);
    assert!(!client.verify(&key.secret, None).await.unwrap().valid);
    assert!(client.verify(&fresh, None).await.unwrap().valid);
    let err = client.end_rotation(&tenant, &key.id).await.unwrap_err();
    assert_eq!(err.code(), Some("KEY_NOT_ROTATING"));
}

/// Concurrent verifiers hammer a rotating key's *old* secret while `action`
/// (end-rotation or revoke) is applied; returns the codes of the
/// verifications sent before and after the action was answered.
async fn hammer_the_old_secret_while(action: &str) -> (Vec<String>, Vec<String>) {
    let app = Arc::new(spawn_app().await);
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "hot" }))
        .await;
    rotate(&app, &tenant, &key, 3600).await;
    let (before, after) = verify_during(app.clone(), &key.secret, async {
        app.act(&tenant, &app.admin, &key.id, action)
            .await
            .expect(200);
    })
    .await;
    assert!(
        before.iter().any(|code| code == "VALID"),
        "the old secret verified during the grace"
    );
    (before, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_concurrent_verifiers_the_old_secret_never_verifies_after_end_rotation_was_answered()
{
    let (before, after) = hammer_the_old_secret_while("end-rotation").await;
    let stale: Vec<_> = after.iter().filter(|code| *code != "NOT_FOUND").collect();
    assert!(
        stale.is_empty(),
        "{} of {} verifications sent after end-rotation was answered did not say NOT_FOUND: {stale:?}",
        stale.len(),
        after.len()
    );
    assert!(
        before
            .iter()
            .all(|code| code == "VALID" || code == "NOT_FOUND"),
        "{before:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_concurrent_verifiers_the_old_secret_never_verifies_after_a_revoke_was_answered() {
    let (before, after) = hammer_the_old_secret_while("revoke").await;
    let stale: Vec<_> = after.iter().filter(|code| *code != "REVOKED").collect();
    assert!(
        stale.is_empty(),
        "{} of {} verifications sent after the revoke was answered did not say REVOKED: {stale:?}",
        stale.len(),
        after.len()
    );
    assert!(
        before
            .iter()
            .all(|code| code == "VALID" || code == "REVOKED"),
        "{before:?}"
    );
}
