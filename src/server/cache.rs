//! The verification cache: key records by secret digest, so the hot path
//! usually answers from memory. Absent digests are cached too, so a flood of
//! well-formed but unknown keys does not reach the database.
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

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::{ApiKey, KeyId};

/// What verification needs to know about a key: the record and whether
/// its tenant has API keys switched on.
#[derive(Debug, Clone)]
pub struct VerifyRecord {
    pub key: ApiKey,
    pub api_keys_enabled: bool,
}

/// A cached answer: the key, or the knowledge that no key has this digest.
pub type Cached = Option<Arc<VerifyRecord>>;

/// The result of a cache lookup.
pub enum Lookup {
    Hit(Cached),
    /// Not cached; pass the epoch back to [`KeyCache::insert`].
    Miss(u64),
}

/// How long a cached answer is trusted without an invalidation.
pub const TTL: Duration = Duration::from_secs(60);

/// Entries beyond which the cache starts over, bounding memory.
const MAX_ENTRIES: usize = 500_000;

#[derive(Default)]
struct Inner {
    epoch: u64,
    by_digest: HashMap<String, (Cached, Instant)>,
    /// Every digest cached with the key's record: its current secret's and,
    /// while it rotates, its previous secret's.
    digests_of: HashMap<KeyId, Vec<String>>,
}

#[derive(Default)]
pub struct KeyCache {
    inner: RwLock<Inner>,
}

impl KeyCache {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        if inner.by_digest.len() >= MAX_ENTRIES {
            inner.by_digest.clear();
            inner.digests_of.clear();
        }
        if let Some(record) = &cached {
            let digests = inner.digests_of.entry(record.key.id.clone()).or_default();
            if !digests.contains(&digest) {
                digests.push(digest.clone());
            }
        }
        inner.by_digest.insert(digest, (cached, Instant::now()));
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

    fn cache_epoch(cache: &KeyCache) -> u64 {
        match cache.get("never-cached") {
            Lookup::Miss(epoch) => epoch,
            Lookup::Hit(_) => panic!(),
        }
    }
}
