//! The audit log's events: append-only, written in the same transaction as
//! the change they describe, never holding a secret.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::key::UserRef;
use super::tenant::TenantId;
use super::user::User;

/// The actions the audit log records (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventAction {
    #[serde(rename = "key.created")]
    KeyCreated,
    #[serde(rename = "key.updated")]
    KeyUpdated,
    #[serde(rename = "key.disabled")]
    KeyDisabled,
    #[serde(rename = "key.enabled")]
    KeyEnabled,
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    #[serde(rename = "key.deleted")]
    KeyDeleted,
    #[serde(rename = "key.regenerated")]
    KeyRegenerated,
    #[serde(rename = "key.duplicated")]
    KeyDuplicated,
    #[serde(rename = "key.secret_revealed")]
    KeySecretRevealed,
    #[serde(rename = "settings.updated")]
    SettingsUpdated,
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.updated")]
    UserUpdated,
    #[serde(rename = "user.token_rotated")]
    UserTokenRotated,
    #[serde(rename = "tenant.created")]
    TenantCreated,
    /// A rotation's grace was ended early: the previous secret stopped verifying.
    #[serde(rename = "key.rotation_ended")]
    KeyRotationEnded,
    /// Someone asked which key a secret belongs to (`POST /v1/keys/lookup`).
    #[serde(rename = "key.looked_up")]
    KeyLookedUp,
    /// A verifier token was made for a tenant (shown once).
    #[serde(rename = "verifier.created")]
    VerifierCreated,
    /// A verifier token was revoked: it stopped working at once.
    #[serde(rename = "verifier.revoked")]
    VerifierRevoked,
    /// An administrator issued a token for a user who held none.
    #[serde(rename = "user.token_issued")]
    UserTokenIssued,
    /// A user's management token was taken away (by them or an administrator).
    #[serde(rename = "user.token_revoked")]
    UserTokenRevoked,
    #[serde(rename = "user.disabled")]
    UserDisabled,
    #[serde(rename = "user.enabled")]
    UserEnabled,
    /// A user was deleted; their keys and events stay.
    #[serde(rename = "user.deleted")]
    UserDeleted,
}

impl EventAction {
    pub const ALL: [EventAction; 23] = [
        EventAction::KeyCreated,
        EventAction::KeyUpdated,
        EventAction::KeyDisabled,
        EventAction::KeyEnabled,
        EventAction::KeyRevoked,
        EventAction::KeyDeleted,
        EventAction::KeyRegenerated,
        EventAction::KeyDuplicated,
        EventAction::KeySecretRevealed,
        EventAction::SettingsUpdated,
        EventAction::UserCreated,
        EventAction::UserUpdated,
        EventAction::UserTokenRotated,
        EventAction::TenantCreated,
        EventAction::KeyRotationEnded,
        EventAction::KeyLookedUp,
        EventAction::VerifierCreated,
        EventAction::VerifierRevoked,
        EventAction::UserTokenIssued,
        EventAction::UserTokenRevoked,
        EventAction::UserDisabled,
        EventAction::UserEnabled,
        EventAction::UserDeleted,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::KeyCreated => "key.created",
            EventAction::KeyUpdated => "key.updated",
            EventAction::KeyDisabled => "key.disabled",
            EventAction::KeyEnabled => "key.enabled",
            EventAction::KeyRevoked => "key.revoked",
            EventAction::KeyDeleted => "key.deleted",
            EventAction::KeyRegenerated => "key.regenerated",
            EventAction::KeyDuplicated => "key.duplicated",
            EventAction::KeySecretRevealed => "key.secret_revealed",
            EventAction::SettingsUpdated => "settings.updated",
            EventAction::UserCreated => "user.created",
            EventAction::UserUpdated => "user.updated",
            EventAction::UserTokenRotated => "user.token_rotated",
            EventAction::TenantCreated => "tenant.created",
            EventAction::KeyRotationEnded => "key.rotation_ended",
            EventAction::KeyLookedUp => "key.looked_up",
            EventAction::VerifierCreated => "verifier.created",
            EventAction::VerifierRevoked => "verifier.revoked",
            EventAction::UserTokenIssued => "user.token_issued",
            EventAction::UserTokenRevoked => "user.token_revoked",
            EventAction::UserDisabled => "user.disabled",
            EventAction::UserEnabled => "user.enabled",
            EventAction::UserDeleted => "user.deleted",
        }
    }

    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// An event about to be written.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at: DateTime<Utc>,
    pub tenant_id: Option<TenantId>,
    pub action: EventAction,
    pub actor: UserRef,
    /// The id of what changed: a key, user or tenant.
    pub target_id: String,
    /// Its name at the time, so the log reads well after a delete.
    pub target_name: String,
    /// The caller's address.
    pub source: String,
    /// What changed, e.g. `{"name": {"from": "a", "to": "b"}}`. Never a secret.
    pub changes: serde_json::Value,
}

/// An event as stored, with its position in the log.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub event: NewEvent,
}

/// Who did it and from where: every mutation carries one.
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: UserRef,
    pub source: String,
}

impl Origin {
    /// An event about `target` with `changes`, at `at`.
    #[must_use]
    pub fn event(
        &self,
        at: DateTime<Utc>,
        tenant_id: Option<TenantId>,
        action: EventAction,
        target: (&str, &str),
        changes: serde_json::Value,
    ) -> NewEvent {
        NewEvent {
            at,
            tenant_id,
            action,
            actor: self.actor.clone(),
            target_id: target.0.to_owned(),
            target_name: target.1.to_owned(),
            source: self.source.clone(),
            changes,
        }
    }

    /// An event about `user`, in their tenant's log.
    #[must_use]
    pub fn about_user(
        &self,
        at: DateTime<Utc>,
        action: EventAction,
        user: &User,
        changes: serde_json::Value,
    ) -> NewEvent {
        let target = (user.id.as_str(), user.name.as_str());
        self.event(at, user.tenant_id.clone(), action, target, changes)
    }
}
