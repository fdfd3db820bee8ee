//! The SQLite backend: WAL mode with `synchronous = FULL`, so a commit that
//! was acknowledged survives a crash; one writer connection, so writers queue
//! in the process instead of failing with SQLITE_BUSY (every write
//! transaction is also `BEGIN IMMEDIATE`); a small pool of reader connections,
//! which WAL lets run beside the writer. rusqlite is synchronous, so every
//! call runs on tokio's blocking pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};

use super::{
    Created, EventQuery, Idempotency, KeyCommitted, KeyCreation, KeyCursor, KeyFacts, KeyMutation,
    KeyOutcome, KeyPage, KeyQuery, KeysMutation, SettingsMutation, SortField, SortValue, Store,
    StoreError, StoreResult, TokenChange, UsageBucket, UsageCounts, UserDeletion, UserMutation,
    VerifierRevocation,
};
use crate::domain::{
    ApiKey, CreationFacts, Description, DisplayName, Email, Event, EventAction, KeyId, KeyName,
    KeyStatus, Lifecycle, NewEvent, OwnerFacts, PersonName, RateLimit, Refusal, Roles, Scope,
    Tenant, TenantId, TenantSettings, User, UserId, UserRef, Verifier, VerifierId,
};
// Usage history, suspicion and the live event feed.
use super::{UsageResolution, UsageRow};
use crate::domain::KeyActivity;

/// Schema migrations, applied in order at start; each runs once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_search.sql")),
    (3, include_str!("migrations/0003_usage_history.sql")),
    (4, include_str!("migrations/0004_rotation.sql")),
    (5, include_str!("migrations/0005_verification.sql")),
    (6, include_str!("migrations/0006_sort_indexes.sql")),
    (7, include_str!("migrations/0007_pepper_fingerprint.sql")),
    (8, include_str!("migrations/0008_user_states.sql")),
    (9, include_str!("migrations/0009_retention.sql")),
];

/// Idle reader connections kept open.
const READERS: usize = 8;

pub struct SqliteStore {
    file: DatabaseFile,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    feed: EventFeed,
    /// What runs when another process committed to the file.
    reset: Arc<std::sync::OnceLock<super::ResetHook>>,
}

/// How often the server looks for commits by another process.
const EXTERNAL_CHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

pub use super::feed::EVENT_BUFFER;

/// Hands committed events to live subscribers ([`Store::subscribe_events`]).
/// Only [`SqliteStore::write`] publishes, right after its commit and while it
/// still holds the one writer connection: so every event, whichever
/// mutation wrote it, goes out once, only after it is durable, and in id
/// order.
#[derive(Clone)]
struct EventFeed {
    feed: super::feed::EventFeed,
    /// The highest event id published; changed under the writer lock only.
    published: Arc<std::sync::atomic::AtomicI64>,
}

impl EventFeed {
    fn new(capacity: usize, published: i64) -> Self {
        Self {
            feed: super::feed::EventFeed::new(capacity),
            published: Arc::new(std::sync::atomic::AtomicI64::new(published)),
        }
    }

    /// Publishes what was committed since the last call. A failed read
    /// leaves the mark where it was: the next write publishes those events.
    fn publish_committed(&self, conn: &Connection) {
        use std::sync::atomic::Ordering;
        let after = self.published.load(Ordering::Acquire);
        let sql = format!("{EVENT_SELECT} WHERE id > $1 ORDER BY id");
        let events: rusqlite::Result<Vec<Event>> =
            conn.prepare_cached(&sql).and_then(|mut statement| {
                statement
                    .query_map(params![after], event_from_row)?
                    .collect()
            });
        match events {
            Ok(events) => {
                for event in events {
                    self.published.store(event.id, Ordering::Release);
                    self.feed.publish(event);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "reading committed events for the live stream failed; the next write retries");
            }
        }
    }
}

fn backend(err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(err.to_string())
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        if let rusqlite::Error::SqliteFailure(failure, _) = &err {
            match failure.code {
                ErrorCode::DiskFull => return StoreError::Full,
                // The database itself cannot be used, whatever was asked of it.
                ErrorCode::CannotOpen
                | ErrorCode::NotADatabase
                | ErrorCode::DatabaseCorrupt
                | ErrorCode::SystemIoFailure
                | ErrorCode::PermissionDenied
                | ErrorCode::ReadOnly
                | ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::FileLockingProtocolFailed => {
                    return StoreError::Unavailable(err.to_string());
                }
                _ => {}
            }
        }
        backend(err)
    }
}

/// The database file as the store opened it. SQLite goes on using an open
/// file that was deleted or replaced (writes then land in a file no one
/// will open again, and are lost at the next start), so every read and
/// write first checks that the path still names the same file.
#[derive(Clone)]
struct DatabaseFile {
    path: PathBuf,
    /// Device and inode, where the platform has them.
    identity: Option<(u64, u64)>,
}

impl DatabaseFile {
    fn identity(path: &Path) -> std::io::Result<Option<(u64, u64)>> {
        let metadata = std::fs::metadata(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            Ok(Some((metadata.dev(), metadata.ino())))
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            Ok(None)
        }
    }

    /// Creates the database file readable and writable by its owner only,
    /// unless it exists: SQLite gives its WAL and shared-memory files the
    /// mode of the database file, so all three stay private wherever they are.
    fn create_private(path: &Path) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(err) => Err(err),
        }
    }

    fn opened(path: &Path) -> StoreResult<Self> {
        let identity = Self::identity(path)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        Ok(Self {
            path: path.to_owned(),
            identity,
        })
    }

    /// Ok while the path names the file that was opened.
    fn check(&self) -> StoreResult<()> {
        match Self::identity(&self.path) {
            Ok(identity) if identity == self.identity => Ok(()),
            Ok(_) => Err(StoreError::Unavailable(format!(
                "{} was replaced by another file while the server ran; restart the server",
                self.path.display()
            ))),
            Err(err) => Err(StoreError::Unavailable(format!(
                "{} is gone or unreadable ({err}); restore it, then restart the server",
                self.path.display()
            ))),
        }
    }
}

/// Every secret digest a key holds, current and previous.
fn key_digests_blocking(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT secret_digest FROM keys UNION ALL \
         SELECT previous_secret_digest FROM keys WHERE previous_secret_digest IS NOT NULL",
    )?;
    let digests = statement
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(digests)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves it usable: SQLite rolls back
    // the open transaction when it is dropped or the next one begins.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens a connection to the existing database at `path`. Never creates
/// one: a connection opened after the file vanished fails, where SQLite's
/// default would create an empty database and answer "no such table".
fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // SQLite's LOWER folds ASCII only; PostgreSQL's folds Unicode. Replacing
    // it keeps the same SQL meaning the same thing on both: `q=über` finds "Über".
    conn.create_scalar_function(
        "lower",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8
            | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Text(bytes) => {
                    Some(String::from_utf8_lossy(bytes).to_lowercase())
                }
                _ => None,
            })
        },
    )?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;",
    )?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed, mode 0600) the database at `path` and
    /// applies migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| backend(format!("cannot create {}: {e}", parent.display())))?;
        }
        DatabaseFile::create_private(path)
            .map_err(|e| backend(format!("cannot create {}: {e}", path.display())))?;
        let file = DatabaseFile::opened(path)?;
        let mut writer = open_connection(path)
            .map_err(|e| backend(format!("cannot open {}: {e}", path.display())))?;
        migrate(&mut writer)?;
        let published: i64 =
            writer.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |row| {
                row.get(0)
            })?;
        Ok(Self {
            file,
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(Mutex::new(Vec::new())),
            feed: EventFeed::new(EVENT_BUFFER, published),
            reset: Arc::new(std::sync::OnceLock::new()),
        })
    }

    /// Holds up to `capacity` committed events for live subscribers (default
    /// [`EVENT_BUFFER`]); one further behind is told it lagged. Call it
    /// before anyone subscribes.
    #[must_use]
    pub fn with_event_buffer(mut self, capacity: usize) -> Self {
        let published = self
            .feed
            .published
            .load(std::sync::atomic::Ordering::Acquire);
        self.feed = EventFeed {
            feed: self.feed.feed.with_capacity(capacity),
            published: Arc::new(std::sync::atomic::AtomicI64::new(published)),
        };
        self
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer; commits if it succeeds.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        let feed = self.feed.clone();
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = lock(&writer);
            file.check()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            // Still the only writer: the events just committed go out now, in order.
            feed.publish_committed(&conn);
            Ok(out)
        })
        .await
        .map_err(backend)?
    }

    /// Runs `f` on a reader connection from the pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            file.check()?;
            let conn = match lock(&readers).pop() {
                Some(conn) => conn,
                None => open_connection(&file.path)?,
            };
            let out = f(&conn);
            let mut idle = lock(&readers);
            if idle.len() < READERS {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(backend)?
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = $1",
                params![version],
                |row| row.get(0),
            )
            .optional()?;
        if applied.is_none() {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                params![version, millis(Utc::now())],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

// ---------------------------------------------------------------- mapping

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn opt_time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(time)
}

