//! The memcached checker: healthy when the server answers `version`, over `async-memcached`.

use std::fmt;
use std::sync::Arc;

use async_memcached::Client;
use tokio::sync::Mutex;

use crate::check::Check;
use crate::checks::address::parse_host_port;
use crate::checks::{Common, common_settings, redact};
use crate::component::Component;

/// The port memcached listens on when an address has none.
const MEMCACHED_PORT: u16 = 11211;

/// A memcached check, made by [`memcached`]: healthy when the server answers the `version`
/// command within the check's timeout.
///
/// The connection is opened at the first run and reused by the next ones. A run that finds it
/// broken (the server restarted, or an earlier run was cut off by its timeout mid-command)
/// opens a fresh one and asks again, once; a server that is down is unhealthy.
///
/// Fields: `version` (the server's version, such as `1.6.18`).
///
/// Messages: `memcached <version>` when healthy; `cannot connect to <addr>: <reason>` or
/// `<addr> did not answer version: <reason>` when not.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::{HealthChecks, checks};
///
/// let health = HealthChecks::builder()
///     .check(checks::memcached("sessions", "memcache://cache.internal:11211").timeout(Duration::from_secs(1)))
///     .build()?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[must_use = "a checker does nothing until it is given to HealthChecksBuilder::check"]
pub struct Memcached {
    common: Common,
    target: String,
    /// What `async-memcached` connects to (`tcp://host:port` or `unix:///path`).
    dsn: String,
}

common_settings!(Memcached);

impl fmt::Debug for Memcached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memcached")
            .field("name", &self.common.name())
            .field("target", &redact(&self.target))
            .finish_non_exhaustive()
    }
}

/// A check named `name` that asks the memcached server at `addr` for its version. `addr` is
/// `host:port`, `memcache://host[:port]`, `memcached://host[:port]`, `tcp://host[:port]` (port
/// 11211 when none is given, for the URL forms) or `unix:///path/to/socket`.
///
/// An address without a host, a port that is not a number in 1..=65535, another scheme, a
/// URL with credentials (the text protocol has no authentication) or an IPv6 address (the
/// client crate connects over IPv4 only; a host name resolving to both works) makes
/// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
/// [`Error::InvalidCheck`](crate::Error::InvalidCheck).
#[track_caller]
pub fn memcached(name: impl Into<String>, addr: impl AsRef<str>) -> Memcached {
    let mut common = Common::new(name);
    let target = addr.as_ref().trim().to_owned();
    let dsn = match parse_address(&target) {
        Ok(dsn) => dsn,
        Err(reason) => {
            common.invalid(format!("invalid memcached address {target:?}: {reason}"));
            String::new()
        }
    };
    Memcached {
        common,
        target,
        dsn,
    }
}

/// Turns an address into the DSN `async-memcached` takes, or says what is wrong with it.
fn parse_address(addr: &str) -> Result<String, String> {
    let Some((scheme, rest)) = addr.split_once("://") else {
        let (host, port) = parse_host_port(addr)?;
        return tcp_dsn(host, port);
    };
    match scheme.to_ascii_lowercase().as_str() {
        "unix" => {
            if rest.is_empty() || !rest.starts_with('/') {
                return Err("expected `unix:///absolute/path`".to_owned());
            }
            Ok(format!("unix://{rest}"))
        }
        "memcache" | "memcached" | "tcp" => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let rest_of_url = &rest[authority.len()..];
            if !matches!(rest_of_url, "" | "/") {
                return Err("expected no path or parameters after `host:port`".to_owned());
            }
            if authority.contains('@') {
                return Err(
                    "memcached's text protocol has no authentication: remove the credentials"
                        .to_owned(),
                );
            }
            if authority.is_empty() {
                return Err("the host is empty".to_owned());
            }
            let has_port = match authority.strip_prefix('[') {
                Some(v6) => v6.split_once(']').is_some_and(|(_, p)| p.starts_with(':')),
                None => authority.contains(':'),
            };
            let (host, port) = if has_port {
                parse_host_port(authority)?
            } else {
                (
                    authority.trim_start_matches('[').trim_end_matches(']'),
                    MEMCACHED_PORT,
                )
            };
            tcp_dsn(host, port)
        }
        other => Err(format!(
            "unknown scheme `{other}://`; use `host:port`, `memcache://`, `tcp://` or `unix://`"
        )),
    }
}

