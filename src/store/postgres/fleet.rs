//! The fleet on PostgreSQL (issue 10 points 3 and 5): how a change
//! committed by one instance reaches every other instance's caches and
//! live event streams within a second, and how each instance says which
//! change it has applied.
//!
//! - **A commit-ordered change counter.** A write that inserted events
//!   bumps the one row of `keydesk_changes` just before it commits
//!   ([`bump`]): the row lock is held to the commit, so change numbers are
//!   handed out in commit order across the fleet. Its events record the
//!   number, and `pg_notify('keydesk_changes', …)` is sent in the same
//!   transaction (delivered only if it commits).
//! - **One applier per instance.** Everything this process publishes, its
//!   own commits and other instances', goes through [`Fleet::catch_up`] or
//!   [`Fleet::publish_own`] under the store's `publishing` mutex, strictly
//!   in change order: a change is applied once (`applied` only grows), and
//!   each tenant's events reach the feed in id order.
//! - **Three ways to learn of a change**: the `LISTEN` connection
//!   ([`listen`]); the backstop that reads the counter every 250 ms
//!   ([`check`]) and re-reads what no notification brought within 200 ms;
//!   and a local commit, which first applies the changes before its own.
//!   An instance that loses its listening connection, or cannot read the
//!   counter, forgets every cached answer at once (the reset hook) and
//!   re-reads what it missed when it can.
//! - **Heartbeats** ([`heartbeat`]): `keydesk_instances` holds each
//!   instance's applied change, written every second and right after each
//!   change it applies, for `GET /v1/fleet` and `?wait=fleet`.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use chrono::Utc;
use deadpool_postgres::{GenericClient, Pool};
use futures::StreamExt as _;

use super::{EVENT_SELECT, event_from_row, millis, query};
use crate::domain::Event;
use crate::store::feed::EventFeed;
use crate::store::{FleetInstance, FleetView, InstanceInfo, ResetHook, StoreError, StoreResult};

/// The notification channel.
pub(super) const CHANNEL: &str = "keydesk_changes";
/// How often the backstop reads the change counter.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How long a change may wait for its notification before the backstop
/// re-reads it: with [`CHECK_EVERY`], at most ~500 ms after its commit.
const NOTIFICATION_GRACE: Duration = Duration::from_millis(200);
/// How often an instance writes its heartbeat when nothing changes.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How long to wait before connecting again to listen.
const RECONNECT_AFTER: Duration = Duration::from_millis(250);

/// What this process knows of the fleet: the change it has applied, who
/// it is, and what to run when it may have missed a change.
pub(super) struct Fleet {
    /// The highest change applied; written only under `publishing`.
    applied: AtomicI64,
    /// When `applied` last grew (unix milliseconds).
    applied_at: AtomicI64,
    me: OnceLock<InstanceInfo>,
    reset: OnceLock<ResetHook>,
    /// Wakes the heartbeat after a change is applied.
    beat: Arc<tokio::sync::Notify>,
    /// Whether the listening connection is up.
    listening: AtomicBool,
    /// Whether this store's fleet tasks run: only then does it hear of
    /// every key other instances write.
    joined: AtomicBool,
    /// A fallback id for writes before [`Fleet::join`] (start-up).
    unnamed: String,
}

impl Fleet {
    pub(super) fn new(applied: i64) -> Self {
        Self {
            applied: AtomicI64::new(applied),
            applied_at: AtomicI64::new(millis(Utc::now())),
            me: OnceLock::new(),
            reset: OnceLock::new(),
            beat: Arc::new(tokio::sync::Notify::new()),
            listening: AtomicBool::new(false),
            joined: AtomicBool::new(false),
            unnamed: format!("starting-{:x}", rand::random::<u32>()),
        }
    }

    /// Whether the fleet's tasks run (see [`Tasks::start`]).
    pub(super) fn joined(&self) -> bool {
        self.joined.load(Ordering::SeqCst)
    }

    pub(super) fn applied(&self) -> i64 {
        self.applied.load(Ordering::SeqCst)
    }

    pub(super) fn instance_id(&self) -> &str {
        self.me.get().map_or(&self.unnamed, |me| &me.id)
    }

