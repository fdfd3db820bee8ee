//! The Settings view: every tenant setting of SPEC §2 with its value and
//! its meaning, and "applies to new keys only" where that is true. A
//! tenant admin or system admin edits them in a form; the save carries the
//! settings' version (If-Match), so an edit made against settings another
//! admin has changed meanwhile is refused (412) and the form shows their
//! values beside yours, losing nothing. Switching API keys off asks first,
//! saying how many keys stop verifying.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row};

use crate::api;
use crate::console::dialog::confirm::Confirm;
use crate::console::dialog::form::{Field, Form, Purpose};
use crate::console::dialog::{Confirmed, Dialog};
use crate::console::keymap::Action;
use crate::console::layout::{Theme, fit};
use crate::console::net::Reply;
use crate::console::session::Session;
use crate::console::shell::Shell;
use crate::console::views::{ViewId, draw_list, tabs_title};
use crate::console::widgets::list_cursor::{ListCursor, Move};
use crate::domain::policy;
use crate::domain::rate_limit::{MAX_RATE_LIMIT_REQUESTS, MAX_RATE_LIMIT_WINDOW_SECONDS};
use crate::domain::tenant::{MAX_EXPIRY_DAYS_LIMIT, MAX_KEYS_PER_USER_LIMIT};
use crate::domain::text::strip_control as clean;
use crate::domain::{KeyCreators, RateLimit, SecretRetrieval};

/// A settings change waiting for confirmation.
#[derive(Debug, Clone)]
pub struct Pending {
    pub patch: api::UpdateSettings,
    pub version: i64,
}

/// One row of the view: a setting, its value, what it means.
pub struct SettingRow {
    pub id: &'static str,
    pub label: &'static str,
    pub value: String,
    pub meaning: &'static str,
    pub new_keys_only: bool,
}

fn limit(v: Option<u32>, unit: &str) -> String {
    v.map_or_else(|| "none".to_owned(), |v| format!("{v} {unit}"))
}

/// The rows for `s`, in SPEC order.
#[must_use]
pub fn rows(s: &api::Settings) -> Vec<SettingRow> {
    let row = |id, label, value: String, meaning, new_keys_only| SettingRow {
        id,
        label,
        value,
        meaning,
        new_keys_only,
    };
    vec![
        row(
            "api_keys_enabled",
            "API keys",
            if s.api_keys_enabled {
                "on".into()
            } else {
                "off".into()
            },
            "off: no key of the tenant verifies (TENANT_DISABLED) and none can be created",
            false,
        ),
        row(
            "max_expiry_days",
            "max expiry",
            limit(s.max_expiry_days, "days"),
            "new keys must expire within this many days; a key without expiry is refused",
            true,
        ),
        row(
            "max_keys_per_user",
            "max per user",
            limit(s.max_keys_per_user, "live keys"),
            "creating a key that gives its owner more live keys than this is refused",
            true,
        ),
        row(
            "key_creators",
            "key creators",
            match s.key_creators {
                KeyCreators::Developers => "licensed developers".into(),
                KeyCreators::SystemAdmins => "system administrators only".into(),
            },
            "who may create keys",
            false,
        ),
        row(
            "scopes_editable",
            "scopes edit",
            if s.scopes_editable {
                "editable".into()
            } else {
                "fixed at creation".into()
            },
            "whether a key's scopes can be changed after it is created",
            false,
        ),
        row(
            "revoke_requires_disabled",
            "revoke",
            if s.revoke_requires_disabled {
                "only disabled keys".into()
            } else {
                "any live key".into()
            },
            "only a disabled key can be revoked (disable first)",
            false,
        ),
        row(
            "secret_retrieval",
            "secrets",
            match s.secret_retrieval {
                SecretRetrieval::Never => "shown once".into(),
                SecretRetrieval::Admins => "admins can copy again".into(),
            },
            "admins: also stored encrypted so tenant admins can copy them later (audited)",
            true,
        ),
        row(
            "key_prefix",
            "key prefix",
            clean(&s.key_prefix),
            "the readable prefix of new secrets",
            true,
        ),
        row(
            "scopes",
            "scopes",
            clean(&s.scopes.join(" ")),
            "the scopes keys of this tenant may be granted",
            false,
        ),
        row(
            "rate_limit",
            "rate limit",
            s.rate_limit
                .map_or_else(|| "none".to_owned(), |limit| limit.to_string()),
            "verifications a key without its own limit may have per window; more answer RATE_LIMITED (counted per server)",
            false,
        ),
    ]
}

