//! The `keydesk` binary: parses the command line and hands over to the library.
//!
//! Each command takes only its own options: the bare `keydesk` (the
//! console) takes where to connect and how to behave; `demo` takes how to
//! behave and whom to sign in as; `serve` takes only what a server needs.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use keydesk::console::clipboard::ClipboardMode;
use keydesk::domain::SuspicionRules;
use keydesk::server::connections::ConnectionConfig;

#[derive(Parser)]
#[command(
    name = "keydesk",
    version,
    about = "API-key management: the console (default), `demo`, the `serve` server, and commands for scripts",
    after_help = keydesk::cli::EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    console: ConsoleArgs,
}

/// The console's options (the bare `keydesk`): where to connect, and how to behave.
#[derive(Args)]
struct ConsoleArgs {
    /// The configuration profile to use (default: the file's default_profile).
    #[arg(long, env = "KEYDESK_PROFILE")]
    profile: Option<String>,
    /// The keydesk server, e.g. https://keys.example.
    #[arg(long, env = "KEYDESK_SERVER")]
    server: Option<String>,
    /// A management token (prefer the environment variable: flags show up in `ps`).
    #[arg(long, env = "KEYDESK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    view: ViewArgs,
}

/// How the console behaves: the bare `keydesk` and `keydesk demo` take these.
#[derive(Args)]
struct ViewArgs {
    /// The tenant to open (default: your own, or the first you see).
    #[arg(long, env = "KEYDESK_TENANT")]
    tenant: Option<String>,
    /// Hide every mutating action.
    #[arg(long, env = "KEYDESK_READONLY")]
    readonly: bool,
    /// Where copies go: auto (OSC 52 over SSH or without a display, else the system clipboard), native, osc52, off [default: auto].
    #[arg(long, value_enum, env = "KEYDESK_CLIPBOARD")]
    clipboard: Option<ClipboardMode>,
    /// Clear a copied secret from the system clipboard after this many seconds (0: never) [default: 30].
    #[arg(long, env = "KEYDESK_CLIPBOARD_CLEAR_SECONDS")]
    clipboard_clear_seconds: Option<u64>,
    /// The console's log file (default: console.log in the state directory).
    #[arg(long, env = "KEYDESK_LOG_FILE")]
    log_file: Option<PathBuf>,
}

