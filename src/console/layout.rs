//! Where things go on the screen, and the small drawing helpers every view
//! and dialog shares: the theme (colour, or reverse video and words with
//! `NO_COLOR`), relative times, measuring, cutting and wrapping text the
//! way ratatui draws it (by grapheme clusters), scrolling a dialog's content
//! that does not fit, the modal frame and its buttons. Depends on nothing
//! else of the console, so views and dialogs import it without cycles.

use std::ops::Range;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::CellWidth;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear};
use unicode_segmentation::UnicodeSegmentation;

use crate::domain::KeyStatus;
use crate::domain::text::strip_control as clean;

/// From this width the key detail sits beside the list.
pub const BESIDE: u16 = 140;
/// From this width the key list also shows `start` and `created`.
pub const WIDE: u16 = 120;

/// Where everything goes on a screen of `size`.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    pub header: Rect,
    pub toolbar: Rect,
    pub body: Rect,
    pub footer: Rect,
}

#[must_use]
pub fn areas(size: (u16, u16)) -> Areas {
    let screen = Rect::new(0, 0, size.0, size.1);
    let [header, toolbar, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(screen);
    Areas {
        header,
        toolbar,
        body,
        footer,
    }
}

/// The list and the detail of the Keys view: beside each other where there
/// is room, else the list alone (the detail opens with Enter, full size).
#[must_use]
pub fn split_keys(body: Rect, zoomed: bool) -> (Rect, Option<Rect>) {
    if zoomed {
        return (Rect::new(body.x, body.y, body.width, 0), Some(body));
    }
    if body.width >= BESIDE {
        let [list, detail] =
            Layout::horizontal([Constraint::Min(90), Constraint::Length(48)]).areas(body);
        return (list, Some(detail));
    }
    (body, None)
}

/// Rows a list shows on a screen of `size`: inside the border, below the column header.
#[must_use]
pub fn list_rows(size: (u16, u16)) -> usize {
    usize::from(areas(size).body.height.saturating_sub(3))
}

pub struct Theme {
    pub color: bool,
}

impl Theme {
    #[must_use]
    pub fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    #[must_use]
    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    #[must_use]
    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    #[must_use]
    pub fn status(&self, status: KeyStatus) -> Style {
        match status {
            KeyStatus::Active => self.fg(Color::Green),
            KeyStatus::Disabled => self.fg(Color::Yellow),
            KeyStatus::Expired => self.fg(Color::Magenta),
            KeyStatus::Revoked => self.fg(Color::Red).add_modifier(Modifier::DIM),
        }
    }

    #[must_use]
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    #[must_use]
    pub fn success(&self) -> Style {
        self.fg(Color::Green)
    }

    #[must_use]
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The selection: reverse video, visible with or without colour.
    #[must_use]
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// A disabled action: dim and struck through, visible without colour.
    #[must_use]
    pub fn disabled(&self) -> Style {
        self.dim().add_modifier(Modifier::CROSSED_OUT)
    }
}

/// Cells one grapheme cluster takes, as ratatui draws it (a cluster with a
/// control character is not drawn at all).
fn cells(cluster: &str) -> usize {
    if cluster.contains(char::is_control) {
        0
    } else {
        usize::from(cluster.cell_width())
    }
}

/// Display width of `text` in terminal cells, measured as ratatui draws it:
/// cluster by cluster.
#[must_use]
pub fn width(text: &str) -> usize {
    text.graphemes(true).map(cells).sum()
}

/// `text` cut to `max` cells, ending in `…` when cut.
#[must_use]
pub fn fit(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for cluster in text.graphemes(true) {
        let w = cells(cluster);
        if used + w + 1 > max {
            break;
        }
        out.push_str(cluster);
        used += w;
    }
    out.push('…');
    out
}

/// `text` cut or padded with spaces to exactly `cells` cells (`format!`'s
/// padding counts characters, not cells).
#[must_use]
pub fn pad(text: &str, cells: usize) -> String {
    let mut out = fit(text, cells);
    let used = width(&out);
    out.extend(std::iter::repeat_n(' ', cells.saturating_sub(used)));
    out
}

/// The longest end of `text` that fits in `max` cells.
fn tail(text: &str, max: usize) -> &str {
    let mut used = 0;
    let mut from = text.len();
    for (at, cluster) in text.grapheme_indices(true).rev() {
        used += cells(cluster);
        if used > max {
            break;
        }
        from = at;
    }
    &text[from..]
}

/// `text` cut in its middle to `max` cells (`revoking billi… key is
/// revoked`), so that its start and its end (usually the reason) both stay.
#[must_use]
pub fn elide_middle(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    if max < 2 {
        return fit(text, max);
    }
    let keep = max - 1;
    let head = fit(text, keep.div_ceil(2) + 1);
    let head = head.trim_end_matches('…');
    let rest = keep - width(head);
    format!("{head}…{}", tail(text, rest))
}

/// Where each line of `text` starts and ends (byte ranges) when wrapped at
/// spaces to `max` cells; a word longer than a line is broken.
fn wrap_ranges(text: &str, max: usize) -> Vec<(usize, usize)> {
    let max = max.max(1);
    let mut lines = Vec::new();
    let (mut start, mut used) = (0, 0);
    // The last space of the current line: its byte offset and the cells before it.
    let mut space: Option<(usize, usize)> = None;
    for (at, cluster) in text.grapheme_indices(true) {
        let w = cells(cluster);
        if cluster == " " {
            if used + 1 > max {
                lines.push((start, at));
                (start, used, space) = (at + 1, 0, None);
            } else {
                space = Some((at, used));
                used += 1;
            }
            continue;
        }
        if used + w > max && used > 0 {
            if let Some((space_at, before)) = space.take() {
                lines.push((start, space_at));
                start = space_at + 1;
                used -= before + 1;
            }
            if used + w > max && used > 0 {
                lines.push((start, at));
                (start, used) = (at, 0);
            }
        }
        used += w;
    }
    lines.push((start, text.len()));
    lines
}

/// `text` wrapped at spaces to lines of at most `max` cells.
#[must_use]
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    wrap_ranges(text, max)
        .into_iter()
        .map(|(from, to)| text[from..to].to_owned())
        .collect()
}

