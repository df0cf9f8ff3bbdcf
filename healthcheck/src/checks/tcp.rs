//! The TCP checker: healthy when a connection to the address opens.

use std::fmt;
use std::time::Instant;

use crate::check::Check;
use crate::checks::address::parse_host_port;
use crate::checks::{Common, common_settings, redact};
use crate::component::Component;

/// A TCP connect check, made by [`tcp`]: healthy when a connection to the address opens
/// within the check's timeout. The connection is closed at once; nothing is sent.
///
/// Fields: `address` (the peer it connected to) and `connect_ms` (how long the connection took
/// to open, name resolution included).
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::{HealthChecks, checks};
///
/// let health = HealthChecks::builder()
///     .check(checks::tcp("smtp", "mail.internal:25").timeout(Duration::from_secs(1)))
///     .build()?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[must_use = "a checker does nothing until it is given to HealthChecksBuilder::check"]
pub struct Tcp {
    common: Common,
    target: String,
}

common_settings!(Tcp);

impl fmt::Debug for Tcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tcp")
            .field("name", &self.common.name())
            .field("target", &redact(&self.target))
            .finish_non_exhaustive()
    }
}

/// A check named `name` that opens a TCP connection to `addr`: `host:port`, `1.2.3.4:port` or
/// `[::1]:port`. The host is resolved at every run, as the service's own connections would.
///
/// An address without a port, with an empty host or a port that is not a number in 1..=65535
/// makes [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
/// [`Error::InvalidCheck`](crate::Error::InvalidCheck).
#[track_caller]
pub fn tcp(name: impl Into<String>, addr: impl AsRef<str>) -> Tcp {
    let mut common = Common::new(name);
    let target = addr.as_ref().trim().to_owned();
    if let Err(reason) = parse_host_port(&target) {
        common.invalid(format!("invalid TCP address {target:?}: {reason}"));
    }
    Tcp { common, target }
}

impl From<Tcp> for Check {
    fn from(tcp: Tcp) -> Check {
        let Tcp { common, target } = tcp;
        let target: std::sync::Arc<str> = target.into();
        common.into_check(move || {
            let target = std::sync::Arc::clone(&target);
            async move { probe(&target).await }
        })
    }
}

async fn probe(target: &str) -> Component {
    let Ok((host, port)) = parse_host_port(target) else {
        return Component::unhealthy("invalid TCP address");
    };
    let started = Instant::now();
    match tokio::net::TcpStream::connect((host, port)).await {
        Ok(stream) => {
            let elapsed = started.elapsed();
            let mut component = Component::healthy()
                .message(format!("connected to {}", redact(target)))
                .field("connect_ms", elapsed.as_secs_f64() * 1000.0);
            if let Ok(peer) = stream.peer_addr() {
                component.insert("address", peer.to_string());
            }
            component
        }
        Err(e) => {
            Component::unhealthy(redact(&format!("cannot connect to {target}: {e}")).into_owned())
        }
    }
}
