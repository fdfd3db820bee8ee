//! A real server, and the `keydesk` binary run against it with a clean
//! environment (no caller's variables, no configuration file).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_keydesk");
pub const ADMIN_TOKEN: &str = "kdm_scripting_0123456789abcdef0123456789abcdef";

/// A `keydesk serve` process; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every variable that could steer keydesk, removed from each command.
fn clean(command: &mut Command, home: &Path) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYDESK_") {
            command.env_remove(name);
        }
    }
    command
        .env_remove("NO_COLOR")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"));
}

/// `keydesk serve` on `listen` with its data in `dir`; its URL once it listens.
fn spawn(dir: &Path, listen: &str) -> (Child, String) {
    let mut command = Command::new(BIN);
    clean(&mut command, dir);
    let mut child = command
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(dir.join("data"))
        .env("KEYDESK_BOOTSTRAP_TOKEN", ADMIN_TOKEN)
        .env("KEYDESK_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    let url = loop {
        assert!(Instant::now() < deadline, "the server did not start");
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "the server stopped");
        if let Some(at) = line.find("address=") {
            let address = line[at + 8..].split_whitespace().next().unwrap();
            break format!("http://{address}");
        }
    };
    // Keep reading the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in log.lines() {});
    (child, url)
}

impl Server {
    /// Stops the server and starts it again on the same address and data.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let listen = self.url.trim_start_matches("http://").to_owned();
        let (child, url) = spawn(self.dir.path(), &listen);
        self.child = child;
        assert_eq!(url, self.url);
    }

    /// Starts a server, with tenant `acme` (API keys on).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (child, url) = spawn(dir.path(), "127.0.0.1:0");
        let server = Self { child, url, dir };
        let made = server.run(&[
            "tenants",
            "create",
            "acme",
            "--name",
            "Acme",
            "--enable-keys",
        ]);
        assert_eq!(made.code, 0, "{made:?}");
        server
    }

    /// `keydesk args…` as the system administrator, tenant `acme`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[("KEYDESK_TOKEN", ADMIN_TOKEN)], None)
    }

    /// `keydesk args…` with these variables (besides the server and
    /// tenant) and this stdin.
    pub fn run_with(&self, args: &[&str], vars: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut command = self.command(args);
        for (name, value) in vars {
            command.env(name, value);
        }
        run(command, stdin)
    }

    /// The command, not yet run: server and tenant set, no token.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        clean(&mut command, self.dir.path());
        command
            .args(args)
            .env("KEYDESK_SERVER", &self.url)
            .env("KEYDESK_TENANT", "acme")
            .current_dir(self.dir.path());
        command
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Creates a key; its secret.
    pub fn key(&self, name: &str, extra: &[&str]) -> String {
        let mut args = vec!["keys", "create", name];
        args.extend(extra);
        let made = self.run(&args);
        assert_eq!(made.code, 0, "{made:?}");
        made.stdout.trim().to_owned()
    }

    /// The id of the key named `name`.
    pub fn key_id(&self, name: &str) -> String {
        let keys = self.run(&["keys", "list", "-o", "json", "-q", name]).json();
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap_or_else(|| panic!("no key {name}: {keys}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// What a command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.code, 0, "{self:?}");
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// Asserts the exit code, and returns the run.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "{self:?}");
        self
    }
}

/// Runs `command` (killed after 30 s) with `stdin`.
pub fn run(mut command: Command, stdin: Option<&str>) -> Run {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    // Read while it runs (a long output would block it otherwise); a
    // command still running after 30 s is killed.
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let Output {
        status,
        stdout,
        stderr,
    } = match receiver.recv_timeout(Duration::from_secs(30)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            receiver.recv().unwrap().unwrap()
        }
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

impl Run {
    /// The JSON on stdout, whatever the exit code.
    pub fn json_unchecked(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// `keydesk events tail -o json` running against a server: its first line
/// on stderr, and each line of stdout as it comes. Killed when dropped.
pub struct Tail {
    child: Child,
    pub note: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Tail {
    pub fn start(server: &Server) -> Self {
        let mut command = server.command(&["events", "tail", "-o", "json"]);
        command
            .env("KEYDESK_TOKEN", ADMIN_TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut note = String::new();
        stderr.read_line(&mut note).unwrap();
        std::thread::spawn(move || for _ in stderr.lines() {});
        let (sender, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if sender.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Self { child, note, lines }
    }

    /// The next event printed, within `wait`.
    pub fn next(&self, wait: Duration) -> Option<serde_json::Value> {
        let line = self.lines.recv_timeout(wait).ok()?;
        Some(serde_json::from_str(&line).unwrap())
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