#[derive(Default)]
pub struct SettingsView {
    pub cursor: ListCursor,
    pub filter: String,
    /// The patch last sent, kept until its answer: a conflict shows it again.
    sent: Option<api::UpdateSettings>,
    /// The settings the open form started from: a field still equal to them
    /// is one the user did not touch.
    base: Option<api::Settings>,
}

impl SettingsView {
    fn visible(&self, session: &Session) -> Vec<SettingRow> {
        let Some(settings) = &session.settings else {
            return Vec::new();
        };
        let needle = self.filter.to_lowercase();
        rows(settings)
            .into_iter()
            .filter(|r| {
                needle.is_empty()
                    || r.label.to_lowercase().contains(&needle)
                    || r.id.contains(&needle)
                    || r.meaning.to_lowercase().contains(&needle)
                    || r.value.to_lowercase().contains(&needle)
            })
            .collect()
    }

    pub fn set_filter(&mut self, filter: &str, session: &Session) {
        self.filter = filter.to_owned();
        self.cursor.row = 0;
        self.cursor.clamp(self.visible(session).len());
    }

    pub fn set_height(&mut self, rows: usize, session: &Session) {
        self.cursor.set_height(rows, self.visible(session).len());
    }

    #[must_use]
    pub fn disabled_reason(&self, action: Action, session: &Session) -> Option<String> {
        if !matches!(action, Action::Edit | Action::Open) {
            return None;
        }
        if let Some(reason) = session.not_ready() {
            return Some(reason);
        }
        let actor = session.actor()?;
        policy::may_update_settings(&actor).err().map(|r| r.message)
    }

    pub fn on_action(&mut self, action: Action, shell: &mut Shell) {
        let count = self.visible(&shell.session).len();
        let movement = match Move::from_action(action) {
            Some(movement) => movement,
            None if matches!(action, Action::Edit | Action::Open) => {
                if let Some(reason) = self.disabled_reason(action, &shell.session) {
                    shell.error(reason);
                    return;
                }
                let focus = self
                    .visible(&shell.session)
                    .get(self.cursor.row)
                    .map(|r| r.id);
                self.open_form(focus, shell);
                return;
            }
            None => return,
        };
        self.cursor.apply(movement, count);
    }

    fn open_form(&mut self, focus: Option<&str>, shell: &mut Shell) {
        let Some(s) = shell.session.settings.clone() else {
            return;
        };
        self.base = Some(s.clone());
        let mut form = Form::new(
            format!("Settings of {}", shell.session.tenant_name().unwrap_or("")),
            Purpose::Settings { version: s.version },
            form_fields(&s),
        );
        if let Some(id) = focus {
            form.focus_on(id);
        }
        shell.dialogs.open(Dialog::Form(Box::new(form)));
    }

    /// Validates the settings form; asks first when keys are switched off,
    /// else sends the change.
    pub fn submit(&mut self, form: &mut Form, live_keys: usize, shell: &mut Shell) {
        let (Purpose::Settings { version }, Some(current)) =
            (&form.purpose, &shell.session.settings)
        else {
            return;
        };
        let version = *version;
        let patch = match patch_from(form, current) {
            Ok(patch) => patch,
            Err((field, reason)) => {
                form.refuse(field, reason);
                return;
            }
        };
        if patch_is_empty(&patch) {
            form.failed("nothing changed");
            return;
        }
        if patch.api_keys_enabled == Some(false) {
            let tenant = shell.session.tenant_name().unwrap_or("").to_owned();
            // The form waits behind the question: cancelled, it is back as typed.
            shell.dialogs.open(Dialog::Confirm(Confirm::new(
                format!("Switch API keys off for {}?", clean(&tenant)),
                vec![
                    format!("{live_keys} keys stop verifying at once (TENANT_DISABLED)."),
                    "No key can be created until they are switched on again.".to_owned(),
                ],
                "Switch off",
                Confirmed::Settings(Pending { patch, version }),
            )));
            return;
        }
        form.submitting = true;
        form.error = None;
        self.send(Pending { patch, version }, shell);
    }

