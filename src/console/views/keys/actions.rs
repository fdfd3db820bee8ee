//! The Keys view's actions: what each key binding does, the questions
//! destructive ones ask first (naming the keys they touch), sending the
//! confirmed ones, and reporting bulk outcomes key by key.

use super::{KeysView, NAMES_SHOWN, Pending, form};
use crate::api;
use crate::client::ClientResult;
use crate::console::dialog::confirm::{Confirm, name_list};
use crate::console::dialog::{Confirmed, Dialog};
use crate::console::keymap::Action;
use crate::console::net::Reply;
use crate::console::shell::Shell;
use crate::domain::KeyStatus;
use crate::domain::text::strip_control as clean;

impl KeysView {
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
                    let name = clean(&key.name);
                    confirm(
                        shell,
                        format!("Regenerate {name}?"),
                        vec![
                            format!("{name} gets a new secret, shown once."),
                            "Its current secret stops working at once, everywhere.".to_owned(),
                        ],
                        "Regenerate",
                        Pending::Regenerate(key.id, key.name),
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
        let targets = self.targets();
        // Marks of mixed statuses: disable unless every marked key is disabled.
        let disable = !self
            .keys
            .iter()
            .filter(|k| self.marked.contains(&k.id))
            .all(|k| k.status == KeyStatus::Disabled);
        let verb = if disable { "Disable" } else { "Enable" };
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
        confirm(
            shell,
            format!("{verb} {} keys?", targets.len()),
            lines,
            if disable { "Disable" } else { "Enable" },
            Pending::SetDisabled { disable, targets },
        );
    }

    pub(super) fn confirm_revoke(&mut self, shell: &mut Shell) {
        let targets = self.targets();
        if targets.is_empty() {
            shell.error("no key selected");
            return;
        }
        let hidden = self.hidden_count(&targets);
        let names: Vec<String> = targets.iter().map(|(_, n)| n.clone()).collect();
        let (title, mut lines) = if targets.len() == 1 {
            (
                format!("Revoke {}?", clean(&names[0])),
                vec![format!(
                    "{} stops working at once, everywhere.",
                    clean(&names[0])
                )],
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
        lines.push("Revocation cannot be undone.".to_owned());
        confirm(shell, title, lines, "Revoke", Pending::Revoke(targets));
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
            Pending::Regenerate(id, name) => {
                shell.info(format!("regenerating {}…", clean(&name)));
                shell.request(move |client, tenant| async move {
                    Reply::SecretIssued {
                        verb: "regenerated",
                        result: client.regenerate_key(&tenant, &id).await,
                        name,
                    }
                });
            }
            Pending::SetDisabled { disable, targets } => {
                let hidden = self.hidden_count(&targets);
                send_set_disabled(disable, targets, hidden, shell);
            }
            Pending::Revoke(targets) => {
                let hidden = self.hidden_count(&targets);
                if let [(id, name)] = targets.as_slice() {
                    let (id, name) = (id.clone(), name.clone());
                    shell.info(format!("revoking {}…", clean(&name)));
                    shell.request(move |client, tenant| async move {
                        Reply::KeyUpdated {
                            verb: "revoked",
                            result: client.revoke_key(&tenant, &id).await,
                            name,
                        }
                    });
                } else {
                    shell.info(format!("revoking {} keys…", targets.len()));
                    shell.request(move |client, tenant| async move {
                        let mut results = Vec::with_capacity(targets.len());
                        for (id, name) in targets {
                            results.push((name, client.revoke_key(&tenant, &id).await));
                        }
                        Reply::Bulk {
                            verb: "revoked",
                            hidden,
                            results,
                        }
                    });
                }
            }
        }
    }
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
            Reply::KeyUpdated { verb, name, result }
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
        "revoked" => "revoking".to_owned(),
        "disabled" => "disabling".to_owned(),
        "enabled" => "enabling".to_owned(),
        "saved" => "saving".to_owned(),
        other => other.to_owned(),
    }
}

/// A bulk action's outcome: a line when all went well, else each refusal
/// with its reason in a dialog.
pub(super) fn report_bulk(
    verb: &'static str,
    hidden: usize,
    results: Vec<(String, ClientResult<api::Key>)>,
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
        shell.success(format!("{verb} {done} of {total} keys{hidden_note}"));
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

fn capitalized(word: String) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
