//! `keydesk demo`: the server in-process on 127.0.0.1 with a fresh temporary
//! SQLite database, seeded with one tenant configured like each of the four
//! source products and one new tenant with the defaults, their users, about
//! 250 keys with a past, 24 h of usage, and a traffic generator calling
//! `/v1/verify` so last-used and error rates move. Quitting stops everything
//! and removes the files.
//!
//! Each tenant shows its product's policy; `keydesk demo --as USER` signs in
//! as a seeded user, for whom that policy visibly refuses something (the
//! default, the system administrator `admin`, may do everything):
//!
//! | tenant | source | the policy it shows | `--as` user: what is refused |
//! |---|---|---|---|
//! | `konfipay` konfipay Zahlungsplattform | 000 | label and scope edited later; deactivate ↔ reactivate; delete; regenerate; copy a secret from the list (`secret_retrieval = admins`) | `bo` (developer): copying a secret, changing `ana`'s keys; `clara` (viewer): every change |
//! | `datahub-nl` DataHub Nederland | 001 | keys switched on by the tenant admin (its events show it); expiry at most 90 days; at most 5 live keys per user; creating needs the developer role and a license; Expired and Revoked keys | `daan` (tenant admin without the developer role): creating and deleting keys, until he grants himself the role in Users; `eva`: a sixth key; `femke`: a key beyond 90 days or without expiry; `finn` (no license): creating a key |
//! | `payrails` Payrails merchants | 002 | scopes fixed at creation; only a disabled key can be revoked; revoked keys stay listed; copy a secret from the list (tenant admins); error rate | `hana` (developer): revoking her active key before disabling it, changing its scopes, copying its secret; `ivo` (viewer): every change |
//! | `onboardly` Onboardly smart onboarding | 003 | only system administrators create keys; revoke per row; Last Accessed | `jo` (tenant admin) and `lena` (developer): creating a key; `kim` (viewer): every change |
//! | `greenfield` Greenfield Labs | 001's default | API keys switched off, as for every new tenant: none verify and none can be created | `nils` (developer): creating a key, until `mia` (tenant admin, developer) switches keys on in Settings |
//!
//! The seeded history is consistent: every key was created under its
//! tenant's rules (expiry limit, keys per user, who may create), disabled and
//! revoked through the status machine at past times, and used only while it
//! verified: no successful use before creation, after expiry or revocation,
//! or while disabled; `last_used_at` is its latest successful use. The
//! traffic generator keeps calling the keys that were being called, so a
//! revoked key that is still tried shows failures, never a success.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use rand::Rng;
use serde_json::json;
use zeroize::Zeroizing;

use crate::api::{self, VerifyCode};
use crate::console::{self, ConsoleConfig};
use crate::domain::secret::generate_token;
use crate::domain::{
    ApiKey, CreationFacts, Description, DisplayName, Email, EventAction, KeyAction, KeyCreators,
    KeyId, KeyName, KeyPrefix, Keyring, NewEvent, NewKey, Origin, PersonName, Role, Roles, Scope,
    Secret, SecretRetrieval, SettingsPatch, Tenant, TenantId, TenantSettings, User, UserId,
    UserRef, policy,
};
use crate::server::{self, AppState, ServeConfig};
use crate::store::{SettingsWrite, UsageBucket};

/// Which of a tenant's keys a demo user owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owns {
    /// None: the user is there to show what their roles refuse.
    Nothing,
    /// A share of the tenant's keys.
    Keys,
    /// A share, and as many live keys as `max_keys_per_user` allows, so a
    /// new one is refused.
    UpToTheLimit,
}

/// One demo user.
struct UserPlan {
    name: &'static str,
    roles: &'static [Role],
    licensed: bool,
    owns: Owns,
}

const fn user(name: &'static str, roles: &'static [Role], licensed: bool, owns: Owns) -> UserPlan {
    UserPlan {
        name,
        roles,
        licensed,
        owns,
    }
}

/// One demo tenant: its settings, users and how many keys it has had.
struct TenantPlan {
    id: &'static str,
    name: &'static str,
    /// Created with the defaults (keys off); then set to these a day later.
    settings: TenantSettings,
    /// Who changed the settings from the defaults (seed 001: the tenant
    /// admin switches keys on); `None`: the system administrator.
    configured_by: Option<&'static str>,
    age_days: i64,
    users: Vec<UserPlan>,
    /// Keys created over the last 300 days, before revocations and expiry.
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

/// Keys are created over this many days before now.
const HISTORY_DAYS: i64 = 300;

fn scopes(list: &[&str]) -> Vec<Scope> {
    list.iter()
        .map(|s| Scope::from_trusted((*s).to_owned()))
        .collect()
}

fn prefix(raw: &str) -> KeyPrefix {
    KeyPrefix::parse(raw).unwrap_or_default()
}

fn plans() -> Vec<TenantPlan> {
    use Owns::{Keys, Nothing, UpToTheLimit};
    use Role::{Developer, TenantAdmin, Viewer};
    vec![
        // Seed 000: a German payment platform. Secrets can be copied from the
        // list later; labels and scopes can be edited; deactivating is reversible.
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
            configured_by: None,
            age_days: 400,
            users: vec![
                user("ana", &[TenantAdmin, Developer], true, Keys),
                user("bo", &[Developer], true, Keys),
                user("clara", &[Viewer], false, Nothing),
            ],
            keys: 90,
        },
        // Seed 001: a Dutch analytics hub. Its tenant admin switched keys on;
        // new keys expire within 90 days, at most 5 live keys per user; the
        // tenant admin needs the developer role to create or delete keys.
        TenantPlan {
            id: "datahub-nl",
            name: "DataHub Nederland",
            settings: TenantSettings {
                api_keys_enabled: true,
                max_expiry_days: Some(90),
                max_keys_per_user: Some(5),
                key_prefix: prefix("dh"),
                scopes: scopes(&["hub:read", "hub:write", "reports:read"]),
                ..TenantSettings::default()
            },
            configured_by: Some("daan"),
            age_days: 380,
            users: vec![
                user("daan", &[TenantAdmin], true, Nothing),
                user("eva", &[Developer], true, UpToTheLimit),
                user("femke", &[Developer], true, Keys),
                user("finn", &[Developer], false, Nothing),
            ],
            keys: 55,
        },
        // Seed 002: a payment gateway with merchant accounts. Permissions
        // are fixed at creation; only a disabled key can be revoked; keys
        // are copied from the list.
        TenantPlan {
            id: "payrails",
            name: "Payrails merchants",
            settings: TenantSettings {
                api_keys_enabled: true,
                scopes_editable: false,
                revoke_requires_disabled: true,
                secret_retrieval: SecretRetrieval::Admins,
                key_prefix: prefix("pr"),
                scopes: scopes(&[
                    "merchant:read",
                    "payouts:write",
                    "refunds:write",
                    "webhooks:read",
                ]),
                ..TenantSettings::default()
            },
            configured_by: None,
            age_days: 360,
            users: vec![
                user("gus", &[TenantAdmin, Developer], true, Keys),
                user("hana", &[Developer], true, Keys),
                user("ivo", &[Viewer], false, Nothing),
            ],
            keys: 75,
        },
        // Seed 003: an onboarding system. Only the system administrator
        // generates keys, so they own them all.
        TenantPlan {
            id: "onboardly",
            name: "Onboardly smart onboarding",
            settings: TenantSettings {
                api_keys_enabled: true,
                key_creators: KeyCreators::SystemAdmins,
                scopes: scopes(&["integration:read", "integration:write"]),
                ..TenantSettings::default()
            },
            configured_by: None,
            age_days: 330,
            users: vec![
                user("jo", &[TenantAdmin], true, Nothing),
                user("kim", &[Viewer], false, Nothing),
                user("lena", &[Developer], true, Nothing),
            ],
            keys: 30,
        },
        // Seed 001's default: a tenant created two days ago, keys still off.
        // Its admin can switch them on in Settings and create the first key.
        TenantPlan {
            id: "greenfield",
            name: "Greenfield Labs",
            settings: TenantSettings::default(),
            configured_by: None,
            age_days: 2,
            users: vec![
                user("mia", &[TenantAdmin, Developer], true, Nothing),
                user("nils", &[Developer], true, Nothing),
            ],
            keys: 0,
        },
    ]
}

