//! Drawing the Keys view: the list (only the rows that fit are built) and
//! the selected key's detail, beside the list where there is room or full
//! size after Enter. Every string from the server is cleaned of control
//! characters and cut to fit with `…`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::KeysView;
use super::index::SortColumn;
use crate::api;
use crate::console::layout::{self, Theme, ago, field, fit, stamp, until};
use crate::console::shell::Shell;
use crate::console::views::{ViewId, tabs_title};
use crate::domain::text::strip_control as clean;

fn error_rate(usage: &api::Usage24h) -> String {
    match usage.error_rate() {
        None => "—".to_owned(),
        Some(rate) => format!("{:.1}%", rate * 100.0),
    }
}

/// A column of the list: header, width, the sort column it shows.
struct Column {
    title: &'static str,
    width: u16,
    sort: Option<SortColumn>,
}

const fn column(title: &'static str, width: u16, sort: Option<SortColumn>) -> Column {
    Column { title, width, sort }
}

pub fn render(view: &KeysView, shell: &Shell, theme: &Theme, frame: &mut Frame, body: Rect) {
    let (list, detail) = layout::split_keys(body, view.zoomed);
    if list.height > 0 {
        render_list(view, shell, theme, frame, list);
    }
    if let Some(area) = detail {
        render_detail(view, shell, theme, frame, area, view.zoomed);
    }
}

fn render_list(view: &KeysView, shell: &Shell, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(tabs_title(ViewId::Keys));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let now = shell.now();
    let wide = area.width >= layout::WIDE;
    let mut columns = vec![
        column("STATUS", 8, Some(SortColumn::Status)),
        column("OWNER", 10, Some(SortColumn::Owner)),
    ];
    if wide {
        columns.push(column("START", 10, None));
        columns.push(column("CREATED", 9, Some(SortColumn::Created)));
    }
    columns.extend([
        column("LAST USED", 10, Some(SortColumn::LastUsed)),
        column("EXPIRES", 8, Some(SortColumn::Expires)),
        column("ERR 24h", 8, Some(SortColumn::ErrorRate)),
    ]);
    // Mark (1), highlight symbol (1), the spaces between columns, then the name takes the rest.
    let fixed: u16 = columns.iter().map(|c| c.width + 1).sum::<u16>() + 3;
    let name_width = inner.width.saturating_sub(fixed).max(8);
    let arrow = if view.index.reversed { "▼" } else { "▲" };
    let title = |text: &str, sort: Option<SortColumn>| {
        if sort == Some(view.index.column) {
            format!("{text}{arrow}")
        } else {
            text.to_owned()
        }
    };
    let mut header = vec![
        Cell::from(""),
        Cell::from(title("NAME", Some(SortColumn::Name))),
    ];
    header.extend(columns.iter().map(|c| Cell::from(title(c.title, c.sort))));
    let mut widths = vec![Constraint::Length(1), Constraint::Length(name_width)];
    widths.extend(columns.iter().map(|c| Constraint::Length(c.width)));

    let count = view.visible_count();
    let rows: Vec<Row> = view
        .cursor
        .window(count)
        .filter_map(|row| view.key_at_row(row))
        .map(|key| {
            let mark = if view.marked.contains(&key.id) {
                "✓"
            } else {
                " "
            };
            let mut cells = vec![
                Cell::from(mark),
                Cell::from(fit(&clean(&key.name), usize::from(name_width))),
                Cell::from(Span::styled(key.status.as_str(), theme.status(key.status))),
                Cell::from(fit(&clean(&key.owner.name), 10)),
            ];
            if wide {
                cells.push(Cell::from(fit(&clean(&key.start), 10)));
                cells.push(Cell::from(ago(Some(key.created_at), now)));
            }
            cells.push(Cell::from(ago(key.last_used_at, now)));
            cells.push(Cell::from(until(key.expires_at, now)));
            cells.push(Cell::from(error_rate(&key.usage_24h)));
            Row::new(cells)
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .row_highlight_style(theme.selected())
        .highlight_symbol("▶")
        .column_spacing(1);
    let mut state = TableState::default();
    if count > 0 {
        state.select(Some(view.cursor.row.saturating_sub(view.cursor.offset)));
    }
    frame.render_stateful_widget(table, inner, &mut state);
    if count == 0 && inner.height > 1 {
        let text = if view.loading.is_some() {
            "loading keys…"
        } else if !view.index.filter().is_empty() {
            "no key matches the filter (Esc clears it)"
        } else if shell
            .session
            .settings
            .as_ref()
            .is_some_and(|s| !s.api_keys_enabled)
        {
            "no keys: API keys are switched off for this tenant (Settings, 3)"
        } else {
            "no keys yet: press a to add one"
        };
        let area = Rect::new(inner.x + 2, inner.y + 1, inner.width.saturating_sub(2), 1);
        frame.render_widget(Paragraph::new(text).style(theme.dim()), area);
    }
}

fn render_detail(
    view: &KeysView,
    shell: &Shell,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    zoomed: bool,
) {
    let Some(key) = view.selected_key() else {
        frame.render_widget(Block::bordered().title(" detail "), area);
        return;
    };
    let now = shell.now();
    let back = if zoomed { " · Esc/q back " } else { "" };
    let block = Block::bordered().title(format!(
        " {}{back} ",
        fit(
            &clean(&key.name),
            usize::from(area.width.saturating_sub(20))
        )
    ));
    let scopes = if key.scopes.is_empty() {
        "—".to_owned()
    } else {
        clean(&key.scopes.join(" "))
    };
    let by = |at, who: &crate::domain::UserRef| format!("{} by {}", stamp(at), clean(&who.name));
    let mut lines = vec![
        field("ID", clean(&key.id)),
        Line::from(vec![
            Span::styled(format!("{:<12}", "status"), theme.bold()),
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
        field("created", by(key.created_at, &key.created_by)),
        field("updated", by(key.updated_at, &key.updated_by)),
    ];
    if let (Some(at), Some(who)) = (key.revoked_at, &key.revoked_by) {
        lines.push(field("revoked", by(at, who)));
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
