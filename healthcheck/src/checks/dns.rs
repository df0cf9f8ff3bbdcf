//! The DNS checker: healthy when a name resolves, through the system's resolver or one DNS server
//! asked directly, optionally to the addresses expected.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{ResolveError, Resolver};

use crate::check::Check;
use crate::checks::{Common, common_settings, redact};
use crate::component::Component;

/// The port a nameserver is asked on when its address has none.
const DNS_PORT: u16 = 53;

/// A DNS check, made by [`dns`]: healthy when the name resolves to at least one address (and,
/// with [`expect`](Dns::expect), to every address expected) within the check's timeout.
///
/// By default the name is resolved by the system's resolver (`getaddrinfo`), the way the
/// service's own connections resolve it: `/etc/hosts`, `nsswitch.conf` and the configured DNS
/// servers all take part; `getaddrinfo` blocks, so the check is a blocking one, run on the
/// runner's blocking workers. With [`nameserver`](Dns::nameserver) one DNS server is asked directly
/// for the name's `A` and `AAAA` records, bypassing `/etc/hosts`, search domains and any cache.
///
/// Fields: `addresses` (the addresses the name resolved to, sorted — IPv4 first — without
/// duplicates) and, with a nameserver, `nameserver` (the server asked).
///
/// Messages: `resolved <host> to N addresses` when healthy; `cannot resolve <host>: <reason>`
/// when the name does not resolve (`no such name (NXDOMAIN)`, `no A or AAAA records`, the
/// resolver's error); `<host> resolved to [...], expected [...]; missing [...]` when expected
/// addresses are missing from the answer.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::{HealthChecks, checks};
///
/// let health = HealthChecks::builder()
///     // As the service resolves it.
///     .check(checks::dns("db name", "db.internal"))
///     // As the company's DNS server answers it, to both front ends.
///     .check(
///         checks::dns("www record", "www.example.com")
///             .nameserver("10.0.0.2")
///             .expect("192.0.2.10")
///             .expect("192.0.2.11")
///             .timeout(Duration::from_secs(1)),
///     )
///     .build()?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[must_use = "a checker does nothing until it is given to HealthChecksBuilder::check"]
pub struct Dns {
    common: Common,
    host: String,
    nameserver: Option<SocketAddr>,
    expected: BTreeSet<IpAddr>,
}

common_settings!(Dns);

impl fmt::Debug for Dns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dns")
            .field("name", &self.common.name())
            .field("host", &redact(&self.host))
            .field("nameserver", &self.nameserver)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

/// A check named `name` that resolves the host name `host` (such as `db.internal`, with or
/// without a trailing dot) to its addresses.
///
/// A host that is empty, an IP address (there is nothing to resolve), or not a valid DNS name
/// (labels of letters, digits, `-` and `_`, 1 to 63 characters each, not starting or ending
/// with `-`, 253 characters in all; international names in their ASCII `xn--` form) makes
/// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
/// [`Error::InvalidCheck`](crate::Error::InvalidCheck).
#[track_caller]
pub fn dns(name: impl Into<String>, host: impl AsRef<str>) -> Dns {
    let mut common = Common::new(name);
    let host = host.as_ref().trim().to_owned();
    if let Err(reason) = validate_name(&host) {
        common.invalid(format!("invalid DNS name {host:?}: {reason}"));
    }
    Dns {
        common,
        host,
        nameserver: None,
        expected: BTreeSet::new(),
    }
}

impl Dns {
    /// Asks the DNS server at `addr` directly — `1.2.3.4`, `1.2.3.4:5353`, `::1` or
    /// `[::1]:5353`; port 53 when none is given — for the host's `A` and `AAAA` records, over
    /// UDP (TCP when the answer is truncated), instead of the system's resolver. Nothing is
    /// cached between runs: every run asks the server.
    ///
    /// An address that is not an IP address with an optional port makes
    /// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
    /// [`Error::InvalidCheck`](crate::Error::InvalidCheck).
    pub fn nameserver(mut self, addr: impl AsRef<str>) -> Self {
        let addr = addr.as_ref().trim();
        match parse_nameserver(addr) {
            Ok(addr) => self.nameserver = Some(addr),
            Err(reason) => self
                .common
                .invalid(format!("invalid nameserver address {addr:?}: {reason}")),
        }
        self
    }

