//! Tenants and their settings: where the four source products disagree, the
//! rule became a setting here (SPEC §2), with the defaults listed there.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rate_limit::RateLimit;
use super::text::{DisplayName, InvalidText};

/// A tenant's slug, e.g. `acme-payments`: 2–63 of `a-z 0-9 -`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        let ok = (2..=63).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && !raw.ends_with('-')
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidText::new(
                "id",
                "must be 2-63 characters of a-z, 0-9 and '-', starting with a letter",
            ))
        }
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

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The readable prefix of secrets: 1–16 of `a-z 0-9`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        let ok = (1..=16).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidText::new(
                "key_prefix",
                "must be 1-16 characters of a-z and 0-9, starting with a letter",
            ))
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a prefix read back from the store or a server, which only ever
    /// hold parsed values.
    #[must_use]
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    pub(crate) fn management_token() -> Self {
        Self("kdm".to_owned())
    }

    pub(crate) fn verifier_token() -> Self {
        Self("kdv".to_owned())
    }
}

impl Default for KeyPrefix {
    fn default() -> Self {
        Self("kd".to_owned())
    }
}

/// A scope: the API endpoints a key may call, e.g. `payments:read`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scope(String);

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        let ok = (1..=64).contains(&raw.len())
            && raw.chars().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, ':' | '.' | '_' | '-' | '*' | '/')
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidText::new(
                "scopes",
                format!("{raw:?} is not a scope (1-64 of a-z 0-9 : . _ - * /)"),
            ))
        }
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

/// Parses a list of scopes, refusing duplicates.
pub fn parse_scopes(raw: &[String]) -> Result<Vec<Scope>, InvalidText> {
    let mut seen = BTreeSet::new();
    let mut scopes = Vec::with_capacity(raw.len());
    for item in raw {
        let scope = Scope::parse(item)?;
        if !seen.insert(scope.clone()) {
            return Err(InvalidText::new(
                "scopes",
                format!("{item:?} is listed twice"),
            ));
        }
        scopes.push(scope);
    }
    Ok(scopes)
}

/// Who may create keys in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeyCreators {
    /// Licensed users with the developer role (seed 001).
    #[default]
    Developers,
    /// Only system administrators (seed 003).
    SystemAdmins,
}

/// Whether a key's secret can be read again after creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum SecretRetrieval {
    /// Shown once; only a keyed hash is stored.
    #[default]
    Never,
    /// Also stored encrypted, so tenant admins can copy it later (seed 000); every reveal is audited.
    Admins,
}

/// Per-tenant settings (SPEC §2). "New keys only" settings are checked when
/// a key is created and never applied to keys that exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    pub api_keys_enabled: bool,
    pub max_expiry_days: Option<u32>,
    pub max_keys_per_user: Option<u32>,
    pub key_creators: KeyCreators,
    pub scopes_editable: bool,
    pub revoke_requires_disabled: bool,
    pub secret_retrieval: SecretRetrieval,
    pub key_prefix: KeyPrefix,
    pub scopes: Vec<Scope>,
    /// The rate limit of every key that has none of its own; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
}

/// The starter list of scopes a new tenant offers.
pub const STARTER_SCOPES: &[&str] = &["read", "write", "admin"];

/// Bounds on numeric settings, so a typo cannot create a 10,000-year key.
pub const MAX_EXPIRY_DAYS_LIMIT: u32 = 3650;
pub const MAX_KEYS_PER_USER_LIMIT: u32 = 100_000;
pub const MAX_SCOPES: usize = 200;

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            api_keys_enabled: false,
            max_expiry_days: None,
            max_keys_per_user: None,
            key_creators: KeyCreators::Developers,
            scopes_editable: true,
            revoke_requires_disabled: false,
            secret_retrieval: SecretRetrieval::Never,
            key_prefix: KeyPrefix::default(),
            scopes: STARTER_SCOPES
                .iter()
                .map(|s| Scope((*s).to_owned()))
                .collect(),
            rate_limit: None,
        }
    }
}

/// A partial update of settings; `None` leaves a field alone, and for the
/// optional limits `Some(None)` clears them.
#[derive(Debug, Clone, Default)]
pub struct SettingsPatch {
    pub api_keys_enabled: Option<bool>,
    pub max_expiry_days: Option<Option<u32>>,
    pub max_keys_per_user: Option<Option<u32>>,
    pub key_creators: Option<KeyCreators>,
    pub scopes_editable: Option<bool>,
    pub revoke_requires_disabled: Option<bool>,
    pub secret_retrieval: Option<SecretRetrieval>,
    pub key_prefix: Option<KeyPrefix>,
    pub scopes: Option<Vec<Scope>>,
    pub rate_limit: Option<Option<RateLimit>>,
}