    pub(super) fn set_reset(&self, hook: ResetHook) {
        if self.reset.set(hook).is_err() {
            tracing::warn!("a second fleet reset hook was ignored");
        }
    }

    /// Forgets every cached answer: a change may have been missed.
    fn reset(&self) {
        if let Some(hook) = self.reset.get() {
            hook();
        }
    }

    fn advance(&self, to: i64) {
        if to > self.applied() {
            self.applied.store(to, Ordering::SeqCst);
            self.applied_at.store(millis(Utc::now()), Ordering::SeqCst);
            self.beat.notify_one();
        }
    }

    /// Publishes the events of every change after the applied one up to
    /// `to`, read through `client`, in change and id order. The caller
    /// holds the store's `publishing` mutex, and `client` was taken before
    /// it (a connection is never awaited under the mutex: commits waiting
    /// for the mutex hold connections). On failure nothing is marked
    /// applied and every cached answer is forgotten.
    pub(super) async fn catch_up(
        &self,
        client: &impl GenericClient,
        feed: &EventFeed,
        to: i64,
    ) -> StoreResult<()> {
        let from = self.applied();
        if to <= from {
            return Ok(());
        }
        match read_changes(client, from, to).await {
            Ok(changes) => {
                changes.publish(feed);
                self.advance(to);
                Ok(())
            }
            Err(err) => {
                self.reset();
                Err(err)
            }
        }
    }

    /// The events of the changes before `change` this process has not
    /// applied, read in the committing transaction (which holds the
    /// counter's row: every change before it has committed) under
    /// `publishing`, to be published before its own.
    pub(super) async fn unapplied_before(
        &self,
        tx: &impl GenericClient,
        change: i64,
    ) -> StoreResult<Changes> {
        let applied = self.applied();
        if change <= applied + 1 {
            return Ok(Changes::default());
        }
        read_changes(tx, applied, change - 1).await
    }

    /// Publishes this process's committed change `change`: first `earlier`
    /// (the changes of other instances before it), then its `events`. The
    /// caller holds `publishing`.
    pub(super) fn publish_own(
        &self,
        feed: &EventFeed,
        change: i64,
        earlier: Changes,
        events: Vec<Event>,
    ) {
        if change <= self.applied() {
            return;
        }
        earlier.publish(feed);
        for event in events {
            feed.publish(event);
        }
        self.advance(change);
    }
}

/// Numbers the committing change in `tx` and announces it: the counter's
/// next value (its row locked to the commit), recorded on `event_ids` and
/// sent on [`CHANNEL`] with this instance's id. The payload stays far
/// under PostgreSQL's 8000 bytes whatever the change: receivers re-read
/// its events by number.
pub(super) async fn bump(
    tx: &deadpool_postgres::Transaction<'_>,
    instance: &str,
    event_ids: &[i64],
) -> StoreResult<i64> {
    let change: i64 = query(tx, "UPDATE keydesk_changes SET n = n + 1 RETURNING n", &[])
        .await?
        .first()
        .map(|row| row.get(0))
        .ok_or_else(|| StoreError::Backend("keydesk_changes has no row".to_owned()))?;
    query(
        tx,
        "UPDATE events SET change = $1 WHERE id = ANY($2)",
        &[&change, &event_ids],
    )
    .await?;
    let payload = serde_json::json!({ "change": change, "instance": instance }).to_string();
    query(tx, "SELECT pg_notify($1, $2)", &[&CHANNEL, &payload]).await?;
    Ok(change)
}

/// What other instances changed: their events, and every secret digest
/// the keys those events name hold now (a key made or rotated elsewhere),
/// for the index of digests to learn before the events go out.
#[derive(Default)]
pub(super) struct Changes {
    events: Vec<Event>,
    digests: Vec<String>,
}

impl Changes {
    /// Learns the digests, then publishes the events.
    fn publish(self, feed: &EventFeed) {
        feed.digests_given(self.digests.iter().map(String::as_str));
        for event in self.events {
            feed.publish(event);
        }
    }
}

