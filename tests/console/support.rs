//! Shared pieces of the console suite: a console (`App` plus its message
//! channel and an OSC 52 sink) driven key by key, a real keydesk server
//! started in-process on 127.0.0.1 with a fresh data directory, and the
//! HTTP calls that set up tenants, users and keys and check what the server
//! holds afterwards.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use keydesk::console::app::App;
use keydesk::console::clipboard::{Clipboard, ClipboardMode};
use keydesk::console::dialog::Dialog;
use keydesk::console::net::{Msg, Net, Reply};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The pepper every test server uses (64 characters).
pub const PEPPER: &str = "4c6f9a1e8b2d7f30a5c9e1b4d8f2a6c0e3b7d1f5a9c3e7b2d6f0a4c8e2b6d0f4";
/// The bootstrap system administrator's management token.
pub const ADMIN_TOKEN: &str = "kdm_console_suite_bootstrap_token_7Hq2";
/// How long any wait of this suite may take (the CI box is slow).
pub const PATIENCE: Duration = Duration::from_secs(15);

// ------------------------------------------------------------------ clipboard

/// A terminal stand-in for the clipboard: collects what OSC 52 writes.
#[derive(Clone, Default)]
pub struct Sink(pub Arc<Mutex<Vec<u8>>>);

impl Sink {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The OSC 52 sequence that puts `text` on the clipboard, built here
/// independently of the console's own encoder.
pub fn osc52_of(text: &str) -> String {
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

// ------------------------------------------------------------------ keys

pub fn key(code: KeyCode) -> KeyEvent {
    let modifiers = match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    KeyEvent::new(code, modifiers)
}

// ------------------------------------------------------------------ console

/// An `App` with its message channel: what `console::run` drives, minus the terminal.
pub struct Console {
    pub app: App,
    pub rx: UnboundedReceiver<Msg>,
    pub clipboard: Sink,
}

impl Console {
    /// A console for `server` with `token`; not started.
    pub fn new(
        server: &str,
        token: &str,
        tenant: Option<&str>,
        readonly: bool,
        clipboard: ClipboardMode,
    ) -> Self {
        let (tx, rx) = unbounded_channel();
        let client = keydesk::client::Client::new(server, token)
            .unwrap()
            .readonly(readonly);
        let sink = Sink::default();
        let app = App::new(
            Net::new(client, tx),
            Clipboard::new(clipboard, Duration::from_secs(30), Box::new(sink.clone())),
            tenant.map(str::to_owned),
            readonly,
            "KEYDESK_TOKEN",
        );
        Self {
            app,
            rx,
            clipboard: sink,
        }
    }

    pub fn press(&mut self, code: KeyCode) {
        self.app.on_key(key(code));
    }

    pub fn char(&mut self, c: char) {
        self.press(KeyCode::Char(c));
    }

    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.char(c);
        }
    }