impl ViewArgs {
    /// These options were global once, so `keydesk --readonly demo` still
    /// counts them; an option given after `demo` wins.
    fn or_given_before(self, before: Self, top: &ArgMatches, own: &ArgMatches) -> Self {
        let given = |matches: &ArgMatches, id: &str| {
            matches.value_source(id) == Some(ValueSource::CommandLine)
        };
        let before_wins = |id: &str| given(top, id) && !given(own, id);
        fn pick<T>(before_wins: bool, before: T, own: T) -> T {
            if before_wins { before } else { own }
        }
        Self {
            tenant: pick(before_wins("tenant"), before.tenant, self.tenant),
            readonly: pick(before_wins("readonly"), before.readonly, self.readonly),
            clipboard: pick(before_wins("clipboard"), before.clipboard, self.clipboard),
            clipboard_clear_seconds: pick(
                before_wins("clipboard_clear_seconds"),
                before.clipboard_clear_seconds,
                self.clipboard_clear_seconds,
            ),
            log_file: pick(before_wins("log_file"), before.log_file, self.log_file),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// An embedded server with demo data, and the console on it.
    Demo(DemoArgs),
    /// Run the management API server.
    #[command(after_help = SERVE_ENVIRONMENT)]
    Serve(ServeArgs),
    #[command(flatten)]
    Scripted(keydesk::cli::Scripted),
    /// Print a shell completion script: `keydesk completions bash > /etc/bash_completion.d/keydesk`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `keydesk man | man -l -`.
    Man,
    /// The configuration file and its profiles: `keydesk config init` writes a starting one.
    Config(keydesk::cli::config::ConfigCommand),
}

#[derive(Args)]
struct DemoArgs {
    /// Sign in as a demo user (ana, bo, daan, eva, hana, lena, mia, …) to see
    /// what their roles and their tenant's rules refuse; default: the system
    /// administrator.
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,
    #[command(flatten)]
    view: ViewArgs,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = keydesk::server::DEFAULT_LISTEN, env = "KEYDESK_LISTEN")]
    listen: String,
    /// sqlite://PATH (default: keydesk.db in the data directory), or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (PostgreSQL 15+; several
    /// instances may share it, with the same pepper).
    #[arg(long, env = "KEYDESK_DATABASE")]
    database: Option<String>,
    /// Where the default database and the generated pepper live.
    #[arg(long, env = "KEYDESK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A file holding the pepper (at least 32 bytes), instead of the generated one.
    #[arg(long, env = "KEYDESK_PEPPER_FILE")]
    pepper_file: Option<PathBuf>,
    /// Who may call /v1/verify: anyone (optional), or only callers with a verifier or management token (required).
    #[arg(long, value_enum, default_value_t = keydesk::server::verify::VerifyAuth::Optional, env = "KEYDESK_VERIFY_AUTH")]
    verify_auth: keydesk::server::verify::VerifyAuth,
    /// Answer /metrics only to `Authorization: Bearer <this token>` (at least 32 characters); without it, /metrics answers anyone who reaches the port.
    #[arg(long, env = "KEYDESK_METRICS_TOKEN", hide_env_values = true, value_parser = metrics_token)]
    metrics_token: Option<String>,
    /// Send `Server-Timing: app;dur=<ms>` with every answer (the benchmarks read it); off by default.
    #[arg(long, env = "KEYDESK_SERVER_TIMING")]
    server_timing: bool,
    /// This instance's name in its fleet (`GET /v1/fleet`, `Keydesk-Fleet`): 1 to 64 letters, digits, '.', '_' or '-'; default: random at each start. Give each instance its own.
    #[arg(long, env = "KEYDESK_INSTANCE_ID")]
    instance_id: Option<String>,
    /// PostgreSQL: listen for other instances' changes (on), or only read the change counter every 250 ms (off: for a pooler that cannot LISTEN, e.g. PgBouncer in transaction mode). Either way a change reaches every instance within a second.
    #[arg(long, value_enum, default_value_t = Switch::On, env = "KEYDESK_FLEET_NOTIFICATIONS")]
    fleet_notifications: Switch,
    #[command(flatten)]
    activity: ActivityArgs,
    #[command(flatten)]
    connections: ConnectionArgs,
}

/// The defaults of [`ConnectionArgs`].
const CONNECTIONS: ConnectionConfig = ConnectionConfig::DEFAULT;

/// How `serve` treats slow, idle and surplus connections, and how long a shutdown waits.
#[derive(Args)]
struct ConnectionArgs {
    /// Close a connection that receives nothing for this many seconds while no request is in progress (new or kept alive).
    #[arg(long, default_value_t = CONNECTIONS.idle_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..), env = "KEYDESK_IDLE_TIMEOUT")]
    idle_timeout: u64,
    /// Close a connection whose request head is not complete this many seconds after its first byte.
    #[arg(long, default_value_t = CONNECTIONS.header_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..), env = "KEYDESK_HEADER_TIMEOUT")]
    header_timeout: u64,
    /// Answer 408 to a request whose body is not complete this many seconds after its head.
    #[arg(long, default_value_t = CONNECTIONS.body_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..), env = "KEYDESK_BODY_TIMEOUT")]
    body_timeout: u64,
    /// Serve at most this many connections at once (fewer if half the descriptor limit is less); more wait to be accepted.
    #[arg(long, default_value_t = CONNECTIONS.max_connections as u64, value_parser = clap::value_parser!(u64).range(1..), env = "KEYDESK_MAX_CONNECTIONS")]
    max_connections: u64,
    /// At shutdown, drop the connections still open after this many seconds (the usage counters are written either way).
    #[arg(long, default_value_t = CONNECTIONS.shutdown_timeout.as_secs(), env = "KEYDESK_SHUTDOWN_TIMEOUT")]
    shutdown_timeout: u64,
}

