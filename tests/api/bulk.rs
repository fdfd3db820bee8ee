//! Bulk revoke (`POST /v1/tenants/{t}/keys/revoke`, seed 001's "revoke one
//! or many"): by ids or a filter, each key decided as a single revoke would
//! decide it (same refusal code), one event per revoked key, the cache
//! forgotten before the answer; a dry run changes nothing.

use std::collections::BTreeSet;

use keydesk::api;
use keydesk::client::Client;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, TestUser, spawn_app};

async fn bulk(app: &TestApp, tenant: &str, token: &str, body: Value) -> Reply {
    app.post(&format!("/v1/tenants/{tenant}/keys/revoke"), token, body)
        .await
}

/// Keys and events: everything a revoke could change.
async fn state_of(app: &TestApp, tenant: &str) -> Value {
    json!({
        "keys": app.list_keys(tenant, "limit=1000").await["items"],
        "events": app.events(tenant, "").await,
    })
}

struct Mix {
    dev: TestUser,
    /// (id, secret) of: dev's active key, dev's disabled key, dev's revoked
    /// key, another developer's disabled key, a key of another tenant.
    active: (String, String),
    disabled: (String, String),
    revoked: String,
    others: String,
    foreign: String,
}

/// A tenant that revokes only disabled keys (seed 002), and a developer
/// whose keys are in every state.
async fn mix(app: &TestApp) -> Mix {
    app.create_tenant(
        "strict",
        json!({ "api_keys_enabled": true, "revoke_requires_disabled": true }),
    )
    .await;
    let acme = app.enabled_tenant("acme").await;
    let dev = app.create_user("strict", "Dev", &["developer"], true).await;
    let bo = app.create_user("strict", "Bo", &["developer"], true).await;
    let active = app.key_for("strict", &dev.id, "active").await;
    let disabled = app.key_for("strict", &dev.id, "disabled").await;
    let revoked = app.key_for("strict", &dev.id, "revoked").await;
    let others = app.key_for("strict", &bo.id, "bos").await;
    for id in [&disabled.id, &revoked.id, &others.id] {
        app.act("strict", &app.admin, id, "disable")
            .await
            .expect(200);
    }
    app.act("strict", &app.admin, &revoked.id, "revoke")
        .await
        .expect(200);
    let foreign = app
        .create_key(&acme, &app.admin, json!({ "name": "x" }))
        .await;
    Mix {
        dev,
        active: (active.id, active.secret),
        disabled: (disabled.id, disabled.secret),
        revoked: revoked.id,
        others: others.id,
        foreign: foreign.id,
    }
}

impl Mix {
    /// Every id, an unknown one and a repeat.
    fn ids(&self) -> Value {
        json!([
            self.active.0,
            self.disabled.0,
            self.revoked,
            self.others,
            "key_01NOSUCHKEY",
            self.foreign,
            self.disabled.0,
        ])
    }
}

