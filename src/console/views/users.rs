//! The Users view: the tenant's users with their roles, license and key
//! count. A tenant admin (or a system admin) creates users, whose
//! management token appears once in the show-once dialog, and grants or
//! withdraws roles and the license — also to themself (seed 001); disables
//! and enables users, and deletes them, after a question naming the user.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Cell, Row};

use crate::api;
use crate::console::dialog::confirm::Confirm;
use crate::console::dialog::form::{Field, Form, Purpose};
use crate::console::dialog::secret::SecretModal;
use crate::console::dialog::{Confirmed, Dialog};
use crate::console::keymap::Action;
use crate::console::layout::{Theme, fit};
use crate::console::net::Reply;
use crate::console::session::Session;
use crate::console::shell::Shell;
use crate::console::views::{ViewId, draw_list, tabs_title};
use crate::console::widgets::list_cursor::{ListCursor, Move};
use crate::domain::Role;
use crate::domain::policy;
use crate::domain::text::strip_control as clean;

/// The roles a tenant's user can hold (system_admin is not a tenant role).
const TENANT_ROLES: [Role; 3] = [Role::Viewer, Role::Developer, Role::TenantAdmin];

/// A change to a user that waits for the confirm's answer.
#[derive(Debug, Clone)]
pub enum Pending {
    Disable(api::UserBody),
    Delete(api::UserBody),
}

/// The actions that change the selected user (or, `Add`, the list).
const USER_ACTIONS: [Action; 6] = [
    Action::Add,
    Action::Edit,
    Action::Open,
    Action::License,
    Action::ToggleDisabled,
    Action::Delete,
];

#[derive(Default)]
pub struct UsersView {
    pub cursor: ListCursor,
    pub filter: String,
    /// The selected user's ID: the identity the cursor follows.
    pub selected: Option<String>,
}

