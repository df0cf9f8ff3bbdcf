//! Where formatted payloads go: the [`MetricSink`] trait, the UDP and Unix-socket transports,
//! and [`CaptureSink`] for tests.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
#[cfg(unix)]
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::metrics::config::DEFAULT_UDP_PAYLOAD;

/// Sends payloads of DogStatsD lines. The SDK formats and batches; a sink only moves bytes.
///
/// The SDK calls it from a thread of its own, never from the thread that runs the checks, so a
/// slow sink cannot slow the checks down.
///
/// # Example
/// ```
/// use std::io;
/// use healthcheck::MetricSink;
///
/// /// Counts bytes instead of sending them.
/// #[derive(Debug, Default)]
/// struct Counter(std::sync::atomic::AtomicUsize);
///
/// impl MetricSink for Counter {
///     fn send(&self, payload: &[u8]) -> io::Result<()> {
///         self.0.fetch_add(payload.len(), std::sync::atomic::Ordering::Relaxed);
///         Ok(())
///     }
/// }
/// ```
pub trait MetricSink: Send + Sync + fmt::Debug {
    /// Sends one payload: newline-terminated DogStatsD lines, at most
    /// [`max_payload_size`](Self::max_payload_size) bytes (unless one line alone is longer).
    ///
    /// # Errors
    /// Whatever stopped the payload; the SDK drops the payload, counts it in
    /// [`Statsd::dropped`](crate::Statsd::dropped), makes the next
    /// [`flush_metrics`](crate::HealthChecks::flush_metrics) return `false`, and logs it now and
    /// then at `debug` level.
    fn send(&self, payload: &[u8]) -> io::Result<()>;

    /// The largest payload to send. Defaults to 1432 bytes, a UDP datagram in one Ethernet frame.
    fn max_payload_size(&self) -> usize {
        DEFAULT_UDP_PAYLOAD
    }
}

impl<T: MetricSink + ?Sized> MetricSink for Arc<T> {
    fn send(&self, payload: &[u8]) -> io::Result<()> {
        (**self).send(payload)
    }

    fn max_payload_size(&self) -> usize {
        (**self).max_payload_size()
    }
}

impl<T: MetricSink + ?Sized> MetricSink for Box<T> {
    fn send(&self, payload: &[u8]) -> io::Result<()> {
        (**self).send(payload)
    }

    fn max_payload_size(&self) -> usize {
        (**self).max_payload_size()
    }
}

impl<T: MetricSink + ?Sized> MetricSink for &'static T {
    fn send(&self, payload: &[u8]) -> io::Result<()> {
        (**self).send(payload)
    }

    fn max_payload_size(&self) -> usize {
        (**self).max_payload_size()
    }
}

/// How long a send may wait for room in the socket buffer. Sends happen on the metrics thread,
/// so waiting slows no check; it paces a burst (a thousand checks' metrics overflow a default
/// socket buffer) to the speed the agent reads at. Past it the payload is dropped.
const SEND_TIMEOUT: Duration = Duration::from_millis(100);

/// After a failure to resolve or connect, or a send error that is not the payload's own (see
/// `is_payload_error`), how long before trying again (payloads meanwhile are dropped): an agent
/// that is down costs nothing but a failed attempt now and then.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// `EMSGSIZE` and `ENOBUFS`, where their numbers are known: a datagram larger than the socket
/// can send, and no buffer for it right now.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PAYLOAD_ERRNOS: &[i32] = &[90, 105];
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
const PAYLOAD_ERRNOS: &[i32] = &[40, 55];
/// `WSAEMSGSIZE` and `WSAENOBUFS`.
#[cfg(windows)]
const PAYLOAD_ERRNOS: &[i32] = &[10040, 10055];
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    windows
)))]
const PAYLOAD_ERRNOS: &[i32] = &[];

/// Whether a failed send is this payload's failure, not the socket's or the destination's: the
/// payload is dropped and the socket kept. So it is when the payload is too large to send
/// (`EMSGSIZE`, or any error for a payload over the configured size: a single line longer than
/// a datagram), when the buffer stayed full past the timeout or had no room (`ENOBUFS`), or
/// when the send was interrupted.
fn is_payload_error(error: &io::Error, payload_len: usize, max_payload: usize) -> bool {
    payload_len > max_payload
        || matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
        )
        || error
            .raw_os_error()
            .is_some_and(|code| PAYLOAD_ERRNOS.contains(&code))
}

/// A lazily (re)connected socket.
enum Link<S> {
    Connected(S),
    Down { since: Instant },
    Never,
}

impl<S> Link<S> {
    fn get_or_connect(&mut self, connect: impl FnOnce() -> io::Result<S>) -> io::Result<&S> {
        let due = match self {
            Link::Connected(_) => false,
            Link::Down { since } => since.elapsed() >= RETRY_AFTER,
            Link::Never => true,
        };
        if due {
            match connect() {
                Ok(socket) => *self = Link::Connected(socket),
                Err(error) => {
                    self.fail();
                    return Err(error);
                }
            }
        }
        match self {
            Link::Connected(socket) => Ok(socket),
            Link::Down { .. } | Link::Never => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the DogStatsD destination is unreachable; retrying in a few seconds",
            )),
        }
    }

    fn fail(&mut self) {
        *self = Link::Down {
            since: Instant::now(),
        };
    }
}

/// DogStatsD over UDP. The host is resolved when the first payload is sent, and again a few
/// seconds after a failure.
pub struct UdpSink {
    host: String,
    port: u16,
    max_payload: usize,
    link: Mutex<Link<UdpSocket>>,
}

