//! The Keys view's actions: what each key binding does, the questions
//! destructive ones ask first (naming the keys they touch), sending the
//! confirmed ones, and reporting bulk outcomes key by key.

use super::{KeysView, NAMES_SHOWN, Pending, form};
use crate::api;
use crate::client::{ClientResult, FleetApplied};
use crate::console::dialog::confirm::{Confirm, name_list};
use crate::console::dialog::picker::{Item, Picker, PickerPurpose};
use crate::console::dialog::{Confirmed, Dialog};
use crate::console::keymap::Action;
use crate::console::layout::stamp;
use crate::console::net::Reply;
use crate::console::shell::Shell;
use crate::domain::KeyStatus;
use crate::domain::policy::KeyAction;
use crate::domain::text::strip_control as clean;

impl KeysView {
    /// "owner bo · key_01…": which key a question is about, when names repeat.
    fn identity(&self, id: &str) -> String {
        match self.keys.iter().find(|k| k.id == id) {
            Some(key) => format!(
                "owner {} · {} · secret {}…",
                clean(&key.owner.name),
                clean(&key.id),
                clean(&key.start)
            ),
            None => clean(id),
        }
    }

    pub(super) fn copy_id(&mut self, shell: &mut Shell) {
        let Some((id, _)) = self.selected.clone() else {
            shell.error("no key selected");
            return;
        };
        match shell.clipboard.copy(&id, false) {
            Ok(copied) => shell.success(format!("copied {id} {}", copied.describe())),
            Err(err) => shell.error(format!("copy failed: {err}")),
        }
    }

