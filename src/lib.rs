//! keydesk: a self-hostable API-key management service with a keyboard-driven
//! terminal console.
//!
//! - [`domain`]: tenants, settings, users, keys, secrets, the status machine and permission matrix; no IO.
//! - [`store`]: the `Store` trait and its SQLite backend; every mutation and its audit event in one transaction.
//! - [`api`]: the JSON bodies of the management API, shared by the server and its clients.
//! - [`server`]: the axum application: routes, auth, errors, the verification cache and usage counters.

pub mod api;
pub mod domain;
pub mod server;
pub mod store;
