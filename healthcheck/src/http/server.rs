//! A standalone HTTP server for the endpoints, on hyper, for programs without a web framework
//! (the status server of a daemon or a worker).
//!
//! It defends itself against slow and idle clients: a request head must arrive within a timeout
//! (5 seconds by default), a connection with no request in progress is closed after an idle
//! timeout (30 seconds), and at most 256 connections are open at once (when that many are, it
//! stops accepting until one closes, rather than accepting and dropping). [`Server::builder`]
//! changes these.
//!
//! ```no_run
//! use healthcheck::{HealthChecks, http::{HttpOptions, server::Server}};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let handler = HttpOptions::new().build(HealthChecks::builder().build()?)?;
//! let server = Server::bind("[::]:5151", handler).await?;
//! // ... on SIGTERM:
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::http::HealthHandler;
use crate::http::tower::HealthService;

/// How long [`Server::shutdown`] waits for requests in progress.
const GRACE: Duration = Duration::from_secs(10);

/// The default of [`ServerBuilder::header_read_timeout`].
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The default of [`ServerBuilder::idle_timeout`].
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The default of [`ServerBuilder::max_connections`].
const MAX_CONNECTIONS: usize = 256;

/// The first and the longest pause after a failed accept (out of file descriptors, say), so that
/// the accept loop never spins.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(5), Duration::from_millis(500));

/// A running server; [`shutdown`](Self::shutdown) stops it gracefully.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    handler: HealthHandler,
    /// The task that takes events as UDP datagrams on the same port, when events are taken.
    udp: Option<JoinHandle<()>>,
}

/// The settings of a [`Server`], from [`Server::builder`]; [`bind`](Self::bind) starts it.
///
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::{HealthChecks, http::{HttpOptions, server::Server}};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let handler = HttpOptions::new().build(HealthChecks::builder().build()?)?;
/// let server = Server::builder()
///     .header_read_timeout(Duration::from_secs(2))
///     .idle_timeout(Duration::from_secs(60))
///     .max_connections(64)
///     .bind("0.0.0.0:5151", handler)
///     .await?;
/// # server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct ServerBuilder {
    header_read_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_connections: usize,
    udp_events: bool,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            header_read_timeout: Some(HEADER_READ_TIMEOUT),
            idle_timeout: Some(IDLE_TIMEOUT),
            max_connections: MAX_CONNECTIONS,
            udp_events: true,
        }
    }
}

impl ServerBuilder {
    /// How long a client has to send a whole request head, from when the connection opens (or,
    /// on HTTP/1, from when the previous response went out); after that, the connection is
    /// closed. Defaults to 5 seconds; `None` (or zero) turns it off.
    pub fn header_read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.header_read_timeout = timeout.into().filter(|t| !t.is_zero());
        self
    }

    /// How long a connection may stay open with no request in progress (kept alive between
    /// requests, or never sending one); after that, it is closed. A request that waits on a slow
    /// check is in progress: it is never cut. Defaults to 30 seconds; `None` (or zero) turns it
    /// off.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into().filter(|t| !t.is_zero());
        self
    }

    /// The most connections open at once; when that many are, the server stops accepting until
    /// one closes (new connections wait in the system's listen queue). Defaults to 256; zero
    /// counts as one.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Whether the server also takes events as UDP datagrams on its port (one JSON document per
    /// datagram, into the queue of [`HttpOptions::events`](crate::http::HttpOptions::events)),
    /// when the handler takes events. Defaults to yes.
    pub const fn udp_events(mut self, on: bool) -> Self {
        self.udp_events = on;
        self
    }

    /// Binds `address` (IPv4 or IPv6, such as `0.0.0.0:5151` or `[::]:5151`) and serves the
    /// endpoints over HTTP/1 and HTTP/2 on the current Tokio runtime; when the handler takes
    /// events, also binds UDP on the same address and port for them.
    ///
    /// # Errors
    /// When the address cannot be resolved or bound (TCP, or UDP for events).
    pub async fn bind(
        self,
        address: impl ToSocketAddrs,
        handler: HealthHandler,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(address).await?;
        let local_addr = listener.local_addr()?;
        #[cfg(feature = "events")]
        let udp = match handler.events().filter(|_| self.udp_events) {
            Some(events) => {
                let socket = tokio::net::UdpSocket::bind(local_addr).await?;
                Some(events.serve_udp(socket))
            }
            None => None,
        };
        #[cfg(not(feature = "events"))]
        let udp = None;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(
            listener,
            HealthService::new(handler.clone()),
            self,
            stopped,
        ));
        Ok(Server {
            local_addr,
            stop: Some(stop),
            task,
            handler,
            udp,
        })
    }
}

impl Server {
    /// Binds `address` (IPv4 or IPv6, such as `0.0.0.0:5151` or `[::]:5151`) and serves the
    /// endpoints over HTTP/1 and HTTP/2 on the current Tokio runtime, with the default limits
    /// of [`Server::builder`].
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub async fn bind(address: impl ToSocketAddrs, handler: HealthHandler) -> io::Result<Self> {
        Self::builder().bind(address, handler).await
    }

