//! The scripting commands, run as a script runs them: the real binary
//! against a real `keydesk serve` on 127.0.0.1 with a database in a
//! temporary directory; stdout, stderr and the exit code are what is tested.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod confirm;
mod keys;
mod readme;

mod support;
