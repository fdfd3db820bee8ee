//! What the console draws, snapshotted at 120x40 (side by side) and 80x24
//! (stacked): the keys view, every dialog, the other views, and NO_COLOR.
//! The App is filled with fixed data and a fixed clock and is never started;
//! dialogs are opened with the keys a user would press. Requests that a key
//! starts go to a closed port and their answers are thrown away, so nothing
//! here depends on the network.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::KeyCode;
use keydesk::api::{self, Key, KeyWithSecret, Problem, Usage24h};
use keydesk::client::ClientError;
use keydesk::console::clipboard::ClipboardMode;
use keydesk::console::dialog::Dialog;
use keydesk::console::net::{Msg, Reply};
use keydesk::domain::{KeyCreators, KeyStatus, Role, SecretRetrieval, UserId, UserRef};
use ratatui::style::{Color, Modifier};
use serde_json::json;

use keydesk::console::keymap;
use keydesk::console::views::ViewId;

use crate::support::{Console, screen_text};

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap()
}

fn person(name: &str) -> UserRef {
    UserRef {
        id: UserId::from_trusted(format!("usr_01JZ8Q{}", name.to_uppercase())),
        name: name.to_owned(),
    }
}

/// One fixture key: name, status, owner, age, last use, expiry, usage.
struct Spec {
    name: &'static str,
    status: KeyStatus,
    owner: &'static str,
    created_days_ago: i64,
    last_used_minutes_ago: Option<i64>,
    expires_in_days: Option<i64>,
    usage: (u64, u64),
    start: &'static str,
}

const SPECS: [Spec; 12] = [
    Spec {
        name: "billing-sync",
        status: KeyStatus::Active,
        owner: "ana",
        created_days_ago: 120,
        last_used_minutes_ago: Some(2),
        expires_in_days: None,
        usage: (996, 4),
        start: "kd_7Hq2",
    },
    Spec {
        name: "ci-deploy",
        status: KeyStatus::Disabled,
        owner: "bo",
        created_days_ago: 60,
        last_used_minutes_ago: Some(3 * 1440),
        expires_in_days: None,
        usage: (0, 0),
        start: "kd_Zx81",
    },
    Spec {
        name: "legacy-export",
        status: KeyStatus::Revoked,
        owner: "ana",
        created_days_ago: 400,
        last_used_minutes_ago: Some(41 * 1440),
        expires_in_days: None,
        usage: (0, 0),
        start: "kd_q0Lm",
    },
    Spec {
        name: "statement-fetcher",
        status: KeyStatus::Active,
        owner: "bo",
        created_days_ago: 30,
        last_used_minutes_ago: Some(15),
        expires_in_days: Some(45),
        usage: (1200, 0),
        start: "kd_Rt5w",
    },
    Spec {
        name: "webhook-relay",
        status: KeyStatus::Expired,
        owner: "ana",
        created_days_ago: 200,
        last_used_minutes_ago: Some(10 * 1440),
        expires_in_days: Some(-5),
        usage: (0, 12),
        start: "kd_Wy3e",
    },
    Spec {
        name: "mobile-app",
        status: KeyStatus::Active,
        owner: "bo",
        created_days_ago: 10,
        last_used_minutes_ago: Some(60),
        expires_in_days: Some(12),
        usage: (88, 12),
        start: "kd_Mp4x",
    },
    Spec {
        name: "partner-acme",
        status: KeyStatus::Active,
        owner: "ana",
        created_days_ago: 5,
        last_used_minutes_ago: None,
        expires_in_days: None,
        usage: (0, 0),
        start: "kd_Pa9c",
    },
    Spec {
        name: "reporting-etl",
        status: KeyStatus::Disabled,
        owner: "ana",
        created_days_ago: 90,
        last_used_minutes_ago: Some(20 * 1440),
        expires_in_days: None,
        usage: (0, 0),
        start: "kd_Et2l",
    },
    Spec {
        name: "terraform",
        status: KeyStatus::Revoked,
        owner: "bo",
        created_days_ago: 300,
        last_used_minutes_ago: Some(100 * 1440),
        expires_in_days: None,
        usage: (0, 0),
        start: "kd_Tf6r",
    },
    Spec {
        name: "grafana-agent",
        status: KeyStatus::Active,
        owner: "ana",
        created_days_ago: 2,
        last_used_minutes_ago: Some(0),
        expires_in_days: Some(300),
        usage: (5000, 1),
        start: "kd_Gr8n",
    },
    Spec {
        name: "backup-job",
        status: KeyStatus::Expired,
        owner: "bo",
        created_days_ago: 365,
        last_used_minutes_ago: Some(40 * 1440),
        expires_in_days: Some(-1),
        usage: (0, 0),
        start: "kd_Kj0u",
    },
    Spec {
        name: "checkout-web",
        status: KeyStatus::Active,
        owner: "ana",
        created_days_ago: 1,
        last_used_minutes_ago: Some(1),
        expires_in_days: None,
        usage: (500, 250),
        start: "kd_Cw1t",
    },
];

