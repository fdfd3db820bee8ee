//! A question before a destructive action. Focus starts on Cancel, so
//! Enter alone never destroys anything; `y`/`n`, `h`/`l` and the arrows
//! answer it as lazygit's and k9s's do.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Confirmed;
use crate::console::layout::{Theme, button, modal};
use crate::domain::text::strip_control as clean;

#[derive(Debug, Clone)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub confirm_label: &'static str,
    pub action: Confirmed,
    pub confirm_focused: bool,
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
            KeyCode::Enter if self.confirm_focused => Answer::Confirmed(self.action.clone()),
            KeyCode::Enter => Answer::Cancelled,
            _ => Answer::Pending,
        }
    }

    pub fn render(&self, theme: &Theme, frame: &mut Frame) {
        let height = u16::try_from(self.lines.len()).unwrap_or(4) + 5;
        let inner = modal(frame, 66, height, &self.title);
        let mut lines: Vec<Line> = self.lines.iter().map(|l| Line::from(clean(l))).collect();
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            button("Cancel", !self.confirm_focused, theme),
            Span::raw("   "),
            button(self.confirm_label, self.confirm_focused, theme),
        ]));
        lines.push(Line::from(Span::styled(
            "←/→ choose · Enter · y/n · Esc cancels",
            theme.dim(),
        )));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}

/// "a, b, c and 4 more": the names an action will touch, for its question.
#[must_use]
pub fn name_list(names: &[String], max: usize) -> String {
    let shown: Vec<String> = names.iter().take(max).map(|n| clean(n)).collect();
    let more = names.len().saturating_sub(max);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
