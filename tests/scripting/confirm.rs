//! Asking at a terminal: the question on stderr, the answer typed; with the
//! secret on stdin (`… | keydesk keys lookup - --revoke`) the answer comes
//! from the terminal itself. Run in a pseudo-terminal.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::support::{ADMIN_TOKEN, BIN, Server};

/// Runs `sh -c script` in a terminal, answers `answer` once `question`
/// shows, and returns everything the terminal showed and the exit code.
fn in_terminal(server: &Server, script: &str, question: &str, answer: &str) -> (String, u32) {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut command = CommandBuilder::new("sh");
    command.args(["-c", script]);
    command.env_clear();
    command.env("PATH", std::env::var("PATH").unwrap_or_default());
    command.env("HOME", server.home());
    command.env("XDG_CONFIG_HOME", server.home().join("config"));
    command.env("KEYDESK", BIN);
    command.env("KEYDESK_SERVER", &server.url);
    command.env("KEYDESK_TENANT", "acme");
    command.env("KEYDESK_TOKEN", ADMIN_TOKEN);
    command.cwd(server.home());
    let mut child = pty.slave.spawn_command(command).unwrap();
    drop(pty.slave);
    let shown = Arc::new(Mutex::new(String::new()));
    let mut reader = pty.master.try_clone_reader().unwrap();
    let sink = Arc::clone(&shown);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    let mut writer = pty.master.take_writer().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !shown.lock().unwrap().contains(question) {
        assert!(
            Instant::now() < deadline,
            "no question: {}",
            shown.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.write_all(answer.as_bytes()).unwrap();
    writer.flush().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running: {}", shown.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(100));
    let text = shown.lock().unwrap().clone();
    (text, status.exit_code())
}

#[test]
fn a_person_at_a_terminal_is_asked_and_no_means_nothing_changes() {
    let server = Server::start();
    server.key("asked", &[]);
    let id = server.key_id("asked");
    let (shown, code) = in_terminal(
        &server,
        &format!("\"$KEYDESK\" keys delete {id}"),
        "[y/N]",
        "n\r",
    );
    assert_eq!(code, 7, "{shown}");
    assert!(
        shown.contains("asked") && shown.contains("Delete them?"),
        "{shown}"
    );
    server.run(&["keys", "get", &id]).expect(0);
    let (shown, code) = in_terminal(
        &server,
        &format!("\"$KEYDESK\" keys delete {id}"),
        "[y/N]",
        "y\r",
    );
    assert_eq!(code, 0, "{shown}");
    server.run(&["keys", "get", &id]).expect(3);
}

#[test]
fn with_the_secret_piped_in_the_answer_comes_from_the_terminal() {
    let server = Server::start();
    let secret = server.key("leaked", &[]);
    std::fs::write(server.home().join("leaked.key"), &secret).unwrap();
    let (shown, code) = in_terminal(
        &server,
        "cat leaked.key | \"$KEYDESK\" keys lookup - --revoke",
        "Revoke it now? [y/N]",
        "y\r",
    );
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("revoked key leaked"), "{shown}");
    assert!(!shown.contains(&secret), "the secret was echoed: {shown}");
    let key = server
        .run(&["keys", "get", &server.key_id("leaked"), "-o", "json"])
        .json();
    assert_eq!(key["status"], "revoked");
}
