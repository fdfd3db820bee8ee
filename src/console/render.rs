//! Drawing the frame. `render(&App, frame)` reads the state and changes
//! nothing; it never waits on the network. The header, the toolbar of the
//! current view, the view itself, the footer and the open dialog; each view
//! draws its own body. Every string from the server is cleaned of control
//! characters before it reaches the terminal.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::{App, Input};
use super::dialog::{self, Dialog};
use super::keymap::{self, Action};
use super::layout::{self, Theme, fit, modal, pad, width, wrap};
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
    render_footer(app, &theme, frame, areas.footer, above_footer(areas.body));
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

/// " keydesk · tenant · ana (tenant_admin, developer) · https://…  ● live  read-only":
/// the connection and the mode that is true for the user always show
/// (`read-only` with `--readonly`, `view only` when their roles cannot
/// change anything here, nothing when they can). The URL shows whole, or
/// without its scheme, or not at all: never cut inside its host, where it
/// would look like another address.
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
        Some("read-only")
    } else if session.may_change_anything() == Some(false) {
        Some("view only")
    } else {
        None
    };
    let mut right = vec![Span::raw(" "), connection];
    if let Some(mode) = mode {
        right.push(Span::raw("  "));
        right.push(Span::styled(mode, theme.bold()));
    }
    right.push(Span::raw(" "));
    let right = Line::from(right);
    let right_width = u16::try_from(right.width()).unwrap_or(0);
    let [left, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    let room = usize::from(left.width);
    let fixed = format!(" keydesk · {tenant} · {who}");
    let url = clean(session_base(app));
    let bare = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let text = [url.as_str(), bare]
        .into_iter()
        .find(|url| width(&fixed) + 3 + width(url) <= room)
        .map_or_else(|| fit(&fixed, room), |url| format!("{fixed} · {url}"));
    let mut spans = vec![Span::styled(" keydesk", theme.bold())];
    spans.push(Span::raw(text.trim_start_matches(" keydesk").to_owned()));
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new(right), right_area);
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

/// The row above the footer: the bottom border of the view's block, which
/// a long status or the command line's candidates may take.
fn above_footer(body: Rect) -> Option<Rect> {
    (body.height >= 4).then(|| Rect::new(body.x, body.bottom() - 1, body.width, 1))
}

/// Draws one line of the footer in `area`, after clearing what was there.
fn footer_line(frame: &mut Frame, area: Rect, line: Line) {
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(line), area);
}

/// One footer row: what leads it (what is typed, the filter, a status),
/// then the counts and hints that fit after it, then the spinner.
struct FooterRow {
    lead: Vec<Span<'static>>,
    extras: String,
}

impl FooterRow {
    /// `lead` with the first of `extras` that fits beside it in `full`
    /// cells (with the spinner), or `None` when even the lead alone does not.
    fn fitting(
        lead: Vec<Span<'static>>,
        extras: &[String],
        spinner: usize,
        full: usize,
    ) -> Option<Self> {
        let used: usize = lead.iter().map(|s| width(&s.content)).sum();
        extras
            .iter()
            .chain(std::iter::once(&String::new()))
            .find(|extras| {
                let gap = if extras.is_empty() { 0 } else { 2 };
                used + gap + width(extras) + spinner <= full
            })
            .map(|extras| Self {
                lead,
                extras: extras.clone(),
            })
    }
}

