//! Seeds one tenant with many API keys for the benchmarks (`bench/run.sh`).
//!
//! The tenant and its users must exist already (the benchmark creates them
//! through the HTTP API of the running server). This program opens the same
//! SQLite database directly, with the server's pepper, builds every key with
//! the domain's own `ApiKey::create`, then back-dates it and gives it a
//! status, and bulk-inserts them with `Store::import_keys`. The server keeps
//! no cache of key lists, so seeding while it runs is safe (WAL).
//!
//! The first `--valid` keys are active, never expire and belong to an
//! enabled tenant; their secrets are written, one per line, to
//! `--secrets-out` for the verification benchmark. Nothing else is printed
//! but a one-line JSON summary on stdout.
//!
//! ```text
//! KEYDESK_PEPPER=… cargo run --release --example bench_seed -- \
//!     --database /tmp/kd/keydesk.db --tenant bench --count 100000 \
//!     --valid 100 --secrets-out /tmp/kd/secrets.txt
//! ```

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use clap::Parser;
use keydesk::domain::{
    ApiKey, CreationFacts, Description, KeyId, KeyName, Keyring, Lifecycle, NewKey, Role, Scope,
    TenantId, UserRef,
};
use keydesk::store::Store as _;
use keydesk::store::sqlite::SqliteStore;
use rand::Rng as _;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

#[derive(Parser)]
#[command(about = "Bulk-load API keys into a keydesk SQLite database for benchmarks")]
struct Args {
    /// The server's SQLite database file.
    #[arg(long)]
    database: PathBuf,
    /// The tenant to fill; it and its users must exist.
    #[arg(long)]
    tenant: String,
    /// How many keys to create in all.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// How many of them are plain active keys whose secrets are written out.
    #[arg(long, default_value_t = 100)]
    valid: usize,
    /// Where to write the secrets of the valid keys (one per line, mode 0600).
    #[arg(long)]
    secrets_out: PathBuf,
    /// Keys per `import_keys` call (one transaction each).
    #[arg(long, default_value_t = 20_000)]
    batch: usize,
    /// Seed of the random choices (names, times, statuses), for repeatable data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The pepper, as the server got it.
    #[arg(long, env = "KEYDESK_PEPPER", hide_env_values = true)]
    pepper: String,
}

/// Services whose names the keys get, as `<service>-<nnnnn>`.
const SERVICES: &[&str] = &[
    "billing-sync",
    "ci-deploy",
    "legacy-export",
    "metrics-push",
    "webhook-relay",
    "search-indexer",
    "payments-api",
    "invoice-mailer",
    "fraud-scorer",
    "report-builder",
    "ledger-reconcile",
    "partner-feed",
    "mobile-backend",
    "data-warehouse",
    "support-tools",
    "edge-cache",
];

const ENVIRONMENTS: &[&str] = &["production", "staging", "development", "load test"];

/// What becomes of a generated key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Active,
    ActiveExpiring,
    Disabled,
    Expired,
    Revoked,
}

/// How far back the keys' creation times reach.
const HISTORY_DAYS: i64 = 730;

fn between(rng: &mut StdRng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_milliseconds().max(1);
    from + Duration::milliseconds(rng.random_range(0..span))
}

