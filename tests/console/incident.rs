//! The on-call engineer's and the operator's paths (issue 7): a leaked
//! secret pasted into the console lands on its key in whatever tenant it
//! is, and `r` `y` revoke it; `R` rotates with a grace and `E` ends it;
//! `:revoke FILTER` previews, then revokes; suspicious keys are marked and
//! explained. Against a real server, as the other console tests.

use std::time::Duration;

use crossterm::event::KeyCode;
use keydesk::console::dialog::Dialog;
use keydesk::console::keymap::Action;
use keydesk::console::shell::Level;
use keydesk::domain::KeyStatus;
use serde_json::json;

use crate::support::{Acme, Console, TENANT, secret_shown};

fn asking(app: &keydesk::console::app::App) -> bool {
    matches!(app.shell.dialogs.current, Some(Dialog::Confirm(_)))
}

/// A second tenant, `globex`, with one key `globex-billing` owned by its developer.
async fn globex(acme: &Acme) -> (String, String) {
    let server = &acme.server;
    server
        .create_tenant("globex", json!({ "api_keys_enabled": true }))
        .await;
    let hank = server.create_user("globex", "hank", &["developer"]).await;
    server
        .create_key("globex", &hank, json!({ "name": "globex-billing" }))
        .await
}

/// A console of the system administrator on acme.
async fn admin_console(acme: &Acme) -> Console {
    let mut console = Console::new(
        &acme.server.base,
        crate::support::ADMIN_TOKEN,
        Some(TENANT),
        false,
        keydesk::console::clipboard::ClipboardMode::Osc52,
    );
    console.start().await;
    console
}

