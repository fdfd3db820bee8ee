//! The PostgreSQL backend (`--database postgres://…`): the same [`Store`]
//! as [`super::sqlite`], on a connection pool, for several `keydesk serve`
//! instances sharing one database.
//!
//! - **Check and write in one transaction.** A mutation locks what it
//!   decides on first: its tenant's row (`SELECT … FOR NO KEY UPDATE`), or,
//!   for what has no tenant (tenant creation, system administrators, the
//!   bootstrap), a transaction-scoped advisory lock. Then it reads, lets
//!   the domain's closure decide, writes, and inserts its audit events, all
//!   under READ COMMITTED: every statement after the lock sees what the
//!   previous holder committed, so limits such as `max_keys_per_user` and
//!   If-Match are exact across instances.
//! - **A tenant's events commit in id order.** Event ids come from a
//!   sequence when inserted; an event is inserted only while its tenant's
//!   lock is held (see [`Write::insert_event`]), and the lock is released
//!   at commit. So a stream that resumes with `Last-Event-ID` (which reads
//!   one tenant's events) can never later miss a smaller id.
//! - **Live streams in this process** get each committed event through the
//!   shared [`EventFeed`], published right after the commit, in commit
//!   order (the `publishing` mutex). Events committed by other instances
//!   do not reach this process's feed yet: that is where a `LISTEN`
//!   connection will publish them ([`PgStore::publish`] is its entry point).
//! - **Errors**: a database that cannot be reached or closed the
//!   connection is [`StoreError::Unavailable`] (503); a full disk (SQLSTATE
//!   53100) is [`StoreError::Full`].

mod fleet;
mod list;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::feed::EventFeed;
use super::{
    Created, EventQuery, FleetView, Idempotency, InstanceInfo, KeyCommitted, KeyCreation, KeyFacts,
    KeyMutation, KeyOutcome, KeyPage, KeyQuery, KeysMutation, SettingsMutation, Store, StoreError,
    StoreResult, TokenChange, UsageBucket, UsageCounts, UsageResolution, UsageRow, UserDeletion,
    UserMutation, VerifierRevocation,
};
use crate::domain::{
    ApiKey, CreationFacts, Description, DisplayName, Email, Event, EventAction, KeyActivity, KeyId,
    KeyName, Lifecycle, NewEvent, OwnerFacts, PersonName, RateLimit, Refusal, Roles, Scope, Tenant,
    TenantId, TenantSettings, User, UserId, UserRef, Verifier, VerifierId,
};

/// Schema migrations, numbered as SQLite's, applied in order at start.
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
    (10, include_str!("migrations/0010_fleet.sql")),
];

/// Advisory lock keys ("keydesk" in ASCII, then a number): migrations at
/// start, and writes of what belongs to no tenant.
const MIGRATION_LOCK: i64 = 0x6b65_7964_6573_6b01;
const NO_TENANT_LOCK: i64 = 0x6b65_7964_6573_6b02;

/// Connections per instance. Verification reads the database only on a
/// cache miss, and writes are short: a few connections serve a busy
/// instance; a fleet of ten stays well under PostgreSQL's default 100.
pub const POOL_SIZE: usize = 16;
/// How long a request waits for a free connection, or for a new one.
const POOL_WAIT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct PgStore {
    pool: Pool,
    feed: EventFeed,
    /// Held from a write's commit until its events are published, so this
    /// process publishes in commit order (a tenant's: in id order).
    publishing: Arc<tokio::sync::Mutex<()>>,
    /// `host:port/database`, for messages (never the password).
    target: String,
    /// What the listening connection connects with.
    config: tokio_postgres::Config,
    /// The change this process has applied, who it is in the fleet.
    fleet: Arc<fleet::Fleet>,
}