fn user_ref(id: String, name: String) -> UserRef {
    UserRef {
        id: UserId::from_trusted(id),
        name,
    }
}

const KEY_SELECT: &str = "SELECT k.id, k.tenant_id, k.name, k.description, k.owner_id, COALESCE(o.name, ''), \
     k.scopes, k.lifecycle, k.created_at, k.created_by, COALESCE(c.name, ''), k.updated_at, \
     k.updated_by, COALESCE(u.name, ''), k.expires_at, k.last_used_at, k.revoked_at, k.revoked_by, \
     COALESCE(r.name, ''), k.start, k.secret_digest, k.encrypted_secret, k.previous_secret_digest, \
     k.previous_secret_valid_until, k.version, k.rate_limit_requests, k.rate_limit_window_seconds \
     FROM keys k \
     LEFT JOIN users o ON o.id = k.owner_id \
     LEFT JOIN users c ON c.id = k.created_by \
     LEFT JOIN users u ON u.id = k.updated_by \
     LEFT JOIN users r ON r.id = k.revoked_by";

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let scopes: String = row.get(6)?;
    let scopes: Vec<String> = serde_json::from_str(&scopes).unwrap_or_default();
    let lifecycle: String = row.get(7)?;
    let revoked_by: Option<String> = row.get(17)?;
    Ok(ApiKey {
        id: KeyId::from_trusted(row.get(0)?),
        tenant_id: TenantId::from_trusted(row.get(1)?),
        name: KeyName::from_trusted(row.get(2)?),
        description: Description::from_trusted(row.get(3)?),
        owner: user_ref(row.get(4)?, row.get(5)?),
        scopes: scopes.into_iter().map(Scope::from_trusted).collect(),
        lifecycle: Lifecycle::parse(&lifecycle).unwrap_or(Lifecycle::Revoked),
        created_at: time(row.get(8)?),
        created_by: user_ref(row.get(9)?, row.get(10)?),
        updated_at: time(row.get(11)?),
        updated_by: user_ref(row.get(12)?, row.get(13)?),
        expires_at: opt_time(row.get(14)?),
        last_used_at: opt_time(row.get(15)?),
        revoked_at: opt_time(row.get(16)?),
        revoked_by: match revoked_by {
            Some(id) => Some(user_ref(id, row.get(18)?)),
            None => None,
        },
        start: row.get(19)?,
        secret_digest: row.get(20)?,
        encrypted_secret: row.get(21)?,
        previous_secret_digest: row.get(22)?,
        previous_secret_valid_until: opt_time(row.get(23)?),
        version: row.get(24)?,
        rate_limit: match (row.get(25)?, row.get(26)?) {
            (Some(requests), Some(window_seconds)) => Some(RateLimit {
                requests,
                window_seconds,
            }),
            _ => None,
        },
    })
}

fn scopes_json(scopes: &[Scope]) -> String {
    let list: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

fn insert_key(tx: &Connection, key: &ApiKey) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO keys (id, tenant_id, name, description, owner_id, scopes, lifecycle, created_at, \
         created_by, updated_at, updated_by, expires_at, last_used_at, revoked_at, revoked_by, start, \
         secret_digest, encrypted_secret, previous_secret_digest, previous_secret_valid_until, version, \
         name_lower, search_text, rate_limit_requests, rate_limit_window_seconds) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)",
        params![
            key.id.as_str(),
            key.tenant_id.as_str(),
            key.name.as_str(),
            key.description.as_str(),
            key.owner.id.as_str(),
            scopes_json(&key.scopes),
            key.lifecycle.as_str(),
            millis(key.created_at),
            key.created_by.id.as_str(),
            millis(key.updated_at),
            key.updated_by.id.as_str(),
            key.expires_at.map(millis),
            key.last_used_at.map(millis),
            key.revoked_at.map(millis),
            key.revoked_by.as_ref().map(|u| u.id.as_str()),
            key.start,
            key.secret_digest,
            key.encrypted_secret,
            key.previous_secret_digest,
            key.previous_secret_valid_until.map(millis),
            key.version,
            key.name.as_str().to_lowercase(),
            search_text(key),
            key.rate_limit.map(|l| l.requests),
            key.rate_limit.map(|l| l.window_seconds),
        ],
    )?;
    Ok(())
}

/// The lowercase text a key search (`q`) looks in: name, id and start.
/// (Owner names are searched through `users.name_lower`.)
fn search_text(key: &ApiKey) -> String {
    format!("{} {} {}", key.name, key.id, key.start).to_lowercase()
}

/// Writes every field a mutation may change; `last_used_at` belongs to the usage flush.
fn update_key_row(tx: &Connection, key: &ApiKey) -> StoreResult<()> {
    tx.execute(
        "UPDATE keys SET name = $1, description = $2, owner_id = $3, scopes = $4, lifecycle = $5, \
         updated_at = $6, updated_by = $7, expires_at = $8, revoked_at = $9, revoked_by = $10, \
         start = $11, secret_digest = $12, encrypted_secret = $13, previous_secret_digest = $14, \
         previous_secret_valid_until = $15, version = $16, name_lower = $17, search_text = $18, \
         rate_limit_requests = $19, rate_limit_window_seconds = $20 \
         WHERE id = $21",
        params![
            key.name.as_str(),
            key.description.as_str(),
            key.owner.id.as_str(),
            scopes_json(&key.scopes),
            key.lifecycle.as_str(),
            millis(key.updated_at),
            key.updated_by.id.as_str(),
            key.expires_at.map(millis),
            key.revoked_at.map(millis),
            key.revoked_by.as_ref().map(|u| u.id.as_str()),
            key.start,
            key.secret_digest,
            key.encrypted_secret,
            key.previous_secret_digest,
            key.previous_secret_valid_until.map(millis),
            key.version,
            key.name.as_str().to_lowercase(),
            search_text(key),
            key.rate_limit.map(|l| l.requests),
            key.rate_limit.map(|l| l.window_seconds),
            key.id.as_str(),
        ],
    )?;
    Ok(())
}

fn load_key(conn: &Connection, tenant: &str, id: &str) -> StoreResult<Option<ApiKey>> {
    let sql = format!("{KEY_SELECT} WHERE k.tenant_id = $1 AND k.id = $2");
    Ok(conn
        .query_row(&sql, params![tenant, id], key_from_row)
        .optional()?)
}

/// Keys of `owner` in `tenant` that count against `max_keys_per_user`:
/// neither revoked nor expired.
fn live_keys(tx: &Connection, tenant: &str, owner: &str) -> StoreResult<u32> {
    let live: i64 = tx.query_row(
        "SELECT COUNT(*) FROM keys WHERE tenant_id = $1 AND owner_id = $2 AND lifecycle <> 'revoked' \
         AND (expires_at IS NULL OR expires_at > $3)",
        params![tenant, owner, millis(Utc::now())],
        |row| row.get(0),
    )?;
    Ok(u32::try_from(live).unwrap_or(u32::MAX))
}

fn insert_event(tx: &Connection, event: &NewEvent) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO events (tenant_id, at, action, actor_id, actor_name, target_id, target_name, source, changes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            event.tenant_id.as_ref().map(TenantId::as_str),
            millis(event.at),
            event.action.as_str(),
            event.actor.id.as_str(),
            event.actor.name,
            event.target_id,
            event.target_name,
            event.source,
            event.changes.to_string(),
        ],
    )?;
    Ok(())
}

const EVENT_SELECT: &str = "SELECT id, tenant_id, at, action, actor_id, actor_name, target_id, \
     target_name, source, changes FROM events";

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let tenant: Option<String> = row.get(1)?;
    let action: String = row.get(3)?;
    let changes: String = row.get(9)?;
    Ok(Event {
        id: row.get(0)?,
        event: NewEvent {
            at: time(row.get(2)?),
            tenant_id: tenant.map(TenantId::from_trusted),
            action: EventAction::parse(&action).unwrap_or(EventAction::KeyUpdated),
            actor: user_ref(row.get(4)?, row.get(5)?),
            target_id: row.get(6)?,
            target_name: row.get(7)?,
            source: row.get(8)?,
            changes: serde_json::from_str(&changes).unwrap_or(serde_json::Value::Null),
        },
    })
}

