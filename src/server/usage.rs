//! Usage, off the hot path: each verification bumps a counter in memory; a
//! background task writes the counters in one transaction every few seconds
//! (and at shutdown), never one disk write per verification. The same task
//! then judges the keys it wrote for suspicion (SPEC §2 Usage) into an
//! in-memory set that key bodies and `?suspicious=true` read, and now and
//! then deletes usage rows past their retention. `GET …/keys/{id}/usage`
//! serves a key's history from the stored rows plus what is still pending.
//!
//! Retention: minute rows 48 hours ([`MINUTE_RETENTION`]), hour rows 8 days
//! by default ([`Retention::usage`], at least 7); every count is written to
//! both (migration 0003). The same pruning deletes idempotency records and,
//! when a retention is set for them, events ([`Retention`]).
//!
//! `keydesk serve --usage-history off` switches the counting off
//! ([`UsageRecorder::off`]): verifications then leave no usage rows, no
//! `last_used_at` and no suspicion flags (retention still prunes). It exists
//! so the cost of usage history on the verification path can be measured
//! (bench/run.sh).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiPath, ApiQuery, Caller};
use super::{AppState, visible_tenant};
use crate::api::{self, Problem, Usage24h};
use crate::domain::{KeyId, SuspicionRules, UsageWindow};
use crate::store::{Store, UsageBucket, UsageResolution, UsageRow};

#[derive(Default)]
struct Pending {
    counts: HashMap<UsageBucket, u64>,
    last_used: HashMap<KeyId, DateTime<Utc>>,
}

/// What the flush task decided about suspicion, and its bookkeeping.
#[derive(Default)]
struct Judgments {
    /// The keys judged suspicious, and why.
    flagged: HashMap<KeyId, String>,
    /// Keys whose usage was written since they were last judged.
    due: HashSet<KeyId>,
    /// The unix minute in which every flagged key was last judged again
    /// (so a flag clears once its hour has passed, without new usage).
    rejudged_minute: i64,
    last_pruned: Option<Instant>,
}

#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<Pending>,
    rules: SuspicionRules,
    retention: Retention,
    judgments: Mutex<Judgments>,
    /// Usage history switched off: [`UsageRecorder::record`] counts nothing.
    switched_off: bool,
}

/// How long records are kept (`serve --usage-retention-days`,
/// `--event-retention-days`, `--idempotency-retention-hours`). Past it they
/// are deleted within [`PRUNE_INTERVAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Usage hour rows (the 7 d window): 8 days by default, at least 7.
    pub usage: Duration,
    /// Audit events; `None` (the default): kept for ever.
    pub events: Option<Duration>,
    /// Idempotency records: a retry with the same `Idempotency-Key` within
    /// this long replays the first answer. 24 hours by default.
    pub idempotency: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            usage: HOUR_RETENTION,
            events: None,
            idempotency: Duration::from_secs(24 * 3600),
        }
    }
}

/// How often counters are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);
/// How long minute rows are kept: the 1 h and 24 h windows, the 24 h counts
/// and the suspicion rules' last hour read them.
pub const MINUTE_RETENTION: Duration = Duration::from_secs(48 * 3600);
/// How long hour rows are kept by default: the 7 d window and the suspicion
/// baseline read them.
pub const HOUR_RETENTION: Duration = Duration::from_secs(8 * 24 * 3600);
/// How often rows past their retention are deleted.
const PRUNE_INTERVAL: Duration = Duration::from_secs(600);
/// At most this many keys are judged per flush; the rest wait for the next,
/// so a burst over many keys never makes one flush long.
const JUDGED_PER_FLUSH: usize = 2000;

