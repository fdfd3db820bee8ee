//! Where a command connects and how it behaves, decided in one place: a
//! flag, then the environment, then the profile of the configuration
//! file, then the default. Each value remembers where it came from, so an
//! error can say which token was refused or which server was unreachable.
//!
//! - [`file`]: the configuration file: where it is, its profiles, its errors.
//! - [`token_command`]: running a profile's `token_command`.
//! - [`init`]: `keydesk config init|path`.

pub mod file;
pub mod init;
pub mod token_command;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use super::error::{CliError, CliResult};
use crate::console::clipboard::ClipboardMode;
pub use file::Location;
pub use init::{ConfigAction, ConfigCommand, run as run_command};

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
    /// The configuration file read, if any.
    pub config_file: Option<PathBuf>,
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

/// What resolution reads besides the command line: the configuration
/// file's place and the environment's variables. Tests build one; the
/// commands take the process's ([`Environment::from_process`]).
#[derive(Debug, Clone)]
pub struct Environment {
    /// Where the configuration file is; `None` without a home directory.
    pub config: Option<Location>,
    /// The variables: a profile's `token_env`, `NO_COLOR`.
    pub vars: HashMap<String, String>,
    /// How long a `token_command` may take.
    pub token_command_timeout: Duration,
}

impl Environment {
    /// The process's environment (variables that are not UTF-8 are left out).
    #[must_use]
    pub fn from_process() -> Self {
        let vars: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Self::new(vars, dirs::home_dir().as_deref())
    }

    /// `vars`, and the configuration file they and `home` point to.
    #[must_use]
    pub fn new(vars: HashMap<String, String>, home: Option<&Path>) -> Self {
        Self {
            config: Location::find(&vars, home),
            vars,
            token_command_timeout: token_command::TIMEOUT,
        }
    }
}

/// Decides every value: flag, environment, profile, default.
pub fn resolve(overrides: Overrides) -> CliResult<Resolved> {
    resolve_with(overrides, &Environment::from_process())
}

/// [`resolve`] in `environment`.
pub fn resolve_with(overrides: Overrides, environment: &Environment) -> CliResult<Resolved> {
    let loaded = match &environment.config {
        Some(location) => file::load(location)?,
        None => None,
    };
    let chosen = choose_profile(
        overrides.profile.as_ref(),
        loaded.as_ref(),
        environment.config.as_ref(),
    )?;
    let profile = chosen.map(|(_, profile)| profile);
    let name = chosen.map(|(name, _)| name.to_owned());
    let from_profile = |value: Option<String>| {
        value.map(|value| Given::new(value, Source::Profile(name.clone().unwrap_or_default())))
    };

    let server = overrides
        .server
        .or_else(|| from_profile(profile.and_then(|p| p.server.clone())));
    let tenant = overrides
        .tenant
        .map(|t| t.value)
        .or_else(|| profile.and_then(|p| p.tenant.clone()));
    let readonly = overrides
        .readonly
        .map(|r| r.value)
        .or_else(|| profile.and_then(|p| p.readonly))
        .unwrap_or(false);
    let clipboard = overrides
        .clipboard
        .map(|c| c.value)
        .or_else(|| profile.and_then(|p| p.clipboard))
        .unwrap_or_default();
    let clipboard_clear = overrides
        .clipboard_clear_seconds
        .map(|s| s.value)
        .or_else(|| profile.and_then(|p| p.clipboard_clear_seconds))
        .map_or(DEFAULT_CLIPBOARD_CLEAR, Duration::from_secs);
    let no_color_theme = profile.and_then(|p| p.theme) == Some(file::Theme::NoColor);
    let no_color_env = environment
        .vars
        .get("NO_COLOR")
        .is_some_and(|value| !value.is_empty());

    // The profile's token is looked for only when one is needed: a flag or
    // a variable wins, and without a server nothing would use it (nor run
    // its command).
    let token = match (overrides.token, &server, chosen, &loaded) {
        (Some(token), _, _, _) => Some(token),
        (None, Some(_), Some((name, profile)), Some(loaded)) => {
            profile_token(name, profile, &loaded.path, environment)?
        }
        _ => None,
    };

    Ok(Resolved {
        profile: name,
        config_file: loaded.as_ref().map(|l| l.path.clone()),
        server,
        token,
        tenant,
        readonly,
        clipboard,
        clipboard_clear,
        color: !no_color_theme && !no_color_env,
        warnings: loaded.map(|l| l.warnings).unwrap_or_default(),
    })
}

