//! What a first-time user meets at 80x24 and without colour: a footer whose
//! failures read whole, names that cannot break a row, dialogs that keep
//! their buttons, a secret that is not lost to one Esc, a help that says why,
//! a command line that shows its completions, a URL that is never cut into
//! another address, pickers that rank and move, and a header that tells the
//! truth about what the user may do. Each runs against a real server.

use crossterm::event::KeyCode;
use keydesk::console::dialog::Dialog;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::support::{ADMIN_TOKEN, Acme, Console, TENANT, secret_shown};

/// The last two rows of a screen: the row above the footer, and the footer.
fn footer_rows(screen: &str) -> (String, String) {
    let rows: Vec<&str> = screen.lines().collect();
    (
        rows[rows.len() - 2].to_owned(),
        rows[rows.len() - 1].to_owned(),
    )
}

/// Text drawn inside a dialog or a frame: the rows with the frame's and
/// the list's borders taken off, joined with single spaces.
fn joined(screen: &str) -> String {
    screen
        .lines()
        .map(|row| row.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .map(|row| row.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

// ------------------------------------------------------------------ 1. footer

/// A failure reads whole at 80 columns: it comes before the counts and the
/// hints, and takes the row above when it needs it, keeping its start and
/// its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_80_columns_a_failure_reads_whole() {
    let acme = Acme::start(json!({})).await;
    acme.key("billing-sync").await;

    // A viewer asks to add a key: refused, with a reason longer than the
    // room the counts and hints used to leave it.
    let mut viewer = acme.console(&acme.vic, false).await;
    viewer.char('a');
    let reason = viewer.status_text();
    assert!(reason.contains("developer role"), "{reason}");
    let (above, footer) = footer_rows(&viewer.screen(80, 24));
    let both = joined(&format!("{above}\n{footer}"));
    assert!(
        both.contains(&reason),
        "the reason is cut:\n{above}\n{footer}"
    );
    assert!(
        !footer.contains("1 of 1 ke") || footer.contains("1 of 1 keys"),
        "the counts overwrite the status: {footer}"
    );

    // Longer than a line: its start on the row above, its reason below.
    let mut console = acme.console(&acme.ana, false).await;
    let failure = "revoking billing-sync-nightly-export-for-the-ledger-and-the-warehouse failed: \
                   this tenant revokes only disabled keys; disable the key first \
                   (REVOKE_REQUIRES_DISABLED)";
    console.app.shell.error(failure);
    let (above, footer) = footer_rows(&console.screen(80, 24));
    assert!(
        above.starts_with(" revoking billing-sync-nightly"),
        "the start of the failure: {above}"
    );
    assert!(
        footer.contains("disable the key first (REVOKE_REQUIRES_DISABLED)"),
        "the reason of the failure: {footer}"
    );
}

/// News fades after the time it takes to read it and the hints come back;
/// a failure stays until something replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_fades_and_a_failure_stays() {
    let acme = Acme::start(json!({})).await;
    acme.key("billing-sync").await;
    let mut console = acme.console(&acme.ana, false).await;
    let now = chrono::Utc::now();
    console.app.shell.clock = Some(now);
    console.app.shell.error("saving failed: the server refused");
    console.app.shell.clock = Some(now + chrono::Duration::seconds(60));
    let (_, footer) = footer_rows(&console.screen(80, 24));
    assert!(footer.contains("saving failed"), "{footer}");
    console.app.shell.clock = Some(now);
    console.app.shell.info("reloading…");
    let (_, footer) = footer_rows(&console.screen(80, 24));
    assert!(footer.contains("reloading…"), "{footer}");
    console.app.shell.clock = Some(now + chrono::Duration::seconds(60));
    let (_, footer) = footer_rows(&console.screen(80, 24));
    assert!(!footer.contains("reloading"), "news stays: {footer}");
    assert!(
        footer.contains("1 of 1 keys") && footer.contains("? help") && footer.contains("q quit"),
        "{footer}"
    );
}

// ------------------------------------------------------------------ 2. names

/// Characters that are drawn as nothing, or reorder or join what follows.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// A row as a terminal that measures character by character draws it:
/// each cell's symbol, skipping the cells ratatui hides behind a wide one.
fn as_a_terminal_draws(terminal: &Terminal<TestBackend>, y: u16) -> String {
    let buffer = terminal.backend().buffer();
    let mut row = String::new();
    let mut x = 0;
    while x < buffer.area.width {
        let symbol = buffer[(x, y)].symbol();
        row.push_str(symbol);
        x += u16::try_from(symbol.width().max(1)).unwrap();
    }
    row
}

/// Cells before `needle` in `row`, counted character by character.
fn column_of(row: &str, needle: &str) -> usize {
    let at = row
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in {row:?}"));
    row[..at].chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// A key named with a right-to-left override, a zero-width space, a ZWJ
/// family and (from a hostile server) escape codes: its row keeps the
/// column widths, and none of those characters reaches the terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_keep_their_row_and_reach_no_terminal() {
    let acme = Acme::start(json!({})).await;
    let hostile = "rlo\u{202E}evil\u{200B}👨\u{200D}👩\u{200D}👧-x\u{2066}iso\u{2069}\u{FEFF}";
    // Today's server refuses such a name (issue 8 #13) ...
    let (status, _) = acme
        .server
        .call(
            reqwest::Method::POST,
            &format!("/v1/tenants/{TENANT}/keys"),
            &acme.ana,
            Some(json!({ "name": hostile })),
        )
        .await;
    assert_eq!(status, 422);
    acme.key("rlo-stand-in").await;
    acme.key("plain-key").await;
    let mut console = acme.console(&acme.ana, false).await;
    // ... an older or hostile one still sends it, with escape codes too.
    let at = console
        .app
        .keys
        .keys
        .iter()
        .position(|k| k.name == "rlo-stand-in")
        .unwrap();
    console.app.keys.keys[at].name = format!("{hostile}\x1b[31mred\x07");
    for (width, height) in [(80, 24), (120, 40), (160, 40)] {
        let terminal = console.draw(width, height);
        let buffer = terminal.backend().buffer();
        for cell in &buffer.content {
            assert!(
                !cell.symbol().chars().any(invisible),
                "{:?} reached the screen at {width}x{height}",
                cell.symbol()
            );
            let by_chars: usize = cell.symbol().chars().map(|c| c.width().unwrap_or(0)).sum();
            assert_eq!(
                by_chars,
                cell.symbol().width(),
                "{:?} is measured one way and drawn another",
                cell.symbol()
            );
        }
        let rows: Vec<String> = (0..height)
            .map(|y| as_a_terminal_draws(&terminal, y))
            .collect();
        let row_of = |name: &str| {
            rows.iter()
                .find(|r| r.contains(name) && r.contains("active"))
                .unwrap_or_else(|| panic!("no row of {name}:\n{}", rows.join("\n")))
        };
        let (evil, plain) = (row_of("rlo"), row_of("plain-key"));
        assert!(
            evil.contains('\u{FFFD}'),
            "the hidden characters are not shown: {evil}"
        );
        assert_eq!(
            column_of(evil, "active"),
            column_of(plain, "active"),
            "at {width}x{height} the hostile name pushes its row:\n{evil}\n{plain}"
        );
        let drawn: usize = evil.chars().map(|c| c.width().unwrap_or(0)).sum();
        assert_eq!(drawn, usize::from(width), "{evil}");
    }
}

// ------------------------------------------------------------------ 3. dialogs

/// A key form on a tenant with many scopes, at 80x24, with a long reason:
/// the reason reads whole, the buttons stay, the focused field is in sight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_taller_than_the_screen_keeps_its_buttons_and_its_reason() {
    let scopes: Vec<String> = (1..=16).map(|n| format!("service-{n:02}:read")).collect();
    let acme = Acme::start(json!({ "scopes": scopes })).await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('a');
    let reason = "name: a key named billing-sync already exists for this owner; \
                  choose another name, or edit the existing key instead of adding \
                  a second one (NAME_TAKEN, checked against every key of the tenant)";
    console.app.shell.dialogs.form_mut().unwrap().failed(reason);
    let screen = console.screen(80, 24);
    assert!(
        screen.contains("[ Save ]") || screen.contains("  Save  "),
        "{screen}"
    );
    assert!(screen.contains("Cancel"), "{screen}");
    assert!(
        joined(&screen).contains(reason),
        "the reason is cut:\n{screen}"
    );
    // Moving down the form keeps the focused field on screen.
    for _ in 0..4 {
        console.press(KeyCode::Tab);
    }
    assert_eq!(console.form_focus(), "expiry");
    let screen = console.screen(80, 24);
    assert!(screen.contains("▶expires in"), "{screen}");
    assert!(screen.contains("Cancel"), "{screen}");
}