    /// Applies messages as they arrive until `done` holds.
    pub async fn pump_until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(&self.app) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; status {:?}",
                self.app.status()
            );
            if let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(50), self.rx.recv()).await
            {
                self.app.on_msg(msg);
            }
        }
    }

    /// Applies messages until no request is in flight and none is queued.
    pub async fn settle(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            while let Ok(msg) = self.rx.try_recv() {
                self.app.on_msg(msg);
            }
            if !self.app.busy() && self.rx.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "requests still in flight after {PATIENCE:?}; status {:?}",
                self.app.status()
            );
            if let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(50), self.rx.recv()).await
            {
                self.app.on_msg(msg);
            }
        }
    }

    /// Waits for the requests in flight to end and throws their answers away,
    /// so a snapshot neither shows the spinner nor what they brought back.
    pub async fn discard_requests(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while self.app.busy() {
            assert!(Instant::now() < deadline, "requests still in flight");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        while self.rx.try_recv().is_ok() {}
    }

    /// Signs in, loads the tenant and waits until everything has arrived.
    pub async fn start(&mut self) {
        self.app.start();
        self.pump_until("the session to load", |app| {
            app.session().me.is_some()
                && app.session().settings.is_some()
                && app.keys.loading.is_none()
        })
        .await;
        self.settle().await;
    }

    /// Draws the console on a `width` x `height` test terminal.
    pub fn draw(&mut self, width: u16, height: u16) -> Terminal<TestBackend> {
        self.app.on_resize(width, height);
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| keydesk::console::render::render(&self.app, frame))
            .unwrap();
        terminal
    }

    /// The screen as text, one line per row.
    pub fn screen(&mut self, width: u16, height: u16) -> String {
        screen_text(&self.draw(width, height))
    }

    /// The loaded key named `name`.
    #[track_caller]
    pub fn key_named(&self, name: &str) -> &keydesk::api::Key {
        self.app
            .keys
            .keys
            .iter()
            .find(|k| k.name == name)
            .unwrap_or_else(|| panic!("no key {name:?} in the console"))
    }

    /// Moves the cursor onto the key named `name`.
    #[track_caller]
    pub fn select(&mut self, name: &str) {
        self.press(KeyCode::Char('g'));
        for _ in 0..self.app.keys.keys.len() {
            if self.app.keys.selected_key().is_some_and(|k| k.name == name) {
                return;
            }
            self.press(KeyCode::Char('j'));
        }
        panic!("{name:?} is not in the visible list");
    }

    /// The key under the cursor.
    pub fn selected_key(&self) -> Option<&keydesk::api::Key> {
        self.app.keys.selected_key()
    }

    /// The current view's filter as typed.
    pub fn filter_text(&self) -> String {
        self.app.filter().to_owned()
    }

    pub fn ctrl(&mut self, c: char) {
        self.app
            .on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
    }

    /// Saves the open form (Ctrl-S).
    pub fn save_form(&mut self) {
        self.ctrl('s');
    }

    /// The open dialog, if any.
    pub fn dialog(&self) -> Option<&Dialog> {
        self.app.shell.dialogs.current.as_ref()
    }

    /// The open form's focused field id ("save" and "cancel" for the buttons).
    #[track_caller]
    pub fn form_focus(&self) -> &'static str {
        match self.dialog() {
            Some(Dialog::Form(form)) => form.focused(),
            _ => panic!("no form is open"),
        }
    }

    /// A reply for the tenant on screen, as the network would deliver it.
    pub fn deliver(&mut self, reply: Reply) {
        let epoch = self.app.session().epoch;
        self.app.on_msg(Msg::Tenant { epoch, reply });
    }

    pub fn status_text(&self) -> String {
        self.app
            .status()
            .map(|s| s.text.clone())
            .unwrap_or_default()
    }
}

impl Console {
    /// Closes the show-once modal without copying its secret: the first Esc
    /// only says it was not copied, the second closes.
    #[track_caller]
    pub fn close_uncopied_secret(&mut self) {
        self.press(KeyCode::Esc);
        assert!(
            secret_shown(&self.app),
            "one Esc closed a secret that was never copied"
        );
        self.press(KeyCode::Esc);
    }
}

/// True while a show-once secret is on screen.
pub fn secret_shown(app: &App) -> bool {
    matches!(app.shell.dialogs.current, Some(Dialog::Secret(_)))
}

/// Every row of the buffer as a line of text.
pub fn screen_text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

// ------------------------------------------------------------------ server

fn serve_config(listen: &str, data_dir: &Path) -> keydesk::server::ServeConfig {
    keydesk::server::ServeConfig {
        listen: listen.to_owned(),
        data_dir: Some(data_dir.to_owned()),
        pepper: Some(PEPPER.to_owned()),
        bootstrap_token: Some(ADMIN_TOKEN.to_owned()),
        ..keydesk::server::ServeConfig::default()
    }
}

/// A real keydesk server running in this process, with a fresh data directory.
pub struct Server {
    pub base: String,
    pub address: SocketAddr,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
    running: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    _dir: TempDir,
}

