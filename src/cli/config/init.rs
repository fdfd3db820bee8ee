//! `keydesk config init|path`: a commented starting file, and where it is.

use std::io::Write;
use std::path::Path;

use super::super::error::{CliError, CliResult};
use super::Environment;

/// The configuration file: write a starting one, or show where it is.
#[derive(clap::Args, Debug)]
pub struct ConfigCommand {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum ConfigAction {
    /// Write a commented starting file (readable by you alone, no token in it) and print its path on stderr.
    Init {
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the configuration file's path: $KEYDESK_CONFIG, else $XDG_CONFIG_HOME/keydesk/config.toml, else ~/.config/keydesk/config.toml.
    Path,
}

/// The starting file: one profile that takes its token from the
/// environment. It must parse (a test says so).
pub const TEMPLATE: &str = r#"# keydesk configuration: named profiles, each a server, a tenant, and where
# the management token comes from.
#
# Every value is taken from, in this order: a command-line flag (--server),
# an environment variable (KEYDESK_SERVER), the profile, the default.
# The profile is the one --profile or KEYDESK_PROFILE names, else
# default_profile below.

default_profile = "local"

[profiles.local]
server = "http://127.0.0.1:7070"
# tenant = "acme"

# Where the token comes from: at most one of these three.
#   token_env      the name of an environment variable that holds it;
#   token_command  run once with `sh -c` when a token is needed, its output
#                  is the token, e.g. "pass show keydesk/local";
#   token          the token itself: avoid it, and if you must, chmod 600
#                  this file (keydesk warns when others can read it).
token_env = "KEYDESK_LOCAL_TOKEN"

# readonly = false                # true: refuse every change
# clipboard = "auto"              # auto | native | osc52 | off
# clipboard_clear_seconds = 30    # 0: never clear a copied secret
# theme = "color"                 # color | no-color

# Another server:
# [profiles.prod]
# server = "https://keys.example"
# tenant = "acme"
# token_command = "pass show keydesk/prod"
# readonly = true
"#;

/// Runs `keydesk config …` with the process's environment.
pub fn run(command: ConfigCommand) -> CliResult {
    run_with(command, &Environment::from_process())
}

/// Runs `keydesk config …` with `environment`.
pub fn run_with(command: ConfigCommand, environment: &Environment) -> CliResult {
    let Some(location) = &environment.config else {
        return Err(CliError::Config(
            "cannot tell where the configuration file goes (no home directory): set KEYDESK_CONFIG"
                .to_owned(),
        ));
    };
    match command.action {
        ConfigAction::Path => {
            println!("{}", location.path.display());
            Ok(())
        }
        ConfigAction::Init { force } => {
            init(&location.path, force)?;
            super::super::output::note(&format!(
                "keydesk: wrote {}; edit its profile, then try `keydesk keys list`",
                location.path.display()
            ));
            Ok(())
        }
    }
}

/// Writes [`TEMPLATE`] to `path`, readable by its owner alone; an existing
/// file is kept unless `force`.
pub fn init(path: &Path, force: bool) -> CliResult {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", parent.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Config(format!(
                "{} exists already: keydesk config init --force replaces it",
                path.display()
            ))
        } else {
            CliError::Failed(format!("cannot write {}: {e}", path.display()))
        }
    })?;
    // The mode above applies to a new file only; a replaced one may have
    // been readable by others.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(TEMPLATE.as_bytes())?;
    Ok(())
}
