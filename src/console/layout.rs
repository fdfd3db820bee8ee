//! Where things go on the screen, and the small drawing helpers every view
//! and dialog shares: the theme (colour, or reverse video and words with
//! `NO_COLOR`), relative times, eliding text that does not fit, the modal
//! frame and its buttons. Depends on nothing else of the console, so views
//! and dialogs import it without cycles.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear};
use unicode_width::UnicodeWidthChar;

use crate::domain::KeyStatus;

/// From this width the key detail sits beside the list.
pub const BESIDE: u16 = 140;
/// From this width the key list also shows `start` and `created`.
pub const WIDE: u16 = 120;

/// Where everything goes on a screen of `size`.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    pub header: Rect,
    pub toolbar: Rect,
    pub body: Rect,
    pub footer: Rect,
}

#[must_use]
pub fn areas(size: (u16, u16)) -> Areas {
    let screen = Rect::new(0, 0, size.0, size.1);
    let [header, toolbar, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(screen);
    Areas {
        header,
        toolbar,
        body,
        footer,
    }
}

/// The list and the detail of the Keys view: beside each other where there
/// is room, else the list alone (the detail opens with Enter, full size).
#[must_use]
pub fn split_keys(body: Rect, zoomed: bool) -> (Rect, Option<Rect>) {
    if zoomed {
        return (Rect::new(body.x, body.y, body.width, 0), Some(body));
    }
    if body.width >= BESIDE {
        let [list, detail] =
            Layout::horizontal([Constraint::Min(90), Constraint::Length(48)]).areas(body);
        return (list, Some(detail));
    }
    (body, None)
}

/// Rows a list shows on a screen of `size`: inside the border, below the column header.
#[must_use]
pub fn list_rows(size: (u16, u16)) -> usize {
    usize::from(areas(size).body.height.saturating_sub(3))
}

pub struct Theme {
    pub color: bool,
}

impl Theme {
    #[must_use]
    pub fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    #[must_use]
    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    #[must_use]
    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    #[must_use]
    pub fn status(&self, status: KeyStatus) -> Style {
        match status {
            KeyStatus::Active => self.fg(Color::Green),
            KeyStatus::Disabled => self.fg(Color::Yellow),
            KeyStatus::Expired => self.fg(Color::Magenta),
            KeyStatus::Revoked => self.fg(Color::Red).add_modifier(Modifier::DIM),
        }
    }

    #[must_use]
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    #[must_use]
    pub fn success(&self) -> Style {
        self.fg(Color::Green)
    }

    #[must_use]
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The selection: reverse video, visible with or without colour.
    #[must_use]
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// A disabled action: dim and struck through, visible without colour.
    #[must_use]
    pub fn disabled(&self) -> Style {
        self.dim().add_modifier(Modifier::CROSSED_OUT)
    }
}

/// Display width of `text` in terminal cells.
#[must_use]
pub fn width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `text` cut to `max` cells, ending in `…` when cut.
#[must_use]
pub fn fit(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` cut in the middle to `max` cells (`https://keys…ample:7070`), so
/// that both ends stay true; `None` when too little room would be left to
/// recognise it.
#[must_use]
pub fn elide_middle(text: &str, max: usize) -> Option<String> {
    if width(text) <= max {
        return Some(text.to_owned());
    }
    if max < 12 {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let keep = max - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    Some(out)
}

/// "2m ago", "3d ago", "—".
#[must_use]
pub fn ago(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "—".to_owned();
    };
    match (now - at).num_seconds() {
        s if s < 0 => "just now".to_owned(),
        s if s < 60 => format!("{s}s ago"),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// "in 12d", "in 3h", "never".
#[must_use]
pub fn until(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "never".to_owned();
    };
    match (at - now).num_seconds() {
        s if s <= 0 => format!("{} ago", ago(Some(at), now).trim_end_matches(" ago")),
        s if s < 3600 => format!("in {}m", s / 60),
        s if s < 86_400 => format!("in {}h", s / 3600),
        s => format!("in {}d", s / 86_400),
    }
}

#[must_use]
pub fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A bold label in a 12-column gutter, then the value.
#[must_use]
pub fn field(label: &str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!("{label:<12}"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(value),
    ])
}

/// Clears a centred area of at most `width` x `height`, draws a bordered
/// frame titled `title`, and returns its inside.
pub fn modal(frame: &mut Frame, width: u16, height: u16, title: &str) -> Rect {
    let screen = frame.area();
    let area = screen.centered(
        Constraint::Length(width.min(screen.width)),
        Constraint::Length(height.min(screen.height)),
    );
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(format!(
        " {} ",
        fit(title, usize::from(width.saturating_sub(4)))
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// A dialog button; the focused one is bracketed and reversed.
#[must_use]
pub fn button(label: &str, focused: bool, theme: &Theme) -> Span<'static> {
    if focused {
        Span::styled(
            format!("[ {label} ]"),
            theme.selected().add_modifier(Modifier::BOLD),
        )
    } else {
        Span::raw(format!("  {label}  "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elides_in_the_middle_or_not_at_all() {
        let url = "https://keys.internal.example.com:7070";
        assert_eq!(elide_middle(url, 80).as_deref(), Some(url));
        let cut = elide_middle(url, 20).unwrap();
        assert_eq!(width(&cut), 20);
        assert!(
            cut.starts_with("https://k") && cut.ends_with(":7070"),
            "{cut}"
        );
        assert_eq!(elide_middle(url, 8), None);
        assert_eq!(fit("billing-sync-nightly", 8), "billing…");
        assert_eq!(fit("short", 8), "short");
    }
}