/// `…` and the end of `text` in `max` cells, starting at a word where it
/// can: what remains of a message whose start is already shown.
#[must_use]
pub fn elide_start(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut end = tail(text, max.saturating_sub(1));
    if !text[..text.len() - end.len()].ends_with(' ') {
        if let Some(space) = end.find(' ') {
            end = &end[space + 1..];
        }
    }
    format!("…{}", end.trim_start())
}

/// `text` wrapped to at most `lines` lines of `max` cells; when it needs
/// more, the last line shown is `…` and the end of the text, so both its
/// start and its end (the reason of a failure) stay in sight.
#[must_use]
pub fn wrap_keeping_end(text: &str, max: usize, lines: usize) -> Vec<String> {
    let ranges = wrap_ranges(text, max);
    if ranges.len() <= lines {
        return ranges
            .into_iter()
            .map(|(from, to)| text[from..to].to_owned())
            .collect();
    }
    match lines {
        0 => Vec::new(),
        1 => vec![elide_middle(text, max)],
        _ => {
            let mut out: Vec<String> = ranges[..lines - 1]
                .iter()
                .map(|&(from, to)| text[from..to].to_owned())
                .collect();
            out.push(elide_start(&text[ranges[lines - 1].0..], max));
            out
        }
    }
}

/// Which of `total` rows to show in `rows` so that the rows of `focus` are
/// in sight (its end, when they do not all fit). Drawing keeps no scroll
/// position: the window follows the focus.
#[must_use]
pub fn scroll_window(total: usize, rows: usize, focus: Range<usize>) -> Range<usize> {
    if total <= rows {
        return 0..total;
    }
    let end = focus.end.clamp(1, total);
    let start = end.saturating_sub(rows).min(total - rows);
    start..start + rows
}

/// "↑ 2 more · ↓ 5 more" when a window hides rows above or below it.
#[must_use]
pub fn more_rows(window: &Range<usize>, total: usize) -> Option<String> {
    let above = window.start;
    let below = total.saturating_sub(window.end);
    match (above, below) {
        (0, 0) => None,
        (0, b) => Some(format!("↓ {b} more")),
        (a, 0) => Some(format!("↑ {a} more")),
        (a, b) => Some(format!("↑ {a} more · ↓ {b} more")),
    }
}

