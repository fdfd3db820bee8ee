//! The one keymap registry. A [`Binding`] holds the real key events that
//! trigger it, the scope where it applies, and its words; the toolbar, the
//! footer hints, the `?` overlay and the README's key table are all
//! generated from [`BINDINGS`], so they cannot drift apart. Whether an
//! action is available, and why not, is the view's answer
//! (`App::disabled_reason`), not the registry's.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key (or a toolbar click) asks the console to do. The same action
/// may mean a view's own thing (`Add` adds a key in Keys, a user in Users).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    CommandLine,
    NextView,
    PreviousView,
    View(u8),
    Refresh,
    TenantPicker,
    Up,
    Down,
    PageUp,
    PageDown,
    HalfPageUp,
    HalfPageDown,
    Top,
    Bottom,
    Filter,
    Back,
    Open,
    Add,
    Edit,
    Duplicate,
    CopySecret,
    CopyId,
    Regenerate,
    EndRotation,
    ToggleDisabled,
    Revoke,
    Delete,
    Mark,
    MarkAll,
    Sort,
    ReverseSort,
    License,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere outside dialogs.
    Global,
    /// Every view with a list (all of them).
    List,
    Keys,
    Events,
    Settings,
    Users,
}

impl Scope {
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "everywhere",
            Scope::List => "lists",
            Scope::Keys => "Keys",
            Scope::Events => "Events",
            Scope::Settings => "Settings",
            Scope::Users => "Users",
        }
    }
}

/// Where a binding shows up besides the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A toolbar button (a mutating one is hidden with `--readonly`).
    Toolbar,
    /// A footer hint.
    Footer,
    /// Only in the help overlay.
    Help,
}

/// One binding: its keys, scope, action and words.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [KeyEvent],
    pub scope: Scope,
    pub action: Action,
    /// The toolbar word; the key is bracketed into it (`add` → `[a]dd`).
    pub label: &'static str,
    /// The word on narrow terminals.
    pub short: &'static str,
    /// One line for the help overlay and the README.
    pub description: &'static str,
    pub placement: Placement,
    /// Changes what the server holds; hidden and refused in read-only mode.
    pub mutating: bool,
}

const fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

const fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