/// Where `config` points, without credentials.
fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(
            config
                .get_ports()
                .iter()
                .copied()
                .chain(std::iter::repeat(5432)),
        )
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost:5432".to_owned()
    } else {
        hosts.join(",")
    };
    format!("{hosts}/{}", config.get_dbname().unwrap_or("postgres"))
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:pass@host:port/db`)
    /// and applies migrations. Fails with [`StoreError::Unavailable`] naming
    /// the host (never the password) when the database cannot be reached.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|_| {
            StoreError::Backend(
                "--database: not a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)"
                    .to_owned(),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("keydesk");
        }
        let target = describe(&config);
        let manager = Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(backend)?;
        let store = Self {
            pool,
            feed: EventFeed::new(super::EVENT_BUFFER),
            publishing: Arc::new(tokio::sync::Mutex::new(())),
            target,
            config,
            fleet: Arc::new(fleet::Fleet::new(0)),
        };
        let unreachable = |err| match err {
            StoreError::Unavailable(cause) => StoreError::Unavailable(format!(
                "cannot reach PostgreSQL at {}: {cause}",
                store.target
            )),
            other => other,
        };
        store.migrate().await.map_err(unreachable)?;
        // Nothing is cached or streamed yet: what committed before is applied.
        let current = fleet::current(&store.client().await?).await?;
        Ok(Self {
            fleet: Arc::new(fleet::Fleet::new(current)),
            ..store
        })
    }

    /// Holds up to `capacity` committed events for live subscribers (default
    /// [`super::EVENT_BUFFER`]). Call it before anyone subscribes.
    #[must_use]
    pub fn with_event_buffer(mut self, capacity: usize) -> Self {
        self.feed = self.feed.with_capacity(capacity);
        self
    }

    /// `host:port/database`, as messages name it.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Hands `events` to this process's hook and live streams, as if
    /// committed here. Events of other instances come in through the
    /// fleet's applier (`fleet::Fleet::catch_up`), which uses the feed the
    /// same way, in change order.
    pub fn publish(&self, events: Vec<Event>) {
        for event in events {
            self.feed.publish(event);
        }
    }

    /// Applies the migrations not applied yet, in one transaction holding
    /// an advisory lock: instances starting together wait for each other,
    /// and the second finds everything applied.
    async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
        let applied: Vec<i64> = tx
            .query("SELECT version FROM schema_migrations", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        for (version, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &millis(Utc::now())],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(|err| match err {
            deadpool_postgres::PoolError::Backend(err) => StoreError::from(err),
            deadpool_postgres::PoolError::Timeout(_) => StoreError::Unavailable(format!(
                "no connection to PostgreSQL at {} within {} s",
                self.target,
                POOL_WAIT.as_secs()
            )),
            other => StoreError::Unavailable(format!("PostgreSQL at {}: {other}", self.target)),
        })
    }

    /// Commits `write` and publishes its events, in commit order. A write
    /// with events is a change of the fleet: numbered and announced in its
    /// transaction ([`fleet::bump`]), published after every change before it.
    async fn commit(&self, write: Write<'_>) -> StoreResult<()> {
        let Write { tx, events, .. } = write;
        let _order = self.publishing.lock().await;
        if events.is_empty() {
            tx.commit().await?;
            return Ok(());
        }
        let ids: Vec<i64> = events.iter().map(|event| event.id).collect();
        let change = fleet::bump(&tx, self.fleet.instance_id(), &ids).await?;
        let earlier = self.fleet.unapplied_before(&tx, change).await?;
        tx.commit().await?;
        self.fleet.publish_own(&self.feed, change, earlier, events);
        Ok(())
    }
}

/// A write transaction: the locks it holds and the events it inserted.
struct Write<'a> {
    tx: deadpool_postgres::Transaction<'a>,
    /// Tenants whose lock this transaction holds (`None`: the lock of what
    /// has no tenant).
    locked: Vec<Option<String>>,
    events: Vec<Event>,
}

impl<'a> Write<'a> {
    async fn begin(client: &'a mut deadpool_postgres::Client) -> StoreResult<Self> {
        Ok(Self {
            tx: client.transaction().await?,
            locked: Vec::new(),
            events: Vec::new(),
        })
    }

    /// Serialises this transaction with every other write of `tenant` (on
    /// any instance) until it ends: a tenant's row lock, or for `None` the
    /// advisory lock of what has no tenant. Taking a lock held already is free.
    async fn lock(&mut self, tenant: Option<&str>) -> StoreResult<()> {
        let key = tenant.map(str::to_owned);
        if self.locked.contains(&key) {
            return Ok(());
        }
        match tenant {
            // NO KEY UPDATE: exclusive among writers of the tenant, but no
            // obstacle to foreign-key checks of rows that reference it.
            Some(tenant) => {
                let statement = self
                    .tx
                    .prepare_cached("SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE")
                    .await?;
                self.tx.query_opt(&statement, &[&tenant]).await?;
            }
            None => {
                self.tx
                    .execute("SELECT pg_advisory_xact_lock($1)", &[&NO_TENANT_LOCK])
                    .await?;
            }
        }
        self.locked.push(key);
        Ok(())
    }

    /// Inserts `event` under its tenant's lock (taken here if the write
    /// did not take it already), so a tenant's events commit in id order.
    async fn insert_event(&mut self, event: &NewEvent) -> StoreResult<()> {
        self.lock(event.tenant_id.as_ref().map(TenantId::as_str))
            .await?;
        let statement = self
            .tx
            .prepare_cached(
                "INSERT INTO events (tenant_id, at, action, actor_id, actor_name, target_id, target_name, source, changes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 RETURNING id, tenant_id, at, action, actor_id, actor_name, target_id, target_name, source, changes",
            )
            .await?;
        let row = self
            .tx
            .query_one(
                &statement,
                &[
                    &event.tenant_id.as_ref().map(TenantId::as_str),
                    &millis(event.at),
                    &event.action.as_str(),
                    &event.actor.id.as_str(),
                    &event.actor.name,
                    &event.target_id,
                    &event.target_name,
                    &event.source,
                    &event.changes.to_string(),
                ],
            )
            .await?;
        self.events.push(event_from_row(&row));
        Ok(())
    }
}

// ---------------------------------------------------------------- errors

fn backend(err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(err.to_string())
}

/// The error and its causes ("error connecting to server: Connection refused").
fn with_causes(err: &tokio_postgres::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(err: tokio_postgres::Error) -> Self {
        if let Some(db) = err.as_db_error() {
            let code = db.code();
            if *code == SqlState::DISK_FULL {
                return StoreError::Full;
            }
            if *code == SqlState::UNIQUE_VIOLATION && db.constraint() == Some("tenants_pkey") {
                return Refusal::conflict("TENANT_EXISTS", "a tenant with this id already exists")
                    .into();
            }
            // The database cannot be used, whatever was asked of it: a
            // connection exception, the server shutting down or refusing
            // connections, the database or the role gone.
            let class = &code.code()[..2];
            if matches!(class, "08" | "28" | "3D" | "57" | "53") {
                return StoreError::Unavailable(with_causes(&err));
            }
            return backend(err);
        }
        let io = std::error::Error::source(&err)
            .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some());
        if err.is_closed() || io || err.to_string().contains("timed out") {
            return StoreError::Unavailable(with_causes(&err));
        }
        StoreError::Backend(with_causes(&err))
    }
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

/// Parameters as tokio-postgres takes them.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

async fn query<C: GenericClient>(
    client: &C,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Vec<Row>> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query(&statement, params).await?)
}

async fn query_opt<C: GenericClient>(
    client: &C,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Option<Row>> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query_opt(&statement, params).await?)
}

async fn query_one<C: GenericClient>(
    client: &C,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Row> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query_one(&statement, params).await?)
}

async fn execute<C: GenericClient>(client: &C, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.execute(&statement, params).await?)
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

fn key_from_row(row: &Row) -> StoreResult<ApiKey> {
    let scopes: String = row.try_get(6)?;
    let scopes: Vec<String> = serde_json::from_str(&scopes).unwrap_or_default();
    let lifecycle: String = row.try_get(7)?;
    let revoked_by: Option<String> = row.try_get(17)?;
    let limit: (Option<i64>, Option<i64>) = (row.try_get(25)?, row.try_get(26)?);
    Ok(ApiKey {
        id: KeyId::from_trusted(row.try_get(0)?),
        tenant_id: TenantId::from_trusted(row.try_get(1)?),
        name: KeyName::from_trusted(row.try_get(2)?),
        description: Description::from_trusted(row.try_get(3)?),
        owner: user_ref(row.try_get(4)?, row.try_get(5)?),
        scopes: scopes.into_iter().map(Scope::from_trusted).collect(),
        lifecycle: Lifecycle::parse(&lifecycle).unwrap_or(Lifecycle::Revoked),
        created_at: time(row.try_get(8)?),
        created_by: user_ref(row.try_get(9)?, row.try_get(10)?),
        updated_at: time(row.try_get(11)?),
        updated_by: user_ref(row.try_get(12)?, row.try_get(13)?),
        expires_at: opt_time(row.try_get(14)?),
        last_used_at: opt_time(row.try_get(15)?),
        revoked_at: opt_time(row.try_get(16)?),
        revoked_by: match revoked_by {
            Some(id) => Some(user_ref(id, row.try_get(18)?)),
            None => None,
        },
        start: row.try_get(19)?,
        secret_digest: row.try_get(20)?,
        encrypted_secret: row.try_get(21)?,
        previous_secret_digest: row.try_get(22)?,
        previous_secret_valid_until: opt_time(row.try_get(23)?),
        version: row.try_get(24)?,
        rate_limit: match limit {
            (Some(requests), Some(window_seconds)) => Some(RateLimit {
                requests: u32::try_from(requests).unwrap_or(u32::MAX),
                window_seconds: u32::try_from(window_seconds).unwrap_or(u32::MAX),
            }),
            _ => None,
        },
    })
}

fn scopes_json(scopes: &[Scope]) -> String {
    let list: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

/// The lowercase text a key search (`q`) looks in: name, id and start.
fn search_text(key: &ApiKey) -> String {
    format!("{} {} {}", key.name, key.id, key.start).to_lowercase()
}

async fn insert_key<C: GenericClient>(tx: &C, key: &ApiKey) -> StoreResult<()> {
    execute(
        tx,
        "INSERT INTO keys (id, tenant_id, name, description, owner_id, scopes, lifecycle, created_at, \
         created_by, updated_at, updated_by, expires_at, last_used_at, revoked_at, revoked_by, start, \
         secret_digest, encrypted_secret, previous_secret_digest, previous_secret_valid_until, version, \
         name_lower, search_text, rate_limit_requests, rate_limit_window_seconds) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)",
        &[
            &key.id.as_str(),
            &key.tenant_id.as_str(),
            &key.name.as_str(),
            &key.description.as_str(),
            &key.owner.id.as_str(),
            &scopes_json(&key.scopes),
            &key.lifecycle.as_str(),
            &millis(key.created_at),
            &key.created_by.id.as_str(),
            &millis(key.updated_at),
            &key.updated_by.id.as_str(),
            &key.expires_at.map(millis),
            &key.last_used_at.map(millis),
            &key.revoked_at.map(millis),
            &key.revoked_by.as_ref().map(|u| u.id.as_str()),
            &key.start,
            &key.secret_digest,
            &key.encrypted_secret,
            &key.previous_secret_digest,
            &key.previous_secret_valid_until.map(millis),
            &key.version,
            &key.name.as_str().to_lowercase(),
            &search_text(key),
            &key.rate_limit.map(|l| i64::from(l.requests)),
            &key.rate_limit.map(|l| i64::from(l.window_seconds)),
        ],
    )
    .await?;
    Ok(())
}

/// Writes every field a mutation may change; `last_used_at` belongs to the usage flush.
async fn update_key_row<C: GenericClient>(tx: &C, key: &ApiKey) -> StoreResult<()> {
    execute(
        tx,
        "UPDATE keys SET name = $1, description = $2, owner_id = $3, scopes = $4, lifecycle = $5, \
         updated_at = $6, updated_by = $7, expires_at = $8, revoked_at = $9, revoked_by = $10, \
         start = $11, secret_digest = $12, encrypted_secret = $13, previous_secret_digest = $14, \
         previous_secret_valid_until = $15, version = $16, name_lower = $17, search_text = $18, \
         rate_limit_requests = $19, rate_limit_window_seconds = $20 \
         WHERE id = $21",
        &[
            &key.name.as_str(),
            &key.description.as_str(),
            &key.owner.id.as_str(),
            &scopes_json(&key.scopes),
            &key.lifecycle.as_str(),
            &millis(key.updated_at),
            &key.updated_by.id.as_str(),
            &key.expires_at.map(millis),
            &key.revoked_at.map(millis),
            &key.revoked_by.as_ref().map(|u| u.id.as_str()),
            &key.start,
            &key.secret_digest,
            &key.encrypted_secret,
            &key.previous_secret_digest,
            &key.previous_secret_valid_until.map(millis),
            &key.version,
            &key.name.as_str().to_lowercase(),
            &search_text(key),
            &key.rate_limit.map(|l| i64::from(l.requests)),
            &key.rate_limit.map(|l| i64::from(l.window_seconds)),
            &key.id.as_str(),
        ],
    )
    .await?;
    Ok(())
}

async fn load_key<C: GenericClient>(
    conn: &C,
    tenant: &str,
    id: &str,
) -> StoreResult<Option<ApiKey>> {
    let sql = format!("{KEY_SELECT} WHERE k.tenant_id = $1 AND k.id = $2");
    query_opt(conn, &sql, &[&tenant, &id])
        .await?
        .map(|row| key_from_row(&row))
        .transpose()
}

/// Keys of `owner` in `tenant` that count against `max_keys_per_user`:
/// neither revoked nor expired.
async fn live_keys<C: GenericClient>(tx: &C, tenant: &str, owner: &str) -> StoreResult<u32> {
    let row = query_one(
        tx,
        "SELECT COUNT(*) FROM keys WHERE tenant_id = $1 AND owner_id = $2 AND lifecycle <> 'revoked' \
         AND (expires_at IS NULL OR expires_at > $3)",
        &[&tenant, &owner, &millis(Utc::now())],
    )
    .await?;
    let live: i64 = row.try_get(0)?;
    Ok(u32::try_from(live).unwrap_or(u32::MAX))
}

const EVENT_SELECT: &str = "SELECT id, tenant_id, at, action, actor_id, actor_name, target_id, \
     target_name, source, changes FROM events";

fn event_from_row(row: &Row) -> Event {
    let tenant: Option<String> = row.get(1);
    let action: String = row.get(3);
    let changes: String = row.get(9);
    Event {
        id: row.get(0),
        event: NewEvent {
            at: time(row.get(2)),
            tenant_id: tenant.map(TenantId::from_trusted),
            action: EventAction::parse(&action).unwrap_or(EventAction::KeyUpdated),
            actor: user_ref(row.get(4), row.get(5)),
            target_id: row.get(6),
            target_name: row.get(7),
            source: row.get(8),
            changes: serde_json::from_str(&changes).unwrap_or(serde_json::Value::Null),
        },
    }
}

const TENANT_SELECT: &str = "SELECT id, name, settings, settings_version, created_at FROM tenants";

fn tenant_from_row(row: &Row) -> StoreResult<Tenant> {
    let settings: String = row.try_get(2)?;
    Ok(Tenant {
        id: TenantId::from_trusted(row.try_get(0)?),
        name: DisplayName::from_trusted(row.try_get(1)?),
        settings: serde_json::from_str(&settings).map_err(backend)?,
        settings_version: row.try_get(3)?,
        created_at: time(row.try_get(4)?),
    })
}

async fn load_tenant<C: GenericClient>(conn: &C, id: &str) -> StoreResult<Option<Tenant>> {
    let sql = format!("{TENANT_SELECT} WHERE id = $1");
    query_opt(conn, &sql, &[&id])
        .await?
        .map(|row| tenant_from_row(&row))
        .transpose()
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

fn user_from_row(row: &Row) -> StoreResult<User> {
    let tenant: Option<String> = row.try_get(1)?;
    let roles: String = row.try_get(4)?;
    Ok(User {
        id: UserId::from_trusted(row.try_get(0)?),
        tenant_id: tenant.map(TenantId::from_trusted),
        name: PersonName::from_trusted(row.try_get(2)?),
        email: Email::from_trusted(row.try_get(3)?),
        roles: Roles::from_csv(&roles),
        licensed: row.try_get(5)?,
        created_at: time(row.try_get(6)?),
        disabled: row.try_get(7)?,
        has_token: row.try_get(8)?,
    })
}

async fn load_user<C: GenericClient>(conn: &C, id: &str) -> StoreResult<Option<User>> {
    let sql = format!("{USER_SELECT} AND id = $1");
    query_opt(conn, &sql, &[&id])
        .await?
        .map(|row| user_from_row(&row))
        .transpose()
}

/// A user's name must be the only one like it in their tenant, and never
/// pass for a system administrator's (as SQLite's `check_name_free`). The
/// caller holds the user's tenant lock and the no-tenant lock, so no other
/// write can add a look-alike meanwhile.
async fn check_name_free<C: GenericClient>(tx: &C, user: &User, except: &str) -> StoreResult<()> {
    let key = crate::domain::text::name_key(user.name.as_str());
    let tenant = user.tenant_id.as_ref().map(TenantId::as_str);
    let rows = query(
        tx,
        "SELECT id, name, tenant_id IS NULL FROM users WHERE tenant_id = $1 OR tenant_id IS NULL",
        &[&tenant],
    )
    .await?;
    for row in rows {
        let (id, name, system): (String, String, bool) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
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

async fn insert_user<C: GenericClient>(tx: &C, user: &User, token_digest: &str) -> StoreResult<()> {
    check_name_free(tx, user, "").await?;
    execute(
        tx,
        "INSERT INTO users (id, tenant_id, name, email, roles, licensed, token_digest, created_at, name_lower, disabled_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &user.id.as_str(),
            &user.tenant_id.as_ref().map(TenantId::as_str),
            &user.name.as_str(),
            &user.email.as_str(),
            &user.roles.to_csv(),
            &user.licensed,
            &token_digest,
            &millis(user.created_at),
            &user.name.as_str().to_lowercase(),
            &user.disabled.then(|| millis(user.created_at)),
        ],
    )
    .await?;
    Ok(())
}

impl Write<'_> {
    /// Locks what a change of user `id` (or a new user of `tenant`)
    /// decides on: their tenant, and the names of system administrators.
    async fn lock_user_names(&mut self, tenant: Option<&str>) -> StoreResult<()> {
        self.lock(tenant).await?;
        self.lock(None).await
    }

    /// The tenant of user `id` (deleted or not), locked with the names.
    async fn lock_user(&mut self, id: &str) -> StoreResult<()> {
        let tenant: Option<String> = match query_opt(
            &self.tx,
            "SELECT tenant_id FROM users WHERE id = $1",
            &[&id],
        )
        .await?
        {
            Some(row) => row.try_get(0)?,
            None => None,
        };
        self.lock_user_names(tenant.as_deref()).await
    }
}

const VERIFIER_SELECT: &str = "SELECT v.id, v.tenant_id, v.name, v.created_at, v.created_by, \
     COALESCE(u.name, '') FROM verifiers v LEFT JOIN users u ON u.id = v.created_by";

fn verifier_from_row(row: &Row) -> StoreResult<Verifier> {
    Ok(Verifier {
        id: VerifierId::from_trusted(row.try_get(0)?),
        tenant_id: TenantId::from_trusted(row.try_get(1)?),
        name: DisplayName::from_trusted(row.try_get(2)?),
        created_at: time(row.try_get(3)?),
        created_by: user_ref(row.try_get(4)?, row.try_get(5)?),
    })
}

fn count(row: &Row, index: usize) -> StoreResult<u64> {
    let value: Option<i64> = row.try_get(index)?;
    Ok(u64::try_from(value.unwrap_or(0)).unwrap_or(0))
}

// ---------------------------------------------------------------- the trait

#[async_trait]
impl Store for PgStore {
    async fn holds_data(&self) -> StoreResult<bool> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            "SELECT EXISTS (SELECT 1 FROM pepper) OR EXISTS (SELECT 1 FROM users) \
             OR EXISTS (SELECT 1 FROM tenants) OR EXISTS (SELECT 1 FROM keys)",
            &[],
        )
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn pepper_fingerprint(&self) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        Ok(
            query_opt(&client, "SELECT fingerprint FROM pepper WHERE id = 1", &[])
                .await?
                .map(|row| row.try_get(0))
                .transpose()?,
        )
    }

    async fn record_pepper_fingerprint(&self, fingerprint: &str) -> StoreResult<()> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO pepper (id, fingerprint, recorded_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
            &[&fingerprint, &millis(Utc::now())],
        )
        .await?;
        Ok(())
    }

    async fn check_health(&self) -> StoreResult<()> {
        let client = self.client().await?;
        query_one(&client, "SELECT COUNT(*) FROM schema_migrations", &[]).await?;
        Ok(())
    }

    async fn user_by_token_digest(&self, digest: &str) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        let sql = format!("{USER_SELECT} AND token_digest = $1");
        query_opt(&client, &sql, &[&digest])
            .await?
            .map(|row| user_from_row(&row))
            .transpose()
    }

    async fn bootstrap_system_admin(&self, user: &User, token_digest: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        // Instances starting together: one creates the administrator.
        write.lock(None).await?;
        let admins = query_one(
            &write.tx,
            "SELECT COUNT(*) FROM users WHERE roles LIKE '%system_admin%'",
            &[],
        )
        .await?;
        if admins.try_get::<_, i64>(0)? > 0 {
            return Ok(false);
        }
        insert_user(&write.tx, user, token_digest).await?;
        self.commit(write).await?;
        Ok(true)
    }

    async fn create_user(
        &self,
        user: &User,
        token_digest: &str,
        event: &NewEvent,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        write
            .lock_user_names(user.tenant_id.as_ref().map(TenantId::as_str))
            .await?;
        insert_user(&write.tx, user, token_digest).await?;
        write.insert_event(event).await?;
        self.commit(write).await
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        load_user(&client, id.as_str()).await
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        after: Option<&UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        let client = self.client().await?;
        let sql = format!(
            "{USER_SELECT} AND tenant_id = $1 AND ($2::text IS NULL OR (name, id) > \
             ((SELECT name FROM users WHERE id = $2), $2)) ORDER BY name, id LIMIT $3"
        );
        let after = after.map(UserId::as_str);
        query(
            &client,
            &sql,
            &[&tenant.as_str(), &after, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(user_from_row)
        .collect()
    }

    async fn update_user(&self, id: &UserId, mutation: UserMutation) -> StoreResult<User> {
        let id = id.as_str();
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        write.lock_user(id).await?;
        let user = load_user(&write.tx, id)
            .await?
            .ok_or_else(|| Refusal::not_found("user"))?;
        let (user, event) = mutation(user)?;
        check_name_free(&write.tx, &user, id).await?;
        execute(
            &write.tx,
            "UPDATE users SET name = $1, email = $2, roles = $3, licensed = $4, name_lower = $5, \
             disabled_at = CASE WHEN $6 THEN COALESCE(disabled_at, $7) END WHERE id = $8",
            &[
                &user.name.as_str(),
                &user.email.as_str(),
                &user.roles.to_csv(),
                &user.licensed,
                &user.name.as_str().to_lowercase(),
                &user.disabled,
                &millis(Utc::now()),
                &user.id.as_str(),
            ],
        )
        .await?;
        if let Some(event) = &event {
            write.insert_event(event).await?;
        }
        self.commit(write).await?;
        Ok(user)
    }

    async fn change_user_token(&self, id: &UserId, change: TokenChange) -> StoreResult<User> {
        let id = id.as_str();
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        write.lock_user(id).await?;
        let mut user = load_user(&write.tx, id)
            .await?
            .ok_or_else(|| Refusal::not_found("user"))?;
        let (digest, event) = change(&user)?;
        user.has_token = digest.is_some();
        execute(
            &write.tx,
            "UPDATE users SET token_digest = $1 WHERE id = $2",
            &[&digest.unwrap_or_else(|| no_token(id)), &id],
        )
        .await?;
        write.insert_event(&event).await?;
        self.commit(write).await?;
        Ok(user)
    }

    async fn delete_user(&self, id: &UserId, deletion: UserDeletion) -> StoreResult<User> {
        let id = id.as_str();
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        write.lock_user(id).await?;
        let user = load_user(&write.tx, id)
            .await?
            .ok_or_else(|| Refusal::not_found("user"))?;
        let event = deletion(&user)?;
        // The row stays for the keys that name it: no token, no roles,
        // no e-mail address; only the name they are known by.
        execute(
            &write.tx,
            "UPDATE users SET deleted_at = $1, token_digest = $2, email = '', roles = '', licensed = FALSE \
             WHERE id = $3",
            &[&millis(Utc::now()), &no_token(id), &id],
        )
        .await?;
        write.insert_event(&event).await?;
        self.commit(write).await?;
        Ok(user)
    }

    async fn create_tenant(&self, tenant: &Tenant, event: &NewEvent) -> StoreResult<()> {
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        // Tenants are created under the no-tenant lock: two instances
        // creating the same id find it taken, as one instance does.
        write.lock(None).await?;
        if load_tenant(&write.tx, tenant.id.as_str()).await?.is_some() {
            return Err(Refusal::conflict(
                "TENANT_EXISTS",
                format!("a tenant with id {:?} already exists", tenant.id.as_str()),
            )
            .into());
        }
        execute(
            &write.tx,
            "INSERT INTO tenants (id, name, settings, settings_version, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &tenant.id.as_str(),
                &tenant.name.as_str(),
                &settings_json(&tenant.settings)?,
                &tenant.settings_version,
                &millis(tenant.created_at),
            ],
        )
        .await?;
        write.insert_event(event).await?;
        self.commit(write).await
    }

    async fn get_tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        let client = self.client().await?;
        load_tenant(&client, id.as_str()).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let client = self.client().await?;
        let sql = format!("{TENANT_SELECT} ORDER BY id");
        query(&client, &sql, &[])
            .await?
            .iter()
            .map(tenant_from_row)
            .collect()
    }

    async fn update_settings(
        &self,
        id: &TenantId,
        mutation: SettingsMutation,
    ) -> StoreResult<Tenant> {
        let id = id.as_str();
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        write.lock(Some(id)).await?;
        let tenant = load_tenant(&write.tx, id)
            .await?
            .ok_or_else(|| Refusal::not_found("tenant"))?;
        let change = mutation(tenant)?;
        execute(
            &write.tx,
            "UPDATE tenants SET name = $1, settings = $2, settings_version = $3 WHERE id = $4",
            &[
                &change.tenant.name.as_str(),
                &settings_json(&change.tenant.settings)?,
                &change.tenant.settings_version,
                &id,
            ],
        )
        .await?;
        if change.forget_stored_secrets {
            execute(
                &write.tx,
                "UPDATE keys SET encrypted_secret = NULL WHERE tenant_id = $1",
                &[&id],
            )
            .await?;
        }
        if let Some(event) = &change.event {
            write.insert_event(event).await?;
        }
        self.commit(write).await?;
        Ok(change.tenant)
    }

    async fn create_key(
        &self,
        tenant: &TenantId,
        owner: &UserId,
        idempotency: Option<Idempotency>,
        creation: KeyCreation,
    ) -> StoreResult<Created> {
        let (tenant_id, owner) = (tenant.as_str(), owner.as_str());
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        // Every creation in the tenant waits here: the owner's live keys
        // and the Idempotency-Key records read below are exact.
        write.lock(Some(tenant_id)).await?;
        if let Some(idem) = &idempotency {
            let earlier = query_opt(
                &write.tx,
                "SELECT request_hash, key_id FROM idempotency_keys WHERE tenant_id = $1 AND user_id = $2 AND idem_key = $3",
                &[&tenant_id, &idem.user_id.as_str(), &idem.key],
            )
            .await?;
            if let Some(row) = earlier {
                let (hash, key_id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                if hash != idem.request_hash {
                    return Err(Refusal::invalid(
                        "IDEMPOTENCY_KEY_REUSED",
                        "this Idempotency-Key was used for a different request",
                    )
                    .into());
                }
                let key = load_key(&write.tx, tenant_id, &key_id)
                    .await?
                    .ok_or_else(|| {
                        Refusal::conflict(
                            "IDEMPOTENT_KEY_DELETED",
                            "the key created under this Idempotency-Key has since been deleted",
                        )
                    })?;
                return Ok(Created::Replayed(key));
            }
        }
        let tenant = load_tenant(&write.tx, tenant_id)
            .await?
            .ok_or_else(|| Refusal::not_found("tenant"))?;
        let facts = CreationFacts {
            tenant,
            owner: load_user(&write.tx, owner).await?,
            owner_live_keys: live_keys(&write.tx, tenant_id, owner).await?,
        };
        let (key, secret, event) = creation(facts)?;
        insert_key(&write.tx, &key).await?;
        write.insert_event(&event).await?;
        if let Some(idem) = &idempotency {
            execute(
                &write.tx,
                "INSERT INTO idempotency_keys (tenant_id, user_id, idem_key, request_hash, key_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &tenant_id,
                    &idem.user_id.as_str(),
                    &idem.key,
                    &idem.request_hash,
                    &key.id.as_str(),
                    &millis(Utc::now()),
                ],
            )
            .await?;
        }
        self.commit(write).await?;
        self.feed.keys_written([&key]);
        Ok(Created::New(key, secret))
    }

    async fn get_key(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ApiKey>> {
        let client = self.client().await?;
        load_key(&client, tenant.as_str(), id).await
    }

    async fn list_keys(
        &self,
        tenant: &TenantId,
        query: &KeyQuery,
        now: DateTime<Utc>,
    ) -> StoreResult<KeyPage> {
        let mut client = self.client().await?;
        // One snapshot for the page and its total.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let page = list::list_keys(&tx, tenant.as_str(), query, millis(now)).await?;
        tx.commit().await?;
        Ok(page)
    }

    async fn update_key(
        &self,
        tenant: &TenantId,
        id: &str,
        owner: Option<&UserId>,
        mutation: KeyMutation,
    ) -> StoreResult<KeyCommitted> {
        let tenant_id = tenant.as_str();
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        write.lock(Some(tenant_id)).await?;
        let key = load_key(&write.tx, tenant_id, id)
            .await?
            .ok_or_else(|| Refusal::not_found("key"))?;
        let tenant = load_tenant(&write.tx, tenant_id)
            .await?
            .ok_or_else(|| Refusal::not_found("tenant"))?;
        let owner = match owner {
            None => None,
            Some(owner) => match load_user(&write.tx, owner.as_str()).await? {
                None => None,
                Some(user) => Some(OwnerFacts {
                    user,
                    live_keys: live_keys(&write.tx, tenant_id, owner.as_str()).await?,
                }),
            },
        };
        let before = key.clone();
        let change = mutation(key, KeyFacts { tenant, owner })?;
        let deleted = change.key.is_none();
        match &change.key {
            Some(after) if *after != before => update_key_row(&write.tx, after).await?,
            Some(_) => {}
            None => {
                execute(&write.tx, "DELETE FROM key_usage WHERE key_id = $1", &[&id]).await?;
                execute(
                    &write.tx,
                    "DELETE FROM key_usage_hourly WHERE key_id = $1",
                    &[&id],
                )
                .await?;
                execute(&write.tx, "DELETE FROM keys WHERE id = $1", &[&id]).await?;
            }
        }
        for event in &change.events {
            write.insert_event(event).await?;
        }
        self.commit(write).await?;
        let key = change.key.unwrap_or(before);
        if !deleted {
            self.feed.keys_written([&key]);
        }
        Ok(KeyCommitted {
            key,
            secret: change.secret,
            deleted,
        })
    }

    async fn import_keys(&self, keys: Vec<ApiKey>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let write = Write::begin(&mut client).await?;
        for key in &keys {
            insert_key(&write.tx, key).await?;
        }
        self.commit(write).await?;
        self.feed.keys_written(&keys);
        Ok(())
    }

    async fn key_by_digest(&self, digest: &str) -> StoreResult<Option<(ApiKey, TenantSettings)>> {
        let client = self.client().await?;
        // Two unique-index lookups: the current secrets, then the previous ones.
        let mut found = None;
        for column in ["secret_digest", "previous_secret_digest"] {
            let sql = format!("{KEY_SELECT} WHERE k.{column} = $1");
            found = query_opt(&client, &sql, &[&digest]).await?;
            if found.is_some() {
                break;
            }
        }
        let Some(row) = found else {
            return Ok(None);
        };
        let key = key_from_row(&row)?;
        let tenant = load_tenant(&client, key.tenant_id.as_str())
            .await?
            .ok_or_else(|| backend("key without tenant"))?;
        Ok(Some((key, tenant.settings)))
    }

    async fn record_usage(
        &self,
        counts: &[(UsageBucket, u64)],
        last_used: &[(KeyId, DateTime<Utc>)],
    ) -> StoreResult<()> {
        // Sorted, so two instances flushing the same rows lock them in the
        // same order (never a deadlock); each table in one statement.
        let mut minutes: Vec<(&str, i64, &str, i64)> = counts
            .iter()
            .map(|(b, n)| {
                (
                    b.key_id.as_str(),
                    b.minute,
                    b.outcome,
                    i64::try_from(*n).unwrap_or(i64::MAX),
                )
            })
            .collect();
        minutes.sort_unstable();
        let mut hours: HashMap<(&str, i64, &str), i64> = HashMap::new();
        for (key_id, minute, outcome, count) in &minutes {
            *hours
                .entry((key_id, minute.div_euclid(60), outcome))
                .or_insert(0) += count;
        }
        let mut hours: Vec<((&str, i64, &str), i64)> = hours.into_iter().collect();
        hours.sort_unstable();
        let mut touched: Vec<(&str, i64)> = last_used
            .iter()
            .map(|(id, at)| (id.as_str(), millis(*at)))
            .collect();
        touched.sort_unstable();

        let columns = |rows: &[(&str, i64, &str, i64)]| {
            let mut out: (Vec<String>, Vec<i64>, Vec<String>, Vec<i64>) = Default::default();
            for (key, at, outcome, count) in rows {
                out.0.push((*key).to_owned());
                out.1.push(*at);
                out.2.push((*outcome).to_owned());
                out.3.push(*count);
            }
            out
        };
        let by_minute = columns(&minutes);
        let hour_rows: Vec<(&str, i64, &str, i64)> = hours
            .iter()
            .map(|((key, hour, outcome), count)| (*key, *hour, *outcome, *count))
            .collect();
        let by_hour = columns(&hour_rows);
        let touched_ids: Vec<String> = touched.iter().map(|(id, _)| (*id).to_owned()).collect();
        let touched_at: Vec<i64> = touched.iter().map(|(_, at)| *at).collect();

        let mut client = self.client().await?;
        let write = Write::begin(&mut client).await?;
        for (table, column, rows) in [
            ("key_usage", "minute", &by_minute),
            ("key_usage_hourly", "hour", &by_hour),
        ] {
            if rows.0.is_empty() {
                continue;
            }
            let sql = format!(
                "INSERT INTO {table} (key_id, {column}, outcome, count) \
                 SELECT u.key_id, u.at, u.outcome, u.count \
                 FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[]) WITH ORDINALITY AS u(key_id, at, outcome, count, n) \
                 WHERE EXISTS (SELECT 1 FROM keys WHERE id = u.key_id) ORDER BY u.n \
                 ON CONFLICT (key_id, {column}, outcome) DO UPDATE SET count = {table}.count + excluded.count"
            );
            execute(&write.tx, &sql, &[&rows.0, &rows.1, &rows.2, &rows.3]).await?;
        }
        if !touched_ids.is_empty() {
            execute(
                &write.tx,
                "UPDATE keys k SET last_used_at = u.at \
                 FROM UNNEST($1::text[], $2::bigint[]) AS u(id, at) \
                 WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
                &[&touched_ids, &touched_at],
            )
            .await?;
        }
        self.commit(write).await
    }

    async fn usage_since(
        &self,
        keys: &[KeyId],
        since_minute: i64,
    ) -> StoreResult<HashMap<KeyId, UsageCounts>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<&str> = keys.iter().map(KeyId::as_str).collect();
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT key_id, SUM(CASE WHEN outcome = 'VALID' THEN count ELSE 0 END)::bigint, \
             SUM(CASE WHEN outcome <> 'VALID' THEN count ELSE 0 END)::bigint FROM key_usage \
             WHERE minute >= $1 AND key_id = ANY($2) GROUP BY key_id",
            &[&since_minute, &ids],
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    KeyId::from_trusted(row.try_get(0)?),
                    UsageCounts {
                        valid: count(row, 1)?,
                        failed: count(row, 2)?,
                    },
                ))
            })
            .collect()
    }

    async fn list_events(&self, tenant: &TenantId, query: &EventQuery) -> StoreResult<Vec<Event>> {
        let client = self.client().await?;
        let mut sql = list::Sql::new(&format!("{EVENT_SELECT} WHERE tenant_id = "));
        sql.bind(tenant.as_str().to_owned());
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
        Ok(sql
            .query(&client)
            .await?
            .iter()
            .map(event_from_row)
            .collect())
    }

    async fn usage_history(
        &self,
        key: &KeyId,
        resolution: UsageResolution,
        since_minute: i64,
    ) -> StoreResult<Vec<UsageRow>> {
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
        let client = self.client().await?;
        query(&client, sql, &[&key.as_str(), &since])
            .await?
            .iter()
            .map(|row| {
                let at: i64 = row.try_get(0)?;
                Ok(UsageRow {
                    minute: at * minutes_per_row,
                    outcome: row.try_get(1)?,
                    count: count(row, 2)?,
                })
            })
            .collect()
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
        let client = self.client().await?;
        let mut activity: HashMap<KeyId, KeyActivity> = HashMap::new();
        for chunk in keys.chunks(500) {
            let ids: Vec<&str> = chunk.iter().map(KeyId::as_str).collect();
            for row in query(
                &client,
                "SELECT key_id, SUM(CASE WHEN outcome = 'VALID' THEN count ELSE 0 END)::bigint, \
                 SUM(CASE WHEN outcome <> 'VALID' THEN count ELSE 0 END)::bigint FROM key_usage \
                 WHERE key_id = ANY($1) AND minute >= $2 GROUP BY key_id",
                &[&ids, &last_hour_from],
            )
            .await?
            {
                let entry = activity
                    .entry(KeyId::from_trusted(row.try_get(0)?))
                    .or_default();
                entry.last_hour_valid = count(&row, 1)?;
                entry.last_hour_failed = count(&row, 2)?;
            }
            for row in query(
                &client,
                "SELECT key_id, SUM(count)::bigint FROM key_usage_hourly \
                 WHERE key_id = ANY($1) AND hour >= $2 AND hour < $3 GROUP BY key_id",
                &[&ids, &baseline_hours.start, &baseline_hours.end],
            )
            .await?
            {
                let entry = activity
                    .entry(KeyId::from_trusted(row.try_get(0)?))
                    .or_default();
                entry.baseline_24h = count(&row, 1)?;
            }
        }
        Ok(activity)
    }

    async fn prune_usage(&self, before_minute: i64, before_hour: i64) -> StoreResult<u64> {
        // An hour of minute rows (a day of hour rows) per statement, so a
        // first prune of a large backlog never holds locks for long.
        let client = self.client().await?;
        let mut deleted = 0;
        for (table, column, before, step) in [
            ("key_usage", "minute", before_minute, 60),
            ("key_usage_hourly", "hour", before_hour, 24),
        ] {
            loop {
                let row =
                    query_one(&client, &format!("SELECT MIN({column}) FROM {table}"), &[]).await?;
                let oldest: Option<i64> = row.try_get(0)?;
                let Some(oldest) = oldest.filter(|oldest| *oldest < before) else {
                    break;
                };
                let upto = (oldest + step).min(before);
                deleted += execute(
                    &client,
                    &format!("DELETE FROM {table} WHERE {column} < $1"),
                    &[&upto],
                )
                .await?;
            }
        }
        Ok(deleted)
    }

    async fn prune_records(
        &self,
        events_before: Option<DateTime<Utc>>,
        idempotency_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let client = self.client().await?;
        let mut batches: Vec<(&'static str, i64)> = vec![(
            "DELETE FROM idempotency_keys WHERE (tenant_id, user_id, idem_key) IN \
             (SELECT tenant_id, user_id, idem_key FROM idempotency_keys WHERE created_at < $1 LIMIT 5000)",
            millis(idempotency_before),
        )];
        if let Some(before) = events_before {
            batches.push((
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 LIMIT 5000)",
                millis(before),
            ));
        }
        let mut deleted = 0;
        for (sql, before) in batches {
            loop {
                let n = execute(&client, sql, &[&before]).await?;
                deleted += n;
                if n < 5000 {
                    break;
                }
            }
        }
        Ok(deleted)
    }

    async fn events_after(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let client = self.client().await?;
        let sql = format!("{EVENT_SELECT} WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        Ok(query(
            &client,
            &sql,
            &[&tenant.as_str(), &after, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(event_from_row)
        .collect())
    }

    fn subscribe_events(&self) -> tokio::sync::broadcast::Receiver<Arc<Event>> {
        self.feed.subscribe()
    }

    fn before_publishing(&self, hook: super::CommitHook) {
        self.feed.set_hook(hook);
    }

    fn when_keys_written(&self, hook: super::KeysHook) {
        self.feed.set_keys_hook(hook);
    }

    /// Other instances write to the same database: this one hears of
    /// their keys once it has joined the fleet (its applier reads the keys
    /// each change names).
    fn hears_every_key_write(&self) -> bool {
        self.fleet.joined()
    }

    async fn key_digests(&self) -> StoreResult<Vec<String>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT secret_digest FROM keys UNION ALL \
             SELECT previous_secret_digest FROM keys WHERE previous_secret_digest IS NOT NULL",
            &[],
        )
        .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    fn join_fleet(&self, instance: &InstanceInfo) {
        fleet::Tasks {
            pool: self.pool.clone(),
            feed: self.feed.clone(),
            publishing: Arc::clone(&self.publishing),
            config: self.config.clone(),
            fleet: Arc::downgrade(&self.fleet),
        }
        .start(&self.fleet, instance);
    }

    fn on_fleet_reset(&self, hook: super::ResetHook) {
        self.fleet.set_reset(hook);
    }

    fn applied_change(&self) -> i64 {
        self.fleet.applied()
    }

    async fn fleet(&self, within: Duration) -> StoreResult<Option<FleetView>> {
        let client = self.client().await?;
        Ok(Some(fleet::view(&client, within).await?))
    }

    async fn append_event(&self, event: &NewEvent) -> StoreResult<()> {
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        write.insert_event(event).await?;
        self.commit(write).await
    }

    async fn update_keys(
        &self,
        tenant: &TenantId,
        ids: Vec<String>,
        commit: bool,
        mut mutation: KeysMutation,
    ) -> StoreResult<Vec<KeyOutcome>> {
        let tenant_id = tenant.as_str();
        let mut client = self.client().await?;
        let mut write = if commit {
            let mut write = Write::begin(&mut client).await?;
            write.lock(Some(tenant_id)).await?;
            write
        } else {
            // A preview reads one snapshot and writes nothing.
            Write {
                tx: client
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await?,
                locked: Vec::new(),
                events: Vec::new(),
            }
        };
        let tenant = load_tenant(&write.tx, tenant_id)
            .await?
            .ok_or_else(|| Refusal::not_found("tenant"))?;
        let mut outcomes = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(key) = load_key(&write.tx, tenant_id, &id).await? else {
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
                            update_key_row(&write.tx, &after).await?;
                        }
                        for event in &events {
                            write.insert_event(event).await?;
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
        if commit {
            self.commit(write).await?;
        } else {
            write.tx.rollback().await?;
        }
        Ok(outcomes)
    }

    async fn create_verifier(
        &self,
        verifier: &Verifier,
        token_digest: &str,
        event: &NewEvent,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        write.lock(Some(verifier.tenant_id.as_str())).await?;
        execute(
            &write.tx,
            "INSERT INTO verifiers (id, tenant_id, name, token_digest, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &verifier.id.as_str(),
                &verifier.tenant_id.as_str(),
                &verifier.name.as_str(),
                &token_digest,
                &millis(verifier.created_at),
                &verifier.created_by.id.as_str(),
            ],
        )
        .await?;
        write.insert_event(event).await?;
        self.commit(write).await
    }

    async fn list_verifiers(&self, tenant: &TenantId) -> StoreResult<Vec<Verifier>> {
        let client = self.client().await?;
        let sql = format!("{VERIFIER_SELECT} WHERE v.tenant_id = $1 ORDER BY v.created_at, v.id");
        query(&client, &sql, &[&tenant.as_str()])
            .await?
            .iter()
            .map(verifier_from_row)
            .collect()
    }

    async fn verifier_by_token_digest(&self, digest: &str) -> StoreResult<Option<Verifier>> {
        let client = self.client().await?;
        let sql = format!("{VERIFIER_SELECT} WHERE v.token_digest = $1");
        query_opt(&client, &sql, &[&digest])
            .await?
            .map(|row| verifier_from_row(&row))
            .transpose()
    }

    async fn delete_verifier(
        &self,
        tenant: &TenantId,
        id: &VerifierId,
        revocation: VerifierRevocation,
    ) -> StoreResult<Verifier> {
        let (tenant, id) = (tenant.as_str(), id.as_str());
        let mut client = self.client().await?;
        let mut write = Write::begin(&mut client).await?;
        write.lock(Some(tenant)).await?;
        let sql = format!("{VERIFIER_SELECT} WHERE v.tenant_id = $1 AND v.id = $2");
        let verifier = query_opt(&write.tx, &sql, &[&tenant, &id])
            .await?
            .map(|row| verifier_from_row(&row))
            .transpose()?
            .ok_or_else(|| Refusal::not_found("verifier"))?;
        execute(&write.tx, "DELETE FROM verifiers WHERE id = $1", &[&id]).await?;
        write.insert_event(&revocation(&verifier)).await?;
        self.commit(write).await?;
        Ok(verifier)
    }
}
