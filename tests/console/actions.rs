//! Every console action against a real server: keys are pressed as a user
//! would, the answers pumped into the App, and the server is then asked what
//! it holds. Nothing is mocked.

use crossterm::event::KeyCode;
use keydesk::console::clipboard::ClipboardMode;
use keydesk::console::dialog::Dialog;
use keydesk::console::keymap::Action;
use keydesk::console::shell::Level;
use keydesk::domain::KeyStatus;
use ratatui::style::Modifier;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, Acme, Console, TENANT, osc52_of, screen_text};

fn form_focus(console: &Console) -> &'static str {
    console.form_focus()
}

fn confirm_focused(console: &Console) -> bool {
    match &console.app.shell.dialogs.current {
        Some(Dialog::Confirm(confirm)) => confirm.confirm_focused,
        _ => panic!("no confirm dialog is open"),
    }
}

fn status_level(console: &Console) -> Option<Level> {
    console.app.status_level()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_key_with_the_form_creates_it_and_shows_its_secret_once() {
    let acme = Acme::start(json!({})).await;
    let mut console = acme.console(&acme.ana, false).await;

    console.char('a');
    assert_eq!(form_focus(&console), "name");
    console.type_text("billing-sync");
    console.press(KeyCode::Tab);
    console.type_text("nightly export");
    console.press(KeyCode::Tab);
    assert_eq!(form_focus(&console), "scopes");
    console.char(' '); // payments:read; payments:write stays off
    console.press(KeyCode::Tab);
    assert_eq!(form_focus(&console), "owner");
    console.press(KeyCode::Tab);
    assert_eq!(form_focus(&console), "expiry");
    console.type_text("30");
    console.press(KeyCode::Tab);
    assert_eq!(form_focus(&console), "save");
    console.press(KeyCode::Enter);

    console
        .pump_until("the secret modal", |app| {
            matches!(app.shell.dialogs.current, Some(Dialog::Secret(_)))
        })
        .await;
    let Some(Dialog::Secret(modal)) = &console.app.shell.dialogs.current else {
        unreachable!()
    };
    let id = modal.subject.trim_start_matches("key ").to_owned();
    let secret = modal.secret.to_string();
    assert!(secret.starts_with("kd_"), "{secret}");

    let keys = acme.server.keys(TENANT).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let stored = &keys[0];
    assert_eq!(stored["id"], id.as_str());
    assert_eq!(stored["name"], "billing-sync");
    assert_eq!(stored["description"], "nightly export");
    assert_eq!(stored["scopes"], json!(["payments:read"]));
    assert_eq!(stored["owner"]["name"], "ana");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(stored["expires_at"].clone()).unwrap();
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.0..=30.1).contains(&days), "expires in {days} days");
    assert_eq!(acme.server.verify_code(&secret).await, "VALID");

    assert!(console.screen(120, 40).contains(&secret));
    assert!(console.clipboard.text().is_empty());
    console.char('c');
    assert_eq!(
        console.clipboard.text(),
        osc52_of(&secret),
        "c copies the secret"
    );
    assert!(
        matches!(console.app.shell.dialogs.current, Some(Dialog::Secret(_))),
        "copying keeps the modal"
    );
    console.press(KeyCode::Esc);
    assert!(
        console.app.shell.dialogs.current.is_none(),
        "Esc closes the secret modal"
    );
    let after = console.screen(120, 40);
    assert!(
        !after.contains(&secret),
        "the secret is still drawn:\n{after}"
    );
    assert_eq!(
        console.app.keys.selected_key().map(|k| k.id.as_str()),
        Some(id.as_str()),
        "the new key is selected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_hidden_by_the_filter_is_shown_and_selected() {
    let acme = Acme::start(json!({})).await;
    acme.key("existing").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('/');
    console.type_text("exist");
    console.press(KeyCode::Enter);

    console.char('a');
    console.type_text("fresh");
    console.save_form();
    console
        .pump_until("the secret modal", |app| {
            matches!(app.shell.dialogs.current, Some(Dialog::Secret(_)))
        })
        .await;
    console.press(KeyCode::Esc);
    assert_eq!(
        console.app.keys.index.filter(),
        "",
        "the hiding filter is cleared"
    );
    assert_eq!(
        console.app.keys.selected_key().map(|k| k.name.as_str()),
        Some("fresh")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerating_a_key_shows_a_new_secret_and_the_old_one_stops_working() {
    let acme = Acme::start(json!({})).await;
    let (id, old) = acme.key("rotated").await;
    let mut console = acme.console(&acme.ana, false).await;

    console.char('R');
    // The grace picker: "now" is the first choice, and asks first.
    console.press(KeyCode::Home);
    console.press(KeyCode::Up);
    console.press(KeyCode::Up);
    console.press(KeyCode::Enter);
    assert!(!confirm_focused(&console));
    console.press(KeyCode::Right);
    console.press(KeyCode::Enter);
    console
        .pump_until("the regenerated secret", |app| {
            matches!(app.shell.dialogs.current, Some(Dialog::Secret(_)))
        })
        .await;
    let Some(Dialog::Secret(modal)) = &console.app.shell.dialogs.current else {
        unreachable!()
    };
    assert_eq!(modal.subject, format!("key {id}"), "same key, new secret");
    let new = modal.secret.to_string();
    assert_ne!(new, old);
    assert_eq!(acme.server.verify_code(&new).await, "VALID");
    assert_ne!(acme.server.verify_code(&old).await, "VALID");
    assert_eq!(acme.server.keys(TENANT).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_key_renames_it_on_the_server() {
    let acme = Acme::start(json!({})).await;
    let (id, _) = acme.key("old-name").await;
    let mut console = acme.console(&acme.ana, false).await;

    console.select("old-name");
    console.char('e');
    assert_eq!(form_focus(&console), "name");
    console.ctrl('u');
    console.type_text("new-name");
    console.save_form();
    console
        .pump_until("the rename", |app| {
            app.keys.keys.iter().any(|k| k.name == "new-name")
        })
        .await;

    let (_, stored) = acme.server.key(TENANT, &id).await;
    assert_eq!(stored["name"], "new-name");
    assert_eq!(stored["scopes"], json!(["payments:read"]), "scopes kept");
    console.settle().await;
    assert!(console.status_text().contains("saved new-name"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicating_a_key_creates_a_copy_with_a_new_secret() {
    let acme = Acme::start(json!({})).await;
    let (id, secret) = acme.key("billing").await;
    let mut console = acme.console(&acme.ana, false).await;

    console.select("billing");
    console.char('D');
    assert_eq!(form_focus(&console), "name", "D opens the copy's form");
    console.save_form();
    console
        .pump_until("the duplicate's secret", |app| {
            matches!(app.shell.dialogs.current, Some(Dialog::Secret(_)))
        })
        .await;
    let Some(Dialog::Secret(modal)) = &console.app.shell.dialogs.current else {
        unreachable!()
    };
    let copy_id = modal.subject.trim_start_matches("key ").to_owned();
    let copy_secret = modal.secret.to_string();
    assert!(modal.title.starts_with("duplicated"), "{}", modal.title);

    assert_ne!(copy_id, id);
    let keys = acme.server.keys(TENANT).await;
    assert_eq!(keys.len(), 2);
    let copy = keys.iter().find(|k| k["id"] == copy_id.as_str()).unwrap();
    assert_eq!(copy["scopes"], json!(["payments:read"]));
    assert!(copy["name"].as_str().unwrap().starts_with("billing"));
    let verified = acme.server.verify(&copy_secret).await;
    assert_eq!(verified["code"], "VALID");
    assert_eq!(verified["key_id"], copy_id.as_str());
    assert_eq!(acme.server.verify_code(&secret).await, "VALID");
    console.close_uncopied_secret();
    assert!(console.app.shell.dialogs.current.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_disables_and_enables_the_selected_key() {
    let acme = Acme::start(json!({})).await;
    let (id, secret) = acme.key("toggled").await;
    let mut console = acme.console(&acme.ana, false).await;

    console.char('d');
    console
        .pump_until("the key to be disabled", |app| {
            app.keys.selected_key().map(|k| k.status) == Some(KeyStatus::Disabled)
        })
        .await;
    assert_eq!(acme.server.status_of(TENANT, &id).await, "disabled");
    assert_eq!(acme.server.verify_code(&secret).await, "DISABLED");

    console.char('d');
    console
        .pump_until("the key to be enabled", |app| {
            app.keys.selected_key().map(|k| k.status) == Some(KeyStatus::Active)
        })
        .await;
    assert_eq!(acme.server.status_of(TENANT, &id).await, "active");
    assert_eq!(acme.server.verify_code(&secret).await, "VALID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_one_key_needs_the_revoke_button_and_then_verification_fails() {
    let acme = Acme::start(json!({})).await;
    let (id, secret) = acme.key("leaked").await;
    let mut console = acme.console(&acme.ana, false).await;

    // Enter on the default button cancels.
    console.char('r');
    assert!(!confirm_focused(&console), "Cancel is the default");
    console.press(KeyCode::Enter);
    assert!(console.app.shell.dialogs.current.is_none());
    assert!(!console.app.busy(), "cancelling sends nothing");
    assert_eq!(acme.server.status_of(TENANT, &id).await, "active");

    console.char('r');
    console.press(KeyCode::Right);
    assert!(confirm_focused(&console));
    console.press(KeyCode::Enter);
    console
        .pump_until("the key to be revoked", |app| {
            app.keys.selected_key().map(|k| k.status) == Some(KeyStatus::Revoked)
        })
        .await;
    assert_eq!(acme.server.status_of(TENANT, &id).await, "revoked");
    assert_eq!(acme.server.verify_code(&secret).await, "REVOKED");
    console.settle().await;
    // The revoke waited for every server instance, and says so.
    assert!(
        console
            .status_text()
            .contains("revoked leaked · applied on 1 of 1 instance in"),
        "{}",
        console.status_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_revoke_reports_the_keys_the_server_refused() {
    let acme = Acme::start(json!({ "revoke_requires_disabled": true })).await;
    let (alpha, _) = acme.key("pay-alpha").await;
    let (beta, _) = acme.key("pay-beta").await;
    let (gamma, _) = acme.key("ops-gamma").await;
    acme.server.act(TENANT, &beta, "disable").await;
    acme.server.act(TENANT, &gamma, "disable").await;
    let mut console = acme.console(&acme.ana, false).await;

    for name in ["pay-alpha", "pay-beta", "ops-gamma"] {
        console.select(name);
        console.char(' ');
    }
    assert_eq!(console.app.keys.marked.len(), 3);
    console.char('/');
    console.type_text("pay-");
    console.press(KeyCode::Enter);
    assert_eq!(console.app.keys.index.visible().len(), 2);

    console.char('r');
    let Some(Dialog::Confirm(confirm)) = &console.app.shell.dialogs.current else {
        panic!("no confirm dialog");
    };
    // pay-alpha is active: the tenant's rule refuses it, and the question says so first.
    assert_eq!(confirm.title, "Revoke 2 keys?");
    let text = confirm.lines.join("\n");
    assert!(
        text.contains("1 of them are hidden by the current filter"),
        "{text}"
    );
    assert!(
        text.contains("1 key will not be revoked") && text.contains("pay-alpha: "),
        "{text}"
    );
    // Meanwhile another admin revokes ops-gamma: the server refuses it, and says why.
    acme.server.act(TENANT, &gamma, "revoke").await;
    console.press(KeyCode::Right);
    console.press(KeyCode::Enter);
    console
        .pump_until("the failure report", |app| {
            matches!(app.shell.dialogs.current, Some(Dialog::Message { .. }))
        })
        .await;
    let Some(Dialog::Message { title, lines }) = &console.app.shell.dialogs.current else {
        unreachable!()
    };
    assert!(title.contains("refused"), "{title}");
    let text = lines.join("\n");
    assert!(text.contains("revoked 1 of 2 keys"), "{text}");
    assert!(text.contains("1 hidden by the filter"), "{text}");
    assert!(
        text.contains("ops-gamma: ") && text.contains("revoked"),
        "{text}"
    );
    assert!(
        !text.contains("pay-beta:") && !text.contains("pay-alpha:"),
        "{text}"
    );
    assert_eq!(status_level(&console), Some(Level::Error));

    assert_eq!(acme.server.status_of(TENANT, &alpha).await, "active");
    assert_eq!(acme.server.status_of(TENANT, &beta).await, "revoked");
    assert_eq!(acme.server.status_of(TENANT, &gamma).await, "revoked");
    assert_eq!(
        console.app.keys.marked.iter().collect::<Vec<_>>(),
        vec![&alpha],
        "the key left out stays marked"
    );
    console.press(KeyCode::Enter);
    assert!(console.app.shell.dialogs.current.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_key_removes_it_from_the_server() {
    let acme = Acme::start(json!({})).await;
    let (id, secret) = acme.key("doomed").await;
    let mut console = acme.console(&acme.ana, false).await;

    console.char('X');
    assert!(!confirm_focused(&console));
    console.press(KeyCode::Right);
    console.press(KeyCode::Enter);
    console
        .pump_until("the key to disappear", |app| {
            app.keys.keys.is_empty()
                && app
                    .status()
                    .is_some_and(|s| s.text.contains("deleted doomed"))
        })
        .await;
    assert_eq!(acme.server.key(TENANT, &id).await.0, 404);
    assert_eq!(acme.server.verify_code(&secret).await, "NOT_FOUND");
    assert!(console.status_text().contains("deleted doomed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn y_copies_the_key_id_with_osc52() {
    let acme = Acme::start(json!({})).await;
    acme.key("first").await;
    let (id, _) = acme.key("second").await;
    let mut console = acme.console(&acme.ana, false).await;
    assert_eq!(console.app.shell.clipboard.mode(), ClipboardMode::Osc52);

    console.select("second");
    console.char('y');
    assert_eq!(console.clipboard.text(), osc52_of(&id));
    assert_eq!(status_level(&console), Some(Level::Success));
    assert!(console.status_text().contains(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_reveals_the_stored_secret_into_the_clipboard_and_audits_it() {
    let acme = Acme::start(json!({})).await;
    let (_, secret) = acme.key("retrievable").await;
    let mut console = acme.console(&acme.ana, false).await;

    console.char('c');
    console
        .pump_until("the copied secret", |app| {
            app.status()
                .is_some_and(|s| s.text.contains("copied the secret"))
        })
        .await;
    assert_eq!(console.clipboard.text(), osc52_of(&secret));
    assert!(
        acme.server
            .event_actions(TENANT)
            .await
            .contains(&"key.secret_revealed".to_owned())
    );
    assert!(
        !console.status_text().contains(&secret),
        "the status line shows the secret"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_add_and_revoke_disabled_with_the_reason() {
    let acme = Acme::start(json!({})).await;
    let (id, _) = acme.key("not-yours").await;
    let mut console = acme.console(&acme.vic, false).await;

    let add = console.app.disabled_reason(Action::Add);
    let revoke = console.app.disabled_reason(Action::Revoke);
    assert!(
        add.as_deref().is_some_and(|r| r.contains("developer role")),
        "{add:?}"
    );
    assert!(revoke.is_some(), "a viewer may not revoke");
    assert_eq!(console.app.disabled_reason(Action::CopyId), None);

    console.char('a');
    assert!(
        console.app.shell.dialogs.current.is_none(),
        "no form for a viewer"
    );
    assert_eq!(status_level(&console), Some(Level::Error));
    assert_eq!(Some(console.status_text()), add);

    console.char('r');
    assert!(
        console.app.shell.dialogs.current.is_none(),
        "no confirm for a viewer"
    );
    assert_eq!(Some(console.status_text()), revoke);
    assert!(!console.app.busy());
    assert_eq!(acme.server.status_of(TENANT, &id).await, "active");

    // The toolbar shows both struck through.
    let terminal = console.draw(120, 40);
    let buffer = terminal.backend().buffer();
    let toolbar: String = (0..120).map(|x| buffer[(x, 1)].symbol()).collect();
    for label in ["[a]dd", "[r]evoke"] {
        let at = toolbar.find(label).unwrap_or_else(|| panic!("{toolbar}"));
        let x = u16::try_from(toolbar[..at].chars().count()).unwrap();
        assert!(
            buffer[(x, 1)].modifier.contains(Modifier::CROSSED_OUT),
            "{label} is not shown disabled"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_developer_may_revoke_their_own_key_but_not_anothers() {
    let acme = Acme::start(json!({})).await;
    let (anas, _) = acme.key("anas-key").await;
    let (bos, _) = acme
        .server
        .create_key(TENANT, &acme.bo, json!({ "name": "bos-key" }))
        .await;
    let mut console = acme.console(&acme.bo, false).await;

    console.select("anas-key");
    let reason = console.app.disabled_reason(Action::Revoke);
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.contains("only keys you own")),
        "{reason:?}"
    );
    console.char('r');
    assert!(console.app.shell.dialogs.current.is_none());
    assert_eq!(status_level(&console), Some(Level::Error));

    console.select("bos-key");
    assert_eq!(console.app.disabled_reason(Action::Revoke), None);
    console.char('r');
    console.press(KeyCode::Right);
    console.press(KeyCode::Enter);
    console
        .pump_until("bo's key to be revoked", |app| {
            app.keys
                .keys
                .iter()
                .any(|k| k.name == "bos-key" && k.status == KeyStatus::Revoked)
        })
        .await;
    assert_eq!(acme.server.status_of(TENANT, &bos).await, "revoked");
    assert_eq!(acme.server.status_of(TENANT, &anas).await, "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_command_switches_to_another_tenant() {
    let acme = Acme::start(json!({})).await;
    acme.key("acme-key").await;
    let server = &acme.server;
    server
        .create_tenant("globex", json!({ "api_keys_enabled": true }))
        .await;
    let hank = server.create_user("globex", "hank", &["developer"]).await;
    server
        .create_key("globex", &hank, json!({ "name": "globex-key" }))
        .await;
    // The system administrator sees every tenant.
    let mut console = Console::new(
        &server.base,
        ADMIN_TOKEN,
        Some(TENANT),
        false,
        ClipboardMode::Off,
    );
    console.start().await;
    assert_eq!(console.app.session().tenant.as_deref(), Some(TENANT));
    assert!(console.app.keys.keys.iter().any(|k| k.name == "acme-key"));

    console.char(':');
    console.type_text("tenant globex");
    console.press(KeyCode::Enter);
    console
        .pump_until("globex's keys", |app| {
            app.session().tenant.as_deref() == Some("globex")
                && app.keys.loading.is_none()
                && app.keys.keys.iter().any(|k| k.name == "globex-key")
        })
        .await;
    console.settle().await;
    assert!(console.app.keys.keys.iter().all(|k| k.tenant == "globex"));
    assert_eq!(
        console
            .app
            .session()
            .settings
            .as_ref()
            .map(|s| s.scopes.len()),
        Some(3)
    );
    assert!(console.screen(120, 40).contains("globex-key"));

    console.char(':');
    console.type_text("tenant nowhere");
    console.press(KeyCode::Enter);
    assert_eq!(status_level(&console), Some(Level::Error));
    assert_eq!(console.app.session().tenant.as_deref(), Some("globex"));
}

/// Display names hold spaces ("DataHub Nederland" in the demo), and
/// `switch_tenant` accepts a display name, but the command line passes on
/// only the first word after `:tenant`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_command_accepts_a_display_name_with_spaces() {
    let acme = Acme::start(json!({})).await;
    let server = &acme.server;
    server
        .create_tenant("globex", json!({ "api_keys_enabled": true }))
        .await;
    let mut console = Console::new(
        &server.base,
        ADMIN_TOKEN,
        Some(TENANT),
        false,
        ClipboardMode::Off,
    );
    console.start().await;

    console.char(':');
    console.type_text("tenant Tenant globex");
    console.press(KeyCode::Enter);
    assert_eq!(
        console.app.session().tenant.as_deref(),
        Some("globex"),
        "status: {}",
        console.status_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_hides_every_mutating_action() {
    let acme = Acme::start(json!({})).await;
    let (id, _) = acme.key("precious").await;
    let mut console = acme.console(&acme.ana, true).await;

    let terminal = console.draw(120, 40);
    let screen = screen_text(&terminal);
    let lines: Vec<&str> = screen.lines().collect();
    let toolbar = lines[1];
    assert!(
        toolbar.contains("[c]opy") && toolbar.contains("[y] copy ID"),
        "{toolbar}"
    );
    for label in ["[a]dd", "[e]dit", "[D]", "[R]", "[d]", "[r]evoke", "[X]"] {
        assert!(
            !toolbar.contains(label),
            "{label} shown read-only: {toolbar}"
        );
    }
    assert!(
        lines[0].contains("read-only") && !lines[0].contains("[RW]"),
        "{}",
        lines[0]
    );

    for c in ['a', 'e', 'D', 'R', 'd', 'r', 'X'] {
        console.char(c);
        assert!(
            console.app.shell.dialogs.current.is_none(),
            "{c} opened a dialog"
        );
        assert!(!console.app.busy(), "{c} sent a request");
        assert_eq!(console.status_text(), "read-only session", "after {c}");
    }
    assert_eq!(acme.server.status_of(TENANT, &id).await, "active");
}

/// SPEC §4 (Live): the list follows the server without the user asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_created_elsewhere_appear_without_user_action() {
    let acme = Acme::start(json!({})).await;
    acme.key("mine").await;
    let mut console = acme.console(&acme.ana, false).await;
    let (id, _) = acme
        .server
        .create_key(TENANT, &acme.bo, json!({ "name": "from-elsewhere" }))
        .await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(25);
    while !console.app.keys.keys.iter().any(|k| k.id == id) {
        assert!(
            std::time::Instant::now() < deadline,
            "the new key never showed up"
        );
        console.app.on_tick();
        if let Ok(Some(msg)) =
            tokio::time::timeout(std::time::Duration::from_millis(250), console.rx.recv()).await
        {
            console.app.on_msg(msg);
        }
    }
    console.settle().await;
    assert!(console.screen(120, 40).contains("from-elsewhere"));
}

/// A reply that arrives after `:tenant` switched away belongs to the old
/// tenant: it must not put that tenant's key into the new tenant's list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_reply_for_the_previous_tenant_stays_out_of_the_new_one() {
    let acme = Acme::start(json!({})).await;
    acme.key("acme-key").await;
    let server = &acme.server;
    server
        .create_tenant("globex", json!({ "api_keys_enabled": true }))
        .await;
    let hank = server.create_user("globex", "hank", &["developer"]).await;
    server
        .create_key("globex", &hank, json!({ "name": "globex-key" }))
        .await;
    let mut console = Console::new(
        &server.base,
        ADMIN_TOKEN,
        Some(TENANT),
        false,
        ClipboardMode::Off,
    );
    console.start().await;

    console.select("acme-key");
    console.char('d'); // in flight while the tenant changes
    console.char(':');
    console.type_text("tenant globex");
    console.press(KeyCode::Enter);
    console.settle().await;

    assert_eq!(console.app.session().tenant.as_deref(), Some("globex"));
    let listed: Vec<(&str, &str)> = console
        .app
        .keys
        .keys
        .iter()
        .map(|k| (k.tenant.as_str(), k.name.as_str()))
        .collect();
    assert_eq!(listed, vec![("globex", "globex-key")]);
}
