//! Usage as the domain sees it: the windows of a key's usage history and
//! their buckets, and when a key's usage is suspicious (SPEC §2 Usage, seed
//! 001's "overuse of one key"). The server counts and stores; the rules that
//! judge the counts live here, where they are tested without a database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A usage history window and its bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UsageWindow {
    /// The last hour in minute buckets.
    #[serde(rename = "1h")]
    Hour,
    /// The last 24 hours in 15-minute buckets.
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days in hour buckets.
    #[serde(rename = "7d")]
    Week,
}

impl UsageWindow {
    pub const ALL: [UsageWindow; 3] = [UsageWindow::Hour, UsageWindow::Day, UsageWindow::Week];

    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == raw)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            UsageWindow::Hour => "1h",
            UsageWindow::Day => "24h",
            UsageWindow::Week => "7d",
        }
    }

    /// The size of one bucket, in minutes.
    #[must_use]
    pub fn bucket_minutes(self) -> i64 {
        match self {
            UsageWindow::Hour => 1,
            UsageWindow::Day => 15,
            UsageWindow::Week => 60,
        }
    }

    /// How many buckets the window has: 60, 96 or 168.
    #[must_use]
    pub fn buckets(self) -> i64 {
        match self {
            UsageWindow::Hour => 60,
            UsageWindow::Day => 96,
            UsageWindow::Week => 168,
        }
    }

    /// The unix minute the first bucket starts at, when the last bucket
    /// holds `now`. Buckets are aligned to their size (a 15-minute bucket
    /// starts at :00, :15, :30 or :45), so the last one is partial.
    #[must_use]
    pub fn first_minute(self, now: DateTime<Utc>) -> i64 {
        let size = self.bucket_minutes();
        let current = now.timestamp().div_euclid(60).div_euclid(size) * size;
        current - (self.buckets() - 1) * size
    }

    /// The start of the bucket holding unix minute `minute`.
    #[must_use]
    pub fn bucket_of(self, minute: i64) -> i64 {
        minute.div_euclid(self.bucket_minutes()) * self.bucket_minutes()
    }
}

/// What the suspicion rules look at for one key: its verifications in the
/// last 60 minutes, and its total over the 24 whole hours before them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyActivity {
    pub last_hour_valid: u64,
    pub last_hour_failed: u64,
    /// Every verification (valid or not) in the 24 hours before the last hour.
    pub baseline_24h: u64,
}

impl KeyActivity {
    #[must_use]
    pub fn last_hour(&self) -> u64 {
        self.last_hour_valid + self.last_hour_failed
    }
}

/// When a key is suspicious. A key is flagged when either rule holds:
///
/// - **spike**: at least `spike_min_requests` verifications in the last hour,
///   and more than `spike_factor` times its hourly mean over the 24 hours
///   before (a key with no usage in those 24 hours has a mean of 0, so any
///   hour at the minimum volume is a spike);
/// - **failures dominate**: at least `failure_min_requests` verifications in
///   the last hour, and more than `failure_share` of them failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuspicionRules {
    pub spike_factor: f64,
    pub spike_min_requests: u64,
    pub failure_share: f64,
    pub failure_min_requests: u64,
}

impl Default for SuspicionRules {
    fn default() -> Self {
        Self {
            spike_factor: 10.0,
            spike_min_requests: 100,
            failure_share: 0.5,
            failure_min_requests: 20,
        }
    }
}

