//! Where metrics go and under which names: [`MetricsConfig`], [`Destination`], and the
//! environment variables they fall back on.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::metrics::datagram::MAX_TAG;
use crate::metrics::sink::{MetricSink, UdpSink, UnixSink};

/// `HEALTHCHECK_STATSD_PREFIX`: the metric prefix. Defaults to `healthcheck`.
pub const PREFIX_ENV: &str = "HEALTHCHECK_STATSD_PREFIX";
/// `HEALTHCHECK_STATSD_ENABLED`: `false` (or `0`, `no`, `off`) switches metrics off.
pub const ENABLED_ENV: &str = "HEALTHCHECK_STATSD_ENABLED";
/// `DD_DOGSTATSD_URL`: `udp://host:port` or `unix:///path/to/dsd.socket`.
pub const URL_ENV: &str = "DD_DOGSTATSD_URL";
/// `DD_AGENT_HOST`: the agent's host, when `DD_DOGSTATSD_URL` is not set.
pub const HOST_ENV: &str = "DD_AGENT_HOST";
/// `DD_DOGSTATSD_PORT`: the agent's DogStatsD port, with `DD_AGENT_HOST`. Defaults to 8125.
pub const PORT_ENV: &str = "DD_DOGSTATSD_PORT";

/// The default metric prefix.
pub const DEFAULT_PREFIX: &str = "healthcheck";
/// The default UDP payload limit: one datagram in a 1500-byte Ethernet frame.
pub const DEFAULT_UDP_PAYLOAD: usize = 1432;
/// The default Unix-socket payload limit, the agent's default buffer size.
pub const DEFAULT_UNIX_PAYLOAD: usize = 8192;

/// Where DogStatsD datagrams go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A UDP address; the host is resolved when the first metrics are sent, and again after a
    /// failure.
    Udp {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix datagram socket, such as the agent's `/var/run/datadog/dsd.socket`.
    Unix(PathBuf),
}

impl Default for Destination {
    /// `127.0.0.1:8125` over UDP, the agent's default.
    fn default() -> Self {
        Destination::Udp {
            host: "127.0.0.1".to_owned(),
            port: 8125,
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Udp { host, port } if host.contains(':') => {
                write!(f, "udp://[{host}]:{port}")
            }
            Destination::Udp { host, port } => write!(f, "udp://{host}:{port}"),
            Destination::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

impl Destination {
    /// Parses `udp://host:port` (IPv6 hosts in brackets: `udp://[::1]:8125`) or
    /// `unix:///path/to/socket`.
    ///
    /// # Errors
    /// A text that says what is wrong when the URL has another scheme, no host, or a bad port.
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err("a unix:// URL needs an absolute path, as in unix:///var/run/datadog/dsd.socket".to_owned());
            }
            return Ok(Destination::Unix(PathBuf::from(path)));
        }
        let Some(address) = url.strip_prefix("udp://") else {
            return Err("expected udp://host:port or unix:///path/to/socket".to_owned());
        };
        let address = address.strip_suffix('/').unwrap_or(address);
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| "a udp:// URL needs a port, as in udp://127.0.0.1:8125".to_owned())?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err("a udp:// URL needs a host".to_owned());
        }
        let port = parse_port(port)?;
        Ok(Destination::Udp {
            host: host.to_owned(),
            port,
        })
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("`{port}` is not a port (1 to 65535)")),
        Ok(port) => Ok(port),
    }
}

/// How the SDK sends its Datadog metrics: on or off, where, under which prefix, with which
/// global tags. Every setting left unset falls back on the environment, then on the default.
///
/// # Example
/// ```
/// use healthcheck::{HealthChecks, MetricsConfig};
///
/// let health = HealthChecks::builder()
///     .metrics(
///         MetricsConfig::new()
///             .prefix("payments")
///             .tag("team:core")
///             .destination_url("udp://127.0.0.1:8125")?,
///     )
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct MetricsConfig {
    enabled: Option<bool>,
    prefix: Option<String>,
    tags: Vec<String>,
    destination: Option<Destination>,
    max_payload: Option<usize>,
    sink: Option<Arc<dyn MetricSink>>,
    #[cfg(feature = "dogstatsd")]
    client: Option<Arc<dogstatsd::Client>>,
}

