//! The live event stream: events arrive as mutations commit; a stream
//! resumed with `Last-Event-ID` loses and repeats nothing while writes go
//! on; a client that stops reading neither slows writers nor is kept.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use keydesk::api;
use keydesk::client::{Client, EventStream};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{OwnServer, TestApp, spawn_app, spawn_app_with};

/// The next event, within a few seconds.
async fn next(stream: &mut EventStream) -> api::EventBody {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream is open")
        .expect("an event")
}

/// The ids of the tenant's events, oldest first.
async fn logged_ids(app: &TestApp, tenant: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = app
        .events(tenant, "")
        .await
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    ids.reverse();
    ids
}

#[tokio::test]
async fn events_arrive_as_their_mutations_commit_and_only_the_tenants_own() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let other = app.enabled_tenant("globex").await;
    let viewer = app.create_user(&tenant, "Vic", &["viewer"], false).await;
    let ana = app.create_user(&tenant, "Ana", &["developer"], true).await;
    let outsider = app
        .create_user(&other, "Olga", &["tenant_admin", "developer"], true)
        .await;
    let client = Client::new(&app.base, &viewer.token).unwrap();
    let mut stream = client.event_stream(&tenant, None).await.unwrap();

    let key = app.key_for(&tenant, &ana.id, "billing-sync").await;
    let created = next(&mut stream).await;
    assert_eq!(
        (created.action.as_str(), created.target_id.as_str()),
        ("key.created", key.id.as_str())
    );
    // Another tenant's events are not this stream's.
    app.key_for(&other, &outsider.id, "elsewhere").await;
    app.act(&tenant, &app.admin, &key.id, "disable")
        .await
        .expect(200);
    let disabled = next(&mut stream).await;
    assert_eq!(disabled.action, "key.disabled");
    app.patch_settings(&tenant, &app.admin, json!({ "max_keys_per_user": 3 }))
        .await
        .expect(200);
    let settings = next(&mut stream).await;
    assert_eq!(settings.action, "settings.updated");
    // The same events, with the same ids, as the log has them.
    assert_eq!(
        vec![created.id, disabled.id, settings.id],
        logged_ids(&app, &tenant).await[3..].to_vec(),
        "after tenant.created and two user.created"
    );
    assert_eq!(
        serde_json::to_value(&settings).unwrap(),
        app.events(&tenant, "action=settings.updated").await[0]
    );

    // Read like the events: 404 outside the caller's tenants, 401 without a token.
    let err = Client::new(&app.base, &outsider.token)
        .unwrap()
        .event_stream(&tenant, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NOT_FOUND"), "{err}");
    let path = format!("/v1/tenants/{tenant}/events/stream");
    app.send(app.request(reqwest::Method::GET, &path, None))
        .await
        .expect(401);
    let bad = app
        .send(
            app.request(reqwest::Method::GET, &path, Some(&app.admin))
                .header("last-event-id", "seven"),
        )
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    assert!(bad.detail().contains("Last-Event-ID"), "{}", bad.text);
}

#[tokio::test]
async fn a_stream_resumed_with_last_event_id_loses_and_repeats_nothing_while_writes_go_on() {
    // Three writers at once: commits close together, so some land while a
    // resumed stream switches from the log to the live feed.
    const WRITERS: usize = 3;
    const WRITES: usize = 60;
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let ana = app.create_user(&tenant, "Ana", &["developer"], true).await;
    let key = app.key_for(&tenant, &ana.id, "k").await;
    let client = Client::new(&app.base, &app.admin).unwrap();
    let before = *logged_ids(&app, &tenant).await.last().unwrap();
    let mut stream = client.event_stream(&tenant, None).await.unwrap();

    // The writers: key creations and edits, as fast as they commit.
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (base, tenant, key, admin) = (
                app.base.clone(),
                tenant.clone(),
                key.id.clone(),
                app.admin.clone(),
            );
            tokio::spawn(async move {
                let app = TestApp::connect(&base, std::path::Path::new("."));
                for i in 0..WRITES / WRITERS {
                    if i % 2 == 0 {
                        app.create_key(&tenant, &admin, json!({ "name": format!("w{w}-{i}") }))
                            .await;
                    } else {
                        app.patch(
                            &format!("/v1/tenants/{tenant}/keys/{key}"),
                            &admin,
                            json!({ "description": format!("edit {w}-{i}") }),
                        )
                        .await
                        .expect(200);
                    }
                }
            })
        })
        .collect();

    // The reader hangs up every few events, each time resuming from the
    // last id it saw while the writers go on.
    let mut seen: Vec<i64> = Vec::new();
    for hang_up_after in [3, 5, 4, 6, 3, 7, 5, 4] {
        for _ in 0..hang_up_after {
            seen.push(next(&mut stream).await.id);
        }
        drop(stream);
        stream = client
            .event_stream(&tenant, seen.last().copied())
            .await
            .unwrap();
    }
    while seen.len() < WRITES {
        seen.push(next(&mut stream).await.id);
    }
    for writer in writers {
        writer.await.unwrap();
    }
    // Nothing more comes.
    let extra = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(extra.is_err(), "an event beyond the writes: {extra:?}");

    let logged: Vec<i64> = logged_ids(&app, &tenant)
        .await
        .into_iter()
        .filter(|id| *id > before)
        .collect();
    assert_eq!(logged.len(), WRITES);
    assert_eq!(seen, logged, "every event once, in order");
}