impl TenantSettings {
    /// Applies `patch`, returning the new settings and the names of the
    /// fields that actually changed (for the audit event).
    pub fn apply(&self, patch: &SettingsPatch) -> Result<(Self, Vec<&'static str>), InvalidText> {
        let mut next = self.clone();
        let mut changed = Vec::new();
        macro_rules! set {
            ($field:ident) => {
                if let Some(value) = &patch.$field {
                    if next.$field != *value {
                        next.$field = value.clone();
                        changed.push(stringify!($field));
                    }
                }
            };
        }
        set!(api_keys_enabled);
        set!(max_expiry_days);
        set!(max_keys_per_user);
        set!(key_creators);
        set!(scopes_editable);
        set!(revoke_requires_disabled);
        set!(secret_retrieval);
        set!(key_prefix);
        set!(scopes);
        set!(rate_limit);
        if let Some(days) = next.max_expiry_days {
            if days == 0 || days > MAX_EXPIRY_DAYS_LIMIT {
                return Err(InvalidText::new(
                    "max_expiry_days",
                    format!("must be between 1 and {MAX_EXPIRY_DAYS_LIMIT}"),
                ));
            }
        }
        if let Some(count) = next.max_keys_per_user {
            if count == 0 || count > MAX_KEYS_PER_USER_LIMIT {
                return Err(InvalidText::new(
                    "max_keys_per_user",
                    format!("must be between 1 and {MAX_KEYS_PER_USER_LIMIT}"),
                ));
            }
        }
        if let Some(limit) = next.rate_limit {
            limit.validate("rate_limit")?;
        }
        if next.scopes.len() > MAX_SCOPES {
            return Err(InvalidText::new(
                "scopes",
                format!("a tenant offers at most {MAX_SCOPES} scopes"),
            ));
        }
        Ok((next, changed))
    }
}

/// A tenant: one customer organisation whose keys are managed together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: DisplayName,
    pub settings: TenantSettings,
    /// Bumped on every settings change; the settings' ETag.
    pub settings_version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Tenant {
    /// The settings' ETag.
    #[must_use]
    pub fn settings_etag(&self) -> String {
        super::key::etag(self.settings_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let s = TenantSettings::default();
        assert!(
            !s.api_keys_enabled,
            "keys are off until an admin enables them (seed 001)"
        );
        assert_eq!(s.max_expiry_days, None);
        assert_eq!(s.max_keys_per_user, None);
        assert_eq!(s.key_creators, KeyCreators::Developers);
        assert!(s.scopes_editable);
        assert!(!s.revoke_requires_disabled);
        assert_eq!(s.secret_retrieval, SecretRetrieval::Never);
        assert_eq!(s.key_prefix.as_str(), "kd");
        assert!(!s.scopes.is_empty());
        assert_eq!(
            s.rate_limit, None,
            "keys are not rate-limited unless a limit is set"
        );
    }

    #[test]
    fn tenant_ids_are_slugs() {
        assert!(TenantId::parse("acme-payments").is_ok());
        for bad in [
            "A",
            "a",
            "-ab",
            "ab-",
            "Acme",
            "ac me",
            "ac_me",
            &"a".repeat(64),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_and_scopes_are_checked() {
        assert!(KeyPrefix::parse("kd").is_ok());
        assert!(KeyPrefix::parse("k_d").is_err());
        assert!(KeyPrefix::parse("").is_err());
        assert!(Scope::parse("payments:read").is_ok());
        assert!(Scope::parse("Payments").is_err());
        assert!(parse_scopes(&["a".into(), "a".into()]).is_err());
    }

    #[test]
    fn patch_reports_changed_fields_and_clears_limits() {
        let s = TenantSettings {
            max_expiry_days: Some(30),
            ..TenantSettings::default()
        };
        let patch = SettingsPatch {
            api_keys_enabled: Some(true),
            max_expiry_days: Some(None),
            scopes_editable: Some(true),
            ..SettingsPatch::default()
        };
        let (next, changed) = s.apply(&patch).unwrap();
        assert!(next.api_keys_enabled);
        assert_eq!(next.max_expiry_days, None);
        assert_eq!(changed, vec!["api_keys_enabled", "max_expiry_days"]);
    }

    #[test]
    fn out_of_range_limits_are_refused() {
        let s = TenantSettings::default();
        for patch in [
            SettingsPatch {
                max_expiry_days: Some(Some(0)),
                ..SettingsPatch::default()
            },
            SettingsPatch {
                max_expiry_days: Some(Some(99_999)),
                ..SettingsPatch::default()
            },
            SettingsPatch {
                max_keys_per_user: Some(Some(0)),
                ..SettingsPatch::default()
            },
            SettingsPatch {
                rate_limit: Some(Some(RateLimit {
                    requests: 0,
                    window_seconds: 60,
                })),
                ..SettingsPatch::default()
            },
        ] {
            assert!(s.apply(&patch).is_err());
        }
    }
}