/// Locks a mutex of counters; one a panic left half-updated still counts.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl UsageRecorder {
    /// A recorder that flags keys by `rules`.
    #[must_use]
    pub fn new(rules: SuspicionRules, retention: Retention) -> Self {
        Self {
            rules,
            retention,
            ..Self::default()
        }
    }

    /// This recorder, counting nothing (`--usage-history off`); its
    /// pruning still runs.
    #[must_use]
    pub fn off(self) -> Self {
        Self {
            switched_off: true,
            ..self
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        lock(&self.pending)
    }

    /// Counts one verification of `key` with `outcome` (a verify code).
    pub fn record(&self, key: &KeyId, outcome: &'static str, now: DateTime<Utc>) {
        if self.switched_off {
            return;
        }
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

    /// The counts of `key` not yet written, from `since_minute` on, as minute rows.
    #[must_use]
    pub fn pending_rows(&self, key: &KeyId, since_minute: i64) -> Vec<UsageRow> {
        self.lock()
            .counts
            .iter()
            .filter(|(bucket, _)| bucket.key_id == *key && bucket.minute >= since_minute)
            .map(|(bucket, count)| UsageRow {
                minute: bucket.minute,
                outcome: bucket.outcome.to_owned(),
                count: *count,
            })
            .collect()
    }

    /// Why `key` is suspicious, if the last judgment found it so.
    #[must_use]
    pub fn suspicion(&self, key: &KeyId) -> Option<String> {
        lock(&self.judgments).flagged.get(key).cloned()
    }

    /// Every key judged suspicious, of every tenant.
    #[must_use]
    pub fn suspicious_keys(&self) -> Vec<KeyId> {
        lock(&self.judgments).flagged.keys().cloned().collect()
    }

    /// Writes everything pending (on failure the counts are put back for
    /// the next try), judges the keys written, and prunes old rows when due.
    pub async fn flush(&self, store: &dyn Store) {
        let taken = std::mem::take(&mut *self.lock());
        if !(taken.counts.is_empty() && taken.last_used.is_empty()) {
            self.write(store, taken).await;
        }
        let now = super::now();
        self.judge(store, now).await;
        self.prune(store, now).await;
    }

    async fn write(&self, store: &dyn Store, taken: Pending) {
        let counts: Vec<_> = taken.counts.iter().map(|(b, n)| (b.clone(), *n)).collect();
        let last_used: Vec<_> = taken
            .last_used
            .iter()
            .map(|(k, at)| (k.clone(), *at))
            .collect();
        match store.record_usage(&counts, &last_used).await {
            Ok(()) => {
                let mut judgments = lock(&self.judgments);
                judgments
                    .due
                    .extend(taken.counts.into_keys().map(|b| b.key_id));
            }
            Err(err) => {
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
    }

    /// Judges the keys whose usage was just written, and once a minute every
    /// flagged key again. The last hour is the 60 minutes up to now; the
    /// baseline, the 24 whole hours before the hour in which it begins.
    async fn judge(&self, store: &dyn Store, now: DateTime<Utc>) {
        let minute = now.timestamp().div_euclid(60);
        let keys: Vec<KeyId> = {
            let mut judgments = lock(&self.judgments);
            let mut keys: HashSet<KeyId> = if judgments.due.len() <= JUDGED_PER_FLUSH {
                std::mem::take(&mut judgments.due)
            } else {
                let some: HashSet<KeyId> = judgments
                    .due
                    .iter()
                    .take(JUDGED_PER_FLUSH)
                    .cloned()
                    .collect();
                judgments.due.retain(|key| !some.contains(key));
                some
            };
            if judgments.rejudged_minute != minute {
                judgments.rejudged_minute = minute;
                keys.extend(judgments.flagged.keys().cloned());
            }
            keys.into_iter().collect()
        };
        if keys.is_empty() {
            return;
        }
        let last_hour_from = minute - 59;
        let hour = last_hour_from.div_euclid(60);
        match store
            .usage_activity(&keys, last_hour_from, hour - 24..hour)
            .await
        {
            Ok(activity) => {
                let mut judgments = lock(&self.judgments);
                for key in keys {
                    let verdict = self
                        .rules
                        .judge(&activity.get(&key).copied().unwrap_or_default());
                    match verdict {
                        Some(reason) => {
                            judgments.flagged.insert(key, reason);
                        }
                        None => {
                            judgments.flagged.remove(&key);
                        }
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "reading usage to judge suspicion failed; will retry");
                lock(&self.judgments).due.extend(keys);
            }
        }
    }

    /// Deletes usage rows past their retention, every [`PRUNE_INTERVAL`].
    async fn prune(&self, store: &dyn Store, now: DateTime<Utc>) {
        {
            let mut judgments = lock(&self.judgments);
            if judgments
                .last_pruned
                .is_some_and(|at| at.elapsed() < PRUNE_INTERVAL)
            {
                return;
            }
            judgments.last_pruned = Some(Instant::now());
        }
        let minute = now.timestamp().div_euclid(60);
        let before_minute = minute - retention_minutes(MINUTE_RETENTION);
        let before_hour = (minute - retention_minutes(self.retention.usage)).div_euclid(60);
        match store.prune_usage(before_minute, before_hour).await {
            Ok(0) => {}
            Ok(rows) => tracing::debug!(rows, "deleted usage rows past their retention"),
            Err(err) => tracing::warn!(error = %err, "deleting old usage rows failed"),
        }
        let ago = |retention: Duration| {
            chrono::Duration::from_std(retention)
                .ok()
                .and_then(|retention| now.checked_sub_signed(retention))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let events_before = self.retention.events.map(ago);
        match store
            .prune_records(events_before, ago(self.retention.idempotency))
            .await
        {
            Ok(0) => {}
            Ok(rows) => tracing::info!(
                rows,
                "deleted events and idempotency records past their retention"
            ),
            Err(err) => {
                tracing::warn!(error = %err, "deleting old events and idempotency records failed")
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

fn retention_minutes(retention: Duration) -> i64 {
    i64::try_from(retention.as_secs() / 60).unwrap_or(i64::MAX)
}

/// Sorts `rows` into the buckets of `window` ending now: every bucket, oldest first.
#[must_use]
pub fn history(window: UsageWindow, now: DateTime<Utc>, rows: &[UsageRow]) -> api::UsageHistory {
    let first = window.first_minute(now);
    let size = window.bucket_minutes();
    let mut buckets: Vec<api::UsageBucketBody> = (0..window.buckets())
        .map(|i| api::UsageBucketBody {
            start: DateTime::from_timestamp((first + i * size) * 60, 0).unwrap_or_default(),
            valid: 0,
            failed: BTreeMap::new(),
        })
        .collect();
    for row in rows {
        let index = (window.bucket_of(row.minute) - first).div_euclid(size);
        let Some(bucket) = usize::try_from(index)
            .ok()
            .and_then(|index| buckets.get_mut(index))
        else {
            continue;
        };
        if row.outcome == "VALID" {
            bucket.valid += row.count;
        } else {
            *bucket.failed.entry(row.outcome.clone()).or_insert(0) += row.count;
        }
    }
    api::UsageHistory {
        window: window.as_str().to_owned(),
        bucket_seconds: u32::try_from(size * 60).unwrap_or(u32::MAX),
        buckets,
    }
}

/// Query parameters of a key's usage history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// `1h` (minute buckets), `24h` (15-minute buckets; the default) or `7d` (hour buckets).
    window: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/keys/{id}/usage", tag = "keys",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Key id"),
        UsageParams,
    ),
    responses(
        (status = 200, description = "The key's verifications in buckets, oldest first: successes, and failures by code", body = api::UsageHistory),
        (status = 401, description = "No or an invalid management token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller holds no role in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key in this tenant, or not the caller's tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A window other than 1h, 24h or 7d", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn key_usage(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> ApiResult<Json<api::UsageHistory>> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let window = match params.window.as_deref() {
        None | Some("") => UsageWindow::Day,
        Some(raw) => UsageWindow::parse(raw).ok_or_else(|| {
            ApiError::invalid(format!("window: {raw:?} is not one of 1h, 24h, 7d"))
        })?,
    };
    let key = state
        .store
        .get_key(&tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("key"))?;
    let now = super::now();
    let first = window.first_minute(now);
    let resolution = match window {
        UsageWindow::Hour | UsageWindow::Day => UsageResolution::Minute,
        UsageWindow::Week => UsageResolution::Hour,
    };
    let mut rows = state
        .store
        .usage_history(&key.id, resolution, first)
        .await?;
    rows.extend(state.usage.pending_rows(&key.id, first));
    Ok(Json(history(window, now, &rows)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::KeyActivity;
    use crate::store::sqlite::SqliteStore;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn row(minute: i64, outcome: &str, count: u64) -> UsageRow {
        UsageRow {
            minute,
            outcome: outcome.to_owned(),
            count,
        }
    }

    #[test]
    fn rows_fall_into_their_buckets_and_failures_keep_their_codes() {
        let now = at("2025-03-01T10:37:20Z");
        let minute = now.timestamp() / 60;
        let rows = [
            row(minute, "VALID", 3),
            row(minute - 5, "VALID", 1),
            row(minute - 5, "REVOKED", 2),
            row(minute - 20, "REVOKED", 1),
            row(minute - 20, "DISABLED", 4),
            // Before the 24 h window, and in the future: left out.
            row(minute - 24 * 60, "VALID", 100),
            row(minute + 60, "VALID", 100),
        ];
        let day = history(UsageWindow::Day, now, &rows);
        assert_eq!((day.window.as_str(), day.bucket_seconds), ("24h", 900));
        assert_eq!(day.buckets.len(), 96);
        let last = &day.buckets[95];
        assert_eq!(last.start, at("2025-03-01T10:30:00Z"));
        assert_eq!(last.valid, 4);
        assert_eq!(last.failed, BTreeMap::from([("REVOKED".to_owned(), 2)]));
        // 10:17 is in the 10:15 bucket.
        let earlier = &day.buckets[94];
        assert_eq!(earlier.start, at("2025-03-01T10:15:00Z"));
        assert_eq!(earlier.valid, 0);
        assert_eq!(
            earlier.failed,
            BTreeMap::from([("DISABLED".to_owned(), 4), ("REVOKED".to_owned(), 1)])
        );
        let total: u64 = day.buckets.iter().map(|b| b.valid).sum();
        assert_eq!(total, 4, "rows outside the window are left out");

        let hour = history(UsageWindow::Hour, now, &rows);
        assert_eq!((hour.buckets.len(), hour.bucket_seconds), (60, 60));
        assert_eq!(hour.buckets[59].start, at("2025-03-01T10:37:00Z"));
        assert_eq!(hour.buckets[59].valid, 3);
        assert_eq!(hour.buckets[54].failed["REVOKED"], 2);

        let week = history(UsageWindow::Week, now, &[row(minute - 37, "VALID", 9)]);
        assert_eq!((week.buckets.len(), week.bucket_seconds), (168, 3600));
        assert_eq!(week.buckets[167].start, at("2025-03-01T10:00:00Z"));
        assert_eq!(week.buckets[167].valid, 9);
    }

    /// Writes `count` verifications of `key` with `outcome`, `minutes_ago` before now.
    async fn used(
        store: &SqliteStore,
        key: &KeyId,
        minutes_ago: i64,
        outcome: &'static str,
        count: u64,
    ) {
        let minute = Utc::now().timestamp().div_euclid(60) - minutes_ago;
        let bucket = UsageBucket {
            key_id: key.clone(),
            minute,
            outcome,
        };
        store.record_usage(&[(bucket, count)], &[]).await.unwrap();
    }

    async fn store_with_key() -> (tempfile::TempDir, SqliteStore, KeyId) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("usage.db")).unwrap();
        let settings = crate::domain::TenantSettings {
            api_keys_enabled: true,
            ..crate::domain::TenantSettings::default()
        };
        let key = crate::domain::key::tests::new_key(settings);
        let id = key.id.clone();
        // The key's tenant and owner, as the foreign keys want them.
        let tenant = crate::domain::Tenant {
            id: key.tenant_id.clone(),
            name: crate::domain::DisplayName::parse("Acme").unwrap(),
            settings: crate::domain::TenantSettings::default(),
            settings_version: 1,
            created_at: Utc::now(),
        };
        let owner = crate::domain::User {
            id: key.owner.id.clone(),
            name: crate::domain::PersonName::parse("Ana").unwrap(),
            email: crate::domain::Email::parse("ana@example.com").unwrap(),
            tenant_id: Some(key.tenant_id.clone()),
            roles: crate::domain::Roles::new([crate::domain::Role::Developer]),
            licensed: true,
            created_at: Utc::now(),
            disabled: false,
            has_token: true,
        };
        let event = crate::domain::NewEvent {
            at: Utc::now(),
            tenant_id: Some(key.tenant_id.clone()),
            action: crate::domain::EventAction::TenantCreated,
            actor: key.owner.clone(),
            target_id: key.tenant_id.as_str().to_owned(),
            target_name: "Acme".to_owned(),
            source: "test".to_owned(),
            changes: serde_json::Value::Null,
        };
        store.create_tenant(&tenant, &event).await.unwrap();
        store
            .create_user(&owner, "digest-of-ana", &event)
            .await
            .unwrap();
        store.import_keys(vec![key]).await.unwrap();
        (dir, store, id)
    }

    #[tokio::test]
    async fn a_spike_is_judged_against_the_keys_own_baseline_from_the_hour_rows() {
        let (_dir, store, key) = store_with_key().await;
        let recorder = UsageRecorder::new(SuspicionRules::default(), Retention::default());
        // 24 hours at 20 an hour, ending 3 hours ago: the baseline (the
        // minute rows are there too, but the baseline reads the hour rows).
        for hours_ago in 3..27 {
            used(&store, &key, hours_ago * 60, "VALID", 20).await;
        }
        used(&store, &key, 10, "VALID", 150).await;
        lock(&recorder.judgments).due.insert(key.clone());
        recorder.judge(&store, Utc::now()).await;
        assert_eq!(
            recorder.suspicion(&key),
            None,
            "150 is not 10× a mean of 20"
        );

        used(&store, &key, 5, "VALID", 60).await;
        lock(&recorder.judgments).due.insert(key.clone());
        recorder.judge(&store, Utc::now()).await;
        let reason = recorder.suspicion(&key).expect("210 is more than 10× 20");
        assert!(reason.starts_with("spike: 210 verifications"), "{reason}");
        assert_eq!(recorder.suspicious_keys(), vec![key.clone()]);

        // An hour later the spike has left the window: the flag clears
        // although the key was not used again.
        recorder
            .judge(&store, Utc::now() + chrono::Duration::minutes(61))
            .await;
        assert_eq!(recorder.suspicion(&key), None);
        assert_eq!(
            store
                .usage_activity(std::slice::from_ref(&key), 0, 0..1)
                .await
                .unwrap()
                .get(&key)
                .copied()
                .unwrap_or_default(),
            KeyActivity {
                last_hour_valid: 24 * 20 + 210,
                last_hour_failed: 0,
                baseline_24h: 0,
            }
        );
    }

    #[tokio::test]
    async fn rows_past_their_retention_are_pruned_and_hour_rows_outlive_minute_rows() {
        let (_dir, store, key) = store_with_key().await;
        used(&store, &key, 3 * 24 * 60, "VALID", 7).await; // 3 days ago
        used(&store, &key, 9 * 24 * 60, "VALID", 5).await; // 9 days ago
        used(&store, &key, 1, "REVOKED", 2).await;
        let recorder = UsageRecorder::default();
        recorder.flush(&store).await;
        let since = Utc::now().timestamp() / 60 - 10 * 24 * 60;
        let minutes = store
            .usage_history(&key, UsageResolution::Minute, since)
            .await
            .unwrap();
        assert_eq!(minutes.len(), 1, "only the last 48 h of minute rows stay");
        assert_eq!(minutes[0].outcome, "REVOKED");
        let hours = store
            .usage_history(&key, UsageResolution::Hour, since)
            .await
            .unwrap();
        let counts: Vec<u64> = hours.iter().map(|r| r.count).collect();
        assert_eq!(counts, [7, 2], "hour rows stay 8 days");
    }
}
