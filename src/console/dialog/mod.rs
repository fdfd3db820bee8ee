//! Dialogs: one open at a time, more waiting in a queue. A shown-once
//! secret is never replaced before the user has closed it, nor is a form
//! being typed into; a report that arrives meanwhile waits its turn.
//!
//! A dialog knows nothing of the views: a confirm carries the action of the
//! view that opened it and gives it back ([`Confirmed`]); a form carries its
//! purpose and gives back its values; a picker gives back the chosen value.

pub mod confirm;
pub mod form;
pub mod picker;
pub mod secret;

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use self::confirm::Confirm;
use self::form::Form;
use self::picker::Picker;
use self::secret::SecretModal;
use super::layout::{Theme, modal, wrap};
use crate::domain::text::strip_control as clean;

pub enum Dialog {
    Confirm(Confirm),
    Form(Box<Form>),
    Secret(SecretModal),
    Picker(Picker),
    Message {
        title: String,
        lines: Vec<String>,
    },
    /// The `?` overlay, scrolled down by this many lines.
    Help {
        scroll: usize,
    },
}

#[derive(Default)]
pub struct Dialogs {
    pub current: Option<Dialog>,
    pub queued: VecDeque<Dialog>,
}

impl Dialogs {
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.current.is_some()
    }

    /// Shows `dialog` now, or queues it behind a secret, a form or another
    /// report. Help and pickers give way at once.
    pub fn present(&mut self, dialog: Dialog) {
        match &self.current {
            None | Some(Dialog::Help { .. } | Dialog::Picker(_)) => self.current = Some(dialog),
            Some(_) => self.queued.push_back(dialog),
        }
    }

    /// Opens `dialog` in place of whatever is open (a user's own request).
    pub fn open(&mut self, dialog: Dialog) {
        self.current = Some(dialog);
    }

    /// Closes the current dialog (a secret's buffer is wiped as it drops)
    /// and shows the next queued one.
    pub fn close(&mut self) {
        self.current = self.queued.pop_front();
    }

    /// The open form, if the current dialog is one.
    pub fn form_mut(&mut self) -> Option<&mut Form> {
        match &mut self.current {
            Some(Dialog::Form(form)) => Some(form),
            _ => None,
        }
    }
}

/// What a confirmed dialog gives back to the view that opened it.
#[derive(Debug, Clone)]
pub enum Confirmed {
    Keys(super::views::keys::Pending),
    Settings(super::views::settings::Pending),
    Users(super::views::users::Pending),
}

/// A report: its lines wrapped; on a screen too short for them, as many as
/// fit and how many more there are, so "Enter or Esc closes" stays in sight.
pub fn render_message(title: &str, lines: &[String], theme: &Theme, frame: &mut Frame) {
    let screen = frame.area();
    let width = screen.width.min(76);
    let room = usize::from(width.saturating_sub(2));
    let mut text: Vec<String> = lines.iter().flat_map(|l| wrap(&clean(l), room)).collect();
    let rows = usize::from(screen.height.saturating_sub(4)).max(1);
    let mut last = Line::from("");
    if text.len() > rows {
        let hidden = text.len() - rows + 1;
        text.truncate(rows - 1);
        last = Line::from(Span::styled(
            format!("… and {hidden} more lines"),
            theme.dim(),
        ));
    }
    let height = u16::try_from(text.len() + 4).unwrap_or(u16::MAX);
    let inner = modal(frame, width, height, title);
    let mut shown: Vec<Line> = text.into_iter().map(Line::from).collect();
    shown.push(last);
    shown.push(Line::from("Enter or Esc closes"));
    frame.render_widget(Paragraph::new(shown), inner);
}

/// Draws the open dialog, if any.
pub fn render(dialogs: &Dialogs, theme: &Theme, frame: &mut Frame) {
    match &dialogs.current {
        None | Some(Dialog::Help { .. }) => {}
        Some(Dialog::Confirm(confirm)) => confirm.render(theme, frame),
        Some(Dialog::Secret(modal)) => modal.render(theme, frame),
        Some(Dialog::Form(form)) => form.render(theme, frame),
        Some(Dialog::Picker(picker)) => picker.render(theme, frame),
        Some(Dialog::Message { title, lines }) => render_message(title, lines, theme, frame),
    }
}
