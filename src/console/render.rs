//! Drawing the frame. `render(&App, frame)` reads the state and changes
//! nothing; it never waits on the network. The header, the toolbar of the
//! current view, the view itself, the footer and the open dialog; each view
//! draws its own body. Every string from the server is cleaned of control
//! characters before it reaches the terminal.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::app::{App, Input};
use super::dialog::{self, Dialog};
use super::keymap::{self, Action};
use super::layout::{self, Theme, elide_middle, fit, modal, width};
use super::session::Connection;
use super::shell::Level;
use super::views::ViewId;
use crate::domain::text::strip_control as clean;

const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

/// Toolbar buttons and their column ranges: shared by drawing and mouse hits.
fn toolbar_items(app: &App, width: u16) -> Vec<(String, Action, u16, u16)> {
    let scope = app.view.scope();
    let readonly = app.session().readonly;
    let label = |b: &keymap::Binding, short: bool| {
        let word = (b.action == Action::ToggleDisabled && app.view == ViewId::Keys)
            .then(|| app.keys.toggle_word(short));
        b.toolbar_label(short, word)
    };
    let full: usize = keymap::toolbar(scope, readonly)
        .map(|b| label(b, false).chars().count() + 2)
        .sum();
    let short = full + 1 > usize::from(width);
    let mut x = 1u16;
    let mut items = Vec::new();
    for binding in keymap::toolbar(scope, readonly) {
        let text = label(binding, short);
        let w = u16::try_from(text.chars().count()).unwrap_or(0);
        if x + w > width {
            break;
        }
        items.push((text, binding.action, x, x + w));
        x += w + if short { 1 } else { 2 };
    }
    items
}

/// The toolbar action under a mouse click, if any.
#[must_use]
pub fn toolbar_hit(app: &App, column: u16, row: u16) -> Option<Action> {
    let areas = layout::areas(app.shell.size);
    if row != areas.toolbar.y {
        return None;
    }
    toolbar_items(app, areas.toolbar.width)
        .into_iter()
        .find(|(_, _, from, to)| (*from..*to).contains(&column))
        .map(|(_, action, _, _)| action)
}

pub fn render(app: &App, frame: &mut Frame) {
    let theme = Theme { color: app.color };
    let size = (frame.area().width, frame.area().height);
    let areas = layout::areas(size);
    render_header(app, &theme, frame, areas.header);
    render_toolbar(app, &theme, frame, areas.toolbar);
    if let Some(reason) = app.sign_in_failure() {
        render_refused(reason, &theme, frame, areas.body);
    } else {
        match app.view {
            ViewId::Keys => {
                super::views::keys::render::render(&app.keys, &app.shell, &theme, frame, areas.body)
            }
            ViewId::Events => app.events.render(&theme, frame, areas.body),
            ViewId::Settings => app.settings.render(&app.shell, &theme, frame, areas.body),
            ViewId::Users => {
                app.users
                    .render(&app.shell, &app.key_counts(), &theme, frame, areas.body)
            }
        }
    }
    render_footer(app, &theme, frame, areas.footer);
    if let Some(Dialog::Help { scroll }) = app.shell.dialogs.current {
        render_help(app, scroll, &theme, frame);
    }
    dialog::render(&app.shell.dialogs, &theme, frame);
}

