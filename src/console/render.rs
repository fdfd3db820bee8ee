//! Drawing. `render(&App, frame)` reads the state and changes nothing; it
//! never waits on the network. Only the rows that fit on screen are built.
//! Every string that came from the server passes through `clean` (control
//! characters stripped) before it reaches the terminal.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::app::{
    App, Confirm, Connection, Dialog, FormField, FormMode, Input, KeyForm, Level, SecretModal, View,
};
use super::keymap::{self, BINDINGS, Command};
use crate::api;
use crate::domain::KeyStatus;
use crate::domain::text::strip_control as clean;

/// Side by side from this width; stacked below it.
pub const WIDE: u16 = 120;
const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

/// Where everything goes on a screen of `size`.
pub struct Areas {
    pub header: Rect,
    pub toolbar: Rect,
    pub body: Rect,
    pub list: Rect,
    pub detail: Rect,
    pub footer: Rect,
}

#[must_use]
pub fn layout(size: (u16, u16), zoomed: bool) -> Areas {
    let screen = Rect::new(0, 0, size.0, size.1);
    let [header, toolbar, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(screen);
    let (list, detail) = if zoomed {
        (Rect::new(body.x, body.y, body.width, 0), body)
    } else if size.0 >= WIDE {
        let [list, detail] =
            Layout::horizontal([Constraint::Min(60), Constraint::Percentage(38)]).areas(body);
        (list, detail)
    } else {
        let detail_height = (body.height / 2).min(10);
        let [list, detail] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(detail_height)]).areas(body);
        (list, detail)
    };
    Areas {
        header,
        toolbar,
        body,
        list,
        detail,
        footer,
    }
}

/// Key rows that fit in the list (inside the border, below the column header).
#[must_use]
pub fn list_rows(size: (u16, u16)) -> u16 {
    layout(size, false).list.height.saturating_sub(3)
}

struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    fn status(&self, status: KeyStatus) -> Style {
        match status {
            KeyStatus::Active => self.fg(Color::Green),
            KeyStatus::Disabled => self.fg(Color::Yellow),
            KeyStatus::Expired => self.fg(Color::Magenta),
            KeyStatus::Revoked => self.fg(Color::Red).add_modifier(Modifier::DIM),
        }
    }

    fn level(&self, level: Level) -> Style {
        match level {
            Level::Info => Style::new(),
            Level::Success => self.fg(Color::Green),
            Level::Error => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// The selection: reverse video, visible with or without colour.
    fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

/// "2m ago", "3d ago", "—".
fn ago(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "—".to_owned();
    };
    let seconds = (now - at).num_seconds();
    match seconds {
        s if s < 0 => "just now".to_owned(),
        s if s < 60 => format!("{s}s ago"),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// "in 12d", "in 3h", "never".
fn until(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "never".to_owned();
    };
    let seconds = (at - now).num_seconds();
    match seconds {
        s if s <= 0 => format!("{} ago", ago(Some(at), now).trim_end_matches(" ago")),
        s if s < 3600 => format!("in {}m", s / 60),
        s if s < 86_400 => format!("in {}h", s / 3600),
        s => format!("in {}d", s / 86_400),
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn error_rate(usage: &api::Usage24h) -> String {
    match usage.error_rate() {
        None => "—".to_owned(),
        Some(rate) => format!("{:.1}%", rate * 100.0),
    }
}

/// Toolbar buttons and their column ranges: shared by drawing and mouse hits.
fn toolbar_items(app: &App, width: u16) -> Vec<(String, Command, u16, u16)> {
    let full: usize = keymap::toolbar(app.readonly)
        .map(|b| b.label.len() + 2)
        .sum();
    let short = full + 1 > usize::from(width);
    let mut x = 1u16;
    let mut items = Vec::new();
    for binding in keymap::toolbar(app.readonly) {
        let label = match binding.command {
            Command::ToggleDisabled => app.toggle_label(short).to_owned(),
            _ if short => binding.short.to_owned(),
            _ => binding.label.to_owned(),
        };
        let w = u16::try_from(label.chars().count()).unwrap_or(0);
        if x + w > width {
            break;
        }
        items.push((label, binding.command, x, x + w));
        x += w + if short { 1 } else { 2 };
    }
    items
}

/// The toolbar command under a mouse click, if any.
#[must_use]
pub fn toolbar_hit(app: &App, column: u16, row: u16) -> Option<Command> {
    let areas = layout(app.size, app.detail_zoomed);
    if row != areas.toolbar.y {
        return None;
    }
    toolbar_items(app, areas.toolbar.width)
        .into_iter()
        .find(|(_, _, from, to)| (*from..*to).contains(&column))
        .map(|(_, command, _, _)| command)
}

pub fn render(app: &App, frame: &mut Frame) {
    let theme = Theme { color: app.color };
    let size = (frame.area().width, frame.area().height);
    let areas = layout(size, app.detail_zoomed);
    render_header(app, &theme, frame, areas.header);
    render_toolbar(app, &theme, frame, areas.toolbar);
    match app.view {
        View::Keys => {
            if !app.detail_zoomed {
                render_keys(app, &theme, frame, areas.list);
            }
            render_detail(app, &theme, frame, areas.detail);
        }
        View::Events => render_events(app, &theme, frame, areas.body),
        View::Settings => render_settings(app, &theme, frame, areas.body),
        View::Users => render_users(app, &theme, frame, areas.body),
    }
    render_footer(app, &theme, frame, areas.footer);
    match &app.dialog {
        None => {}
        Some(Dialog::Help) => render_help(app, &theme, frame),
        Some(Dialog::Confirm(confirm)) => render_confirm(confirm, &theme, frame),
        Some(Dialog::Secret(modal)) => render_secret(modal, &theme, frame),
        Some(Dialog::Form(form)) => render_form(form, &theme, frame),
        Some(Dialog::Message { title, lines }) => render_message(title, lines, &theme, frame),
    }
}

fn render_header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let tenant = app.tenant.as_deref().map_or_else(|| "—".to_owned(), clean);
    let who = app.me.as_ref().map_or_else(
        || "signing in…".to_owned(),
        |me| {
            let roles: Vec<&str> = me.user.roles.iter().map(|r| r.as_str()).collect();
            format!("{} ({})", clean(&me.user.name), roles.join(", "))
        },
    );
    let connection = match &app.connection {
        Connection::Connecting => Span::styled("○ connecting", theme.fg(Color::Yellow)),
        Connection::Live => Span::styled("● live", theme.fg(Color::Green)),
        Connection::Down { retry_at, .. } => {
            let secs = retry_at
                .saturating_duration_since(std::time::Instant::now())
                .as_secs();
            Span::styled(
                format!("✕ down, retry in {secs}s"),
                theme.fg(Color::Red).add_modifier(Modifier::BOLD),
            )
        }
    };
    // The connection state and the mode are drawn first, at the right edge;
    // the rest gets what is left and is cut from its end.
    let mode = if app.readonly { "  [R] " } else { "  [RW] " };
    let right_width =
        u16::try_from(connection.content.chars().count() + mode.len() + 1).unwrap_or(0);
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    let text = format!(" · {tenant} · {who} · {}", clean(app.net.client.base()));
    let line = Line::from(vec![
        Span::styled(" keydesk", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(text),
    ]);
    frame.render_widget(Paragraph::new(line), left);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw(" "),
            connection,
            Span::raw(mode),
        ])),
        right,
    );
}

fn render_toolbar(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    let mut x = 1u16;
    for (label, command, from, _) in toolbar_items(app, area.width) {
        if from > x {
            spans.push(Span::raw(" ".repeat(usize::from(from - x))));
        }
        x = from + u16::try_from(label.chars().count()).unwrap_or(0);
        // Disabled: dim and struck through, which stays visible without colour.
        let style = if app.disabled_reason(command).is_some() {
            theme.dim().add_modifier(Modifier::CROSSED_OUT)
        } else {
            theme.fg(Color::Cyan)
        };
        spans.push(Span::styled(label, style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn tabs_title(app: &App) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, view) in View::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" ─ "));
        }
        let text = format!("{} {}", view.title(), i + 1);
        if *view == app.view {
            spans.push(Span::styled(
                format!("[{text}]"),
                Style::new().add_modifier(Modifier::BOLD),
            ));
        } else {
            spans.push(Span::raw(text));
        }
    }
    Line::from(spans)
}

