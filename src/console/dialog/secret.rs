//! A secret or a management token, shown once. Its buffer is a
//! `Zeroizing` string, wiped when the modal closes (as it drops). Closing
//! before the secret was copied asks once more: the first Esc (or q, or
//! Close) says it was not copied, the second closes.

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
    /// What the last copy did ("copied to …", "copy failed: …"), or the
    /// warning of a close before any copy.
    pub note: Option<String>,
    /// The secret reached the clipboard at least once.
    pub copied: bool,
    pub close_focused: bool,
    /// A close was asked for before the secret was copied, and the user
    /// was told: the next close closes.
    pub warned: bool,
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
            note: None,
            copied: false,
            close_focused: false,
            warned: false,
        }
    }

    /// A close asked for: true when it closes; false the first time
    /// while the secret has not been copied (the user is told instead).
    fn close(&mut self) -> bool {
        if self.copied || self.warned {
            return true;
        }
        self.warned = true;
        self.note = Some(format!(
            "not copied — Esc again to close, c to copy the {}",
            self.kind
        ));
        false
    }

    /// Handles a key; true when the modal should close.
    pub fn on_key(&mut self, key: KeyEvent, clipboard: &mut Clipboard) -> bool {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => self.close(),
            KeyCode::Enter if self.close_focused => self.close(),
            KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                self.close_focused = !self.close_focused;
                false
            }
            KeyCode::Enter | KeyCode::Char('c' | 'y') => {
                self.note = Some(match clipboard.copy(&self.secret, true) {
                    Ok(copied) => {
                        self.copied = true;
                        format!("copied {}", copied.describe())
                    }
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
            Line::from(match &self.note {
                Some(note) if self.copied => Span::raw(note.clone()),
                Some(note) => Span::styled(note.clone(), theme.error()),
                None => Span::raw(""),
            }),
            Line::from(vec![
                button("Copy", !self.close_focused, theme),
                Span::raw("   "),
                button("Close", self.close_focused, theme),
            ]),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}
