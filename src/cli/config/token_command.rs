//! A profile's `token_command`: run once with `sh -c` when a token is
//! needed, its standard output (trimmed) is the token. The command may ask
//! for a passphrase on the terminal (stderr is the user's); it never sees
//! our stdin, and it gets a bounded time.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// How long a token command may take by default (a password manager may
/// ask for its passphrase first).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a token command gave no token. None of these says the command's
/// text or its output: either may hold the token.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("could not be started with sh -c: {0}")]
    Start(std::io::Error),
    #[error("failed ({0})")]
    Exited(ExitStatus),
    #[error("did not finish within {} s and was stopped", .0.as_secs())]
    TimedOut(Duration),
    #[error(
        "printed nothing (it exited successfully, but a token was expected on its standard output)"
    )]
    Empty,
    #[error("printed something that is not UTF-8 text")]
    NotText,
    #[error("could not be read: {0}")]
    Read(std::io::Error),
}

/// Runs `command` with `sh -c` and returns what it printed, trimmed.
pub fn run(command: &str, timeout: Duration) -> Result<Zeroizing<String>, Failure> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(Failure::Start)?;
    let deadline = Instant::now() + timeout;
    let Some(mut stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err(Failure::Read(std::io::Error::other("no standard output")));
    };
    // Read on a thread, so a command that never closes its output (or
    // leaves a child holding it) cannot hold us past the deadline.
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        let mut output = Zeroizing::new(Vec::with_capacity(4096));
        let read = stdout.read_to_end(&mut output).map(|_| output);
        let _ = sender.send(read);
    });
    let stop = |mut child: std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
        Failure::TimedOut(timeout)
    };
    let output = match received.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(read) => read.map_err(Failure::Read)?,
        Err(_) => return Err(stop(child)),
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => return Err(stop(child)),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => return Err(Failure::Read(error)),
        }
    };
    if !status.success() {
        return Err(Failure::Exited(status));
    }
    let text = std::str::from_utf8(&output).map_err(|_| Failure::NotText)?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Failure::Empty);
    }
    Ok(Zeroizing::new(token.to_owned()))
}
