//! The HTTP serve loop: what `axum::serve` did, plus the deadlines and caps
//! that keep slow or many clients from holding the server.
//!
//! - A connection must deliver a complete request head within
//!   `server.header_timeout` of its first byte (or of its accept), and a
//!   request's body within `server.body_timeout` of its head (else 408).
//! - A keep-alive connection waits at most `server.idle_timeout` for its next
//!   request.
//! - At most `server.max_connections` connections are open. The last few
//!   slots (1/16, 1 to 64) are a short lane: once the regular slots are
//!   taken, a new connection is served one request with at most 1 s for the
//!   head and 5 s for the body, so `/healthz` and quick producers still get
//!   through while slow clients hold the regular slots. When the short lane
//!   is full too, new connections wait in the listen backlog.
//!
//! hyper's own header timer is off: it runs from the start of every wait
//! for a head, so it would also cut idle keep-alive connections at the
//! header timeout. The watchdog here tells the two waits apart.

use crate::api::{ApiError, BodyTimeout};
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower_service::Service as _;

use crate::app::App;

/// The short lane's deadlines (see the module docs).
const SHORT_LANE_HEADER: Duration = Duration::from_secs(1);
const SHORT_LANE_BODY: Duration = Duration::from_secs(5);
/// The largest request head (and read buffer) a connection may grow; hyper's
/// default is about 400 KiB, which thousands of slow clients would multiply.
const MAX_HEAD: usize = 64 << 10;
/// The derived `server.max_connections` never goes above this.
const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Raises the soft open-file limit to the hard one (once per process) and
/// returns the soft limit in force; None when it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let before = rlimit::getrlimit(rlimit::Resource::NOFILE).ok();
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(now) => {
                tracing::info!(
                    open_files = now,
                    was = before.map(|(soft, _)| soft),
                    "open-file limit (RLIMIT_NOFILE) raised to the hard limit"
                );
                Some(now)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not raise the open-file limit (RLIMIT_NOFILE)");
                before.map(|(soft, _)| soft)
            }
        }
    })
}

/// `server.max_connections` when not configured: three quarters of the
/// open-file limit (the rest is for the store, outgoing sends and logs), at
/// most 4096.
pub fn default_max_connections(open_files: Option<u64>) -> usize {
    let Some(n) = open_files else {
        return 1024;
    };
    usize::try_from(n / 4 * 3)
        .unwrap_or(usize::MAX)
        .clamp(2, DEFAULT_MAX_CONNECTIONS)
}

/// The slots of the short lane out of `max` (see the module docs).
fn short_lane(max: usize) -> usize {
    (max / 16).clamp(1, 64)
}

/// Open connections, by lane.
#[derive(Default)]
pub struct Slots {
    regular: AtomicUsize,
    short: AtomicUsize,
    freed: Notify,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    Regular,
    Short,
}

/// One open connection's slot; freed on drop.
struct Slot {
    slots: Arc<Slots>,
    lane: Lane,
    /// `tocsin_http_connections{lane}`.
    gauge: prometheus_client::metrics::gauge::Gauge,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gauge.dec();
        let counter = match self.lane {
            Lane::Regular => &self.slots.regular,
            Lane::Short => &self.slots.short,
        };
        counter.fetch_sub(1, Ordering::SeqCst);
        self.slots.freed.notify_one();
    }
}

impl Slots {
    /// Open connections.
    pub fn open(&self) -> usize {
        self.regular.load(Ordering::SeqCst) + self.short.load(Ordering::SeqCst)
    }

    /// Waits until fewer than `max` connections are open.
    async fn room(&self, max: usize) {
        loop {
            let freed = self.freed.notified();
            if self.open() < max {
                return;
            }
            freed.await;
        }
    }

    /// A slot for a just-accepted connection (only the accept loop takes
    /// slots, after [`Slots::room`]).
    fn take(self: &Arc<Self>, max: usize, metrics: &crate::metrics::Metrics) -> Slot {
        let lane = if self.regular.load(Ordering::SeqCst) < max - short_lane(max).min(max) {
            self.regular.fetch_add(1, Ordering::SeqCst);
            Lane::Regular
        } else {
            self.short.fetch_add(1, Ordering::SeqCst);
            Lane::Short
        };
        let gauge = metrics.connections(match lane {
            Lane::Regular => "regular",
            Lane::Short => "short",
        });
        gauge.inc();
        Slot {
            slots: self.clone(),
            lane,
            gauge,
        }
    }
}

/// The deadlines of one connection.
#[derive(Clone, Copy, Debug)]
struct Limits {
    header: Duration,
    body: Duration,
    idle: Duration,
}