const TENANT_SELECT: &str = "SELECT id, name, settings, settings_version, created_at FROM tenants";

fn tenant_from_row(row: &Row<'_>) -> rusqlite::Result<Tenant> {
    let settings: String = row.get(2)?;
    Ok(Tenant {
        id: TenantId::from_trusted(row.get(0)?),
        name: DisplayName::from_trusted(row.get(1)?),
        settings: serde_json::from_str(&settings).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        settings_version: row.get(3)?,
        created_at: time(row.get(4)?),
    })
}

fn load_tenant(conn: &Connection, id: &str) -> StoreResult<Option<Tenant>> {
    let sql = format!("{TENANT_SELECT} WHERE id = $1");
    Ok(conn
        .query_row(&sql, params![id], tenant_from_row)
        .optional()?)
}

fn settings_json(settings: &TenantSettings) -> StoreResult<String> {
    serde_json::to_string(settings).map_err(backend)
}

/// Users that were not deleted; append conditions with `AND`.
const USER_SELECT: &str = "SELECT id, tenant_id, name, email, roles, licensed, created_at, \
     disabled_at IS NOT NULL, substr(token_digest, 1, 1) <> '-' \
     FROM users WHERE deleted_at IS NULL";

/// What `token_digest` holds for a user without a token (see migration 0005).
fn no_token(id: &str) -> String {
    format!("-{id}")
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let tenant: Option<String> = row.get(1)?;
    let roles: String = row.get(4)?;
    Ok(User {
        id: UserId::from_trusted(row.get(0)?),
        tenant_id: tenant.map(TenantId::from_trusted),
        name: PersonName::from_trusted(row.get(2)?),
        email: Email::from_trusted(row.get(3)?),
        roles: Roles::from_csv(&roles),
        licensed: row.get(5)?,
        created_at: time(row.get(6)?),
        disabled: row.get(7)?,
        has_token: row.get(8)?,
    })
}

fn load_user(conn: &Connection, id: &str) -> StoreResult<Option<User>> {
    let sql = format!("{USER_SELECT} AND id = $1");
    Ok(conn
        .query_row(&sql, params![id], user_from_row)
        .optional()?)
}

/// A user's name must be the only one like it in their tenant, and never
/// pass for a system administrator's: names are compared by
/// [`crate::domain::text::name_key`] (case, width and look-alike letters
/// folded). `except` is the user being renamed.
fn check_name_free(tx: &Connection, user: &User, except: &str) -> StoreResult<()> {
    let key = crate::domain::text::name_key(user.name.as_str());
    let tenant = user.tenant_id.as_ref().map(TenantId::as_str);
    let mut statement = tx.prepare_cached(
        "SELECT id, name, tenant_id IS NULL FROM users WHERE tenant_id = $1 OR tenant_id IS NULL",
    )?;
    let rows = statement.query_map(params![tenant], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, bool>(2)?,
        ))
    })?;
    for row in rows {
        let (id, name, system) = row?;
        if id == except || crate::domain::text::name_key(&name) != key {
            continue;
        }
        let problem = if system && tenant.is_some() {
            format!(
                "{:?} looks like the system administrator's name",
                user.name.as_str()
            )
        } else {
            format!("{name:?} already names a user here; choose another name")
        };
        return Err(Refusal::conflict("USER_NAME_TAKEN", problem).into());
    }
    Ok(())
}

fn insert_user(tx: &Connection, user: &User, token_digest: &str) -> StoreResult<()> {
    check_name_free(tx, user, "")?;
    tx.execute(
        "INSERT INTO users (id, tenant_id, name, email, roles, licensed, token_digest, created_at, name_lower, disabled_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![
            user.id.as_str(),
            user.tenant_id.as_ref().map(TenantId::as_str),
            user.name.as_str(),
            user.email.as_str(),
            user.roles.to_csv(),
            user.licensed,
            token_digest,
            millis(user.created_at),
            user.name.as_str().to_lowercase(),
            user.disabled.then(|| millis(user.created_at)),
        ],
    )?;
    Ok(())
}

// ---------------------------------------------------------------- key lists

/// Builds SQL left to right, numbering `$n` placeholders in the order they
/// appear, so the same text binds positionally on SQLite and PostgreSQL.
struct Sql {
    text: String,
    params: Vec<Value>,
}

impl Sql {
    fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.params.push(value.into());
        self.text.push_str(&format!("${}", self.params.len()));
        self
    }
}

/// Keys at or beyond this value in the status sort belong to the next status group.
const STATUS_GROUP: i64 = 10_000_000_000_000;
const NEVER: i64 = 9_000_000_000_000_000;

/// The position of a status in the default sort.
fn status_rank(status: KeyStatus) -> i64 {
    match status {
        KeyStatus::Active => 0,
        KeyStatus::Disabled => 1,
        KeyStatus::Expired => 2,
        KeyStatus::Revoked => 3,
    }
}

/// Appends the sort expression of `field`; its natural direction is
/// ascending for name and expires, descending for created and last_used.
/// The status sort's pages come from `status_page` (or, for a search with
/// few matches, `few_matches_status_page`); within a status group it orders
/// by creation, newest first, which is what it gets here.
fn push_sort_expression(sql: &mut Sql, field: SortField) -> bool {
    match field {
        SortField::Name => {
            sql.push("k.name_lower");
            true
        }
        SortField::Created | SortField::Status => {
            sql.push("k.created_at");
            false
        }
        SortField::LastUsed => {
            sql.push("COALESCE(k.last_used_at, -1)");
            false
        }
        // The expressions of the `keys_last_used` and `keys_expires` indexes.
        SortField::Expires => {
            sql.push(&format!("COALESCE(k.expires_at, {NEVER})"));
            true
        }
    }
}

fn like_pattern(q: &str) -> String {
    let mut escaped = String::with_capacity(q.len() + 2);
    escaped.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

/// Appends the condition that a key shows `status` at `now`.
fn push_status_condition(sql: &mut Sql, status: KeyStatus, now: i64) {
    match status {
        KeyStatus::Active | KeyStatus::Disabled => {
            let lifecycle = if status == KeyStatus::Active {
                "'active'"
            } else {
                "'disabled'"
            };
            sql.push(&format!(
                " AND k.lifecycle = {lifecycle} AND (k.expires_at IS NULL OR k.expires_at > "
            ))
            .bind(now)
            .push(")");
        }
        KeyStatus::Expired => {
            // `IN` lets the lifecycle index answer; `+` keeps SQLite from
            // range-scanning the expiry index and sorting every expired key.
            sql.push(" AND k.lifecycle IN ('active', 'disabled') AND k.expires_at IS NOT NULL")
                .push(" AND +k.expires_at <= ")
                .bind(now);
        }
        KeyStatus::Revoked => {
            sql.push(" AND k.lifecycle = 'revoked'");
        }
    }
}

/// Appends the `q`, `owner` (and the other filter) conditions, each starting
/// with AND. `q` and `owner` read lowercase copies written with the rows, so
/// no function runs per row; `rotating` compares with `now`.
fn push_filters(sql: &mut Sql, query: &KeyQuery, now: i64) {
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = like_pattern(q);
        sql.push(" AND (k.search_text LIKE ")
            .bind(pattern.clone())
            .push(
                " ESCAPE '\\' OR k.owner_id IN (SELECT u.id FROM users u WHERE u.name_lower LIKE ",
            )
            .bind(pattern)
            .push(" ESCAPE '\\'))");
    }
    if let Some(owner) = &query.owner {
        // One IN list (not `= ? OR IN …`), so the owner index answers it.
        sql.push(" AND k.owner_id IN (SELECT u.id FROM users u WHERE u.id = ")
            .bind(owner.clone())
            .push(" OR u.name = ")
            .bind(owner.clone())
            .push(")");
    }
    if let Some(ids) = &query.only_ids {
        if ids.is_empty() {
            sql.push(" AND 1 = 0");
        } else {
            sql.push(" AND k.id IN (");
            push_id_list(sql, ids);
            sql.push(")");
        }
    }
    push_more_filters(sql, query, now);
}

/// The rotation, creator and scope conditions (`push_filters`' tail).
fn push_more_filters(sql: &mut Sql, query: &KeyQuery, now: i64) {
    if query.rotating {
        sql.push(" AND k.lifecycle <> 'revoked' AND k.previous_secret_digest IS NOT NULL")
            .push(" AND k.previous_secret_valid_until > ")
            .bind(now);
    }
    if let Some(creator) = &query.created_by {
        sql.push(" AND k.created_by IN (SELECT u.id FROM users u WHERE u.id = ")
            .bind(creator.clone())
            .push(" OR u.name = ")
            .bind(creator.clone())
            .push(")");
    }
    if let Some(scope) = &query.scope {
        // `scopes` is a JSON array of strings, and a scope (lowercase) holds
        // no quote: `%"scope"%` matches one whole element.
        sql.push(" AND k.scopes LIKE ")
            .bind(like_pattern(&format!("\"{scope}\"")))
            .push(" ESCAPE '\\'");
    }
}