fn render_keys(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(tabs_title(app));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let now = app.now();
    let wide = inner.width >= 100;
    let height = usize::from(inner.height.saturating_sub(1));
    let visible = app.index.visible();
    let end = (app.offset + height).min(visible.len());
    let rows: Vec<Row> = visible[app.offset.min(end)..end]
        .iter()
        .map(|&i| {
            let key = &app.keys[i as usize];
            let mark = if app.marked.contains(&key.id) {
                "✓"
            } else {
                " "
            };
            let mut cells = vec![
                Cell::from(mark),
                Cell::from(clean(&key.name)),
                Cell::from(Span::styled(key.status.as_str(), theme.status(key.status))),
                Cell::from(clean(&key.owner.name)),
            ];
            if wide {
                cells.push(Cell::from(clean(&key.start)));
                cells.push(Cell::from(ago(Some(key.created_at), now)));
            }
            cells.push(Cell::from(ago(key.last_used_at, now)));
            cells.push(Cell::from(until(key.expires_at, now)));
            cells.push(Cell::from(error_rate(&key.usage_24h)));
            Row::new(cells)
        })
        .collect();
    let mut header = vec!["", "NAME", "STATUS", "OWNER"];
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Min(12),
        Constraint::Length(8),
        Constraint::Length(10),
    ];
    if wide {
        header.extend(["START", "CREATED"]);
        widths.extend([Constraint::Length(9), Constraint::Length(9)]);
    }
    header.extend(["LAST USED", "EXPIRES", "ERR 24h"]);
    widths.extend([
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(7),
    ]);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .row_highlight_style(theme.selected())
        .highlight_symbol("▶")
        .column_spacing(1);
    let mut state = TableState::default();
    if !visible.is_empty() {
        state.select(Some(app.selected.saturating_sub(app.offset)));
    }
    frame.render_stateful_widget(table, inner, &mut state);
    if visible.is_empty() && inner.height > 1 {
        let text = if app.loading.is_some() {
            "loading keys…"
        } else if !app.index.filter().is_empty() {
            "no key matches the filter (Esc clears it)"
        } else {
            "no keys yet: press a to add one"
        };
        let area = Rect::new(inner.x + 2, inner.y + 1, inner.width.saturating_sub(2), 1);
        frame.render_widget(Paragraph::new(text).style(theme.dim()), area);
    }
}

fn field(label: &str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!("{label:<12}"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(value),
    ])
}

