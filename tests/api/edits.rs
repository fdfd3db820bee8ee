//! Editing what a key was created with: a duplicate with its own name, a
//! key given to another owner, a new expiry. Each obeys the rules creation
//! obeys, in the same transaction as the edit, and the very next
//! verification sees it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use keydesk::api;
use keydesk::client::Client;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, TestUser, in_days, in_seconds, spawn_app};

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time"))
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

async fn edit(app: &TestApp, tenant: &str, token: &str, id: &str, body: Value) -> Reply {
    app.patch(&format!("/v1/tenants/{tenant}/keys/{id}"), token, body)
        .await
}

/// The key's `key.updated` events, newest first.
async fn updates(app: &TestApp, tenant: &str, id: &str) -> Vec<Value> {
    app.events(tenant, &format!("key={id}&action=key.updated"))
        .await
}

/// A tenant with keys on, a tenant admin, two developers and a viewer.
struct Team {
    tenant: String,
    admin: TestUser,
    ana: TestUser,
    bo: TestUser,
    viewer: TestUser,
}

async fn team(app: &TestApp, settings: Value) -> Team {
    let mut settings = settings;
    settings["api_keys_enabled"] = json!(true);
    app.create_tenant("acme", settings).await;
    let tenant = "acme".to_owned();
    Team {
        admin: app
            .create_user(&tenant, "Adele", &["tenant_admin"], true)
            .await,
        ana: app.create_user(&tenant, "Ana", &["developer"], true).await,
        bo: app.create_user(&tenant, "Bo", &["developer"], true).await,
        viewer: app.create_user(&tenant, "Vic", &["viewer"], true).await,
        tenant,
    }
}

#[tokio::test]
async fn a_duplicate_takes_the_name_and_description_it_is_given() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    let source = app
        .create_key(
            &t.tenant,
            &t.ana.token,
            json!({ "name": "payments", "description": "card capture", "scopes": ["read"] }),
        )
        .await;
    let path = format!("/v1/tenants/{}/keys/{}/duplicate", t.tenant, source.id);

    let named = app
        .post(
            &path,
            &t.ana.token,
            json!({ "name": "payments eu", "description": "for the EU region" }),
        )
        .await
        .expect(201);
    assert_eq!(named.json["key"]["name"], "payments eu");
    assert_eq!(named.json["key"]["description"], "for the EU region");
    assert_eq!(named.json["key"]["scopes"], json!(["read"]));
    let secret = named.json["secret"].as_str().expect("a new secret");
    assert_eq!(app.verify(secret).await, "VALID");
    let duplicated = app.events(&t.tenant, "action=key.duplicated").await;
    assert_eq!(duplicated[0]["target_name"], "payments eu");
    assert_eq!(duplicated[0]["changes"]["source"], source.id.as_str());

    // Only a name: the description is the source's.
    let renamed = app
        .post(&path, &t.ana.token, json!({ "name": "payments us" }))
        .await
        .expect(201);
    assert_eq!(renamed.json["key"]["description"], "card capture");
    // An empty body, or none, is the duplicate of before.
    let plain = app.post(&path, &t.ana.token, json!({})).await.expect(201);
    assert_eq!(plain.json["key"]["name"], "payments (copy)");
    let bodiless = app
        .act(&t.tenant, &t.ana.token, &source.id, "duplicate")
        .await
        .expect(201);
    assert_eq!(bodiless.json["key"]["name"], "payments (copy)");

    // Through the typed client, as the console sends it.
    let client = Client::new(&app.base, &t.ana.token).unwrap();
    let body = api::DuplicateKey {
        name: Some("payments apac".to_owned()),
        ..api::DuplicateKey::default()
    };
    let copy = client
        .duplicate_key(&t.tenant, &source.id, &body)
        .await
        .unwrap();
    assert_eq!(copy.key.name, "payments apac");
    assert!(copy.secret.is_some());
    assert_eq!(app.list_keys(&t.tenant, "").await["total"], 6);
}

#[tokio::test]
async fn a_duplicate_s_name_is_validated_as_a_new_key_s_and_a_refused_one_creates_nothing() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    let source = app
        .create_key(&t.tenant, &t.ana.token, json!({ "name": "payments" }))
        .await;
    let path = format!("/v1/tenants/{}/keys/{}/duplicate", t.tenant, source.id);
    for body in [
        json!({ "name": "" }),
        json!({ "name": "evil\u{1b}[31m" }),
        json!({ "name": "n".repeat(500) }),
        json!({ "description": "d".repeat(5000) }),
        json!({ "nmae": "typo" }),
        json!({ "name": 7 }),
    ] {
        app.post(&path, &t.ana.token, body.clone())
            .await
            .expect_problem(422, "VALIDATION_FAILED");
    }
    assert_eq!(app.list_keys(&t.tenant, "").await["total"], 1);
}

