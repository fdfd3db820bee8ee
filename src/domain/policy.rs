//! The permission matrix of SPEC §2: which role may do what, on which key.
//! The server enforces it; the console asks the same functions to show an
//! action as disabled, with the same reason the server would give.

use super::error::Refusal;
use super::tenant::{KeyCreators, TenantId, TenantSettings};
use super::user::{Role, User, UserId};

/// Something a user may try to do to an existing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAction {
    Edit,
    Duplicate,
    Regenerate,
    Disable,
    Enable,
    Revoke,
    Delete,
    Reveal,
    /// End a rotation's grace early: the previous secret stops verifying now.
    EndRotation,
}

impl KeyAction {
    pub const ALL: [KeyAction; 9] = [
        KeyAction::Edit,
        KeyAction::Duplicate,
        KeyAction::Regenerate,
        KeyAction::Disable,
        KeyAction::Enable,
        KeyAction::Revoke,
        KeyAction::Delete,
        KeyAction::Reveal,
        KeyAction::EndRotation,
    ];

    fn verb(self) -> &'static str {
        match self {
            KeyAction::Edit => "edit",
            KeyAction::Duplicate => "duplicate",
            KeyAction::Regenerate => "regenerate",
            KeyAction::Disable => "disable",
            KeyAction::Enable => "enable",
            KeyAction::Revoke => "revoke",
            KeyAction::Delete => "delete",
            KeyAction::Reveal => "reveal the secret of",
            KeyAction::EndRotation => "end the rotation of",
        }
    }
}

fn forbidden(message: impl Into<String>) -> Refusal {
    Refusal::forbidden("FORBIDDEN", message)
}

/// Who may see the fleet (`GET /v1/fleet`): its instances, their addresses
/// and lag are the installation's, not a tenant's, so system administrators
/// only. Anyone who may mutate learns how far their own change reached from
/// `?wait=fleet`.
pub fn may_read_fleet(actor: &User) -> Result<(), Refusal> {
    if actor.is_system_admin() {
        Ok(())
    } else {
        Err(forbidden(
            "only a system administrator may see the fleet's instances",
        ))
    }
}

/// The ways a secret is made. Each gives the actor a working secret, so
/// each follows the rules of creating a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Making {
    Creating,
    Duplicating,
    Regenerating,
}

impl Making {
    fn doing(self) -> &'static str {
        match self {
            Making::Creating => "creating keys",
            Making::Duplicating => "duplicating keys",
            Making::Regenerating => "regenerating keys",
        }
    }
}

/// May `actor` make a secret (`making`) in a tenant with `settings`?
fn may_make_secret(actor: &User, settings: &TenantSettings, making: Making) -> Result<(), Refusal> {
    if actor.is_system_admin() {
        return Ok(());
    }
    let doing = making.doing();
    match settings.key_creators {
        KeyCreators::SystemAdmins if making == Making::Creating => Err(forbidden(
            "only system administrators create keys in this tenant",
        )),
        KeyCreators::SystemAdmins => Err(forbidden(format!(
            "only system administrators create keys in this tenant, and {doing} makes a new secret as creating does"
        ))),
        KeyCreators::Developers if !actor.roles.has(Role::Developer) => Err(forbidden(format!(
            "{doing} requires the developer role; a tenant admin can grant it"
        ))),
        KeyCreators::Developers if !actor.licensed => Err(forbidden(format!(
            "{doing} requires a license; a tenant admin can assign one"
        ))),
        KeyCreators::Developers => Ok(()),
    }
}

/// May `actor` create a key owned by `owner` in a tenant with `settings`?
/// (Whether keys are switched on is a state, checked at creation; whether
/// `owner` may own keys of the tenant is [`may_own_key`]'s question.)
pub fn may_create_key(
    actor: &User,
    settings: &TenantSettings,
    owner: &UserId,
) -> Result<(), Refusal> {
    may_make_secret(actor, settings, Making::Creating)?;
    if *owner != actor.id && !actor.is_system_admin() && !actor.roles.has(Role::TenantAdmin) {
        return Err(forbidden(
            "only a tenant admin may create a key owned by someone else",
        ));
    }
    Ok(())
}

