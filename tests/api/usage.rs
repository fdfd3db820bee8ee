//! Usage history and suspicious keys: real verifications, counted in memory,
//! written by the flush, read back in buckets; keys flagged by the server
//! with their reason, and the `?suspicious=true` filter.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use keydesk::api;
use keydesk::client::{Client, KeyListQuery};
use keydesk::domain::{SuspicionRules, UsageWindow};
use serde_json::{Value, json};

use crate::helpers::{OwnServer, TestApp, spawn_app, spawn_app_with};

/// Valid count and failures by code, summed over every bucket.
fn totals(history: &api::UsageHistory) -> (u64, BTreeMap<String, u64>) {
    let mut failed = BTreeMap::new();
    let mut valid = 0;
    for bucket in &history.buckets {
        valid += bucket.valid;
        for (code, n) in &bucket.failed {
            *failed.entry(code.clone()).or_insert(0) += n;
        }
    }
    (valid, failed)
}

async fn usage(app: &TestApp, tenant: &str, id: &str, window: UsageWindow) -> api::UsageHistory {
    Client::new(&app.base, &app.admin)
        .unwrap()
        .key_usage(tenant, id, window)
        .await
        .unwrap()
}

#[tokio::test]
async fn usage_history_has_successes_and_failures_by_code_and_the_flush_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = OwnServer::start(dir.path()).await;
    let app = TestApp::connect(&server.base, dir.path());
    let tenant = app.enabled_tenant("acme").await;
    let user = app.create_user(&tenant, "Ana", &["developer"], true).await;
    let key = app.key_for(&tenant, &user.id, "billing-sync").await;
    let quiet = app.key_for(&tenant, &user.id, "quiet").await;
    for _ in 0..3 {
        assert_eq!(app.verify(&key.secret).await, "VALID");
    }
    for _ in 0..2 {
        assert_eq!(
            app.verify_scope(&key.secret, "payments:write").await,
            "INSUFFICIENT_SCOPE"
        );
    }
    app.act(&tenant, &app.admin, &key.id, "disable")
        .await
        .expect(200);
    assert_eq!(app.verify(&key.secret).await, "DISABLED");
    app.act(&tenant, &app.admin, &key.id, "revoke")
        .await
        .expect(200);
    assert_eq!(app.verify(&key.secret).await, "REVOKED");
    assert_eq!(app.verify(&key.secret).await, "REVOKED");
    let expected_failed = BTreeMap::from([
        ("DISABLED".to_owned(), 1),
        ("INSUFFICIENT_SCOPE".to_owned(), 2),
        ("REVOKED".to_owned(), 2),
    ]);

    let check = |app: TestApp, stage: &'static str| {
        let (key, quiet, tenant, expected_failed) = (
            key.id.clone(),
            quiet.id.clone(),
            tenant.clone(),
            expected_failed.clone(),
        );
        async move {
            for (window, buckets, seconds) in [
                (UsageWindow::Hour, 60, 60),
                (UsageWindow::Day, 96, 900),
                (UsageWindow::Week, 168, 3600),
            ] {
                let history = usage(&app, &tenant, &key, window).await;
                assert_eq!(history.window, window.as_str(), "{stage}");
                assert_eq!(history.bucket_seconds, seconds, "{stage}");
                assert_eq!(history.buckets.len(), buckets, "{stage} {window:?}");
                let starts: Vec<_> = history.buckets.iter().map(|b| b.start).collect();
                assert!(
                    starts
                        .windows(2)
                        .all(|w| (w[1] - w[0]).num_seconds() == i64::from(seconds)),
                    "{stage}: buckets of equal length, oldest first"
                );
                assert!(
                    *starts.last().unwrap() <= chrono::Utc::now(),
                    "{stage}: the last bucket holds now"
                );
                assert_eq!(
                    totals(&history),
                    (3, expected_failed.clone()),
                    "{stage} {window:?}"
                );
                let silent = usage(&app, &tenant, &quiet, window).await;
                assert_eq!(silent.buckets.len(), buckets);
                assert_eq!(totals(&silent), (0, BTreeMap::new()), "{stage}");
            }
            // The 24-hour counts and last use agree with the history.
            let body = app.get_key(&tenant, &key).await.expect(200).json;
            assert_eq!(
                body["usage_24h"],
                json!({ "valid": 3, "failed": 5 }),
                "{stage}"
            );
            assert!(body["last_used_at"].is_string(), "{stage}: {body}");
            assert!(app.get_key(&tenant, &quiet).await.json["last_used_at"].is_null());
        }
    };
    // Before any flush: counted in memory, already in the history.
    check(TestApp::connect(&server.base, dir.path()), "in memory").await;
    // A graceful stop writes the counters; a new server reads them back
    // from the minute rows (1h, 24h) and the hour rows (7d).
    server.stop().await;
    let server = OwnServer::start(dir.path()).await;
    check(TestApp::connect(&server.base, dir.path()), "stored").await;
    server.stop().await;
}

