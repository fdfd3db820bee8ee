//! The verification cache: key records by secret digest, so the hot path
//! usually answers from memory. Absent digests are cached too, so a client
//! repeating a well-formed but unknown key does not reach the database each
//! time; but at most [`MAX_UNKNOWN`] of them, the oldest going first, so
//! what a client can make the cache hold with made-up keys is bounded, and
//! never pushes out a real key's record.
//!
//! Invalidation is exact: every mutation removes its key *before* the server
//! answers. A lookup that missed, read the database, and comes back after a
//! concurrent invalidation must not re-insert what it read, or a revoked key
//! could come back from the dead; an epoch bumped by every invalidation and
//! checked under the write lock prevents that.
//!
//! A rotating key has two secrets, so it may be cached under two digests:
//! every digest cached with a key's record is remembered under its id, and
//! forgetting the key drops them all. Whether a previous secret is still in
//! its grace is not cached: verification judges it on the record at every
//! request ([`crate::domain::ApiKey::which_secret`]), so an entry cached during
//! the grace stops verifying the moment the grace ends.
//!
//! Entries also expire after [`TTL`]: defence in depth, so that no path
//! that skipped an invalidation can keep a stale answer for long.
//!
//! [`CredentialCache`] does the same for the tokens sent to `/v1/verify`,
//! so a service that authenticates every verification costs no database
//! read either; any change to users, verifiers or tenants empties it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::{ApiKey, KeyId, RateLimit, TenantId, User};

/// What verification needs to know about a key: the record, whether its
/// tenant has API keys switched on, and the tenant's default rate limit.
#[derive(Debug, Clone)]
pub struct VerifyRecord {
    pub key: ApiKey,
    pub api_keys_enabled: bool,
    pub tenant_rate_limit: Option<RateLimit>,
}

/// A cached answer: the key, or the knowledge that no key has this digest.
pub type Cached = Option<Arc<VerifyRecord>>;

/// The result of a cache lookup.
pub enum Lookup<T = Cached> {
    Hit(T),
    /// Not cached; pass the epoch back to the cache's `insert`.
    Miss(u64),
}

/// How long a cached answer is trusted without an invalidation.
pub const TTL: Duration = Duration::from_secs(60);

/// Digests cached as unknown, at most; a new one beyond them pushes out the oldest.
pub const MAX_UNKNOWN: usize = 16_384;

/// Entries beyond which the cache starts over, bounding memory. Unknown
/// digests never count towards it (there are at most [`MAX_UNKNOWN`]), so
/// only real keys, of which a client cannot make more, can fill it.
const MAX_ENTRIES: usize = 500_000 + MAX_UNKNOWN;

#[derive(Default)]
struct Inner {
    epoch: u64,
    by_digest: HashMap<String, (Cached, Instant)>,
    /// Every digest cached with the key's record: its current secret's and,
    /// while it rotates, its previous secret's.
    digests_of: HashMap<KeyId, Vec<String>>,
    /// The digests cached as unknown, oldest first.
    unknown: VecDeque<String>,
}

impl Inner {
    /// Caches `digest` as unknown, pushing out the oldest unknown digest
    /// when there are [`MAX_UNKNOWN`] (a known key's record is never pushed out).
    fn insert_unknown(&mut self, digest: String) {
        while self.unknown.len() >= MAX_UNKNOWN {
            let Some(oldest) = self.unknown.pop_front() else {
                break;
            };
            if matches!(self.by_digest.get(&oldest), Some((None, _))) {
                self.by_digest.remove(&oldest);
            }
        }
        self.unknown.push_back(digest.clone());
        self.by_digest.insert(digest, (None, Instant::now()));
    }
}

#[derive(Default)]
pub struct KeyCache {
    inner: RwLock<Inner>,
}