/// May `actor` take `action` on a key owned by `owner`?
pub fn may_act_on_key(
    actor: &User,
    action: KeyAction,
    settings: &TenantSettings,
    owner: &UserId,
) -> Result<(), Refusal> {
    if actor.is_system_admin() {
        return Ok(());
    }
    let owns = *owner == actor.id;
    let developer = actor.roles.has(Role::Developer);
    let admin = actor.roles.has(Role::TenantAdmin);
    let allowed = match action {
        // Ending a rotation only takes a secret away, as disabling does.
        KeyAction::Edit
        | KeyAction::Disable
        | KeyAction::Enable
        | KeyAction::Revoke
        | KeyAction::EndRotation => admin || (developer && owns),
        // Seed 001 ties creating and deleting keys to the developer role.
        KeyAction::Delete => developer && (owns || admin),
        // A new secret is a new key in all but its id: creation's rules apply.
        KeyAction::Regenerate => {
            if developer && owns {
                may_make_secret(actor, settings, Making::Regenerating)?;
            }
            developer && owns
        }
        // The copy is the duplicator's own new key.
        KeyAction::Duplicate => {
            may_make_secret(actor, settings, Making::Duplicating)?;
            owns || admin
        }
        KeyAction::Reveal => admin,
    };
    if allowed {
        return Ok(());
    }
    let verb = action.verb();
    let reason = match action {
        KeyAction::Reveal => "only tenant admins may reveal a stored secret".to_owned(),
        KeyAction::Delete if !developer => "deleting keys requires the developer role".to_owned(),
        KeyAction::Regenerate if !developer => {
            "regenerating keys requires the developer role".to_owned()
        }
        KeyAction::Regenerate => "only the key's owner may regenerate it".to_owned(),
        _ if developer => format!("you may {verb} only keys you own"),
        _ => format!("your roles do not allow you to {verb} keys"),
    };
    Err(forbidden(reason))
}

/// May `actor` give a key to another owner? Only tenant and system admins
/// may: a developer's keys are their own (asked on top of
/// [`may_act_on_key`]'s `Edit`).
pub fn may_change_owner(actor: &User) -> Result<(), Refusal> {
    if actor.is_system_admin() || actor.roles.has(Role::TenantAdmin) {
        Ok(())
    } else {
        Err(forbidden(
            "only tenant admins may give a key to another owner",
        ))
    }
}

/// May `owner` own keys of `tenant`, given to them by `actor`? One rule for
/// every way a key gets an owner (creation, duplication, a new owner): a
/// member of the tenant with the developer role, the role that creates and
/// manages one's own keys. A system administrator belongs to no tenant;
/// they own the keys they make for themself (seed 003), and nobody else
/// hands them one. Anyone else is refused as an unknown owner is, so
/// whether the id exists elsewhere does not leak.
pub fn may_own_key(owner: &User, tenant: &TenantId, actor: &UserId) -> Result<(), Refusal> {
    if owner.is_system_admin() {
        return if owner.id == *actor {
            Ok(())
        } else {
            Err(unknown_owner(owner.id.as_str()))
        };
    }
    if owner.tenant_id.as_ref() != Some(tenant) {
        return Err(unknown_owner(owner.id.as_str()));
    }
    if !owner.roles.has(Role::Developer) {
        return Err(Refusal::invalid(
            "OWNER_NOT_DEVELOPER",
            format!(
                "owner: {} does not hold the developer role, which owning keys requires; a tenant admin can grant it",
                owner.name.as_str()
            ),
        ));
    }
    Ok(())
}

/// The refusal for an owner who is not a user of the tenant; the same
/// whether the id is unknown or belongs to another tenant, so existence does
/// not leak.
#[must_use]
pub fn unknown_owner(id: &str) -> Refusal {
    Refusal::invalid(
        "VALIDATION_FAILED",
        format!("owner: no user {id:?} in this tenant"),
    )
}

/// May `actor` change the tenant's settings?
pub fn may_update_settings(actor: &User) -> Result<(), Refusal> {
    if actor.is_system_admin() || actor.roles.has(Role::TenantAdmin) {
        Ok(())
    } else {
        Err(forbidden("only tenant admins may change settings"))
    }
}

/// May `actor` set or lift a key's own rate limit? Only tenant and system
/// admins: the limit protects the services a key calls, so its owner may
/// not raise it (asked on top of [`may_act_on_key`]'s `Edit`).
pub fn may_change_rate_limit(actor: &User) -> Result<(), Refusal> {
    admins_only(actor, "only tenant admins may change a key's rate limit")
}

