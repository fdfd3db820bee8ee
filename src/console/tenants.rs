//! Tenants in the console: the picker (`T`, `:tenant`), and creating a
//! tenant from it (system administrators). Switching is `App`'s, as it
//! resets every view.

use super::dialog::Dialog;
use super::dialog::form::{Field, Form, Purpose};
use super::dialog::picker::{CREATE_TENANT, Item, Picker, PickerPurpose};
use super::net::Msg;
use super::shell::Shell;
use crate::api;

/// The tenant picker: every tenant the user sees; a system admin (not
/// read-only) may create one from it.
pub fn open_picker(shell: &mut Shell) {
    let Some(me) = &shell.session.me else {
        shell.error("still signing in");
        return;
    };
    let mut items: Vec<Item> = me
        .tenants
        .iter()
        .map(|t| Item {
            value: t.id.clone(),
            label: t.id.clone(),
            detail: format!(
                "{}{}",
                t.name,
                if t.settings.api_keys_enabled {
                    ""
                } else {
                    " · keys off"
                }
            ),
        })
        .collect();
    if shell.session.has_role(crate::domain::Role::SystemAdmin) && !shell.session.readonly {
        items.push(Item {
            value: CREATE_TENANT.to_owned(),
            label: "+ create a tenant…".to_owned(),
            detail: String::new(),
        });
    }
    let current = shell.session.tenant.clone();
    shell.dialogs.open(Dialog::Picker(Picker::new(
        "Tenant",
        PickerPurpose::Tenant,
        items,
        current.as_deref(),
    )));
}

/// The form that creates a tenant.
pub fn open_form(shell: &mut Shell) {
    let fields = vec![
        Field::text("id", "id", "", 63).hint("2-63 of a-z, 0-9 and '-', e.g. acme-payments"),
        Field::text("name", "name", "", 100).hint("the display name"),
        Field::toggle("api_keys_enabled", "API keys on", false)
            .hint("off (the default): a tenant admin switches them on in Settings"),
    ];
    shell.dialogs.open(Dialog::Form(Box::new(Form::new(
        "Create a tenant",
        Purpose::CreateTenant,
        fields,
    ))));
}

/// Validates the tenant form and sends it; the reply is `Msg::TenantCreated`.
pub fn submit(form: &mut Form, shell: &Shell) {
    let id = form.text("id");
    if let Err(err) = crate::domain::TenantId::parse(&id) {
        form.refuse("id", format!("id {}", err.problem));
        return;
    }
    let name = form.text("name");
    if name.is_empty() {
        form.refuse("name", "the name must not be empty");
        return;
    }
    let body = api::CreateTenant {
        id,
        name,
        settings: Some(api::UpdateSettings {
            api_keys_enabled: Some(form.toggle("api_keys_enabled")),
            ..api::UpdateSettings::default()
        }),
    };
    form.submitting = true;
    form.error = None;
    shell
        .net
        .spawn(move |client| async move { Msg::TenantCreated(client.create_tenant(&body).await) });
}
