//! `GET /v1/tenants/{tenant}/events/stream`: the tenant's audit events as
//! server-sent events, live, for consoles (SPEC §3).
//!
//! Each event is sent once, in id order (the SSE `id:` is the events
//! table's id). A client that reconnects with `Last-Event-ID` is first sent
//! what it missed, from the database, then the live events. Nothing is lost
//! or repeated across that handover: the stream subscribes to the store's
//! feed *before* it reads the database, the feed publishes every commit in
//! id order, and live events at or below the last id sent are skipped.
//!
//! A slow reader never slows a writer: the feed is a bounded ring that the
//! writer never waits on. A reader that falls further behind than the ring
//! holds is closed, and resumes with `Last-Event-ID` from the database. A
//! comment every 15 s keeps idle connections (and proxies) open, and lets a
//! client notice a dead server. Streams end when the server shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::{broadcast, watch};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiPath, Caller};
use super::{AppState, visible_tenant};
use crate::api::{self, Problem};
use crate::domain::{Event, TenantId, User};
use crate::store::Store;

/// How often an idle stream sends a comment.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// Events read from the database per query while catching up.
const REPLAY_PAGE: u32 = 500;

/// The open streams' shared switch: set at shutdown, it ends every stream,
/// so a graceful shutdown does not wait forever on a connection that never ends.
pub struct Streams {
    closing: watch::Sender<bool>,
}

impl Default for Streams {
    fn default() -> Self {
        Self {
            closing: watch::channel(false).0,
        }
    }
}

impl Streams {
    /// Ends every open stream (and any opened later).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }
}

/// One client's stream: catching up from the database, then live.
struct Feed {
    store: Arc<dyn Store>,
    tenant: TenantId,
    /// Who reads it, as they were when it opened.
    reader: User,
    /// When it opened (less a second, for a change committed while it
    /// opened): an event about the reader since then ends the stream.
    changes_since: chrono::DateTime<chrono::Utc>,
    /// Such an event was sent: the stream ends, and the client
    /// authenticates again when it resumes (after that event), so disabling,
    /// deleting, revoking a token or withdrawing roles stop open streams too.
    reader_changed: bool,
    live: broadcast::Receiver<Arc<Event>>,
    closing: watch::Receiver<bool>,
    /// The id of the last event sent, or the client's `Last-Event-ID`.
    last_sent: i64,
    /// Events read from the database and not sent yet.
    backlog: VecDeque<Event>,
    /// Still reading from the database.
    catching_up: bool,
}

impl Feed {
    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        if self.reader_changed {
            return None;
        }
        let event = self.next_event().await?;
        self.reader_changed = event.event.action.as_str().starts_with("user.")
            && event.event.target_id == self.reader.id.as_str()
            && event.event.at >= self.changes_since;
        Some(event)
    }

    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                self.last_sent = event.id;
                return Some(event);
            }
            if self.catching_up {
                match self
                    .store
                    .events_after(&self.tenant, self.last_sent, REPLAY_PAGE)
                    .await
                {
                    Ok(page) => {
                        // A short page read after subscribing: from here on,
                        // the live feed holds everything later.
                        self.catching_up = page.len() == REPLAY_PAGE as usize;
                        self.backlog.extend(page);
                        continue;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "reading events for a stream failed; closing it");
                        return None;
                    }
                }
            }
            let received = tokio::select! {
                biased;
                _ = self.closing.wait_for(|closing| *closing) => return None,
                received = self.live.recv() => received,
            };
            match received {
                Ok(event) => {
                    if event.event.tenant_id.as_ref() == Some(&self.tenant)
                        && event.id > self.last_sent
                    {
                        self.last_sent = event.id;
                        return Some(Event::clone(&event));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(
                        missed,
                        last_sent = self.last_sent,
                        "closing an event stream that fell behind; its client resumes with Last-Event-ID"
                    );
                    return None;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

fn sse_event(event: &Event, reader: &User) -> sse::Event {
    let body = api::EventBody::seen_by(event, reader);
    let id = event.id.to_string();
    match sse::Event::default().id(id.clone()).json_data(&body) {
        Ok(sse_event) => sse_event,
        // Unreachable for an EventBody; still, never a gap without a word.
        Err(err) => {
            tracing::warn!(error = %err, id, "an event could not be encoded for a stream");
            sse::Event::default()
                .id(id)
                .comment("an event could not be encoded")
        }
    }
}

fn into_stream(feed: Feed) -> impl Stream<Item = Result<sse::Event, Infallible>> + Send {
    // The first message goes out at once, so the client knows the stream is
    // open (and subscribed) before any event happens.
    let opening = sse::Event::default()
        .retry(Duration::from_secs(1))
        .comment("keydesk event stream");
    let events = futures::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(sse_event(&event, &feed.reader)), feed))
    });
    futures::StreamExt::chain(futures::stream::once(async { Ok(opening) }), events)
}

/// The `Last-Event-ID` header: absent, or a non-negative event id.
fn last_event_id(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|raw| raw.trim().parse::<i64>().ok())
        .filter(|id| *id >= 0)
        .map(Some)
        .ok_or_else(|| ApiError::invalid("Last-Event-ID: not an event id of this stream"))
}

#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/events/stream", tag = "events",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("Last-Event-ID" = Option<i64>, Header, description = "The id of the last event received: the stream first sends every later event from the log, then goes on live"),
    ),
    responses(
        (status = 200, description = "Server-sent events: one per audit event of the tenant as it is committed, oldest first, `id:` the event's id and `data:` the event (as in the event list); a comment every 15 s when idle. The server closes a stream that falls too far behind; reconnect with Last-Event-ID.", body = api::EventBody, content_type = "text/event-stream"),
        (status = 401, description = "No or an invalid management token, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller holds no role in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A Last-Event-ID that is not an event id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn event_stream(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let tenant = visible_tenant(&state, &caller, &tenant).await?;
    let after = last_event_id(&headers)?;
    // Subscribe first, then read the database: an event committed in between
    // is in both, and skipped the second time by its id.
    let live = state.store.subscribe_events();
    let feed = Feed {
        store: Arc::clone(&state.store),
        tenant: tenant.id,
        reader: caller.user,
        changes_since: super::now() - chrono::Duration::seconds(1),
        reader_changed: false,
        live,
        closing: state.streams.closing.subscribe(),
        last_sent: after.unwrap_or(0),
        backlog: VecDeque::new(),
        catching_up: after.is_some(),
    };
    Ok(Sse::new(into_stream(feed))
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response())
}