const fn code(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

struct Words {
    label: &'static str,
    short: &'static str,
    description: &'static str,
}

const fn words(label: &'static str, short: &'static str, description: &'static str) -> Words {
    Words {
        label,
        short,
        description,
    }
}

const fn bind(
    scope: Scope,
    keys: &'static [KeyEvent],
    action: Action,
    words: Words,
    placement: Placement,
    mutating: bool,
) -> Binding {
    Binding {
        keys,
        scope,
        action,
        label: words.label,
        short: words.short,
        description: words.description,
        placement,
        mutating,
    }
}

use Placement::{Footer, Help, Toolbar};
use Scope::{Global, Keys, List, Settings, Users};

/// Every binding, in the order the toolbar and help show them.
pub const BINDINGS: &[Binding] = &[
    // ---- Keys
    bind(
        Keys,
        &[key('a')],
        Action::Add,
        words("add", "add", "add a key"),
        Toolbar,
        true,
    ),
    bind(
        Keys,
        &[key('e')],
        Action::Edit,
        words(
            "edit",
            "edit",
            "edit the selected key: name, description, scopes, expiry",
        ),
        Toolbar,
        true,
    ),
    bind(
        Keys,
        &[key('D')],
        Action::Duplicate,
        words(
            "Duplicate",
            "Dup",
            "a copy of the selected key, renamed in a form first",
        ),
        Toolbar,
        true,
    ),
    bind(
        Keys,
        &[key('c')],
        Action::CopySecret,
        words(
            "copy",
            "copy",
            "copy the secret (where the tenant allows retrieval)",
        ),
        Toolbar,
        false,
    ),
    bind(
        Keys,
        &[key('y')],
        Action::CopyId,
        words("copy ID", "ID", "copy the key ID"),
        Toolbar,
        false,
    ),
    bind(
        Keys,
        &[key('R')],
        Action::Regenerate,
        words(
            "Rotate",
            "Rot",
            "new secret; the old one keeps working for a grace you pick",
        ),
        Toolbar,
        true,
    ),
    bind(
        Keys,
        &[key('E')],
        Action::EndRotation,
        words(
            "End rotation",
            "End",
            "end a rotation now: the previous secret stops working",
        ),
        Help,
        true,
    ),
    bind(
        Keys,
        &[key('d')],
        Action::ToggleDisabled,
        words(
            "disable",
            "dis",
            "disable ↔ enable the marked keys, else the selected one",
        ),
        Toolbar,
        true,
    ),
    bind(
        Keys,
        &[key('r')],
        Action::Revoke,
        words(
            "revoke",
            "revoke",
            "revoke the marked keys, else the selected one (for good)",
        ),
        Toolbar,
        true,
    ),
    bind(
        Keys,
        &[key('X')],
        Action::Delete,
        words("delete", "del", "delete the selected key permanently"),
        Toolbar,
        true,
    ),
    bind(
        Keys,
        &[key(' ')],
        Action::Mark,
        words("mark", "mark", "mark / unmark the selected key"),
        Help,
        false,
    ),
    bind(
        Keys,
        &[key('*'), ctrl('a')],
        Action::MarkAll,
        words(
            "mark all",
            "all",
            "mark every shown key, or clear the marks",
        ),
        Help,
        false,
    ),
    bind(
        Keys,
        &[key('s')],
        Action::Sort,
        words("sort", "sort", "choose the sort column"),
        Help,
        false,
    ),
    bind(
        Keys,
        &[key('S')],
        Action::ReverseSort,
        words("reverse", "reverse", "reverse the sort"),
        Help,
        false,
    ),
    // ---- Settings
    bind(
        Settings,
        &[key('e')],
        Action::Edit,
        words(
            "edit",
            "edit",
            "edit the tenant's settings (Enter: the selected one)",
        ),
        Toolbar,
        true,
    ),
    // ---- Users
    bind(
        Users,
        &[key('a')],
        Action::Add,
        words("add", "add", "create a user (their token is shown once)"),
        Toolbar,
        true,
    ),
    bind(
        Users,
        &[key('e')],
        Action::Edit,
        words(
            "edit",
            "edit",
            "grant or withdraw the selected user's roles and license",
        ),
        Toolbar,
        true,
    ),
    bind(
        Users,
        &[key('l')],
        Action::License,
        words("license", "lic", "give or take the selected user's license"),
        Toolbar,
        true,
    ),
    bind(
        Users,
        &[key('d')],
        Action::ToggleDisabled,
        words(
            "disable",
            "dis",
            "disable ↔ enable the selected user and their token",
        ),
        Toolbar,
        true,
    ),
    bind(
        Users,
        &[key('X')],
        Action::Delete,
        words(
            "delete",
            "del",
            "delete the selected user; their keys and events stay",
        ),
        Toolbar,
        true,
    ),
    // ---- every list
    bind(
        List,
        &[key('/')],
        Action::Filter,
        words(
            "/ filter",
            "/ filter",
            "filter (keys: text, status:active, owner:bo, -status:revoked)",
        ),
        Footer,
        false,
    ),
    bind(
        List,
        &[key('k'), code(KeyCode::Up)],
        Action::Up,
        words("up", "up", "move up"),
        Help,
        false,
    ),
    bind(
        List,
        &[key('j'), code(KeyCode::Down)],
        Action::Down,
        words("down", "down", "move down"),
        Help,
        false,
    ),
    bind(
        List,
        &[key('g'), code(KeyCode::Home)],
        Action::Top,
        words("top", "top", "first row"),
        Help,
        false,
    ),
    bind(
        List,
        &[key('G'), code(KeyCode::End)],
        Action::Bottom,
        words("bottom", "bottom", "last row"),
        Help,
        false,
    ),
    bind(
        List,
        &[code(KeyCode::PageUp), ctrl('b')],
        Action::PageUp,
        words("page up", "pgup", "a page up"),
        Help,
        false,
    ),
    bind(
        List,
        &[code(KeyCode::PageDown), ctrl('f')],
        Action::PageDown,
        words("page down", "pgdn", "a page down"),
        Help,
        false,
    ),
    bind(
        List,
        &[ctrl('u')],
        Action::HalfPageUp,
        words("half up", "½up", "half a page up"),
        Help,
        false,
    ),
    bind(
        List,
        &[ctrl('d')],
        Action::HalfPageDown,
        words("half down", "½dn", "half a page down"),
        Help,
        false,
    ),
    bind(
        List,
        &[code(KeyCode::Enter)],
        Action::Open,
        words(
            "open",
            "open",
            "open the detail (Keys, Events) or edit (Settings, Users)",
        ),
        Help,
        false,
    ),
    bind(
        List,
        &[code(KeyCode::Esc)],
        Action::Back,
        words(
            "back",
            "back",
            "back one step: close the detail, clear the filter, the marks",
        ),
        Help,
        false,
    ),
    // ---- everywhere
    bind(
        Global,
        &[key('1'), key('2'), key('3'), key('4')],
        Action::View(0),
        words(
            "views",
            "views",
            "switch view: Keys, Events, Settings, Users",
        ),
        Help,
        false,
    ),
    bind(
        Global,
        &[code(KeyCode::Tab)],
        Action::NextView,
        words("next view", "next", "next view"),
        Help,
        false,
    ),
    bind(
        Global,
        &[code(KeyCode::BackTab)],
        Action::PreviousView,
        words("previous view", "prev", "previous view"),
        Help,
        false,
    ),
    bind(
        Global,
        &[key('T')],
        Action::TenantPicker,
        words(
            "tenant",
            "tenant",
            "choose the tenant (a system admin can create one there)",
        ),
        Help,
        false,
    ),
    bind(
        Global,
        &[key(':')],
        Action::CommandLine,
        words(
            ": command",
            ": cmd",
            "commands: :tenant :lookup :revoke :help :q (Tab completes)",
        ),
        Help,
        false,
    ),
    bind(
        Global,
        &[code(KeyCode::F(5)), ctrl('r')],
        Action::Refresh,
        words("refresh", "refresh", "reload from the server"),
        Help,
        false,
    ),
    bind(
        Global,
        &[key('?')],
        Action::Help,
        words("? help", "? help", "this help"),
        Footer,
        false,
    ),
    bind(
        Global,
        &[key('q'), ctrl('c')],
        Action::Quit,
        words("q quit", "q quit", "quit (q in a detail goes back)"),
        Footer,
        false,
    ),
];

/// Shift is implied by an upper-case letter and sent inconsistently by
/// terminals; it never distinguishes two bindings.
fn normalized(key: KeyEvent) -> (KeyCode, KeyModifiers) {
    (key.code, key.modifiers - KeyModifiers::SHIFT)
}

/// The action `key` means in the given scopes (searched in order), if any.
#[must_use]
pub fn action_for(key: KeyEvent, scopes: &[Scope]) -> Option<Action> {
    let pressed = normalized(key);
    for scope in scopes {
        for binding in BINDINGS.iter().filter(|b| b.scope == *scope) {
            if let Some(at) = binding.keys.iter().position(|k| normalized(*k) == pressed) {
                if binding.action == Action::View(0) {
                    return Some(Action::View(u8::try_from(at + 1).unwrap_or(1)));
                }
                return Some(binding.action);
            }
        }
    }
    None
}

/// How one key is written: `a`, `ctrl-d`, `Enter`, `↑`, `space`.
#[must_use]
pub fn key_text(key: &KeyEvent) -> String {
    let name = match key.code {
        KeyCode::Char(' ') => "space".to_owned(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".to_owned(),
        KeyCode::Down => "↓".to_owned(),
        KeyCode::Left => "←".to_owned(),
        KeyCode::Right => "→".to_owned(),
        KeyCode::Enter => "Enter".to_owned(),
        KeyCode::Esc => "Esc".to_owned(),
        KeyCode::Tab => "Tab".to_owned(),
        KeyCode::BackTab => "shift-Tab".to_owned(),
        KeyCode::Home => "Home".to_owned(),
        KeyCode::End => "End".to_owned(),
        KeyCode::PageUp => "PgUp".to_owned(),
        KeyCode::PageDown => "PgDn".to_owned(),
        KeyCode::F(n) => format!("F{n}"),
        other => format!("{other:?}"),
    };
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        format!("ctrl-{name}")
    } else {
        name
    }
}

impl Binding {
    /// The keys as written in help: `j/↓`, `1/2/3/4`.
    #[must_use]
    pub fn keys_text(&self) -> String {
        self.keys.iter().map(key_text).collect::<Vec<_>>().join("/")
    }

    /// The toolbar label with its key: `[a]dd`, `[y] copy ID`.
    #[must_use]
    pub fn toolbar_label(&self, short: bool, word: Option<&str>) -> String {
        let word = word.unwrap_or(if short { self.short } else { self.label });
        let key = self.keys.first().map(key_text).unwrap_or_default();
        match word.strip_prefix(key.as_str()) {
            Some(rest) if !key.is_empty() => format!("[{key}]{rest}"),
            _ => format!("[{key}] {word}"),
        }
    }
}

/// The toolbar bindings of `scope`, in order; mutating ones dropped when read-only.
pub fn toolbar(scope: Scope, readonly: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| b.scope == scope && b.placement == Toolbar && !(readonly && b.mutating))
}

