//! HTTP endpoints for the health report, for any web framework.
//!
//! [`HealthHandler`] is the framework-agnostic core: method, path, query and headers in; status,
//! headers and body out. Thin adapters mount it in [`axum`] (feature `axum`),
//! [`actix-web`](actix) (feature `actix-web`) and any [`tower`] stack (feature `tower`, which
//! also serves hyper); [`server`] (feature `server`) runs it on a port of its own.
//!
//! # Endpoints (under an optional base path)
//! | path | answers |
//! |---|---|
//! | `GET /healthcheck` | the panopticon JSON report of the readiness checks; 200, or 503 when unhealthy. `?group=` (repeatable) narrows it (unknown group: 404). `?format=health+json` or `Accept: application/health+json`: the IETF health-check draft; `?format=text`: one line per component |
//! | `GET /livez`, `/readyz`, `/startupz` | Kubernetes probe semantics: `ok`; `?verbose` lists `[+]name ok` / `[-]name failed: reason`; `?exclude=name` (repeatable) skips a check; `/readyz/<name>` runs one check (unknown: 404); 503 on failure |
//! | `GET /.well-known/heartbeat/readiness`, `/liveliness` | oarepo-heartbeat's `{"status": bool, "checks": {...}}`; 200 or 500 |
//! | `GET /ping` | `OK` when every liveness check is healthy (or as [`HttpOptions::ping`] says), else 503 |
//! | `GET /fleet` | the [fleet](crate::fleet::Fleet): every instance's results in the shared store as check → group → host, 200 or 503 by the fleet's rule; `?service=` (`*` for all; defaults to this service), `?check=`, `?group=`, `?format=text` (one line per result: `database at web-1 [db] -> OK 3 s`); 503 with a JSON error when the store cannot be read |
//! | `GET /registry` | with `HttpOptions::registry` (feature `registry`): the service registry's instances, `{"instances": [...]}` (without details only each one's `id`, `type` and `status`); 503 with a JSON error when etcd cannot be read |
//! | `GET /environ` | with `HttpOptions::environ` (feature `status`): what the application was built from (`environ!`), as JSON; without details only `name` and `version` |
//! | `GET /status` | with `HttpOptions::status` (feature `status`): the service's status as JSON (`ServiceStatus`: name, version, start, uptime, checks, workers, event counters, metrics, fleet store, its configuration with secrets masked); without details only `name`, `started` and `uptime_seconds` |
//! | `GET /status.html` | with `HttpOptions::status_page` (feature `status`; at `StatusPage::path` if set): an HTML page with the verdict, each check with its status, message, response time, groups and a sparkline of its recent runs, and the fleet's check → group → host grid when a shared store is configured; no script, a `Content-Security-Policy` that allows none, everything from checks escaped; without details only the verdict; always 200, whatever the verdict (monitors read the JSON endpoints' status codes) |
//! | `POST /heartbeat/<name>` | beats a [heartbeat](crate::Heartbeat): `?message=` with a good beat, `?failed=<reason>` for a failed one; 200, 404 for an unknown name, 401 without the details token when one is set |
//! | `GET /metrics` | with checks built with [`HealthChecksBuilder::prometheus`](crate::HealthChecksBuilder::prometheus) (feature `prometheus`): the Prometheus metrics as OpenMetrics text; with a details token only for callers that send it (401), 403 with [`Details::Never`]; [`HttpOptions::metrics_path`] moves it or turns it off |
//! | `POST /events` | with `HttpOptions::events` (feature `events`): one JSON document, queued for the application's handler; 200 `{"result": true, "message": "Event received"}`, 400 when it is not JSON, 413 over the size limit, 503 with `Retry-After` when the queue is full, 401 without the details token when one is set. Adapters pass the body with [`HealthHandler::handle_with_body`], reading at most [`HealthHandler::body_limit`] bytes; the standalone `server` also takes events as UDP datagrams on its port |
//!
//! The endpoints that need an option are not served without it (404). `HEAD` answers like `GET`
//! without a body; other methods get 405 with `Allow`; a bad query is 400 with a JSON error body
//! (plain text on the probe endpoints).
//!
//! # Example
//! ```
//! use healthcheck::{HealthChecks, http::{HealthRequest, HttpOptions}};
//! use ::http::{HeaderMap, Method, StatusCode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), healthcheck::Error> {
//! let handler = HttpOptions::new().build(HealthChecks::builder().build()?)?;
//! let headers = HeaderMap::new();
//! let response = handler
//!     .handle(HealthRequest { method: &Method::GET, path: "/readyz", query: None, headers: &headers })
//!     .await;
//! assert_eq!(response.status, StatusCode::OK);
//! # Ok(())
//! # }
//! ```

#[cfg(any(feature = "axum", feature = "tower"))]
mod body;
mod cache;
mod handler;
mod options;
mod query;
mod refresh;
mod render;
mod store;

#[cfg(feature = "actix-web")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
pub mod actix;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

pub use handler::{HealthHandler, HealthRequest, HealthResponse, RequestBody};
pub use options::{Details, HttpOptions};
pub use store::{MemoryStore, ResultStore, StoreFuture, StoredResult};

/// The paths of the endpoints, in the route syntax of axum and actix-web.
#[cfg(any(feature = "axum", feature = "actix-web"))]
pub(crate) const ROUTES: [&str; 12] = [
    "/healthcheck",
    "/livez",
    "/livez/{name}",
    "/readyz",
    "/readyz/{name}",
    "/startupz",
    "/startupz/{name}",
    "/.well-known/heartbeat/readiness",
    "/.well-known/heartbeat/liveliness",
    "/ping",
    "/heartbeat/{name}",
    "/fleet",
];
