//! Several `keydesk serve` instances on one PostgreSQL database (issue 10
//! point 1): a limit, an Idempotency-Key and an If-Match hold across
//! instances exactly as within one, because each check and its write run in
//! one transaction under the tenant's lock in the database, not in a
//! process. These run only with `KEYDESK_TEST_BACKEND=postgres` (SQLite is
//! one file for one server).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::backend::skip_unless_postgres;
use crate::helpers::{OwnServer, TestApp, serve_config};

/// Two instances started at once on the same (empty) database, so their
/// migrations and bootstraps race as a fleet's do at its first start; their
/// clients, one per instance, and the servers (stopped when dropped with
/// the test).
async fn two_instances(data_dir: &std::path::Path) -> (Vec<Arc<TestApp>>, Vec<OwnServer>) {
    let config = serve_config(data_dir);
    let (first, second) = tokio::join!(
        OwnServer::start_with(&config),
        OwnServer::start_with(&config)
    );
    let apps = [&first, &second]
        .iter()
        .map(|server| Arc::new(TestApp::connect(&server.base, data_dir)))
        .collect();
    (apps, vec![first, second])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creations_on_two_instances_never_exceed_max_keys_per_user() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, _servers) = two_instances(data.path()).await;
    apps[0]
        .create_tenant(
            "limited",
            json!({ "api_keys_enabled": true, "max_keys_per_user": 5 }),
        )
        .await;
    let dev = apps[0]
        .create_user("limited", "Dev", &["developer"], true)
        .await;
    let mut creations = Vec::new();
    for n in 0..60 {
        let (app, token) = (apps[n % 2].clone(), dev.token.clone());
        creations.push(tokio::spawn(async move {
            let reply = app
                .try_create_key("limited", &token, json!({ "name": format!("k{n}") }))
                .await;
            (n % 2, reply)
        }));
    }
    let mut created = [0, 0];
    for creation in creations {
        let (instance, reply) = creation.await.expect("a creation");
        if reply.status == 201 {
            created[instance] += 1;
        } else {
            reply.expect_problem(409, "KEY_LIMIT_REACHED");
        }
    }
    assert_eq!(
        created[0] + created[1],
        5,
        "created per instance: {created:?}"
    );
    for app in &apps {
        assert_eq!(app.list_keys("limited", "").await["total"], 5);
    }
    assert_eq!(
        apps[1].events("limited", "action=key.created").await.len(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_with_one_idempotency_key_on_two_instances_create_one_key() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, _servers) = two_instances(data.path()).await;
    let tenant = apps[0].enabled_tenant("acme").await;
    let mut retries = Vec::new();
    for n in 0..10 {
        let (app, tenant) = (apps[n % 2].clone(), tenant.clone());
        retries.push(tokio::spawn(async move {
            let request = app
                .request(
                    reqwest::Method::POST,
                    &format!("/v1/tenants/{tenant}/keys"),
                    Some(&app.admin),
                )
                .header("idempotency-key", "retry-storm")
                .json(&json!({ "name": "once" }));
            app.send(request).await
        }));
    }
    let (mut new, mut ids) = (0, HashSet::new());
    for retry in retries {
        let reply = retry.await.expect("a retry");
        match reply.status.as_u16() {
            201 => new += 1,
            200 => assert_eq!(reply.header("idempotent-replayed"), Some("true")),
            other => panic!("unexpected {other}: {}", reply.text),
        }
        ids.insert(reply.json["key"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!((new, ids.len()), (1, 1));
    assert_eq!(apps[1].list_keys(&tenant, "").await["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_edits_with_one_etag_on_two_instances_exactly_one_wins() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, _servers) = two_instances(data.path()).await;
    let tenant = apps[0].enabled_tenant("acme").await;
    let key = apps[0]
        .create_key(&tenant, &apps[0].admin, json!({ "name": "contested" }))
        .await;
    let path = format!("/v1/tenants/{tenant}/keys/{}", key.id);
    let mut edits = Vec::new();
    for n in 0..8 {
        let (app, path, etag) = (apps[n % 2].clone(), path.clone(), key.etag.clone());
        edits.push(tokio::spawn(async move {
            let request = app
                .request(reqwest::Method::PATCH, &path, Some(&app.admin))
                .header("if-match", etag)
                .json(&json!({ "name": format!("edit-{n}") }));
            (n, app.send(request).await)
        }));
    }
    let mut winners = Vec::new();
    for edit in edits {
        let (n, reply) = edit.await.expect("an edit");
        match reply.status.as_u16() {
            200 => winners.push(n),
            412 => {
                reply.expect_problem(412, "PRECONDITION_FAILED");
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let read = apps[1].get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.json["name"], format!("edit-{}", winners[0]));
}

/// A tenant's events commit in id order, whichever instance wrote them:
/// a reader that pages the log with the highest id it has seen (as a
/// stream resuming with Last-Event-ID does) while two instances write
/// never finds, later, an event below that id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_resuming_after_the_last_id_it_saw_misses_no_event_of_two_instances() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, _servers) = two_instances(data.path()).await;
    let tenant = apps[0].enabled_tenant("acme").await;
    let store = keydesk::store::postgres::PgStore::connect(
        &crate::backend::existing_database(data.path()).expect("the database"),
    )
    .await
    .unwrap();
    let tenant_id = keydesk::domain::TenantId::parse(&tenant).unwrap();
    let mut writers = Vec::new();
    for n in 0..40 {
        let (app, tenant) = (apps[n % 2].clone(), tenant.clone());
        writers.push(tokio::spawn(async move {
            app.create_key(&tenant, &app.admin, json!({ "name": format!("k{n}") }))
                .await;
        }));
    }
    let mut seen: Vec<i64> = Vec::new();
    let mut last = 0;
    let read = |after| {
        let (store, tenant_id) = (&store, &tenant_id);
        async move {
            keydesk::store::Store::events_after(store, tenant_id, after, 1000)
                .await
                .unwrap()
        }
    };
    while writers.iter().any(|writer| !writer.is_finished()) {
        for event in read(last).await {
            seen.push(event.id);
            last = event.id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    for event in read(last).await {
        seen.push(event.id);
    }
    let all: Vec<i64> = read(0).await.iter().map(|event| event.id).collect();
    assert_eq!(
        seen, all,
        "the reader missed events that committed after it read past them"
    );
}

/// A key created (or rotated) on one instance verifies on the other within
/// a second, and at once when its creation waited for the fleet: the
/// other's index of digests learns the keys other instances write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_made_on_one_instance_verifies_on_the_other() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, _servers) = two_instances(data.path()).await;
    apps[0].enabled_tenant("acme").await;
    let key = apps[0]
        .create_key("acme", &apps[0].admin, json!({ "name": "made-on-a" }))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while apps[1].verify(&key.secret).await != "VALID" {
        assert!(
            std::time::Instant::now() < deadline,
            "a key made on A does not verify on B within a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let rotated = apps[0]
        .post(
            &format!("/v1/tenants/acme/keys/{}/regenerate?wait=fleet", key.id),
            &apps[0].admin,
            json!({ "grace_seconds": 600 }),
        )
        .await
        .expect(200);
    assert!(
        rotated
            .header("keydesk-fleet")
            .is_some_and(|h| h.starts_with("applied=2/2")),
        "{:?}",
        rotated.header("keydesk-fleet")
    );
    let new = rotated.json["secret"].as_str().unwrap().to_owned();
    assert_eq!(apps[1].verify(&new).await, "VALID");
    assert_eq!(apps[1].verify(&key.secret).await, "VALID");
}

/// Usage counted on every instance adds up exactly in the database: each
/// writes its own counts as additions, never over another's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usage_counted_on_two_instances_adds_up_exactly() {
    if skip_unless_postgres("two instances share one database") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (apps, servers) = two_instances(data.path()).await;
    apps[0].enabled_tenant("acme").await;
    let key = apps[0]
        .create_key("acme", &apps[0].admin, json!({ "name": "counted" }))
        .await;
    // A key made on A verifies on B within a second: from then on, count.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while apps[1].verify(&key.secret).await != "VALID" {
        assert!(std::time::Instant::now() < deadline, "B never knew the key");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut verifications = Vec::new();
    for n in 0..99 {
        let (app, secret) = (apps[n % 2].clone(), key.secret.clone());
        verifications.push(tokio::spawn(async move { app.verify(&secret).await }));
    }
    for verification in verifications {
        assert_eq!(verification.await.unwrap(), "VALID");
    }
    // Graceful stops write what each counted.
    for server in servers {
        server.stop().await;
    }
    let reader = OwnServer::start_with(&serve_config(data.path())).await;
    let app = TestApp::connect(&reader.base, data.path());
    let counted = app.get_key("acme", &key.id).await.json;
    // The 99, and the one that found B ready.
    assert_eq!(
        counted["usage_24h"]["valid"], 100,
        "{}",
        counted["usage_24h"]
    );
    reader.stop().await;
}
