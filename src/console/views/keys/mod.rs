//! The Keys view: the tenant's keys, loaded page by page into a sorted and
//! filtered index, the selected key's detail, marks for bulk actions, and
//! every key action (SPEC §4).
//!
//! The selection is a key ID, never a row number. Every change to the list
//! (a page, a reload, a filter, a sort, a key added, changed or gone) ends
//! in [`KeysView::follow_selection`], which finds that key again; when it is
//! gone, the cursor stays where it was (on a neighbour) and the status line
//! says so.

mod actions;
mod activity;
pub mod form;
pub mod index;
mod permissions;
pub mod render;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use self::actions::{report_bulk, verb_ing};
pub use self::activity::{ACTIVITY_EVENTS, Activity};
use self::index::{KeyIndex, SortColumn, haystack};
use crate::api::{self, KeyWithSecret};
use crate::client::ClientResult;
use crate::console::dialog::Dialog;
use crate::console::dialog::picker::{Item, Picker, PickerPurpose};
use crate::console::dialog::secret::SecretModal;
use crate::console::keymap::Action;
use crate::console::net::Reply;
use crate::console::shell::Shell;
use crate::console::widgets::list_cursor::{ListCursor, Move};
use crate::domain::text::strip_control as clean;

/// Keys fetched per request while loading a tenant.
pub const PAGE_SIZE: u32 = 1000;
/// The first page is small: a screenful arrives fast, the rest follows.
pub const FIRST_PAGE_SIZE: u32 = 100;
/// A tenant with at most this many keys is reloaded in the background.
const LIVE_RELOAD_MAX_KEYS: usize = 5000;
const LIVE_RELOAD_EVERY: Duration = Duration::from_secs(10);
/// Names a question lists before "and N more".
const NAMES_SHOWN: usize = 6;

/// A load of the tenant's keys in progress.
#[derive(Default)]
pub struct Loading {
    pub generation: u64,
    /// Replacing an already shown list: pages are staged, then swapped in.
    pub staged: Option<Vec<api::Key>>,
    pub loaded: usize,
    pub total: u64,
}

/// A key an action touches: (id, name).
pub type Target = (String, String);
/// A key an action would be refused on: (name, reason).
pub type Refused = (String, String);

/// A key action waiting for confirmation: (id, name) of each key.
#[derive(Debug, Clone)]
pub enum Pending {
    Revoke(Vec<(String, String)>),
    SetDisabled {
        disable: bool,
        targets: Vec<(String, String)>,
    },
    Delete(String, String),
    /// Rotate with no grace: the old secret stops at once.
    Regenerate(String, String),
    EndRotation(String, String),
}

#[derive(Default)]
pub struct KeysView {
    pub keys: Vec<api::Key>,
    haystacks: Vec<String>,
    pub index: KeyIndex,
    pub loading: Option<Loading>,
    generation: u64,
    /// The selected key's ID and name: the identity the cursor follows.
    pub selected: Option<(String, String)>,
    pub cursor: ListCursor,
    pub marked: BTreeSet<String>,
    /// The filter as typed (the index keeps it lowercased).
    pub filter: String,
    /// The detail fills the body (Enter); `q`/Esc go back.
    pub zoomed: bool,
    /// How far the zoomed detail is scrolled (j/k there scroll it).
    pub detail_scroll: u16,
    /// The furthest the detail could scroll when last drawn.
    pub detail_max_scroll: std::cell::Cell<u16>,
    /// Keys put in the list ahead of their page (a looked-up key): the page
    /// that brings them again is not let in twice.
    early: BTreeSet<String>,
    /// The key `R` asked about, while the grace picker is open.
    rotating: Option<(String, String)>,
    /// The selected key's activity, once the detail has shown it.
    pub activity: Option<Activity>,
    /// The key selected at the last tick: activity is asked for a key the
    /// cursor rests on, not for every key it passes.
    resting: Option<String>,
    last_reload: Option<Instant>,
}

impl KeysView {
    // ------------------------------------------------------------ queries

    /// The key under the cursor.
    #[must_use]
    pub fn selected_key(&self) -> Option<&api::Key> {
        let id = &self.selected.as_ref()?.0;
        self.keys.iter().find(|k| &k.id == id)
    }

    #[must_use]
    pub fn key_at_row(&self, row: usize) -> Option<&api::Key> {
        self.index
            .visible()
            .get(row)
            .and_then(|&i| self.keys.get(i as usize))
    }