impl fmt::Debug for UdpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSink")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("max_payload", &self.max_payload)
            .finish_non_exhaustive()
    }
}

impl UdpSink {
    /// A sink to `host:port`, sending payloads of at most `max_payload` bytes.
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16, max_payload: usize) -> Self {
        Self {
            host: host.into(),
            port,
            max_payload,
            link: Mutex::new(Link::Never),
        }
    }

    fn connect(&self) -> io::Result<UdpSocket> {
        let address: SocketAddr = (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} has no address", self.host),
                )
            })?;
        let local: SocketAddr = if address.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(address)?;
        socket.set_write_timeout(Some(SEND_TIMEOUT))?;
        Ok(socket)
    }
}

impl MetricSink for UdpSink {
    fn send(&self, payload: &[u8]) -> io::Result<()> {
        let mut link = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        let socket = link.get_or_connect(|| self.connect())?;
        match socket.send(payload) {
            Ok(_) => Ok(()),
            // Nobody listening (an ICMP "port unreachable" came back for an earlier datagram):
            // this payload is lost, the socket still works.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(e),
            Err(e) if is_payload_error(&e, payload.len(), self.max_payload) => Err(e),
            Err(e) => {
                link.fail();
                Err(e)
            }
        }
    }

    fn max_payload_size(&self) -> usize {
        self.max_payload
    }
}

/// DogStatsD over a Unix datagram socket, such as the agent's `/var/run/datadog/dsd.socket`.
/// Connected when the first payload is sent and again a few seconds after a failure; it never
/// creates the socket file.
pub struct UnixSink {
    path: PathBuf,
    max_payload: usize,
    #[cfg(unix)]
    link: Mutex<Link<UnixDatagram>>,
}

impl fmt::Debug for UnixSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSink")
            .field("path", &self.path)
            .field("max_payload", &self.max_payload)
            .finish_non_exhaustive()
    }
}

impl UnixSink {
    /// A sink to the socket at `path`, sending payloads of at most `max_payload` bytes.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, max_payload: usize) -> Self {
        Self {
            path: path.into(),
            max_payload,
            #[cfg(unix)]
            link: Mutex::new(Link::Never),
        }
    }
}

impl MetricSink for UnixSink {
    #[cfg(unix)]
    fn send(&self, payload: &[u8]) -> io::Result<()> {
        let mut link = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        let socket = link.get_or_connect(|| {
            let socket = UnixDatagram::unbound()?;
            socket.connect(&self.path)?;
            socket.set_write_timeout(Some(SEND_TIMEOUT))?;
            Ok(socket)
        })?;
        match socket.send(payload) {
            Ok(_) => Ok(()),
            // Refused here means the agent's socket is gone (or was replaced by a restart):
            // connect again later, as for any other error but the payload's own.
            Err(e) if is_payload_error(&e, payload.len(), self.max_payload) => Err(e),
            Err(e) => {
                link.fail();
                Err(e)
            }
        }
    }

    #[cfg(not(unix))]
    fn send(&self, _payload: &[u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Unix sockets need a Unix system",
        ))
    }

    fn max_payload_size(&self) -> usize {
        self.max_payload
    }
}

/// Keeps every payload in memory, for tests of code that emits metrics.
///
/// # Example
/// ```
/// use healthcheck::{CaptureSink, HealthChecks, MetricsConfig};
///
/// let sink = CaptureSink::default();
/// let health = HealthChecks::builder()
///     .metrics(MetricsConfig::new().sink(sink.clone()))
///     .build()?;
/// health.statsd().gauge("queue.depth", 42.0, &["queue:emails"]);
/// health.flush_metrics_blocking(std::time::Duration::from_secs(1));
/// assert!(sink.lines().iter().any(|l| l.starts_with("healthcheck.queue.depth:42|g|#queue:emails")));
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct CaptureSink {
    payloads: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl CaptureSink {
    /// Every payload sent so far.
    #[must_use]
    pub fn payloads(&self) -> Vec<Vec<u8>> {
        self.payloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every line sent so far, without its newline.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.payloads()
            .iter()
            .flat_map(|p| {
                String::from_utf8_lossy(p)
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Forgets what was sent.
    pub fn clear(&self) {
        self.payloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl MetricSink for CaptureSink {
    fn send(&self, payload: &[u8]) -> io::Result<()> {
        self.payloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(payload.to_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_payloads_own_failures_keep_the_socket() {
        let kind = |kind: io::ErrorKind| io::Error::from(kind);
        for (error, len, payload_error) in [
            (kind(io::ErrorKind::WouldBlock), 100, true),
            (kind(io::ErrorKind::TimedOut), 100, true),
            (kind(io::ErrorKind::Interrupted), 100, true),
            // Any failure of a single line longer than a payload is that line's.
            (kind(io::ErrorKind::Other), 70_000, true),
            (kind(io::ErrorKind::NotConnected), 100, false),
            (kind(io::ErrorKind::BrokenPipe), 100, false),
            (kind(io::ErrorKind::ConnectionRefused), 100, false),
        ] {
            assert_eq!(
                is_payload_error(&error, len, 1432),
                payload_error,
                "{error:?}, {len} bytes"
            );
        }
        for &code in PAYLOAD_ERRNOS {
            assert!(is_payload_error(
                &io::Error::from_raw_os_error(code),
                100,
                1432
            ));
        }
        #[cfg(target_os = "linux")]
        assert_eq!(
            io::Error::from_raw_os_error(PAYLOAD_ERRNOS[0])
                .to_string()
                .split(" (os error")
                .next(),
            Some("Message too long")
        );
    }
}
