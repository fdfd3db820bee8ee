//! Slow, idle and surplus clients cannot keep others out, nor a shutdown
//! from finishing: idle, header and body timeouts close what dawdles, the
//! connection limit stays below the descriptor limit (raised at start), and
//! a shutdown drops what is still open at its deadline, after which the
//! usage counters are written all the same.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::{OwnServer, ServerProcess, TestApp, serve_config};

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: keydesk\r\n\r\n";
/// A verification whose body stops after its first bytes.
const HALF_BODY: &[u8] = b"POST /v1/verify HTTP/1.1\r\nHost: keydesk\r\n\
Content-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"key\": ";

/// What the server sent, and when it closed the connection (from the
/// call), or `None` when it was still open after `patience`.
async fn read_until_closed(
    stream: &mut TcpStream,
    patience: Duration,
) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(started + patience, stream.read(&mut buffer)).await {
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), None),
            Ok(Ok(0) | Err(_)) => {
                return (
                    String::from_utf8_lossy(&received).into_owned(),
                    Some(started.elapsed()),
                );
            }
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

async fn connect(base: &str, sending: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(sending).await.unwrap();
    stream
}

#[tokio::test]
async fn idle_slow_and_half_sent_requests_are_closed_in_time() {
    let data = tempfile::tempdir().unwrap();
    let mut config = serve_config(data.path());
    config.connections.idle_timeout = Duration::from_secs(3);
    config.connections.header_timeout = Duration::from_secs(1);
    config.connections.body_timeout = Duration::from_secs(1);
    let server = OwnServer::start_with(&config).await;
    let patience = Duration::from_secs(10);

    let mut silent = connect(&server.base, b"").await;
    let mut half_head = connect(&server.base, b"GET /healthz HTTP/1.1\r\nHo").await;
    let mut kept_alive = connect(&server.base, HEALTH).await;
    let mut half_body = connect(&server.base, HALF_BODY).await;
    let ((nothing, silent_closed), (_, head_closed), (answer, alive_closed), (timed_out, _)) = tokio::join!(
        read_until_closed(&mut silent, patience),
        read_until_closed(&mut half_head, patience),
        read_until_closed(&mut kept_alive, patience),
        read_until_closed(&mut half_body, patience),
    );

    let idle_closed =
        |closed: Option<Duration>| closed.is_some_and(|after| after >= Duration::from_millis(2500));
    assert!(nothing.is_empty(), "{nothing}");
    assert!(
        idle_closed(silent_closed),
        "a silent connection closed after {silent_closed:?}, not after the idle timeout"
    );
    assert!(
        head_closed.is_some_and(|after| after < Duration::from_millis(2500)),
        "a half-sent head closed after {head_closed:?}, not after the header timeout"
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        idle_closed(alive_closed),
        "a kept-alive connection closed after {alive_closed:?}, not when idle for the idle timeout"
    );
    assert!(
        timed_out.starts_with("HTTP/1.1 408") && timed_out.contains("BODY_TIMEOUT"),
        "a half-sent body: {timed_out}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_half_sent_request_does_not_hold_up_shutdown_and_usage_is_still_written() {
    let data = tempfile::tempdir().unwrap();
    let mut config = serve_config(data.path());
    // Longer than the shutdown deadline: the deadline is what ends them.
    config.connections.header_timeout = Duration::from_secs(60);
    config.connections.body_timeout = Duration::from_secs(60);
    config.connections.shutdown_timeout = Duration::from_secs(1);
    let server = OwnServer::start_with(&config).await;
    let app = TestApp::connect(&server.base, data.path());
    app.enabled_tenant("acme").await;
    let key = app.key_for("acme", &app.admin_id().await, "ci").await;
    assert_eq!(app.verify(&key.secret).await, "VALID");
    let _half_head = connect(&server.base, b"GET /healthz HTTP/1.1\r\nHost: k").await;
    let _half_body = connect(&server.base, HALF_BODY).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let stopping = Instant::now();
    server.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "the shutdown took {:?}",
        stopping.elapsed()
    );

    let server = OwnServer::start_with(&config).await;
    let app = TestApp::connect(&server.base, data.path());
    let key = app.get_key("acme", &key.id).await.expect(200);
    assert!(
        key.json["last_used_at"].is_string(),
        "the verification's usage was not written: {}",
        key.text
    );
    server.stop().await;
}

/// 150 connections that sent one request and are kept alive, 150 that
/// never sent a byte.
async fn idle_connections(base: &str) -> Vec<TcpStream> {
    let mut connections = Vec::new();
    for n in 0..300 {
        connections.push(connect(base, if n % 2 == 0 { HEALTH } else { b"" }).await);
    }
    connections
}

/// A request that needs the database, answered while 300 connections idle.
async fn answered_beside_idle_connections(server: &ServerProcess, data: &std::path::Path) {
    let idle = idle_connections(&server.base).await;
    let app = TestApp::connect(&server.base, data);
    let answered =
        tokio::time::timeout(Duration::from_secs(15), app.get("/v1/tenants", &app.admin)).await;
    assert!(
        answered.is_ok(),
        "no answer while 300 connections were idle: {}",
        server.logs()
    );
    answered.unwrap().expect(200);
    drop(idle);
}

#[tokio::test]
async fn three_hundred_idle_connections_do_not_keep_a_request_out() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    // A low soft descriptor limit, as many systems set: the server raises it.
    let server =
        ServerProcess::start_in_shell("ulimit -Sn 256", &[], data.path(), logs.path(), "soft")
            .await;
    answered_beside_idle_connections(&server, data.path()).await;
}

#[tokio::test]
async fn below_a_hard_descriptor_limit_idle_connections_wait_and_the_database_still_opens() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    // 256 descriptors for good: 128 connections at most, the rest wait
    // until idle ones are closed; the database keeps the descriptors it needs.
    let server = ServerProcess::start_in_shell(
        "ulimit -n 256",
        &["--idle-timeout", "1", "--header-timeout", "1"],
        data.path(),
        logs.path(),
        "hard",
    )
    .await;
    answered_beside_idle_connections(&server, data.path()).await;
}
