//! The domain: tenants, settings, users, roles, API keys, secrets, the status
//! machine and the permission matrix. No IO: it imports neither axum, nor a
//! database, nor ratatui, so every rule is unit-tested on its own.

pub mod error;
pub mod event;
mod id;
pub mod key;
pub mod policy;
pub mod rate_limit;
pub mod secret;
pub mod tenant;
pub mod text;
pub mod usage;
pub mod user;
pub mod verifier;

pub use error::{Refusal, RefusalKind};
pub use event::{Event, EventAction, NewEvent, Origin};
pub use key::{
    ApiKey, CreationFacts, KeyCopy, KeyEdit, KeyId, KeySort, KeyStatus, Lifecycle, NewKey,
    OwnerFacts, SortField, UserRef, WhichSecret, check_key_action, grace_period,
};
pub use policy::KeyAction;
pub use rate_limit::{RateLimit, RateWindow};
pub use secret::{Keyring, Secret};
pub use tenant::{
    KeyCreators, KeyPrefix, Scope, SecretRetrieval, SettingsPatch, Tenant, TenantId, TenantSettings,
};
pub use text::{Description, DisplayName, Email, KeyName, PersonName};
pub use usage::{KeyActivity, SuspicionRules, UsageWindow};
pub use user::{Role, Roles, User, UserId};
pub use verifier::{Verifier, VerifierId};
