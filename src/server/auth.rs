//! Who is calling: the management token of `Authorization: Bearer …`
//! (the scheme matched whatever its case, as RFC 9110 says), looked up by
//! its digest; a disabled user is refused. There is no token cache: every
//! request reads the user, so disabling, deleting or revoking takes effect
//! on the very next request.
//!
//! Failed attempts (a token that names no user) are counted for
//! `/metrics`, logged at most once per [`LOG_EVERY`] (with the address and
//! how many were refused, never the token), and slow the address down:
//! after [`FREE_FAILURES`] failures within [`FAILURE_WINDOW`], every
//! attempt from that address waits [`PENALTY_STEP`] more than the last, up
//! to [`MAX_PENALTY`]. The wait comes before the token is looked at, and
//! holds back a right token too, so a quick answer tells a guesser nothing.
//! At most [`MAX_ADDRESSES`] addresses are remembered.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::usage::lock;
use crate::domain::User;

/// Failures an address makes within [`FAILURE_WINDOW`] before it is slowed down.
pub const FREE_FAILURES: u32 = 10;
/// How long an address's failures are remembered, from its first one.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How much longer each attempt waits than the one before, past the free failures.
pub const PENALTY_STEP: Duration = Duration::from_millis(100);
/// The longest an attempt waits.
pub const MAX_PENALTY: Duration = Duration::from_secs(2);
/// Addresses remembered at most; past it, the one that failed least is forgotten.
pub const MAX_ADDRESSES: usize = 10_000;
/// At most one log line about refused tokens per this interval.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// The token of an `Authorization: Bearer <token>` header, if there is one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

/// The user whose management token the request carries.
pub async fn authenticate(state: &AppState, parts: &Parts) -> ApiResult<User> {
    let token = bearer_token(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
    let address = peer(parts);
    let penalty = state.auth_failures.penalty(address, Instant::now());
    if !penalty.is_zero() {
        tokio::time::sleep(penalty).await;
    }
    let digest = state.keyring.token_digest(token);
    match state.store.user_by_token_digest(&digest).await? {
        None => {
            state.metrics.count_auth_failure();
            state.auth_failures.record(address, Instant::now());
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "the management token is not valid",
            ))
        }
        Some(user) if user.disabled => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "USER_DISABLED",
            "this user is disabled; a tenant admin can enable them again",
        )),
        Some(user) => Ok(user),
    }
}

/// An address's recent failures.
#[derive(Debug, Clone, Copy)]
struct Recent {
    count: u32,
    /// When the first of them happened; they are forgotten a window later.
    since: Instant,
}

impl Recent {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.since) >= FAILURE_WINDOW
    }
}

/// Failed token attempts per address, and the log's pace.
#[derive(Default)]
pub struct Failures {
    by_address: Mutex<HashMap<Option<IpAddr>, Recent>>,
    /// When a refusal was last logged, and how many went unlogged since.
    log: Mutex<(Option<Instant>, u64)>,
}

impl Failures {
    /// How long an attempt from `address` waits before its token is looked at.
    #[must_use]
    pub fn penalty(&self, address: Option<IpAddr>, now: Instant) -> Duration {
        let count = lock(&self.by_address)
            .get(&address)
            .filter(|recent| !recent.expired(now))
            .map_or(0, |recent| recent.count);
        if count < FREE_FAILURES {
            return Duration::ZERO;
        }
        PENALTY_STEP
            .saturating_mul(count - FREE_FAILURES + 1)
            .min(MAX_PENALTY)
    }

    /// Counts a failed attempt from `address` and logs it, if the log's pace allows.
    pub fn record(&self, address: Option<IpAddr>, now: Instant) {
        {
            let mut by_address = lock(&self.by_address);
            if !by_address.contains_key(&address) && by_address.len() >= MAX_ADDRESSES {
                by_address.retain(|_, recent| !recent.expired(now));
                // Forget the address that failed least (the stalest of
                // those): a flood from fresh addresses cannot make the
                // server forget the one that keeps guessing.
                if by_address.len() >= MAX_ADDRESSES {
                    let least = by_address
                        .iter()
                        .min_by_key(|(_, recent)| (recent.count, recent.since))
                        .map(|(address, _)| *address);
                    if let Some(least) = least {
                        by_address.remove(&least);
                    }
                }
            }
            let recent = by_address.entry(address).or_insert(Recent {
                count: 0,
                since: now,
            });
            if recent.expired(now) {
                *recent = Recent {
                    count: 0,
                    since: now,
                };
            }
            recent.count = recent.count.saturating_add(1);
        }
        let mut log = lock(&self.log);
        let (last, unlogged) = &mut *log;
        *unlogged += 1;
        if last.is_none_or(|at| now.duration_since(at) >= LOG_EVERY) {
            let source = address.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
            tracing::warn!(
                %source,
                refused = *unlogged,
                "management token refused (the count is since the last such line)"
            );
            *last = Some(now);
            *unlogged = 0;
        }
    }

    /// How many addresses are remembered.
    #[must_use]
    pub fn addresses(&self) -> usize {
        lock(&self.by_address).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(n: u32) -> Option<IpAddr> {
        Some(IpAddr::from(n.to_be_bytes()))
    }

    #[test]
    fn the_scheme_is_matched_whatever_its_case_and_nothing_else_is_a_token() {
        let token = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            bearer_token(&headers).map(str::to_owned)
        };
        for value in [
            "Bearer kdm_x",
            "bearer kdm_x",
            "BEARER  kdm_x ",
            " bEaReR kdm_x",
        ] {
            assert_eq!(token(value).as_deref(), Some("kdm_x"), "{value:?}");
        }
        for value in ["Basic kdm_x", "kdm_x", "Bearer", "Bearer   ", "Bearerkdm_x"] {
            assert_eq!(token(value), None, "{value:?}");
        }
    }

    #[test]
    fn an_address_is_slowed_after_its_free_failures_and_forgiven_after_the_window() {
        let failures = Failures::default();
        let start = Instant::now();
        let here = address(1);
        for _ in 0..FREE_FAILURES {
            assert_eq!(failures.penalty(here, start), Duration::ZERO);
            failures.record(here, start);
        }
        assert_eq!(failures.penalty(here, start), PENALTY_STEP);
        failures.record(here, start);
        assert_eq!(failures.penalty(here, start), PENALTY_STEP * 2);
        assert_eq!(failures.penalty(address(2), start), Duration::ZERO);
        for _ in 0..100 {
            failures.record(here, start);
        }
        assert_eq!(failures.penalty(here, start), MAX_PENALTY);
        let later = start + FAILURE_WINDOW;
        assert_eq!(failures.penalty(here, later), Duration::ZERO);
        failures.record(here, later);
        assert_eq!(failures.penalty(here, later), Duration::ZERO);
    }

    #[test]
    fn memory_stays_bounded_however_many_addresses_fail() {
        let failures = Failures::default();
        let start = Instant::now();
        let busy = address(0);
        for _ in 0..FREE_FAILURES + 1 {
            failures.record(busy, start + Duration::from_secs(1));
        }
        for n in 1..=(MAX_ADDRESSES as u32 + 500) {
            failures.record(address(n), start + Duration::from_secs(2));
        }
        assert_eq!(failures.addresses(), MAX_ADDRESSES);
        // The address that keeps guessing is not the one forgotten.
        assert_eq!(
            failures.penalty(busy, start + Duration::from_secs(2)),
            PENALTY_STEP * 2
        );
    }
}