impl Server {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let prepared = keydesk::server::prepare(&serve_config("127.0.0.1:0", dir.path()))
            .await
            .unwrap();
        let address = prepared.listener.local_addr().unwrap();
        let mut server = Self {
            base: format!("http://{address}"),
            address,
            data_dir: dir.path().to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            running: None,
            _dir: dir,
        };
        server.run(prepared);
        server
    }

    fn run(&mut self, prepared: keydesk::server::Prepared) {
        let (shutdown, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(keydesk::server::run(
            prepared.listener,
            prepared.state,
            async move {
                let _ = stopped.await;
            },
        ));
        self.running = Some((shutdown, handle));
    }

    /// Stops the server and waits until it no longer listens.
    pub async fn stop(&mut self) {
        let (shutdown, handle) = self.running.take().expect("a running server");
        let _ = shutdown.send(());
        tokio::time::timeout(PATIENCE, handle)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }

    /// Starts the server again on the same address and data directory.
    pub async fn restart(&mut self) {
        let config = serve_config(&self.address.to_string(), &self.data_dir);
        let deadline = Instant::now() + Duration::from_secs(10);
        let prepared = loop {
            match keydesk::server::prepare(&config).await {
                Ok(prepared) => break prepared,
                Err(err) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot listen on {} again: {err:#}",
                        self.address
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        self.run(prepared);
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    #[track_caller]
    fn expect_ok(status: u16, body: Value, what: &str) -> Value {
        assert!((200..300).contains(&status), "{what}: {status} {body}");
        body
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, reply) = self
            .call(reqwest::Method::POST, path, token, Some(body))
            .await;
        Self::expect_ok(status, reply, path)
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, token, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, token, None).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    /// Creates a tenant (as the system administrator) with `settings`.
    pub async fn create_tenant(&self, id: &str, settings: Value) {
        self.post(
            "/v1/tenants",
            ADMIN_TOKEN,
            json!({ "id": id, "name": format!("Tenant {id}"), "settings": settings }),
        )
        .await;
    }

    /// Creates a user of `tenant`; returns their management token.
    pub async fn create_user(&self, tenant: &str, name: &str, roles: &[&str]) -> String {
        let reply = self
            .post(
                &format!("/v1/tenants/{tenant}/users"),
                ADMIN_TOKEN,
                json!({
                    "name": name,
                    "email": format!("{name}@example.com"),
                    "roles": roles,
                    "licensed": true,
                }),
            )
            .await;
        reply["token"].as_str().unwrap().to_owned()
    }

    /// Creates a key as `token`; returns (id, secret).
    pub async fn create_key(&self, tenant: &str, token: &str, body: Value) -> (String, String) {
        let reply = self
            .post(&format!("/v1/tenants/{tenant}/keys"), token, body)
            .await;
        (
            reply["key"]["id"].as_str().unwrap().to_owned(),
            reply["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// POSTs a lifecycle action (disable, enable, revoke, …) as the administrator.
    pub async fn act(&self, tenant: &str, id: &str, action: &str) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/tenants/{tenant}/keys/{id}/{action}"),
                ADMIN_TOKEN,
                None,
            )
            .await;
        Self::expect_ok(status, body, action);
    }

    /// The key as the server holds it: (HTTP status, body).
    pub async fn key(&self, tenant: &str, id: &str) -> (u16, Value) {
        self.get(&format!("/v1/tenants/{tenant}/keys/{id}"), ADMIN_TOKEN)
            .await
    }

    /// The key's status on the server.
    pub async fn status_of(&self, tenant: &str, id: &str) -> String {
        let (status, body) = self.key(tenant, id).await;
        assert_eq!(status, 200, "{body}");
        body["status"].as_str().unwrap().to_owned()
    }

    /// Every key of the tenant on the server.
    pub async fn keys(&self, tenant: &str) -> Vec<Value> {
        let (status, body) = self
            .get(
                &format!("/v1/tenants/{tenant}/keys?limit=1000"),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// The tenant's audit actions, newest first.
    pub async fn event_actions(&self, tenant: &str) -> Vec<String> {
        let (status, body) = self
            .get(&format!("/v1/tenants/{tenant}/events"), ADMIN_TOKEN)
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    }

    /// What `POST /v1/verify` answers for `secret`.
    pub async fn verify(&self, secret: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/v1/verify", self.base))
            .json(&json!({ "key": secret }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.unwrap()
    }

    pub async fn verify_code(&self, secret: &str) -> String {
        self.verify(secret).await["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A server with tenant `acme` (keys on, secrets retrievable by admins, two
/// scopes) and its users: ana (tenant admin and developer), bo (developer)
/// and vic (viewer).
pub struct Acme {
    pub server: Server,
    pub ana: String,
    pub bo: String,
    pub vic: String,
}

pub const TENANT: &str = "acme";

impl Acme {
    pub async fn start(extra_settings: Value) -> Self {
        let server = Server::start().await;
        let mut settings = json!({
            "api_keys_enabled": true,
            "secret_retrieval": "admins",
            "scopes": ["payments:read", "payments:write"],
        });
        for (name, value) in extra_settings.as_object().unwrap() {
            settings[name] = value.clone();
        }
        server.create_tenant(TENANT, settings).await;
        let ana = server
            .create_user(TENANT, "ana", &["tenant_admin", "developer"])
            .await;
        let bo = server.create_user(TENANT, "bo", &["developer"]).await;
        let vic = server.create_user(TENANT, "vic", &["viewer"]).await;
        Self {
            server,
            ana,
            bo,
            vic,
        }
    }

    /// A started console for `token` on tenant acme, with everything loaded.
    pub async fn console(&self, token: &str, readonly: bool) -> Console {
        let mut console = Console::new(
            &self.server.base,
            token,
            Some(TENANT),
            readonly,
            ClipboardMode::Osc52,
        );
        console.start().await;
        console
    }

    /// A key created by ana (owned by her); returns (id, secret).
    pub async fn key(&self, name: &str) -> (String, String) {
        self.server
            .create_key(
                TENANT,
                &self.ana,
                json!({ "name": name, "scopes": ["payments:read"] }),
            )
            .await
    }
}