/// `keydesk serve --usage-history off` (for measuring what counting
/// costs): the same verifications that a default server records leave no
/// usage, no 24-hour counts and no last use, also after a flush.
#[tokio::test]
async fn with_usage_history_off_verifications_record_nothing_and_on_they_do() {
    let on = spawn_app().await;
    let off = spawn_app_with(|config| config.activity.usage_history = false, None).await;
    let mut keys = Vec::new();
    for app in [&on, &off] {
        let tenant = app.enabled_tenant("acme").await;
        let user = app.create_user(&tenant, "Ana", &["developer"], true).await;
        let key = app.key_for(&tenant, &user.id, "billing-sync").await;
        for _ in 0..3 {
            assert_eq!(app.verify(&key.secret).await, "VALID");
        }
        assert_eq!(
            app.verify_scope(&key.secret, "payments:write").await,
            "INSUFFICIENT_SCOPE"
        );
        keys.push((tenant, key.id));
    }
    // Past one flush (every 2 s), so nothing is only pending.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for (app, (tenant, id), recorded) in [(&on, &keys[0], true), (&off, &keys[1], false)] {
        let history = usage(app, tenant, id, UsageWindow::Hour).await;
        let body = app.get_key(tenant, id).await.expect(200).json;
        if recorded {
            assert_eq!(
                totals(&history),
                (3, BTreeMap::from([("INSUFFICIENT_SCOPE".to_owned(), 1)]))
            );
            assert_eq!(body["usage_24h"], json!({ "valid": 3, "failed": 1 }));
            assert!(body["last_used_at"].is_string(), "{body}");
        } else {
            assert_eq!(totals(&history), (0, BTreeMap::new()));
            assert_eq!(body["usage_24h"], json!({ "valid": 0, "failed": 0 }));
            assert!(body["last_used_at"].is_null(), "{body}");
        }
    }
}

#[tokio::test]
async fn usage_is_read_like_the_key_itself() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let other = app.enabled_tenant("globex").await;
    let viewer = app.create_user(&tenant, "Vic", &["viewer"], false).await;
    let outsider = app
        .create_user(&other, "Olga", &["tenant_admin"], true)
        .await;
    let owner = app.create_user(&tenant, "Ana", &["developer"], true).await;
    let key = app.key_for(&tenant, &owner.id, "k").await;
    let path = format!("/v1/tenants/{tenant}/keys/{}/usage", key.id);
    let reply = app.get(&format!("{path}?window=1h"), &viewer.token).await;
    assert_eq!(
        reply.expect(200).json["buckets"].as_array().unwrap().len(),
        60
    );
    // The default window is 24 hours.
    assert_eq!(app.get(&path, &viewer.token).await.json["window"], "24h");
    app.get(&path, &outsider.token)
        .await
        .expect_problem(404, "NOT_FOUND");
    app.get(
        &format!("/v1/tenants/{other}/keys/{}/usage", key.id),
        &app.admin,
    )
    .await
    .expect_problem(404, "NOT_FOUND");
    app.get(
        &format!("/v1/tenants/{tenant}/keys/key_nope/usage"),
        &app.admin,
    )
    .await
    .expect_problem(404, "NOT_FOUND");
    let bad = app
        .get(&format!("{path}?window=2h"), &app.admin)
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    assert!(bad.detail().contains("1h, 24h, 7d"), "{}", bad.text);
    app.send(app.request(reqwest::Method::GET, &path, None))
        .await
        .expect(401);
}

/// Thresholds that one test can reach in a few requests.
fn rules(rules: SuspicionRules) -> impl FnOnce(&mut keydesk::server::ServeConfig) {
    move |config| config.activity.suspicion = rules
}

