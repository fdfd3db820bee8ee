//! Copying to the clipboard the user actually sits at. Over SSH (or with no
//! display) that is the *local* terminal's clipboard, reached with OSC 52;
//! on a desktop it is the system clipboard through one long-lived arboard
//! handle (X11 clipboards die with the handle that owns them).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Where copies go (`--clipboard`, `KEYDESK_CLIPBOARD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ClipboardMode {
    /// OSC 52 over SSH or without a display, else the system clipboard.
    #[default]
    Auto,
    /// The system clipboard (arboard).
    Native,
    /// The terminal's clipboard, with the OSC 52 escape sequence.
    Osc52,
    /// Never copy.
    Off,
}

/// Where a copy went, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copied {
    /// The system clipboard; a secret is cleared after the given delay.
    Native { clears_after: Option<Duration> },
    /// The terminal's clipboard via OSC 52 (cannot be cleared from here).
    Terminal,
}

impl Copied {
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Copied::Native {
                clears_after: Some(after),
            } => {
                format!("to the system clipboard (cleared in {} s)", after.as_secs())
            }
            Copied::Native { clears_after: None } => "to the system clipboard".to_owned(),
            Copied::Terminal => "to the terminal clipboard (OSC 52)".to_owned(),
        }
    }
}

/// True when the console runs in an SSH session.
#[must_use]
pub fn over_ssh() -> bool {
    std::env::var_os("SSH_CONNECTION").is_some() || std::env::var_os("SSH_TTY").is_some()
}

fn display_reachable() -> bool {
    std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

/// The OSC 52 sequence that sets the clipboard to `text`.
#[must_use]
pub fn osc52(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{encoded}\x07")
}

type Sink = Box<dyn Write + Send>;

pub struct Clipboard {
    mode: ClipboardMode,
    native: Option<Arc<Mutex<arboard::Clipboard>>>,
    terminal: Mutex<Sink>,
    clear_after: Duration,
}

impl Clipboard {
    /// A clipboard writing OSC 52 to `terminal` (normally stdout).
    #[must_use]
    pub fn new(mode: ClipboardMode, clear_after: Duration, terminal: Sink) -> Self {
        let wants_native = match mode {
            ClipboardMode::Native => true,
            ClipboardMode::Auto => !over_ssh() && display_reachable(),
            ClipboardMode::Osc52 | ClipboardMode::Off => false,
        };
        let native = if wants_native {
            arboard::Clipboard::new()
                .map_err(
                    |e| tracing::warn!(error = %e, "no system clipboard; falling back to OSC 52"),
                )
                .ok()
                .map(|c| Arc::new(Mutex::new(c)))
        } else {
            None
        };
        Self {
            mode,
            native,
            terminal: Mutex::new(terminal),
            clear_after,
        }
    }

    #[must_use]
    pub fn mode(&self) -> ClipboardMode {
        self.mode
    }

    /// Copies `text`; a `secret` is cleared from the system clipboard after
    /// the configured delay if it is still there.
    pub fn copy(&self, text: &str, secret: bool) -> Result<Copied, String> {
        if self.mode == ClipboardMode::Off {
            return Err("the clipboard is off (--clipboard off)".to_owned());
        }
        if let Some(native) = &self.native {
            let mut clipboard = native
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            clipboard
                .set_text(text.to_owned())
                .map_err(|e| format!("the system clipboard refused: {e}"))?;
            drop(clipboard);
            if secret && !self.clear_after.is_zero() {
                self.clear_later(native, text);
                return Ok(Copied::Native {
                    clears_after: Some(self.clear_after),
                });
            }
            return Ok(Copied::Native { clears_after: None });
        }
        if self.mode == ClipboardMode::Native {
            return Err("no system clipboard is reachable; try --clipboard osc52".to_owned());
        }
        let mut terminal = self
            .terminal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        terminal
            .write_all(osc52(text).as_bytes())
            .and_then(|()| terminal.flush())
            .map_err(|e| format!("cannot write to the terminal: {e}"))?;
        Ok(Copied::Terminal)
    }

    /// Clears the system clipboard after the delay, if it still holds what
    /// was copied. Only a digest of the secret is kept meanwhile.
    fn clear_later(&self, native: &Arc<Mutex<arboard::Clipboard>>, text: &str) {
        let digest = Sha256::digest(text.as_bytes());
        let native = Arc::clone(native);
        let delay = self.clear_after;
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let mut clipboard = native
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let still_there = clipboard
                .get_text()
                .map(|current| Sha256::digest(current.as_bytes()) == digest)
                .unwrap_or(false);
            if still_there {
                let _ = clipboard.clear();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn osc52_mode_writes_the_escape_sequence_to_the_terminal() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let clipboard = Clipboard::new(
            ClipboardMode::Osc52,
            Duration::from_secs(30),
            Box::new(Shared(out.clone())),
        );
        assert_eq!(clipboard.copy("key_01ABC", false), Ok(Copied::Terminal));
        let written = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert_eq!(written, "\x1b]52;c;a2V5XzAxQUJD\x07");
    }

    #[test]
    fn off_mode_copies_nothing_and_says_so() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let clipboard = Clipboard::new(
            ClipboardMode::Off,
            Duration::from_secs(30),
            Box::new(Shared(out.clone())),
        );
        assert!(clipboard.copy("x", false).unwrap_err().contains("off"));
        assert!(out.lock().unwrap().is_empty());
    }
}
