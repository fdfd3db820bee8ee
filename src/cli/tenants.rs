//! `keydesk tenants list|create`, `keydesk settings get|set` and
//! `keydesk me`: who you are, which tenants you see, and a tenant's rules.

use clap::{Args, Subcommand};

use super::context::{Ctx, Target};
use super::error::{CliError, CliResult};
use super::output::{self, Format, Table, time};
use crate::api;
use crate::domain::SecretRetrieval;

#[derive(Args, Debug)]
pub struct TenantsCommand {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: TenantsAction,
}

#[derive(Subcommand, Debug)]
pub enum TenantsAction {
    /// The tenants you see (-o json: an array of tenants).
    List,
    /// Create a tenant (system administrators).
    Create {
        /// Its id: 2–63 of a-z, 0-9 and '-', starting with a letter.
        id: String,
        /// Its display name (default: the id).
        #[arg(long)]
        name: Option<String>,
        /// Switch API keys on at once.
        #[arg(long)]
        enable_keys: bool,
    },
}

#[derive(Args, Debug)]
pub struct SettingsCommand {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: SettingsAction,
}

#[derive(Subcommand, Debug)]
pub enum SettingsAction {
    /// The tenant's settings.
    Get,
    /// Change settings: `keydesk settings set api_keys_enabled=true max_keys_per_user=10 scopes=read,write`.
    Set {
        /// FIELD=VALUE pairs; `null` lifts a limit; lists are comma-separated.
        #[arg(required = true, value_name = "FIELD=VALUE")]
        changes: Vec<String>,
        /// Do not ask (switching secret_retrieval to never erases every stored secret).
        #[arg(short, long)]
        yes: bool,
    },
}

#[derive(Args, Debug)]
pub struct MeCommand {
    #[command(flatten)]
    pub target: Target,
}

pub async fn run_tenants(ctx: &Ctx, action: TenantsAction) -> CliResult {
    match action {
        TenantsAction::List => {
            let tenants = ctx.call(ctx.client.tenants()).await?.items;
            match ctx.output {
                Format::Json => output::json(&tenants),
                Format::Table => {
                    let mut table = Table::new(&["ID", "NAME", "KEYS", "CREATED"]);
                    for tenant in &tenants {
                        table.row(vec![
                            tenant.id.clone(),
                            tenant.name.clone(),
                            on_off(tenant.settings.api_keys_enabled).to_owned(),
                            time(&tenant.created_at),
                        ]);
                    }
                    table.print()
                }
            }
        }
        TenantsAction::Create {
            id,
            name,
            enable_keys,
        } => {
            let body = api::CreateTenant {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                settings: enable_keys.then(|| api::UpdateSettings {
                    api_keys_enabled: Some(true),
                    ..api::UpdateSettings::default()
                }),
            };
            let tenant = ctx.call(ctx.client.create_tenant(&body)).await?;
            output::note(&format!("created tenant {}", output::cell(&tenant.id)));
            match ctx.output {
                Format::Json => output::json(&tenant),
                Format::Table => show_settings(&tenant.settings),
            }
        }
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

pub async fn run_settings(ctx: &Ctx, action: SettingsAction) -> CliResult {
    let tenant = ctx.tenant().await?;
    let settings = match action {
        SettingsAction::Get => ctx.call(ctx.client.settings(&tenant)).await?,
        SettingsAction::Set { changes, yes } => {
            let body = parse_changes(&changes)?;
            let current = ctx.call(ctx.client.settings(&tenant)).await?;
            if body.secret_retrieval == Some(SecretRetrieval::Never)
                && current.secret_retrieval != SecretRetrieval::Never
            {
                ctx.confirm(
                    &format!(
                        "secret_retrieval=never erases every stored secret of {tenant}: no key's secret can be revealed again"
                    ),
                    "Erase them?",
                    yes,
                )?;
            }
            // If-Match: a change made meanwhile by someone else is not overwritten.
            let settings = ctx
                .call(
                    ctx.client
                        .update_settings(&tenant, &body, Some(current.version)),
                )
                .await?;
            output::note(&format!("updated the settings of {tenant}"));
            settings
        }
    };
    match ctx.output {
        Format::Json => output::json(&settings),
        Format::Table => show_settings(&settings),
    }
}

/// `field=value` pairs as the API's settings change: values are JSON
/// where they read as JSON (`true`, `10`, `null`), lists split at commas,
/// anything else a string; the API's own field names and checks apply.
fn parse_changes(changes: &[String]) -> CliResult<api::UpdateSettings> {
    let mut object = serde_json::Map::new();
    for change in changes {
        let Some((field, value)) = change.split_once('=') else {
            return Err(CliError::Usage(format!(
                "{change:?}: write FIELD=VALUE, e.g. max_keys_per_user=10"
            )));
        };
        let field = field.trim().replace('-', "_");
        let value = value.trim();
        let value = if field == "scopes" {
            serde_json::Value::from(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>(),
            )
        } else if field == "rate_limit" && value != "null" {
            // `100/60`: 100 verifications per 60 seconds.
            let (requests, window) = value.split_once('/').ok_or_else(|| {
                CliError::Usage(
                    "rate_limit: write REQUESTS/SECONDS, e.g. 100/60, or null".to_owned(),
                )
            })?;
            let number = |text: &str| {
                text.trim()
                    .parse::<u64>()
                    .map_err(|_| CliError::Usage(format!("rate_limit: {text:?} is not a number")))
            };
            serde_json::json!({ "requests": number(requests)?, "window_seconds": number(window)? })
        } else {
            serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::from(value))
        };
        object.insert(field, value);
    }
    serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|e| CliError::Usage(format!("settings: {e}")))
}