/// May `actor` create and revoke the tenant's verifier tokens (service
/// credentials that may only call `/v1/verify`)? Tenant and system admins.
pub fn may_manage_verifiers(actor: &User) -> Result<(), Refusal> {
    admins_only(actor, "only tenant admins may manage verifier tokens")
}

/// Tenant and system admins may; anyone else is refused with `reason`.
fn admins_only(actor: &User, reason: &str) -> Result<(), Refusal> {
    if actor.is_system_admin() || actor.roles.has(Role::TenantAdmin) {
        Ok(())
    } else {
        Err(forbidden(reason))
    }
}

/// May `actor` create users and grant or withdraw roles and licenses?
/// A tenant admin may, also to themself (seed 001), but never `system_admin`.
pub fn may_manage_users(actor: &User, granting: &[Role]) -> Result<(), Refusal> {
    if actor.is_system_admin() {
        return Ok(());
    }
    if !actor.roles.has(Role::TenantAdmin) {
        return Err(forbidden("only tenant admins may manage users"));
    }
    if granting.contains(&Role::SystemAdmin) {
        return Err(forbidden(
            "only system administrators may grant system_admin",
        ));
    }
    Ok(())
}

/// May `actor` read anything of their tenant: keys, events, usage,
/// settings, users? Every role may (SPEC §2: a viewer reads); a user whose
/// every role was withdrawn may not, until one is granted again. (Whether
/// they see the tenant at all is [`User::can_see`]'s question: a tenant
/// they do not belong to is not found, never forbidden.)
pub fn may_read_tenant(actor: &User) -> Result<(), Refusal> {
    if actor.roles.iter().next().is_some() {
        Ok(())
    } else {
        Err(forbidden(
            "you hold no role in this tenant, so you may read nothing in it; a tenant admin can grant one",
        ))
    }
}

/// Is `tenant` in `actor`'s lists of tenants (`/v1/me`, `/v1/tenants`)?
/// The tenants they see and may read.
#[must_use]
pub fn lists_tenant(actor: &User, tenant: &TenantId) -> bool {
    actor.can_see(tenant) && may_read_tenant(actor).is_ok()
}

/// May `actor` see `user`'s e-mail address? Those who manage users (tenant
/// and system admins), and each user their own. Everyone else who reads
/// the tenant sees who is who (name, roles), not how to reach them: SPEC
/// gives viewers and developers keys, events, usage and settings to read,
/// and users to tenant admins to manage.
#[must_use]
pub fn may_see_email(actor: &User, user: &UserId) -> bool {
    actor.id == *user || may_manage_users(actor, &[]).is_ok()
}

/// How a user comes to hold a new management token ([`may_obtain_token`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenGrant {
    /// The user replaces their own token (`user.token_rotated`).
    Rotated,
    /// An administrator issues one for a user who holds none, to hand
    /// over, as at the user's creation (`user.token_issued`).
    Issued,
}

/// May `actor` receive a new working management token for `target`?
/// Nobody but the user themself may, while the user holds one: whoever
/// received another's token would act, and be logged, as them. An
/// administrator may take a token away ([`may_revoke_token`]); the user
/// notices, since theirs stops working, and the log names the
/// administrator; only then may the administrator issue one to hand over.
pub fn may_obtain_token(actor: &User, target: &User) -> Result<TokenGrant, Refusal> {
    if actor.id == target.id {
        return Ok(TokenGrant::Rotated);
    }
    if may_manage_users(actor, &[]).is_err() {
        return Err(forbidden(
            "only the user themself may replace their management token",
        ));
    }
    if target.has_token {
        return Err(Refusal::conflict(
            "USER_HAS_TOKEN",
            format!(
                "{} holds a working management token, and only they may replace it; to take it away, revoke it (DELETE …/token), then issue one for them",
                target.name.as_str()
            ),
        ));
    }
    Ok(TokenGrant::Issued)
}

/// May `actor` take `target`'s management token away? The user themself
/// (signing out for good) and those who manage users.
pub fn may_revoke_token(actor: &User, target: &User) -> Result<(), Refusal> {
    if actor.id == target.id || may_manage_users(actor, &[]).is_ok() {
        Ok(())
    } else {
        Err(forbidden(
            "only the user themself or a tenant admin may revoke a management token",
        ))
    }
}

/// May `actor` disable, enable or delete `target`? Those who manage users,
/// though never themself: nobody would be left to undo it, and a tenant's
/// last admin would lock the tenant out.
pub fn may_disable_or_delete_user(actor: &User, target: &User) -> Result<(), Refusal> {
    may_manage_users(actor, &[])?;
    if actor.id == target.id {
        return Err(forbidden(
            "you may not disable or delete yourself; another tenant admin can",
        ));
    }
    Ok(())
}

