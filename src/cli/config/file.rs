//! The configuration file: where it is, what it may hold, and what is
//! wrong with it, said with the file, line and column.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

use super::super::error::{CliError, CliResult};
use crate::console::clipboard::ClipboardMode;

/// Where the configuration file is, and who said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    /// `KEYDESK_CONFIG` named the file: then it must exist.
    pub named: bool,
}

impl Location {
    /// `$KEYDESK_CONFIG`, else `$XDG_CONFIG_HOME/keydesk/config.toml`, else
    /// `~/.config/keydesk/config.toml` (on every system, so the path the
    /// README gives is the path used). Empty variables count as unset, and
    /// a relative XDG_CONFIG_HOME is ignored, as the XDG specification says.
    #[must_use]
    pub fn find(vars: &HashMap<String, String>, home: Option<&Path>) -> Option<Self> {
        let set = |name: &str| vars.get(name).filter(|value| !value.is_empty());
        if let Some(path) = set("KEYDESK_CONFIG") {
            return Some(Self {
                path: PathBuf::from(path),
                named: true,
            });
        }
        let config_home = set("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
            .or_else(|| home.map(|home| home.join(".config")))?;
        Some(Self {
            path: config_home.join("keydesk").join("config.toml"),
            named: false,
        })
    }
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used when neither --profile nor KEYDESK_PROFILE names one.
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One `[profiles.NAME]` table: every field may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub server: Option<String>,
    pub tenant: Option<String>,
    /// The token itself (allowed, but the file then draws a warning if others can read it).
    #[serde(default, deserialize_with = "secret")]
    pub token: Option<Zeroizing<String>>,
    /// The environment variable holding the token.
    pub token_env: Option<String>,
    /// A command whose output is the token.
    pub token_command: Option<String>,
    pub readonly: Option<bool>,
    #[serde(default, deserialize_with = "clipboard_mode")]
    pub clipboard: Option<ClipboardMode>,
    pub clipboard_clear_seconds: Option<u64>,
    pub theme: Option<Theme>,
}

/// The console's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Theme {
    Color,
    /// Statuses and the selection rely on words and reverse video, as with NO_COLOR.
    NoColor,
}

fn secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Zeroizing<String>>, D::Error> {
    Ok(Some(Zeroizing::new(String::deserialize(deserializer)?)))
}

/// The clipboard modes by the names `--clipboard` takes, so the flag and
/// the file cannot disagree.
fn clipboard_mode<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ClipboardMode>, D::Error> {
    let name = String::deserialize(deserializer)?;
    ClipboardMode::from_str(&name, false)
        .map(Some)
        .map_err(|_| {
            let known: Vec<String> = ClipboardMode::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value)
                .map(|value| format!("`{}`", value.get_name()))
                .collect();
            serde::de::Error::custom(format!(
                "unknown clipboard mode `{name}`, expected one of {}",
                known.join(", ")
            ))
        })
}

/// A file read and checked.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub file: ConfigFile,
    /// Said before the command runs.
    pub warnings: Vec<String>,
}

/// Reads the file at `location`: `None` when there is none (unless
/// KEYDESK_CONFIG named it), an error that names the file, line and column
/// when it cannot be used.
pub fn load(location: &Location) -> CliResult<Option<Loaded>> {
    let path = &location.path;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => Zeroizing::new(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !location.named => {
            return Ok(None);
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::Config(format!(
                "KEYDESK_CONFIG names {}, which does not exist (`keydesk config init` writes one there)",
                path.display()
            )));
        }
        Err(error) => {
            return Err(CliError::Config(format!(
                "cannot read {}: {error}",
                path.display()
            )));
        }
    };
    let file = parse(path, &text)?;
    check(path, &file)?;
    let mut warnings = Vec::new();
    if file.profiles.values().any(|p| p.token.is_some()) && readable_by_others(path) {
        warnings.push(format!(
            "{0} holds a token and can be read by others: chmod 600 {0}",
            path.display()
        ));
    }
    Ok(Some(Loaded {
        path: path.clone(),
        file,
        warnings,
    }))
}

/// Parses the text of the file at `path`.
pub fn parse(path: &Path, text: &str) -> CliResult<ConfigFile> {
    toml::from_str(text).map_err(|error| CliError::Config(describe(path, text, &error)))
}

/// `PATH, line L, column C (in [profiles.x], field f): message`. toml's own
/// Display would quote the offending line, and that line may hold a token.
fn describe(path: &Path, text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    let Some(span) = error.span() else {
        return format!("{}: {message}", path.display());
    };
    let start = span.start.min(text.len());
    let before = text.get(..start).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    let mut place = Vec::new();
    if let Some(table) = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
    {
        let table = table.split('#').next().unwrap_or(table).trim();
        place.push(format!("in {table}"));
    }
    // A wrong value: the field is what stands before `=` on its line.
    if let Some((key, _)) = before[line_start..].split_once('=') {
        let key = key.trim().trim_matches('"');
        if !key.is_empty() && !message.contains(&format!("`{key}`")) {
            place.push(format!("field `{key}`"));
        }
    }
    let place = if place.is_empty() {
        String::new()
    } else {
        format!(" ({})", place.join(", "))
    };
    format!(
        "{}, line {line}, column {column}{place}: {message}",
        path.display()
    )
}

/// What the types cannot say: a profile takes its token one way.
fn check(path: &Path, file: &ConfigFile) -> CliResult {
    for (name, profile) in &file.profiles {
        let ways: Vec<&str> = [
            ("token", profile.token.is_some()),
            ("token_env", profile.token_env.is_some()),
            ("token_command", profile.token_command.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, set)| set.then_some(field))
        .collect();
        if ways.len() > 1 {
            return Err(CliError::Config(format!(
                "profile '{name}' in {} sets {}: keep one of token, token_env and token_command",
                path.display(),
                ways.join(" and ")
            )));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}