fn render_refused(reason: &str, theme: &Theme, frame: &mut Frame, area: Rect) {
    let lines = vec![
        Line::from(""),
        Line::from(Span::styled(format!(" {}", clean(reason)), theme.error())),
        Line::from(""),
        Line::from(" Check the token (KEYDESK_TOKEN or --token) and start the console again."),
        Line::from(" q quits."),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(" cannot sign in "))
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// " keydesk · tenant · ana (tenant_admin, developer) · https://…  ● live [RW]":
/// the connection and mode always show; the URL is elided in its middle or
/// dropped, never cut into a different-looking address.
fn render_header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let session = app.session();
    let tenant = session
        .tenant
        .as_deref()
        .map_or_else(|| "no tenant".to_owned(), clean);
    let who = session.me.as_ref().map_or_else(
        || "signing in…".to_owned(),
        |me| {
            let roles: Vec<&str> = me.user.roles.iter().map(|r| r.as_str()).collect();
            let roles = if roles.is_empty() {
                "no role".to_owned()
            } else {
                roles.join(", ")
            };
            format!("{} ({roles})", clean(&me.user.name))
        },
    );
    let connection = match &session.connection {
        Connection::Connecting => Span::styled("○ connecting", theme.fg(Color::Yellow)),
        Connection::Live if session.stream_live => Span::styled("● live", theme.success()),
        Connection::Live => Span::styled("◐ polling", theme.fg(Color::Yellow)),
        Connection::Down { retry_at, .. } => {
            let secs = retry_at
                .saturating_duration_since(std::time::Instant::now())
                .as_secs();
            Span::styled(format!("✕ down, retry in {secs}s"), theme.error())
        }
        Connection::Refused { .. } => Span::styled("✕ token refused", theme.error()),
    };
    let mode = if session.readonly {
        "  [R] "
    } else {
        "  [RW] "
    };
    let right_width =
        u16::try_from(connection.content.chars().count() + mode.len() + 1).unwrap_or(0);
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    let room = usize::from(left.width);
    let fixed = format!(" keydesk · {tenant} · {who}");
    let url = clean(session_base(app));
    let text = match room
        .checked_sub(width(&fixed) + 3)
        .and_then(|left| elide_middle(&url, left))
    {
        Some(url) => format!("{fixed} · {url}"),
        None => fit(&fixed, room),
    };
    let mut spans = vec![Span::styled(" keydesk", theme.bold())];
    spans.push(Span::raw(text.trim_start_matches(" keydesk").to_owned()));
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw(" "),
            connection,
            Span::raw(mode),
        ])),
        right,
    );
}

fn session_base(app: &App) -> &str {
    app.shell.net.client.base()
}

