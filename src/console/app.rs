//! `App`: the console's routing. It owns the [`Shell`] (session, network,
//! dialogs, clipboard, status line) and the four views, turns input into
//! [`Action`]s through the keymap, and hands each action, reply and dialog
//! result to the view it belongs to with a `match` over [`ViewId`]. Stale
//! replies (asked for a tenant that is no longer on screen) are told apart
//! here, in one place, by the tenant epoch they carry.

use std::collections::HashMap;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};

use super::clipboard::Clipboard;
use super::dialog::{Dialog, Dialogs};
use super::keymap::{self, Action};
use super::layout;
use super::net::{Msg, Net, Reply, Subscription};
use super::session::{Connection, Session};
use super::shell::{Level, Shell, Status};
use super::views::ViewId;
use super::views::events::EventsView;
use super::views::keys::KeysView;
use super::views::settings::SettingsView;
use super::views::users::UsersView;
use super::widgets::text_field::TextField;
use crate::api;
use crate::domain::text::strip_control as clean;

const FILTER_MAX: usize = 200;

/// The line being typed at the bottom, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    None,
    Filter(TextField),
    Command(TextField),
}

pub struct App {
    pub shell: Shell,
    pub view: ViewId,
    pub keys: KeysView,
    pub events: EventsView,
    pub settings: SettingsView,
    pub users: UsersView,
    pub input: Input,
    pub ticks: u64,
    /// The tenant's event stream, while one is followed.
    stream: Option<Subscription>,
    /// A secret's `start` while its lookup is on its way (no key action meanwhile).
    pub looking_up: Option<String>,
    /// A looked-up key of another tenant, waiting for that tenant's settings.
    pub(super) landing: Option<Box<api::LookupResult>>,
    /// A secret pasted after `:lookup`, held (never drawn) until Enter.
    pub command_secret: Option<crate::domain::Secret>,
    /// False with NO_COLOR: selection and statuses then rely on reverse video and words.
    pub color: bool,
    pub quit: bool,
}

impl App {
    /// A console on `net`; `token_source` names where the token came from
    /// (`KEYDESK_TOKEN`, `--token`), for the message when it is refused.
    #[must_use]
    pub fn new(
        net: Net,
        clipboard: Clipboard,
        tenant: Option<String>,
        readonly: bool,
        token_source: &str,
    ) -> Self {
        let mut app = Self {
            shell: Shell {
                session: Session::new(tenant, readonly, token_source.to_owned()),
                net,
                dialogs: Dialogs::default(),
                clipboard,
                status: None,
                size: (80, 24),
                clock: None,
            },
            view: ViewId::Keys,
            keys: KeysView::default(),
            events: EventsView::default(),
            settings: SettingsView::default(),
            users: UsersView::default(),
            input: Input::None,
            ticks: 0,
            stream: None,
            looking_up: None,
            landing: None,
            command_secret: None,
            color: true,
            quit: false,
        };
        app.on_resize(80, 24);
        app
    }

    /// Starts the session: who am I, then the tenant.
    pub fn start(&mut self) {
        self.shell
            .net
            .spawn(|client| async move { Msg::Me(client.me().await) });
    }

    #[must_use]
    pub fn session(&self) -> &Session {
        &self.shell.session
    }

    #[must_use]
    pub fn status(&self) -> Option<&Status> {
        self.shell.status.as_ref()
    }

    /// Whether anything is running in the background (for the spinner).
    #[must_use]
    pub fn busy(&self) -> bool {
        self.shell.net.in_flight() > 0
    }

    /// Why the console cannot work, when the server refused the token: the
    /// console then exits non-zero.
    #[must_use]
    pub fn sign_in_failure(&self) -> Option<&str> {
        match &self.shell.session.connection {
            Connection::Refused { reason } if self.shell.session.me.is_none() => Some(reason),
            _ => None,
        }
    }