fn roles_text(user: &api::UserBody) -> String {
    if user.roles.is_empty() {
        return "no role".to_owned();
    }
    user.roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl UsersView {
    /// The users shown, in order: indexes into `session.users`.
    #[must_use]
    pub fn visible(&self, session: &Session) -> Vec<usize> {
        let needle = self.filter.to_lowercase();
        (0..session.users.len())
            .filter(|&i| {
                let u = &session.users[i];
                needle.is_empty()
                    || u.name.to_lowercase().contains(&needle)
                    || u.email
                        .as_deref()
                        .is_some_and(|email| email.to_lowercase().contains(&needle))
                    || roles_text(u).contains(&needle)
            })
            .collect()
    }

    #[must_use]
    pub fn selected_user<'a>(&self, session: &'a Session) -> Option<&'a api::UserBody> {
        let id = self.selected.as_ref()?;
        session.users.iter().find(|u| &u.id == id)
    }

    /// After the list or the filter changed: back to the selected user.
    pub fn follow(&mut self, session: &Session) {
        let visible = self.visible(session);
        let position = self
            .selected
            .as_ref()
            .and_then(|id| visible.iter().position(|&i| &session.users[i].id == id));
        self.cursor.follow(position, visible.len());
        self.selected = visible
            .get(self.cursor.row)
            .map(|&i| session.users[i].id.clone());
    }

    pub fn set_filter(&mut self, filter: &str, session: &Session) {
        self.filter = filter.to_owned();
        self.follow(session);
    }

    pub fn set_height(&mut self, rows: usize, session: &Session) {
        self.cursor.set_height(rows, self.visible(session).len());
    }

    #[must_use]
    pub fn disabled_reason(&self, action: Action, session: &Session) -> Option<String> {
        if !USER_ACTIONS.contains(&action) {
            return None;
        }
        if let Some(reason) = session.not_ready() {
            return Some(reason);
        }
        let selected = self.selected_user(session);
        if action != Action::Add && selected.is_none() {
            return Some("no user selected".to_owned());
        }
        let actor = session.actor()?;
        let refusal = match (action, selected) {
            (Action::ToggleDisabled | Action::Delete, Some(user)) => {
                policy::may_disable_or_delete_user(&actor, &user.to_domain()).err()
            }
            _ => policy::may_manage_users(&actor, &[]).err(),
        };
        refusal.map(|r| r.message)
    }

    pub fn on_action(&mut self, action: Action, shell: &mut Shell) {
        let count = self.visible(&shell.session).len();
        let movement = match Move::from_action(action) {
            Some(movement) => movement,
            None if USER_ACTIONS.contains(&action) => {
                if let Some(reason) = self.disabled_reason(action, &shell.session) {
                    shell.error(reason);
                    return;
                }
                let user = self.selected_user(&shell.session).cloned();
                match (action, user) {
                    (Action::Add, _) => open_create(shell),
                    (Action::License, Some(user)) => {
                        let licensed = !user.licensed;
                        shell.info(format!(
                            "{} {}…",
                            if licensed {
                                "licensing"
                            } else {
                                "withdrawing the license of"
                            },
                            clean(&user.name)
                        ));
                        let body = api::UpdateUser {
                            licensed: Some(licensed),
                            ..api::UpdateUser::default()
                        };
                        send_update(user, body, shell);
                    }
                    (Action::ToggleDisabled, Some(user)) if user.disabled => {
                        shell.info(format!("enabling {}…", clean(&user.name)));
                        send_enable(user, shell);
                    }
                    (Action::ToggleDisabled, Some(user)) => ask(Pending::Disable(user), shell),
                    (Action::Delete, Some(user)) => ask(Pending::Delete(user), shell),
                    (_, Some(user)) => open_edit(&user, shell),
                    _ => {}
                }
                return;
            }
            None => return,
        };
        self.cursor.apply(movement, count);
        let visible = self.visible(&shell.session);
        self.selected = visible
            .get(self.cursor.row)
            .map(|&i| shell.session.users[i].id.clone());
    }

    /// Validates the user form and sends it.
    pub fn submit(form: &mut Form, shell: &Shell) {
        let name = form.text("name");
        let email = form.text("email");
        if name.is_empty() {
            form.refuse("name", "the name must not be empty");
            return;
        }
        if !email.contains('@') {
            form.refuse("email", "an e-mail address, like ana@example.com");
            return;
        }
        let roles: Vec<Role> = form
            .checked("roles")
            .iter()
            .filter_map(|r| TENANT_ROLES.into_iter().find(|role| role.as_str() == r))
            .collect();
        let licensed = form.toggle("licensed");
        form.error = None;
        form.submitting = true;
        match form.purpose.clone() {
            Purpose::CreateUser => {
                let body = api::CreateUser {
                    name,
                    email,
                    roles,
                    licensed,
                };
                shell.request(move |client, tenant| async move {
                    Reply::UserCreated(client.create_user(&tenant, &body).await)
                });
            }
            Purpose::EditUser { id } => {
                let Some(user) = shell.session.users.iter().find(|u| u.id == id).cloned() else {
                    form.failed("the user is no longer in the list");
                    return;
                };
                let body = api::UpdateUser {
                    name: (name != user.name).then_some(name),
                    email: (user.email.as_deref() != Some(email.as_str())).then_some(email),
                    roles: (roles != user.roles).then_some(roles),
                    licensed: (licensed != user.licensed).then_some(licensed),
                };
                send_update(user, body, shell);
            }
            _ => {}
        }
    }

    /// The confirm said yes: send the change it asked about.
    pub fn confirmed(&mut self, pending: Pending, shell: &Shell) {
        match pending {
            Pending::Disable(user) => shell.request(move |client, tenant| async move {
                Reply::UserSaved {
                    result: client.disable_user(&tenant, &user.id).await,
                    name: user.name,
                }
            }),
            Pending::Delete(user) => shell.request(move |client, tenant| async move {
                Reply::UserDeleted {
                    result: client.delete_user(&tenant, &user.id).await,
                    id: user.id,
                    name: user.name,
                }
            }),
        }
    }

    pub fn on_reply(&mut self, reply: Reply, shell: &mut Shell) {
        match reply {
            Reply::UserDeleted { id, name, result } => match result {
                Ok(()) => {
                    shell.success(format!("deleted {}; their keys stay theirs", clean(&name)));
                    shell.session.users.retain(|u| u.id != id);
                    self.follow(&shell.session);
                }
                Err(err) => shell.failed(&format!("deleting {} failed", clean(&name)), &err),
            },
            Reply::UserCreated(Ok(created)) => {
                if shell.dialogs.form_mut().is_some_and(|f| f.submitting) {
                    shell.dialogs.close();
                }
                let name = clean(&created.user.name);
                shell.success(format!("created user {name}"));
                self.selected = Some(created.user.id.clone());
                shell.session.users.push(created.user);
                self.follow(&shell.session);
                shell.dialogs.present(Dialog::Secret(SecretModal::new(
                    format!("user {name} created"),
                    format!("{name}'s management token: hand it over privately"),
                    created.token,
                    false,
                    "management token",
                )));
            }
            Reply::UserSaved { name, result } => match result {
                Ok(user) => {
                    if shell.dialogs.form_mut().is_some_and(|f| f.submitting) {
                        shell.dialogs.close();
                    }
                    let is_me = shell
                        .session
                        .me
                        .as_ref()
                        .is_some_and(|me| me.user.id == user.id);
                    shell.success(format!(
                        "saved {}: {}{}{}",
                        clean(&user.name),
                        roles_text(&user),
                        if user.licensed { ", licensed" } else { "" },
                        if user.disabled { ", disabled" } else { "" }
                    ));
                    if is_me {
                        if let Some(me) = shell.session.me.as_mut() {
                            me.user = user.clone();
                        }
                    }
                    if let Some(slot) = shell.session.users.iter_mut().find(|u| u.id == user.id) {
                        *slot = user;
                    }
                    self.follow(&shell.session);
                }
                Err(err) => fail_form(&format!("saving {} failed", clean(&name)), &err, shell),
            },
            Reply::UserCreated(Err(err)) => fail_form("creating the user failed", &err, shell),
            _ => {}
        }
    }

    pub fn render(
        &self,
        shell: &Shell,
        key_counts: &HashMap<&str, usize>,
        theme: &Theme,
        frame: &mut Frame,
        area: Rect,
    ) {
        let block = Block::bordered().title(tabs_title(ViewId::Users));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let visible = self.visible(&shell.session);
        let (name_width, roles_width): (u16, u16) = if inner.width >= 110 {
            (16, 34)
        } else {
            (12, 24)
        };
        let email_width = usize::from(
            inner
                .width
                .saturating_sub(name_width + roles_width + 10 + 6 + 6),
        );
        let rows: Vec<Row> = self
            .cursor
            .window(visible.len())
            .map(|row| {
                let u = &shell.session.users[visible[row]];
                Row::new(vec![
                    Cell::from(fit(&clean(&u.name), usize::from(name_width))),
                    // Only those who manage users are sent addresses.
                    Cell::from(fit(
                        &clean(u.email.as_deref().unwrap_or("—")),
                        email_width.max(8),
                    )),
                    Cell::from(fit(&roles_cell(u), usize::from(roles_width))),
                    Cell::from(if u.licensed { "licensed" } else { "—" }),
                    Cell::from(
                        key_counts
                            .get(u.id.as_str())
                            .copied()
                            .unwrap_or(0)
                            .to_string(),
                    ),
                ])
            })
            .collect();
        let empty = if self.filter.is_empty() {
            "no users yet: press a to create one"
        } else {
            "no user matches the filter (Esc clears it)"
        };
        let widths = vec![
            Constraint::Length(name_width),
            Constraint::Min(8),
            Constraint::Length(roles_width),
            Constraint::Length(9),
            Constraint::Length(5),
        ];
        let header = Row::new(["NAME", "EMAIL", "ROLES", "LICENSE", "KEYS"]);
        draw_list(
            frame,
            inner,
            (header, widths),
            rows,
            (&self.cursor, visible.len()),
            empty,
            theme,
        );
    }
}