/// The changes `from` (exclusive) to `to` (inclusive).
async fn read_changes(client: &impl GenericClient, from: i64, to: i64) -> StoreResult<Changes> {
    let sql = format!("{EVENT_SELECT} WHERE change > $1 AND change <= $2 ORDER BY change, id");
    let events: Vec<Event> = query(client, &sql, &[&from, &to])
        .await?
        .iter()
        .map(event_from_row)
        .collect();
    let keys: Vec<&str> = events
        .iter()
        .filter(|e| e.event.action.as_str().starts_with("key."))
        .map(|e| e.event.target_id.as_str())
        .collect();
    let digests = if keys.is_empty() {
        Vec::new()
    } else {
        query(
            client,
            "SELECT secret_digest FROM keys WHERE id = ANY($1) UNION ALL \
             SELECT previous_secret_digest FROM keys WHERE id = ANY($1) AND previous_secret_digest IS NOT NULL",
            &[&keys],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect()
    };
    Ok(Changes { events, digests })
}

/// The current change.
pub(super) async fn current(client: &impl GenericClient) -> StoreResult<i64> {
    let rows = query(client, "SELECT n FROM keydesk_changes", &[]).await?;
    Ok(rows.first().map_or(0, |row| row.get(0)))
}

fn pool_error(err: deadpool_postgres::PoolError) -> StoreError {
    match err {
        deadpool_postgres::PoolError::Backend(err) => StoreError::from(err),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// What the fleet's tasks share with the store.
#[derive(Clone)]
pub(super) struct Tasks {
    pub(super) pool: Pool,
    pub(super) feed: EventFeed,
    pub(super) publishing: Arc<tokio::sync::Mutex<()>>,
    pub(super) config: tokio_postgres::Config,
    pub(super) fleet: Weak<Fleet>,
}

impl Tasks {
    /// Starts listening, checking and heartbeating as `me`; each task
    /// ends once the store is dropped.
    pub(super) fn start(self, fleet: &Fleet, me: &InstanceInfo) {
        if fleet.me.set(me.clone()).is_err() {
            tracing::warn!("this store joined its fleet already");
            return;
        }
        if me.notifications {
            tokio::spawn(self.clone().listen());
        }
        tokio::spawn(self.clone().check());
        tokio::spawn(self.heartbeat());
        fleet.joined.store(true, Ordering::SeqCst);
    }

    async fn apply_up_to(&self, fleet: &Fleet, to: i64) -> StoreResult<()> {
        if to <= fleet.applied() {
            return Ok(());
        }
        let client = self.pool.get().await.map_err(pool_error)?;
        let _order = self.publishing.lock().await;
        fleet.catch_up(&client, &self.feed, to).await
    }

    /// Applies what changed since the last applied change.
    async fn apply_current(&self, fleet: &Fleet) -> StoreResult<()> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let to = current(&client).await?;
        drop(client);
        self.apply_up_to(fleet, to).await
    }

    /// The `LISTEN` connection: applies each change another instance
    /// announces; when the connection is lost, forgets every cached answer
    /// at once, connects again and re-reads what it missed.
    async fn listen(self) {
        let mut first = true;
        loop {
            let Some(fleet) = self.fleet.upgrade() else {
                return;
            };
            let Err(err) = self.listen_once(&fleet).await else {
                return;
            };
            let was_listening = fleet.listening.swap(false, Ordering::SeqCst);
            fleet.reset();
            if was_listening || first {
                tracing::warn!(error = %err, "no connection listens for other instances' changes: caches cleared, connecting again");
            }
            first = false;
            drop(fleet);
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    }

    /// One listening connection, until it fails (`Err`) or the store is
    /// dropped (`Ok`).
    async fn listen_once(&self, fleet: &Arc<Fleet>) -> StoreResult<()> {
        let (client, mut connection) = self.config.connect(tokio_postgres::NoTls).await?;
        let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(notification)) => {
                        if sender.send(notification).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::debug!(error = %err, "listening connection closed");
                        return;
                    }
                }
            }
        });
        let _stop_driver = AbortOnDrop(driver);
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        fleet.listening.store(true, Ordering::SeqCst);
        // Whatever committed while nobody listened.
        self.apply_current(fleet).await?;
        loop {
            tokio::select! {
                notification = notifications.recv() => {
                    let Some(notification) = notification else {
                        return Err(StoreError::Unavailable("the listening connection closed".to_owned()));
                    };
                    let change = serde_json::from_str::<serde_json::Value>(notification.payload())
                        .ok()
                        .and_then(|payload| payload["change"].as_i64());
                    match change {
                        Some(change) => self.apply_up_to(fleet, change).await?,
                        None => self.apply_current(fleet).await?,
                    }
                }
                () = tokio::time::sleep(CHECK_EVERY) => {
                    if Arc::strong_count(fleet) <= 1 {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The backstop: reads the change counter every [`CHECK_EVERY`]; a
    /// change no notification brought within [`NOTIFICATION_GRACE`] is
    /// re-read. A counter that cannot be read forgets every cached answer.
    async fn check(self) {
        // (a change seen ahead of the applied one, when it was first seen)
        let mut behind: Option<(i64, Instant)> = None;
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(fleet) = self.fleet.upgrade() else {
                return;
            };
            let now = match self.pool.get().await.map_err(pool_error) {
                Ok(client) => current(&client).await,
                Err(err) => Err(err),
            };
            let now = match now {
                Ok(now) => now,
                Err(err) => {
                    tracing::debug!(error = %err, "cannot read the change counter: caches cleared");
                    fleet.reset();
                    continue;
                }
            };
            let applied = fleet.applied();
            behind = match behind {
                _ if now <= applied => None,
                Some((seen, since)) if seen > applied => {
                    if since.elapsed() >= NOTIFICATION_GRACE {
                        tracing::debug!(applied, now, "a change came without its notification");
                        if let Err(err) = self.apply_up_to(&fleet, now).await {
                            tracing::debug!(error = %err, "cannot read missed changes: caches cleared");
                        }
                        None
                    } else {
                        Some((seen, since))
                    }
                }
                _ => Some((now, Instant::now())),
            };
        }
    }

    /// Writes this instance's heartbeat every [`HEARTBEAT_EVERY`] and right
    /// after it applies a change.
    async fn heartbeat(self) {
        let Some(beat) = self.fleet.upgrade().map(|fleet| Arc::clone(&fleet.beat)) else {
            return;
        };
        loop {
            let Some(fleet) = self.fleet.upgrade() else {
                return;
            };
            if let Err(err) = self.beat(&fleet).await {
                tracing::debug!(error = %err, "cannot write this instance's heartbeat");
            }
            drop(fleet);
            // Woken by an applied change, or at least every second (to
            // beat, and to notice the store is gone).
            let _ = tokio::time::timeout(HEARTBEAT_EVERY, beat.notified()).await;
        }
    }

    async fn beat(&self, fleet: &Fleet) -> StoreResult<()> {
        let Some(me) = fleet.me.get() else {
            return Ok(());
        };
        let client = self.pool.get().await.map_err(pool_error)?;
        query(
            &client,
            "INSERT INTO keydesk_instances (id, started_at, seen_at, applied_change, applied_at, address) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, seen_at = excluded.seen_at, \
             applied_change = excluded.applied_change, applied_at = excluded.applied_at, address = excluded.address",
            &[
                &me.id,
                &millis(me.started_at),
                &millis(Utc::now()),
                &fleet.applied(),
                &fleet.applied_at.load(Ordering::SeqCst),
                &me.address,
            ],
        )
        .await?;
        Ok(())
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The current change and the instances seen within `within`.
pub(super) async fn view(client: &impl GenericClient, within: Duration) -> StoreResult<FleetView> {
    let change = current(client).await?;
    let since = millis(Utc::now()) - i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
    let instances = query(
        client,
        "SELECT id, address, started_at, seen_at, applied_change, applied_at FROM keydesk_instances \
         WHERE seen_at >= $1 ORDER BY started_at, id",
        &[&since],
    )
    .await?
    .iter()
    .map(|row| FleetInstance {
        id: row.get(0),
        address: row.get(1),
        started_at: super::time(row.get(2)),
        seen_at: super::time(row.get(3)),
        applied_change: row.get(4),
        applied_at: super::time(row.get(5)),
    })
    .collect();
    Ok(FleetView { change, instances })
}
