//! The audit log (SPEC §2 Events): every mutation writes its event with
//! actor, target, source and changes, never a secret; the list filters by
//! key and action and pages by cursor, newest first.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, spawn_app};

struct Story {
    tenant: String,
    key: String,
    copy: String,
    dev: TestUser,
    boss: TestUser,
    /// Every secret and token that was shown.
    shown: Vec<String>,
}

/// One key through its whole life, by two users, plus settings and user changes.
async fn story(app: &TestApp) -> Story {
    let tenant = "acme".to_owned();
    app.create_tenant(
        &tenant,
        json!({ "api_keys_enabled": true, "secret_retrieval": "admins" }),
    )
    .await;
    app.patch_settings(&tenant, &app.admin, json!({ "max_keys_per_user": 10 }))
        .await
        .expect(200);
    let dev = app.create_user(&tenant, "Dev", &["developer"], true).await;
    let boss = app
        .create_user(&tenant, "Boss", &["tenant_admin", "developer"], true)
        .await;
    let mut shown = vec![app.admin.clone(), dev.token.clone(), boss.token.clone()];

    let key = app
        .create_key(
            &tenant,
            &dev.token,
            json!({ "name": "alpha", "scopes": ["read"] }),
        )
        .await;
    shown.push(key.secret.clone());
    let path = format!("/v1/tenants/{tenant}/keys/{}", key.id);
    app.patch(&path, &dev.token, json!({ "name": "beta" }))
        .await
        .expect(200);
    app.act(&tenant, &boss.token, &key.id, "disable")
        .await
        .expect(200);
    app.act(&tenant, &boss.token, &key.id, "enable")
        .await
        .expect(200);
    let regenerated = app
        .act(&tenant, &dev.token, &key.id, "regenerate")
        .await
        .expect(200);
    shown.push(regenerated.json["secret"].as_str().unwrap().to_owned());
    let revealed = app
        .act(&tenant, &boss.token, &key.id, "reveal")
        .await
        .expect(200);
    shown.push(revealed.json["secret"].as_str().unwrap().to_owned());
    let copy = app
        .act(&tenant, &dev.token, &key.id, "duplicate")
        .await
        .expect(201);
    shown.push(copy.json["secret"].as_str().unwrap().to_owned());
    assert_eq!(app.verify(&shown[shown.len() - 1]).await, "VALID");
    app.act(&tenant, &boss.token, &key.id, "revoke")
        .await
        .expect(200);
    app.delete(&path, &boss.token).await.expect(204);

    app.patch(
        &format!("/v1/tenants/{tenant}/users/{}", dev.id),
        &boss.token,
        json!({ "licensed": false }),
    )
    .await
    .expect(200);
    let rotated = app
        .post_empty(
            &format!("/v1/tenants/{tenant}/users/{}/token", dev.id),
            &dev.token,
        )
        .await
        .expect(200);
    shown.push(rotated.json["token"].as_str().unwrap().to_owned());

    Story {
        tenant,
        key: key.id,
        copy: copy.json["key"]["id"].as_str().unwrap().to_owned(),
        dev,
        boss,
        shown,
    }
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_key_mutation_writes_its_event_with_actor_target_source_and_changes() {
    let app = spawn_app().await;
    let story = story(&app).await;
    let events = app
        .events(&story.tenant, &format!("key={}", story.key))
        .await;
    assert_eq!(
        actions(&events),
        [
            "key.deleted",
            "key.revoked",
            "key.secret_revealed",
            "key.regenerated",
            "key.enabled",
            "key.disabled",
            "key.updated",
            "key.created",
        ]
    );
    let (dev, boss) = (&story.dev, &story.boss);
    let actors = [boss, boss, boss, dev, boss, boss, dev, dev];
    for (event, actor) in events.iter().zip(actors) {
        let action = event["action"].as_str().unwrap();
        assert_eq!(event["actor"]["id"], actor.id.as_str(), "{action}");
        assert_eq!(event["actor"]["name"], actor.name.as_str(), "{action}");
        assert_eq!(event["target_id"], story.key.as_str(), "{action}");
        assert_eq!(event["source"], "127.0.0.1", "{action}");
        assert_eq!(event["tenant"], story.tenant.as_str(), "{action}");
        assert!(event["at"].is_string(), "{action}");
        assert!(event["changes"].is_object(), "{action}");
    }
    let by = |action: &str| {
        events
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action}"))
    };
    let created = by("key.created");
    assert_eq!(created["target_name"], "alpha");
    assert_eq!(created["changes"]["name"], "alpha");
    assert_eq!(created["changes"]["owner"], dev.id.as_str());
    assert_eq!(created["changes"]["scopes"], json!(["read"]));
    assert_eq!(
        by("key.updated")["changes"],
        json!({ "name": { "from": "alpha", "to": "beta" } })
    );
    assert_eq!(by("key.updated")["target_name"], "beta");
    assert_eq!(
        by("key.disabled")["changes"],
        json!({ "status": { "from": "active", "to": "disabled" } })
    );
    assert_eq!(
        by("key.enabled")["changes"],
        json!({ "status": { "from": "disabled", "to": "active" } })
    );
    assert_eq!(
        by("key.revoked")["changes"],
        json!({ "status": { "from": "active", "to": "revoked" } })
    );
    let start = &by("key.regenerated")["changes"]["start"];
    assert!(start["from"].is_string() && start["to"].is_string() && start["from"] != start["to"]);
    assert_eq!(by("key.deleted")["changes"]["status"], "revoked");

    // Events are in time order, oldest last.
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = events
        .iter()
        .map(|e| chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    let duplicated = app
        .events(&story.tenant, &format!("key={}", story.copy))
        .await;
    assert_eq!(actions(&duplicated), ["key.duplicated"]);
    assert_eq!(duplicated[0]["changes"]["source"], story.key.as_str());
    assert_eq!(duplicated[0]["target_name"], "beta (copy)");
    assert_eq!(duplicated[0]["actor"]["id"], dev.id.as_str());
}

#[tokio::test]
async fn settings_user_and_tenant_changes_are_in_the_log_too() {
    let app = spawn_app().await;
    let story = story(&app).await;
    let admin_id = app.admin_id().await;
    let events = app.events(&story.tenant, "").await;
    let find =
        |action: &str| -> Vec<&Value> { events.iter().filter(|e| e["action"] == action).collect() };

    let tenant = find("tenant.created");
    assert_eq!(tenant.len(), 1);
    assert_eq!(tenant[0]["target_id"], story.tenant.as_str());
    assert_eq!(tenant[0]["actor"]["id"], admin_id.as_str());

    let settings = find("settings.updated");
    assert_eq!(settings.len(), 1);
    assert_eq!(
        settings[0]["changes"],
        json!({ "max_keys_per_user": { "from": null, "to": 10 } })
    );
    assert_eq!(settings[0]["source"], "127.0.0.1");

    let users = find("user.created");
    assert_eq!(users.len(), 2);
    assert!(users.iter().all(|e| e["actor"]["id"] == admin_id.as_str()));

    let updated = find("user.updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["target_id"], story.dev.id.as_str());
    assert_eq!(updated[0]["actor"]["id"], story.boss.id.as_str());
    assert_eq!(
        updated[0]["changes"],
        json!({ "licensed": { "from": true, "to": false } })
    );

    let rotated = find("user.token_rotated");
    assert_eq!(rotated.len(), 1);
    assert_eq!(rotated[0]["actor"]["id"], story.dev.id.as_str());
}

#[tokio::test]
async fn events_filter_by_key_and_action() {
    let app = spawn_app().await;
    let story = story(&app).await;
    let disabled = app.events(&story.tenant, "action=key.disabled").await;
    assert_eq!(actions(&disabled), ["key.disabled"]);
    assert_eq!(disabled[0]["target_id"], story.key.as_str());

    let created = app.events(&story.tenant, "action=key.created").await;
    assert_eq!(created.len(), 1, "a duplicate writes key.duplicated");

    let both = app
        .events(
            &story.tenant,
            &format!("key={}&action=key.regenerated", story.key),
        )
        .await;
    assert_eq!(actions(&both), ["key.regenerated"]);
    let none = app
        .events(
            &story.tenant,
            &format!("key={}&action=key.regenerated", story.copy),
        )
        .await;
    assert!(none.is_empty());
    let all = app.events(&story.tenant, "").await;
    assert!(all.len() > 10);
    assert_eq!(
        app.events(&story.tenant, "key=&action=").await.len(),
        all.len(),
        "empty filters filter nothing"
    );
}

#[tokio::test]
async fn walking_the_event_cursor_yields_every_event_once_newest_first() {
    let app = spawn_app().await;
    let story = story(&app).await;
    let all = app.events(&story.tenant, "").await;
    let mut walked: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let page = app
            .get(
                &format!("/v1/tenants/{}/events?{query}", story.tenant),
                &story.boss.token,
            )
            .await
            .expect(200);
        let items = page.json["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        walked.extend(items.iter().cloned());
        match page.json["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let ids: Vec<i64> = walked.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    let unique: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an event appeared twice");
    assert_eq!(
        walked, all,
        "the pages together are the whole log, in order"
    );
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");

    // Paging a filtered list keeps the filter.
    let page = app
        .get(
            &format!(
                "/v1/tenants/{}/events?key={}&limit=2",
                story.tenant, story.key
            ),
            &app.admin,
        )
        .await
        .expect(200);
    let next = page.json["next_cursor"].as_str().expect("more pages");
    let rest = app
        .get(
            &format!(
                "/v1/tenants/{}/events?key={}&limit=1000&cursor={next}",
                story.tenant, story.key
            ),
            &app.admin,
        )
        .await
        .expect(200);
    assert_eq!(rest.json["items"].as_array().unwrap().len(), 6);
    assert!(
        rest.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["target_id"] == story.key.as_str())
    );
}

#[tokio::test]
async fn no_event_holds_a_secret_or_a_token() {
    let app = spawn_app().await;
    let story = story(&app).await;
    let text = serde_json::to_string(&app.events(&story.tenant, "").await).unwrap();
    for secret in &story.shown {
        assert!(
            !text.contains(secret.as_str()),
            "an event holds a secret or token ({}…)",
            &secret[..8]
        );
    }
}
