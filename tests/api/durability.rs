//! A creation that was answered 201 survives a crash: the binary is killed
//! with SIGKILL while clients stream creations, restarted on the same data
//! directory, and every acknowledged key is listed and verifies.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, ServerProcess, TestApp};

const STREAMS: usize = 4;
/// Acknowledged creations before the kill.
const BEFORE_KILL: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_key_creation_answered_201_survives_a_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data.path(), logs.path(), "first").await;
    let app = TestApp::connect(&server.base, data.path());
    app.enabled_tenant("acme").await;

    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut streams = Vec::new();
    for stream in 0..STREAMS {
        let (url, acknowledged) = (app.url("/v1/tenants/acme/keys"), acknowledged.clone());
        streams.push(tokio::spawn(async move {
            let client = crate::helpers::client();
            for n in 0.. {
                let sent = client
                    .post(&url)
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&json!({ "name": format!("stream-{stream}-{n}") }))
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                let status = response.status();
                let Ok(body) = response.json::<Value>().await else {
                    break;
                };
                // Only a complete 201 is an acknowledgement.
                assert_eq!(status, 201, "{body}");
                let id = body["key"]["id"].as_str().unwrap().to_owned();
                let secret = body["secret"].as_str().unwrap().to_owned();
                acknowledged.lock().unwrap().push((id, secret));
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < BEFORE_KILL {
        assert!(Instant::now() < deadline, "creations too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    for stream in streams {
        stream.await.expect("a stream ends when the server dies");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= BEFORE_KILL);

    let restarted = ServerProcess::start(data.path(), logs.path(), "second").await;
    let app = TestApp::connect(&restarted.base, data.path());
    let listed = app.key_ids("acme").await;
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|(id, _)| !listed.contains(id))
        .map(|(id, _)| id)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged keys were lost: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    for (id, secret) in &acknowledged {
        let answer = app.verify_body(json!({ "key": secret })).await;
        assert_eq!(answer["code"], "VALID", "{id}");
        assert_eq!(answer["key_id"], id.as_str());
    }
}
