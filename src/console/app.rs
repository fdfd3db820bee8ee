//! The console's state and its update function. Input becomes a
//! [`Command`] (or dialog keys); `update` changes state and may start
//! background requests, whose results come back as [`Msg`]s. Rendering reads
//! this state and changes nothing (see `render.rs`).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use tokio::sync::mpsc::UnboundedSender;
use zeroize::Zeroizing;

use super::clipboard::Clipboard;
use super::index::{KeyIndex, haystack};
use super::keymap::{self, Command};
use crate::api::{self, KeyWithSecret};
use crate::client::{Client, ClientError, ClientResult, KeyListQuery};
use crate::domain::policy::{self, KeyAction};
use crate::domain::{
    Email, KeyCreators, KeyPrefix, KeyStatus, PersonName, Roles, Scope, SecretRetrieval, TenantId,
    TenantSettings, User, UserId,
};

/// Keys fetched per request while loading a tenant.
pub const PAGE_SIZE: u32 = 1000;
/// The first page is small: a screenful arrives fast, the rest follows.
pub const FIRST_PAGE_SIZE: u32 = 100;
/// A tenant with at most this many keys is reloaded in the background.
const LIVE_RELOAD_MAX_KEYS: usize = 5000;
const LIVE_RELOAD_EVERY: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A background request's result.
pub enum Msg {
    Me(ClientResult<api::Me>),
    Tenant {
        tenant: String,
        settings: ClientResult<api::Settings>,
        users: ClientResult<api::UserList>,
    },
    Page {
        generation: u64,
        result: ClientResult<api::KeyList>,
    },
    Events {
        tenant: String,
        result: ClientResult<api::EventList>,
    },
    KeyUpdated {
        verb: &'static str,
        result: ClientResult<api::Key>,
    },
    KeyDeleted {
        id: String,
        name: String,
        result: ClientResult<()>,
    },
    SecretIssued {
        verb: &'static str,
        result: ClientResult<KeyWithSecret>,
    },
    Revealed {
        name: String,
        result: ClientResult<api::RevealedSecret>,
    },
    BulkRevoked {
        hidden: usize,
        results: Vec<(String, ClientResult<api::Key>)>,
    },
}

/// Starts requests in the background and counts those in flight.
#[derive(Clone)]
pub struct Net {
    pub client: Client,
    tx: UnboundedSender<Msg>,
    in_flight: Arc<AtomicUsize>,
}

impl Net {
    #[must_use]
    pub fn new(client: Client, tx: UnboundedSender<Msg>) -> Self {
        Self {
            client,
            tx,
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn spawn<F>(&self, work: impl FnOnce(Client) -> F)
    where
        F: Future<Output = Msg> + Send + 'static,
    {
        let future = work(self.client.clone());
        let (tx, in_flight) = (self.tx.clone(), Arc::clone(&self.in_flight));
        in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let msg = future.await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            let _ = tx.send(msg);
        });
    }

    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Keys,
    Events,
    Settings,
    Users,
}

impl View {
    pub const ALL: [View; 4] = [View::Keys, View::Events, View::Settings, View::Users];

    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            View::Keys => "Keys",
            View::Events => "Events",
            View::Settings => "Settings",
            View::Users => "Users",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Error,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub text: String,
    pub level: Level,
}

/// Whether the server answers.
#[derive(Debug, Clone)]
pub enum Connection {
    Connecting,
    Live,
    Down {
        reason: String,
        retry_at: Instant,
        backoff: Duration,
    },
}

/// The line being typed at the bottom, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    None,
    Filter,
    Command(String),
}

/// A destructive action waiting for confirmation.
#[derive(Debug, Clone)]
pub enum Pending {
    Revoke(Vec<(String, String)>),
    Delete(String, String),
    Regenerate(String, String),
}

#[derive(Debug, Clone)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub confirm_label: &'static str,
    pub pending: Pending,
    /// Focus starts on Cancel: Enter alone never destroys anything.
    pub confirm_focused: bool,
}

/// A one-line text input.
#[derive(Debug, Clone, Default)]
pub struct TextField {
    pub text: String,
}