/// Revoking eight keys with long names at 80x24: the question lists some
/// and says how many more, and its buttons and last words stay in sight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_naming_many_long_keys_keeps_its_buttons() {
    let acme = Acme::start(json!({})).await;
    for n in 0..8 {
        acme.key(&format!(
            "{n}-{}",
            "payments-reconciliation-nightly-".repeat(3)
        ))
        .await;
    }
    let mut console = acme.console(&acme.ana, false).await;
    console.ctrl('a');
    console.char('r');
    assert!(matches!(console.dialog(), Some(Dialog::Confirm(_))));
    let screen = console.screen(80, 24);
    assert!(
        screen.contains("Cancel") && screen.contains("Revoke  "),
        "{screen}"
    );
    assert!(screen.contains("and 2 more"), "{screen}");
    assert!(screen.contains("cannot be undone"), "{screen}");
}

// ------------------------------------------------------------------ 4. secret

/// Esc on a secret that was never copied asks again; the second Esc closes.
/// Once copied, one Esc closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_never_copied_is_not_closed_by_one_esc() {
    let acme = Acme::start(json!({})).await;
    let mut console = acme.console(&acme.ana, false).await;
    console.char('a');
    console.type_text("fresh");
    console.save_form();
    console.pump_until("the secret", secret_shown).await;
    let Some(Dialog::Secret(modal)) = console.dialog() else {
        unreachable!()
    };
    let secret = modal.secret.to_string();
    console.press(KeyCode::Esc);
    assert!(
        secret_shown(&console.app),
        "one Esc closed an uncopied secret"
    );
    let screen = console.screen(80, 24);
    assert!(screen.contains("not copied"), "{screen}");
    assert!(screen.contains("Esc again"), "{screen}");
    assert!(screen.contains(&secret), "{screen}");
    console.press(KeyCode::Esc);
    assert!(!secret_shown(&console.app));
    assert!(!console.screen(80, 24).contains(&secret));

    console.select("fresh");
    console.char('R');
    console.press(KeyCode::Enter); // the grace picker's default: 24 hours
    console.pump_until("the new secret", secret_shown).await;
    console.char('c');
    console.press(KeyCode::Esc);
    assert!(
        !secret_shown(&console.app),
        "a copied secret closes at once"
    );
}

