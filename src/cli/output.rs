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

/// Columns of text. Cells are cleaned by [`Table::row`]. On a narrow
/// terminal the columns named by [`Table::optional`] go first, then the
/// widest are cut; the first column (the ID a script or a person copies)
/// is never cut.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// Columns left out, in this order, when the table does not fit.
    optional: Vec<&'static str>,
}

impl Table {
    #[must_use]
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
            optional: Vec::new(),
        }
    }

    /// The columns to leave out, first to last, when the terminal is narrow.
    #[must_use]
    pub fn optional(mut self, headers: &[&'static str]) -> Self {
        self.optional = headers.to_vec();
        self
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
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                widths[i] = widths[i].max(cell.width());
            }
        }
        let mut shown: Vec<usize> = (0..self.headers.len()).collect();
        if let Some(width) = width {
            let total = |shown: &[usize], widths: &[usize]| {
                shown.iter().map(|&i| widths[i]).sum::<usize>() + 2 * shown.len().saturating_sub(1)
            };
            // A column goes while the rest would not fit even with every
            // cuttable column cut to a readable width.
            let readable: Vec<usize> = widths
                .iter()
                .enumerate()
                .map(|(i, &w)| if i == 0 { w } else { w.min(READABLE) })
                .collect();
            for header in &self.optional {
                if total(&shown, &readable) <= width {
                    break;
                }
                shown.retain(|&i| self.headers[i] != *header);
            }
            while total(&shown, &widths) > width {
                let Some(&widest) = shown[1..].iter().max_by_key(|&&i| widths[i]) else {
                    break;
                };
                if widths[widest] <= 6 {
                    break;
                }
                widths[widest] -= 1;
            }
        }
        let mut text = String::new();
        let mut line = |cells: &[String]| {
            let mut out = String::new();
            for (n, &i) in shown.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let cut = cut(cell, widths[i]);
                out.push_str(&cut);
                if n + 1 < shown.len() {
                    out.push_str(&" ".repeat(widths[i] - cut.width() + 2));
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

/// A cut column keeps at least this many columns where it can.
const READABLE: usize = 24;

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
    fn a_narrow_terminal_loses_optional_columns_first_and_never_cuts_the_id() {
        let mut table = Table::new(&["ID", "NAME", "EXPIRES"]).optional(&["EXPIRES"]);
        table.row(vec![
            "key_01M91CTA6004AVQ32DZACWV20F".into(),
            "a-rather-long-key-name-for-the-partner-integration".into(),
            "2027-01-03T20:29:59Z".into(),
        ]);
        let text = table.render(Some(50));
        assert!(!text.contains("EXPIRES"), "{text}");
        assert!(text.contains("key_01M91CTA6004AVQ32DZACWV20F"), "{text}");
        assert!(text.lines().all(|l| l.width() <= 50), "{text}");
        let wide = table.render(Some(200));
        assert!(wide.contains("EXPIRES") && wide.contains("partner-integration"));
    }

    #[test]
    fn escape_codes_never_reach_the_terminal() {
        assert!(!table().render(None).contains('\u{1b}'));
        assert_eq!(cell("a\u{1b}]52;c;x\u{7}b"), "a]52;c;xb");
    }
}
