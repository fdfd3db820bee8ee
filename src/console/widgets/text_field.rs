//! The one line editor of the console: forms, the filter and the command
//! line all type into a [`TextField`]. It keeps a cursor (in characters),
//! and answers the keys readline users reach for: Left/Right, Home/End
//! (Ctrl-A/Ctrl-E), Backspace/Delete, Ctrl-W (word), Ctrl-U (to the start),
//! Ctrl-K (to the end). Control characters never enter the text, so a paste
//! cannot smuggle an escape sequence into a name.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use zeroize::Zeroize;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextField {
    text: String,
    /// Cursor position in characters, 0..=len.
    cursor: usize,
    /// At most this many characters (0: no limit).
    max: usize,
}

impl TextField {
    #[must_use]
    pub fn new(text: &str, max: usize) -> Self {
        let mut field = Self {
            text: String::new(),
            cursor: 0,
            max,
        };
        field.insert(text);
        field
    }

    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    #[must_use]
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Replaces the text; the cursor goes to the end.
    pub fn set(&mut self, text: &str) {
        self.clear();
        self.insert(text);
    }

    pub fn clear(&mut self) {
        self.text.zeroize();
        self.cursor = 0;
    }

    /// Inserts `text` at the cursor, dropping control characters and
    /// whatever would exceed the limit.
    pub fn insert(&mut self, text: &str) {
        for c in text.chars().filter(|c| !c.is_control()) {
            if self.max > 0 && self.len() >= self.max {
                break;
            }
            let at = self.byte_at(self.cursor);
            self.text.insert(at, c);
            self.cursor += 1;
        }
    }

    fn delete_range(&mut self, from: usize, to: usize) {
        let (a, b) = (self.byte_at(from), self.byte_at(to));
        self.text.replace_range(a..b, "");
        self.cursor = from;
    }

    /// Handles an editing key; false when the key is not an editing key
    /// (Enter, Esc, Tab, arrows up/down: the owner of the field decides).
    pub fn handle(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.len(),
            KeyCode::Char('u') if ctrl => self.delete_range(0, self.cursor),
            KeyCode::Char('k') if ctrl => self.delete_range(self.cursor, self.len()),
            KeyCode::Char('w') if ctrl => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut from = self.cursor;
                while from > 0 && chars[from - 1].is_whitespace() {
                    from -= 1;
                }
                while from > 0 && !chars[from - 1].is_whitespace() {
                    from -= 1;
                }
                self.delete_range(from, self.cursor);
            }
            KeyCode::Char(_) if ctrl => return false,
            KeyCode::Char(c) => self.insert(&c.to_string()),
            KeyCode::Backspace if self.cursor > 0 => {
                self.delete_range(self.cursor - 1, self.cursor)
            }
            KeyCode::Backspace => {}
            KeyCode::Delete if self.cursor < self.len() => {
                self.delete_range(self.cursor, self.cursor + 1);
            }
            KeyCode::Delete => {}
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.len()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.len(),
            _ => return false,
        }
        true
    }

    /// The text as spans with the cursor drawn in reverse video (visible
    /// without colour); `width` characters at most, scrolled so the cursor
    /// stays in sight.
    #[must_use]
    pub fn spans(&self, focused: bool, width: usize) -> Vec<Span<'static>> {
        let chars: Vec<char> = self.text.chars().collect();
        if !focused {
            let shown: String = chars.iter().take(width.max(1)).collect();
            return vec![Span::raw(shown)];
        }
        let width = width.max(2);
        let start = (self.cursor + 1).saturating_sub(width);
        let before: String = chars[start..self.cursor].iter().collect();
        let at: String = chars
            .get(self.cursor)
            .map_or_else(|| " ".to_owned(), char::to_string);
        let after_end = (start + width).min(chars.len());
        let after: String = chars
            .get(self.cursor + 1..after_end.max(self.cursor + 1))
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        vec![
            Span::raw(before),
            Span::styled(at, Style::new().add_modifier(Modifier::REVERSED)),
            Span::raw(after),
        ]
    }
}

impl Drop for TextField {
    fn drop(&mut self) {
        self.text.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(field: &mut TextField, code: KeyCode, modifiers: KeyModifiers) {
        field.handle(KeyEvent::new(code, modifiers));
    }

    #[test]
    fn edits_in_the_middle_and_deletes_words() {
        let mut field = TextField::new("billing sync", 0);
        press(&mut field, KeyCode::Home, KeyModifiers::NONE);
        press(&mut field, KeyCode::Right, KeyModifiers::NONE);
        press(&mut field, KeyCode::Char('X'), KeyModifiers::SHIFT);
        assert_eq!(field.text(), "bXilling sync");
        press(&mut field, KeyCode::End, KeyModifiers::NONE);
        press(&mut field, KeyCode::Char('w'), KeyModifiers::CONTROL);
        assert_eq!(field.text(), "bXilling ");
        press(&mut field, KeyCode::Char('w'), KeyModifiers::CONTROL);
        assert_eq!(field.text(), "");
        field.set("abc");
        press(&mut field, KeyCode::Left, KeyModifiers::NONE);
        press(&mut field, KeyCode::Char('u'), KeyModifiers::CONTROL);
        assert_eq!((field.text(), field.cursor()), ("c", 0));
        press(&mut field, KeyCode::Delete, KeyModifiers::NONE);
        assert_eq!(field.text(), "");
    }

    #[test]
    fn keeps_to_its_limit_and_drops_control_characters() {
        let mut field = TextField::new("", 4);
        field.insert("a\x1b[31mbcdef");
        assert_eq!(field.text(), "a[31");
        let mut field = TextField::new("é€", 0);
        press(&mut field, KeyCode::Backspace, KeyModifiers::NONE);
        assert_eq!(field.text(), "é");
    }
}
