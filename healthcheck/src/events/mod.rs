//! Event intake (feature `events`): JSON events over HTTP and UDP into a bounded queue, handed to
//! an async handler of the application's.
//!
//! [`Events`] is a running intake: a queue of at most [`EventsBuilder::capacity`] events and a
//! task that hands them, in order, to the handler given to [`EventsBuilder::handler`]. Events
//! come in through [`Events::submit`] (what `POST <base>/events` calls, with the body of the
//! request) and [`Events::serve_udp`] (one JSON document per datagram). Neither ever waits: an
//! event that does not fit is refused at once ([`Rejected::Full`], an HTTP 503 with
//! `Retry-After`), so a flood costs at most the queue's bound in memory, and every event is
//! accounted for in [`Events::stats`]: queued, refused (and why), handled, failed, or dropped by
//! the kernel before it could be read.
//!
//! A handler that returns `Err` or panics is logged and counted in [`EventStats::failed`]; the
//! intake goes on with the next event. [`Events::close`] stops taking events and lets the
//! handler finish the queue for a grace period. Dropping every clone of the [`Events`] without
//! closing it ends its task too, leaving what is queued unhandled.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use healthcheck::events::{EventSource, Events, Rejected};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let events = Events::builder()
//!     .capacity(1000)
//!     .handler(|event| async move {
//!         tracing::info!(kind = %event.body["kind"], "an event");
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .build()?;
//!
//! // What `POST <base>/events` does with a request's body.
//! events.submit(br#"{"kind": "deploy", "version": "1.4.2"}"#, EventSource::Http)?;
//! assert!(matches!(
//!     events.submit(b"deploy 1.4.2", EventSource::Http),
//!     Err(Rejected::Malformed(_))
//! ));
//!
//! // And over UDP, one JSON document per datagram.
//! let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
//! let udp = events.serve_udp(socket);
//!
//! let unhandled = events.close(Duration::from_secs(5)).await;
//! assert_eq!(unhandled, 0);
//! assert_eq!(events.stats().handled, 1);
//! assert_eq!(events.stats().malformed, 1);
//! udp.await?; // The UDP loop ends with the intake.
//! # Ok(())
//! # }
//! ```

mod drops;
mod logs;
mod task;
mod udp;

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use crate::error::Error;

/// The default bound of the queue, in events.
const DEFAULT_CAPACITY: usize = 1024;
/// The default largest body, in bytes.
const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// The largest bound a Tokio channel takes.
const MAX_CAPACITY: usize = usize::MAX >> 3;

/// One event: a JSON document, where it came from, and when.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Event {
    /// The document.
    pub body: serde_json::Value,
    /// Where it came from.
    pub source: EventSource,
    /// When it was received.
    pub received: SystemTime,
}

impl Event {
    /// An event received now, for testing a handler.
    #[must_use]
    pub fn new(body: serde_json::Value, source: EventSource) -> Self {
        Self {
            body,
            source,
            received: SystemTime::now(),
        }
    }
}

/// Where an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventSource {
    /// The body of an HTTP request (`POST <base>/events`).
    Http,
    /// A datagram from this peer, read by [`Events::serve_udp`].
    Udp(SocketAddr),
    /// Submitted by the application itself, from a transport of its own.
    Other,
}

/// Why an event was refused. Each says what an HTTP adapter answers: [`status`](Self::status).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// The body is larger than [`Events::max_body`] (HTTP 413).
    #[error("the event is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Its size, in bytes (for a datagram, at most the limit plus one: the rest was not read).
        size: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body is not one JSON document (HTTP 400). Holds serde_json's error, such as
    /// "expected value at line 1 column 1".
    #[error("the body must be one JSON document: {0}")]
    Malformed(String),
    /// The queue is full (HTTP 503 with `Retry-After`).
    #[error(
        "the event queue is full ({capacity} events); retry after {} s",
        retry_after.as_secs()
    )]
    Full {
        /// The queue's bound.
        capacity: usize,
        /// When to try again: whole seconds, at least one.
        retry_after: Duration,
    },
    /// The intake was closed, or its runtime has gone (HTTP 503).
    #[error("the event intake is closed")]
    Closed,
}