fn fixture_key(n: usize, spec: &Spec) -> Key {
    let created = now() - Duration::days(spec.created_days_ago);
    let owner = person(spec.owner);
    let revoked = spec.status == KeyStatus::Revoked;
    Key {
        id: format!("key_01JZ8QAC5M{n:014}"),
        tenant: "acme-payments".to_owned(),
        name: spec.name.to_owned(),
        description: if spec.name == "billing-sync" {
            "nightly settlement sync with the ledger".to_owned()
        } else {
            String::new()
        },
        owner: owner.clone(),
        scopes: vec!["payments:read".to_owned(), "payments:write".to_owned()],
        status: spec.status,
        created_at: created,
        created_by: owner.clone(),
        updated_at: created + Duration::hours(3),
        updated_by: person("ana"),
        expires_at: spec.expires_in_days.map(|d| now() + Duration::days(d)),
        last_used_at: spec
            .last_used_minutes_ago
            .map(|m| now() - Duration::minutes(m)),
        revoked_at: revoked.then(|| now() - Duration::days(30)),
        revoked_by: revoked.then(|| person("ana")),
        start: spec.start.to_owned(),
        secret_retrievable: !revoked,
        rotating_until: None,
        rate_limit: None,
        usage_24h: Usage24h {
            valid: spec.usage.0,
            failed: spec.usage.1,
        },
        version: 1,
        suspicious: None,
    }
}

fn keys() -> Vec<Key> {
    SPECS
        .iter()
        .enumerate()
        .map(|(n, spec)| fixture_key(n + 1, spec))
        .collect()
}

fn settings() -> api::Settings {
    api::Settings {
        api_keys_enabled: true,
        max_expiry_days: Some(365),
        max_keys_per_user: Some(20),
        key_creators: KeyCreators::Developers,
        scopes_editable: true,
        revoke_requires_disabled: false,
        secret_retrieval: SecretRetrieval::Admins,
        key_prefix: "kd".to_owned(),
        scopes: vec![
            "payments:read".to_owned(),
            "payments:write".to_owned(),
            "accounts:read".to_owned(),
        ],
        rate_limit: Some(keydesk::domain::RateLimit {
            requests: 600,
            window_seconds: 60,
        }),
        version: 3,
    }
}

fn user(name: &str, roles: &[Role]) -> api::UserBody {
    api::UserBody {
        id: person(name).id.as_str().to_owned(),
        name: name.to_owned(),
        email: Some(format!("{name}@acme.example")),
        tenant: Some("acme-payments".to_owned()),
        roles: roles.to_vec(),
        licensed: !roles.contains(&Role::Viewer),
        created_at: now() - Duration::days(500),
        disabled: false,
        has_token: true,
    }
}

fn users() -> Vec<api::UserBody> {
    vec![
        user("ana", &[Role::TenantAdmin, Role::Developer]),
        user("bo", &[Role::Developer]),
        user("clara", &[Role::Viewer]),
    ]
}

