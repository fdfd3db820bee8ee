//! The Events view: the tenant's audit log, newest first, live from the
//! stream, scrollable and filterable; Enter on a key's event jumps to the
//! key, on any other shows the event with what it changed.
//!
//! The filter is words, all of which must match: plain text (in action,
//! actor, target or source), `action:key.revoked`, `actor:ana`, `key:NAME`
//! (the target's name or ID), and `-` before any word to exclude.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Cell, Row};

use crate::api;
use crate::console::dialog::Dialog;
use crate::console::keymap::Action;
use crate::console::layout::{Theme, fit, stamp};
use crate::console::net::Reply;
use crate::console::shell::Shell;
use crate::console::views::{ViewId, draw_list, tabs_title};
use crate::console::widgets::list_cursor::{ListCursor, Move};
use crate::domain::text::strip_control as clean;

#[derive(Default)]
pub struct EventsView {
    pub events: Vec<api::EventBody>,
    pub cursor: ListCursor,
    pub filter: String,
    /// The selected event's id: the identity the cursor follows.
    selected: Option<i64>,
}

impl EventsView {
    #[must_use]
    pub fn visible(&self) -> Vec<usize> {
        let filter = self.filter.to_lowercase();
        let words: Vec<&str> = filter.split_whitespace().collect();
        (0..self.events.len())
            .filter(|&i| words.iter().all(|word| matches(&self.events[i], word)))
            .collect()
    }

    fn follow(&mut self) {
        let visible = self.visible();
        let position = self
            .selected
            .and_then(|id| visible.iter().position(|&i| self.events[i].id == id));
        self.cursor.follow(position, visible.len());
        self.selected = visible.get(self.cursor.row).map(|&i| self.events[i].id);
    }

    pub fn set_filter(&mut self, filter: &str) {
        self.filter = filter.to_owned();
        self.follow();
    }

