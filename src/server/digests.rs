//! The index of every secret digest the store holds, in memory, so a
//! well-formed but made-up key is answered `NOT_FOUND` without a database
//! read and without a place in the verification cache: a flood of made-up
//! keys reaches neither the database nor the cached records of real keys.
//!
//! It is a filter that may say "perhaps" wrongly but never "no" wrongly:
//! it holds the first 64 bits of each digest (an HMAC under the pepper, so
//! nobody can aim at a collision; a chance one costs one database read).
//! It learns every digest a key is given from the store's
//! [`Store::when_keys_written`] hook, before the call that wrote the key
//! returns, so before its secret is handed out; and it starts from every
//! digest in the store ([`DigestIndex::load`]). Until loaded it says
//! "perhaps" to everything; it is loaded only for a store that hears of
//! every key written ([`Store::hears_every_key_write`]): on PostgreSQL,
//! once the instance has joined its fleet, whose applier hands over the
//! digests of the keys each other instance's change names before the
//! change is applied. A key made elsewhere verifies here when its change
//! arrives: within a second. Digests of deleted keys and of ended rotations
//! stay until a restart: a "perhaps" that costs a read, never a wrong "no".
//!
//! Memory: a `u64` and a control byte per slot, in a table kept between
//! 7/16 and 7/8 full: 1.2 MB for 100,000 digests, at most 2.1 MB (a key in
//! a rotation's grace holds two).
//!
//! [`Store::when_keys_written`]: crate::store::Store::when_keys_written
//! [`Store::hears_every_key_write`]: crate::store::Store::hears_every_key_write

use std::collections::HashSet;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::store::{Store, StoreResult};

#[derive(Default)]
pub struct DigestIndex {
    prefixes: RwLock<HashSet<u64>>,
    loaded: AtomicBool,
}

/// The first 64 bits of a hex digest; `None` for anything else.
fn prefix(digest: &str) -> Option<u64> {
    u64::from_str_radix(digest.get(..16)?, 16).ok()
}

impl DigestIndex {
    /// Whether a key may hold `digest`: false only when the index is
    /// loaded and has never seen it.
    #[must_use]
    pub fn may_exist(&self, digest: &str) -> bool {
        if !self.loaded.load(Ordering::Acquire) {
            return true;
        }
        prefix(digest).is_none_or(|p| {
            self.prefixes
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&p)
        })
    }

    /// Learns a key's digests (current and previous).
    pub fn learn<'a>(&self, digests: impl IntoIterator<Item = &'a str>) {
        let mut prefixes = self
            .prefixes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        prefixes.extend(digests.into_iter().filter_map(prefix));
    }

    /// Reads every digest in the store, then starts answering "no". Keys
    /// written meanwhile arrive through the hook, so none is missed.
    pub async fn load(&self, store: &dyn Store) -> StoreResult<()> {
        let digests = store.key_digests().await?;
        self.learn(digests.iter().map(String::as_str));
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    #[must_use]
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.prefixes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0000000000000000000000000000000000000000000000aa";
    const B: &str = "fedcba98765432100000000000000000000000000000000000000000000000bb";

    #[test]
    fn until_loaded_everything_may_exist() {
        let index = DigestIndex::default();
        assert!(index.may_exist(A));
        index.loaded.store(true, Ordering::Release);
        assert!(!index.may_exist(A));
        index.learn([A]);
        assert!(index.may_exist(A));
        assert!(!index.may_exist(B));
    }

    #[test]
    fn what_is_not_a_digest_is_never_refused_by_the_index() {
        let index = DigestIndex::default();
        index.loaded.store(true, Ordering::Release);
        assert!(index.may_exist("short"));
        assert!(index.may_exist("zzzzzzzzzzzzzzzzzzzz"));
    }
}
