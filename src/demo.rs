//! `keydesk demo`: the server in-process on 127.0.0.1 with a fresh temporary
//! SQLite database, seeded with four tenants configured like the four source
//! products, a dozen users, about 250 keys in every status with 24 h of
//! usage, and a small traffic generator calling `/v1/verify` so last-used
//! and error rates move. Quitting stops everything and removes the files.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use rand::Rng as _;
use serde_json::json;
use zeroize::Zeroizing;

use crate::console::{self, ConsoleConfig};
use crate::domain::secret::generate_token;
use crate::domain::{
    ApiKey, CreationFacts, Description, DisplayName, Email, EventAction, KeyCreators, KeyName,
    Lifecycle, NewKey, Origin, PersonName, Role, Roles, Scope, Secret, SecretRetrieval, Tenant,
    TenantId, TenantSettings, User, UserId, UserRef,
};
use crate::server::{self, AppState, ServeConfig};
use crate::store::UsageBucket;

/// One demo tenant: id, name, settings, users (name, roles), key count.
struct TenantPlan {
    id: &'static str,
    name: &'static str,
    settings: TenantSettings,
    users: &'static [(&'static str, &'static [Role])],
    keys: usize,
}

const KEY_NAMES: &[&str] = &[
    "billing-sync",
    "ci-deploy",
    "legacy-export",
    "statement-fetcher",
    "webhook-relay",
    "mobile-app",
    "partner-acme",
    "reporting-etl",
    "terraform",
    "grafana-agent",
    "backup-job",
    "checkout-web",
    "fraud-scorer",
    "ledger-reconcile",
    "payout-worker",
    "crm-import",
    "invoice-mailer",
    "data-lake-sink",
    "support-tools",
    "kyc-checker",
];
const SUFFIXES: &[&str] = &[
    "prod", "staging", "eu", "us", "dev", "batch", "v2", "nightly",
];

fn scopes(list: &[&str]) -> Vec<Scope> {
    list.iter()
        .map(|s| Scope::from_trusted((*s).to_owned()))
        .collect()
}

fn plans() -> Vec<TenantPlan> {
    use Role::{Developer, TenantAdmin, Viewer};
    vec![
        // Seed 000: a German payment platform; secrets retrievable, scopes editable.
        TenantPlan {
            id: "konfipay",
            name: "konfipay Zahlungsplattform",
            settings: TenantSettings {
                api_keys_enabled: true,
                secret_retrieval: SecretRetrieval::Admins,
                scopes: scopes(&[
                    "payments:read",
                    "payments:write",
                    "accounts:read",
                    "statements:read",
                    "mandates:write",
                ]),
                ..TenantSettings::default()
            },
            users: &[
                ("ana", &[TenantAdmin, Developer]),
                ("bo", &[Developer]),
                ("clara", &[Viewer]),
            ],
            keys: 90,
        },
        // Seed 001: a Dutch analytics hub; keys off until an admin enables them, limits.
        TenantPlan {
            id: "datahub-nl",
            name: "DataHub Nederland",
            settings: TenantSettings {
                api_keys_enabled: false,
                max_expiry_days: Some(90),
                max_keys_per_user: Some(5),
                key_prefix: crate::domain::KeyPrefix::parse("dh").unwrap_or_default(),
                scopes: scopes(&["hub:read", "hub:write", "reports:read"]),
                ..TenantSettings::default()
            },
            users: &[
                ("daan", &[TenantAdmin]),
                ("eva", &[Developer]),
                ("finn", &[Developer]),
            ],
            keys: 55,
        },
        // Seed 002: a payment gateway with merchants; fixed scopes, revoke only disabled keys.
        TenantPlan {
            id: "payrails",
            name: "Payrails merchants",
            settings: TenantSettings {
                api_keys_enabled: true,
                scopes_editable: false,
                revoke_requires_disabled: true,
                key_prefix: crate::domain::KeyPrefix::parse("pr").unwrap_or_default(),
                scopes: scopes(&[
                    "merchant:read",
                    "payouts:write",
                    "refunds:write",
                    "webhooks:read",
                ]),
                ..TenantSettings::default()
            },
            users: &[
                ("gus", &[TenantAdmin, Developer]),
                ("hana", &[Developer]),
                ("ivo", &[Viewer]),
            ],
            keys: 75,
        },
        // Seed 003: an onboarding system; only system administrators create keys.
        TenantPlan {
            id: "onboardly",
            name: "Onboardly smart onboarding",
            settings: TenantSettings {
                api_keys_enabled: true,
                key_creators: KeyCreators::SystemAdmins,
                scopes: scopes(&["integration:read", "integration:write"]),
                ..TenantSettings::default()
            },
            users: &[
                ("jo", &[TenantAdmin]),
                ("kim", &[Viewer]),
                ("lena", &[Developer]),
            ],
            keys: 30,
        },
    ]
}

