//! API keys and their status machine (SPEC §2). Each transition is a method
//! that either changes the key or says, with a stable code, why it may not.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::Refusal;
use super::secret::{Keyring, Secret};
use super::tenant::{Scope, Tenant, TenantId, TenantSettings};
use super::text::{Description, KeyName};
use super::user::UserId;

/// A key's id: `key_` + ULID, so ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    #[must_use]
    pub fn generate() -> Self {
        Self(format!("key_{}", ulid::Ulid::new()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

/// A partial edit of a key (seed 000: label and scope; 001: rename; 002: name and description).
#[derive(Debug, Clone, Default)]
pub struct KeyEdit {
    pub name: Option<KeyName>,
    pub description: Option<Description>,
    pub scopes: Option<Vec<Scope>>,
}

/// Facts the store gathers inside the creating transaction, so limits are
/// checked against the data the insert will land on.
#[derive(Debug, Clone)]
pub struct CreationFacts {
    pub tenant: Tenant,
    /// Keys of the intended owner that are neither revoked nor expired.
    pub owner_live_keys: u32,
}

fn refuse_if_revoked(key: &ApiKey) -> Result<(), Refusal> {
    if key.lifecycle == Lifecycle::Revoked {
        return Err(Refusal::conflict(
            "KEY_REVOKED",
            "the key is revoked; a revoked key can never be changed or used again, only deleted",
        ));
    }
    Ok(())
}

fn refuse_if_expired(key: &ApiKey, now: DateTime<Utc>, doing: &str) -> Result<(), Refusal> {
    if key.status(now) == KeyStatus::Expired {
        return Err(Refusal::conflict(
            "KEY_EXPIRED",
            format!("the key has expired; {doing} it would have no effect"),
        ));
    }
    Ok(())
}

/// The furthest expiry any key may have (100 years): beyond it, dates stop
/// meaning anything and arithmetic on them can overflow.
const FURTHEST_EXPIRY_DAYS: i64 = 36_525;

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
    /// depends on the tenant: enabled, expiry limit, scopes offered, per-user limit.
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
        check_expiry(settings, request.expires_at, now)?;
        check_scopes_offered(settings, &request.scopes)?;
        if let Some(max) = settings.max_keys_per_user {
            if facts.owner_live_keys >= max {
                return Err(Refusal::conflict(
                    "KEY_LIMIT_REACHED",
                    format!(
                        "{} already has {} live keys; this tenant allows at most {max} per user",
                        request.owner.name, facts.owner_live_keys
                    ),
                ));
            }
        }
        let id = KeyId::generate();
        let secret = Secret::generate(&settings.key_prefix);
        let encrypted_secret = match settings.secret_retrieval {
            super::tenant::SecretRetrieval::Never => None,
            super::tenant::SecretRetrieval::Admins => {
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
            version: 1,
        };
        Ok((key, secret))
    }

    /// Seed 002's Duplicate: same name (suffixed), description, scopes and
    /// expiry length; a new id and secret; owned by whoever duplicates it.
    pub fn duplicate(
        &self,
        facts: &CreationFacts,
        actor: UserRef,
        keyring: &Keyring,
        now: DateTime<Utc>,
    ) -> Result<(ApiKey, Secret), Refusal> {
        refuse_if_revoked(self)?;
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
            name: self.name.duplicate_name(),
            description: self.description.clone(),
            scopes: self.scopes.clone(),
            owner: actor.clone(),
            expires_at,
        };
        Self::create(facts, request, actor, keyring, now)
    }

    fn touch(&mut self, actor: UserRef, now: DateTime<Utc>) {
        self.updated_at = now;
        self.updated_by = actor;
        self.version += 1;
    }

    /// Applies an edit; returns the names of the fields that changed.
    pub fn edit(
        &mut self,
        edit: KeyEdit,
        settings: &TenantSettings,
        actor: UserRef,
        now: DateTime<Utc>,
    ) -> Result<Vec<&'static str>, Refusal> {
        refuse_if_revoked(self)?;
        let mut changed = Vec::new();
        if let Some(scopes) = edit.scopes {
            if scopes != self.scopes {
                if !settings.scopes_editable {
                    return Err(Refusal::conflict(
                        "SCOPES_FIXED",
                        "this tenant fixes a key's scopes when it is created; duplicate the key to get other scopes",
                    ));
                }
                check_scopes_offered(settings, &scopes)?;
                self.scopes = scopes;
                changed.push("scopes");
            }
        }
        if let Some(name) = edit.name {
            if name != self.name {
                self.name = name;
                changed.push("name");
            }
        }
        if let Some(description) = edit.description {
            if description != self.description {
                self.description = description;
                changed.push("description");
            }
        }
        if !changed.is_empty() {
            self.touch(actor, now);
        }
        Ok(changed)
    }

    /// active → disabled (seed 000 "deaktivieren", seed 002 Disable).
    pub fn disable(&mut self, actor: UserRef, now: DateTime<Utc>) -> Result<(), Refusal> {
        refuse_if_revoked(self)?;
        refuse_if_expired(self, now, "disabling")?;
        if self.lifecycle == Lifecycle::Disabled {
            return Err(Refusal::conflict(
                "KEY_ALREADY_DISABLED",
                "the key is already disabled",
            ));
        }
        self.lifecycle = Lifecycle::Disabled;
        self.touch(actor, now);
        Ok(())
    }

    /// disabled → active.
    pub fn enable(&mut self, actor: UserRef, now: DateTime<Utc>) -> Result<(), Refusal> {
        refuse_if_revoked(self)?;
        refuse_if_expired(self, now, "enabling")?;
        if self.lifecycle == Lifecycle::Active {
            return Err(Refusal::conflict(
                "KEY_ALREADY_ACTIVE",
                "the key is already active",
            ));
        }
        self.lifecycle = Lifecycle::Active;
        self.touch(actor, now);
        Ok(())
    }

    /// active|disabled → revoked, for good. With `revoke_requires_disabled`
    /// (seed 002) only a disabled key may be revoked.
    pub fn revoke(
        &mut self,
        settings: &TenantSettings,
        actor: UserRef,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        refuse_if_revoked(self)?;
        if settings.revoke_requires_disabled && self.lifecycle != Lifecycle::Disabled {
            return Err(Refusal::conflict(
                "REVOKE_REQUIRES_DISABLED",
                "this tenant revokes only disabled keys; disable the key first",
            ));
        }
        self.lifecycle = Lifecycle::Revoked;
        self.revoked_at = Some(now);
        self.revoked_by = Some(actor.clone());
        self.encrypted_secret = None;
        self.previous_secret_digest = None;
        self.previous_secret_valid_until = None;
        self.touch(actor, now);
        Ok(())
    }

    /// Seed 000: a new secret; the old one stops verifying at once. Keeps id,
    /// name, scopes and history.
    pub fn regenerate(
        &mut self,
        settings: &TenantSettings,
        keyring: &Keyring,
        actor: UserRef,
        now: DateTime<Utc>,
    ) -> Result<Secret, Refusal> {
        refuse_if_revoked(self)?;
        refuse_if_expired(self, now, "regenerating")?;
        let secret = Secret::generate(&settings.key_prefix);
        self.encrypted_secret = match settings.secret_retrieval {
            super::tenant::SecretRetrieval::Never => None,
            super::tenant::SecretRetrieval::Admins => {
                Some(keyring.encrypt(self.id.as_str(), &secret).map_err(|_| {
                    Refusal::conflict("ENCRYPTION_FAILED", "the secret could not be encrypted")
                })?)
            }
        };
        self.secret_digest = keyring.secret_digest(&secret);
        self.start = secret.start();
        self.previous_secret_digest = None;
        self.previous_secret_valid_until = None;
        self.touch(actor, now);
        Ok(secret)
    }

    /// Seed 000's "copy from the list": decrypts the stored secret where the
    /// tenant allows retrieval. The caller records the audit event.
    pub fn reveal(&self, settings: &TenantSettings, keyring: &Keyring) -> Result<Secret, Refusal> {
        refuse_if_revoked(self)?;
        if settings.secret_retrieval != super::tenant::SecretRetrieval::Admins {
            return Err(Refusal::conflict(
                "SECRET_NOT_RETRIEVABLE",
                "this tenant shows a secret only once, when it is created; regenerate the key for a new one",
            ));
        }
        let Some(sealed) = &self.encrypted_secret else {
            return Err(Refusal::conflict(
                "SECRET_NOT_STORED",
                "this key's secret was not stored for retrieval (it predates the setting); regenerate it",
            ));
        };
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

    fn facts(settings: TenantSettings, live: u32) -> CreationFacts {
        CreationFacts {
            tenant: tenant(settings),
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
            .duplicate(&facts(enabled(), 0), user_ref("ana"), &keyring(), now)
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
            key.enable(user_ref("ana"), now).unwrap_err().code,
            "KEY_ALREADY_ACTIVE"
        );
        key.disable(user_ref("ana"), now).unwrap();
        assert_eq!(key.status(now), KeyStatus::Disabled);
        assert_eq!(
            key.disable(user_ref("ana"), now).unwrap_err().code,
            "KEY_ALREADY_DISABLED"
        );
        key.enable(user_ref("ana"), now).unwrap();
        assert_eq!(key.status(now), KeyStatus::Active);
        key.revoke(&settings, user_ref("bo"), now).unwrap();
        assert_eq!(key.status(now), KeyStatus::Revoked);
        assert_eq!(key.revoked_by.as_ref().unwrap().name, "bo");
        for refused in [
            key.clone().enable(user_ref("ana"), now),
            key.clone().disable(user_ref("ana"), now),
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
            key.duplicate(&facts(settings, 0), user_ref("ana"), &keyring(), now)
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
        key.disable(user_ref("ana"), now).unwrap();
        key.revoke(&settings, user_ref("ana"), now).unwrap();
        assert_eq!(key.status(now), KeyStatus::Revoked);
    }

    #[test]
    fn every_change_bumps_the_version() {
        let mut key = new_key(enabled());
        let v = key.version;
        key.disable(user_ref("ana"), Utc::now()).unwrap();
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
            key.clone().disable(user_ref("ana"), now).unwrap_err().code,
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
    fn duplicate_copies_presets_with_a_new_secret_and_same_expiry_length() {
        let settings = enabled();
        let now = Utc::now();
        let mut source = new_key(settings.clone());
        source.expires_at = Some(source.created_at + Duration::days(10));
        let later = now + Duration::days(1);
        let (copy, _) = source
            .duplicate(&facts(settings, 0), user_ref("bo"), &keyring(), later)
            .unwrap();
        assert_ne!(copy.id, source.id);
        assert_ne!(copy.secret_digest, source.secret_digest);
        assert_eq!(copy.name.as_str(), "billing (copy)");
        assert_eq!(copy.scopes, source.scopes);
        assert_eq!(copy.owner.name, "bo");
        assert_eq!(copy.expires_at.unwrap() - later, Duration::days(10));
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
            key.reveal(&settings, &keyring()).unwrap().expose(),
            secret.expose()
        );
        assert_eq!(
            key.reveal(&enabled(), &keyring()).unwrap_err().code,
            "SECRET_NOT_RETRIEVABLE"
        );
        let never = new_key(enabled());
        assert_eq!(
            never.reveal(&settings, &keyring()).unwrap_err().code,
            "SECRET_NOT_STORED"
        );
    }
}