fn me() -> api::Me {
    api::Me {
        user: user("ana", &[Role::TenantAdmin, Role::Developer]),
        tenants: vec![api::TenantBody {
            id: "acme-payments".to_owned(),
            name: "ACME Payments".to_owned(),
            created_at: now() - Duration::days(600),
            settings: settings(),
        }],
    }
}

fn events() -> Vec<api::EventBody> {
    let event = |id: i64, minutes: i64, action: &str, actor: &str, target: &str| api::EventBody {
        id,
        at: now() - Duration::minutes(minutes),
        tenant: Some("acme-payments".to_owned()),
        action: action.to_owned(),
        actor: person(actor),
        target_id: format!("key_01JZ8QAC5M{id:014}"),
        target_name: target.to_owned(),
        source: "10.0.4.17".to_owned(),
        changes: json!({}),
    };
    vec![
        event(9, 3, "key.created", "ana", "checkout-web"),
        event(8, 40, "key.secret_revealed", "ana", "billing-sync"),
        event(7, 95, "key.disabled", "bo", "ci-deploy"),
        event(6, 300, "key.updated", "ana", "billing-sync"),
        event(5, 1440, "key.revoked", "ana", "terraform"),
        event(4, 2000, "settings.updated", "ana", "acme-payments"),
        event(3, 2880, "key.duplicated", "bo", "mobile-app"),
        event(2, 4000, "user.created", "ana", "clara"),
    ]
}

/// The console as a tenant admin sees acme-payments, with fixed data and
/// clock, built from the messages the network would bring. Its own requests
/// go to a closed port; their answers are thrown away before drawing.
fn console() -> Console {
    console_with(keys())
}

fn console_with(keys: Vec<Key>) -> Console {
    let mut console = Console::new(
        "http://127.0.0.1:9",
        "kdm_render_fixture",
        Some("acme-payments"),
        false,
        ClipboardMode::Off,
    );
    console.app.shell.clock = Some(now());
    console.app.on_msg(Msg::Me(Ok(me())));
    console.deliver(Reply::Settings(Ok(settings())));
    console.deliver(Reply::Users(Ok(api::UserList {
        items: users(),
        next_cursor: None,
    })));
    console.deliver(Reply::Events(Ok(api::EventList {
        items: events(),
        next_cursor: None,
    })));
    console.deliver(Reply::Stream {
        live: true,
        reason: None,
    });
    let generation = console.app.keys.loading.as_ref().unwrap().generation;
    let total = keys.len() as u64;
    console.deliver(Reply::Page {
        generation,
        result: Ok(api::KeyList {
            items: keys,
            next_cursor: None,
            total,
        }),
    });
    console.app.shell.status = None;
    console
}

/// Snapshots the screen after `setup` at both sizes; returns the screens as text.
async fn shots(name: &str, setup: impl Fn(&mut Console)) -> Vec<String> {
    let mut screens = Vec::new();
    for (width, height) in SIZES {
        let mut console = console();
        console.app.on_resize(width, height);
        setup(&mut console);
        console.discard_requests().await;
        let terminal = console.draw(width, height);
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), terminal.backend());
        screens.push(screen_text(&terminal));
    }
    screens
}

fn mark(console: &mut Console, names: &[&str]) {
    for name in names {
        console.select(name);
        console.char(' ');
    }
}

fn filter(console: &mut Console, text: &str) {
    console.char('/');
    console.type_text(text);
    console.press(KeyCode::Enter);
}

#[tokio::test]
async fn keys_view_lists_every_status_with_a_marked_key() {
    let screens = shots("keys", |c| {
        c.char('j');
        c.char(' ');
    })
    .await;
    for status in ["active", "disabled", "expired", "revoked"] {
        assert!(
            screens[0].contains(status),
            "{status} missing:\n{}",
            screens[0]
        );
    }
    for screen in screens {
        assert!(screen.contains("✓ grafana-agent"), "{screen}");
        assert!(
            screen
                .lines()
                .any(|row| row.contains("▶") && row.contains("partner-acme")),
            "{screen}"
        );
        assert!(screen.contains("1 marked"), "{screen}");
    }
}