fn user_ref(user: &User) -> UserRef {
    UserRef {
        id: user.id.clone(),
        name: user.name.as_str().to_owned(),
    }
}

fn invalid(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("demo data: {error}")
}

/// A time strictly between `from` and `to` where there is room, to the minute.
fn between(rng: &mut impl Rng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let minutes = (to - from).num_minutes();
    if minutes >= 2 {
        from + Span::minutes(rng.random_range(1..minutes))
    } else {
        from + (to - from) / 2
    }
}

/// When a seeded key was created, disabled and revoked: what its usage has
/// to agree with. (Every tenant with keys had them switched on before its
/// first key, so `TENANT_DISABLED` never happened.)
#[derive(Debug, Clone, Copy)]
struct Timeline {
    created: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
    disabled: Option<DateTime<Utc>>,
    revoked: Option<DateTime<Utc>>,
}

impl Timeline {
    /// What verifying the key with a granted scope answered at `at`, in the
    /// server's order: revoked, expired, disabled.
    fn code_at(&self, at: DateTime<Utc>) -> VerifyCode {
        if at < self.created {
            VerifyCode::NotFound
        } else if self.revoked.is_some_and(|r| r <= at) {
            VerifyCode::Revoked
        } else if self.expires.is_some_and(|e| e <= at) {
            VerifyCode::Expired
        } else if self.disabled.is_some_and(|d| d <= at) {
            VerifyCode::Disabled
        } else {
            VerifyCode::Valid
        }
    }

    /// Counted against the owner's `max_keys_per_user` at `at`.
    fn live_at(&self, at: DateTime<Utc>) -> bool {
        matches!(self.code_at(at), VerifyCode::Valid | VerifyCode::Disabled)
    }

    /// When the key stopped verifying, if it has.
    fn valid_until(&self) -> Option<DateTime<Utc>> {
        [self.expires, self.disabled, self.revoked]
            .into_iter()
            .flatten()
            .min()
    }
}

/// A key being planned: built by the domain at its creation time; its
/// disabling and revocation are applied once every key of the tenant is
/// planned, since making room for a later key may revoke an earlier one.
struct Planned {
    key: ApiKey,
    secret: Secret,
    timeline: Timeline,
}

/// A seeded tenant: created with the defaults, then configured.
struct SeededTenant {
    tenant: Tenant,
    created: NewEvent,
    users: Vec<(User, NewEvent)>,
    configured: Option<NewEvent>,
    keys: Vec<ApiKey>,
}

/// Secrets the traffic generator presents: valid, failing, and garbage.
struct Traffic {
    secrets: Vec<Zeroizing<String>>,
}

/// Everything the demo seeds, built in memory before it is written, so tests
/// can check every key of it.
struct Demo {
    tenants: Vec<SeededTenant>,
    /// Per-minute verification counts of the last 24 h.
    usage: Vec<(UsageBucket, u64)>,
    traffic: Traffic,
}

impl Demo {
    fn users(&self) -> impl Iterator<Item = &User> {
        self.tenants
            .iter()
            .flat_map(|t| t.users.iter().map(|(user, _)| user))
    }
}

/// Builds the demo as of `now`: tenants, users, keys with their past, usage,
/// and the secrets the traffic generator will present.
fn build(
    now: DateTime<Utc>,
    admin: &User,
    keyring: &Keyring,
    rng: &mut impl Rng,
) -> anyhow::Result<Demo> {
    let origin = Origin {
        actor: user_ref(admin),
        source: "demo-seed".to_owned(),
    };
    let mut demo = Demo {
        tenants: Vec::new(),
        usage: Vec::new(),
        traffic: Traffic {
            secrets: Vec::new(),
        },
    };
    for plan in plans() {
        let created_at = now - Span::days(plan.age_days);
        let mut tenant = Tenant {
            id: TenantId::parse(plan.id).map_err(invalid)?,
            name: DisplayName::parse(plan.name).map_err(invalid)?,
            settings: TenantSettings::default(),
            settings_version: 1,
            created_at,
        };
        let created = origin.event(
            created_at,
            Some(tenant.id.clone()),
            EventAction::TenantCreated,
            (plan.id, plan.name),
            json!({}),
        );
        let mut users = Vec::new();
        for (plan_user, hours) in plan.users.iter().zip(1..) {
            let user = User {
                id: UserId::generate(),
                name: PersonName::parse(plan_user.name).map_err(invalid)?,
                email: Email::parse(&format!("{}@{}.example", plan_user.name, plan.id))
                    .map_err(invalid)?,
                tenant_id: Some(tenant.id.clone()),
                roles: Roles::new(plan_user.roles.iter().copied()),
                licensed: plan_user.licensed,
                created_at: created_at + Span::hours(hours),
                disabled: false,
                has_token: true,
            };
            let event = origin.event(
                user.created_at,
                Some(tenant.id.clone()),
                EventAction::UserCreated,
                (user.id.as_str(), plan_user.name),
                json!({}),
            );
            users.push((user, event));
        }
        let configured = configure(&mut tenant, &plan, &users, &origin)?;
        let tenant_users: Vec<User> = users.iter().map(|(u, _)| u.clone()).collect();
        let planned = plan_keys(&tenant, &plan, &tenant_users, admin, keyring, now, rng)?;
        let mut keys = Vec::with_capacity(planned.len());
        for Planned {
            mut key,
            secret,
            timeline,
        } in planned
        {
            if seed_usage(&mut key, &timeline, now, rng, &mut demo.usage) {
                demo.traffic
                    .secrets
                    .push(Zeroizing::new(secret.expose().to_owned()));
            }
            keys.push(key);
        }
        demo.tenants.push(SeededTenant {
            tenant,
            created,
            users,
            configured,
            keys,
        });
    }
    // Secrets no key has, malformed strings: failures the verify path must shrug off.
    demo.traffic.secrets.push(Zeroizing::new(
        "kd_notarealkeynotarealkeynotarealk000000".to_owned(),
    ));
    demo.traffic
        .secrets
        .push(Zeroizing::new("garbage".to_owned()));
    Ok(demo)
}

