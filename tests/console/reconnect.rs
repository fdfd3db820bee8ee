//! A dead server becomes a status message and a retry, never a frozen
//! console: input keeps working while it is down, and the console comes
//! back by itself when a server listens on the same address again.

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use keydesk::console::session::Connection;
use keydesk::console::shell::Level;
use keydesk::domain::KeyStatus;
use serde_json::json;

use crate::support::{Acme, PATIENCE, TENANT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_reported_and_the_console_reconnects_by_itself() {
    let mut acme = Acme::start(json!({})).await;
    let (id, _) = acme.key("survivor").await;
    acme.key("bystander").await;
    let mut console = acme.console(&acme.ana, false).await;
    assert!(matches!(console.app.session().connection, Connection::Live));

    acme.server.stop().await;
    console.select("survivor");
    console.char('d');
    console
        .pump_until("the console to notice the dead server", |app| {
            matches!(app.session().connection, Connection::Down { .. })
        })
        .await;
    let status = console.app.status().cloned().expect("a status");
    assert_eq!(status.level, Level::Error);
    assert!(
        status.text.contains("cannot reach http://") && status.text.contains("retrying in 1 s"),
        "{}",
        status.text
    );
    assert!(
        console.screen(120, 40).contains("down, retry in"),
        "the header shows the connection"
    );

    // Input is never blocked: filtering still works on what was loaded.
    assert_eq!(
        console.app.keys.keys.len(),
        2,
        "the loaded keys stay listed"
    );
    console.char('/');
    console.type_text("surv");
    assert_eq!(console.app.keys.index.filter(), "surv");
    assert_eq!(console.app.keys.index.visible().len(), 1);
    assert!(console.screen(80, 24).contains(" / surv"));
    console.press(KeyCode::Esc);
    assert_eq!(console.app.keys.index.filter(), "");
    assert_eq!(console.app.keys.index.visible().len(), 2);

    acme.server.restart().await;
    let deadline = Instant::now() + PATIENCE;
    while !matches!(console.app.session().connection, Connection::Live) {
        assert!(
            Instant::now() < deadline,
            "no reconnection in {PATIENCE:?}; status {:?}",
            console.app.status()
        );
        console.app.on_tick();
        if let Ok(Some(msg)) =
            tokio::time::timeout(Duration::from_millis(100), console.rx.recv()).await
        {
            console.app.on_msg(msg);
        }
    }
    assert_eq!(console.status_text(), "connected again");
    assert_eq!(console.app.status_level(), Some(Level::Success));
    console.settle().await;
    assert_eq!(console.app.keys.keys.len(), 2, "the keys are reloaded");
    assert!(console.screen(120, 40).contains("● live"));

    // And it works again: the disable that failed can be repeated.
    assert_eq!(acme.server.status_of(TENANT, &id).await, "active");
    console.select("survivor");
    console.char('d');
    console
        .pump_until("the disable after reconnecting", |app| {
            app.keys.selected_key().map(|k| k.status) == Some(KeyStatus::Disabled)
        })
        .await;
    assert_eq!(acme.server.status_of(TENANT, &id).await, "disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_started_before_its_server_connects_when_it_comes_up() {
    let mut acme = Acme::start(json!({})).await;
    acme.key("waiting").await;
    acme.server.stop().await;

    let mut console = crate::support::Console::new(
        &acme.server.base,
        &acme.ana,
        Some(TENANT),
        false,
        keydesk::console::clipboard::ClipboardMode::Off,
    );
    console.app.start();
    console
        .pump_until("the first attempt to fail", |app| {
            matches!(app.session().connection, Connection::Down { .. })
        })
        .await;
    assert!(console.app.session().me.is_none());
    assert!(console.status_text().contains("cannot reach http://"));
    // Still usable: the help opens and closes.
    console.char('?');
    assert!(console.app.shell.dialogs.current.is_some());
    console.press(KeyCode::Esc);
    assert!(console.app.shell.dialogs.current.is_none());

    acme.server.restart().await;
    let deadline = Instant::now() + PATIENCE;
    while !console.app.keys.keys.iter().any(|k| k.name == "waiting") {
        assert!(
            Instant::now() < deadline,
            "never loaded; status {:?}",
            console.app.status()
        );
        console.app.on_tick();
        if let Ok(Some(msg)) =
            tokio::time::timeout(Duration::from_millis(100), console.rx.recv()).await
        {
            console.app.on_msg(msg);
        }
    }
    assert!(matches!(console.app.session().connection, Connection::Live));
    assert_eq!(console.app.session().tenant.as_deref(), Some(TENANT));
}
