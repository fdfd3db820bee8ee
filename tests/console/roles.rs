//! Each role in each view (SPEC §2's role table): the console shows an
//! action enabled exactly when the server allows it. An action shown enabled
//! is carried out with the keys a user would press and the server is asked
//! whether it happened; one shown disabled is refused in the status line with
//! its reason, sends nothing, and the server refuses the same request sent
//! directly, with the same reason.

use std::collections::HashMap;

use crossterm::event::KeyCode;
use keydesk::console::dialog::Dialog;
use keydesk::console::keymap::Action;
use keydesk::console::shell::Level;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Acme, Console, TENANT, osc52_of, secret_shown};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Viewer,
    Developer,
    TenantAdmin,
    /// ana: tenant_admin and developer (seed 001 ties deleting to developer).
    AdminDeveloper,
    SystemAdmin,
}

/// What a role may do. Key actions are written as the keys that trigger
/// them: `e` edit, `D` duplicate, `c` copy secret, `R` regenerate,
/// `d` disable, `r` revoke, `X` delete.
struct Expect {
    role: Role,
    add_key: bool,
    /// On an active key the role's user owns.
    mine: &'static str,
    /// On an active key someone else owns.
    theirs: &'static str,
    settings: bool,
    users: bool,
}

#[rustfmt::skip]
const EXPECT: [Expect; 5] = [
    Expect { role: Role::Viewer, add_key: false, mine: "", theirs: "", settings: false, users: false },
    Expect { role: Role::Developer, add_key: true, mine: "eDRdrX", theirs: "", settings: false, users: false },
    Expect { role: Role::TenantAdmin, add_key: false, mine: "ecdr", theirs: "ecdr", settings: true, users: true },
    Expect { role: Role::AdminDeveloper, add_key: true, mine: "eDcRdrX", theirs: "eDcdrX", settings: true, users: true },
    Expect { role: Role::SystemAdmin, add_key: true, mine: "eDcRdrX", theirs: "eDcRdrX", settings: true, users: true },
];

const KEY_ACTIONS: [(char, Action, &str); 7] = [
    ('e', Action::Edit, "edit"),
    ('D', Action::Duplicate, "duplicate"),
    ('c', Action::CopySecret, "copy"),
    ('R', Action::Regenerate, "regenerate"),
    ('d', Action::ToggleDisabled, "disable"),
    ('r', Action::Revoke, "revoke"),
    ('X', Action::Delete, "delete"),
];

fn expect(role: Role) -> &'static Expect {
    EXPECT.iter().find(|e| e.role == role).unwrap()
}

/// The user each role is played by (`root` is the system administrator).
fn user_of(role: Role) -> &'static str {
    match role {
        Role::Viewer => "vic",
        Role::Developer => "bo",
        Role::TenantAdmin => "tad",
        Role::AdminDeveloper => "ana",
        Role::SystemAdmin => "root",
    }
}

fn token_of<'a>(acme: &'a Acme, tad: &'a str, user: &str) -> &'a str {
    match user {
        "ana" => &acme.ana,
        "bo" => &acme.bo,
        "vic" => &acme.vic,
        "tad" => tad,
        _ => ADMIN_TOKEN,
    }
}

/// A request sent directly to `/v1/tenants/acme{path}`.
struct Request {
    method: &'static str,
    path: String,
    body: Option<Value>,
}

fn request(method: &'static str, path: impl Into<String>, body: Option<Value>) -> Request {
    let path = path.into();
    Request { method, path, body }
}

/// The direct request that `action` makes on the key `id`.
fn key_request(action: Action, id: &str) -> Request {
    let at = format!("/keys/{id}");
    match action {
        Action::Edit => request("PATCH", at, Some(json!({ "name": "direct" }))),
        Action::Duplicate => request("POST", format!("{at}/duplicate"), None),
        Action::CopySecret => request("POST", format!("{at}/reveal"), None),
        Action::Regenerate => request("POST", format!("{at}/regenerate"), None),
        Action::ToggleDisabled => request("POST", format!("{at}/disable"), None),
        Action::Revoke => request("POST", format!("{at}/revoke"), None),
        Action::Delete => request("DELETE", at, None),
        other => unreachable!("{other:?} is not a key action"),
    }
}

/// A key made for the test: its ID, name and secret.
struct Made {
    id: String,
    name: String,
    secret: String,
}