    /// The current view's filter as typed.
    #[must_use]
    pub fn filter(&self) -> &str {
        match self.view {
            ViewId::Keys => &self.keys.filter,
            ViewId::Events => &self.events.filter,
            ViewId::Settings => &self.settings.filter,
            ViewId::Users => &self.users.filter,
        }
    }

    /// Key counts per owner, for the Users view.
    #[must_use]
    pub fn key_counts(&self) -> HashMap<&str, usize> {
        let mut counts = HashMap::new();
        for key in &self.keys.keys {
            *counts.entry(key.owner.id.as_str()).or_insert(0) += 1;
        }
        counts
    }

    // ------------------------------------------------------------ permissions

    /// Why `action` cannot be taken now in the current view, or `None`.
    #[must_use]
    pub fn disabled_reason(&self, action: Action) -> Option<String> {
        let session = &self.shell.session;
        if session.readonly && keymap::is_mutating(action, self.view.scope()) {
            return Some("read-only session".to_owned());
        }
        if self.looking_up.is_some()
            && self.view == ViewId::Keys
            && (keymap::is_mutating(action, self.view.scope()) || action == Action::CopySecret)
        {
            return Some("finding the key of the pasted secret…".to_owned());
        }
        match self.view {
            ViewId::Keys => self.keys.disabled_reason(action, session),
            ViewId::Events => None,
            ViewId::Settings => self.settings.disabled_reason(action, session),
            ViewId::Users => self.users.disabled_reason(action, session),
        }
    }

    // ------------------------------------------------------------ loading

    /// Reloads the tenant without clearing what is shown: the lists stay
    /// usable while the server is slow or down.
    fn refresh(&mut self) {
        if self.shell.session.tenant.is_none() || self.shell.session.me.is_none() {
            self.start();
            return;
        }
        self.reload();
        self.shell.info("reloading…");
    }

    fn reload(&mut self) {
        self.fetch_tenant_details();
        self.keys.load(&self.shell);
        EventsView::load(&self.shell);
    }

    fn fetch_tenant_details(&self) {
        self.shell.request(|client, tenant| async move {
            Reply::Settings(client.settings(&tenant).await)
        });
        self.shell
            .request(|client, tenant| async move { Reply::Users(client.users(&tenant).await) });
    }

    pub(super) fn load_tenant(&mut self, tenant: String) {
        self.stream = None;
        self.shell.session.switch(tenant);
        self.keys.clear();
        self.events.clear();
        self.users = UsersView::default();
        self.settings = SettingsView::default();
        if matches!(self.input, Input::Filter(_)) {
            self.input = Input::None;
        }
        self.on_resize(self.shell.size.0, self.shell.size.1);
        self.fetch_tenant_details();
        self.keys.load(&self.shell);
        EventsView::load(&self.shell);
    }