impl TextField {
    fn handle(&mut self, key: KeyEvent, max: usize) -> bool {
        match key.code {
            KeyCode::Char(c)
                if !key.modifiers.contains(KeyModifiers::CONTROL) && !c.is_control() =>
            {
                if self.text.chars().count() < max {
                    self.text.push(c);
                }
                true
            }
            KeyCode::Backspace => {
                self.text.pop();
                true
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormField {
    Name,
    Description,
    Scope(usize),
    Owner,
    Expiry,
    Save,
    Cancel,
}

#[derive(Debug, Clone)]
pub enum FormMode {
    Add,
    Edit { id: String, version: i64 },
}

/// The add / edit key form.
#[derive(Debug, Clone)]
pub struct KeyForm {
    pub mode: FormMode,
    pub name: TextField,
    pub description: TextField,
    pub scopes: Vec<(String, bool)>,
    pub scopes_editable: bool,
    /// (user id, name) of the possible owners; index 0 is the caller.
    pub owners: Vec<(String, String)>,
    pub owner: usize,
    /// Days until expiry; empty for none.
    pub expiry_days: TextField,
    pub max_expiry_days: Option<u32>,
    pub focus: FormField,
    pub error: Option<String>,
    pub submitting: bool,
}

impl KeyForm {
    fn fields(&self) -> Vec<FormField> {
        let mut fields = vec![FormField::Name, FormField::Description];
        if self.scopes_editable {
            fields.extend((0..self.scopes.len()).map(FormField::Scope));
        }
        if matches!(self.mode, FormMode::Add) {
            if self.owners.len() > 1 {
                fields.push(FormField::Owner);
            }
            fields.push(FormField::Expiry);
        }
        fields.extend([FormField::Save, FormField::Cancel]);
        fields
    }

    fn move_focus(&mut self, forward: bool) {
        let fields = self.fields();
        let at = fields.iter().position(|f| *f == self.focus).unwrap_or(0);
        let next = if forward {
            (at + 1) % fields.len()
        } else {
            (at + fields.len() - 1) % fields.len()
        };
        self.focus = fields[next];
    }
}

/// A secret shown once. Its buffer is zeroized when the modal closes.
pub struct SecretModal {
    pub title: String,
    pub key_id: String,
    pub secret: Zeroizing<String>,
    pub copied: Option<String>,
    pub close_focused: bool,
}

pub enum Dialog {
    Confirm(Confirm),
    Form(Box<KeyForm>),
    Secret(SecretModal),
    Message { title: String, lines: Vec<String> },
    Help,
}

/// A tenant's state as last loaded.
#[derive(Default)]
pub struct Loading {
    pub generation: u64,
    /// Replacing an already shown list: pages are staged, then swapped in.
    pub staged: Option<Vec<api::Key>>,
    pub loaded: usize,
    pub total: u64,
}

pub struct App {
    pub net: Net,
    pub readonly: bool,
    pub clipboard: Clipboard,
    pub me: Option<api::Me>,
    pub tenant: Option<String>,
    pub settings: Option<api::Settings>,
    pub users: Vec<api::UserBody>,
    pub keys: Vec<api::Key>,
    haystacks: Vec<String>,
    pub index: KeyIndex,
    pub loading: Option<Loading>,
    generation: u64,
    pub selected: usize,
    pub offset: usize,
    pub marked: BTreeSet<String>,
    /// The filter as typed (the index keeps it lowercased).
    pub filter_text: String,
    pub view: View,
    pub detail_zoomed: bool,
    pub input: Input,
    pub dialog: Option<Dialog>,
    /// Dialogs that arrived while another was open, shown in turn.
    pub queued: std::collections::VecDeque<Dialog>,
    pub status: Option<Status>,
    pub events: Vec<api::EventBody>,
    pub connection: Connection,
    pub ticks: u64,
    /// False with NO_COLOR: selection and statuses then rely on reverse video and words.
    pub color: bool,
    /// A fixed time for rendering (tests); `None` means the wall clock.
    pub clock: Option<chrono::DateTime<chrono::Utc>>,
    pub quit: bool,
    /// Terminal size, for page moves and mouse hits.
    pub size: (u16, u16),
    requested_tenant: Option<String>,
    last_reload: Instant,
}

fn error_text(err: &ClientError) -> String {
    match err {
        ClientError::Api(problem) => format!("{} ({})", problem.detail, problem.code),
        other => other.to_string(),
    }
}

impl App {
    #[must_use]
    pub fn new(net: Net, clipboard: Clipboard, tenant: Option<String>, readonly: bool) -> Self {
        Self {
            net,
            readonly,
            clipboard,
            me: None,
            tenant: None,
            settings: None,
            users: Vec::new(),
            keys: Vec::new(),
            haystacks: Vec::new(),
            index: KeyIndex::default(),
            loading: None,
            generation: 0,
            selected: 0,
            offset: 0,
            marked: BTreeSet::new(),
            filter_text: String::new(),
            view: View::Keys,
            detail_zoomed: false,
            input: Input::None,
            dialog: None,
            queued: std::collections::VecDeque::new(),
            status: None,
            events: Vec::new(),
            connection: Connection::Connecting,
            ticks: 0,
            color: true,
            clock: None,
            quit: false,
            size: (80, 24),
            requested_tenant: tenant,
            last_reload: Instant::now(),
        }
    }

    /// Starts the session: who am I, then the tenant.
    pub fn start(&mut self) {
        self.net
            .spawn(|client| async move { Msg::Me(client.me().await) });
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            level: Level::Info,
        });
    }

    pub fn success(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            level: Level::Success,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            level: Level::Error,
        });
    }

    // ------------------------------------------------------------ queries