/// Acme plus `tad` (a tenant admin without the developer role), everyone's
/// ID, and a console signed in as `role`.
struct World {
    acme: Acme,
    tad: String,
    ids: HashMap<&'static str, String>,
    role: Role,
    console: Console,
}

impl World {
    /// The users and `keys` (name, owner) exist before the console starts.
    async fn start(role: Role, settings: Value, keys: &[(String, &str)]) -> (Self, Vec<Made>) {
        let acme = Acme::start(settings).await;
        let tad = acme
            .server
            .create_user(TENANT, "tad", &["tenant_admin"])
            .await;
        let mut ids = HashMap::new();
        let mut roles = HashMap::new();
        for name in ["ana", "bo", "vic", "tad", "root"] {
            let (status, me) = acme.server.get("/v1/me", token_of(&acme, &tad, name)).await;
            assert_eq!(status, 200, "{me}");
            ids.insert(name, me["user"]["id"].as_str().unwrap().to_owned());
            roles.insert(name, me["user"]["roles"].clone());
        }
        let mut made = Vec::new();
        for (name, owner) in keys {
            // Only developers own keys (and root, their own): anyone else
            // holds the role while the key is made, and keeps the key after.
            let user = format!("/v1/tenants/{TENANT}/users/{}", ids[owner]);
            let lends = !roles[owner]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "developer")
                && *owner != "root";
            if lends {
                let mut granted = roles[owner].as_array().unwrap().clone();
                granted.push(json!("developer"));
                let lent = json!({ "roles": granted });
                assert_eq!(acme.server.patch(&user, ADMIN_TOKEN, lent).await.0, 200);
            }
            let body = json!({ "name": name, "scopes": ["payments:read"], "owner": ids[owner] });
            let (id, secret) = acme.server.create_key(TENANT, ADMIN_TOKEN, body).await;
            if lends {
                let back = json!({ "roles": roles[owner] });
                assert_eq!(acme.server.patch(&user, ADMIN_TOKEN, back).await.0, 200);
            }
            made.push(Made {
                id,
                name: name.clone(),
                secret,
            });
        }
        let console = acme
            .console(token_of(&acme, &tad, user_of(role)), false)
            .await;
        (
            Self {
                acme,
                tad,
                ids,
                role,
                console,
            },
            made,
        )
    }

    fn token(&self) -> &str {
        token_of(&self.acme, &self.tad, user_of(self.role))
    }

    /// Sends `request` directly, as the role's user: (HTTP status, body).
    async fn send(&self, request: Request) -> (u16, Value) {
        let server = &self.acme.server;
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
        let url = format!("{}/v1/tenants/{TENANT}{}", server.base, request.path);
        let mut builder = server.http.request(method, url).bearer_auth(self.token());
        if let Some(body) = request.body {
            builder = builder.json(&body);
        }
        let response = builder.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn status_of(&self, key: &Made) -> String {
        self.acme.server.status_of(TENANT, &key.id).await
    }

    /// The tenant's users as the server holds them, by name.
    async fn users(&self) -> HashMap<String, Value> {
        let path = format!("/v1/tenants/{TENANT}/users");
        let (status, list) = self.acme.server.get(&path, ADMIN_TOKEN).await;
        assert_eq!(status, 200, "{list}");
        let items = list["items"].as_array().unwrap().iter();
        let by_name = |u: &Value| (u["name"].as_str().unwrap().to_owned(), u.clone());
        items.map(by_name).collect()
    }

    /// `/text` Enter: the view's filter.
    fn filter(&mut self, text: &str) {
        self.console.char('/');
        self.console.type_text(text);
        self.console.press(KeyCode::Enter);
    }

    /// The console refuses `c` (meaning `action`) with the reason it shows,
    /// sends nothing, and the server refuses `request` with the same reason.
    async fn assert_refused(&mut self, c: char, action: Action, request: Request) {
        let context = format!("{:?} {action:?}", self.role);
        let console = &mut self.console;
        let reason = console.app.disabled_reason(action);
        let reason = reason.unwrap_or_else(|| panic!("{context}: shown enabled"));
        console.char(c);
        assert!(console.dialog().is_none(), "{context}: a dialog opened");
        assert!(!console.app.busy(), "{context}: a request was sent");
        assert_eq!(console.status_text(), reason, "{context}");
        assert_eq!(console.app.status_level(), Some(Level::Error), "{context}");
        let (status, problem) = self.send(request).await;
        let refused = matches!(status, 403 | 409);
        assert!(refused, "{context}: the server answered {status} {problem}");
        assert_eq!(problem["detail"], reason.as_str(), "{context}: {problem}");
    }

    /// Answers the open question with `y` and waits for the request.
    async fn confirm(&mut self) {
        let asked = matches!(self.console.dialog(), Some(Dialog::Confirm(_)));
        assert!(asked, "no question was asked");
        self.console.char('y');
        self.console.settle().await;
    }

    /// Saves the open form and waits until it closed.
    async fn save(&mut self) {
        self.console.save_form();
        self.console.settle().await;
        let (role, status) = (self.role, self.console.status_text());
        let open = self.console.dialog().is_some();
        assert!(!open, "{role:?}: the form stays open: {status}");
    }

    /// Saves the open form and closes the show-once modal it opens.
    async fn save_for_secret(&mut self) -> String {
        self.console.save_form();
        self.close_secret().await
    }

    /// Waits for the show-once modal and closes it; returns the secret.
    async fn close_secret(&mut self) -> String {
        self.console
            .pump_until("the secret modal", secret_shown)
            .await;
        let Some(Dialog::Secret(modal)) = self.console.dialog() else {
            unreachable!()
        };
        let secret = modal.secret.to_string();
        self.console.close_uncopied_secret();
        self.console.settle().await;
        secret
    }

    /// Carries out `c` on the selected key `key` and checks the server changed.
    async fn carry_out(&mut self, c: char, key: &Made) {
        let context = format!("{:?} {c} on {}", self.role, key.name);
        self.console.char(c);
        match c {
            'e' => {
                assert_eq!(self.console.form_focus(), "name", "{context}");
                self.console.type_text("-renamed");
                self.save().await;
                let (_, stored) = self.acme.server.key(TENANT, &key.id).await;
                assert_eq!(stored["name"], format!("{}-renamed", key.name), "{context}");
            }
            'D' => {
                let secret = self.save_for_secret().await;
                let copy = self.acme.server.verify(&secret).await;
                assert_eq!(copy["code"], "VALID", "{context}: {copy}");
                assert_ne!(copy["key_id"], key.id.as_str(), "{context}");
                let id = copy["key_id"].as_str().unwrap();
                let (_, stored) = self.acme.server.key(TENANT, id).await;
                let name = stored["name"].as_str().unwrap();
                assert!(name.starts_with(&key.name), "{context}: {stored}");
            }
            'c' => {
                self.console.settle().await;
                let copied = self.console.clipboard.text();
                assert!(copied.ends_with(&osc52_of(&key.secret)), "{context}");
                let events = self.acme.server.event_actions(TENANT).await;
                assert_eq!(events[0], "key.secret_revealed", "{context}");
            }
            'R' => {
                // The grace picker opens on 24 hours: Enter rotates with it, no question.
                assert!(
                    matches!(self.console.dialog(), Some(Dialog::Picker(_))),
                    "{context}: no grace picker"
                );
                self.console.press(KeyCode::Enter);
                let secret = self.close_secret().await;
                let old = self.acme.server.verify_code(&key.secret).await;
                assert_eq!(old, "VALID", "{context}: the old secret works in the grace");
                assert_eq!(self.acme.server.verify_code(&secret).await, "VALID");
                let (_, stored) = self.acme.server.key(TENANT, &key.id).await;
                assert!(stored["rotating_until"].is_string(), "{context}: {stored}");
            }
            'd' => {
                self.console.settle().await;
                assert_eq!(self.status_of(key).await, "disabled", "{context}");
            }
            'r' => {
                self.confirm().await;
                assert_eq!(self.status_of(key).await, "revoked", "{context}");
            }
            'X' => {
                self.confirm().await;
                let (gone, _) = self.acme.server.key(TENANT, &key.id).await;
                assert_eq!(gone, 404, "{context}");
            }
            other => unreachable!("{other}"),
        }
        let status = self.console.status_text();
        let level = self.console.app.status_level();
        assert_ne!(level, Some(Level::Error), "{context}: {status}");
    }
}

