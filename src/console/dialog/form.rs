//! The one form of the console: adding and editing keys, the tenant's
//! settings, users, tenants. Fields are text, numbers (with limits from the
//! domain), toggles, choices and checklists. Tab and shift-Tab move between
//! fields (a checklist is one field: ↑/↓ move inside it, Space toggles);
//! Ctrl-S saves from anywhere, as Enter does on the last field; Esc cancels.
//! A save that fails keeps the form open with what was typed and the reason.
//! On a screen too short for every field, the fields scroll with the focus;
//! the reason (wrapped) and the buttons always stay in sight.

use std::ops::Range;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::console::layout::{
    Theme, button, fit, modal, more_rows, pad, scroll_window, wrap_keeping_end,
};
use crate::console::widgets::text_field::TextField;
use crate::domain::text::strip_control as clean;

/// What the form is for; the view that opened it acts on its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    AddKey,
    EditKey {
        id: String,
        version: i64,
    },
    DuplicateKey {
        id: String,
    },
    /// A rotation with a grace typed in ("custom…" in the rotate picker).
    RotateKey {
        id: String,
        name: String,
    },
    Settings {
        version: i64,
    },
    CreateUser,
    EditUser {
        id: String,
    },
    CreateTenant,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Text(TextField),
    /// A whole number within limits; empty means "none" when `optional`.
    Number {
        input: TextField,
        min: u32,
        max: u32,
        optional: bool,
    },
    Toggle(bool),
    /// (value, label) options.
    Choice {
        options: Vec<(String, String)>,
        at: usize,
    },
    /// (value, checked) items, moved in with ↑/↓.
    Checklist {
        items: Vec<(String, bool)>,
        cursor: usize,
    },
}