impl fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("MetricsConfig");
        f.field("enabled", &self.enabled)
            .field("prefix", &self.prefix)
            .field("tags", &self.tags)
            .field("destination", &self.destination)
            .field("max_payload", &self.max_payload)
            .field("custom_sink", &self.sink.is_some());
        #[cfg(feature = "dogstatsd")]
        f.field("dogstatsd_client", &self.client.is_some());
        f.finish()
    }
}

impl MetricsConfig {
    /// Settings from the environment and the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Metrics switched off: nothing is sent, and nothing is set up to send it.
    pub fn disabled() -> Self {
        Self::default().enabled(false)
    }

    /// Switches metrics on or off. Defaults to `HEALTHCHECK_STATSD_ENABLED`, else on.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// The prefix of every metric name. Defaults to `HEALTHCHECK_STATSD_PREFIX`, else
    /// `healthcheck`.
    ///
    /// A prefix is ASCII letters, digits, `_` and `.`, starts with a letter, has no empty part
    /// between dots (`payments.v2`, not `payments..v2` or `payments.`) and at most
    /// 180 characters, so that `<prefix>.check.response_time` stays within Datadog's
    /// 200-character limit on metric names. The empty prefix means no prefix at all.
    /// Anything else makes [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build)
    /// fail with [`Error::InvalidSetting`] naming the prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Adds a global tag (`key:value`), sent with every metric, besides the unified service tags
    /// from `DD_ENV`, `DD_SERVICE`, `DD_VERSION` and `DD_TAGS`.
    ///
    /// A tag is sent the way Datadog stores it: lowercase, with any character but letters,
    /// digits, `_ - : . /` turned into `_`. An empty tag, a tag longer than 200 characters, or
    /// one holding a control character (such as a newline), `|`, `,` or `#` (which would change
    /// the meaning of the DogStatsD line) makes
    /// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
    /// [`Error::InvalidSetting`] naming the tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Where datagrams go. Defaults to `DD_DOGSTATSD_URL`, else `DD_AGENT_HOST` and
    /// `DD_DOGSTATSD_PORT`, else `127.0.0.1:8125`.
    pub fn destination(mut self, destination: Destination) -> Self {
        self.destination = Some(destination);
        self
    }

    /// [`destination`](Self::destination) from a URL: `udp://host:port` or `unix:///path`.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] when the URL is malformed.
    pub fn destination_url(self, url: &str) -> Result<Self, Error> {
        let destination = Destination::parse(url).map_err(|reason| Error::InvalidSetting {
            setting: "metrics destination",
            value: url.to_owned(),
            reason,
        })?;
        Ok(self.destination(destination))
    }

