//! API keys and their status machine (SPEC §2). [`check_key_action`] is the
//! status machine's one judge: each transition method asks it first, and the
//! console asks it to show an action as disabled with the server's reason.
//! Also the sort orders of a key list, shared by the store, server and client.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::Refusal;
use super::policy;
use super::policy::KeyAction;
use super::rate_limit::RateLimit;
use super::secret::{Keyring, Secret};
use super::tenant::{Scope, SecretRetrieval, Tenant, TenantId, TenantSettings};
use super::text::{Description, KeyName};
use super::user::{User, UserId};

super::id::ulid_id!(
    /// A key's id: `key_` + ULID, so ids sort by creation time.
    KeyId,
    "key"
);

/// The stored part of the status: what actions set. `expired` is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    Active,
    Disabled,
    Revoked,
}

impl Lifecycle {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Disabled => "disabled",
            Lifecycle::Revoked => "revoked",
        }
    }

    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Lifecycle::Active),
            "disabled" => Some(Lifecycle::Disabled),
            "revoked" => Some(Lifecycle::Revoked),
            _ => None,
        }
    }
}

/// The status a key shows and verifies as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Disabled,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub const ALL: [KeyStatus; 4] = [
        KeyStatus::Active,
        KeyStatus::Disabled,
        KeyStatus::Expired,
        KeyStatus::Revoked,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Disabled => "disabled",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }

    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// The column a key list is sorted by. Each has a natural direction
/// (status: active first, then newest; created: newest first; name: A–Z;
/// last_used: most recent first; expires: soonest first); `reversed` flips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortField {
    #[default]
    Status,
    Name,
    Created,
    LastUsed,
    Expires,
}

impl SortField {
    pub const ALL: [SortField; 5] = [
        SortField::Status,
        SortField::Name,
        SortField::Created,
        SortField::LastUsed,
        SortField::Expires,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::Status => "status",
            SortField::Name => "name",
            SortField::Created => "created",
            SortField::LastUsed => "last_used",
            SortField::Expires => "expires",
        }
    }
}

/// A key list's sort: a field, and whether its natural direction is
/// reversed. On the wire (the `sort` query parameter, and serde) it is the
/// field's name, prefixed with `-` when reversed: `status`, `-created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeySort {
    pub field: SortField,
    pub reversed: bool,
}

impl KeySort {
    /// Parses `status`, `-created`, …
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        let (reversed, name) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        SortField::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .map(|field| Self { field, reversed })
    }

    /// The wire form, which [`KeySort::parse`] reads back.
    #[must_use]
    pub fn to_param(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for KeySort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reversed {
            f.write_str("-")?;
        }
        f.write_str(self.field.as_str())
    }
}

impl Serialize for KeySort {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeySort {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{raw:?} is not one of status, name, created, last_used, expires (prefix '-' to reverse)"
            ))
        })
    }
}

/// A user as shown next to a key: id and display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserRef {
    #[schema(value_type = String)]
    pub id: UserId,
    pub name: String,
}

/// An API key as the domain sees it. The secret itself is never here: only
/// its keyed digest and, where the tenant allows retrieval, its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: KeyId,
    pub tenant_id: TenantId,
    pub name: KeyName,
    pub description: Description,
    pub owner: UserRef,
    pub scopes: Vec<Scope>,
    pub lifecycle: Lifecycle,
    pub created_at: DateTime<Utc>,
    pub created_by: UserRef,
    pub updated_at: DateTime<Utc>,
    pub updated_by: UserRef,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<UserRef>,
    /// The first characters of the secret, safe to display.
    pub start: String,
    pub secret_digest: String,
    pub encrypted_secret: Option<String>,
    pub previous_secret_digest: Option<String>,
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    /// Its own rate limit, instead of the tenant's default; `None`: the default.
    pub rate_limit: Option<RateLimit>,
    /// Bumped on every change; the key's ETag.
    pub version: i64,
}

/// What a caller asks for when creating a key (already parsed).
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: KeyName,
    pub description: Description,
    pub scopes: Vec<Scope>,
    pub owner: UserRef,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A partial edit of a key (seed 000: label and scope; 001: rename; 002:
/// name and description; and, for admins, owner and expiry).
#[derive(Debug, Clone, Default)]
pub struct KeyEdit {
    pub name: Option<KeyName>,
    pub description: Option<Description>,
    pub scopes: Option<Vec<Scope>>,
    /// The proposed new owner, as the store found them in the editing
    /// transaction. Who may propose one is [`policy::may_change_owner`]'s
    /// question; [`ApiKey::edit`] checks that they may own the key.
    pub owner: Option<OwnerFacts>,
    /// `Some(None)`: the key never expires; `Some(Some(at))`: it expires at `at`.
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// `Some(None)`: the tenant's default applies; `Some(Some(limit))`: its own.
    /// Who may set one is [`policy::may_change_rate_limit`]'s question.
    pub rate_limit: Option<Option<RateLimit>>,
}

/// What a duplicate changes from its source; `None` keeps the source's
/// (its name suffixed with " (copy)").
#[derive(Debug, Clone, Default)]
pub struct KeyCopy {
    pub name: Option<KeyName>,
    pub description: Option<Description>,
}

/// A user proposed as a key's owner, read in the transaction that would
/// hand them the key, so the per-user limit is checked on the data the
/// write lands on.
#[derive(Debug, Clone)]
pub struct OwnerFacts {
    pub user: User,
    /// Their keys in the tenant that are neither revoked nor expired.
    pub live_keys: u32,
}

/// Facts the store gathers inside the creating transaction, so limits are
/// checked against the data the insert will land on.
#[derive(Debug, Clone)]
pub struct CreationFacts {
    pub tenant: Tenant,
    /// The intended owner as the store read them; `None` when no user (or
    /// only a deleted one) has that id.
    pub owner: Option<User>,
    /// Keys of the intended owner that are neither revoked nor expired.
    pub owner_live_keys: u32,
}

/// May `action` be taken on a key in `status`, in a tenant with `settings`?
/// `secret_stored` says whether the key's secret was kept for retrieval
/// (only `Reveal` asks). This is the status machine of SPEC §2 and nothing
/// else: who may act is [`super::policy::may_act_on_key`]'s question, and
/// what an edit changes is [`ApiKey::edit`]'s.
///
/// Revoked is terminal: every action but `Delete` is refused. An expired key
/// can still be edited, duplicated, revealed, revoked and deleted (and its
/// rotation ended), but not disabled, enabled or regenerated, which would
/// not make it verify again. Whether a key is rotating at all is
/// [`ApiKey::end_rotation`]'s question (`KEY_NOT_ROTATING`).
/// With `revoke_requires_disabled` only an *active* key is refused revoke:
/// an expired key cannot be disabled first, so it may be revoked as it is.
pub fn check_key_action(
    action: KeyAction,
    status: KeyStatus,
    settings: &TenantSettings,
    secret_stored: bool,
) -> Result<(), Refusal> {
    if action == KeyAction::Delete {
        return Ok(());
    }
    if status == KeyStatus::Revoked {
        return Err(Refusal::conflict(
            "KEY_REVOKED",
            if action == KeyAction::Revoke {
                "the key is already revoked"
            } else {
                "the key is revoked; a revoked key can only be deleted"
            },
        ));
    }
    let expired = status == KeyStatus::Expired;
    match action {
        KeyAction::Disable if expired => Err(Refusal::conflict(
            "KEY_EXPIRED",
            "the key has expired; it no longer verifies, so there is nothing to disable",
        )),
        KeyAction::Enable if expired => Err(Refusal::conflict(
            "KEY_EXPIRED",
            "the key has expired; enabling it would not make it verify again",
        )),
        KeyAction::Regenerate if expired => Err(Refusal::conflict(
            "KEY_EXPIRED",
            "the key has expired; a new secret would not verify either, so duplicate the key instead",
        )),
        KeyAction::Disable if status == KeyStatus::Disabled => Err(Refusal::conflict(
            "KEY_ALREADY_DISABLED",
            "the key is already disabled",
        )),
        KeyAction::Enable if status == KeyStatus::Active => Err(Refusal::conflict(
            "KEY_ALREADY_ACTIVE",
            "the key is already active",
        )),
        KeyAction::Revoke if settings.revoke_requires_disabled && status == KeyStatus::Active => {
            Err(Refusal::conflict(
                "REVOKE_REQUIRES_DISABLED",
                "this tenant revokes only disabled keys; disable the key first",
            ))
        }
        KeyAction::Reveal if settings.secret_retrieval != SecretRetrieval::Admins => {
            Err(Refusal::conflict(
                "SECRET_NOT_RETRIEVABLE",
                "this tenant shows a secret only once, when it is created; regenerate the key for a new one",
            ))
        }
        KeyAction::Reveal if !secret_stored => Err(Refusal::conflict(
            "SECRET_NOT_STORED",
            "this key's secret was not stored for retrieval (it predates the setting); regenerate the key for a new one",
        )),
        _ => Ok(()),
    }
}

/// The furthest expiry any key may have (100 years): beyond it, dates stop
/// meaning anything and arithmetic on them can overflow.
const FURTHEST_EXPIRY_DAYS: i64 = 36_525;

/// The longest grace a rotation may give the secret it replaces: 7 days.
pub const MAX_GRACE_SECONDS: u32 = 604_800;

/// A rotation's grace from `grace_seconds` (0 to [`MAX_GRACE_SECONDS`]; 0
/// is no grace: the old secret stops at once).
pub fn grace_period(seconds: u32) -> Result<Duration, Refusal> {
    if seconds > MAX_GRACE_SECONDS {
        return Err(Refusal::invalid(
            "VALIDATION_FAILED",
            format!("grace_seconds: at most {MAX_GRACE_SECONDS} (7 days)"),
        ));
    }
    Ok(Duration::seconds(i64::from(seconds)))
}

/// A grace as people write it, `90m`, `6h`, `3d`, `1h30m` or `45s` (units
/// s, m, h, d; `0` alone is no grace), in seconds; at most 7 days. The
/// console's custom rotation and the CLI's `--grace` read it.
pub fn parse_grace(text: &str) -> Result<u32, String> {
    let text = text.trim().to_lowercase();
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err("a duration such as 90m, 6h or 3d".to_owned());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "{c:?} is not a unit: use s, m, h or d (90m, 6h, 3d)"
                ));
            }
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| "a number before each unit (90m, 6h, 3d)".to_owned())?;
        digits.clear();
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !digits.is_empty() {
        return Err(format!(
            "add a unit to {digits}: s, m, h or d (90m, 6h, 3d)"
        ));
    }
    match u32::try_from(total) {
        Ok(seconds) if seconds <= MAX_GRACE_SECONDS => Ok(seconds),
        _ => Err("at most 7 days (7d)".to_owned()),
    }
}