    pub(super) fn run_key_action(&mut self, action: Action, shell: &mut Shell) {
        if let Some(reason) = self.disabled_reason(action, &shell.session) {
            shell.error(reason);
            return;
        }
        let key = self.selected_key().cloned();
        match action {
            Action::Add => form::open_add(shell),
            Action::Edit => {
                if let Some(key) = key {
                    form::open_edit(&key, shell);
                }
            }
            Action::Duplicate => {
                if let Some(key) = key {
                    form::open_duplicate(&key, shell);
                }
            }
            Action::CopySecret => {
                if let Some(key) = key {
                    shell.info(format!("copying the secret of {}…", clean(&key.name)));
                    shell.request(move |client, tenant| async move {
                        Reply::Revealed {
                            result: client.reveal_key(&tenant, &key.id).await,
                            name: key.name,
                        }
                    });
                }
            }
            Action::ToggleDisabled => self.toggle_disabled(key, shell),
            Action::Regenerate => {
                if let Some(key) = key {
                    self.offer_rotation(key, shell);
                }
            }
            Action::EndRotation => {
                if let Some(key) = key {
                    let name = clean(&key.name);
                    let until = key
                        .rotating_until
                        .map(|at| format!(" (it would work until {})", stamp(at)))
                        .unwrap_or_default();
                    confirm(
                        shell,
                        format!("End the rotation of {name}?"),
                        vec![
                            self.identity(&key.id),
                            format!("The previous secret of {name} stops working at once{until}."),
                            "Services still sending it start failing; the new secret is unchanged."
                                .to_owned(),
                        ],
                        "End rotation",
                        Pending::EndRotation(key.id, key.name),
                    );
                }
            }
            Action::Revoke => self.confirm_revoke(shell),
            Action::Delete => {
                if let Some(key) = key {
                    let name = clean(&key.name);
                    confirm(
                        shell,
                        format!("Delete {name}?"),
                        vec![
                            self.identity(&key.id),
                            format!("{name} is removed for good and stops working at once."),
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

    /// `d`: the selected key at once (it is reversible), naming it; marked
    /// keys after a question that names them.
    pub(super) fn toggle_disabled(&mut self, key: Option<api::Key>, shell: &mut Shell) {
        if self.marked.is_empty() {
            let Some(key) = key else { return };
            let disable = key.status != KeyStatus::Disabled;
            shell.info(format!(
                "{} {}…",
                if disable { "disabling" } else { "enabling" },
                clean(&key.name)
            ));
            send_set_disabled(disable, vec![(key.id, key.name)], 0, shell);
            return;
        }
        // Marks of mixed statuses: disable unless every marked key is disabled.
        let disable = !self
            .keys
            .iter()
            .filter(|k| self.marked.contains(&k.id))
            .all(|k| k.status == KeyStatus::Disabled);
        let action = if disable {
            KeyAction::Disable
        } else {
            KeyAction::Enable
        };
        let (targets, refused) = self.split_targets(action, &shell.session);
        let verb = if disable { "Disable" } else { "Enable" };
        if targets.is_empty() {
            shell.error(format!(
                "none of the {} marked keys can be {}d: {}",
                refused.len(),
                verb.to_lowercase(),
                refused.first().map_or("", |(_, why)| why.as_str())
            ));
            return;
        }
        let names: Vec<String> = targets.iter().map(|(_, n)| n.clone()).collect();
        let mut lines = vec![format!("{}.", name_list(&names, NAMES_SHOWN))];
        let hidden = self.hidden_count(&targets);
        if hidden > 0 {
            lines.push(format!(
                "{hidden} of them are hidden by the current filter."
            ));
        }
        lines.push(if disable {
            "They stop verifying until enabled again.".to_owned()
        } else {
            "They verify again.".to_owned()
        });
        lines.extend(refusal_lines(
            &refused,
            if disable { "disabled" } else { "enabled" },
        ));
        confirm(
            shell,
            format!("{verb} {} keys?", targets.len()),
            lines,
            if disable { "Disable" } else { "Enable" },
            Pending::SetDisabled { disable, targets },
        );
    }

    pub(super) fn confirm_revoke(&mut self, shell: &mut Shell) {
        let (targets, refused) = if self.marked.is_empty() {
            (self.targets(), Vec::new())
        } else {
            self.split_targets(KeyAction::Revoke, &shell.session)
        };
        if targets.is_empty() {
            match refused.first() {
                Some((_, why)) => shell.error(format!(
                    "none of the {} marked keys can be revoked: {why}",
                    refused.len()
                )),
                None => shell.error("no key selected"),
            }
            return;
        }
        if targets.len() > api::BULK_REVOKE_MAX {
            shell.error(format!(
                "{} keys marked; one revoke takes at most {}",
                targets.len(),
                api::BULK_REVOKE_MAX
            ));
            return;
        }
        let hidden = self.hidden_count(&targets);
        let names: Vec<String> = targets.iter().map(|(_, n)| n.clone()).collect();
        let (title, mut lines) = if targets.len() == 1 {
            (
                format!("Revoke {}?", clean(&names[0])),
                vec![
                    self.identity(&targets[0].0),
                    format!("{} stops working at once, everywhere.", clean(&names[0])),
                ],
            )
        } else {
            (
                format!("Revoke {} keys?", targets.len()),
                vec![
                    format!("{}.", name_list(&names, NAMES_SHOWN)),
                    format!("{} keys stop working at once, everywhere.", targets.len()),
                ],
            )
        };
        if hidden > 0 {
            lines.push(format!(
                "{hidden} of them are hidden by the current filter."
            ));
        }
        lines.extend(refusal_lines(&refused, "revoked"));
        lines.push("Revocation cannot be undone.".to_owned());
        confirm(shell, title, lines, "Revoke", Pending::Revoke(targets));
    }

    /// `:revoke owner=NAME …`: asks the server which keys match (a dry
    /// run, so keys not loaded yet count too), then confirms with their
    /// names and the refusals before anything is revoked.
    pub fn revoke_by_filter(&mut self, typed: &str, shell: &mut Shell) {
        let filter = match parse_revoke_filter(typed) {
            Ok(filter) => filter,
            Err(message) => {
                shell.error(message);
                return;
            }
        };
        if shell.session.readonly {
            shell.error("read-only session");
            return;
        }
        if let Some(reason) = shell.session.not_ready() {
            shell.error(reason);
            return;
        }
        let what = typed.trim().to_owned();
        shell.info(format!("finding the keys matching {what}…"));
        shell.request(move |client, tenant| async move {
            let body = api::BulkRevoke {
                filter: Some(filter),
                dry_run: true,
                ..Default::default()
            };
            Reply::RevokePreview {
                what,
                result: client.bulk_revoke(&tenant, &body).await,
            }
        });
    }

    /// The dry run of `:revoke`: a question naming what would be revoked
    /// and what would be refused (Cancel has the focus).
    pub(super) fn on_revoke_preview(
        &mut self,
        what: &str,
        result: ClientResult<api::BulkRevokeResult>,
        shell: &mut Shell,
    ) {
        let preview = match result {
            Ok(preview) => preview,
            Err(err) => {
                shell.failed(&format!("finding the keys matching {what} failed"), &err);
                return;
            }
        };
        let name_of =
            |item: &api::BulkRevokeItem| item.name.clone().unwrap_or_else(|| item.id.clone());
        let targets: Vec<(String, String)> = preview
            .results
            .iter()
            .filter(|item| item.outcome == api::BulkOutcome::WouldRevoke)
            .map(|item| (item.id.clone(), name_of(item)))
            .collect();
        let refused: Vec<(String, String)> = preview
            .results
            .iter()
            .filter(|item| item.outcome == api::BulkOutcome::Refused)
            .map(|item| (name_of(item), item.detail.clone().unwrap_or_default()))
            .collect();
        if targets.is_empty() {
            if refused.is_empty() {
                shell.info(format!("no key matches {what}; nothing to revoke"));
            } else {
                shell.error(format!(
                    "{} keys match {what}, but none can be revoked",
                    refused.len()
                ));
                let mut lines = vec![
                    format!("{} keys match {what}:", refused.len()),
                    String::new(),
                ];
                lines.extend(
                    refused
                        .iter()
                        .map(|(name, why)| format!("{}: {why}", clean(name))),
                );
                shell.report("Nothing to revoke", lines);
            }
            return;
        }
        let names: Vec<String> = targets.iter().map(|(_, n)| n.clone()).collect();
        let mut lines = vec![
            format!("{} keys match {what}:", targets.len() + refused.len()),
            format!("{}.", name_list(&names, NAMES_SHOWN)),
            format!("{} keys stop working at once, everywhere.", targets.len()),
        ];
        lines.extend(refusal_lines(&refused, "revoked"));
        lines.push("Revocation cannot be undone.".to_owned());
        let n = targets.len();
        confirm(
            shell,
            format!("Revoke {n} {}?", if n == 1 { "key" } else { "keys" }),
            lines,
            "Revoke",
            Pending::Revoke(targets),
        );
    }

    /// The answer of a bulk revoke: each revoked key's row is updated, each
    /// refusal said with its reason.
    pub(super) fn on_bulk_revoked(
        &mut self,
        hidden: usize,
        names: &[(String, String)],
        result: ClientResult<api::BulkRevokeResult>,
        fleet: Option<FleetApplied>,
        shell: &mut Shell,
    ) {
        let done = match result {
            Ok(done) => done,
            Err(err) => {
                shell.failed(
                    &format!("revoking {} keys failed; none was revoked", names.len()),
                    &err,
                );
                return;
            }
        };
        let now = shell.now();
        let me = shell.session.me.as_ref().map(|me| me.user.clone());
        let mut results = Vec::with_capacity(done.results.len());
        for item in done.results {
            let name = item
                .name
                .clone()
                .or_else(|| {
                    names
                        .iter()
                        .find(|(id, _)| *id == item.id)
                        .map(|(_, n)| n.clone())
                })
                .unwrap_or_else(|| item.id.clone());
            self.marked.remove(&item.id);
            if item.outcome == api::BulkOutcome::Revoked {
                if let Some(key) = self.keys.iter_mut().find(|k| k.id == item.id) {
                    key.status = KeyStatus::Revoked;
                    key.revoked_at = Some(now);
                    key.rotating_until = None;
                    if let Some(me) = &me {
                        key.revoked_by = Some(crate::domain::UserRef {
                            id: crate::domain::UserId::from_trusted(me.id.clone()),
                            name: me.name.clone(),
                        });
                    }
                }
                results.push((name, Ok(())));
            } else {
                results.push((
                    name,
                    Err(item.detail.unwrap_or_else(|| item.code.unwrap_or_default())),
                ));
            }
        }
        self.reindex(shell);
        let refused = results.iter().any(|(_, r)| r.is_err());
        report_bulk("revoked", hidden, results, fleet.as_ref(), shell);
        // With refusals the dialog lists them; a lagging instance still shows.
        if let Some(fleet) = fleet.filter(|_| refused && done.revoked > 0) {
            tell_fleet(
                &format!("revoked {} keys", done.revoked),
                &fleet,
                true,
                shell,
            );
        }
    }

    /// A confirmed action: send it.
    pub fn confirmed(&mut self, pending: Pending, shell: &mut Shell) {
        match pending {
            Pending::Delete(id, name) => {
                shell.info(format!("deleting {}…", clean(&name)));
                shell.request(move |client, tenant| async move {
                    let result = client.delete_key(&tenant, &id).await;
                    Reply::KeyDeleted { id, name, result }
                });
            }
            Pending::Regenerate(id, name) => send_rotation(id, name, 0, shell),
            Pending::EndRotation(id, name) => {
                shell.info(format!("ending the rotation of {}…", clean(&name)));
                shell.request(move |client, tenant| async move {
                    Reply::KeyUpdated {
                        verb: "ended the rotation of",
                        result: client.end_rotation(&tenant, &id).await,
                        name,
                        fleet: None,
                    }
                });
            }
            Pending::SetDisabled { disable, targets } => {
                let hidden = self.hidden_count(&targets);
                send_set_disabled(disable, targets, hidden, shell);
            }
            Pending::Revoke(targets) => {
                let hidden = self.hidden_count(&targets);
                if let [(id, name)] = targets.as_slice()
                    && self.marked.is_empty()
                {
                    let (id, name) = (id.clone(), name.clone());
                    shell.info(format!("revoking {}…", clean(&name)));
                    shell.request(move |client, tenant| async move {
                        // Answered once every instance of the fleet has it.
                        let (result, fleet) =
                            split(client.revoke_key_everywhere(&tenant, &id).await);
                        Reply::KeyUpdated {
                            verb: "revoked",
                            result,
                            name,
                            fleet,
                        }
                    });
                } else {
                    shell.info(format!("revoking {} keys…", targets.len()));
                    shell.request(move |client, tenant| async move {
                        let body = api::BulkRevoke {
                            ids: Some(targets.iter().map(|(id, _)| id.clone()).collect()),
                            ..Default::default()
                        };
                        let (result, fleet) =
                            split(client.bulk_revoke_everywhere(&tenant, &body).await);
                        Reply::BulkRevoked {
                            hidden,
                            result,
                            names: targets,
                            fleet,
                        }
                    });
                }
            }
        }
    }
}

/// The choices `R` offers: how long the old secret keeps working.
pub const GRACE_CHOICES: [(&str, &str, &str); 5] = [
    ("0", "now", "the old secret stops at once (asks first)"),
    ("3600", "1 hour", "both secrets work for an hour"),
    ("86400", "24 hours", "both secrets work for a day"),
    ("604800", "7 days", "both secrets work for a week"),
    (
        CUSTOM_GRACE,
        "custom…",
        "any grace up to 7 days: 90m, 6h, 3d",
    ),
];
/// The value of the "custom…" choice.
pub const CUSTOM_GRACE: &str = "custom";

impl KeysView {
    /// `R`: how long should the old secret keep working? A grace keeps
    /// every running service up while the new secret is rolled out.
    fn offer_rotation(&mut self, key: api::Key, shell: &mut Shell) {
        let items = GRACE_CHOICES
            .iter()
            .map(|(value, label, detail)| Item {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
                detail: (*detail).to_owned(),
            })
            .collect();
        let title = format!("Rotate {}: old secret works for", clean(&key.name));
        self.rotating = Some((key.id, key.name));
        shell.dialogs.open(Dialog::Picker(Picker::new(
            title,
            PickerPurpose::Rotate,
            items,
            Some("86400"),
        )));
    }

    /// A grace chosen in the rotate picker: "now" asks first, "custom…"
    /// opens a form, the others rotate at once (nothing stops working).
    pub fn grace_chosen(&mut self, value: &str, shell: &mut Shell) {
        let Some((id, name)) = self.rotating.take() else {
            return;
        };
        match value {
            "0" => {
                let clean_name = clean(&name);
                confirm(
                    shell,
                    format!("Rotate {clean_name} now?"),
                    vec![
                        self.identity(&id),
                        format!("{clean_name} gets a new secret, shown once."),
                        "Its current secret stops working at once, everywhere.".to_owned(),
                        "(A grace keeps both working while services move: R again.)".to_owned(),
                    ],
                    "Rotate now",
                    Pending::Regenerate(id, name),
                );
            }
            CUSTOM_GRACE => form::open_rotate(&id, &name, shell),
            seconds => {
                if let Ok(grace) = seconds.parse() {
                    send_rotation(id, name, grace, shell);
                }
            }
        }
    }
}

/// Sends a rotation with `grace` seconds for the old secret (0: none).
pub(super) fn send_rotation(id: String, name: String, grace: u32, shell: &mut Shell) {
    shell.info(format!("rotating {}…", clean(&name)));
    shell.request(move |client, tenant| async move {
        Reply::SecretIssued {
            verb: "rotated",
            result: client.rotate_key(&tenant, &id, grace).await,
            name,
        }
    });
}

fn confirm(
    shell: &mut Shell,
    title: String,
    lines: Vec<String>,
    label: &'static str,
    pending: Pending,
) {
    shell.dialogs.open(Dialog::Confirm(Confirm::new(
        title,
        lines,
        label,
        Confirmed::Keys(pending),
    )));
}

fn send_set_disabled(
    disable: bool,
    targets: Vec<(String, String)>,
    hidden: usize,
    shell: &mut Shell,
) {
    let verb = if disable { "disabled" } else { "enabled" };
    if let [(id, name)] = targets.as_slice() {
        let (id, name) = (id.clone(), name.clone());
        shell.request(move |client, tenant| async move {
            let result = if disable {
                client.disable_key(&tenant, &id).await
            } else {
                client.enable_key(&tenant, &id).await
            };
            Reply::KeyUpdated {
                verb,
                name,
                result,
                fleet: None,
            }
        });
        return;
    }
    shell.info(format!(
        "{} {} keys…",
        if disable { "disabling" } else { "enabling" },
        targets.len()
    ));
    shell.request(move |client, tenant| async move {
        let mut results = Vec::with_capacity(targets.len());
        for (id, name) in targets {
            let result = if disable {
                client.disable_key(&tenant, &id).await
            } else {
                client.enable_key(&tenant, &id).await
            };
            results.push((name, result));
        }
        Reply::Bulk {
            verb,
            hidden,
            results,
        }
    });
}

/// "revoking" from "revoked", for failure messages.
pub(super) fn verb_ing(verb: &str) -> String {
    match verb {
        "created" => "creating".to_owned(),
        "duplicated" => "duplicating".to_owned(),
        "regenerated" => "regenerating".to_owned(),
        "rotated" => "rotating".to_owned(),
        "ended the rotation of" => "ending the rotation of".to_owned(),
        "revoked" => "revoking".to_owned(),
        "disabled" => "disabling".to_owned(),
        "enabled" => "enabling".to_owned(),
        "saved" => "saving".to_owned(),
        other => other.to_owned(),
    }
}

/// A bulk action's outcome: a line when all went well, else each refusal
/// with its reason in a dialog.
pub(super) fn report_bulk<T, E: std::fmt::Display>(
    verb: &'static str,
    hidden: usize,
    results: Vec<(String, Result<T, E>)>,
    fleet: Option<&FleetApplied>,
    shell: &mut Shell,
) {
    let total = results.len();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(name, r)| {
            r.as_ref()
                .err()
                .map(|err| format!("{}: {err}", clean(name)))
        })
        .collect();
    let done = total - failures.len();
    let hidden_note = if hidden > 0 {
        format!(" ({hidden} hidden by the filter)")
    } else {
        String::new()
    };
    if failures.is_empty() {
        let text = format!("{verb} {done} of {total} keys{hidden_note}");
        match fleet {
            Some(fleet) => tell_fleet(&text, fleet, false, shell),
            None => shell.success(text),
        }
        return;
    }
    shell.error(format!(
        "{verb} {done} of {total} keys; {} refused",
        failures.len()
    ));
    let mut lines = vec![
        format!("{verb} {done} of {total} keys{hidden_note}. These were refused:"),
        String::new(),
    ];
    lines.extend(failures);
    shell.report(
        format!("{}: some keys were refused", capitalized(verb_ing(verb))),
        lines,
    );
}

/// "2 more match but would be refused:" and each with its reason (a few).
fn refusal_lines(refused: &[(String, String)], done: &str) -> Vec<String> {
    const SHOWN: usize = 3;
    if refused.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "{} {} not be {done} (left as they are):",
        refused.len(),
        if refused.len() == 1 {
            "key will"
        } else {
            "keys will"
        },
    )];
    lines.extend(
        refused
            .iter()
            .take(SHOWN)
            .map(|(name, why)| format!("  {}: {why}", clean(name))),
    );
    if refused.len() > SHOWN {
        lines.push(format!("  and {} more", refused.len() - SHOWN));
    }
    lines
}

/// `owner=bo status:active scope=billing:read`: the server-side filter of
/// `:revoke`. Keys: owner, created_by (or by), scope, name (or q), status.
fn parse_revoke_filter(typed: &str) -> Result<api::BulkRevokeFilter, String> {
    const USAGE: &str = ":revoke needs a filter: owner=NAME, by=NAME (creator), scope=SCOPE, name=TEXT, status=STATUS";
    let mut filter = api::BulkRevokeFilter::default();
    let mut any = false;
    for word in typed.split_whitespace() {
        let Some((field, value)) = word.split_once(['=', ':']).filter(|(_, v)| !v.is_empty())
        else {
            return Err(format!("{USAGE} (not {:?})", clean(word)));
        };
        let value = value.to_owned();
        match field {
            "owner" => filter.owner = Some(value),
            "by" | "created_by" | "created-by" | "creator" => filter.created_by = Some(value),
            "scope" => filter.scope = Some(value),
            "name" | "q" => filter.q = Some(value),
            "status" => {
                filter.status = Some(crate::domain::KeyStatus::parse(&value).ok_or_else(|| {
                    format!(
                        "no status {:?}: active, disabled, expired or revoked",
                        clean(&value)
                    )
                })?);
            }
            _ => return Err(format!("{USAGE} (not {:?})", clean(field))),
        }
        any = true;
    }
    if any {
        Ok(filter)
    } else {
        Err(USAGE.to_owned())
    }
}

fn capitalized(word: String) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// An answer and what its `Keydesk-Fleet` header said, apart.
fn split<T>(
    result: ClientResult<(T, Option<FleetApplied>)>,
) -> (ClientResult<T>, Option<FleetApplied>) {
    match result {
        Ok((body, fleet)) => (Ok(body), fleet),
        Err(err) => (Err(err), None),
    }
}

/// Says how far the fleet applied a revocation: `revoked x · applied on 3
/// of 3 instances in 4 ms`; an instance that had not applied it yet stays
/// on the status line as a failure does. `quiet` when a failure is already
/// on it (a refused key): only a lagging instance is then worth saying.
pub(super) fn tell_fleet(done: &str, fleet: &FleetApplied, quiet: bool, shell: &mut Shell) {
    let text = format!("{done} · {}", clean(&fleet.describe()));
    if !fleet.everywhere() {
        shell.error(text);
    } else if !quiet {
        shell.success(text);
    }
}