// ------------------------------------------------------------------ the views

async fn keys_view(role: Role) {
    let expect = expect(role);
    let other = if role == Role::Developer { "ana" } else { "bo" };
    let mut plan = Vec::new();
    for (c, action, word) in KEY_ACTIONS {
        for (whose, owner, allowed) in [
            ("mine", user_of(role), expect.mine),
            ("theirs", other, expect.theirs),
        ] {
            let key = (format!("{word}-{whose}"), owner);
            plan.push((c, action, key, allowed.contains(c)));
        }
    }
    let keys: Vec<(String, &str)> = plan.iter().map(|(_, _, key, _)| key.clone()).collect();
    let (mut world, made) = World::start(role, json!({}), &keys).await;

    let add = world.console.app.disabled_reason(Action::Add);
    assert_eq!(add.is_none(), expect.add_key, "{role:?} add: {add:?}");
    if expect.add_key {
        world.console.char('a');
        world.console.type_text("added");
        let secret = world.save_for_secret().await;
        let verified = world.acme.server.verify(&secret).await;
        let owner = &world.ids[user_of(role)];
        assert_eq!(verified["owner"], *owner, "{role:?}: {verified}");
    } else {
        let body = json!({ "name": "direct", "scopes": [] });
        let add = request("POST", "/keys", Some(body));
        world.assert_refused('a', Action::Add, add).await;
    }

    for ((c, action, _, allowed), key) in plan.into_iter().zip(&made) {
        world.console.select(&key.name);
        let reason = world.console.app.disabled_reason(action);
        let context = format!("{role:?} {c} on {}", key.name);
        assert_eq!(reason.is_none(), allowed, "{context}: {reason:?}");
        if allowed {
            world.carry_out(c, key).await;
        } else {
            let direct = key_request(action, &key.id);
            world.assert_refused(c, action, direct).await;
            assert_eq!(world.status_of(key).await, "active", "{context}");
        }
    }
}

