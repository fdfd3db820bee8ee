//! The `keydesk` binary: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use keydesk::console::clipboard::ClipboardMode;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "keydesk",
    version,
    about = "API-key management: the console (default), `demo`, and the `serve` server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    console: ConsoleArgs,
}

#[derive(Args)]
struct ConsoleArgs {
    /// The keydesk server, e.g. https://keys.example.
    #[arg(long, env = "KEYDESK_SERVER", global = true)]
    server: Option<String>,
    /// A management token (prefer the environment variable: flags show up in `ps`).
    #[arg(long, env = "KEYDESK_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// The tenant to open (default: your own, or the first you see).
    #[arg(long, env = "KEYDESK_TENANT", global = true)]
    tenant: Option<String>,
    /// Hide every mutating action.
    #[arg(long, env = "KEYDESK_READONLY", global = true)]
    readonly: bool,
    /// Where copies go: auto (OSC 52 over SSH or without a display, else the system clipboard), native, osc52, off.
    #[arg(long, value_enum, default_value_t = ClipboardMode::Auto, env = "KEYDESK_CLIPBOARD", global = true)]
    clipboard: ClipboardMode,
    /// Clear a copied secret from the system clipboard after this many seconds (0: never).
    #[arg(
        long,
        default_value_t = 30,
        env = "KEYDESK_CLIPBOARD_CLEAR_SECONDS",
        global = true
    )]
    clipboard_clear_seconds: u64,
    /// The console's log file (default: console.log in the state directory).
    #[arg(long, env = "KEYDESK_LOG_FILE", global = true)]
    log_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// An embedded server with demo data, and the console on it.
    Demo {
        /// Sign in as a demo user (ana, bo, clara, daan, eva, …) to see the
        /// console as their roles allow; default: the system administrator.
        #[arg(long = "as", value_name = "USER")]
        as_user: Option<String>,
    },
    /// Run the management API server.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7070", env = "KEYDESK_LISTEN")]
        listen: String,
        /// sqlite://PATH (default: keydesk.db in the data directory).
        #[arg(long, env = "KEYDESK_DATABASE")]
        database: Option<String>,
        /// Where the default database and the generated pepper live.
        #[arg(long, env = "KEYDESK_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// A file holding the pepper (at least 32 bytes), instead of the generated one.
        #[arg(long, env = "KEYDESK_PEPPER_FILE")]
        pepper_file: Option<PathBuf>,
    },
}

fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("KEYDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}

/// The server logs to stderr.
fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
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

async fn console(args: ConsoleArgs) -> anyhow::Result<()> {
    let server = args.server.ok_or_else(|| {
        anyhow::anyhow!(
            "no server: pass --server URL or set KEYDESK_SERVER (or try `keydesk demo`)"
        )
    })?;
    let token = args.token.ok_or_else(|| {
        anyhow::anyhow!("no management token: set KEYDESK_TOKEN (or pass --token)")
    })?;
    keydesk::console::run(keydesk::console::ConsoleConfig {
        server,
        token: Zeroizing::new(token),
        tenant: args.tenant,
        readonly: args.readonly,
        clipboard: args.clipboard,
        clipboard_clear: Duration::from_secs(args.clipboard_clear_seconds),
    })
    .await
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("keydesk: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Some(Command::Serve {
            listen,
            database,
            data_dir,
            pepper_file,
        }) => {
            log_to_stderr();
            runtime.block_on(serve(keydesk::server::ServeConfig {
                listen,
                database,
                data_dir,
                pepper_file,
                pepper: std::env::var("KEYDESK_PEPPER").ok(),
                bootstrap_token: std::env::var("KEYDESK_BOOTSTRAP_TOKEN").ok(),
            }))
        }
        Some(Command::Demo { as_user }) => {
            log_to_file(cli.console.log_file.clone()).and_then(|_| {
                runtime.block_on(keydesk::demo::run(keydesk::demo::DemoOptions {
                    readonly: cli.console.readonly,
                    clipboard: cli.console.clipboard,
                    clipboard_clear: Duration::from_secs(cli.console.clipboard_clear_seconds),
                    tenant: cli.console.tenant.clone(),
                    as_user,
                }))
            })
        }
        None => log_to_file(cli.console.log_file.clone())
            .and_then(|_| runtime.block_on(console(cli.console))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keydesk: {err:#}");
            ExitCode::FAILURE
        }
    }
}
