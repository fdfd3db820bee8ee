//! The JSON bodies of the management API (v1), shared by the server and its
//! clients so the two cannot drift. Field names are SPEC's words. Request
//! bodies refuse unknown fields, so a typo is an error instead of a no-op.
//! Bodies convert from the domain (server side) and, where a client asks the
//! domain's rules, back to it (`to_domain`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    self, KeyCreators, KeyStatus, RateLimit, Role, SecretRetrieval, UserRef, policy,
};

/// An RFC 9457 problem: every error the API answers with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `urn:keydesk:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable: `NOT_FOUND`, `FORBIDDEN`, `KEY_REVOKED`, `VALIDATION_FAILED`, …
    pub code: String,
}

/// Successful and failed verifications of a key in the last 24 hours (seed 002's error rate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage24h {
    pub valid: u64,
    pub failed: u64,
}

impl Usage24h {
    /// Failed / all, or `None` when the key was not used.
    #[must_use]
    pub fn error_rate(&self) -> Option<f64> {
        let all = self.valid + self.failed;
        #[allow(clippy::cast_precision_loss)]
        (all > 0).then(|| self.failed as f64 / all as f64)
    }
}

/// An API key as the API shows it. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Key {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub description: String,
    pub owner: UserRef,
    pub scopes: Vec<String>,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    pub created_by: UserRef,
    pub updated_at: DateTime<Utc>,
    pub updated_by: UserRef,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<UserRef>,
    /// The first characters of the secret: safe to show, enough to recognise it.
    pub start: String,
    /// True when a tenant admin can reveal the secret again (`secret_retrieval = admins`).
    pub secret_retrievable: bool,
    /// While a rotation's grace lasts, when it ends: until then the previous
    /// secret verifies too (SPEC's `previous_secret_valid_until`). `null` when
    /// the key is not rotating; a revoked key never is.
    #[serde(default)]
    pub rotating_until: Option<DateTime<Utc>>,
    /// The key's own rate limit; `null`: its tenant's `rate_limit` applies
    /// (if any). A tenant admin sets it with PATCH.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    pub usage_24h: Usage24h,
    /// The ETag value, also sent in the `ETag` header.
    pub version: i64,
    /// Why the server finds the key's last hour suspicious; `null` when it
    /// does not. Judged within seconds of the usage it looks at.
    #[serde(default)]
    pub suspicious: Option<Suspicion>,
}

impl Key {
    #[must_use]
    pub fn from_domain(key: &domain::ApiKey, usage: Usage24h, now: DateTime<Utc>) -> Self {
        Self {
            id: key.id.as_str().to_owned(),
            tenant: key.tenant_id.as_str().to_owned(),
            name: key.name.as_str().to_owned(),
            description: key.description.as_str().to_owned(),
            owner: key.owner.clone(),
            scopes: key.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            status: key.status(now),
            created_at: key.created_at,
            created_by: key.created_by.clone(),
            updated_at: key.updated_at,
            updated_by: key.updated_by.clone(),
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
            revoked_by: key.revoked_by.clone(),
            start: key.start.clone(),
            secret_retrievable: key.encrypted_secret.is_some(),
            rotating_until: key.rotating_until(now),
            rate_limit: key.rate_limit,
            usage_24h: usage,
            version: key.version,
            suspicious: None,
        }
    }
}

/// A key with its secret: the one response that shows it (create, regenerate, duplicate).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyWithSecret {
    pub key: Key,
    /// The plaintext secret, shown once. `null` when an `Idempotency-Key`
    /// replay answers: the secret was shown to the first request only.
    pub secret: Option<String>,
}

/// A secret revealed from storage (`secret_retrieval = admins`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevealedSecret {
    pub id: String,
    pub secret: String,
}

/// One page of keys.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyList {
    pub items: Vec<Key>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Keys matching the filter, over all pages.
    pub total: u64,
}