    pub fn set_height(&mut self, rows: usize) {
        self.cursor.set_height(rows, self.visible().len());
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    pub fn load(shell: &Shell) {
        shell.request(|client, tenant| async move {
            Reply::Events(client.events(&tenant, None, None).await)
        });
    }

    pub fn on_reply(&mut self, reply: Reply, shell: &mut Shell) {
        if let Reply::Events(result) = reply {
            match result {
                Ok(list) => {
                    shell.reconnected();
                    // Keep live events newer than the page (they may have
                    // arrived while it loaded).
                    let newest = list.items.first().map_or(0, |e| e.id);
                    let mut events: Vec<api::EventBody> =
                        self.events.drain(..).filter(|e| e.id > newest).collect();
                    events.extend(list.items);
                    self.events = events;
                    self.follow();
                }
                Err(err) => shell.failed("loading events", &err),
            }
        }
    }

    /// The event under the cursor.
    #[must_use]
    pub fn selected_event(&self) -> Option<&api::EventBody> {
        let id = self.selected?;
        self.events.iter().find(|e| e.id == id)
    }

    /// The newest event's id, to follow the stream from.
    #[must_use]
    pub fn newest_id(&self) -> Option<i64> {
        self.events.iter().map(|e| e.id).max()
    }

    /// An event from the live stream: on top, unless already listed. A
    /// cursor on the newest event stays on the newest, as `tail -f` does.
    pub fn push_live(&mut self, event: api::EventBody) {
        if self.events.iter().any(|e| e.id == event.id) {
            return;
        }
        if self.cursor.row == 0 {
            self.selected = None;
        }
        let at = self
            .events
            .iter()
            .position(|e| e.id < event.id)
            .unwrap_or(self.events.len());
        self.events.insert(at, event);
        self.follow();
    }

    pub fn on_action(&mut self, action: Action, shell: &mut Shell) {
        let count = self.visible().len();
        let movement = match Move::from_action(action) {
            Some(movement) => movement,
            None if action == Action::Open => {
                let visible = self.visible();
                if let Some(event) = visible.get(self.cursor.row).map(|&i| &self.events[i]) {
                    shell.dialogs.open(detail(event));
                }
                return;
            }
            None => return,
        };
        self.move_cursor(movement, count);
    }

    fn move_cursor(&mut self, movement: Move, count: usize) {
        self.cursor.apply(movement, count);
        let visible = self.visible();
        self.selected = visible.get(self.cursor.row).map(|&i| self.events[i].id);
    }

    pub fn render(&self, theme: &Theme, frame: &mut Frame, area: Rect) {
        let block = Block::bordered().title(tabs_title(ViewId::Events));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let visible = self.visible();
        let target_width = usize::from(inner.width.saturating_sub(14 + 20 + 12 + 15 + 5)).max(8);
        let rows: Vec<Row> = self
            .cursor
            .window(visible.len())
            .map(|row| {
                let e = &self.events[visible[row]];
                Row::new(vec![
                    Cell::from(e.at.format("%m-%d %H:%M:%S").to_string()),
                    Cell::from(fit(&clean(&e.action), 20)),
                    Cell::from(fit(&clean(&e.actor.name), 12)),
                    Cell::from(fit(&clean(&e.target_name), target_width)),
                    Cell::from(fit(&clean(&e.source), 15)),
                ])
            })
            .collect();
        let empty = if self.filter.is_empty() {
            "no events yet"
        } else {
            "no event matches the filter (Esc clears it)"
        };
        let widths = [14, 20, 12, 0, 15].map(|w| {
            if w == 0 {
                Constraint::Min(8)
            } else {
                Constraint::Length(w)
            }
        });
        let header = Row::new(["TIME", "ACTION", "ACTOR", "TARGET", "SOURCE"]);
        draw_list(
            frame,
            inner,
            (header, widths.to_vec()),
            rows,
            (&self.cursor, visible.len()),
            empty,
            theme,
        );
    }
}

/// Whether `event` matches one lowercase filter word.
fn matches(event: &api::EventBody, word: &str) -> bool {
    let (exclude, word) = match word.strip_prefix('-') {
        Some(rest) if !rest.is_empty() => (true, rest),
        _ => (false, word),
    };
    let has = |text: &str, needle: &str| text.to_lowercase().contains(needle);
    let found = match word.split_once(':') {
        Some(("action", v)) => has(&event.action, v),
        Some(("actor", v)) => has(&event.actor.name, v),
        Some(("key" | "target", v)) => has(&event.target_name, v) || has(&event.target_id, v),
        _ => {
            has(&event.action, word)
                || has(&event.actor.name, word)
                || has(&event.target_name, word)
                || has(&event.target_id, word)
                || has(&event.source, word)
        }
    };
    found != exclude
}

/// One event in full: who did what to which target, from where, what changed.
fn detail(e: &api::EventBody) -> Dialog {
    let mut lines = vec![
        format!("time     {}", stamp(e.at)),
        format!("actor    {}", e.actor.name),
        format!("target   {} ({})", e.target_name, e.target_id),
        format!("source   {}", e.source),
    ];
    if let Some(changes) = e.changes.as_object().filter(|c| !c.is_empty()) {
        lines.push(String::new());
        lines.push("changes".to_owned());
        for (field, change) in changes {
            lines.push(format!("  {field}: {change}"));
        }
    }
    Dialog::Message {
        title: e.action.clone(),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, action: &str, actor: &str, target: &str) -> api::EventBody {
        api::EventBody {
            id,
            at: chrono::Utc::now(),
            tenant: Some("acme".to_owned()),
            action: action.to_owned(),
            actor: crate::domain::UserRef {
                id: crate::domain::UserId::from_trusted(format!("usr_{actor}")),
                name: actor.to_owned(),
            },
            target_id: format!("key_{target}"),
            target_name: target.to_owned(),
            source: "10.0.0.1".to_owned(),
            changes: serde_json::json!({}),
        }
    }

    fn shown(view: &EventsView, filter: &str) -> Vec<i64> {
        let mut view = EventsView {
            events: view.events.clone(),
            ..EventsView::default()
        };
        view.set_filter(filter);
        view.visible().iter().map(|&i| view.events[i].id).collect()
    }

    #[test]
    fn the_filter_takes_action_actor_and_key_words() {
        let view = EventsView {
            events: vec![
                event(3, "key.revoked", "ana", "ledger"),
                event(2, "key.created", "bo", "ledger"),
                event(1, "key.revoked", "bo", "billing"),
            ],
            ..EventsView::default()
        };
        assert_eq!(shown(&view, "action:revoked"), [3, 1]);
        assert_eq!(shown(&view, "actor:bo key:ledger"), [2]);
        assert_eq!(shown(&view, "revoked -actor:ana"), [1]);
        assert_eq!(shown(&view, "key:key_billing"), [1]);
        assert_eq!(shown(&view, ""), [3, 2, 1]);
    }

    #[test]
    fn a_cursor_on_the_newest_event_stays_on_the_newest() {
        let mut view = EventsView::default();
        view.set_height(10);
        view.push_live(event(1, "key.created", "ana", "a"));
        view.push_live(event(2, "key.created", "ana", "b"));
        assert_eq!(view.selected_event().map(|e| e.id), Some(2));
        view.move_cursor(Move::Down, 2);
        view.push_live(event(3, "key.created", "ana", "c"));
        assert_eq!(
            view.selected_event().map(|e| e.id),
            Some(1),
            "a chosen event stays chosen"
        );
    }
}
