//! Drawing the Keys view: the list (only the rows that fit are built) and
//! the selected key's detail, beside the list where there is room or full
//! size after Enter. Every string from the server is cleaned of control
//! characters and cut to fit with `…`.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::KeysView;
use super::index::SortColumn;
use crate::api;
use crate::console::layout::{self, Theme, ago, field, fit, stamp, until};
use crate::console::shell::Shell;
use crate::console::views::{ViewId, tabs_title};
use crate::domain::KeyStatus;
use crate::domain::text::strip_control as clean;

/// A key's status as the list shows it: a rotating key says so with the
/// time its old secret has left (`rot 59m`).
fn status_cell(key: &api::Key, now: DateTime<Utc>, theme: &Theme) -> Span<'static> {
    match key.rotating_until {
        Some(at) if key.status == KeyStatus::Active => Span::styled(
            format!("rot {}", until(Some(at), now).trim_start_matches("in ")),
            theme.fg(Color::Cyan),
        ),
        _ => Span::styled(key.status.as_str(), theme.status(key.status)),
    }
}

/// The suspicious marker before a name: `⚠ `, and a word without colour.
fn suspicious_mark(theme: &Theme) -> &'static str {
    if theme.color { "⚠ " } else { "⚠ SUSP " }
}

/// 1234 → "1.2k": a count in at most 5 characters.
fn short_count(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    match n {
        0..1000 => n.to_string(),
        1000..999_500 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// Bars for `values` in at most `width` cells (neighbouring values
/// summed), scaled to `max`: `·` for none, `▁`…`█` for some.
#[must_use]
pub fn sparkline(values: &[u64], width: usize, max: u64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let per_cell = values.len().div_ceil(width);
    values
        .chunks(per_cell)
        .map(|chunk| {
            let sum: u64 = chunk.iter().sum();
            if sum == 0 || max == 0 {
                return '·';
            }
            let level = (sum.min(max) * 8).div_ceil(max).saturating_sub(1);
            BARS[usize::try_from(level).unwrap_or(7).min(7)]
        })
        .collect()
}

/// The sparkline rows of a 24 h usage history: successes and failures on
/// one scale, so their sizes compare.
fn usage_lines(usage: &api::UsageHistory, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let valid: Vec<u64> = usage.buckets.iter().map(|b| b.valid).collect();
    let failed: Vec<u64> = usage
        .buckets
        .iter()
        .map(|b| b.failed.values().sum())
        .collect();
    let per_cell = valid.len().div_ceil(width.max(1));
    let cell_max = |values: &[u64]| -> u64 {
        values
            .chunks(per_cell.max(1))
            .map(|c| c.iter().sum::<u64>())
            .max()
            .unwrap_or(0)
    };
    let max = cell_max(&valid).max(cell_max(&failed));
    let (ok, bad): (u64, u64) = (valid.iter().sum(), failed.iter().sum());
    vec![
        Line::from(vec![
            Span::styled(format!("{:<12}", "ok 24h"), theme.bold()),
            Span::styled(sparkline(&valid, width, max), theme.success()),
        ]),
        Line::from(vec![
            Span::styled(format!("{:<12}", "failed 24h"), theme.bold()),
            Span::styled(sparkline(&failed, width, max), theme.error()),
        ]),
        Line::from(vec![
            Span::raw(" ".repeat(12)),
            Span::styled(
                format!(
                    "{} ok, {} failed; a bar is {} min; tallest {}",
                    short_count(ok),
                    short_count(bad),
                    u64::from(usage.bucket_seconds) * per_cell as u64 / 60,
                    short_count(max)
                ),
                theme.dim(),
            ),
        ]),
    ]
}

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
    ]);
    if wide {
        columns.push(column("REQ 24h", 8, Some(SortColumn::Volume)));
    }
    columns.push(column("ERR 24h", 8, Some(SortColumn::ErrorRate)));
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
            let name = if key.suspicious.is_some() {
                let mark = suspicious_mark(theme);
                Line::from(vec![
                    Span::styled(mark, theme.fg(Color::Yellow).add_modifier(Modifier::BOLD)),
                    Span::raw(fit(
                        &clean(&key.name),
                        usize::from(name_width).saturating_sub(layout::width(mark)),
                    )),
                ])
            } else {
                Line::from(fit(&clean(&key.name), usize::from(name_width)))
            };
            let mut cells = vec![
                Cell::from(mark),
                Cell::from(name),
                Cell::from(status_cell(key, now, theme)),
                Cell::from(fit(&clean(&key.owner.name), 10)),
            ];
            if wide {
                cells.push(Cell::from(fit(&clean(&key.start), 10)));
                cells.push(Cell::from(ago(Some(key.created_at), now)));
            }
            cells.push(Cell::from(ago(key.last_used_at, now)));
            cells.push(Cell::from(until(key.expires_at, now)));
            if wide {
                cells.push(Cell::from(short_count(
                    key.usage_24h.valid + key.usage_24h.failed,
                )));
            }
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
    let lines = detail_lines(
        view,
        key,
        now,
        theme,
        usize::from(area.width.saturating_sub(2)),
    );
    // What does not fit scrolls (j/k in the zoomed detail).
    let inner_height = area.height.saturating_sub(2);
    // Rows after wrapping: a long line takes several.
    let inner_width = usize::from(area.width.saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|line| line.width().div_ceil(inner_width).max(1))
        .sum();
    let total = u16::try_from(rows).unwrap_or(u16::MAX);
    let max_scroll = total.saturating_sub(inner_height);
    view.detail_max_scroll.set(max_scroll);
    let scroll = view.detail_scroll.min(max_scroll);
    let more = if max_scroll == 0 {
        String::new()
    } else if zoomed {
        format!(" · j/k scroll {}/{} ", scroll, max_scroll)
    } else {
        " · Enter: all ".to_owned()
    };
    let back = if zoomed { " · Esc/q back" } else { "" };
    let block = Block::bordered().title(format!(
        " {}{back}{more} ",
        fit(
            &clean(&key.name),
            usize::from(area.width.saturating_sub(36))
        )
    ));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}