impl ConnectionArgs {
    fn config(&self) -> ConnectionConfig {
        ConnectionConfig {
            idle_timeout: Duration::from_secs(self.idle_timeout),
            header_timeout: Duration::from_secs(self.header_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
        }
    }
}

/// An option that is on or off.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Switch {
    On,
    Off,
}

/// Whether `serve` counts usage, when it flags a key as suspicious, and how far an event stream may fall behind.
#[derive(Args)]
struct ActivityArgs {
    /// Count verifications per key and minute (usage history, last use, suspicious keys); off records none of it.
    #[arg(long, value_enum, default_value_t = Switch::On, env = "KEYDESK_USAGE_HISTORY")]
    usage_history: Switch,
    /// Suspicious: a last hour with more than this many times the key's hourly mean over the 24 hours before…
    #[arg(long, default_value_t = SuspicionRules::default().spike_factor, env = "KEYDESK_SUSPICIOUS_SPIKE_FACTOR")]
    suspicious_spike_factor: f64,
    /// …and at least this many verifications.
    #[arg(long, default_value_t = SuspicionRules::default().spike_min_requests, env = "KEYDESK_SUSPICIOUS_SPIKE_MIN")]
    suspicious_spike_min: u64,
    /// Suspicious: more than this share (0–1) of the last hour's verifications failed…
    #[arg(long, default_value_t = SuspicionRules::default().failure_share, env = "KEYDESK_SUSPICIOUS_FAILURE_SHARE")]
    suspicious_failure_share: f64,
    /// …out of at least this many.
    #[arg(long, default_value_t = SuspicionRules::default().failure_min_requests, env = "KEYDESK_SUSPICIOUS_FAILURE_MIN")]
    suspicious_failure_min: u64,
    /// Events held for event streams that have not sent them yet; a stream further behind is closed, and its client resumes.
    #[arg(long, default_value_t = keydesk::store::sqlite::EVENT_BUFFER, env = "KEYDESK_EVENT_STREAM_BUFFER")]
    event_stream_buffer: usize,
    /// Days of hourly usage kept (the 7-day usage window needs at least 7).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(7..=3650), env = "KEYDESK_USAGE_RETENTION_DAYS")]
    usage_retention_days: u64,
    /// Days of audit events kept; 0 keeps them for ever.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=36500), env = "KEYDESK_EVENT_RETENTION_DAYS")]
    event_retention_days: u64,
    /// Hours an Idempotency-Key is remembered: a retry within them replays the first answer.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=8760), env = "KEYDESK_IDEMPOTENCY_RETENTION_HOURS")]
    idempotency_retention_hours: u64,
}

impl ActivityArgs {
    fn config(&self) -> keydesk::server::ActivityConfig {
        keydesk::server::ActivityConfig {
            usage_history: self.usage_history == Switch::On,
            suspicion: SuspicionRules {
                spike_factor: self.suspicious_spike_factor,
                spike_min_requests: self.suspicious_spike_min,
                failure_share: self.suspicious_failure_share,
                failure_min_requests: self.suspicious_failure_min,
            },
            event_stream_buffer: self.event_stream_buffer,
            retention: keydesk::server::usage::Retention {
                usage: Duration::from_secs(self.usage_retention_days * 86_400),
                events: (self.event_retention_days > 0)
                    .then(|| Duration::from_secs(self.event_retention_days * 86_400)),
                idempotency: Duration::from_secs(self.idempotency_retention_hours * 3600),
            },
        }
    }
}

/// What `keydesk serve` reads from the environment alone (secrets have no flag: flags show up in `ps`).
const SERVE_ENVIRONMENT: &str = "\
Environment:
  KEYDESK_PEPPER           The pepper itself, instead of a file
  KEYDESK_BOOTSTRAP_TOKEN  The management token of the first system administrator
  KEYDESK_LOG              Log filter [default: info]
  NO_COLOR                 No colour in the log (it is coloured only on a terminal)";

fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("KEYDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}

/// Colour only for a person at a terminal, and never with NO_COLOR
/// (no-color.org): a log redirected to a file or a pipe stays plain text.
fn log_colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// The server logs to stderr.
fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_ansi(log_colour(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// The console logs to a file: the screen belongs to the interface.
fn log_to_file(path: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match path {
        Some(path) => path,
        None => dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .unwrap_or_else(std::env::temp_dir)
            .join("keydesk")
            .join("console.log"),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open the log file {}: {e}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .init();
    Ok(path)
}

async fn serve(config: keydesk::server::ServeConfig) -> anyhow::Result<()> {
    let prepared = keydesk::server::prepare(&config).await?;
    if let Some(token) = &prepared.bootstrap_token {
        // Printed once, to the terminal only: it is never logged.
        println!("keydesk: created the first system administrator 'admin'.");
        println!(
            "keydesk: its management token, shown this once:\n\n    {}\n",
            token.as_str()
        );
    }
    let address = prepared.listener.local_addr()?;
    tracing::info!(%address, "keydesk listening");
    keydesk::server::run(
        prepared.listener,
        prepared.state,
        keydesk::server::shutdown_signal(),
    )
    .await?;
    tracing::info!("keydesk stopped");
    Ok(())
}

/// The console for what the flags, the environment and the profile say.
async fn console(resolved: keydesk::cli::config::Resolved) -> anyhow::Result<()> {
    for warning in &resolved.warnings {
        eprintln!("keydesk: warning: {warning}");
    }
    let server = resolved
        .server
        .ok_or_else(|| anyhow::anyhow!("{}", keydesk::cli::config::how_to_start()))?;
    let token = resolved
        .token
        .ok_or_else(|| anyhow::anyhow!("{}", keydesk::cli::config::no_token(&server)))?;
    keydesk::console::run(keydesk::console::ConsoleConfig {
        server: server.value,
        token: token.value,
        tenant: resolved.tenant,
        readonly: resolved.readonly,
        clipboard: resolved.clipboard,
        clipboard_clear: resolved.clipboard_clear,
        token_source: token.source.to_string(),
        color: resolved.color,
    })
    .await
}

/// Runs a scripting command; its failure is printed with its exit code.
fn scripted(
    runtime: &tokio::runtime::Runtime,
    command: keydesk::cli::Scripted,
    overrides: keydesk::cli::config::Overrides,
) -> ExitCode {
    match runtime.block_on(keydesk::cli::run(command, overrides)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // What the server or the user sent comes back in errors: cleaned.
            let line = keydesk::cli::output::cell(&err.to_string());
            eprintln!("keydesk: {line}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// A command's outcome as its exit code; a failure is said on stderr first.
fn exit_code(result: keydesk::cli::CliResult) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keydesk: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("keydesk: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Some(Command::Scripted(command)) => {
            let own = matches.subcommand().map(|(_, own)| own);
            let overrides = keydesk::cli::overrides(&matches, own);
            return scripted(&runtime, command, overrides);
        }
        Some(Command::Config(command)) => {
            return exit_code(keydesk::cli::config::run_command(command));
        }
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "keydesk", &mut std::io::stdout());
            Ok(())
        }
        Some(Command::Man) => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map_err(anyhow::Error::from),
        Some(Command::Serve(args)) => {
            log_to_stderr();
            runtime.block_on(serve(keydesk::server::ServeConfig {
                listen: args.listen,
                database: args.database,
                data_dir: args.data_dir,
                pepper_file: args.pepper_file,
                pepper: std::env::var("KEYDESK_PEPPER").ok(),
                bootstrap_token: std::env::var("KEYDESK_BOOTSTRAP_TOKEN").ok(),
                activity: args.activity.config(),
                verify_auth: args.verify_auth,
                connections: args.connections.config(),
                observability: keydesk::server::Observability {
                    metrics_token: args.metrics_token,
                    server_timing: args.server_timing,
                },
                fleet: keydesk::server::FleetConfig {
                    instance_id: args.instance_id,
                    notifications: args.fleet_notifications == Switch::On,
                },
            }))
        }
        Some(Command::Demo(args)) => {
            let own = matches.subcommand_matches("demo").unwrap_or(&matches);
            let view = args.view.or_given_before(cli.console.view, &matches, own);
            log_to_file(view.log_file.clone()).and_then(|_| {
                runtime.block_on(keydesk::demo::run(keydesk::demo::DemoOptions {
                    readonly: view.readonly,
                    clipboard: view.clipboard.unwrap_or_default(),
                    clipboard_clear: view.clipboard_clear_seconds.map_or(
                        keydesk::cli::config::DEFAULT_CLIPBOARD_CLEAR,
                        Duration::from_secs,
                    ),
                    tenant: view.tenant,
                    as_user: args.as_user,
                }))
            })
        }
        None => match keydesk::cli::config::resolve(keydesk::cli::overrides(&matches, None)) {
            // A bad configuration file exits as it does for the scripting commands.
            Err(err) => return exit_code(Err(err)),
            Ok(resolved) => log_to_file(cli.console.view.log_file.clone())
                .and_then(|_| runtime.block_on(console(resolved))),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keydesk: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--metrics-token`: long enough not to be guessed.
fn metrics_token(raw: &str) -> Result<String, String> {
    let token = raw.trim();
    if token.chars().count() < 32 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be at least 32 characters, without spaces".to_owned());
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The options `keydesk demo` runs with, parsed as `main` does.
    fn demo_view(args: &[&str]) -> ViewArgs {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let Some(Command::Demo(demo)) = cli.command else {
            panic!("not the demo: {args:?}");
        };
        let own = matches.subcommand_matches("demo").unwrap();
        demo.view.or_given_before(cli.console.view, &matches, own)
    }

    /// The activity options `keydesk serve` runs with, parsed as `main` does.
    fn serve_activity(args: &[&str]) -> keydesk::server::ActivityConfig {
        let cli = Cli::try_parse_from(args).unwrap();
        let Some(Command::Serve(serve)) = cli.command else {
            panic!("not serve: {args:?}");
        };
        serve.activity.config()
    }

    #[test]
    fn usage_history_is_on_unless_switched_off() {
        assert!(serve_activity(&["keydesk", "serve"]).usage_history);
        assert!(!serve_activity(&["keydesk", "serve", "--usage-history", "off"]).usage_history);
        assert!(serve_activity(&["keydesk", "serve", "--usage-history", "on"]).usage_history);
        assert!(Cli::try_parse_from(["keydesk", "serve", "--usage-history", "maybe"]).is_err());
    }

    #[test]
    fn console_options_before_demo_still_count() {
        let view = demo_view(&[
            "keydesk",
            "--readonly",
            "--tenant",
            "payrails",
            "--clipboard",
            "osc52",
            "demo",
        ]);
        assert!(view.readonly);
        assert_eq!(view.tenant.as_deref(), Some("payrails"));
        assert_eq!(view.clipboard, Some(ClipboardMode::Osc52));
    }

    #[test]
    fn options_after_demo_win() {
        let view = demo_view(&[
            "keydesk",
            "--tenant",
            "payrails",
            "--clipboard-clear-seconds",
            "5",
            "demo",
            "--tenant",
            "onboardly",
        ]);
        assert_eq!(view.tenant.as_deref(), Some("onboardly"));
        assert_eq!(view.clipboard_clear_seconds, Some(5));
        let view = demo_view(&["keydesk", "demo", "--log-file", "/tmp/x.log"]);
        assert_eq!(view.log_file, Some(PathBuf::from("/tmp/x.log")));
    }
}
