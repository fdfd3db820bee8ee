//! The command line (`:`): `:tenant [NAME]`, `:lookup SECRET`, `:revoke
//! FILTER`, `:help`, `:q`, with Tab completion of the command and of tenant
//! names, and the candidates shown while typing (the same matches Tab
//! completes from).

use crate::api;

const COMMANDS: [&str; 6] = ["tenant", "lookup", "revoke", "help", "quit", "q"];

/// What a typed line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Quit,
    Help,
    /// `:tenant NAME`, or the picker without a name.
    Tenant(Option<&'a str>),
    /// `:lookup SECRET`: the key of a (leaked) secret, in any tenant.
    Lookup(&'a str),
    /// `:revoke owner=NAME …`: every key matching a filter, after a preview.
    Revoke(&'a str),
    Nothing,
    Unknown,
}

#[must_use]
pub fn parse(line: &str) -> Command<'_> {
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    match word {
        "q" | "quit" if rest.is_empty() => Command::Quit,
        "help" | "h" if rest.is_empty() => Command::Help,
        "tenant" | "t" if rest.is_empty() => Command::Tenant(None),
        "tenant" | "t" => Command::Tenant(Some(rest)),
        "lookup" => Command::Lookup(rest),
        "revoke" => Command::Revoke(rest),
        "" => Command::Nothing,
        _ => Command::Unknown,
    }
}

/// The commands that start with `word`.
fn commands_starting(word: &str) -> Vec<&'static str> {
    COMMANDS
        .iter()
        .copied()
        .filter(|c| c.starts_with(word))
        .collect()
}

/// The tenants whose id or display name starts with `typed` (any case).
fn tenants_starting<'a>(typed: &str, tenants: &'a [api::TenantBody]) -> Vec<&'a api::TenantBody> {
    let needle = typed.trim_start().to_lowercase();
    tenants
        .iter()
        .filter(|t| t.id.starts_with(&needle) || t.name.to_lowercase().starts_with(&needle))
        .collect()
}

/// What the word being typed could become, for the line above the command
/// line: commands, or tenants as `id (name)`. Empty when nothing completes.
#[must_use]
pub fn candidates(line: &str, tenants: &[api::TenantBody]) -> Vec<String> {
    match line.split_once(' ') {
        None => commands_starting(line)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        Some(("tenant" | "t", rest)) => tenants_starting(rest, tenants)
            .into_iter()
            .map(|t| {
                if t.name.eq_ignore_ascii_case(&t.id) {
                    t.id.clone()
                } else {
                    format!("{} ({})", t.id, t.name)
                }
            })
            .collect(),
        Some(_) => Vec::new(),
    }
}

/// Tab completion: the command word, then a tenant (by id or display
/// name). Returns the completed line and, when several fit, what they are.
#[must_use]
pub fn complete(line: &str, tenants: &[api::TenantBody]) -> (String, Option<String>) {
    let (word, rest) = match line.split_once(' ') {
        Some((word, rest)) => (word, Some(rest)),
        None => (line, None),
    };
    let Some(rest) = rest else {
        return complete_from(word, &commands_starting(word), " ");
    };
    if !matches!(word, "tenant" | "t") {
        return (line.to_owned(), None);
    }
    let needle = rest.trim_start().to_lowercase();
    let tenants: Vec<&str> = tenants_starting(rest, tenants)
        .into_iter()
        .map(|t| t.id.as_str())
        .collect();
    let (completed, note) = complete_from(&needle, &tenants, "");
    (format!("{word} {completed}"), note)
}

/// Completes `typed` from `fits`: the one that fits (plus `after`), or the
/// longest common prefix with a note listing them.
fn complete_from(typed: &str, fits: &[&str], after: &str) -> (String, Option<String>) {
    match fits {
        [] => (typed.to_owned(), Some("nothing to complete".to_owned())),
        [one] => (format!("{one}{after}"), None),
        many => {
            let first = many[0];
            let common = (typed.len()..=first.len())
                .rev()
                .find(|&n| {
                    first.is_char_boundary(n) && many.iter().all(|m| m.starts_with(&first[..n]))
                })
                .map_or(typed, |n| &first[..n]);
            (
                common.to_owned(),
                Some(format!("could be: {}", many.join(", "))),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_commands() {
        assert_eq!(parse("q"), Command::Quit);
        assert_eq!(
            parse("tenant  Tenant globex "),
            Command::Tenant(Some("Tenant globex"))
        );
        assert_eq!(parse("t"), Command::Tenant(None));
        assert_eq!(parse("help"), Command::Help);
        assert_eq!(parse("quit now"), Command::Unknown);
    }

    #[test]
    fn completes_the_longest_common_prefix_and_lists_the_rest() {
        let (line, note) = complete_from("glo", &["globex-eu", "globex-us"], "");
        assert_eq!(line, "globex-");
        assert_eq!(note.as_deref(), Some("could be: globex-eu, globex-us"));
        assert_eq!(complete_from("q", &["quit", "q"], " ").0, "q");
    }

    #[test]
    fn candidates_are_what_tab_completes_from() {
        let tenant = |id: &str, name: &str| api::TenantBody {
            id: id.to_owned(),
            name: name.to_owned(),
            created_at: chrono::Utc::now(),
            settings: api::Settings::from_domain(&crate::domain::TenantSettings::default(), 1),
        };
        let tenants = [
            tenant("acme-payments", "ACME Payments"),
            tenant("globex", "Globex"),
        ];
        assert_eq!(candidates("", &tenants), COMMANDS);
        assert_eq!(candidates("t", &tenants), ["tenant"]);
        assert_eq!(
            candidates("tenant ", &tenants),
            ["acme-payments (ACME Payments)", "globex"]
        );
        assert_eq!(
            candidates("tenant ac", &tenants),
            ["acme-payments (ACME Payments)"]
        );
        assert!(candidates("tenant zz", &tenants).is_empty());
        assert!(candidates("quit x", &tenants).is_empty());
    }
}
