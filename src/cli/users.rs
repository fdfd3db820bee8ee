//! `keydesk users …`: list, create, grant and withdraw roles, license,
//! disable, enable, delete, and management tokens. A user is named by id
//! or by name; a token goes to stdout alone, like a key's secret.

use clap::{Args, Subcommand, ValueEnum};
use zeroize::Zeroize;

use super::context::{Ctx, Target};
use super::error::{CliError, CliResult};
use super::output::{self, Format, Table, time};
use crate::api;
use crate::domain::Role;

#[derive(Args, Debug)]
pub struct UsersCommand {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: UsersAction,
}

/// A role a tenant's user can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum TenantRole {
    Viewer,
    Developer,
    TenantAdmin,
}

impl From<TenantRole> for Role {
    fn from(role: TenantRole) -> Self {
        match role {
            TenantRole::Viewer => Role::Viewer,
            TenantRole::Developer => Role::Developer,
            TenantRole::TenantAdmin => Role::TenantAdmin,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Subcommand, Debug)]
pub enum UsersAction {
    /// The tenant's users (-o json: an array of users).
    List,
    /// Create a user; their management token, shown this once, alone on stdout.
    Create {
        /// Their name.
        name: String,
        /// Their e-mail address.
        #[arg(long)]
        email: String,
        /// A role (repeat, or separate with commas).
        #[arg(long = "role", value_enum, value_delimiter = ',')]
        roles: Vec<TenantRole>,
        /// A developer license (needed to create keys where developers may).
        #[arg(long)]
        licensed: bool,
    },
    /// Grant roles to a user.
    Grant {
        /// The user's id or name.
        user: String,
        /// Roles to grant.
        #[arg(required = true, value_enum, value_delimiter = ',')]
        roles: Vec<TenantRole>,
    },
    /// Withdraw roles from a user.
    Withdraw {
        /// The user's id or name.
        user: String,
        /// Roles to withdraw.
        #[arg(required = true, value_enum, value_delimiter = ',')]
        roles: Vec<TenantRole>,
    },
    /// Give or take a user's developer license.
    License {
        /// The user's id or name.
        user: String,
        /// on or off.
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Disable a user: their token is refused until they are enabled.
    Disable {
        /// The user's id or name.
        user: String,
    },
    /// Enable a disabled user.
    Enable {
        /// The user's id or name.
        user: String,
    },
    /// Delete a user (their keys and events stay): asks first.
    Delete {
        /// The user's id or name.
        user: String,
        /// Do not ask.
        #[arg(short, long)]
        yes: bool,
    },
    /// A management token, alone on stdout: your own new one (no USER, or yourself),
    /// or a first one for a user who holds none; --revoke takes a user's token away.
    Token {
        /// The user's id or name (default: you).
        user: Option<String>,
        /// Take the user's token away instead: it stops working at once.
        #[arg(long)]
        revoke: bool,
        /// Do not ask (replacing your own token signs this token out).
        #[arg(short, long)]
        yes: bool,
    },
}

pub async fn run(ctx: &Ctx, action: UsersAction) -> CliResult {
    let tenant = ctx.tenant().await?;
    match action {
        UsersAction::List => {
            let users = ctx.call(ctx.client.users(&tenant)).await?.items;
            match ctx.output {
                Format::Json => output::json(&users),
                Format::Table => {
                    let mut table = Table::new(&[
                        "ID", "NAME", "EMAIL", "ROLES", "LICENSED", "STATE", "CREATED",
                    ])
                    .optional(&["CREATED", "LICENSED", "EMAIL"]);
                    for user in &users {
                        table.row(vec![
                            user.id.clone(),
                            user.name.clone(),
                            user.email.clone().unwrap_or_else(|| "-".to_owned()),
                            roles(user),
                            if user.licensed { "yes" } else { "no" }.to_owned(),
                            state(user).to_owned(),
                            time(&user.created_at),
                        ]);
                    }
                    table.print()
                }
            }
        }
        UsersAction::Create {
            name,
            email,
            roles,
            licensed,
        } => {
            let body = api::CreateUser {
                name,
                email,
                roles: roles.into_iter().map(Role::from).collect(),
                licensed,
            };
            let made = ctx.call(ctx.client.create_user(&tenant, &body)).await?;
            print_token(ctx, made, "created user")
        }
        UsersAction::Grant { user, roles } => change_roles(ctx, &tenant, &user, &roles, true).await,
        UsersAction::Withdraw { user, roles } => {
            change_roles(ctx, &tenant, &user, &roles, false).await
        }
        UsersAction::License { user, state } => {
            let user = find(ctx, &tenant, &user).await?;
            let body = api::UpdateUser {
                licensed: Some(state == OnOff::On),
                ..api::UpdateUser::default()
            };
            let user = ctx
                .call(ctx.client.update_user(&tenant, &user.id, &body))
                .await?;
            done(
                ctx,
                &user,
                if user.licensed {
                    "licensed"
                } else {
                    "unlicensed"
                },
            )
        }
        UsersAction::Disable { user } => {
            let user = find(ctx, &tenant, &user).await?;
            let user = ctx.call(ctx.client.disable_user(&tenant, &user.id)).await?;
            done(ctx, &user, "disabled")
        }
        UsersAction::Enable { user } => {
            let user = find(ctx, &tenant, &user).await?;
            let user = ctx.call(ctx.client.enable_user(&tenant, &user.id)).await?;
            done(ctx, &user, "enabled")
        }
        UsersAction::Delete { user, yes } => {
            let user = find(ctx, &tenant, &user).await?;
            ctx.confirm(
                &format!(
                    "will delete user {} of {tenant}; their keys stay, owned as before",
                    describe(&user)
                ),
                "Delete them?",
                yes,
            )?;
            ctx.call(ctx.client.delete_user(&tenant, &user.id)).await?;
            output::note(&format!("deleted user {}", describe(&user)));
            Ok(())
        }
        UsersAction::Token { user, revoke, yes } => token(ctx, &tenant, user, revoke, yes).await,
    }
}

fn roles(user: &api::UserBody) -> String {
    let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
    roles.join(",")
}

fn state(user: &api::UserBody) -> &'static str {
    match (user.disabled, user.has_token) {
        (true, _) => "disabled",
        (false, true) => "active",
        (false, false) => "no token",
    }
}

fn describe(user: &api::UserBody) -> String {
    output::cell(&format!("{} ({})", user.name, user.id))
}

fn done(ctx: &Ctx, user: &api::UserBody, what: &str) -> CliResult {
    output::note(&format!("{what} user {}", describe(user)));
    match ctx.output {
        Format::Json => output::json(user),
        Format::Table => Ok(()),
    }
}

/// A user of the tenant by id, or by name (case-insensitive, exact).
async fn find(ctx: &Ctx, tenant: &str, wanted: &str) -> CliResult<api::UserBody> {
    let users = ctx.call(ctx.client.users(tenant)).await?.items;
    if let Some(user) = users.iter().find(|u| u.id == wanted) {
        return Ok(user.clone());
    }
    let named: Vec<&api::UserBody> = users
        .iter()
        .filter(|u| u.name.to_lowercase() == wanted.to_lowercase())
        .collect();
    match named.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(CliError::Refused {
            message: format!("no user {} in {tenant}", output::cell(wanted)),
            status: 404,
        }),
        many => Err(CliError::Usage(format!(
            "{} names several users of {tenant}; use an id: {}",
            output::cell(wanted),
            many.iter()
                .map(|u| describe(u))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

async fn change_roles(
    ctx: &Ctx,
    tenant: &str,
    user: &str,
    changed: &[TenantRole],
    grant: bool,
) -> CliResult {
    let user = find(ctx, tenant, user).await?;
    let mut roles = user.roles.clone();
    for role in changed.iter().copied().map(Role::from) {
        if grant && !roles.contains(&role) {
            roles.push(role);
        }
        if !grant {
            roles.retain(|r| *r != role);
        }
    }
    let body = api::UpdateUser {
        roles: Some(roles),
        ..api::UpdateUser::default()
    };
    let user = ctx
        .call(ctx.client.update_user(tenant, &user.id, &body))
        .await?;
    output::note(&format!(
        "{} now holds: {}",
        describe(&user),
        roles_or_none(&user)
    ));
    match ctx.output {
        Format::Json => output::json(&user),
        Format::Table => Ok(()),
    }
}

fn roles_or_none(user: &api::UserBody) -> String {
    let roles = roles(user);
    if roles.is_empty() {
        "none".to_owned()
    } else {
        roles
    }
}

/// Prints a user with their new token: the token alone on stdout (or the
/// whole answer as JSON), the rest on stderr; wiped after.
fn print_token(ctx: &Ctx, mut made: api::UserWithToken, what: &str) -> CliResult {
    let printed = match ctx.output {
        Format::Json => output::json_secret(&made),
        Format::Table => {
            output::note(&format!(
                "{what} {}; the management token, shown this once, is on stdout",
                describe(&made.user)
            ));
            output::secret(&made.token)
        }
    };
    made.token.zeroize();
    printed
}

async fn token(
    ctx: &Ctx,
    tenant: &str,
    user: Option<String>,
    revoke: bool,
    yes: bool,
) -> CliResult {
    let me = ctx.call(ctx.client.me()).await?.user;
    let target = match &user {
        None => me.clone(),
        Some(wanted) if *wanted == me.id || wanted.eq_ignore_ascii_case(&me.name) => me.clone(),
        Some(wanted) => find(ctx, tenant, wanted).await?,
    };
    let own = target.id == me.id;
    if revoke {
        ctx.confirm(
            &format!(
                "will take the management token of {} away",
                describe(&target)
            ),
            "Revoke it? It stops working at once.",
            yes,
        )?;
        ctx.call(ctx.client.revoke_user_token(tenant, &target.id))
            .await?;
        output::note(&format!("revoked the token of {}", describe(&target)));
        return Ok(());
    }
    if own {
        ctx.confirm(
            "will replace your own management token: the one this command used stops working",
            "Replace it?",
            yes,
        )?;
        let made = ctx.call(ctx.client.rotate_own_token()).await?;
        return print_token(ctx, made, "a new token for");
    }
    let made = ctx
        .call(ctx.client.rotate_user_token(tenant, &target.id))
        .await?;
    print_token(ctx, made, "a first token for")
}