/// The roles column: a disabled user's roles, said to be disabled first.
fn roles_cell(user: &api::UserBody) -> String {
    if user.disabled {
        format!("disabled · {}", roles_text(user))
    } else {
        roles_text(user)
    }
}

/// Asks before disabling or deleting `pending`'s user, naming them.
fn ask(pending: Pending, shell: &mut Shell) {
    let (verb, label, user) = match &pending {
        Pending::Disable(user) => ("Disable", "Disable", user),
        Pending::Delete(user) => ("Delete", "Delete", user),
    };
    let name = clean(&user.name);
    let who = match &user.email {
        Some(email) => format!("{name} <{}> ({})", clean(email), roles_text(user)),
        None => format!("{name} ({})", roles_text(user)),
    };
    let lines = match &pending {
        Pending::Disable(_) => vec![
            who,
            "Their management token stops working at once, in open consoles too; enabling them (d) gives it back.".to_owned(),
            "Their keys stay as they are.".to_owned(),
        ],
        Pending::Delete(_) => vec![
            who,
            "They are gone for good: out of this list, their token refused. This cannot be undone.".to_owned(),
            "The keys they own stay theirs, and every event stays in the log.".to_owned(),
        ],
    };
    shell.dialogs.open(Dialog::Confirm(Confirm::new(
        format!("{verb} user {name}?"),
        lines,
        label,
        Confirmed::Users(pending),
    )));
}

