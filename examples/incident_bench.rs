//! The benchmarks of issue 7 that need the typed client or the console
//! (`bench/run.sh` runs them against its server; BENCHMARKS.md has the
//! figures). Each prints a human summary on stderr and one JSON line on
//! stdout.
//!
//! - `revoke`: from the revoke keypress in the console to the first failing
//!   verification. The console's own `App` (as in `console_bench`) follows
//!   the tenant; for each run a fresh key is created over the API, the
//!   console learns of it through its event stream, verifiers hammer its
//!   secret, the secret is pasted into the console (the on-call path: paste,
//!   Enter lands on the key), then `r` and `y` are pressed. The clock starts
//!   before `r` and stops when a verifier receives the first answer that is
//!   not `VALID`. Runs alternate with a baseline that sends the revoke
//!   straight from `Client::revoke_key`, without the console.
//! - `lookup`: `POST /v1/keys/lookup` of the seeded secrets, interleaved
//!   with `POST /v1/verify` of the same secrets as the baseline; one
//!   keep-alive connection each, one request at a time.
//! - `stream`: `--clients` event streams (`GET …/events/stream`) of one
//!   tenant while writers edit keys at `--rate` a second: delivery latency
//!   from each mutation's answer to its event's arrival at each client,
//!   events lost, and the rate the writers reached.
//!
//! ```text
//! incident_bench revoke --server URL --token TOKEN [--runs 50]
//! incident_bench lookup --server URL --token TOKEN --secrets FILE
//! incident_bench stream --server URL --token TOKEN [--clients 50 --rate 100 --seconds 20]
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use clap::{Parser, Subcommand};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use futures::StreamExt as _;
use keydesk::api::{self, VerifyCode};
use keydesk::client::Client;
use keydesk::console::app::App;
use keydesk::console::clipboard::{Clipboard, ClipboardMode};
use keydesk::console::net::{Msg, Net};
use keydesk::domain::{KeyStatus, Role};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

