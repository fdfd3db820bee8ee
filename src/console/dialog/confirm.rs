//! A question before a destructive action. Focus starts on Cancel, so
//! Enter alone never destroys anything; `y`/`n`, `h`/`l` and the arrows
//! answer it as lazygit's and k9s's do. Its text wraps; when it is taller
//! than the screen it scrolls (↑/↓, j/k) and the buttons stay in sight.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Confirmed;
use crate::console::layout::{Theme, button, fit, modal, more_rows, wrap};
use crate::domain::text::strip_control as clean;

#[derive(Debug, Clone)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub confirm_label: &'static str,
    pub action: Confirmed,
    pub confirm_focused: bool,
    /// Wrapped lines scrolled past, when the text is taller than the screen.
    pub scroll: usize,
}

/// What a key did to the confirm.
pub enum Answer {
    Pending,
    Cancelled,
    Confirmed(Confirmed),
}

impl Confirm {
    #[must_use]
    pub fn new(
        title: String,
        lines: Vec<String>,
        confirm_label: &'static str,
        action: Confirmed,
    ) -> Self {
        Self {
            title,
            lines,
            confirm_label,
            action,
            confirm_focused: false,
            scroll: 0,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Answer {
        match key.code {
            KeyCode::Esc | KeyCode::Char('n' | 'q') => Answer::Cancelled,
            KeyCode::Char('y') => Answer::Confirmed(self.action.clone()),
            KeyCode::Left | KeyCode::Char('h') => {
                self.confirm_focused = false;
                Answer::Pending
            }
            KeyCode::Right | KeyCode::Char('l') => {
                self.confirm_focused = true;
                Answer::Pending
            }
            KeyCode::Tab | KeyCode::BackTab => {
                self.confirm_focused = !self.confirm_focused;
                Answer::Pending
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.scroll = self.scroll.saturating_add(1);
                Answer::Pending
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.scroll = self.scroll.saturating_sub(1);
                Answer::Pending
            }
            KeyCode::Enter if self.confirm_focused => Answer::Confirmed(self.action.clone()),
            KeyCode::Enter => Answer::Cancelled,
            _ => Answer::Pending,
        }
    }

    pub fn render(&self, theme: &Theme, frame: &mut Frame) {
        let screen = frame.area();
        let width = screen.width.min(66);
        let room = usize::from(width.saturating_sub(2));
        let text: Vec<String> = self
            .lines
            .iter()
            .flat_map(|line| wrap(&clean(line), room))
            .collect();
        // Frame (2), a blank or scroll line, the buttons, the keys.
        let rows = usize::from(screen.height).saturating_sub(5).max(1);
        let start = self.scroll.min(text.len().saturating_sub(rows));
        let window = start..(start + rows).min(text.len());
        let more = more_rows(&window, text.len());
        let height = u16::try_from(window.len() + 5).unwrap_or(u16::MAX);
        let inner = modal(frame, width, height, &self.title);
        let mut lines: Vec<Line> = text[window].iter().map(|l| Line::from(l.clone())).collect();
        lines.push(match more {
            Some(more) => Line::from(Span::styled(
                fit(&format!("{more} · ↑/↓ scroll"), room),
                theme.dim(),
            )),
            None => Line::from(""),
        });
        lines.push(Line::from(vec![
            button("Cancel", !self.confirm_focused, theme),
            Span::raw("   "),
            button(self.confirm_label, self.confirm_focused, theme),
        ]));
        lines.push(Line::from(Span::styled(
            fit("←/→ choose · Enter · y/n · Esc cancels", room),
            theme.dim(),
        )));
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// The longest a name runs in a list of names (a key name may have 100
/// characters; six of those would not fit a screen).
const NAME_CELLS: usize = 32;

/// "a, b, c and 4 more": the names an action will touch, for its question;
/// a long name is cut to [`NAME_CELLS`] with `…`.
#[must_use]
pub fn name_list(names: &[String], max: usize) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(max)
        .map(|n| fit(&clean(n), NAME_CELLS))
        .collect();
    let more = names.len().saturating_sub(max);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
