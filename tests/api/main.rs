//! The HTTP integration suite: each module drives a real keydesk server
//! (in process, or the binary) with a fresh database, through its API only.
//!
//! Every test runs on SQLite, and on PostgreSQL with `KEYDESK_TEST_BACKEND=postgres`
//! (`backend`: a throwaway cluster, a database per test); the few that are
//! about SQLite's file say so and skip under postgres.
//!
//! - `helpers`: `spawn_app()`, the `TestApp` client, the `ServerProcess` binary runner.
//! - `backend`: the backend of this run; the PostgreSQL cluster and its databases.
//! - `lifecycle`: a key from creation to deletion, and every verification code.
//! - `edits`: a duplicate's own name; a key's new owner and new expiry, under creation's rules.
//! - `permissions`: the role matrix (also role-less and disabled users), tokens nobody else obtains, deleted users, owners, and 404 across tenants.
//! - `settings`: each tenant setting's rule; "new keys only".
//! - `preconditions`: ETag / If-Match and Idempotency-Key.
//! - `validation`: bad input answers 4xx problem+json and writes nothing.
//! - `concurrency`: revocation under load; racing edits, limits and retries.
//! - `durability`: SIGKILL mid-stream loses no acknowledged creation.
//! - `secrets`: no plaintext secret or token in the data directory or the logs.
//! - `openapi`: the document and the routes agree.
//! - `pagination`: cursors, sorts, filters and totals of the key list.
//! - `events`: the audit log.
//! - `client`: the typed client: read-only sessions, errors as sentences, sorts, users.
//! - `usage`: usage history in buckets, through the flush; suspicious keys and their filter.
//! - `stream`: the live event stream: delivery, resuming with Last-Event-ID, stalled readers.
//! - `rotation`: regenerate with a grace period, end-rotation, both secrets under revoke/disable/delete and load.
//! - `lookup`: finding a key by its (leaked) secret: roles, tenants, audit, no secret anywhere.
//! - `bulk`: bulk revoke by ids or filter, per-key results with the single revoke's codes, dry run.
//! - `verification`: verify bound to a tenant, verifier tokens, `--verify-auth required`, quiet refusals, rate limits.
//! - `pepper`: a lost or wrong pepper stops the start, not every key; a pepper file is bytes.
//! - `exposure`: `Cache-Control: no-store` on every answer; database files are 0600.
//! - `connections`: idle, header and body timeouts, the connection limit, the shutdown deadline.
//! - `readiness`: a deleted database is never recreated; 503 and `/readyz` say so.
//! - `instances`: two instances on one PostgreSQL database: limits, Idempotency-Key, If-Match, event ids (postgres only).
//! - `fleet`: a change on one instance reaches the others' caches and streams within a second (also without notifications); `/v1/fleet`, `?wait=fleet`.
//! - `auth`: the bearer scheme, WWW-Authenticate, failed token attempts counted, logged and slowed; the bootstrap token's length.

// clippy.toml allows unwrap/expect in #[test] functions only; the helpers
// and fixtures here are test code too, where a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod backend;
mod client;
mod concurrency;
mod digests;
mod durability;
mod edits;
mod events;
mod fleet;
mod helpers;
mod instances;
mod lifecycle;
mod openapi;
mod pagination;
mod permissions;
mod preconditions;
mod secrets;
mod settings;
mod stream;
mod usage;
mod validation;
// Issue 7: rotation, lookup by secret, bulk revoke.
mod bulk;
mod lookup;
mod names;
mod observability;
mod retention;
mod rotation;
// Issue 8: bound verification, verifier tokens, quiet refusals, rate limits.
mod verification;
// Issue 8: the pepper, exposure, connections, the database vanishing.
mod connections;
mod exposure;
mod pepper;
mod readiness;