/// Changes a new tenant's default settings to the plan's a day after its
/// creation, as the server would, and returns the `settings.updated` event.
fn configure(
    tenant: &mut Tenant,
    plan: &TenantPlan,
    users: &[(User, NewEvent)],
    origin: &Origin,
) -> anyhow::Result<Option<NewEvent>> {
    let wanted = &plan.settings;
    let patch = SettingsPatch {
        api_keys_enabled: Some(wanted.api_keys_enabled),
        max_expiry_days: Some(wanted.max_expiry_days),
        max_keys_per_user: Some(wanted.max_keys_per_user),
        key_creators: Some(wanted.key_creators),
        scopes_editable: Some(wanted.scopes_editable),
        revoke_requires_disabled: Some(wanted.revoke_requires_disabled),
        secret_retrieval: Some(wanted.secret_retrieval),
        key_prefix: Some(wanted.key_prefix.clone()),
        scopes: Some(wanted.scopes.clone()),
        rate_limit: Some(wanted.rate_limit),
    };
    let (next, changed) = tenant.settings.apply(&patch).map_err(invalid)?;
    if changed.is_empty() {
        return Ok(None);
    }
    let actor = match plan.configured_by {
        None => origin.actor.clone(),
        Some(name) => users
            .iter()
            .map(|(u, _)| u)
            .find(|u| u.name.as_str() == name)
            .map(user_ref)
            .ok_or_else(|| invalid(format!("{name} is not a user of {}", plan.id)))?,
    };
    let (before, after) = (
        json!(api::Settings::from_domain(&tenant.settings, 0)),
        json!(api::Settings::from_domain(&next, 0)),
    );
    let changes: serde_json::Map<_, _> = changed
        .iter()
        .map(|f| {
            (
                (*f).to_owned(),
                json!({ "from": before[*f], "to": after[*f] }),
            )
        })
        .collect();
    tenant.settings = next;
    tenant.settings_version += 1;
    let by = Origin {
        actor,
        source: origin.source.clone(),
    };
    Ok(Some(by.event(
        tenant.created_at + Span::days(1),
        Some(tenant.id.clone()),
        EventAction::SettingsUpdated,
        (tenant.id.as_str(), tenant.name.as_str()),
        serde_json::Value::Object(changes),
    )))
}

/// Revokes `owner`'s oldest live keys just before `at` until a new key fits
/// under `max`, as a user at seed 001's limit does; returns their live keys.
fn make_room(
    planned: &mut [Planned],
    owner: &UserId,
    at: DateTime<Utc>,
    max: Option<u32>,
    rng: &mut impl Rng,
) -> u32 {
    loop {
        let live: Vec<usize> = (0..planned.len())
            .filter(|&i| planned[i].key.owner.id == *owner && planned[i].timeline.live_at(at))
            .collect();
        let count = u32::try_from(live.len()).unwrap_or(u32::MAX);
        let Some(oldest) = live
            .into_iter()
            .min_by_key(|&i| planned[i].timeline.created)
        else {
            return count;
        };
        if max.is_none_or(|max| count < max) {
            return count;
        }
        let timeline = &mut planned[oldest].timeline;
        let revoked = (at - Span::minutes(rng.random_range(1..=30)))
            .max(timeline.created + Span::minutes(1))
            .min(at);
        timeline.revoked = Some(revoked);
        if timeline.disabled.is_some_and(|d| d >= revoked) {
            timeline.disabled = None;
        }
    }
}

/// Plans a tenant's keys: created by whom its rules allow, within its limits,
/// some disabled and some revoked since.
fn plan_keys(
    tenant: &Tenant,
    plan: &TenantPlan,
    users: &[User],
    admin: &User,
    keyring: &Keyring,
    now: DateTime<Utc>,
    rng: &mut impl Rng,
) -> anyhow::Result<Vec<Planned>> {
    let settings = &tenant.settings;
    let owners: Vec<(&User, Owns)> = if settings.key_creators == KeyCreators::SystemAdmins {
        vec![(admin, Owns::Keys)]
    } else {
        plan.users
            .iter()
            .zip(users)
            .filter(|(p, _)| p.owns != Owns::Nothing)
            .map(|(p, u)| (u, p.owns))
            .collect()
    };
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let mut creations: Vec<(DateTime<Utc>, &User)> = (0..plan.keys)
        .map(|i| {
            let minutes = rng.random_range(60..60 * 24 * HISTORY_DAYS);
            (now - Span::minutes(minutes), owners[i % owners.len()].0)
        })
        .collect();
    creations.sort_by_key(|(at, _)| *at);
    let mut planned: Vec<Planned> = Vec::with_capacity(creations.len());
    for (created, owner) in creations {
        let expires = match settings.max_expiry_days {
            Some(days) => {
                Some(created + Span::days(i64::from(rng.random_range(7.min(days)..=days))))
            }
            None => rng
                .random_bool(0.4)
                .then(|| created + Span::days(rng.random_range(30..=400))),
        };
        let live = make_room(
            &mut planned,
            &owner.id,
            created,
            settings.max_keys_per_user,
            rng,
        );
        let mut new = create_key(tenant, owner, live, created, expires, admin, keyring, rng)?;
        // Some keys were disabled since, some revoked (seed 002: disabled first).
        let end = expires.map_or(now, |e| e.min(now));
        if (end - created).num_minutes() > 120 {
            let at = created + Span::minutes(rng.random_range(60..(end - created).num_minutes()));
            let roll: f64 = rng.random();
            if roll < 0.10 {
                new.timeline.revoked = Some(at);
            } else if roll < 0.22 {
                new.timeline.disabled = Some(at);
            }
        }
        planned.push(new);
    }
    // Every owner has a key that works today, to try actions on; the user
    // at seed 001's limit has exactly as many live keys as it allows.
    for (owner, owns) in &owners {
        for _ in 0..20 {
            let mine = || planned.iter().filter(|p| p.key.owner.id == owner.id);
            let active = mine().any(|p| p.timeline.code_at(now) == VerifyCode::Valid);
            let live = mine().filter(|p| p.timeline.live_at(now)).count();
            let short = match settings.max_keys_per_user {
                Some(max) if *owns == Owns::UpToTheLimit => {
                    u32::try_from(live).unwrap_or(u32::MAX) < max
                }
                _ => false,
            };
            if active && !short {
                break;
            }
            // After the owner's other keys: the limit held when they were made.
            let after = mine()
                .map(|p| p.timeline.created)
                .fold(now - Span::days(1), DateTime::max);
            let created = between(rng, after, now);
            let expires = settings
                .max_expiry_days
                .map(|days| created + Span::days(i64::from(rng.random_range(days.min(30)..=days))));
            let live = make_room(
                &mut planned,
                &owner.id,
                created,
                settings.max_keys_per_user,
                rng,
            );
            planned.push(create_key(
                tenant, owner, live, created, expires, admin, keyring, rng,
            )?);
        }
    }
    for p in &mut planned {
        settle(p, tenant, users, admin, rng)?;
    }
    planned.sort_by_key(|p| p.timeline.created);
    Ok(planned)
}

