//! The framework-agnostic handler: method, path, query and headers in; status, headers and body
//! out.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, SubsecRound, Utc};
use http::header::{
    ACCEPT, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use subtle::ConstantTimeEq;

use crate::check::Probe;
use crate::component::Component;
use crate::error::Error;
use crate::fleet::{Beat, FleetFilter};
use crate::health::HealthChecks;
use crate::http::cache::{CacheKey, Cached, ResponseCache};
use crate::http::options::{Details, HttpOptions};
use crate::http::query::{self, QueryError};
use crate::http::refresh::{self, Refreshed};
use crate::http::render;
use crate::http::store::{MemoryStore, ResultStore};
use crate::report::{ComponentReport, HumanDuration, OneLine, Report};

/// An HTTP request, as the handler needs it.
#[derive(Clone, Copy, Debug)]
pub struct HealthRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path, percent-encoded as it came.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The headers (`Accept` and `Authorization` are read).
    pub headers: &'a HeaderMap,
}

/// A request's body, as an adapter read it, for [`HealthHandler::handle_with_body`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBody<'a> {
    /// The whole body, no longer than [`HealthHandler::body_limit`].
    Complete(&'a [u8]),
    /// The body was longer than the limit; the adapter stopped reading it (answered 413).
    TooLarge,
    /// The body could not be read: the connection broke, say (answered 400).
    Unreadable,
}

/// An HTTP response from the handler.
#[derive(Clone, Debug)]
pub struct HealthResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers: `Content-Type`, `Cache-Control`, `Allow` on 405, `Content-Length` on `HEAD`.
    pub headers: HeaderMap,
    /// The body (empty for `HEAD`).
    pub body: Bytes,
}

impl HealthResponse {
    /// As an [`http::Response`].
    #[must_use]
    pub fn into_http(self) -> http::Response<Bytes> {
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// Serves the health endpoints; cheap to clone. See the [module docs](crate::http) for the
/// endpoints.
#[derive(Clone)]
pub struct HealthHandler {
    inner: Arc<Inner>,
}

impl fmt::Debug for HealthHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthHandler")
            .field("options", &self.inner.options)
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) health: HealthChecks,
    options: HttpOptions,
    pub(crate) store: Arc<dyn ResultStore>,
    cache_control: HeaderValue,
    responses: ResponseCache,
    shutting_down: AtomicBool,
    /// The checks refreshed in the background, with their schedules.
    pub(crate) refresh_intervals: HashMap<String, Refreshed>,
}

/// The endpoint a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Endpoint {
    Report,
    Probe(Probe, Option<String>),
    Heartbeat(Probe),
    Ping,
    Fleet,
    /// `GET <base>/registry`, when a service registry is configured.
    Registry,
    /// `GET <base>/environ`, when the build is given.
    Environ,
    /// `GET <base>/status`, when a service status is given.
    Status,
    /// The HTML status page, when it is configured.
    StatusPage,
    /// The Prometheus metrics, when the checks export them.
    Metrics,
}

impl Endpoint {
    const SLOTS: usize = 7;

    /// The cache slot of a query-less request to this endpoint (`None` for one check's probe).
    const fn slot(&self) -> Option<usize> {
        match self {
            Endpoint::Report => Some(0),
            Endpoint::Probe(_, Some(_)) => None,
            Endpoint::Probe(Probe::Liveness, None) => Some(1),
            Endpoint::Probe(Probe::Readiness, None) => Some(2),
            Endpoint::Probe(Probe::Startup, None) => Some(3),
            Endpoint::Heartbeat(Probe::Readiness) => Some(4),
            Endpoint::Heartbeat(_) => Some(5),
            Endpoint::Ping => Some(6),
            Endpoint::Fleet
            | Endpoint::Registry
            | Endpoint::Environ
            | Endpoint::Status
            | Endpoint::StatusPage
            | Endpoint::Metrics => None,
        }
    }

    /// Probe endpoints answer in plain text, the others in JSON.
    const fn is_text(&self) -> bool {
        matches!(self, Endpoint::Probe(..) | Endpoint::Ping)
    }

    /// Readiness turns to 503 during shutdown; liveness does not.
    const fn is_readiness(&self) -> bool {
        matches!(
            self,
            Endpoint::Report
                | Endpoint::Probe(Probe::Readiness, _)
                | Endpoint::Heartbeat(Probe::Readiness)
        )
    }
}

const JSON: &str = "application/json";
const HEALTH_JSON: &str = "application/health+json";
const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
/// The status page loads nothing and runs no script: even markup that escaped escaping could
/// not run.
const HTML_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                           base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    HealthJson,
    Text,
}

/// What a request's query says, as far as its endpoint reads it: the parts that change the
/// response, in a canonical form (sorted, without duplicates or names that change nothing), so
/// that equivalent queries share one cached response.
#[derive(Debug, PartialEq, Eq)]
enum Params {
    /// The endpoint reads no query.
    None,
    /// `/healthcheck`: `group` (sorted, deduplicated, each an existing group) and `format`.
    Report { groups: Vec<String>, format: Format },
    /// A probe: `verbose`, and `exclude` (sorted, deduplicated, only checks of the probe).
    Probe {
        verbose: bool,
        excluded: Vec<String>,
    },
    /// `/fleet`: `service`, `check`, `group` and `format` (`json` or `text`).
    Fleet { filter: FleetFilter, text: bool },
}