fn send_enable(user: api::UserBody, shell: &Shell) {
    shell.request(move |client, tenant| async move {
        Reply::UserSaved {
            result: client.enable_user(&tenant, &user.id).await,
            name: user.name,
        }
    });
}

fn role_items(held: &[Role]) -> Vec<(String, bool)> {
    TENANT_ROLES
        .iter()
        .map(|r| (r.as_str().to_owned(), held.contains(r)))
        .collect()
}

fn open_create(shell: &mut Shell) {
    let fields = vec![
        Field::text("name", "name", "", 64),
        Field::text("email", "e-mail", "", 254),
        Field::checklist("roles", "roles", role_items(&[Role::Viewer])).hint(
            "viewer reads; developer creates keys (with a license); tenant_admin manages all",
        ),
        Field::toggle("licensed", "licensed", false)
            .hint("developers need a license to create keys"),
    ];
    shell.dialogs.open(Dialog::Form(Box::new(Form::new(
        "Create a user",
        Purpose::CreateUser,
        fields,
    ))));
}

fn open_edit(user: &api::UserBody, shell: &mut Shell) {
    let fields = vec![
        Field::text("name", "name", &user.name, 64),
        Field::text(
            "email",
            "e-mail",
            user.email.as_deref().unwrap_or_default(),
            254,
        ),
        Field::checklist("roles", "roles", role_items(&user.roles))
            .hint("Space grants or withdraws; a tenant admin may grant themself developer"),
        Field::toggle("licensed", "licensed", user.licensed)
            .hint("developers need a license to create keys"),
    ];
    let mut form = Form::new(
        format!("Edit {}", clean(&user.name)),
        Purpose::EditUser {
            id: user.id.clone(),
        },
        fields,
    );
    form.focus_on("roles");
    shell.dialogs.open(Dialog::Form(Box::new(form)));
}

fn send_update(user: api::UserBody, body: api::UpdateUser, shell: &Shell) {
    shell.request(move |client, tenant| async move {
        Reply::UserSaved {
            result: client.update_user(&tenant, &user.id, &body).await,
            name: user.name,
        }
    });
}

/// A failed save: the form stays open with the reason; else the status says it.
fn fail_form(what: &str, err: &crate::client::ClientError, shell: &mut Shell) {
    match shell.dialogs.form_mut() {
        Some(form) if form.submitting => form.failed(format!("{what}: {err}")),
        _ => {}
    }
    shell.failed(what, err);
}
