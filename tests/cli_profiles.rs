//! Configuration profiles through the real binary: `keydesk config init`,
//! a broken file, an unreachable server, and a real server reached with a
//! profile's `token_command`, a flag or a variable winning over it. Every
//! command runs with a temporary HOME and XDG_CONFIG_HOME and without the
//! caller's KEYDESK_* variables.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A home of its own: HOME, XDG_CONFIG_HOME and XDG_STATE_HOME point
/// inside a temporary directory.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config_home(&self) -> PathBuf {
        self.dir.path().join("xdg-config")
    }

    /// Where keydesk looks for its file in this home.
    fn config_file(&self) -> PathBuf {
        self.config_home().join("keydesk").join("config.toml")
    }

    /// Writes the configuration file, readable by its owner alone.
    fn write_config(&self, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.config_file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    /// `keydesk args…` in this home, with `vars` set.
    fn keydesk(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keydesk"));
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        isolate(&mut command, self.dir.path());
        command.env("XDG_CONFIG_HOME", self.config_home());
        for (name, value) in vars {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait_with_output().unwrap()
    }
}

/// No KEYDESK_* variable of the caller's, and a home of its own.
fn isolate(command: &mut Command, home: &Path) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYDESK_") {
            command.env_remove(&name);
        }
    }
    for name in [
        "XDG_CONFIG_HOME",
        "XDG_STATE_HOME",
        "XDG_DATA_HOME",
        "NO_COLOR",
    ] {
        command.env_remove(name);
    }
    command.env("HOME", home);
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn config_init_writes_a_private_file_and_refuses_to_replace_it() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let path = home.config_file();

    let first = home.keydesk(&["config", "init"], &[]);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert!(
        stderr(&first).contains(&path.display().to_string()),
        "{first:?}"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("[profiles.") && text.contains("token_env"),
        "{text}"
    );

    std::fs::write(&path, "# my own\n").unwrap();
    let second = home.keydesk(&["config", "init"], &[]);
    assert_eq!(second.status.code(), Some(2), "{second:?}");
    assert!(stderr(&second).contains("--force"), "{second:?}");
    assert!(
        stderr(&second).contains(&path.display().to_string()),
        "{second:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# my own\n");

    let forced = home.keydesk(&["config", "init", "--force"], &[]);
    assert_eq!(forced.status.code(), Some(0), "{forced:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    let shown = home.keydesk(&["config", "path"], &[]);
    assert_eq!(stdout(&shown).trim(), path.display().to_string());
    let named = home.dir.path().join("elsewhere.toml");
    let shown = home.keydesk(
        &["config", "path"],
        &[("KEYDESK_CONFIG", named.to_str().unwrap())],
    );
    assert_eq!(stdout(&shown).trim(), named.display().to_string());
}

#[test]
fn a_broken_file_stops_a_command_naming_the_file_and_line() {
    let home = Home::new();
    let path = home.write_config(
        "default_profile = \"p\"\n\n[profiles.p]\nserver = \"http://127.0.0.1:9\"\nsevrer = \"typo\"\n",
    );
    let output = home.keydesk(&["keys", "list"], &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let message = stderr(&output);
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("line 5"), "{message}");
    assert!(message.contains("unknown field `sevrer`"), "{message}");

    // The console reads the same file, and stops the same way.
    let output = home.keydesk(&[], &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr(&output).contains("line 5"), "{output:?}");
}

#[test]
fn a_profile_asked_for_that_is_not_there_names_the_file_and_the_profiles() {
    let home = Home::new();
    let path = home.write_config("[profiles.prod]\nserver = \"https://keys.example\"\n");
    let output = home.keydesk(&["keys", "list"], &[("KEYDESK_PROFILE", "staging")]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let message = stderr(&output);
    assert!(
        message.contains("'staging'") && message.contains("'prod'"),
        "{message}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_server_names_the_url_and_the_profile() {
    let home = Home::new();
    let url = format!("http://127.0.0.1:{}", closed_port());
    home.write_config(&format!(
        "[profiles.p]\nserver = \"{url}\"\ntenant = \"acme\"\ntoken_command = \"printf kdm_x\"\n"
    ));
    let output = home.keydesk(&["keys", "list", "--profile", "p"], &[]);
    assert_eq!(output.status.code(), Some(6), "{output:?}");
    let message = stderr(&output);
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("profile 'p'"), "{message}");
}

#[test]
fn with_nothing_configured_the_console_says_how_to_start() {
    let home = Home::new();
    let output = home.keydesk(&[], &[]);
    assert!(!output.status.success(), "{output:?}");
    let message = stderr(&output);
    for way in [
        "keydesk demo",
        "--server",
        "KEYDESK_TOKEN",
        "keydesk config init",
        &home.config_file().display().to_string(),
    ] {
        assert!(message.contains(way), "{way}: {message}");
    }
}

/// A `keydesk serve` of its own, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
    _data: tempfile::TempDir,
}