/// May `actor` find a key of `tenant` by its secret (`POST /v1/keys/lookup`)?
/// A system administrator finds any key; a tenant admin, the keys of their
/// tenant. Anyone else is told nothing was found, as for a key outside
/// their tenant, so a secret's owner does not leak.
#[must_use]
pub fn may_look_up_key(actor: &User, tenant: &TenantId) -> bool {
    actor.is_system_admin() || (actor.roles.has(Role::TenantAdmin) && actor.can_see(tenant))
}

/// May `actor` create tenants?
pub fn may_create_tenant(actor: &User) -> Result<(), Refusal> {
    if actor.is_system_admin() {
        Ok(())
    } else {
        Err(forbidden("only system administrators may create tenants"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::{Email, PersonName};
    use crate::domain::user::Roles;

    fn user(name: &str, roles: &[Role], licensed: bool) -> User {
        User {
            id: UserId::from_trusted(format!("usr_{name}")),
            name: PersonName::parse(name).unwrap(),
            email: Email::parse(&format!("{name}@example.com")).unwrap(),
            tenant_id: Some(TenantId::parse("acme").unwrap()),
            roles: Roles::new(roles.iter().copied()),
            licensed,
            created_at: chrono::Utc::now(),
            disabled: false,
            has_token: true,
        }
    }

    fn settings() -> TenantSettings {
        TenantSettings {
            api_keys_enabled: true,
            ..TenantSettings::default()
        }
    }

    #[test]
    fn creating_needs_developer_role_and_license() {
        let s = settings();
        let dev = user("dev", &[Role::Developer], true);
        assert!(may_create_key(&dev, &s, &dev.id).is_ok());
        let unlicensed = user("u", &[Role::Developer], false);
        assert!(
            may_create_key(&unlicensed, &s, &unlicensed.id)
                .unwrap_err()
                .message
                .contains("license")
        );
        let admin = user("adm", &[Role::TenantAdmin], true);
        assert!(
            may_create_key(&admin, &s, &admin.id)
                .unwrap_err()
                .message
                .contains("developer role")
        );
        let viewer = user("v", &[Role::Viewer], true);
        assert!(may_create_key(&viewer, &s, &viewer.id).is_err());
    }

    #[test]
    fn system_admins_only_tenant_refuses_everyone_else() {
        let s = TenantSettings {
            key_creators: KeyCreators::SystemAdmins,
            ..settings()
        };
        let dev = user("dev", &[Role::Developer, Role::TenantAdmin], true);
        assert!(
            may_create_key(&dev, &s, &dev.id)
                .unwrap_err()
                .message
                .contains("system administrators")
        );
        let mut root = user("root", &[Role::SystemAdmin], false);
        root.tenant_id = None;
        assert!(may_create_key(&root, &s, &dev.id).is_ok());
    }

    #[test]
    fn only_admins_create_keys_for_others() {
        let s = settings();
        let dev = user("dev", &[Role::Developer], true);
        let other = user("other", &[Role::Developer], true);
        assert!(may_create_key(&dev, &s, &other.id).is_err());
        let admin_dev = user("ad", &[Role::Developer, Role::TenantAdmin], true);
        assert!(may_create_key(&admin_dev, &s, &other.id).is_ok());
    }

    #[test]
    fn developers_act_on_their_own_keys_only() {
        let s = settings();
        let dev = user("dev", &[Role::Developer], true);
        let other = UserId::from_trusted("usr_other".into());
        for action in KeyAction::ALL {
            let own = may_act_on_key(&dev, action, &s, &dev.id);
            assert_eq!(
                own.is_ok(),
                action != KeyAction::Reveal,
                "{action:?} on own key"
            );
            assert!(
                may_act_on_key(&dev, action, &s, &other).is_err(),
                "{action:?} on another's key"
            );
        }
    }

    #[test]
    fn tenant_admins_manage_every_key_but_delete_needs_developer() {
        let s = settings();
        let admin = user("adm", &[Role::TenantAdmin], true);
        let other = UserId::from_trusted("usr_other".into());
        for action in [
            KeyAction::Edit,
            KeyAction::Disable,
            KeyAction::Enable,
            KeyAction::Revoke,
            KeyAction::Reveal,
        ] {
            assert!(
                may_act_on_key(&admin, action, &s, &other).is_ok(),
                "{action:?}"
            );
        }
        for action in [
            KeyAction::Delete,
            KeyAction::Regenerate,
            KeyAction::Duplicate,
        ] {
            assert!(
                may_act_on_key(&admin, action, &s, &other).is_err(),
                "{action:?}"
            );
        }
        let admin_dev = user("ad", &[Role::TenantAdmin, Role::Developer], true);
        assert!(may_act_on_key(&admin_dev, KeyAction::Delete, &s, &other).is_ok());
        assert!(may_act_on_key(&admin_dev, KeyAction::Duplicate, &s, &other).is_ok());
        assert!(may_act_on_key(&admin_dev, KeyAction::Regenerate, &s, &other).is_err());
    }

    #[test]
    fn viewers_may_do_nothing_to_keys() {
        let s = settings();
        let viewer = user("v", &[Role::Viewer], true);
        for action in KeyAction::ALL {
            assert!(
                may_act_on_key(&viewer, action, &s, &viewer.id).is_err(),
                "{action:?}"
            );
        }
        assert!(may_update_settings(&viewer).is_err());
        assert!(may_manage_users(&viewer, &[]).is_err());
        assert!(may_create_tenant(&viewer).is_err());
    }

    #[test]
    fn only_admins_give_a_key_away_and_only_to_developers_of_the_tenant() {
        let acme = TenantId::parse("acme").unwrap();
        let dev = user("dev", &[Role::Developer], true);
        let admin = user("adm", &[Role::TenantAdmin], true);
        let mut root = user("root", &[Role::SystemAdmin], false);
        root.tenant_id = None;
        assert!(may_change_owner(&dev).is_err());
        assert!(may_change_owner(&user("v", &[Role::Viewer], true)).is_err());
        assert!(may_change_owner(&admin).is_ok());
        assert!(may_change_owner(&root).is_ok());

        assert!(may_own_key(&dev, &acme, &admin.id).is_ok());
        assert!(may_own_key(&user("u", &[Role::Developer], false), &acme, &admin.id).is_ok());
        // Nobody hands the system administrator a key; they take their own.
        assert_eq!(
            may_own_key(&root, &acme, &admin.id).unwrap_err(),
            unknown_owner(root.id.as_str())
        );
        assert!(may_own_key(&root, &acme, &root.id).is_ok());
        for roles in [&[Role::TenantAdmin][..], &[Role::Viewer], &[]] {
            let member = user("m", roles, true);
            assert_eq!(
                may_own_key(&member, &acme, &root.id).unwrap_err().code,
                "OWNER_NOT_DEVELOPER",
                "{roles:?}"
            );
        }
        let mut elsewhere = dev.clone();
        elsewhere.tenant_id = Some(TenantId::parse("other").unwrap());
        let refusal = may_own_key(&elsewhere, &acme, &root.id).unwrap_err();
        assert_eq!(refusal, unknown_owner("usr_dev"));
        assert_eq!(refusal.code, "VALIDATION_FAILED");
    }

    #[test]
    fn only_admins_find_a_key_by_its_secret_and_only_in_their_tenant() {
        let acme = TenantId::parse("acme").unwrap();
        let other = TenantId::parse("other").unwrap();
        let admin = user("adm", &[Role::TenantAdmin], true);
        assert!(may_look_up_key(&admin, &acme));
        assert!(!may_look_up_key(&admin, &other));
        for roles in [&[Role::Viewer][..], &[Role::Developer], &[]] {
            assert!(
                !may_look_up_key(&user("u", roles, true), &acme),
                "{roles:?}"
            );
        }
        let mut root = user("root", &[Role::SystemAdmin], false);
        root.tenant_id = None;
        assert!(may_look_up_key(&root, &acme) && may_look_up_key(&root, &other));
    }

    #[test]
    fn regenerating_and_duplicating_follow_the_rules_of_creating() {
        let s = settings();
        let unlicensed = user("u", &[Role::Developer], false);
        for action in [KeyAction::Regenerate, KeyAction::Duplicate] {
            let refusal = may_act_on_key(&unlicensed, action, &s, &unlicensed.id).unwrap_err();
            assert!(
                refusal.message.contains("license"),
                "{action:?}: {refusal:?}"
            );
        }
        let only_root = TenantSettings {
            key_creators: KeyCreators::SystemAdmins,
            ..settings()
        };
        let dev = user("dev", &[Role::Developer, Role::TenantAdmin], true);
        for action in [KeyAction::Regenerate, KeyAction::Duplicate] {
            let refusal = may_act_on_key(&dev, action, &only_root, &dev.id).unwrap_err();
            assert!(
                refusal.message.contains("system administrators"),
                "{action:?}: {refusal:?}"
            );
        }
        // Taking a secret away is not making one.
        assert!(may_act_on_key(&unlicensed, KeyAction::Revoke, &only_root, &unlicensed.id).is_ok());
    }

    #[test]
    fn a_user_without_a_role_reads_nothing() {
        assert!(may_read_tenant(&user("v", &[Role::Viewer], false)).is_ok());
        assert!(may_read_tenant(&user("d", &[Role::Developer], false)).is_ok());
        let refusal = may_read_tenant(&user("n", &[], true)).unwrap_err();
        assert_eq!(refusal.code, "FORBIDDEN");
    }

    #[test]
    fn e_mail_addresses_are_for_admins_and_their_owner() {
        let viewer = user("v", &[Role::Viewer], false);
        let dev = user("d", &[Role::Developer], true);
        let admin = user("a", &[Role::TenantAdmin], false);
        assert!(!may_see_email(&viewer, &dev.id));
        assert!(!may_see_email(&dev, &viewer.id));
        assert!(may_see_email(&dev, &dev.id));
        assert!(may_see_email(&admin, &dev.id));
    }

    #[test]
    fn nobody_obtains_a_working_token_of_another_user() {
        let dev = user("d", &[Role::Developer], true);
        let other = user("o", &[Role::Developer], true);
        let admin = user("a", &[Role::TenantAdmin], false);
        let mut root = user("root", &[Role::SystemAdmin], false);
        root.tenant_id = None;
        assert_eq!(may_obtain_token(&dev, &dev), Ok(TokenGrant::Rotated));
        assert_eq!(may_obtain_token(&admin, &admin), Ok(TokenGrant::Rotated));
        assert_eq!(
            may_obtain_token(&dev, &other).unwrap_err().code,
            "FORBIDDEN"
        );
        for manager in [&admin, &root] {
            assert_eq!(
                may_obtain_token(manager, &dev).unwrap_err().code,
                "USER_HAS_TOKEN"
            );
            assert!(may_revoke_token(manager, &dev).is_ok());
        }
        let mut revoked = dev.clone();
        revoked.has_token = false;
        assert_eq!(may_obtain_token(&admin, &revoked), Ok(TokenGrant::Issued));
        assert_eq!(
            may_obtain_token(&other, &revoked).unwrap_err().code,
            "FORBIDDEN"
        );
        assert!(may_revoke_token(&dev, &dev).is_ok());
        assert!(may_revoke_token(&other, &dev).is_err());
    }

    #[test]
    fn admins_disable_and_delete_others_but_never_themselves() {
        let dev = user("d", &[Role::Developer], true);
        let admin = user("a", &[Role::TenantAdmin], false);
        assert!(may_disable_or_delete_user(&admin, &dev).is_ok());
        assert!(may_disable_or_delete_user(&admin, &admin).is_err());
        assert!(may_disable_or_delete_user(&dev, &admin).is_err());
    }

    #[test]
    fn tenant_admins_grant_roles_but_not_system_admin() {
        let admin = user("adm", &[Role::TenantAdmin], true);
        assert!(may_manage_users(&admin, &[Role::Developer]).is_ok());
        assert!(may_manage_users(&admin, &[Role::SystemAdmin]).is_err());
        assert!(may_update_settings(&admin).is_ok());
        assert!(may_create_tenant(&admin).is_err());
    }

    #[test]
    fn only_admins_set_rate_limits_and_manage_verifiers() {
        let mut root = user("root", &[Role::SystemAdmin], false);
        root.tenant_id = None;
        for actor in [user("adm", &[Role::TenantAdmin], false), root] {
            assert!(may_change_rate_limit(&actor).is_ok());
            assert!(may_manage_verifiers(&actor).is_ok());
        }
        for roles in [&[Role::Viewer][..], &[Role::Developer], &[]] {
            let actor = user("u", roles, true);
            assert_eq!(may_change_rate_limit(&actor).unwrap_err().code, "FORBIDDEN");
            assert_eq!(may_manage_verifiers(&actor).unwrap_err().code, "FORBIDDEN");
        }
    }
}