/// "2m ago", "3d ago", "—".
#[must_use]
pub fn ago(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "—".to_owned();
    };
    match (now - at).num_seconds() {
        s if s < 0 => "just now".to_owned(),
        s if s < 60 => format!("{s}s ago"),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// "in 12d", "in 3h", "never".
#[must_use]
pub fn until(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "never".to_owned();
    };
    // Rounded to the nearest unit: a key made to expire in 30 days says
    // "in 30d" a second later, not "in 29d".
    let s = (at - now).num_seconds();
    if s <= 0 {
        return format!("{} ago", ago(Some(at), now).trim_end_matches(" ago"));
    }
    let (minutes, hours, days) = ((s + 30) / 60, (s + 1800) / 3600, (s + 43_200) / 86_400);
    if minutes < 60 {
        format!("in {}m", minutes.max(1))
    } else if hours < 24 {
        format!("in {hours}h")
    } else {
        format!("in {days}d")
    }
}

#[cfg(test)]
mod until_tests {
    use super::*;

    #[test]
    fn a_deadline_is_rounded_to_the_nearest_unit() {
        let now = Utc::now();
        let at = |s: i64| until(Some(now + chrono::Duration::seconds(s)), now);
        assert_eq!(at(30 * 86_400 - 1), "in 30d");
        assert_eq!(at(86_400 - 1), "in 1d");
        assert_eq!(at(3600 - 1), "in 1h");
        assert_eq!(at(45 * 60), "in 45m");
        assert_eq!(at(10), "in 1m");
        assert_eq!(at(36 * 3600), "in 2d");
        assert_eq!(at(13 * 3600), "in 13h");
    }
}

#[must_use]
pub fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A bold label in a 12-column gutter, then the value.
#[must_use]
pub fn field(label: &str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!("{label:<12}"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(value),
    ])
}

/// Clears a centred area of at most `width` x `height`, draws a bordered
/// frame titled `title`, and returns its inside.
pub fn modal(frame: &mut Frame, width: u16, height: u16, title: &str) -> Rect {
    let screen = frame.area();
    let area = screen.centered(
        Constraint::Length(width.min(screen.width)),
        Constraint::Length(height.min(screen.height)),
    );
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(format!(
        " {} ",
        fit(&clean(title), usize::from(area.width.saturating_sub(4)))
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// A dialog button; the focused one is bracketed and reversed.
#[must_use]
pub fn button(label: &str, focused: bool, theme: &Theme) -> Span<'static> {
    if focused {
        Span::styled(
            format!("[ {label} ]"),
            theme.selected().add_modifier(Modifier::BOLD),
        )
    } else {
        Span::raw(format!("  {label}  "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_and_elides_by_cells() {
        assert_eq!(fit("billing-sync-nightly", 8), "billing…");
        assert_eq!(fit("short", 8), "short");
        assert_eq!(pad("日本語", 7), "日本語 ");
        assert_eq!(pad("日本語のキー", 7), "日本語…");
        let cut = elide_middle("revoking billing-sync failed: already revoked", 30);
        assert_eq!(width(&cut), 30);
        assert!(
            cut.starts_with("revoking") && cut.ends_with("revoked"),
            "{cut}"
        );
    }

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        assert_eq!(
            wrap("revoke the marked keys for good", 12),
            ["revoke the", "marked keys", "for good"]
        );
        assert_eq!(wrap("abcdefghij xy", 4), ["abcd", "efgh", "ij", "xy"]);
        assert_eq!(wrap("", 10), [""]);
        for line in wrap("日本語のキー 日本語のキー", 5) {
            assert!(width(&line) <= 5, "{line}");
        }
        let kept = wrap_keeping_end(
            "regenerating billing-sync failed: only the key's owner may regenerate it",
            30,
            2,
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0], "regenerating billing-sync");
        assert!(kept[1].starts_with('…') && kept[1].ends_with("may regenerate it"));
        assert!(kept.iter().all(|l| width(l) <= 30), "{kept:?}");
    }

    #[test]
    fn a_window_keeps_the_focus_in_sight() {
        assert_eq!(scroll_window(5, 10, 3..4), 0..5);
        assert_eq!(scroll_window(20, 5, 0..1), 0..5);
        assert_eq!(scroll_window(20, 5, 7..8), 3..8);
        assert_eq!(scroll_window(20, 5, 7..9), 4..9);
        // A focus taller than the window: its end (a checklist's cursor).
        assert_eq!(scroll_window(20, 3, 2..12), 9..12);
        assert_eq!(scroll_window(20, 5, 19..20), 15..20);
        assert_eq!(
            more_rows(&(3..8), 20).as_deref(),
            Some("↑ 3 more · ↓ 12 more")
        );
        assert_eq!(more_rows(&(0..5), 5), None);
    }
}