impl Kind {
    /// Whether two fields hold the same value (cursor positions aside).
    #[must_use]
    pub fn same_value(&self, other: &Kind) -> bool {
        match (self, other) {
            (Kind::Text(a), Kind::Text(b))
            | (Kind::Number { input: a, .. }, Kind::Number { input: b, .. }) => {
                a.text().trim() == b.text().trim()
            }
            (Kind::Toggle(a), Kind::Toggle(b)) => a == b,
            (Kind::Choice { options: a, at: i }, Kind::Choice { options: b, at: j }) => {
                a.get(*i).map(|o| &o.0) == b.get(*j).map(|o| &o.0)
            }
            (Kind::Checklist { items: a, .. }, Kind::Checklist { items: b, .. }) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub id: &'static str,
    pub label: String,
    pub kind: Kind,
    /// One line under the field when it has focus: meaning, limits, rules.
    pub hint: String,
    /// A field shown but not changeable here (with the reason as its hint).
    pub locked: bool,
}

impl Field {
    #[must_use]
    pub fn text(id: &'static str, label: &str, value: &str, max: usize) -> Self {
        Self::new(id, label, Kind::Text(TextField::new(value, max)))
    }

    #[must_use]
    pub fn number(
        id: &'static str,
        label: &str,
        value: Option<u32>,
        range: (u32, u32),
        optional: bool,
    ) -> Self {
        let text = value.map(|v| v.to_string()).unwrap_or_default();
        Self::new(
            id,
            label,
            Kind::Number {
                input: TextField::new(&text, 12),
                min: range.0,
                max: range.1,
                optional,
            },
        )
    }

    #[must_use]
    pub fn toggle(id: &'static str, label: &str, on: bool) -> Self {
        Self::new(id, label, Kind::Toggle(on))
    }

    #[must_use]
    pub fn choice(
        id: &'static str,
        label: &str,
        options: Vec<(String, String)>,
        value: &str,
    ) -> Self {
        let at = options.iter().position(|(v, _)| v == value).unwrap_or(0);
        Self::new(id, label, Kind::Choice { options, at })
    }

    #[must_use]
    pub fn checklist(id: &'static str, label: &str, items: Vec<(String, bool)>) -> Self {
        Self::new(id, label, Kind::Checklist { items, cursor: 0 })
    }

    fn new(id: &'static str, label: &str, kind: Kind) -> Self {
        Self {
            id,
            label: label.to_owned(),
            kind,
            hint: String::new(),
            locked: false,
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    #[must_use]
    pub fn locked(mut self, reason: impl Into<String>) -> Self {
        self.locked = true;
        self.hint = reason.into();
        self
    }
}

/// What a key did to the form.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Editing,
    Cancel,
    Submit,
}

#[derive(Debug, Clone)]
pub struct Form {
    pub title: String,
    pub purpose: Purpose,
    pub fields: Vec<Field>,
    /// A field index, or `fields.len()` for Save and `+ 1` for Cancel.
    pub focus: usize,
    pub error: Option<String>,
    /// Lines under the fields (e.g. someone else's values after a conflict).
    pub notes: Vec<String>,
    pub submitting: bool,
}

impl Form {
    #[must_use]
    pub fn new(title: impl Into<String>, purpose: Purpose, fields: Vec<Field>) -> Self {
        let focus = fields
            .iter()
            .position(|f| !f.locked)
            .unwrap_or(fields.len());
        Self {
            title: title.into(),
            purpose,
            fields,
            focus,
            error: None,
            notes: Vec::new(),
            submitting: false,
        }
    }

    fn save_at(&self) -> usize {
        self.fields.len()
    }

    /// The focused field's id, or "save" / "cancel".
    #[must_use]
    pub fn focused(&self) -> &'static str {
        match self.fields.get(self.focus) {
            Some(field) => field.id,
            None if self.focus == self.save_at() => "save",
            None => "cancel",
        }
    }

    /// Moves the focus to the field `id`.
    pub fn focus_on(&mut self, id: &str) {
        if let Some(at) = self.fields.iter().position(|f| f.id == id) {
            self.focus = at;
        }
    }

    fn move_focus(&mut self, forward: bool) {
        let stops = self.fields.len() + 2;
        let mut at = self.focus;
        for _ in 0..stops {
            at = if forward {
                (at + 1) % stops
            } else {
                (at + stops - 1) % stops
            };
            if self.fields.get(at).is_none_or(|f| !f.locked) {
                break;
            }
        }
        self.focus = at;
    }

    /// Refuses the values in place: the reason, and the focus on the field.
    pub fn refuse(&mut self, id: &str, reason: impl Into<String>) {
        self.error = Some(reason.into());
        self.focus_on(id);
        self.submitting = false;
    }

    /// A failed save: the form stays as typed, with the reason.
    pub fn failed(&mut self, reason: impl Into<String>) {
        self.error = Some(reason.into());
        self.submitting = false;
    }

    /// Puts pasted text into the focused text field.
    pub fn paste(&mut self, text: &str) {
        if let Some(Field {
            kind: Kind::Text(input) | Kind::Number { input, .. },
            locked: false,
            ..
        }) = self.fields.get_mut(self.focus)
        {
            input.insert(text);
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Outcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if self.submitting {
            return if key.code == KeyCode::Esc {
                Outcome::Cancel
            } else {
                Outcome::Editing
            };
        }
        match key.code {
            KeyCode::Esc => return Outcome::Cancel,
            KeyCode::Char('s') if ctrl => return Outcome::Submit,
            KeyCode::Tab => {
                self.move_focus(true);
                return Outcome::Editing;
            }
            KeyCode::BackTab => {
                self.move_focus(false);
                return Outcome::Editing;
            }
            _ => {}
        }
        let last = self.save_at() - 1;
        let focus = self.focus;
        let Some(field) = self.fields.get_mut(focus) else {
            return match key.code {
                KeyCode::Enter if focus == self.save_at() => Outcome::Submit,
                KeyCode::Enter => Outcome::Cancel,
                KeyCode::Left | KeyCode::Right | KeyCode::Char('h' | 'l') => {
                    self.focus = if focus == self.save_at() {
                        focus + 1
                    } else {
                        focus - 1
                    };
                    Outcome::Editing
                }
                KeyCode::Up => {
                    self.move_focus(false);
                    Outcome::Editing
                }
                KeyCode::Down => {
                    self.move_focus(true);
                    Outcome::Editing
                }
                _ => Outcome::Editing,
            };
        };
        match (&mut field.kind, key.code) {
            (Kind::Checklist { items, cursor }, KeyCode::Up) if *cursor > 0 => *cursor -= 1,
            (Kind::Checklist { items, cursor }, KeyCode::Down) if *cursor + 1 < items.len() => {
                *cursor += 1;
            }
            (_, KeyCode::Up) => self.move_focus(false),
            (_, KeyCode::Down) => self.move_focus(true),
            (_, KeyCode::Enter) if focus >= last => return Outcome::Submit,
            (Kind::Checklist { items, cursor }, KeyCode::Char(' ')) if !field.locked => {
                if let Some(item) = items.get_mut(*cursor) {
                    item.1 = !item.1;
                }
            }
            (Kind::Toggle(on), KeyCode::Char(' ') | KeyCode::Left | KeyCode::Right)
                if !field.locked =>
            {
                *on = !*on;
            }
            (Kind::Choice { options, at }, KeyCode::Left) if !field.locked => {
                *at = (*at + options.len() - 1) % options.len().max(1);
            }
            (Kind::Choice { options, at }, KeyCode::Right | KeyCode::Char(' '))
                if !field.locked =>
            {
                *at = (*at + 1) % options.len().max(1);
            }
            (_, KeyCode::Enter) => self.move_focus(true),
            (Kind::Text(input) | Kind::Number { input, .. }, _) if !field.locked => {
                input.handle(key);
            }
            _ => {}
        }
        Outcome::Editing
    }

    fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// A text field's value, trimmed.
    #[must_use]
    pub fn text(&self, id: &str) -> String {
        match self.field(id).map(|f| &f.kind) {
            Some(Kind::Text(input)) => input.text().trim().to_owned(),
            _ => String::new(),
        }
    }

    /// A number field's value, or the reason it is not a valid one.
    pub fn number(&self, id: &str) -> Result<Option<u32>, String> {
        let Some(field) = self.field(id) else {
            return Ok(None);
        };
        let Kind::Number {
            input,
            min,
            max,
            optional,
        } = &field.kind
        else {
            return Ok(None);
        };
        let text = input.text().trim();
        let label = field.label.trim();
        if text.is_empty() {
            return if *optional {
                Ok(None)
            } else {
                Err(format!("{label}: a number is needed"))
            };
        }
        let refuse = || {
            let none = if *optional { "; empty for none" } else { "" };
            format!("{label}: a whole number from {min} to {max}{none}, not {text:?}")
        };
        match text.parse::<u32>() {
            Ok(n) if (*min..=*max).contains(&n) => Ok(Some(n)),
            _ => Err(refuse()),
        }
    }

    #[must_use]
    pub fn toggle(&self, id: &str) -> bool {
        matches!(self.field(id).map(|f| &f.kind), Some(Kind::Toggle(true)))
    }

    #[must_use]
    pub fn choice(&self, id: &str) -> String {
        match self.field(id).map(|f| &f.kind) {
            Some(Kind::Choice { options, at }) => {
                options.get(*at).map(|(v, _)| v.clone()).unwrap_or_default()
            }
            _ => String::new(),
        }
    }

    /// The checked items of a checklist.
    #[must_use]
    pub fn checked(&self, id: &str) -> Vec<String> {
        match self.field(id).map(|f| &f.kind) {
            Some(Kind::Checklist { items, .. }) => items
                .iter()
                .filter(|(_, on)| *on)
                .map(|(v, _)| v.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The fields' lines, and the rows of the focused field (its label,
    /// down to the cursor of a checklist).
    fn field_lines(&self, theme: &Theme, value_width: usize) -> (Vec<Line<'static>>, Range<usize>) {
        let label_style = Style::new().add_modifier(Modifier::BOLD);
        let mut lines: Vec<Line> = Vec::new();
        let mut focus = 0..0;
        for (i, field) in self.fields.iter().enumerate() {
            let focused = i == self.focus;
            let mark = if focused { "▶" } else { " " };
            let mut spans = vec![
                Span::raw(mark),
                Span::styled(pad(&fit(&field.label, 12), 13), label_style),
            ];
            let style = if field.locked {
                theme.dim()
            } else {
                Style::new()
            };
            if focused {
                focus = lines.len()..lines.len() + 1;
            }
            match &field.kind {
                Kind::Text(input) | Kind::Number { input, .. } => {
                    let mut value = input.spans(focused && !field.locked, value_width);
                    for span in &mut value {
                        span.content = clean(&span.content).into();
                        span.style = span.style.patch(style);
                    }
                    spans.extend(value);
                }
                Kind::Toggle(on) => {
                    let text = if *on { "[x] yes" } else { "[ ] no" };
                    let s = if focused { theme.selected() } else { style };
                    spans.push(Span::styled(text, s));
                }
                Kind::Choice { options, at } => {
                    let label = options.get(*at).map(|(_, l)| clean(l)).unwrap_or_default();
                    let s = if focused { theme.selected() } else { style };
                    spans.push(Span::styled(
                        format!("‹ {} ›", fit(&label, value_width.saturating_sub(4))),
                        s,
                    ));
                }
                Kind::Checklist { items, .. } => {
                    let on = items.iter().filter(|(_, on)| *on).count();
                    spans.push(Span::styled(
                        format!("{on} of {} chosen", items.len()),
                        style,
                    ));
                }
            }
            lines.push(Line::from(spans));
            if let Kind::Checklist { items, cursor } = &field.kind {
                let first = lines.len();
                for (j, (item, on)) in items.iter().enumerate() {
                    let check = if *on { "[x]" } else { "[ ]" };
                    let s = if focused && j == *cursor {
                        theme.selected()
                    } else {
                        style
                    };
                    lines.push(Line::from(vec![
                        Span::raw("               "),
                        Span::styled(format!("{check} {}", fit(&clean(item), value_width)), s),
                    ]));
                }
                if focused {
                    focus.end = first + (*cursor).min(items.len().saturating_sub(1)) + 1;
                }
            }
        }
        for note in &self.notes {
            lines.push(Line::from(Span::styled(clean(note), theme.dim())));
        }
        if self.focus >= self.fields.len() {
            // On the buttons: the end of the fields, where they lead.
            focus = lines.len().saturating_sub(1)..lines.len();
        }
        (lines, focus)
    }

    pub fn render(&self, theme: &Theme, frame: &mut Frame) {
        let screen = frame.area();
        let width = screen.width.min(74);
        let room = usize::from(width.saturating_sub(2));
        let value_width = room.saturating_sub(15);
        let (fields, focus) = self.field_lines(theme, value_width);
        // Inside the frame: the fields, a blank (or scroll) line, the
        // reason or hint, the buttons and the keys.
        let inside = usize::from(screen.height.saturating_sub(2));
        let fixed = 3;
        let least_fields = fields.len().min(3);
        let message_rows = inside.saturating_sub(fixed + least_fields).max(1);
        let hint = self
            .fields
            .get(self.focus)
            .map(|f| f.hint.clone())
            .filter(|h| !h.is_empty());
        let message: Vec<Line> = if let Some(error) = &self.error {
            wrap_keeping_end(&clean(error), room, message_rows)
                .into_iter()
                .map(|l| Line::from(Span::styled(l, theme.error())))
                .collect()
        } else if self.submitting {
            vec![Line::from("saving…")]
        } else if let Some(hint) = hint {
            wrap_keeping_end(&clean(&hint), room, message_rows.min(2))
                .into_iter()
                .map(|l| Line::from(Span::styled(l, theme.dim())))
                .collect()
        } else {
            vec![Line::from("")]
        };
        let rows = inside
            .saturating_sub(fixed + message.len())
            .min(fields.len());
        let window = scroll_window(fields.len(), rows, focus);
        let more = more_rows(&window, fields.len());
        let height = u16::try_from(window.len() + fixed + message.len() + 2).unwrap_or(u16::MAX);
        let inner = modal(frame, width, height, &self.title);
        let mut lines: Vec<Line> = fields[window].to_vec();
        lines.push(match more {
            Some(more) => Line::from(Span::styled(
                fit(&format!("{more} · Tab moves"), room),
                theme.dim(),
            )),
            None => Line::from(""),
        });
        lines.extend(message);
        lines.push(Line::from(vec![
            button("Save", self.focus == self.save_at(), theme),
            Span::raw("   "),
            button("Cancel", self.focus == self.save_at() + 1, theme),
        ]));
        lines.push(Line::from(Span::styled(
            fit(
                "Tab next · Space toggles · ctrl-s saves · Esc cancels",
                room,
            ),
            theme.dim(),
        )));
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(form: &mut Form, code: KeyCode) -> Outcome {
        form.on_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn form() -> Form {
        Form::new(
            "t",
            Purpose::AddKey,
            vec![
                Field::text("name", "name", "", 64),
                Field::checklist(
                    "scopes",
                    "scopes",
                    vec![("a".into(), false), ("b".into(), false)],
                ),
                Field::number("expiry", "expires in", None, (1, 365), true),
            ],
        )
    }

    #[test]
    fn a_checklist_is_one_field_moved_in_with_arrows() {
        let mut form = form();
        press(&mut form, KeyCode::Tab);
        assert_eq!(form.focused(), "scopes");
        press(&mut form, KeyCode::Down);
        press(&mut form, KeyCode::Char(' '));
        assert_eq!(form.checked("scopes"), ["b"]);
        press(&mut form, KeyCode::Down);
        assert_eq!(
            form.focused(),
            "expiry",
            "past the last item: the next field"
        );
        press(&mut form, KeyCode::Tab);
        assert_eq!(form.focused(), "save");
    }

    #[test]
    fn a_number_is_refused_with_the_reason_not_guessed() {
        let mut form = form();
        form.focus_on("expiry");
        for c in "abc-5".chars() {
            press(&mut form, KeyCode::Char(c));
        }
        let reason = form.number("expiry").unwrap_err();
        assert!(
            reason.contains("1 to 365") && reason.contains("abc-5"),
            "{reason}"
        );
        form.focus_on("name");
        assert_eq!(press(&mut form, KeyCode::Char('x')), Outcome::Editing);
        assert_eq!(
            form.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
            Outcome::Submit
        );
        assert_eq!(form.text("name"), "x");
    }
}