#[derive(Parser)]
#[command(about = "keydesk benchmarks of issue 7: revoke to failure, lookup, event stream")]
struct Cli {
    /// The keydesk server, e.g. http://127.0.0.1:7070.
    #[arg(long, global = true, default_value = "http://127.0.0.1:7070")]
    server: String,
    /// A system administrator's management token.
    #[arg(long, global = true, env = "KEYDESK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Revoke keypress (console) to the first failing verification, beside a revoke sent by the client alone.
    Revoke {
        /// The tenant to create (keys are created and revoked in it).
        #[arg(long, default_value = "incident")]
        tenant: String,
        /// Runs of each kind (console, client), alternating.
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Concurrent verifier loops hammering the key's secret.
        #[arg(long, default_value_t = 2)]
        verifiers: usize,
    },
    /// Lookup latency of the seeded secrets beside their verify latency.
    Lookup {
        /// The secrets, one per line (bench_seed's --secrets-out).
        #[arg(long)]
        secrets: PathBuf,
        /// Timed passes over every secret (one untimed pass first).
        #[arg(long, default_value_t = 10)]
        passes: usize,
    },
    /// Event delivery to many stream clients while keys are edited at a fixed rate.
    Stream {
        /// The tenant to create (its keys are edited, its stream followed).
        #[arg(long, default_value = "live")]
        tenant: String,
        /// Event stream clients.
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Mutations a second, in all.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        /// How long the writers write.
        #[arg(long, default_value_t = 20)]
        seconds: u32,
        /// Writer tasks; each edits its own key, one request at a time.
        #[arg(long, default_value_t = 4)]
        writers: usize,
        /// How long to wait after the last mutation for events still under way.
        #[arg(long, default_value_t = 5)]
        drain_seconds: u64,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let token = cli
        .token
        .ok_or_else(|| anyhow!("no token: pass --token or set KEYDESK_TOKEN"))?;
    let report = match cli.command {
        Command::Revoke {
            tenant,
            runs,
            verifiers,
        } => revoke(&cli.server, &token, &tenant, runs, verifiers.max(1)).await?,
        Command::Lookup { secrets, passes } => {
            lookup(&cli.server, &token, &secrets, passes).await?
        }
        Command::Stream {
            tenant,
            clients,
            rate,
            seconds,
            writers,
            drain_seconds,
        } => {
            let plan = StreamPlan {
                clients,
                rate: rate.max(1),
                seconds,
                writers: writers.max(1),
                drain: Duration::from_secs(drain_seconds),
            };
            stream(&cli.server, &token, &tenant, &plan).await?
        }
    };
    println!("{report}");
    Ok(())
}

// ------------------------------------------------------------------ figures

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `b - a` in milliseconds, negative when `b` came first.
fn signed_millis(a: Instant, b: Instant) -> f64 {
    if b >= a {
        millis(b - a)
    } else {
        -millis(a - b)
    }
}

/// Nearest-rank percentile of sorted values (as bench/bench.py computes it).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// Count, min, p50, p90, p99, max and mean of `values` (milliseconds).
fn summary(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    json!({
        "n": values.len(),
        "min": values.first().copied().unwrap_or(f64::NAN),
        "p50": percentile(&values, 50.0),
        "p90": percentile(&values, 90.0),
        "p99": percentile(&values, 99.0),
        "max": values.last().copied().unwrap_or(f64::NAN),
        "mean": mean,
    })
}

fn show(label: &str, s: &Value) -> String {
    let f = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
    format!(
        "  {label:<34} p50 {:>8.3}  p90 {:>8.3}  p99 {:>8.3}  max {:>8.3} ms  (n={})",
        f("p50"),
        f("p90"),
        f("p99"),
        f("max"),
        s["n"]
    )
}

// ------------------------------------------------------------------ setup

/// Creates `tenant` (API keys on) with one licensed developer to own its
/// keys; returns the developer's id.
async fn tenant_with_owner(admin: &Client, tenant: &str) -> Result<String> {
    admin
        .create_tenant(&api::CreateTenant {
            id: tenant.to_owned(),
            name: format!("Benchmark {tenant}"),
            settings: Some(api::UpdateSettings {
                api_keys_enabled: Some(true),
                ..Default::default()
            }),
        })
        .await
        .with_context(|| format!("creating tenant {tenant}"))?;
    let owner = admin
        .create_user(
            tenant,
            &api::CreateUser {
                name: "oncall".to_owned(),
                email: format!("oncall@{tenant}.example"),
                roles: vec![Role::Developer],
                licensed: true,
            },
        )
        .await
        .context("creating the key owner")?;
    Ok(owner.user.id)
}

async fn new_key(
    admin: &Client,
    tenant: &str,
    owner: &str,
    name: String,
) -> Result<(String, String)> {
    let created = admin
        .create_key(
            tenant,
            &api::CreateKey {
                name,
                description: String::new(),
                scopes: Vec::new(),
                owner: Some(owner.to_owned()),
                expires_at: None,
            },
        )
        .await
        .context("creating a key")?;
    let secret = created
        .secret
        .ok_or_else(|| anyhow!("a new key came without its secret"))?;
    Ok((created.key.id, secret))
}

// ------------------------------------------------------------------ revoke

/// Hands the console its messages until `done` holds (or `limit` passes).
async fn pump(
    app: &mut App,
    rx: &mut UnboundedReceiver<Msg>,
    limit: Duration,
    what: &str,
    done: impl Fn(&App) -> bool,
) -> Result<Instant> {
    let deadline = Instant::now() + limit;
    loop {
        if done(app) {
            return Ok(Instant::now());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(msg)) => app.on_msg(msg),
            Ok(None) => bail!("the console's channel closed while waiting for {what}"),
            Err(_) => bail!("the console did not get to {what} within {limit:?}"),
        }
    }
}

/// One verifier loop's answers: (sent, received, code).
type Answers = Vec<(Instant, Instant, VerifyCode)>;

/// Verifies `secret` in a loop until an answer is not VALID (or 10 s pass).
async fn hammer(verifier: Client, secret: Arc<String>, valid_seen: Arc<AtomicUsize>) -> Answers {
    let mut answers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let sent = Instant::now();
        let Ok(answer) = verifier.verify(&secret, None).await else {
            continue;
        };
        answers.push((sent, Instant::now(), answer.code));
        if answer.code != VerifyCode::Valid {
            break;
        }
        valid_seen.fetch_add(1, Ordering::Relaxed);
    }
    answers
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Console,
    Client,
}