fn render_detail(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let Some(key) = app.selected_key() else {
        frame.render_widget(Block::bordered().title(" detail "), area);
        return;
    };
    let now = app.now();
    let block = Block::bordered().title(format!(" {} ", clean(&key.name)));
    let scopes = if key.scopes.is_empty() {
        "—".to_owned()
    } else {
        clean(&key.scopes.join(" "))
    };
    let mut lines = vec![
        field("ID", clean(&key.id)),
        Line::from(vec![
            Span::styled(
                format!("{:<12}", "status"),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(key.status.as_str(), theme.status(key.status)),
        ]),
        field("owner", clean(&key.owner.name)),
        field("start", format!("{}…", clean(&key.start))),
        field("scopes", scopes),
        field(
            "usage 24h",
            format!(
                "{} ok · {} failed · error rate {}",
                key.usage_24h.valid,
                key.usage_24h.failed,
                error_rate(&key.usage_24h)
            ),
        ),
        field("last used", ago(key.last_used_at, now)),
        field(
            "expires",
            key.expires_at.map_or_else(
                || "never".to_owned(),
                |at| format!("{} ({})", stamp(at), until(Some(at), now)),
            ),
        ),
        field(
            "created",
            format!(
                "{} by {}",
                stamp(key.created_at),
                clean(&key.created_by.name)
            ),
        ),
        field(
            "updated",
            format!(
                "{} by {}",
                stamp(key.updated_at),
                clean(&key.updated_by.name)
            ),
        ),
    ];
    if let (Some(at), Some(by)) = (key.revoked_at, &key.revoked_by) {
        lines.push(field(
            "revoked",
            format!("{} by {}", stamp(at), clean(&by.name)),
        ));
    }
    if key.secret_retrievable {
        lines.push(field(
            "secret",
            "retrievable by tenant admins (c)".to_owned(),
        ));
    }
    if !key.description.is_empty() {
        lines.push(field("description", clean(&key.description)));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn render_events(app: &App, _theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(tabs_title(app));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height.saturating_sub(1));
    let rows: Vec<Row> = app
        .events
        .iter()
        .take(height)
        .map(|e| {
            Row::new(vec![
                Cell::from(e.at.format("%m-%d %H:%M:%S").to_string()),
                Cell::from(clean(&e.action)),
                Cell::from(clean(&e.actor.name)),
                Cell::from(clean(&e.target_name)),
                Cell::from(clean(&e.source)),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(20),
            Constraint::Length(12),
            Constraint::Min(12),
            Constraint::Length(15),
        ],
    )
    .header(
        Row::new(["TIME", "ACTION", "ACTOR", "TARGET", "SOURCE"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    );
    frame.render_widget(table, inner);
}

fn render_settings(app: &App, _theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(tabs_title(app));
    let Some(s) = &app.settings else {
        frame.render_widget(Paragraph::new(" loading…").block(block), area);
        return;
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let limit =
        |v: Option<u32>, unit: &str| v.map_or_else(|| "none".to_owned(), |v| format!("{v} {unit}"));
    let lines = vec![
        field(
            "API keys",
            if s.api_keys_enabled {
                "enabled".to_owned()
            } else {
                "switched off".to_owned()
            },
        ),
        field("max expiry", limit(s.max_expiry_days, "days")),
        field("max/user", limit(s.max_keys_per_user, "live keys")),
        field("creators", app.key_creators_label().to_owned()),
        field("scopes edit", yes_no(s.scopes_editable)),
        field(
            "revoke",
            if s.revoke_requires_disabled {
                "only disabled keys"
            } else {
                "any live key"
            }
            .to_owned(),
        ),
        field(
            "secrets",
            match s.secret_retrieval {
                crate::domain::SecretRetrieval::Never => "shown once".to_owned(),
                crate::domain::SecretRetrieval::Admins => {
                    "retrievable by tenant admins (audited)".to_owned()
                }
            },
        ),
        field("key prefix", clean(&s.key_prefix)),
        field("scopes", clean(&s.scopes.join(" "))),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn render_users(app: &App, _theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(tabs_title(app));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows: Vec<Row> = app
        .users
        .iter()
        .take(usize::from(inner.height.saturating_sub(1)))
        .map(|u| {
            let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
            Row::new(vec![
                Cell::from(clean(&u.name)),
                Cell::from(clean(&u.email)),
                Cell::from(roles.join(", ")),
                Cell::from(if u.licensed { "licensed" } else { "—" }),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Min(20),
            Constraint::Length(28),
            Constraint::Length(9),
        ],
    )
    .header(
        Row::new(["NAME", "EMAIL", "ROLES", "LICENSE"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    );
    frame.render_widget(table, inner);
}

fn render_footer(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let spinner = if app.busy() {
        SPINNER[(app.ticks as usize) % SPINNER.len()]
    } else {
        " "
    };
    let left: Vec<Span> = match &app.input {
        Input::Filter => vec![Span::raw(format!(
            " / filter: {}_",
            clean(&app.filter_text)
        ))],
        Input::Command(line) => vec![Span::raw(format!(" :{}_", clean(line)))],
        Input::None => match &app.status {
            Some(status) => vec![Span::styled(
                format!(" {}", clean(&status.text)),
                theme.level(status.level),
            )],
            None if !app.index.filter().is_empty() => {
                vec![Span::raw(format!(" / filter: {}", clean(&app.filter_text)))]
            }
            None => vec![Span::raw("")],
        },
    };
    let mut counts = format!("{} of {} keys", app.index.visible().len(), app.keys.len());
    if let Some(loading) = &app.loading {
        if loading.staged.is_none() && loading.total > 0 {
            counts = format!(
                "{} of {} keys (loading {}/{})",
                app.index.visible().len(),
                app.keys.len(),
                loading.loaded,
                loading.total
            );
        }
    }
    if !app.marked.is_empty() {
        counts.push_str(&format!(" · {} marked", app.marked.len()));
    }
    // On narrow screens a status message wins over the hints.
    let hints: Vec<&str> = keymap::footer().map(|b| b.label).collect();
    let right = if area.width >= 100 || (app.status.is_none() && app.input == Input::None) {
        format!("{counts} · {}  {spinner} ", hints.join("  "))
    } else {
        format!("{counts}  {spinner} ")
    };
    let right_width = u16::try_from(right.chars().count())
        .unwrap_or(0)
        .min(area.width);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)), left_area);
    frame.render_widget(Paragraph::new(right), right_area);
}

fn modal(frame: &mut Frame, width: u16, height: u16, title: String) -> Rect {
    let screen = frame.area();
    let area = screen.centered(
        Constraint::Length(width.min(screen.width)),
        Constraint::Length(height.min(screen.height)),
    );
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

fn button(label: &str, focused: bool, theme: &Theme) -> Span<'static> {
    if focused {
        Span::styled(
            format!("[ {label} ]"),
            theme.selected().add_modifier(Modifier::BOLD),
        )
    } else {
        Span::raw(format!("  {label}  "))
    }
}

fn render_confirm(confirm: &Confirm, theme: &Theme, frame: &mut Frame) {
    let height = u16::try_from(confirm.lines.len()).unwrap_or(4) + 5;
    let inner = modal(frame, 64, height, format!(" {} ", confirm.title));
    let mut lines: Vec<Line> = confirm
        .lines
        .iter()
        .map(|l| Line::from(l.clone()))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        button("Cancel", !confirm.confirm_focused, theme),
        Span::raw("   "),
        button(confirm.confirm_label, confirm.confirm_focused, theme),
    ]));
    lines.push(Line::from(Span::styled(
        "←/→ choose · Enter · Esc cancels",
        theme.dim(),
    )));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn render_secret(modal_state: &SecretModal, theme: &Theme, frame: &mut Frame) {
    let inner = modal(frame, 72, 10, format!(" {} ", modal_state.title));
    let lines = vec![
        Line::from(Span::styled(
            "Copy this secret now: it is shown once and cannot be shown again.",
            theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )),
        Line::from(""),
        Line::from(Span::styled(
            modal_state.secret.as_str().to_owned(),
            Style::new().add_modifier(Modifier::BOLD),
        )),
        Line::from(format!("key {}", modal_state.key_id)),
        Line::from(modal_state.copied.clone().unwrap_or_default()),
        Line::from(vec![
            button("Copy", !modal_state.close_focused, theme),
            Span::raw("   "),
            button("Close", modal_state.close_focused, theme),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_form(form: &KeyForm, theme: &Theme, frame: &mut Frame) {
    let title = match form.mode {
        FormMode::Add => " Add a key ".to_owned(),
        FormMode::Edit { .. } => " Edit key ".to_owned(),
    };
    let scope_rows = u16::try_from(form.scopes.len()).unwrap_or(0);
    let inner = modal(frame, 70, 12 + scope_rows, title);
    let focus = |f: FormField| {
        if form.focus == f {
            theme.selected()
        } else {
            Style::new()
        }
    };
    let text = |label: &str, value: &str, f: FormField| {
        let cursor = if form.focus == f { "_" } else { "" };
        Line::from(vec![
            Span::styled(
                format!("{label:<12}"),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!("{}{cursor}", clean(value)), focus(f)),
        ])
    };
    let mut lines = vec![
        text("name", &form.name.text, FormField::Name),
        text(
            "description",
            &form.description.text,
            FormField::Description,
        ),
        Line::from(Span::styled(
            if form.scopes_editable {
                "scopes      (space toggles)"
            } else {
                "scopes      (fixed at creation in this tenant)"
            },
            Style::new().add_modifier(Modifier::BOLD),
        )),
    ];
    for (i, (scope, on)) in form.scopes.iter().enumerate() {
        let check = if *on { "[x]" } else { "[ ]" };
        lines.push(Line::from(Span::styled(
            format!("  {check} {}", clean(scope)),
            focus(FormField::Scope(i)),
        )));
    }
    if matches!(form.mode, FormMode::Add) {
        if let Some((_, name)) = form.owners.get(form.owner) {
            let hint = if form.owners.len() > 1 {
                "  (←/→)"
            } else {
                ""
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{:<12}", "owner"),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::styled(format!("{}{hint}", clean(name)), focus(FormField::Owner)),
            ]));
        }
        let max = form
            .max_expiry_days
            .map(|d| format!(" (at most {d})"))
            .unwrap_or_else(|| " (empty: never)".to_owned());
        lines.push(text(
            "expires in",
            &format!("{} days{max}", form.expiry_days.text),
            FormField::Expiry,
        ));
    }
    lines.push(Line::from(""));
    if let Some(error) = &form.error {
        lines.push(Line::from(Span::styled(
            clean(error),
            theme.level(Level::Error),
        )));
    } else if form.submitting {
        lines.push(Line::from("saving…"));
    } else {
        lines.push(Line::from(Span::styled(
            "Tab/↑/↓ move · Enter · Esc cancels",
            theme.dim(),
        )));
    }
    lines.push(Line::from(vec![
        button("Save", form.focus == FormField::Save, theme),
        Span::raw("   "),
        button("Cancel", form.focus == FormField::Cancel, theme),
    ]));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn render_message(title: &str, lines: &[String], _theme: &Theme, frame: &mut Frame) {
    let height = u16::try_from(lines.len()).unwrap_or(10).saturating_add(4);
    let inner = modal(frame, 76, height, format!(" {} ", clean(title)));
    let mut text: Vec<Line> = lines.iter().map(|l| Line::from(clean(l))).collect();
    text.push(Line::from(""));
    text.push(Line::from("Enter or Esc closes"));
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), inner);
}

/// The `?` overlay: every binding of the registry, then why each greyed-out
/// toolbar action is unavailable right now.
fn render_help(app: &App, theme: &Theme, frame: &mut Frame) {
    const KEYS: usize = 11;
    let screen = frame.area();
    let width = screen.width.min(78);
    let half = usize::from(width.saturating_sub(2)) / 2;
    let key_style = theme.fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let entry = |b: &keymap::Binding| {
        vec![
            Span::styled(format!("{:<KEYS$}", b.keys), key_style),
            Span::raw(b.description),
        ]
    };
    // One binding per line if they fit; on short screens, pairs of short
    // entries share a line so that every binding stays in sight at 80x24.
    let pack = BINDINGS.len() + 4 > usize::from(screen.height);
    let short = |b: &keymap::Binding| KEYS + b.description.chars().count() < half;
    let mut lines: Vec<Line> = Vec::new();
    let mut i = 0;
    while i < BINDINGS.len() {
        let binding = &BINDINGS[i];
        match BINDINGS.get(i + 1) {
            Some(next) if pack && short(binding) && short(next) => {
                let mut spans = entry(binding);
                let used = KEYS + binding.description.chars().count();
                spans.push(Span::raw(" ".repeat(half.saturating_sub(used))));
                spans.extend(entry(next));
                lines.push(Line::from(spans));
                i += 2;
            }
            _ => {
                lines.push(Line::from(entry(binding)));
                i += 1;
            }
        }
    }
    let unavailable: Vec<(&str, String)> = keymap::toolbar(app.readonly)
        .filter_map(|b| {
            app.disabled_reason(b.command)
                .map(|reason| (b.keys, reason))
        })
        .collect();
    let room = usize::from(screen.height.saturating_sub(4)).saturating_sub(lines.len() + 2);
    if !unavailable.is_empty() && room >= 3 {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            "unavailable now",
            Style::new().add_modifier(Modifier::BOLD),
        )));
        for (keys, reason) in unavailable.into_iter().take(room - 2) {
            lines.push(Line::from(vec![
                Span::styled(format!("{keys:<KEYS$}"), theme.dim()),
                Span::raw(reason),
            ]));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Esc or ? closes", theme.dim())));
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let inner = modal(frame, width, height, " keydesk keys ".to_owned());
    frame.render_widget(Paragraph::new(lines), inner);
}