// ------------------------------------------------------------------ 5. help

/// A viewer's `?` at 80 columns: what they can use comes first; each
/// binding they cannot use comes after, with its whole reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_the_usable_first_and_says_why_the_rest_is_not() {
    let acme = Acme::start(json!({})).await;
    acme.key("billing-sync").await;
    let mut console = acme.console(&acme.vic, false).await;
    let reason = console
        .app
        .disabled_reason(keydesk::console::keymap::Action::Add)
        .expect("a viewer cannot add");
    assert!(
        reason.len() > 64,
        "a reason long enough to be cut: {reason}"
    );
    console.char('?');
    let screen = console.screen(80, 100);
    let rows: Vec<&str> = screen.lines().collect();
    let unavailable = rows
        .iter()
        .position(|r| r.contains("unavailable now"))
        .expect("an unavailable section");
    let add = rows
        .iter()
        .position(|r| r.contains("add a key"))
        .expect("the add binding");
    let copy_id = rows
        .iter()
        .position(|r| r.contains("copy the key ID"))
        .expect("the copy-ID binding");
    assert!(
        copy_id < unavailable && unavailable < add,
        "usable first, then the rest:\n{screen}"
    );
    let section = joined(&rows[unavailable..].join("\n"));
    assert!(section.contains(&reason), "the reason is cut:\n{screen}");
}

// ------------------------------------------------------------------ 6. command line

/// While `:` is typed, the row above it shows what Tab would complete to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_shows_its_completions_while_typing() {
    let acme = Acme::start(json!({})).await;
    acme.server.create_tenant("acme-labs", json!({})).await;
    let mut console = Console::new(
        &acme.server.base,
        ADMIN_TOKEN,
        Some(TENANT),
        false,
        keydesk::console::clipboard::ClipboardMode::Off,
    );
    console.start().await;
    console.char(':');
    let (above, _) = footer_rows(&console.screen(80, 24));
    assert!(
        above.contains("tenant") && above.contains("help") && above.contains("quit"),
        "{above}"
    );
    console.type_text("tenant ac");
    let (above, footer) = footer_rows(&console.screen(80, 24));
    assert!(
        above.contains("acme") && above.contains("acme-labs"),
        "{above}"
    );
    assert!(footer.contains(":tenant ac"), "{footer}");
    console.type_text("me-");
    let (above, _) = footer_rows(&console.screen(80, 24));
    assert!(
        above.contains("acme-labs") && !above.contains("acme "),
        "{above}"
    );
}

// ------------------------------------------------------------------ 7. URL