// A panic under a lock leaves the maps consistent (each change is one map
// operation or a clear), so a poisoned lock is used as it is.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl KeyCache {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        read(&self.inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        write(&self.inner)
    }

    #[must_use]
    pub fn get(&self, digest: &str) -> Lookup {
        let inner = self.read();
        match inner.by_digest.get(digest) {
            Some((cached, at)) if at.elapsed() < TTL => Lookup::Hit(cached.clone()),
            _ => Lookup::Miss(inner.epoch),
        }
    }

    /// Caches what the database said, unless something was invalidated since `epoch`.
    pub fn insert(&self, digest: String, cached: Cached, epoch: u64) {
        let mut inner = self.write();
        if inner.epoch != epoch {
            return;
        }
        let Some(record) = cached else {
            inner.insert_unknown(digest);
            return;
        };
        if inner.by_digest.len() >= MAX_ENTRIES {
            inner.by_digest.clear();
            inner.digests_of.clear();
            inner.unknown.clear();
        }
        let digests = inner.digests_of.entry(record.key.id.clone()).or_default();
        if !digests.contains(&digest) {
            digests.push(digest.clone());
        }
        inner
            .by_digest
            .insert(digest, (Some(record), Instant::now()));
    }

    /// Drops everything known about `key`: every digest cached with its
    /// record, and its current and previous digests as `key` has them (the
    /// key after a mutation, so a digest cached as unknown before the key
    /// had it goes too).
    pub fn forget_key(&self, key: &ApiKey) {
        let mut inner = self.write();
        inner.epoch += 1;
        for digest in inner.digests_of.remove(&key.id).unwrap_or_default() {
            inner.by_digest.remove(&digest);
        }
        inner.by_digest.remove(&key.secret_digest);
        if let Some(previous) = &key.previous_secret_digest {
            inner.by_digest.remove(previous);
        }
    }

    /// A committed event, before anyone sees it: drops what it changed. A
    /// key's event forgets every digest cached with that key (a revoke, a
    /// rotation, a deletion, an owner or scope change); a tenant's settings
    /// or the tenant itself, everything. Events that change no key (a
    /// lookup, a reveal, users) drop nothing.
    pub fn forget_changed_by(&self, event: &crate::domain::Event) {
        let e = &event.event;
        let action = e.action.as_str();
        if action.starts_with("settings.") || action.starts_with("tenant.") {
            self.clear();
        } else if action.starts_with("key.")
            && !matches!(action, "key.looked_up" | "key.secret_revealed")
        {
            let mut inner = self.write();
            inner.epoch += 1;
            let id = crate::domain::KeyId::from_trusted(e.target_id.clone());
            for digest in inner.digests_of.remove(&id).unwrap_or_default() {
                inner.by_digest.remove(&digest);
            }
        }
    }

    /// Drops everything: used when tenant settings change.
    pub fn clear(&self) {
        let mut inner = self.write();
        inner.epoch += 1;
        inner.by_digest.clear();
        inner.digests_of.clear();
        inner.unknown.clear();
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.read().by_digest.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Who a token sent to `/v1/verify` belongs to.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A verifier token of this tenant.
    Verifier(TenantId),
    /// A management token of this user.
    User(User),
}

impl Credential {
    /// Is the caller authenticated for `tenant`: a verifier of it, or a
    /// user who may see it?
    #[must_use]
    pub fn sees(&self, tenant: &TenantId) -> bool {
        match self {
            Credential::Verifier(own) => own == tenant,
            Credential::User(user) => user.can_see(tenant),
        }
    }
}

/// Valid credentials beyond which the credential cache starts over.
const MAX_CREDENTIALS: usize = 100_000;

#[derive(Default)]
struct Credentials {
    epoch: u64,
    by_digest: HashMap<String, (Arc<Credential>, Instant)>,
}

/// The credentials of `/v1/verify` by token digest. Only valid tokens are
/// cached (an unknown token is looked up again each time, as on every
/// management route), so a client cannot make it grow. An epoch stops a
/// lookup that raced a change from caching what it read.
#[derive(Default)]
pub struct CredentialCache {
    inner: RwLock<Credentials>,
}

impl CredentialCache {
    #[must_use]
    pub fn get(&self, digest: &str) -> Lookup<Arc<Credential>> {
        let inner = read(&self.inner);
        match inner.by_digest.get(digest) {
            Some((credential, at)) if at.elapsed() < TTL => Lookup::Hit(Arc::clone(credential)),
            _ => Lookup::Miss(inner.epoch),
        }
    }

    /// Caches a credential the store found, unless something changed since `epoch`.
    pub fn insert(&self, digest: String, credential: Arc<Credential>, epoch: u64) {
        let mut inner = write(&self.inner);
        if inner.epoch != epoch {
            return;
        }
        if inner.by_digest.len() >= MAX_CREDENTIALS {
            inner.by_digest.clear();
        }
        inner.by_digest.insert(digest, (credential, Instant::now()));
    }

    /// A committed event, before anyone sees it: a change to a user (roles,
    /// token, …), a verifier or a tenant forgets every credential.
    pub fn forget_changed_by(&self, event: &crate::domain::Event) {
        let action = event.event.action.as_str();
        if ["user.", "verifier.", "tenant."]
            .iter()
            .any(|prefix| action.starts_with(prefix))
        {
            self.clear();
        }
    }