    /// Settings for a server: header read timeout (5 seconds), idle timeout (30 seconds) and
    /// connection limit (256) unless changed.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The address it listens on (with the port the system chose for port 0).
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets requests in progress finish (up to 10 seconds), and
    /// returns. Call [`HealthHandler::begin_shutdown`] first, and wait for the load balancers to
    /// notice, to drain traffic before that.
    pub async fn shutdown(mut self) {
        self.handler.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(udp) = self.udp.take() {
            udp.abort();
            // Its socket is closed once the aborted task is gone: the port is free on return.
            let _ = udp.await;
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(udp) = self.udp.take() {
            udp.abort();
        }
    }
}

async fn serve(
    listener: TcpListener,
    service: HealthService,
    settings: ServerBuilder,
    mut stopped: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    // Before its first request, a connection gets the header timeout too: one that sends
    // nothing waits where hyper tells HTTP/1 from HTTP/2, out of reach of hyper's own timer.
    let first_request = match (settings.header_read_timeout, settings.idle_timeout) {
        (Some(header), Some(idle)) => Some(header.min(idle)),
        (header, idle) => header.or(idle),
    };
    let mut backoff = ACCEPT_BACKOFF.0;
    loop {
        // When the limit is reached, stop accepting: new connections wait in the listen queue.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut stopped => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stopped => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff = ACCEPT_BACKOFF.0;
                // A report leaves in one write: no waiting for acknowledgements of the last
                // segment (Nagle's algorithm), which would add a round trip to every response.
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "could not set TCP_NODELAY");
                }
                stream
            }
            Err(error) => {
                // Out of file descriptors and the like: back off, longer each time, go on.
                tracing::debug!(%error, ?backoff, "could not accept a connection");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = &mut stopped => break,
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF.1);
                continue;
            }
        };
        let activity = Arc::new(Activity::new());
        let tracked = Tracked {
            service: service.clone(),
            activity: Arc::clone(&activity),
        };
        let connection = builder
            .serve_connection(TokioIo::new(stream), tracked)
            .into_owned();
        let connection = graceful.watch(connection);
        let limits = IdleLimits {
            first_request,
            idle: settings.idle_timeout,
        };
        tokio::spawn(async move {
            close_when_idle(connection, &activity, limits).await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress after {GRACE:?}; stopping anyway");
    }
}

/// How long a connection may go without a request in progress.
#[derive(Clone, Copy)]
struct IdleLimits {
    /// Before its first request.
    first_request: Option<Duration>,
    /// After a request.
    idle: Option<Duration>,
}

/// Runs `connection` until it ends, or until it has had no request in progress for longer than
/// `limits` allow; then drops it, which closes it.
async fn close_when_idle<F, E>(connection: F, activity: &Activity, limits: IdleLimits)
where
    F: Future<Output = Result<(), E>>,
    E: fmt::Display,
{
    let mut connection = std::pin::pin!(connection);
    loop {
        let limit = if activity.started() {
            limits.idle
        } else {
            limits.first_request
        };
        let wait = match (limit, activity.idle_for()) {
            (None, _) => None,
            (Some(limit), Some(idle)) if idle >= limit => {
                tracing::debug!(?limit, "closing a connection with no request in progress");
                return;
            }
            (Some(limit), Some(idle)) => Some(limit - idle),
            // A request in progress: look again later.
            (Some(limit), None) => Some(limit),
        };
        let sleep = async {
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ended = &mut connection => {
                if let Err(error) = ended {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = sleep => {}
        }
    }
}

/// The requests of one connection: how many are in progress, and when the last one ended.
struct Activity {
    opened: Instant,
    in_progress: AtomicUsize,
    /// Requests started so far.
    requests: AtomicUsize,
    /// When the last request ended (or the connection opened), in milliseconds since `opened`.
    last_ended_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_progress: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            last_ended_ms: AtomicU64::new(0),
        }
    }

    fn started(&self) -> bool {
        self.requests.load(Ordering::SeqCst) > 0
    }

    /// How long no request has been in progress; `None` while one is.
    fn idle_for(&self) -> Option<Duration> {
        if self.in_progress.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let since_open = self.opened.elapsed();
        let last = Duration::from_millis(self.last_ended_ms.load(Ordering::SeqCst));
        Some(since_open.saturating_sub(last))
    }
}

/// A request in progress on a connection, until dropped.
struct InProgress(Arc<Activity>);

impl InProgress {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.requests.fetch_add(1, Ordering::SeqCst);
        activity.in_progress.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(activity))
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_ended_ms.fetch_max(ms, Ordering::SeqCst);
        self.0.in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The health service, counting the requests in progress on its connection.
#[derive(Clone)]
struct Tracked {
    service: HealthService,
    activity: Arc<Activity>,
}

type BoxedResponse =
    Pin<Box<dyn Future<Output = Result<http::Response<Full<Bytes>>, Infallible>> + Send>>;

impl hyper::service::Service<http::Request<Incoming>> for Tracked {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxedResponse;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        let in_progress = InProgress::start(&self.activity);
        let response = tower_service::Service::call(&mut self.service.clone(), request);
        Box::pin(async move {
            let response = response.await;
            drop(in_progress);
            response
        })
    }
}