async fn settings_view(role: Role) {
    let (mut world, _) = World::start(role, json!({}), &[]).await;
    world.console.char('3');
    let allowed = world.console.app.disabled_reason(Action::Edit).is_none();
    assert_eq!(allowed, expect(role).settings, "{role:?} settings edit");
    if allowed {
        world.console.type_text("jje");
        assert_eq!(world.console.form_focus(), "max_keys_per_user");
        world.console.type_text("50");
        world.save().await;
    } else {
        let body = json!({ "max_keys_per_user": 50 });
        let edit = request("PATCH", "/settings", Some(body));
        world.assert_refused('e', Action::Edit, edit).await;
    }
    let path = format!("/v1/tenants/{TENANT}/settings");
    let (_, settings) = world.acme.server.get(&path, ADMIN_TOKEN).await;
    let expected = if allowed { json!(50) } else { Value::Null };
    let max = &settings["max_keys_per_user"];
    assert_eq!(*max, expected, "{role:?}: {settings}");
}

async fn users_view(role: Role) {
    let (mut world, _) = World::start(role, json!({}), &[]).await;
    world.console.char('4');
    world.filter("vic");
    let vic = format!("/users/{}", world.ids["vic"]);
    let newbie = json!({ "name": "newbie", "email": "newbie@example.com", "roles": ["viewer"] });
    let roles = json!({ "roles": ["viewer", "developer"] });
    let license = json!({ "licensed": false });
    let actions = [
        ('a', Action::Add, request("POST", "/users", Some(newbie))),
        (
            'e',
            Action::Edit,
            request("PATCH", vic.clone(), Some(roles)),
        ),
        ('l', Action::License, request("PATCH", vic, Some(license))),
    ];
    let allowed = expect(role).users;
    for (c, action, request) in actions {
        let reason = world.console.app.disabled_reason(action);
        let context = format!("{role:?} users {action:?}");
        assert_eq!(reason.is_none(), allowed, "{context}: {reason:?}");
        if !allowed {
            world.assert_refused(c, action, request).await;
            continue;
        }
        world.console.char(c);
        match c {
            'a' => {
                assert_eq!(world.console.form_focus(), "name");
                world.console.type_text("newbie");
                world.console.press(KeyCode::Tab);
                world.console.type_text("newbie@example.com");
                world.save_for_secret().await;
            }
            'e' => {
                assert_eq!(world.console.form_focus(), "roles");
                world.console.press(KeyCode::Down);
                world.console.char(' ');
                world.save().await;
            }
            _ => world.console.settle().await,
        }
    }
    let users = world.users().await;
    assert_eq!(users.contains_key("newbie"), allowed, "{role:?}: {users:?}");
    let vic = &users["vic"];
    let roles = if allowed {
        &["viewer", "developer"][..]
    } else {
        &["viewer"]
    };
    assert_eq!(vic["roles"], json!(roles), "{role:?}: {vic}");
    assert_eq!(vic["licensed"], !allowed, "{role:?}: {vic}");

    // Disabling and deleting ask first, naming the user; enabling does not.
    let vic = world.ids["vic"].clone();
    let disable = request("POST", format!("/users/{vic}/disable"), None);
    let delete = request("DELETE", format!("/users/{vic}"), None);
    if !allowed {
        world
            .assert_refused('d', Action::ToggleDisabled, disable)
            .await;
        world.assert_refused('X', Action::Delete, delete).await;
        assert!(world.users().await.contains_key("vic"));
        return;
    }
    for (c, state) in [('d', Some(true)), ('d', Some(false)), ('X', None)] {
        world.console.char(c);
        if state == Some(false) {
            world.console.settle().await;
        } else {
            let Some(Dialog::Confirm(question)) = world.console.dialog() else {
                panic!("{role:?} {c}: no question asked");
            };
            assert!(question.title.contains("vic"), "{}", question.title);
            world.confirm().await;
        }
        let users = world.users().await;
        match state {
            Some(disabled) => assert_eq!(users["vic"]["disabled"], disabled, "{role:?} {c}"),
            None => assert!(!users.contains_key("vic"), "{role:?}: vic not deleted"),
        }
    }
}

