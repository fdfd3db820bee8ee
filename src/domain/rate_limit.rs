//! Per-key rate limits: how many verifications a key may have answered in
//! a window of time, set on the key or as its tenant's default, and the
//! window that counts them. The counting is pure arithmetic on the time it
//! is given, so the rule is tested here; the server keeps one window per
//! key in memory (verification reads no database to count).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::InvalidText;

/// The most verifications a limit may allow in one window.
pub const MAX_RATE_LIMIT_REQUESTS: u32 = 1_000_000;
/// The longest window a limit may count in: one day.
pub const MAX_RATE_LIMIT_WINDOW_SECONDS: u32 = 86_400;

/// At most `requests` verifications of a key in a window of
/// `window_seconds`; the one after is answered `RATE_LIMITED` until the
/// window closes. A window opens with the first verification after the
/// previous one closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Verifications answered in one window, 1 to 1,000,000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub requests: u32,
    /// The window's length in seconds, 1 to 86,400 (a day).
    #[schema(minimum = 1, maximum = 86_400)]
    pub window_seconds: u32,
}

impl RateLimit {
    /// Refuses a limit outside the bounds; `field` names it in the refusal.
    pub fn validate(self, field: &'static str) -> Result<Self, InvalidText> {
        if !(1..=MAX_RATE_LIMIT_REQUESTS).contains(&self.requests) {
            return Err(InvalidText::new(
                field,
                format!("requests must be between 1 and {MAX_RATE_LIMIT_REQUESTS}"),
            ));
        }
        if !(1..=MAX_RATE_LIMIT_WINDOW_SECONDS).contains(&self.window_seconds) {
            return Err(InvalidText::new(
                field,
                format!(
                    "window_seconds must be between 1 and {MAX_RATE_LIMIT_WINDOW_SECONDS} (a day)"
                ),
            ));
        }
        Ok(self)
    }

    /// The limit that applies to a key: its own, else its tenant's default.
    #[must_use]
    pub fn effective(own: Option<Self>, tenant_default: Option<Self>) -> Option<Self> {
        own.or(tenant_default)
    }
}

impl fmt::Display for RateLimit {
    /// "100 per 1m", "5 per 90s", "10000 per 1d".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.window_seconds;
        let window = match seconds {
            s if s % 86_400 == 0 => format!("{}d", s / 86_400),
            s if s % 3600 == 0 => format!("{}h", s / 3600),
            s if s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        };
        write!(f, "{} per {window}", self.requests)
    }
}

/// One key's current window: when it opened and how many verifications it
/// has answered. Its length is the limit's, read at every verification, so
/// a changed limit applies to the window already open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    opened_at: DateTime<Utc>,
    answered: u32,
}

impl RateWindow {
    /// A window opened by a verification at `now`, which it answers.
    #[must_use]
    pub fn open(now: DateTime<Utc>) -> Self {
        Self {
            opened_at: now,
            answered: 1,
        }
    }

    /// When this window closes under `limit`.
    #[must_use]
    pub fn closes_at(&self, limit: RateLimit) -> DateTime<Utc> {
        self.opened_at + chrono::Duration::seconds(i64::from(limit.window_seconds))
    }

    /// Counts a verification at `now` under `limit`: `Ok` if it may be
    /// answered, else the whole seconds until the window closes (at least
    /// 1), the `Retry-After`. A closed window is replaced by one opened now.
    pub fn admit(&mut self, limit: RateLimit, now: DateTime<Utc>) -> Result<(), u64> {
        let closes_at = self.closes_at(limit);
        if now >= closes_at || now < self.opened_at {
            *self = Self::open(now);
            return Ok(());
        }
        if self.answered < limit.requests {
            self.answered += 1;
            return Ok(());
        }
        let millis = u64::try_from((closes_at - now).num_milliseconds()).unwrap_or(1);
        Err(millis.div_ceil(1000).max(1))
    }

    /// True once the window has closed under `limit` at `now`: nothing of it matters any more.
    #[must_use]
    pub fn is_closed(&self, limit: RateLimit, now: DateTime<Utc>) -> bool {
        now >= self.closes_at(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, window_seconds: u32) -> RateLimit {
        RateLimit {
            requests,
            window_seconds,
        }
    }

    /// `seconds` after a fixed moment.
    fn at(seconds: f64) -> DateTime<Utc> {
        #[allow(clippy::cast_possible_truncation)]
        let millis = (seconds * 1000.0).round() as i64;
        DateTime::from_timestamp_millis(1_700_000_000_000 + millis).unwrap()
    }

    #[test]
    fn limits_outside_their_bounds_are_refused() {
        assert!(limit(1, 1).validate("rate_limit").is_ok());
        assert!(limit(1_000_000, 86_400).validate("rate_limit").is_ok());
        for bad in [
            limit(0, 60),
            limit(1_000_001, 60),
            limit(5, 0),
            limit(5, 86_401),
        ] {
            let err = bad.validate("rate_limit").unwrap_err();
            assert_eq!(err.field, "rate_limit", "{bad:?}");
        }
    }

    #[test]
    fn a_keys_own_limit_wins_over_its_tenants_default() {
        let (own, default) = (limit(100, 60), limit(5, 60));
        assert_eq!(RateLimit::effective(Some(own), Some(default)), Some(own));
        assert_eq!(RateLimit::effective(None, Some(default)), Some(default));
        assert_eq!(RateLimit::effective(None, None), None);
    }

    #[test]
    fn a_window_answers_its_requests_then_says_how_long_until_it_closes() {
        let limit = limit(3, 60);
        let mut window = RateWindow::open(at(0.0));
        assert_eq!(window.admit(limit, at(1.0)), Ok(()));
        assert_eq!(window.admit(limit, at(2.0)), Ok(()));
        assert_eq!(
            window.admit(limit, at(2.5)),
            Err(58),
            "57.5 s left, rounded up"
        );
        assert_eq!(window.admit(limit, at(59.999)), Err(1));
        assert!(!window.is_closed(limit, at(59.999)));
        // Closed: the next verification opens a new window.
        assert!(window.is_closed(limit, at(60.0)));
        assert_eq!(window.admit(limit, at(60.0)), Ok(()));
        assert_eq!(window.admit(limit, at(61.0)), Ok(()));
        assert_eq!(window.admit(limit, at(62.0)), Ok(()));
        assert_eq!(window.admit(limit, at(63.0)), Err(57));
    }

    #[test]
    fn a_changed_limit_applies_to_the_open_window() {
        let mut window = RateWindow::open(at(0.0));
        assert_eq!(window.admit(limit(1, 60), at(1.0)), Err(59));
        assert_eq!(window.admit(limit(5, 60), at(1.0)), Ok(()));
        assert_eq!(
            window.admit(limit(5, 10), at(10.0)),
            Ok(()),
            "closed: reopened"
        );
    }

    #[test]
    fn a_clock_that_went_back_opens_a_new_window() {
        let mut window = RateWindow::open(at(100.0));
        assert_eq!(window.admit(limit(1, 60), at(50.0)), Ok(()));
        assert_eq!(window.admit(limit(1, 60), at(51.0)), Err(59));
    }

    #[test]
    fn limits_read_as_people_write_them() {
        assert_eq!(limit(100, 60).to_string(), "100 per 1m");
        assert_eq!(limit(5, 90).to_string(), "5 per 90s");
        assert_eq!(limit(7, 7200).to_string(), "7 per 2h");
        assert_eq!(limit(10_000, 86_400).to_string(), "10000 per 1d");
    }
}