    /// The largest datagram to send. Defaults to 1432 bytes over UDP (raise it for an agent on
    /// the same host; the agent reads up to 8192 by default) and 8192 over a Unix socket.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = Some(bytes.max(1));
        self
    }

    /// Sends through `sink` instead of the built-in UDP and Unix-socket transports. Replaces a
    /// `dogstatsd_client` (feature `dogstatsd`) given before.
    pub fn sink(mut self, sink: impl MetricSink + 'static) -> Self {
        self.sink = Some(Arc::new(sink));
        #[cfg(feature = "dogstatsd")]
        {
            self.client = None;
        }
        self
    }

    /// Sends through the application's own [`dogstatsd::Client`] instead of the SDK's transport:
    /// each run's metrics, service checks and transition events, and the
    /// [`Statsd`](crate::Statsd) calls, with the names, values, tags, statuses and messages the
    /// SDK's own lines carry. Replaces a [`sink`](Self::sink) given before; the
    /// [`destination`](Self::destination) is not used (the client's `Options` say where).
    ///
    /// The SDK escapes service-check messages and event texts as for its own lines (a newline
    /// becomes `\n`; in a message, `|` becomes `/` and `m:` becomes `m\:`), cuts them to fit
    /// [`max_payload`](Self::max_payload) (1432 bytes by default), and sanitizes tags, before
    /// handing them over: the crate does neither. Every call of the client is made on the SDK's
    /// metrics thread, never on the thread that runs the checks. A call that returns an error
    /// is counted in [`Statsd::dropped`](crate::Statsd::dropped), makes the next
    /// [`flush_metrics`](crate::HealthChecks::flush_metrics) return `false`, and is logged now
    /// and then at `debug` level.
    ///
    /// What differs from the SDK's own lines:
    /// - **Durations are histograms**: `<prefix>.check.response_time` and
    ///   `<prefix>.run.duration` (and [`Statsd::timing`](crate::Statsd::timing)) go through
    ///   `client.histogram` in fractional milliseconds (`0.412|h`), where the SDK's transport
    ///   sends timings (`0.412|ms`); the agent aggregates both alike. The client's `timing`
    ///   takes whole milliseconds.
    /// - **Names**: the crate puts the client's namespace (`Options::namespace`) before metric
    ///   names only: `<namespace>.<prefix>.check.response_time`, but `<prefix>.check` and
    ///   `<prefix>.service` for the service checks.
    /// - **Tags**: the client adds its default tags, and `env:`, `service:`, `version:` from
    ///   `DD_ENV`, `DD_SERVICE`, `DD_VERSION` unless its default tags have them; the SDK then
    ///   adds the tags given with [`tag`](Self::tag) and those of `DD_TAGS` only.
    /// - **One datagram per call**, unless the application built the client with
    ///   `Options::batching_options` (`BatchingOptions { max_buffer_size, max_time,
    ///   max_retry_attempts, initial_retry_delay }`): then the client packs lines on a thread of
    ///   its own, and what it loses there is not counted. `flush_metrics` waits for the calls
    ///   to return, not for a batch to leave.
    /// - **Field order**: the crate writes a service check's message before its tags
    ///   (`_sc|<name>|<status>|m:<message>|#<tags>`); the agent reads either order.
    /// - **Failures seen**: without batching, a UDP client sends from an unconnected socket,
    ///   so an agent that is down goes unnoticed; its `to_addr` is resolved at every call (on
    ///   the metrics thread). A Unix-socket client does not wait: a full socket buffer fails
    ///   the call.
    ///
    /// **The crate prints** to stdout (`println!`; never stderr) when `Client::new` is given a
    /// `socket_path` it cannot connect to (it then binds that path itself) and, with batching
    /// only, when its thread gives up on a batch after its retries ("Failed to send within
    /// retry policy... Dropping metrics: ..."), or when its channel is gone (a call finding
    /// that thread ended, or that thread finding the client dropped without shutting it down).
    /// Without batching, a failed send is returned, never printed.
    ///
    /// # Example
    /// ```no_run
    /// use std::sync::Arc;
    /// use healthcheck::{HealthChecks, MetricsConfig};
    ///
    /// let client = dogstatsd::Client::new(dogstatsd::Options::default())?;
    /// let health = HealthChecks::builder()
    ///     .metrics(MetricsConfig::new().dogstatsd_client(Arc::new(client)))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "dogstatsd")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dogstatsd")))]
    pub fn dogstatsd_client(mut self, client: Arc<dogstatsd::Client>) -> Self {
        self.client = Some(client);
        self.sink = None;
        self
    }

    /// Resolves every setting against the environment. `None` when metrics are off.
    pub(crate) fn resolve(self) -> Result<Option<Resolved>, Error> {
        let enabled = match self.enabled {
            Some(enabled) => enabled,
            None => match env(ENABLED_ENV)? {
                None => true,
                Some(value) => parse_bool(&value).ok_or_else(|| Error::InvalidEnv {
                    name: ENABLED_ENV,
                    value: value.clone(),
                    reason: "expected true or false (or 1/0, yes/no, on/off)".to_owned(),
                })?,
            },
        };
        // The destination is checked even when off, so that a typo shows before it matters.
        let destination = match self.destination {
            Some(destination) => destination,
            None => destination_from_env()?,
        };
        // So is what was given in code.
        if let Some(prefix) = &self.prefix {
            check_prefix(prefix).map_err(|reason| Error::InvalidSetting {
                setting: "metrics prefix",
                value: prefix.clone(),
                reason,
            })?;
        }
        for tag in &self.tags {
            check_tag(tag).map_err(|reason| Error::InvalidSetting {
                setting: "metrics tag",
                value: tag.clone(),
                reason,
            })?;
        }
        if !enabled {
            return Ok(None);
        }
        let prefix = match self.prefix {
            Some(prefix) => prefix,
            None => prefix_from_env()?,
        };
        let mut tags = self.tags;
        let service_tags = unified_service_tags(&tags)?;
        let listed_tags = dd_tags()?;
        #[cfg(feature = "dogstatsd")]
        if let Some(client) = self.client {
            // The client adds `env:`, `service:` and `version:` from the environment itself.
            tags.extend(listed_tags);
            return Ok(Some(Resolved {
                prefix,
                tags,
                max_line: self.max_payload.unwrap_or(DEFAULT_UDP_PAYLOAD),
                transport: Transport::Client(client),
            }));
        }
        tags.extend(service_tags);
        tags.extend(listed_tags);
        let sink: Arc<dyn MetricSink> = match self.sink {
            Some(sink) => sink,
            None => match &destination {
                Destination::Udp { host, port } => Arc::new(UdpSink::new(
                    host.clone(),
                    *port,
                    self.max_payload.unwrap_or(DEFAULT_UDP_PAYLOAD),
                )),
                Destination::Unix(path) => Arc::new(UnixSink::new(
                    path.clone(),
                    self.max_payload.unwrap_or(DEFAULT_UNIX_PAYLOAD),
                )),
            },
        };
        Ok(Some(Resolved {
            prefix,
            tags,
            max_line: sink.max_payload_size(),
            transport: Transport::Sink(sink),
        }))
    }
}