/// A ULID-based id whose time part is the key's creation time, so ids sort
/// the way real ones do.
fn key_id_at(rng: &mut StdRng, at: DateTime<Utc>) -> KeyId {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let ulid = ulid::Ulid::from_parts(millis, rng.random::<u128>());
    KeyId::from_trusted(format!("key_{ulid}"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.valid > args.count {
        bail!("--valid ({}) exceeds --count ({})", args.valid, args.count);
    }
    let started = Instant::now();
    let keyring =
        Keyring::from_pepper(args.pepper.trim().as_bytes()).map_err(|e| anyhow!("pepper: {e}"))?;
    let store = SqliteStore::open(&args.database)
        .with_context(|| format!("cannot open {}", args.database.display()))?;
    let tenant_id = TenantId::parse(&args.tenant).map_err(|e| anyhow!("--tenant: {e}"))?;
    let tenant = store
        .get_tenant(&tenant_id)
        .await?
        .with_context(|| format!("no tenant {:?}; create it over the API first", args.tenant))?;
    if !tenant.settings.api_keys_enabled {
        bail!("tenant {:?} has api_keys_enabled = false", args.tenant);
    }
    // Keys are owned by the tenant's developers, as the domain requires.
    let developers: Vec<_> = store
        .list_users(&tenant_id, None, u32::MAX)
        .await?
        .into_iter()
        .filter(|u| u.roles.has(Role::Developer))
        .collect();
    if developers.is_empty() {
        bail!(
            "tenant {:?} has no developers; create some first",
            args.tenant
        );
    }
    let owners: Vec<UserRef> = developers
        .iter()
        .map(|u| UserRef {
            id: u.id.clone(),
            name: u.name.as_str().to_owned(),
        })
        .collect();
    let offered: Vec<Scope> = tenant.settings.scopes.clone();
    // One set of creation facts per owner, in the order of `owners`.
    let facts: Vec<CreationFacts> = developers
        .into_iter()
        .map(|owner| CreationFacts {
            tenant: tenant.clone(),
            owner: Some(owner),
            owner_live_keys: 0,
        })
        .collect();

    let mut rng = StdRng::seed_from_u64(args.seed);
    let now = Utc::now().trunc_subsecs(3);
    let oldest = now - Duration::days(HISTORY_DAYS);
    let step_ms = (HISTORY_DAYS * 86_400_000) / i64::try_from(args.count.max(1))?;
    let mut keys = Vec::with_capacity(args.count);
    let mut secrets = Vec::with_capacity(args.valid);
    let mut by_status = [0usize; 4]; // active, disabled, expired, revoked

    for i in 0..args.count {
        let valid = i < args.valid;
        // Older keys first; the valid ones are the newest, created an hour ago.
        let created_at = if valid {
            now - Duration::hours(1) + Duration::milliseconds(i64::try_from(i)?)
        } else {
            let slot = oldest + Duration::milliseconds(step_ms * i64::try_from(i)?);
            (slot + Duration::milliseconds(rng.random_range(0..step_ms.max(1)))).min(now)
        };
        let owner_index = rng.random_range(0..owners.len());
        let owner = owners[owner_index].clone();
        let creator = if rng.random_bool(0.8) {
            owner.clone()
        } else {
            owners[0].clone()
        };
        let service = SERVICES[rng.random_range(0..SERVICES.len())];
        let name = KeyName::parse(&format!("{service}-{i:05}"))
            .map_err(|e| anyhow!("generated name: {e}"))?;
        let description = Description::parse(&format!(
            "{} key for {service}, issued by {}",
            ENVIRONMENTS[rng.random_range(0..ENVIRONMENTS.len())],
            creator.name
        ))
        .map_err(|e| anyhow!("generated description: {e}"))?;
        let scopes: Vec<Scope> = offered
            .iter()
            .filter(|_| rng.random_bool(0.5))
            .cloned()
            .collect();
        // The key's fate: 70 % active (a third of them with a future expiry),
        // 10 % each disabled, expired and revoked.
        let fate = if valid {
            Fate::Active
        } else {
            match rng.random_range(0..100u32) {
                0..45 => Fate::Active,
                45..70 => Fate::ActiveExpiring,
                70..80 => Fate::Disabled,
                80..90 => Fate::Expired,
                _ => Fate::Revoked,
            }
        };
        let expires_at =
            (fate == Fate::ActiveExpiring).then(|| now + Duration::days(rng.random_range(1..365)));
        let request = NewKey {
            name,
            description,
            scopes,
            owner,
            expires_at,
        };
        let (mut key, secret) = ApiKey::create(
            &facts[owner_index],
            request,
            creator.clone(),
            &keyring,
            created_at,
        )
        .map_err(|refusal| anyhow!("the domain refused a key: {refusal:?}"))?;
        key.id = key_id_at(&mut rng, created_at);
        if valid {
            secrets.push(secret.expose().to_owned());
        }
        drop(secret);

        match fate {
            Fate::Active | Fate::ActiveExpiring => by_status[0] += 1,
            Fate::Disabled => {
                // Disabled some time after creation.
                key.lifecycle = Lifecycle::Disabled;
                key.updated_at = between(&mut rng, created_at, now);
                key.version += 1;
                by_status[1] += 1;
            }
            Fate::Expired => {
                // An expiry between creation and now.
                key.expires_at = Some(between(&mut rng, created_at, now));
                by_status[2] += 1;
            }
            Fate::Revoked => {
                // Revoked some time after creation, by its creator.
                let at = between(&mut rng, created_at, now);
                key.lifecycle = Lifecycle::Revoked;
                key.revoked_at = Some(at);
                key.revoked_by = Some(creator);
                key.updated_at = at;
                key.version += 1;
                by_status[3] += 1;
            }
        }
        if !valid && rng.random_bool(0.6) {
            let until = key.revoked_at.unwrap_or(now);
            key.last_used_at = Some(between(&mut rng, created_at, until));
        }
        keys.push(key);
    }
    let built = started.elapsed();

    // Write the secrets before the import so a failed import leaves nothing half-done unseen.
    write_secrets(&args.secrets_out, &secrets)?;

    let batch = args.batch.max(1);
    while !keys.is_empty() {
        let rest = keys.split_off(keys.len().min(batch));
        let chunk = std::mem::replace(&mut keys, rest);
        store.import_keys(chunk).await?;
    }
    let total = started.elapsed();

    println!(
        "{{\"tenant\":\"{}\",\"keys\":{},\"valid_secrets\":{},\"active\":{},\"disabled\":{},\"expired\":{},\"revoked\":{},\"owners\":{},\"build_ms\":{},\"total_ms\":{}}}",
        args.tenant,
        args.count,
        secrets.len(),
        by_status[0],
        by_status[1],
        by_status[2],
        by_status[3],
        owners.len(),
        built.as_millis(),
        total.as_millis()
    );
    Ok(())
}

fn write_secrets(path: &PathBuf, secrets: &[String]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    for secret in secrets {
        writeln!(file, "{secret}")?;
    }
    file.sync_all()?;
    Ok(())
}
