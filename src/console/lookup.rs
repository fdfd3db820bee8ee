//! The on-call path (SPEC §4): a secret pasted into the filter (or given to
//! `:lookup`) is recognised by its shape and checksum and taken out of the
//! typed text at once, so it is never drawn and never kept; it goes to
//! `POST /v1/keys/lookup`, and the answer switches the console to the key's
//! tenant and selects the key with its detail open. From there `r` and `y`
//! revoke it: paste, Enter, `r`, `y`.
//!
//! While the lookup is on its way, no key action can be taken: the key
//! under the cursor is not yet the key of the secret.

use zeroize::Zeroizing;

use super::app::{App, Input};
use super::net::Msg;
use super::views::ViewId;
use crate::api;
use crate::client::ClientResult;
use crate::domain::policy::KeyAction;
use crate::domain::secret::MalformedSecret;
use crate::domain::text::strip_control as clean;
use crate::domain::{KeyStatus, Secret};

/// What [`take_secret`] found in a line of text.
pub enum Spotted {
    Nothing,
    /// A whole secret, shape and checksum right.
    Secret(Secret),
    /// A word shaped like a secret whose checksum is wrong: a typo or a cut copy.
    Garbled,
}

/// Splits `text` into the words that are not secrets (joined by single
/// spaces) and the secret among them, if any. A word shaped like a secret
/// with a wrong checksum is taken out too: it is almost certainly a
/// damaged secret, and is not drawn either.
#[must_use]
pub fn take_secret(text: &str) -> (Zeroizing<String>, Spotted) {
    let mut spotted = Spotted::Nothing;
    let mut rest = Zeroizing::new(String::with_capacity(text.len()));
    for word in text.split_whitespace() {
        match Secret::parse(word) {
            Ok(secret) => {
                spotted = Spotted::Secret(secret);
                continue;
            }
            Err(MalformedSecret::Checksum) => {
                if matches!(spotted, Spotted::Nothing) {
                    spotted = Spotted::Garbled;
                }
                continue;
            }
            Err(MalformedSecret::Shape) => {}
        }
        if !rest.is_empty() {
            rest.push(' ');
        }
        rest.push_str(word);
    }
    if matches!(spotted, Spotted::Nothing) {
        // Nothing taken out: the text stays exactly as typed (spaces too).
        rest.clear();
        rest.push_str(text);
    }
    (rest, spotted)
}

impl App {
    /// Takes a secret out of the filter being typed: looks it up, and
    /// leaves the other words in the field. Returns the filter to apply.
    pub(super) fn spot_secret(&mut self, filter: &str) -> Zeroizing<String> {
        let (rest, spotted) = take_secret(filter);
        match spotted {
            Spotted::Nothing => return rest,
            Spotted::Secret(secret) => self.look_up(secret),
            Spotted::Garbled => self.shell.error(
                "that looks like a keydesk secret, but its checksum is wrong \
                 (a typo, or a cut copy?); nothing was looked up",
            ),
        }
        if let Input::Filter(field) | Input::Command(field) = &mut self.input {
            field.set(&rest);
        }
        rest
    }

    /// Sends `secret` to the lookup endpoint; the secret is wiped once sent.
    pub fn look_up(&mut self, secret: Secret) {
        let start = secret.start();
        self.shell
            .info(format!("looking up the key of the secret {start}…"));
        self.looking_up = Some(start);
        self.shell.net.spawn(move |client| async move {
            let result = client.lookup_key(secret.expose()).await;
            drop(secret);
            Msg::LookedUp(result)
        });
    }

    /// `:lookup` with a pasted secret: the secret is held (never drawn)
    /// until Enter sends it.
    pub(super) fn paste_into_command(&mut self, text: &str) {
        let (rest, spotted) = take_secret(text);
        let Input::Command(field) = &mut self.input else {
            return;
        };
        match spotted {
            Spotted::Secret(secret) => {
                field.set(&format!("lookup {}…", secret.start()));
                self.command_secret = Some(secret);
            }
            Spotted::Garbled => self.shell.error(
                "that looks like a keydesk secret, but its checksum is wrong; nothing was pasted",
            ),
            Spotted::Nothing => field.insert(&rest),
        }
    }

