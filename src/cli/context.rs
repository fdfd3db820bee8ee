//! What every scripting command starts from: a client for the resolved
//! server and token, the tenant, the output format, and a way to ask.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};

use super::config::{self, Resolved, Source};
use super::error::{CliError, CliResult, ClientFailure};
use super::output::Format;
use crate::client::{Client, ClientError, ClientResult};

/// The options every scripting command takes (after its name or before it).
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The configuration profile to use [env: KEYDESK_PROFILE].
    #[arg(long, global = true, env = "KEYDESK_PROFILE", hide_env = true)]
    pub profile: Option<String>,
    /// The keydesk server, e.g. https://keys.example [env: KEYDESK_SERVER].
    #[arg(long, global = true, env = "KEYDESK_SERVER", hide_env = true)]
    pub server: Option<String>,
    /// A management token; prefer KEYDESK_TOKEN or a profile's token_command (flags show up in `ps`).
    #[arg(long, global = true, env = "KEYDESK_TOKEN", hide_env = true)]
    pub token: Option<String>,
    /// The tenant to act in (default: the profile's, or your only one) [env: KEYDESK_TENANT].
    #[arg(long, global = true, env = "KEYDESK_TENANT", hide_env = true)]
    pub tenant: Option<String>,
    /// Output: a table for people, or the API's JSON for scripts.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// A connected command's context.
pub struct Ctx {
    pub client: Client,
    pub output: Format,
    tenant: Option<String>,
    server: String,
    profile: Option<String>,
    token_source: Source,
}

impl Ctx {
    /// A client for what `resolved` decided; no server or no token is a
    /// configuration error that says how to get one.
    pub fn new(resolved: Resolved, output: Format) -> CliResult<Self> {
        for warning in &resolved.warnings {
            super::output::note(&format!("keydesk: warning: {warning}"));
        }
        let server = resolved
            .server
            .ok_or_else(|| CliError::Config(config::how_to_start()))?;
        let token = resolved.token.ok_or_else(|| config::no_token(&server))?;
        let client = Client::new(&server.value, &token.value)
            .map_err(|e| CliError::Config(e.to_string()))?
            .readonly(resolved.readonly);
        Ok(Self {
            client,
            output,
            tenant: resolved.tenant,
            server: server.value,
            profile: resolved.profile,
            token_source: token.source,
        })
    }

    /// Awaits a client call; its failure says where the command connected.
    pub async fn call<T>(&self, request: impl Future<Output = ClientResult<T>>) -> CliResult<T> {
        request.await.map_err(|error| self.fail(error))
    }

    /// A client error, said with where the command connected.
    #[must_use]
    pub fn fail(&self, error: ClientError) -> CliError {
        CliError::Client(Box::new(ClientFailure {
            error,
            server: self.server.clone(),
            profile: self.profile.clone(),
            token_source: self.token_source.to_string(),
        }))
    }

    /// The tenant to act in: the one given, else the caller's only tenant.
    pub async fn tenant(&self) -> CliResult<String> {
        if let Some(tenant) = &self.tenant {
            return Ok(tenant.clone());
        }
        let me = self.call(self.client.me()).await?;
        match me.tenants.as_slice() {
            [only] => Ok(only.id.clone()),
            [] => Err(CliError::Usage(
                "you hold no role in any tenant yet: pass --tenant".to_owned(),
            )),
            many => {
                let mut names: Vec<&str> = many.iter().take(10).map(|t| t.id.as_str()).collect();
                if many.len() > names.len() {
                    names.push("…");
                }
                Err(CliError::Usage(format!(
                    "which tenant? pass --tenant (or set KEYDESK_TENANT, or a profile's tenant); you see {}: {}",
                    many.len(),
                    names.join(", ")
                )))
            }
        }
    }

    /// Goes on only if the user says yes: `--yes`, or `y` typed at a
    /// terminal. Without a terminal and without `--yes` it refuses rather
    /// than guess. `what` is shown first, on stderr.
    pub fn confirm(&self, what: &str, question: &str, yes: bool) -> CliResult {
        super::output::note(what);
        if yes {
            return Ok(());
        }
        // The question needs a person: stderr must be a terminal. The answer
        // comes from stdin, or from the terminal itself when stdin carries
        // data (`… | keydesk keys lookup - --revoke`).
        if !std::io::stderr().is_terminal() {
            return Err(not_asked());
        }
        let mut answer = String::new();
        if std::io::stdin().is_terminal() {
            ask(&mut std::io::stderr().lock(), question);
            std::io::stdin().lock().read_line(&mut answer)?;
        } else {
            let Ok(tty) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/tty")
            else {
                return Err(not_asked());
            };
            ask(&mut &tty, question);
            std::io::BufReader::new(tty).read_line(&mut answer)?;
        }
        if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            Ok(())
        } else {
            Err(CliError::NotConfirmed(
                "not confirmed: nothing was changed".to_owned(),
            ))
        }
    }
}

fn ask(terminal: &mut impl Write, question: &str) {
    let _ = write!(terminal, "{question} [y/N] ");
    let _ = terminal.flush();
}

fn not_asked() -> CliError {
    CliError::NotConfirmed(
        "not confirmed: no terminal to ask on; pass --yes to go ahead".to_owned(),
    )
}