    /// Sends a settings change (after any confirmation).
    pub fn send(&mut self, pending: Pending, shell: &mut Shell) {
        self.sent = Some(pending.patch.clone());
        shell.info("saving the settings…");
        shell.request(move |client, tenant| async move {
            Reply::SettingsSaved(
                client
                    .update_settings(&tenant, &pending.patch, Some(pending.version))
                    .await,
            )
        });
    }

    pub fn on_reply(&mut self, reply: Reply, shell: &mut Shell) {
        match reply {
            Reply::SettingsSaved(Ok(settings)) => {
                self.sent = None;
                if shell.dialogs.form_mut().is_some_and(|f| f.submitting) {
                    shell.dialogs.close();
                }
                shell.session.settings = Some(settings);
                shell.reconnected();
                shell.success("settings saved");
            }
            Reply::SettingsSaved(Err(err)) if err.code() == Some("PRECONDITION_FAILED") => {
                shell.error(
                    "another administrator changed the settings meanwhile; nothing was saved",
                );
                shell.request(|client, tenant| async move {
                    Reply::SettingsCurrent(client.settings(&tenant).await)
                });
            }
            Reply::SettingsSaved(Err(err)) => {
                let what = "saving the settings failed".to_owned();
                match shell.dialogs.form_mut() {
                    Some(form) if form.submitting => form.failed(format!("{what}: {err}")),
                    _ => self.reopen_unsent(shell, vec![format!("{what}: {err}")]),
                }
                shell.failed(&what, &err);
            }
            Reply::SettingsCurrent(Ok(theirs)) => {
                let ours = self.sent.take().unwrap_or_default();
                let notes = conflict_notes(&theirs, &ours);
                shell.session.settings = Some(theirs.clone());
                match shell.dialogs.form_mut() {
                    Some(form) if matches!(form.purpose, Purpose::Settings { .. }) => {
                        // Rebase: fields the user did not touch take their
                        // values; the user's edits stay, to be saved on top.
                        if let Some(base) = &self.base {
                            let (was, now) = (form_fields(base), form_fields(&theirs));
                            for ((field, was), now) in form.fields.iter_mut().zip(was).zip(now) {
                                if field.kind.same_value(&was.kind) {
                                    field.kind = now.kind;
                                }
                            }
                        }
                        self.base = Some(theirs.clone());
                        form.purpose = Purpose::Settings {
                            version: theirs.version,
                        };
                        form.notes = notes;
                        form.failed("another administrator changed the settings meanwhile: theirs are below, and in the fields you did not change; save again to apply yours");
                    }
                    _ => {
                        let mut lines = vec!["Another administrator changed the settings meanwhile; nothing of yours was saved.".to_owned(), String::new()];
                        lines.extend(notes);
                        shell.report("Settings not saved", lines);
                    }
                }
            }
            Reply::SettingsCurrent(Err(err)) => shell.failed("loading the settings", &err),
            _ => {}
        }
    }

    /// A confirmed switch-off failed after its form closed: say so in a report.
    fn reopen_unsent(&self, shell: &mut Shell, lines: Vec<String>) {
        shell.report("Settings not saved", lines);
    }