    /// Where the key with `id` is among the visible ones, if it is.
    fn visible_position(&self, id: &str) -> Option<usize> {
        let i = self.keys.iter().position(|k| k.id == id)?;
        self.index.position_of(u32::try_from(i).ok()?)
    }

    #[must_use]
    pub fn visible_count(&self) -> usize {
        self.index.visible().len()
    }

    /// The keys an action on "the marked keys, else the selected one" touches.
    fn targets(&self) -> Vec<(String, String)> {
        if self.marked.is_empty() {
            return self
                .selected_key()
                .map(|k| (k.id.clone(), k.name.clone()))
                .into_iter()
                .collect();
        }
        self.keys
            .iter()
            .filter(|k| self.marked.contains(&k.id))
            .map(|k| (k.id.clone(), k.name.clone()))
            .collect()
    }

    fn hidden_count(&self, targets: &[(String, String)]) -> usize {
        targets
            .iter()
            .filter(|(id, _)| self.visible_position(id).is_none())
            .count()
    }

    // ------------------------------------------------------------ the selection

    /// After the list changed: the cursor goes back to the selected key.
    /// When that key is gone (deleted, or no longer matching the filter) the
    /// cursor stays on its row, now a neighbour, and the status says so.
    fn follow_selection(&mut self, shell: &mut Shell) {
        let lost = self.follow_quietly();
        if let Some(name) = lost {
            match &self.selected {
                Some((_, now)) => shell.info(format!(
                    "{} is no longer in the list; selected {}",
                    clean(&name),
                    clean(now)
                )),
                None => shell.info(format!("{} is no longer in the list", clean(&name))),
            }
        }
    }

    /// As `follow_selection`, returning the name of a lost key instead of saying it.
    fn follow_quietly(&mut self) -> Option<String> {
        let count = self.visible_count();
        let position = self
            .selected
            .as_ref()
            .and_then(|(id, _)| self.visible_position(id));
        let lost = match (&self.selected, position) {
            (Some((_, name)), None) => Some(name.clone()),
            _ => None,
        };
        self.cursor.follow(position, count);
        self.select_row();
        lost
    }

    /// Makes the key at the cursor's row the selected one.
    fn select_row(&mut self) {
        let selected = self
            .key_at_row(self.cursor.row)
            .map(|k| (k.id.clone(), k.name.clone()));
        if selected.as_ref().map(|s| &s.0) != self.selected.as_ref().map(|s| &s.0) {
            self.detail_scroll = 0;
        }
        self.selected = selected;
    }

    /// j/k and the page keys in the zoomed detail: scroll it.
    fn scroll_detail(&mut self, movement: Move) {
        let max = self.detail_max_scroll.get();
        let page = u16::try_from(self.cursor.height().max(2) - 1).unwrap_or(10);
        let at = self.detail_scroll.min(max);
        self.detail_scroll = match movement {
            Move::Up => at.saturating_sub(1),
            Move::Down => at.saturating_add(1).min(max),
            Move::PageUp | Move::HalfPageUp => at.saturating_sub(page),
            Move::PageDown | Move::HalfPageDown => at.saturating_add(page).min(max),
            Move::Top => 0,
            Move::Bottom => max,
        };
    }

    fn move_cursor(&mut self, movement: Move) {
        self.cursor.apply(movement, self.visible_count());
        self.select_row();
    }

    /// Selects the key `id` (a new key, a key found by its secret).
    pub fn select_id(&mut self, id: &str) {
        if let Some(at) = self.visible_position(id) {
            self.cursor.follow(Some(at), self.visible_count());
            self.select_row();
        }
    }

    pub fn set_height(&mut self, rows: usize) {
        self.cursor.set_height(rows, self.visible_count());
    }

    // ------------------------------------------------------------ the list

    fn reindex(&mut self, shell: &mut Shell) {
        self.index.rebuild(&self.keys, &self.haystacks);
        self.follow_selection(shell);
    }

    /// Replaces the loaded keys (as a finished load does) and re-indexes them.
    pub fn replace_keys(&mut self, keys: Vec<api::Key>, shell: &mut Shell) {
        self.haystacks = keys.iter().map(haystack).collect();
        self.keys = keys;
        self.marked
            .retain(|id| self.keys.iter().any(|k| &k.id == id));
        self.reindex(shell);
    }

    /// Puts a key the server just returned into the list (new or changed).
    fn upsert(&mut self, key: api::Key, shell: &mut Shell) {
        let hay = haystack(&key);
        if let Some(i) = self.keys.iter().position(|k| k.id == key.id) {
            self.keys[i] = key;
            self.haystacks[i] = hay;
        } else {
            self.keys.push(key);
            self.haystacks.push(hay);
        }
        self.reindex(shell);
    }