    /// Requires `ip` (such as `192.0.2.10` or `2001:db8::1`) among the addresses the name
    /// resolves to. Call it once per address: the check is healthy only when **every** expected
    /// address is in the answer (the answer may hold others too). For a name whose server
    /// answers with a rotating subset of a pool, expect one address that is always served, or
    /// none.
    ///
    /// A value that is not an IP address makes
    /// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
    /// [`Error::InvalidCheck`](crate::Error::InvalidCheck).
    pub fn expect(mut self, ip: impl AsRef<str>) -> Self {
        let ip = ip.as_ref().trim();
        match ip.parse::<IpAddr>() {
            Ok(ip) => {
                self.expected.insert(ip);
            }
            Err(_) => self.common.invalid(format!(
                "invalid expected address {ip:?}: not an IP address"
            )),
        }
        self
    }
}

/// Says what is wrong with `host` as a DNS name, if anything.
fn validate_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the name is empty".to_owned());
    }
    if host.parse::<IpAddr>().is_ok() {
        return Err("an IP address, not a name: there is nothing to resolve".to_owned());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.len() > 253 {
        return Err(format!("{} characters, more than 253", name.len()));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("an empty label (two dots in a row, or a leading dot)".to_owned());
        }
        if label.len() > 63 {
            return Err(format!("the label {label:?} is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(if c.is_ascii() {
                format!("the label {label:?} holds {c:?}; letters, digits, `-` and `_` only")
            } else {
                format!("the label {label:?} is not ASCII; write it in its `xn--` form")
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the label {label:?} starts or ends with `-`"));
        }
    }
    Ok(())
}

/// Parses a nameserver address: an IP address with an optional port.
fn parse_nameserver(addr: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = addr.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err("the port is not a number in 1..=65535".to_owned());
        }
        return Ok(addr);
    }
    if let Ok(ip) = addr.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DNS_PORT));
    }
    if addr.is_empty() {
        return Err("the address is empty".to_owned());
    }
    Err(
        "expected an IP address with an optional port (`10.0.0.2`, `10.0.0.2:53`, `[::1]:53`)"
            .to_owned(),
    )
}

/// What a run needs, shared by all runs.
struct Target {
    host: String,
    nameserver: Option<SocketAddr>,
    expected: BTreeSet<IpAddr>,
}

impl From<Dns> for Check {
    fn from(dns: Dns) -> Check {
        let Dns {
            common,
            host,
            nameserver,
            expected,
        } = dns;
        let target = Arc::new(Target {
            host,
            nameserver,
            expected,
        });
        match target.nameserver {
            Some(server) => common.into_check(move || {
                let target = Arc::clone(&target);
                async move { report(&target, resolve_at(&target.host, server).await) }
            }),
            // `getaddrinfo` blocks: the check runs on the runner's blocking workers, where
            // `tokio::net::lookup_host` would run it on tokio's blocking pool.
            None => {
                common.into_blocking_check(move || report(&target, resolve_system(&target.host)))
            }
        }
    }
}

