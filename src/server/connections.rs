//! Serving connections: HTTP/1.1 over hyper, with what `axum::serve` lacks
//! and a server on the open network needs. A connection that sends nothing
//! (idle), dribbles a request head (header timeout) or a body (body timeout)
//! is closed; at most `max_connections` are served at once, fewer when the
//! descriptor limit could not hold them (the soft limit is raised first);
//! at shutdown, connections get `shutdown_timeout` to finish their requests
//! and are then dropped, so a half-sent request cannot hold the server open.
//!
//! hyper has one timer for the idle time and the head (`header_read_timeout`),
//! so both are measured here: the socket says when bytes arrive, the service
//! when a head is complete and when its response has been sent.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// How `keydesk serve` treats its connections (the `serve` options of the
/// same names; defaults in README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// A connection with no request in progress that receives nothing for
    /// this long is closed: a new one, or a kept-alive one after its response.
    pub idle_timeout: Duration,
    /// A request head must be complete this long after its first byte.
    pub header_timeout: Duration,
    /// A request body must be complete this long after its head (else 408).
    pub body_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// After the shutdown signal, open connections get this long to finish;
    /// then they are dropped.
    pub shutdown_timeout: Duration,
}

impl ConnectionConfig {
    pub const DEFAULT: Self = Self {
        idle_timeout: Duration::from_secs(60),
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(30),
        max_connections: 4096,
        shutdown_timeout: Duration::from_secs(10),
    };
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What every connection is told at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Serving,
    /// Finish the request in progress, then close.
    Gracefully,
    /// Close now.
    Now,
}

/// Serves `router` on `listener` until `shutdown` completes, then stops as
/// the module says. Returns once every connection is closed.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    config: ConnectionConfig,
    shutdown: impl Future<Output = ()>,
) {
    let limit = connection_limit(config.max_connections);
    let slots = Arc::new(Semaphore::new(limit));
    let (stop, stopped) = watch::channel(Stop::Serving);
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    refused_accept(&err).await;
                    continue;
                }
            },
        };
        // Small answers go out at once, not after Nagle's delay.
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            remote,
            config,
            stop: stopped.clone(),
        };
        tokio::spawn(async move {
            connection.serve(stream).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(Stop::Gracefully);
    let all = u32::try_from(limit).unwrap_or(u32::MAX);
    if tokio::time::timeout(config.shutdown_timeout, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = limit - slots.available_permits(),
            "connections still open at the shutdown deadline are dropped"
        );
        let _ = stop.send(Stop::Now);
        let _ = slots.acquire_many(all).await;
    }
}

/// The most connections to serve at once: `wanted`, or half the descriptor
/// limit if that is less (the database, the log and reads in flight need
/// descriptors too). The soft limit is raised towards the hard one first.
fn connection_limit(wanted: usize) -> usize {
    let needed = u64::try_from(wanted).unwrap_or(u64::MAX).saturating_mul(2);
    match rlimit::increase_nofile_limit(needed) {
        Ok(descriptors) => {
            let allowed = usize::try_from(descriptors / 2).unwrap_or(usize::MAX);
            if allowed < wanted {
                tracing::warn!(
                    descriptors,
                    connections = allowed,
                    "the descriptor limit allows fewer connections than --max-connections"
                );
            }
            wanted.min(allowed).max(1)
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot read or raise the descriptor limit");
            wanted.max(1)
        }
    }
}