/// `POST /v1/tenants/{t}/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// 1–100 characters, one line, at least one visible.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: String,
    /// A subset of the tenant's `scopes`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The owning user's id; defaults to the caller. Only tenant admins create keys for others.
    #[serde(default)]
    pub owner: Option<String>,
    /// Required, and bounded, when the tenant sets `max_expiry_days`.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `PATCH /v1/tenants/{t}/keys/{id}`: the fields to change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Refused with `SCOPES_FIXED` when the tenant's `scopes_editable` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The new owner's user id: a member of the tenant with the developer
    /// role (or a system administrator). Only tenant and system admins give
    /// a key to someone else; the new owner's `max_keys_per_user` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Absent: unchanged; `null`: never expires; a time: expires then. A new
    /// expiry obeys the creation rules: in the future, and, when the tenant
    /// sets `max_expiry_days`, within that many days from now (`null` refused).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Absent: unchanged; `null`: the tenant's default applies; a limit: the
    /// key's own. Only tenant and system admins set or lift it (403 else).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<RateLimit>)]
    pub rate_limit: Option<Option<RateLimit>>,
}

/// `POST /v1/tenants/{t}/keys/{id}/duplicate`: what the copy changes. An
/// absent or empty body copies the source as it is, its name suffixed
/// with " (copy)".
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DuplicateKey {
    /// The copy's name, instead of the source's name suffixed with " (copy)".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// The copy's description, instead of the source's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// A tenant's settings (SPEC §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    pub api_keys_enabled: bool,
    pub max_expiry_days: Option<u32>,
    pub max_keys_per_user: Option<u32>,
    pub key_creators: KeyCreators,
    pub scopes_editable: bool,
    pub revoke_requires_disabled: bool,
    pub secret_retrieval: SecretRetrieval,
    pub key_prefix: String,
    pub scopes: Vec<String>,
    /// The rate limit of every key without its own; `null`: unlimited.
    /// Counted per server instance.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// The ETag value, also sent in the `ETag` header.
    pub version: i64,
}

impl Settings {
    #[must_use]
    pub fn from_domain(settings: &domain::TenantSettings, version: i64) -> Self {
        Self {
            api_keys_enabled: settings.api_keys_enabled,
            max_expiry_days: settings.max_expiry_days,
            max_keys_per_user: settings.max_keys_per_user,
            key_creators: settings.key_creators,
            scopes_editable: settings.scopes_editable,
            revoke_requires_disabled: settings.revoke_requires_disabled,
            secret_retrieval: settings.secret_retrieval,
            key_prefix: settings.key_prefix.as_str().to_owned(),
            scopes: settings
                .scopes
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            rate_limit: settings.rate_limit,
            version,
        }
    }