/// The component for what resolving gave.
fn report(target: &Target, resolved: Result<BTreeSet<IpAddr>, String>) -> Component {
    let host = &target.host;
    let addresses = match resolved {
        Ok(addresses) if addresses.is_empty() => Err("no addresses".to_owned()),
        other => other,
    };
    let mut component = match addresses {
        Err(reason) => {
            Component::unhealthy(redact(&format!("cannot resolve {host}: {reason}")).into_owned())
        }
        Ok(addresses) => {
            let missing: Vec<&IpAddr> = target
                .expected
                .iter()
                .filter(|ip| !addresses.contains(ip))
                .collect();
            let mut component = if missing.is_empty() {
                Component::healthy().message(format!(
                    "resolved {host} to {} address{}",
                    addresses.len(),
                    if addresses.len() == 1 { "" } else { "es" }
                ))
            } else {
                Component::unhealthy(format!(
                    "{host} resolved to [{}], expected [{}]; missing [{}]",
                    join(&addresses),
                    join(&target.expected),
                    join(missing),
                ))
            };
            component.insert(
                "addresses",
                addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            );
            component
        }
    };
    if let Some(server) = target.nameserver {
        component.insert("nameserver", server.to_string());
    }
    component
}

fn join<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves `host` with the system's resolver (`getaddrinfo`, which blocks).
fn resolve_system(host: &str) -> Result<BTreeSet<IpAddr>, String> {
    match (host, 0).to_socket_addrs() {
        Ok(addrs) => Ok(addrs.map(|addr| addr.ip()).collect()),
        Err(e) => Err(e.to_string()),
    }
}

/// Asks `server` for the `A` and `AAAA` records of `host`.
///
/// The resolver is made for this run alone: it holds no cache that would answer the next run in
/// the server's place, and no connection tied to the runtime that ran this one.
async fn resolve_at(host: &str, server: SocketAddr) -> Result<BTreeSet<IpAddr>, String> {
    let config = ResolverConfig::from_parts(
        None,
        Vec::new(),
        NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true),
    );
    let mut options = ResolverOpts::default();
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    options.use_hosts_file = ResolveHosts::Never;
    options.cache_size = 1;
    options.ndots = 0;
    let resolver = Resolver::builder_with_config(config, TokioConnectionProvider::default())
        .with_options(options)
        .build();
    // The trailing dot makes the name absolute: no search domain is tried.
    let fqdn = if host.ends_with('.') {
        host.to_owned()
    } else {
        format!("{host}.")
    };
    match resolver.lookup_ip(fqdn.as_str()).await {
        Ok(lookup) => Ok(lookup.iter().collect()),
        Err(e) => Err(reason(&e)),
    }
}

/// A short reason for a failed lookup.
fn reason(e: &ResolveError) -> String {
    if e.is_nx_domain() {
        "no such name (NXDOMAIN)".to_owned()
    } else if e.is_no_records_found() {
        "no A or AAAA records".to_owned()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_nameserver, validate_name};

    #[test]
    fn names_validate_or_say_what_is_wrong() {
        for good in [
            "localhost",
            "db.internal",
            "db.internal.",
            "_sip._tcp.example.com",
            "xn--bcher-kva.example",
            "a-b.c1",
        ] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        let long = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        for (bad, says) in [
            ("", "empty"),
            ("127.0.0.1", "IP address"),
            ("::1", "IP address"),
            ("db..internal", "empty label"),
            (".db", "empty label"),
            ("db internal", "letters, digits"),
            ("db:5432", "letters, digits"),
            ("-db.internal", "starts or ends"),
            ("bücher.example", "xn--"),
            (&"a".repeat(64), "longer than 63"),
            (&long, "more than 253"),
        ] {
            let err = validate_name(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn nameservers_parse_with_port_53_by_default() {
        assert_eq!(
            parse_nameserver("10.0.0.2"),
            Ok("10.0.0.2:53".parse().unwrap())
        );
        assert_eq!(
            parse_nameserver("10.0.0.2:5353"),
            Ok("10.0.0.2:5353".parse().unwrap())
        );
        assert_eq!(parse_nameserver("::1"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(
            parse_nameserver("[::1]:5353"),
            Ok("[::1]:5353".parse().unwrap())
        );
        for bad in ["", "dns.google", "10.0.0.2:0", "10.0.0.2:dns", "10.0.0:53"] {
            assert!(parse_nameserver(bad).is_err(), "{bad}");
        }
    }
}