fn render_toolbar(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    let mut x = 1u16;
    for (label, action, from, _) in toolbar_items(app, area.width) {
        if from > x {
            spans.push(Span::raw(" ".repeat(usize::from(from - x))));
        }
        x = from + u16::try_from(label.chars().count()).unwrap_or(0);
        let style = if app.disabled_reason(action).is_some() {
            theme.disabled()
        } else {
            theme.fg(Color::Cyan)
        };
        spans.push(Span::styled(label, style));
    }
    if app.view == ViewId::Events {
        spans.push(Span::styled(
            "the tenant's audit log, newest first · Enter shows an event",
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// What the footer counts: "3 of 214 keys · 1 marked".
fn counts(app: &App) -> String {
    match app.view {
        ViewId::Keys => {
            let keys = &app.keys;
            let mut text = format!("{} of {} keys", keys.visible_count(), keys.keys.len());
            if let Some(loading) = &keys.loading {
                if loading.staged.is_none() && loading.total > 0 {
                    text = format!(
                        "{} of {} keys (loading {}/{})",
                        keys.visible_count(),
                        keys.keys.len(),
                        loading.loaded,
                        loading.total
                    );
                }
            }
            if !keys.marked.is_empty() {
                text.push_str(&format!(" · {} marked", keys.marked.len()));
            }
            text
        }
        ViewId::Events => format!(
            "{} of {} events",
            app.events.visible().len(),
            app.events.events.len()
        ),
        ViewId::Settings => String::new(),
        ViewId::Users => format!(
            "{} of {} users",
            app.users.visible(app.session()).len(),
            app.session().users.len()
        ),
    }
}

/// The footer: on the left what is typed, the status, or the active filter;
/// on the right the counts and the hints, which always stay. The left side
/// is cut to the room left, so the two never overwrite each other.
fn render_footer(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let spinner = if app.busy() {
        SPINNER[(app.ticks as usize) % SPINNER.len()]
    } else {
        " "
    };
    let hints: Vec<String> = keymap::footer().map(|b| b.label.to_owned()).collect();
    let counts = counts(app);
    let mut right = String::new();
    if !counts.is_empty() {
        right.push_str(&counts);
        right.push_str(" · ");
    }
    right.push_str(&hints.join("  "));
    right.push_str(&format!(" {spinner} "));
    if width(&right) + 12 > usize::from(area.width) {
        right = format!("{} {spinner} ", hints.join(" "));
    }
    let right_width = u16::try_from(width(&right)).unwrap_or(0).min(area.width);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    let room = usize::from(left_area.width.saturating_sub(1));
    let left: Line = match &app.input {
        Input::Filter(field) => Line::from(
            [
                vec![Span::raw(" / ")],
                field.spans(true, room.saturating_sub(4)),
            ]
            .concat(),
        ),
        Input::Command(field) => Line::from(
            [
                vec![Span::raw(" :")],
                field.spans(true, room.saturating_sub(3)),
            ]
            .concat(),
        ),
        Input::None => {
            let filter = app.filter();
            let mut spans = Vec::new();
            let mut used = 0;
            if !filter.is_empty() {
                let text = fit(&format!(" /{} ", clean(filter)), room / 2);
                used = width(&text);
                spans.push(Span::styled(
                    text,
                    Style::new().add_modifier(Modifier::REVERSED),
                ));
            }
            if let Some(status) = app.status() {
                let style = match status.level {
                    Level::Info => Style::new(),
                    Level::Success => theme.success(),
                    Level::Error => theme.error(),
                };
                spans.push(Span::styled(
                    fit(
                        &format!(" {}", clean(&status.text)),
                        room.saturating_sub(used),
                    ),
                    style,
                ));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(left), left_area);
    frame.render_widget(Paragraph::new(right), right_area);
}

/// The `?` overlay: the current view's bindings, then the lists' and the
/// global ones, one per line under their headings, then why each greyed-out
/// action is unavailable right now. Scrolls with j/k when it does not fit.
fn render_help(app: &App, scroll: usize, theme: &Theme, frame: &mut Frame) {
    const KEYS: usize = 14;
    let screen = frame.area();
    let modal_width = screen.width.min(96);
    let room = usize::from(modal_width.saturating_sub(2));
    let scopes = app.view.scopes();
    let mut lines: Vec<Line> = Vec::new();
    let mut current_scope = None;
    for binding in keymap::in_scopes(&scopes) {
        if current_scope != Some(binding.scope) {
            current_scope = Some(binding.scope);
            lines.push(Line::from(Span::styled(
                binding.scope.title(),
                theme.bold(),
            )));
        }
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:<KEYS$}", fit(&binding.keys_text(), KEYS - 1)),
                theme.key(),
            ),
            Span::raw(fit(binding.description, room.saturating_sub(KEYS))),
        ]));
    }
    let unavailable: Vec<(String, String)> =
        keymap::toolbar(app.view.scope(), app.session().readonly)
            .filter_map(|b| {
                app.disabled_reason(b.action)
                    .map(|reason| (b.keys_text(), reason))
            })
            .collect();
    if !unavailable.is_empty() {
        lines.push(Line::from(Span::styled("unavailable now", theme.bold())));
        for (keys, reason) in unavailable {
            lines.push(Line::from(vec![
                Span::styled(format!("{keys:<KEYS$}"), theme.dim()),
                Span::raw(fit(&reason, room.saturating_sub(KEYS))),
            ]));
        }
    }
    // Two rows of frame, one of footer inside it.
    let fits = usize::from(screen.height.saturating_sub(3)).max(1);
    let window = fits.min(lines.len() + 1);
    let body = window - 1;
    let last_start = lines.len().saturating_sub(body);
    let start = scroll.min(last_start);
    let footer = if last_start == 0 {
        "Esc or ? closes".to_owned()
    } else {
        format!(
            "j/k scroll ({}-{} of {}) · Esc or ? closes",
            start + 1,
            (start + body).min(lines.len()),
            lines.len()
        )
    };
    let mut shown: Vec<Line> = lines.into_iter().skip(start).take(body).collect();
    shown.push(Line::from(Span::styled(footer, theme.dim())));
    let height = u16::try_from(shown.len() + 2).unwrap_or(u16::MAX);
    let title = format!("keys: {}", app.view.title());
    let inner = modal(frame, modal_width, height, &title);
    frame.render_widget(Paragraph::new(shown), inner);
}
