//! A secret or a management token, shown once. Its buffer is a
//! `Zeroizing` string, wiped when the modal closes (as it drops).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use zeroize::Zeroizing;

use crate::console::clipboard::Clipboard;
use crate::console::layout::{Theme, button, modal};
use crate::domain::text::strip_control as clean;

pub struct SecretModal {
    pub title: String,
    /// What the secret belongs to: "key key_01J…", "user ana".
    pub subject: String,
    pub secret: Zeroizing<String>,
    /// Whether an admin can copy it again later (the tenant stores it).
    pub retrievable: bool,
    /// "secret" or "management token".
    pub kind: &'static str,
    pub copied: Option<String>,
    pub close_focused: bool,
}

impl SecretModal {
    #[must_use]
    pub fn new(
        title: String,
        subject: String,
        secret: String,
        retrievable: bool,
        kind: &'static str,
    ) -> Self {
        Self {
            title,
            subject,
            secret: Zeroizing::new(secret),
            retrievable,
            kind,
            copied: None,
            close_focused: false,
        }
    }

    /// Handles a key; true when the modal should close.
    pub fn on_key(&mut self, key: KeyEvent, clipboard: &mut Clipboard) -> bool {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => true,
            KeyCode::Enter if self.close_focused => true,
            KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                self.close_focused = !self.close_focused;
                false
            }
            KeyCode::Enter | KeyCode::Char('c' | 'y') => {
                self.copied = Some(match clipboard.copy(&self.secret, true) {
                    Ok(copied) => format!("copied {}", copied.describe()),
                    Err(err) => format!("copy failed: {err}"),
                });
                self.close_focused = true;
                false
            }
            _ => false,
        }
    }

    pub fn render(&self, theme: &Theme, frame: &mut Frame) {
        let inner = modal(frame, 76, 10, &clean(&self.title));
        let warning = if self.retrievable {
            format!(
                "Copy the {} now; tenant admins can copy it again later.",
                self.kind
            )
        } else {
            format!(
                "Copy the {} now: it is shown once and cannot be shown again.",
                self.kind
            )
        };
        let lines = vec![
            Line::from(Span::styled(
                warning,
                theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            )),
            Line::from(""),
            Line::from(Span::styled(
                self.secret.as_str().to_owned(),
                Style::new().add_modifier(Modifier::BOLD),
            )),
            Line::from(clean(&self.subject)),
            Line::from(self.copied.clone().unwrap_or_default()),
            Line::from(vec![
                button("Copy", !self.close_focused, theme),
                Span::raw("   "),
                button("Close", self.close_focused, theme),
            ]),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}
