//! The `keydesk` binary's command line: each command shows and takes only
//! its own options, and the server's log is plain text unless a person
//! reads it on a terminal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// Every variable keydesk reads, so the caller's environment cannot leak in.
const KEYDESK_VARIABLES: &[&str] = &[
    "KEYDESK_SERVER",
    "KEYDESK_TOKEN",
    "KEYDESK_TENANT",
    "KEYDESK_READONLY",
    "KEYDESK_CLIPBOARD",
    "KEYDESK_CLIPBOARD_CLEAR_SECONDS",
    "KEYDESK_LOG_FILE",
    "KEYDESK_LISTEN",
    "KEYDESK_DATABASE",
    "KEYDESK_DATA_DIR",
    "KEYDESK_PEPPER_FILE",
    "KEYDESK_PEPPER",
    "KEYDESK_BOOTSTRAP_TOKEN",
    "KEYDESK_LOG",
    "KEYDESK_SUSPICIOUS_SPIKE_FACTOR",
    "KEYDESK_SUSPICIOUS_SPIKE_MIN",
    "KEYDESK_SUSPICIOUS_FAILURE_SHARE",
    "KEYDESK_SUSPICIOUS_FAILURE_MIN",
    "KEYDESK_EVENT_STREAM_BUFFER",
    "KEYDESK_USAGE_HISTORY",
    "KEYDESK_PROFILE",
    "KEYDESK_CONFIG",
    "XDG_CONFIG_HOME",
    "NO_COLOR",
];