#[tokio::test]
async fn keys_view_with_a_filter_shows_only_matching_keys() {
    let screens = shots("keys_filtered", |c| filter(c, "bo")).await;
    for screen in screens {
        assert!(screen.contains("5 of 12 keys"), "{screen}");
        assert!(screen.contains("/bo"), "the active filter shows: {screen}");
        assert!(!screen.contains("billing-sync"), "{screen}");
    }
}

#[tokio::test]
async fn revoking_one_key_asks_first_with_cancel_focused() {
    let screens = shots("confirm_revoke", |c| {
        c.select("billing-sync");
        c.char('r');
        let Some(Dialog::Confirm(confirm)) = &c.app.shell.dialogs.current else {
            panic!("no confirm dialog");
        };
        assert!(!confirm.confirm_focused, "Cancel must be the default");
    })
    .await;
    for screen in screens {
        assert!(screen.contains("Revoke billing-sync?"), "{screen}");
        assert!(screen.contains("[ Cancel ]"), "{screen}");
    }
}

#[tokio::test]
async fn bulk_revoke_states_how_many_keys_and_how_many_are_hidden() {
    let screens = shots("confirm_bulk_revoke", |c| {
        mark(c, &["checkout-web", "grafana-agent", "ci-deploy"]);
        filter(c, "ci-");
        c.char('r');
    })
    .await;
    for screen in screens {
        assert!(screen.contains("Revoke 3 keys?"), "{screen}");
        assert!(
            screen.contains("3 keys stop working"),
            "the count of keys:\n{screen}"
        );
        assert!(
            screen.contains("2 of them are hidden by the current filter"),
            "{screen}"
        );
    }
}

#[tokio::test]
async fn add_form_offers_scopes_owner_and_expiry() {
    let screens = shots("add_form", |c| {
        c.char('a');
        c.type_text("payout-worker");
    })
    .await;
    for screen in screens {
        assert!(screen.contains("Add a key"), "{screen}");
        assert!(screen.contains("[ ] payments:write"), "{screen}");
        assert!(screen.contains("expires in   365"), "{screen}");
        assert!(screen.contains("owner"), "{screen}");
    }
}

#[tokio::test]
async fn edit_form_is_filled_with_the_key() {
    let screens = shots("edit_form", |c| {
        c.select("billing-sync");
        c.char('e');
    })
    .await;
    for screen in screens {
        assert!(screen.contains("Edit billing-sync"), "{screen}");
        assert!(screen.contains("nightly settlement sync"), "{screen}");
        assert!(screen.contains("[x] payments:write"), "{screen}");
    }
}

const SHOWN_SECRET: &str = "kd_4fJ8sQ2mVx7LpR1tY9cW3nB6hK0dZ5gA2eU7i1";

#[tokio::test]
async fn a_new_secret_is_shown_once_in_a_modal() {
    let screens = shots("secret", |c| {
        let mut key = fixture_key(13, &SPECS[0]);
        key.name = "payout-worker".to_owned();
        key.description = String::new();
        key.start = SHOWN_SECRET[..7].to_owned();
        key.created_at = now();
        key.updated_at = now();
        key.last_used_at = None;
        key.usage_24h = Usage24h::default();
        c.deliver(Reply::SecretIssued {
            verb: "created",
            name: "payout-worker".to_owned(),
            result: Ok(KeyWithSecret {
                key,
                secret: Some(SHOWN_SECRET.to_owned()),
            }),
        });
    })
    .await;
    for screen in screens {
        assert!(screen.contains(SHOWN_SECRET), "{screen}");
        assert!(
            screen.contains("tenant admins can copy it again later"),
            "{screen}"
        );
    }
}

fn refused(code: &str, detail: &str) -> ClientError {
    ClientError::Api(Problem {
        kind: format!("urn:keydesk:problem:{code}"),
        title: "Conflict".to_owned(),
        status: 409,
        detail: detail.to_owned(),
        code: code.to_owned(),
    })
}