    /// The domain's settings, to ask the domain's rules (policy, status
    /// machine) what the server would answer. Trusts the server: its values
    /// were parsed when they were stored.
    #[must_use]
    pub fn to_domain(&self) -> domain::TenantSettings {
        domain::TenantSettings {
            api_keys_enabled: self.api_keys_enabled,
            max_expiry_days: self.max_expiry_days,
            max_keys_per_user: self.max_keys_per_user,
            key_creators: self.key_creators,
            scopes_editable: self.scopes_editable,
            revoke_requires_disabled: self.revoke_requires_disabled,
            secret_retrieval: self.secret_retrieval,
            key_prefix: domain::KeyPrefix::from_trusted(self.key_prefix.clone()),
            scopes: self
                .scopes
                .iter()
                .cloned()
                .map(domain::Scope::from_trusted)
                .collect(),
            rate_limit: self.rate_limit,
        }
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PATCH /v1/tenants/{t}/settings`: the fields to change; `null` clears a limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_keys_enabled: Option<bool>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    /// 1 to 3650; `null` lifts the limit.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub max_expiry_days: Option<Option<u32>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    /// 1 to 100000; `null` lifts the limit.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 100_000)]
    pub max_keys_per_user: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_creators: Option<KeyCreators>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_editable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_requires_disabled: Option<bool>,
    /// Switching to `never` also erases every stored (encrypted) secret of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_retrieval: Option<SecretRetrieval>,
    /// 1–16 of a-z and 0-9, starting with a letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 16, pattern = r"^[a-z][a-z0-9]{0,15}$")]
    pub key_prefix: Option<String>,
    /// At most 200 scopes, each 1–64 of a-z, 0-9 and `: . _ - * /`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 200)]
    pub scopes: Option<Vec<String>>,
    /// The default rate limit of the tenant's keys; `null` lifts it. A key's
    /// own limit wins.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<RateLimit>)]
    pub rate_limit: Option<Option<RateLimit>>,
}

/// A tenant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TenantBody {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub settings: Settings,
}

impl TenantBody {
    #[must_use]
    pub fn from_domain(tenant: &domain::Tenant) -> Self {
        Self {
            id: tenant.id.as_str().to_owned(),
            name: tenant.name.as_str().to_owned(),
            created_at: tenant.created_at,
            settings: Settings::from_domain(&tenant.settings, tenant.settings_version),
        }
    }
}

/// `GET /v1/tenants`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    pub items: Vec<TenantBody>,
}

/// `POST /v1/tenants`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// A slug: 2–63 of a-z, 0-9 and '-', starting with a letter.
    #[schema(min_length = 2, max_length = 63, pattern = r"^[a-z][a-z0-9-]{1,62}$")]
    pub id: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Settings that differ from the defaults.
    #[serde(default)]
    pub settings: Option<UpdateSettings>,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserBody {
    pub id: String,
    pub name: String,
    /// `null` unless the caller manages users (a tenant or system admin)
    /// or is this user.
    #[serde(default)]
    pub email: Option<String>,
    /// `null` for system administrators.
    pub tenant: Option<String>,
    pub roles: Vec<Role>,
    pub licensed: bool,
    pub created_at: DateTime<Utc>,
    /// A disabled user's management token is refused until they are enabled.
    #[serde(default)]
    pub disabled: bool,
    /// Whether the user holds a management token; an admin may issue one
    /// only to a user who does not.
    #[serde(default = "holds_token")]
    pub has_token: bool,
}

/// What an older server, which did not say, meant: every user held a token.
fn holds_token() -> bool {
    true
}

impl UserBody {
    /// Everything about `user`, e-mail address included: for those who may
    /// see it (see [`UserBody::seen_by`]).
    #[must_use]
    pub fn from_domain(user: &domain::User) -> Self {
        Self {
            id: user.id.as_str().to_owned(),
            name: user.name.as_str().to_owned(),
            email: Some(user.email.as_str().to_owned()),
            tenant: user.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
            roles: user.roles.iter().collect(),
            licensed: user.licensed,
            created_at: user.created_at,
            disabled: user.disabled,
            has_token: user.has_token,
        }
    }

    /// `user` as `reader` may see them: without the e-mail address unless
    /// [`policy::may_see_email`] allows it.
    #[must_use]
    pub fn seen_by(user: &domain::User, reader: &domain::User) -> Self {
        let mut body = Self::from_domain(user);
        if !policy::may_see_email(reader, &user.id) {
            body.email = None;
        }
        body
    }

    /// The domain's user, to ask the policy what the server would allow
    /// them. Trusts the server: its values were parsed when they were stored.
    #[must_use]
    pub fn to_domain(&self) -> domain::User {
        domain::User {
            id: domain::UserId::from_trusted(self.id.clone()),
            name: domain::PersonName::from_trusted(self.name.clone()),
            email: domain::Email::from_trusted(self.email.clone().unwrap_or_default()),
            tenant_id: self.tenant.clone().map(domain::TenantId::from_trusted),
            roles: domain::Roles::new(self.roles.iter().copied()),
            licensed: self.licensed,
            created_at: self.created_at,
            disabled: self.disabled,
            has_token: self.has_token,
        }
    }
}

/// `GET /v1/tenants/{t}/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserBody>,
    /// Pass as `cursor` for the next page; `null` on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `POST /v1/tenants/{t}/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[schema(min_length = 3, max_length = 254, pattern = r"^[^@\s]+@[^@\s]+$")]
    pub email: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub licensed: bool,
}

/// `PATCH /v1/tenants/{t}/users/{id}`: grant or withdraw roles and the license.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 3, max_length = 254, pattern = r"^[^@\s]+@[^@\s]+$")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensed: Option<bool>,
}

/// A user with a management token, shown once (user creation, token rotation).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserWithToken {
    pub user: UserBody,
    pub token: String,
}

/// `GET /v1/me`: who the token belongs to and which tenants they see.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub user: UserBody,
    pub tenants: Vec<TenantBody>,
}

/// An audit event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventBody {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub tenant: Option<String>,
    /// `key.created`, `key.revoked`, `settings.updated`, `user.created`, …
    pub action: String,
    pub actor: UserRef,
    pub target_id: String,
    pub target_name: String,
    /// The caller's address.
    pub source: String,
    /// What changed; never a secret.
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
}