    pub fn render(&self, shell: &Shell, theme: &Theme, frame: &mut Frame, area: Rect) {
        let block = Block::bordered().title(tabs_title(ViewId::Settings));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if shell.session.settings.is_none() {
            frame.render_widget(Paragraph::new(" loading…"), inner);
            return;
        }
        let rows = self.visible(&shell.session);
        // The table, then the selected setting's meaning in full below it.
        let table_height = u16::try_from(rows.len() + 1)
            .unwrap_or(u16::MAX)
            .min(inner.height);
        let detail = Rect::new(
            inner.x + 1,
            inner.y + table_height + 1,
            inner.width.saturating_sub(2),
            inner.height.saturating_sub(table_height + 1),
        );
        if let Some(row) = rows.get(self.cursor.row) {
            let mut text = vec![Line::from(vec![
                Span::styled(format!("{}: ", row.label), theme.bold()),
                Span::raw(row.meaning),
            ])];
            if row.new_keys_only {
                text.push(Line::from(Span::styled(
                    "applies to new keys only: existing keys keep what they have",
                    theme.dim(),
                )));
            }
            text.push(Line::from(Span::styled(
                "e or Enter edits (tenant admins)",
                theme.dim(),
            )));
            frame.render_widget(
                Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
                detail,
            );
        }
        let meaning_width = usize::from(inner.width.saturating_sub(14 + 24 + 3));
        let table_rows: Vec<Row> = self
            .cursor
            .window(rows.len())
            .map(|i| {
                let r = &rows[i];
                let meaning = if r.new_keys_only {
                    format!("{} (applies to new keys only)", r.meaning)
                } else {
                    r.meaning.to_owned()
                };
                Row::new(vec![
                    Cell::from(r.label),
                    Cell::from(fit(&r.value, 24)),
                    Cell::from(Span::styled(fit(&meaning, meaning_width), theme.dim())),
                ])
            })
            .collect();
        let widths = vec![
            Constraint::Length(13),
            Constraint::Length(24),
            Constraint::Min(10),
        ];
        let header = Row::new(["SETTING", "VALUE", "MEANING"]);
        let count = (&self.cursor, rows.len());
        draw_list(
            frame,
            inner,
            (header, widths),
            table_rows,
            count,
            "no setting matches the filter",
            theme,
        );
    }
}

fn form_fields(s: &api::Settings) -> Vec<Field> {
    let creators = vec![
        ("developers".to_owned(), "licensed developers".to_owned()),
        (
            "system_admins".to_owned(),
            "system administrators only".to_owned(),
        ),
    ];
    let retrieval = vec![
        (
            "never".to_owned(),
            "shown once (only a hash is kept)".to_owned(),
        ),
        (
            "admins".to_owned(),
            "admins can copy again (stored encrypted)".to_owned(),
        ),
    ];
    vec![
        Field::toggle("api_keys_enabled", "API keys on", s.api_keys_enabled)
            .hint("off: no key verifies and none can be created"),
        Field::number(
            "max_expiry_days",
            "max expiry",
            s.max_expiry_days,
            (1, MAX_EXPIRY_DAYS_LIMIT),
            true,
        )
        .hint(format!(
            "days, 1 to {MAX_EXPIRY_DAYS_LIMIT}; empty: no limit (new keys only)"
        )),
        Field::number(
            "max_keys_per_user",
            "max per user",
            s.max_keys_per_user,
            (1, MAX_KEYS_PER_USER_LIMIT),
            true,
        )
        .hint(format!(
            "live keys per owner, 1 to {MAX_KEYS_PER_USER_LIMIT}; empty: no limit (new keys only)"
        )),
        Field::choice(
            "key_creators",
            "key creators",
            creators,
            match s.key_creators {
                KeyCreators::Developers => "developers",
                KeyCreators::SystemAdmins => "system_admins",
            },
        )
        .hint("←/→ who may create keys"),
        Field::toggle("scopes_editable", "scopes edit", s.scopes_editable)
            .hint("off: a key's scopes are fixed when it is created"),
        Field::toggle(
            "revoke_requires_disabled",
            "revoke only disabled",
            s.revoke_requires_disabled,
        )
        .hint("on: a key must be disabled before it can be revoked"),
        Field::choice(
            "secret_retrieval",
            "secrets",
            retrieval,
            match s.secret_retrieval {
                SecretRetrieval::Never => "never",
                SecretRetrieval::Admins => "admins",
            },
        )
        .hint("switching to 'shown once' erases every stored secret (new keys only otherwise)"),
        Field::text("key_prefix", "key prefix", &s.key_prefix, 16)
            .hint("1-16 of a-z and 0-9, starting with a letter (new keys only)"),
        Field::text("scopes", "scopes", &s.scopes.join(" "), 4000)
            .hint("the scopes keys may be granted, separated by spaces"),
        Field::number(
            "rate_limit",
            "rate limit",
            s.rate_limit.map(|limit| limit.requests),
            (1, MAX_RATE_LIMIT_REQUESTS),
            true,
        )
        .hint("verifications per window of a key without its own limit; empty: no limit"),
        Field::number(
            "rate_limit_window",
            "per seconds",
            s.rate_limit.map(|limit| limit.window_seconds),
            (1, MAX_RATE_LIMIT_WINDOW_SECONDS),
            true,
        )
        .hint(format!(
            "the rate limit's window, 1 to {MAX_RATE_LIMIT_WINDOW_SECONDS} seconds"
        )),
    ]
}

