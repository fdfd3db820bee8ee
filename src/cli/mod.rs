//! The scripting commands (`keydesk keys …`, `settings`, `events`, `users`,
//! `tenants`, `me`): each one request or a few through the typed
//! [`Client`](crate::client::Client), the same the console uses, printed
//! as a table or as the API's JSON. SPEC §5 and the README's "Scripting"
//! section are the reference; [`error::EXIT_CODES`] are the interface.

pub mod config;
mod context;
pub mod error;
pub mod events;
pub mod fleet;
pub mod keys;
pub mod output;
pub mod tenants;
pub mod users;

pub use context::{Ctx, Target};
pub use error::{CliError, CliResult, EXIT_CODES};

use clap::ArgMatches;
use clap::parser::ValueSource;
use zeroize::Zeroizing;

use config::{Given, Overrides, Source};

/// The scripting commands, each a group of actions.
#[derive(clap::Subcommand, Debug)]
pub enum Scripted {
    /// List, create, change, rotate, revoke and find keys.
    #[command(after_help = EXIT_CODES)]
    Keys(keys::KeysCommand),
    /// A tenant's settings: get, set.
    #[command(after_help = EXIT_CODES)]
    Settings(tenants::SettingsCommand),
    /// The audit log: list, tail.
    #[command(after_help = EXIT_CODES)]
    Events(events::EventsCommand),
    /// A tenant's users: list, create, roles, license, tokens.
    #[command(after_help = EXIT_CODES)]
    Users(users::UsersCommand),
    /// The tenants you see; create one.
    #[command(after_help = EXIT_CODES)]
    Tenants(tenants::TenantsCommand),
    /// Who your token belongs to, and which tenants you see.
    #[command(after_help = EXIT_CODES)]
    Me(tenants::MeCommand),
    /// The server instances and how far each has applied the changes: status.
    #[command(after_help = EXIT_CODES)]
    Fleet(fleet::FleetCommand),
}

impl Scripted {
    fn target(&self) -> &Target {
        match self {
            Scripted::Keys(command) => &command.target,
            Scripted::Settings(command) => &command.target,
            Scripted::Events(command) => &command.target,
            Scripted::Users(command) => &command.target,
            Scripted::Tenants(command) => &command.target,
            Scripted::Me(command) => &command.target,
            Scripted::Fleet(command) => &command.target,
        }
    }
}

/// Runs a scripting command to its end; the error says what went wrong
/// and carries the exit code.
pub async fn run(command: Scripted, overrides: Overrides) -> CliResult {
    let resolved = config::resolve(overrides)?;
    let ctx = Ctx::new(resolved, command.target().output)?;
    match command {
        Scripted::Keys(command) => keys::run(&ctx, command.action).await,
        Scripted::Settings(command) => tenants::run_settings(&ctx, command.action).await,
        Scripted::Events(command) => events::run(&ctx, command.action).await,
        Scripted::Users(command) => users::run(&ctx, command.action).await,
        Scripted::Tenants(command) => tenants::run_tenants(&ctx, command.action).await,
        Scripted::Me(_) => tenants::run_me(&ctx).await,
        Scripted::Fleet(command) => fleet::run(&ctx, command.action).await,
    }
}

/// What the command line and the environment said about where to connect
/// and how to behave. `top` holds what came before the command's name
/// (`keydesk --profile prod keys list`), `own` what came after it; a flag
/// after wins, then a flag before, then the environment.
#[must_use]
pub fn overrides(top: &ArgMatches, own: Option<&ArgMatches>) -> Overrides {
    Overrides {
        profile: given(top, own, "profile", "--profile", "KEYDESK_PROFILE"),
        server: given(top, own, "server", "--server", "KEYDESK_SERVER"),
        token: given::<String>(top, own, "token", "--token", "KEYDESK_TOKEN")
            .map(|g| Given::new(Zeroizing::new(g.value), g.source)),
        tenant: given(top, own, "tenant", "--tenant", "KEYDESK_TENANT"),
        readonly: given(top, own, "readonly", "--readonly", "KEYDESK_READONLY"),
        clipboard: given(top, own, "clipboard", "--clipboard", "KEYDESK_CLIPBOARD"),
        clipboard_clear_seconds: given(
            top,
            own,
            "clipboard_clear_seconds",
            "--clipboard-clear-seconds",
            "KEYDESK_CLIPBOARD_CLEAR_SECONDS",
        ),
    }
}

fn given<T: Clone + Send + Sync + 'static>(
    top: &ArgMatches,
    own: Option<&ArgMatches>,
    id: &str,
    flag: &'static str,
    var: &'static str,
) -> Option<Given<T>> {
    let from = |matches: &ArgMatches, wanted: ValueSource| {
        let known = matches.try_contains_id(id).unwrap_or(false);
        (known && matches.value_source(id) == Some(wanted))
            .then(|| matches.get_one::<T>(id).cloned())
            .flatten()
    };
    let sources = [
        (own, ValueSource::CommandLine, Source::Flag(flag)),
        (Some(top), ValueSource::CommandLine, Source::Flag(flag)),
        (own, ValueSource::EnvVariable, Source::Env(var)),
        (Some(top), ValueSource::EnvVariable, Source::Env(var)),
    ];
    sources.into_iter().find_map(|(matches, wanted, source)| {
        matches
            .and_then(|m| from(m, wanted))
            .map(|value| Given::new(value, source))
    })
}
