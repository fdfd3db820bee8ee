//! The fleet (issue 10 points 3 and 5): a change committed on one instance
//! reaches every other instance's verification cache and live event
//! streams within a second, also when notifications are lost; `GET
//! /v1/fleet` lists the instances and their lag; `?wait=fleet` answers once
//! every live instance applied the change. The tests of several instances
//! run only with `KEYDESK_TEST_BACKEND=postgres`; one instance is the
//! whole fleet on either backend.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use keydesk::client::Client;
use serde_json::json;

use crate::backend::skip_unless_postgres;
use crate::helpers::{OwnServer, TestApp, serve_config, spawn_app};

/// The promise: a change reaches every instance within this.
const PROMISE: Duration = Duration::from_secs(1);

/// Instances on one database (PostgreSQL), with `adjust` applied to the
/// configuration of instance `n`; their clients and servers.
async fn instances(
    data_dir: &std::path::Path,
    count: usize,
    adjust: impl Fn(usize, &mut keydesk::server::ServeConfig),
) -> (Vec<TestApp>, Vec<OwnServer>) {
    let (mut apps, mut servers) = (Vec::new(), Vec::new());
    for n in 0..count {
        let mut config = serve_config(data_dir);
        config.fleet.instance_id = Some(format!("instance-{n}"));
        adjust(n, &mut config);
        let server = OwnServer::start_with(&config).await;
        apps.push(TestApp::connect(&server.base, data_dir));
        servers.push(server);
    }
    (apps, servers)
}

