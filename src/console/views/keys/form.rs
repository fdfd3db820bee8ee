//! The key forms: add, edit (name, description, scopes, expiry and owner
//! where the rules allow) and duplicate (the copy's presets, renamed before
//! it is created). Built on the generic form; limits come from the domain
//! and the tenant's settings.

use chrono::{Duration, Utc};

use crate::api;
use crate::console::dialog::Dialog;
use crate::console::dialog::form::{Field, Form, Purpose};
use crate::console::net::Reply;
use crate::console::shell::Shell;
use crate::domain::Role;
use crate::domain::text::{NAME_MAX, strip_control as clean};

/// The longest expiry a form offers when the tenant sets none (ten years).
const EXPIRY_DAYS_MAX: u32 = 3650;
const DESCRIPTION_MAX: usize = 200;

/// Who may own a key the caller creates: themself, and for an admin every
/// member of the tenant (index 0 is the caller).
fn owner_options(shell: &Shell) -> Vec<(String, String)> {
    let Some(me) = shell.session.me.as_ref().map(|m| &m.user) else {
        return Vec::new();
    };
    let mut owners = vec![(me.id.clone(), format!("{} (you)", clean(&me.name)))];
    if shell.session.is_admin() {
        owners.extend(
            shell
                .session
                .users
                .iter()
                .filter(|u| u.id != me.id && u.roles.contains(&Role::Developer))
                .map(|u| (u.id.clone(), clean(&u.name))),
        );
    }
    owners
}

fn scope_field(settings: &api::Settings, chosen: &[String], editable: bool) -> Field {
    let mut items: Vec<(String, bool)> = settings
        .scopes
        .iter()
        .map(|s| (s.clone(), chosen.contains(s)))
        .collect();
    // A scope the tenant no longer offers still shows on a key that has it.
    for scope in chosen {
        if !settings.scopes.contains(scope) {
            items.push((scope.clone(), true));
        }
    }
    let field = Field::checklist("scopes", "scopes", items)
        .hint("↑/↓ move · Space grants or withdraws a scope");
    if editable {
        field
    } else {
        field.locked("this tenant fixes scopes at creation; duplicate the key for other scopes")
    }
}

fn expiry_field(settings: &api::Settings, days: Option<u32>) -> Field {
    let max = settings.max_expiry_days.unwrap_or(EXPIRY_DAYS_MAX);
    let optional = settings.max_expiry_days.is_none();
    let hint = match settings.max_expiry_days {
        Some(max) => format!("days from now, 1 to {max} (this tenant's maximum for new keys)"),
        None => "days from now; empty: never expires".to_owned(),
    };
    Field::number("expiry", "expires in", days, (1, max), optional).hint(hint)
}

pub fn open_add(shell: &mut Shell) {
    let Some(settings) = shell.session.settings.clone() else {
        return;
    };
    let owners = owner_options(shell);
    let mut fields = vec![
        Field::text("name", "name", "", NAME_MAX)
            .hint("a label people recognise, e.g. billing-sync"),
        Field::text("description", "description", "", DESCRIPTION_MAX),
        scope_field(&settings, &[], true),
    ];
    if owners.len() > 1 {
        fields.push(
            Field::choice("owner", "owner", owners.clone(), &owners[0].0)
                .hint("←/→ choose who owns the key"),
        );
    }
    fields.push(expiry_field(&settings, settings.max_expiry_days));
    shell.dialogs.open(Dialog::Form(Box::new(Form::new(
        "Add a key",
        Purpose::AddKey,
        fields,
    ))));
}

/// Days from now until `at`, rounded up (a key expiring in 2 h shows 1).
fn days_left(at: chrono::DateTime<Utc>) -> u32 {
    let hours = (at - Utc::now()).num_hours().max(0);
    u32::try_from((hours + 23) / 24).unwrap_or(u32::MAX).max(1)
}

pub fn open_edit(key: &api::Key, shell: &mut Shell) {
    let Some(settings) = shell.session.settings.clone() else {
        return;
    };
    let mut fields = vec![
        Field::text("name", "name", &key.name, NAME_MAX),
        Field::text(
            "description",
            "description",
            &key.description,
            DESCRIPTION_MAX,
        ),
        scope_field(&settings, &key.scopes, settings.scopes_editable),
    ];
    let owners = owner_options(shell);
    if shell.session.is_admin() {
        let mut owners = owners;
        if !owners.iter().any(|(id, _)| *id == key.owner.id.as_str()) {
            owners.push((key.owner.id.as_str().to_owned(), clean(&key.owner.name)));
        }
        fields.push(
            Field::choice("owner", "owner", owners, key.owner.id.as_str())
                .hint("←/→ hand the key to another developer of the tenant"),
        );
    }
    let mut expiry = expiry_field(&settings, key.expires_at.map(days_left));
    if key.expires_at.is_none() {
        if let Kind::Number { optional, .. } = &mut expiry.kind {
            // A key that never expired may stay so: the limit is for new keys.
            *optional = true;
        }
        expiry.hint = "days from now; empty: never expires".to_owned();
    }
    fields.push(expiry);
    let form = Form::new(
        format!("Edit {}", clean(&key.name)),
        Purpose::EditKey {
            id: key.id.clone(),
            version: key.version,
        },
        fields,
    );
    shell.dialogs.open(Dialog::Form(Box::new(form)));
}

