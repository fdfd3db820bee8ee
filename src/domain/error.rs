//! The one error the domain answers with: what kind of refusal, a stable
//! machine-readable code, and a sentence for the person who asked.

use super::text::InvalidText;

/// How a refusal maps onto the protocol; the server turns it into a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The input is malformed or out of range (422).
    Invalid,
    /// The caller's roles do not allow this (403, with the reason).
    Forbidden,
    /// The thing does not exist, or not for this caller (404).
    NotFound,
    /// The current state forbids it: a revoked key, a limit reached (409).
    Conflict,
    /// The caller's `If-Match` names a version that is no longer current (412).
    Stale,
}

/// A refusal from the domain. `code` is stable and documented; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub kind: RefusalKind,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(kind: RefusalKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(RefusalKind::Forbidden, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(RefusalKind::Conflict, code, message)
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(RefusalKind::Invalid, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            RefusalKind::NotFound,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }

    #[must_use]
    pub fn stale() -> Self {
        Self::new(
            RefusalKind::Stale,
            "PRECONDITION_FAILED",
            "the resource changed since you read it (If-Match does not match its ETag); reload and try again",
        )
    }
}

impl From<InvalidText> for Refusal {
    fn from(err: InvalidText) -> Self {
        Self::invalid("VALIDATION_FAILED", err.to_string())
    }
}
