//! The habits a first-time user brings (issue 6, section 3): forms that
//! never lose what was typed, failures that name what failed, a filter and
//! a sort you can see, the keys k9s and lazygit users reach for, and a
//! screen that stays readable at 80x24. Each runs against a real server.

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use keydesk::console::dialog::Dialog;
use keydesk::console::session::Connection;
use keydesk::console::views::ViewId;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, Acme, Console, TENANT};

fn form_text(console: &Console, id: &str) -> String {
    match console.dialog() {
        Some(Dialog::Form(form)) => form.text(id),
        _ => panic!("no form is open"),
    }
}

fn form_error(console: &Console) -> Option<String> {
    match console.dialog() {
        Some(Dialog::Form(form)) => form.error.clone(),
        _ => panic!("no form is open"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_s_saves_a_form_from_its_first_field() {
    let acme = Acme::start(json!({})).await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('a');
    console.type_text("quick-save");
    console.ctrl('s');
    console
        .pump_until("the secret", crate::support::secret_shown)
        .await;
    assert_eq!(acme.server.keys(TENANT).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_expiry_is_refused_in_place_with_the_reason() {
    let acme = Acme::start(json!({})).await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('a');
    console.type_text("odd-expiry");
    while console.form_focus() != "expiry" {
        console.press(KeyCode::Tab);
    }
    console.type_text("abc-5");
    console.ctrl('s');
    assert_eq!(
        console.form_focus(),
        "expiry",
        "the focus goes to the field"
    );
    let error = form_error(&console).expect("a reason");
    assert!(
        error.contains("abc-5") && error.contains("whole number"),
        "{error}"
    );
    assert!(!console.app.busy(), "nothing was sent");
    assert_eq!(
        form_text(&console, "name"),
        "odd-expiry",
        "what was typed stays"
    );
    assert!(acme.server.keys(TENANT).await.is_empty());
}

/// A save that fails (here: the server is gone) keeps the dialog open with
/// what was typed and the reason, ready to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_save_keeps_the_form_and_what_was_typed() {
    let mut acme = Acme::start(json!({})).await;
    let mut console = acme.console(&acme.ana, false).await;
    acme.server.stop().await;
    console.char('a');
    console.type_text("while-down");
    console.press(KeyCode::Tab);
    console.type_text("typed with care");
    console.ctrl('s');
    console
        .pump_until("the save to fail", |app| {
            matches!(&app.shell.dialogs.current, Some(Dialog::Form(f)) if !f.submitting && f.error.is_some())
        })
        .await;
    let error = form_error(&console).unwrap();
    assert!(error.contains("creating while-down failed"), "{error}");
    assert!(error.contains("cannot reach"), "{error}");
    assert_eq!(form_text(&console, "name"), "while-down");
    assert_eq!(form_text(&console, "description"), "typed with care");

    acme.server.restart().await;
    console.ctrl('s');
    console
        .pump_until("the retried save", crate::support::secret_shown)
        .await;
    assert_eq!(acme.server.keys(TENANT).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_action_names_the_key_it_failed_on() {
    let mut acme = Acme::start(json!({})).await;
    acme.key("ledger-prod").await;
    let mut console = acme.console(&acme.ana, false).await;
    acme.server.stop().await;
    console.char('d');
    console
        .pump_until("the failure", |app| {
            matches!(app.session().connection, Connection::Down { .. })
        })
        .await;
    let status = console.status_text();
    assert!(status.contains("disabling ledger-prod failed"), "{status}");
}

/// A refused token is said in the header and the body, not "connecting"
/// forever, and the console knows it cannot work (it exits non-zero).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_says_so_where_the_user_looks() {
    let acme = Acme::start(json!({})).await;
    let mut console = Console::new(
        &acme.server.base,
        "kdm_not_a_real_token",
        Some(TENANT),
        false,
        keydesk::console::clipboard::ClipboardMode::Off,
    );
    console.app.start();
    console
        .pump_until("the refusal", |app| app.sign_in_failure().is_some())
        .await;
    let reason = console.app.sign_in_failure().unwrap().to_owned();
    assert!(
        reason.contains("refused the token") && reason.contains("KEYDESK_TOKEN"),
        "{reason}"
    );
    let screen = console.screen(80, 24);
    let header = screen.lines().next().unwrap();
    assert!(header.contains("token refused"), "{header}");
    assert!(!header.contains("connecting"), "{header}");
    assert!(
        screen.contains("refused the token (from KEYDESK_TOKEN)"),
        "{screen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sort_column_is_marked_and_chosen_from_a_list() {
    let acme = Acme::start(json!({})).await;
    acme.key("a-key").await;
    let mut console = acme.console(&acme.ana, false).await;
    let header_row = |console: &mut Console| {
        let screen = console.screen(120, 40);
        screen.lines().nth(3).unwrap().to_owned()
    };
    assert!(header_row(&mut console).contains("STATUS▲"));
    console.char('s');
    let Some(Dialog::Picker(picker)) = console.dialog() else {
        panic!("s opens the sort choice");
    };
    let offered: Vec<&str> = picker.shown().map(|i| i.label.as_str()).collect();
    assert!(offered.contains(&"error rate"), "{offered:?}");
    console.type_text("err");
    console.press(KeyCode::Enter);
    assert!(header_row(&mut console).contains("ERR 24h▲"));
    console.char('S');
    assert!(header_row(&mut console).contains("ERR 24h▼"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filter_understands_fields_and_is_always_visible() {
    let acme = Acme::start(json!({})).await;
    let (gone, _) = acme.key("old-feed").await;
    acme.key("new-feed").await;
    acme.server.act(TENANT, &gone, "revoke").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('/');
    console.type_text("-status:revoked");
    console.press(KeyCode::Enter);
    assert_eq!(console.app.keys.visible_count(), 1);
    assert_eq!(console.selected_key().unwrap().name, "new-feed");
    // A status message does not hide the active filter.
    console.char('y');
    let footer = console.screen(80, 24).lines().last().unwrap().to_owned();
    assert!(footer.contains("/-status:revoked"), "{footer}");
    assert!(footer.contains("? help"), "{footer}");
    // `/` edits the filter rather than starting a new one.
    console.char('/');
    console.ctrl('w');
    console.type_text("status:revoked");
    console.press(KeyCode::Enter);
    assert_eq!(console.filter_text(), "status:revoked");
    assert_eq!(console.selected_key().unwrap().name, "old-feed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_switch_clears_the_filter() {
    let acme = Acme::start(json!({})).await;
    acme.key("acme-key").await;
    acme.server
        .create_tenant("globex", json!({ "api_keys_enabled": true }))
        .await;
    let mut console = acme.console(ADMIN_TOKEN, false).await;
    console.char('/');
    console.type_text("acme");
    console.press(KeyCode::Enter);
    console.char(':');
    console.type_text("tenant globex");
    console.press(KeyCode::Enter);
    assert_eq!(console.filter_text(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_keys_of_k9s_and_lazygit_move_the_selection() {
    let acme = Acme::start(json!({})).await;
    for i in 0..40 {
        acme.key(&format!("key-{i:02}")).await;
    }
    let mut console = acme.console(&acme.ana, false).await;
    console.app.on_resize(80, 24);
    let row = |console: &Console| console.app.keys.cursor.row;
    console.ctrl('d');
    assert_eq!(row(&console), 9, "ctrl-d: half of 18 rows");
    console.ctrl('u');
    assert_eq!(row(&console), 0);
    console.ctrl('f');
    assert_eq!(row(&console), 18);
    console.ctrl('b');
    assert_eq!(row(&console), 0);
    console.char('G');
    assert_eq!(row(&console), 39);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q_and_esc_in_the_detail_go_back_instead_of_quitting() {
    let acme = Acme::start(json!({})).await;
    acme.key("detailed").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.press(KeyCode::Enter);
    assert!(console.app.keys.zoomed);
    assert!(console.screen(80, 24).contains("Esc/q back"));
    console.char('q');
    assert!(!console.app.quit && !console.app.keys.zoomed);
    console.press(KeyCode::Enter);
    console.press(KeyCode::Esc);
    assert!(!console.app.keys.zoomed);
    console.char('q');
    assert!(console.app.quit, "q quits from the list");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicking_a_tab_switches_to_its_view() {
    let acme = Acme::start(json!({})).await;
    let mut console = acme.console(&acme.ana, false).await;
    let screen = console.screen(80, 24);
    let tabs = screen.lines().nth(2).unwrap();
    let at = tabs.find("Users 4").unwrap();
    let column = u16::try_from(tabs[..at].chars().count()).unwrap() + 1;
    console.app.on_mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row: 2,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(console.app.view, ViewId::Users);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_answers_to_y_n_h_and_l() {
    let acme = Acme::start(json!({})).await;
    let (id, _) = acme.key("asked").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('r');
    console.char('n');
    assert!(console.dialog().is_none(), "n cancels");
    console.char('r');
    console.char('l');
    console.char('h');
    console.press(KeyCode::Enter);
    assert!(console.dialog().is_none(), "h went back to Cancel");
    assert_eq!(acme.server.status_of(TENANT, &id).await, "active");
    console.char('r');
    console.char('y');
    console.settle().await;
    assert_eq!(acme.server.status_of(TENANT, &id).await, "revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_completes_and_knows_help() {
    let acme = Acme::start(json!({})).await;
    acme.server
        .create_tenant("globex-eu", json!({ "api_keys_enabled": true }))
        .await;
    let mut console = acme.console(ADMIN_TOKEN, false).await;
    assert_eq!(console.app.complete("te").0, "tenant ");
    assert_eq!(console.app.complete("tenant glo").0, "tenant globex-eu");
    console.char(':');
    console.type_text("tenant glo");
    console.press(KeyCode::Tab);
    console.press(KeyCode::Enter);
    console.settle().await;
    assert_eq!(console.app.session().tenant.as_deref(), Some("globex-eu"));
    console.char(':');
    console.type_text("help");
    console.press(KeyCode::Enter);
    assert!(matches!(console.dialog(), Some(Dialog::Help { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_all_marks_every_shown_key_for_a_bulk_action() {
    let acme = Acme::start(json!({})).await;
    for name in ["one", "x-two", "x-other"] {
        acme.key(name).await;
    }
    let mut console = acme.console(&acme.ana, false).await;
    console.char('/');
    console.type_text("o");
    console.press(KeyCode::Enter);
    console.char('/');
    console.ctrl('u');
    console.type_text("x-");
    console.press(KeyCode::Enter);
    console.char('*');
    assert_eq!(console.app.keys.marked.len(), 2, "two and other");
    console.char('r');
    let screen = console.screen(100, 30);
    assert!(screen.contains("Revoke 2 keys?"), "{screen}");
    assert!(
        screen.contains("two") && screen.contains("other"),
        "{screen}"
    );
    console.ctrl('a');
    console.press(KeyCode::Esc);
    console.ctrl('a');
    assert!(
        console.app.keys.marked.is_empty(),
        "ctrl-a again clears the marks"
    );
}

/// 80x24: a URL that does not fit loses its scheme or is dropped, never cut
/// into another address; a long status keeps its start and its reason, and
/// the counts and hints come back once it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_80x24_the_header_and_footer_stay_true() {
    let acme = Acme::start(json!({})).await;
    acme.key("some-key").await;
    let mut console = acme.console(&acme.ana, false).await;
    let screen = console.screen(80, 24);
    let header = screen.lines().next().unwrap();
    let base = acme.server.base.as_str();
    let bare = base.trim_start_matches("http://");
    let shown = header.contains(base) || header.contains(&format!(" {bare} "));
    let dropped = !header.contains("127.0");
    assert!(shown || dropped, "a cut URL: {header}");
    console
        .app
        .shell
        .error(format!("saving failed: {} the reason", "x".repeat(200)));
    let screen = console.screen(80, 24);
    let rows: Vec<&str> = screen.lines().collect();
    let (above, footer) = (rows[rows.len() - 2], rows[rows.len() - 1]);
    assert!(above.starts_with(" saving failed: "), "{above}");
    assert!(
        footer.contains('…') && footer.contains("the reason"),
        "the status keeps its start and its end: {footer}"
    );
    console.press(KeyCode::Esc);
    let footer = console.screen(80, 24).lines().last().unwrap().to_owned();
    assert!(footer.contains("1 of 1 keys"), "{footer}");
    assert!(
        footer.contains("? help") && footer.contains("q quit"),
        "{footer}"
    );
}

/// The secret dialog says "shown once" only where it is true.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_dialog_says_whether_the_secret_can_be_copied_again() {
    for (retrieval, expected) in [
        ("never", "cannot be shown again"),
        ("admins", "tenant admins can copy it again later"),
    ] {
        let acme = Acme::start(json!({ "secret_retrieval": retrieval })).await;
        let mut console = acme.console(&acme.ana, false).await;
        console.char('a');
        console.type_text("worded");
        console.ctrl('s');
        console
            .pump_until("the secret", crate::support::secret_shown)
            .await;
        let screen = console.screen(100, 30);
        assert!(screen.contains(expected), "{retrieval}: {screen}");
    }
}

/// The Users and Settings views scroll and filter like the keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_scrolls_and_filters() {
    let acme = Acme::start(json!({})).await;
    for i in 0..30 {
        acme.server
            .create_user(TENANT, &format!("user{i:02}"), &["viewer"])
            .await;
    }
    acme.key("k").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.app.on_resize(80, 24);
    console.char('4');
    console.char('G');
    let screen = console.screen(80, 24);
    assert!(
        screen.contains("user29"),
        "G scrolls to the last user:\n{screen}"
    );
    console.char('/');
    console.type_text("user1");
    console.press(KeyCode::Enter);
    assert!(console.screen(80, 24).contains("10 of 33 users"));
    console.press(KeyCode::Esc);
    assert_eq!(console.filter_text(), "");
    console.char('3');
    console.char('/');
    console.type_text("prefix");
    console.press(KeyCode::Enter);
    let screen = console.screen(80, 24);
    assert!(
        screen.contains("key prefix") && !screen.contains("max expiry"),
        "{screen}"
    );
    console.char('2');
    console.char('j');
    console.press(KeyCode::Enter);
    assert!(
        matches!(console.dialog(), Some(Dialog::Message { .. })),
        "Enter shows an event"
    );
}

/// `e` edits the expiry and, for an admin, the owner: the rules of the
/// server (here a 30-day maximum) are offered in the form and kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_changes_the_expiry_and_the_owner_where_the_rules_allow() {
    let acme = Acme::start(json!({ "max_expiry_days": 30 })).await;
    let (id, _) = acme
        .server
        .create_key(
            TENANT,
            &acme.ana,
            json!({ "name": "handed-over", "expires_at": (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339() }),
        )
        .await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('e');
    console.press(KeyCode::Tab);
    console.press(KeyCode::Tab);
    console.press(KeyCode::Tab);
    assert_eq!(console.form_focus(), "owner");
    console.press(KeyCode::Right); // bo, the other developer
    console.press(KeyCode::Tab);
    assert_eq!(console.form_focus(), "expiry");
    assert_eq!(form_text_number(&console), "10");
    console.ctrl('u');
    console.type_text("90");
    console.ctrl('s');
    let error = form_error(&console).expect("90 days is refused in place");
    assert!(error.contains("1 to 30"), "{error}");
    console.ctrl('u');
    console.type_text("20");
    console.ctrl('s');
    console
        .pump_until("the edit", |app| app.shell.dialogs.current.is_none())
        .await;
    let (_, stored) = acme.server.key(TENANT, &id).await;
    assert_eq!(stored["owner"]["name"], "bo", "{stored}");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(stored["expires_at"].clone()).unwrap();
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((19.0..=20.1).contains(&days), "expires in {days} days");
}

fn form_text_number(console: &Console) -> String {
    match console.dialog() {
        Some(Dialog::Form(form)) => match &form.fields[form.focus].kind {
            keydesk::console::dialog::form::Kind::Number { input, .. } => input.text().to_owned(),
            _ => panic!("not a number field"),
        },
        _ => panic!("no form is open"),
    }
}

/// `D` opens the copy's form first: it is created under the new name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_renames_the_copy_before_it_is_created() {
    let acme = Acme::start(json!({})).await;
    acme.key("original").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('D');
    assert_eq!(form_text(&console, "name"), "original (copy)");
    console.ctrl('u');
    console.type_text("original-eu");
    console.ctrl('s');
    console
        .pump_until("the copy's secret", crate::support::secret_shown)
        .await;
    let names: Vec<String> = acme
        .server
        .keys(TENANT)
        .await
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"original-eu".to_owned()), "{names:?}");
    assert!(
        acme.server
            .event_actions(TENANT)
            .await
            .contains(&"key.duplicated".to_owned())
    );
}