impl HealthHandler {
    /// See [`HttpOptions::build`].
    pub(crate) fn new(options: HttpOptions, health: HealthChecks) -> Result<Self, Error> {
        if let Details::Token(token) = &options.details {
            // An empty token would let anyone who sends `Authorization: Bearer ` see the
            // details; a token with white space or control characters can never be sent.
            if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::InvalidSetting {
                    setting: "details token",
                    value: "***".to_owned(),
                    reason: "the token must not be empty nor hold white space or control \
                             characters (it is sent as `Authorization: Bearer <token>`)"
                        .to_owned(),
                });
            }
        }
        let mut refresh_intervals = HashMap::new();
        if let Some(interval) = options.refresh {
            for check in health.checks() {
                let refreshed = Refreshed::new(interval, check, &health);
                refresh_intervals.insert(check.name().to_owned(), refreshed);
            }
        }
        for (name, interval) in &options.refresh_checks {
            let check = health
                .check(name)
                .ok_or_else(|| Error::UnknownCheck(name.clone()))?;
            refresh_intervals.insert(name.clone(), Refreshed::new(*interval, check, &health));
        }
        if let Some((name, _)) = refresh_intervals.iter().find(|(_, r)| r.interval.is_zero()) {
            return Err(Error::InvalidSetting {
                setting: "refresh interval",
                value: "0s".to_owned(),
                reason: format!("the refresh interval of `{name}` must be longer than zero"),
            });
        }
        let cache_control = if options.ttl.is_zero() {
            HeaderValue::from_static("no-store")
        } else {
            HeaderValue::from_str(&format!("max-age={}", options.ttl.as_secs()))
                .unwrap_or_else(|_| HeaderValue::from_static("no-store"))
        };
        let inner = Arc::new(Inner {
            store: options
                .store
                .clone()
                .unwrap_or_else(|| Arc::new(MemoryStore::new())),
            health,
            options,
            cache_control,
            responses: ResponseCache::new(Endpoint::SLOTS * 4),
            shutting_down: AtomicBool::new(false),
            refresh_intervals,
        });
        if !inner.refresh_intervals.is_empty() {
            refresh::start(&inner)?;
        }
        Ok(Self { inner })
    }

    /// The routes to mount, under the base path, in the route syntax of axum and actix-web: the
    /// fixed ones, and those of the endpoints that are configured (only those: an application's
    /// own `/status` or `/metrics` route must not collide with one that is not served).
    #[cfg(any(feature = "axum", feature = "actix-web"))]
    pub(crate) fn routes(&self) -> Vec<String> {
        let mut routes: Vec<&str> = crate::http::ROUTES.to_vec();
        let optional = [
            ("/registry", self.serves_registry()),
            ("/environ", self.serves_environ()),
            ("/status", self.serves_status()),
            ("/events", self.serves_events()),
        ];
        routes.extend(
            optional
                .iter()
                .filter(|(_, on)| *on)
                .map(|(route, _)| *route),
        );
        let own = [self.status_page_path(), self.metrics_path()];
        routes.extend(own.into_iter().flatten());
        let base = &self.inner.options.base_path;
        routes
            .iter()
            .map(|route| format!("{base}{route}"))
            .collect()
    }

    /// Whether `POST <base>/events` is served.
    #[cfg(any(feature = "axum", feature = "actix-web"))]
    fn serves_events(&self) -> bool {
        #[cfg(feature = "events")]
        return self.inner.options.events.is_some();
        #[cfg(not(feature = "events"))]
        false
    }

    /// The status page's path under the base path, when it is served.
    fn status_page_path(&self) -> Option<&str> {
        #[cfg(feature = "status")]
        return self
            .inner
            .options
            .status_page
            .as_ref()
            .map(|page| page.path.as_str());
        #[cfg(not(feature = "status"))]
        None
    }

    /// The path of the Prometheus metrics under the base path, when they are served.
    fn metrics_path(&self) -> Option<&str> {
        #[cfg(feature = "prometheus")]
        return self
            .inner
            .health
            .prometheus()
            .and(self.inner.options.metrics_path.as_deref());
        #[cfg(not(feature = "prometheus"))]
        None
    }

    /// The event intake, when events are taken.
    #[cfg(all(feature = "events", feature = "server"))]
    pub(crate) fn events(&self) -> Option<&crate::events::Events> {
        self.inner.options.events.as_ref()
    }

    /// The path the endpoints sit under (empty for the root).
    #[must_use]
    pub fn base_path(&self) -> &str {
        &self.inner.options.base_path
    }

    /// The checks this handler serves.
    #[must_use]
    pub fn health(&self) -> &HealthChecks {
        &self.inner.health
    }

    /// Starts a graceful shutdown: readiness (`/readyz`, `/healthcheck`, the heartbeat's
    /// readiness) answers 503 "shutting down" at once, while liveness stays 200, so that
    /// Kubernetes takes the pod out of its load balancers before it stops.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        self.inner.health.begin_shutdown();
    }

    /// Whether [`begin_shutdown`](Self::begin_shutdown) was called.
    #[must_use]
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst) || self.inner.health.is_shutting_down()
    }

    /// The most bytes of body the handler takes with `request`, when it reads that request's
    /// body (`POST <base>/events`); `None` for every other request, whose body is never read.
    /// An adapter reads at most this many bytes, stops once the body is longer (passing
    /// [`RequestBody::TooLarge`]), and calls [`handle_with_body`](Self::handle_with_body).
    #[must_use]
    pub fn body_limit(&self, request: &HealthRequest<'_>) -> Option<usize> {
        #[cfg(feature = "events")]
        if request.method == Method::POST && self.is_events_path(request.path) {
            return self.inner.options.events.as_ref().map(|e| e.max_body());
        }
        let _ = request;
        None
    }

    /// [`handle`](Self::handle), with the body an adapter read as
    /// [`body_limit`](Self::body_limit) says (the other endpoints ignore it).
    pub async fn handle_with_body(
        &self,
        request: HealthRequest<'_>,
        body: RequestBody<'_>,
    ) -> HealthResponse {
        match self.try_handle_with_body(request, body).await {
            Some(response) => response,
            None => self.error(false, StatusCode::NOT_FOUND, "not found", request.method),
        }
    }

    /// [`try_handle`](Self::try_handle), with the body an adapter read.
    pub async fn try_handle_with_body(
        &self,
        request: HealthRequest<'_>,
        body: RequestBody<'_>,
    ) -> Option<HealthResponse> {
        #[cfg(feature = "events")]
        if self.is_events_path(request.path) {
            return Some(self.events_endpoint(request, body));
        }
        let _ = body;
        self.try_handle(request).await
    }

    /// Answers one request. `None` when the path is not one of the endpoints, so that an adapter
    /// can pass the request on; see [`handle`](Self::handle) for a 404 instead. A request to
    /// `POST <base>/events` is taken with an empty body: adapters pass bodies with
    /// [`try_handle_with_body`](Self::try_handle_with_body).
    pub async fn try_handle(&self, request: HealthRequest<'_>) -> Option<HealthResponse> {
        #[cfg(feature = "events")]
        if self.is_events_path(request.path) {
            return Some(self.events_endpoint(request, RequestBody::Complete(&[])));
        }
        if let Some(name) = self.beat_path(request.path) {
            return Some(self.beat_endpoint(name, request));
        }
        let endpoint = match self.route(request.path) {
            Ok(Some(endpoint)) => endpoint,
            Ok(None) => return None,
            Err(error) => {
                return Some(self.error(true, StatusCode::BAD_REQUEST, &error, request.method));
            }
        };
        Some(self.serve(&endpoint, request).await)
    }

    /// Answers one request; a path that is not one of the endpoints gets a 404 JSON error.
    pub async fn handle(&self, request: HealthRequest<'_>) -> HealthResponse {
        match self.try_handle(request).await {
            Some(response) => response,
            None => self.error(false, StatusCode::NOT_FOUND, "not found", request.method),
        }
    }

    fn route(&self, path: &str) -> Result<Option<Endpoint>, String> {
        let Some(rest) = path.strip_prefix(self.inner.options.base_path.as_str()) else {
            return Ok(None);
        };
        let rest = if rest.len() > 1 {
            rest.trim_end_matches('/')
        } else {
            rest
        };
        let endpoint = match rest {
            "/healthcheck" => Endpoint::Report,
            "/livez" => Endpoint::Probe(Probe::Liveness, None),
            "/readyz" => Endpoint::Probe(Probe::Readiness, None),
            "/startupz" => Endpoint::Probe(Probe::Startup, None),
            "/.well-known/heartbeat/readiness" => Endpoint::Heartbeat(Probe::Readiness),
            "/.well-known/heartbeat/liveliness" => Endpoint::Heartbeat(Probe::Liveness),
            "/ping" => Endpoint::Ping,
            "/fleet" => Endpoint::Fleet,
            "/registry" if self.serves_registry() => Endpoint::Registry,
            "/environ" if self.serves_environ() => Endpoint::Environ,
            "/status" if self.serves_status() => Endpoint::Status,
            other if self.is_status_page(other) => Endpoint::StatusPage,
            other if self.metrics_path() == Some(other) => Endpoint::Metrics,
            other => {
                let single = [
                    ("/livez/", Probe::Liveness),
                    ("/readyz/", Probe::Readiness),
                    ("/startupz/", Probe::Startup),
                ]
                .into_iter()
                .find_map(|(prefix, probe)| other.strip_prefix(prefix).map(|name| (probe, name)));
                match single {
                    Some((probe, name)) if !name.is_empty() && !name.contains('/') => {
                        let name = query::decode_segment(name).map_err(|_| {
                            format!("the check name in the path is not valid UTF-8: {name}")
                        })?;
                        Endpoint::Probe(probe, Some(name))
                    }
                    _ => return Ok(None),
                }
            }
        };
        Ok(Some(endpoint))
    }

    /// The heartbeat that `POST <base>/heartbeat/<name>` names, still percent-encoded.
    fn beat_path<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.inner.options.base_path.as_str())?;
        let name = rest.strip_prefix("/heartbeat/")?;
        let name = name.strip_suffix('/').unwrap_or(name);
        (!name.is_empty() && !name.contains('/')).then_some(name)
    }

    /// `POST <base>/heartbeat/<name>[?message=...|?failed=...]`: records a beat. With a details
    /// token, only callers that send it may beat.
    fn beat_endpoint(&self, name: &str, request: HealthRequest<'_>) -> HealthResponse {
        let method = request.method;
        if method != Method::POST {
            return self.method_not_allowed(
                false,
                "POST",
                "a heartbeat is beaten with POST",
                method,
            );
        }
        if matches!(self.inner.options.details, Details::Token(_))
            && !self.details_visible(request.headers)
        {
            let mut response = self.error(
                false,
                StatusCode::UNAUTHORIZED,
                "beating a heartbeat needs `Authorization: Bearer <token>`",
                method,
            );
            response
                .headers
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
        let Ok(name) = query::decode_segment(name) else {
            let message = format!("the heartbeat name in the path is not valid UTF-8: {name}");
            return self.error(false, StatusCode::BAD_REQUEST, &message, method);
        };
        let pairs = match Self::query_pairs(request.query) {
            Ok(pairs) => pairs,
            Err((status, message)) => return self.error(false, status, &message, method),
        };
        let mut beat = Beat::ok();
        for (key, value) in pairs {
            match key.as_str() {
                "failed" => beat = Beat::failed(value),
                "message" if beat.is_ok() => beat = beat.message(value),
                _ => {}
            }
        }
        let ok = beat.is_ok();
        match self.inner.health.beat_with(&name, beat) {
            Ok(()) => {
                let body = serde_json::json!({ "heartbeat": name, "ok": ok }).to_string();
                let mut response = self.respond(StatusCode::OK, JSON, Bytes::from(body), method);
                response
                    .headers
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Err(error) => self.error(false, StatusCode::NOT_FOUND, &error.to_string(), method),
        }
    }

    /// Whether `path` is `<base>/events` and events are taken.
    #[cfg(feature = "events")]
    fn is_events_path(&self, path: &str) -> bool {
        self.inner.options.events.is_some()
            && path
                .strip_prefix(self.inner.options.base_path.as_str())
                .is_some_and(|rest| rest == "/events" || rest == "/events/")
    }

    /// `POST <base>/events`: queues the JSON body for the application's handler, in the daemon
    /// library's answer shape (`{"result": ..., "message": ...}`).
    #[cfg(feature = "events")]
    fn events_endpoint(&self, request: HealthRequest<'_>, body: RequestBody<'_>) -> HealthResponse {
        use crate::events::EventSource;
        use http::header::RETRY_AFTER;

        let method = request.method;
        let Some(events) = self.inner.options.events.as_ref() else {
            return self.error(false, StatusCode::NOT_FOUND, "not found", method);
        };
        let answer = |status: StatusCode, result: bool, message: &str| {
            let body = serde_json::json!({ "result": result, "message": message }).to_string();
            let mut response = self.respond(status, JSON, Bytes::from(body), method);
            response
                .headers
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        };
        if method != Method::POST {
            let mut response = answer(
                StatusCode::METHOD_NOT_ALLOWED,
                false,
                "events are posted with POST",
            );
            response
                .headers
                .insert(ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        if matches!(self.inner.options.details, Details::Token(_))
            && !self.details_visible(request.headers)
        {
            let mut response = answer(
                StatusCode::UNAUTHORIZED,
                false,
                "posting events needs `Authorization: Bearer <token>`",
            );
            response
                .headers
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
        let limit = events.max_body();
        let declared = request
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = match body {
            RequestBody::Complete(body) if declared.is_none_or(|n| n <= limit as u64) => body,
            RequestBody::Unreadable => {
                let message = "the body could not be read";
                return answer(StatusCode::BAD_REQUEST, false, message);
            }
            RequestBody::Complete(_) | RequestBody::TooLarge => {
                events.count_too_large();
                let message = format!("the body is larger than the limit of {limit} bytes");
                return answer(StatusCode::PAYLOAD_TOO_LARGE, false, &message);
            }
        };
        match events.submit(body, EventSource::Http) {
            Ok(()) => answer(StatusCode::OK, true, "Event received"),
            Err(rejected) => {
                let mut response = answer(rejected.status(), false, &rejected.to_string());
                if let Some(after) = rejected.retry_after() {
                    let seconds = after.as_secs_f64().ceil().max(1.0) as u64;
                    response
                        .headers
                        .insert(RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
        }
    }

    /// The query's decoded pairs, or the status and message for a query too long or not UTF-8.
    fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, (StatusCode, String)> {
        query::parse(query).map_err(|error| match error {
            QueryError::TooLong => (
                StatusCode::URI_TOO_LONG,
                format!("the query is longer than {} bytes", query::MAX_QUERY),
            ),
            QueryError::NotUtf8(raw) => (
                StatusCode::BAD_REQUEST,
                format!("the query is not valid UTF-8 once decoded: {raw}"),
            ),
        })
    }

    /// 405 with `Allow: <allow>`.
    fn method_not_allowed(
        &self,
        text: bool,
        allow: &'static str,
        message: &str,
        method: &Method,
    ) -> HealthResponse {
        let mut response = self.error(text, StatusCode::METHOD_NOT_ALLOWED, message, method);
        response
            .headers
            .insert(ALLOW, HeaderValue::from_static(allow));
        response
    }

    fn details_visible(&self, headers: &HeaderMap) -> bool {
        match &self.inner.options.details {
            Details::Always => true,
            Details::Never => false,
            Details::Token(token) => headers
                .get_all(AUTHORIZATION)
                .iter()
                .filter_map(|value| {
                    // The scheme is case-insensitive (RFC 9110); the token is not.
                    let value = value.as_bytes();
                    let (scheme, token) = value.split_at_checked(7)?;
                    scheme.eq_ignore_ascii_case(b"bearer ").then_some(token)
                })
                .any(|given| bool::from(given.ct_eq(token.as_bytes()))),
        }
    }

    async fn serve(&self, endpoint: &Endpoint, request: HealthRequest<'_>) -> HealthResponse {
        let text = endpoint.is_text();
        let method = request.method;
        if method != Method::GET && method != Method::HEAD {
            let message = "only GET and HEAD are allowed";
            return self.method_not_allowed(text, "GET, HEAD", message, method);
        }
        if endpoint.is_readiness() && self.is_shutting_down() {
            return self.shutting_down(endpoint, method);
        }
        let details = self.details_visible(request.headers);
        let wants_health_json = request
            .headers
            .get_all(ACCEPT)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains(HEALTH_JSON)));

        let pairs = match Self::query_pairs(request.query) {
            Ok(pairs) => pairs,
            Err((status, message)) => return self.error(text, status, &message, method),
        };
        let params = match self.read_params(endpoint, &pairs, wants_health_json) {
            Ok(params) => params,
            Err((status, message)) => return self.error(text, status, &message, method),
        };

        let ttl = self.inner.options.ttl;
        let key = (!ttl.is_zero())
            .then(|| Self::cache_key(endpoint, &params, details, wants_health_json));
        if let Some(cached) = key.as_ref().and_then(|key| self.inner.responses.get(key)) {
            return self.respond(cached.status, cached.content_type, cached.body, method);
        }

        let outcome = match (endpoint, params) {
            (Endpoint::Report, Params::Report { groups, format }) => {
                Ok(self.report_endpoint(&groups, format, details).await)
            }
            (Endpoint::Probe(probe, name), Params::Probe { verbose, excluded }) => {
                self.probe_endpoint(*probe, name.as_deref(), verbose, &excluded, details)
                    .await
            }
            (Endpoint::Probe(probe, name), _) => {
                self.probe_endpoint(*probe, name.as_deref(), false, &[], details)
                    .await
            }
            (Endpoint::Heartbeat(probe), _) => {
                let report = self.report_for(&self.names_in_probe(*probe, &[])).await;
                let status = if report.service_healthy {
                    StatusCode::OK
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                Ok((status, JSON, render::heartbeat_json(&report, details)))
            }
            (Endpoint::Ping, _) => Ok(self.ping().await),
            (Endpoint::Registry, _) => Ok(self.registry_endpoint(details).await),
            (Endpoint::Status, _) => Ok((
                StatusCode::OK,
                JSON,
                self.status_json(details).unwrap_or_default().into_bytes(),
            )),
            (Endpoint::Environ, _) => Ok((
                StatusCode::OK,
                JSON,
                self.environ_json(details).unwrap_or_default().into_bytes(),
            )),
            (Endpoint::StatusPage, _) => Ok(self.status_page(details).await),
            (Endpoint::Metrics, _) => Ok(self.metrics_endpoint(details)),
            (Endpoint::Fleet, Params::Fleet { filter, text }) => {
                Ok(self.fleet_endpoint(&filter, text, details).await)
            }
            (Endpoint::Fleet, _) => Ok(self
                .fleet_endpoint(&FleetFilter::new(), false, details)
                .await),
            (Endpoint::Report, _) => {
                let format = Self::default_format(wants_health_json);
                Ok(self.report_endpoint(&[], format, details).await)
            }
        };
        match outcome {
            Ok((status, content_type, body)) => {
                let body = Bytes::from(body);
                if let Some(key) = key {
                    self.inner.responses.put(
                        key,
                        Cached {
                            status,
                            content_type,
                            body: body.clone(),
                            expires: Instant::now() + ttl,
                        },
                    );
                }
                self.respond(status, content_type, body, method)
            }
            Err((status, message)) => self.error(text, status, &message, method),
        }
    }

    const fn default_format(wants_health_json: bool) -> Format {
        if wants_health_json {
            Format::HealthJson
        } else {
            Format::Json
        }
    }

    /// Reads the parameters `endpoint` takes from the query, in canonical form; anything else
    /// in the query is ignored. Fails on an unknown group (404) or format (400).
    fn read_params(
        &self,
        endpoint: &Endpoint,
        pairs: &[(String, String)],
        wants_health_json: bool,
    ) -> Result<Params, (StatusCode, String)> {
        match endpoint {
            Endpoint::Report => {
                let mut groups = Vec::new();
                let mut format = Self::default_format(wants_health_json);
                for (key, value) in pairs {
                    match key.as_str() {
                        "group" => {
                            if !self.inner.health.groups().any(|g| g == value) {
                                return Err((
                                    StatusCode::NOT_FOUND,
                                    format!("no health check is in group `{value}`"),
                                ));
                            }
                            groups.push(value.clone());
                        }
                        "format" => {
                            format = match value.as_str() {
                                "json" => Format::Json,
                                "health+json" | "health json" | "application/health+json" => {
                                    Format::HealthJson
                                }
                                "text" => Format::Text,
                                other => {
                                    return Err((
                                        StatusCode::BAD_REQUEST,
                                        format!(
                                            "unknown format `{other}`: expected json, health+json or text"
                                        ),
                                    ));
                                }
                            };
                        }
                        _ => {}
                    }
                }
                groups.sort_unstable();
                groups.dedup();
                Ok(Params::Report { groups, format })
            }
            Endpoint::Probe(probe, None) => {
                let verbose = pairs
                    .iter()
                    .any(|(k, v)| k == "verbose" && v != "false" && v != "0");
                let mut excluded: Vec<String> = pairs
                    .iter()
                    .filter(|(k, v)| {
                        k == "exclude"
                            && self
                                .inner
                                .health
                                .checks()
                                .any(|c| c.name() == v && c.in_probe(*probe))
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                excluded.sort_unstable();
                excluded.dedup();
                Ok(Params::Probe { verbose, excluded })
            }
            Endpoint::Probe(_, Some(_))
            | Endpoint::Heartbeat(_)
            | Endpoint::Ping
            | Endpoint::Registry
            | Endpoint::Environ
            | Endpoint::Status
            | Endpoint::StatusPage
            | Endpoint::Metrics => Ok(Params::None),
            Endpoint::Fleet => {
                let mut filter = FleetFilter::new();
                let mut text = false;
                for (key, value) in pairs {
                    match key.as_str() {
                        "service" => filter = filter.service(value.clone()),
                        "check" => filter = filter.check(value.clone()),
                        "group" => filter = filter.group(value.clone()),
                        "format" => {
                            text = match value.as_str() {
                                "json" => false,
                                "text" => true,
                                other => {
                                    return Err((
                                        StatusCode::BAD_REQUEST,
                                        format!("unknown format `{other}`: expected json or text"),
                                    ));
                                }
                            };
                        }
                        _ => {}
                    }
                }
                Ok(Params::Fleet { filter, text })
            }
        }
    }

    /// Where the response to a request is cached: the endpoint's fixed slot when the query
    /// changes nothing (an unknown parameter, a group given twice), else a key built from the
    /// canonical parameters, never from the raw query.
    fn cache_key(
        endpoint: &Endpoint,
        params: &Params,
        details: bool,
        wants_health_json: bool,
    ) -> CacheKey {
        let slot = |slot: usize, health_json: bool| {
            CacheKey::Slot(slot * 4 + usize::from(details) * 2 + usize::from(health_json))
        };
        match (endpoint.slot(), params) {
            (Some(at), Params::Report { groups, format })
                if groups.is_empty() && *format == Self::default_format(wants_health_json) =>
            {
                slot(at, wants_health_json)
            }
            (
                Some(at),
                Params::Probe {
                    verbose: false,
                    excluded,
                },
            ) if excluded.is_empty() => slot(at, false),
            (Some(at), Params::None) => slot(at, false),
            _ => CacheKey::Keyed(format!("{endpoint:?}|{params:?}|{}", u8::from(details))),
        }
    }

    async fn report_endpoint(
        &self,
        groups: &[String],
        format: Format,
        details: bool,
    ) -> (StatusCode, &'static str, Vec<u8>) {
        let names: Vec<&str> = self
            .inner
            .health
            .checks()
            .filter(|c| c.in_probe(Probe::Readiness))
            .filter(|c| groups.is_empty() || groups.iter().any(|g| c.in_group(g)))
            .map(|c| c.name())
            .collect();
        if format == Format::Json && details && self.stores_nothing() {
            // Nothing needs the report but its JSON: write that straight from the results.
            if let Some((status, json)) = self.inner.health.run_names_json(&names).await {
                let code = if status.is_healthy() {
                    StatusCode::OK
                } else {
                    self.inner.options.unhealthy_status
                };
                return (code, JSON, json.into_bytes());
            }
        }
        let report = self.report_for(&names).await;
        let status = if report.service_healthy {
            StatusCode::OK
        } else {
            self.inner.options.unhealthy_status
        };
        match format {
            Format::Json => (status, JSON, render::report_json(&report, details)),
            Format::HealthJson => (status, HEALTH_JSON, render::health_json(&report, details)),
            Format::Text => (status, TEXT, render::report_text(&report, details)),
        }
    }

    /// Whether `rest` (the path under the base path) is the status page's.
    fn is_status_page(&self, rest: &str) -> bool {
        self.status_page_path() == Some(rest)
    }

    /// `GET <base>/metrics`: the Prometheus exposition, with details (a token, when one is set;
    /// never with [`Details::Never`]).
    fn metrics_endpoint(&self, details: bool) -> (StatusCode, &'static str, Vec<u8>) {
        #[cfg(feature = "prometheus")]
        if let Some(prometheus) = self.inner.health.prometheus() {
            if !details {
                let message = match self.inner.options.details {
                    Details::Never => {
                        "the metrics name the checks: they are not served with \
                                       `Details::Never` (register them into the application's \
                                       own registry instead)"
                    }
                    _ => "the metrics need `Authorization: Bearer <token>`",
                };
                let status = match self.inner.options.details {
                    Details::Never => StatusCode::FORBIDDEN,
                    _ => StatusCode::UNAUTHORIZED,
                };
                return (status, JSON, render::error_json(message));
            }
            let body = prometheus.encode().into_bytes();
            return (
                StatusCode::OK,
                crate::prometheus::Prometheus::CONTENT_TYPE,
                body,
            );
        }
        let _ = details;
        (StatusCode::NOT_FOUND, JSON, render::error_json("not found"))
    }

    /// The status page: the report of every check (fresh stored results where there are), each
    /// check's history, and the fleet when a shared store is configured.
    async fn status_page(&self, details: bool) -> (StatusCode, &'static str, Vec<u8>) {
        #[cfg(feature = "status")]
        {
            let inner = &self.inner;
            let health = &inner.health;
            let names: Vec<&str> = health.checks().map(|c| c.name()).collect();
            let report = self.report_for(&names).await;
            let fleet = if details && health.has_shared_fleet() {
                Some(
                    health
                        .fleet()
                        .read(&FleetFilter::new())
                        .await
                        .map_err(|error| {
                            tracing::warn!(%error, "the fleet store could not be read");
                            format!("the fleet store could not be read: {error}")
                        }),
                )
            } else {
                None
            };
            let history = |name: &str| health.history(name).unwrap_or_default();
            // Routed here only when a page is configured.
            let default = crate::status::StatusPage::default();
            let page = inner.options.status_page.as_ref().unwrap_or(&default);
            let html = crate::status::render_page(&crate::status::PageInput {
                page,
                service: health.identity().service(),
                report: &report,
                history: &history,
                history_len: health.history_len(),
                fleet,
                details,
            });
            // Always 200: the page is for people (a browser logs an error for a page that comes
            // with 503); machines read the status codes of the JSON endpoints.
            (StatusCode::OK, HTML, html.into_bytes())
        }
        #[cfg(not(feature = "status"))]
        {
            let _ = details;
            (StatusCode::NOT_FOUND, JSON, render::error_json("not found"))
        }
    }

    /// Whether `GET <base>/status` is served.
    fn serves_status(&self) -> bool {
        #[cfg(feature = "status")]
        return self.inner.options.status.is_some();
        #[cfg(not(feature = "status"))]
        return false;
    }

    /// The JSON of `GET <base>/status`, when it is served.
    fn status_json(&self, details: bool) -> Option<String> {
        #[cfg(feature = "status")]
        return self
            .inner
            .options
            .status
            .as_ref()
            .map(|status| status.to_json(&self.inner.health, details));
        #[cfg(not(feature = "status"))]
        {
            let _ = details;
            None
        }
    }

    /// Whether `GET <base>/environ` is served.
    fn serves_environ(&self) -> bool {
        #[cfg(feature = "status")]
        return self.inner.options.environ.is_some();
        #[cfg(not(feature = "status"))]
        return false;
    }

    /// The JSON of `GET <base>/environ`, when it is served: all of it with `details`, else the
    /// name and version alone.
    fn environ_json(&self, details: bool) -> Option<String> {
        #[cfg(feature = "status")]
        return self.inner.options.environ.as_ref().map(|environ| {
            if details {
                environ.to_json()
            } else {
                serde_json::json!({"name": environ.name, "version": environ.version}).to_string()
            }
        });
        #[cfg(not(feature = "status"))]
        {
            let _ = details;
            None
        }
    }

    /// Whether `GET <base>/registry` is served.
    fn serves_registry(&self) -> bool {
        #[cfg(feature = "registry")]
        return self.inner.options.registry.is_some();
        #[cfg(not(feature = "registry"))]
        return false;
    }

    /// `GET <base>/registry`: the registered instances, 200; 503 with a JSON error when etcd
    /// cannot be read. Without details, only each instance's id, type and status.
    async fn registry_endpoint(&self, details: bool) -> (StatusCode, &'static str, Vec<u8>) {
        #[cfg(feature = "registry")]
        if let Some(registry) = &self.inner.options.registry {
            return match registry.list(&crate::registry::RegistryFilter::new()).await {
                Ok(records) => {
                    let instances: Vec<serde_json::Value> = records
                        .iter()
                        .map(|record| {
                            if details {
                                serde_json::to_value(record).unwrap_or_default()
                            } else {
                                serde_json::json!({
                                    "id": record.id,
                                    "type": record.kind,
                                    "status": record.status,
                                })
                            }
                        })
                        .collect();
                    let body = serde_json::json!({ "instances": instances });
                    (StatusCode::OK, JSON, body.to_string().into_bytes())
                }
                Err(error) => {
                    tracing::warn!(%error, "the service registry could not be read");
                    let message = if details {
                        format!("the service registry could not be read: {error}")
                    } else {
                        "the service registry could not be read".to_owned()
                    };
                    let body = serde_json::json!({ "error": message });
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        JSON,
                        body.to_string().into_bytes(),
                    )
                }
            };
        }
        let _ = details;
        (
            StatusCode::NOT_FOUND,
            JSON,
            br#"{"error":"not found"}"#.to_vec(),
        )
    }

    /// `GET <base>/fleet`: the fleet view, 200 or 503 by the fleet's rule; 503 with a JSON
    /// error when the store cannot be read. Without details, only the verdict.
    async fn fleet_endpoint(
        &self,
        filter: &FleetFilter,
        text: bool,
        details: bool,
    ) -> (StatusCode, &'static str, Vec<u8>) {
        match self.inner.health.fleet().read(filter).await {
            Ok(view) => {
                let status = if view.healthy {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                match (text, details) {
                    (true, true) => (status, TEXT, view.to_text().into_bytes()),
                    (true, false) => {
                        let word: &[u8] = if view.healthy { b"OK\n" } else { b"FAIL\n" };
                        (status, TEXT, word.to_vec())
                    }
                    (false, true) => (status, JSON, view.to_json().into_bytes()),
                    (false, false) => {
                        let body =
                            serde_json::json!({ "healthy": view.healthy, "rule": view.rule });
                        (status, JSON, body.to_string().into_bytes())
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "the fleet store could not be read");
                let message = if details {
                    format!("the fleet store could not be read: {error}")
                } else {
                    "the fleet store could not be read".to_owned()
                };
                let body = serde_json::json!({ "healthy": false, "error": message });
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    JSON,
                    body.to_string().into_bytes(),
                )
            }
        }
    }

    fn names_in_probe(&self, probe: Probe, excluded: &[&str]) -> Vec<&str> {
        self.inner
            .health
            .checks()
            .filter(|c| c.in_probe(probe) && !excluded.contains(&c.name()))
            .map(|c| c.name())
            .collect()
    }

    async fn probe_endpoint(
        &self,
        probe: Probe,
        name: Option<&str>,
        verbose: bool,
        excluded: &[String],
        details: bool,
    ) -> Result<(StatusCode, &'static str, Vec<u8>), (StatusCode, String)> {
        let path = match probe {
            Probe::Liveness => "livez",
            Probe::Readiness => "readyz",
            Probe::Startup => "startupz",
        };
        if let Some(name) = name {
            if !self.inner.health.checks().any(|c| c.name() == name) {
                return Err((
                    StatusCode::NOT_FOUND,
                    format!("no health check is named `{name}`"),
                ));
            }
            let report = self.report_for(&[name]).await;
            let component = &report.components[name];
            let status = if component.healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            return Ok((
                status,
                TEXT,
                render::single_check_text(name, component, details),
            ));
        }
        let skipped: Vec<&str> = excluded.iter().map(String::as_str).collect();
        let report = self.report_for(&self.names_in_probe(probe, &skipped)).await;
        let status = if report.service_healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        Ok((
            status,
            TEXT,
            render::probe_text(path, &report, excluded, verbose, details),
        ))
    }

    async fn ping(&self) -> (StatusCode, &'static str, Vec<u8>) {
        let alive = match &self.inner.options.ping {
            Some(ping) => ping().await,
            None => {
                let report = self
                    .report_for(&self.names_in_probe(Probe::Liveness, &[]))
                    .await;
                report.components.values().all(|c| c.healthy)
            }
        };
        if alive {
            (StatusCode::OK, TEXT, b"OK".to_vec())
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, TEXT, b"FAIL".to_vec())
        }
    }

    /// The report of `names`: fresh stored results where there are, a run of the others.
    async fn report_for(&self, names: &[&str]) -> Report {
        let inner = &self.inner;
        if self.stores_nothing() {
            // Nothing stored is ever read: run the checks, keep nothing.
            return inner.health.run_names(names).await.unwrap_or_else(|error| {
                tracing::warn!(%error, "the health checks could not run");
                inner.health.failed_report(&error.to_string())
            });
        }
        let now = SystemTime::now();
        let stored = inner.store.load(names).await;
        let mut components = BTreeMap::new();
        let mut oldest = now;
        let mut stale = Vec::new();
        for (&name, stored) in names.iter().zip(stored) {
            let refreshed = inner.refresh_intervals.get(name);
            match (stored, refreshed) {
                (Some(result), Some(refreshed)) => {
                    let age = now.duration_since(result.checked_at).unwrap_or_default();
                    if age > refreshed.stale_after {
                        // The refresh has stopped producing results (a store that drops them,
                        // a check that cannot be run): never serve the old one as current.
                        let message = format!("no fresh result since {}", HumanDuration(age));
                        components.insert(name.to_owned(), self.placeholder(name, message));
                    } else {
                        oldest = oldest.min(result.checked_at);
                        components.insert(name.to_owned(), result.component);
                    }
                }
                (Some(result), None) if is_fresh(result.checked_at, now, inner.options.ttl) => {
                    oldest = oldest.min(result.checked_at);
                    components.insert(name.to_owned(), result.component);
                }
                (None, Some(_)) => {
                    let message = "no result yet: the background refresh has not run it";
                    components.insert(name.to_owned(), self.placeholder(name, message.into()));
                }
                _ => stale.push(name),
            }
        }
        if !stale.is_empty() {
            let fresh = refresh::run_and_store(inner, &stale).await;
            if components.is_empty() {
                components = fresh.components;
            } else {
                components.extend(fresh.components);
            }
        }
        let timestamp = DateTime::<Utc>::from(oldest).trunc_subsecs(3);
        inner.health.assemble(timestamp, components)
    }

    /// Whether no stored result is ever read: no cache and no background refresh.
    fn stores_nothing(&self) -> bool {
        self.inner.options.ttl.is_zero() && self.inner.refresh_intervals.is_empty()
    }

    /// An unhealthy component with `message` in place of a result of check `name`.
    fn placeholder(&self, name: &str, message: String) -> ComponentReport {
        let check = self.inner.health.check(name);
        let critical = check.is_none_or(|c| c.is_critical());
        let groups = check.into_iter().flat_map(|c| c.groups());
        ComponentReport::new(Component::unhealthy(message), critical, groups)
    }

    fn shutting_down(&self, endpoint: &Endpoint, method: &Method) -> HealthResponse {
        let (content_type, body): (&'static str, Vec<u8>) = match endpoint {
            Endpoint::Report => (
                JSON,
                serde_json::json!({
                    "service_healthy": false,
                    "status": "unhealthy",
                    "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "components": {},
                    "status_message": "shutting down",
                })
                .to_string()
                .into_bytes(),
            ),
            Endpoint::Heartbeat(_) => (
                JSON,
                br#"{"status":false,"message":"shutting down"}"#.to_vec(),
            ),
            // Never reached: the fleet is not a readiness endpoint.
            Endpoint::Probe(..)
            | Endpoint::Ping
            | Endpoint::Fleet
            | Endpoint::Registry
            | Endpoint::Environ
            | Endpoint::Status
            | Endpoint::StatusPage
            | Endpoint::Metrics => (TEXT, b"shutting down".to_vec()),
        };
        let mut response = self.respond(
            StatusCode::SERVICE_UNAVAILABLE,
            content_type,
            Bytes::from(body),
            method,
        );
        response
            .headers
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    fn respond(
        &self,
        status: StatusCode,
        content_type: &'static str,
        body: Bytes,
        method: &Method,
    ) -> HealthResponse {
        let mut headers = HeaderMap::with_capacity(3);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if content_type == HTML {
            headers.insert(
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(HTML_POLICY),
            );
            headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        }
        headers.insert(CACHE_CONTROL, self.inner.cache_control.clone());
        let body = if method == Method::HEAD {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
            Bytes::new()
        } else {
            body
        };
        HealthResponse {
            status,
            headers,
            body,
        }
    }

    fn error(
        &self,
        text: bool,
        status: StatusCode,
        message: &str,
        method: &Method,
    ) -> HealthResponse {
        let (content_type, body) = if text {
            // A check name from the path may hold a newline: keep the body one line.
            (TEXT, OneLine(message).to_string().into_bytes())
        } else {
            (JSON, render::error_json(message))
        };
        let mut response = self.respond(status, content_type, Bytes::from(body), method);
        response
            .headers
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

fn is_fresh(checked_at: SystemTime, now: SystemTime, ttl: Duration) -> bool {
    now.duration_since(checked_at).is_ok_and(|age| age < ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Check;
    use crate::metrics::MetricsConfig;

    fn get<'a>(path: &'a str, query: &'a str, headers: &'a HeaderMap) -> HealthRequest<'a> {
        HealthRequest {
            method: &Method::GET,
            path,
            query: Some(query),
            headers,
        }
    }

    #[tokio::test]
    async fn queries_that_change_nothing_use_the_endpoint_slot() {
        let health = HealthChecks::builder()
            .without_registered_checks()
            .metrics(MetricsConfig::disabled())
            .check(Check::new("db", || async { true }).groups(["back"]))
            .check(Check::new("heart", || async { true }).probes([Probe::Liveness]))
            .build()
            .expect("valid checks");
        let handler = HttpOptions::new()
            .cache_ttl(Duration::from_secs(60))
            .build(health)
            .expect("valid options");
        let headers = HeaderMap::new();
        let responses = &handler.inner.responses;
        for n in 0..1000 {
            let unknown = format!("x={n}");
            for (path, query) in [
                ("/healthcheck", unknown.as_str()),
                ("/healthcheck", "format=json&x"),
                ("/readyz", unknown.as_str()),
                ("/readyz", "verbose=0&exclude=nope&exclude=heart"),
                ("/livez", "exclude=db"),
                ("/ping", unknown.as_str()),
                ("/.well-known/heartbeat/readiness", unknown.as_str()),
            ] {
                let response = handler.handle(get(path, query, &headers)).await;
                assert_eq!(response.status, StatusCode::OK, "{path}?{query}");
            }
            let head = HealthRequest {
                method: &Method::HEAD,
                ..get("/healthcheck", &unknown, &headers)
            };
            assert_eq!(handler.handle(head).await.status, StatusCode::OK);
        }
        assert_eq!(responses.keyed_size(), (0, 0), "nothing in the keyed map");

        // Queries that do change the response: one entry per canonical form.
        for query in [
            "group=back",
            "group=back&group=back",
            "x=1&group=back",
            "group=back&format=json",
        ] {
            handler.handle(get("/healthcheck", query, &headers)).await;
        }
        for query in [
            "verbose",
            "verbose=1&x=2",
            "verbose&exclude=nope",
            "exclude=nope&verbose=true",
        ] {
            handler.handle(get("/readyz", query, &headers)).await;
        }
        for query in ["exclude=db", "exclude=db&exclude=db&exclude=heart"] {
            handler.handle(get("/readyz", query, &headers)).await;
        }
        assert_eq!(responses.keyed_size().0, 3);
    }
}