#[tokio::test]
async fn a_tenant_admin_gives_a_key_to_another_developer_and_verification_names_them() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    let key = app.key_for(&t.tenant, &t.ana.id, "billing").await;
    // Cached as Ana's.
    let verified = app.verify_body(json!({ "key": key.secret })).await;
    assert_eq!(verified["owner"], t.ana.id.as_str());

    let reply = edit(
        &app,
        &t.tenant,
        &t.admin.token,
        &key.id,
        json!({ "owner": t.bo.id }),
    )
    .await
    .expect(200);
    assert_eq!(reply.json["owner"]["id"], t.bo.id.as_str());
    assert_eq!(reply.json["owner"]["name"], "Bo");
    assert_eq!(reply.json["updated_by"]["id"], t.admin.id.as_str());
    assert_ne!(reply.etag(), key.etag);
    let stored = app.get_key(&t.tenant, &key.id).await.expect(200);
    assert_eq!(stored.json["owner"]["id"], t.bo.id.as_str());
    let verified = app.verify_body(json!({ "key": key.secret })).await;
    assert_eq!(verified["owner"], t.bo.id.as_str());
    assert_eq!(verified["code"], "VALID");

    let events = updates(&app, &t.tenant, &key.id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["changes"],
        json!({ "owner": { "from": t.ana.id, "to": t.bo.id } })
    );
    assert_eq!(events[0]["actor"]["id"], t.admin.id.as_str());

    // Bo owns it now: he may edit it, Ana may not.
    edit(
        &app,
        &t.tenant,
        &t.bo.token,
        &key.id,
        json!({ "name": "bo's" }),
    )
    .await
    .expect(200);
    edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "name": "ana's" }),
    )
    .await
    .expect_problem(403, "FORBIDDEN");
    // The system administrator may give it too.
    edit(
        &app,
        &t.tenant,
        &app.admin,
        &key.id,
        json!({ "owner": t.ana.id }),
    )
    .await
    .expect(200);
    assert_eq!(
        app.get_key(&t.tenant, &key.id).await.json["owner"]["id"],
        t.ana.id.as_str()
    );
}

#[tokio::test]
async fn a_developer_may_not_give_their_own_key_away() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    let key = app
        .create_key(&t.tenant, &t.ana.token, json!({ "name": "mine" }))
        .await;
    let refused = edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "owner": t.bo.id, "name": "given" }),
    )
    .await
    .expect_problem(403, "FORBIDDEN");
    assert!(
        refused.detail().contains("tenant admin"),
        "{}",
        refused.text
    );
    // Also when the named owner does not exist: the attempt is what is refused.
    edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "owner": "usr_nobody" }),
    )
    .await
    .expect_problem(403, "FORBIDDEN");
    let stored = app.get_key(&t.tenant, &key.id).await.expect(200);
    assert_eq!(stored.json["owner"]["id"], t.ana.id.as_str());
    assert_eq!(stored.json["name"], "mine");
    assert_eq!(stored.etag(), key.etag);
    // Naming herself is no change, and allowed.
    edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "owner": t.ana.id }),
    )
    .await
    .expect(200);
    assert!(updates(&app, &t.tenant, &key.id).await.is_empty());
}

#[tokio::test]
async fn a_key_is_given_only_to_a_developer_of_its_own_tenant() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    app.enabled_tenant("other").await;
    let stranger = app.create_user("other", "Sam", &["developer"], true).await;
    let key = app.key_for(&t.tenant, &t.ana.id, "billing").await;
    for (owner, code) in [
        (t.viewer.id.as_str(), "OWNER_NOT_DEVELOPER"),
        (t.admin.id.as_str(), "OWNER_NOT_DEVELOPER"),
        (stranger.id.as_str(), "VALIDATION_FAILED"),
        ("usr_nobody", "VALIDATION_FAILED"),
    ] {
        let refused = edit(
            &app,
            &t.tenant,
            &t.admin.token,
            &key.id,
            json!({ "owner": owner }),
        )
        .await
        .expect_problem(422, code);
        assert!(refused.detail().starts_with("owner: "), "{}", refused.text);
    }
    // A user of another tenant reads as one who does not exist.
    let unknown = edit(
        &app,
        &t.tenant,
        &t.admin.token,
        &key.id,
        json!({ "owner": "usr_nobody" }),
    )
    .await;
    let foreign = edit(
        &app,
        &t.tenant,
        &t.admin.token,
        &key.id,
        json!({ "owner": stranger.id }),
    )
    .await;
    assert_eq!(
        unknown.detail().replace("usr_nobody", "X"),
        foreign.detail().replace(&stranger.id, "X")
    );
    let stored = app.get_key(&t.tenant, &key.id).await.expect(200);
    assert_eq!(stored.json["owner"]["id"], t.ana.id.as_str());
    assert_eq!(stored.etag(), key.etag);
    assert!(updates(&app, &t.tenant, &key.id).await.is_empty());
}

