//! The `keydesk` binary: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "keydesk",
    version,
    about = "API-key management: server, console and CLI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
        Command::Serve {
            listen,
            database,
            data_dir,
            pepper_file,
        } => {
            init_logging();
            runtime.block_on(serve(keydesk::server::ServeConfig {
                listen,
                database,
                data_dir,
                pepper_file,
                pepper: std::env::var("KEYDESK_PEPPER").ok(),
                bootstrap_token: std::env::var("KEYDESK_BOOTSTRAP_TOKEN").ok(),
            }))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keydesk: {err:#}");
            ExitCode::FAILURE
        }
    }
}
