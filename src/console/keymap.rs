//! The one keymap registry. The toolbar, the footer hints, the `?` overlay
//! and the README's key table are all generated from [`BINDINGS`], so they
//! cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key (or a toolbar click) asks the console to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Open,
    Back,
    NextView,
    View(u8),
    Filter,
    CommandLine,
    Help,
    Add,
    Edit,
    Duplicate,
    CopySecret,
    CopyId,
    Regenerate,
    ToggleDisabled,
    Revoke,
    Delete,
    Mark,
    NextSort,
    ReverseSort,
    Refresh,
    Quit,
}

/// Where a binding shows up besides the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A toolbar button (and a mutating one is hidden with `--readonly`).
    Toolbar,
    /// A footer hint.
    Footer,
    /// Only in the help overlay.
    Help,
}

/// One binding: its keys as shown, the command, and its words.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys as written in help, e.g. `j/k, ↑/↓`.
    pub keys: &'static str,
    pub command: Command,
    /// The toolbar label, with the key in brackets: `[a]dd`.
    pub label: &'static str,
    /// The label on narrow terminals: `[D]up`.
    pub short: &'static str,
    /// One line for the help overlay and the README.
    pub description: &'static str,
    pub placement: Placement,
    /// Changes what the server holds; hidden in read-only mode.
    pub mutating: bool,
}

const fn bind(
    keys: &'static str,
    command: Command,
    label: (&'static str, &'static str),
    description: &'static str,
    placement: Placement,
    mutating: bool,
) -> Binding {
    Binding {
        keys,
        command,
        label: label.0,
        short: label.1,
        description,
        placement,
        mutating,
    }
}

use Placement::{Footer, Help, Toolbar};

/// Every binding, in the order the toolbar and help show them.
pub const BINDINGS: &[Binding] = &[
    bind(
        "a",
        Command::Add,
        ("[a]dd", "[a]dd"),
        "add a key",
        Toolbar,
        true,
    ),
    bind(
        "e",
        Command::Edit,
        ("[e]dit", "[e]dit"),
        "edit the selected key's name, description and scopes",
        Toolbar,
        true,
    ),
    bind(
        "D",
        Command::Duplicate,
        ("[D]uplicate", "[D]up"),
        "new key with the selected key's presets",
        Toolbar,
        true,
    ),
    bind(
        "c",
        Command::CopySecret,
        ("[c]opy", "[c]opy"),
        "copy the secret (where the tenant allows retrieval)",
        Toolbar,
        false,
    ),
    bind(
        "y",
        Command::CopyId,
        ("[y] copy ID", "[y]ID"),
        "copy the key ID",
        Toolbar,
        false,
    ),
    bind(
        "R",
        Command::Regenerate,
        ("[R]egenerate", "[R]egen"),
        "new secret; the old one stops working at once",
        Toolbar,
        true,
    ),
    bind(
        "d",
        Command::ToggleDisabled,
        ("[d]isable", "[d]is"),
        "disable ↔ enable the selected key",
        Toolbar,
        true,
    ),
    bind(
        "r",
        Command::Revoke,
        ("[r]evoke", "[r]evoke"),
        "revoke the marked keys, else the selected one (for good)",
        Toolbar,
        true,
    ),
    bind(
        "X",
        Command::Delete,
        ("[X] delete", "[X]del"),
        "delete the selected key permanently",
        Toolbar,
        true,
    ),
    bind(
        "space",
        Command::Mark,
        ("mark", "mark"),
        "mark / unmark the selected key",
        Help,
        false,
    ),
    bind(
        "/",
        Command::Filter,
        ("/ filter", "/ filter"),
        "filter by name, ID, owner or start",
        Footer,
        false,
    ),
    bind(
        ":",
        Command::CommandLine,
        (": command", ": command"),
        "command line (:tenant NAME, :q)",
        Help,
        false,
    ),
    bind(
        "s",
        Command::NextSort,
        ("s sort", "s sort"),
        "sort by the next column",
        Help,
        false,
    ),
    bind(
        "S",
        Command::ReverseSort,
        ("S reverse", "S reverse"),
        "reverse the sort",
        Help,
        false,
    ),
    bind(
        "j/k, ↑/↓",
        Command::Down,
        ("move", "move"),
        "move the selection",
        Help,
        false,
    ),
    bind(
        "g/G",
        Command::Top,
        ("top", "top"),
        "first / last key",
        Help,
        false,
    ),
    bind(
        "PgUp/PgDn",
        Command::PageDown,
        ("page", "page"),
        "a page up / down",
        Help,
        false,
    ),
    bind(
        "Enter",
        Command::Open,
        ("open", "open"),
        "open the detail",
        Help,
        false,
    ),
    bind(
        "Esc",
        Command::Back,
        ("back", "back"),
        "back, close, clear the filter and marks",
        Help,
        false,
    ),
    bind(
        "Tab, 1-4",
        Command::NextView,
        ("views", "views"),
        "switch view: Keys, Events, Settings, Users",
        Help,
        false,
    ),
    bind(
        "F5",
        Command::Refresh,
        ("refresh", "refresh"),
        "reload from the server",
        Help,
        false,
    ),
    bind(
        "?",
        Command::Help,
        ("? help", "? help"),
        "this help",
        Footer,
        false,
    ),
    bind(
        "q",
        Command::Quit,
        ("q quit", "q quit"),
        "quit",
        Footer,
        false,
    ),
];

