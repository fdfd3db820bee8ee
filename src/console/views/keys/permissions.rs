//! What the Keys view may do now, and why not: the domain's rules asked
//! for the selected key, or for each marked key, so the toolbar, `?` and the
//! questions say what the server would refuse before anything is sent.

use super::{KeysView, Refused, Target};
use crate::api;
use crate::console::keymap::Action;
use crate::console::session::Session;
use crate::domain::policy::{self, KeyAction};
use crate::domain::{KeyStatus, SecretRetrieval};

/// Why the domain's rules refuse `action` on `key` for this session's
/// user, or `None` when the server would allow it.
fn refusal(key: &api::Key, action: KeyAction, session: &Session) -> Option<String> {
    let (actor, settings) = (session.actor()?, session.domain_settings()?);
    let owner = crate::domain::UserId::from_trusted(key.owner.id.as_str().to_owned());
    policy::may_act_on_key(&actor, action, &settings, &owner)
        .and_then(|()| {
            crate::domain::key::check_key_action(
                action,
                key.status,
                &settings,
                key.secret_retrievable,
            )
        })
        .err()
        .map(|refusal| refusal.message)
}

impl KeysView {
    /// Why `action` cannot be taken now, or `None` if it can. Asks the
    /// domain's rules, so the toolbar shows what the server would refuse.
    #[must_use]
    pub fn disabled_reason(&self, action: Action, session: &Session) -> Option<String> {
        let mutating =
            crate::console::keymap::is_mutating(action, crate::console::keymap::Scope::Keys);
        if mutating || action == Action::CopySecret {
            if let Some(reason) = session.not_ready() {
                if mutating || !session.readonly {
                    return Some(reason);
                }
            }
        }
        let bulk =
            !self.marked.is_empty() && matches!(action, Action::Revoke | Action::ToggleDisabled);
        let needs_key = matches!(
            action,
            Action::Edit
                | Action::Duplicate
                | Action::CopySecret
                | Action::CopyId
                | Action::Regenerate
                | Action::EndRotation
                | Action::ToggleDisabled
                | Action::Revoke
                | Action::Delete
        );
        let key = self.selected_key();
        if needs_key && !bulk && key.is_none() {
            return Some("no key selected".to_owned());
        }
        let (Some(actor), Some(settings)) = (session.actor(), session.domain_settings()) else {
            return None;
        };
        let check = |action: KeyAction| refusal(key?, action, session);
        match action {
            Action::Add => {
                if !settings.api_keys_enabled {
                    return Some("API keys are off in this tenant (Settings, 3)".to_owned());
                }
                policy::may_create_key(&actor, &settings, &actor.id)
                    .err()
                    .map(|r| r.message)
            }
            Action::Duplicate => {
                if !settings.api_keys_enabled {
                    return Some("API keys are off in this tenant (Settings, 3)".to_owned());
                }
                check(KeyAction::Duplicate)
            }
            Action::Edit => check(KeyAction::Edit),
            Action::CopySecret => {
                if settings.secret_retrieval != SecretRetrieval::Admins {
                    return Some(
                        "this tenant shows a secret only once, when it is created".to_owned(),
                    );
                }
                check(KeyAction::Reveal)
            }
            Action::Regenerate => check(KeyAction::Regenerate),
            Action::EndRotation => {
                if key.is_some_and(|k| k.rotating_until.is_none()) {
                    return Some("the key is not rotating (R rotates it)".to_owned());
                }
                check(KeyAction::EndRotation)
            }
            Action::ToggleDisabled if bulk => None,
            Action::ToggleDisabled => {
                check(if key.is_some_and(|k| k.status == KeyStatus::Disabled) {
                    KeyAction::Enable
                } else {
                    KeyAction::Disable
                })
            }
            Action::Revoke if bulk => None,
            Action::Revoke => check(KeyAction::Revoke),
            Action::Delete => check(KeyAction::Delete),
            _ => None,
        }
    }

    /// Why the domain's rules refuse `action` on the selected key, if they do
    /// (what the server would answer; `None` also while settings load).
    #[must_use]
    pub fn selected_refusal(&self, action: KeyAction, session: &Session) -> Option<String> {
        refusal(self.selected_key()?, action, session)
    }

    /// The marked keys (or the selected one) split by what the domain's
    /// rules say of `action` on each: those it may act on, and the refused
    /// ones with the reason, so a bulk question says which will be refused.
    pub(super) fn split_targets(
        &self,
        action: KeyAction,
        session: &Session,
    ) -> (Vec<Target>, Vec<Refused>) {
        let mut allowed = Vec::new();
        let mut refused = Vec::new();
        for (id, name) in self.targets() {
            match self
                .keys
                .iter()
                .find(|k| k.id == id)
                .and_then(|key| refusal(key, action, session))
            {
                Some(reason) => refused.push((name, reason)),
                None => allowed.push((id, name)),
            }
        }
        (allowed, refused)
    }

    /// The word the disable/enable button shows for the selected key.
    #[must_use]
    pub fn toggle_word(&self, short: bool) -> &'static str {
        let enable = self.marked.is_empty()
            && self
                .selected_key()
                .is_some_and(|k| k.status == KeyStatus::Disabled);
        match (enable, short) {
            (true, false) => "enable",
            (true, true) => "en",
            (false, false) => "disable",
            (false, true) => "dis",
        }
    }
}
