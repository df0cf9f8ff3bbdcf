//! [`HttpOptions`] and [`Details`]: how the endpoints behave.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::error::Error;
use crate::health::HealthChecks;
use crate::http::handler::HealthHandler;
use crate::http::store::ResultStore;

pub(crate) type PingFn = dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync;

/// Who sees the details (components, messages, timings) of a report.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Details {
    /// Everybody (python-panopticon's behaviour). The default.
    #[default]
    Always,
    /// Nobody: callers get the status code and the overall status only.
    Never,
    /// Callers that send `Authorization: Bearer <token>`; others get the status only. The token
    /// is compared in constant time; an empty one is refused by
    /// [`HttpOptions::build`].
    Token(String),
}

impl fmt::Debug for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Details::Always => f.write_str("Always"),
            Details::Never => f.write_str("Never"),
            Details::Token(_) => f.write_str("Token(***)"),
        }
    }
}

/// Options of the HTTP endpoints; [`build`](Self::build) makes the [`HealthHandler`].
///
/// # Example
/// ```
/// use std::time::Duration;
/// use healthcheck::HealthChecks;
/// use healthcheck::http::{Details, HttpOptions};
///
/// let health = HealthChecks::builder().build()?;
/// let handler = HttpOptions::new()
///     .base_path("/health")
///     .cache_ttl(Duration::from_secs(2))
///     .details(Details::Token("s3cret".into()))
///     .build(health)?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct HttpOptions {
    pub(crate) base_path: String,
    pub(crate) unhealthy_status: StatusCode,
    pub(crate) ttl: Duration,
    pub(crate) details: Details,
    pub(crate) refresh: Option<Duration>,
    pub(crate) refresh_checks: Vec<(String, Duration)>,
    pub(crate) ping: Option<Arc<PingFn>>,
    pub(crate) store: Option<Arc<dyn ResultStore>>,
    #[cfg(feature = "registry")]
    pub(crate) registry: Option<crate::registry::Registry>,
    #[cfg(feature = "status")]
    pub(crate) environ: Option<crate::status::Environ>,
    #[cfg(feature = "status")]
    pub(crate) status: Option<crate::status::ServiceStatus>,
    #[cfg(feature = "status")]
    pub(crate) status_page: Option<crate::status::StatusPage>,
    #[cfg(feature = "events")]
    pub(crate) events: Option<crate::events::Events>,
    #[cfg(feature = "prometheus")]
    pub(crate) metrics_path: Option<String>,
}

impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOptions")
            .field("base_path", &self.base_path)
            .field("unhealthy_status", &self.unhealthy_status)
            .field("ttl", &self.ttl)
            .field("details", &self.details)
            .field("refresh", &self.refresh)
            .field("refresh_checks", &self.refresh_checks)
            .field("custom_ping", &self.ping.is_some())
            .field("store", &self.store)
            .finish()
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpOptions {
    /// The defaults: endpoints at the root, 503 when unhealthy, results cached for 1 second,
    /// details shown to everybody, no background refresh, an in-memory store.
    pub fn new() -> Self {
        Self {
            base_path: String::new(),
            unhealthy_status: StatusCode::SERVICE_UNAVAILABLE,
            ttl: Duration::from_secs(1),
            details: Details::Always,
            refresh: None,
            refresh_checks: Vec::new(),
            ping: None,
            store: None,
            #[cfg(feature = "registry")]
            registry: None,
            #[cfg(feature = "status")]
            environ: None,
            #[cfg(feature = "status")]
            status: None,
            #[cfg(feature = "status")]
            status_page: None,
            #[cfg(feature = "events")]
            events: None,
            #[cfg(feature = "prometheus")]
            metrics_path: Some("/metrics".to_owned()),
        }
    }

    /// Serves `GET <base>/status`: the service's name, version, start, uptime, host, instance,
    /// pid, Rust version, checks, workers, metrics and fleet store, and its configuration with
    /// secrets masked (see [`ServiceStatus`](crate::status::ServiceStatus)); without details,
    /// only its name, start and uptime.
    #[cfg(feature = "status")]
    #[cfg_attr(docsrs, doc(cfg(feature = "status")))]
    pub fn status(mut self, status: crate::status::ServiceStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Serves the HTML status page at `GET <base>/status.html` (or the page's own path): the
    /// verdict, each check with its status, message, response time, groups and a sparkline of
    /// its recent runs ([`HealthChecksBuilder::history`](crate::HealthChecksBuilder::history)),
    /// and the fleet's check → group → host grid when a shared fleet store is configured.
    /// Without details, only the verdict. Always answers 200, whatever the verdict: the page is
    /// for people (browsers log a page that comes with 503 as an error); monitors read the
    /// status codes of `/healthcheck` and the probes.
    #[cfg(feature = "status")]
    #[cfg_attr(docsrs, doc(cfg(feature = "status")))]
    pub fn status_page(mut self, page: crate::status::StatusPage) -> Self {
        self.status_page = Some(page);
        self
    }

    /// Takes events at `POST <base>/events`: a JSON body is queued for the handler of `events`
    /// and answered `{"result": true, "message": "Event received"}`; a body over its size limit
    /// gets 413, one that is not JSON 400 with the parse error, a full queue 503 with
    /// `Retry-After`. With a [`Details::Token`], only callers that send it may post (401).
    /// Without events, the path is not found (404). The
    /// [standalone server](crate::http::server) also takes them as UDP datagrams on its port.
    #[cfg(feature = "events")]
    #[cfg_attr(docsrs, doc(cfg(feature = "events")))]
    pub fn events(mut self, events: crate::events::Events) -> Self {
        self.events = Some(events);
        self
    }

    /// Where the Prometheus metrics of checks built with
    /// [`HealthChecksBuilder::prometheus`](crate::HealthChecksBuilder::prometheus) are served,
    /// under the base path: `/metrics` by default; `None` serves them nowhere (the application
    /// registers them into its own registry with
    /// [`Prometheus::register`](crate::prometheus::Prometheus::register)). Details apply: with a
    /// [`Details::Token`], a scraper sends it (`authorization` in Prometheus's scrape config);
    /// with [`Details::Never`], the path answers 403.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn metrics_path(mut self, path: impl Into<Option<String>>) -> Self {
        self.metrics_path = path
            .into()
            .map(|path| format!("/{}", path.trim_matches('/')));
        self
    }

    /// Serves `GET <base>/environ`: what the application was built from (see
    /// [`environ!`](crate::environ)), as JSON; without details, only its name and version.
    #[cfg(feature = "status")]
    #[cfg_attr(docsrs, doc(cfg(feature = "status")))]
    pub fn environ(mut self, environ: crate::status::Environ) -> Self {
        self.environ = Some(environ);
        self
    }

    /// Serves `GET <base>/registry`: the instances of `registry`, as JSON (with details hidden
    /// as in the report: without them, only each instance's id, type and status).
    #[cfg(feature = "registry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "registry")))]
    pub fn registry(mut self, registry: crate::registry::Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The path the endpoints sit under, such as `/health` (then `/health/healthcheck`, ...).
    /// Defaults to none.
    pub fn base_path(mut self, base: impl Into<String>) -> Self {
        let base = base.into();
        self.base_path = format!("/{}", base.trim_matches('/'));
        if self.base_path == "/" {
            self.base_path.clear();
        }
        self
    }

    /// The status of `/healthcheck` when the service is unhealthy. Defaults to 503
    /// (python-panopticon answered 500).
    pub fn unhealthy_status(mut self, status: StatusCode) -> Self {
        self.unhealthy_status = status;
        self
    }

    /// How long results (and responses) are reused. Defaults to 1 second; zero turns caching
    /// off (every request runs its checks, still at most once at a time each).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Who sees the details of a report. Defaults to [`Details::Always`].
    pub fn details(mut self, details: Details) -> Self {
        self.details = details;
        self
    }

    /// Runs every check in the background every `interval`; requests then only read the latest
    /// results and never wait for a check.
    pub fn refresh_every(mut self, interval: Duration) -> Self {
        self.refresh = Some(interval);
        self
    }

    /// Runs one check in the background every `interval` (overrides
    /// [`refresh_every`](Self::refresh_every) for it).
    pub fn refresh_check_every(mut self, check: impl Into<String>, interval: Duration) -> Self {
        self.refresh_checks.push((check.into(), interval));
        self
    }

    /// The rule of `/ping`. Defaults to "every liveness check is healthy".
    pub fn ping<F, Fut>(mut self, ping: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        self.ping = Some(Arc::new(move || Box::pin(ping())));
        self
    }

    /// Where the latest results are kept. Defaults to a
    /// [`MemoryStore`](crate::http::MemoryStore).
    pub fn store(mut self, store: impl ResultStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The handler for `health`. Starts the background refresh, if any, on the current Tokio
    /// runtime (or the SDK's own).
    ///
    /// # Errors
    /// [`Error::UnknownCheck`] when a per-check refresh names a check that does not exist;
    /// [`Error::InvalidSetting`] for a zero refresh interval, or a [`Details::Token`] that is
    /// empty or holds white space or control characters (the error does not show the token);
    /// [`Error::Runtime`] when there is no runtime for the refresh and the SDK's own cannot
    /// start.
    pub fn build(self, health: HealthChecks) -> Result<HealthHandler, Error> {
        HealthHandler::new(self, health)
    }
}
