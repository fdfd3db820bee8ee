//! A filterable list to choose one thing from: the tenant (`:tenant` with no
//! name, or `T`), the sort column (`s`). Typing filters (`j` and `k` too:
//! they are letters of names); ↑/↓ (or ctrl-p/n) move; Enter chooses; Esc
//! closes. What starts with the typed text comes before what merely
//! contains it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::console::layout::{Theme, fit, modal, pad};
use crate::console::widgets::list_cursor::{ListCursor, Move};
use crate::console::widgets::text_field::TextField;
use crate::domain::text::strip_control as clean;

/// What the chosen value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerPurpose {
    Tenant,
    Sort,
    /// How long a rotated key's old secret keeps working (`R`).
    Rotate,
}

/// The most rows a picker's list shows.
const PICKER_ROWS: usize = 12;

/// The value of the picker's "create a tenant" entry.
pub const CREATE_TENANT: &str = "\u{0}create";

#[derive(Debug, Clone)]
pub struct Item {
    pub value: String,
    pub label: String,
    pub detail: String,
}

pub struct Picker {
    pub title: String,
    pub purpose: PickerPurpose,
    pub items: Vec<Item>,
    pub filter: TextField,
    visible: Vec<usize>,
    pub cursor: ListCursor,
}

/// What a key did to the picker.
pub enum Picked {
    Open,
    Closed,
    Chosen(String),
}

impl Picker {
    #[must_use]
    pub fn new(
        title: impl Into<String>,
        purpose: PickerPurpose,
        items: Vec<Item>,
        current: Option<&str>,
    ) -> Self {
        let mut picker = Self {
            title: title.into(),
            purpose,
            visible: (0..items.len()).collect(),
            items,
            filter: TextField::new("", 100),
            cursor: ListCursor::default(),
        };
        picker.cursor.set_height(PICKER_ROWS, picker.visible.len());
        if let Some(at) = current.and_then(|c| picker.items.iter().position(|i| i.value == c)) {
            picker.cursor.follow(Some(at), picker.visible.len());
        }
        picker
    }

    /// Keeps the items that match the filter: first those whose label,
    /// value or detail (a tenant's display name) starts with it, then those
    /// that contain it, each group in the given order; "create" stays last.
    fn refilter(&mut self) {
        let needle = self.filter.text().to_lowercase();
        let rank = |item: &Item| -> Option<u8> {
            if item.value == CREATE_TENANT {
                return Some(2);
            }
            let texts = [&item.label, &item.value, &item.detail].map(|t| t.to_lowercase());
            if texts.iter().any(|t| t.starts_with(&needle)) {
                Some(0)
            } else if texts.iter().any(|t| t.contains(&needle)) {
                Some(1)
            } else {
                None
            }
        };
        let mut ranked: Vec<(u8, usize)> = (0..self.items.len())
            .filter_map(|i| rank(&self.items[i]).map(|r| (r, i)))
            .collect();
        ranked.sort_by_key(|&(rank, i)| (rank, i));
        self.visible = ranked.into_iter().map(|(_, i)| i).collect();
        self.cursor.row = 0;
        self.cursor.clamp(self.visible.len());
    }

    /// The values shown, in order (for tests and completion).
    pub fn shown(&self) -> impl Iterator<Item = &Item> {
        self.visible.iter().map(|&i| &self.items[i])
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Picked {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let count = self.visible.len();
        match key.code {
            KeyCode::Esc => return Picked::Closed,
            KeyCode::Enter => {
                return match self.visible.get(self.cursor.row) {
                    Some(&i) => Picked::Chosen(self.items[i].value.clone()),
                    None => Picked::Open,
                };
            }
            KeyCode::Up => self.cursor.apply(Move::Up, count),
            KeyCode::Char('p') if ctrl => self.cursor.apply(Move::Up, count),
            KeyCode::Down | KeyCode::Tab => self.cursor.apply(Move::Down, count),
            KeyCode::Char('n') if ctrl => self.cursor.apply(Move::Down, count),
            KeyCode::PageUp => self.cursor.apply(Move::PageUp, count),
            KeyCode::PageDown => self.cursor.apply(Move::PageDown, count),
            _ => {
                if self.filter.handle(key) {
                    self.refilter();
                }
            }
        }
        Picked::Open
    }

    pub fn paste(&mut self, text: &str) {
        self.filter.insert(text);
        self.refilter();
    }

    pub fn render(&self, theme: &Theme, frame: &mut Frame) {
        // The list gets the rows the screen has (frame, filter, blank, keys).
        let room = usize::from(frame.area().height.saturating_sub(5)).max(1);
        let rows = self.visible.len().clamp(1, PICKER_ROWS.min(room));
        let height = u16::try_from(rows + 5).unwrap_or(u16::MAX);
        let inner = modal(frame, 60, height, &self.title);
        let width = usize::from(inner.width);
        let mut lines = vec![Line::from(
            [
                vec![Span::raw("/ ")],
                self.filter.spans(true, width.saturating_sub(3)),
            ]
            .concat(),
        )];
        lines.push(Line::from(""));
        if self.visible.is_empty() {
            lines.push(Line::from(Span::styled("nothing matches", theme.dim())));
        }
        // The cursor's window, fitted to the rows drawn (a copy: drawing
        // changes nothing).
        let mut cursor = self.cursor.clone();
        cursor.set_height(rows, self.visible.len());
        // Details line up in one column after the widest label shown.
        let label_width = cursor
            .window(self.visible.len())
            .map(|row| crate::console::layout::width(&clean(&self.items[self.visible[row]].label)))
            .max()
            .unwrap_or(0);
        for row in cursor.window(self.visible.len()) {
            let item = &self.items[self.visible[row]];
            let text = if item.detail.is_empty() {
                clean(&item.label)
            } else {
                format!(
                    "{}  {}",
                    pad(&clean(&item.label), label_width),
                    clean(&item.detail)
                )
            };
            let style = if row == self.cursor.row {
                theme.selected()
            } else {
                ratatui::style::Style::new()
            };
            lines.push(Line::from(Span::styled(
                pad(&format!(" {text}"), width),
                style,
            )));
        }
        lines.push(Line::from(Span::styled(
            fit("type to filter · ↑/↓ · Enter chooses · Esc", width),
            theme.dim(),
        )));
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
