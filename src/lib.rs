//! keydesk: a self-hostable API-key management service with a keyboard-driven
//! terminal console.
//!
//! - [`domain`]: tenants, settings, users, keys, secrets, the status machine and permission matrix; no IO.
//! - [`store`]: the `Store` trait and its SQLite and PostgreSQL backends; every mutation and its audit event in one transaction.
//! - [`api`]: the JSON bodies of the management API, shared by the server and its clients.
//! - [`cli`]: the scripting commands (`keydesk keys …`), their output and exit codes, and the profiles of `config.toml` (shared with the console).
//! - [`client`]: the typed HTTP client of the management API, shared by the console and CLI.
//! - [`console`]: the terminal UI: state, update, keymap, render, dialogs, clipboard.
//! - [`demo`]: `keydesk demo`: the server in-process with seeded data, and the console on it.
//! - [`server`]: the axum application: routes, auth, errors, the verification cache and usage counters.

pub mod api;
pub mod cli;
pub mod client;
pub mod console;
pub mod demo;
pub mod domain;
pub mod server;
pub mod store;