/// The detail's lines, what an on-call engineer needs first: name,
/// status, rotation, suspicion, owner, use, the sparkline, expiry, the
/// last events; then the record (ID, start, scopes, who and when).
fn detail_lines(
    view: &KeysView,
    key: &api::Key,
    now: DateTime<Utc>,
    theme: &Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let labelled = |label: &str, value: String, style: Style| {
        Line::from(vec![
            Span::styled(format!("{label:<12}"), theme.bold()),
            Span::styled(value, style),
        ])
    };
    let by = |at, who: &crate::domain::UserRef| format!("{} by {}", stamp(at), clean(&who.name));
    let mut lines = vec![
        field("name", clean(&key.name)),
        labelled(
            "status",
            key.status.as_str().to_owned(),
            theme.status(key.status),
        ),
    ];
    if let Some(at) = key.rotating_until {
        lines.push(labelled(
            "rotating",
            format!(
                "old secret valid until {} ({}) · E ends it",
                stamp(at),
                until(Some(at), now)
            ),
            theme.fg(Color::Cyan),
        ));
    }
    if let Some(suspicion) = &key.suspicious {
        lines.push(labelled(
            "suspicious",
            format!("⚠ {}", clean(&suspicion.reason)),
            theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    lines.extend([
        field("owner", clean(&key.owner.name)),
        field("last used", ago(key.last_used_at, now)),
        field(
            "usage 24h",
            format!(
                "{} ok · {} failed · error rate {}",
                key.usage_24h.valid,
                key.usage_24h.failed,
                error_rate(&key.usage_24h)
            ),
        ),
    ]);
    let activity = view.activity_of(&key.id);
    match activity.and_then(|a| a.usage.as_ref()) {
        Some(usage) => lines.extend(usage_lines(usage, width.saturating_sub(12), theme)),
        None if activity.is_some() => lines.push(field("ok 24h", "loading…".to_owned())),
        None => {}
    }
    lines.push(field(
        "expires",
        key.expires_at.map_or_else(
            || "never".to_owned(),
            |at| format!("{} ({})", stamp(at), until(Some(at), now)),
        ),
    ));
    if let Some(limit) = key.rate_limit {
        lines.push(field("rate limit", format!("{limit} (its own)")));
    }
    if let (Some(at), Some(who)) = (key.revoked_at, &key.revoked_by) {
        lines.push(field("revoked", by(at, who)));
    }
    if let Some(events) = activity.and_then(|a| a.events.as_ref()) {
        lines.push(Line::from(Span::styled("last events", theme.bold())));
        if events.is_empty() {
            lines.push(Line::from(Span::styled("  none", theme.dim())));
        }
        for event in events {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:>8}  ", ago(Some(event.at), now)), theme.dim()),
                Span::raw(format!(
                    "{} by {}",
                    clean(&event.action),
                    clean(&event.actor.name)
                )),
            ]));
        }
    }
    let scopes = if key.scopes.is_empty() {
        "—".to_owned()
    } else {
        clean(&key.scopes.join(" "))
    };
    lines.extend([
        field("ID", clean(&key.id)),
        field("start", format!("{}…", clean(&key.start))),
        field("scopes", scopes),
        field("created", by(key.created_at, &key.created_by)),
        field("updated", by(key.updated_at, &key.updated_by)),
    ]);
    if key.secret_retrievable {
        lines.push(field(
            "secret",
            "retrievable by tenant admins (c)".to_owned(),
        ));
    }
    if !key.description.is_empty() {
        lines.push(field("description", clean(&key.description)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_sums_neighbours_into_the_width_and_scales_to_the_max() {
        let values = [0, 0, 1, 1, 4, 4, 8, 8];
        assert_eq!(sparkline(&values, 4, 16), "·▁▄█");
        assert_eq!(sparkline(&values, 8, 8), "··▁▁▄▄██");
        assert_eq!(sparkline(&[0; 96], 66, 0).chars().count(), 48);
        assert_eq!(sparkline(&[], 10, 1), "");
    }

    #[test]
    fn counts_stay_short() {
        assert_eq!(short_count(999), "999");
        assert_eq!(short_count(1234), "1.2k");
        assert_eq!(short_count(2_500_000), "2.5M");
    }
}