/// At every width the URL in the header is whole, without its scheme, or
/// absent: never cut inside the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_never_cuts_the_url() {
    let acme = Acme::start(json!({})).await;
    let mut console = acme.console(&acme.ana, false).await;
    let base = acme.server.base.clone();
    let bare = base.trim_start_matches("http://").to_owned();
    let mut seen = (false, false, false);
    for width in 60..=140 {
        let screen = console.screen(width, 24);
        let header = screen.lines().next().unwrap();
        if header.contains(&base) {
            seen.0 = true;
        } else if header.contains(&format!(" {bare} ")) {
            seen.1 = true;
        } else {
            let port = &base[base.rfind(':').unwrap()..];
            assert!(
                !header.contains("127.") && !header.contains("http") && !header.contains(port),
                "a cut URL at {width}: {header}"
            );
            seen.2 = true;
        }
    }
    assert_eq!(seen, (true, true, true), "whole, bare and absent all occur");
}

// ------------------------------------------------------------------ 8. pickers

/// The tenant picker ranks tenants starting with the typed text first;
/// `j` types, ↓/↑ and ctrl-n/ctrl-p move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_picker_ranks_prefixes_first_and_moves() {
    let acme = Acme::start(json!({})).await;
    for id in ["abc-cart", "cargo"] {
        acme.server.create_tenant(id, json!({})).await;
    }
    let mut console = Console::new(
        &acme.server.base,
        ADMIN_TOKEN,
        Some(TENANT),
        false,
        keydesk::console::clipboard::ClipboardMode::Off,
    );
    console.start().await;
    let shown = |console: &Console| -> Vec<String> {
        match console.dialog() {
            Some(Dialog::Picker(picker)) => picker.shown().map(|i| i.label.clone()).collect(),
            _ => panic!("no picker"),
        }
    };
    let row = |console: &Console| match console.dialog() {
        Some(Dialog::Picker(picker)) => picker.cursor.row,
        _ => panic!("no picker"),
    };
    console.char('T');
    console.type_text("ca");
    let names = shown(&console);
    assert_eq!(&names[..2], ["cargo", "abc-cart"], "{names:?}");
    console.press(KeyCode::Down);
    assert_eq!(row(&console), 1);
    console.press(KeyCode::Up);
    assert_eq!(row(&console), 0);
    console.ctrl('n');
    assert_eq!(row(&console), 1);
    console.ctrl('p');
    assert_eq!(row(&console), 0);
    console.char('j');
    match console.dialog() {
        Some(Dialog::Picker(picker)) => assert_eq!(picker.filter.text(), "caj"),
        _ => panic!("no picker"),
    }
}

/// A picker on a screen shorter than its list: moving down keeps the
/// selection drawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picker_on_a_short_screen_keeps_its_selection_in_sight() {
    let acme = Acme::start(json!({})).await;
    for n in 0..13 {
        acme.server
            .create_tenant(&format!("zz-{n:02}"), json!({}))
            .await;
    }
    let mut console = Console::new(
        &acme.server.base,
        ADMIN_TOKEN,
        Some(TENANT),
        false,
        keydesk::console::clipboard::ClipboardMode::Off,
    );
    console.start().await;
    console.char('T');
    for _ in 0..13 {
        console.press(KeyCode::Down);
    }
    let Some(Dialog::Picker(picker)) = console.dialog() else {
        panic!("no picker")
    };
    let selected = picker.shown().nth(picker.cursor.row).unwrap().label.clone();
    assert_eq!(selected, "zz-12");
    let screen = console.screen(80, 12);
    assert!(
        screen.contains(&format!(" {selected} ")),
        "{selected} is selected but not drawn:\n{screen}"
    );
}

// ------------------------------------------------------------------ 9. mode

/// The header says what is true: `read-only` with --readonly, `view only`
/// for roles that cannot change anything here, nothing for the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_shows_the_mode_that_is_true_for_the_user() {
    let acme = Acme::start(json!({})).await;
    for (token, readonly, expected) in [
        (&acme.vic, false, Some("view only")),
        (&acme.ana, false, None),
        (&acme.bo, false, None),
        (&acme.ana, true, Some("read-only")),
    ] {
        let mut console = acme.console(token, readonly).await;
        let screen = console.screen(80, 24);
        let header = screen.lines().next().unwrap();
        assert!(!header.contains("[RW]"), "{header}");
        for mode in ["view only", "read-only"] {
            assert_eq!(
                header.contains(mode),
                expected == Some(mode),
                "{mode}: {header}"
            );
        }
    }
}
