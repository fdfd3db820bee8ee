//! The console suite: the terminal UI rendered into ratatui's `TestBackend`
//! and snapshotted, its state driven key by key against a real server, its
//! recovery from a dead server, and the real binary in a pseudo-terminal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
mod admin;
mod habits;
mod incident;
mod live;
mod polish;
mod pty;
mod reconnect;
mod render;
mod roles;
mod selection;
mod support;
