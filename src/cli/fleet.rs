//! `keydesk fleet status`: the server instances behind one database and
//! how far each has applied the changes (system administrators), so the
//! on-call engineer sees a revoke reach every instance instead of trusting it.

use clap::{Args, Subcommand};

use super::context::{Ctx, Target};
use super::error::CliResult;
use super::output::{self, Format, Table, time};

#[derive(Args, Debug)]
pub struct FleetCommand {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: FleetAction,
}

#[derive(Subcommand, Debug)]
pub enum FleetAction {
    /// The live instances, the change each has applied, and its lag (-o json: the API's answer).
    Status,
}

pub async fn run(ctx: &Ctx, action: FleetAction) -> CliResult {
    match action {
        FleetAction::Status => {
            let fleet = ctx.call(ctx.client.fleet()).await?;
            match ctx.output {
                Format::Json => output::json(&fleet),
                Format::Table => {
                    let mut table = Table::new(&[
                        "INSTANCE",
                        "ADDRESS",
                        "APPLIED",
                        "LAG",
                        "HEARTBEAT",
                        "STARTED",
                    ])
                    .optional(&["STARTED", "ADDRESS"]);
                    for instance in &fleet.instances {
                        let mut id = instance.id.clone();
                        if instance.id == fleet.this_instance {
                            id.push_str(" *");
                        }
                        table.row(vec![
                            id,
                            instance.address.clone().unwrap_or_else(|| "-".to_owned()),
                            instance.applied_change.to_string(),
                            instance.lag.to_string(),
                            format!("{} ms ago", instance.heartbeat_age_ms),
                            time(&instance.started_at),
                        ]);
                    }
                    table.print()?;
                    let behind = fleet.instances.iter().filter(|i| i.lag > 0).count();
                    output::note(&format!(
                        "change {}; {} live instance(s), {}; * answered",
                        fleet.change,
                        fleet.instances.len(),
                        if behind == 0 {
                            "none behind".to_owned()
                        } else {
                            format!("{behind} behind")
                        }
                    ));
                    Ok(())
                }
            }
        }
    }
}
