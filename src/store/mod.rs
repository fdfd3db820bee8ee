//! Persistence: the [`Store`] trait and its two equal backends, SQLite
//! (one file, one writer) and PostgreSQL (a pool; several instances may
//! share one database). Both publish committed events through [`feed`].
//!
//! Every mutation runs in one write transaction together with its audit
//! event. Mutations take a closure so the *domain* decides, inside that
//! transaction, whether the change is allowed: the check and the write see
//! the same data, and two admins cannot interleave between them.

pub mod feed;
pub mod postgres;
pub mod sqlite;

pub use feed::EVENT_BUFFER;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKey, CreationFacts, Event, EventAction, KeyId, KeyStatus, NewEvent, OwnerFacts, Refusal,
    Secret, Tenant, TenantId, TenantSettings, User, UserId, Verifier, VerifierId,
};
// The sorts of a key list live in the domain, where the client reaches them
// too; the store's queries name them through here.
pub use crate::domain::{KeySort, SortField};

/// What can go wrong below the domain.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The domain refused the change; nothing was written.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The disk or database is full; nothing was written.
    #[error("the database is full; free disk space and retry")]
    Full,
    /// The database cannot be used: its file is gone, replaced, unreadable
    /// or corrupt. Nothing was written; the message is for the server log only.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database failed; the message is for the server log only.
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The position after the last key of a page: its sort value and id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyCursor {
    pub value: SortValue,
    pub id: String,
}

/// A sort value: every sort column is an integer except the name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

/// A key list request, already parsed.
#[derive(Debug, Clone, Default)]
pub struct KeyQuery {
    /// Case-insensitive substring of name, id, owner name or start.
    pub q: Option<String>,
    pub status: Option<KeyStatus>,
    /// An owner's user id or exact name.
    pub owner: Option<String>,
    pub sort: KeySort,
    pub limit: u32,
    pub cursor: Option<KeyCursor>,
    /// Only keys with these ids (`?suspicious=true`: the flagged keys); `None`: any.
    pub only_ids: Option<Vec<String>>,
    /// Only keys in a rotation's grace at the list's `now`, not revoked
    /// (`?rotating=true`).
    pub rotating: bool,
    /// Only keys created by this user (id or exact name); bulk revoke's filter.
    pub created_by: Option<String>,
    /// Only keys that hold this scope; bulk revoke's filter.
    pub scope: Option<String>,
}

/// One page of keys.
#[derive(Debug, Clone)]
pub struct KeyPage {
    pub keys: Vec<ApiKey>,
    pub next_cursor: Option<KeyCursor>,
    /// How many keys match the filter, over all pages.
    pub total: u64,
}

/// What a key mutation writes: the key after the change (or `None` to
/// delete it), the events, and a secret to hand back to the caller once.
pub struct KeyWrite {
    pub key: Option<ApiKey>,
    pub events: Vec<NewEvent>,
    pub secret: Option<Secret>,
}

/// The result of a committed key mutation: the key as it now is (or as it
/// was, when deleted) and the secret, if the mutation made one.
pub struct KeyCommitted {
    pub key: ApiKey,
    pub secret: Option<Secret>,
    pub deleted: bool,
}

/// What a key mutation decides on besides the key, read in its transaction.
pub struct KeyFacts {
    pub tenant: Tenant,
    /// The user [`Store::update_key`] was asked about as a possible new
    /// owner, with their live keys in the tenant; `None` when none was asked
    /// about or no user has that id.
    pub owner: Option<OwnerFacts>,
}

/// A key mutation: given the key and the facts inside the transaction, decide.
pub type KeyMutation = Box<dyn FnOnce(ApiKey, KeyFacts) -> Result<KeyWrite, Refusal> + Send>;

/// A key creation: given the facts inside the transaction, build the key.
pub type KeyCreation =
    Box<dyn FnOnce(CreationFacts) -> Result<(ApiKey, Secret, NewEvent), Refusal> + Send>;

/// A change decided for each key of a bulk action ([`Store::update_keys`]):
/// given the key and its tenant inside the transaction, the key after the
/// change and its events, or the refusal a single action would give.
pub type KeysMutation =
    Box<dyn FnMut(ApiKey, &Tenant) -> Result<(ApiKey, Vec<NewEvent>), Refusal> + Send>;

/// One key's outcome in [`Store::update_keys`].
#[derive(Debug, Clone)]
pub struct KeyOutcome {
    pub id: String,
    /// The key after the change, or as it was when refused; `None` when no
    /// key of the tenant has this id.
    pub key: Option<ApiKey>,
    /// Why the key was not changed; `None` when it was (or, in a preview, would be).
    pub refusal: Option<Refusal>,
}