/// Settings with nothing left to look up.
pub(crate) struct Resolved {
    pub(crate) prefix: String,
    pub(crate) tags: Vec<String>,
    /// The longest line a service check or an event may take: their messages are cut to fit.
    pub(crate) max_line: usize,
    pub(crate) transport: Transport,
}

/// Where metrics go.
pub(crate) enum Transport {
    /// The SDK's own lines, packed into payloads for a sink.
    Sink(Arc<dyn MetricSink>),
    /// Calls of the application's client.
    #[cfg(feature = "dogstatsd")]
    Client(Arc<dogstatsd::Client>),
}

fn env(name: &'static str) -> Result<Option<String>, Error> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(value) => value
            .into_string()
            .map(Some)
            .map_err(|raw| Error::InvalidEnv {
                name,
                value: raw.to_string_lossy().into_owned(),
                reason: "not UTF-8".to_owned(),
            }),
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn destination_from_env() -> Result<Destination, Error> {
    if let Some(url) = env(URL_ENV)?.filter(|u| !u.trim().is_empty()) {
        return Destination::parse(url.trim()).map_err(|reason| Error::InvalidEnv {
            name: URL_ENV,
            value: url.clone(),
            reason,
        });
    }
    let host = env(HOST_ENV)?.filter(|h| !h.trim().is_empty());
    let port = env(PORT_ENV)?.filter(|p| !p.trim().is_empty());
    let port = match port {
        None => 8125,
        Some(port) => parse_port(port.trim()).map_err(|reason| Error::InvalidEnv {
            name: PORT_ENV,
            value: port.clone(),
            reason,
        })?,
    };
    let host = host.map_or_else(|| "127.0.0.1".to_owned(), |h| h.trim().to_owned());
    Ok(Destination::Udp { host, port })
}

/// The prefix from `HEALTHCHECK_STATSD_PREFIX` (trimmed; empty counts as unset), else the
/// default.
fn prefix_from_env() -> Result<String, Error> {
    let Some(value) = env(PREFIX_ENV)? else {
        return Ok(DEFAULT_PREFIX.to_owned());
    };
    let prefix = value.trim();
    if prefix.is_empty() {
        return Ok(DEFAULT_PREFIX.to_owned());
    }
    check_prefix(prefix).map_err(|reason| Error::InvalidEnv {
        name: PREFIX_ENV,
        value: value.clone(),
        reason,
    })?;
    Ok(prefix.to_owned())
}

/// The longest prefix: `<prefix>.check.response_time` must stay within Datadog's 200 characters.
const MAX_PREFIX: usize = 200 - ".check.response_time".len() - 1;

/// What a metric prefix must be, as Datadog's metric names: ASCII letters, digits, `_` and `.`,
/// starting with a letter, no empty part between dots. The empty prefix is no prefix.
fn check_prefix(prefix: &str) -> Result<(), String> {
    const RULE: &str = "a prefix is ASCII letters, digits, `_` and `.`, starts with a letter and \
                        has no empty part between dots (as in `payments.v2`)";
    if prefix.is_empty() {
        return Ok(());
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    {
        return Err(format!("{c:?} is not allowed; {RULE}"));
    }
    if !prefix.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!("it does not start with a letter; {RULE}"));
    }
    if prefix.ends_with('.') || prefix.contains("..") {
        return Err(format!("it has an empty part between dots; {RULE}"));
    }
    if prefix.len() > MAX_PREFIX {
        return Err(format!(
            "it is {} characters long; at most {MAX_PREFIX} keep metric names within Datadog's \
             200 characters",
            prefix.len()
        ));
    }
    Ok(())
}