/// (id, outcome, code) of each result.
fn outcomes(reply: &Reply) -> Vec<(String, String, Option<String>)> {
    reply.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["id"].as_str().unwrap().to_owned(),
                item["outcome"].as_str().unwrap().to_owned(),
                item["code"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_bulk_revoke_revokes_what_it_may_and_refuses_the_rest_with_the_single_revoke_codes() {
    let app = spawn_app().await;
    let m = mix(&app).await;
    assert_eq!(app.verify(&m.disabled.1).await, "DISABLED", "cached");

    let reply = bulk(&app, "strict", &m.dev.token, json!({ "ids": m.ids() }))
        .await
        .expect(200);
    let o = |s: &str| s.to_owned();
    assert_eq!(
        outcomes(&reply),
        [
            (
                m.active.0.clone(),
                o("refused"),
                Some(o("REVOKE_REQUIRES_DISABLED"))
            ),
            (m.disabled.0.clone(), o("revoked"), None),
            (m.revoked.clone(), o("refused"), Some(o("KEY_REVOKED"))),
            (m.others.clone(), o("refused"), Some(o("FORBIDDEN"))),
            (o("key_01NOSUCHKEY"), o("refused"), Some(o("NOT_FOUND"))),
            (m.foreign.clone(), o("refused"), Some(o("NOT_FOUND"))),
        ],
        "one result per id, in order, the repeat once"
    );
    assert_eq!(reply.json["dry_run"], false);
    assert_eq!(
        (
            &reply.json["revoked"],
            &reply.json["would_revoke"],
            &reply.json["refused"]
        ),
        (&json!(1), &json!(0), &json!(5))
    );
    let items = reply.json["results"].as_array().unwrap();
    assert_eq!(items[1]["name"], "disabled");
    assert_eq!(items[4]["name"], Value::Null, "no key, no name");
    assert_eq!(
        items[5]["name"],
        Value::Null,
        "another tenant's key is not named"
    );

    // Revoked, verifying as such at once (it was cached as DISABLED).
    assert_eq!(app.verify(&m.disabled.1).await, "REVOKED");
    assert_eq!(app.verify(&m.active.1).await, "VALID");
    let events = app.events("strict", "action=key.revoked").await;
    let bulk_events: Vec<_> = events
        .iter()
        .filter(|e| e["changes"]["bulk"] == true)
        .collect();
    assert_eq!(bulk_events.len(), 1, "one event per revoked key");
    assert_eq!(bulk_events[0]["target_id"], m.disabled.0.as_str());
    assert_eq!(bulk_events[0]["actor"]["id"], m.dev.id.as_str());
    assert_eq!(
        bulk_events[0]["changes"]["status"],
        json!({ "from": "disabled", "to": "revoked" })
    );

    // Each refusal is what a single revoke of that key answers.
    for item in items.iter().filter(|item| item["outcome"] == "refused") {
        let id = item["id"].as_str().unwrap();
        let single = app.act("strict", &m.dev.token, id, "revoke").await;
        assert!(single.status.is_client_error(), "{}", single.text);
        assert_eq!(single.code(), item["code"].as_str().unwrap(), "{id}");
        assert_eq!(single.detail(), item["detail"].as_str().unwrap(), "{id}");
    }
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_says_what_the_real_run_then_does() {
    let app = spawn_app().await;
    let m = mix(&app).await;
    let before = state_of(&app, "strict").await;
    let preview = bulk(
        &app,
        "strict",
        &m.dev.token,
        json!({ "ids": m.ids(), "dry_run": true }),
    )
    .await
    .expect(200);
    assert_eq!(state_of(&app, "strict").await, before, "nothing changed");
    assert_eq!(app.verify(&m.disabled.1).await, "DISABLED");
    assert_eq!(preview.json["dry_run"], true);
    assert_eq!(
        (
            &preview.json["revoked"],
            &preview.json["would_revoke"],
            &preview.json["refused"]
        ),
        (&json!(0), &json!(1), &json!(5))
    );

    let real = bulk(&app, "strict", &m.dev.token, json!({ "ids": m.ids() }))
        .await
        .expect(200);
    let predicted: Vec<_> = outcomes(&preview)
        .into_iter()
        .map(|(id, outcome, code)| {
            let outcome = if outcome == "would_revoke" {
                "revoked".to_owned()
            } else {
                outcome
            };
            (id, outcome, code)
        })
        .collect();
    assert_eq!(outcomes(&real), predicted);
    assert_ne!(state_of(&app, "strict").await, before);
}

#[tokio::test]
async fn a_filter_picks_keys_by_owner_creator_scope_q_and_status() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let admin = app
        .create_user(&tenant, "Ada", &["tenant_admin"], true)
        .await;
    let dev = app.create_user(&tenant, "Dev", &["developer"], true).await;
    let bo = app.create_user(&tenant, "Bo", &["developer"], true).await;
    let mine = app
        .create_key(
            &tenant,
            &dev.token,
            json!({ "name": "alpha-mine", "scopes": ["read"] }),
        )
        .await;
    let given = app
        .create_key(
            &tenant,
            &app.admin,
            json!({ "name": "given", "owner": dev.id, "scopes": ["write"] }),
        )
        .await;
    let bos = app
        .create_key(
            &tenant,
            &app.admin,
            json!({ "name": "alpha-bos", "owner": bo.id, "scopes": ["read", "write"] }),
        )
        .await;
    app.act(&tenant, &app.admin, &given.id, "disable")
        .await
        .expect(200);

    let picked = |reply: Reply| -> BTreeSet<String> {
        outcomes(&reply).into_iter().map(|(id, ..)| id).collect()
    };
    let set = |ids: &[&String]| ids.iter().map(|id| (*id).clone()).collect::<BTreeSet<_>>();
    for (filter, expected) in [
        (json!({ "owner": "Dev" }), set(&[&mine.id, &given.id])),
        (json!({ "owner": bo.id }), set(&[&bos.id])),
        (json!({ "created_by": dev.id }), set(&[&mine.id])),
        (json!({ "created_by": "admin" }), set(&[&given.id, &bos.id])),
        (json!({ "scope": "write" }), set(&[&given.id, &bos.id])),
        (json!({ "scope": "read", "owner": "Dev" }), set(&[&mine.id])),
        (json!({ "q": "ALPHA" }), set(&[&mine.id, &bos.id])),
        (json!({ "status": "disabled" }), set(&[&given.id])),
        (json!({ "status": "revoked" }), set(&[])),
    ] {
        let reply = bulk(
            &app,
            &tenant,
            &admin.token,
            json!({ "filter": filter, "dry_run": true }),
        )
        .await
        .expect(200);
        assert_eq!(picked(reply), expected, "{filter}");
    }

    // The real thing, through the typed client.
    let client = Client::new(&app.base, &admin.token).unwrap();
    let body = api::BulkRevoke {
        filter: Some(api::BulkRevokeFilter {
            owner: Some("Bo".to_owned()),
            ..api::BulkRevokeFilter::default()
        }),
        ..api::BulkRevoke::default()
    };
    assert_eq!(app.verify(&bos.secret).await, "VALID");
    let result = client.bulk_revoke(&tenant, &body).await.unwrap();
    assert_eq!(result.revoked, 1);
    assert_eq!(result.results[0].id, bos.id);
    assert_eq!(result.results[0].outcome, api::BulkOutcome::Revoked);
    assert_eq!(app.verify(&bos.secret).await, "REVOKED");
    // Again: the same key, now refused as a single revoke would be.
    let again = client.bulk_revoke(&tenant, &body).await.unwrap();
    assert_eq!(again.results[0].outcome, api::BulkOutcome::Refused);
    assert_eq!(again.results[0].code.as_deref(), Some("KEY_REVOKED"));
}

#[tokio::test]
async fn a_bulk_revoke_needs_exactly_one_of_ids_and_a_filter_within_the_limits() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let too_many: Vec<String> = (0..1001).map(|n| format!("key_{n}")).collect();
    for body in [
        json!({}),
        json!({ "dry_run": true }),
        json!({ "ids": ["key_1"], "filter": { "owner": "x" } }),
        json!({ "ids": [] }),
        json!({ "ids": too_many }),
        json!({ "filter": {} }),
        json!({ "filter": { "owner": "  " } }),
        json!({ "filter": { "scope": "NOT A SCOPE" } }),
        json!({ "filter": { "status": "gone" } }),
        json!({ "filter": { "colour": "red" } }),
        json!({ "ids": ["key_1"], "force": true }),
    ] {
        bulk(&app, &tenant, &app.admin, body.clone())
            .await
            .expect_problem(422, "VALIDATION_FAILED");
    }
    let thousand: Vec<String> = (0..1000).map(|n| format!("key_{n}")).collect();
    let reply = bulk(
        &app,
        &tenant,
        &app.admin,
        json!({ "ids": thousand, "dry_run": true }),
    )
    .await
    .expect(200);
    assert_eq!(reply.json["refused"], 1000);
    // Another tenant's bulk revoke: 404, as any route of a tenant not one's own.
    let other = app.enabled_tenant("other").await;
    let outsider = app.create_user(&other, "Oz", &["tenant_admin"], true).await;
    bulk(&app, &tenant, &outsider.token, json!({ "ids": ["key_1"] }))
        .await
        .expect_problem(404, "NOT_FOUND");
}