/// Creates one key at `created` through the domain, under the tenant's
/// rules, with an id that sorts by that time.
#[allow(clippy::too_many_arguments)]
fn create_key(
    tenant: &Tenant,
    owner: &User,
    owner_live_keys: u32,
    created: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
    admin: &User,
    keyring: &Keyring,
    rng: &mut impl Rng,
) -> anyhow::Result<Planned> {
    let settings = &tenant.settings;
    let creator = if settings.key_creators == KeyCreators::SystemAdmins {
        admin
    } else {
        owner
    };
    policy::may_create_key(creator, settings, &owner.id).map_err(invalid)?;
    let name = format!(
        "{}-{}",
        KEY_NAMES[rng.random_range(0..KEY_NAMES.len())],
        SUFFIXES[rng.random_range(0..SUFFIXES.len())]
    );
    let mut granted: Vec<Scope> = settings
        .scopes
        .iter()
        .filter(|_| rng.random_bool(0.5))
        .cloned()
        .collect();
    if granted.is_empty() {
        granted = settings.scopes[..1].to_vec();
    }
    let request = NewKey {
        name: KeyName::parse(&name).map_err(invalid)?,
        description: Description::parse(&format!("Used by the {name} service."))
            .map_err(invalid)?,
        scopes: granted,
        owner: user_ref(owner),
        expires_at: expires,
    };
    let facts = CreationFacts {
        tenant: tenant.clone(),
        owner: Some(owner.clone()),
        owner_live_keys,
    };
    let (mut key, secret) = ApiKey::create(&facts, request, user_ref(creator), keyring, created)
        .map_err(|refusal| invalid(format!("{}: {}", refusal.code, refusal.message)))?;
    key.id = KeyId::from_trusted(format!("key_{}", ulid::Ulid::from_datetime(created.into())));
    if key.encrypted_secret.is_some() {
        // The ciphertext is bound to the key id.
        key.encrypted_secret = Some(
            keyring
                .encrypt(key.id.as_str(), &secret)
                .map_err(|_| invalid("the secret could not be encrypted"))?,
        );
    }
    Ok(Planned {
        key,
        secret,
        timeline: Timeline {
            created,
            expires,
            disabled: None,
            revoked: None,
        },
    })
}

/// Applies a planned key's disabling and revocation through the status
/// machine, at their times, by someone allowed to.
fn settle(
    planned: &mut Planned,
    tenant: &Tenant,
    users: &[User],
    admin: &User,
    rng: &mut impl Rng,
) -> anyhow::Result<()> {
    let settings = &tenant.settings;
    let timeline = &mut planned.timeline;
    // Seed 002: a key is disabled before it is revoked.
    if let (Some(revoked), None) = (timeline.revoked, timeline.disabled) {
        if settings.revoke_requires_disabled {
            timeline.disabled = Some(between(rng, timeline.created, revoked));
        }
    }
    let timeline = *timeline;
    let owner = users
        .iter()
        .chain([admin])
        .find(|u| u.id == planned.key.owner.id)
        .ok_or_else(|| invalid("a key's owner is not a demo user"))?;
    let tenant_admin = users.iter().find(|u| u.roles.has(Role::TenantAdmin));
    let mut act = |action: KeyAction| -> anyhow::Result<UserRef> {
        // Owners act on their keys; tenant admins step in now and then.
        let actor = match tenant_admin {
            Some(a) if rng.random_bool(0.4) => a,
            _ => owner,
        };
        policy::may_act_on_key(actor, action, settings, &owner.id).map_err(invalid)?;
        Ok(user_ref(actor))
    };
    let refused =
        |refusal: crate::domain::Refusal| invalid(format!("{}: {}", refusal.code, refusal.message));
    if let Some(at) = timeline.disabled {
        let by = act(KeyAction::Disable)?;
        planned.key.disable(settings, by, at).map_err(refused)?;
    }
    if let Some(at) = timeline.revoked {
        let by = act(KeyAction::Revoke)?;
        planned.key.revoke(settings, by, at).map_err(refused)?;
    }
    Ok(())
}

/// Half-hour slots of the last 24 h that get usage.
const USAGE_SLOTS: i64 = 48;

/// 24 h of usage for a key that agrees with its timeline, and its last
/// successful use; true when callers present it today (the live traffic
/// goes on presenting it).
fn seed_usage(
    key: &mut ApiKey,
    timeline: &Timeline,
    now: DateTime<Utc>,
    rng: &mut impl Rng,
    usage: &mut Vec<(UsageBucket, u64)>,
) -> bool {
    let day_ago = now - Span::hours(24);
    let chance = if timeline.code_at(now) == VerifyCode::Valid {
        0.65
    } else if timeline.valid_until().is_some_and(|end| end > day_ago) {
        // Stopped today: its callers have not all noticed yet.
        0.6
    } else {
        // Long dead, and still presented by a forgotten job or a leak.
        0.15
    };
    let called = rng.random_bool(chance);
    let recorded = usage.len();
    let mut latest_success = None;
    if called {
        let base: u64 = rng.random_range(1..40);
        let error_share: f64 = if rng.random_bool(0.15) {
            rng.random_range(0.2..0.7)
        } else {
            rng.random_range(0.0..0.03)
        };
        for slot in 0..USAGE_SLOTS {
            let minute = (now - Span::minutes(slot * 30)).timestamp().div_euclid(60);
            let Some(at) = DateTime::from_timestamp(minute * 60, 0) else {
                continue;
            };
            if at < timeline.created {
                continue;
            }
            let calls = base + rng.random_range(0..base.max(2));
            let mut count = |code: VerifyCode, n: u64| {
                if n > 0 {
                    usage.push((
                        UsageBucket {
                            key_id: key.id.clone(),
                            minute,
                            outcome: code.as_str(),
                        },
                        n,
                    ));
                }
            };
            match timeline.code_at(at) {
                VerifyCode::Valid => {
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        clippy::cast_precision_loss
                    )]
                    let failed = (calls as f64 * error_share) as u64;
                    count(VerifyCode::Valid, calls - failed);
                    count(VerifyCode::InsufficientScope, failed);
                    latest_success.get_or_insert(at);
                }
                code => count(code, calls),
            }
        }
    }
    key.last_used_at = match latest_success {
        Some(at) => {
            let used = at + Span::seconds(rng.random_range(0..60));
            let fits = used <= now && timeline.valid_until().is_none_or(|end| used < end);
            Some(if fits { used } else { at })
        }
        // Not used today: last used before, while it still verified, or never.
        None => {
            let end = timeline
                .valid_until()
                .map_or(day_ago, |end| end.min(day_ago))
                - Span::hours(1);
            (end > timeline.created && rng.random_bool(0.75))
                .then(|| between(rng, timeline.created, end))
        }
    };
    // A key made in the last few minutes may have had no call yet.
    usage.len() > recorded
}