/// A failed accept: a client that gave up is nobody's concern; anything
/// else (out of descriptors) is logged and waited out a little.
async fn refused_accept(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(error = %err, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One accepted connection.
struct Connection {
    router: Router,
    remote: SocketAddr,
    config: ConnectionConfig,
    stop: watch::Receiver<Stop>,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            stream,
            activity: Arc::clone(&activity),
        });
        let service = Requests {
            router: self.router.clone(),
            remote: self.remote,
            body_timeout: self.config.body_timeout,
            activity: Arc::clone(&activity),
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        // Measured here instead: hyper's one timer cannot tell idle from slow.
        builder.header_read_timeout(None);
        let mut connection = pin!(builder.serve_connection(io, service));
        loop {
            let deadline = activity.deadline(&self.config);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(err) = served {
                        tracing::debug!(error = %err, remote = %self.remote, "connection ended");
                    }
                    return;
                }
                () = activity.head_began.notified() => {}
                () = tokio::time::sleep_until(deadline) => {
                    if activity.deadline(&self.config) <= Instant::now() {
                        tracing::debug!(remote = %self.remote, "connection timed out");
                        return;
                    }
                }
                changed = self.stop.changed() => {
                    match changed.map_or(Stop::Now, |()| *self.stop.borrow()) {
                        Stop::Serving => {}
                        Stop::Gracefully => connection.as_mut().graceful_shutdown(),
                        Stop::Now => return,
                    }
                }
            }
        }
    }
}

/// Where a connection is between requests, for its timeouts.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No request in progress and nothing received since this instant.
    Idle(Instant),
    /// The first bytes of a request head arrived at this instant.
    ReadingHead(Instant),
    /// This many requests have their head and no finished response yet.
    Busy(usize),
}

/// What a connection is doing, told by its socket and its service.
struct Activity {
    phase: Mutex<Phase>,
    /// Told when a head begins: its deadline may come before the idle one.
    head_began: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Idle(Instant::now())),
            head_began: tokio::sync::Notify::new(),
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bytes_arrived(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::ReadingHead(Instant::now());
            self.head_began.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>) -> InProgress {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(requests) => Phase::Busy(requests + 1),
            Phase::Idle(_) | Phase::ReadingHead(_) => Phase::Busy(1),
        };
        InProgress(Arc::clone(self))
    }

    /// When the connection is to be closed if nothing changes; while a
    /// request is in progress, only a moment to look again (its body has a
    /// deadline of its own, and a slow handler is no reason to close).
    fn deadline(&self, config: &ConnectionConfig) -> Instant {
        match *self.phase() {
            Phase::Idle(since) => since + config.idle_timeout,
            Phase::ReadingHead(since) => since + config.header_timeout,
            Phase::Busy(_) => Instant::now() + config.idle_timeout.min(config.header_timeout),
        }
    }
}

/// A request whose response is not sent yet; dropped when it is (or when
/// the request is abandoned).
struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        *phase = match *phase {
            Phase::Busy(requests) if requests > 1 => Phase::Busy(requests - 1),
            _ => Phase::Idle(Instant::now()),
        };
    }
}

/// The socket, telling its connection's [`Activity`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The connection's service: the router, with the caller's address, the
/// body's deadline, and the request counted in progress until its response
/// body is dropped (sent, or abandoned).
#[derive(Clone)]
struct Requests {
    router: Router,
    remote: SocketAddr,
    body_timeout: Duration,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Requests {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let in_progress = self.activity.request_started();
        let deadline = Instant::now() + self.body_timeout;
        let mut request: Request = request.map(|body| {
            if http_body::Body::is_end_stream(&body) {
                Body::new(body)
            } else {
                Body::new(Deadline::new(body, deadline))
            }
        });
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await?;
            Ok(response.map(|body| {
                Body::new(Sending {
                    body,
                    _in_progress: in_progress,
                })
            }))
        })
    }
}

/// A response body, holding its request in progress until it is dropped.
struct Sending {
    body: Body,
    _in_progress: InProgress,
}

impl http_body::Body for Sending {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that did not arrive within the body timeout; handlers
/// reading it answer 408 (see `ApiError`).
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimeout;

/// A request body that fails with [`BodyTimeout`] once its deadline passes:
/// one deadline for the whole body, not per chunk, so a body dribbled a
/// byte at a time cannot hold its connection for long.
struct Deadline {
    body: Incoming,
    deadline: Instant,
    /// Set only when the body has to be waited for.
    timer: Option<Pin<Box<Sleep>>>,
}

impl Deadline {
    fn new(body: Incoming, deadline: Instant) -> Self {
        Self {
            body,
            deadline,
            timer: None,
        }
    }
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimeout))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
