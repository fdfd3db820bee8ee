//! What a command prints: JSON for scripts (the API's own representation,
//! one object or one array), or a table for people that fits the terminal
//! and is plain text when piped. Every text the server sent passes through
//! [`cell`], so a name full of escape codes cannot drive the terminal.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use super::error::{CliError, CliResult};

/// `-o table|json`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Columns for people: fits the terminal, plain when piped.
    #[default]
    Table,
    /// The API's JSON: one object, or one array for a list (every page).
    Json,
}

/// Writes `text` to stdout; a reader that went away (`| head`) is not an error.
pub fn out(text: &str) -> CliResult {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}

/// A line on stderr: what a person reads beside a secret or JSON on stdout.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `value` as pretty JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> CliResult {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("cannot write JSON: {e}")))?;
    out(&format!("{text}\n"))
}

/// `value` as one compact line of JSON (a stream of events: JSON Lines).
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> CliResult {
    let text = serde_json::to_string(value)
        .map_err(|e| CliError::Failed(format!("cannot write JSON: {e}")))?;
    out(&format!("{text}\n"))
}

/// `value`, which holds a secret, as pretty JSON on stdout; the text is
/// wiped from memory after.
pub fn json_secret<T: Serialize + ?Sized>(value: &T) -> CliResult {
    let text = zeroize::Zeroizing::new(
        serde_json::to_string_pretty(value)
            .map_err(|e| CliError::Failed(format!("cannot write JSON: {e}")))?,
    );
    out(&text)?;
    out("\n")
}

/// A secret (or token) alone on stdout, so `> file` holds exactly it.
pub fn secret(secret: &str) -> CliResult {
    out(secret)?;
    out("\n")
}

/// Text from the server made safe to print: control and hidden characters
/// cannot move the cursor, recolour or hide what follows.
#[must_use]
pub fn cell(text: &str) -> String {
    crate::domain::text::strip_control(text)
}

/// A time as scripts and people both read it: `2026-12-04T20:30:00Z`.
#[must_use]
pub fn time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An optional time, `-` when there is none.
#[must_use]
pub fn maybe_time(at: Option<&DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_owned(), time)
}

/// Columns of text. Cells are cleaned by [`Table::row`].
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    #[must_use]
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| cell(c)).collect());
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, at most `width` columns wide when given (the
    /// widest columns are cut with `…` until it fits).
    #[must_use]
    pub fn render(&self, width: Option<usize>) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.width());
            }
        }
        if let Some(width) = width {
            let gaps = 2 * columns.saturating_sub(1);
            while widths.iter().sum::<usize>() + gaps > width {
                let Some((widest, &w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else {
                    break;
                };
                if w <= 6 {
                    break;
                }
                widths[widest] = w - 1;
            }
        }
        let mut text = String::new();
        let mut line = |cells: &[String]| {
            let mut out = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let cut = cut(cell, *width);
                out.push_str(&cut);
                if i + 1 < columns {
                    out.push_str(&" ".repeat(width - cut.width() + 2));
                }
            }
            text.push_str(out.trim_end());
            text.push('\n');
        };
        line(
            &self
                .headers
                .iter()
                .map(|h| (*h).to_owned())
                .collect::<Vec<_>>(),
        );
        for row in &self.rows {
            line(row);
        }
        text
    }

    /// Prints the table: fitted to the terminal, or whole when piped.
    pub fn print(&self) -> CliResult {
        out(&self.render(terminal_width()))
    }
}

/// The terminal's width when stdout is one.
fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .map(|(w, _)| usize::from(w))
        .filter(|&w| w > 0)
}

/// `text` cut to `width` columns, ending in `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        let next = format!("{out}{c}");
        if next.width() + 1 > width {
            break;
        }
        out = next;
    }
    out.push('…');
    out
}

/// One thing, field by field: `name: value` lines, names aligned.
pub fn fields(pairs: &[(&str, String)]) -> CliResult {
    let pad = pairs.iter().map(|(n, _)| n.width()).max().unwrap_or(0);
    let mut text = String::new();
    for (name, value) in pairs {
        text.push_str(&format!("{name:<pad$}  {}\n", cell(value)));
    }
    out(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut table = Table::new(&["ID", "NAME"]);
        table.row(vec!["key_1".into(), "a rather long name for a key".into()]);
        table.row(vec!["key_2".into(), "evil\u{1b}[31mred\u{7}".into()]);
        table
    }

    #[test]
    fn a_piped_table_is_whole_and_aligned() {
        let text = table().render(None);
        assert_eq!(
            text,
            "ID     NAME\nkey_1  a rather long name for a key\nkey_2  evil[31mred\n"
        );
    }

    #[test]
    fn a_table_fits_the_terminal() {
        let text = table().render(Some(20));
        for line in text.lines() {
            assert!(line.width() <= 20, "{line:?}");
        }
        assert!(text.contains('…'));
    }

    #[test]
    fn escape_codes_never_reach_the_terminal() {
        assert!(!table().render(None).contains('\u{1b}'));
        assert_eq!(cell("a\u{1b}]52;c;x\u{7}b"), "a]52;c;xb");
    }
}
