//! `keydesk keys …`: list, inspect, create and change keys; revoke by ids
//! or by filter after a preview; find a key by its leaked secret. A secret
//! goes to stdout alone (everything else to stderr), so `> file` holds
//! exactly it; anything that cannot be undone asks first, or needs `--yes`.

use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use zeroize::{Zeroize, Zeroizing};

use super::context::{Ctx, Target};
use super::error::{CliError, CliResult};
use super::output::{self, Format, Table, maybe_time, time};
use crate::api::{self, BulkOutcome};
use crate::client::{FleetApplied, KeyListQuery};
use crate::domain::KeySort;
use crate::domain::key::{KeyStatus, parse_grace};

#[derive(Args, Debug)]
pub struct KeysCommand {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// List the tenant's keys (every page; -o json: an array of keys).
    List(ListArgs),
    /// One key, field by field.
    Get {
        /// The key's id.
        id: String,
    },
    /// Create a key; its secret, shown this once, alone on stdout.
    Create(CreateArgs),
    /// Change a key's name, description, scopes, owner or expiry.
    Edit(EditArgs),
    /// Disable keys: they stop verifying until enabled.
    Disable {
        /// Key ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Enable disabled keys.
    Enable {
        /// Key ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Revoke keys for good, by ids or by filter: shows what it will revoke and asks.
    Revoke(RevokeArgs),
    /// Delete keys (their events stay): shows what it will delete and asks.
    Delete {
        /// Key ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Do not ask.
        #[arg(short, long)]
        yes: bool,
    },
    /// A new secret for a key, alone on stdout; with --grace the old one keeps working meanwhile.
    Regenerate {
        /// The key's id.
        id: String,
        /// How long the old secret keeps verifying: 0 (default: it stops at once, so this asks), 90m, 24h, 7d at most.
        #[arg(long, default_value = "0", value_parser = grace)]
        grace: u32,
        /// Do not ask.
        #[arg(short, long)]
        yes: bool,
    },
    /// End a key's rotation now: its previous secret stops verifying.
    EndRotation {
        /// The key's id.
        id: String,
    },
    /// A new key with another key's scopes, owner and expiry; its secret alone on stdout.
    Duplicate {
        /// The key to copy.
        id: String,
        /// The new key's name (default: the source's, suffixed).
        #[arg(long)]
        name: Option<String>,
        /// The new key's description.
        #[arg(long)]
        description: Option<String>,
    },
    /// A stored secret, alone on stdout (tenants that allow retrieval).
    Reveal {
        /// The key's id.
        id: String,
    },
    /// Which key is this secret? Pass `-` to read it from stdin, so it stays out of your shell history.
    Lookup {
        /// The secret, or `-` for stdin.
        secret: String,
        /// Then revoke the key (shows it and asks, unless --yes).
        #[arg(long)]
        revoke: bool,
        /// With --revoke: wait until every server instance has applied it, and say so.
        #[arg(long, requires = "revoke")]
        wait: bool,
        /// Do not ask.
        #[arg(short, long)]
        yes: bool,
    },
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only keys whose name, id, owner or start contains this.
    #[arg(short = 'q', long = "query", alias = "name")]
    query: Option<String>,
    /// Only keys in this status.
    #[arg(long, value_parser = status)]
    status: Option<KeyStatus>,
    /// Only keys of this owner (user id or name).
    #[arg(long)]
    owner: Option<String>,
    /// Only keys the server flags as suspicious.
    #[arg(long)]
    suspicious: bool,
    /// Only keys in a rotation's grace.
    #[arg(long)]
    rotating: bool,
    /// status, name, created, last_used or expires; `-` first reverses it.
    #[arg(long, value_parser = sort, allow_hyphen_values = true)]
    sort: Option<KeySort>,
    /// At most this many keys (default: all).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    limit: Option<u32>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The key's name.
    name: String,
    /// What the key is for.
    #[arg(long, default_value = "")]
    description: String,
    /// A scope the key grants (repeat, or separate with commas).
    #[arg(long = "scope", value_delimiter = ',')]
    scopes: Vec<String>,
    /// The owner's user id (default: you).
    #[arg(long)]
    owner: Option<String>,
    /// When it expires: a date (2027-01-31), a time (RFC 3339), or a span from now (90d, 12h, 2w).
    #[arg(long, value_parser = expiry)]
    expires: Option<DateTime<Utc>>,
}

#[derive(Args, Debug)]
pub struct EditArgs {
    /// The key's id.
    id: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// A new description.
    #[arg(long)]
    description: Option<String>,
    /// Replace the scopes with these (repeat, or separate with commas).
    #[arg(long = "scope", value_delimiter = ',', conflicts_with_all = ["add_scope", "remove_scope"])]
    scopes: Option<Vec<String>>,
    /// Add a scope (repeat, or separate with commas).
    #[arg(long, value_delimiter = ',')]
    add_scope: Vec<String>,
    /// Remove a scope (repeat, or separate with commas).
    #[arg(long, value_delimiter = ',')]
    remove_scope: Vec<String>,
    /// A new owner (user id).
    #[arg(long)]
    owner: Option<String>,
    /// A new expiry: a date, a time (RFC 3339), or a span from now (90d).
    #[arg(long, value_parser = expiry, conflicts_with = "no_expiry")]
    expires: Option<DateTime<Utc>>,
    /// The key never expires.
    #[arg(long)]
    no_expiry: bool,
}

#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// Key ids (or use the filter options).
    ids: Vec<String>,
    /// Keys of this owner (user id or name).
    #[arg(long, conflicts_with = "ids")]
    owner: Option<String>,
    /// Keys whose name, id, owner or start contains this.
    #[arg(long, conflicts_with = "ids")]
    name: Option<String>,
    /// Keys that hold this scope.
    #[arg(long, conflicts_with = "ids")]
    scope: Option<String>,
    /// Keys created by this user (id or name).
    #[arg(long, conflicts_with = "ids")]
    created_by: Option<String>,
    /// Show what would be revoked, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Wait until every server instance has applied the revocation, and say so.
    #[arg(long, conflicts_with = "dry_run")]
    wait: bool,
    /// Do not ask.
    #[arg(short, long)]
    yes: bool,
}

fn grace(raw: &str) -> Result<u32, String> {
    parse_grace(raw)
}

fn status(raw: &str) -> Result<KeyStatus, String> {
    KeyStatus::parse(raw).ok_or_else(|| "one of active, disabled, expired, revoked".to_owned())
}

fn sort(raw: &str) -> Result<KeySort, String> {
    KeySort::parse(raw).ok_or_else(|| {
        "one of status, name, created, last_used, expires (`-` first reverses)".to_owned()
    })
}

/// `2027-01-31` (its start, UTC), an RFC 3339 time, or `90d`/`12h`/`2w`/`30m` from now.
pub fn expiry(raw: &str) -> Result<DateTime<Utc>, String> {
    parse_expiry(raw, Utc::now())
}

fn parse_expiry(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let unit_at = raw.len().saturating_sub(1);
    let (number, unit) = raw.split_at(unit_at);
    let number: i64 = number.parse().map_err(|_| {
        "a date (2027-01-31), an RFC 3339 time, or a span such as 90d, 12h, 2w".to_owned()
    })?;
    let span = match unit {
        "m" => chrono::Duration::try_minutes(number),
        "h" => chrono::Duration::try_hours(number),
        "d" => chrono::Duration::try_days(number),
        "w" => chrono::Duration::try_weeks(number),
        _ => None,
    }
    .filter(|_| number > 0)
    .ok_or_else(|| "a span is a positive number and m, h, d or w: 90d, 12h, 2w".to_owned())?;
    now.checked_add_signed(span)
        .ok_or_else(|| "too far in the future".to_owned())
}

pub async fn run(ctx: &Ctx, action: KeysAction) -> CliResult {
    match action {
        KeysAction::List(args) => list(ctx, args).await,
        KeysAction::Get { id } => {
            let tenant = ctx.tenant().await?;
            let key = ctx.call(ctx.client.key(&tenant, &id)).await?;
            show_key(ctx, &key)
        }
        KeysAction::Create(args) => create(ctx, args).await,
        KeysAction::Edit(args) => edit(ctx, args).await,
        KeysAction::Disable { ids } => each(ctx, &ids, "disabled", Change::Disable).await,
        KeysAction::Enable { ids } => each(ctx, &ids, "enabled", Change::Enable).await,
        KeysAction::Revoke(args) => revoke(ctx, args).await,
        KeysAction::Delete { ids, yes } => delete(ctx, &ids, yes).await,
        KeysAction::Regenerate { id, grace, yes } => regenerate(ctx, &id, grace, yes).await,
        KeysAction::EndRotation { id } => {
            let tenant = ctx.tenant().await?;
            let key = ctx.call(ctx.client.end_rotation(&tenant, &id)).await?;
            output::note(&format!(
                "ended the rotation of {}: its previous secret no longer verifies",
                describe(&key)
            ));
            show_key(ctx, &key)
        }
        KeysAction::Duplicate {
            id,
            name,
            description,
        } => {
            let tenant = ctx.tenant().await?;
            let body = api::DuplicateKey { name, description };
            let made = ctx
                .call(ctx.client.duplicate_key(&tenant, &id, &body))
                .await?;
            print_secret(ctx, made, "created")
        }
        KeysAction::Reveal { id } => {
            let tenant = ctx.tenant().await?;
            let mut revealed = ctx.call(ctx.client.reveal_key(&tenant, &id)).await?;
            let printed = match ctx.output {
                Format::Json => output::json_secret(&revealed),
                Format::Table => output::secret(&revealed.secret),
            };
            revealed.secret.zeroize();
            printed
        }
        KeysAction::Lookup {
            secret,
            revoke,
            wait,
            yes,
        } => lookup(ctx, &secret, revoke, wait, yes).await,
    }
}

async fn list(ctx: &Ctx, args: ListArgs) -> CliResult {
    let tenant = ctx.tenant().await?;
    let mut query = KeyListQuery {
        q: args.query,
        status: args.status.map(|s| s.as_str().to_owned()),
        owner: args.owner,
        sort: args.sort,
        limit: None,
        cursor: None,
        suspicious: args.suspicious.then_some(true),
        rotating: args.rotating.then_some(true),
    };
    let wanted = args.limit.map_or(usize::MAX, |l| l as usize);
    let mut keys: Vec<api::Key> = Vec::new();
    loop {
        query.limit = Some(
            u32::try_from(wanted - keys.len())
                .unwrap_or(u32::MAX)
                .min(500),
        );
        let page = ctx.call(ctx.client.list_keys(&tenant, &query)).await?;
        keys.extend(page.items);
        match page.next_cursor {
            Some(cursor) if keys.len() < wanted => query.cursor = Some(cursor),
            _ => break,
        }
    }
    keys.truncate(wanted);
    match ctx.output {
        Format::Json => output::json(&keys),
        Format::Table => {
            let mut table = Table::new(&[
                "ID",
                "NAME",
                "STATUS",
                "OWNER",
                "SCOPES",
                "START",
                "LAST USED",
                "EXPIRES",
            ])
            .optional(&["LAST USED", "START", "EXPIRES", "SCOPES", "OWNER"]);
            for key in &keys {
                table.row(vec![
                    key.id.clone(),
                    key.name.clone(),
                    status_word(key),
                    key.owner.name.clone(),
                    key.scopes.join(","),
                    key.start.clone(),
                    maybe_time(key.last_used_at.as_ref()),
                    maybe_time(key.expires_at.as_ref()),
                ]);
            }
            if table.is_empty() {
                output::note(&format!("no keys in {tenant} match"));
                return Ok(());
            }
            table.print()
        }
    }
}

/// The status, with what else is going on (`active, rotating`).
fn status_word(key: &api::Key) -> String {
    let mut word = key.status.as_str().to_owned();
    if key.rotating_until.is_some() {
        word.push_str(",rotating");
    }
    if key.suspicious.is_some() {
        word.push_str(",suspicious");
    }
    word
}

fn show_key(ctx: &Ctx, key: &api::Key) -> CliResult {
    match ctx.output {
        Format::Json => output::json(key),
        Format::Table => {
            let mut fields = vec![
                ("id", key.id.clone()),
                ("name", key.name.clone()),
                ("tenant", key.tenant.clone()),
                ("status", status_word(key)),
                ("owner", format!("{} ({})", key.owner.name, key.owner.id)),
                ("scopes", key.scopes.join(", ")),
                ("start", key.start.clone()),
                ("description", key.description.clone()),
                (
                    "created",
                    format!("{} by {}", time(&key.created_at), key.created_by.name),
                ),
                (
                    "updated",
                    format!("{} by {}", time(&key.updated_at), key.updated_by.name),
                ),
                ("expires", maybe_time(key.expires_at.as_ref())),
                ("last used", maybe_time(key.last_used_at.as_ref())),
                (
                    "24h",
                    format!(
                        "{} valid, {} failed",
                        key.usage_24h.valid, key.usage_24h.failed
                    ),
                ),
            ];
            if let Some(until) = &key.rotating_until {
                fields.push(("rotating until", time(until)));
            }
            if let Some(at) = &key.revoked_at {
                let by = key.revoked_by.as_ref().map_or("", |u| u.name.as_str());
                fields.push(("revoked", format!("{} by {by}", time(at))));
            }
            if let Some(suspicion) = &key.suspicious {
                fields.push(("suspicious", suspicion.reason.clone()));
            }
            fields.push(("version", key.version.to_string()));
            output::fields(&fields)
        }
    }
}

/// `name (id)`, cleaned for the terminal.
fn describe(key: &api::Key) -> String {
    output::cell(&format!("{} ({})", key.name, key.id))
}

/// Prints a key with its new secret: the secret alone on stdout (or the
/// whole answer as JSON), the rest on stderr. The secret is wiped after.
fn print_secret(ctx: &Ctx, mut made: api::KeyWithSecret, verb: &str) -> CliResult {
    let printed = match ctx.output {
        _ if made.secret.is_none() => Err(CliError::Failed(
            "the server sent no secret for the key".to_owned(),
        )),
        Format::Json => output::json_secret(&made),
        Format::Table => {
            let secret = made.secret.as_deref().unwrap_or_default();
            output::note(&format!(
                "{verb} key {} in {}; its secret, shown this once, is on stdout",
                describe(&made.key),
                made.key.tenant
            ));
            output::secret(secret)
        }
    };
    if let Some(secret) = made.secret.as_mut() {
        secret.zeroize();
    }
    printed
}

async fn create(ctx: &Ctx, args: CreateArgs) -> CliResult {
    let tenant = ctx.tenant().await?;
    let body = api::CreateKey {
        name: args.name,
        description: args.description,
        scopes: args.scopes,
        owner: args.owner,
        expires_at: args.expires,
    };
    let made = ctx.call(ctx.client.create_key(&tenant, &body)).await?;
    print_secret(ctx, made, "created")
}

async fn edit(ctx: &Ctx, args: EditArgs) -> CliResult {
    let tenant = ctx.tenant().await?;
    let key = ctx.call(ctx.client.key(&tenant, &args.id)).await?;
    let scopes = if let Some(scopes) = args.scopes {
        Some(scopes)
    } else if args.add_scope.is_empty() && args.remove_scope.is_empty() {
        None
    } else {
        let mut scopes = key.scopes.clone();
        for scope in args.add_scope {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.retain(|s| !args.remove_scope.contains(s));
        Some(scopes)
    };
    let expires_at = if args.no_expiry {
        Some(None)
    } else {
        args.expires.map(Some)
    };
    let body = api::UpdateKey {
        name: args.name,
        description: args.description,
        scopes,
        owner: args.owner,
        expires_at,
        rate_limit: None,
    };
    if body.name.is_none()
        && body.description.is_none()
        && body.scopes.is_none()
        && body.owner.is_none()
        && body.expires_at.is_none()
    {
        return Err(CliError::Usage(
            "nothing to change: pass --name, --description, --scope, --add-scope, --remove-scope, --owner, --expires or --no-expiry".to_owned(),
        ));
    }
    // If-Match: an edit made meanwhile by someone else is not overwritten.
    let key = ctx
        .call(
            ctx.client
                .update_key(&tenant, &args.id, &body, Some(key.version)),
        )
        .await?;
    output::note(&format!("updated key {}", describe(&key)));
    show_key(ctx, &key)
}

#[derive(Clone, Copy)]
enum Change {
    Disable,
    Enable,
}

/// Applies a reversible change to each key, saying each result; the exit
/// code is the first failure's.
async fn each(ctx: &Ctx, ids: &[String], done: &str, change: Change) -> CliResult {
    let tenant = ctx.tenant().await?;
    let mut changed = Vec::new();
    let mut failure = None;
    for id in ids {
        let result = match change {
            Change::Disable => ctx.call(ctx.client.disable_key(&tenant, id)).await,
            Change::Enable => ctx.call(ctx.client.enable_key(&tenant, id)).await,
        };
        match result {
            Ok(key) => {
                output::note(&format!("{done} key {}", describe(&key)));
                changed.push(key);
            }
            Err(err) => {
                output::note(&format!("keydesk: {}: {err}", output::cell(id)));
                failure.get_or_insert(err);
            }
        }
    }
    if ctx.output == Format::Json {
        output::json(&changed)?;
    }
    failure.map_or(Ok(()), Err)
}

async fn delete(ctx: &Ctx, ids: &[String], yes: bool) -> CliResult {
    let tenant = ctx.tenant().await?;
    let mut keys = Vec::new();
    for id in ids {
        keys.push(ctx.call(ctx.client.key(&tenant, id)).await?);
    }
    let list: Vec<String> = keys.iter().map(|k| format!("  {}", describe(k))).collect();
    ctx.confirm(
        &format!(
            "will delete {} key(s) of {tenant}:\n{}",
            keys.len(),
            list.join("\n")
        ),
        "Delete them? Their secrets stop verifying and cannot be restored.",
        yes,
    )?;
    let mut failure = None;
    for key in &keys {
        match ctx.call(ctx.client.delete_key(&tenant, &key.id)).await {
            Ok(()) => output::note(&format!("deleted key {}", describe(key))),
            Err(err) => {
                output::note(&format!("keydesk: {}: {err}", describe(key)));
                failure.get_or_insert(err);
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

async fn regenerate(ctx: &Ctx, id: &str, grace: u32, yes: bool) -> CliResult {
    let tenant = ctx.tenant().await?;
    if grace == 0 {
        let key = ctx.call(ctx.client.key(&tenant, id)).await?;
        ctx.confirm(
            &format!(
                "will regenerate key {} of {tenant} with no grace: its current secret stops verifying at once (--grace 24h keeps it working meanwhile)",
                describe(&key)
            ),
            "Regenerate it now?",
            yes,
        )?;
    }
    let made = ctx.call(ctx.client.rotate_key(&tenant, id, grace)).await?;
    if let Some(until) = &made.key.rotating_until {
        output::note(&format!(
            "the previous secret verifies until {}",
            time(until)
        ));
    }
    print_secret(ctx, made, "regenerated")
}

async fn revoke(ctx: &Ctx, args: RevokeArgs) -> CliResult {
    let tenant = ctx.tenant().await?;
    let filter = api::BulkRevokeFilter {
        owner: args.owner,
        created_by: args.created_by,
        scope: args.scope,
        q: args.name,
        status: None,
    };
    let by_filter = filter.owner.is_some()
        || filter.created_by.is_some()
        || filter.scope.is_some()
        || filter.q.is_some();
    if args.ids.is_empty() && !by_filter {
        return Err(CliError::Usage(
            "which keys? pass key ids, or --owner, --name, --scope or --created-by".to_owned(),
        ));
    }
    let mut request = api::BulkRevoke {
        ids: (!args.ids.is_empty()).then_some(args.ids),
        filter: by_filter.then_some(filter),
        dry_run: true,
    };
    let preview = ctx.call(ctx.client.bulk_revoke(&tenant, &request)).await?;
    let would: Vec<&api::BulkRevokeItem> = preview
        .results
        .iter()
        .filter(|r| r.outcome == BulkOutcome::WouldRevoke)
        .collect();
    let mut text = format!("will revoke {} key(s) of {tenant}:", would.len());
    for item in &would {
        text.push_str(&format!("\n  {}", item_name(item)));
    }
    for item in preview
        .results
        .iter()
        .filter(|r| r.outcome == BulkOutcome::Refused)
    {
        text.push_str(&format!("\n  not {}: {}", item_name(item), refusal(item)));
    }
    if args.dry_run || would.is_empty() {
        output::note(&text.replacen("will revoke", "would revoke", 1));
        if ctx.output == Format::Json {
            output::json(&preview)?;
        }
        return refused_exit(&preview);
    }
    ctx.confirm(
        &text,
        "Revoke them? Their secrets stop verifying for good.",
        args.yes,
    )?;
    // Exactly the keys previewed, even if the filter matches more by now.
    request.ids = Some(would.iter().map(|r| r.id.clone()).collect());
    request.filter = None;
    request.dry_run = false;
    let (mut result, fleet) = if args.wait {
        ctx.call(ctx.client.bulk_revoke_everywhere(&tenant, &request))
            .await?
    } else {
        (
            ctx.call(ctx.client.bulk_revoke(&tenant, &request)).await?,
            None,
        )
    };
    // What the preview refused was asked for too: it is part of the answer.
    for item in preview
        .results
        .iter()
        .filter(|r| r.outcome == BulkOutcome::Refused)
    {
        result.results.push(item.clone());
        result.refused += 1;
    }
    match ctx.output {
        Format::Json => output::json(&result)?,
        Format::Table => {
            let mut table = Table::new(&["ID", "NAME", "RESULT"]);
            for item in &result.results {
                let outcome = match item.outcome {
                    BulkOutcome::Revoked => "revoked".to_owned(),
                    BulkOutcome::WouldRevoke => "would revoke".to_owned(),
                    BulkOutcome::Refused => format!("refused: {}", refusal(item)),
                };
                table.row(vec![
                    item.id.clone(),
                    item.name.clone().unwrap_or_default(),
                    outcome,
                ]);
            }
            table.print()?;
        }
    }
    output::note(&format!(
        "revoked {} key(s), {} refused",
        result.revoked, result.refused
    ));
    refused_exit(&result)?;
    fleet_confirmed(args.wait, fleet.as_ref())
}

/// With `--wait`: says how far the fleet applied the revocation; not every
/// live instance within the server's wait is a failure (exit 1).
fn fleet_confirmed(wait: bool, fleet: Option<&FleetApplied>) -> CliResult {
    if !wait {
        return Ok(());
    }
    let Some(fleet) = fleet else {
        return Err(CliError::Failed(
            "revoked, but the server did not say which instances applied it (an older server?)"
                .to_owned(),
        ));
    };
    output::note(&format!("revoked · {}", output::cell(&fleet.describe())));
    if fleet.everywhere() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "revoked, but not yet applied everywhere: {}",
            fleet.describe()
        )))
    }
}

fn item_name(item: &api::BulkRevokeItem) -> String {
    output::cell(&match &item.name {
        Some(name) => format!("{name} ({})", item.id),
        None => item.id.clone(),
    })
}

fn refusal(item: &api::BulkRevokeItem) -> String {
    output::cell(&format!(
        "{} ({})",
        item.detail.as_deref().unwrap_or("refused"),
        item.code.as_deref().unwrap_or("")
    ))
}

/// A bulk revoke that refused some keys fails, with the exit code a single
/// revoke of the first refused key would have given.
fn refused_exit(result: &api::BulkRevokeResult) -> CliResult {
    let Some(item) = result
        .results
        .iter()
        .find(|r| r.outcome == BulkOutcome::Refused)
    else {
        return Ok(());
    };
    let status = match item.code.as_deref() {
        Some("NOT_FOUND") => 404,
        Some("FORBIDDEN") => 403,
        _ => 409,
    };
    Err(CliError::Refused {
        message: format!(
            "{} of {} key(s) not revoked",
            result.refused,
            result.results.len()
        ),
        status,
    })
}

/// Reads the secret: from stdin for `-` (one line), else the argument.
fn read_secret(arg: &str) -> CliResult<Zeroizing<String>> {
    if arg != "-" {
        output::note(
            "keydesk: warning: a secret on the command line stays in your shell history and shows in `ps`; \
             pass `-` and give it on stdin",
        );
        return Ok(Zeroizing::new(arg.trim().to_owned()));
    }
    let mut raw = Zeroizing::new(String::new());
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut raw)
        .map_err(|e| CliError::Usage(format!("cannot read the secret from stdin: {e}")))?;
    let secret = Zeroizing::new(raw.trim().to_owned());
    if secret.is_empty() {
        return Err(CliError::Usage("no secret on stdin".to_owned()));
    }
    Ok(secret)
}

async fn lookup(ctx: &Ctx, secret: &str, revoke: bool, wait: bool, yes: bool) -> CliResult {
    let secret = read_secret(secret)?;
    let found = ctx.call(ctx.client.lookup_key(&secret)).await?;
    drop(secret);
    let key = &found.key;
    let matched = match found.matched {
        api::MatchedSecret::Current => "its current secret",
        api::MatchedSecret::Previous => "its previous secret (in a rotation's grace)",
    };
    let what = format!(
        "the secret is {matched} of key {} in tenant {}, owned by {}, {}",
        describe(key),
        output::cell(&found.tenant.id),
        output::cell(&key.owner.name),
        status_word(key)
    );
    if !revoke {
        output::note(&what);
        return match ctx.output {
            Format::Json => output::json(&found),
            Format::Table => show_key(ctx, key),
        };
    }
    if key.status == KeyStatus::Revoked {
        output::note(&what);
        return Err(CliError::Usage(format!(
            "key {} is revoked already",
            describe(key)
        )));
    }
    ctx.confirm(&what, "Revoke it now?", yes)?;
    let (revoked, fleet) = if wait {
        ctx.call(ctx.client.revoke_key_everywhere(&found.tenant.id, &key.id))
            .await?
    } else {
        (
            ctx.call(ctx.client.revoke_key(&found.tenant.id, &key.id))
                .await?,
            None,
        )
    };
    output::note(&format!(
        "revoked key {} in {}",
        describe(&revoked),
        output::cell(&found.tenant.id)
    ));
    if ctx.output == Format::Json {
        output::json(&revoked)?;
    }
    fleet_confirmed(wait, fleet.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_is_a_date_a_time_or_a_span() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |raw| parse_expiry(raw, now).map(|t| time(&t));
        assert_eq!(at("2027-01-31").unwrap(), "2027-01-31T00:00:00Z");
        assert_eq!(
            at("2027-01-31T12:00:00+01:00").unwrap(),
            "2027-01-31T11:00:00Z"
        );
        assert_eq!(at("90d").unwrap(), "2027-03-04T10:00:00Z");
        assert_eq!(at("12h").unwrap(), "2026-12-04T22:00:00Z");
        assert_eq!(at("2w").unwrap(), "2026-12-18T10:00:00Z");
        for bad in ["", "soon", "0d", "-3d", "3y", "d"] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }
}