fn user_ref(user: &User) -> UserRef {
    UserRef {
        id: user.id.clone(),
        name: user.name.as_str().to_owned(),
    }
}

/// Secrets the traffic generator presents: valid, failing, and garbage.
struct Traffic {
    secrets: Vec<Zeroizing<String>>,
}

/// What seeding made: the traffic's secrets and the demo users.
struct Seeded {
    traffic: Traffic,
    users: Vec<User>,
}

/// Seeds the store directly (the API would stamp every key "now"): tenants,
/// users, keys with history, and 24 h of usage.
async fn seed(state: &AppState, admin: &User) -> anyhow::Result<Seeded> {
    let store = state.store.as_ref();
    let mut rng = rand::rng();
    let now = server::now();
    let origin = Origin {
        actor: user_ref(admin),
        source: "demo-seed".to_owned(),
    };
    let mut traffic = Traffic {
        secrets: Vec::new(),
    };
    let mut all_users = Vec::new();
    for plan in plans() {
        let tenant = Tenant {
            id: TenantId::parse(plan.id).map_err(|e| anyhow::anyhow!(e))?,
            name: DisplayName::parse(plan.name).map_err(|e| anyhow::anyhow!(e))?,
            settings: plan.settings.clone(),
            settings_version: 1,
            created_at: now - Span::days(400),
        };
        let event = origin.event(
            now,
            Some(tenant.id.clone()),
            EventAction::TenantCreated,
            (plan.id, plan.name),
            json!({}),
        );
        store.create_tenant(&tenant, &event).await?;
        let mut users = Vec::new();
        for (name, roles) in plan.users {
            let user = User {
                id: UserId::generate(),
                name: PersonName::parse(name).map_err(|e| anyhow::anyhow!(e))?,
                email: Email::parse(&format!("{name}@{}.example", plan.id))
                    .map_err(|e| anyhow::anyhow!(e))?,
                tenant_id: Some(tenant.id.clone()),
                roles: Roles::new(roles.iter().copied()),
                licensed: !roles.contains(&Role::Viewer),
                created_at: now - Span::days(300),
            };
            let event = origin.event(
                now,
                Some(tenant.id.clone()),
                EventAction::UserCreated,
                (user.id.as_str(), name),
                json!({}),
            );
            store
                .create_user(
                    &user,
                    &state.keyring.token_digest(generate_token().expose()),
                    &event,
                )
                .await?;
            users.push(user);
        }
        let creators: Vec<&User> = if plan.settings.key_creators == KeyCreators::SystemAdmins {
            vec![admin]
        } else {
            users
                .iter()
                .filter(|u| u.roles.has(Role::Developer))
                .collect()
        };
        // Build keys as if created over the last months; the rules that
        // limit *new* keys are relaxed for this backfill.
        let backfill = TenantSettings {
            api_keys_enabled: true,
            max_keys_per_user: None,
            max_expiry_days: None,
            ..plan.settings.clone()
        };
        let facts = CreationFacts {
            tenant: Tenant {
                settings: backfill,
                ..tenant.clone()
            },
            owner_live_keys: 0,
        };
        all_users.extend(users.iter().cloned());
        let mut keys = Vec::new();
        let mut usage = Vec::new();
        for i in 0..plan.keys {
            let owner = creators[i % creators.len()];
            let created = now - Span::minutes(rng.random_range(60..60 * 24 * 300));
            let name = format!(
                "{}-{}",
                KEY_NAMES[rng.random_range(0..KEY_NAMES.len())],
                SUFFIXES[rng.random_range(0..SUFFIXES.len())]
            );
            let granted: Vec<Scope> = plan
                .settings
                .scopes
                .iter()
                .filter(|_| rng.random_bool(0.5))
                .cloned()
                .collect();
            let roll: f64 = rng.random();
            let expires_at: Option<DateTime<Utc>> = if roll < 0.08 {
                Some(now - Span::days(rng.random_range(1..30)))
            } else if plan.settings.max_expiry_days.is_some() || rng.random_bool(0.4) {
                Some(now + Span::days(rng.random_range(5..90)))
            } else {
                None
            };
            let request = NewKey {
                name: KeyName::parse(&name).map_err(|e| anyhow::anyhow!(e))?,
                description: Description::parse(&format!("Used by the {name} service."))
                    .map_err(|e| anyhow::anyhow!(e))?,
                scopes: if granted.is_empty() {
                    plan.settings.scopes[..1].to_vec()
                } else {
                    granted
                },
                owner: user_ref(owner),
                expires_at: expires_at.map(|at| at.max(now + Span::days(1))),
            };
            let (mut key, secret): (ApiKey, Secret) =
                ApiKey::create(&facts, request, user_ref(owner), &state.keyring, created)
                    .map_err(|e| anyhow::anyhow!(e))?;
            key.expires_at = expires_at;
            key.updated_at =
                created + Span::minutes(rng.random_range(0..60 * 24 * 30)).min(now - created);
            if roll > 0.90 {
                key.lifecycle = Lifecycle::Revoked;
                key.revoked_at = Some(key.updated_at);
                key.revoked_by = Some(key.owner.clone());
                key.encrypted_secret = None;
            } else if roll > 0.78 {
                key.lifecycle = Lifecycle::Disabled;
            }
            // 24 h of usage in half-hour buckets, heavier for active keys.
            let busy = key.lifecycle == Lifecycle::Active && roll < 0.6;
            if busy || rng.random_bool(0.2) {
                let base: u64 = rng.random_range(1..40);
                let error_share: f64 = if rng.random_bool(0.15) {
                    rng.random_range(0.2..0.7)
                } else {
                    rng.random_range(0.0..0.03)
                };
                for slot in 0..48i64 {
                    let minute = (now - Span::minutes(slot * 30)).timestamp().div_euclid(60);
                    let calls = base + rng.random_range(0..base.max(2));
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        clippy::cast_precision_loss
                    )]
                    let failed = (calls as f64 * error_share) as u64;
                    let outcome_ok = if key.lifecycle == Lifecycle::Active {
                        "VALID"
                    } else {
                        "DISABLED"
                    };
                    usage.push((
                        UsageBucket {
                            key_id: key.id.clone(),
                            minute,
                            outcome: outcome_ok,
                        },
                        calls - failed,
                    ));
                    if failed > 0 {
                        usage.push((
                            UsageBucket {
                                key_id: key.id.clone(),
                                minute,
                                outcome: "INSUFFICIENT_SCOPE",
                            },
                            failed,
                        ));
                    }
                }
            }
            let last_used = busy.then(|| now - Span::minutes(rng.random_range(0..240)));
            if key.lifecycle != Lifecycle::Revoked && rng.random_bool(0.3) || busy {
                traffic
                    .secrets
                    .push(Zeroizing::new(secret.expose().to_owned()));
            }
            keys.push((key, last_used));
        }
        let last_used: Vec<_> = keys
            .iter()
            .filter_map(|(k, at)| at.map(|at| (k.id.clone(), at)))
            .collect();
        store
            .import_keys(keys.into_iter().map(|(k, _)| k).collect())
            .await?;
        store.record_usage(&usage, &last_used).await?;
    }
    // Secrets no key has, malformed strings: failures the verify path must shrug off.
    traffic.secrets.push(Zeroizing::new(
        "kd_notarealkeynotarealkeynotarealk000000".to_owned(),
    ));
    traffic.secrets.push(Zeroizing::new("garbage".to_owned()));
    Ok(Seeded {
        traffic,
        users: all_users,
    })
}