/// Which of a key's secrets a presented one is ([`ApiKey::which_secret`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhichSecret {
    Current,
    /// The secret a rotation replaced, within its grace.
    Previous,
}

/// The ETag of a resource at `version`: the one format the server sends
/// and `If-Match` is compared against.
#[must_use]
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Checks an expiry against the tenant's maximum (seed 001: new keys only).
fn check_expiry(
    settings: &TenantSettings,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if let Some(at) = expires_at {
        if at <= now {
            return Err(Refusal::invalid(
                "VALIDATION_FAILED",
                "expires_at: must be in the future",
            ));
        }
        if at > now + Duration::days(FURTHEST_EXPIRY_DAYS) {
            return Err(Refusal::invalid(
                "EXPIRY_TOO_LONG",
                "expires_at: must be within 100 years; leave it out for a key that never expires",
            ));
        }
    }
    if let Some(days) = settings.max_expiry_days {
        let latest = now + Duration::days(i64::from(days));
        match expires_at {
            None => {
                return Err(Refusal::invalid(
                    "EXPIRY_REQUIRED",
                    format!(
                        "this tenant requires keys to expire within {days} days; set expires_at"
                    ),
                ));
            }
            Some(at) if at > latest => {
                return Err(Refusal::invalid(
                    "EXPIRY_TOO_LONG",
                    format!("this tenant allows keys to live at most {days} days"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Refuses a key that would give its owner more live keys than the tenant allows.
fn check_key_limit(
    settings: &TenantSettings,
    owner_name: &str,
    live_keys: u32,
) -> Result<(), Refusal> {
    match settings.max_keys_per_user {
        Some(max) if live_keys >= max => Err(Refusal::conflict(
            "KEY_LIMIT_REACHED",
            format!(
                "{owner_name} already has {live_keys} live keys; this tenant allows at most {max} per user"
            ),
        )),
        _ => Ok(()),
    }
}

fn check_scopes_offered(settings: &TenantSettings, scopes: &[Scope]) -> Result<(), Refusal> {
    if let Some(unknown) = scopes.iter().find(|s| !settings.scopes.contains(s)) {
        return Err(Refusal::invalid(
            "UNKNOWN_SCOPE",
            format!("scope {:?} is not offered by this tenant", unknown.as_str()),
        ));
    }
    Ok(())
}

impl ApiKey {
    /// The status shown and verified: revoked wins, then expiry, then the stored state.
    #[must_use]
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        match self.lifecycle {
            Lifecycle::Revoked => KeyStatus::Revoked,
            _ if self.expires_at.is_some_and(|at| at <= now) => KeyStatus::Expired,
            Lifecycle::Disabled => KeyStatus::Disabled,
            Lifecycle::Active => KeyStatus::Active,
        }
    }

    /// The key's ETag value.
    #[must_use]
    pub fn etag(&self) -> String {
        etag(self.version)
    }

    /// True while the key counts against its owner's `max_keys_per_user`.
    #[must_use]
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        matches!(self.status(now), KeyStatus::Active | KeyStatus::Disabled)
    }

    /// Creates a key with a fresh secret, enforcing every creation rule that
    /// depends on the tenant and the owner: enabled, an owner who may own
    /// keys of the tenant ([`policy::may_own_key`]), expiry limit, scopes
    /// offered, per-user limit. Who may create is
    /// [`policy::may_create_key`]'s question.
    pub fn create(
        facts: &CreationFacts,
        request: NewKey,
        actor: UserRef,
        keyring: &Keyring,
        now: DateTime<Utc>,
    ) -> Result<(ApiKey, Secret), Refusal> {
        let settings = &facts.tenant.settings;
        if !settings.api_keys_enabled {
            return Err(Refusal::conflict(
                "API_KEYS_DISABLED",
                "API keys are switched off for this tenant; a tenant admin can enable them in the settings",
            ));
        }
        let owner = facts
            .owner
            .as_ref()
            .filter(|owner| owner.id == request.owner.id)
            .ok_or_else(|| policy::unknown_owner(request.owner.id.as_str()))?;
        policy::may_own_key(owner, &facts.tenant.id, &actor.id)?;
        check_expiry(settings, request.expires_at, now)?;
        check_scopes_offered(settings, &request.scopes)?;
        check_key_limit(settings, &request.owner.name, facts.owner_live_keys)?;
        let id = KeyId::generate();
        let secret = Secret::generate(&settings.key_prefix);
        let encrypted_secret = match settings.secret_retrieval {
            SecretRetrieval::Never => None,
            SecretRetrieval::Admins => {
                Some(keyring.encrypt(id.as_str(), &secret).map_err(|_| {
                    Refusal::conflict("ENCRYPTION_FAILED", "the secret could not be encrypted")
                })?)
            }
        };
        let key = ApiKey {
            id,
            tenant_id: facts.tenant.id.clone(),
            name: request.name,
            description: request.description,
            owner: request.owner,
            scopes: request.scopes,
            lifecycle: Lifecycle::Active,
            created_at: now,
            created_by: actor.clone(),
            updated_at: now,
            updated_by: actor,
            expires_at: request.expires_at,
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
            start: secret.start(),
            secret_digest: keyring.secret_digest(&secret),
            encrypted_secret,
            previous_secret_digest: None,
            previous_secret_valid_until: None,
            rate_limit: None,
            version: 1,
        };
        Ok((key, secret))
    }

    /// Seed 002's Duplicate: same name (suffixed), description, scopes,
    /// expiry length and rate limit; a new id and secret; owned by whoever
    /// duplicates it.
    /// `copy` may give the new key its own name and description.
    pub fn duplicate(
        &self,
        copy: KeyCopy,
        facts: &CreationFacts,
        actor: UserRef,
        keyring: &Keyring,
        now: DateTime<Utc>,
    ) -> Result<(ApiKey, Secret), Refusal> {
        self.check(KeyAction::Duplicate, &facts.tenant.settings, now)?;
        let expires_at = match self.expires_at {
            None => None,
            Some(at) => Some(
                now.checked_add_signed(at - self.created_at)
                    .ok_or_else(|| {
                        Refusal::invalid(
                            "EXPIRY_TOO_LONG",
                            "the copied expiry is too far in the future",
                        )
                    })?,
            ),
        };
        let request = NewKey {
            name: copy.name.unwrap_or_else(|| self.name.duplicate_name()),
            description: copy.description.unwrap_or_else(|| self.description.clone()),
            scopes: self.scopes.clone(),
            owner: actor.clone(),
            expires_at,
        };
        let (mut copy, secret) = Self::create(facts, request, actor, keyring, now)?;
        copy.rate_limit = self.rate_limit;
        Ok((copy, secret))
    }

    /// Asks the status machine whether `action` may be taken on this key now.
    fn check(
        &self,
        action: KeyAction,
        settings: &TenantSettings,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        check_key_action(
            action,
            self.status(now),
            settings,
            self.encrypted_secret.is_some(),
        )
    }

    fn touch(&mut self, actor: UserRef, now: DateTime<Utc>) {
        self.updated_at = now;
        self.updated_by = actor;
        self.version += 1;
        // A grace that has run out is tidied away with the next change; until
        // then `which_secret` already refuses the previous secret by its time.
        if self
            .previous_secret_valid_until
            .is_some_and(|until| until <= now)
        {
            self.previous_secret_digest = None;
            self.previous_secret_valid_until = None;
        }
    }

    /// Which of this key's secrets has `digest` at `now`: the current one, or
    /// the previous one while its rotation's grace lasts (`now` strictly before
    /// `previous_secret_valid_until`); `None` for any other digest, including
    /// a previous secret whose grace is over, which verifies as unknown
    /// (`NOT_FOUND`). The grace is judged here, at each verification, so a
    /// record cached during the grace stops verifying the moment it ends.
    /// A revoked or disabled key's previous secret is still *its* secret
    /// until then, and verifies with the key's status.
    #[must_use]
    pub fn which_secret(&self, digest: &str, now: DateTime<Utc>) -> Option<WhichSecret> {
        if self.secret_digest == digest {
            return Some(WhichSecret::Current);
        }
        let in_grace = self
            .previous_secret_valid_until
            .is_some_and(|until| now < until);
        (in_grace && self.previous_secret_digest.as_deref() == Some(digest))
            .then_some(WhichSecret::Previous)
    }

    /// Until when the previous secret still verifies, if the key is in a
    /// rotation's grace at `now` (SPEC's `previous_secret_valid_until`, shown
    /// as `rotating_until`). A revoked key is never rotating: nothing of it
    /// verifies any more.
    #[must_use]
    pub fn rotating_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.lifecycle == Lifecycle::Revoked || self.previous_secret_digest.is_none() {
            return None;
        }
        self.previous_secret_valid_until
            .filter(|until| now < *until)
    }

    /// Applies an edit; returns the names of the fields that changed. Every
    /// field is checked before any is applied, so a refused edit changes
    /// nothing. A field equal to the key's value is no change and is not
    /// checked: resending a key's own expiry after the tenant lowered
    /// `max_expiry_days` is not refused.
    ///
    /// A new expiry obeys the creation rules (seed 001's maximum applies to
    /// new keys, and to every expiry an edit sets). A new owner must be
    /// allowed to own the key ([`policy::may_own_key`]) and, if the key is
    /// live after the edit, stay within `max_keys_per_user`.
    pub fn edit(
        &mut self,
        edit: KeyEdit,
        settings: &TenantSettings,
        actor: UserRef,
        now: DateTime<Utc>,
    ) -> Result<Vec<&'static str>, Refusal> {
        self.check(KeyAction::Edit, settings, now)?;
        let scopes = edit.scopes.filter(|scopes| *scopes != self.scopes);
        if let Some(scopes) = &scopes {
            if !settings.scopes_editable {
                return Err(Refusal::conflict(
                    "SCOPES_FIXED",
                    "this tenant fixes a key's scopes when it is created; duplicate the key to get other scopes",
                ));
            }
            check_scopes_offered(settings, scopes)?;
        }
        let name = edit.name.filter(|name| *name != self.name);
        let description = edit
            .description
            .filter(|description| *description != self.description);
        let expires_at = edit.expires_at.filter(|at| *at != self.expires_at);
        if let Some(at) = expires_at {
            check_expiry(settings, at, now)?;
        }
        let rate_limit = edit.rate_limit.filter(|limit| *limit != self.rate_limit);
        if let Some(Some(limit)) = rate_limit {
            limit.validate("rate_limit")?;
        }
        let owner = edit.owner.filter(|owner| owner.user.id != self.owner.id);
        if let Some(owner) = &owner {
            policy::may_own_key(&owner.user, &self.tenant_id, &actor.id)?;
            // (A revoked key was refused above: the key is live unless expired.)
            if expires_at
                .unwrap_or(self.expires_at)
                .is_none_or(|at| at > now)
            {
                check_key_limit(settings, owner.user.name.as_str(), owner.live_keys)?;
            }
        }

        let mut changed = Vec::new();
        if let Some(scopes) = scopes {
            self.scopes = scopes;
            changed.push("scopes");
        }
        if let Some(name) = name {
            self.name = name;
            changed.push("name");
        }
        if let Some(description) = description {
            self.description = description;
            changed.push("description");
        }
        if let Some(owner) = owner {
            self.owner = UserRef {
                id: owner.user.id,
                name: owner.user.name.as_str().to_owned(),
            };
            changed.push("owner");
        }
        if let Some(at) = expires_at {
            self.expires_at = at;
            changed.push("expires_at");
        }
        if let Some(limit) = rate_limit {
            self.rate_limit = limit;
            changed.push("rate_limit");
        }
        if !changed.is_empty() {
            self.touch(actor, now);
        }
        Ok(changed)
    }

    /// active → disabled (seed 000 "deaktivieren", seed 002 Disable).
    pub fn disable(
        &mut self,
        settings: &TenantSettings,
        actor: UserRef,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.check(KeyAction::Disable, settings, now)?;
        self.lifecycle = Lifecycle::Disabled;
        self.touch(actor, now);
        Ok(())
    }

    /// disabled → active.
    pub fn enable(
        &mut self,
        settings: &TenantSettings,
        actor: UserRef,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.check(KeyAction::Enable, settings, now)?;
        self.lifecycle = Lifecycle::Active;
        self.touch(actor, now);
        Ok(())
    }

    /// active|disabled|expired → revoked, for good. With
    /// `revoke_requires_disabled` (seed 002) an active key must be disabled first.
    pub fn revoke(
        &mut self,
        settings: &TenantSettings,
        actor: UserRef,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.check(KeyAction::Revoke, settings, now)?;
        self.lifecycle = Lifecycle::Revoked;
        self.revoked_at = Some(now);
        self.revoked_by = Some(actor.clone());
        self.encrypted_secret = None;
        // A previous secret still in its grace is kept, so that it verifies
        // as REVOKED (not as unknown) until the grace would have ended.
        self.touch(actor, now);
        Ok(())
    }

    /// Seed 000: a new secret; the old one stops verifying at once. Keeps id,
    /// name, scopes and history. ([`ApiKey::rotate`] with no grace.)
    pub fn regenerate(
        &mut self,
        settings: &TenantSettings,
        keyring: &Keyring,
        actor: UserRef,
        now: DateTime<Utc>,
    ) -> Result<Secret, Refusal> {
        self.rotate(settings, keyring, actor, now, Duration::zero())
    }

    /// Regenerate with a grace period (SPEC §2 rotation): a new secret, and
    /// the one it replaces keeps verifying for `grace` (see [`grace_period`]);
    /// a zero grace is [`ApiKey::regenerate`]. Only the secret just replaced
    /// gets a grace: rotating again during a grace ends the earlier one at once.
    pub fn rotate(
        &mut self,
        settings: &TenantSettings,
        keyring: &Keyring,
        actor: UserRef,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> Result<Secret, Refusal> {
        self.check(KeyAction::Regenerate, settings, now)?;
        let secret = Secret::generate(&settings.key_prefix);
        self.encrypted_secret = match settings.secret_retrieval {
            SecretRetrieval::Never => None,
            SecretRetrieval::Admins => {
                Some(keyring.encrypt(self.id.as_str(), &secret).map_err(|_| {
                    Refusal::conflict("ENCRYPTION_FAILED", "the secret could not be encrypted")
                })?)
            }
        };
        let replaced = std::mem::replace(&mut self.secret_digest, keyring.secret_digest(&secret));
        self.start = secret.start();
        if grace > Duration::zero() {
            self.previous_secret_digest = Some(replaced);
            self.previous_secret_valid_until = Some(now + grace);
        } else {
            self.previous_secret_digest = None;
            self.previous_secret_valid_until = None;
        }
        self.touch(actor, now);
        Ok(secret)
    }

    /// Ends a rotation's grace at once: the previous secret stops verifying
    /// now. Returns when the grace would have ended. Refused with
    /// `KEY_NOT_ROTATING` when the key is in no grace (never rotated, the
    /// grace already over, or ended before), and like every action on a
    /// revoked key with `KEY_REVOKED`.
    pub fn end_rotation(
        &mut self,
        settings: &TenantSettings,
        actor: UserRef,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, Refusal> {
        self.check(KeyAction::EndRotation, settings, now)?;
        let until = self.rotating_until(now).ok_or_else(|| {
            Refusal::conflict(
                "KEY_NOT_ROTATING",
                "the key is not rotating: it has no previous secret that still verifies",
            )
        })?;
        self.previous_secret_digest = None;
        self.previous_secret_valid_until = None;
        self.touch(actor, now);
        Ok(until)
    }

    /// Seed 000's "copy from the list": decrypts the stored secret where the
    /// tenant allows retrieval. The caller records the audit event.
    pub fn reveal(
        &self,
        settings: &TenantSettings,
        keyring: &Keyring,
        now: DateTime<Utc>,
    ) -> Result<Secret, Refusal> {
        self.check(KeyAction::Reveal, settings, now)?;
        // The check refused a key without a stored secret; an empty one
        // could only fail to decrypt.
        let sealed = self.encrypted_secret.as_deref().unwrap_or_default();
        keyring.decrypt(self.id.as_str(), sealed).map_err(|_| {
            Refusal::conflict(
                "SECRET_UNREADABLE",
                "the stored secret could not be decrypted with this server's pepper",
            )
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::tenant::SecretRetrieval;
    use crate::domain::text::DisplayName;

    pub(crate) fn user_ref(name: &str) -> UserRef {
        UserRef {
            id: UserId::from_trusted(format!("usr_{name}")),
            name: name.to_owned(),
        }
    }

    pub(crate) fn keyring() -> Keyring {
        Keyring::from_pepper(&[9u8; 32]).unwrap()
    }

    pub(crate) fn tenant(settings: TenantSettings) -> Tenant {
        Tenant {
            id: TenantId::parse("acme").unwrap(),
            name: DisplayName::parse("Acme").unwrap(),
            settings,
            settings_version: 1,
            created_at: Utc::now(),
        }
    }

    fn enabled() -> TenantSettings {
        TenantSettings {
            api_keys_enabled: true,
            ..TenantSettings::default()
        }
    }

    fn request() -> NewKey {
        NewKey {
            name: KeyName::parse("billing").unwrap(),
            description: Description::empty(),
            scopes: vec![Scope::parse("read").unwrap()],
            owner: user_ref("ana"),
            expires_at: None,
        }
    }

    /// Facts of a creation for ana, a developer of the tenant.
    fn facts(settings: TenantSettings, live: u32) -> CreationFacts {
        facts_for(settings, live, "ana")
    }

    fn facts_for(settings: TenantSettings, live: u32, owner: &str) -> CreationFacts {
        CreationFacts {
            tenant: tenant(settings),
            owner: Some(member(owner, &[crate::domain::Role::Developer], "acme")),
            owner_live_keys: live,
        }
    }

    pub(crate) fn new_key(settings: TenantSettings) -> ApiKey {
        ApiKey::create(
            &facts(settings, 0),
            request(),
            user_ref("ana"),
            &keyring(),
            Utc::now(),
        )
        .unwrap()
        .0
    }

    #[test]
    fn creation_is_refused_while_keys_are_switched_off() {
        let err = ApiKey::create(
            &facts(TenantSettings::default(), 0),
            request(),
            user_ref("ana"),
            &keyring(),
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(err.code, "API_KEYS_DISABLED");
    }

    #[test]
    fn created_key_is_active_and_stores_only_a_digest() {
        let (key, secret) = ApiKey::create(
            &facts(enabled(), 0),
            request(),
            user_ref("ana"),
            &keyring(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(key.status(Utc::now()), KeyStatus::Active);
        assert_eq!(key.secret_digest, keyring().secret_digest(&secret));
        assert!(key.encrypted_secret.is_none());
        assert!(secret.expose().starts_with(&key.start));
        assert!(key.id.as_str().starts_with("key_"));
    }

    #[test]
    fn max_expiry_requires_an_expiry_within_the_limit() {
        let settings = TenantSettings {
            max_expiry_days: Some(30),
            ..enabled()
        };
        let now = Utc::now();
        let err = ApiKey::create(
            &facts(settings.clone(), 0),
            request(),
            user_ref("ana"),
            &keyring(),
            now,
        )
        .unwrap_err();
        assert_eq!(err.code, "EXPIRY_REQUIRED");
        let too_long = NewKey {
            expires_at: Some(now + Duration::days(31)),
            ..request()
        };
        assert_eq!(
            ApiKey::create(
                &facts(settings.clone(), 0),
                too_long,
                user_ref("ana"),
                &keyring(),
                now
            )
            .unwrap_err()
            .code,
            "EXPIRY_TOO_LONG"
        );
        let ok = NewKey {
            expires_at: Some(now + Duration::days(30)),
            ..request()
        };
        assert!(ApiKey::create(&facts(settings, 0), ok, user_ref("ana"), &keyring(), now).is_ok());
    }

    #[test]
    fn absurdly_distant_expiry_is_refused_and_duplicating_cannot_overflow() {
        let now = Utc::now();
        let far = NewKey {
            expires_at: Some(now + Duration::days(365 * 200)),
            ..request()
        };
        assert_eq!(
            ApiKey::create(&facts(enabled(), 0), far, user_ref("ana"), &keyring(), now)
                .unwrap_err()
                .code,
            "EXPIRY_TOO_LONG"
        );
        // A key stored before the ceiling existed, expiring at the end of time.
        let mut key = new_key(enabled());
        key.expires_at = Some(DateTime::<Utc>::MAX_UTC);
        key.created_at = now - Duration::days(1);
        let err = key
            .duplicate(
                KeyCopy::default(),
                &facts(enabled(), 0),
                user_ref("ana"),
                &keyring(),
                now,
            )
            .unwrap_err();
        assert_eq!(err.code, "EXPIRY_TOO_LONG");
    }

    #[test]
    fn past_expiry_is_refused() {
        let now = Utc::now();
        let past = NewKey {
            expires_at: Some(now - Duration::seconds(1)),
            ..request()
        };
        assert!(
            ApiKey::create(&facts(enabled(), 0), past, user_ref("ana"), &keyring(), now).is_err()
        );
    }

    #[test]
    fn max_keys_per_user_counts_live_keys() {
        let settings = TenantSettings {
            max_keys_per_user: Some(2),
            ..enabled()
        };
        assert!(
            ApiKey::create(
                &facts(settings.clone(), 1),
                request(),
                user_ref("ana"),
                &keyring(),
                Utc::now()
            )
            .is_ok()
        );
        let err = ApiKey::create(
            &facts(settings, 2),
            request(),
            user_ref("ana"),
            &keyring(),
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(err.code, "KEY_LIMIT_REACHED");
    }

    #[test]
    fn scopes_must_be_offered_by_the_tenant() {
        let bad = NewKey {
            scopes: vec![Scope::parse("payments:write").unwrap()],
            ..request()
        };
        assert_eq!(
            ApiKey::create(
                &facts(enabled(), 0),
                bad,
                user_ref("ana"),
                &keyring(),
                Utc::now()
            )
            .unwrap_err()
            .code,
            "UNKNOWN_SCOPE"
        );
    }

    #[test]
    fn status_machine_follows_the_spec() {
        let settings = enabled();
        let now = Utc::now();
        let mut key = new_key(settings.clone());
        assert_eq!(
            key.enable(&settings, user_ref("ana"), now)
                .unwrap_err()
                .code,
            "KEY_ALREADY_ACTIVE"
        );
        key.disable(&settings, user_ref("ana"), now).unwrap();
        assert_eq!(key.status(now), KeyStatus::Disabled);
        assert_eq!(
            key.disable(&settings, user_ref("ana"), now)
                .unwrap_err()
                .code,
            "KEY_ALREADY_DISABLED"
        );
        key.enable(&settings, user_ref("ana"), now).unwrap();
        assert_eq!(key.status(now), KeyStatus::Active);
        key.revoke(&settings, user_ref("bo"), now).unwrap();
        assert_eq!(key.status(now), KeyStatus::Revoked);
        assert_eq!(key.revoked_by.as_ref().unwrap().name, "bo");
        for refused in [
            key.clone().enable(&settings, user_ref("ana"), now),
            key.clone().disable(&settings, user_ref("ana"), now),
            key.clone().revoke(&settings, user_ref("ana"), now),
            key.clone()
                .edit(
                    KeyEdit {
                        name: Some(KeyName::parse("x").unwrap()),
                        ..KeyEdit::default()
                    },
                    &settings,
                    user_ref("ana"),
                    now,
                )
                .map(|_| ()),
            key.clone()
                .regenerate(&settings, &keyring(), user_ref("ana"), now)
                .map(|_| ()),
        ] {
            assert_eq!(refused.unwrap_err().code, "KEY_REVOKED");
        }
        assert_eq!(
            key.duplicate(
                KeyCopy::default(),
                &facts(settings, 0),
                user_ref("ana"),
                &keyring(),
                now
            )
            .unwrap_err()
            .code,
            "KEY_REVOKED"
        );
    }

    #[test]
    fn revoke_requires_disabled_when_the_tenant_says_so() {
        let settings = TenantSettings {
            revoke_requires_disabled: true,
            ..enabled()
        };
        let now = Utc::now();
        let mut key = new_key(settings.clone());
        assert_eq!(
            key.revoke(&settings, user_ref("ana"), now)
                .unwrap_err()
                .code,
            "REVOKE_REQUIRES_DISABLED"
        );
        key.disable(&settings, user_ref("ana"), now).unwrap();
        key.revoke(&settings, user_ref("ana"), now).unwrap();
        assert_eq!(key.status(now), KeyStatus::Revoked);
    }

    #[test]
    fn every_change_bumps_the_version() {
        let mut key = new_key(enabled());
        let v = key.version;
        key.disable(&enabled(), user_ref("ana"), Utc::now())
            .unwrap();
        assert_eq!(key.version, v + 1);
        assert_ne!(key.etag(), new_key(enabled()).etag().replace('1', "9"));
    }

    #[test]
    fn expiry_is_derived_and_blocks_enable_and_regenerate() {
        let now = Utc::now();
        let mut key = new_key(enabled());
        key.expires_at = Some(now - Duration::minutes(1));
        assert_eq!(key.status(now), KeyStatus::Expired);
        assert!(!key.is_live(now));
        assert_eq!(
            key.clone()
                .disable(&enabled(), user_ref("ana"), now)
                .unwrap_err()
                .code,
            "KEY_EXPIRED"
        );
        assert_eq!(
            key.clone()
                .regenerate(&enabled(), &keyring(), user_ref("ana"), now)
                .unwrap_err()
                .code,
            "KEY_EXPIRED"
        );
        key.lifecycle = Lifecycle::Revoked;
        assert_eq!(
            key.status(now),
            KeyStatus::Revoked,
            "revoked wins over expired"
        );
    }

    #[test]
    fn scopes_fixed_at_creation_when_not_editable() {
        let settings = TenantSettings {
            scopes_editable: false,
            ..enabled()
        };
        let mut key = new_key(settings.clone());
        let edit = KeyEdit {
            scopes: Some(vec![Scope::parse("write").unwrap()]),
            ..KeyEdit::default()
        };
        assert_eq!(
            key.edit(edit, &settings, user_ref("ana"), Utc::now())
                .unwrap_err()
                .code,
            "SCOPES_FIXED"
        );
        let rename = KeyEdit {
            name: Some(KeyName::parse("renamed").unwrap()),
            scopes: Some(key.scopes.clone()),
            ..KeyEdit::default()
        };
        assert_eq!(
            key.edit(rename, &settings, user_ref("ana"), Utc::now())
                .unwrap(),
            vec!["name"]
        );
    }

    #[test]
    fn regenerate_replaces_the_digest_and_keeps_identity() {
        let settings = enabled();
        let mut key = new_key(settings.clone());
        let before = key.clone();
        let secret = key
            .regenerate(&settings, &keyring(), user_ref("ana"), Utc::now())
            .unwrap();
        assert_eq!(key.id, before.id);
        assert_eq!(key.name, before.name);
        assert_ne!(key.secret_digest, before.secret_digest);
        assert_eq!(key.secret_digest, keyring().secret_digest(&secret));
    }

    #[test]
    fn a_rotation_keeps_the_replaced_secret_until_its_grace_ends() {
        let settings = enabled();
        let now = Utc::now();
        let mut key = new_key(settings.clone());
        let old = key.secret_digest.clone();
        let grace = grace_period(60).unwrap();
        let secret = key
            .rotate(&settings, &keyring(), user_ref("ana"), now, grace)
            .unwrap();
        let new = keyring().secret_digest(&secret);
        let until = now + Duration::seconds(60);
        assert_eq!(key.rotating_until(now), Some(until));
        assert_eq!(key.which_secret(&new, now), Some(WhichSecret::Current));
        assert_eq!(key.which_secret(&old, now), Some(WhichSecret::Previous));
        let last = until - Duration::milliseconds(1);
        assert_eq!(key.which_secret(&old, last), Some(WhichSecret::Previous));
        assert_eq!(key.which_secret(&old, until), None, "the grace is over");
        assert_eq!(key.rotating_until(until), None);
        assert_eq!(key.which_secret(&new, until), Some(WhichSecret::Current));
        assert_eq!(key.which_secret("unknown", now), None);

        // Ending it early: the old secret is unknown at once, and only once.
        let mut ended = key.clone();
        assert_eq!(
            ended.end_rotation(&settings, user_ref("bo"), now).unwrap(),
            until
        );
        assert_eq!(ended.which_secret(&old, now), None);
        assert_eq!(ended.version, key.version + 1);
        assert_eq!(
            ended
                .end_rotation(&settings, user_ref("bo"), now)
                .unwrap_err()
                .code,
            "KEY_NOT_ROTATING"
        );
        // A grace that ran out cannot be ended either.
        assert_eq!(
            key.clone()
                .end_rotation(&settings, user_ref("bo"), until)
                .unwrap_err()
                .code,
            "KEY_NOT_ROTATING"
        );

        // Rotating again: only the secret just replaced gets a grace.
        let mut again = key.clone();
        again
            .rotate(&settings, &keyring(), user_ref("ana"), now, grace)
            .unwrap();
        assert_eq!(again.which_secret(&old, now), None);
        assert_eq!(again.which_secret(&new, now), Some(WhichSecret::Previous));
        // And regenerating without a grace ends the rotation.
        again
            .regenerate(&settings, &keyring(), user_ref("ana"), now)
            .unwrap();
        assert_eq!(again.which_secret(&new, now), None);
        assert_eq!(again.rotating_until(now), None);
    }

    #[test]
    fn revoke_and_disable_act_on_both_secrets_of_a_rotating_key() {
        let settings = enabled();
        let now = Utc::now();
        let mut key = new_key(settings.clone());
        let old = key.secret_digest.clone();
        key.rotate(
            &settings,
            &keyring(),
            user_ref("ana"),
            now,
            Duration::minutes(5),
        )
        .unwrap();
        let mut disabled = key.clone();
        disabled.disable(&settings, user_ref("bo"), now).unwrap();
        // Still the key's secret, so it verifies with the key's status.
        assert_eq!(
            disabled.which_secret(&old, now),
            Some(WhichSecret::Previous)
        );
        assert_eq!(disabled.status(now), KeyStatus::Disabled);
        assert!(disabled.rotating_until(now).is_some());
        key.revoke(&settings, user_ref("bo"), now).unwrap();
        assert_eq!(key.which_secret(&old, now), Some(WhichSecret::Previous));
        assert_eq!(key.status(now), KeyStatus::Revoked);
        assert_eq!(
            key.rotating_until(now),
            None,
            "a revoked key is not rotating"
        );
        assert_eq!(
            key.end_rotation(&settings, user_ref("bo"), now)
                .unwrap_err()
                .code,
            "KEY_REVOKED"
        );
    }

    #[test]
    fn a_grace_is_at_most_seven_days_and_an_ended_one_is_tidied_away() {
        assert_eq!(grace_period(0).unwrap(), Duration::zero());
        assert_eq!(grace_period(604_800).unwrap(), Duration::days(7));
    }

    #[test]
    fn a_grace_is_read_as_people_write_it() {
        assert_eq!(parse_grace("90m"), Ok(5400));
        assert_eq!(parse_grace(" 1h30m "), Ok(5400));
        assert_eq!(parse_grace("3D"), Ok(259_200));
        assert_eq!(parse_grace("7d"), Ok(MAX_GRACE_SECONDS));
        assert_eq!(parse_grace("0"), Ok(0));
        assert!(parse_grace("7d1s").unwrap_err().contains("7 days"));
        assert!(parse_grace("90").unwrap_err().contains("unit"));
        assert!(parse_grace("abc").unwrap_err().contains("unit"));
        assert!(parse_grace("h").unwrap_err().contains("number"));
        assert!(parse_grace("").is_err());
        assert!(parse_grace("99999999999999999999d").is_err());
        assert_eq!(grace_period(604_801).unwrap_err().code, "VALIDATION_FAILED");
        let settings = enabled();
        let now = Utc::now();
        let mut key = new_key(settings.clone());
        key.rotate(
            &settings,
            &keyring(),
            user_ref("ana"),
            now,
            Duration::seconds(1),
        )
        .unwrap();
        key.disable(&settings, user_ref("ana"), now + Duration::seconds(2))
            .unwrap();
        assert_eq!(key.previous_secret_digest, None);
        assert_eq!(key.previous_secret_valid_until, None);
    }

    #[test]
    fn a_key_is_created_only_for_a_developer_of_its_tenant() {
        use crate::domain::Role;
        let create = |owner: Option<User>| {
            let facts = CreationFacts {
                owner,
                ..facts(enabled(), 0)
            };
            ApiKey::create(&facts, request(), user_ref("adm"), &keyring(), Utc::now())
                .map(|_| ())
                .map_err(|refusal| refusal.code)
        };
        assert_eq!(
            create(Some(member("ana", &[Role::Developer], "acme"))),
            Ok(())
        );
        assert_eq!(
            create(Some(member("ana", &[Role::Viewer], "acme"))),
            Err("OWNER_NOT_DEVELOPER")
        );
        assert_eq!(
            create(Some(member("ana", &[Role::Developer], "other"))),
            Err("VALIDATION_FAILED")
        );
        // No such user (or a deleted one), or facts about someone else.
        assert_eq!(create(None), Err("VALIDATION_FAILED"));
        assert_eq!(
            create(Some(member("bo", &[Role::Developer], "acme"))),
            Err("VALIDATION_FAILED")
        );
    }

    #[test]
    fn duplicate_copies_presets_with_a_new_secret_and_same_expiry_length() {
        let settings = enabled();
        let now = Utc::now();
        let mut source = new_key(settings.clone());
        source.expires_at = Some(source.created_at + Duration::days(10));
        source.rate_limit = Some(RateLimit {
            requests: 10,
            window_seconds: 60,
        });
        let later = now + Duration::days(1);
        let (copy, _) = source
            .duplicate(
                KeyCopy::default(),
                &facts_for(settings, 0, "bo"),
                user_ref("bo"),
                &keyring(),
                later,
            )
            .unwrap();
        assert_ne!(copy.id, source.id);
        assert_ne!(copy.secret_digest, source.secret_digest);
        assert_eq!(copy.name.as_str(), "billing (copy)");
        assert_eq!(copy.scopes, source.scopes);
        assert_eq!(copy.owner.name, "bo");
        assert_eq!(copy.expires_at.unwrap() - later, Duration::days(10));
        assert_eq!(copy.rate_limit, source.rate_limit);
    }

    #[test]
    fn a_keys_own_rate_limit_is_set_validated_and_lifted_by_an_edit() {
        let settings = enabled();
        let mut key = new_key(settings.clone());
        let limit = |requests| KeyEdit {
            rate_limit: Some(Some(RateLimit {
                requests,
                window_seconds: 60,
            })),
            ..KeyEdit::default()
        };
        let refused = key
            .edit(limit(0), &settings, user_ref("adm"), Utc::now())
            .unwrap_err();
        assert_eq!(refused.code, "VALIDATION_FAILED");
        assert_eq!(key.rate_limit, None, "a refused edit changes nothing");
        let changed = key
            .edit(limit(5), &settings, user_ref("adm"), Utc::now())
            .unwrap();
        assert_eq!(changed, ["rate_limit"]);
        assert_eq!(key.rate_limit.map(|l| l.requests), Some(5));
        let same = key.edit(limit(5), &settings, user_ref("adm"), Utc::now());
        assert_eq!(same.unwrap(), Vec::<&str>::new());
        let lift = KeyEdit {
            rate_limit: Some(None),
            ..KeyEdit::default()
        };
        let changed = key.edit(lift, &settings, user_ref("adm"), Utc::now());
        assert_eq!(changed.unwrap(), ["rate_limit"]);
        assert_eq!(key.rate_limit, None);
    }

    #[test]
    fn a_duplicate_may_take_its_own_name_and_description() {
        let settings = enabled();
        let source = new_key(settings.clone());
        let copy = KeyCopy {
            name: Some(KeyName::parse("billing v2").unwrap()),
            description: Some(Description::parse("for the new region").unwrap()),
        };
        let (key, _) = source
            .duplicate(
                copy,
                &facts_for(settings, 0, "bo"),
                user_ref("bo"),
                &keyring(),
                Utc::now(),
            )
            .unwrap();
        assert_eq!(key.name.as_str(), "billing v2");
        assert_eq!(key.description.as_str(), "for the new region");
        assert_eq!(key.scopes, source.scopes);
    }

    fn member(name: &str, roles: &[crate::domain::Role], tenant: &str) -> User {
        User {
            id: UserId::from_trusted(format!("usr_{name}")),
            name: crate::domain::PersonName::parse(name).unwrap(),
            email: crate::domain::Email::parse(&format!("{name}@example.com")).unwrap(),
            tenant_id: Some(TenantId::parse(tenant).unwrap()),
            roles: crate::domain::Roles::new(roles.iter().copied()),
            licensed: true,
            created_at: Utc::now(),
            disabled: false,
            has_token: true,
        }
    }

    fn give_to(user: User, live_keys: u32) -> KeyEdit {
        KeyEdit {
            owner: Some(OwnerFacts { user, live_keys }),
            ..KeyEdit::default()
        }
    }

    fn expire_at(at: Option<DateTime<Utc>>) -> KeyEdit {
        KeyEdit {
            expires_at: Some(at),
            ..KeyEdit::default()
        }
    }

    #[test]
    fn a_key_is_given_only_to_a_developer_of_its_tenant_or_a_system_admin_taking_it() {
        use crate::domain::Role;
        let settings = enabled();
        let now = Utc::now();
        let key = new_key(settings.clone());
        let edit = |user: User| {
            let mut key = key.clone();
            let result = key.edit(give_to(user, 0), &settings, user_ref("adm"), now);
            (key, result)
        };
        let (given, changed) = edit(member("bo", &[Role::Developer], "acme"));
        assert_eq!(changed.unwrap(), vec!["owner"]);
        assert_eq!(given.owner.id.as_str(), "usr_bo");
        assert_eq!(given.owner.name, "bo");
        assert_eq!(given.version, key.version + 1);

        for (user, code) in [
            (member("vi", &[Role::Viewer], "acme"), "OWNER_NOT_DEVELOPER"),
            (
                member("ad", &[Role::TenantAdmin], "acme"),
                "OWNER_NOT_DEVELOPER",
            ),
            (
                member("ot", &[Role::Developer], "other"),
                "VALIDATION_FAILED",
            ),
        ] {
            let (after, result) = edit(user);
            assert_eq!(result.unwrap_err().code, code);
            assert_eq!(after, key, "a refused edit changes nothing");
        }
        // A system administrator takes a key for themself; nobody hands them one.
        let mut root = member("root", &[Role::SystemAdmin], "acme");
        root.tenant_id = None;
        assert_eq!(edit(root.clone()).1.unwrap_err().code, "VALIDATION_FAILED");
        let mut taken = key.clone();
        let result = taken.edit(give_to(root, 0), &settings, user_ref("root"), now);
        assert_eq!(result.unwrap(), vec!["owner"]);
        // Naming the current owner is no change, and asks nothing.
        let mut same = member("ana", &[Role::Viewer], "acme");
        same.id = key.owner.id.clone();
        assert_eq!(edit(same).1.unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn a_new_owner_at_the_key_limit_is_refused_unless_the_key_is_not_live() {
        use crate::domain::Role;
        let settings = TenantSettings {
            max_keys_per_user: Some(2),
            ..enabled()
        };
        let now = Utc::now();
        let bo = member("bo", &[Role::Developer], "acme");
        let mut key = new_key(settings.clone());
        assert!(
            key.clone()
                .edit(give_to(bo.clone(), 1), &settings, user_ref("adm"), now)
                .is_ok()
        );
        let refusal = key
            .clone()
            .edit(give_to(bo.clone(), 2), &settings, user_ref("adm"), now)
            .unwrap_err();
        assert_eq!(refusal.code, "KEY_LIMIT_REACHED");
        assert_eq!(refusal.kind, crate::domain::RefusalKind::Conflict);
        // An expired key does not count against its owner.
        key.expires_at = Some(now - Duration::minutes(1));
        assert!(
            key.clone()
                .edit(give_to(bo.clone(), 2), &settings, user_ref("adm"), now)
                .is_ok()
        );
        // Unless the same edit makes it live again.
        let revive = KeyEdit {
            expires_at: Some(Some(now + Duration::days(1))),
            ..give_to(bo, 2)
        };
        assert_eq!(
            key.edit(revive, &settings, user_ref("adm"), now)
                .unwrap_err()
                .code,
            "KEY_LIMIT_REACHED"
        );
    }

    #[test]
    fn an_edited_expiry_obeys_the_creation_rules() {
        let now = Utc::now();
        let limited = TenantSettings {
            max_expiry_days: Some(30),
            ..enabled()
        };
        let mut key = new_key(enabled());
        key.expires_at = Some(now + Duration::days(10));
        let code = |settings: &TenantSettings, at| {
            key.clone()
                .edit(expire_at(at), settings, user_ref("adm"), now)
                .err()
                .map(|refusal| refusal.code)
        };
        assert_eq!(code(&limited, Some(now + Duration::days(30))), None);
        assert_eq!(
            code(&limited, Some(now + Duration::days(31))),
            Some("EXPIRY_TOO_LONG")
        );
        assert_eq!(code(&limited, None), Some("EXPIRY_REQUIRED"));
        assert_eq!(
            code(&limited, Some(now - Duration::seconds(1))),
            Some("VALIDATION_FAILED")
        );
        assert_eq!(
            code(&enabled(), None),
            None,
            "never expires, without a maximum"
        );
        assert_eq!(
            code(&enabled(), Some(now - Duration::seconds(1))),
            Some("VALIDATION_FAILED")
        );

        let mut shortened = key.clone();
        let soon = now + Duration::seconds(5);
        let changed = shortened
            .edit(expire_at(Some(soon)), &limited, user_ref("adm"), now)
            .unwrap();
        assert_eq!(changed, vec!["expires_at"]);
        assert_eq!(shortened.expires_at, Some(soon));
        assert_eq!(shortened.status(soon), KeyStatus::Expired);
    }

    #[test]
    fn a_key_that_never_expires_keeps_it_under_a_later_maximum_unless_its_expiry_is_edited() {
        // max_expiry_days applies to new keys: a key from before it, resent
        // with its own (absent) expiry, is not refused.
        let now = Utc::now();
        let limited = TenantSettings {
            max_expiry_days: Some(30),
            ..enabled()
        };
        let key = new_key(enabled());
        assert_eq!(key.expires_at, None);
        let rename = KeyEdit {
            name: Some(KeyName::parse("renamed").unwrap()),
            expires_at: Some(None),
            ..KeyEdit::default()
        };
        assert_eq!(
            key.clone()
                .edit(rename, &limited, user_ref("adm"), now)
                .unwrap(),
            vec!["name"]
        );
        let soon = now + Duration::days(7);
        assert_eq!(
            key.clone()
                .edit(expire_at(Some(soon)), &limited, user_ref("adm"), now)
                .unwrap(),
            vec!["expires_at"]
        );
    }

    #[test]
    fn retrieval_encrypts_and_reveal_decrypts_only_when_allowed() {
        let settings = TenantSettings {
            secret_retrieval: SecretRetrieval::Admins,
            ..enabled()
        };
        let (key, secret) = ApiKey::create(
            &facts(settings.clone(), 0),
            request(),
            user_ref("ana"),
            &keyring(),
            Utc::now(),
        )
        .unwrap();
        assert!(key.encrypted_secret.is_some());
        assert_eq!(
            key.reveal(&settings, &keyring(), Utc::now())
                .unwrap()
                .expose(),
            secret.expose()
        );
        assert_eq!(
            key.reveal(&enabled(), &keyring(), Utc::now())
                .unwrap_err()
                .code,
            "SECRET_NOT_RETRIEVABLE"
        );
        let never = new_key(enabled());
        assert_eq!(
            never
                .reveal(&settings, &keyring(), Utc::now())
                .unwrap_err()
                .code,
            "SECRET_NOT_STORED"
        );
    }

    /// Each action with the refusal code expected for it (`None`: allowed).
    type Row = [(KeyAction, Option<&'static str>); 8];

    /// Expected refusal codes of every action on a key in each status, with
    /// the secret stored and retrievable and no `revoke_requires_disabled`.
    const STATUS_MACHINE: [(KeyStatus, Row); 4] = [
        (
            KeyStatus::Active,
            [
                (KeyAction::Edit, None),
                (KeyAction::Duplicate, None),
                (KeyAction::Regenerate, None),
                (KeyAction::Disable, None),
                (KeyAction::Enable, Some("KEY_ALREADY_ACTIVE")),
                (KeyAction::Revoke, None),
                (KeyAction::Delete, None),
                (KeyAction::Reveal, None),
            ],
        ),
        (
            KeyStatus::Disabled,
            [
                (KeyAction::Edit, None),
                (KeyAction::Duplicate, None),
                (KeyAction::Regenerate, None),
                (KeyAction::Disable, Some("KEY_ALREADY_DISABLED")),
                (KeyAction::Enable, None),
                (KeyAction::Revoke, None),
                (KeyAction::Delete, None),
                (KeyAction::Reveal, None),
            ],
        ),
        (
            KeyStatus::Expired,
            [
                (KeyAction::Edit, None),
                (KeyAction::Duplicate, None),
                (KeyAction::Regenerate, Some("KEY_EXPIRED")),
                (KeyAction::Disable, Some("KEY_EXPIRED")),
                (KeyAction::Enable, Some("KEY_EXPIRED")),
                (KeyAction::Revoke, None),
                (KeyAction::Delete, None),
                (KeyAction::Reveal, None),
            ],
        ),
        (
            KeyStatus::Revoked,
            [
                (KeyAction::Edit, Some("KEY_REVOKED")),
                (KeyAction::Duplicate, Some("KEY_REVOKED")),
                (KeyAction::Regenerate, Some("KEY_REVOKED")),
                (KeyAction::Disable, Some("KEY_REVOKED")),
                (KeyAction::Enable, Some("KEY_REVOKED")),
                (KeyAction::Revoke, Some("KEY_REVOKED")),
                (KeyAction::Delete, None),
                (KeyAction::Reveal, Some("KEY_REVOKED")),
            ],
        ),
    ];

    fn retrievable() -> TenantSettings {
        TenantSettings {
            secret_retrieval: SecretRetrieval::Admins,
            ..enabled()
        }
    }

    fn code_of(result: Result<(), Refusal>) -> Option<&'static str> {
        result.err().map(|refusal| refusal.code)
    }

    #[test]
    fn the_status_machine_allows_and_refuses_as_the_spec_table_says() {
        for (status, row) in STATUS_MACHINE {
            for (action, expected) in row {
                assert_eq!(
                    code_of(check_key_action(action, status, &retrievable(), true)),
                    expected,
                    "{action:?} on a {status:?} key"
                );
            }
        }
    }

    #[test]
    fn settings_and_a_missing_secret_add_their_refusals() {
        let strict = TenantSettings {
            revoke_requires_disabled: true,
            ..retrievable()
        };
        let revoke = |status| code_of(check_key_action(KeyAction::Revoke, status, &strict, true));
        assert_eq!(revoke(KeyStatus::Active), Some("REVOKE_REQUIRES_DISABLED"));
        assert_eq!(revoke(KeyStatus::Disabled), None);
        assert_eq!(revoke(KeyStatus::Revoked), Some("KEY_REVOKED"));
        let refusal =
            check_key_action(KeyAction::Revoke, KeyStatus::Active, &strict, true).unwrap_err();
        assert_eq!(
            refusal.message,
            "this tenant revokes only disabled keys; disable the key first"
        );

        let reveal = |status, settings: &TenantSettings, stored| {
            code_of(check_key_action(
                KeyAction::Reveal,
                status,
                settings,
                stored,
            ))
        };
        assert_eq!(
            reveal(KeyStatus::Active, &enabled(), true),
            Some("SECRET_NOT_RETRIEVABLE")
        );
        assert_eq!(
            reveal(KeyStatus::Active, &retrievable(), false),
            Some("SECRET_NOT_STORED")
        );
        assert_eq!(
            reveal(KeyStatus::Revoked, &enabled(), false),
            Some("KEY_REVOKED"),
            "revoked is said first: it is why nothing else can help"
        );
        // Only Reveal asks whether the secret was stored.
        for action in KeyAction::ALL {
            if action != KeyAction::Reveal {
                assert_eq!(
                    check_key_action(action, KeyStatus::Disabled, &enabled(), false),
                    check_key_action(action, KeyStatus::Disabled, &enabled(), true),
                    "{action:?}"
                );
            }
        }
    }

    #[test]
    fn an_expired_key_can_be_revoked_even_where_only_disabled_keys_are() {
        // Disabling an expired key is refused, so requiring it first would
        // leave an expired key that can never be revoked.
        let settings = TenantSettings {
            revoke_requires_disabled: true,
            ..enabled()
        };
        let now = Utc::now();
        let mut key = new_key(settings.clone());
        key.expires_at = Some(now - Duration::minutes(1));
        assert_eq!(
            code_of(key.clone().disable(&settings, user_ref("ana"), now)),
            Some("KEY_EXPIRED")
        );
        key.revoke(&settings, user_ref("ana"), now).unwrap();
        assert_eq!(key.status(now), KeyStatus::Revoked);
    }

    /// Runs `action` through the `ApiKey` method that takes it (Delete has
    /// none: deleting is the store's), keeping only the verdict.
    fn take(
        key: &ApiKey,
        action: KeyAction,
        settings: &TenantSettings,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let mut key = key.clone();
        let who = user_ref("ana");
        match action {
            KeyAction::Edit => {
                let rename = KeyEdit {
                    name: Some(KeyName::parse("renamed").unwrap()),
                    ..KeyEdit::default()
                };
                key.edit(rename, settings, who, now).map(|_| ())
            }
            KeyAction::Duplicate => key
                .duplicate(
                    KeyCopy::default(),
                    &facts(settings.clone(), 0),
                    who,
                    &keyring(),
                    now,
                )
                .map(|_| ()),
            KeyAction::Regenerate => key.regenerate(settings, &keyring(), who, now).map(|_| ()),
            KeyAction::Disable => key.disable(settings, who, now),
            KeyAction::Enable => key.enable(settings, who, now),
            KeyAction::Revoke => key.revoke(settings, who, now),
            KeyAction::Reveal => key.reveal(settings, &keyring(), now).map(|_| ()),
            KeyAction::Delete => Ok(()),
            KeyAction::EndRotation => {
                // The status machine's verdict, on a key that is rotating.
                key.previous_secret_digest = Some("previous".to_owned());
                key.previous_secret_valid_until = Some(now + Duration::hours(1));
                key.end_rotation(settings, who, now).map(|_| ())
            }
        }
    }

    #[test]
    fn every_transition_refuses_exactly_as_check_key_action_says() {
        // What the console shows as a disabled action's reason is what the
        // server answers: same code, same message, for every key and setting.
        let now = Utc::now();
        let variants = [
            retrievable(),
            enabled(),
            TenantSettings {
                revoke_requires_disabled: true,
                ..retrievable()
            },
        ];
        for settings in &variants {
            let mut active = new_key(retrievable());
            active.created_at = now - Duration::days(10);
            let mut disabled = active.clone();
            disabled.lifecycle = Lifecycle::Disabled;
            let mut expired = active.clone();
            expired.expires_at = Some(now - Duration::minutes(1));
            let mut expired_disabled = disabled.clone();
            expired_disabled.expires_at = expired.expires_at;
            let mut revoked = active.clone();
            revoked.revoke(&enabled(), user_ref("bo"), now).unwrap();
            let mut not_stored = active.clone();
            not_stored.encrypted_secret = None;
            for key in [
                &active,
                &disabled,
                &expired,
                &expired_disabled,
                &revoked,
                &not_stored,
            ] {
                for action in KeyAction::ALL {
                    let said = check_key_action(
                        action,
                        key.status(now),
                        settings,
                        key.encrypted_secret.is_some(),
                    );
                    assert_eq!(
                        take(key, action, settings, now),
                        said,
                        "{action:?} on a {:?} key ({:?})",
                        key.status(now),
                        settings
                    );
                }
            }
        }
    }

    #[test]
    fn a_sort_reads_and_writes_its_query_string_form() {
        for field in SortField::ALL {
            for reversed in [false, true] {
                let sort = KeySort { field, reversed };
                let wire = sort.to_param();
                assert_eq!(wire.starts_with('-'), reversed);
                assert_eq!(KeySort::parse(&wire), Some(sort));
                let json = serde_json::to_string(&sort).unwrap();
                assert_eq!(json, format!("{wire:?}"));
                assert_eq!(serde_json::from_str::<KeySort>(&json).unwrap(), sort);
            }
        }
        assert_eq!(KeySort::default().to_param(), "status");
        assert_eq!(
            KeySort::parse("-last_used"),
            Some(KeySort {
                field: SortField::LastUsed,
                reversed: true
            })
        );
        for bad in ["colour", "--name", "Name", ""] {
            assert_eq!(KeySort::parse(bad), None, "{bad}");
        }
        let err = serde_json::from_str::<KeySort>("\"colour\"").unwrap_err();
        assert!(err.to_string().contains("last_used"), "{err}");
    }
}
