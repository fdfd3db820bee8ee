//! What administrators do in the console (issue 6, section 2): edit the
//! tenant's settings (with another admin editing at the same time), switch
//! keys off knowingly, create users and tenants. Against a real server.

use crossterm::event::KeyCode;
use keydesk::console::dialog::Dialog;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, Acme, TENANT};

fn form_notes(console: &crate::support::Console) -> Vec<String> {
    match console.dialog() {
        Some(Dialog::Form(form)) => form.notes.clone(),
        _ => panic!("no form is open"),
    }
}

/// Another admin changed the settings while the form was open: the save is
/// refused (412), nothing is overwritten, the form stays with what was
/// typed and shows their values; saving again applies ours on top.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_settings_edit_shows_theirs_beside_yours_and_loses_nothing() {
    let acme = Acme::start(json!({})).await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('3');
    console.char('e');
    console.press(KeyCode::Tab); // max expiry
    console.type_text("45");

    // Meanwhile, another admin sets a key limit.
    let (status, _) = acme
        .server
        .patch(
            &format!("/v1/tenants/{TENANT}/settings"),
            ADMIN_TOKEN,
            json!({ "max_keys_per_user": 7 }),
        )
        .await;
    assert_eq!(status, 200);

    console.ctrl('s');
    console
        .pump_until("the conflict", |app| {
            matches!(&app.shell.dialogs.current, Some(Dialog::Form(f)) if !f.notes.is_empty())
        })
        .await;
    let notes = form_notes(&console).join("\n");
    assert!(
        notes.contains("7 live keys"),
        "their value is shown: {notes}"
    );
    assert!(console.status_text().contains("another administrator"));
    let Some(Dialog::Form(form)) = console.dialog() else {
        unreachable!()
    };
    assert_eq!(form.number("max_expiry_days"), Ok(Some(45)), "ours stays");
    assert_eq!(
        form.number("max_keys_per_user"),
        Ok(Some(7)),
        "theirs fills the field we left"
    );
    let (_, stored) = acme
        .server
        .get(&format!("/v1/tenants/{TENANT}/settings"), ADMIN_TOKEN)
        .await;
    assert_eq!(
        stored["max_expiry_days"],
        json!(null),
        "ours was not written"
    );
    assert_eq!(stored["max_keys_per_user"], 7, "theirs was not overwritten");

    console.ctrl('s');
    console
        .pump_until("the second save", |app| app.shell.dialogs.current.is_none())
        .await;
    let (_, stored) = acme
        .server
        .get(&format!("/v1/tenants/{TENANT}/settings"), ADMIN_TOKEN)
        .await;
    assert_eq!(stored["max_expiry_days"], 45);
    assert_eq!(stored["max_keys_per_user"], 7, "theirs is kept");
}

/// Switching keys off asks first and says how many keys stop verifying;
/// cancelled, the form is back as it was; confirmed, keys stop verifying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_keys_off_asks_and_says_how_many_keys_stop_verifying() {
    let acme = Acme::start(json!({})).await;
    let (_, secret) = acme.key("one").await;
    acme.key("two").await;
    let (disabled, _) = acme.key("three").await;
    acme.server.act(TENANT, &disabled, "disable").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('3');
    console.char('e');
    console.char(' '); // API keys on → off
    console.ctrl('s');
    let Some(Dialog::Confirm(confirm)) = console.dialog() else {
        panic!("no question before switching keys off");
    };
    assert!(
        confirm
            .lines
            .iter()
            .any(|l| l.contains("2 keys stop verifying")),
        "{:?}",
        confirm.lines
    );
    console.char('n');
    assert_eq!(console.form_focus(), "api_keys_enabled", "the form is back");
    assert_eq!(acme.server.verify_code(&secret).await, "VALID");

    console.ctrl('s');
    console.char('y');
    console
        .pump_until("the save", |app| app.shell.dialogs.current.is_none())
        .await;
    assert_eq!(acme.server.verify_code(&secret).await, "TENANT_DISABLED");
    assert!(console.screen(120, 40).contains("off"));
}

/// A tenant admin creates a user; the token is shown once and works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_user_shows_their_token_once_and_it_works() {
    let acme = Acme::start(json!({})).await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('4');
    console.char('a');
    console.type_text("dana");
    console.press(KeyCode::Tab);
    console.type_text("dana@example.com");
    console.ctrl('s');
    console
        .pump_until("the token", crate::support::secret_shown)
        .await;
    let Some(Dialog::Secret(modal)) = console.dialog() else {
        unreachable!()
    };
    let token = modal.secret.to_string();
    assert!(console.screen(100, 30).contains("cannot be shown again"));
    let (status, me) = acme.server.get("/v1/me", &token).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["name"], "dana");
    console.close_uncopied_secret();
    assert!(!console.screen(100, 30).contains(&token));
    assert!(console.screen(100, 30).contains("dana@example.com"));
}

/// A system administrator creates a tenant from the picker and lands in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_admin_creates_a_tenant_from_the_picker() {
    let acme = Acme::start(json!({})).await;
    let mut console = acme.console(ADMIN_TOKEN, false).await;
    console.char('T');
    console.type_text("zzz"); // nothing matches; the create entry stays
    console.press(KeyCode::Enter);
    assert_eq!(console.form_focus(), "id");
    console.type_text("Bad Id");
    console.ctrl('s');
    assert_eq!(
        console.form_focus(),
        "id",
        "an invalid id is refused in place"
    );
    console.ctrl('u');
    console.type_text("initech");
    console.press(KeyCode::Tab);
    console.type_text("Initech");
    console.ctrl('s');
    console.settle().await;
    assert_eq!(console.app.session().tenant.as_deref(), Some("initech"));
    let (status, _) = acme
        .server
        .get("/v1/tenants/initech/settings", ADMIN_TOKEN)
        .await;
    assert_eq!(status, 200);
    assert!(console.screen(120, 40).contains("initech"));
}
