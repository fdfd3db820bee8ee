//! Usage counting off the hot path: each verification bumps a counter in
//! memory; a background task writes the counters in one transaction every
//! few seconds (and at shutdown), never one disk write per verification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::api::Usage24h;
use crate::domain::KeyId;
use crate::store::{Store, UsageBucket};

#[derive(Default)]
struct Pending {
    counts: HashMap<UsageBucket, u64>,
    last_used: HashMap<KeyId, DateTime<Utc>>,
}

#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<Pending>,
}

/// How often counters are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);

impl UsageRecorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one verification of `key` with `outcome` (a verify code).
    pub fn record(&self, key: &KeyId, outcome: &'static str, now: DateTime<Utc>) {
        let bucket = UsageBucket {
            key_id: key.clone(),
            minute: now.timestamp().div_euclid(60),
            outcome,
        };
        let mut pending = self.lock();
        *pending.counts.entry(bucket).or_insert(0) += 1;
        if outcome == "VALID" {
            pending.last_used.insert(key.clone(), now);
        }
    }

    /// Counts not yet written for `keys`, from `since_minute` on, and their
    /// latest successful use; one pass over what is pending.
    #[must_use]
    pub fn pending_for(
        &self,
        keys: &[KeyId],
        since_minute: i64,
    ) -> HashMap<KeyId, (Usage24h, Option<DateTime<Utc>>)> {
        let pending = self.lock();
        let mut out: HashMap<KeyId, (Usage24h, Option<DateTime<Utc>>)> = keys
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    (Usage24h::default(), pending.last_used.get(k).copied()),
                )
            })
            .collect();
        for (bucket, count) in &pending.counts {
            if bucket.minute < since_minute {
                continue;
            }
            if let Some((usage, _)) = out.get_mut(&bucket.key_id) {
                if bucket.outcome == "VALID" {
                    usage.valid += count;
                } else {
                    usage.failed += count;
                }
            }
        }
        out
    }

    /// Writes everything pending; on failure the counts are put back for the next try.
    pub async fn flush(&self, store: &dyn Store) {
        let taken = std::mem::take(&mut *self.lock());
        if taken.counts.is_empty() && taken.last_used.is_empty() {
            return;
        }
        let counts: Vec<_> = taken.counts.iter().map(|(b, n)| (b.clone(), *n)).collect();
        let last_used: Vec<_> = taken
            .last_used
            .iter()
            .map(|(k, at)| (k.clone(), *at))
            .collect();
        if let Err(err) = store.record_usage(&counts, &last_used).await {
            tracing::warn!(error = %err, "writing usage failed; will retry");
            let mut pending = self.lock();
            for (bucket, count) in taken.counts {
                *pending.counts.entry(bucket).or_insert(0) += count;
            }
            for (key, at) in taken.last_used {
                let entry = pending.last_used.entry(key).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
    }

    /// Flushes every [`FLUSH_INTERVAL`] until the task is aborted.
    pub async fn run(self: Arc<Self>, store: Arc<dyn Store>) {
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.flush(store.as_ref()).await;
        }
    }
}
