//! `keydesk events list|tail`: the tenant's audit log, page by page or as
//! it is committed. `tail` follows the event stream and resumes after a
//! dropped connection from the last event it printed, so it neither loses
//! nor repeats one; with `-o json` it prints one event per line (JSON Lines).

use std::time::Duration;

use clap::{Args, Subcommand};
use futures::StreamExt;

use super::context::{Ctx, Target};
use super::error::{CliError, CliResult};
use super::output::{self, Format, Table, time};
use crate::api;
use crate::client::{ClientError, EventListQuery};

#[derive(Args, Debug)]
pub struct EventsCommand {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: EventsAction,
}

#[derive(Subcommand, Debug)]
pub enum EventsAction {
    /// The newest events first (-o json: an array of events).
    List {
        /// Only events about this key (or user) id.
        #[arg(long)]
        key: Option<String>,
        /// Only this action, e.g. key.revoked.
        #[arg(long)]
        action: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
    },
    /// Follow the events as they happen, until interrupted (-o json: one event per line).
    Tail {
        /// Only events about this key (or user) id.
        #[arg(long)]
        key: Option<String>,
        /// Only this action, e.g. key.revoked.
        #[arg(long)]
        action: Option<String>,
        /// First print the events after this event id (default: only new ones).
        #[arg(long)]
        since: Option<i64>,
    },
}

pub async fn run(ctx: &Ctx, action: EventsAction) -> CliResult {
    let tenant = ctx.tenant().await?;
    match action {
        EventsAction::List { key, action, limit } => {
            let mut query = EventListQuery {
                key,
                action,
                cursor: None,
                limit: None,
            };
            let mut events = Vec::new();
            let wanted = limit as usize;
            loop {
                query.limit = Some(
                    u32::try_from(wanted - events.len())
                        .unwrap_or(1000)
                        .min(1000),
                );
                let page = ctx.call(ctx.client.event_list(&tenant, &query)).await?;
                events.extend(page.items);
                match page.next_cursor {
                    Some(cursor) if events.len() < wanted => query.cursor = Some(cursor),
                    _ => break,
                }
            }
            match ctx.output {
                Format::Json => output::json(&events),
                Format::Table => {
                    let mut table =
                        Table::new(&["ID", "AT", "ACTION", "ACTOR", "TARGET", "CHANGES"])
                            .optional(&["CHANGES", "ACTOR"]);
                    for event in &events {
                        table.row(row(event));
                    }
                    if table.is_empty() {
                        output::note(&format!("no events in {tenant} match"));
                        return Ok(());
                    }
                    table.print()
                }
            }
        }
        EventsAction::Tail { key, action, since } => tail(ctx, &tenant, key, action, since).await,
    }
}

fn row(event: &api::EventBody) -> Vec<String> {
    let target = if event.target_name.is_empty() || event.target_name == event.target_id {
        event.target_id.clone()
    } else {
        format!("{} ({})", event.target_name, event.target_id)
    };
    let changes = match &event.changes {
        serde_json::Value::Object(map) if map.is_empty() => String::new(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    vec![
        event.id.to_string(),
        time(&event.at),
        event.action.clone(),
        event.actor.name.clone(),
        target,
        changes,
    ]
}

/// How long `tail` waits before reconnecting after a dropped stream.
const RECONNECT: Duration = Duration::from_secs(1);

async fn tail(
    ctx: &Ctx,
    tenant: &str,
    key: Option<String>,
    action: Option<String>,
    since: Option<i64>,
) -> CliResult {
    // Where to start: after `since`, or after the newest event now.
    let mut last = match since {
        Some(id) => id,
        None => {
            let query = EventListQuery {
                limit: Some(1),
                ..EventListQuery::default()
            };
            let newest = ctx.call(ctx.client.event_list(tenant, &query)).await?;
            newest.items.first().map_or(0, |e| e.id)
        }
    };
    output::note(&format!("following the events of {tenant}; Ctrl-C stops"));
    loop {
        let mut stream = match ctx.call(ctx.client.event_stream(tenant, Some(last))).await {
            Ok(stream) => stream,
            Err(CliError::Client(failure)) if failure.error.is_transient() => {
                output::note(&format!("keydesk: {failure}; retrying"));
                tokio::time::sleep(RECONNECT).await;
                continue;
            }
            Err(err) => return Err(err),
        };
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => {
                    last = event.id;
                    let wanted = key.as_ref().is_none_or(|k| *k == event.target_id)
                        && action.as_ref().is_none_or(|a| *a == event.action);
                    if wanted {
                        print(ctx, &event)?;
                    }
                }
                Err(error) => {
                    if !matches!(error, ClientError::Unreachable { .. }) {
                        return Err(ctx.fail(error));
                    }
                    break;
                }
            }
        }
        // The server closed it (it fell behind, or the server restarts):
        // resume from the last event printed.
        tokio::time::sleep(RECONNECT).await;
    }
}

fn print(ctx: &Ctx, event: &api::EventBody) -> CliResult {
    match ctx.output {
        Format::Json => output::json_line(event),
        Format::Table => {
            let line: Vec<String> = row(event).iter().map(|c| output::cell(c)).collect();
            output::out(&format!("{}\n", line.join("  ").trim_end()))
        }
    }
}
