//! The terminal console: state, actions, keymap, views, dialogs, clipboard.
//! `run` owns the terminal: raw mode, alternate screen and mouse capture on
//! entry; all three undone on exit, on error and on panic. The loop selects
//! over terminal input, results of background requests and a tick, so a
//! slow server never delays a keystroke.

pub mod answers;
pub mod app;
pub mod clipboard;
pub mod command_line;
pub mod dialog;
pub mod keymap;
pub mod layout;
pub mod lookup;
pub mod net;
pub mod render;
pub mod session;
pub mod shell;
pub mod tenants;
pub mod views;
pub mod widgets;

use std::io::{Stdout, stdout};
use std::time::Duration;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    EventStream, KeyEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::StreamExt as _;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use zeroize::Zeroizing;

use self::app::App;
use self::clipboard::{Clipboard, ClipboardMode};
use self::net::Net;
use crate::client::Client;

/// How the console was asked to run.
pub struct ConsoleConfig {
    pub server: String,
    pub token: Zeroizing<String>,
    pub tenant: Option<String>,
    pub readonly: bool,
    pub clipboard: ClipboardMode,
    pub clipboard_clear: Duration,
    /// Where the token came from (`KEYDESK_TOKEN`, `--token`), named when it is refused.
    pub token_source: String,
    /// False with NO_COLOR or a profile's `theme = "no-color"`.
    pub color: bool,
}

const TICK: Duration = Duration::from_millis(250);

/// Puts the terminal back as it was. Safe to call more than once.
fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Owns the terminal's raw state; dropping it restores the terminal.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        enable_raw_mode()?;
        let guard = Self {
            terminal: Terminal::new(CrosstermBackend::new(stdout()))?,
        };
        execute!(
            stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            EnableBracketedPaste
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// SIGHUP (the SSH session or terminal went away) and SIGTERM: quit
/// through the normal path, so the terminal is restored and `keydesk demo`
/// removes its temporary files.
struct Hangup {
    #[cfg(unix)]
    signals: Vec<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = [SignalKind::hangup(), SignalKind::terminate()]
                .into_iter()
                .filter_map(|kind| signal(kind).ok())
                .collect();
            Self { signals }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            if self.signals.is_empty() {
                return std::future::pending().await;
            }
            let waits = self.signals.iter_mut().map(|s| Box::pin(s.recv()));
            futures::future::select_all(waits).await;
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}

/// True unless `NO_COLOR` is set to something (see no-color.org).
#[must_use]
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Runs the console until the user quits.
pub async fn run(config: ConsoleConfig) -> anyhow::Result<()> {
    let client = Client::new(&config.server, &config.token)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let clipboard = Clipboard::new(config.clipboard, config.clipboard_clear, Box::new(stdout()));
    let client = client.readonly(config.readonly);
    let mut app = App::new(
        Net::new(client, tx),
        clipboard,
        config.tenant,
        config.readonly,
        &config.token_source,
    );
    app.color = config.color;

    let mut guard = TerminalGuard::enter()?;
    let size = guard.terminal.size()?;
    app.on_resize(size.width, size.height);
    app.start();
    let mut events = EventStream::new();
    let mut hangup = Hangup::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        guard.terminal.draw(|frame| render::render(&app, frame))?;
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => app.on_key(key),
                Some(Ok(Event::Mouse(mouse))) => app.on_mouse(mouse),
                Some(Ok(Event::Resize(width, height))) => app.on_resize(width, height),
                Some(Ok(Event::Paste(text))) => app.on_paste(&zeroize::Zeroizing::new(text)),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err.into()),
                None => break,
            },
            Some(msg) = rx.recv() => app.on_msg(msg),
            _ = tick.tick() => app.on_tick(),
            () = hangup.recv() => app.quit = true,
        }
        if app.quit {
            break;
        }
    }
    drop(guard);
    if let Some(reason) = app.sign_in_failure() {
        anyhow::bail!("{reason}");
    }
    Ok(())
}
