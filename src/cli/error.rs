//! How a command fails: one error type, its sentence, and its exit code.
//! The codes are part of the interface scripts rely on ([`EXIT_CODES`]).

use crate::client::ClientError;

/// The exit codes, as `--help` and the README show them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the server failed, or something else went wrong
  2  usage error: a wrong flag or value, a bad configuration file, or input the server refused (400, 422)
  3  not found (404)
  4  permission denied: the token was refused (401), the role does not allow it (403), or a read-only profile
  5  conflict or precondition failed (409, 412, 428): someone changed it meanwhile, or it already exists
  6  server unreachable
  7  not confirmed: the answer was not yes, or no terminal to ask on and no --yes";

/// The exit codes by name.
pub mod code {
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    pub const DENIED: u8 = 4;
    pub const CONFLICT: u8 = 5;
    pub const UNREACHABLE: u8 = 6;
    pub const NOT_CONFIRMED: u8 = 7;
}

/// Why a command failed. Its `Display` is the line printed after `keydesk: `.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A wrong value on the command line, or input refused before sending.
    #[error("{0}")]
    Usage(String),
    /// The configuration file cannot be used.
    #[error("{0}")]
    Config(String),
    /// The user said no, or could not be asked.
    #[error("{0}")]
    NotConfirmed(String),
    /// The server refused, or could not be reached.
    #[error("{0}")]
    Client(Box<ClientFailure>),
    /// Some of several things were refused (each said already); the exit
    /// code is what the first refusal's status maps to.
    #[error("{message}")]
    Refused { message: String, status: u16 },
    /// Anything else (writing a file, a broken terminal).
    #[error("{0}")]
    Failed(String),
}

/// A client call that failed, said with where the command connected and
/// where its token came from.
#[derive(Debug)]
pub struct ClientFailure {
    pub error: ClientError,
    pub server: String,
    pub profile: Option<String>,
    pub token_source: String,
}

impl std::fmt::Display for ClientFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(
            &self.error,
            &self.server,
            self.profile.as_deref(),
            &self.token_source,
        ))
    }
}

fn describe(
    error: &ClientError,
    server: &str,
    profile: Option<&str>,
    token_source: &str,
) -> String {
    let profile = profile
        .map(|p| format!(" (profile '{p}')"))
        .unwrap_or_default();
    match error {
        ClientError::Unreachable { reason, .. } => {
            format!("cannot reach {server}{profile}: {reason}")
        }
        ClientError::Api(problem) if problem.status == 401 => format!(
            "{server} refused the token from {token_source}: {} ({})",
            problem.detail, problem.code
        ),
        ClientError::Api(problem) => format!("{} ({})", problem.detail, problem.code),
        ClientError::ReadOnly { method, path } => format!(
            "read-only{profile}: {method} {path} was not sent (the profile or KEYDESK_READONLY says read-only)"
        ),
        ClientError::Protocol(reason) => format!("unexpected answer from {server}: {reason}"),
    }
}

impl CliError {
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => code::USAGE,
            CliError::NotConfirmed(_) => code::NOT_CONFIRMED,
            CliError::Failed(_) => code::FAILURE,
            CliError::Client(failure) => match &failure.error {
                ClientError::Unreachable { .. } => code::UNREACHABLE,
                ClientError::ReadOnly { .. } => code::DENIED,
                ClientError::Protocol(_) => code::FAILURE,
                ClientError::Api(problem) => for_status(problem.status),
            },
            CliError::Refused { status, .. } => for_status(*status),
        }
    }
}

/// The exit code of a refusal with this HTTP status.
fn for_status(status: u16) -> u8 {
    match status {
        400 | 422 => code::USAGE,
        401 | 403 => code::DENIED,
        404 => code::NOT_FOUND,
        409 | 412 | 428 => code::CONFLICT,
        _ => code::FAILURE,
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError::Failed(err.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