/// Waits (through the flush, every 2 s) until the tenant's suspicious keys
/// are `expected`, and returns the list.
async fn wait_for_suspicious(app: &TestApp, tenant: &str, expected: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = app.list_keys(tenant, "suspicious=true").await;
        let mut ids = crate::helpers::ids_of(&list["items"]);
        ids.sort();
        let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        if ids == want {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "suspicious keys {ids:?}, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_key_whose_failures_dominate_its_last_hour_is_flagged_with_the_reason() {
    let app = spawn_app_with(
        rules(SuspicionRules {
            failure_min_requests: 10,
            failure_share: 0.5,
            spike_min_requests: 1_000_000,
            spike_factor: 10.0,
        }),
        None,
    )
    .await;
    let tenant = app.enabled_tenant("acme").await;
    let other = app.enabled_tenant("globex").await;
    let ana = app.create_user(&tenant, "Ana", &["developer"], true).await;
    let olga = app.create_user(&other, "Olga", &["developer"], true).await;
    let probed = app.key_for(&tenant, &ana.id, "probed").await;
    let busy = app.key_for(&tenant, &ana.id, "busy").await;
    let few = app.key_for(&tenant, &ana.id, "few").await;
    let elsewhere = app.key_for(&other, &olga.id, "elsewhere").await;
    // 8 of 12 failed: flagged. 3 of 11: not. 2 of 2: too few to judge.
    for (key, valid, failed) in [
        (&probed, 4, 8),
        (&busy, 8, 3),
        (&few, 0, 2),
        (&elsewhere, 0, 12),
    ] {
        for _ in 0..valid {
            assert_eq!(app.verify(&key.secret).await, "VALID");
        }
        for _ in 0..failed {
            app.verify_scope(&key.secret, "admin:all").await;
        }
    }
    let list = wait_for_suspicious(&app, &tenant, &[&probed.id]).await;
    assert_eq!(list["total"], 1, "the filter counts what it shows: {list}");
    let reason = list["items"][0]["suspicious"]["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "failures dominate: 8 of 12 verifications in the last hour failed (67%)"
    );
    // The key itself says so; the others say nothing.
    let flagged = app.get_key(&tenant, &probed.id).await.expect(200).json;
    assert_eq!(flagged["suspicious"]["reason"], reason);
    for key in [&busy, &few] {
        let body = app.get_key(&tenant, &key.id).await.json;
        assert!(body["suspicious"].is_null(), "{body}");
    }
    // In the unfiltered list too, and through the typed client.
    let all = app.list_keys(&tenant, "").await;
    assert_eq!(all["total"], 3);
    let client = Client::new(&app.base, &app.admin).unwrap();
    let query = KeyListQuery {
        suspicious: Some(true),
        ..KeyListQuery::default()
    };
    let page = client.list_keys(&tenant, &query).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, probed.id);
    assert_eq!(page.items[0].suspicious.as_ref().unwrap().reason, reason);
    // `false` filters nothing; the other tenant's flagged key stays there.
    assert_eq!(app.list_keys(&tenant, "suspicious=false").await["total"], 3);
    wait_for_suspicious(&app, &other, &[&elsewhere.id]).await;
}

#[tokio::test]
async fn a_spike_at_the_minimum_volume_is_flagged_and_below_it_is_not() {
    let app = spawn_app_with(
        rules(SuspicionRules {
            spike_min_requests: 15,
            spike_factor: 10.0,
            failure_min_requests: 1_000_000,
            failure_share: 0.5,
        }),
        None,
    )
    .await;
    let tenant = app.enabled_tenant("acme").await;
    let ana = app.create_user(&tenant, "Ana", &["developer"], true).await;
    let hot = app.key_for(&tenant, &ana.id, "hot").await;
    let warm = app.key_for(&tenant, &ana.id, "warm").await;
    for (key, n) in [(&hot, 16), (&warm, 14)] {
        for _ in 0..n {
            assert_eq!(app.verify(&key.secret).await, "VALID");
        }
    }
    let list = wait_for_suspicious(&app, &tenant, &[&hot.id]).await;
    assert_eq!(
        list["items"][0]["suspicious"]["reason"],
        "spike: 16 verifications in the last hour, none in the 24 hours before"
    );
    // Still just the one after another flush.
    tokio::time::sleep(keydesk::server::usage::FLUSH_INTERVAL).await;
    wait_for_suspicious(&app, &tenant, &[&hot.id]).await;
}
