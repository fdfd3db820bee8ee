//! Console benchmark against a real server holding many keys (see
//! bench/run.sh, which seeds 100,000): time from start to the first rows on
//! screen, time to load every page, time to draw one frame, time to apply a
//! filter keystroke and a sort, and the console's peak memory. The server
//! runs in another process, so the memory figure is the console's alone.
//!
//! Usage: console_bench --server URL --token TOKEN --tenant TENANT

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use keydesk::client::Client;
use keydesk::console::app::App;
use keydesk::console::clipboard::{Clipboard, ClipboardMode};
use keydesk::console::net::Net;
use keydesk::console::render;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn arg(name: &str) -> anyhow::Result<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .ok_or_else(|| anyhow::anyhow!("missing {name}"))
}

/// A field of /proc/self/status in MiB (VmRSS, VmHWM).
fn memory_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (server, token, tenant) = (arg("--server")?, arg("--token")?, arg("--tenant")?);
    let baseline_rss = memory_mib("VmRSS:");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let clipboard = Clipboard::new(
        ClipboardMode::Off,
        Duration::ZERO,
        Box::new(std::io::sink()),
    );
    let mut app = App::new(
        Net::new(Client::new(&server, &token)?, tx),
        clipboard,
        Some(tenant),
        false,
        "KEYDESK_TOKEN",
    );
    let mut terminal = Terminal::new(TestBackend::new(120, 40))?;
    app.on_resize(120, 40);

    let started = Instant::now();
    app.start();
    let mut first_rows = None;
    while app.keys.loading.is_some() || app.keys.keys.is_empty() {
        let Some(msg) = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await? else {
            break;
        };
        app.on_msg(msg);
        if first_rows.is_none() && !app.keys.keys.is_empty() {
            terminal.draw(|f| render::render(&app, f))?;
            first_rows = Some(started.elapsed());
        }
    }
    let loaded = started.elapsed();
    let keys = app.keys.keys.len();

    // One frame: the whole screen, with the selection moving.
    let mut frames = Vec::new();
    for i in 0..300 {
        app.on_key(key(if i % 50 < 25 { 'j' } else { 'k' }));
        let t = Instant::now();
        terminal.draw(|f| render::render(&app, f))?;
        frames.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut small = Terminal::new(TestBackend::new(80, 24))?;
    app.on_resize(80, 24);
    let mut frames_small = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        small.draw(|f| render::render(&app, f))?;
        frames_small.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    app.on_resize(120, 40);

    // Filter keystrokes: typing narrows, backspace widens, a new word restarts.
    app.on_key(key('/'));
    let mut keystrokes = Vec::new();
    let typing: Vec<KeyEvent> = "billing-s"
        .chars()
        .map(key)
        .chain(std::iter::repeat_n(
            KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE),
            9,
        ))
        .chain("ana".chars().map(key))
        .collect();
    for stroke in typing {
        let t = Instant::now();
        app.on_key(stroke);
        terminal.draw(|f| render::render(&app, f))?;
        keystrokes.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));

    let mut sorts = Vec::new();
    for _ in 0..6 {
        // `s` opens the column choice; ↓ Enter picks the next column.
        let t = Instant::now();
        app.on_key(key('s'));
        app.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        sorts.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    println!("console benchmark: {keys} keys, release build");
    println!(
        "  first rows on screen      {:>8.1} ms",
        first_rows.unwrap_or_default().as_secs_f64() * 1000.0
    );
    println!(
        "  all pages loaded          {:>8.1} ms",
        loaded.as_secs_f64() * 1000.0
    );
    println!(
        "  frame 120x40   p50 {:>6.3} ms  p99 {:>6.3} ms",
        percentile(&mut frames, 0.5),
        percentile(&mut frames, 0.99)
    );
    println!(
        "  frame 80x24    p50 {:>6.3} ms  p99 {:>6.3} ms",
        percentile(&mut frames_small, 0.5),
        percentile(&mut frames_small, 0.99)
    );
    println!(
        "  filter key     p50 {:>6.3} ms  max {:>6.3} ms  (keystroke + frame)",
        percentile(&mut keystrokes, 0.5),
        percentile(&mut keystrokes, 1.0)
    );
    println!(
        "  sort (s)       p50 {:>6.3} ms  max {:>6.3} ms",
        percentile(&mut sorts, 0.5),
        percentile(&mut sorts, 1.0)
    );
    println!(
        "  memory         peak {:>6.1} MiB  (RSS before connecting {:.1} MiB)",
        memory_mib("VmHWM:"),
        baseline_rss
    );
    Ok(())
}