/// The bootstrap administrator's token.
const ADMIN_TOKEN: &str = "kdm_profiles_test_bootstrap_token_0123456789";

impl Server {
    fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_keydesk"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path().join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        isolate(&mut command, data.path());
        command.env("KEYDESK_BOOTSTRAP_TOKEN", ADMIN_TOKEN);
        let mut child = command.spawn().unwrap();
        // Read the log to its end (a full pipe would stall the server),
        // and pick the port from its "listening" line.
        let log = child.stderr.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(log).lines() {
                let Ok(line) = line else { break };
                let _ = lines.send(line);
            }
        });
        let mut server = Self {
            child,
            port: 0,
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = String::new();
        while server.port == 0 {
            assert!(
                Instant::now() < deadline,
                "the server did not start:\n{seen}"
            );
            if let Ok(line) = received.recv_timeout(Duration::from_millis(100)) {
                server.port = listening_port(&line).unwrap_or(0);
                seen.push_str(&line);
                seen.push('\n');
            }
        }
        while !server
            .request("GET", "/healthz", "")
            .starts_with("HTTP/1.1 200")
        {
            assert!(Instant::now() < deadline, "/healthz did not answer 200");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One HTTP/1.1 request as the administrator; the whole answer.
    fn request(&self, method: &str, path: &str, body: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {ADMIN_TOKEN}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in the "keydesk listening" line.
fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("keydesk listening") {
        return None;
    }
    let rest = &line[line.find("127.0.0.1:")? + "127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
fn a_profile_token_command_reaches_a_real_server_and_a_flag_or_variable_beats_it() {
    let server = Server::start();
    let created = server.request(
        "POST",
        "/v1/tenants",
        r#"{"id":"acme","name":"Acme","settings":{"api_keys_enabled":true}}"#,
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");

    let home = Home::new();
    let url = server.url();
    home.write_config(&format!(
        r#"default_profile = "local"

[profiles.local]
server = "{url}"
tenant = "acme"
token_command = "printf %s {ADMIN_TOKEN}"

[profiles.broken]
server = "{url}"
tenant = "acme"
token_command = "exit 3"
"#
    ));

    let made = home.keydesk(
        &["keys", "create", "billing-sync", "--profile", "local"],
        &[],
    );
    assert_eq!(made.status.code(), Some(0), "{made:?}");
    assert!(
        stdout(&made).starts_with("kd"),
        "the secret alone: {made:?}"
    );

    // The default profile, and the one KEYDESK_PROFILE names.
    for vars in [&[][..], &[("KEYDESK_PROFILE", "local")]] {
        let listed = home.keydesk(&["keys", "list"], vars);
        assert_eq!(listed.status.code(), Some(0), "{vars:?}: {listed:?}");
        assert!(stdout(&listed).contains("billing-sync"), "{listed:?}");
    }

    let flag = home.keydesk(
        &["keys", "list", "--profile", "local", "--token", "wrong"],
        &[],
    );
    assert_eq!(flag.status.code(), Some(4), "{flag:?}");
    assert!(
        stderr(&flag).contains("refused the token from --token"),
        "{flag:?}"
    );

    let variable = home.keydesk(&["keys", "list"], &[("KEYDESK_TOKEN", "wrong")]);
    assert_eq!(variable.status.code(), Some(4), "{variable:?}");
    assert!(
        stderr(&variable).contains("refused the token from KEYDESK_TOKEN"),
        "{variable:?}"
    );

    // A command that fails is named with its profile and exit status.
    let broken = home.keydesk(&["keys", "list", "--profile", "broken"], &[]);
    assert_eq!(broken.status.code(), Some(2), "{broken:?}");
    let message = stderr(&broken);
    assert!(
        message.contains("token_command of profile 'broken'"),
        "{message}"
    );
    assert!(message.contains("exit status: 3"), "{message}");
    // …while a token from the environment means it is never run.
    let given = home.keydesk(
        &["keys", "list", "--profile", "broken"],
        &[("KEYDESK_TOKEN", ADMIN_TOKEN)],
    );
    assert_eq!(given.status.code(), Some(0), "{given:?}");
    assert!(stdout(&given).contains("billing-sync"), "{given:?}");
}