/// Opens the stream on a socket with a small receive buffer, reads the
/// response head, and from then on reads nothing.
async fn stalled_reader(
    address: std::net::SocketAddr,
    tenant: &str,
    token: &str,
) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request = format!(
        "GET /v1/tenants/{tenant}/events/stream HTTP/1.1\r\nhost: {address}\r\n\
         authorization: Bearer {token}\r\naccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

/// Reads a chunked response body to its end; returns the event ids in it.
async fn read_to_end(mut stream: tokio::net::TcpStream) -> Vec<i64> {
    let mut raw = Vec::new();
    let read = async {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut buffer).await.unwrap();
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buffer[..n]);
            if raw.ends_with(b"\r\n0\r\n\r\n") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server ends the stream of a reader that fell behind");
    // De-chunk, then read the `id:` lines.
    let mut body = Vec::new();
    let mut rest = &raw[..];
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
        if size == 0 {
            break;
        }
        body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
        rest = &rest[line_end + 2 + size + 2..];
    }
    String::from_utf8(body)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .map(|id| id.parse().unwrap())
        .collect()
}

/// Times `n` key creations.
async fn time_writes(app: &TestApp, tenant: &str, n: usize, label: &str) -> Duration {
    let started = Instant::now();
    for i in 0..n {
        app.create_key(tenant, &app.admin, json!({ "name": format!("{label}{i}") }))
            .await;
    }
    started.elapsed()
}

#[tokio::test]
async fn a_client_that_stops_reading_slows_no_writer_and_is_dropped() {
    const WRITES: usize = 200;
    // A small event buffer, and socket buffers too small to hide a stalled
    // reader (on loopback they would otherwise take megabytes).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(64).unwrap();
    let address = listener.local_addr().unwrap();
    let app = spawn_app_with(
        |config| config.activity.event_stream_buffer = 16,
        Some(listener),
    )
    .await;
    let tenant = app.enabled_tenant("acme").await;

    let alone = time_writes(&app, &tenant, WRITES, "a").await;
    let from = *logged_ids(&app, &tenant).await.last().unwrap();
    let stalled = stalled_reader(address, &tenant, &app.admin).await;
    let beside_stalled = time_writes(&app, &tenant, WRITES, "b").await;
    assert!(
        beside_stalled < alone * 3 + Duration::from_millis(500),
        "{WRITES} writes took {beside_stalled:?} beside a stalled reader, {alone:?} alone"
    );

    // It got what its buffers held, then the server closed its stream.
    let received = read_to_end(stalled).await;
    let written: Vec<i64> = logged_ids(&app, &tenant)
        .await
        .into_iter()
        .filter(|id| *id > from)
        .collect();
    assert_eq!(written.len(), WRITES);
    eprintln!(
        "DEBUG received {} alone {alone:?} beside {beside_stalled:?}",
        received.len()
    );
    assert!(
        !received.is_empty() && received.len() < WRITES,
        "the stalled reader got {} of {WRITES} events before it was dropped",
        received.len()
    );
    assert_eq!(received, written[..received.len()], "a gapless prefix");
    // Its client resumes where it stopped and gets the rest, once each.
    let client = Client::new(&app.base, &app.admin).unwrap();
    let mut resumed = client
        .event_stream(&tenant, received.last().copied())
        .await
        .unwrap();
    let mut rest = Vec::new();
    while rest.len() < WRITES - received.len() {
        rest.push(next(&mut resumed).await.id);
    }
    assert_eq!(rest, written[received.len()..]);
}