#[tokio::test]
async fn a_partly_failed_bulk_revoke_lists_each_failure() {
    let screens = shots("bulk_failures", |c| {
        mark(c, &["checkout-web", "grafana-agent", "ci-deploy"]);
        let mut revoked = c.key_named("ci-deploy").clone();
        revoked.status = KeyStatus::Revoked;
        c.deliver(Reply::Bulk {
            verb: "revoked",
            hidden: 1,
            results: vec![
                ("ci-deploy".to_owned(), Ok(revoked)),
                (
                    "checkout-web".to_owned(),
                    Err(refused(
                        "REVOKE_REQUIRES_DISABLED",
                        "this tenant revokes only disabled keys; disable the key first",
                    )),
                ),
                (
                    "grafana-agent".to_owned(),
                    Err(refused("FORBIDDEN", "you may revoke only keys you own")),
                ),
            ],
        });
    })
    .await;
    for screen in screens {
        assert!(screen.contains("revoked 1 of 3 keys"), "{screen}");
        assert!(screen.contains("checkout-web: "), "{screen}");
        assert!(screen.contains("REVOKE_REQUIRES_DISABLED"), "{screen}");
        assert!(screen.contains("grafana-agent: "), "{screen}");
    }
}

#[tokio::test]
async fn help_lists_the_views_bindings_and_the_global_ones() {
    let screens = shots("help", |c| c.char('?')).await;
    // What does not fit (the bindings unavailable now come last) is a scroll away.
    let mut console = console();
    console.char('?');
    let mut seen = String::new();
    for _ in 0..20 {
        seen.push_str(&console.screen(120, 40));
        console.char('j');
    }
    let scopes = ViewId::Keys.scopes();
    for binding in keymap::in_scopes(&scopes) {
        assert!(
            seen.contains(binding.description),
            "help lacks {:?}:\n{seen}",
            binding.description,
        );
    }
    // Bindings of other views are not offered here.
    assert!(!screens[0].contains("create a user"), "{}", screens[0]);
    assert!(screens[0].contains("Esc or ? closes"), "{}", screens[0]);
}

/// SPEC §4: 80x24 must stay usable; the help is how a user finds the keys.
/// Scrolling through it shows every binding of the view, in full.
#[tokio::test]
async fn help_at_80x24_scrolls_through_every_binding_of_every_view() {
    for view in ViewId::ALL {
        let mut console = console();
        console.app.view = view;
        console.char('?');
        let mut seen = String::new();
        for _ in 0..60 {
            seen.push_str(&console.screen(80, 24));
            console.char('j');
        }
        for binding in keymap::in_scopes(&view.scopes()) {
            let line = format!("{:<14}{}", binding.keys_text(), binding.description);
            assert!(seen.contains(&line), "{view:?} help lacks {line:?}");
        }
        assert!(seen.contains("Esc or ? closes"), "{seen}");
        console.char('?');
        assert!(console.dialog().is_none(), "? closes the help");
    }
}

#[tokio::test]
async fn events_view_shows_the_audit_log() {
    let screens = shots("events", |c| c.char('2')).await;
    for screen in screens {
        assert!(screen.contains("key.secret_revealed"), "{screen}");
        assert!(screen.contains("[Events 2]"), "{screen}");
    }
}

#[tokio::test]
async fn settings_view_shows_the_tenant_rules() {
    let screens = shots("settings", |c| {
        c.char('3');
        c.char('j');
    })
    .await;
    for screen in screens {
        assert!(screen.contains("365 days"), "{screen}");
        assert!(screen.contains("admins can copy again"), "{screen}");
        assert!(screen.contains("applies to new keys only"), "{screen}");
    }
}

#[tokio::test]
async fn users_view_lists_users_and_roles() {
    let screens = shots("users", |c| c.char('4')).await;
    for screen in screens {
        assert!(screen.contains("clara@acme.example"), "{screen}");
        assert!(screen.contains("tenant_admin, developer"), "{screen}");
    }
}