impl Limits {
    fn of(app: &App, lane: Lane) -> Limits {
        let server = &app.config().config.server;
        match lane {
            Lane::Regular => Limits {
                header: server.header_timeout,
                body: server.body_timeout,
                idle: server.idle_timeout,
            },
            Lane::Short => Limits {
                header: server.header_timeout.min(SHORT_LANE_HEADER),
                body: server.body_timeout.min(SHORT_LANE_BODY),
                idle: Duration::ZERO,
            },
        }
    }
}

/// Accepts connections until `stop`, then waits for the open ones to finish
/// (the caller bounds that wait and drops this future to cut the rest).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    app: Arc<App>,
    slots: Arc<Slots>,
    default_max: usize,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    let mut last_warning: Option<Instant> = None;
    loop {
        let max = app
            .config()
            .config
            .server
            .max_connections
            .map_or(default_max, |n| usize::try_from(n).unwrap_or(usize::MAX));
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            () = slots.room(max) => {}
        }
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((tcp, _)) => {
                let slot = slots.take(max, &app.metrics);
                let limits = Limits::of(&app, slot.lane);
                // The TLS config current at the accept: a reload changes it
                // for new connections only.
                let tls = app
                    .config()
                    .config
                    .server
                    .tls
                    .as_ref()
                    .map(|t| t.server_config.clone());
                connections.spawn(serve_connection(
                    tcp,
                    tls,
                    router.clone(),
                    limits,
                    slot,
                    stop.clone(),
                ));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of file descriptors, most likely: wait a little rather
                // than spin, and say so at most every 10 s.
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(error = %e, open = slots.open(), "cannot accept connections");
                    last_warning = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection under its deadlines; with `tls`, after a TLS
/// handshake that must end within the head deadline.
async fn serve_connection(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: axum::Router,
    limits: Limits,
    slot: Slot,
    stop: watch::Receiver<bool>,
) {
    let _slot = slot;
    let _ = tcp.set_nodelay(true);
    let watch = Arc::new(ConnWatch::new());
    // The watch sees the socket's bytes, so handshake records count as the
    // start of the head: a client dribbling its handshake meets the same
    // deadline as one dribbling its request head.
    let io = WatchedIo {
        inner: tcp,
        watch: watch.clone(),
    };
    let Some(tls) = tls else {
        return serve_requests(io, None, watch, router, limits, stop).await;
    };
    let handshake = tokio_rustls::TlsAcceptor::from(tls).accept(io);
    match tokio::time::timeout(limits.header, handshake).await {
        Ok(Ok(stream)) => {
            let client = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(crate::tls::VerifiedClient::of);
            serve_requests(stream, client, watch, router, limits, stop).await;
        }
        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
        Err(_) => {
            tracing::debug!("closing a connection: no TLS handshake within server.header_timeout")
        }
    }
}

const REQUEST_ID: &str = "x-request-id";

/// The request's id for its log lines and its answer's `X-Request-Id`: the
/// one a proxy in front sent (when it is a plain token of at most 64
/// characters, so a client cannot forge log lines with it), else a new one.
fn request_id<B>(req: &hyper::Request<B>) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map_or_else(|| uuid::Uuid::now_v7().simple().to_string(), str::to_string)
}

/// Serves the requests of one connection (plain or TLS) under its deadlines.
async fn serve_requests<I>(
    io: I,
    client: Option<crate::tls::VerifiedClient>,
    watch: Arc<ConnWatch>,
    router: axum::Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let requests = watch.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut router = router.clone();
        let busy = requests.request_started();
        let cut = Arc::new(AtomicBool::new(false));
        let mut req = req;
        if let Some(client) = &client {
            req.extensions_mut().insert(client.clone());
        }
        let request_id = request_id(&req);
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %req.method(),
            path = %req.uri().path(),
        );
        let req = req.map(|body| {
            Body::new(DeadlineBody {
                inner: body,
                deadline: Instant::now() + limits.body,
                limit: limits.body,
                sleep: None,
                cut: cut.clone(),
            })
        });
        let answered = async move {
            let _busy = busy;
            let mut resp = match router.call(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            if let Ok(v) = axum::http::HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert(REQUEST_ID, v);
            }
            // A handler that read the body through an extractor answers its
            // own error; the client should learn the body was too slow.
            if cut.load(Ordering::SeqCst)
                && resp.status() != axum::http::StatusCode::REQUEST_TIMEOUT
            {
                return Ok::<_, std::convert::Infallible>(
                    axum::response::IntoResponse::into_response(ApiError::body_timeout(
                        limits.body,
                    )),
                );
            }
            Ok(resp)
        };
        tracing::Instrument::instrument(answered, span)
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    // Since when the connection is closing (graceful shutdown asked).
    let mut closing: Option<Instant> = None;
    loop {
        let next = watch.deadline(limits, closing);
        let changed = watch.changed.notified();
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = changed => {}
            () = sleep_until(next.map(|(at, _)| at)) => {
                // The phase may have changed since the deadline was read
                // (a request started: no head deadline while it runs), so
                // act on the deadline as it is now.
                let next = watch
                    .deadline(limits, closing)
                    .filter(|(at, _)| *at <= Instant::now());
                match next {
                    Some((_, Wait::Head)) => {
                        tracing::debug!("closing a connection: no complete request head within server.header_timeout");
                        return;
                    }
                    Some((_, Wait::Idle)) if closing.is_some() => return,
                    Some((_, Wait::Idle)) => {
                        conn.as_mut().graceful_shutdown();
                        closing = Some(Instant::now());
                    }
                    None => {}
                }
            }
            _ = stop.wait_for(|s| *s), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a connection is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// The rest of a request head (or its first byte, on a new connection).
    Head,
    /// The first byte of the next request (keep-alive).
    Idle,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    Waiting {
        wait: Wait,
        since: Instant,
    },
    /// This many requests are being answered (HTTP/2 can have several).
    Busy(usize),
}