/// What a global tag must not hold: what would change the meaning of the DogStatsD line. What
/// Datadog itself normalizes (case, spaces, other characters) is normalized when sent.
fn check_tag(tag: &str) -> Result<(), String> {
    const RULE: &str = "a tag is `key:value` or `value`, at most 200 characters, without \
                        control characters, `|`, `,` or `#`";
    if tag.is_empty() {
        return Err(format!("the tag is empty; {RULE}"));
    }
    if let Some(c) = tag
        .chars()
        .find(|c| c.is_control() || matches!(c, '|' | ',' | '#'))
    {
        return Err(format!("{c:?} is not allowed; {RULE}"));
    }
    let length = tag.chars().count();
    if length > MAX_TAG {
        return Err(format!("it is {length} characters long; {RULE}"));
    }
    Ok(())
}

/// `env:`, `service:` and `version:` from `DD_ENV`, `DD_SERVICE`, `DD_VERSION`, unless `given`
/// has them already.
fn unified_service_tags(given: &[String]) -> Result<Vec<String>, Error> {
    let mut tags = Vec::new();
    for (key, variable) in [
        ("env", "DD_ENV"),
        ("service", "DD_SERVICE"),
        ("version", "DD_VERSION"),
    ] {
        let prefix = format!("{key}:");
        if given.iter().any(|t| t.starts_with(&prefix)) {
            continue;
        }
        if let Some(value) = env(variable)?.filter(|v| !v.trim().is_empty()) {
            let tag = format!("{prefix}{}", value.trim());
            check_tag(&tag).map_err(|reason| Error::InvalidEnv {
                name: variable,
                value: value.clone(),
                reason,
            })?;
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// The tags of `DD_TAGS` (comma- or space-separated).
fn dd_tags() -> Result<Vec<String>, Error> {
    let mut tags = Vec::new();
    if let Some(list) = env("DD_TAGS")? {
        for tag in list
            .split([',', ' '])
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            check_tag(tag).map_err(|reason| Error::InvalidEnv {
                name: "DD_TAGS",
                value: list.clone(),
                reason: format!("tag {tag:?}: {reason}"),
            })?;
            tags.push(tag.to_owned());
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_urls() {
        let udp = |host: &str, port| Destination::Udp {
            host: host.to_owned(),
            port,
        };
        let cases: Vec<(&str, Result<Destination, &str>)> = vec![
            ("udp://127.0.0.1:8125", Ok(udp("127.0.0.1", 8125))),
            (
                "udp://datadog-agent:18125/",
                Ok(udp("datadog-agent", 18125)),
            ),
            ("udp://[::1]:8125", Ok(udp("::1", 8125))),
            (
                "unix:///var/run/datadog/dsd.socket",
                Ok(Destination::Unix("/var/run/datadog/dsd.socket".into())),
            ),
            ("unix://relative.sock", Err("absolute path")),
            ("tcp://127.0.0.1:8125", Err("expected udp://")),
            ("udp://127.0.0.1", Err("needs a port")),
            ("udp://:8125", Err("needs a host")),
            ("udp://host:99999", Err("is not a port")),
            ("udp://host:0", Err("is not a port")),
        ];
        for (url, expected) in cases {
            match (Destination::parse(url), expected) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(got, want, "{url}");
                    assert_eq!(
                        Destination::parse(&got.to_string()),
                        Ok(want),
                        "{url} round trip"
                    );
                }
                (Err(got), Err(want)) => assert!(got.contains(want), "{url}: {got}"),
                (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn booleans() {
        for (text, value) in [
            ("true", Some(true)),
            ("OFF", Some(false)),
            (" 0 ", Some(false)),
            ("maybe", None),
        ] {
            assert_eq!(parse_bool(text), value, "{text}");
        }
    }
}