/// NO_COLOR: no colour anywhere, the selection in reverse video, marks as ✓.
#[tokio::test]
async fn without_colour_selection_is_reverse_video_and_marks_are_ticks() {
    let mut console = console();
    console.app.color = false;
    console.app.on_resize(80, 24);
    console.char('j');
    console.char(' ');
    let terminal = console.draw(80, 24);
    insta::assert_snapshot!("keys_no_color_80x24", terminal.backend());
    let buffer = terminal.backend().buffer();
    let text = screen_text(&terminal);
    let rows: Vec<&str> = text.lines().collect();

    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "a colour at ({x}, {y}) with NO_COLOR"
            );
        }
    }

    let selected = rows
        .iter()
        .position(|row| row.contains("▶") && row.contains("partner-acme"))
        .expect("the selected row");
    let selected = u16::try_from(selected).unwrap();
    // Between the list's borders, every cell of the selected row is reversed.
    for x in 1..buffer.area.width - 1 {
        assert!(
            buffer[(x, selected)].modifier.contains(Modifier::REVERSED),
            "cell ({x}, {selected}) of the selected row is not reverse video"
        );
    }
    let marked = rows
        .iter()
        .position(|row| row.contains("grafana-agent"))
        .expect("the marked row");
    assert!(rows[marked].contains("✓"), "{}", rows[marked]);
    let marked = u16::try_from(marked).unwrap();
    assert!(
        !buffer[(2, marked)].modifier.contains(Modifier::REVERSED),
        "only the selected row is reversed"
    );
}

/// Names, owners and descriptions come from the server: no control character
/// may reach the terminal, or a key name could rewrite the clipboard.
#[tokio::test]
async fn control_characters_from_the_server_never_reach_the_screen() {
    let mut hostile = keys();
    hostile[0].name = "evil\x1b]52;c;cm0gLXJmIH4=\x07name".to_owned();
    hostile[0].description = "line\x1b[2Jclear".to_owned();
    hostile[0].owner.name = "mal\x07lory".to_owned();
    let mut console = console_with(hostile);
    console.select("evil\x1b]52;c;cm0gLXJmIH4=\x07name");
    for (width, height) in SIZES {
        let terminal = console.draw(width, height);
        let buffer = terminal.backend().buffer();
        for cell in &buffer.content {
            assert!(
                !cell.symbol().chars().any(char::is_control),
                "a control character reached the screen: {:?}",
                cell.symbol()
            );
        }
        let text = screen_text(&terminal);
        assert!(text.contains("evil]52;c;cm0gLXJmIH4=name"), "{text}");
    }
}

/// SPEC §4: `--readonly` says so (`read-only`), and the connection state
/// must stay in sight; at 80 columns the header runs out of room before either.
#[tokio::test]
async fn narrow_header_keeps_the_connection_state_and_read_only_marker() {
    let mut console = console();
    console.app.shell.session.readonly = true;
    let screen = console.screen(80, 24);
    let header = screen.lines().next().unwrap();
    assert!(header.contains("● live"), "{header}");
    assert!(header.contains("read-only"), "{header}");
}

/// Toolbar buttons answer the mouse as their keys do.
#[tokio::test]
async fn clicking_a_toolbar_button_runs_its_command() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    for (width, height) in SIZES {
        let mut console = console();
        console.select("billing-sync");
        let screen = console.screen(width, height);
        let toolbar = screen.lines().nth(1).unwrap();
        let at = toolbar.find("[r]evoke").expect("a revoke button");
        let column = u16::try_from(toolbar[..at].chars().count()).unwrap() + 2;
        console.app.on_mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row: 1,
            modifiers: KeyModifiers::NONE,
        });
        let Some(Dialog::Confirm(confirm)) = &console.app.shell.dialogs.current else {
            panic!("clicking [r]evoke at {width}x{height} opened no confirm dialog");
        };
        assert_eq!(confirm.title, "Revoke billing-sync?");
    }
}

/// Moving past the page scrolls the list: the selection never leaves the screen.
#[tokio::test]
async fn the_selection_stays_on_screen_past_the_first_page() {
    for (width, height) in SIZES {
        let mut console = console();
        console.app.on_resize(width, height);
        console.char('G');
        let screen = console.screen(width, height);
        assert!(
            screen
                .lines()
                .any(|row| row.contains("▶") && row.contains("legacy-export")),
            "G at {width}x{height}:\n{screen}"
        );
        console.char('g');
        console.press(KeyCode::PageDown);
        let selected = console.app.keys.selected_key().unwrap().name.clone();
        let screen = console.screen(width, height);
        assert!(
            screen
                .lines()
                .any(|row| row.contains("▶") && row.contains(selected.as_str())),
            "PgDn at {width}x{height} selected {selected}:\n{screen}"
        );
    }
}