/// Writes the demo through the store, in the order it happened.
async fn write(state: &AppState, demo: &Demo) -> anyhow::Result<()> {
    let store = state.store.as_ref();
    for seeded in &demo.tenants {
        let new = Tenant {
            settings: TenantSettings::default(),
            settings_version: 1,
            ..seeded.tenant.clone()
        };
        store.create_tenant(&new, &seeded.created).await?;
        for (user, event) in &seeded.users {
            // The seeded tokens are never shown; `--as` issues a new one.
            let digest = state.keyring.token_digest(generate_token().expose());
            store.create_user(user, &digest, event).await?;
        }
        if let Some(event) = &seeded.configured {
            let (tenant, event) = (seeded.tenant.clone(), event.clone());
            store
                .update_settings(
                    &tenant.id.clone(),
                    Box::new(move |_| {
                        Ok(SettingsWrite {
                            tenant,
                            event: Some(event),
                            forget_stored_secrets: false,
                        })
                    }),
                )
                .await?;
        }
        store.import_keys(seeded.keys.clone()).await?;
    }
    store.record_usage(&demo.usage, &[]).await?;
    Ok(())
}

/// Gives a demo user a new management token, so the console can sign in
/// as them (`--as`): the demo's operator holds the whole server, and the
/// log says the system administrator issued it.
async fn sign_in(state: &AppState, admin: &User, user: &User) -> anyhow::Result<Zeroizing<String>> {
    let token = generate_token();
    let origin = Origin {
        actor: user_ref(admin),
        source: "demo".to_owned(),
    };
    let digest = state.keyring.token_digest(token.expose());
    state
        .store
        .change_user_token(
            &user.id,
            Box::new(move |user| {
                let event =
                    origin.about_user(server::now(), EventAction::UserTokenIssued, user, json!({}));
                Ok((Some(digest), event))
            }),
        )
        .await?;
    Ok(Zeroizing::new(token.expose().to_owned()))
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

/// The demo server, seeded and ready to serve.
struct Seeded {
    dir: tempfile::TempDir,
    prepared: server::Prepared,
    admin: User,
    admin_token: Secret,
    demo: Demo,
}

/// Starts the server on a temporary database and seeds it.
async fn seeded_server() -> anyhow::Result<Seeded> {
    let dir = tempfile::Builder::new().prefix("keydesk-demo-").tempdir()?;
    let admin_token = generate_token();
    let mut pepper = [0u8; 32];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut pepper)
        .map_err(|e| anyhow::anyhow!("the OS random source failed: {e}"))?;
    let config = ServeConfig {
        listen: "127.0.0.1:0".to_owned(),
        data_dir: Some(dir.path().join("data")),
        pepper: Some(hex::encode(pepper)),
        bootstrap_token: Some(admin_token.expose().to_owned()),
        ..ServeConfig::default()
    };
    let prepared = server::prepare(&config).await?;
    let state = prepared.state.clone();
    let admin = state
        .store
        .user_by_token_digest(&state.keyring.token_digest(admin_token.expose()))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo administrator was not created"))?;
    let demo = build(server::now(), &admin, &state.keyring, &mut rand::rng())?;
    write(&state, &demo).await?;
    Ok(Seeded {
        dir,
        prepared,
        admin,
        admin_token,
        demo,
    })
}