macro_rules! per_role {
    ($($name:ident => $role:expr),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn keys() {
                keys_view($role).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn settings() {
                settings_view($role).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn users() {
                users_view($role).await;
            }
        }
    )*};
}

per_role! {
    viewer => Role::Viewer,
    developer => Role::Developer,
    tenant_admin => Role::TenantAdmin,
    tenant_admin_and_developer => Role::AdminDeveloper,
    system_admin => Role::SystemAdmin,
}

// ------------------------------------------------------------------ the rest

/// The status machine decides too, whoever asks: a revoked key can only be
/// deleted, and a tenant that revokes only disabled keys refuses to revoke
/// an active one (409s, not 403s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_status_disables_actions_even_for_the_system_admin() {
    let settings = json!({ "revoke_requires_disabled": true });
    let keys = [("gone".to_owned(), "bo"), ("live".to_owned(), "bo")];
    let (mut world, made) = World::start(Role::SystemAdmin, settings, &keys).await;
    let [revoked, active] = &made[..] else {
        unreachable!()
    };
    for action in ["disable", "revoke"] {
        world.acme.server.act(TENANT, &revoked.id, action).await;
    }
    world.console.press(KeyCode::F(5));
    world.console.settle().await;

    world.console.select("live");
    let revoke = key_request(Action::Revoke, &active.id);
    world.assert_refused('r', Action::Revoke, revoke).await;
    assert_eq!(world.status_of(active).await, "active");

    world.console.select("gone");
    for (c, action, _) in KEY_ACTIONS.into_iter().filter(|(c, ..)| *c != 'X') {
        let direct = key_request(action, &revoked.id);
        world.assert_refused(c, action, direct).await;
    }
    assert_eq!(world.status_of(revoked).await, "revoked");
    assert_eq!(world.console.app.disabled_reason(Action::Delete), None);
    world.carry_out('X', revoked).await;
}

/// Seed 001: a tenant admin grants themself the developer role in the Users
/// view, and may then add keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_grants_themself_the_developer_role_and_then_adds_a_key() {
    let (mut world, _) = World::start(Role::TenantAdmin, json!({}), &[]).await;
    let reason = world.console.app.disabled_reason(Action::Add);
    let reason = reason.expect("add is disabled");
    assert!(reason.contains("developer role"), "{reason}");

    world.console.char('4');
    world.filter("tad");
    world.console.char('e');
    assert_eq!(world.console.form_focus(), "roles");
    world.console.press(KeyCode::Down);
    world.console.char(' ');
    world.save().await;
    let roles = &world.users().await["tad"]["roles"];
    assert_eq!(*roles, json!(["developer", "tenant_admin"]));

    world.console.char('1');
    assert_eq!(world.console.app.disabled_reason(Action::Add), None);
    world.console.char('a');
    world.console.type_text("tads-first");
    let secret = world.save_for_secret().await;
    let verified = world.acme.server.verify(&secret).await;
    assert_eq!(verified["code"], "VALID", "{verified}");
    assert_eq!(verified["owner"], world.ids["tad"], "{verified}");
}