/// The profile asked for (`--profile`, `KEYDESK_PROFILE`, then the file's
/// `default_profile`), if any; one asked for that is not there is an error
/// naming the file and the profiles it has.
fn choose_profile<'a>(
    asked: Option<&Given<String>>,
    loaded: Option<&'a file::Loaded>,
    location: Option<&Location>,
) -> CliResult<Option<(&'a str, &'a file::Profile)>> {
    let default = loaded.and_then(|l| l.file.default_profile.as_deref());
    let (name, from) = match (asked, default) {
        (Some(asked), _) => (asked.value.as_str(), asked.source.to_string()),
        (None, Some(default)) => (default, "default_profile".to_owned()),
        (None, None) => return Ok(None),
    };
    let Some(loaded) = loaded else {
        let place = location.map_or_else(
            || "no home directory to look in (set KEYDESK_CONFIG)".to_owned(),
            |l| format!("no {}", l.path.display()),
        );
        return Err(CliError::Config(format!(
            "profile '{name}' (from {from}) needs a configuration file, but there is {place}: \
             `keydesk config init` writes one"
        )));
    };
    match loaded.file.profiles.get_key_value(name) {
        Some((name, profile)) => Ok(Some((name.as_str(), profile))),
        None => {
            let known: Vec<String> = loaded
                .file
                .profiles
                .keys()
                .map(|k| format!("'{k}'"))
                .collect();
            let known = if known.is_empty() {
                "it has no profiles".to_owned()
            } else {
                format!("its profiles: {}", known.join(", "))
            };
            Err(CliError::Config(format!(
                "no profile '{name}' (from {from}) in {}; {known}",
                loaded.path.display()
            )))
        }
    }
}

/// The token a profile gives: its `token`, the variable its `token_env`
/// names, or the output of its `token_command`.
fn profile_token(
    name: &str,
    profile: &file::Profile,
    path: &Path,
    environment: &Environment,
) -> CliResult<Option<Given<Zeroizing<String>>>> {
    if let Some(token) = &profile.token {
        return Ok(Some(Given::new(
            token.clone(),
            Source::Profile(name.to_owned()),
        )));
    }
    if let Some(var) = &profile.token_env {
        return match environment.vars.get(var).filter(|v| !v.is_empty()) {
            Some(value) => Ok(Some(Given::new(
                Zeroizing::new(value.clone()),
                Source::ProfileEnv {
                    profile: name.to_owned(),
                    var: var.clone(),
                },
            ))),
            None => Err(CliError::Config(format!(
                "profile '{name}' takes its token from ${var} (its token_env in {}), \
                 but {var} is not set: export it, or pass --token or KEYDESK_TOKEN",
                path.display()
            ))),
        };
    }
    if let Some(command) = &profile.token_command {
        return token_command::run(command, environment.token_command_timeout)
            .map(|token| {
                Some(Given::new(
                    token,
                    Source::ProfileCommand {
                        profile: name.to_owned(),
                    },
                ))
            })
            .map_err(|failure| {
                CliError::Config(format!(
                    "the token_command of profile '{name}' (in {}) {failure}",
                    path.display()
                ))
            });
    }
    Ok(None)
}

/// What to do when nothing says which server to use.
#[must_use]
pub fn how_to_start() -> String {
    how_to_start_at(Environment::from_process().config.as_ref())
}

fn how_to_start_at(location: Option<&Location>) -> String {
    let file = location.map_or_else(
        || "a configuration file (set KEYDESK_CONFIG to its path)".to_owned(),
        |l| l.path.display().to_string(),
    );
    format!(
        "no server to connect to. Three ways to start:\n  \
         keydesk demo                      a temporary server with demo data, and the console on it\n  \
         --server URL (or KEYDESK_SERVER)  with the token in KEYDESK_TOKEN\n  \
         keydesk config init               writes {file}: a profile to fill in"
    )
}

/// No token was found for `server`.
pub fn no_token(server: &Given<String>) -> CliError {
    CliError::Config(format!(
        "no management token for {} (from {}): set KEYDESK_TOKEN, pass --token, \
         or give the profile a token_env or token_command",
        server.value, server.source
    ))
}

#[cfg(test)]
mod tests;