/// How long after now `secret` stops verifying on `app`; panics past 3 s.
async fn until_refused(app: &TestApp, secret: &str) -> Duration {
    let since = Instant::now();
    loop {
        if app.verify(secret).await != "VALID" {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "the secret still verifies after 3 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A key of `tenant` that verifies on `on` and is cached there as valid.
async fn cached_key(
    writer: &TestApp,
    on: &TestApp,
    tenant: &str,
    name: &str,
) -> crate::helpers::NewKey {
    let key = writer
        .create_key(tenant, &writer.admin, json!({ "name": name }))
        .await;
    // A new key reaches the other instance's index of digests with its
    // change: within a second (at once with `?wait=fleet`).
    let since = Instant::now();
    while on.verify(&key.secret).await != "VALID" {
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "a new key does not verify on the other instance within a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..3 {
        assert_eq!(on.verify(&key.secret).await, "VALID");
    }
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_kind_of_change_on_one_instance_stops_the_key_on_the_other_within_a_second() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, _servers) = instances(data.path(), 2, |_, _| {}).await;
    let (a, b) = (&apps[0], &apps[1]);
    let tenant = a.enabled_tenant("acme").await;
    let mut took = Vec::new();
    for action in ["revoke", "disable", "delete", "regenerate"] {
        let key = cached_key(a, b, &tenant, action).await;
        let path = format!("/v1/tenants/{tenant}/keys/{}", key.id);
        let reply = match action {
            "delete" => a.delete(&path, &a.admin).await,
            other => a.act(&tenant, &a.admin, &key.id, other).await,
        };
        assert!(reply.status.is_success(), "{action}: {}", reply.text);
        took.push((action, reply.status, until_refused(b, &key.secret).await));
    }
    // The old secret of a rotation ended early.
    let key = cached_key(a, b, &tenant, "rotating").await;
    a.post(
        &format!("/v1/tenants/{tenant}/keys/{}/regenerate", key.id),
        &a.admin,
        json!({ "grace_seconds": 3600 }),
    )
    .await
    .expect(200);
    assert_eq!(b.verify(&key.secret).await, "VALID", "in its grace");
    let reply = a
        .post_empty(
            &format!("/v1/tenants/{tenant}/keys/{}/end-rotation", key.id),
            &a.admin,
        )
        .await
        .expect(200);
    took.push((
        "end-rotation",
        reply.status,
        until_refused(b, &key.secret).await,
    ));
    // API keys switched off for the tenant.
    let key = cached_key(a, b, &tenant, "switched-off").await;
    let reply = a
        .patch_settings(&tenant, &a.admin, json!({ "api_keys_enabled": false }))
        .await
        .expect(200);
    took.push((
        "settings",
        reply.status,
        until_refused(b, &key.secret).await,
    ));
    eprintln!("from A's answer to the first refusal on B: {took:?}");
    for (action, _, elapsed) in took {
        assert!(elapsed < PROMISE, "{action}: {elapsed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_stream_on_one_instance_receives_every_instances_events_in_order_once() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, _servers) = instances(data.path(), 2, |_, _| {}).await;
    let tenant = apps[0].enabled_tenant("acme").await;
    let client = Client::new(&apps[1].base, &apps[1].admin).unwrap();
    // From the log's newest event on: the tenant's own events may reach B's
    // feed after the stream opens (B applies A's changes as they come).
    let newest = apps[0].events(&tenant, "").await[0]["id"].as_i64().unwrap();
    let mut stream = client.event_stream(&tenant, Some(newest)).await.unwrap();
    // Writes on both instances, some at once.
    let mut writers = Vec::new();
    for n in 0..12 {
        let (base, data_dir, tenant) = (
            apps[n % 2].base.clone(),
            data.path().to_owned(),
            tenant.clone(),
        );
        writers.push(tokio::spawn(async move {
            let app = TestApp::connect(&base, &data_dir);
            let key = app
                .create_key(&tenant, &app.admin, json!({ "name": format!("k{n}") }))
                .await;
            app.act(&tenant, &app.admin, &key.id, "disable")
                .await
                .expect(200);
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut logged: Vec<i64> = apps[0]
        .events(&tenant, "")
        .await
        .iter()
        .map(|event| event["id"].as_i64().unwrap())
        .collect();
    logged.reverse();
    let expected: Vec<i64> = logged[logged.len() - 24..].to_vec();
    let mut received = Vec::new();
    while received.len() < expected.len() {
        let event = tokio::time::timeout(Duration::from_secs(3), stream.next())
            .await
            .expect("an event within 3 s")
            .expect("the stream is open")
            .expect("an event");
        received.push(event.id);
    }
    // Nothing more (no duplicate arrives late).
    let extra = tokio::time::timeout(Duration::from_millis(700), stream.next()).await;
    assert!(
        extra.is_err(),
        "an event beyond the log's: {extra:?} after {received:?}"
    );
    assert_eq!(received, expected, "B's stream against the log");
}

/// Ends every connection that listens for changes (both instances').
fn terminate_listeners(data_dir: &std::path::Path) -> u64 {
    let url = crate::backend::existing_database(data_dir).expect("the database");
    crate::backend::on_the_side(url, |client| async move {
        let rows = client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        rows.len() as u64
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_notifications_lost_a_revoke_still_stops_the_key_on_the_other_instance_within_a_second()
 {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    // B hears of no change but through the change counter it reads.
    let (apps, _servers) = instances(data.path(), 2, |n, config| {
        config.fleet.notifications = n == 0;
    })
    .await;
    let (a, b) = (&apps[0], &apps[1]);
    let tenant = a.enabled_tenant("acme").await;
    let mut took = Vec::new();
    for n in 0..5 {
        let key = cached_key(a, b, &tenant, &format!("quiet-{n}")).await;
        a.act(&tenant, &a.admin, &key.id, "revoke")
            .await
            .expect(200);
        took.push(until_refused(b, &key.secret).await);
    }
    eprintln!("without notifications, revoke on A to refusal on B: {took:?}");
    assert!(took.iter().all(|elapsed| *elapsed < PROMISE), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoke_right_after_the_listening_connections_die_still_reaches_the_other_instance() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, _servers) = instances(data.path(), 2, |_, _| {}).await;
    let (a, b) = (&apps[0], &apps[1]);
    let tenant = a.enabled_tenant("acme").await;
    let mut took = Vec::new();
    for n in 0..3 {
        let key = cached_key(a, b, &tenant, &format!("k{n}")).await;
        // Wait for the listeners to be back from the previous round.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(
            terminate_listeners(data.path()) >= 1,
            "a listening connection"
        );
        // B refills its cache (it forgot everything when its listener died).
        assert_eq!(b.verify(&key.secret).await, "VALID");
        a.act(&tenant, &a.admin, &key.id, "revoke")
            .await
            .expect(200);
        took.push(until_refused(b, &key.secret).await);
    }
    eprintln!("listeners terminated, revoke on A to refusal on B: {took:?}");
    assert!(took.iter().all(|elapsed| *elapsed < PROMISE), "{took:?}");
}

fn fleet_header(reply: &crate::helpers::Reply) -> String {
    reply
        .header("keydesk-fleet")
        .unwrap_or_else(|| panic!("a Keydesk-Fleet header: {:?}", reply.text))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fleet_lists_both_instances_and_wait_fleet_names_the_live_ones() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, mut servers) = instances(data.path(), 2, |_, _| {}).await;
    let (a, b) = (&apps[0], &apps[1]);
    let tenant = a.enabled_tenant("acme").await;
    let key = a
        .create_key(&tenant, &a.admin, json!({ "name": "one" }))
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let fleet = b.get("/v1/fleet", &b.admin).await.expect(200).json;
    assert_eq!(fleet["this_instance"], "instance-1");
    let listed: Vec<(&str, i64)> = fleet["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["lag"].as_i64().unwrap()))
        .collect();
    assert_eq!(listed, [("instance-0", 0), ("instance-1", 0)], "{fleet}");
    assert!(fleet["change"].as_i64().unwrap() > 0);
    for instance in fleet["instances"].as_array().unwrap() {
        assert!(
            instance["heartbeat_age_ms"].as_u64().unwrap() < 2500,
            "{instance}"
        );
        assert!(
            instance["address"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
    }

    let revoke = format!("/v1/tenants/{tenant}/keys/{}/revoke?wait=fleet", key.id);
    let reply = a
        .send(a.request(reqwest::Method::POST, &revoke, Some(&a.admin)))
        .await
        .expect(200);
    let header = fleet_header(&reply);
    assert!(header.starts_with("applied=2/2; ms="), "{header}");
    let ms: u64 = header
        .trim_start_matches("applied=2/2; ms=")
        .parse()
        .unwrap();
    eprintln!("wait=fleet on a revoke: {header}");
    assert!(ms < 1000, "{header}");
    // What B answers now is what it applied.
    assert_ne!(b.verify(&key.secret).await, "VALID");

    // B stops: its heartbeat ages out and no wait counts it.
    drop(servers.pop());
    tokio::time::sleep(Duration::from_millis(3600)).await;
    let fleet = a.get("/v1/fleet", &a.admin).await.expect(200).json;
    let ids: Vec<&str> = fleet["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["instance-0"], "{fleet}");
    let other = a
        .create_key(&tenant, &a.admin, json!({ "name": "two" }))
        .await;
    let reply = a
        .send(a.request(
            reqwest::Method::POST,
            &format!(
                "/v1/tenants/{tenant}/keys/{}/revoke?wait=fleet&wait_ms=3000",
                other.id
            ),
            Some(&a.admin),
        ))
        .await
        .expect(200);
    let header = fleet_header(&reply);
    assert!(header.starts_with("applied=1/1; ms="), "{header}");
}

/// One instance is the whole fleet, on either backend (the only fleet of
/// SQLite): listed alone, confirmed at once.
#[tokio::test]
async fn one_instance_is_the_whole_fleet() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let fleet = app.get("/v1/fleet", &app.admin).await.expect(200).json;
    let instances = fleet["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{fleet}");
    assert_eq!(instances[0]["id"], fleet["this_instance"]);
    assert_eq!(instances[0]["lag"], 0);
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "k" }))
        .await;
    let reply = app
        .send(app.request(
            reqwest::Method::POST,
            &format!("/v1/tenants/{tenant}/keys/{}/disable?wait=fleet", key.id),
            Some(&app.admin),
        ))
        .await
        .expect(200);
    let header = fleet_header(&reply);
    assert!(header.starts_with("applied=1/1; ms="), "{header}");
    assert!(
        header
            .trim_start_matches("applied=1/1; ms=")
            .parse::<u64>()
            .unwrap()
            < 500
    );
    // Without wait, no header; a refused mutation waits for nothing.
    let reply = app
        .act(&tenant, &app.admin, &key.id, "enable")
        .await
        .expect(200);
    assert_eq!(reply.header("keydesk-fleet"), None);
    let reply = app
        .send(app.request(
            reqwest::Method::POST,
            &format!("/v1/tenants/{tenant}/keys/{}/enable?wait=fleet", key.id),
            Some(&app.admin),
        ))
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.text);
    assert_eq!(reply.header("keydesk-fleet"), None);
    // Bad values are refused before anything is done.
    for query in [
        "wait=everyone",
        "wait=fleet&wait_ms=10001",
        "wait=fleet&wait_ms=soon",
    ] {
        app.send(app.request(
            reqwest::Method::POST,
            &format!("/v1/tenants/{tenant}/keys/{}/revoke?{query}", key.id),
            Some(&app.admin),
        ))
        .await
        .expect_problem(400, "INVALID_QUERY");
    }
    assert_eq!(
        app.get_key(&tenant, &key.id).await.expect(200).json["status"],
        "active"
    );
    // The fleet is the installation's: a tenant admin does not see it.
    let admin = app
        .create_user(&tenant, "Tess", &["tenant_admin"], false)
        .await;
    app.get("/v1/fleet", &admin.token)
        .await
        .expect_problem(403, "FORBIDDEN");
}