impl Rejected {
    /// The HTTP status that says it: 413, 400 or 503.
    #[must_use]
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::TooLarge { .. } => http::StatusCode::PAYLOAD_TOO_LARGE,
            Self::Malformed(_) => http::StatusCode::BAD_REQUEST,
            Self::Full { .. } | Self::Closed => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the `Retry-After` header says, in whole seconds: only when the queue is full.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Full { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Counters of an intake since it started. Every event submitted or read ends in one of
/// `received`, `rejected_full`, `malformed`, `too_large` (or, for datagrams, in
/// `udp_kernel_drops` before it is read); every one received ends in `handled`, `failed`,
/// `queued`, in the handler, or unhandled at [`Events::close`].
#[derive(Clone, Copy, Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct EventStats {
    /// Events submitted (over HTTP or UDP) that parsed and were queued.
    pub received: u64,
    /// Events for which the handler returned `Ok`.
    pub handled: u64,
    /// Events for which the handler returned `Err` or panicked.
    pub failed: u64,
    /// Events refused because the queue was full.
    pub rejected_full: u64,
    /// Bodies that were not one JSON document (empty ones included).
    pub malformed: u64,
    /// Bodies larger than [`Events::max_body`].
    pub too_large: u64,
    /// Events in the queue now (not those the handler holds).
    pub queued: u64,
    /// Datagrams read from the sockets of [`Events::serve_udp`], whatever became of them.
    pub udp_datagrams: u64,
    /// Datagrams the kernel dropped because a serving socket's receive buffer was full, read
    /// from the `drops` column of `/proc/net/udp` and `/proc/net/udp6` when the stats are
    /// taken. `None` off Linux or when those files cannot be read.
    pub udp_kernel_drops: Option<u64>,
}

/// The handler, its error turned into its message.
type Handler =
    Arc<dyn Fn(Event) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// The settings of [`Events`], to [`build`](EventsBuilder::build) it.
#[must_use]
pub struct EventsBuilder {
    settings: Settings,
    handler: Option<Handler>,
}

#[derive(Clone, Copy, Debug)]
struct Settings {
    capacity: usize,
    max_body: usize,
    retry_after: Duration,
    concurrency: usize,
}

impl Default for EventsBuilder {
    fn default() -> Self {
        Self {
            settings: Settings {
                capacity: DEFAULT_CAPACITY,
                max_body: DEFAULT_MAX_BODY,
                retry_after: Duration::from_secs(1),
                concurrency: 1,
            },
            handler: None,
        }
    }
}

impl fmt::Debug for EventsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventsBuilder")
            .field("capacity", &self.settings.capacity)
            .field("max_body", &self.settings.max_body)
            .field("retry_after", &self.settings.retry_after)
            .field("concurrency", &self.settings.concurrency)
            .field("handler", &self.handler.as_ref().map(|_| "set"))
            .finish()
    }
}

impl EventsBuilder {
    /// How many events the queue holds at most (default 1024). Each queued event holds its
    /// parsed body: the memory bound is about `capacity` times the events' size.
    pub const fn capacity(mut self, events: usize) -> Self {
        self.settings.capacity = events;
        self
    }

    /// The largest body accepted, in bytes (default 64 KiB). A datagram cannot be larger than
    /// 65,507 bytes anyway.
    pub const fn max_body(mut self, bytes: usize) -> Self {
        self.settings.max_body = bytes;
        self
    }

    /// What [`Rejected::Full`] says to wait before trying again, the `Retry-After` of a 503
    /// (default 1 s). Rounded up to whole seconds, at least one.
    pub const fn retry_after(mut self, duration: Duration) -> Self {
        let mut seconds = duration.as_secs();
        if duration.subsec_nanos() > 0 || seconds == 0 {
            seconds = seconds.saturating_add(1);
        }
        self.settings.retry_after = Duration::from_secs(seconds);
        self
    }

    /// How many calls of the handler may run at once (default 1: events are handled one after
    /// the other, in the order they were queued). Each call is a task of its own.
    pub const fn concurrency(mut self, calls: usize) -> Self {
        self.settings.concurrency = calls;
        self
    }

    /// The application's handler, called with each event. An `Err` is logged (as a warning,
    /// its `Display`) and counted in [`EventStats::failed`], as is a panic; either way the
    /// intake goes on.
    pub fn handler<F, Fut, E>(mut self, handler: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        self.handler = Some(Arc::new(move |event| {
            let call = handler(event);
            Box::pin(async move { call.await.map_err(|e| e.to_string()) })
        }));
        self
    }