#[tokio::test]
async fn open_streams_end_when_the_server_stops() {
    let dir = tempfile::tempdir().unwrap();
    let server = OwnServer::start(dir.path()).await;
    let app = TestApp::connect(&server.base, dir.path());
    let tenant = app.enabled_tenant("acme").await;
    let client = Client::new(&server.base, &app.admin).unwrap();
    let mut streams = Vec::new();
    for resume in [None, Some(0)] {
        streams.push(client.event_stream(&tenant, resume).await.unwrap());
    }
    // The resumed one replays the log first.
    assert_eq!(next(&mut streams[1]).await.action, "tenant.created");
    // A graceful stop does not wait for streams that never end by themselves.
    server.stop().await;
    for mut stream in streams {
        let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("the stream ends with the server");
        assert!(end.as_ref().is_none_or(Result::is_err), "{end:?}");
    }
}

/// "See it fail everywhere": whoever sees a revoke, an end of rotation or a
/// disable on the stream can no longer verify the key. The cache forgets
/// what an event changed before the event leaves the writer, not after the
/// handler gets round to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_the_stream_shows_a_change_no_verification_answers_from_before_it() {
    let app = std::sync::Arc::new(spawn_app().await);
    let tenant = app.enabled_tenant("acme").await;
    let client = Client::new(&app.base, &app.admin).unwrap();
    let mut stream = client.event_stream(&tenant, None).await.unwrap();
    for round in 0..30 {
        let key = app
            .create_key(&tenant, &app.admin, json!({ "name": format!("k{round}") }))
            .await;
        assert_eq!(next(&mut stream).await.action, "key.created");
        // Cached as VALID.
        assert_eq!(app.verify(&key.secret).await, "VALID");
        assert_eq!(app.verify(&key.secret).await, "VALID");
        let action = ["revoke", "disable"][round % 2];
        let (app2, tenant2, id) = (app.clone(), tenant.clone(), key.id.clone());
        let acting = tokio::spawn(async move {
            app2.act(&tenant2, &app2.admin, &id, action)
                .await
                .expect(200);
        });
        let seen = next(&mut stream).await;
        assert_eq!(seen.target_id, key.id);
        let code = app.verify(&key.secret).await;
        assert_ne!(
            code, "VALID",
            "round {round}: {} was on the stream",
            seen.action
        );
        acting.await.unwrap();
    }
}

/// The mechanism under the test above, without its race: a revoke written
/// to the store directly (no handler to forget the key after) still leaves
/// the cache before its event reaches the stream.
#[tokio::test]
async fn a_change_leaves_the_verification_cache_before_its_event_is_published() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "cached" }))
        .await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
    assert_eq!(app.verify(&key.secret).await, "VALID", "now from the cache");
    let store = app.store.clone().expect("an in-process server");
    let mut events = store.subscribe_events();
    let tenant_id = keydesk::domain::TenantId::parse(&tenant).unwrap();
    store
        .update_key(
            &tenant_id,
            &key.id,
            None,
            Box::new(|mut stored, facts| {
                let now = chrono::Utc::now();
                let who = stored.owner.clone();
                stored.revoke(&facts.tenant.settings, who.clone(), now)?;
                let origin = keydesk::domain::event::Origin {
                    actor: who,
                    source: "test".to_owned(),
                };
                let event = origin.event(
                    now,
                    Some(stored.tenant_id.clone()),
                    keydesk::domain::event::EventAction::KeyRevoked,
                    (stored.id.as_str(), stored.name.as_str()),
                    json!({}),
                );
                Ok(keydesk::store::KeyWrite {
                    key: Some(stored),
                    events: vec![event],
                    secret: None,
                })
            }),
        )
        .await
        .unwrap();
    let published = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(published.event.target_id, key.id);
    assert_eq!(
        app.verify(&key.secret).await,
        "REVOKED",
        "answered from a stale cache"
    );
}