/// Idempotency-Key of a creation: the caller's key and a hash of the request body.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub user_id: UserId,
    pub key: String,
    pub request_hash: String,
}

/// A creation's outcome: a new key with its secret, or the key an earlier
/// request with the same Idempotency-Key created (its secret is not kept).
pub enum Created {
    New(ApiKey, Secret),
    Replayed(ApiKey),
}

/// What a settings change writes.
pub struct SettingsWrite {
    pub tenant: Tenant,
    /// `None` when nothing changed: a no-op writes no event.
    pub event: Option<NewEvent>,
    /// Secret retrieval was switched off: drop every stored ciphertext.
    pub forget_stored_secrets: bool,
}

pub type SettingsMutation = Box<dyn FnOnce(Tenant) -> Result<SettingsWrite, Refusal> + Send>;

/// A user mutation; its event is `None` when nothing changed.
pub type UserMutation = Box<dyn FnOnce(User) -> Result<(User, Option<NewEvent>), Refusal> + Send>;

/// A change of a user's management token, decided on the user as the
/// transaction reads them: the new token's digest (`None`: the user is left
/// without a token) and the event that records it.
pub type TokenChange = Box<dyn FnOnce(&User) -> Result<(Option<String>, NewEvent), Refusal> + Send>;

/// A user's deletion, decided on the user as the transaction reads them:
/// the event that records it.
pub type UserDeletion = Box<dyn FnOnce(&User) -> Result<NewEvent, Refusal> + Send>;

/// An events list request.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub key: Option<String>,
    pub action: Option<EventAction>,
    pub limit: u32,
    /// Only events older than this id (the cursor).
    pub before: Option<i64>,
}

/// Verification outcomes counted per key and minute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageBucket {
    pub key_id: KeyId,
    /// Unix minute.
    pub minute: i64,
    /// A verify code, e.g. `VALID`, `REVOKED`.
    pub outcome: &'static str,
}

/// Successful and failed verifications of a key over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageCounts {
    pub valid: u64,
    pub failed: u64,
}

/// Which usage rows a history reads: the minute rows (kept 48 hours) or the
/// hour rows (kept 8 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageResolution {
    Minute,
    Hour,
}

/// One stored usage row of a key's history: verifications with `outcome`
/// in the minute or hour starting at unix minute `minute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub minute: i64,
    pub outcome: String,
    pub count: u64,
}

/// See [`Store::before_publishing`].
pub type CommitHook = std::sync::Arc<dyn Fn(&Event) + Send + Sync>;

/// See [`Store::when_keys_written`]: runs with each secret digest.
pub type KeysHook = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// See [`Store::on_fleet_reset`].
pub type ResetHook = std::sync::Arc<dyn Fn() + Send + Sync>;

/// Who this instance is in its fleet (`serve --instance-id`, or random).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    pub id: String,
    /// The address it listens on, as bound.
    pub address: Option<String>,
    pub started_at: DateTime<Utc>,
    /// Whether it listens for other instances' notifications (off: the
    /// periodic check of the change counter alone, behind a pooler that
    /// cannot `LISTEN`).
    pub notifications: bool,
}

/// One instance of a fleet, as its last heartbeat says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetInstance {
    pub id: String,
    pub address: Option<String>,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
    /// The highest change it has applied to its caches and live streams.
    pub applied_change: i64,
    pub applied_at: DateTime<Utc>,
}

/// The fleet as the database says now: the current change and the
/// instances seen lately.
#[derive(Debug, Clone)]
pub struct FleetView {
    pub change: i64,
    pub instances: Vec<FleetInstance>,
}

