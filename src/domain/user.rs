//! Users, roles and the license flag. A user belongs to one tenant, except a
//! system administrator, who belongs to none and may act in all of them. A
//! disabled user's token authenticates nobody until they are enabled; a
//! deleted user is gone from every list, though their keys and events stay.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tenant::TenantId;
use super::text::{Email, PersonName};

super::id::ulid_id!(
    /// A user's id: `usr_` + ULID.
    UserId,
    "usr"
);

/// A role; a user may hold several and may do the union of what they allow.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Developer,
    TenantAdmin,
    SystemAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Viewer,
        Role::Developer,
        Role::TenantAdmin,
        Role::SystemAdmin,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::TenantAdmin => "tenant_admin",
            Role::SystemAdmin => "system_admin",
        }
    }

    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

/// A set of roles, kept sorted and without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Roles(Vec<Role>);

impl Roles {
    #[must_use]
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().collect();
        roles.sort();
        roles.dedup();
        Self(roles)
    }

    #[must_use]
    pub fn has(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    /// Comma-separated, as stored.
    #[must_use]
    pub fn to_csv(&self) -> String {
        self.0
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored form; unknown names are skipped (none are ever written).
    #[must_use]
    pub fn from_csv(csv: &str) -> Self {
        Self::new(csv.split(',').filter_map(Role::parse))
    }
}

/// A person (or robot) who manages keys through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: PersonName,
    pub email: Email,
    /// `None` only for system administrators.
    pub tenant_id: Option<TenantId>,
    pub roles: Roles,
    /// Seed 001: a license is required to generate keys.
    pub licensed: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Disabled by an administrator: their management token is refused.
    pub disabled: bool,
    /// Whether they hold a management token at all (an administrator may
    /// have revoked it); only a user without one is issued one by an admin.
    pub has_token: bool,
}

impl User {
    #[must_use]
    pub fn is_system_admin(&self) -> bool {
        self.roles.has(Role::SystemAdmin)
    }

    /// True when the user may see `tenant` at all; otherwise everything in it answers 404.
    #[must_use]
    pub fn can_see(&self, tenant: &TenantId) -> bool {
        self.is_system_admin() || self.tenant_id.as_ref() == Some(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_csv_sorted() {
        let roles = Roles::new([Role::TenantAdmin, Role::Developer, Role::Developer]);
        assert_eq!(roles.to_csv(), "developer,tenant_admin");
        assert_eq!(Roles::from_csv(&roles.to_csv()), roles);
        assert_eq!(Roles::from_csv(""), Roles::default());
    }
}