fn assert_secret_nowhere(console: &mut Console, secret: &str) {
    let start = &secret[..secret.len() - 10];
    for (w, h) in [(80, 24), (120, 40)] {
        let screen = console.screen(w, h);
        assert!(!screen.contains(start), "the secret is drawn:\n{screen}");
    }
    assert!(!console.filter_text().contains(start));
    assert!(!console.status_text().contains(start));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_secret_of_another_tenant_lands_on_its_key_and_r_y_revoke_it() {
    let acme = Acme::start(json!({})).await;
    acme.key("acme-one").await;
    let (id, secret) = globex(&acme).await;
    let mut console = admin_console(&acme).await;
    assert_eq!(console.app.session().tenant.as_deref(), Some(TENANT));

    // The paste, as the terminal delivers it (bracketed paste): one event.
    console.app.on_paste(&secret);
    assert_secret_nowhere(&mut console, &secret);
    // Until the answer is here, r must not act on the key under the cursor.
    console.press(KeyCode::Enter);
    console.char('r');
    assert!(
        console.dialog().is_none(),
        "r acted before the lookup landed"
    );
    assert_eq!(console.app.status_level(), Some(Level::Error));
    assert!(console.status_text().contains("finding the key"));

    console
        .pump_until("the lookup to land", |app| {
            app.looking_up.is_none() && app.keys.selected_key().is_some_and(|k| k.id == id)
        })
        .await;
    assert_eq!(console.app.session().tenant.as_deref(), Some("globex"));
    assert!(console.app.keys.zoomed, "the detail is open");
    let status = console.status_text();
    assert!(
        status.contains("found globex-billing") && status.contains("r revokes it"),
        "{status}"
    );
    console.settle().await;
    let detail = console.screen(80, 24);
    for shown in [
        "globex-billing",
        "hank",
        "active",
        "last used",
        "error rate",
    ] {
        assert!(
            detail.contains(shown),
            "the detail lacks {shown}:\n{detail}"
        );
    }
    assert_secret_nowhere(&mut console, &secret);

    console.char('r');
    let Some(Dialog::Confirm(confirm)) = console.dialog() else {
        panic!("r did not ask: {}", console.status_text());
    };
    assert_eq!(confirm.title, "Revoke globex-billing?");
    console.char('y');
    console
        .pump_until("the revoke", |app| {
            app.keys.selected_key().map(|k| k.status) == Some(KeyStatus::Revoked)
        })
        .await;
    assert_eq!(acme.server.verify_code(&secret).await, "REVOKED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_typed_into_the_filter_among_other_words_is_looked_up_and_never_drawn() {
    let acme = Acme::start(json!({})).await;
    acme.key("innocent").await;
    let (id, secret) = acme.key("leaked").await;
    let mut console = acme.console(&acme.ana, false).await;

    console.char('/');
    console.type_text("status:active ");
    console.type_text(&secret);
    assert_eq!(console.filter_text(), "status:active");
    assert_secret_nowhere(&mut console, &secret);
    console
        .pump_until("the lookup", |app| {
            app.looking_up.is_none() && app.keys.selected_key().is_some_and(|k| k.id == id)
        })
        .await;
    console.press(KeyCode::Enter);
    assert!(console.dialog().is_none());
    console.char('r');
    assert!(
        matches!(console.dialog(), Some(Dialog::Confirm(_))),
        "{}",
        console.status_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_by_command_holds_the_pasted_secret_until_enter() {
    let acme = Acme::start(json!({})).await;
    let (id, secret) = globex(&acme).await;
    let mut console = admin_console(&acme).await;

    console.char(':');
    console.type_text("lookup ");
    console.app.on_paste(&secret);
    assert!(!console.app.busy(), "nothing is sent before Enter");
    assert_secret_nowhere(&mut console, &secret);
    console.press(KeyCode::Enter);
    console
        .pump_until("the lookup", |app| {
            app.looking_up.is_none() && app.keys.selected_key().is_some_and(|k| k.id == id)
        })
        .await;
    assert_eq!(console.app.session().tenant.as_deref(), Some("globex"));
    assert!(console.app.keys.zoomed, "the detail is open");
    assert!(console.app.command_secret.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_of_no_key_and_a_damaged_one_say_so_plainly() {
    let acme = Acme::start(json!({})).await;
    let (id, secret) = acme.key("short-lived").await;
    let (status, _) = acme
        .server
        .delete(&format!("/v1/tenants/{TENANT}/keys/{id}"), &acme.ana)
        .await;
    assert_eq!(status, 204);
    let mut console = acme.console(&acme.ana, false).await;

    console.app.on_paste(&secret);
    console
        .pump_until("the answer", |app| app.looking_up.is_none())
        .await;
    let status = console.status_text();
    assert!(status.starts_with("no key has the secret"), "{status}");
    assert!(!status.contains(&secret[..secret.len() - 10]), "{status}");
    assert_eq!(console.app.status_level(), Some(Level::Error));

    // One character changed: the checksum catches it, nothing is sent.
    let mut damaged = secret.clone();
    let last = damaged.pop().unwrap();
    damaged.push(if last == 'x' { 'y' } else { 'x' });
    console.press(KeyCode::Esc);
    console.app.on_paste(&damaged);
    assert!(!console.app.busy(), "a damaged secret was sent");
    assert!(
        console.status_text().contains("checksum"),
        "{}",
        console.status_text()
    );
    assert_secret_nowhere(&mut console, &damaged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_with_a_grace_keeps_both_secrets_until_e_ends_it() {
    let acme = Acme::start(json!({})).await;
    let (id, old) = acme.key("ledger-prod").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.select("ledger-prod");

    assert!(console.app.disabled_reason(Action::EndRotation).is_some());
    console.char('R');
    let Some(Dialog::Picker(picker)) = console.dialog() else {
        panic!("R offers no choice of grace");
    };
    let labels: Vec<&str> = picker.shown().map(|i| i.label.as_str()).collect();
    assert_eq!(labels, ["now", "1 hour", "24 hours", "7 days", "custom…"]);
    console.press(KeyCode::Up); // 1 hour
    console.press(KeyCode::Enter);
    console.pump_until("the new secret", secret_shown).await;
    let Some(Dialog::Secret(modal)) = console.dialog() else {
        unreachable!()
    };
    assert!(modal.subject.contains("the old secret works until"));
    let new = modal.secret.to_string();
    console.press(KeyCode::Esc);
    console.press(KeyCode::Esc);
    console.settle().await;
    assert_eq!(acme.server.verify_code(&old).await, "VALID");
    assert_eq!(acme.server.verify_code(&new).await, "VALID");

    let list = console.screen(80, 24);
    assert!(
        list.lines()
            .any(|l| l.contains("ledger-prod") && l.contains("rot 1h")),
        "the list does not show the deadline:\n{list}"
    );
    console.char('/');
    console.type_text("is:rotating");
    console.press(KeyCode::Enter);
    assert_eq!(console.app.keys.visible_count(), 1);
    console.press(KeyCode::Enter);
    let detail = console.screen(80, 24);
    assert!(detail.contains("old secret valid until"), "{detail}");
    console.press(KeyCode::Esc);
    console.press(KeyCode::Esc);
    assert_eq!(console.filter_text(), "");

    console.char('E');
    let Some(Dialog::Confirm(confirm)) = console.dialog() else {
        panic!("E did not ask: {}", console.status_text());
    };
    assert!(!confirm.confirm_focused, "Cancel has the focus");
    console.char('y');
    console
        .pump_until("the rotation to end", |app| {
            app.keys
                .selected_key()
                .is_some_and(|k| k.rotating_until.is_none())
        })
        .await;
    assert_eq!(acme.server.verify_code(&old).await, "NOT_FOUND");
    assert_eq!(acme.server.verify_code(&new).await, "VALID");
    let (_, stored) = acme.server.key(TENANT, &id).await;
    assert!(stored["rotating_until"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_grace_is_read_in_the_form_and_refused_in_place_when_unreadable() {
    let acme = Acme::start(json!({})).await;
    let (id, old) = acme.key("ledger-prod").await;
    let mut console = acme.console(&acme.ana, false).await;

    console.char('R');
    console.press(KeyCode::Down);
    console.press(KeyCode::Down);
    console.press(KeyCode::Enter);
    assert_eq!(console.form_focus(), "grace");
    console.type_text("90");
    console.save_form();
    let Some(Dialog::Form(form)) = console.dialog() else {
        panic!("the form closed on an unreadable grace");
    };
    assert!(
        form.error.as_deref().unwrap_or_default().contains("unit"),
        "{:?}",
        form.error
    );
    assert!(!console.app.busy());
    console.char('m');
    console.save_form();
    console.pump_until("the new secret", secret_shown).await;
    let (_, stored) = acme.server.key(TENANT, &id).await;
    let until: chrono::DateTime<chrono::Utc> =
        stored["rotating_until"].as_str().unwrap().parse().unwrap();
    let left = until - chrono::Utc::now();
    assert!(
        left > chrono::Duration::minutes(88) && left <= chrono::Duration::minutes(90),
        "{left}"
    );
    assert_eq!(acme.server.verify_code(&old).await, "VALID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_by_filter_previews_the_matching_keys_then_revokes_them() {
    let acme = Acme::start(json!({})).await;
    let mut bos = Vec::new();
    for name in ["bo-one", "bo-two", "bo-three"] {
        bos.push(
            acme.server
                .create_key(TENANT, &acme.bo, json!({ "name": name }))
                .await,
        );
    }
    let (gone, _) = &bos[2];
    acme.server.act(TENANT, gone, "revoke").await;
    let (anas, _) = acme.key("ana-key").await;
    let mut console = acme.console(&acme.ana, false).await;

    console.char(':');
    console.type_text("revoke owner=bo");
    console.press(KeyCode::Enter);
    console.pump_until("the preview", asking).await;
    let Some(Dialog::Confirm(confirm)) = console.dialog() else {
        unreachable!()
    };
    assert_eq!(confirm.title, "Revoke 2 keys?");
    let text = confirm.lines.join("\n");
    assert!(text.contains("3 keys match owner=bo"), "{text}");
    assert!(text.contains("bo-one") && text.contains("bo-two"), "{text}");
    assert!(
        text.contains("1 key will not be revoked") && text.contains("bo-three"),
        "{text}"
    );
    assert!(!confirm.confirm_focused, "Cancel has the focus");
    // Enter on Cancel changes nothing.
    console.press(KeyCode::Enter);
    assert!(!console.app.busy());
    assert_eq!(acme.server.status_of(TENANT, &bos[0].0).await, "active");

    console.char(':');
    console.type_text("revoke owner=bo");
    console.press(KeyCode::Enter);
    console.pump_until("the preview", asking).await;
    console.char('y');
    console.settle().await;
    for (id, secret) in &bos[..2] {
        assert_eq!(acme.server.status_of(TENANT, id).await, "revoked");
        assert_eq!(acme.server.verify_code(secret).await, "REVOKED");
        assert_eq!(
            console
                .app
                .keys
                .keys
                .iter()
                .find(|k| &k.id == id)
                .map(|k| k.status),
            Some(KeyStatus::Revoked)
        );
    }
    assert_eq!(acme.server.status_of(TENANT, &anas).await, "active");
    assert!(
        console.status_text().contains("revoked 2 of 2 keys"),
        "{}",
        console.status_text()
    );

    console.char(':');
    console.type_text("revoke colour=red");
    console.press(KeyCode::Enter);
    assert!(!console.app.busy());
    assert!(
        console.status_text().contains("owner=NAME"),
        "{}",
        console.status_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_failures_dominate_is_marked_suspicious_with_the_reason() {
    let acme = Acme::start(json!({})).await;
    let (id, secret) = acme.key("scraped").await;
    acme.key("quiet").await;
    acme.server.act(TENANT, &id, "disable").await;
    for _ in 0..25 {
        assert_eq!(acme.server.verify_code(&secret).await, "DISABLED");
    }
    let mut console = acme.console(&acme.ana, false).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while console.key_named("scraped").suspicious.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "never judged suspicious"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        console.app.run(Action::Refresh);
        console.settle().await;
    }
    console.app.color = false;
    let list = console.screen(80, 24);
    assert!(
        list.lines().any(|l| l.contains("⚠ SUSP scraped")),
        "no marker without colour:\n{list}"
    );
    console.char('/');
    console.type_text("is:susp");
    console.press(KeyCode::Enter);
    assert_eq!(console.app.keys.visible_count(), 1);
    console.press(KeyCode::Enter);
    let detail = console.screen(80, 24);
    assert!(
        detail.contains("suspicious") && detail.contains("failures"),
        "{detail}"
    );
}
