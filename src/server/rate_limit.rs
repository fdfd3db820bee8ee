//! Per-key rate limits on the verification path: one open window per key,
//! in memory, so counting costs no database read (the limit itself comes
//! with the key's cached record). Counted per server instance: behind a
//! load balancer over N instances a key may get up to N times its limit.
//! The rule is the domain's ([`RateWindow::admit`]); this holds the windows.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::domain::{KeyId, RateLimit, RateWindow};

/// Windows held before the closed ones are swept out.
const SWEEP_AT: usize = 65_536;

#[derive(Default)]
struct Windows {
    /// Each key's window, with the limit it was last counted under.
    open: HashMap<KeyId, (RateWindow, RateLimit)>,
    /// The size at which the next sweep runs.
    sweep_at: usize,
}

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<Windows>,
}

impl RateLimiter {
    /// Counts a verification of `key` at `now` under `limit`: `Ok` if it
    /// may be answered, else the whole seconds until its window closes.
    pub fn admit(&self, key: &KeyId, limit: RateLimit, now: DateTime<Utc>) -> Result<(), u64> {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((window, last_limit)) = windows.open.get_mut(key) {
            *last_limit = limit;
            return window.admit(limit, now);
        }
        if windows.open.len() >= windows.sweep_at.max(SWEEP_AT) {
            // Only keys with a limit that were verified are here; the windows
            // that closed count nothing any more. Amortised: the next sweep
            // waits until the map has doubled.
            windows
                .open
                .retain(|_, (window, limit)| !window.is_closed(*limit, now));
            windows.sweep_at = windows.open.len() * 2;
        }
        windows
            .open
            .insert(key.clone(), (RateWindow::open(now), limit));
        Ok(())
    }

    /// Windows held (open, or closed but not yet swept).
    #[must_use]
    pub fn len(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .open
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

    fn key(n: usize) -> KeyId {
        KeyId::from_trusted(format!("key_{n}"))
    }

    #[test]
    fn each_key_has_its_own_window() {
        let limiter = RateLimiter::default();
        let limit = RateLimit {
            requests: 2,
            window_seconds: 60,
        };
        let now = Utc::now();
        assert_eq!(limiter.admit(&key(1), limit, now), Ok(()));
        assert_eq!(limiter.admit(&key(1), limit, now), Ok(()));
        assert!(limiter.admit(&key(1), limit, now).is_err());
        assert_eq!(limiter.admit(&key(2), limit, now), Ok(()));
    }

    #[test]
    fn closed_windows_are_swept_out() {
        let limiter = RateLimiter::default();
        let limit = RateLimit {
            requests: 1,
            window_seconds: 1,
        };
        let then = Utc::now();
        for n in 0..SWEEP_AT {
            assert_eq!(limiter.admit(&key(n), limit, then), Ok(()));
        }
        let later = then + chrono::Duration::seconds(2);
        assert_eq!(limiter.admit(&key(SWEEP_AT), limit, later), Ok(()));
        assert_eq!(limiter.len(), 1, "only the window still open");
        // An open window survives a sweep.
        assert!(limiter.admit(&key(SWEEP_AT), limit, later).is_err());
    }
}