#[tokio::test]
async fn giving_a_key_to_an_owner_at_max_keys_per_user_is_refused() {
    let app = spawn_app().await;
    let t = team(&app, json!({ "max_keys_per_user": 1 })).await;
    let anas = app.key_for(&t.tenant, &t.ana.id, "ana's").await;
    let bos = app.key_for(&t.tenant, &t.bo.id, "bo's").await;
    let refused = edit(
        &app,
        &t.tenant,
        &t.admin.token,
        &anas.id,
        json!({ "owner": t.bo.id }),
    )
    .await
    .expect_problem(409, "KEY_LIMIT_REACHED");
    assert!(refused.detail().contains("at most 1"), "{}", refused.text);
    assert_eq!(
        app.get_key(&t.tenant, &anas.id).await.json["owner"]["id"],
        t.ana.id.as_str()
    );
    // Once Bo's key is revoked he has room again.
    app.act(&t.tenant, &t.admin.token, &bos.id, "revoke")
        .await
        .expect(200);
    edit(
        &app,
        &t.tenant,
        &t.admin.token,
        &anas.id,
        json!({ "owner": t.bo.id }),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn an_edited_expiry_must_be_in_the_future_and_within_max_expiry_days() {
    let app = spawn_app().await;
    let t = team(&app, json!({ "max_expiry_days": 30 })).await;
    let key = app
        .create_key(
            &t.tenant,
            &t.ana.token,
            json!({ "name": "billing", "expires_at": in_days(10) }),
        )
        .await;
    let before = time(&key.key["expires_at"]);
    for (expires_at, code) in [
        (json!(in_days(31)), "EXPIRY_TOO_LONG"),
        (Value::Null, "EXPIRY_REQUIRED"),
        (json!(in_seconds(-60)), "VALIDATION_FAILED"),
        (json!("next tuesday"), "VALIDATION_FAILED"),
    ] {
        edit(
            &app,
            &t.tenant,
            &t.ana.token,
            &key.id,
            json!({ "expires_at": expires_at }),
        )
        .await
        .expect_problem(422, code);
    }
    let stored = app.get_key(&t.tenant, &key.id).await.expect(200);
    assert_eq!(time(&stored.json["expires_at"]), before);
    assert_eq!(stored.etag(), key.etag);

    let longer = in_days(29);
    let reply = edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "expires_at": longer }),
    )
    .await
    .expect(200);
    let expected = time(&json!(longer));
    assert_eq!(time(&reply.json["expires_at"]), expected);
    let stored = app.get_key(&t.tenant, &key.id).await.expect(200);
    assert_eq!(time(&stored.json["expires_at"]), expected);
    let events = updates(&app, &t.tenant, &key.id).await;
    assert_eq!(events.len(), 1);
    let change = &events[0]["changes"]["expires_at"];
    assert_eq!(time(&change["from"]), before);
    assert_eq!(time(&change["to"]), expected);
}

#[tokio::test]
async fn without_a_maximum_an_edit_may_make_a_key_never_expire_but_not_expire_in_the_past() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    let key = app
        .create_key(
            &t.tenant,
            &t.ana.token,
            json!({ "name": "billing", "expires_at": in_days(10) }),
        )
        .await;
    edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "expires_at": in_seconds(-1) }),
    )
    .await
    .expect_problem(422, "VALIDATION_FAILED");
    let reply = edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "expires_at": null }),
    )
    .await
    .expect(200);
    assert!(reply.json["expires_at"].is_null(), "{}", reply.text);
    assert!(app.get_key(&t.tenant, &key.id).await.json["expires_at"].is_null());
    let change = &updates(&app, &t.tenant, &key.id).await[0]["changes"];
    assert!(change["expires_at"]["to"].is_null(), "{change}");
    assert!(change["expires_at"]["from"].is_string(), "{change}");
}