/// The changes the form makes to `current`, or the field and reason it is refused.
fn patch_from(
    form: &Form,
    current: &api::Settings,
) -> Result<api::UpdateSettings, (&'static str, String)> {
    let max_expiry = form
        .number("max_expiry_days")
        .map_err(|r| ("max_expiry_days", r))?;
    let max_keys = form
        .number("max_keys_per_user")
        .map_err(|r| ("max_keys_per_user", r))?;
    let prefix = form.text("key_prefix");
    crate::domain::KeyPrefix::parse(&prefix)
        .map_err(|e| ("key_prefix", format!("key prefix {}", e.problem)))?;
    let scopes: Vec<String> = form
        .text("scopes")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    crate::domain::tenant::parse_scopes(&scopes)
        .map_err(|e| ("scopes", format!("scopes: {}", e.problem)))?;
    let creators = match form.choice("key_creators").as_str() {
        "system_admins" => KeyCreators::SystemAdmins,
        _ => KeyCreators::Developers,
    };
    let retrieval = match form.choice("secret_retrieval").as_str() {
        "admins" => SecretRetrieval::Admins,
        _ => SecretRetrieval::Never,
    };
    let requests = form.number("rate_limit").map_err(|r| ("rate_limit", r))?;
    let window = form
        .number("rate_limit_window")
        .map_err(|r| ("rate_limit_window", r))?;
    let rate_limit = match (requests, window) {
        (None, _) => None,
        (Some(requests), Some(window_seconds)) => Some(RateLimit {
            requests,
            window_seconds,
        }),
        (Some(_), None) => {
            return Err((
                "rate_limit_window",
                "a rate limit needs its window: per how many seconds".to_owned(),
            ));
        }
    };
    let changed = |new: bool, old: bool| (new != old).then_some(new);
    Ok(api::UpdateSettings {
        api_keys_enabled: changed(form.toggle("api_keys_enabled"), current.api_keys_enabled),
        max_expiry_days: (max_expiry != current.max_expiry_days).then_some(max_expiry),
        max_keys_per_user: (max_keys != current.max_keys_per_user).then_some(max_keys),
        key_creators: (creators != current.key_creators).then_some(creators),
        scopes_editable: changed(form.toggle("scopes_editable"), current.scopes_editable),
        revoke_requires_disabled: changed(
            form.toggle("revoke_requires_disabled"),
            current.revoke_requires_disabled,
        ),
        secret_retrieval: (retrieval != current.secret_retrieval).then_some(retrieval),
        key_prefix: (prefix != current.key_prefix).then_some(prefix),
        scopes: (scopes != current.scopes).then_some(scopes),
        rate_limit: (rate_limit != current.rate_limit).then_some(rate_limit),
    })
}

fn patch_is_empty(p: &api::UpdateSettings) -> bool {
    serde_json::to_value(p).is_ok_and(|v| v.as_object().is_some_and(serde_json::Map::is_empty))
}

/// "max expiry: theirs 30 days, yours 90 days" for each field both touched
/// differently, and what else they changed.
fn conflict_notes(theirs: &api::Settings, ours: &api::UpdateSettings) -> Vec<String> {
    let theirs_rows = rows(theirs);
    let ours_json = serde_json::to_value(ours).unwrap_or_default();
    let mut notes = vec!["their values now:".to_owned()];
    for row in &theirs_rows {
        let mark = if ours_json.get(row.id).is_some() {
            "you changed it · "
        } else {
            ""
        };
        notes.push(format!("  {:<13} {}{}", row.label, mark, row.value));
    }
    notes
}