/// The footer: what is typed, the status or the active filter, then the
/// counts and the hints, then the spinner; the parts never overwrite each
/// other. A status comes first: the hints give way, then the counts; when
/// it still does not fit beside the filter, it takes the row above (over
/// the view's bottom border), wrapping there onto the footer's row if it
/// must, and beyond those two rows keeps its start and its end, where the
/// reason is. Without a status the hints always show. While a command is
/// typed, the row above lists what Tab completes to.
fn render_footer(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, above: Option<Rect>) {
    let spinner = if app.busy() {
        SPINNER[(app.ticks as usize) % SPINNER.len()]
    } else {
        " "
    };
    let spinner = format!(" {spinner} ");
    let spin = width(&spinner);
    let full = usize::from(area.width);
    let hints: Vec<&str> = keymap::footer().map(|b| b.label).collect();
    let counts = counts(app);
    let with_counts = |hints: &str| {
        if counts.is_empty() {
            hints.to_owned()
        } else {
            format!("{counts} · {hints}")
        }
    };
    // Without a status the hints stay (the counts give way); with one,
    // the hints give way first, then the counts.
    let plain = [
        with_counts(&hints.join("  ")),
        with_counts(&hints.join(" ")),
        hints.join(" "),
    ];
    let beside_status = [
        with_counts(&hints.join("  ")),
        with_counts(&hints.join(" ")),
        counts.clone(),
    ];
    let filter = app.filter();
    let badge = (!filter.is_empty())
        .then(|| Span::styled(fit(&format!(" /{} ", clean(filter)), 24), theme.selected()));
    let plain_extras = plain
        .iter()
        .find(|e| width(e) + spin + 12 <= full)
        .unwrap_or(&plain[2])
        .clone();
    // The footer's row without a status: the filter cut to what the hints leave.
    let plain_row = |lead: Vec<Span<'static>>| {
        let extras = plain_extras.clone();
        let room = full.saturating_sub(width(&extras) + spin + 2);
        let lead = lead
            .into_iter()
            .map(|span| Span::styled(fit(&span.content, room), span.style))
            .collect();
        FooterRow { lead, extras }
    };
    let row = match &app.input {
        Input::Filter(field) => {
            let room = full.saturating_sub(width(&plain_extras) + spin + 1);
            let spans = [
                vec![Span::raw(" / ")],
                field.spans(true, room.saturating_sub(4)),
            ]
            .concat();
            FooterRow {
                lead: spans,
                extras: plain_extras.clone(),
            }
        }
        Input::Command(field) => {
            if let Some(above) = above {
                footer_line(frame, above, command_candidates(app, field.text(), theme));
            }
            let room = full.saturating_sub(width(&plain_extras) + spin + 1);
            let spans = [
                vec![Span::raw(" :")],
                field.spans(true, room.saturating_sub(3)),
            ]
            .concat();
            FooterRow {
                lead: spans,
                extras: plain_extras.clone(),
            }
        }
        Input::None => match app.shell.shown_status() {
            None => plain_row(badge.into_iter().collect()),
            Some(status) => {
                let style = match status.level {
                    Level::Info => Style::new(),
                    Level::Success => theme.success(),
                    Level::Error => theme.error(),
                };
                let text = clean(&status.text);
                let message = |text: &str| Span::styled(format!(" {text}"), style);
                let lead = |text: &str| badge.iter().cloned().chain([message(text)]).collect();
                if let Some(row) = FooterRow::fitting(lead(&text), &beside_status, spin, full) {
                    row
                } else if let Some(above) = above {
                    let first_row = wrap(&text, full.saturating_sub(1))
                        .into_iter()
                        .next()
                        .unwrap_or_default();
                    let rest = text[first_row.len()..].trim_start();
                    footer_line(frame, above, Line::from(message(&first_row)));
                    if rest.is_empty() {
                        plain_row(badge.iter().cloned().collect())
                    } else {
                        FooterRow::fitting(lead(rest), &beside_status, spin, full).unwrap_or_else(
                            || {
                                let used = badge.as_ref().map_or(0, |b| width(&b.content));
                                let room = full.saturating_sub(used + spin + 1);
                                FooterRow {
                                    lead: lead(&layout::elide_start(rest, room)),
                                    extras: String::new(),
                                }
                            },
                        )
                    }
                } else {
                    let used = badge.as_ref().map_or(0, |b| width(&b.content));
                    let room = full.saturating_sub(used + spin + 1);
                    FooterRow {
                        lead: lead(&layout::elide_middle(&text, room)),
                        extras: String::new(),
                    }
                }
            }
        },
    };
    let right = format!("{}{spinner}", row.extras);
    let right_width = u16::try_from(width(&right)).unwrap_or(0).min(area.width);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(row.lead)), left_area);
    frame.render_widget(Paragraph::new(right), right_area);
}

/// What Tab would complete the command line to, for the row above it.
fn command_candidates(app: &App, typed: &str, theme: &Theme) -> Line<'static> {
    let tenants = app
        .session()
        .me
        .as_ref()
        .map_or(&[][..], |me| &me.tenants[..]);
    let candidates = super::command_line::candidates(typed, tenants);
    let text = if candidates.is_empty() {
        " nothing to complete · :tenant [NAME], :help, :q".to_owned()
    } else {
        format!(" Tab: {}", clean(&candidates.join("  ")))
    };
    let room = usize::from(app.shell.size.0);
    Line::from(Span::styled(fit(&text, room), theme.dim()))
}

/// The `?` overlay: the current view's bindings that can be used now, then
/// the lists' and the global ones, under their headings; then those
/// unavailable now, each with why (wrapped, never cut). Scrolls with j/k
/// when it does not fit.
fn render_help(app: &App, scroll: usize, theme: &Theme, frame: &mut Frame) {
    const KEYS: usize = 14;
    let screen = frame.area();
    let modal_width = screen.width.min(96);
    let room = usize::from(modal_width.saturating_sub(2));
    let text_room = room.saturating_sub(KEYS).max(12);
    let gutter = " ".repeat(KEYS);
    // A binding's keys in the gutter, its description wrapped beside them.
    let described = |binding: &keymap::Binding, keys_style: Style, style: Style| {
        let keys = fit(&binding.keys_text(), KEYS - 1);
        let after_keys = pad("", KEYS - width(&keys));
        wrap(binding.description, text_room)
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let gutter = if i == 0 {
                    vec![
                        Span::styled(keys.clone(), keys_style),
                        Span::raw(after_keys.clone()),
                    ]
                } else {
                    vec![Span::raw(gutter.clone())]
                };
                Line::from([gutter, vec![Span::styled(part, style)]].concat())
            })
            .collect::<Vec<_>>()
    };
    let scopes = app.view.scopes();
    let mut lines: Vec<Line> = Vec::new();
    let mut unavailable = Vec::new();
    let mut current_scope = None;
    for binding in keymap::in_scopes(&scopes) {
        if let Some(reason) = app.disabled_reason(binding.action) {
            unavailable.push((binding, reason));
            continue;
        }
        if current_scope != Some(binding.scope) {
            current_scope = Some(binding.scope);
            lines.push(Line::from(Span::styled(
                binding.scope.title(),
                theme.bold(),
            )));
        }
        lines.extend(described(binding, theme.key(), Style::new()));
    }
    if !unavailable.is_empty() {
        lines.push(Line::from(Span::styled("unavailable now", theme.bold())));
        for (binding, reason) in unavailable {
            lines.extend(described(binding, theme.disabled(), theme.dim()));
            let because = wrap(&clean(&reason), text_room.saturating_sub(2));
            for (i, part) in because.into_iter().enumerate() {
                let mark = if i == 0 { "↳ " } else { "  " };
                lines.push(Line::from(vec![
                    Span::raw(format!("{gutter}{mark}")),
                    Span::raw(part),
                ]));
            }
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