    /// Starts the intake's task on the current Tokio runtime, or, called outside one, on the
    /// SDK's own (one worker thread, kept for the life of the process). The handler's calls
    /// run on the same runtime. A runtime of the application's needs its timer enabled
    /// (`#[tokio::main]` does) for [`Events::close`]'s grace.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for a capacity, max_body or concurrency of zero, a capacity
    /// beyond `usize::MAX >> 3`, or no handler; [`Error::Runtime`] when called outside a
    /// runtime and the SDK's own cannot start.
    pub fn build(self) -> Result<Events, Error> {
        let Self { settings, handler } = self;
        let invalid = |setting: &'static str, value: usize, reason: &str| Error::InvalidSetting {
            setting,
            value: value.to_string(),
            reason: reason.to_owned(),
        };
        if settings.capacity == 0 {
            return Err(invalid("event capacity", 0, "the queue must hold an event"));
        }
        if settings.capacity > MAX_CAPACITY {
            return Err(invalid(
                "event capacity",
                settings.capacity,
                "more than a queue can hold",
            ));
        }
        if settings.max_body == 0 {
            return Err(invalid("event max_body", 0, "no event would fit"));
        }
        if settings.concurrency == 0 {
            return Err(invalid(
                "event concurrency",
                0,
                "the handler must be called at least once at a time",
            ));
        }
        let Some(handler) = handler else {
            return Err(Error::InvalidSetting {
                setting: "event handler",
                value: "none".to_owned(),
                reason: "an intake needs a handler (EventsBuilder::handler)".to_owned(),
            });
        };
        let runtime = match Handle::try_current() {
            Ok(runtime) => runtime,
            Err(_) => crate::health::own_runtime()?.handle().clone(),
        };
        let (sender, queue) = mpsc::channel(settings.capacity);
        let (close, closing) = watch::channel(None);
        let (done, finished) = watch::channel(None);
        let counters = Arc::new(Counters::default());
        runtime.spawn(task::run(
            queue,
            handler,
            settings.concurrency,
            Arc::clone(&counters),
            closing,
            done,
        ));
        Ok(Events {
            shared: Arc::new(Shared {
                sender,
                closed: AtomicBool::new(false),
                close,
                finished,
                counters,
                settings,
                runtime,
            }),
        })
    }
}

/// A running intake: a bounded queue and the task that hands its events to the handler.
/// Cheap to clone; clones share the queue. See the [module](self) for an example.
#[derive(Clone)]
pub struct Events {
    shared: Arc<Shared>,
}

/// What the clones of an [`Events`] share. UDP loops hold it weakly: when the last [`Events`]
/// goes, so do the sender (ending the task) and `close` (ending the loops).
struct Shared {
    sender: mpsc::Sender<Event>,
    closed: AtomicBool,
    /// The deadline of the grace, once closed.
    close: watch::Sender<Option<Instant>>,
    /// How many events were left unhandled, once the task has ended.
    finished: watch::Receiver<Option<u64>>,
    counters: Arc<Counters>,
    settings: Settings,
    /// Where the task runs: for UDP loops started outside a runtime.
    runtime: Handle,
}

/// The counters, shared by the intake, its task and its UDP loops.
#[derive(Default)]
struct Counters {
    received: AtomicU64,
    handled: AtomicU64,
    failed: AtomicU64,
    rejected_full: AtomicU64,
    malformed: AtomicU64,
    too_large: AtomicU64,
    udp_datagrams: AtomicU64,
    sockets: drops::Sockets,
}

impl Counters {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counters = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        f.debug_struct("Events")
            .field("settings", &self.shared.settings)
            .field("closed", &self.shared.closed.load(Ordering::Relaxed))
            .field("queued", &self.queued())
            .field("received", &load(&counters.received))
            .field("handled", &load(&counters.handled))
            .field("failed", &load(&counters.failed))
            .finish_non_exhaustive()
    }
}

impl Events {
    /// The settings, to [`build`](EventsBuilder::build) an intake.
    pub fn builder() -> EventsBuilder {
        EventsBuilder::default()
    }