/// The command a key press means in the main view, if any.
#[must_use]
pub fn command_for(key: KeyEvent) -> Option<Command> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Command::Quit),
            KeyCode::Char('r') => Some(Command::Refresh),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('j') | KeyCode::Down => Command::Down,
        KeyCode::Char('k') | KeyCode::Up => Command::Up,
        KeyCode::Char('g') | KeyCode::Home => Command::Top,
        KeyCode::Char('G') | KeyCode::End => Command::Bottom,
        KeyCode::PageUp => Command::PageUp,
        KeyCode::PageDown => Command::PageDown,
        KeyCode::Enter => Command::Open,
        KeyCode::Esc => Command::Back,
        KeyCode::Tab => Command::NextView,
        KeyCode::Char(c @ '1'..='4') => Command::View(c as u8 - b'0'),
        KeyCode::Char('/') => Command::Filter,
        KeyCode::Char(':') => Command::CommandLine,
        KeyCode::Char('?') => Command::Help,
        KeyCode::Char('a') => Command::Add,
        KeyCode::Char('e') => Command::Edit,
        KeyCode::Char('D') => Command::Duplicate,
        KeyCode::Char('c') => Command::CopySecret,
        KeyCode::Char('y') => Command::CopyId,
        KeyCode::Char('R') => Command::Regenerate,
        KeyCode::Char('d') => Command::ToggleDisabled,
        KeyCode::Char('r') => Command::Revoke,
        KeyCode::Char('X') => Command::Delete,
        KeyCode::Char(' ') => Command::Mark,
        KeyCode::Char('s') => Command::NextSort,
        KeyCode::Char('S') => Command::ReverseSort,
        KeyCode::F(5) => Command::Refresh,
        KeyCode::Char('q') => Command::Quit,
        _ => return None,
    })
}

/// The bindings on the toolbar, in order; mutating ones dropped when read-only.
pub fn toolbar(readonly: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| b.placement == Toolbar && !(readonly && b.mutating))
}

/// The footer hints.
pub fn footer() -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(|b| b.placement == Footer)
}

/// The key table as Markdown, for the README.
#[must_use]
pub fn markdown_table() -> String {
    let mut out = String::from("| key | action |\n|---|---|\n");
    for binding in BINDINGS {
        let keys = binding.keys.replace('|', "\\|");
        out.push_str(&format!("| `{keys}` | {} |\n", binding.description));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_toolbar_label_names_a_key_that_triggers_its_command() {
        for binding in toolbar(false) {
            let key = binding.keys.chars().next().unwrap();
            let event = KeyEvent::new(KeyCode::Char(key), KeyModifiers::NONE);
            assert_eq!(
                command_for(event),
                Some(binding.command),
                "{}",
                binding.label
            );
        }
    }

    #[test]
    fn readonly_toolbar_hides_every_mutating_action() {
        let labels: Vec<_> = toolbar(true).map(|b| b.label).collect();
        assert_eq!(labels, vec!["[c]opy", "[y] copy ID"]);
    }

    #[test]
    fn the_readme_key_table_is_generated_from_the_registry() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        assert!(
            readme.contains(&markdown_table()),
            "README.md's key table differs from the keymap; paste keymap::markdown_table() output"
        );
    }
}