/// Calls `/v1/verify` a few times a second with a mix of secrets.
async fn generate_traffic(base: String, traffic: Arc<Traffic>) {
    let Ok(client) = crate::client::Client::new(&base, "") else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(150));
    loop {
        tick.tick().await;
        let pick = rand::rng().random_range(0..traffic.secrets.len());
        let scope = rand::rng().random_bool(0.1).then_some("admin:everything");
        let _ = client.verify(&traffic.secrets[pick], scope).await;
    }
}

/// Options of `keydesk demo` that reach the console.
pub struct DemoOptions {
    pub readonly: bool,
    pub clipboard: console::clipboard::ClipboardMode,
    pub clipboard_clear: Duration,
    pub tenant: Option<String>,
    /// Sign the console in as this seeded user (ana, bo, clara, …) instead
    /// of the system administrator.
    pub as_user: Option<String>,
}

/// Runs the demo until the console quits; then stops the server and removes its files.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("keydesk-demo-").tempdir()?;
    let token = generate_token();
    let mut pepper = [0u8; 32];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut pepper)
        .map_err(|e| anyhow::anyhow!("the OS random source failed: {e}"))?;
    let config = ServeConfig {
        listen: "127.0.0.1:0".to_owned(),
        database: None,
        data_dir: Some(dir.path().join("data")),
        pepper_file: None,
        pepper: Some(hex::encode(pepper)),
        bootstrap_token: Some(token.expose().to_owned()),
    };
    let prepared = server::prepare(&config).await?;
    let address = prepared.listener.local_addr()?;
    let base = format!("http://{address}");
    let state = prepared.state.clone();
    let admin = state
        .store
        .user_by_token_digest(&state.keyring.token_digest(token.expose()))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo administrator was not created"))?;
    let seeded = seed(&state, &admin).await?;
    let traffic = Arc::new(seeded.traffic);
    let (token, home) = match &options.as_user {
        None => (Zeroizing::new(token.expose().to_owned()), None),
        Some(name) => {
            let user = seeded
                .users
                .iter()
                .find(|u| u.name.as_str().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    let names: Vec<&str> = seeded.users.iter().map(|u| u.name.as_str()).collect();
                    anyhow::anyhow!("no demo user {name:?}; try one of {}", names.join(", "))
                })?;
            let own = generate_token();
            let origin = Origin {
                actor: user_ref(&admin),
                source: "demo".to_owned(),
            };
            let event = origin.event(
                server::now(),
                user.tenant_id.clone(),
                EventAction::UserTokenRotated,
                (user.id.as_str(), user.name.as_str()),
                json!({}),
            );
            state
                .store
                .set_user_token(&user.id, &state.keyring.token_digest(own.expose()), &event)
                .await?;
            (
                Zeroizing::new(own.expose().to_owned()),
                user.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
            )
        }
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(server::run(prepared.listener, prepared.state, async {
        let _ = stopped.await;
    }));
    let traffic_task = tokio::spawn(generate_traffic(base.clone(), traffic));
    let outcome = console::run(ConsoleConfig {
        server: base,
        token,
        tenant: Some(
            options
                .tenant
                .or(home)
                .unwrap_or_else(|| "konfipay".to_owned()),
        ),
        readonly: options.readonly,
        clipboard: options.clipboard,
        clipboard_clear: options.clipboard_clear,
    })
    .await;
    traffic_task.abort();
    let _ = stop.send(());
    let _ = server_task.await;
    drop(dir);
    outcome
}
