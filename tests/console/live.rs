//! The console follows the tenant's event stream (issue 7, console 3-4):
//! another administrator's change shows within a second, without polling,
//! in the list, the detail and the Events view.

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use keydesk::console::views::ViewId;
use keydesk::domain::KeyStatus;
use serde_json::json;

use crate::support::{Acme, Console, TENANT};

/// Applies messages (never ticks, so nothing is polled) until `done` or `limit`.
async fn within(
    console: &mut Console,
    limit: Duration,
    done: impl Fn(&Console) -> bool,
) -> Duration {
    let start = Instant::now();
    while !done(console) {
        assert!(start.elapsed() < limit, "not within {limit:?}");
        if let Ok(Some(msg)) =
            tokio::time::timeout(Duration::from_millis(20), console.rx.recv()).await
        {
            console.app.on_msg(msg);
        }
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_admins_revoke_shows_within_a_second_without_polling() {
    let acme = Acme::start(json!({})).await;
    let (id, _) = acme.key("shared").await;
    let mut console = acme.console(&acme.ana, false).await;
    within(&mut console, Duration::from_secs(5), |c| {
        c.app.session().stream_live
    })
    .await;
    assert!(console.screen(120, 40).contains("● live"));

    acme.server.act(TENANT, &id, "revoke").await;
    let took = within(&mut console, Duration::from_secs(2), |c| {
        c.selected_key()
            .is_some_and(|k| k.status == KeyStatus::Revoked)
    })
    .await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    console.settle().await;
    assert!(
        console
            .app
            .events
            .events
            .iter()
            .any(|e| e.action == "key.revoked")
    );

    // A key created elsewhere appears; one deleted elsewhere goes, and says so.
    let (other, _) = acme.key("newcomer").await;
    within(&mut console, Duration::from_secs(2), |c| {
        c.app.keys.keys.iter().any(|k| k.id == other)
    })
    .await;
    console.select("newcomer");
    let (status, _) = acme
        .server
        .delete(&format!("/v1/tenants/{TENANT}/keys/{other}"), &acme.ana)
        .await;
    assert_eq!(status, 204);
    within(&mut console, Duration::from_secs(2), |c| {
        !c.app.keys.keys.iter().any(|k| k.id == other)
    })
    .await;
    assert!(
        console
            .status_text()
            .contains("newcomer is no longer in the list"),
        "{}",
        console.status_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_reconnects_and_catches_up() {
    let mut acme = Acme::start(json!({})).await;
    let (id, _) = acme.key("survivor").await;
    let mut console = acme.console(&acme.ana, false).await;
    within(&mut console, Duration::from_secs(5), |c| {
        c.app.session().stream_live
    })
    .await;
    acme.server.stop().await;
    within(&mut console, Duration::from_secs(5), |c| {
        !c.app.session().stream_live
    })
    .await;
    acme.server.restart().await;
    // Changed while the console was not listening: it catches up on reconnect.
    acme.server.act(TENANT, &id, "disable").await;
    within(&mut console, Duration::from_secs(15), |c| {
        c.app.session().stream_live
            && c.app
                .keys
                .keys
                .iter()
                .any(|k| k.id == id && k.status == KeyStatus::Disabled)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_on_an_event_jumps_to_its_key() {
    let acme = Acme::start(json!({})).await;
    acme.key("first").await;
    let (second, _) = acme.key("second").await;
    acme.server.act(TENANT, &second, "disable").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.select("first");
    console.char('2');
    console.char('/');
    console.type_text("key.disabled");
    console.press(KeyCode::Enter);
    console.press(KeyCode::Enter);
    assert_eq!(console.app.view, ViewId::Keys);
    assert_eq!(console.selected_key().unwrap().id, second);
}
