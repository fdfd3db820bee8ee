//! The shared harness: `spawn_app()` starts the real server on 127.0.0.1:0
//! with a fresh database (SQLite in a temporary directory, or a PostgreSQL
//! database of its own under `KEYDESK_TEST_BACKEND=postgres`: see
//! `backend`), and `TestApp`
//! speaks to it over HTTP. `ServerProcess` runs the real binary instead, for
//! the tests that kill it or read its logs. Every reply is checked for 5xx:
//! no request of this suite may make the server fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The pepper every test server uses (64 characters, outside the database).
pub const PEPPER: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
/// The first system administrator's management token (`KEYDESK_BOOTSTRAP_TOKEN`).
pub const ADMIN_TOKEN: &str = "kdm_bootstrap_integration_token_4Qx9vLm2";

/// A running in-process server and a client for it.
pub struct TestApp {
    pub base: String,
    /// The bootstrap system administrator's token.
    pub admin: String,
    pub client: reqwest::Client,
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// The server's store, for in-process servers: to write past the handlers.
    pub store: Option<std::sync::Arc<dyn keydesk::store::Store>>,
    /// The temporary directory (removed when the test ends) and the
    /// server's shutdown trigger, for in-process servers.
    _owned: Option<(TempDir, tokio::sync::oneshot::Sender<()>)>,
}

/// Starts the real server (keydesk::server::prepare + run) on a free port
/// with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}, None).await
}

/// As [`spawn_app`], with `adjust` changing the configuration first (e.g.
/// small suspicion thresholds), and on `listener` instead of a port of its own.
pub async fn spawn_app_with(
    adjust: impl FnOnce(&mut keydesk::server::ServeConfig),
    listener: Option<tokio::net::TcpListener>,
) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = serve_config(data_dir.path());
    adjust(&mut config);
    let mut prepared = keydesk::server::prepare(&config)
        .await
        .expect("the server prepares");
    if let Some(listener) = listener {
        prepared.listener = listener;
    }
    assert!(
        prepared.bootstrap_token.is_none(),
        "a bootstrap token given by the environment is never generated (or printed)"
    );
    let address = prepared.listener.local_addr().expect("a bound address");
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let store = Some(prepared.state.store.clone());
    tokio::spawn(keydesk::server::run(
        prepared.listener,
        prepared.state,
        async move {
            let _ = stopped.await;
        },
    ));
    TestApp {
        base: format!("http://{address}"),
        admin: ADMIN_TOKEN.to_owned(),
        client: client(),
        data_dir: data_dir.path().to_owned(),
        store,
        _owned: Some((data_dir, shutdown)),
    }
}

/// How every in-process test server runs: on a free port, with `data_dir`,
/// the run's backend (the same database each time for one `data_dir`),
/// the test pepper and the bootstrap token.
pub fn serve_config(data_dir: &Path) -> keydesk::server::ServeConfig {
    keydesk::server::ServeConfig {
        listen: "127.0.0.1:0".to_owned(),
        database: crate::backend::database_for(data_dir),
        data_dir: Some(data_dir.to_owned()),
        pepper: Some(PEPPER.to_owned()),
        bootstrap_token: Some(ADMIN_TOKEN.to_owned()),
        ..keydesk::server::ServeConfig::default()
    }
}

/// An in-process server on a data directory the test owns, to stop
/// gracefully (which writes pending usage) and start again on the same data.
pub struct OwnServer {
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl OwnServer {
    pub async fn start(data_dir: &Path) -> Self {
        Self::start_with(&serve_config(data_dir)).await
    }

    pub async fn start_with(config: &keydesk::server::ServeConfig) -> Self {
        let prepared = keydesk::server::prepare(config)
            .await
            .expect("the server prepares");
        let base = format!(
            "http://{}",
            prepared.listener.local_addr().expect("an address")
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(keydesk::server::run(
            prepared.listener,
            prepared.state,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            base,
            stop,
            running,
        }
    }

    /// A graceful stop, as on SIGTERM; fails if it takes more than 10 s.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.running)
            .await
            .expect("a graceful stop within 10 s")
            .expect("the server task")
            .expect("the server");
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// A reply, read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON; `Null` when it is not JSON.
    pub json: Value,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn etag(&self) -> String {
        self.header("etag")
            .unwrap_or_else(|| panic!("an ETag header in {self:?}"))
            .to_owned()
    }

    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or_default()
    }

    pub fn detail(&self) -> &str {
        self.json["detail"].as_str().unwrap_or_default()
    }

    /// Asserts the status; returns the reply for chaining.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {} with {}",
            self.status,
            self.text
        );
        self
    }

