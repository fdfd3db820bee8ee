//! The live event feed both backends publish through: a bounded broadcast
//! ring of committed events ([`Store::subscribe_events`]) and the hook that
//! runs with each event before any subscriber sees it
//! ([`Store::before_publishing`]). Each backend decides *when* to publish
//! (after commit, in the tenant's id order); this module only hands events out.
//!
//! [`Store::subscribe_events`]: super::Store::subscribe_events
//! [`Store::before_publishing`]: super::Store::before_publishing

use std::sync::{Arc, OnceLock};

use super::{CommitHook, KeysHook};
use crate::domain::{ApiKey, Event};

/// How many committed events the live feed holds for a subscriber that
/// has not read them yet, unless the store is told otherwise.
pub const EVENT_BUFFER: usize = 1024;

/// Sending never waits: the channel is a bounded ring, and a subscriber that
/// falls behind loses its place (`Lagged`), not the writer its time.
#[derive(Clone)]
pub(crate) struct EventFeed {
    sender: tokio::sync::broadcast::Sender<Arc<Event>>,
    /// Runs with each event before it is sent.
    hook: Arc<OnceLock<CommitHook>>,
    /// Runs with each key written ([`super::Store::when_keys_written`]).
    keys_hook: Arc<OnceLock<KeysHook>>,
}

impl EventFeed {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            sender: tokio::sync::broadcast::channel(capacity.clamp(1, 1 << 20)).0,
            hook: Arc::new(OnceLock::new()),
            keys_hook: Arc::new(OnceLock::new()),
        }
    }

    /// A feed with another capacity and the same hook (set before anyone subscribes).
    pub(crate) fn with_capacity(&self, capacity: usize) -> Self {
        Self {
            sender: tokio::sync::broadcast::channel(capacity.clamp(1, 1 << 20)).0,
            hook: Arc::clone(&self.hook),
            keys_hook: Arc::clone(&self.keys_hook),
        }
    }

    /// Runs the hook with `event`, then sends it to every subscriber.
    pub(crate) fn publish(&self, event: Event) {
        if let Some(hook) = self.hook.get() {
            hook(&event);
        }
        // No subscriber is not an error.
        let _ = self.sender.send(Arc::new(event));
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }

    /// Tells the keys hook every secret digest of keys just written.
    pub(crate) fn keys_written<'a>(&self, keys: impl IntoIterator<Item = &'a ApiKey>) {
        self.digests_given(keys.into_iter().flat_map(|key| {
            std::iter::once(key.secret_digest.as_str()).chain(key.previous_secret_digest.as_deref())
        }));
    }

    /// Tells the keys hook of secret digests keys hold now.
    pub(crate) fn digests_given<'a>(&self, digests: impl IntoIterator<Item = &'a str>) {
        if let Some(hook) = self.keys_hook.get() {
            for digest in digests {
                hook(digest);
            }
        }
    }

    pub(crate) fn set_keys_hook(&self, hook: KeysHook) {
        if self.keys_hook.set(hook).is_err() {
            tracing::warn!("a second hook for written keys was ignored");
        }
    }

    pub(crate) fn set_hook(&self, hook: CommitHook) {
        if self.hook.set(hook).is_err() {
            tracing::warn!("a second hook before publishing was ignored");
        }
    }
}