/// `s` cycles the sort column, `S` reverses it; the cursor stays on its key.
#[tokio::test]
async fn sorting_reorders_the_list_and_keeps_the_cursor_on_its_key() {
    let mut console = console();
    console.select("mobile-app");
    let names = |console: &Console| -> Vec<String> {
        console
            .app
            .keys
            .index
            .visible()
            .iter()
            .map(|&i| console.app.keys.keys[i as usize].name.clone())
            .collect()
    };
    assert_eq!(
        names(&console)[0],
        "checkout-web",
        "status, then newest first"
    );
    console.char('s');
    console.press(KeyCode::Down);
    console.press(KeyCode::Enter);
    assert!(
        console.status_text().contains("name"),
        "{}",
        console.status_text()
    );
    let by_name = names(&console);
    let mut sorted = by_name.clone();
    sorted.sort();
    assert_eq!(by_name, sorted);
    assert_eq!(console.app.keys.selected_key().unwrap().name, "mobile-app");
    console.char('S');
    let reversed = names(&console);
    sorted.reverse();
    assert_eq!(reversed, sorted);
    assert_eq!(console.app.keys.selected_key().unwrap().name, "mobile-app");
}

/// The tenant picker: every tenant the user sees, filterable, with whether
/// its keys are switched on; a system administrator may create one from it.
#[tokio::test]
async fn the_tenant_picker_lists_the_tenants_and_filters_them() {
    let screens = shots("tenant_picker", |c| {
        let mut me = me();
        me.user.roles = vec![Role::SystemAdmin];
        me.tenants.push(api::TenantBody {
            id: "globex".to_owned(),
            name: "Globex Corporation".to_owned(),
            created_at: now() - Duration::days(20),
            settings: api::Settings {
                api_keys_enabled: false,
                ..settings()
            },
        });
        c.app.on_msg(Msg::Me(Ok(me)));
        c.deliver(Reply::Stream {
            live: true,
            reason: None,
        });
        c.char('T');
    })
    .await;
    for screen in &screens {
        assert!(
            screen.contains("acme-payments       ACME Payments"),
            "{screen}"
        );
        assert!(screen.contains("Globex Corporation · keys off"), "{screen}");
        assert!(screen.contains("+ create a tenant"), "{screen}");
    }
    let mut console = console();
    console.char('T');
    console.type_text("zzz");
    assert!(console.screen(80, 24).contains("nothing matches"));
}

/// The generic form, as the Settings view opens it: every setting, its
/// limits in the hint of the focused field.
#[tokio::test]
async fn the_settings_form_shows_every_setting_and_the_focused_hint() {
    let screens = shots("settings_form", |c| {
        c.char('3');
        c.char('j');
        c.press(KeyCode::Enter);
    })
    .await;
    for screen in screens {
        assert!(screen.contains("Settings of ACME Payments"), "{screen}");
        assert!(screen.contains("▶max expiry   365"), "{screen}");
        assert!(screen.contains("1 to 3650"), "{screen}");
        assert!(screen.contains("payments:read payments:write"), "{screen}");
    }
}

/// NO_COLOR in a view other than Keys: no colour, the selection reversed.
#[tokio::test]
async fn the_users_view_without_colour() {
    let mut console = console();
    console.app.color = false;
    console.char('4');
    console.char('j');
    let terminal = console.draw(80, 24);
    insta::assert_snapshot!("users_no_color_80x24", terminal.backend());
    let buffer = terminal.backend().buffer();
    for cell in &buffer.content {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset));
    }
    let text = screen_text(&terminal);
    let row = text
        .lines()
        .position(|l| l.contains("▶bo"))
        .expect("bo selected");
    let row = u16::try_from(row).unwrap();
    assert!(buffer[(5, row)].modifier.contains(Modifier::REVERSED));
}