impl EventBody {
    #[must_use]
    pub fn from_domain(event: &domain::Event) -> Self {
        let e = &event.event;
        Self {
            id: event.id,
            at: e.at,
            tenant: e.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
            action: e.action.as_str().to_owned(),
            actor: e.actor.clone(),
            target_id: e.target_id.clone(),
            target_name: e.target_name.clone(),
            source: e.source.clone(),
            changes: e.changes.clone(),
        }
    }

    /// `event` as `reader` may read it: an event about a user holds their
    /// e-mail address only where [`policy::may_see_email`] allows it.
    #[must_use]
    pub fn seen_by(event: &domain::Event, reader: &domain::User) -> Self {
        let mut body = Self::from_domain(event);
        let user = domain::UserId::from_trusted(body.target_id.clone());
        if body.action.starts_with("user.") && !policy::may_see_email(reader, &user) {
            if let Some(changes) = body.changes.as_object_mut() {
                changes.remove("email");
            }
        }
        body
    }
}

/// `GET /v1/tenants/{t}/events`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    pub items: Vec<EventBody>,
    pub next_cursor: Option<String>,
}

/// `POST /v1/verify`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The secret the caller presented.
    pub key: String,
    /// When given, a key of any other tenant is `NOT_FOUND`: a service of
    /// this tenant refuses keys made for another. (A verifier token binds
    /// its tenant whatever this says.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        pattern = "^[a-z][a-z0-9-]{0,61}[a-z0-9]$",
        min_length = 2,
        max_length = 63
    )]
    pub tenant: Option<String>,
    /// When given, the key must hold this scope.
    #[serde(default)]
    pub scope: Option<String>,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    NotFound,
    Disabled,
    Revoked,
    Expired,
    TenantDisabled,
    InsufficientScope,
    /// The key's rate limit (its own, or its tenant's default) is used up
    /// until its window closes: see `retry_after_seconds`.
    RateLimited,
}

impl VerifyCode {
    pub const ALL: [VerifyCode; 8] = [
        VerifyCode::Valid,
        VerifyCode::NotFound,
        VerifyCode::Disabled,
        VerifyCode::Revoked,
        VerifyCode::Expired,
        VerifyCode::TenantDisabled,
        VerifyCode::InsufficientScope,
        VerifyCode::RateLimited,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyCode::Valid => "VALID",
            VerifyCode::NotFound => "NOT_FOUND",
            VerifyCode::Disabled => "DISABLED",
            VerifyCode::Revoked => "REVOKED",
            VerifyCode::Expired => "EXPIRED",
            VerifyCode::TenantDisabled => "TENANT_DISABLED",
            VerifyCode::InsufficientScope => "INSUFFICIENT_SCOPE",
            VerifyCode::RateLimited => "RATE_LIMITED",
        }
    }
}

/// `POST /v1/verify`'s answer: always 200; `valid` and `code` say what
/// happened. The key's fields are set when the key is valid, or when the
/// caller is authenticated for the key's tenant (a verifier token of it, or
/// a management token that sees it); any other answer carries the code
/// alone (`null`s and no scopes).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerifyResponse {
    pub valid: bool,
    pub code: VerifyCode,
    pub key_id: Option<String>,
    pub tenant: Option<String>,
    pub owner: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// With `RATE_LIMITED`: whole seconds until the key's window closes
    /// (also the `Retry-After` header); else `null`.
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
}

/// A tenant's verifier: a service credential that may only call
/// `/v1/verify`, bound to its tenant. Never holds its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerifierBody {
    /// `ver_` + ULID.
    pub id: String,
    pub tenant: String,
    /// What it is for, e.g. the service that uses it.
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: UserRef,
}

impl VerifierBody {
    #[must_use]
    pub fn from_domain(verifier: &domain::Verifier) -> Self {
        Self {
            id: verifier.id.as_str().to_owned(),
            tenant: verifier.tenant_id.as_str().to_owned(),
            name: verifier.name.as_str().to_owned(),
            created_at: verifier.created_at,
            created_by: verifier.created_by.clone(),
        }
    }
}

/// `GET /v1/tenants/{t}/verifiers`: oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerifierList {
    pub items: Vec<VerifierBody>,
}

