//! The selected key's recent activity for the detail: its verifications
//! over 24 h (the sparkline) and its last audit events. Asked for when the
//! cursor rests on a key whose detail is shown, kept for a minute, asked
//! again at once when an event names the key.

use std::time::{Duration, Instant};

use super::KeysView;
use crate::api;
use crate::console::net::Reply;
use crate::console::shell::Shell;

/// The selected key's recent activity, shown in the detail: its
/// verifications over 24 h (the sparkline) and its last audit events.
pub struct Activity {
    pub id: String,
    pub usage: Option<api::UsageHistory>,
    pub events: Option<Vec<api::EventBody>>,
    asked: Instant,
}

/// Activity is read again after this long, or at once when an event names the key.
const ACTIVITY_FRESH: Duration = Duration::from_secs(60);
/// Events the detail lists at most.
pub const ACTIVITY_EVENTS: u32 = 8;

impl KeysView {
    /// The activity of the key the detail shows, if it is that key's.
    #[must_use]
    pub fn activity_of(&self, id: &str) -> Option<&Activity> {
        self.activity.as_ref().filter(|a| a.id == id)
    }

    /// Every tick: asks for the selected key's activity when the detail
    /// shows it (zoomed, or beside the list) and the cursor rests on it.
    pub fn tick(&mut self, detail_beside: bool, shell: &Shell) {
        let selected = self.selected.as_ref().map(|(id, _)| id.clone());
        let resting = selected.is_some() && selected == self.resting;
        self.resting = selected;
        if resting && (self.zoomed || detail_beside) {
            self.fetch_activity(shell, false);
        }
    }

    /// Asks for the selected key's usage and events, unless fresh ones are
    /// here (or `now`: at once, as after a lookup).
    pub(super) fn fetch_activity(&mut self, shell: &Shell, now: bool) {
        let Some((id, _)) = self.selected.clone() else {
            return;
        };
        let fresh = self
            .activity_of(&id)
            .is_some_and(|a| a.asked.elapsed() < ACTIVITY_FRESH);
        if fresh && !now {
            return;
        }
        match self.activity.as_mut().filter(|a| a.id == id) {
            Some(activity) => activity.asked = Instant::now(),
            None => {
                self.activity = Some(Activity {
                    id: id.clone(),
                    usage: None,
                    events: None,
                    asked: Instant::now(),
                });
            }
        }
        let key = id.clone();
        shell.request(move |client, tenant| async move {
            let result = client
                .key_usage(&tenant, &key, crate::domain::UsageWindow::Day)
                .await;
            Reply::KeyUsage { id: key, result }
        });
        shell.request(move |client, tenant| async move {
            let result = client
                .events_page(&tenant, Some(&id), None, Some(ACTIVITY_EVENTS))
                .await;
            Reply::KeyEvents { id, result }
        });
    }

    /// An event named key `id`: its activity is read again at the next tick.
    pub fn activity_changed(&mut self, id: &str) {
        if let Some(activity) = self.activity.as_mut().filter(|a| a.id == id) {
            activity.asked = Instant::now()
                .checked_sub(ACTIVITY_FRESH)
                .unwrap_or_else(Instant::now);
        }
    }

    /// A usage history or an event page for the key whose activity is shown.
    pub(super) fn on_activity(&mut self, reply: Reply) {
        match reply {
            Reply::KeyUsage { id, result } => {
                if let Some(activity) = self.activity.as_mut().filter(|a| a.id == id) {
                    match result {
                        Ok(usage) => activity.usage = Some(usage),
                        Err(err) => tracing::debug!("usage of {id}: {err}"),
                    }
                }
            }
            Reply::KeyEvents { id, result } => {
                if let Some(activity) = self.activity.as_mut().filter(|a| a.id == id) {
                    match result {
                        Ok(list) => activity.events = Some(list.items),
                        Err(err) => tracing::debug!("events of {id}: {err}"),
                    }
                }
            }
            _ => {}
        }
    }
}