    fn remove_key(&mut self, id: &str) {
        if let Some(i) = self.keys.iter().position(|k| k.id == id) {
            self.keys.remove(i);
            self.haystacks.remove(i);
            self.marked.remove(id);
            self.index.rebuild(&self.keys, &self.haystacks);
            self.follow_quietly();
        }
    }

    /// Sets the filter (a secret never gets here: `App` takes it out and
    /// looks it up). The selected key stays selected if it still matches;
    /// else the first match is.
    pub fn set_filter(&mut self, filter: &str, _shell: &mut Shell) {
        self.index.set_filter(filter, &self.keys, &self.haystacks);
        filter.clone_into(&mut self.filter);
        if self.follow_quietly().is_some() {
            self.cursor.row = 0;
            self.cursor.clamp(self.visible_count());
            self.select_row();
        }
    }

    /// The key a looked-up secret belongs to: put in the list (ahead of its
    /// page, if the tenant is still loading), shown past any filter that
    /// hides it, selected, its detail open.
    pub fn land_on(&mut self, key: api::Key, shell: &mut Shell) {
        let id = key.id.clone();
        if !self.keys.iter().any(|k| k.id == id) && self.loading.is_some() {
            self.early.insert(id.clone());
        }
        self.upsert(key, shell);
        if self.visible_position(&id).is_none() {
            self.set_filter("", shell);
        }
        self.select_id(&id);
        self.zoomed = true;
        self.fetch_activity(shell, true);
    }

    /// Forgets everything of the previous tenant.
    pub fn clear(&mut self) {
        let (column, reversed) = (self.index.column, self.index.reversed);
        let height = self.cursor.height();
        *self = Self::default();
        self.index.column = column;
        self.index.reversed = reversed;
        self.cursor.set_height(height, 0);
    }

    /// Loads every key of the tenant, page by page. A reload stages pages
    /// and swaps them in at the end, so the list does not flicker.
    pub fn load(&mut self, shell: &Shell) {
        let reload = !self.keys.is_empty();
        self.generation += 1;
        self.loading = Some(Loading {
            generation: self.generation,
            staged: reload.then(Vec::new),
            loaded: 0,
            total: 0,
        });
        self.last_reload = Some(Instant::now());
        self.fetch_page(shell, None);
    }

    fn fetch_page(&self, shell: &Shell, cursor: Option<String>) {
        let generation = self.generation;
        shell.request(move |client, tenant| async move {
            let limit = if cursor.is_none() {
                FIRST_PAGE_SIZE
            } else {
                PAGE_SIZE
            };
            let query = crate::client::KeyListQuery {
                limit: Some(limit),
                cursor,
                ..Default::default()
            };
            Reply::Page {
                generation,
                result: client.list_keys(&tenant, &query).await,
            }
        });
    }

    /// Whether a background reload is due: small tenants are polled when
    /// the event stream is not there to say what changed.
    #[must_use]
    pub fn reload_due(&self, stream_live: bool) -> bool {
        !stream_live
            && self.loading.is_none()
            && self.keys.len() <= LIVE_RELOAD_MAX_KEYS
            && self
                .last_reload
                .is_some_and(|at| at.elapsed() >= LIVE_RELOAD_EVERY)
    }

    fn on_page(&mut self, generation: u64, result: ClientResult<api::KeyList>, shell: &mut Shell) {
        let Some(loading) = self.loading.as_mut().filter(|l| l.generation == generation) else {
            return;
        };
        let page = match result {
            Ok(page) => page,
            Err(err) => {
                self.loading = None;
                shell.failed("loading keys", &err);
                return;
            }
        };
        loading.loaded += page.items.len();
        loading.total = page.total;
        let next = page.next_cursor.clone();
        if let Some(staged) = loading.staged.as_mut() {
            staged.extend(page.items);
            if next.is_none() {
                let keys = loading.staged.take().unwrap_or_default();
                self.replace_keys(keys, shell);
            }
        } else {
            let mut items = page.items;
            if !self.early.is_empty() {
                items.retain(|k| !self.early.remove(&k.id));
            }
            let first_new = self.keys.len();
            self.haystacks.extend(items.iter().map(haystack));
            self.keys.extend(items);
            self.index.extend(&self.keys, &self.haystacks, first_new);
            self.follow_selection(shell);
        }
        shell.reconnected();
        match next {
            Some(cursor) => self.fetch_page(shell, Some(cursor)),
            None => {
                self.loading = None;
                self.early.clear();
            }
        }
    }