/// `POST /v1/tenants/{t}/verifiers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVerifier {
    /// What it is for, e.g. the service that uses it: 1–100 characters, one line.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

/// A new verifier with its token, shown this once (`kdv_…`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerifierWithToken {
    pub verifier: VerifierBody,
    /// Send as `Authorization: Bearer <token>` to `POST /v1/verify`.
    pub token: String,
}

/// Why the server flags a key as suspicious (SPEC §2 Usage): a spike far
/// above the key's own baseline, or failures dominating its last hour. The
/// thresholds are `keydesk serve`'s `--suspicious-*` options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Suspicion {
    /// In words, with the numbers, e.g. "failures dominate: 18 of 25
    /// verifications in the last hour failed (72%)".
    pub reason: String,
}

/// `GET /v1/tenants/{t}/keys/{id}/usage`: a key's verifications over a
/// window, in buckets of equal length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageHistory {
    /// `1h`, `24h` or `7d`.
    pub window: String,
    /// The length of every bucket: 60 (`1h`), 900 (`24h`) or 3600 (`7d`).
    pub bucket_seconds: u32,
    /// Every bucket of the window, oldest first, empty ones included (60,
    /// 96 or 168 of them). Buckets are aligned to their length; the last
    /// holds the present moment and is still filling.
    pub buckets: Vec<UsageBucketBody>,
}

/// One bucket of a usage history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageBucketBody {
    pub start: DateTime<Utc>,
    /// Successful verifications.
    pub valid: u64,
    /// Failed verifications by code (`REVOKED`, `DISABLED`, `EXPIRED`,
    /// `TENANT_DISABLED`, `INSUFFICIENT_SCOPE`, `RATE_LIMITED`); codes with none
    /// are left out.
    pub failed: std::collections::BTreeMap<String, u64>,
}

/// `POST /v1/tenants/{t}/keys/{id}/regenerate`: how long the replaced
/// secret keeps verifying. An absent or empty body is no grace.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RegenerateKey {
    /// 0 to 604800 (7 days). 0: the old secret stops at once; more: both
    /// secrets verify until `rotating_until`.
    #[schema(minimum = 0, maximum = 604_800)]
    pub grace_seconds: u32,
}

/// `POST /v1/keys/lookup`: which key is this (leaked) secret?
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupKey {
    /// A key's secret, current or previous (in a rotation's grace).
    pub secret: String,
}

impl std::fmt::Debug for LookupKey {
    /// Never the secret itself, so a stray `{:?}` cannot log it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupKey").finish_non_exhaustive()
    }
}

/// `POST /v1/keys/lookup`'s answer: the key a secret belongs to, and its tenant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LookupResult {
    pub tenant: TenantBody,
    pub key: Key,
    /// `current`, or `previous`: the secret a rotation replaced, still in its grace.
    pub matched: MatchedSecret,
}

/// Which of a key's secrets a looked-up secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchedSecret {
    Current,
    Previous,
}

/// The most keys one bulk revoke acts on, by ids or by filter.
pub const BULK_REVOKE_MAX: usize = 1000;

/// `POST /v1/tenants/{t}/keys/revoke`: exactly one of `ids` and `filter`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRevoke {
    /// 1 to 1000 key ids of the tenant (repeats count once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
    /// The keys matching every given field; at most 1000 may match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<BulkRevokeFilter>,
    /// `true`: answer what would happen, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Which keys a bulk revoke acts on; absent fields do not filter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BulkRevokeFilter {
    /// The owner's user id or name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The creator's user id or name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Keys that hold this scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Case-insensitive substring of name, id, owner name or start, as the key list's `q`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// `active`, `disabled`, `expired` or `revoked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<KeyStatus>,
}

/// What a bulk revoke did, or would do, to each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkOutcome {
    Revoked,
    /// A dry run's verdict: a revoke now would succeed.
    WouldRevoke,
    /// Not revoked; `code` and `detail` are what a single revoke of the key answers.
    Refused,
}

/// One key's result in a bulk revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BulkRevokeItem {
    pub id: String,
    /// `null` for an id that names no key of the tenant.
    pub name: Option<String>,
    pub outcome: BulkOutcome,
    /// The refusal's code (`KEY_REVOKED`, `REVOKE_REQUIRES_DISABLED`,
    /// `FORBIDDEN`, `NOT_FOUND`); `null` unless refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The refusal in words; `null` unless refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `POST /v1/tenants/{t}/keys/revoke`'s answer: one item per key, in the