/// One status group's page of the default sort (status, then newest first):
/// an index range scan in creation order, limited to what the page still needs.
fn status_group_sql(
    tenant: &str,
    query: &KeyQuery,
    status: KeyStatus,
    now: i64,
    after: Option<(i64, &str)>,
    fetch: i64,
) -> Sql {
    let rank = status_rank(status);
    let inner = if query.sort.reversed { "ASC" } else { "DESC" };
    let mut sql = Sql::new(&format!(
        "SELECT k.id, {rank} * {STATUS_GROUP} + ({STATUS_GROUP} - k.created_at) FROM keys k WHERE k.tenant_id = "
    ));
    sql.bind(tenant.to_owned());
    push_status_condition(&mut sql, status, now);
    push_filters(&mut sql, query, now);
    if let Some((created, id)) = after {
        sql.push(" AND (k.created_at, k.id) ")
            .push(if query.sort.reversed { ">" } else { "<" })
            .push(" (")
            .bind(created)
            .push(", ")
            .bind(id.to_owned())
            .push(")");
    }
    sql.push(&format!(
        " ORDER BY k.created_at {inner}, k.id {inner} LIMIT "
    ))
    .bind(fetch);
    sql
}

/// A page's keys: id and sort value, in order.
type PageRows = Vec<(String, SortValue)>;

/// A filter that matches at most this many keys is sorted in memory: reading
/// its matches once beats scanning every status group to its end.
const FEW_MATCHES: i64 = 2000;