    pub fn clear(&self) {
        let mut inner = write(&self.inner);
        inner.epoch += 1;
        inner.by_digest.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TenantSettings;
    use crate::domain::key::tests::new_key;

    fn record() -> Arc<VerifyRecord> {
        let settings = TenantSettings {
            api_keys_enabled: true,
            ..TenantSettings::default()
        };
        Arc::new(VerifyRecord {
            key: new_key(settings),
            api_keys_enabled: true,
            tenant_rate_limit: None,
        })
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_cached() {
        let cache = KeyCache::default();
        let Lookup::Miss(epoch) = cache.get("d") else {
            panic!("empty cache hit")
        };
        let stale = record();
        cache.forget_key(&stale.key);
        cache.insert("d".into(), Some(stale), epoch);
        assert!(matches!(cache.get("d"), Lookup::Miss(_)));
    }

    #[test]
    fn forgetting_a_key_drops_its_old_digest() {
        let cache = KeyCache::default();
        let rec = record();
        let Lookup::Miss(epoch) = cache.get("old") else {
            panic!()
        };
        cache.insert("old".into(), Some(rec.clone()), epoch);
        assert!(matches!(cache.get("old"), Lookup::Hit(Some(_))));
        let mut regenerated = rec.key.clone();
        regenerated.secret_digest = "new".into();
        cache.forget_key(&regenerated);
        assert!(matches!(cache.get("old"), Lookup::Miss(_)));
    }

    #[test]
    fn forgetting_a_rotating_key_drops_both_of_its_digests_in_any_order() {
        // Cached under its new secret, then its old one (or the other way
        // round): a revoke must drop both, or the first would stay VALID.
        for order in [["new", "old"], ["old", "new"]] {
            let cache = KeyCache::default();
            let rec = record();
            for digest in order {
                let Lookup::Miss(epoch) = cache.get(digest) else {
                    panic!()
                };
                cache.insert(digest.into(), Some(rec.clone()), epoch);
            }
            assert_eq!(cache.len(), 2);
            cache.forget_key(&rec.key);
            for digest in order {
                assert!(matches!(cache.get(digest), Lookup::Miss(_)), "{order:?}");
            }
        }
    }

    #[test]
    fn absent_digests_are_cached_and_forgotten() {
        let cache = KeyCache::default();
        let Lookup::Miss(epoch) = cache.get("x") else {
            panic!()
        };
        cache.insert("x".into(), None, epoch);
        assert!(matches!(cache.get("x"), Lookup::Hit(None)));
        // A key that now has "x" as its current or previous secret.
        let mut key = record().key.clone();
        key.secret_digest = "x".into();
        cache.forget_key(&key);
        assert!(matches!(cache.get("x"), Lookup::Miss(_)));
        cache.insert("y".into(), None, cache_epoch(&cache));
        key.previous_secret_digest = Some("y".into());
        cache.forget_key(&key);
        assert!(matches!(cache.get("y"), Lookup::Miss(_)));
    }

    #[test]
    fn a_flood_of_made_up_keys_is_bounded_and_never_pushes_a_real_key_out() {
        let cache = KeyCache::default();
        let real = record();
        cache.insert("real".into(), Some(real), cache_epoch(&cache));
        for n in 0..600_000 {
            cache.insert(format!("made-up-{n}"), None, cache_epoch(&cache));
        }
        assert!(cache.len() <= MAX_UNKNOWN + 1, "{} entries", cache.len());
        assert!(matches!(cache.get("real"), Lookup::Hit(Some(_))));
        assert!(matches!(cache.get("made-up-599999"), Lookup::Hit(None)));
    }

    fn event(action: crate::domain::EventAction) -> crate::domain::Event {
        let origin = crate::domain::Origin {
            actor: crate::domain::key::tests::user_ref("ana"),
            source: "test".into(),
        };
        crate::domain::Event {
            id: 1,
            event: origin.event(
                chrono::Utc::now(),
                None,
                action,
                ("x", "x"),
                serde_json::json!({}),
            ),
        }
    }

    fn credential_epoch(cache: &CredentialCache) -> u64 {
        match cache.get("never-cached") {
            Lookup::Miss(epoch) => epoch,
            Lookup::Hit(_) => panic!(),
        }
    }

    #[test]
    fn a_credential_read_before_a_change_is_not_cached_after_it() {
        let cache = CredentialCache::default();
        let verifier = Arc::new(Credential::Verifier(TenantId::parse("acme").unwrap()));
        let epoch = credential_epoch(&cache);
        cache.forget_changed_by(&event(crate::domain::EventAction::VerifierRevoked));
        cache.insert("t".into(), Arc::clone(&verifier), epoch);
        assert!(matches!(cache.get("t"), Lookup::Miss(_)));
        cache.insert("t".into(), verifier, credential_epoch(&cache));
        assert!(matches!(cache.get("t"), Lookup::Hit(_)));
    }

    #[test]
    fn credentials_are_forgotten_when_users_verifiers_or_tenants_change() {
        use crate::domain::EventAction;
        let cache = CredentialCache::default();
        let verifier = Arc::new(Credential::Verifier(TenantId::parse("acme").unwrap()));
        for action in EventAction::ALL {
            cache.insert("t".into(), Arc::clone(&verifier), credential_epoch(&cache));
            cache.forget_changed_by(&event(action));
            let kept = matches!(cache.get("t"), Lookup::Hit(_));
            let prefix = action.as_str().split('.').next().unwrap();
            assert_eq!(
                kept,
                !["user", "verifier", "tenant"].contains(&prefix),
                "{action:?}"
            );
        }
    }

    #[test]
    fn a_verifier_sees_only_its_tenant() {
        let (acme, other) = (
            TenantId::parse("acme").unwrap(),
            TenantId::parse("other").unwrap(),
        );
        let verifier = Credential::Verifier(acme.clone());
        assert!(verifier.sees(&acme));
        assert!(!verifier.sees(&other));
    }

    fn cache_epoch(cache: &KeyCache) -> u64 {
        match cache.get("never-cached") {
            Lookup::Miss(epoch) => epoch,
            Lookup::Hit(_) => panic!(),
        }
    }
}