/// The event of a verifier's revocation, made from the verifier found.
pub type VerifierRevocation = Box<dyn FnOnce(&Verifier) -> NewEvent + Send>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- the database itself
    /// Whether anything was ever keyed with a pepper here: a recorded pepper
    /// fingerprint, a user, a tenant or a key.
    async fn holds_data(&self) -> StoreResult<bool>;
    /// The fingerprint of the pepper the database is keyed with, once recorded.
    async fn pepper_fingerprint(&self) -> StoreResult<Option<String>>;
    /// Records the pepper's fingerprint, unless one is recorded already.
    async fn record_pepper_fingerprint(&self, fingerprint: &str) -> StoreResult<()>;
    /// Ok while the store can serve: its database is still the one it
    /// opened, and answers. Else [`StoreError::Unavailable`].
    async fn check_health(&self) -> StoreResult<()>;

    // --- users and authentication
    /// The user (not deleted) whose token has this digest, disabled or not.
    async fn user_by_token_digest(&self, digest: &str) -> StoreResult<Option<User>>;
    /// Creates `user` as the first system administrator unless one exists; true if created.
    async fn bootstrap_system_admin(&self, user: &User, token_digest: &str) -> StoreResult<bool>;
    async fn create_user(
        &self,
        user: &User,
        token_digest: &str,
        event: &NewEvent,
    ) -> StoreResult<()>;
    /// A user who was not deleted (deleted users answer `None` everywhere).
    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>>;
    /// The tenant's users (not the deleted), by name then id, after the
    /// user `after` (a page's last), at most `limit` of them.
    async fn list_users(
        &self,
        tenant: &TenantId,
        after: Option<&UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>>;
    /// Applies `mutation` (name, e-mail, roles, license, disabled) in one
    /// transaction with its event.
    async fn update_user(&self, id: &UserId, mutation: UserMutation) -> StoreResult<User>;
    /// Gives user `id` a new token, or none, as `change` decides; returns
    /// the user after the change.
    async fn change_user_token(&self, id: &UserId, change: TokenChange) -> StoreResult<User>;
    /// Deletes user `id` as `deletion` decides: gone from every list and
    /// lookup, their token with them; the keys they own stay theirs, and
    /// every event stays. Returns the user as they were.
    async fn delete_user(&self, id: &UserId, deletion: UserDeletion) -> StoreResult<User>;

    // --- tenants and settings
    async fn create_tenant(&self, tenant: &Tenant, event: &NewEvent) -> StoreResult<()>;
    async fn get_tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    async fn update_settings(
        &self,
        id: &TenantId,
        mutation: SettingsMutation,
    ) -> StoreResult<Tenant>;

    // --- keys
    async fn create_key(
        &self,
        tenant: &TenantId,
        owner: &UserId,
        idempotency: Option<Idempotency>,
        creation: KeyCreation,
    ) -> StoreResult<Created>;
    async fn get_key(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ApiKey>>;
    async fn list_keys(
        &self,
        tenant: &TenantId,
        query: &KeyQuery,
        now: DateTime<Utc>,
    ) -> StoreResult<KeyPage>;
    /// Runs `mutation` on key `id` in one write transaction with its
    /// events. With `owner`, that user and their live keys in the tenant
    /// are read in the same transaction ([`KeyFacts::owner`]), for an edit
    /// that hands the key to them.
    async fn update_key(
        &self,
        tenant: &TenantId,
        id: &str,
        owner: Option<&UserId>,
        mutation: KeyMutation,
    ) -> StoreResult<KeyCommitted>;
    /// Bulk-loads keys the domain already built, in one transaction, with
    /// no events: for demo data and benchmarks, not for API mutations.
    async fn import_keys(&self, keys: Vec<ApiKey>) -> StoreResult<()>;

    // --- verification and usage
    /// The key whose current secret has this digest, or else the key whose
    /// previous secret (a rotation's) has it, whether or not its grace is
    /// over (the caller judges that: `ApiKey::which_secret`); with its
    /// tenant's settings.
    async fn key_by_digest(&self, digest: &str) -> StoreResult<Option<(ApiKey, TenantSettings)>>;
    /// Adds counted verifications and advances `last_used_at`, in one transaction.
    async fn record_usage(
        &self,
        counts: &[(UsageBucket, u64)],
        last_used: &[(KeyId, DateTime<Utc>)],
    ) -> StoreResult<()>;
    /// 24-hour counts (or any window from `since_minute`) for the given keys.
    async fn usage_since(
        &self,
        keys: &[KeyId],
        since_minute: i64,
    ) -> StoreResult<HashMap<KeyId, UsageCounts>>;

    // --- audit log
    async fn list_events(&self, tenant: &TenantId, query: &EventQuery) -> StoreResult<Vec<Event>>;

    // --- usage history, suspicion and the live event stream
    /// The usage rows of `key` from unix minute `since_minute` on, oldest first.
    async fn usage_history(
        &self,
        key: &KeyId,
        resolution: UsageResolution,
        since_minute: i64,
    ) -> StoreResult<Vec<UsageRow>>;
    /// What the suspicion rules judge, for each of `keys` with any usage:
    /// its counts from unix minute `last_hour_from` on, and its total over
    /// the unix hours `baseline_hours`.
    async fn usage_activity(
        &self,
        keys: &[KeyId],
        last_hour_from: i64,
        baseline_hours: std::ops::Range<i64>,
    ) -> StoreResult<HashMap<KeyId, crate::domain::KeyActivity>>;
    /// Deletes minute rows before unix minute `before_minute` and hour rows
    /// before unix hour `before_hour`; returns how many rows went.
    async fn prune_usage(&self, before_minute: i64, before_hour: i64) -> StoreResult<u64>;
    /// Deletes idempotency records made before `idempotency_before`, and
    /// events before `events_before` (`None`: events are kept for ever).
    async fn prune_records(
        &self,
        events_before: Option<chrono::DateTime<chrono::Utc>>,
        idempotency_before: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64>;
    /// Events of `tenant` with an id above `after`, oldest first, at most `limit`.
    async fn events_after(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;
    /// Every event committed from now on, of every tenant, in id order. The
    /// channel is bounded: a receiver that falls further behind than its
    /// buffer gets `RecvError::Lagged` and should be closed (its client
    /// resumes from the database), so no reader ever holds a writer up.
    fn subscribe_events(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<Event>>;
    /// Sets what runs with each committed event, in the writer, before any
    /// subscriber can see it: the server's verification cache forgets what
    /// the event changed, so whoever sees a revoke on the stream can no
    /// longer verify the key from a cache. Set once, at start.
    fn before_publishing(&self, hook: CommitHook);
    /// Sets what runs with each secret digest (current and previous) of
    /// every key this store creates, imports or changes one at a time (not a
    /// deleted one; a bulk revoke gives no key a new secret), after its
    /// commit and before the call that wrote it returns, and of every key
    /// another instance's change names, before that change is published: the server's index of digests learns a new secret
    /// before the secret is handed out. Set once, at start.
    fn when_keys_written(&self, hook: KeysHook);
    /// Every secret digest a key holds, current and previous: what the
    /// server's index of digests starts from.
    async fn key_digests(&self) -> StoreResult<Vec<String>>;
    /// Whether [`Store::when_keys_written`] hears of every key written to
    /// the database, by this process or any other: only then may the
    /// server answer a digest it never heard of without reading.
    fn hears_every_key_write(&self) -> bool;

    // --- the fleet: several instances on one database
    /// Joins the fleet as `instance` (PostgreSQL: listens for the changes
    /// other instances commit and applies them through the hook and the
    /// feed, checks the change counter as a backstop, and heartbeats;
    /// SQLite, which one server owns, watches for commits another process
    /// makes to the file beside it). Call it once, after the hooks are set.
    fn join_fleet(&self, _instance: &InstanceInfo) {}
    /// Sets what runs when this instance may have missed another's change
    /// and cannot tell which (its listening connection was lost, the
    /// database could not be read, or, for SQLite, another process wrote
    /// to the file): the server forgets every cached answer.
    fn on_fleet_reset(&self, _hook: ResetHook) {}
    /// The highest change this instance has applied: its own writes and
    /// every other instance's before them. 0 for a store one process owns.
    fn applied_change(&self) -> i64 {
        0
    }
    /// The current change and the instances whose heartbeat is younger
    /// than `within`; `None` for a store one process owns (no fleet).
    async fn fleet(&self, _within: std::time::Duration) -> StoreResult<Option<FleetView>> {
        Ok(None)
    }

    // --- lookup and bulk actions
    /// Appends an event that records no change of its own (a lookup).
    async fn append_event(&self, event: &NewEvent) -> StoreResult<()>;
    /// Runs `mutation` on each key of `tenant` named in `ids`, in order, in
    /// one write transaction: a refused key (or an id that names no key of
    /// the tenant: `NOT_FOUND`) changes nothing and does not stop the
    /// others. Returns each id's outcome. With `commit` false nothing is
    /// written (a preview: the same decisions on the same data, rolled back).
    async fn update_keys(
        &self,
        tenant: &TenantId,
        ids: Vec<String>,
        commit: bool,
        mutation: KeysMutation,
    ) -> StoreResult<Vec<KeyOutcome>>;

    // --- verifier tokens
    /// Stores `verifier` with the digest of its token, and its event.
    async fn create_verifier(
        &self,
        verifier: &Verifier,
        token_digest: &str,
        event: &NewEvent,
    ) -> StoreResult<()>;
    /// The verifiers of `tenant`, oldest first.
    async fn list_verifiers(&self, tenant: &TenantId) -> StoreResult<Vec<Verifier>>;
    /// The verifier whose token has this digest.
    async fn verifier_by_token_digest(&self, digest: &str) -> StoreResult<Option<Verifier>>;
    /// Deletes verifier `id` of `tenant` (its token stops working) and
    /// writes the event `revocation` makes of it, in one transaction; a
    /// `NOT_FOUND` refusal when the tenant has no such verifier.
    async fn delete_verifier(
        &self,
        tenant: &TenantId,
        id: &VerifierId,
        revocation: VerifierRevocation,
    ) -> StoreResult<Verifier>;
}