struct RevokeRun {
    via: Via,
    /// Start (keypress, or request) to the first answer that is not VALID.
    to_failure: f64,
    /// Start to the revoke's answer (as the console handled it, or as the client got it).
    to_answer: f64,
    /// VALID answers to verifications sent after the revoke was answered: must be none.
    late_valid: usize,
    /// The first failing code seen.
    code: VerifyCode,
}

async fn revoke(
    server: &str,
    token: &str,
    tenant: &str,
    runs: usize,
    verifiers: usize,
) -> Result<Value> {
    let admin = Client::new(server, token)?;
    let owner = tenant_with_owner(&admin, tenant).await?;

    // The console, as `keydesk` runs it, minus the terminal.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let clipboard = Clipboard::new(
        ClipboardMode::Off,
        Duration::ZERO,
        Box::new(std::io::sink()),
    );
    let mut app = App::new(
        Net::new(Client::new(server, token)?, tx),
        clipboard,
        Some(tenant.to_owned()),
        false,
        "KEYDESK_TOKEN",
    );
    app.on_resize(120, 40);
    app.start();
    pump(
        &mut app,
        &mut rx,
        Duration::from_secs(30),
        "a live tenant",
        |app| {
            app.session().stream_live
                && app.keys.loading.is_none()
                && app.session().settings.is_some()
        },
    )
    .await?;

    let press = |app: &mut App, code: KeyCode| app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    let mut results = Vec::new();
    for run in 0..runs * 2 {
        let via = if run % 2 == 0 {
            Via::Console
        } else {
            Via::Client
        };
        let (id, secret) = new_key(&admin, tenant, &owner, format!("leaked-{run:03}")).await?;
        // The console learns of the new key from its event stream.
        pump(
            &mut app,
            &mut rx,
            Duration::from_secs(10),
            "the new key",
            |app| app.keys.keys.iter().any(|k| k.id == id),
        )
        .await?;

        // Services keep presenting the leaked secret.
        let secret = Arc::new(secret);
        let valid_seen = Arc::new(AtomicUsize::new(0));
        let verifier = Client::new(server, token)?;
        let loops: Vec<_> = (0..verifiers)
            .map(|_| {
                tokio::spawn(hammer(
                    verifier.clone(),
                    Arc::clone(&secret),
                    Arc::clone(&valid_seen),
                ))
            })
            .collect();
        while valid_seen.load(Ordering::Relaxed) < verifiers * 4 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }

        let (started, answered) = match via {
            Via::Console => {
                // On call: paste the leaked secret, Enter lands on its key.
                app.on_paste(&secret);
                press(&mut app, KeyCode::Enter);
                let selected = app.keys.selected.as_ref().map(|(k, _)| k.as_str());
                ensure!(
                    selected == Some(id.as_str()),
                    "the pasted secret selected {selected:?}, not {id}"
                );
                let started = Instant::now();
                press(&mut app, KeyCode::Char('r'));
                ensure!(
                    app.shell.dialogs.is_open(),
                    "r opened no question: {:?}",
                    app.status().map(|s| &s.text)
                );
                press(&mut app, KeyCode::Char('y'));
                let answered = pump(
                    &mut app,
                    &mut rx,
                    Duration::from_secs(10),
                    "the revoke's answer",
                    |app| {
                        app.keys
                            .keys
                            .iter()
                            .any(|k| k.id == id && k.status == KeyStatus::Revoked)
                    },
                )
                .await?;
                press(&mut app, KeyCode::Esc);
                (started, answered)
            }
            Via::Client => {
                let started = Instant::now();
                let key = admin.revoke_key(tenant, &id).await.context("revoking")?;
                ensure!(
                    key.status == KeyStatus::Revoked,
                    "the revoke answered {:?}",
                    key.status
                );
                (started, Instant::now())
            }
        };
        let mut first_failure: Option<(Instant, VerifyCode)> = None;
        let mut late_valid = 0;
        for handle in loops {
            for (sent, received, code) in handle.await? {
                if code == VerifyCode::Valid {
                    late_valid += usize::from(sent > answered);
                } else if first_failure.is_none_or(|(at, _)| received < at) {
                    first_failure = Some((received, code));
                }
            }
        }
        let (failed_at, code) = first_failure
            .ok_or_else(|| anyhow!("run {run}: no verification failed within 10 s"))?;
        results.push(RevokeRun {
            via,
            to_failure: signed_millis(started, failed_at),
            to_answer: signed_millis(started, answered),
            late_valid,
            code,
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let pick = |via: Via, f: fn(&RevokeRun) -> f64| -> Vec<f64> {
        results.iter().filter(|r| r.via == via).map(f).collect()
    };
    let console_failure = summary(pick(Via::Console, |r| r.to_failure));
    let console_answer = summary(pick(Via::Console, |r| r.to_answer));
    let client_failure = summary(pick(Via::Client, |r| r.to_failure));
    let client_answer = summary(pick(Via::Client, |r| r.to_answer));
    let late_valid: usize = results.iter().map(|r| r.late_valid).sum();
    let mut codes: HashMap<String, usize> = HashMap::new();
    for r in &results {
        *codes.entry(format!("{:?}", r.code)).or_default() += 1;
    }
    eprintln!(
        "revoke to the first failing verification, {runs} runs each, {verifiers} verifier loops"
    );
    eprintln!(
        "{}",
        show("console: keypress -> failing verify", &console_failure)
    );
    eprintln!(
        "{}",
        show("console: keypress -> revoke answered", &console_answer)
    );
    eprintln!(
        "{}",
        show("client: request -> failing verify", &client_failure)
    );
    eprintln!(
        "{}",
        show("client: request -> revoke answered", &client_answer)
    );
    eprintln!(
        "  VALID after the revoke was answered: {late_valid}; first failing codes: {codes:?}"
    );
    Ok(json!({
        "runs": runs,
        "verifiers": verifiers,
        "console_to_failure_ms": console_failure,
        "console_to_answer_ms": console_answer,
        "client_to_failure_ms": client_failure,
        "client_to_answer_ms": client_answer,
        "valid_after_answer": late_valid,
        "failure_codes": codes,
    }))
}

// ------------------------------------------------------------------ lookup

async fn lookup(server: &str, token: &str, secrets: &PathBuf, passes: usize) -> Result<Value> {
    let secrets: Vec<String> = std::fs::read_to_string(secrets)
        .with_context(|| format!("reading {}", secrets.display()))?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    ensure!(!secrets.is_empty(), "no secrets to look up");
    // One client each, so each keeps its own keep-alive connection.
    let finder = Client::new(server, token)?;
    let verifier = Client::new(server, token)?;
    let (mut lookups, mut verifies) = (Vec::new(), Vec::new());
    let mut found_keys = std::collections::HashSet::new();
    for pass in 0..=passes {
        for (i, secret) in secrets.iter().enumerate() {
            // Alternate which goes first, so neither always follows the other.
            for first in [(pass + i) % 2 == 0, (pass + i) % 2 != 0] {
                let started = Instant::now();
                if first {
                    let found = finder.lookup_key(secret).await.context("lookup")?;
                    let took = millis(started.elapsed());
                    ensure!(
                        found.matched == api::MatchedSecret::Current,
                        "lookup matched {:?}",
                        found.matched
                    );
                    found_keys.insert(found.key.id);
                    if pass > 0 {
                        lookups.push(took);
                    }
                } else {
                    let answer = verifier.verify(secret, None).await.context("verify")?;
                    let took = millis(started.elapsed());
                    ensure!(answer.valid, "a seeded secret verified {:?}", answer.code);
                    if pass > 0 {
                        verifies.push(took);
                    }
                }
            }
        }
    }
    ensure!(
        found_keys.len() == secrets.len(),
        "{} secrets found {} keys",
        secrets.len(),
        found_keys.len()
    );
    let lookup = summary(lookups);
    let verify = summary(verifies);
    let ratio =
        lookup["p50"].as_f64().unwrap_or(f64::NAN) / verify["p50"].as_f64().unwrap_or(f64::NAN);
    eprintln!(
        "lookup beside verify, {} secrets x {passes} passes, sequential",
        secrets.len()
    );
    eprintln!("{}", show("POST /v1/keys/lookup", &lookup));
    eprintln!("{}", show("POST /v1/verify (same secrets)", &verify));
    eprintln!("  lookup p50 / verify p50: {ratio:.1}x");
    Ok(json!({
        "secrets": secrets.len(),
        "passes": passes,
        "lookup_ms": lookup,
        "verify_ms": verify,
        "p50_ratio": ratio,
    }))
}

// ------------------------------------------------------------------ stream

struct StreamPlan {
    clients: usize,
    rate: u32,
    seconds: u32,
    writers: usize,
    drain: Duration,
}

/// What one mutation did: when it was due, sent and answered.
#[derive(Clone, Copy)]
struct Mutation {
    due: Instant,
    sent: Instant,
    answered: Instant,
    ok: bool,
}

/// What one stream client received: mutation number -> arrival times, and
/// how often its stream had to be opened again.
#[derive(Default)]
struct Received {
    arrivals: HashMap<usize, Vec<Instant>>,
    reconnects: usize,
    other_events: usize,
}

const MARK: &str = "bench-";

/// The mutation number an event carries (`description.to` = `bench-<n>`).
fn mutation_of(event: &api::EventBody) -> Option<usize> {
    if event.action != "key.updated" {
        return None;
    }
    event.changes["description"]["to"]
        .as_str()?
        .strip_prefix(MARK)?
        .parse()
        .ok()
}

/// Follows the tenant's stream as the console does (reopening it with the
/// last id it got when it ends), recording each mutation's arrival.
async fn follow(
    client: Client,
    tenant: String,
    received: Arc<std::sync::Mutex<Received>>,
    connected: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let mut last = None;
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        match client.event_stream(&tenant, last).await {
            Ok(mut events) => {
                if first {
                    connected.fetch_add(1, Ordering::SeqCst);
                    first = false;
                }
                while let Some(item) = events.next().await {
                    let Ok(event) = item else { break };
                    let at = Instant::now();
                    last = Some(event.id);
                    let mut r = received
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match mutation_of(&event) {
                        Some(n) => r.arrivals.entry(n).or_default().push(at),
                        None => r.other_events += 1,
                    }
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        if !stop.load(Ordering::Relaxed) {
            received
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .reconnects += 1;
        }
    }
}

async fn stream(server: &str, token: &str, tenant: &str, plan: &StreamPlan) -> Result<Value> {
    let admin = Client::new(server, token)?;
    let owner = tenant_with_owner(&admin, tenant).await?;
    let mut keys = Vec::new();
    for w in 0..plan.writers {
        keys.push(
            new_key(&admin, tenant, &owner, format!("edited-{w}"))
                .await?
                .0,
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..plan.clients {
        let received = Arc::new(std::sync::Mutex::new(Received::default()));
        let task = tokio::spawn(follow(
            Client::new(server, token)?,
            tenant.to_owned(),
            Arc::clone(&received),
            Arc::clone(&connected),
            Arc::clone(&stop),
        ));
        clients.push((received, task));
    }
    let opening = Instant::now();
    while connected.load(Ordering::SeqCst) < plan.clients {
        ensure!(
            opening.elapsed() < Duration::from_secs(30),
            "only {} of {} streams opened",
            connected.load(Ordering::SeqCst),
            plan.clients
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Writer w makes mutations w, w + W, w + 2W, …, each due at start + n / rate.
    let total = usize::try_from(plan.rate * plan.seconds)?;
    let interval = Duration::from_secs(1) / plan.rate;
    let start = Instant::now() + Duration::from_millis(100);
    let mut writers = Vec::new();
    for (w, key) in keys.iter().enumerate() {
        let (client, tenant, key, writers_n) =
            (admin.clone(), tenant.to_owned(), key.clone(), plan.writers);
        writers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for n in (w..total).step_by(writers_n) {
                let due = start + interval * u32::try_from(n).unwrap_or(u32::MAX);
                tokio::time::sleep_until(due.into()).await;
                let sent = Instant::now();
                let body = api::UpdateKey {
                    description: Some(format!("{MARK}{n}")),
                    ..Default::default()
                };
                let ok = client.update_key(&tenant, &key, &body, None).await.is_ok();
                done.push((
                    n,
                    Mutation {
                        due,
                        sent,
                        answered: Instant::now(),
                        ok,
                    },
                ));
            }
            done
        }));
    }
    let mut mutations: HashMap<usize, Mutation> = HashMap::new();
    for writer in writers {
        mutations.extend(writer.await?);
    }
    let written = Instant::now();
    let ok: Vec<usize> = (0..total)
        .filter(|n| mutations.get(n).is_some_and(|m| m.ok))
        .collect();

    // Let the last events arrive.
    let everything = || {
        clients.iter().all(|(r, _)| {
            let r = r.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            ok.iter().all(|n| r.arrivals.contains_key(n))
        })
    };
    while !everything() && written.elapsed() < plan.drain {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for (_, task) in &clients {
        task.abort();
    }

    let (mut from_answer, mut from_send) = (Vec::new(), Vec::new());
    let (mut lost, mut duplicates, mut reconnects, mut other) = (0, 0, 0, 0);
    let mut before_answer = 0usize;
    let mut worst_client_p99: f64 = f64::NEG_INFINITY;
    for (received, _) in &clients {
        let r = received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        reconnects += r.reconnects;
        other += r.other_events;
        let mut mine = Vec::new();
        for n in &ok {
            let m = mutations[n];
            match r.arrivals.get(n).map(Vec::as_slice) {
                None | Some([]) => lost += 1,
                Some([at, rest @ ..]) => {
                    duplicates += rest.len();
                    let latency = signed_millis(m.answered, *at);
                    before_answer += usize::from(latency < 0.0);
                    mine.push(latency);
                    from_answer.push(latency);
                    from_send.push(signed_millis(m.sent, *at));
                }
            }
        }
        mine.sort_by(f64::total_cmp);
        worst_client_p99 = worst_client_p99.max(percentile(&mine, 99.0));
    }
    let first_sent = mutations.values().map(|m| m.sent).min().unwrap_or(start);
    let last_answer = mutations
        .values()
        .map(|m| m.answered)
        .max()
        .unwrap_or(start);
    #[allow(clippy::cast_precision_loss)]
    let achieved = ok.len() as f64 / (last_answer - first_sent).as_secs_f64().max(1e-9);
    let lateness = summary(
        mutations
            .values()
            .map(|m| signed_millis(m.due, m.sent))
            .collect(),
    );
    let mutation_ms = summary(
        mutations
            .values()
            .map(|m| millis(m.answered - m.sent))
            .collect(),
    );
    let deliveries = from_answer.len();
    let from_answer = summary(from_answer);
    let from_send = summary(from_send);
    eprintln!(
        "event stream: {} clients, {} mutations at {}/s target over {} s by {} writers",
        plan.clients, total, plan.rate, plan.seconds, plan.writers
    );
    eprintln!(
        "{}",
        show("delivery, from the mutation's answer", &from_answer)
    );
    eprintln!(
        "{}",
        show("delivery, from the mutation's request", &from_send)
    );
    eprintln!("{}", show("mutation request -> answer", &mutation_ms));
    eprintln!("{}", show("writer lateness (sent - due)", &lateness));
    eprintln!(
        "  writers: {} of {total} answered OK, achieved {achieved:.1}/s (target {}/s); deliveries {deliveries}, lost {lost}, duplicates {duplicates}, reconnects {reconnects}, before the answer {before_answer}",
        ok.len(),
        plan.rate
    );
    Ok(json!({
        "clients": plan.clients,
        "target_rate": plan.rate,
        "seconds": plan.seconds,
        "writers": plan.writers,
        "mutations": total,
        "mutations_ok": ok.len(),
        "achieved_rate": achieved,
        "writer_lateness_ms": lateness,
        "mutation_ms": mutation_ms,
        "deliveries": deliveries,
        "expected_deliveries": ok.len() * plan.clients,
        "lost": lost,
        "duplicates": duplicates,
        "reconnects": reconnects,
        "other_events": other,
        "delivered_before_answer": before_answer,
        "delivery_from_answer_ms": from_answer,
        "delivery_from_send_ms": from_send,
        "worst_client_p99_ms": worst_client_p99,
    }))
}