/// A connection's phase, moved by its reads and its requests.
struct ConnWatch {
    phase: Mutex<Phase>,
    /// Woken when the phase moves to a wait, so the watchdog re-reads it.
    changed: Notify,
}

impl ConnWatch {
    fn new() -> ConnWatch {
        ConnWatch {
            phase: Mutex::new(Phase::Waiting {
                wait: Wait::Head,
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn with_phase<T>(&self, f: impl FnOnce(&mut Phase) -> T) -> T {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut phase)
    }

    /// Bytes came in: an idle connection starts a request head.
    fn on_read(&self) {
        let moved = self.with_phase(|p| match p {
            Phase::Waiting {
                wait: Wait::Idle, ..
            } => {
                *p = Phase::Waiting {
                    wait: Wait::Head,
                    since: Instant::now(),
                };
                true
            }
            _ => false,
        });
        if moved {
            self.changed.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.with_phase(|p| {
            *p = match *p {
                Phase::Busy(n) => Phase::Busy(n.saturating_add(1)),
                Phase::Waiting { .. } => Phase::Busy(1),
            }
        });
        RequestGuard(self.clone())
    }

    fn request_ended(&self) {
        let idle = self.with_phase(|p| match *p {
            Phase::Busy(n) if n > 1 => {
                *p = Phase::Busy(n - 1);
                false
            }
            _ => {
                *p = Phase::Waiting {
                    wait: Wait::Idle,
                    since: Instant::now(),
                };
                true
            }
        });
        if idle {
            self.changed.notify_one();
        }
    }

    /// When the current wait runs out. A closing connection that is idle
    /// (its last answer possibly still being written) gets the header
    /// timeout to finish, then is dropped.
    fn deadline(&self, limits: Limits, closing: Option<Instant>) -> Option<(Instant, Wait)> {
        match self.with_phase(|p| *p) {
            Phase::Busy(_) => None,
            Phase::Waiting {
                wait: Wait::Head,
                since,
            } => Some((since + limits.header, Wait::Head)),
            Phase::Waiting {
                wait: Wait::Idle,
                since,
            } => Some(match closing {
                Some(closing) => (since.max(closing) + limits.header, Wait::Idle),
                None => (since + limits.idle, Wait::Idle),
            }),
        }
    }
}

/// A request being answered; the connection is idle again when all are
/// dropped (answered, or cancelled with the connection).
struct RequestGuard(Arc<ConnWatch>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// The socket, telling the connection's watch when bytes come in.
struct WatchedIo {
    inner: TcpStream,
    watch: Arc<ConnWatch>,
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.on_read();
        }
        result
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request body that must end by `deadline`; past it, it fails with
/// [`BodyTimeout`] (and marks `cut`).
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    limit: Duration,
    /// Armed on the first wait, so bodiless requests cost no timer.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    cut: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.cut.load(Ordering::SeqCst) {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            this.cut.store(true, Ordering::SeqCst);
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_lane_is_a_sixteenth_of_the_slots() {
        assert_eq!(short_lane(2), 1);
        assert_eq!(short_lane(64), 4);
        assert_eq!(short_lane(4096), 64);
        assert_eq!(short_lane(1_000_000), 64);
        assert_eq!(default_max_connections(Some(1024)), 768);
        assert_eq!(default_max_connections(Some(1 << 20)), 4096);
        assert_eq!(default_max_connections(Some(u64::MAX)), 4096);
        assert_eq!(default_max_connections(Some(1)), 2);
        assert_eq!(default_max_connections(None), 1024);
    }

    #[cfg(unix)]
    #[test]
    fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
        let raised = raise_open_file_limit().expect("a limit");
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
        assert_eq!(raised, soft);
        // macOS caps the soft limit below an unlimited hard one.
        if cfg!(target_os = "linux") {
            assert_eq!(soft, hard);
        }
    }
}
