//! Where a command connects and how it behaves, decided in one place: a
//! flag, then the environment, then the profile of the configuration
//! file, then the default. Each value remembers where it came from, so an
//! error can say which token was refused or which server was unreachable.
//!
//! (This is the flags-and-environment core; profiles from
//! `$XDG_CONFIG_HOME/keydesk/config.toml` plug into [`resolve`].)

use std::time::Duration;

use zeroize::Zeroizing;

use super::error::{CliError, CliResult};
use crate::console::clipboard::ClipboardMode;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--token`.
    Flag(&'static str),
    /// An environment variable read by its flag, e.g. `KEYDESK_TOKEN`.
    Env(&'static str),
    /// The profile's own field.
    Profile(String),
    /// The environment variable a profile's `token_env` names.
    ProfileEnv { profile: String, var: String },
    /// The output of a profile's `token_command`.
    ProfileCommand { profile: String },
    /// Nobody said: the default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag}"),
            Source::Env(var) => write!(f, "{var}"),
            Source::Profile(profile) => write!(f, "profile '{profile}'"),
            Source::ProfileEnv { profile, var } => {
                write!(f, "${var} (token_env of profile '{profile}')")
            }
            Source::ProfileCommand { profile } => {
                write!(f, "the token_command of profile '{profile}'")
            }
            Source::Default => write!(f, "the default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Given<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Given<T> {
    pub fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}

/// What the command line and the environment said (clap reads both).
#[derive(Debug, Default)]
pub struct Overrides {
    pub profile: Option<Given<String>>,
    pub server: Option<Given<String>>,
    pub token: Option<Given<Zeroizing<String>>>,
    pub tenant: Option<Given<String>>,
    pub readonly: Option<Given<bool>>,
    pub clipboard: Option<Given<ClipboardMode>>,
    pub clipboard_clear_seconds: Option<Given<u64>>,
}

/// Everything decided.
#[derive(Debug)]
pub struct Resolved {
    /// The profile in use, if any.
    pub profile: Option<String>,
    pub server: Option<Given<String>>,
    pub token: Option<Given<Zeroizing<String>>>,
    pub tenant: Option<String>,
    pub readonly: bool,
    pub clipboard: ClipboardMode,
    pub clipboard_clear: Duration,
    /// False when the profile's theme asks for no colour (NO_COLOR works too).
    pub color: bool,
    /// Said on stderr before the command runs (a token in a file others can read).
    pub warnings: Vec<String>,
}

/// The clipboard is cleared this long after a copied secret by default.
pub const DEFAULT_CLIPBOARD_CLEAR: Duration = Duration::from_secs(30);

/// Decides every value: flag, environment, profile, default.
pub fn resolve(overrides: Overrides) -> CliResult<Resolved> {
    Ok(Resolved {
        profile: overrides.profile.map(|p| p.value),
        server: overrides.server,
        token: overrides.token,
        tenant: overrides.tenant.map(|t| t.value),
        readonly: overrides.readonly.is_some_and(|r| r.value),
        clipboard: overrides.clipboard.map_or(ClipboardMode::Auto, |c| c.value),
        clipboard_clear: overrides
            .clipboard_clear_seconds
            .map_or(DEFAULT_CLIPBOARD_CLEAR, |s| Duration::from_secs(s.value)),
        color: true,
        warnings: Vec::new(),
    })
}

/// What to do when nothing says which server to use.
#[must_use]
pub fn how_to_start() -> String {
    "no server: try `keydesk demo` for a server with demo data, or pass --server URL \
     (KEYDESK_SERVER) with a token in KEYDESK_TOKEN"
        .to_owned()
}

/// No token was found for `server`.
pub fn no_token(server: &Given<String>) -> CliError {
    CliError::Config(format!(
        "no management token for {} (from {}): set KEYDESK_TOKEN or pass --token",
        server.value, server.source
    ))
}
