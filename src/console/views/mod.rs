//! The console's views. Each owns its state and answers `on_action`,
//! `on_reply`, `disabled_reason` and `render`; `App` routes to them with a
//! `match` over [`ViewId`], a closed set.

pub mod events;
pub mod keys;
pub mod settings;
pub mod users;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState};

use super::keymap::Scope;
use super::layout::Theme;
use super::widgets::list_cursor::ListCursor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewId {
    Keys,
    Events,
    Settings,
    Users,
}

impl ViewId {
    pub const ALL: [ViewId; 4] = [
        ViewId::Keys,
        ViewId::Events,
        ViewId::Settings,
        ViewId::Users,
    ];

    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            ViewId::Keys => "Keys",
            ViewId::Events => "Events",
            ViewId::Settings => "Settings",
            ViewId::Users => "Users",
        }
    }

    /// The keymap scopes that apply in this view, most specific first.
    #[must_use]
    pub fn scopes(self) -> [Scope; 3] {
        let own = match self {
            ViewId::Keys => Scope::Keys,
            ViewId::Events => Scope::Events,
            ViewId::Settings => Scope::Settings,
            ViewId::Users => Scope::Users,
        };
        [own, Scope::List, Scope::Global]
    }

    #[must_use]
    pub fn scope(self) -> Scope {
        self.scopes()[0]
    }

    /// The view `step` places after this one (negative: before).
    #[must_use]
    pub fn step(self, step: isize) -> Self {
        let at = Self::ALL.iter().position(|v| *v == self).unwrap_or(0);
        let len = Self::ALL.len();
        let next = (at + len).saturating_add_signed(step) % len;
        Self::ALL[next]
    }
}

/// Each tab's text and its columns on the block's top border, which starts at `x`.
fn tabs(x: u16) -> Vec<(ViewId, String, u16, u16)> {
    let mut out = Vec::new();
    let mut at = x + 1;
    for (i, view) in ViewId::ALL.iter().enumerate() {
        let text = format!(" {} {} ", view.title(), i + 1);
        let width = u16::try_from(text.chars().count()).unwrap_or(0);
        out.push((*view, text, at, at + width));
        at += width + 1;
    }
    out
}

/// The tabs as a block title: the current one bold and bracketed.
#[must_use]
pub fn tabs_title(current: ViewId) -> Line<'static> {
    let mut spans = Vec::new();
    for (view, text, _, _) in tabs(0) {
        if view == current {
            spans.push(Span::styled(
                format!("[{}]", text.trim()),
                Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            ));
        } else {
            spans.push(Span::raw(text));
        }
        spans.push(Span::raw("─"));
    }
    Line::from(spans)
}

/// The view whose tab is at (column, row), when `body` is the view's area.
#[must_use]
pub fn tab_hit(body: Rect, column: u16, row: u16) -> Option<ViewId> {
    if row != body.y {
        return None;
    }
    tabs(body.x)
        .into_iter()
        .find(|(_, _, from, to)| (*from..*to).contains(&column))
        .map(|(view, ..)| view)
}

/// Draws a list view's table inside `area`: the bold column header, the
/// rows of the cursor's window (built by the view), the cursor's row
/// reversed; `empty` in their place when there are none.
pub fn draw_list<'a>(
    frame: &mut Frame,
    area: Rect,
    (header, widths): (Row<'a>, Vec<Constraint>),
    rows: Vec<Row<'a>>,
    (cursor, count): (&ListCursor, usize),
    empty: &str,
    theme: &Theme,
) {
    let table = Table::new(rows, widths)
        .header(header.style(Style::new().add_modifier(Modifier::BOLD)))
        .row_highlight_style(theme.selected())
        .highlight_symbol("▶")
        .column_spacing(1);
    let mut state = TableState::default();
    if count > 0 {
        state.select(Some(cursor.row.saturating_sub(cursor.offset)));
    }
    frame.render_stateful_widget(table, area, &mut state);
    if count == 0 && area.height > 1 {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(empty.to_owned(), theme.dim()))),
            Rect::new(area.x + 2, area.y + 1, area.width.saturating_sub(2), 1),
        );
    }
}