/// Runs `keydesk args…`; one that has not finished in 20 s (a server that
/// started when it should have refused) is killed, and its output returned.
fn keydesk(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keydesk"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in KEYDESK_VARIABLES {
        command.env_remove(name);
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

fn help(args: &[&str]) -> String {
    let output = keydesk(args);
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The console's connection options, and its behaviour options.
const CONNECTION: &[&str] = &["--server", "--token", "KEYDESK_SERVER", "KEYDESK_TOKEN"];
const BEHAVIOUR: &[&str] = &[
    "--tenant",
    "--readonly",
    "--clipboard",
    "--clipboard-clear-seconds",
    "--log-file",
    "KEYDESK_TENANT",
    "KEYDESK_CLIPBOARD",
    "KEYDESK_LOG_FILE",
];
const SERVER: &[&str] = &[
    "--listen",
    "--database",
    "--data-dir",
    "--pepper-file",
    "KEYDESK_LISTEN",
    "KEYDESK_DATABASE",
    "KEYDESK_DATA_DIR",
    "KEYDESK_PEPPER_FILE",
    "--suspicious-spike-factor",
    "--suspicious-spike-min",
    "--suspicious-failure-share",
    "--suspicious-failure-min",
    "--event-stream-buffer",
    "--usage-history",
    "KEYDESK_SUSPICIOUS_SPIKE_FACTOR",
    "KEYDESK_EVENT_STREAM_BUFFER",
    "--idle-timeout",
    "--header-timeout",
    "--body-timeout",
    "--max-connections",
    "--shutdown-timeout",
    "KEYDESK_IDLE_TIMEOUT",
    "KEYDESK_SHUTDOWN_TIMEOUT",
    "--metrics-token",
    "--server-timing",
    "--usage-retention-days",
    "--event-retention-days",
    "--idempotency-retention-hours",
    "KEYDESK_METRICS_TOKEN",
    "KEYDESK_USAGE_HISTORY",
];

fn assert_shows(text: &str, what: &[&str], context: &str) {
    for option in what {
        assert!(
            text.contains(option),
            "{context} should show {option}:\n{text}"
        );
    }
}

/// Whether `text` names `option` itself, not a longer one it begins
/// (`--server` is not in `--server-timing`).
fn names(text: &str, option: &str) -> bool {
    text.match_indices(option).any(|(at, _)| {
        !text[at + option.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

fn assert_hides(text: &str, what: &[&str], context: &str) {
    for option in what {
        assert!(
            !names(text, option),
            "{context} should not show {option}:\n{text}"
        );
    }
}

#[test]
fn serve_help_shows_only_server_options() {
    let text = help(&["serve", "--help"]);
    assert_shows(&text, SERVER, "serve --help");
    // What the server reads from the environment alone is listed too.
    assert_shows(
        &text,
        &[
            "KEYDESK_PEPPER ",
            "KEYDESK_BOOTSTRAP_TOKEN",
            "KEYDESK_LOG ",
            "NO_COLOR",
        ],
        "serve --help",
    );
    assert_hides(&text, CONNECTION, "serve --help");
    assert_hides(&text, BEHAVIOUR, "serve --help");
    assert_hides(&text, &["--as"], "serve --help");
}

#[test]
fn demo_help_shows_what_the_demo_uses() {
    let text = help(&["demo", "--help"]);
    assert_shows(&text, BEHAVIOUR, "demo --help");
    assert_shows(&text, &["--as <USER>"], "demo --help");
    // The demo brings its own server and signs in by itself.
    assert_hides(&text, CONNECTION, "demo --help");
    assert_hides(&text, SERVER, "demo --help");
}

#[test]
fn console_help_shows_the_console_options() {
    let text = help(&["--help"]);
    assert_shows(&text, CONNECTION, "keydesk --help");
    assert_shows(&text, BEHAVIOUR, "keydesk --help");
    assert_hides(&text, SERVER, "keydesk --help");
}

#[test]
fn serve_refuses_console_options() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for option in [
        &["--token", "kdm_x"][..],
        &["--readonly"],
        &["--clipboard", "osc52"],
    ] {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", data];
        args.extend(option);
        let output = keydesk(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("unexpected argument"), "{args:?}: {stderr}");
    }
}

#[test]
fn serve_refuses_thresholds_that_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for (option, value, says) in [
        ("--suspicious-failure-share", "1.5", "failure share"),
        ("--suspicious-spike-factor", "0.5", "spike factor"),
        ("--event-stream-buffer", "0", "event stream buffer"),
    ] {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", data];
        args.extend([option, value]);
        let output = keydesk(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// `keydesk serve` on 127.0.0.1:0 with a fresh data directory.
fn serve_command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keydesk"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::null());
    for name in KEYDESK_VARIABLES {
        command.env_remove(name);
    }
    command.env("KEYDESK_LOG", "debug");
    command
}

/// The port in the "keydesk listening" line, whether or not it is coloured.
fn listening_port(log: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.contains("keydesk listening"))?;
    let rest = &line[line.find("127.0.0.1:")? + "127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn stop(child: &mut Child) {
    // SIGTERM, so the server logs its graceful stop too.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn server_log_to_a_pipe_has_no_colour() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve_command(&dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        if let Some(port) = listening_port(&log) {
            break port;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not start:\n{log}"
        );
        if let Ok(line) = received.recv_timeout(Duration::from_millis(100)) {
            log.push_str(&line);
            log.push('\n');
        }
    };
    // A request, so the log has more than the start-up lines.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop(&mut child);
    reader.join().unwrap();
    log.extend(received.try_iter().map(|line| line + "\n"));

    assert!(log.contains("keydesk stopped"), "{log}");
    assert!(log.contains("/healthz"), "the request was logged:\n{log}");
    assert!(
        !log.contains("\x1b["),
        "a log written to a pipe has no ANSI codes:\n{log:?}"
    );
}

/// What `keydesk serve` writes to a pseudo-terminal until it is listening.
fn serve_on_a_terminal(no_color: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_keydesk"));
    command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]);
    command.arg(dir.path().join("data"));
    command.env("TERM", "xterm-256color");
    for name in KEYDESK_VARIABLES {
        command.env_remove(name);
    }
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let mut child = pair.slave.spawn_command(command).unwrap();
    drop(pair.slave);
    let mut output = pair.master.try_clone_reader().unwrap();
    let (chunks, received) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = output.read(&mut buffer) {
            if n == 0 || chunks.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut text = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&text).contains("keydesk listening") {
        assert!(
            Instant::now() < deadline,
            "the server did not start:\n{}",
            String::from_utf8_lossy(&text)
        );
        if let Ok(chunk) = received.recv_timeout(Duration::from_millis(100)) {
            text.extend(chunk);
        }
    }
    // The rest of the line, then stop.
    std::thread::sleep(Duration::from_millis(200));
    text.extend(received.try_iter().flatten());
    child.kill().unwrap();
    let _ = child.wait();
    drop(pair.master);
    String::from_utf8_lossy(&text).into_owned()
}

#[test]
fn server_log_on_a_terminal_is_coloured_unless_no_color() {
    let coloured = serve_on_a_terminal(None);
    assert!(
        coloured.contains("\x1b["),
        "on a terminal the log is coloured:\n{coloured:?}"
    );
    let plain = serve_on_a_terminal(Some("1"));
    assert!(
        !plain.contains("\x1b["),
        "NO_COLOR turns the colour off:\n{plain:?}"
    );
    // An empty NO_COLOR does not count (no-color.org).
    assert!(serve_on_a_terminal(Some("")).contains("\x1b["));
}