    /// `:lookup [SECRET]`: the secret pasted into the line, or typed after it.
    pub(super) fn lookup_command(&mut self, typed: &str) {
        if let Some(secret) = self.command_secret.take() {
            return self.look_up(secret);
        }
        match Secret::parse(typed.trim()) {
            Ok(secret) => self.look_up(secret),
            Err(MalformedSecret::Checksum) => self
                .shell
                .error("that secret's checksum is wrong (a typo, or a cut copy?)"),
            Err(MalformedSecret::Shape) => self.shell.error(
                ":lookup SECRET finds a key by its secret; paste the secret after :lookup \
                 (or into / )",
            ),
        }
    }

    /// The lookup's answer: the key's tenant, the key selected and its
    /// detail open; or why nothing was found.
    pub(super) fn on_looked_up(&mut self, result: ClientResult<api::LookupResult>) {
        let start = self.looking_up.take().unwrap_or_default();
        let found = match result {
            Ok(found) => found,
            Err(err) if err.code() == Some("NOT_FOUND") => {
                self.shell.error(format!(
                    "no key has the secret {start}… in the tenants you can see; nothing changed"
                ));
                return;
            }
            Err(err) => {
                self.shell
                    .failed(&format!("looking up the secret {start}…"), &err);
                return;
            }
        };
        let tenant = found.tenant.id.clone();
        if self.shell.session.tenant.as_deref() != Some(tenant.as_str()) {
            if let Some(me) = self.shell.session.me.as_mut() {
                if !me.tenants.iter().any(|t| t.id == tenant) {
                    me.tenants.push(found.tenant.clone());
                }
            }
            // Another tenant: land once its settings are here, so that `r`
            // works (and is judged) the moment the key shows; until then
            // key actions stay refused.
            self.load_tenant(tenant.clone());
            self.shell.info(format!(
                "the secret {start}… is a key of {}: opening it…",
                clean(&found.tenant.name)
            ));
            self.looking_up = Some(start);
            self.landing = Some(Box::new(found));
            return;
        }
        self.land(found);
    }

    /// The key of a looked-up secret, its tenant on screen and loaded:
    /// selected, its detail open, the status saying what `r` will do.
    pub(super) fn land(&mut self, found: api::LookupResult) {
        self.looking_up = None;
        self.view = ViewId::Keys;
        let key = found.key;
        let (name, owner, status) = (clean(&key.name), clean(&key.owner.name), key.status);
        self.keys.land_on(key, &mut self.shell);
        // Nothing is left to type: the line gives way to what was found, and
        // the keys act on it at once (Enter keeps the detail open).
        if self.keys.filter.is_empty() && matches!(self.input, Input::Filter(_)) {
            self.input = Input::None;
        }
        let which = match found.matched {
            api::MatchedSecret::Current => String::new(),
            api::MatchedSecret::Previous => {
                " — its previous secret, still valid in a rotation's grace".to_owned()
            }
        };
        let refusal = self
            .keys
            .selected_refusal(KeyAction::Revoke, &self.shell.session);
        let next = match (status, refusal) {
            (KeyStatus::Revoked, _) => "already revoked".to_owned(),
            (_, Some(reason)) => format!("r is refused: {reason}"),
            (_, None) => "r revokes it".to_owned(),
        };
        self.shell.success(format!(
            "found {name} ({owner}, {}) in {}{which}: {next}",
            status.as_str(),
            clean(&found.tenant.name)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenant::KeyPrefix;

    fn secret() -> Secret {
        Secret::generate(&KeyPrefix::parse("sklive").unwrap())
    }

    #[test]
    fn a_secret_among_words_is_taken_out_and_the_words_stay() {
        let s = secret();
        let (rest, spotted) = take_secret(&format!("status:active {}  owner:bo", s.expose()));
        assert_eq!(rest.as_str(), "status:active owner:bo");
        assert!(matches!(spotted, Spotted::Secret(found) if found.expose() == s.expose()));
    }

    #[test]
    fn text_without_a_secret_stays_as_typed() {
        let (rest, spotted) = take_secret("ledger ");
        assert_eq!(rest.as_str(), "ledger ");
        assert!(matches!(spotted, Spotted::Nothing));
        let (rest, _) = take_secret("sk_live_short");
        assert_eq!(rest.as_str(), "sk_live_short");
    }

    #[test]
    fn a_damaged_secret_is_taken_out_and_flagged() {
        let s = secret();
        let mut damaged = s.expose().to_owned();
        let last = damaged.pop().unwrap();
        damaged.push(if last == 'a' { 'b' } else { 'a' });
        let (rest, spotted) = take_secret(&format!("x {damaged}"));
        assert_eq!(rest.as_str(), "x");
        assert!(matches!(spotted, Spotted::Garbled));
    }
}