    // ------------------------------------------------------------ replies

    /// A reply for the tenant on screen. Returns true when the audit log
    /// changed (the events view reloads).
    pub fn on_reply(&mut self, reply: Reply, shell: &mut Shell) -> bool {
        match reply {
            Reply::Page { generation, result } => {
                self.on_page(generation, result, shell);
                false
            }
            Reply::KeyUpdated {
                verb,
                name,
                result,
                fleet,
            } => match result {
                Ok(key) => {
                    if shell.dialogs.form_mut().is_some_and(|f| f.submitting) {
                        shell.dialogs.close();
                    }
                    shell.reconnected();
                    let done = format!("{verb} {}", clean(&key.name));
                    match &fleet {
                        Some(fleet) => actions::tell_fleet(&done, fleet, false, shell),
                        None => shell.success(done),
                    }
                    self.upsert(key, shell);
                    true
                }
                Err(err) => {
                    let what = format!("{} {} failed", verb_ing(verb), clean(&name));
                    if let Some(form) = shell.dialogs.form_mut().filter(|f| f.submitting) {
                        form.failed(format!("{what}: {err}"));
                    }
                    shell.failed(&what, &err);
                    if !err.is_transient() {
                        self.load(shell);
                    }
                    false
                }
            },
            Reply::KeyDeleted { id, name, result } => match result {
                Ok(()) => {
                    self.remove_key(&id);
                    shell.success(format!("deleted {}", clean(&name)));
                    true
                }
                Err(err) => {
                    shell.failed(&format!("deleting {} failed", clean(&name)), &err);
                    false
                }
            },
            Reply::SecretIssued { verb, name, result } => {
                self.on_secret_issued(verb, &name, result, shell)
            }
            Reply::Revealed { name, result } => match result {
                Ok(revealed) => {
                    let secret = zeroize::Zeroizing::new(revealed.secret);
                    match shell.clipboard.copy(&secret, true) {
                        Ok(copied) => shell.success(format!(
                            "copied the secret of {} {}",
                            clean(&name),
                            copied.describe()
                        )),
                        Err(err) => shell.error(format!("copy failed: {err}")),
                    }
                    true
                }
                Err(err) => {
                    shell.failed(
                        &format!("copying the secret of {} failed", clean(&name)),
                        &err,
                    );
                    false
                }
            },
            reply @ (Reply::KeyUsage { .. } | Reply::KeyEvents { .. }) => {
                self.on_activity(reply);
                false
            }
            Reply::RevokePreview { what, result } => {
                self.on_revoke_preview(&what, result, shell);
                false
            }
            Reply::BulkRevoked {
                hidden,
                names,
                result,
                fleet,
            } => {
                self.on_bulk_revoked(hidden, &names, result, fleet, shell);
                true
            }
            Reply::Bulk {
                verb,
                hidden,
                results,
            } => {
                let updated: Vec<api::Key> = results
                    .iter()
                    .filter_map(|(_, r)| r.as_ref().ok().cloned())
                    .collect();
                for key in updated {
                    self.marked.remove(&key.id);
                    let hay = haystack(&key);
                    if let Some(i) = self.keys.iter().position(|k| k.id == key.id) {
                        self.keys[i] = key;
                        self.haystacks[i] = hay;
                    }
                }
                self.reindex(shell);
                report_bulk(verb, hidden, results, None, shell);
                true
            }
            _ => false,
        }
    }

    fn on_secret_issued(
        &mut self,
        verb: &'static str,
        name: &str,
        result: ClientResult<KeyWithSecret>,
        shell: &mut Shell,
    ) -> bool {
        let issued = match result {
            Ok(issued) => issued,
            Err(err) => {
                let what = format!("{} {} failed", verb_ing(verb), clean(name));
                match shell.dialogs.form_mut() {
                    Some(form) if form.submitting => {
                        form.failed(format!("{what}: {err}"));
                        if err.is_transient() {
                            shell.connection_lost(&what, &err);
                        } else if err.is_unauthorized() {
                            shell.failed(&what, &err);
                        }
                    }
                    _ => shell.failed(&what, &err),
                }
                return false;
            }
        };
        // The form that asked for this key is done; any other stays.
        if shell.dialogs.form_mut().is_some_and(|f| f.submitting) {
            shell.dialogs.close();
        }
        shell.reconnected();
        let id = issued.key.id.clone();
        let name = clean(&issued.key.name);
        let retrievable = issued.key.secret_retrievable;
        let about = match issued.key.rotating_until {
            Some(at) => format!(
                "key {id} · the old secret works until {}",
                crate::console::layout::stamp(at)
            ),
            None => format!("key {id}"),
        };
        self.upsert(issued.key, shell);
        if self.visible_position(&id).is_none() {
            // Show the new key: a filter that hides it would look like a failure.
            self.set_filter("", shell);
            shell.info(format!("{verb} {name}: the filter was cleared to show it"));
        }
        self.select_id(&id);
        shell.success(format!("{verb} {name}"));
        if let Some(secret) = issued.secret {
            shell.dialogs.present(Dialog::Secret(SecretModal::new(
                format!("{verb} {name}"),
                about,
                secret,
                retrievable,
                "secret",
            )));
        }
        true
    }