use crate::console::dialog::form::Kind;

pub fn open_duplicate(key: &api::Key, shell: &mut Shell) {
    let fields = vec![
        Field::text("name", "name", &format!("{} (copy)", key.name), NAME_MAX)
            .hint("the copy's name; scopes and expiry length come from the original"),
        Field::text(
            "description",
            "description",
            &key.description,
            DESCRIPTION_MAX,
        ),
    ];
    let form = Form::new(
        format!("Duplicate {}", clean(&key.name)),
        Purpose::DuplicateKey { id: key.id.clone() },
        fields,
    );
    shell.dialogs.open(Dialog::Form(Box::new(form)));
}

/// "custom…" in the rotate picker: a grace typed in.
pub fn open_rotate(id: &str, name: &str, shell: &mut Shell) {
    let form = Form::new(
        format!("Rotate {}", clean(name)),
        Purpose::RotateKey {
            id: id.to_owned(),
            name: name.to_owned(),
        },
        vec![
            Field::text("grace", "old secret works for", "", 20)
                .hint("90m, 6h, 3d or 1h30m; at most 7d; 0: it stops at once"),
        ],
    );
    shell.dialogs.open(Dialog::Form(Box::new(form)));
}

/// Sends the custom rotation; a duration that cannot be read stays in the form.
pub fn submit_rotate(form: &mut Form, id: String, name: String, shell: &mut Shell) {
    match crate::domain::key::parse_grace(&form.text("grace")) {
        Ok(grace) => {
            form.error = None;
            form.submitting = true;
            super::actions::send_rotation(id, name, grace, shell);
        }
        Err(reason) => form.refuse("grace", reason),
    }
}

/// Validates the open key form and sends it; a refusal stays in the form.
pub fn submit(form: &mut Form, original: Option<&api::Key>, shell: &Shell) {
    let name = form.text("name");
    if name.is_empty() {
        form.refuse("name", "the name must not be empty");
        return;
    }
    let description = form.text("description");
    let expiry = match form.number("expiry") {
        Ok(days) => days,
        Err(reason) => {
            form.refuse("expiry", reason);
            return;
        }
    };
    let expires_at = expiry.map(|d| Utc::now() + Duration::days(i64::from(d)));
    let scopes = form.checked("scopes");
    let owner = form.choice("owner");
    form.error = None;
    form.submitting = true;
    match form.purpose.clone() {
        Purpose::AddKey => {
            let body = api::CreateKey {
                name: name.clone(),
                description,
                scopes,
                owner: (!owner.is_empty()).then_some(owner),
                expires_at,
            };
            shell.request(move |client, tenant| async move {
                Reply::SecretIssued {
                    verb: "created",
                    result: client.create_key(&tenant, &body).await,
                    name,
                }
            });
        }
        Purpose::DuplicateKey { id } => {
            let body = api::DuplicateKey {
                name: Some(name.clone()),
                description: Some(description),
            };
            shell.request(move |client, tenant| async move {
                Reply::SecretIssued {
                    verb: "duplicated",
                    result: client.duplicate_key(&tenant, &id, &body).await,
                    name,
                }
            });
        }
        Purpose::EditKey { id, version } => {
            let Some(key) = original else {
                form.failed("the key is no longer in the list");
                return;
            };
            let unchanged_expiry = key.expires_at.map(days_left) == expiry;
            let body = api::UpdateKey {
                name: (name != key.name).then(|| name.clone()),
                description: (description != key.description).then_some(description),
                scopes: (scopes != key.scopes
                    && key.scopes.iter().chain(&scopes).count() > 0
                    && shell
                        .session
                        .settings
                        .as_ref()
                        .is_some_and(|s| s.scopes_editable))
                .then_some(scopes),
                owner: (!owner.is_empty() && owner != key.owner.id.as_str()).then_some(owner),
                expires_at: (!unchanged_expiry).then_some(expires_at),
                rate_limit: None,
            };
            shell.request(move |client, tenant| async move {
                Reply::KeyUpdated {
                    verb: "saved",
                    result: client.update_key(&tenant, &id, &body, Some(version)).await,
                    name,
                    fleet: None,
                }
            });
        }
        _ => {}
    }
}