    /// `:tenant NAME`: by id, or by display name.
    pub fn switch_tenant(&mut self, name: &str) {
        let Some(me) = &self.shell.session.me else {
            self.shell.session.requested_tenant = Some(name.to_owned());
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
                self.shell.info(format!("tenant {id}"));
            }
            None => self.shell.error(format!(
                "no tenant {:?} that you can see (T lists them)",
                clean(name)
            )),
        }
    }

    // ------------------------------------------------------------ messages

    pub fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Me(result) => self.on_me(result),
            Msg::TenantCreated(result) => match result {
                Ok(tenant) => {
                    if self.shell.dialogs.form_mut().is_some_and(|f| f.submitting) {
                        self.shell.dialogs.close();
                    }
                    let id = tenant.id.clone();
                    if let Some(me) = self.shell.session.me.as_mut() {
                        me.tenants.push(tenant);
                    }
                    self.load_tenant(id.clone());
                    self.shell.success(format!("created tenant {id}"));
                }
                Err(err) => {
                    if let Some(form) = self.shell.dialogs.form_mut().filter(|f| f.submitting) {
                        form.failed(format!("creating the tenant failed: {err}"));
                    }
                    self.shell.failed("creating the tenant failed", &err);
                }
            },
            Msg::LookedUp(result) => self.on_looked_up(result),
            Msg::Tenant { epoch, reply } if epoch == self.shell.session.epoch => {
                self.on_reply(reply);
            }
            Msg::Tenant { reply, .. } => self.on_stale(reply),
        }
    }

    fn on_me(&mut self, result: crate::client::ClientResult<api::Me>) {
        let me = match result {
            Ok(me) => me,
            Err(err) if err.is_transient() => {
                self.shell.connection_lost("signing in", &err);
                return;
            }
            Err(err) => {
                self.shell.failed("signing in failed", &err);
                return;
            }
        };
        let was_down = matches!(self.shell.session.connection, Connection::Down { .. });
        self.shell.reconnected();
        let session = &mut self.shell.session;
        let tenant = session
            .requested_tenant
            .take()
            .or_else(|| session.tenant.clone())
            .or_else(|| me.user.tenant.clone())
            .or_else(|| me.tenants.first().map(|t| t.id.clone()));
        session.me = Some(me);
        match tenant {
            Some(t) if was_down && session.tenant.as_deref() == Some(t.as_str()) => self.reload(),
            Some(t) => self.switch_tenant(&t),
            None => self
                .shell
                .info("no tenant yet: T opens the tenant list (a system admin creates one there)"),
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Settings(result) => match result {
                Ok(settings) => {
                    self.shell.reconnected();
                    self.shell.session.settings = Some(settings);
                    if let Some(found) = self.landing.take() {
                        self.land(*found);
                    }
                }
                Err(err) => {
                    if self.landing.take().is_some() {
                        self.looking_up = None;
                    }
                    self.shell.failed("loading settings", &err);
                }
            },
            Reply::Users(result) => match result {
                Ok(list) => {
                    self.shell.session.users = list.items;
                    self.users.follow(&self.shell.session);
                }
                // A caller the server does not let list users sees none; not a failure.
                Err(err) if err.code() == Some("FORBIDDEN") => self.shell.session.users.clear(),
                Err(err) => self.shell.failed("loading users", &err),
            },
            Reply::Events(result) => {
                let loaded = result.is_ok();
                self.events.on_reply(Reply::Events(result), &mut self.shell);
                // Follow the stream from the newest event listed: nothing in
                // between is lost, nothing listed comes twice.
                if loaded && self.stream.is_none() {
                    if let Some(tenant) = &self.shell.session.tenant {
                        let from = self.events.newest_id().unwrap_or(0);
                        self.stream = Some(self.shell.net.subscribe(
                            tenant,
                            self.shell.session.epoch,
                            Some(from),
                        ));
                    }
                }
            }
            Reply::Event(event) => self.on_live_event(*event),
            Reply::Stream { live, reason } => {
                self.shell.session.stream_live = live;
                if let (false, Some(reason)) = (live, reason) {
                    tracing::info!("event stream down: {reason}");
                }
            }
            Reply::KeyRefreshed { id, result } => self.keys.refreshed(&id, result, &mut self.shell),
            reply @ (Reply::SettingsSaved(_) | Reply::SettingsCurrent(_)) => {
                self.settings.on_reply(reply, &mut self.shell);
                self.after_change();
            }
            reply @ (Reply::UserSaved { .. }
            | Reply::UserCreated(_)
            | Reply::UserDeleted { .. }) => {
                self.users.on_reply(reply, &mut self.shell);
                self.after_change();
            }
            reply => {
                if self.keys.on_reply(reply, &mut self.shell) {
                    self.after_change();
                }
            }
        }
    }

    /// After a change that others may see: reload the events (unless the
    /// stream brings them).
    fn after_change(&mut self) {
        if !self.shell.session.stream_live {
            EventsView::load(&self.shell);
        }
    }

    /// An audit event as it was committed, from anyone: into the Events
    /// view, and what it changed is read again (a key, the settings, the users).
    fn on_live_event(&mut self, event: api::EventBody) {
        let (action, target) = (event.action.clone(), event.target_id.clone());
        self.events.push_live(event);
        self.keys.activity_changed(&target);
        if action == "key.deleted" {
            self.keys.gone(&target, &mut self.shell);
        } else if action.starts_with("key.") && target.starts_with("key_") {
            self.shell.request(move |client, tenant| async move {
                let result = client.key(&tenant, &target).await;
                Reply::KeyRefreshed { id: target, result }
            });
        } else if action.starts_with("settings.") {
            self.shell.request(|client, tenant| async move {
                Reply::Settings(client.settings(&tenant).await)
            });
        } else if action.starts_with("user.") {
            self.shell
                .request(|client, tenant| async move { Reply::Users(client.users(&tenant).await) });
        }
    }

    /// A reply for a tenant that is no longer on screen: only its outcome is
    /// told; a new secret is still shown once.
    fn on_stale(&mut self, reply: Reply) {
        match reply {
            Reply::SecretIssued {
                verb,
                result: Ok(issued),
                ..
            } => {
                if let Some(secret) = issued.secret {
                    self.shell.dialogs.present(Dialog::Secret(
                        super::dialog::secret::SecretModal::new(
                            format!(
                                "{verb} {} ({})",
                                clean(&issued.key.name),
                                clean(&issued.key.tenant)
                            ),
                            format!("key {}", issued.key.id),
                            secret,
                            issued.key.secret_retrievable,
                            "secret",
                        ),
                    ));
                }
            }
            Reply::KeyUpdated {
                verb,
                result: Ok(key),
                ..
            } => self.shell.success(format!(
                "{verb} {} (tenant {})",
                clean(&key.name),
                clean(&key.tenant)
            )),
            Reply::KeyDeleted {
                name,
                result: Ok(()),
                ..
            } => self.shell.success(format!("deleted {}", clean(&name))),
            Reply::KeyUpdated {
                name,
                result: Err(err),
                ..
            }
            | Reply::KeyDeleted {
                name,
                result: Err(err),
                ..
            } => self
                .shell
                .error(format!("{} (previous tenant): {err}", clean(&name))),
            Reply::UserCreated(Ok(created)) => {
                self.shell.dialogs.present(Dialog::Secret(
                    super::dialog::secret::SecretModal::new(
                        format!("user {} created", clean(&created.user.name)),
                        "their management token".to_owned(),
                        created.token,
                        false,
                        "management token",
                    ),
                ));
            }
            _ => {}
        }
    }

    /// Every 250 ms: spinner, reconnect attempts, background reload.
    pub fn on_tick(&mut self) {
        self.ticks = self.ticks.wrapping_add(1);
        if self.view == ViewId::Keys && !self.shell.dialogs.is_open() {
            let beside = self.shell.size.0 >= layout::BESIDE;
            self.keys.tick(beside, &self.shell);
        }
        let session = &mut self.shell.session;
        match &mut session.connection {
            Connection::Down {
                retry_at, backoff, ..
            } if Instant::now() >= *retry_at => {
                *retry_at = Instant::now() + *backoff * 2;
                self.start();
            }
            Connection::Live
                if session.tenant.is_some() && self.keys.reload_due(session.stream_live) =>
            {
                self.keys.load(&self.shell);
                EventsView::load(&self.shell);
                self.fetch_tenant_details();
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------ input

    pub fn on_key(&mut self, key: KeyEvent) {
        if self.shell.dialogs.is_open() {
            self.on_dialog_key(key);
            return;
        }
        match &self.input {
            Input::Filter(_) => return self.on_filter_key(key),
            Input::Command(_) => return self.on_command_key(key),
            Input::None => {}
        }
        // q in the detail goes back rather than quitting.
        if self.view == ViewId::Keys && self.keys.zoomed && key.code == KeyCode::Char('q') {
            self.keys.zoomed = false;
            return;
        }
        if let Some(action) = keymap::action_for(key, &self.view.scopes()) {
            self.run(action);
        }
    }

    pub fn on_mouse(&mut self, mouse: MouseEvent) {
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) if !self.shell.dialogs.is_open() => {
                let areas = layout::areas(self.shell.size);
                if let Some(action) = super::render::toolbar_hit(self, mouse.column, mouse.row) {
                    self.run(action);
                } else if let Some(view) =
                    super::views::tab_hit(areas.body, mouse.column, mouse.row)
                {
                    self.view = view;
                }
            }
            MouseEventKind::ScrollDown if !self.shell.dialogs.is_open() => self.run(Action::Down),
            MouseEventKind::ScrollUp if !self.shell.dialogs.is_open() => self.run(Action::Up),
            _ => {}
        }
    }

    pub fn on_resize(&mut self, width: u16, height: u16) {
        self.shell.size = (width, height);
        let rows = layout::list_rows(self.shell.size);
        self.keys.set_height(rows);
        self.events.set_height(rows);
        self.settings.set_height(rows, &self.shell.session);
        self.users.set_height(rows, &self.shell.session);
    }

    /// Text pasted into the terminal (bracketed paste): one event, not keystrokes.
    pub fn on_paste(&mut self, text: &str) {
        if let Some(dialog) = self.shell.dialogs.current.as_mut() {
            match dialog {
                Dialog::Form(form) => form.paste(text),
                Dialog::Picker(picker) => picker.paste(text),
                _ => {}
            }
            return;
        }
        match &mut self.input {
            Input::Filter(field) => {
                field.insert(text);
                let filter = zeroize::Zeroizing::new(field.text().to_owned());
                self.apply_filter(&filter);
            }
            Input::Command(_) => self.paste_into_command(text),
            Input::None => {
                // A paste with nothing open is a search: most often a leaked secret.
                self.view = ViewId::Keys;
                let mut field = TextField::new("", FILTER_MAX);
                field.insert(text);
                let filter = zeroize::Zeroizing::new(field.text().to_owned());
                self.input = Input::Filter(field);
                self.apply_filter(&filter);
            }
        }
    }

    /// Carries out an action from a key or a toolbar click.
    pub fn run(&mut self, action: Action) {
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.shell.dialogs.open(Dialog::Help { scroll: 0 }),
            Action::CommandLine => self.input = Input::Command(TextField::new("", FILTER_MAX)),
            Action::NextView => self.view = self.view.step(1),
            Action::PreviousView => self.view = self.view.step(-1),
            Action::View(n) => {
                if let Some(view) = ViewId::ALL.get(usize::from(n).saturating_sub(1)) {
                    self.view = *view;
                }
            }
            Action::Refresh => self.refresh(),
            Action::TenantPicker => super::tenants::open_picker(&mut self.shell),
            Action::Filter => {
                let current = self.filter().to_owned();
                self.input = Input::Filter(TextField::new(&current, FILTER_MAX));
            }
            Action::Back => self.back(),
            _ => {
                if let Some(reason) = self.disabled_reason(action) {
                    if keymap::is_mutating(action, self.view.scope())
                        || matches!(action, Action::CopySecret)
                    {
                        self.shell.error(reason);
                        return;
                    }
                }
                if self.view == ViewId::Events && action == Action::Open && self.jump_to_key() {
                    return;
                }
                match self.view {
                    ViewId::Keys => self.keys.on_action(action, &mut self.shell),
                    ViewId::Events => self.events.on_action(action, &mut self.shell),
                    ViewId::Settings => self.settings.on_action(action, &mut self.shell),
                    ViewId::Users => self.users.on_action(action, &mut self.shell),
                }
            }
        }
    }

    /// Enter on an event about a key still listed: the Keys view, on that key.
    fn jump_to_key(&mut self) -> bool {
        let Some(id) = self
            .events
            .selected_event()
            .filter(|e| e.action.starts_with("key."))
            .map(|e| e.target_id.clone())
        else {
            return false;
        };
        if !self.keys.keys.iter().any(|k| k.id == id) {
            return false;
        }
        if self.keys.visible_count() > 0 && !self.keys.filter.is_empty() {
            self.view = ViewId::Keys;
            self.apply_filter("");
        }
        self.view = ViewId::Keys;
        self.keys.select_id(&id);
        true
    }

    /// Esc: one step back — the view's own step (the detail, the marks),
    /// else the filter, else the status line.
    fn back(&mut self) {
        if self.view == ViewId::Keys && self.keys.zoomed {
            self.keys.zoomed = false;
            return;
        }
        if !self.filter().is_empty() {
            self.apply_filter("");
            return;
        }
        if self.view == ViewId::Keys && self.keys.back() {
            return;
        }
        self.shell.status = None;
    }

    /// Applies `filter` to the current view; a secret in it is taken out
    /// and looked up instead (see `lookup`).
    fn apply_filter(&mut self, filter: &str) {
        let filter = self.spot_secret(filter);
        let filter = filter.as_str();
        match self.view {
            ViewId::Keys => self.keys.set_filter(filter, &mut self.shell),
            ViewId::Events => self.events.set_filter(filter),
            ViewId::Settings => self.settings.set_filter(filter, &self.shell.session),
            ViewId::Users => self.users.set_filter(filter, &self.shell.session),
        }
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        let Input::Filter(field) = &mut self.input else {
            return;
        };
        match key.code {
            KeyCode::Enter => self.input = Input::None,
            KeyCode::Esc => {
                self.input = Input::None;
                self.apply_filter("");
            }
            KeyCode::Down => self.run(Action::Down),
            KeyCode::Up => self.run(Action::Up),
            _ => {
                if field.handle(key) {
                    let filter = zeroize::Zeroizing::new(field.text().to_owned());
                    self.apply_filter(&filter);
                }
            }
        }
    }

    fn on_command_key(&mut self, key: KeyEvent) {
        let Input::Command(field) = &mut self.input else {
            return;
        };
        match key.code {
            KeyCode::Esc => {
                self.input = Input::None;
                self.command_secret = None;
            }
            KeyCode::Backspace if field.text().is_empty() => self.input = Input::None,
            KeyCode::Enter => {
                let line = field.text().trim().to_owned();
                self.input = Input::None;
                self.run_command_line(&line);
                self.command_secret = None;
            }
            KeyCode::Tab => {
                let typed = field.text().to_owned();
                let (completed, note) = self.complete(&typed);
                if let Input::Command(field) = &mut self.input {
                    field.set(&completed);
                }
                if let Some(note) = note {
                    self.shell.info(note);
                }
            }
            _ => {
                field.handle(key);
            }
        }
    }

    /// Tab completion of the command line (see `command_line::complete`).
    #[must_use]
    pub fn complete(&self, line: &str) -> (String, Option<String>) {
        let tenants = self
            .shell
            .session
            .me
            .as_ref()
            .map_or(&[][..], |me| &me.tenants[..]);
        super::command_line::complete(line, tenants)
    }

    fn run_command_line(&mut self, line: &str) {
        use super::command_line::{Command, parse};
        match parse(line) {
            Command::Quit => self.quit = true,
            Command::Help => self.shell.dialogs.open(Dialog::Help { scroll: 0 }),
            Command::Tenant(Some(name)) => self.switch_tenant(name),
            Command::Tenant(None) => super::tenants::open_picker(&mut self.shell),
            Command::Lookup(typed) => self.lookup_command(typed),
            Command::Revoke(filter) => {
                self.view = ViewId::Keys;
                self.keys.revoke_by_filter(filter, &mut self.shell);
            }
            Command::Nothing => {}
            Command::Unknown => self.shell.error(format!(
                "unknown command {:?}; try :tenant [NAME], :help or :q",
                clean(line)
            )),
        }
    }

    /// The level of the status line, for tests.
    #[must_use]
    pub fn status_level(&self) -> Option<Level> {
        self.shell.status.as_ref().map(|s| s.level)
    }
}