#[tokio::test]
async fn a_key_without_expiry_keeps_it_under_a_later_maximum_until_its_expiry_is_edited() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    let key = app
        .create_key(&t.tenant, &t.ana.token, json!({ "name": "old" }))
        .await;
    app.patch_settings(&t.tenant, &app.admin, json!({ "max_expiry_days": 30 }))
        .await
        .expect(200);
    // A rename that sends the key's own (absent) expiry back is no expiry edit.
    let renamed = edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "name": "older", "expires_at": null }),
    )
    .await
    .expect(200);
    assert!(renamed.json["expires_at"].is_null());
    assert_eq!(
        updates(&app, &t.tenant, &key.id).await[0]["changes"],
        json!({ "name": { "from": "old", "to": "older" } })
    );
    // Setting one obeys the maximum.
    edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "expires_at": in_days(60) }),
    )
    .await
    .expect_problem(422, "EXPIRY_TOO_LONG");
    edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "expires_at": in_days(7) }),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_shortened_expiry_is_seen_by_the_next_verification_once_it_passes() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    let key = app
        .create_key(
            &t.tenant,
            &t.ana.token,
            json!({ "name": "billing", "expires_at": in_days(10) }),
        )
        .await;
    // The verification cache now holds the key with its ten-day expiry.
    assert_eq!(app.verify(&key.secret).await, "VALID");
    let soon = in_seconds(2);
    edit(
        &app,
        &t.tenant,
        &t.ana.token,
        &key.id,
        json!({ "expires_at": soon }),
    )
    .await
    .expect(200);
    let verified = app.verify_body(json!({ "key": key.secret })).await;
    assert_eq!(time(&verified["expires_at"]), time(&json!(soon)));
    let wait = (time(&json!(soon)) - Utc::now()).num_milliseconds() + 100;
    tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
    assert_eq!(app.verify(&key.secret).await, "EXPIRED");
    assert_eq!(
        app.get_key(&t.tenant, &key.id).await.json["status"],
        "expired"
    );
}

#[tokio::test]
async fn a_revoked_key_refuses_a_new_owner_and_a_new_expiry() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    let key = app.key_for(&t.tenant, &t.ana.id, "billing").await;
    app.act(&t.tenant, &t.admin.token, &key.id, "revoke")
        .await
        .expect(200);
    for body in [
        json!({ "owner": t.bo.id }),
        json!({ "expires_at": in_days(3) }),
        json!({ "expires_at": null }),
    ] {
        edit(&app, &t.tenant, &t.admin.token, &key.id, body)
            .await
            .expect_problem(409, "KEY_REVOKED");
    }
    let stored = app.get_key(&t.tenant, &key.id).await.expect(200);
    assert_eq!(stored.json["owner"]["id"], t.ana.id.as_str());
    assert!(stored.json["expires_at"].is_null());
}

#[tokio::test]
async fn the_client_edits_owner_and_expiry_and_sends_null_for_never() {
    let app = spawn_app().await;
    let t = team(&app, json!({})).await;
    let key = app
        .create_key(
            &t.tenant,
            &app.admin,
            json!({ "name": "billing", "owner": t.ana.id, "expires_at": in_days(5) }),
        )
        .await;
    let client = Client::new(&app.base, &t.admin.token).unwrap();
    let give = api::UpdateKey {
        owner: Some(t.bo.id.clone()),
        expires_at: Some(None),
        ..api::UpdateKey::default()
    };
    let edited = client
        .update_key(&t.tenant, &key.id, &give, None)
        .await
        .unwrap();
    assert_eq!(edited.owner.id.as_str(), t.bo.id);
    assert_eq!(edited.expires_at, None);
    // Absent fields change nothing.
    let later = Utc::now() + chrono::Duration::days(3);
    let expire = api::UpdateKey {
        expires_at: Some(Some(later)),
        ..api::UpdateKey::default()
    };
    let edited = client
        .update_key(&t.tenant, &key.id, &expire, Some(edited.version))
        .await
        .unwrap();
    assert_eq!(edited.owner.id.as_str(), t.bo.id);
    let stored = edited.expires_at.expect("an expiry");
    assert!(
        (stored - later).num_milliseconds().abs() < 1,
        "{stored} vs {later}"
    );
    let refused = client
        .update_key(
            &t.tenant,
            &key.id,
            &api::UpdateKey {
                owner: Some(t.viewer.id.clone()),
                ..api::UpdateKey::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("OWNER_NOT_DEVELOPER"));
}
