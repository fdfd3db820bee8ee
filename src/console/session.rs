//! Who is signed in, which tenant is on screen and what it allows: the
//! context every view reads. The tenant epoch grows with every tenant
//! switch; replies carry the epoch they were asked in, so a late reply for
//! the previous tenant is recognised in one place (`App::on_msg`).

use std::time::{Duration, Instant};

use crate::api;
use crate::domain::{Role, TenantSettings, User};

/// Whether the server answers.
#[derive(Debug, Clone)]
pub enum Connection {
    Connecting,
    Live,
    Down {
        reason: String,
        retry_at: Instant,
        backoff: Duration,
    },
    /// The server refused the token: retrying will not help.
    Refused {
        reason: String,
    },
}

pub struct Session {
    pub me: Option<api::Me>,
    /// The tenant on screen (its id).
    pub tenant: Option<String>,
    /// Grows with every tenant switch.
    pub epoch: u64,
    pub settings: Option<api::Settings>,
    /// The tenant's users (the Users view, the owners of a new key).
    pub users: Vec<api::UserBody>,
    pub connection: Connection,
    /// The tenant's event stream is connected: changes arrive as they
    /// happen, and the lists are not polled.
    pub stream_live: bool,
    pub readonly: bool,
    /// Where the token came from, named when the server refuses it.
    pub token_source: String,
    /// The tenant asked for before `/v1/me` answered.
    pub requested_tenant: Option<String>,
}

impl Session {
    #[must_use]
    pub fn new(tenant: Option<String>, readonly: bool, token_source: String) -> Self {
        Self {
            me: None,
            tenant: None,
            epoch: 0,
            settings: None,
            users: Vec::new(),
            connection: Connection::Connecting,
            stream_live: false,
            readonly,
            token_source,
            requested_tenant: tenant,
        }
    }

    /// Makes `tenant` the one on screen; what was loaded for the previous
    /// one is dropped and its late replies become stale.
    pub fn switch(&mut self, tenant: String) {
        self.tenant = Some(tenant);
        self.epoch += 1;
        self.settings = None;
        self.users.clear();
        self.stream_live = false;
    }

    /// The caller as the domain sees them, to ask the permission matrix.
    #[must_use]
    pub fn actor(&self) -> Option<User> {
        Some(self.me.as_ref()?.user.to_domain())
    }

    #[must_use]
    pub fn domain_settings(&self) -> Option<TenantSettings> {
        Some(self.settings.as_ref()?.to_domain())
    }

    #[must_use]
    pub fn has_role(&self, role: Role) -> bool {
        self.me
            .as_ref()
            .is_some_and(|me| me.user.roles.contains(&role))
    }

    #[must_use]
    pub fn is_admin(&self) -> bool {
        self.has_role(Role::TenantAdmin) || self.has_role(Role::SystemAdmin)
    }

    /// Whether the caller's roles let them change anything in this tenant
    /// (a key of theirs, a new key, the settings, the users), as the
    /// permission matrix answers; `None` until who and the settings are known.
    #[must_use]
    pub fn may_change_anything(&self) -> Option<bool> {
        use crate::domain::{KeyAction, policy};
        let actor = self.actor()?;
        let settings = self.domain_settings()?;
        Some(
            policy::may_update_settings(&actor).is_ok()
                || policy::may_manage_users(&actor, &[]).is_ok()
                || policy::may_create_key(&actor, &settings, &actor.id).is_ok()
                || policy::may_act_on_key(&actor, KeyAction::Edit, &settings, &actor.id).is_ok(),
        )
    }

    /// The tenant's display name, or its id.
    #[must_use]
    pub fn tenant_name(&self) -> Option<&str> {
        let id = self.tenant.as_deref()?;
        let name = self
            .me
            .as_ref()
            .and_then(|me| me.tenants.iter().find(|t| t.id == id))
            .map(|t| t.name.as_str());
        Some(name.unwrap_or(id))
    }

    /// Why nothing can be changed now, if that is so.
    #[must_use]
    pub fn not_ready(&self) -> Option<String> {
        if self.readonly {
            return Some("read-only session".to_owned());
        }
        if self.me.is_none() || self.settings.is_none() {
            return Some("still loading".to_owned());
        }
        None
    }
}
