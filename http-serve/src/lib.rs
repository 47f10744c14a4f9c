//! Serving HTTP with the limits every public AssistChat server needs.
//!
//! The web edge and the Telegram and Zoom webhook servers face the internet, where a client may
//! open a connection and never finish its request, trickle a body one byte at a time, or open
//! connections until the process runs out of file descriptors. Each serves its axum router with
//! [`serve`], which bounds all of that by [`Limits`]:
//!
//! - a connection that has not sent a whole request head within
//!   [`Limits::header_read_timeout`] is closed (the clock starts when the connection opens,
//!   and again whenever an HTTP/1 connection waits for its next request);
//! - a connection on which nothing is read or written for [`Limits::idle_timeout`] is asked to
//!   close: a request in flight finishes, nothing new is taken on it;
//! - a request body that sends nothing for [`Limits::body_read_timeout`] fails the request;
//! - at most [`Limits::max_connections`] connections are served at once; more wait in the
//!   listen backlog;
//! - an HTTP/2 connection carries at most [`Limits::max_streams_per_connection`] requests at
//!   once.
//!
//! Body sizes are each router's own business (axum's `DefaultBodyLimit`, per route where a
//! route needs more), since only the router knows what each route takes.
//!
//! Every accepted connection has `TCP_NODELAY` set (Nagle's algorithm would hold small answers
//! back for a delayed ACK, about 40 ms) and carries axum's `ConnectInfo<SocketAddr>` with the
//! peer's address. When the shutdown future completes, no new connection is accepted, every
//! connection is asked to finish what it is doing, and [`serve`] returns once all have closed.
//!
//! Layout: [`Limits`] and its named defaults; [`serve`], the accept loop; the connection task
//! below it, with the reader-writer wrapper that notices activity; [`probe`], how a health check
//! on the same machine asks such a server whether it is ready.

pub mod probe;

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    time::Instant,
};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

pub use probe::{local_address, probe};

/// How long a client has to send a whole request head (request line and headers).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may go without a byte read or written before it is asked to close.
/// Event streams send a keep-alive comment well within it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a request body may go without sending anything before the request fails.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How many connections one server serves at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 4096;
/// How many requests one HTTP/2 connection may have in flight at once.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 100;
/// How long to pause accepting after an error such as running out of file descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// The limits a server holds every connection to; [`Limits::default`] is the named constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A connection that has not sent a whole request head within this is closed.
    pub header_read_timeout: Duration,
    /// A connection with nothing read or written for this is asked to close.
    pub idle_timeout: Duration,
    /// A request whose body sends nothing for this fails.
    pub body_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Requests in flight at once on one HTTP/2 connection.
    pub max_streams_per_connection: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_streams_per_connection: MAX_STREAMS_PER_CONNECTION,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then lets every
/// connection finish what it is doing and returns when all have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams_per_connection)
        // CONNECT is needed for WebSockets over HTTP/2, as axum's own server allows.
        .enable_connect_protocol();
    let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let connections = Arc::new(Semaphore::new(max_connections));
    let (stop, stopping) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    if !is_connection_error(&err) {
                        tracing::error!(error = %err, "cannot accept connections; trying again shortly");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (builder, router, stopping) = (builder.clone(), router.clone(), stopping.clone());
        tokio::spawn(async move {
            connection(&builder, stream, remote, router, limits, stopping).await;
            drop(permit);
        });
    }
    drop(listener);
    drop(stop);
    // Every connection holds a permit until it closes: all of them back means all closed.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = connections.acquire_many(all).await;
}

/// Errors of one connection that failed as it was accepted, which say nothing about the
/// listener.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it closes, closing it early when it breaks a time limit.
async fn connection(
    builder: &Builder<TokioExecutor>,
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { stream, activity: activity.clone() });
    let body_read_timeout = limits.body_read_timeout;
    let service = router.map_request(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(|body| TimeoutBody::new(body_read_timeout, body));
        request.extensions_mut().insert(ConnectInfo(remote));
        request
    });
    let mut conn = pin!(builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service)));
    let mut closing = false;
    loop {
        // Until the first byte, the header timeout counts from the start: hyper's own header
        // clock starts only once it has seen enough to tell HTTP/1 from HTTP/2.
        let deadline = if activity.read_any() {
            activity.last() + limits.idle_timeout
        } else {
            activity.started + limits.header_read_timeout
        };
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(err) = served {
                    tracing::debug!(%remote, error = %err, "connection ended with an error");
                }
                return;
            }
            _ = stopping.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep_until(deadline), if !closing => {
                if !activity.read_any() {
                    tracing::debug!(%remote, "closed a connection that sent nothing");
                    return;
                }
                // Something moved since the deadline was set: wait for the next one.
                if Instant::now() >= activity.last() + limits.idle_timeout {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// When a connection last read or wrote something.
struct Activity {
    /// When the connection was accepted.
    started: Instant,
    /// Milliseconds after `started` of the last read or write.
    last_ms: AtomicU64,
    /// Whether anything has been read at all.
    read_any: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self { started: Instant::now(), last_ms: AtomicU64::new(0), read_any: AtomicBool::new(false) }
    }

    /// Notes activity now; `read` when bytes came in.
    fn touch(&self, read: bool) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
        if read {
            self.read_any.store(true, Ordering::Relaxed);
        }
    }

    fn last(&self) -> Instant {
        self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    fn read_any(&self) -> bool {
        self.read_any.load(Ordering::Relaxed)
    }
}

/// A TCP stream that notes in its [`Activity`] every read and write that moved bytes.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch(true);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch(false);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch(false);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
