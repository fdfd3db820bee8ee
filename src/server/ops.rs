//! Operations: `/healthz` (the process answers), `/readyz` (and its
//! database too), `/metrics` (Prometheus text format) and `/openapi.json`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use super::error::ApiResult;
use crate::api::{self, Problem, VerifyCode};

/// Counters exposed at `/metrics`.
#[derive(Default)]
pub struct Metrics {
    verifications: [AtomicU64; VerifyCode::ALL.len()],
    responses: [AtomicU64; 5],
    auth_failures: AtomicU64,
    /// Verifications that read the store (a cache miss the index let through).
    verify_store_reads: AtomicU64,
    /// Verifications the digest index answered without a read.
    verify_index_refusals: AtomicU64,
}

impl Metrics {
    pub fn count_verify(&self, code: VerifyCode) {
        let index = VerifyCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        self.verifications[index].fetch_add(1, Ordering::Relaxed);
    }

    /// A verification that missed the cache and read the store.
    pub fn count_store_read(&self) {
        self.verify_store_reads.fetch_add(1, Ordering::Relaxed);
    }

    /// A verification of a digest no key holds, answered by the index.
    pub fn count_index_refusal(&self) {
        self.verify_index_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// A management token that names no user.
    pub fn count_auth_failure(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, cached_keys: usize, indexed_digests: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP keydesk_verifications_total Verifications by outcome.\n");
        out.push_str("# TYPE keydesk_verifications_total counter\n");
        for (code, count) in VerifyCode::ALL.iter().zip(&self.verifications) {
            let _ = writeln!(
                out,
                "keydesk_verifications_total{{code=\"{}\"}} {}",
                code.as_str(),
                count.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP keydesk_http_responses_total HTTP responses by status class.\n");
        out.push_str("# TYPE keydesk_http_responses_total counter\n");
        for (i, count) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "keydesk_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                count.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP keydesk_auth_failures_total Management tokens refused because they name no user.\n",
        );
        out.push_str("# TYPE keydesk_auth_failures_total counter\n");
        let _ = writeln!(
            out,
            "keydesk_auth_failures_total {}",
            self.auth_failures.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP keydesk_verify_cache_entries Digests held by the verification cache.\n",
        );
        out.push_str("# TYPE keydesk_verify_cache_entries gauge\n");
        let _ = writeln!(out, "keydesk_verify_cache_entries {cached_keys}");
        out.push_str(
            "# HELP keydesk_verify_store_reads_total Verifications that missed the cache and read the database.\n",
        );
        out.push_str("# TYPE keydesk_verify_store_reads_total counter\n");
        let _ = writeln!(
            out,
            "keydesk_verify_store_reads_total {}",
            self.verify_store_reads.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP keydesk_verify_index_refusals_total Verifications of a digest no key holds, answered from the digest index without a read.\n",
        );
        out.push_str("# TYPE keydesk_verify_index_refusals_total counter\n");
        let _ = writeln!(
            out,
            "keydesk_verify_index_refusals_total {}",
            self.verify_index_refusals.load(Ordering::Relaxed)
        );
        out.push_str("# HELP keydesk_digest_index_entries Secret digests in the index.\n");
        out.push_str("# TYPE keydesk_digest_index_entries gauge\n");
        let _ = writeln!(out, "keydesk_digest_index_entries {indexed_digests}");
        out
    }
}

#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server is up", body = api::Health))
)]
pub async fn healthz() -> Json<api::Health> {
    Json(api::Health {
        status: "ok".to_owned(),
    })
}

#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "The server can serve: its database is the one it opened, and answers", body = api::Health),
        (status = 503, description = "STORE_UNAVAILABLE: the database is gone, replaced or unreadable; restore it and restart the server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<api::Health>> {
    state.store.check_health().await?;
    Ok(Json(api::Health {
        status: "ready".to_owned(),
    }))
}

#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
        (status = 401, description = "UNAUTHENTICATED: the server was started with `--metrics-token` and this is not it", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> ApiResult<impl IntoResponse> {
    if let Some(expected) = &state.observability.metrics_token {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let matches = sent.is_some_and(|token| {
            use subtle::ConstantTimeEq as _;
            token.len() == expected.len() && bool::from(token.as_bytes().ct_eq(expected.as_bytes()))
        });
        if !matches {
            return Err(crate::server::error::ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "/metrics needs the metrics token (--metrics-token)",
            ));
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(state.cache.len(), state.digests.len()),
    ))
}

#[utoipa::path(
    get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", body = Object, content_type = "application/json"))
)]
pub async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.as_ref().clone(),
    )
}