    /// Parses `body` as one JSON document and queues it. Never blocks, never waits: when the
    /// queue is full the event is refused (the body is then not even parsed). Never panics,
    /// even once the runtime of the intake's task has gone.
    ///
    /// # Errors
    /// [`Rejected::TooLarge`] beyond [`max_body`](Self::max_body), [`Rejected::Full`] when the
    /// queue is full, [`Rejected::Malformed`] when `body` is not one JSON document (an empty
    /// one included), [`Rejected::Closed`] once [`close`](Self::close) was called. Each but
    /// the last is counted in [`stats`](Self::stats).
    pub fn submit(&self, body: &[u8], source: EventSource) -> Result<(), Rejected> {
        let shared = &*self.shared;
        let counters = &*shared.counters;
        if shared.closed.load(Ordering::Acquire) || shared.sender.is_closed() {
            return Err(Rejected::Closed);
        }
        let limit = shared.settings.max_body;
        if body.len() > limit {
            Counters::add(&counters.too_large);
            return Err(Rejected::TooLarge {
                size: body.len(),
                limit,
            });
        }
        if shared.sender.capacity() == 0 {
            return Err(self.full());
        }
        let body = serde_json::from_slice(body).map_err(|e| {
            Counters::add(&counters.malformed);
            Rejected::Malformed(e.to_string())
        })?;
        let event = Event {
            body,
            source,
            received: SystemTime::now(),
        };
        match shared.sender.try_send(event) {
            Ok(()) => {
                Counters::add(&counters.received);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(self.full()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Rejected::Closed),
        }
    }

    /// Counts a body the HTTP side refused as too large before reading it whole.
    pub(crate) fn count_too_large(&self) {
        Counters::add(&self.shared.counters.too_large);
    }

    fn full(&self) -> Rejected {
        Counters::add(&self.shared.counters.rejected_full);
        Rejected::Full {
            capacity: self.shared.settings.capacity,
            retry_after: self.shared.settings.retry_after,
        }
    }

    /// The largest body accepted, in bytes (default 64 KiB): an HTTP adapter stops reading a
    /// request beyond it and answers 413.
    #[must_use]
    pub fn max_body(&self) -> usize {
        self.shared.settings.max_body
    }

    /// Reads datagrams from `socket`, each one JSON document, into the same queue, until the
    /// intake is closed or dropped, or the returned handle is aborted. A datagram that is
    /// malformed, too large or finds the queue full is counted and dropped (and logged, at
    /// most a few times every ten seconds); none stops the loop.
    ///
    /// The socket's receive buffer is raised to 4 MiB when smaller, for bursts; Linux caps it
    /// at `net.core.rmem_max` (often 208 KiB), so for more, raise that or size the socket's
    /// buffer before passing it (`SO_RCVBUFFORCE`). Datagrams the kernel drops on a full
    /// buffer are in [`EventStats::udp_kernel_drops`].
    ///
    /// The loop is a task of the current Tokio runtime, or, called outside one, of the runtime
    /// the intake's task runs on. Can be called for several sockets.
    pub fn serve_udp(&self, socket: tokio::net::UdpSocket) -> tokio::task::JoinHandle<()> {
        udp::raise_receive_buffer(&socket);
        let served = self.shared.counters.sockets.add(&socket);
        let serve = udp::serve(
            Arc::downgrade(&self.shared),
            socket,
            self.shared.close.subscribe(),
            served,
        );
        match Handle::try_current() {
            Ok(runtime) => runtime.spawn(serve),
            Err(_) => self.shared.runtime.spawn(serve),
        }
    }

    /// The counters since the intake started. On Linux with UDP sockets served, reads
    /// `/proc/net/udp` and `/proc/net/udp6` for the kernel's drops.
    #[must_use]
    pub fn stats(&self) -> EventStats {
        let counters = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        EventStats {
            received: load(&counters.received),
            handled: load(&counters.handled),
            failed: load(&counters.failed),
            rejected_full: load(&counters.rejected_full),
            malformed: load(&counters.malformed),
            too_large: load(&counters.too_large),
            queued: self.queued(),
            udp_datagrams: load(&counters.udp_datagrams),
            udp_kernel_drops: counters.sockets.kernel_drops(),
        }
    }

    fn queued(&self) -> u64 {
        let sender = &self.shared.sender;
        (sender.max_capacity() - sender.capacity()) as u64
    }

    /// Stops taking events ([`submit`](Self::submit) says [`Rejected::Closed`], UDP loops
    /// end), lets the handler finish what is queued for up to `grace`, then stops the task,
    /// cancelling the calls still running. Returns how many events were left unhandled: still
    /// queued, or in a cancelled call. Calling it again returns the same number at once.
    ///
    /// Waits for the task without a timer of its own, on any executor. A handler that blocks
    /// its thread (rather than awaiting) can hold it beyond `grace`.
    pub async fn close(&self, grace: Duration) -> u64 {
        let shared = &*self.shared;
        shared.closed.store(true, Ordering::Release);
        let now = Instant::now();
        // A grace too long to add is as good as forever: a century.
        let deadline = now
            .checked_add(grace)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
            .unwrap_or(now);
        shared.close.send_if_modified(|closing| {
            if closing.is_some() {
                return false;
            }
            *closing = Some(deadline);
            true
        });
        let mut finished = shared.finished.clone();
        let left = match finished.wait_for(Option::is_some).await {
            Ok(left) => *left,
            Err(_) => None,
        };
        // The task went with its runtime (and the queue with it): what it left is what was
        // received and never done.
        left.unwrap_or_else(|| {
            let counters = &shared.counters;
            let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
            load(&counters.received)
                .saturating_sub(load(&counters.handled) + load(&counters.failed))
        })
    }
}