fn tcp_dsn(host: &str, port: u16) -> Result<String, String> {
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if host.contains(':') {
        return Err("IPv6 addresses are not supported (the client connects over IPv4)".to_owned());
    }
    if host.contains(['/', '@', '?', '#', ' ']) {
        return Err(format!("{host:?} is not a host name"));
    }
    Ok(format!("tcp://{host}:{port}"))
}

/// What a run needs, shared by all runs: the address and the connection kept between runs.
struct Target {
    target: String,
    dsn: String,
    client: Mutex<Option<Client>>,
}

impl From<Memcached> for Check {
    fn from(memcached: Memcached) -> Check {
        let Memcached {
            common,
            target,
            dsn,
        } = memcached;
        let target = Arc::new(Target {
            target,
            dsn,
            client: Mutex::new(None),
        });
        common.into_check(move || {
            let target = Arc::clone(&target);
            async move { probe(&target).await }
        })
    }
}

async fn probe(target: &Target) -> Component {
    let mut slot = target.client.lock().await;
    // The kept connection first; if it fails, it is dropped and a fresh one asked, once.
    if let Some(client) = slot.as_mut().filter(|client| !client.is_closed()) {
        match client.version().await {
            Ok(version) => return healthy(&version),
            Err(e) => {
                tracing::debug!(
                    target = %redact(&target.target),
                    error = %redact(&e.to_string()),
                    "memcached: the kept connection failed; trying a fresh one"
                );
            }
        }
    }
    *slot = None;
    let mut client = match Client::new(&target.dsn).await {
        Ok(client) => client,
        Err(e) => {
            let e = e.to_string();
            let e = e.strip_prefix("connect: ").unwrap_or(&e);
            return Component::unhealthy(
                redact(&format!("cannot connect to {}: {e}", target.target)).into_owned(),
            );
        }
    };
    let answer = client.version().await;
    *slot = Some(client);
    match answer {
        Ok(version) => healthy(&version),
        Err(e) => {
            *slot = None;
            Component::unhealthy(
                redact(&format!("{} did not answer version: {e}", target.target)).into_owned(),
            )
        }
    }
}

fn healthy(version: &str) -> Component {
    let version = redact(version.trim()).into_owned();
    Component::healthy()
        .message(format!("memcached {version}"))
        .field("version", version)
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn addresses_become_dsns_or_say_what_is_wrong() {
        for (addr, dsn) in [
            ("cache:11211", "tcp://cache:11211"),
            ("127.0.0.1:11212", "tcp://127.0.0.1:11212"),
            ("memcache://cache", "tcp://cache:11211"),
            ("memcache://cache:1/", "tcp://cache:1"),
            ("memcached://cache:2", "tcp://cache:2"),
            ("tcp://10.0.0.1:3", "tcp://10.0.0.1:3"),
            ("unix:///run/memcached.sock", "unix:///run/memcached.sock"),
        ] {
            assert_eq!(parse_address(addr).as_deref(), Ok(dsn), "{addr}");
        }
        for (bad, says) in [
            ("cache", "port is missing"),
            ("cache:0", "1..=65535"),
            ("memcache://cache:http", "1..=65535"),
            ("memcache://", "host is empty"),
            ("memcache://:11211", "host is empty"),
            ("memcache://u:pw@cache", "no authentication"),
            ("memcache://cache/0", "no path"),
            ("redis://cache:6379", "unknown scheme"),
            ("unix://relative", "absolute"),
            ("[::1]:11211", "IPv6"),
            ("memcache://[::1]", "IPv6"),
        ] {
            let err = parse_address(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