    /// Asserts an RFC 9457 problem with this status and code.
    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected a {status} {code} problem, got {} with {}",
            self.status,
            self.text
        );
        assert_problem_shape(&self);
        assert_eq!(self.code(), code, "problem code in {}", self.text);
        self
    }
}

/// Content type `application/problem+json` and the five RFC 9457 fields.
#[track_caller]
pub fn assert_problem_shape(reply: &Reply) {
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content-type {content_type:?} of {}",
        reply.text
    );
    let problem = &reply.json;
    for field in ["type", "title", "detail", "code"] {
        assert!(
            problem[field].as_str().is_some_and(|s| !s.is_empty()),
            "problem field {field} missing or empty in {}",
            reply.text
        );
    }
    assert_eq!(
        problem["status"].as_u64(),
        Some(u64::from(reply.status.as_u16())),
        "problem status in {}",
        reply.text
    );
}

/// A user created through the API, with the management token shown once.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub name: String,
    pub token: String,
}

/// A key created through the API: its id, the secret shown once, the body and ETag.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub secret: String,
    pub key: Value,
    pub etag: String,
}

/// RFC 3339 time `seconds` from now.
pub fn in_seconds(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn in_days(days: i64) -> String {
    in_seconds(days * 86_400)
}

impl TestApp {
    /// A client for a server started elsewhere (the binary) on `data_dir`.
    pub fn connect(base: &str, data_dir: &Path) -> Self {
        Self {
            base: base.to_owned(),
            admin: ADMIN_TOKEN.to_owned(),
            client: client(),
            data_dir: data_dir.to_owned(),
            store: None,
            _owned: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends and reads a request; no request of this suite may answer 5xx.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let request = request.build().expect("a well-formed request");
        let what = format!("{} {}", request.method(), request.url());
        let response = self
            .client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let reply = Reply::read(response).await;
        assert!(
            !reply.status.is_server_error(),
            "{what} answered {}: {}",
            reply.status,
            reply.text
        );
        reply
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(self.request(Method::GET, path, Some(token)))
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(self.request(Method::POST, path, Some(token)).json(&body))
            .await
    }

    /// A POST without a body (the lifecycle actions).
    pub async fn post_empty(&self, path: &str, token: &str) -> Reply {
        self.send(self.request(Method::POST, path, Some(token)))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(self.request(Method::PATCH, path, Some(token)).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.send(self.request(Method::DELETE, path, Some(token)))
            .await
    }

    /// Creates a tenant as the system administrator, with settings that
    /// differ from the defaults.
    pub async fn create_tenant(&self, id: &str, settings: Value) -> Value {
        let body = json!({ "id": id, "name": format!("Tenant {id}"), "settings": settings });
        self.post("/v1/tenants", &self.admin, body)
            .await
            .expect(201)
            .json
    }

    /// A tenant with API keys switched on and every other setting at its default.
    pub async fn enabled_tenant(&self, id: &str) -> String {
        self.create_tenant(id, json!({ "api_keys_enabled": true }))
            .await;
        id.to_owned()
    }

    /// Creates a user of `tenant` as the system administrator.
    pub async fn create_user(
        &self,
        tenant: &str,
        name: &str,
        roles: &[&str],
        licensed: bool,
    ) -> TestUser {
        let email = format!(
            "{}@example.com",
            name.to_lowercase().replace(char::is_whitespace, ".")
        );
        let reply = self
            .post(
                &format!("/v1/tenants/{tenant}/users"),
                &self.admin,
                json!({ "name": name, "email": email, "roles": roles, "licensed": licensed }),
            )
            .await
            .expect(201);
        TestUser {
            id: reply.json["user"]["id"]
                .as_str()
                .expect("user id")
                .to_owned(),
            name: name.to_owned(),
            token: reply.json["token"].as_str().expect("token").to_owned(),
        }
    }

    /// The id of the bootstrap system administrator.
    pub async fn admin_id(&self) -> String {
        self.get("/v1/me", &self.admin).await.expect(200).json["user"]["id"]
            .as_str()
            .expect("admin id")
            .to_owned()
    }

    pub async fn try_create_key(&self, tenant: &str, token: &str, body: Value) -> Reply {
        self.post(&format!("/v1/tenants/{tenant}/keys"), token, body)
            .await
    }

    /// Creates a key and asserts it was: 201, the secret, an ETag.
    pub async fn create_key(&self, tenant: &str, token: &str, body: Value) -> NewKey {
        let reply = self.try_create_key(tenant, token, body).await.expect(201);
        NewKey {
            id: reply.json["key"]["id"].as_str().expect("key id").to_owned(),
            secret: reply.json["secret"]
                .as_str()
                .expect("the secret, shown once")
                .to_owned(),
            etag: reply.etag(),
            key: reply.json["key"].clone(),
        }
    }

    /// A key named `name` created by the system administrator for `owner`.
    pub async fn key_for(&self, tenant: &str, owner: &str, name: &str) -> NewKey {
        self.create_key(tenant, &self.admin, json!({ "name": name, "owner": owner }))
            .await
    }

    /// The key as the system administrator sees it (404 once deleted).
    pub async fn get_key(&self, tenant: &str, id: &str) -> Reply {
        self.get(&format!("/v1/tenants/{tenant}/keys/{id}"), &self.admin)
            .await
    }

    /// POSTs a lifecycle action: disable, enable, revoke, regenerate, duplicate, reveal.
    pub async fn act(&self, tenant: &str, token: &str, id: &str, action: &str) -> Reply {
        self.post_empty(&format!("/v1/tenants/{tenant}/keys/{id}/{action}"), token)
            .await
    }

    /// Verifies a secret; returns the code.
    pub async fn verify(&self, secret: &str) -> String {
        self.verify_body(json!({ "key": secret })).await["code"]
            .as_str()
            .expect("a code")
            .to_owned()
    }

    pub async fn verify_scope(&self, secret: &str, scope: &str) -> String {
        self.verify_body(json!({ "key": secret, "scope": scope }))
            .await["code"]
            .as_str()
            .expect("a code")
            .to_owned()
    }

    pub async fn verify_body(&self, body: Value) -> Value {
        let reply = self
            .send(self.request(Method::POST, "/v1/verify", None).json(&body))
            .await
            .expect(200);
        let valid = reply.json["valid"].as_bool().expect("valid");
        assert_eq!(valid, reply.json["code"] == "VALID", "{}", reply.text);
        reply.json
    }

    /// One page of the key list as the system administrator.
    pub async fn list_keys(&self, tenant: &str, query: &str) -> Value {
        self.get(&format!("/v1/tenants/{tenant}/keys?{query}"), &self.admin)
            .await
            .expect(200)
            .json
    }

    /// Every key id of the tenant (one page of up to 1000).
    pub async fn key_ids(&self, tenant: &str) -> Vec<String> {
        let list = self.list_keys(tenant, "limit=1000").await;
        ids_of(&list["items"])
    }

    /// Events of the tenant (newest first), one page of up to 1000.
    pub async fn events(&self, tenant: &str, query: &str) -> Vec<Value> {
        let reply = self
            .get(
                &format!("/v1/tenants/{tenant}/events?limit=1000&{query}"),
                &self.admin,
            )
            .await
            .expect(200);
        reply.json["items"].as_array().expect("items").clone()
    }

    pub async fn settings(&self, tenant: &str) -> Reply {
        self.get(&format!("/v1/tenants/{tenant}/settings"), &self.admin)
            .await
            .expect(200)
    }

    pub async fn patch_settings(&self, tenant: &str, token: &str, body: Value) -> Reply {
        self.patch(&format!("/v1/tenants/{tenant}/settings"), token, body)
            .await
    }
}

/// The `id` of every item of a JSON array.
pub fn ids_of(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Asserts that none of `needles` occurs in any file under `dir`, a data
/// directory, nor (under postgres) in any row of its server's database.
#[track_caller]
pub fn assert_absent_from_files(dir: &Path, needles: &[String]) {
    let files = files_under(dir);
    if let Some(url) = crate::backend::existing_database(dir) {
        let rows = crate::backend::all_rows(url);
        assert!(
            !rows.is_empty(),
            "no rows in the database of {}",
            dir.display()
        );
        for row in rows {
            for needle in needles {
                assert!(
                    !row.contains(needle.as_str()),
                    "a row holds a plaintext secret or token ({}…): {}",
                    &needle[..needle.len().min(8)],
                    row.split(':').next().unwrap_or_default()
                );
            }
        }
    } else {
        assert!(!files.is_empty(), "no files under {}", dir.display());
    }
    for file in files {
        let bytes = std::fs::read(&file).expect("a readable file");
        for needle in needles {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{} holds a plaintext secret or token ({}…)",
                file.display(),
                &needle[..needle.len().min(8)]
            );
        }
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The real `keydesk serve` binary, with its stdout and stderr in files.
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

impl ServerProcess {
    /// Starts `keydesk serve` on `data_dir` with debug logging, logs in
    /// `log_dir/<label>.{out,err}`, and waits for `/healthz`.
    pub async fn start(data_dir: &Path, log_dir: &Path, label: &str) -> Self {
        Self::start_with(data_dir, log_dir, label, Some(ADMIN_TOKEN)).await
    }

    /// As [`ServerProcess::start`]; without `bootstrap_token` the server
    /// generates the first administrator's token (and prints it once).
    pub async fn start_with(
        data_dir: &Path,
        log_dir: &Path,
        label: &str,
        bootstrap_token: Option<&str>,
    ) -> Self {
        let command = Command::new(env!("CARGO_BIN_EXE_keydesk"));
        Self::start_command(command, data_dir, log_dir, label, bootstrap_token, &[]).await
    }

    /// As [`ServerProcess::start`], with `env` (e.g. `KEYDESK_VERIFY_AUTH`) set.
    pub async fn start_with_env(
        data_dir: &Path,
        log_dir: &Path,
        label: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let command = Command::new(env!("CARGO_BIN_EXE_keydesk"));
        Self::start_command(command, data_dir, log_dir, label, Some(ADMIN_TOKEN), env).await
    }

    /// As [`ServerProcess::start`], started by `sh` after `shell` (e.g.
    /// `ulimit -n 256`), with `options` after the usual ones.
    pub async fn start_in_shell(
        shell: &str,
        options: &[&str],
        data_dir: &Path,
        log_dir: &Path,
        label: &str,
    ) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                "{shell} && exec \"$0\" \"$@\" {}",
                options.join(" ")
            ))
            .arg(env!("CARGO_BIN_EXE_keydesk"));
        Self::start_command(command, data_dir, log_dir, label, Some(ADMIN_TOKEN), &[]).await
    }

    /// Starts `command` with `serve` and its options as arguments.
    async fn start_command(
        mut command: Command,
        data_dir: &Path,
        log_dir: &Path,
        label: &str,
        bootstrap_token: Option<&str>,
        env: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let stdout = log_dir.join(format!("{label}.out"));
        let stderr = log_dir.join(format!("{label}.err"));
        let child = command
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .env_remove("KEYDESK_DATABASE")
            .env_remove("KEYDESK_PEPPER_FILE")
            .env_remove("KEYDESK_LISTEN")
            .env_remove("KEYDESK_DATA_DIR")
            .env_remove("KEYDESK_BOOTSTRAP_TOKEN")
            .env_remove("KEYDESK_VERIFY_AUTH")
            .envs(crate::backend::database_for(data_dir).map(|url| ("KEYDESK_DATABASE", url)))
            .envs(bootstrap_token.map(|token| ("KEYDESK_BOOTSTRAP_TOKEN", token)))
            .envs(env.iter().copied())
            .env("KEYDESK_PEPPER", PEPPER)
            .env("KEYDESK_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("a stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("a stderr file"))
            .spawn()
            .expect("the keydesk binary starts");
        let mut server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stdout,
            stderr,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&mut self) {
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "keydesk exited with {status} before it was healthy: {}",
                    self.logs()
                );
            }
            if let Ok(response) = client.get(format!("{}/healthz", self.base)).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "keydesk not healthy in 30 s: {}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Both log files, as text.
    pub fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}", read(&self.stdout), read(&self.stderr))
    }

    /// SIGKILL (std's `Child::kill` on unix): no shutdown, no flush.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