/// A day of usage in 15-minute buckets: a daily wave of successes, and a
/// burst of failures in the last two hours.
fn usage_day() -> api::UsageHistory {
    let buckets = (0..96)
        .map(|i: i64| {
            let wave: [u64; 12] = [2, 5, 9, 14, 20, 26, 30, 26, 20, 14, 9, 5];
            let valid = wave[usize::try_from(i).unwrap() % wave.len()] * 10;
            let mut failed = std::collections::BTreeMap::new();
            if i >= 88 {
                failed.insert("REVOKED".to_owned(), 40 + 15 * (i - 88).unsigned_abs());
            }
            api::UsageBucketBody {
                start: now() - Duration::minutes(15 * (95 - i)),
                valid,
                failed,
            }
        })
        .collect();
    api::UsageHistory {
        window: "24h".to_owned(),
        bucket_seconds: 900,
        buckets,
    }
}

/// SPEC §4 / issue 7: the detail of a rotating, suspicious key with its 24 h
/// sparkline and last events, zoomed at both sizes.
#[tokio::test]
async fn the_detail_shows_rotation_suspicion_a_sparkline_and_the_last_events() {
    let mut keys = keys();
    let billing = keys.iter_mut().find(|k| k.name == "billing-sync").unwrap();
    billing.rotating_until = Some(now() + Duration::minutes(45));
    billing.suspicious = Some(api::Suspicion {
        reason: "failures dominate: 410 of 770 verifications in the last hour failed (53%)"
            .to_owned(),
    });
    let id = billing.id.clone();
    let mut screens = Vec::new();
    for (width, height) in SIZES {
        let mut console = console_with(keys.clone());
        console.app.on_resize(width, height);
        console.select("billing-sync");
        console.press(KeyCode::Enter);
        console.app.on_tick();
        console.app.on_tick();
        console.discard_requests().await;
        console.deliver(Reply::KeyUsage {
            id: id.clone(),
            result: Ok(usage_day()),
        });
        console.deliver(Reply::KeyEvents {
            id: id.clone(),
            result: Ok(api::EventList {
                items: events()
                    .into_iter()
                    .filter(|e| e.target_name == "billing-sync")
                    .collect(),
                next_cursor: None,
            }),
        });
        let terminal = console.draw(width, height);
        insta::assert_snapshot!(format!("activity_{width}x{height}"), terminal.backend());
        screens.push(screen_text(&terminal));
        if height == 24 {
            // What does not fit is reached with j, not lost.
            assert!(!screens[1].contains("nightly settlement"));
            for _ in 0..10 {
                console.char('j');
            }
            let scrolled = console.screen(width, height);
            assert!(scrolled.contains("nightly settlement"), "{scrolled}");
            assert!(console.app.keys.zoomed, "j stays in the detail");
        }
    }
    for screen in &screens {
        for shown in [
            "rotating",
            "old secret valid until 2025-06-02 12:45 UTC (in 45m)",
            "⚠ failures dominate",
            "ok 24h",
            "failed 24h",
        ] {
            assert!(screen.contains(shown), "{shown} missing:\n{screen}");
        }
    }
    assert!(
        screens[0].contains("key.secret_revealed by ana"),
        "{}",
        screens[0]
    );
    // The list marks the key, and says it is rotating.
    let mut console = console_with(keys);
    let list = console.screen(80, 24);
    assert!(
        list.lines()
            .any(|l| l.contains("⚠ billing-sync") && l.contains("rot 45m")),
        "{list}"
    );
}

/// Issue 7: `R` offers the grace before anything happens.
#[tokio::test]
async fn rotating_offers_a_grace_first() {
    let screens = shots("rotate_picker", |c| {
        c.select("billing-sync");
        c.char('R');
    })
    .await;
    for screen in screens {
        for choice in ["now", "1 hour", "24 hours", "7 days", "custom…"] {
            assert!(screen.contains(choice), "{choice} missing:\n{screen}");
        }
        assert!(screen.contains("Rotate billing-sync"), "{screen}");
    }
}