/// The footer hints.
pub fn footer() -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(|b| b.placement == Footer)
}

/// The bindings that apply in `scopes`, for the help overlay.
pub fn in_scopes(scopes: &[Scope]) -> impl Iterator<Item = &'static Binding> + '_ {
    scopes
        .iter()
        .flat_map(|scope| BINDINGS.iter().filter(move |b| b.scope == *scope))
}

/// Whether `action` changes what the server holds in `scope`.
#[must_use]
pub fn is_mutating(action: Action, scope: Scope) -> bool {
    BINDINGS
        .iter()
        .any(|b| b.action == action && b.scope == scope && b.mutating)
}

/// The key table as Markdown, for the README.
#[must_use]
pub fn markdown_table() -> String {
    let mut out = String::from("| key | where | action |\n|---|---|---|\n");
    for binding in BINDINGS {
        let keys = binding.keys_text().replace('|', "\\|");
        out.push_str(&format!(
            "| `{keys}` | {} | {} |\n",
            binding.scope.title(),
            binding.description
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_toolbar_label_names_a_key_that_triggers_its_action() {
        for scope in [Keys, Settings, Users] {
            for binding in toolbar(scope, false) {
                let label = binding.toolbar_label(false, None);
                let shown = label
                    .trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap()
                    .to_owned();
                let c = shown.chars().next().unwrap();
                let event = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
                assert_eq!(action_for(event, &[scope]), Some(binding.action), "{label}");
            }
        }
    }

    #[test]
    fn scopes_decide_what_a_key_means() {
        let a = key('a');
        assert_eq!(action_for(a, &[Keys, List, Global]), Some(Action::Add));
        assert_eq!(action_for(a, &[Scope::Events, List, Global]), None);
        let three = key('3');
        assert_eq!(
            action_for(three, &[Users, List, Global]),
            Some(Action::View(3))
        );
        let shifted = KeyEvent::new(KeyCode::Char('D'), KeyModifiers::SHIFT);
        assert_eq!(action_for(shifted, &[Keys]), Some(Action::Duplicate));
        assert_eq!(
            action_for(ctrl('d'), &[Keys, List]),
            Some(Action::HalfPageDown)
        );
    }

    #[test]
    fn shown_keys_are_derived_from_the_events() {
        let down = BINDINGS.iter().find(|b| b.action == Action::Down).unwrap();
        assert_eq!(down.keys_text(), "j/↓");
        let add = BINDINGS.iter().find(|b| b.action == Action::Add).unwrap();
        assert_eq!(add.toolbar_label(false, None), "[a]dd");
        let id = BINDINGS
            .iter()
            .find(|b| b.action == Action::CopyId)
            .unwrap();
        assert_eq!(id.toolbar_label(false, None), "[y] copy ID");
    }

    #[test]
    fn readonly_toolbar_hides_every_mutating_action() {
        let labels: Vec<_> = toolbar(Keys, true)
            .map(|b| b.toolbar_label(false, None))
            .collect();
        assert_eq!(labels, vec!["[c]opy", "[y] copy ID"]);
        assert_eq!(toolbar(Users, true).count(), 0);
    }

    #[test]
    fn the_readme_key_table_is_generated_from_the_registry() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        assert!(
            readme.contains(&markdown_table()),
            "README.md's key table differs from the keymap; paste keymap::markdown_table() output:\n{}",
            markdown_table()
        );
    }
}