    /// The time relative dates are drawn against.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.unwrap_or_else(chrono::Utc::now)
    }

    /// Replaces the loaded keys (as a finished load does) and re-indexes them.
    pub fn replace_keys(&mut self, keys: Vec<api::Key>) {
        self.haystacks = keys.iter().map(haystack).collect();
        self.keys = keys;
        self.marked
            .retain(|id| self.keys.iter().any(|k| &k.id == id));
        self.reindex();
    }

    /// The key under the cursor.
    #[must_use]
    pub fn selected_key(&self) -> Option<&api::Key> {
        self.index
            .visible()
            .get(self.selected)
            .and_then(|&i| self.keys.get(i as usize))
    }

    /// Rows the key list has on screen (depends on layout; see render).
    #[must_use]
    pub fn list_height(&self) -> usize {
        usize::from(super::render::list_rows(self.size))
    }

    /// The caller as the domain sees them, to ask the permission matrix.
    fn actor(&self) -> Option<User> {
        let me = &self.me.as_ref()?.user;
        Some(User {
            id: UserId::from_trusted(me.id.clone()),
            name: PersonName::from_trusted(me.name.clone()),
            email: Email::from_trusted(me.email.clone()),
            tenant_id: me.tenant.clone().map(TenantId::from_trusted),
            roles: Roles::new(me.roles.iter().copied()),
            licensed: me.licensed,
            created_at: me.created_at,
        })
    }

    fn domain_settings(&self) -> Option<TenantSettings> {
        let s = self.settings.as_ref()?;
        Some(TenantSettings {
            api_keys_enabled: s.api_keys_enabled,
            max_expiry_days: s.max_expiry_days,
            max_keys_per_user: s.max_keys_per_user,
            key_creators: s.key_creators,
            scopes_editable: s.scopes_editable,
            revoke_requires_disabled: s.revoke_requires_disabled,
            secret_retrieval: s.secret_retrieval,
            key_prefix: KeyPrefix::parse(&s.key_prefix).unwrap_or_default(),
            scopes: s.scopes.iter().cloned().map(Scope::from_trusted).collect(),
        })
    }

    /// Why `command` cannot be taken now, or `None` if it can. Mirrors the
    /// server's rules, so the toolbar shows what the server would refuse.
    #[must_use]
    pub fn disabled_reason(&self, command: Command) -> Option<String> {
        let mutating = keymap::BINDINGS
            .iter()
            .any(|b| b.command == command && b.mutating);
        if self.readonly && mutating {
            return Some("read-only session".to_owned());
        }
        let needs_key = matches!(
            command,
            Command::Edit
                | Command::Duplicate
                | Command::CopySecret
                | Command::CopyId
                | Command::Regenerate
                | Command::ToggleDisabled
                | Command::Delete
        ) || (command == Command::Revoke && self.marked.is_empty());
        if !matches!(command, Command::CopyId) && (mutating || command == Command::CopySecret) {
            if self.view != View::Keys {
                return Some("switch to the Keys view (1)".to_owned());
            }
            if self.settings.is_none() || self.me.is_none() {
                return Some("still loading".to_owned());
            }
        }
        let key = self.selected_key();
        if needs_key && key.is_none() {
            return Some("no key selected".to_owned());
        }
        let (Some(actor), Some(settings)) = (self.actor(), self.domain_settings()) else {
            return None;
        };
        let owner = key.map(|k| UserId::from_trusted(k.owner.id.as_str().to_owned()));
        let allowed = |action: KeyAction| -> Option<String> {
            let owner = owner.as_ref()?;
            policy::may_act_on_key(&actor, action, &settings, owner)
                .err()
                .map(|r| r.message)
        };
        let status = key.map(|k| k.status);
        let revoked = status == Some(KeyStatus::Revoked);
        match command {
            Command::Add => {
                if !settings.api_keys_enabled {
                    return Some("API keys are switched off for this tenant (Settings)".to_owned());
                }
                policy::may_create_key(&actor, &settings, &actor.id)
                    .err()
                    .map(|r| r.message)
            }
            Command::Edit => allowed(KeyAction::Edit)
                .or_else(|| revoked.then(|| "the key is revoked".to_owned())),
            Command::Duplicate => {
                if !settings.api_keys_enabled {
                    return Some("API keys are switched off for this tenant".to_owned());
                }
                allowed(KeyAction::Duplicate)
                    .or_else(|| revoked.then(|| "the key is revoked".to_owned()))
            }
            Command::CopySecret => {
                if settings.secret_retrieval != SecretRetrieval::Admins {
                    return Some(
                        "this tenant shows a secret only once, when it is created".to_owned(),
                    );
                }
                allowed(KeyAction::Reveal).or_else(|| {
                    if revoked {
                        Some("the key is revoked".to_owned())
                    } else if key.is_some_and(|k| !k.secret_retrievable) {
                        Some("this key's secret was not stored for retrieval".to_owned())
                    } else {
                        None
                    }
                })
            }
            Command::Regenerate => allowed(KeyAction::Regenerate).or_else(|| match status {
                Some(KeyStatus::Revoked) => Some("the key is revoked".to_owned()),
                Some(KeyStatus::Expired) => Some("the key has expired".to_owned()),
                _ => None,
            }),
            Command::ToggleDisabled => {
                let action = if status == Some(KeyStatus::Disabled) {
                    KeyAction::Enable
                } else {
                    KeyAction::Disable
                };
                allowed(action).or_else(|| match status {
                    Some(KeyStatus::Revoked) => Some("the key is revoked".to_owned()),
                    Some(KeyStatus::Expired) => Some("the key has expired".to_owned()),
                    _ => None,
                })
            }
            Command::Revoke if self.marked.is_empty() => allowed(KeyAction::Revoke).or_else(|| {
                if revoked {
                    Some("the key is already revoked".to_owned())
                } else if settings.revoke_requires_disabled && status == Some(KeyStatus::Active) {
                    Some("this tenant revokes only disabled keys; disable it first (d)".to_owned())
                } else {
                    None
                }
            }),
            Command::Delete => allowed(KeyAction::Delete),
            _ => None,
        }
    }

    /// The label the disable/enable button shows for the selected key.
    #[must_use]
    pub fn toggle_label(&self, short: bool) -> &'static str {
        match (self.selected_key().map(|k| k.status), short) {
            (Some(KeyStatus::Disabled), false) => "[d] enable",
            (Some(KeyStatus::Disabled), true) => "[d]en",
            (_, false) => "[d]isable",
            (_, true) => "[d]is",
        }
    }

    // ------------------------------------------------------------ loading

    /// Reloads the tenant without clearing what is shown: the list stays
    /// usable while the server is slow or down.
    fn refresh(&mut self) {
        let Some(tenant) = self.tenant.clone() else {
            self.start();
            return;
        };
        self.fetch_tenant_details(tenant);
        self.load_keys(!self.keys.is_empty());
        self.load_events();
        self.info("reloading…");
    }

    fn fetch_tenant_details(&self, tenant: String) {
        self.net.spawn(move |client| async move {
            let (settings, users) = tokio::join!(client.settings(&tenant), client.users(&tenant));
            Msg::Tenant {
                tenant,
                settings,
                users,
            }
        });
    }

    fn load_tenant(&mut self, tenant: String) {
        self.tenant = Some(tenant.clone());
        self.settings = None;
        self.users.clear();
        self.keys.clear();
        self.haystacks.clear();
        self.marked.clear();
        self.events.clear();
        self.selected = 0;
        self.offset = 0;
        self.index.rebuild(&self.keys, &self.haystacks);
        self.fetch_tenant_details(tenant);
        self.load_keys(false);
        self.load_events();
    }

    /// Loads every key of the tenant, page by page. A reload stages pages
    /// and swaps them in at the end, so the list does not flicker.
    fn load_keys(&mut self, reload: bool) {
        let Some(tenant) = self.tenant.clone() else {
            return;
        };
        self.generation += 1;
        self.loading = Some(Loading {
            generation: self.generation,
            staged: reload.then(Vec::new),
            loaded: 0,
            total: 0,
        });
        self.last_reload = Instant::now();
        self.fetch_page(tenant, None);
    }

    fn fetch_page(&self, tenant: String, cursor: Option<String>) {
        let generation = self.generation;
        self.net.spawn(move |client| async move {
            let limit = if cursor.is_none() {
                FIRST_PAGE_SIZE
            } else {
                PAGE_SIZE
            };
            let query = KeyListQuery {
                limit: Some(limit),
                cursor,
                ..KeyListQuery::default()
            };
            Msg::Page {
                generation,
                result: client.list_keys(&tenant, &query).await,
            }
        });
    }

    fn load_events(&mut self) {
        let Some(tenant) = self.tenant.clone() else {
            return;
        };
        self.net.spawn(move |client| async move {
            let result = client.events(&tenant, None, None).await;
            Msg::Events { tenant, result }
        });
    }

    /// Where the key with `id` is among the visible ones, if it is.
    fn visible_position(&self, id: &str) -> Option<usize> {
        let i = self.keys.iter().position(|k| k.id == id)?;
        self.index.position_of(u32::try_from(i).ok()?)
    }

    /// Re-sorts and re-filters after the key list changed, keeping the cursor on the same key.
    fn reindex(&mut self) {
        let keep = self.selected_key().map(|k| k.id.clone());
        self.index.rebuild(&self.keys, &self.haystacks);
        if let Some(at) = keep.and_then(|id| self.visible_position(&id)) {
            self.selected = at;
        }
        self.clamp_selection();
    }

    fn clamp_selection(&mut self) {
        let count = self.index.visible().len();
        if count == 0 {
            self.selected = 0;
        } else if self.selected >= count {
            self.selected = count - 1;
        }
        let height = self.list_height().max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(count.saturating_sub(1));
    }

    /// Puts a key the server just returned into the list (new or changed).
    fn upsert(&mut self, key: api::Key) {
        let hay = haystack(&key);
        if let Some(i) = self.keys.iter().position(|k| k.id == key.id) {
            self.keys[i] = key;
            self.haystacks[i] = hay;
        } else {
            self.keys.push(key);
            self.haystacks.push(hay);
        }
        self.reindex();
    }

    fn remove_key(&mut self, id: &str) {
        if let Some(i) = self.keys.iter().position(|k| k.id == id) {
            self.keys.remove(i);
            self.haystacks.remove(i);
            self.marked.remove(id);
            self.reindex();
        }
    }

    fn select_id(&mut self, id: &str) {
        if let Some(at) = self.visible_position(id) {
            self.selected = at;
            self.clamp_selection();
        }
    }

    // ------------------------------------------------------------ messages

    /// A transient failure: the server is down or failing; retry with backoff.
    fn connection_lost(&mut self, err: &ClientError) {
        let backoff = match &self.connection {
            Connection::Down { backoff, .. } => (*backoff * 2).min(MAX_BACKOFF),
            _ => Duration::from_secs(1),
        };
        let reason = error_text(err);
        self.error(format!("{reason}; retrying in {} s", backoff.as_secs()));
        self.connection = Connection::Down {
            reason,
            retry_at: Instant::now() + backoff,
            backoff,
        };
        self.loading = None;
    }

    /// Handles a failed request: connectivity trouble, or the server's refusal.
    fn failed(&mut self, what: &str, err: &ClientError) {
        if err.is_transient() {
            self.connection_lost(err);
        } else {
            self.error(format!("{what}: {}", error_text(err)));
        }
    }

    fn reconnected(&mut self) {
        if matches!(self.connection, Connection::Down { .. }) {
            self.success("connected again");
        }
        self.connection = Connection::Live;
    }

    /// True when a key from a reply belongs to the tenant on screen; a reply
    /// that arrives after `:tenant` switched away only reports its outcome.
    fn on_screen(&self, key: &api::Key) -> bool {
        self.tenant.as_deref() == Some(key.tenant.as_str())
    }

    pub fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Me(Ok(me)) => {
                let was_down = matches!(self.connection, Connection::Down { .. });
                self.reconnected();
                let tenant = self
                    .requested_tenant
                    .take()
                    .or_else(|| self.tenant.clone())
                    .or_else(|| me.user.tenant.clone())
                    .or_else(|| me.tenants.first().map(|t| t.id.clone()));
                self.me = Some(me);
                match tenant {
                    Some(t) if was_down && self.tenant.as_deref() == Some(t.as_str()) => {
                        self.load_keys(!self.keys.is_empty());
                        self.load_events();
                    }
                    Some(t) => self.switch_tenant(&t),
                    None => self.info("no tenant yet: create one with the API or `:tenant NAME`"),
                }
            }
            Msg::Me(Err(err)) => {
                if err.is_transient() {
                    self.connection_lost(&err);
                } else {
                    self.error(format!("cannot sign in: {}", error_text(&err)));
                }
            }
            Msg::Tenant {
                tenant,
                settings,
                users,
            } => {
                if self.tenant.as_deref() != Some(tenant.as_str()) {
                    return;
                }
                match settings {
                    Ok(s) => self.settings = Some(s),
                    Err(err) => self.failed("loading settings", &err),
                }
                match users {
                    Ok(list) => self.users = list.items,
                    Err(err) => self.failed("loading users", &err),
                }
            }
            Msg::Page { generation, result } => self.on_page(generation, result),
            Msg::Events { tenant, result } => {
                if self.tenant.as_deref() == Some(tenant.as_str()) {
                    match result {
                        Ok(list) => self.events = list.items,
                        Err(err) => self.failed("loading events", &err),
                    }
                }
            }
            Msg::KeyUpdated { verb, result } => match result {
                Ok(key) => {
                    self.reconnected();
                    self.success(format!(
                        "{verb} {}",
                        crate::domain::text::strip_control(&key.name)
                    ));
                    if self.on_screen(&key) {
                        self.upsert(key);
                        self.load_events();
                    }
                }
                Err(err) => self.failed(verb, &err),
            },
            Msg::KeyDeleted { id, name, result } => match result {
                Ok(()) => {
                    self.success(format!(
                        "deleted {}",
                        crate::domain::text::strip_control(&name)
                    ));
                    self.remove_key(&id);
                    self.load_events();
                }
                Err(err) => self.failed("delete", &err),
            },
            Msg::SecretIssued { verb, result } => self.on_secret_issued(verb, result),
            Msg::Revealed { name, result } => match result {
                Ok(revealed) => {
                    let secret = Zeroizing::new(revealed.secret);
                    match self.clipboard.copy(&secret, true) {
                        Ok(copied) => self.success(format!(
                            "copied the secret of {} {}",
                            crate::domain::text::strip_control(&name),
                            copied.describe()
                        )),
                        Err(err) => self.error(format!("copy failed: {err}")),
                    }
                    self.load_events();
                }
                Err(err) => self.failed("copy secret", &err),
            },
            Msg::BulkRevoked { hidden, results } => self.on_bulk_revoked(hidden, results),
        }
    }

    fn on_page(&mut self, generation: u64, result: ClientResult<api::KeyList>) {
        let Some(loading) = self.loading.as_mut().filter(|l| l.generation == generation) else {
            return;
        };
        let page = match result {
            Ok(page) => page,
            Err(err) => {
                self.loading = None;
                self.failed("loading keys", &err);
                return;
            }
        };
        loading.loaded += page.items.len();
        loading.total = page.total;
        let next = page.next_cursor.clone();
        let finished = next.is_none();
        if let Some(staged) = loading.staged.as_mut() {
            staged.extend(page.items);
            if finished {
                let keys = loading.staged.take().unwrap_or_default();
                self.haystacks = keys.iter().map(haystack).collect();
                self.keys = keys;
                self.marked
                    .retain(|id| self.keys.iter().any(|k| &k.id == id));
                self.reindex();
            }
        } else {
            let first_new = self.keys.len();
            self.haystacks.extend(page.items.iter().map(haystack));
            self.keys.extend(page.items);
            self.index.extend(&self.keys, &self.haystacks, first_new);
            self.clamp_selection();
        }
        self.reconnected();
        if let (Some(cursor), Some(tenant)) = (next, self.tenant.clone()) {
            self.fetch_page(tenant, Some(cursor));
        } else {
            self.loading = None;
        }
    }

    fn on_secret_issued(&mut self, verb: &'static str, result: ClientResult<KeyWithSecret>) {
        match result {
            Ok(issued) => {
                // The form that asked for this key is done; any other stays.
                if matches!(&self.dialog, Some(Dialog::Form(form)) if form.submitting) {
                    self.dialog = None;
                }
                if !self.on_screen(&issued.key) {
                    // Another tenant is on screen now; still show the secret once.
                    if let Some(secret) = issued.secret {
                        self.present(Dialog::Secret(SecretModal {
                            title: format!(
                                "{verb} {} ({})",
                                crate::domain::text::strip_control(&issued.key.name),
                                issued.key.tenant
                            ),
                            key_id: issued.key.id,
                            secret: Zeroizing::new(secret),
                            copied: None,
                            close_focused: false,
                        }));
                    }
                    return;
                }
                let id = issued.key.id.clone();
                let name = crate::domain::text::strip_control(&issued.key.name);
                self.upsert(issued.key);
                let hidden = self.visible_position(&id).is_none();
                if hidden {
                    // Show the new key: a filter that hides it would look like a failure.
                    self.index.set_filter("", &self.haystacks);
                    self.filter_text.clear();
                }
                self.select_id(&id);
                self.load_events();
                self.success(format!("{verb} {name}"));
                if let Some(secret) = issued.secret {
                    self.present(Dialog::Secret(SecretModal {
                        title: format!("{verb} {name}"),
                        key_id: id,
                        secret: Zeroizing::new(secret),
                        copied: None,
                        close_focused: false,
                    }));
                }
            }
            Err(err) => {
                if let Some(Dialog::Form(form)) = self.dialog.as_mut() {
                    form.submitting = false;
                    form.error = Some(error_text(&err));
                }
                self.failed(verb, &err);
            }
        }
    }

    fn on_bulk_revoked(&mut self, hidden: usize, results: Vec<(String, ClientResult<api::Key>)>) {
        let total = results.len();
        let mut failures = Vec::new();
        for (name, result) in results {
            match result {
                Ok(key) => {
                    self.marked.remove(&key.id);
                    if self.on_screen(&key) {
                        self.upsert(key);
                    }
                }
                Err(err) => failures.push(format!(
                    "{}: {}",
                    crate::domain::text::strip_control(&name),
                    error_text(&err)
                )),
            }
        }
        self.load_events();
        let done = total - failures.len();
        let hidden_note = if hidden > 0 {
            format!(" ({hidden} hidden by the filter)")
        } else {
            String::new()
        };
        if failures.is_empty() {
            self.success(format!("revoked {done} of {total} keys{hidden_note}"));
        } else {
            self.error(format!(
                "revoked {done} of {total} keys; {} failed",
                failures.len()
            ));
            let mut lines = vec![
                format!("Revoked {done} of {total} keys{hidden_note}. These failed:"),
                String::new(),
            ];
            lines.extend(failures);
            self.present(Dialog::Message {
                title: "Revoke: some keys failed".to_owned(),
                lines,
            });
        }
    }

    /// Every 250 ms: spinner, reconnect attempts, background reload.
    pub fn on_tick(&mut self) {
        self.ticks = self.ticks.wrapping_add(1);
        match &self.connection {
            Connection::Down { retry_at, .. } if Instant::now() >= *retry_at => {
                if let Connection::Down {
                    retry_at, backoff, ..
                } = &mut self.connection
                {
                    *retry_at = Instant::now() + *backoff * 2;
                }
                self.start();
            }
            Connection::Live
                if self.loading.is_none()
                    && self.tenant.is_some()
                    && self.keys.len() <= LIVE_RELOAD_MAX_KEYS
                    && self.last_reload.elapsed() >= LIVE_RELOAD_EVERY =>
            {
                self.load_keys(true);
                self.load_events();
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------ input

    /// Shows `dialog`, or queues it while another dialog is open: a
    /// shown-once secret is never replaced before the user has closed it,
    /// nor is a form being typed into.
    fn present(&mut self, dialog: Dialog) {
        match &self.dialog {
            None | Some(Dialog::Help) => self.dialog = Some(dialog),
            Some(_) => self.queued.push_back(dialog),
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if self.dialog.is_some() {
            self.on_dialog_key(key);
            if self.dialog.is_none() {
                self.dialog = self.queued.pop_front();
            }
            return;
        }
        match &self.input {
            Input::Filter => return self.on_filter_key(key),
            Input::Command(_) => return self.on_command_key(key),
            Input::None => {}
        }
        if let Some(command) = keymap::command_for(key) {
            self.run(command);
        }
    }

    pub fn on_mouse(&mut self, mouse: MouseEvent) {
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) if self.dialog.is_none() => {
                if let Some(command) = super::render::toolbar_hit(self, mouse.column, mouse.row) {
                    self.run(command);
                }
            }
            MouseEventKind::ScrollDown => self.run(Command::Down),
            MouseEventKind::ScrollUp => self.run(Command::Up),
            _ => {}
        }
    }

    pub fn on_resize(&mut self, width: u16, height: u16) {
        self.size = (width, height);
        self.clamp_selection();
    }

    fn move_selection(&mut self, delta: isize) {
        let count = self.index.visible().len();
        if count == 0 {
            return;
        }
        let target = self.selected.saturating_add_signed(delta).min(count - 1);
        self.selected = target;
        self.clamp_selection();
    }

    /// Carries out a command from a key or a toolbar click.
    pub fn run(&mut self, command: Command) {
        let page = isize::try_from(self.list_height().max(1)).unwrap_or(10);
        match command {
            Command::Quit => self.quit = true,
            Command::Up => self.move_selection(-1),
            Command::Down => self.move_selection(1),
            Command::PageUp => self.move_selection(-page),
            Command::PageDown => self.move_selection(page),
            Command::Top => {
                self.selected = 0;
                self.clamp_selection();
            }
            Command::Bottom => {
                self.selected = self.index.visible().len().saturating_sub(1);
                self.clamp_selection();
            }
            Command::Open => self.detail_zoomed = !self.detail_zoomed,
            Command::Back => {
                if self.detail_zoomed {
                    self.detail_zoomed = false;
                } else if !self.index.filter().is_empty() {
                    self.index.set_filter("", &self.haystacks);
                    self.filter_text.clear();
                    self.clamp_selection();
                } else if !self.marked.is_empty() {
                    self.marked.clear();
                }
                self.status = None;
            }
            Command::NextView => {
                let i = View::ALL.iter().position(|v| *v == self.view).unwrap_or(0);
                self.view = View::ALL[(i + 1) % View::ALL.len()];
            }
            Command::View(n) => {
                if let Some(view) = View::ALL.get(usize::from(n).saturating_sub(1)) {
                    self.view = *view;
                }
            }
            Command::Filter => {
                self.view = View::Keys;
                self.input = Input::Filter;
            }
            Command::CommandLine => self.input = Input::Command(String::new()),
            Command::Help => self.dialog = Some(Dialog::Help),
            Command::NextSort => {
                self.index.column = self.index.column.next();
                self.index.reversed = false;
                self.reindex();
                self.info(format!("sorted by {}", self.index.column.label()));
            }
            Command::ReverseSort => {
                self.index.reversed = !self.index.reversed;
                self.reindex();
                self.info(format!(
                    "sorted by {}{}",
                    self.index.column.label(),
                    if self.index.reversed {
                        ", reversed"
                    } else {
                        ""
                    }
                ));
            }
            Command::Refresh => self.refresh(),
            Command::Mark => {
                if let Some(id) = self.selected_key().map(|k| k.id.clone()) {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.move_selection(1);
                }
            }
            Command::CopyId => self.copy_id(),
            _ => self.run_key_action(command),
        }
    }

    fn copy_id(&mut self) {
        let Some(id) = self.selected_key().map(|k| k.id.clone()) else {
            self.error("no key selected");
            return;
        };
        match self.clipboard.copy(&id, false) {
            Ok(copied) => self.success(format!("copied {id} {}", copied.describe())),
            Err(err) => self.error(format!("copy failed: {err}")),
        }
    }

    /// The key actions: refused with the reason when not allowed.
    fn run_key_action(&mut self, command: Command) {
        if let Some(reason) = self.disabled_reason(command) {
            self.error(reason);
            return;
        }
        let Some(tenant) = self.tenant.clone() else {
            return;
        };
        let key = self.selected_key().cloned();
        match command {
            Command::Add => self.open_form(None),
            Command::Edit => self.open_form(key),
            Command::Duplicate => {
                if let Some(key) = key {
                    self.info(format!(
                        "duplicating {}…",
                        crate::domain::text::strip_control(&key.name)
                    ));
                    self.net.spawn(move |client| async move {
                        Msg::SecretIssued {
                            verb: "duplicated",
                            result: client.duplicate_key(&tenant, &key.id).await,
                        }
                    });
                }
            }
            Command::CopySecret => {
                if let Some(key) = key {
                    self.net.spawn(move |client| async move {
                        Msg::Revealed {
                            result: client.reveal_key(&tenant, &key.id).await,
                            name: key.name,
                        }
                    });
                }
            }
            Command::ToggleDisabled => {
                if let Some(key) = key {
                    self.net.spawn(move |client| async move {
                        if key.status == KeyStatus::Disabled {
                            Msg::KeyUpdated {
                                verb: "enabled",
                                result: client.enable_key(&tenant, &key.id).await,
                            }
                        } else {
                            Msg::KeyUpdated {
                                verb: "disabled",
                                result: client.disable_key(&tenant, &key.id).await,
                            }
                        }
                    });
                }
            }
            Command::Regenerate => {
                if let Some(key) = key {
                    let name = crate::domain::text::strip_control(&key.name);
                    self.confirm(
                        format!("Regenerate {name}?"),
                        vec![
                            "A new secret is issued and shown once.".to_owned(),
                            "The current secret stops working at once, everywhere.".to_owned(),
                        ],
                        "Regenerate",
                        Pending::Regenerate(key.id, key.name),
                    );
                }
            }
            Command::Revoke => self.confirm_revoke(),
            Command::Delete => {
                if let Some(key) = key {
                    let name = crate::domain::text::strip_control(&key.name);
                    self.confirm(
                        format!("Delete {name}?"),
                        vec![
                            "The key is removed for good and stops working at once.".to_owned(),
                            "Its audit events remain.".to_owned(),
                        ],
                        "Delete",
                        Pending::Delete(key.id, key.name),
                    );
                }
            }
            _ => {}
        }
    }

    fn confirm(
        &mut self,
        title: String,
        lines: Vec<String>,
        confirm_label: &'static str,
        pending: Pending,
    ) {
        self.dialog = Some(Dialog::Confirm(Confirm {
            title,
            lines,
            confirm_label,
            pending,
            confirm_focused: false,
        }));
    }

    fn confirm_revoke(&mut self) {
        let targets: Vec<(String, String)> = if self.marked.is_empty() {
            self.selected_key()
                .map(|k| (k.id.clone(), k.name.clone()))
                .into_iter()
                .collect()
        } else {
            self.keys
                .iter()
                .filter(|k| self.marked.contains(&k.id))
                .map(|k| (k.id.clone(), k.name.clone()))
                .collect()
        };
        if targets.is_empty() {
            self.error("no key selected");
            return;
        }
        let visible: BTreeSet<&str> = self
            .index
            .visible()
            .iter()
            .map(|&i| self.keys[i as usize].id.as_str())
            .collect();
        let hidden = targets
            .iter()
            .filter(|(id, _)| !visible.contains(id.as_str()))
            .count();
        let (title, mut lines) = if targets.len() == 1 {
            (
                format!(
                    "Revoke {}?",
                    crate::domain::text::strip_control(&targets[0].1)
                ),
                vec!["It stops working at once, everywhere.".to_owned()],
            )
        } else {
            (
                format!("Revoke {} keys?", targets.len()),
                vec![format!(
                    "{} keys stop working at once, everywhere.",
                    targets.len()
                )],
            )
        };
        if hidden > 0 {
            lines.push(format!(
                "{hidden} of them are hidden by the current filter."
            ));
        }
        lines.push("Revocation cannot be undone.".to_owned());
        self.confirm(title, lines, "Revoke", Pending::Revoke(targets));
    }

    fn open_form(&mut self, key: Option<api::Key>) {
        let Some(settings) = self.settings.clone() else {
            return;
        };
        let Some(me) = self.me.as_ref().map(|m| m.user.clone()) else {
            return;
        };
        let selected: Vec<String> = key.as_ref().map(|k| k.scopes.clone()).unwrap_or_default();
        let scopes = settings
            .scopes
            .iter()
            .map(|s| (s.clone(), selected.contains(s)))
            .collect();
        let admin = me.roles.iter().any(|r| {
            matches!(
                r,
                crate::domain::Role::TenantAdmin | crate::domain::Role::SystemAdmin
            )
        });
        let mut owners = vec![(me.id.clone(), me.name.clone())];
        if admin {
            owners.extend(
                self.users
                    .iter()
                    .filter(|u| u.id != me.id)
                    .map(|u| (u.id.clone(), u.name.clone())),
            );
        }
        let form = KeyForm {
            mode: match &key {
                None => FormMode::Add,
                Some(k) => FormMode::Edit {
                    id: k.id.clone(),
                    version: k.version,
                },
            },
            name: TextField {
                text: key.as_ref().map(|k| k.name.clone()).unwrap_or_default(),
            },
            description: TextField {
                text: key
                    .as_ref()
                    .map(|k| k.description.clone())
                    .unwrap_or_default(),
            },
            scopes,
            scopes_editable: key.is_none() || settings.scopes_editable,
            owners,
            owner: 0,
            expiry_days: TextField {
                text: settings
                    .max_expiry_days
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            },
            max_expiry_days: settings.max_expiry_days,
            focus: FormField::Name,
            error: None,
            submitting: false,
        };
        self.dialog = Some(Dialog::Form(Box::new(form)));
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        let mut filter = self.filter_text.clone();
        match key.code {
            KeyCode::Enter => {
                self.input = Input::None;
                return;
            }
            KeyCode::Esc => {
                self.input = Input::None;
                filter.clear();
            }
            KeyCode::Backspace => {
                filter.pop();
            }
            KeyCode::Down => return self.move_selection(1),
            KeyCode::Up => return self.move_selection(-1),
            KeyCode::Char(c)
                if !key.modifiers.contains(KeyModifiers::CONTROL) && !c.is_control() =>
            {
                if filter.chars().count() < 200 {
                    filter.push(c);
                }
            }
            _ => return,
        }
        self.apply_filter(filter);
    }

    /// Sets the filter. A pasted secret is replaced by its `start` (the
    /// prefix and first characters, which every key shows), so the key is
    /// found while the secret itself is neither kept nor drawn.
    fn apply_filter(&mut self, filter: String) {
        let filter = match crate::domain::Secret::parse(filter.trim()) {
            Ok(secret) => {
                let start = secret.start();
                self.info(format!(
                    "pasted a secret: showing keys whose secret starts {start}…"
                ));
                start
            }
            Err(_) => filter,
        };
        self.index.set_filter(&filter, &self.haystacks);
        self.filter_text = filter;
        self.selected = 0;
        self.offset = 0;
        self.clamp_selection();
    }

    /// Text pasted into the terminal (bracketed paste): one event, not keystrokes.
    pub fn on_paste(&mut self, text: &str) {
        let text: String = text.chars().filter(|c| !c.is_control()).collect();
        match &mut self.input {
            Input::Filter => {
                let mut filter = self.filter_text.clone();
                filter.push_str(&text);
                self.apply_filter(filter);
            }
            Input::Command(line) => line.push_str(&text),
            Input::None if self.dialog.is_none() => {
                self.view = View::Keys;
                self.input = Input::Filter;
                self.apply_filter(text);
            }
            Input::None => {
                if let Some(Dialog::Form(form)) = self.dialog.as_mut() {
                    match form.focus {
                        FormField::Name => form.name.text.push_str(&text),
                        FormField::Description => form.description.text.push_str(&text),
                        _ => {}
                    }
                }
            }
        }
    }

    fn on_command_key(&mut self, key: KeyEvent) {
        let Input::Command(line) = &mut self.input else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.input = Input::None,
            KeyCode::Backspace if line.pop().is_none() => self.input = Input::None,
            KeyCode::Enter => {
                let line = std::mem::take(line);
                self.input = Input::None;
                self.run_command_line(line.trim());
            }
            KeyCode::Char(c) if !c.is_control() && line.chars().count() < 200 => line.push(c),
            _ => {}
        }
    }

    fn run_command_line(&mut self, line: &str) {
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match word {
            "q" | "quit" if rest.is_empty() => self.quit = true,
            "tenant" | "t" if !rest.is_empty() => self.switch_tenant(rest),
            "tenant" | "t" => {
                let known: Vec<String> = self
                    .me
                    .iter()
                    .flat_map(|m| m.tenants.iter().map(|t| t.id.clone()))
                    .collect();
                self.info(format!("tenants: {}", known.join(", ")));
            }
            "" => {}
            _ => self.error(format!(
                "unknown command {:?}; try :tenant NAME or :q",
                crate::domain::text::strip_control(line)
            )),
        }
    }

    /// `:tenant NAME`: by id, or by display name.
    pub fn switch_tenant(&mut self, name: &str) {
        let Some(me) = &self.me else {
            self.requested_tenant = Some(name.to_owned());
            return;
        };
        let found = me
            .tenants
            .iter()
            .find(|t| t.id == name || t.name.eq_ignore_ascii_case(name))
            .map(|t| t.id.clone());
        match found {
            Some(id) => {
                self.load_tenant(id.clone());
                self.info(format!("tenant {id}"));
            }
            None => self.error(format!(
                "no tenant {:?} that you can see",
                crate::domain::text::strip_control(name)
            )),
        }
    }

    // ------------------------------------------------------------ dialogs

    fn on_dialog_key(&mut self, key: KeyEvent) {
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        match dialog {
            Dialog::Help | Dialog::Message { .. } => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q' | '?')
                ) {
                    self.dialog = None;
                }
            }
            Dialog::Confirm(confirm) => match key.code {
                KeyCode::Esc | KeyCode::Char('n') => self.dialog = None,
                KeyCode::Left
                | KeyCode::Right
                | KeyCode::Tab
                | KeyCode::BackTab
                | KeyCode::Char('h' | 'l') => {
                    confirm.confirm_focused = !confirm.confirm_focused;
                }
                KeyCode::Enter => {
                    let confirmed = confirm.confirm_focused;
                    let pending = confirm.pending.clone();
                    self.dialog = None;
                    if confirmed {
                        self.carry_out(pending);
                    }
                }
                _ => {}
            },
            Dialog::Secret(modal) => match key.code {
                KeyCode::Esc => self.close_secret(),
                KeyCode::Enter if modal.close_focused => self.close_secret(),
                KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                    modal.close_focused = !modal.close_focused;
                }
                KeyCode::Enter | KeyCode::Char('c') => {
                    let result = self.clipboard.copy(&modal.secret, true);
                    modal.copied = Some(match result {
                        Ok(copied) => format!("copied {}", copied.describe()),
                        Err(err) => format!("copy failed: {err}"),
                    });
                    modal.close_focused = true;
                }
                _ => {}
            },
            Dialog::Form(form) => {
                if form.submitting {
                    if key.code == KeyCode::Esc {
                        self.dialog = None;
                    }
                    return;
                }
                self.on_form_key(key);
            }
        }
    }

    /// Closes the secret modal; dropping it zeroizes the secret.
    fn close_secret(&mut self) {
        if let Some(Dialog::Secret(mut modal)) = self.dialog.take() {
            zeroize::Zeroize::zeroize(&mut *modal.secret);
        }
    }

    fn on_form_key(&mut self, key: KeyEvent) {
        let Some(Dialog::Form(form)) = self.dialog.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => {
                self.dialog = None;
                return;
            }
            KeyCode::Tab | KeyCode::Down => return form.move_focus(true),
            KeyCode::BackTab | KeyCode::Up => return form.move_focus(false),
            _ => {}
        }
        match form.focus {
            FormField::Name => {
                if key.code == KeyCode::Enter {
                    form.move_focus(true);
                } else {
                    form.name.handle(key, crate::domain::text::NAME_MAX);
                }
            }
            FormField::Description => {
                if key.code == KeyCode::Enter {
                    form.move_focus(true);
                } else {
                    form.description.handle(key, 200);
                }
            }
            FormField::Scope(i) => match key.code {
                KeyCode::Char(' ') | KeyCode::Enter => {
                    if let Some(scope) = form.scopes.get_mut(i) {
                        scope.1 = !scope.1;
                    }
                }
                _ => {}
            },
            FormField::Owner => match key.code {
                KeyCode::Left => {
                    form.owner = (form.owner + form.owners.len() - 1) % form.owners.len()
                }
                KeyCode::Right | KeyCode::Char(' ') => {
                    form.owner = (form.owner + 1) % form.owners.len()
                }
                KeyCode::Enter => form.move_focus(true),
                _ => {}
            },
            FormField::Expiry => match key.code {
                KeyCode::Char(c) if c.is_ascii_digit() => {
                    form.expiry_days.handle(key, 5);
                }
                KeyCode::Backspace => {
                    form.expiry_days.handle(key, 5);
                }
                KeyCode::Enter => form.move_focus(true),
                _ => {}
            },
            FormField::Cancel => {
                if key.code == KeyCode::Enter {
                    self.dialog = None;
                }
            }
            FormField::Save => {
                if key.code == KeyCode::Enter {
                    self.submit_form();
                }
            }
        }
    }

    fn submit_form(&mut self) {
        let Some(tenant) = self.tenant.clone() else {
            return;
        };
        let Some(Dialog::Form(form)) = self.dialog.as_mut() else {
            return;
        };
        if form.name.text.trim().is_empty() {
            form.error = Some("the name must not be empty".to_owned());
            form.focus = FormField::Name;
            return;
        }
        let scopes: Vec<String> = form
            .scopes
            .iter()
            .filter(|(_, on)| *on)
            .map(|(s, _)| s.clone())
            .collect();
        let expires_at = match form.expiry_days.text.trim() {
            "" => None,
            days => match days.parse::<i64>() {
                Ok(d) if d > 0 => Some(chrono::Utc::now() + chrono::Duration::days(d)),
                _ => {
                    form.error = Some("expiry: a number of days, at least 1".to_owned());
                    form.focus = FormField::Expiry;
                    return;
                }
            },
        };
        form.submitting = true;
        form.error = None;
        match form.mode.clone() {
            FormMode::Add => {
                let body = api::CreateKey {
                    name: form.name.text.trim().to_owned(),
                    description: form.description.text.trim().to_owned(),
                    scopes,
                    owner: form.owners.get(form.owner).map(|(id, _)| id.clone()),
                    expires_at,
                };
                self.net.spawn(move |client| async move {
                    Msg::SecretIssued {
                        verb: "created",
                        result: client.create_key(&tenant, &body).await,
                    }
                });
            }
            FormMode::Edit { id, version } => {
                let body = api::UpdateKey {
                    name: Some(form.name.text.trim().to_owned()),
                    description: Some(form.description.text.trim().to_owned()),
                    scopes: form.scopes_editable.then_some(scopes),
                };
                self.net.spawn(move |client| async move {
                    Msg::KeyUpdated {
                        verb: "saved",
                        result: client.update_key(&tenant, &id, &body, Some(version)).await,
                    }
                });
                self.dialog = None;
            }
        }
    }

    fn carry_out(&mut self, pending: Pending) {
        let Some(tenant) = self.tenant.clone() else {
            return;
        };
        match pending {
            Pending::Delete(id, name) => self.net.spawn(move |client| async move {
                let result = client.delete_key(&tenant, &id).await;
                Msg::KeyDeleted { id, name, result }
            }),
            Pending::Regenerate(id, _) => self.net.spawn(move |client| async move {
                Msg::SecretIssued {
                    verb: "regenerated",
                    result: client.regenerate_key(&tenant, &id).await,
                }
            }),
            Pending::Revoke(targets) => {
                let visible: BTreeSet<String> = self
                    .index
                    .visible()
                    .iter()
                    .map(|&i| self.keys[i as usize].id.clone())
                    .collect();
                let hidden = targets
                    .iter()
                    .filter(|(id, _)| !visible.contains(id))
                    .count();
                if targets.len() == 1 {
                    let (id, _) = targets[0].clone();
                    self.net.spawn(move |client| async move {
                        Msg::KeyUpdated {
                            verb: "revoked",
                            result: client.revoke_key(&tenant, &id).await,
                        }
                    });
                } else {
                    self.info(format!("revoking {} keys…", targets.len()));
                    self.net.spawn(move |client| async move {
                        let mut results = Vec::with_capacity(targets.len());
                        for (id, name) in targets {
                            results.push((name, client.revoke_key(&tenant, &id).await));
                        }
                        Msg::BulkRevoked { hidden, results }
                    });
                }
            }
        }
    }

    /// Whether anything is running in the background (for the spinner).
    #[must_use]
    pub fn busy(&self) -> bool {
        self.net.in_flight() > 0
    }

    /// Key creators setting, for the detail of the Settings view.
    #[must_use]
    pub fn key_creators_label(&self) -> &'static str {
        match self.settings.as_ref().map(|s| s.key_creators) {
            Some(KeyCreators::SystemAdmins) => "system administrators only",
            _ => "licensed developers",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::clipboard::ClipboardMode;
    use crate::console::index::tests::key;

    fn app() -> App {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let client = Client::new("http://127.0.0.1:9", "t").unwrap();
        let clipboard = Clipboard::new(
            ClipboardMode::Off,
            Duration::ZERO,
            Box::new(std::io::sink()),
        );
        let mut app = App::new(Net::new(client, tx), clipboard, None, false);
        app.tenant = Some("acme".into());
        app
    }

    fn issued(name: &str, secret: &str) -> Msg {
        let mut key = key(name, KeyStatus::Active, 0);
        key.tenant = "acme".into();
        Msg::SecretIssued {
            verb: "duplicated",
            result: Ok(KeyWithSecret {
                key,
                secret: Some(secret.into()),
            }),
        }
    }

    fn shown_secret(app: &App) -> Option<String> {
        match &app.dialog {
            Some(Dialog::Secret(modal)) => Some(modal.secret.as_str().to_owned()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_second_secret_waits_until_the_first_is_closed() {
        let mut app = app();
        app.on_msg(issued("a", "kd_first"));
        app.on_msg(issued("b", "kd_second"));
        assert_eq!(shown_secret(&app).as_deref(), Some("kd_first"));
        app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert_eq!(shown_secret(&app).as_deref(), Some("kd_second"));
        app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert!(app.dialog.is_none());
    }

    #[tokio::test]
    async fn a_failure_report_does_not_replace_a_secret() {
        let mut app = app();
        app.on_msg(issued("a", "kd_first"));
        let failure = ClientError::Protocol("refused".into());
        app.on_msg(Msg::BulkRevoked {
            hidden: 0,
            results: vec![
                ("x".into(), Err(failure.clone())),
                ("y".into(), Err(failure)),
            ],
        });
        assert_eq!(shown_secret(&app).as_deref(), Some("kd_first"));
        app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert!(matches!(app.dialog, Some(Dialog::Message { .. })));
    }
}