/// order of `ids` (or of the key list's default sort, for a filter).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BulkRevokeResult {
    pub dry_run: bool,
    pub results: Vec<BulkRevokeItem>,
    /// Keys revoked (0 in a dry run).
    pub revoked: u32,
    /// Keys a revoke would succeed on (0 unless a dry run).
    pub would_revoke: u32,
    pub refused: u32,
}

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::{self, KeyAction};

    fn settings() -> domain::TenantSettings {
        domain::TenantSettings {
            api_keys_enabled: true,
            max_expiry_days: Some(30),
            max_keys_per_user: Some(3),
            key_creators: KeyCreators::SystemAdmins,
            scopes_editable: false,
            revoke_requires_disabled: true,
            secret_retrieval: SecretRetrieval::Admins,
            key_prefix: domain::KeyPrefix::parse("acme").unwrap(),
            scopes: vec![domain::Scope::parse("payments:read").unwrap()],
            rate_limit: Some(RateLimit {
                requests: 100,
                window_seconds: 60,
            }),
        }
    }

    #[test]
    fn settings_come_back_from_the_api_as_they_were_sent() {
        let settings = settings();
        let body = Settings::from_domain(&settings, 7);
        assert_eq!(body.to_domain(), settings);
        // Through JSON too, as a client receives them.
        let received: Settings =
            serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        assert_eq!(received.to_domain(), settings);
        assert_eq!(
            Settings::from_domain(&domain::TenantSettings::default(), 1).to_domain(),
            domain::TenantSettings::default()
        );
    }

    #[test]
    fn a_user_comes_back_from_the_api_and_the_policy_judges_them_alike() {
        let user = domain::User {
            id: domain::UserId::from_trusted("usr_ana".to_owned()),
            name: domain::PersonName::parse("Ana Lima").unwrap(),
            email: domain::Email::parse("ana@example.com").unwrap(),
            tenant_id: Some(domain::TenantId::parse("acme").unwrap()),
            roles: domain::Roles::new([Role::TenantAdmin, Role::Developer]),
            licensed: true,
            created_at: Utc::now(),
            disabled: false,
            has_token: true,
        };
        let body: UserBody =
            serde_json::from_value(serde_json::to_value(UserBody::from_domain(&user)).unwrap())
                .unwrap();
        let back = body.to_domain();
        assert_eq!(back, user);
        let settings = domain::TenantSettings {
            api_keys_enabled: true,
            ..domain::TenantSettings::default()
        };
        let other = domain::UserId::from_trusted("usr_bo".to_owned());
        for action in KeyAction::ALL {
            assert_eq!(
                policy::may_act_on_key(&back, action, &settings, &other),
                policy::may_act_on_key(&user, action, &settings, &other),
                "{action:?}"
            );
        }
        let mut root = UserBody::from_domain(&user);
        root.tenant = None;
        root.roles = vec![Role::SystemAdmin];
        assert!(root.to_domain().is_system_admin());
        assert_eq!(root.to_domain().tenant_id, None);
    }
}

/// `GET /v1/fleet`: the instances serving this installation's database.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FleetStatus {
    /// The latest change committed by any instance (PostgreSQL's change
    /// counter; 0 on SQLite, where one instance has nothing to apply).
    pub change: i64,
    /// The instance that answered.
    pub this_instance: String,
    /// Instances whose heartbeat is at most `live_within_ms` old, oldest start first.
    pub instances: Vec<FleetInstanceBody>,
    /// How recent a heartbeat must be for an instance to count as live.
    pub live_within_ms: u64,
}

/// One instance of the fleet.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FleetInstanceBody {
    /// `serve --instance-id`, or random at each start.
    pub id: String,
    /// The address it listens on, as bound.
    pub address: Option<String>,
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat (every second, and right after it applies a change).
    pub seen_at: DateTime<Utc>,
    /// How old its last heartbeat is.
    pub heartbeat_age_ms: u64,
    /// The highest change it has applied to its caches and live event streams.
    pub applied_change: i64,
    pub applied_at: DateTime<Utc>,
    /// `change` − `applied_change`: changes it has not applied yet.
    pub lag: i64,
}