impl SuspicionRules {
    /// Checks the values a `keydesk serve` flag may set; the error says which is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.spike_factor.is_finite() && self.spike_factor >= 1.0) {
            return Err(format!(
                "the spike factor must be at least 1, not {}",
                self.spike_factor
            ));
        }
        if !(self.failure_share.is_finite() && (0.0..1.0).contains(&self.failure_share)) {
            return Err(format!(
                "the failure share must be at least 0 and below 1, not {}",
                self.failure_share
            ));
        }
        Ok(())
    }

    /// Why `activity` is suspicious, in words, or `None` when it is not.
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    pub fn judge(&self, activity: &KeyActivity) -> Option<String> {
        let total = activity.last_hour();
        let mut reasons = Vec::new();
        let mean = activity.baseline_24h as f64 / 24.0;
        if total >= self.spike_min_requests.max(1) && total as f64 > self.spike_factor * mean {
            reasons.push(if activity.baseline_24h == 0 {
                format!(
                    "spike: {total} verifications in the last hour, none in the 24 hours before"
                )
            } else {
                format!(
                    "spike: {total} verifications in the last hour, {:.0}× its hourly mean of {mean:.1} over the 24 hours before",
                    total as f64 / mean
                )
            });
        }
        let failed = activity.last_hour_failed;
        if total >= self.failure_min_requests.max(1)
            && failed as f64 > self.failure_share * total as f64
        {
            reasons.push(format!(
                "failures dominate: {failed} of {total} verifications in the last hour failed ({:.0}%)",
                failed as f64 * 100.0 / total as f64
            ));
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(valid: u64, failed: u64, baseline: u64) -> KeyActivity {
        KeyActivity {
            last_hour_valid: valid,
            last_hour_failed: failed,
            baseline_24h: baseline,
        }
    }

    #[test]
    fn an_hour_far_above_the_keys_own_baseline_is_a_spike() {
        let rules = SuspicionRules::default();
        // A mean of 20 an hour: 200 is 10×, not more; 201 is.
        let baseline = 20 * 24;
        assert_eq!(rules.judge(&activity(200, 0, baseline)), None);
        let reason = rules.judge(&activity(201, 0, baseline)).unwrap();
        assert!(reason.starts_with("spike: 201 verifications"), "{reason}");
        assert!(reason.contains("hourly mean of 20.0"), "{reason}");
        // A busy key stays unflagged at its usual volume.
        assert_eq!(rules.judge(&activity(5000, 0, 5000 * 24)), None);
    }

    #[test]
    fn a_spike_needs_the_minimum_volume() {
        let rules = SuspicionRules::default();
        // No usage before: 99 requests are noise, 100 are a spike.
        assert_eq!(rules.judge(&activity(99, 0, 0)), None);
        let reason = rules.judge(&activity(100, 0, 0)).unwrap();
        assert!(reason.contains("none in the 24 hours before"), "{reason}");
    }

    #[test]
    fn failures_dominate_past_the_share_at_the_minimum_volume() {
        let rules = SuspicionRules::default();
        // Half is not more than half.
        assert_eq!(rules.judge(&activity(10, 10, 480)), None);
        let reason = rules.judge(&activity(9, 11, 480)).unwrap();
        assert_eq!(
            reason,
            "failures dominate: 11 of 20 verifications in the last hour failed (55%)"
        );
        // Too few to judge.
        assert_eq!(rules.judge(&activity(0, 19, 480)), None);
    }

    #[test]
    fn both_reasons_are_given_when_both_rules_hold() {
        let rules = SuspicionRules::default();
        let reason = rules.judge(&activity(10, 290, 24)).unwrap();
        assert!(reason.starts_with("spike: 300"), "{reason}");
        assert!(
            reason.contains("; failures dominate: 290 of 300"),
            "{reason}"
        );
    }

    #[test]
    fn thresholds_are_checked() {
        assert!(SuspicionRules::default().validate().is_ok());
        let bad_share = SuspicionRules {
            failure_share: 1.0,
            ..SuspicionRules::default()
        };
        assert!(bad_share.validate().unwrap_err().contains("failure share"));
        let bad_factor = SuspicionRules {
            spike_factor: 0.5,
            ..SuspicionRules::default()
        };
        assert!(bad_factor.validate().unwrap_err().contains("spike factor"));
    }

    #[test]
    fn windows_have_aligned_buckets_ending_with_the_current_one() {
        let now = DateTime::parse_from_rfc3339("2025-03-01T10:37:20Z")
            .unwrap()
            .with_timezone(&Utc);
        let minute = now.timestamp() / 60;
        assert_eq!(UsageWindow::Hour.first_minute(now), minute - 59);
        // 10:30 is the current 15-minute bucket; 95 more before it.
        let day = UsageWindow::Day.first_minute(now);
        assert_eq!(day, minute - 7 - 95 * 15);
        assert_eq!(UsageWindow::Day.bucket_of(minute), minute - 7);
        let week = UsageWindow::Week.first_minute(now);
        assert_eq!(week, minute - 37 - 167 * 60);
        for window in UsageWindow::ALL {
            assert_eq!(UsageWindow::parse(window.as_str()), Some(window));
        }
        assert_eq!(UsageWindow::parse("2h"), None);
    }
}
