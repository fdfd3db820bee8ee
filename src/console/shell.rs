//! What every view may use: the session, the network, the dialogs, the
//! clipboard and the status line. `App` owns one `Shell` and the views, and
//! hands the shell to the view it routes an action or a reply to; views
//! never reach each other.

use std::future::Future;
use std::time::{Duration, Instant};

use super::clipboard::Clipboard;
use super::dialog::{Dialog, Dialogs};
use super::net::{Net, Reply};
use super::session::{Connection, Session};
use crate::client::{Client, ClientError};
use crate::domain::text::strip_control as clean;

const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Error,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub text: String,
    pub level: Level,
    /// When it was said (on the shell's clock), so that news can fade.
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Status {
    /// Whether the status line still shows it at `now`: a failure stays
    /// until something replaces it (or Esc); news fades after the time it
    /// takes to read it, so the footer's hints come back.
    #[must_use]
    pub fn shown_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        if self.level == Level::Error {
            return true;
        }
        let chars = i64::try_from(self.text.chars().count()).unwrap_or(i64::MAX);
        let seconds = (5 + chars / 15).min(15);
        now - self.at < chrono::Duration::seconds(seconds)
    }
}

pub struct Shell {
    pub session: Session,
    pub net: Net,
    pub dialogs: Dialogs,
    pub clipboard: Clipboard,
    pub status: Option<Status>,
    /// Terminal size, for list heights and mouse hits.
    pub size: (u16, u16),
    /// A fixed time for rendering (tests); `None` means the wall clock.
    pub clock: Option<chrono::DateTime<chrono::Utc>>,
}

impl Shell {
    fn set_status(&mut self, text: impl Into<String>, level: Level) {
        self.status = Some(Status {
            text: clean(&text.into()),
            level,
            at: self.now(),
        });
    }

    /// The status the footer shows now, if it has not faded.
    #[must_use]
    pub fn shown_status(&self) -> Option<&Status> {
        self.status.as_ref().filter(|s| s.shown_at(self.now()))
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.set_status(text, Level::Info);
    }

    pub fn success(&mut self, text: impl Into<String>) {
        self.set_status(text, Level::Success);
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.set_status(text, Level::Error);
    }

    /// The time relative dates are drawn against.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.unwrap_or_else(chrono::Utc::now)
    }

    /// Starts a request about the tenant on screen; its reply carries the
    /// tenant epoch. Nothing happens without a tenant.
    pub fn request<F>(&self, work: impl FnOnce(Client, String) -> F)
    where
        F: Future<Output = Reply> + Send + 'static,
    {
        if let Some(tenant) = &self.session.tenant {
            self.net.tenant(tenant, self.session.epoch, work);
        }
    }

    /// A failed request: the server is down or failing (retry with backoff),
    /// refused the token (say so, no retry), or refused the request (say
    /// what failed and why).
    pub fn failed(&mut self, what: &str, err: &ClientError) {
        if err.is_unauthorized() {
            let reason = format!(
                "the server refused the token (from {})",
                self.session.token_source
            );
            self.error(reason.clone());
            self.session.connection = Connection::Refused { reason };
        } else if err.is_transient() {
            self.connection_lost(what, err);
        } else {
            self.error(format!("{what}: {err}"));
        }
    }

    /// The server is down or failing: say what failed, retry with backoff.
    pub fn connection_lost(&mut self, what: &str, err: &ClientError) {
        let backoff = match &self.session.connection {
            Connection::Down { backoff, .. } => (*backoff * 2).min(MAX_BACKOFF),
            _ => Duration::from_secs(1),
        };
        let reason = err.to_string();
        self.error(format!(
            "{what}: {reason}; retrying in {} s",
            backoff.as_secs()
        ));
        self.session.connection = Connection::Down {
            reason,
            retry_at: Instant::now() + backoff,
            backoff,
        };
    }

    /// A reply arrived: the server answers again.
    pub fn reconnected(&mut self) {
        if matches!(self.session.connection, Connection::Down { .. }) {
            self.success("connected again");
        }
        if !matches!(self.session.connection, Connection::Refused { .. }) {
            self.session.connection = Connection::Live;
        }
    }

    /// Shows a report in a dialog, after whatever is open.
    pub fn report(&mut self, title: impl Into<String>, lines: Vec<String>) {
        self.dialogs.present(Dialog::Message {
            title: title.into(),
            lines,
        });
    }
}