    /// A key read again because the event stream named it: changed, or
    /// gone (the cursor moves to a neighbour and says so).
    pub fn refreshed(&mut self, id: &str, result: ClientResult<api::Key>, shell: &mut Shell) {
        match result {
            Ok(key) => {
                let hay = haystack(&key);
                match self.keys.iter().position(|k| k.id == key.id) {
                    Some(i) => {
                        self.keys[i] = key;
                        self.haystacks[i] = hay;
                    }
                    None => {
                        self.keys.push(key);
                        self.haystacks.push(hay);
                    }
                }
                self.reindex(shell);
            }
            Err(err) if err.code() == Some("NOT_FOUND") => self.gone(id, shell),
            Err(err) => shell.failed("reading a changed key", &err),
        }
    }

    /// A key deleted elsewhere.
    pub fn gone(&mut self, id: &str, shell: &mut Shell) {
        if !self.keys.iter().any(|k| k.id == id) {
            return;
        }
        self.keys.retain(|k| k.id != id);
        self.haystacks = self.keys.iter().map(haystack).collect();
        self.marked.remove(id);
        self.reindex(shell);
    }

    // ------------------------------------------------------------ actions

    /// Carries out `action`; refused with the reason when not allowed.
    pub fn on_action(&mut self, action: Action, shell: &mut Shell) {
        if let Some(movement) = Move::from_action(action) {
            if self.zoomed {
                return self.scroll_detail(movement);
            }
            return self.move_cursor(movement);
        }
        match action {
            // Enter opens the detail; Esc and q close it (Enter again keeps it).
            Action::Open => self.zoomed = self.selected.is_some(),
            Action::Mark => {
                if let Some((id, _)) = self.selected.clone() {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.move_cursor(Move::Down);
                }
            }
            Action::MarkAll => {
                if self.marked.is_empty() {
                    let ids: Vec<String> = self
                        .index
                        .visible()
                        .iter()
                        .map(|&i| self.keys[i as usize].id.clone())
                        .collect();
                    shell.info(format!("marked {} keys", ids.len()));
                    self.marked.extend(ids);
                } else {
                    self.marked.clear();
                    shell.info("marks cleared");
                }
            }
            Action::Sort => {
                let items = SortColumn::ALL
                    .iter()
                    .map(|c| Item {
                        value: c.label().to_owned(),
                        label: c.label().to_owned(),
                        detail: String::new(),
                    })
                    .collect();
                shell.dialogs.open(Dialog::Picker(Picker::new(
                    "Sort by",
                    PickerPurpose::Sort,
                    items,
                    Some(self.index.column.label()),
                )));
            }
            Action::ReverseSort => {
                self.index.reversed = !self.index.reversed;
                self.reindex(shell);
                shell.info(self.sort_text());
            }
            Action::CopyId => self.copy_id(shell),
            _ => self.run_key_action(action, shell),
        }
    }

    /// "sorted by name ▲" for the status line.
    fn sort_text(&self) -> String {
        format!(
            "sorted by {}{}",
            self.index.column.label(),
            if self.index.reversed {
                ", reversed"
            } else {
                ""
            }
        )
    }

    /// Sorts by `column` (chosen in the sort picker).
    pub fn sort_by(&mut self, column: SortColumn, shell: &mut Shell) {
        self.index.column = column;
        self.index.reversed = false;
        self.reindex(shell);
        shell.info(self.sort_text());
    }

    /// Esc: back one step — the detail, then the marks. (The filter is
    /// cleared by `App`, which owns the filter line.)
    pub fn back(&mut self) -> bool {
        if self.zoomed {
            self.zoomed = false;
            return true;
        }
        if !self.marked.is_empty() {
            self.marked.clear();
            return true;
        }
        false
    }
}