fn show_settings(settings: &api::Settings) -> CliResult {
    let limit = |value: Option<u32>| value.map_or_else(|| "none".to_owned(), |v| v.to_string());
    output::fields(&[
        ("api_keys_enabled", settings.api_keys_enabled.to_string()),
        ("max_expiry_days", limit(settings.max_expiry_days)),
        ("max_keys_per_user", limit(settings.max_keys_per_user)),
        ("key_creators", word(&settings.key_creators)),
        ("scopes_editable", settings.scopes_editable.to_string()),
        (
            "revoke_requires_disabled",
            settings.revoke_requires_disabled.to_string(),
        ),
        ("secret_retrieval", word(&settings.secret_retrieval)),
        ("key_prefix", settings.key_prefix.clone()),
        ("scopes", settings.scopes.join(",")),
        (
            "rate_limit",
            settings.rate_limit.map_or_else(
                || "none".to_owned(),
                |r| format!("{}/{}", r.requests, r.window_seconds),
            ),
        ),
        ("version", settings.version.to_string()),
    ])
}

/// An enum as its JSON word (`developers`, `never`).
fn word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(word)) => word,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

pub async fn run_me(ctx: &Ctx) -> CliResult {
    let me = ctx.call(ctx.client.me()).await?;
    match ctx.output {
        Format::Json => output::json(&me),
        Format::Table => {
            let user = &me.user;
            let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
            let tenants: Vec<&str> = me.tenants.iter().map(|t| t.id.as_str()).collect();
            output::fields(&[
                ("id", user.id.clone()),
                ("name", user.name.clone()),
                ("email", user.email.clone().unwrap_or_default()),
                (
                    "tenant",
                    user.tenant.clone().unwrap_or_else(|| "-".to_owned()),
                ),
                ("roles", roles.join(", ")),
                ("licensed", user.licensed.to_string()),
                ("sees", tenants.join(", ")),
            ])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(changes: &[&str]) -> Result<serde_json::Value, String> {
        let changes: Vec<String> = changes.iter().map(|c| (*c).to_owned()).collect();
        parse_changes(&changes)
            .map(|b| serde_json::to_value(b).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn settings_are_written_as_field_value_pairs() {
        assert_eq!(
            parsed(&[
                "api_keys_enabled=true",
                "max-keys-per-user=10",
                "max_expiry_days=null",
                "scopes=read, write",
                "secret_retrieval=admins",
                "rate_limit=100/60",
            ])
            .unwrap(),
            serde_json::json!({
                "api_keys_enabled": true,
                "max_keys_per_user": 10,
                "max_expiry_days": null,
                "scopes": ["read", "write"],
                "secret_retrieval": "admins",
                "rate_limit": { "requests": 100, "window_seconds": 60 },
            })
        );
    }

    #[test]
    fn a_wrong_setting_is_named() {
        assert!(parsed(&["colour=blue"]).unwrap_err().contains("colour"));
        assert!(
            parsed(&["max_keys_per_user=many"])
                .unwrap_err()
                .contains("settings")
        );
        assert!(
            parsed(&["api_keys_enabled"])
                .unwrap_err()
                .contains("FIELD=VALUE")
        );
    }
}