/// The default sort's page for a filter with few matches: every match read
/// once (through the covering `keys_search` index), ordered here exactly as
/// `status_page` orders them (status, newest first, then id descending), cut
/// at the cursor. Returns `None`, having read no more than `FEW_MATCHES + 1`
/// of them, when the filter matches more; otherwise the page and the total.
fn few_matches_status_page(
    conn: &Connection,
    tenant: &str,
    query: &KeyQuery,
    now: i64,
    fetch: i64,
) -> StoreResult<Option<(PageRows, i64)>> {
    let mut sql = Sql::new(
        "SELECT k.id, k.lifecycle, k.expires_at, k.created_at FROM keys k WHERE k.tenant_id = ",
    );
    sql.bind(tenant.to_owned());
    if let Some(status) = query.status {
        push_status_condition(&mut sql, status, now);
    }
    push_filters(&mut sql, query, now);
    sql.push(" LIMIT ").bind(FEW_MATCHES + 1);
    let mut rows: Vec<(i64, String)> = conn
        .prepare_cached(&sql.text)?
        .query_map(params_from_iter(sql.params.iter()), |row| {
            let lifecycle: String = row.get(1)?;
            let expires_at: Option<i64> = row.get(2)?;
            let created_at: i64 = row.get(3)?;
            let status = match lifecycle.as_str() {
                "revoked" => KeyStatus::Revoked,
                _ if expires_at.is_some_and(|at| at <= now) => KeyStatus::Expired,
                "disabled" => KeyStatus::Disabled,
                _ => KeyStatus::Active,
            };
            Ok((
                status_rank(status) * STATUS_GROUP + (STATUS_GROUP - created_at),
                row.get(0)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    if total > FEW_MATCHES {
        return Ok(None);
    }
    let reversed = query.sort.reversed;
    let order = |(va, ia): &(i64, String), (vb, ib): &(i64, String)| {
        let natural = va.cmp(vb).then_with(|| ib.cmp(ia));
        if reversed { natural.reverse() } else { natural }
    };
    rows.sort_by(order);
    if let Some(KeyCursor {
        value: SortValue::Int(value),
        id,
    }) = &query.cursor
    {
        let at = (*value, id.clone());
        rows.retain(|row| order(row, &at) == std::cmp::Ordering::Greater);
    }
    let page = rows
        .into_iter()
        .take(usize::try_from(fetch).unwrap_or(usize::MAX))
        .map(|(value, id)| (id, SortValue::Int(value)))
        .collect();
    Ok(Some((page, total)))
}

/// The default sort's page: the status groups in order, each queried only
/// if the page is not full yet. The first page of a large tenant reads one
/// index range of its active keys; no query sorts every key.
fn status_page(
    conn: &Connection,
    tenant: &str,
    query: &KeyQuery,
    now: i64,
    fetch: i64,
) -> StoreResult<Vec<(String, SortValue)>> {
    let cursor = match &query.cursor {
        None => None,
        Some(KeyCursor {
            value: SortValue::Int(v),
            id,
        }) => Some((
            v.div_euclid(STATUS_GROUP),
            STATUS_GROUP - v.rem_euclid(STATUS_GROUP),
            id.as_str(),
        )),
        Some(_) => {
            return Err(Refusal::invalid(
                "VALIDATION_FAILED",
                "cursor: not a cursor from this list",
            )
            .into());
        }
    };
    let mut groups: Vec<KeyStatus> = match query.status {
        Some(status) => vec![status],
        None => KeyStatus::ALL.to_vec(),
    };
    if query.sort.reversed {
        groups.reverse();
    }
    let mut rows = Vec::new();
    for status in groups {
        let rank = status_rank(status);
        let after = match cursor {
            Some((at_rank, _, _)) if (rank < at_rank) != query.sort.reversed && rank != at_rank => {
                continue;
            }
            Some((at_rank, created, id)) if rank == at_rank => Some((created, id)),
            _ => None,
        };
        let remaining = fetch - i64::try_from(rows.len()).unwrap_or(fetch);
        if remaining <= 0 {
            break;
        }
        let sql = status_group_sql(tenant, query, status, now, after, remaining);
        let found: Vec<(String, SortValue)> = conn
            .prepare_cached(&sql.text)?
            .query_map(params_from_iter(sql.params.iter()), |row| {
                Ok((row.get(0)?, SortValue::Int(row.get(1)?)))
            })?
            .collect::<Result<_, _>>()?;
        rows.extend(found);
    }
    Ok(rows)
}

/// The page query of any other sort: a keyset over (sort value, id). Name
/// and created sort along indexes that also hold the filtered columns, so a
/// filtered page is an index-only scan that stops once the page is full.
fn sorted_page_sql(tenant: &str, query: &KeyQuery, now: i64, fetch: i64) -> Sql {
    let mut sql = Sql::new("SELECT k.id, ");
    let ascending = push_sort_expression(&mut sql, query.sort.field) != query.sort.reversed;
    sql.push(" AS sort_value FROM keys k WHERE k.tenant_id = ")
        .bind(tenant.to_owned());
    if let Some(status) = query.status {
        push_status_condition(&mut sql, status, now);
    }
    push_filters(&mut sql, query, now);
    if let Some(cursor) = &query.cursor {
        sql.push(" AND (");
        push_sort_expression(&mut sql, query.sort.field);
        sql.push(", k.id) ")
            .push(if ascending { ">" } else { "<" })
            .push(" (");
        match &cursor.value {
            SortValue::Int(v) => sql.bind(*v),
            SortValue::Text(v) => sql.bind(v.clone()),
        };
        sql.push(", ").bind(cursor.id.clone()).push(")");
    }
    let direction = if ascending { "ASC" } else { "DESC" };
    sql.push(&format!(
        " ORDER BY sort_value {direction}, k.id {direction} LIMIT "
    ))
    .bind(fetch);
    sql
}

fn list_keys_blocking(
    conn: &Connection,
    tenant: &str,
    query: &KeyQuery,
    now: i64,
) -> StoreResult<KeyPage> {
    let limit = query.limit.clamp(1, 1000);
    let fetch = i64::from(limit) + 1;

    let filtered = query.q.is_some()
        || query.owner.is_some()
        || query.only_ids.is_some()
        || query.rotating
        || query.created_by.is_some()
        || query.scope.is_some();
    let count = || -> StoreResult<i64> {
        let mut count = Sql::new("SELECT COUNT(*) FROM keys k WHERE k.tenant_id = ");
        count.bind(tenant.to_owned());
        if let Some(status) = query.status {
            push_status_condition(&mut count, status, now);
        }
        push_filters(&mut count, query, now);
        Ok(conn
            .prepare_cached(&count.text)?
            .query_row(params_from_iter(count.params.iter()), |row| row.get(0))?)
    };

    // 1. The page's ids and sort values, and how many keys match in all, from
    //    the keys table's indexes alone. A filtered default sort first tries
    //    to read all its matches at once (few: one scan gives page and total).
    let few = if filtered && query.sort.field == SortField::Status {
        few_matches_status_page(conn, tenant, query, now, fetch)?
    } else {
        None
    };
    let (mut rows, total): (PageRows, i64) = if let Some(few) = few {
        few
    } else if query.sort.field == SortField::Status {
        (status_page(conn, tenant, query, now, fetch)?, count()?)
    } else {
        let sql = sorted_page_sql(tenant, query, now, fetch);
        let rows = conn
            .prepare_cached(&sql.text)?
            .query_map(params_from_iter(sql.params.iter()), |row| {
                let value = match row.get_ref(1)? {
                    rusqlite::types::ValueRef::Integer(v) => SortValue::Int(v),
                    other => SortValue::Text(other.as_str().unwrap_or_default().to_owned()),
                };
                Ok((row.get(0)?, value))
            })?
            .collect::<Result<_, _>>()?;
        (rows, count()?)
    };
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|(id, value)| KeyCursor {
            value: value.clone(),
            id: id.clone(),
        })
    } else {
        None
    };

    // 2. The whole records of just those keys.
    let keys = if rows.is_empty() {
        Vec::new()
    } else {
        let mut fetch = Sql::new(KEY_SELECT);
        fetch.push(" WHERE k.id IN (");
        for (i, (id, _)) in rows.iter().enumerate() {
            if i > 0 {
                fetch.push(", ");
            }
            fetch.bind(id.clone());
        }
        fetch.push(")");
        let mut statement = conn.prepare(&fetch.text)?;
        let mut by_id: HashMap<String, ApiKey> = statement
            .query_map(params_from_iter(fetch.params.iter()), key_from_row)?
            .map(|key| key.map(|k| (k.id.as_str().to_owned(), k)))
            .collect::<Result<_, _>>()?;
        rows.iter().filter_map(|(id, _)| by_id.remove(id)).collect()
    };

    Ok(KeyPage {
        keys,
        next_cursor,
        total: u64::try_from(total).unwrap_or(0),
    })
}

const VERIFIER_SELECT: &str = "SELECT v.id, v.tenant_id, v.name, v.created_at, v.created_by, \
     COALESCE(u.name, '') FROM verifiers v LEFT JOIN users u ON u.id = v.created_by";

fn verifier_from_row(row: &Row<'_>) -> rusqlite::Result<Verifier> {
    Ok(Verifier {
        id: VerifierId::from_trusted(row.get(0)?),
        tenant_id: TenantId::from_trusted(row.get(1)?),
        name: DisplayName::from_trusted(row.get(2)?),
        created_at: time(row.get(3)?),
        created_by: user_ref(row.get(4)?, row.get(5)?),
    })
}

// ---------------------------------------------------------------- the trait

#[async_trait]
impl Store for SqliteStore {
    async fn holds_data(&self) -> StoreResult<bool> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM pepper) OR EXISTS (SELECT 1 FROM users) \
                 OR EXISTS (SELECT 1 FROM tenants) OR EXISTS (SELECT 1 FROM keys)",
                [],
                |row| row.get(0),
            )?)
        })
        .await
    }

    async fn pepper_fingerprint(&self) -> StoreResult<Option<String>> {
        self.read(|conn| {
            Ok(conn
                .query_row("SELECT fingerprint FROM pepper WHERE id = 1", [], |row| {
                    row.get(0)
                })
                .optional()?)
        })
        .await
    }

    async fn record_pepper_fingerprint(&self, fingerprint: &str) -> StoreResult<()> {
        let fingerprint = fingerprint.to_owned();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO pepper (id, fingerprint, recorded_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING",
                params![fingerprint, millis(Utc::now())],
            )?;
            Ok(())
        })
        .await
    }

    async fn check_health(&self) -> StoreResult<()> {
        self.read(|conn| {
            conn.query_row("SELECT COUNT(*) FROM schema_migrations", [], |row| {
                row.get::<_, i64>(0)
            })?;
            Ok(())
        })
        .await
    }

    async fn user_by_token_digest(&self, digest: &str) -> StoreResult<Option<User>> {
        let digest = digest.to_owned();
        self.read(move |conn| {
            let sql = format!("{USER_SELECT} AND token_digest = $1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![digest], user_from_row)
                .optional()?)
        })
        .await
    }

    async fn bootstrap_system_admin(&self, user: &User, token_digest: &str) -> StoreResult<bool> {
        let (user, digest) = (user.clone(), token_digest.to_owned());
        self.write(move |tx| {
            let admins: i64 = tx.query_row(
                "SELECT COUNT(*) FROM users WHERE roles LIKE '%system_admin%'",
                [],
                |row| row.get(0),
            )?;
            if admins > 0 {
                return Ok(false);
            }
            insert_user(tx, &user, &digest)?;
            Ok(true)
        })
        .await
    }

    async fn create_user(
        &self,
        user: &User,
        token_digest: &str,
        event: &NewEvent,
    ) -> StoreResult<()> {
        let (user, digest, event) = (user.clone(), token_digest.to_owned(), event.clone());
        self.write(move |tx| {
            insert_user(tx, &user, &digest)?;
            insert_event(tx, &event)
        })
        .await
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let id = id.as_str().to_owned();
        self.read(move |conn| load_user(conn, &id)).await
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        after: Option<&UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        let tenant = tenant.as_str().to_owned();
        let after = after.map(|id| id.as_str().to_owned());
        self.read(move |conn| {
            // Keyset on (name, id) along `users_tenant`: the cursor's user is
            // found by id, so a page never skips or repeats a user.
            let sql = format!(
                "{USER_SELECT} AND tenant_id = $1 AND ($2 IS NULL OR (name, id) > \
                 ((SELECT name FROM users WHERE id = $2), $2)) ORDER BY name, id LIMIT $3"
            );
            let users = conn
                .prepare_cached(&sql)?
                .query_map(params![tenant, after, i64::from(limit)], user_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(users)
        })
        .await
    }

    async fn update_user(&self, id: &UserId, mutation: UserMutation) -> StoreResult<User> {
        let id = id.as_str().to_owned();
        self.write(move |tx| {
            let user = load_user(tx, &id)?.ok_or_else(|| Refusal::not_found("user"))?;
            let (user, event) = mutation(user)?;
            check_name_free(tx, &user, &id)?;
            tx.execute(
                "UPDATE users SET name = $1, email = $2, roles = $3, licensed = $4, name_lower = $5, \
                 disabled_at = CASE WHEN $6 THEN COALESCE(disabled_at, $7) END WHERE id = $8",
                params![
                    user.name.as_str(),
                    user.email.as_str(),
                    user.roles.to_csv(),
                    user.licensed,
                    user.name.as_str().to_lowercase(),
                    user.disabled,
                    millis(Utc::now()),
                    user.id.as_str()
                ],
            )?;
            if let Some(event) = &event {
                insert_event(tx, event)?;
            }
            Ok(user)
        })
        .await
    }

    async fn change_user_token(&self, id: &UserId, change: TokenChange) -> StoreResult<User> {
        let id = id.as_str().to_owned();
        self.write(move |tx| {
            let mut user = load_user(tx, &id)?.ok_or_else(|| Refusal::not_found("user"))?;
            let (digest, event) = change(&user)?;
            user.has_token = digest.is_some();
            tx.execute(
                "UPDATE users SET token_digest = $1 WHERE id = $2",
                params![digest.unwrap_or_else(|| no_token(&id)), id],
            )?;
            insert_event(tx, &event)?;
            Ok(user)
        })
        .await
    }

    async fn delete_user(&self, id: &UserId, deletion: UserDeletion) -> StoreResult<User> {
        let id = id.as_str().to_owned();
        self.write(move |tx| {
            let user = load_user(tx, &id)?.ok_or_else(|| Refusal::not_found("user"))?;
            let event = deletion(&user)?;
            // The row stays for the keys that name it: no token, no roles,
            // no e-mail address; only the name they are known by.
            tx.execute(
                "UPDATE users SET deleted_at = $1, token_digest = $2, email = '', roles = '', licensed = 0 \
                 WHERE id = $3",
                params![millis(Utc::now()), no_token(&id), id],
            )?;
            insert_event(tx, &event)?;
            Ok(user)
        })
        .await
    }

    async fn create_tenant(&self, tenant: &Tenant, event: &NewEvent) -> StoreResult<()> {
        let (tenant, event) = (tenant.clone(), event.clone());
        self.write(move |tx| {
            if load_tenant(tx, tenant.id.as_str())?.is_some() {
                return Err(Refusal::conflict(
                    "TENANT_EXISTS",
                    format!("a tenant with id {:?} already exists", tenant.id.as_str()),
                )
                .into());
            }
            tx.execute(
                "INSERT INTO tenants (id, name, settings, settings_version, created_at) VALUES ($1, $2, $3, $4, $5)",
                params![
                    tenant.id.as_str(),
                    tenant.name.as_str(),
                    settings_json(&tenant.settings)?,
                    tenant.settings_version,
                    millis(tenant.created_at),
                ],
            )?;
            insert_event(tx, &event)
        })
        .await
    }

    async fn get_tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        let id = id.as_str().to_owned();
        self.read(move |conn| load_tenant(conn, &id)).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.read(|conn| {
            let sql = format!("{TENANT_SELECT} ORDER BY id");
            let tenants = conn
                .prepare(&sql)?
                .query_map([], tenant_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(tenants)
        })
        .await
    }

    async fn update_settings(
        &self,
        id: &TenantId,
        mutation: SettingsMutation,
    ) -> StoreResult<Tenant> {
        let id = id.as_str().to_owned();
        self.write(move |tx| {
            let tenant = load_tenant(tx, &id)?.ok_or_else(|| Refusal::not_found("tenant"))?;
            let write = mutation(tenant)?;
            tx.execute(
                "UPDATE tenants SET name = $1, settings = $2, settings_version = $3 WHERE id = $4",
                params![
                    write.tenant.name.as_str(),
                    settings_json(&write.tenant.settings)?,
                    write.tenant.settings_version,
                    id,
                ],
            )?;
            if write.forget_stored_secrets {
                tx.execute(
                    "UPDATE keys SET encrypted_secret = NULL WHERE tenant_id = $1",
                    params![id],
                )?;
            }
            if let Some(event) = &write.event {
                insert_event(tx, event)?;
            }
            Ok(write.tenant)
        })
        .await
    }

    async fn create_key(
        &self,
        tenant: &TenantId,
        owner: &UserId,
        idempotency: Option<Idempotency>,
        creation: KeyCreation,
    ) -> StoreResult<Created> {
        let (tenant_id, owner) = (tenant.as_str().to_owned(), owner.as_str().to_owned());
        self.write(move |tx| {
            if let Some(idem) = &idempotency {
                let earlier: Option<(String, String)> = tx
                    .query_row(
                        "SELECT request_hash, key_id FROM idempotency_keys WHERE tenant_id = $1 AND user_id = $2 AND idem_key = $3",
                        params![tenant_id, idem.user_id.as_str(), idem.key],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                if let Some((hash, key_id)) = earlier {
                    if hash != idem.request_hash {
                        return Err(Refusal::invalid(
                            "IDEMPOTENCY_KEY_REUSED",
                            "this Idempotency-Key was used for a different request",
                        )
                        .into());
                    }
                    let key = load_key(tx, &tenant_id, &key_id)?.ok_or_else(|| {
                        Refusal::conflict(
                            "IDEMPOTENT_KEY_DELETED",
                            "the key created under this Idempotency-Key has since been deleted",
                        )
                    })?;
                    return Ok(Created::Replayed(key));
                }
            }
            let tenant = load_tenant(tx, &tenant_id)?.ok_or_else(|| Refusal::not_found("tenant"))?;
            let facts = CreationFacts {
                tenant,
                owner: load_user(tx, &owner)?,
                owner_live_keys: live_keys(tx, &tenant_id, &owner)?,
            };
            let (key, secret, event) = creation(facts)?;
            insert_key(tx, &key)?;
            insert_event(tx, &event)?;
            if let Some(idem) = &idempotency {
                tx.execute(
                    "INSERT INTO idempotency_keys (tenant_id, user_id, idem_key, request_hash, key_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    params![tenant_id, idem.user_id.as_str(), idem.key, idem.request_hash, key.id.as_str(), millis(Utc::now())],
                )?;
            }
            Ok(Created::New(key, secret))
        })
        .await
        .inspect(|created| {
            if let Created::New(key, _) = created {
                self.feed.feed.keys_written([key]);
            }
        })
    }

    async fn get_key(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ApiKey>> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        self.read(move |conn| load_key(conn, &tenant, &id)).await
    }

    async fn list_keys(
        &self,
        tenant: &TenantId,
        query: &KeyQuery,
        now: DateTime<Utc>,
    ) -> StoreResult<KeyPage> {
        let (tenant, query) = (tenant.as_str().to_owned(), query.clone());
        self.read(move |conn| list_keys_blocking(conn, &tenant, &query, millis(now)))
            .await
    }

    async fn update_key(
        &self,
        tenant: &TenantId,
        id: &str,
        owner: Option<&UserId>,
        mutation: KeyMutation,
    ) -> StoreResult<KeyCommitted> {
        let (tenant_id, id) = (tenant.as_str().to_owned(), id.to_owned());
        let owner = owner.map(|o| o.as_str().to_owned());
        self.write(move |tx| {
            let key = load_key(tx, &tenant_id, &id)?.ok_or_else(|| Refusal::not_found("key"))?;
            let tenant =
                load_tenant(tx, &tenant_id)?.ok_or_else(|| Refusal::not_found("tenant"))?;
            let owner = match owner {
                None => None,
                Some(owner) => match load_user(tx, &owner)? {
                    None => None,
                    Some(user) => Some(OwnerFacts {
                        user,
                        live_keys: live_keys(tx, &tenant_id, &owner)?,
                    }),
                },
            };
            let before = key.clone();
            let write = mutation(key, KeyFacts { tenant, owner })?;
            let deleted = write.key.is_none();
            match &write.key {
                Some(after) if *after != before => update_key_row(tx, after)?,
                Some(_) => {}
                None => {
                    tx.execute("DELETE FROM key_usage WHERE key_id = $1", params![id])?;
                    tx.execute(
                        "DELETE FROM key_usage_hourly WHERE key_id = $1",
                        params![id],
                    )?;
                    tx.execute("DELETE FROM keys WHERE id = $1", params![id])?;
                }
            }
            for event in &write.events {
                insert_event(tx, event)?;
            }
            Ok(KeyCommitted {
                key: write.key.unwrap_or(before),
                secret: write.secret,
                deleted,
            })
        })
        .await
        .inspect(|committed| {
            if !committed.deleted {
                self.feed.feed.keys_written([&committed.key]);
            }
        })
    }

    async fn import_keys(&self, keys: Vec<ApiKey>) -> StoreResult<()> {
        let keys = self
            .write(move |tx| {
                for key in &keys {
                    insert_key(tx, key)?;
                }
                Ok(keys)
            })
            .await?;
        self.feed.feed.keys_written(&keys);
        Ok(())
    }

    async fn key_by_digest(&self, digest: &str) -> StoreResult<Option<(ApiKey, TenantSettings)>> {
        let digest = digest.to_owned();
        self.read(move |conn| {
            // Two unique-index lookups: the current secrets, then the previous ones.
            let mut found = None;
            for column in ["secret_digest", "previous_secret_digest"] {
                let sql = format!("{KEY_SELECT} WHERE k.{column} = $1");
                found = conn
                    .prepare_cached(&sql)?
                    .query_row(params![digest], key_from_row)
                    .optional()?;
                if found.is_some() {
                    break;
                }
            }
            let Some(key) = found else {
                return Ok(None);
            };
            let tenant = load_tenant(conn, key.tenant_id.as_str())?
                .ok_or_else(|| backend("key without tenant"))?;
            Ok(Some((key, tenant.settings)))
        })
        .await
    }

    async fn record_usage(
        &self,
        counts: &[(UsageBucket, u64)],
        last_used: &[(KeyId, DateTime<Utc>)],
    ) -> StoreResult<()> {
        let counts: Vec<(String, i64, &'static str, i64)> = counts
            .iter()
            .map(|(b, n)| {
                (
                    b.key_id.as_str().to_owned(),
                    b.minute,
                    b.outcome,
                    i64::try_from(*n).unwrap_or(i64::MAX),
                )
            })
            .collect();
        let last_used: Vec<(String, i64)> = last_used
            .iter()
            .map(|(id, at)| (id.as_str().to_owned(), millis(*at)))
            .collect();
        self.write(move |tx| {
            {
                let mut add = tx.prepare_cached(
                    "INSERT INTO key_usage (key_id, minute, outcome, count) \
                     SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM keys WHERE id = $1) \
                     ON CONFLICT (key_id, minute, outcome) DO UPDATE SET count = key_usage.count + excluded.count",
                )?;
                for (key_id, minute, outcome, count) in &counts {
                    add.execute(params![key_id, minute, outcome, count])?;
                }
                // The same counts by hour: the 7-day history and the suspicion baseline.
                let mut hourly: HashMap<(&str, i64, &str), i64> = HashMap::new();
                for (key_id, minute, outcome, count) in &counts {
                    *hourly
                        .entry((key_id.as_str(), minute.div_euclid(60), *outcome))
                        .or_insert(0) += count;
                }
                let mut add_hourly = tx.prepare_cached(
                    "INSERT INTO key_usage_hourly (key_id, hour, outcome, count) \
                     SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM keys WHERE id = $1) \
                     ON CONFLICT (key_id, hour, outcome) DO UPDATE SET count = key_usage_hourly.count + excluded.count",
                )?;
                for ((key_id, hour, outcome), count) in &hourly {
                    add_hourly.execute(params![key_id, hour, outcome, count])?;
                }
                let mut touch = tx.prepare_cached(
                    "UPDATE keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
                )?;
                for (key_id, at) in &last_used {
                    touch.execute(params![at, key_id])?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn usage_since(
        &self,
        keys: &[KeyId],
        since_minute: i64,
    ) -> StoreResult<HashMap<KeyId, UsageCounts>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = keys.iter().map(|k| k.as_str().to_owned()).collect();
        self.read(move |conn| {
            let mut sql = Sql::new(
                "SELECT key_id, SUM(CASE WHEN outcome = 'VALID' THEN count ELSE 0 END), \
                 SUM(CASE WHEN outcome <> 'VALID' THEN count ELSE 0 END) FROM key_usage WHERE minute >= ",
            );
            sql.bind(since_minute).push(" AND key_id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(id.clone());
            }
            sql.push(") GROUP BY key_id");
            let mut statement = conn.prepare(&sql.text)?;
            let counts = statement
                .query_map(params_from_iter(sql.params.iter()), |row| {
                    let valid: i64 = row.get(1)?;
                    let failed: i64 = row.get(2)?;
                    Ok((
                        KeyId::from_trusted(row.get(0)?),
                        UsageCounts {
                            valid: u64::try_from(valid).unwrap_or(0),
                            failed: u64::try_from(failed).unwrap_or(0),
                        },
                    ))
                })?
                .collect::<Result<_, _>>()?;
            Ok(counts)
        })
        .await
    }

    async fn list_events(&self, tenant: &TenantId, query: &EventQuery) -> StoreResult<Vec<Event>> {
        let (tenant, query) = (tenant.as_str().to_owned(), query.clone());
        self.read(move |conn| {
            let mut sql = Sql::new(&format!("{EVENT_SELECT} WHERE tenant_id = "));
            sql.bind(tenant);
            if let Some(key) = &query.key {
                sql.push(" AND target_id = ").bind(key.clone());
            }
            if let Some(action) = query.action {
                sql.push(" AND action = ").bind(action.as_str().to_owned());
            }
            if let Some(before) = query.before {
                sql.push(" AND id < ").bind(before);
            }
            sql.push(" ORDER BY id DESC LIMIT ")
                .bind(i64::from(query.limit.clamp(1, 1000)));
            let mut statement = conn.prepare(&sql.text)?;
            let events = statement
                .query_map(params_from_iter(sql.params.iter()), event_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(events)
        })
        .await
    }

    async fn usage_history(
        &self,
        key: &KeyId,
        resolution: UsageResolution,
        since_minute: i64,
    ) -> StoreResult<Vec<UsageRow>> {
        let key = key.as_str().to_owned();
        let (sql, since, minutes_per_row) = match resolution {
            UsageResolution::Minute => (
                "SELECT minute, outcome, count FROM key_usage WHERE key_id = $1 AND minute >= $2 ORDER BY minute",
                since_minute,
                1,
            ),
            UsageResolution::Hour => (
                "SELECT hour, outcome, count FROM key_usage_hourly WHERE key_id = $1 AND hour >= $2 ORDER BY hour",
                since_minute.div_euclid(60),
                60,
            ),
        };
        self.read(move |conn| {
            let rows = conn
                .prepare_cached(sql)?
                .query_map(params![key, since], |row| {
                    let at: i64 = row.get(0)?;
                    let count: i64 = row.get(2)?;
                    Ok(UsageRow {
                        minute: at * minutes_per_row,
                        outcome: row.get(1)?,
                        count: u64::try_from(count).unwrap_or(0),
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn usage_activity(
        &self,
        keys: &[KeyId],
        last_hour_from: i64,
        baseline_hours: std::ops::Range<i64>,
    ) -> StoreResult<HashMap<KeyId, KeyActivity>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = keys.iter().map(|k| k.as_str().to_owned()).collect();
        self.read(move |conn| {
            let mut activity: HashMap<KeyId, KeyActivity> = HashMap::new();
            // Each chunk walks the primary keys (key_id, minute|hour, …): a
            // range per key, never the whole table.
            for chunk in ids.chunks(500) {
                let mut sql = Sql::new(
                    "SELECT key_id, SUM(CASE WHEN outcome = 'VALID' THEN count ELSE 0 END), \
                     SUM(CASE WHEN outcome <> 'VALID' THEN count ELSE 0 END) FROM key_usage \
                     WHERE key_id IN (",
                );
                push_id_list(&mut sql, chunk);
                sql.push(") AND minute >= ").bind(last_hour_from);
                sql.push(" GROUP BY key_id");
                let mut statement = conn.prepare_cached(&sql.text)?;
                let mut rows = statement.query(params_from_iter(sql.params.iter()))?;
                while let Some(row) = rows.next()? {
                    let entry = activity
                        .entry(KeyId::from_trusted(row.get(0)?))
                        .or_default();
                    entry.last_hour_valid = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
                    entry.last_hour_failed = u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
                }
                let mut sql =
                    Sql::new("SELECT key_id, SUM(count) FROM key_usage_hourly WHERE key_id IN (");
                push_id_list(&mut sql, chunk);
                sql.push(") AND hour >= ")
                    .bind(baseline_hours.start)
                    .push(" AND hour < ")
                    .bind(baseline_hours.end)
                    .push(" GROUP BY key_id");
                let mut statement = conn.prepare_cached(&sql.text)?;
                let mut rows = statement.query(params_from_iter(sql.params.iter()))?;
                while let Some(row) = rows.next()? {
                    let entry = activity
                        .entry(KeyId::from_trusted(row.get(0)?))
                        .or_default();
                    entry.baseline_24h = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
                }
            }
            Ok(activity)
        })
        .await
    }

    async fn prune_records(
        &self,
        events_before: Option<DateTime<Utc>>,
        idempotency_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut deleted = 0;
        let mut batches: Vec<(&'static str, i64)> = vec![(
            "idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < $1 LIMIT 5000)",
            millis(idempotency_before),
        )];
        if let Some(before) = events_before {
            batches.push((
                "events WHERE id IN (SELECT id FROM events WHERE at < $1 LIMIT 5000)",
                millis(before),
            ));
        }
        for (target, before) in batches {
            // In batches, so a first prune of a large backlog never holds the
            // writer for long.
            loop {
                let sql = format!("DELETE FROM {target}");
                let n = self
                    .write(move |tx| Ok(tx.execute(&sql, params![before])?))
                    .await?;
                deleted += n as u64;
                if n < 5000 {
                    break;
                }
            }
        }
        Ok(deleted)
    }

    async fn prune_usage(&self, before_minute: i64, before_hour: i64) -> StoreResult<u64> {
        // An hour of minute rows (a day of hour rows) per transaction, so
        // a first prune of a large backlog never holds the writer for long.
        let mut deleted = 0;
        for (table, column, before, step) in [
            ("key_usage", "minute", before_minute, 60),
            ("key_usage_hourly", "hour", before_hour, 24),
        ] {
            loop {
                let oldest: Option<i64> = self
                    .read(move |conn| {
                        Ok(conn.query_row(
                            &format!("SELECT MIN({column}) FROM {table}"),
                            [],
                            |row| row.get(0),
                        )?)
                    })
                    .await?;
                let Some(oldest) = oldest.filter(|oldest| *oldest < before) else {
                    break;
                };
                let upto = (oldest + step).min(before);
                deleted += self
                    .write(move |tx| {
                        Ok(tx.execute(
                            &format!("DELETE FROM {table} WHERE {column} < $1"),
                            params![upto],
                        )?)
                    })
                    .await?;
            }
        }
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }

    async fn events_after(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let sql =
                format!("{EVENT_SELECT} WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3");
            let events = conn
                .prepare_cached(&sql)?
                .query_map(params![tenant, after, i64::from(limit)], event_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(events)
        })
        .await
    }

    fn subscribe_events(&self) -> tokio::sync::broadcast::Receiver<Arc<Event>> {
        self.feed.feed.subscribe()
    }

    fn before_publishing(&self, hook: super::CommitHook) {
        self.feed.feed.set_hook(hook);
    }

    fn when_keys_written(&self, hook: super::KeysHook) {
        self.feed.feed.set_keys_hook(hook);
    }

    /// Every write of this server passes through this store, and a commit
    /// by another process to the file is noticed within 250 ms
    /// ([`SqliteStore::join_fleet`]).
    fn hears_every_key_write(&self) -> bool {
        true
    }

    /// One server owns the file; still, a process may write to it beside
    /// the server (a seeding script, a repair by hand). Every 250 ms the
    /// writer connection's `PRAGMA data_version` tells whether another
    /// connection committed since (this store's own commits do not change
    /// it); if so, the keys' digests are handed to the hook again, the
    /// reset hook forgets every cached answer, and any events the other
    /// process wrote go out. Ends when the store is dropped.
    fn join_fleet(&self, _instance: &super::InstanceInfo) {
        // The baseline, read now: a write by another process from here on
        // is noticed, however soon it comes.
        let mut seen: Option<i64> = lock(&self.writer)
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .ok();
        let writer = Arc::downgrade(&self.writer);
        let readers = Arc::downgrade(&self.readers);
        let (feed, reset, file) = (
            self.feed.clone(),
            Arc::clone(&self.reset),
            self.file.clone(),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(EXTERNAL_CHECK_EVERY).await;
                let (Some(writer), Some(readers)) = (writer.upgrade(), readers.upgrade()) else {
                    return;
                };
                let (feed, reset, file) = (feed.clone(), Arc::clone(&reset), file.clone());
                let checked = tokio::task::spawn_blocking(move || {
                    let conn = lock(&writer);
                    let version: i64 =
                        conn.query_row("PRAGMA data_version", [], |row| row.get(0))?;
                    if seen.is_some_and(|seen| seen != version) {
                        tracing::info!(
                            "another process wrote to the database; re-reading its keys"
                        );
                        let reader = match lock(&readers).pop() {
                            Some(reader) => reader,
                            None => open_connection(&file.path)?,
                        };
                        let digests = key_digests_blocking(&reader)?;
                        lock(&readers).push(reader);
                        feed.feed.digests_given(digests.iter().map(String::as_str));
                        if let Some(hook) = reset.get() {
                            hook();
                        }
                        feed.publish_committed(&conn);
                    }
                    Ok::<i64, StoreError>(version)
                })
                .await;
                match checked {
                    Ok(Ok(version)) => seen = Some(version),
                    Ok(Err(err)) => {
                        tracing::warn!(error = %err, "checking the database for other writers failed");
                    }
                    Err(_) => return,
                }
            }
        });
    }

    fn on_fleet_reset(&self, hook: super::ResetHook) {
        if self.reset.set(hook).is_err() {
            tracing::warn!("a second reset hook was ignored");
        }
    }

    async fn key_digests(&self) -> StoreResult<Vec<String>> {
        self.read(key_digests_blocking).await
    }

    async fn append_event(&self, event: &NewEvent) -> StoreResult<()> {
        let event = event.clone();
        self.write(move |tx| insert_event(tx, &event)).await
    }

    async fn update_keys(
        &self,
        tenant: &TenantId,
        ids: Vec<String>,
        commit: bool,
        mut mutation: KeysMutation,
    ) -> StoreResult<Vec<KeyOutcome>> {
        let tenant_id = tenant.as_str().to_owned();
        let run = move |tx: &Connection| -> StoreResult<Vec<KeyOutcome>> {
            let tenant =
                load_tenant(tx, &tenant_id)?.ok_or_else(|| Refusal::not_found("tenant"))?;
            let mut outcomes = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(key) = load_key(tx, &tenant_id, &id)? else {
                    outcomes.push(KeyOutcome {
                        id,
                        key: None,
                        refusal: Some(Refusal::not_found("key")),
                    });
                    continue;
                };
                let before = key.clone();
                let (key, refusal) = match mutation(key, &tenant) {
                    Ok((after, events)) => {
                        if commit {
                            if after != before {
                                update_key_row(tx, &after)?;
                            }
                            for event in &events {
                                insert_event(tx, event)?;
                            }
                        }
                        (after, None)
                    }
                    Err(refusal) => (before, Some(refusal)),
                };
                outcomes.push(KeyOutcome {
                    id,
                    key: Some(key),
                    refusal,
                });
            }
            Ok(outcomes)
        };
        if commit {
            self.write(move |tx| run(tx)).await
        } else {
            // A preview reads one snapshot and writes nothing: no writer needed.
            self.read(move |conn| {
                let tx = conn.unchecked_transaction()?;
                let outcomes = run(&tx)?;
                tx.rollback()?;
                Ok(outcomes)
            })
            .await
        }
    }

    // --- verifier tokens

    async fn create_verifier(
        &self,
        verifier: &Verifier,
        token_digest: &str,
        event: &NewEvent,
    ) -> StoreResult<()> {
        let (verifier, digest, event) = (verifier.clone(), token_digest.to_owned(), event.clone());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO verifiers (id, tenant_id, name, token_digest, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                params![
                    verifier.id.as_str(),
                    verifier.tenant_id.as_str(),
                    verifier.name.as_str(),
                    digest,
                    millis(verifier.created_at),
                    verifier.created_by.id.as_str(),
                ],
            )?;
            insert_event(tx, &event)
        })
        .await
    }

    async fn list_verifiers(&self, tenant: &TenantId) -> StoreResult<Vec<Verifier>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let sql =
                format!("{VERIFIER_SELECT} WHERE v.tenant_id = $1 ORDER BY v.created_at, v.id");
            let verifiers = conn
                .prepare(&sql)?
                .query_map(params![tenant], verifier_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(verifiers)
        })
        .await
    }

    async fn verifier_by_token_digest(&self, digest: &str) -> StoreResult<Option<Verifier>> {
        let digest = digest.to_owned();
        self.read(move |conn| {
            let sql = format!("{VERIFIER_SELECT} WHERE v.token_digest = $1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![digest], verifier_from_row)
                .optional()?)
        })
        .await
    }

    async fn delete_verifier(
        &self,
        tenant: &TenantId,
        id: &VerifierId,
        revocation: VerifierRevocation,
    ) -> StoreResult<Verifier> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.as_str().to_owned());
        self.write(move |tx| {
            let sql = format!("{VERIFIER_SELECT} WHERE v.tenant_id = $1 AND v.id = $2");
            let verifier = tx
                .query_row(&sql, params![tenant, id], verifier_from_row)
                .optional()?
                .ok_or_else(|| Refusal::not_found("verifier"))?;
            tx.execute("DELETE FROM verifiers WHERE id = $1", params![id])?;
            insert_event(tx, &revocation(&verifier))?;
            Ok(verifier)
        })
        .await
    }
}

/// Appends `$n, $m, …` binding each id.
fn push_id_list(sql: &mut Sql, ids: &[String]) {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(id.clone());
    }
}

#[cfg(test)]
mod sort_plan_tests {
    use super::*;

    /// Every sort of the key list walks an index: SQLite never sorts a
    /// whole tenant into a temporary tree to answer a page.
    #[test]
    fn every_sorted_page_reads_an_index_instead_of_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        std::fs::File::create(&path).unwrap();
        let mut conn = open_connection(&path).unwrap();
        migrate(&mut conn).unwrap();
        for field in [
            SortField::Name,
            SortField::Created,
            SortField::LastUsed,
            SortField::Expires,
        ] {
            for reversed in [false, true] {
                let mut query = KeyQuery {
                    sort: crate::domain::KeySort { field, reversed },
                    limit: 50,
                    ..KeyQuery::default()
                };
                for cursor in [None, Some(SortValue::Int(5))] {
                    query.cursor = cursor.map(|value| KeyCursor {
                        value: match (field, value) {
                            (SortField::Name, _) => SortValue::Text("m".to_owned()),
                            (_, v) => v,
                        },
                        id: "key_x".to_owned(),
                    });
                    let sql = sorted_page_sql("acme", &query, 0, 51);
                    let plan: Vec<String> = conn
                        .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
                        .unwrap()
                        .query_map(params_from_iter(sql.params.iter()), |row| row.get(3))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    assert!(
                        !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                        "{field:?} reversed={reversed}: {plan:?}"
                    );
                }
            }
        }
    }
}