/// Runs the demo until the console quits; then stops the server and removes its files.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let Seeded {
        dir,
        prepared,
        admin,
        admin_token,
        demo,
    } = seeded_server().await?;
    let state = prepared.state.clone();
    let base = format!("http://{}", prepared.listener.local_addr()?);
    let (token, home) = match &options.as_user {
        None => (Zeroizing::new(admin_token.expose().to_owned()), None),
        Some(name) => {
            let user = demo
                .users()
                .find(|u| u.name.as_str().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    let names: Vec<&str> = demo.users().map(|u| u.name.as_str()).collect();
                    anyhow::anyhow!("no demo user {name:?}; try one of {}", names.join(", "))
                })?;
            (
                sign_in(&state, &admin, user).await?,
                user.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
            )
        }
    };
    drop(admin_token);
    let traffic = Arc::new(demo.traffic);
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
        token_source: "the demo".to_owned(),
        color: console::color_enabled(),
    })
    .await;
    traffic_task.abort();
    let _ = stop.send(());
    let _ = server_task.await;
    drop(dir);
    outcome
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use rand::SeedableRng as _;
    use rand::rngs::StdRng;

    use super::*;
    use crate::client::{Client, KeyListQuery};
    use crate::domain::{KeyStatus, Lifecycle};

    fn system_admin() -> User {
        User {
            id: UserId::generate(),
            name: PersonName::parse("admin").unwrap(),
            email: Email::parse("admin@localhost").unwrap(),
            tenant_id: None,
            roles: Roles::new([Role::SystemAdmin]),
            licensed: true,
            created_at: server::now(),
            disabled: false,
            has_token: true,
        }
    }

    fn tenant<'a>(demo: &'a Demo, id: &str) -> &'a SeededTenant {
        demo.tenants
            .iter()
            .find(|t| t.tenant.id.as_str() == id)
            .unwrap()
    }

    fn demo_user<'a>(demo: &'a Demo, name: &str) -> &'a User {
        demo.users().find(|u| u.name.as_str() == name).unwrap()
    }

    /// Did `key` verify at `at`, by what is stored about it? (A disabled
    /// key's last update is its disabling.)
    fn verified_at(key: &ApiKey, at: DateTime<Utc>) -> bool {
        at >= key.created_at
            && key.revoked_at.is_none_or(|r| at < r)
            && key.expires_at.is_none_or(|e| at < e)
            && !(key.lifecycle == Lifecycle::Disabled && key.updated_at <= at)
    }

    /// Counted against its owner's `max_keys_per_user` at `at`.
    fn live_at(key: &ApiKey, at: DateTime<Utc>) -> bool {
        key.created_at <= at
            && key.revoked_at.is_none_or(|r| at < r)
            && key.expires_at.is_none_or(|e| at < e)
    }

    /// The outcomes a verification of `key` at `at` could have had.
    fn possible_outcomes(key: &ApiKey, at: DateTime<Utc>) -> Vec<&'static str> {
        let mut outcomes = if verified_at(key, at) {
            vec!["VALID", "INSUFFICIENT_SCOPE"]
        } else if key.revoked_at.is_some_and(|r| r <= at) {
            vec!["REVOKED"]
        } else if key.expires_at.is_some_and(|e| e <= at) {
            vec!["EXPIRED"]
        } else if key.lifecycle == Lifecycle::Disabled && key.updated_at <= at {
            vec!["DISABLED"]
        } else {
            vec![]
        };
        // A revoked key may have been disabled first (seed 002 always
        // does); when is not stored.
        if key.lifecycle == Lifecycle::Revoked && outcomes.contains(&"VALID") {
            outcomes.push("DISABLED");
        }
        outcomes
    }

    fn minute_of(at: DateTime<Utc>) -> i64 {
        at.timestamp().div_euclid(60)
    }

    /// Every rule the demo data promises, over every key, bucket and secret.
    fn assert_consistent(demo: &Demo, now: DateTime<Utc>, keyring: &Keyring, admin: &User) {
        let mut keys: HashMap<&KeyId, &ApiKey> = HashMap::new();
        let mut statuses = HashSet::new();
        for seeded in &demo.tenants {
            let tenant = &seeded.tenant;
            let settings = &tenant.settings;
            let users: Vec<&User> = seeded.users.iter().map(|(u, _)| u).collect();
            // The log reads in order: created, its users, then configured.
            let mut times = vec![seeded.created.at];
            times.extend(seeded.users.iter().map(|(_, e)| e.at));
            times.extend(seeded.configured.iter().map(|e| e.at));
            assert!(times.is_sorted(), "{}: events out of order", tenant.id);
            let switched_on = seeded.configured.as_ref().map(|e| e.at);
            for key in &seeded.keys {
                let id = key.id.as_str();
                keys.insert(&key.id, key);
                statuses.insert(key.status(now));
                assert_eq!(key.tenant_id, tenant.id, "{id}");
                assert!(
                    switched_on.is_some_and(|on| on < key.created_at),
                    "{id}: created before keys were switched on"
                );
                assert!(
                    key.created_at <= key.updated_at && key.updated_at <= now,
                    "{id}"
                );
                let stamp = ulid::Ulid::from_string(&id["key_".len()..]).unwrap();
                assert_eq!(
                    DateTime::<Utc>::from(stamp.datetime()),
                    key.created_at,
                    "{id}: the id sorts by creation"
                );
                assert_eq!(
                    key.lifecycle == Lifecycle::Revoked,
                    key.revoked_at.is_some(),
                    "{id}"
                );
                if let Some(revoked) = key.revoked_at {
                    assert_eq!(revoked, key.updated_at, "{id}: revocation is final");
                    assert!(key.encrypted_secret.is_none(), "{id}");
                }
                assert!(!key.scopes.is_empty(), "{id}");
                assert!(
                    key.scopes.iter().all(|s| settings.scopes.contains(s)),
                    "{id}: a scope the tenant does not offer"
                );
                assert!(
                    key.start
                        .starts_with(&format!("{}_", settings.key_prefix.as_str())),
                    "{id}"
                );
                if let Some(days) = settings.max_expiry_days {
                    let expires = key.expires_at.unwrap_or_else(|| panic!("{id}: no expiry"));
                    assert!(
                        expires <= key.created_at + Span::days(days.into()),
                        "{id}: expiry beyond {days} days"
                    );
                }
                // Created by whom the tenant allows, for an owner it allows.
                if settings.key_creators == KeyCreators::SystemAdmins {
                    assert_eq!(key.created_by.id, admin.id, "{id}");
                } else {
                    assert_eq!(key.created_by.id, key.owner.id, "{id}");
                    let owner = users.iter().find(|u| u.id == key.owner.id).unwrap();
                    policy::may_create_key(owner, settings, &owner.id).unwrap();
                }
                if let Some(used) = key.last_used_at {
                    assert!(used <= now, "{id}: used in the future");
                    assert!(
                        verified_at(key, used),
                        "{id}: last used at {used}, when it did not verify"
                    );
                }
            }
            // Seed 001's limit held when each key was created, and holds now.
            if let Some(max) = settings.max_keys_per_user {
                for key in &seeded.keys {
                    let live = seeded
                        .keys
                        .iter()
                        .filter(|k| k.id != key.id && k.owner.id == key.owner.id)
                        .filter(|k| live_at(k, key.created_at))
                        .count();
                    assert!(live < max as usize, "{}: over the limit", key.id);
                }
            }
        }
        for status in KeyStatus::ALL {
            assert!(statuses.contains(&status), "no {status:?} key in the demo");
        }
        // Usage: only what each key's status allowed at the time.
        let day_ago = now - Span::hours(24);
        let mut latest_success: HashMap<&KeyId, i64> = HashMap::new();
        for (bucket, count) in &demo.usage {
            let key = keys[&bucket.key_id];
            let at = DateTime::from_timestamp(bucket.minute * 60, 0).unwrap();
            assert!(*count > 0);
            assert!(
                minute_of(day_ago) <= bucket.minute && bucket.minute <= minute_of(now),
                "{}: usage outside the last 24 h",
                key.id
            );
            assert!(
                possible_outcomes(key, at).contains(&bucket.outcome),
                "{}: {} at {at}, while {:?} (created {}, expires {:?}, revoked {:?}, updated {})",
                key.id,
                bucket.outcome,
                key.lifecycle,
                key.created_at,
                key.expires_at,
                key.revoked_at,
                key.updated_at
            );
            if bucket.outcome == "VALID" {
                let latest = latest_success.entry(&key.id).or_insert(bucket.minute);
                *latest = (*latest).max(bucket.minute);
            }
        }
        // last_used_at is the latest success.
        for (id, key) in &keys {
            match (key.last_used_at, latest_success.get(id)) {
                (None, None) => {}
                (None, Some(_)) => panic!("{id}: used today, but never last used"),
                (Some(used), latest) => {
                    if used >= day_ago {
                        assert_eq!(latest, Some(&minute_of(used)), "{id}");
                    } else {
                        assert_eq!(latest, None, "{id}: used today after its last use");
                    }
                }
            }
        }
        // The live traffic presents only keys that were being called.
        let called: HashSet<&KeyId> = demo.usage.iter().map(|(b, _)| &b.key_id).collect();
        let by_digest: HashMap<&str, &KeyId> = keys
            .values()
            .map(|k| (k.secret_digest.as_str(), &k.id))
            .collect();
        for secret in &demo.traffic.secrets {
            let Ok(secret) = Secret::parse(secret) else {
                continue;
            };
            if let Some(id) = by_digest.get(keyring.secret_digest(&secret).as_str()) {
                assert!(called.contains(id), "{id}: traffic, but no usage today");
            }
        }
    }

    #[test]
    fn every_seeded_key_agrees_with_its_status_and_usage() {
        let keyring = Keyring::from_pepper(&[7u8; 32]).unwrap();
        let admin = system_admin();
        for seed in 0..25 {
            let now = server::now();
            let mut rng = StdRng::seed_from_u64(seed);
            let demo = build(now, &admin, &keyring, &mut rng).unwrap();
            assert_consistent(&demo, now, &keyring, &admin);
            // Seed 001: eva is at the limit, so her next key is refused.
            let eva = demo_user(&demo, "eva");
            let live = tenant(&demo, "datahub-nl")
                .keys
                .iter()
                .filter(|k| k.owner.id == eva.id && k.is_live(now))
                .count();
            assert_eq!(live, 5, "seed {seed}");
            // Every owner has an active key to try actions on.
            for seeded in &demo.tenants {
                let owners: HashSet<&UserId> = seeded.keys.iter().map(|k| &k.owner.id).collect();
                for owner in owners {
                    assert!(
                        seeded
                            .keys
                            .iter()
                            .any(|k| k.owner.id == *owner && k.status(now) == KeyStatus::Active),
                        "seed {seed}: {owner} has no active key in {}",
                        seeded.tenant.id
                    );
                }
            }
        }
    }

    #[test]
    fn each_tenant_is_configured_like_its_source() {
        let keyring = Keyring::from_pepper(&[7u8; 32]).unwrap();
        let admin = system_admin();
        let demo = build(
            server::now(),
            &admin,
            &keyring,
            &mut StdRng::seed_from_u64(1),
        )
        .unwrap();
        let settings = |id| &tenant(&demo, id).tenant.settings;
        let roles = |name| &demo_user(&demo, name).roles;
        // 000: secrets copied from the list later; scopes editable.
        assert_eq!(
            settings("konfipay").secret_retrieval,
            SecretRetrieval::Admins
        );
        assert!(settings("konfipay").scopes_editable);
        // 001: limits, and keys switched on by the tenant admin himself.
        let datahub = settings("datahub-nl");
        assert_eq!(datahub.max_expiry_days, Some(90));
        assert_eq!(datahub.max_keys_per_user, Some(5));
        let switched = tenant(&demo, "datahub-nl").configured.as_ref().unwrap();
        assert_eq!(switched.actor.name, "daan");
        assert_eq!(
            switched.changes["api_keys_enabled"],
            json!({"from": false, "to": true})
        );
        assert!(roles("daan").has(Role::TenantAdmin) && !roles("daan").has(Role::Developer));
        assert!(!demo_user(&demo, "finn").licensed);
        // 002: fixed scopes, revoke only a disabled key, copy from the list.
        assert!(!settings("payrails").scopes_editable);
        assert_eq!(
            settings("payrails").secret_retrieval,
            SecretRetrieval::Admins
        );
        assert!(settings("payrails").revoke_requires_disabled);
        // 003: only system administrators create keys.
        assert_eq!(
            settings("onboardly").key_creators,
            KeyCreators::SystemAdmins
        );
        // 001's default: keys off, no keys, and an admin who can switch them on.
        let greenfield = tenant(&demo, "greenfield");
        assert!(!greenfield.tenant.settings.api_keys_enabled);
        assert_eq!(greenfield.tenant.settings, TenantSettings::default());
        assert!(greenfield.keys.is_empty());
        let mia = demo_user(&demo, "mia");
        assert!(mia.roles.has(Role::TenantAdmin) && mia.roles.has(Role::Developer));
        assert!(mia.licensed);
        // Every other tenant has keys on, and keys.
        for seeded in demo
            .tenants
            .iter()
            .filter(|t| t.tenant.id.as_str() != "greenfield")
        {
            assert!(seeded.tenant.settings.api_keys_enabled);
            assert!(!seeded.keys.is_empty());
        }
    }

    async fn all_keys(client: &Client, tenant: &str) -> Vec<api::Key> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let query = KeyListQuery {
                limit: Some(500),
                cursor: cursor.clone(),
                ..KeyListQuery::default()
            };
            let page = client.list_keys(tenant, &query).await.unwrap();
            keys.extend(page.items);
            cursor = page.next_cursor;
            if cursor.is_none() {
                return keys;
            }
        }
    }

    /// The problem code that refused `result`, or "accepted".
    fn refused<T>(result: crate::client::ClientResult<T>) -> String {
        match result {
            Ok(_) => "accepted".to_owned(),
            Err(err) => err.code().unwrap_or("unreachable").to_owned(),
        }
    }

    fn new_key(scope: &Scope, days: Option<i64>) -> api::CreateKey {
        serde_json::from_value(json!({
            "name": "demo-try",
            "scopes": [scope.as_str()],
            "expires_at": days.map(|d| server::now() + Span::days(d)),
        }))
        .unwrap()
    }

    /// The demo as `keydesk demo` serves it: what the API shows of every
    /// key, what the traffic's verifications answer, and, signed in as each
    /// seeded user, the refusals the module documentation promises.
    #[tokio::test]
    async fn the_served_demo_agrees_with_its_data_and_refuses_as_documented() {
        let seeded = seeded_server().await.unwrap();
        let Seeded {
            dir: _dir,
            prepared,
            admin,
            admin_token,
            demo,
        } = seeded;
        let state = prepared.state.clone();
        let base = format!("http://{}", prepared.listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server_task = tokio::spawn(server::run(prepared.listener, prepared.state, async {
            let _ = stopped.await;
        }));
        let root = Client::new(&base, admin_token.expose()).unwrap();
        let now = server::now();

        // What the API lists agrees with the seeded keys and usage.
        let mut usage: HashMap<&KeyId, (u64, u64)> = HashMap::new();
        for (bucket, count) in &demo.usage {
            let entry = usage.entry(&bucket.key_id).or_default();
            if bucket.outcome == "VALID" {
                entry.0 += count;
            } else {
                entry.1 += count;
            }
        }
        for seeded in &demo.tenants {
            let listed = all_keys(&root, seeded.tenant.id.as_str()).await;
            assert_eq!(listed.len(), seeded.keys.len(), "{}", seeded.tenant.id);
            for key in &seeded.keys {
                let shown = listed.iter().find(|k| k.id == key.id.as_str()).unwrap();
                assert_eq!(shown.status, key.status(now), "{}", key.id);
                assert_eq!(shown.last_used_at, key.last_used_at, "{}", key.id);
                let (valid, failed) = usage.get(&key.id).copied().unwrap_or_default();
                assert_eq!(
                    (shown.usage_24h.valid, shown.usage_24h.failed),
                    (valid, failed),
                    "{}",
                    key.id
                );
            }
            // The audit log reads in time order.
            let events = root
                .events(seeded.tenant.id.as_str(), None, None)
                .await
                .unwrap()
                .items;
            assert!(events.len() > seeded.users.len());
            assert!(events.windows(2).all(|w| w[0].at >= w[1].at));
        }

        // The traffic succeeds exactly for the keys that are valid.
        let keys: HashMap<&str, (&ApiKey, &Tenant)> = demo
            .tenants
            .iter()
            .flat_map(|t| {
                t.keys
                    .iter()
                    .map(move |k| (k.secret_digest.as_str(), (k, &t.tenant)))
            })
            .collect();
        let mut codes = HashSet::new();
        for secret in &demo.traffic.secrets {
            let answer = root.verify(secret, None).await.unwrap();
            let key = Secret::parse(secret)
                .ok()
                .and_then(|s| keys.get(state.keyring.secret_digest(&s).as_str()));
            let expected = match key {
                None => VerifyCode::NotFound,
                Some((key, tenant)) => match key.status(server::now()) {
                    KeyStatus::Revoked => VerifyCode::Revoked,
                    KeyStatus::Expired => VerifyCode::Expired,
                    KeyStatus::Disabled => VerifyCode::Disabled,
                    KeyStatus::Active if !tenant.settings.api_keys_enabled => {
                        VerifyCode::TenantDisabled
                    }
                    KeyStatus::Active => VerifyCode::Valid,
                },
            };
            assert_eq!(answer.code, expected);
            assert_eq!(answer.valid, expected == VerifyCode::Valid);
            codes.insert(answer.code);
        }
        assert!(codes.contains(&VerifyCode::Valid) && codes.contains(&VerifyCode::NotFound));

        // Signed in as each user, the documented refusals.
        let mut clients = HashMap::new();
        for user in demo.users() {
            let token = sign_in(&state, &admin, user).await.unwrap();
            clients.insert(user.name.as_str(), Client::new(&base, &token).unwrap());
        }
        let owned_active = |tenant_id: &str, owner: &str| {
            let owner = demo_user(&demo, owner);
            tenant(&demo, tenant_id)
                .keys
                .iter()
                .find(|k| k.owner.id == owner.id && k.status(server::now()) == KeyStatus::Active)
                .unwrap()
        };
        let scope = |tenant_id: &str| tenant(&demo, tenant_id).tenant.settings.scopes[0].clone();
        let (konfipay, datahub, payrails, onboardly, greenfield) = (
            "konfipay",
            "datahub-nl",
            "payrails",
            "onboardly",
            "greenfield",
        );

        // 000: only tenant admins copy a secret; developers change their own keys.
        let anas = owned_active(konfipay, "ana").id.as_str();
        assert_eq!(
            refused(clients["bo"].reveal_key(konfipay, anas).await),
            "FORBIDDEN"
        );
        assert_eq!(
            refused(clients["bo"].disable_key(konfipay, anas).await),
            "FORBIDDEN"
        );
        let create = new_key(&scope(konfipay), None);
        assert_eq!(
            refused(clients["clara"].create_key(konfipay, &create).await),
            "FORBIDDEN"
        );
        assert!(clients["ana"].reveal_key(konfipay, anas).await.is_ok());

        // 001: developer role, license, keys per user, expiry.
        let in_30_days = new_key(&scope(datahub), Some(30));
        assert_eq!(
            refused(clients["daan"].create_key(datahub, &in_30_days).await),
            "FORBIDDEN"
        );
        let femkes = owned_active(datahub, "femke").id.as_str();
        assert_eq!(
            refused(clients["daan"].delete_key(datahub, femkes).await),
            "FORBIDDEN"
        );
        assert_eq!(
            refused(clients["eva"].create_key(datahub, &in_30_days).await),
            "KEY_LIMIT_REACHED"
        );
        let in_a_year = new_key(&scope(datahub), Some(365));
        assert_eq!(
            refused(clients["femke"].create_key(datahub, &in_a_year).await),
            "EXPIRY_TOO_LONG"
        );
        let forever = new_key(&scope(datahub), None);
        assert_eq!(
            refused(clients["femke"].create_key(datahub, &forever).await),
            "EXPIRY_REQUIRED"
        );
        assert_eq!(
            refused(clients["finn"].create_key(datahub, &in_30_days).await),
            "FORBIDDEN"
        );
        assert!(root.create_key(datahub, &in_30_days).await.is_ok());
        assert!(clients["daan"].disable_key(datahub, femkes).await.is_ok());

        // 002: revoke only a disabled key; scopes fixed.
        let hanas_key = owned_active(payrails, "hana");
        let hanas = hanas_key.id.as_str();
        assert_eq!(
            refused(clients["hana"].revoke_key(payrails, hanas).await),
            "REVOKE_REQUIRES_DISABLED"
        );
        // Other scopes than the key has: every one the tenant offers, or one.
        let offered = &tenant(&demo, payrails).tenant.settings.scopes;
        let other = if hanas_key.scopes == *offered {
            &offered[..1]
        } else {
            &offered[..]
        };
        let rescope: api::UpdateKey = serde_json::from_value(json!({ "scopes": other })).unwrap();
        assert_eq!(
            refused(
                clients["hana"]
                    .update_key(payrails, hanas, &rescope, None)
                    .await
            ),
            "SCOPES_FIXED"
        );
        assert_eq!(
            refused(clients["hana"].reveal_key(payrails, hanas).await),
            "FORBIDDEN"
        );
        assert!(clients["gus"].reveal_key(payrails, hanas).await.is_ok());
        assert_eq!(
            refused(clients["ivo"].disable_key(payrails, hanas).await),
            "FORBIDDEN"
        );
        assert!(clients["hana"].disable_key(payrails, hanas).await.is_ok());
        assert!(clients["hana"].revoke_key(payrails, hanas).await.is_ok());

        // 003: only system administrators create keys.
        let create = new_key(&scope(onboardly), None);
        for name in ["jo", "lena", "kim"] {
            assert_eq!(
                refused(clients[name].create_key(onboardly, &create).await),
                "FORBIDDEN",
                "{name}"
            );
        }
        assert!(root.create_key(onboardly, &create).await.is_ok());

        // 001's default: keys off until the tenant admin switches them on.
        let create = new_key(&scope(greenfield), None);
        for name in ["nils", "mia"] {
            assert_eq!(
                refused(clients[name].create_key(greenfield, &create).await),
                "API_KEYS_DISABLED",
                "{name}"
            );
        }
        let switch_on = api::UpdateSettings {
            api_keys_enabled: Some(true),
            ..api::UpdateSettings::default()
        };
        assert_eq!(
            refused(
                clients["nils"]
                    .update_settings(greenfield, &switch_on, None)
                    .await
            ),
            "FORBIDDEN"
        );
        clients["mia"]
            .update_settings(greenfield, &switch_on, None)
            .await
            .unwrap();
        let created = clients["mia"]
            .create_key(greenfield, &create)
            .await
            .unwrap();
        let answer = root
            .verify(created.secret.as_deref().unwrap(), None)
            .await
            .unwrap();
        assert_eq!(answer.code, VerifyCode::Valid);
        assert!(
            clients["nils"]
                .create_key(greenfield, &create)
                .await
                .is_ok()
        );

        let _ = stop.send(());
        server_task.await.unwrap().unwrap();
    }
}
