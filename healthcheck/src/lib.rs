//! Health checks for Rust services.
//!
//! Annotate functions with [`#[healthcheck]`](macro@healthcheck); they are registered at link
//! time. [`HealthChecks`] collects them, runs them concurrently, each under a timeout, times each
//! call, and renders a [`Report`] in python-panopticon's JSON format (`service_healthy`,
//! `timestamp`, `components`), ready to be served by any web framework.
//!
//! # Example
//! ```
//! use healthcheck::{healthcheck, Component, HealthChecks};
//!
//! /// Healthy when the query works; an `Err` is unhealthy with its message.
//! #[healthcheck(timeout = "500ms")]
//! async fn database() -> Result<(), std::io::Error> {
//!     Ok(())
//! }
//!
//! /// python-panopticon's style: fill in the component.
//! #[healthcheck(groups = ["back"], critical = false)]
//! fn background_jobs(component: &mut Component) {
//!     component.set_healthy(true);
//!     component.insert("queued_jobs", 423);
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), healthcheck::Error> {
//! let health = HealthChecks::builder().build()?;
//! let report = health.run().await;
//! assert!(report.service_healthy);
//! assert_eq!(report.components["background_jobs"].extra["queued_jobs"], 423);
//! # Ok(())
//! # }
//! ```
//!
//! # Forms of a check
//! A check is a free `fn` or `async fn` (a blocking `fn` runs on the blocking thread pool, never
//! on the async executor) that either
//! - takes no argument and returns `bool`, `Result<T, E>` (`E: Display`; a `T` other than `()`
//!   adds its fields to the component), [`Component`] or [`Status`] — see [`IntoComponent`]; or
//! - takes `&mut Component` and returns nothing, filling in the component, which starts
//!   unhealthy with "Health check didn't provide a status.".
//!
//! Checks that capture state (a pool, a client) are registered at run time with [`Check`].
//! Work that is not a request (a cron job, a queue consumer) reports in through a
//! [`Heartbeat`], beaten with [`HealthChecks::beat`].
//!
//! # The linker pitfall
//! `#[healthcheck]` functions in a library crate that the binary never refers to are dropped by
//! the linker, and so never registered. Refer to the crate from the binary: `use my_checks as _;`.
//! [`HealthChecksBuilder::build`] logs a warning when it finds no check at all.

#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's code blocks, compiled and run as doctests.
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "actix-web",
    feature = "server",
    feature = "http",
    feature = "postgres",
    feature = "redis",
    feature = "etcd",
    feature = "disk",
    feature = "memory",
    feature = "registry",
    feature = "cli",
    feature = "workers",
    feature = "status",
    feature = "events",
    feature = "prometheus",
    feature = "dogstatsd"
))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

mod check;
pub mod checks;
#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;
mod component;
mod error;
#[cfg(feature = "events")]
#[cfg_attr(docsrs, doc(cfg(feature = "events")))]
pub mod events;
pub mod fleet;
mod health;
mod history;
pub mod http;
mod json;
mod linked;
pub mod metrics;
mod outcome;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;
mod readiness;
#[cfg(feature = "registry")]
#[cfg_attr(docsrs, doc(cfg(feature = "registry")))]
pub mod registry;
mod report;
mod run;
#[cfg(feature = "status")]
#[cfg_attr(docsrs, doc(cfg(feature = "status")))]
pub mod status;
#[cfg(feature = "workers")]
#[cfg_attr(docsrs, doc(cfg(feature = "workers")))]
pub mod workers;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use check::{BoxFuture, Check, CheckDef, Probe, SourceLocation};
pub use component::{Component, Status};
pub use error::Error;
pub use fleet::{Beat, Heartbeat, Identity};
pub use health::{DEFAULT_TIMEOUT, HealthChecks, HealthChecksBuilder, TIMEOUT_ENV};
pub use healthcheck_macros::healthcheck;
pub use history::{DEFAULT_HISTORY, HISTORY_MESSAGE_MAX, HistoryEntry};
pub use metrics::{CaptureSink, Destination, MetricSink, MetricsConfig, Statsd};
pub use outcome::IntoComponent;
pub use report::{ComponentReport, Report, default_reduce};
pub use run::selection::Selection;
