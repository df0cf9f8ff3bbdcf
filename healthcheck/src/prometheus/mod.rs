//! Prometheus metrics of the checks, on [`prometheus_client`]: each check's status, runs and
//! durations, and the service's verdict, as OpenMetrics text for `GET <base>/metrics`, or
//! registered into the application's own [`Registry`].
//!
//! Under the prefix (`healthcheck` by default):
//!
//! | name | type | labels | value |
//! |---|---|---|---|
//! | `<prefix>_check_healthy` | gauge | `check`, `group` | 1 when the reported status is healthy or degraded, 0 when unhealthy; one series per group of the check, `group=""` for a check in none |
//! | `<prefix>_check_status` | gauge | `check`, `status` | a state set: 1 for the reported status, 0 for the other two of `healthy`, `degraded`, `unhealthy` |
//! | `<prefix>_check_duration_seconds` | histogram | `check` | how long each execution took, in the configured buckets |
//! | `<prefix>_check_runs_total` | counter | `check`, `result` | executions, by the check's own result before flap suppression (`healthy`, `degraded`, `unhealthy`), so flapping stays visible |
//! | `<prefix>_check_last_run_timestamp_seconds` | gauge | `check` | when the check last finished, in seconds since the Unix epoch |
//! | `<prefix>_service_healthy` | gauge | | 1 when the service's verdict is healthy, 0 when not |
//!
//! What accumulates is there from the start: each check's runs counters and duration histogram
//! are at 0 before it first runs. What states something appears with the first run: a check's
//! `check_healthy`, `check_status` and `check_last_run_timestamp_seconds` series after its first
//! execution, `service_healthy` after the first run of every check. An absent series means "not
//! known yet", never "unhealthy". A family with no series yet is left out of the exposition.
//! Prometheus stores a label with an empty value as no label: `check_healthy` of a check in no
//! group has only `check`.
//!
//! There is no `status` label on `check_healthy`: a label whose value changes leaves a stale
//! series behind at each change. The status is in `check_status`, whose three series always
//! exist together.
//!
//! The handles of the series are made once, when the [`HealthChecks`](crate::HealthChecks) is
//! built (those that state something, at the check's first execution): recording an execution
//! then does no label hashing and no map look-up, it only updates atomics and the histogram.
//!
//! The application's registry is `prometheus-client` 0.26's [`Registry`]: an application on
//! another version of `prometheus-client` serves [`Prometheus::encode`] instead.
//!
//! # Example
//! ```
//! use healthcheck::prometheus::Prometheus;
//! use prometheus_client::registry::Registry;
//!
//! let prometheus = Prometheus::new()
//!     .prefix("payments_health")
//!     .buckets([0.01, 0.1, 1.0, 10.0]);
//!
//! // Served by the SDK at `GET <base>/metrics`: OpenMetrics text. Families appear with their
//! // first series; before the checks are built with it there is none.
//! assert_eq!(prometheus.encode(), "# EOF\n");
//! assert!(Prometheus::CONTENT_TYPE.starts_with("application/openmetrics-text"));
//!
//! // Or by the application, next to its own metrics: the same series, shared.
//! let mut registry = Registry::default();
//! prometheus.register(&mut registry);
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::{Error, Status};

mod histogram;
mod recorder;
#[cfg(test)]
mod tests;

use histogram::{AtomicHistogram, TimestampGauge};
pub(crate) use recorder::Recorder;

/// The metric name prefix unless [`Prometheus::prefix`] sets another.
pub const DEFAULT_PREFIX: &str = "healthcheck";

/// The histogram buckets of check durations, in seconds, unless [`Prometheus::buckets`] sets
/// others: from half a millisecond to ten seconds.
pub const DEFAULT_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Settings and the registry of the SDK's Prometheus metrics.
///
/// Cloning is cheap and the clones share the metrics. A setting ([`prefix`](Self::prefix),
/// [`buckets`](Self::buckets)) returns a `Prometheus` with metrics of its own: set them first,
/// then [`register`](Self::register) it and build the [`HealthChecks`](crate::HealthChecks).
///
/// Two `Prometheus` are independent, even in one process and under one prefix. A
/// [`HealthChecks`](crate::HealthChecks) records into the `Prometheus` it was built with; two
/// built with the same one write the same series for checks of the same name.
#[derive(Clone)]
pub struct Prometheus {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: String,
    buckets: Arc<[f64]>,
    families: Families,
    /// The SDK's own registry: the families under the prefix; empty when a setting is invalid.
    registry: Registry,
    /// The length of the last exposition, to size the next one's buffer at once.
    last_len: AtomicUsize,
}

impl Prometheus {
    /// The content type to serve [`encode`](Self::encode)'s text with.
    pub const CONTENT_TYPE: &'static str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// Metrics under the prefix `healthcheck`, with the default duration buckets
    /// ([`DEFAULT_BUCKETS`]), in a registry of the SDK's own.
    #[must_use]
    pub fn new() -> Self {
        Self::with(DEFAULT_PREFIX.to_owned(), Arc::new(DEFAULT_BUCKETS))
    }

    /// The metric name prefix: `<prefix>_check_healthy`, and so on. Defaults to `healthcheck`.
    ///
    /// It must match `[a-zA-Z_:][a-zA-Z0-9_:]*`. One that does not makes
    /// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
    /// [`Error::InvalidSetting`]; until then such a `Prometheus` has no metrics to encode or
    /// register.
    #[must_use]
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        Self::with(prefix.into(), Arc::clone(&self.inner.buckets))
    }

    /// The upper bounds of the histogram buckets of check durations, in seconds; the `+Inf`
    /// bucket is always there and is not to be given. Defaults to [`DEFAULT_BUCKETS`].
    ///
    /// They must be finite, strictly increasing, and at least one. Others make
    /// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
    /// [`Error::InvalidSetting`]; until then such a `Prometheus` has no metrics to encode or
    /// register.
    #[must_use]
    pub fn buckets(self, buckets: impl IntoIterator<Item = f64>) -> Self {
        Self::with(self.inner.prefix.clone(), buckets.into_iter().collect())
    }

    /// Registers the SDK's metric families into the application's `registry` too, so that an
    /// application that already serves its own metrics exposes these with them. They are the
    /// same metrics, not copies: both registries show every execution.
    ///
    /// They go in under the prefix, below the registry's own prefix and with its own labels, if
    /// it has any. Register once per registry: each call adds the families again. With an
    /// invalid setting nothing is registered, and a warning is logged.
    pub fn register(&self, registry: &mut Registry) {
        match self.validate() {
            Ok(()) => self.inner.families.register(registry, &self.inner.prefix),
            Err(error) => {
                tracing::warn!(%error, "the Prometheus metrics are not registered");
            }
        }
    }

    /// The text exposition of the SDK's own registry: OpenMetrics text as `prometheus-client`
    /// encodes it, ending with `# EOF`. Serve it with [`CONTENT_TYPE`](Self::CONTENT_TYPE).
    ///
    /// With an invalid setting it holds no metric, only the `# EOF` line.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(self.inner.last_len.load(Ordering::Relaxed));
        if let Err(error) =
            prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
        {
            // Writing into a `String` does not fail; this is the encoder's own refusal.
            tracing::warn!(%error, "the Prometheus metrics could not be encoded");
        }
        self.inner.last_len.store(text.len(), Ordering::Relaxed);
        text
    }

    fn with(prefix: String, buckets: Arc<[f64]>) -> Self {
        let families = Families::new(&buckets);
        let mut registry = Registry::default();
        let valid = validate(&prefix, &buckets).is_ok();
        if valid {
            families.register(&mut registry, &prefix);
        }
        Self {
            inner: Arc::new(Inner {
                prefix,
                buckets,
                families,
                registry,
                last_len: AtomicUsize::new(0),
            }),
        }
    }

    /// The settings' first problem, if any.
    fn validate(&self) -> Result<(), Error> {
        validate(&self.inner.prefix, &self.inner.buckets)
    }
}

impl Default for Prometheus {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prometheus")
            .field("prefix", &self.inner.prefix)
            .field("buckets", &self.inner.buckets)
            .finish_non_exhaustive()
    }
}

fn validate(prefix: &str, buckets: &[f64]) -> Result<(), Error> {
    let invalid = |setting, value: String, reason: &str| Error::InvalidSetting {
        setting,
        value,
        reason: reason.to_owned(),
    };
    let mut chars = prefix.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        return Err(invalid(
            "Prometheus prefix",
            prefix.to_owned(),
            "a metric name prefix matches [a-zA-Z_:][a-zA-Z0-9_:]*",
        ));
    }
    let reason = if buckets.is_empty() {
        Some("at least one bucket is needed")
    } else if buckets.iter().any(|bound| !bound.is_finite()) {
        Some("bucket bounds are finite (the +Inf bucket is always there)")
    } else if buckets.windows(2).any(|pair| pair[0] >= pair[1]) {
        Some("bucket bounds are strictly increasing")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(invalid(
            "Prometheus buckets",
            format!("{buckets:?}"),
            reason,
        )),
        None => Ok(()),
    }
}

/// The lowercase word of a status in the labels, and its slot in per-status arrays.
const STATUSES: [Status; 3] = [Status::Healthy, Status::Degraded, Status::Unhealthy];

const fn slot(status: Status) -> usize {
    match status {
        Status::Healthy => 0,
        Status::Degraded => 1,
        Status::Unhealthy => 2,
    }
}

/// The metric families; clones share their series.
#[derive(Clone, Debug)]
struct Families {
    healthy: Family<GroupLabels, Gauge>,
    status: Family<StatusLabels, Gauge>,
    duration: Family<CheckLabels, AtomicHistogram, Buckets>,
    runs: Family<ResultLabels, Counter>,
    last_run: Family<CheckLabels, TimestampGauge>,
    service: Family<NoLabels, Gauge>,
}

impl Families {
    fn new(buckets: &Arc<[f64]>) -> Self {
        Self {
            healthy: Family::default(),
            status: Family::default(),
            duration: Family::new_with_constructor(Buckets(Arc::clone(buckets))),
            runs: Family::default(),
            last_run: Family::default(),
            service: Family::default(),
        }
    }

    /// Registers the families under `prefix` (the help texts get their full stop from
    /// `prometheus-client`, counters their `_total`, and metrics with a unit its suffix).
    fn register(&self, registry: &mut Registry, prefix: &str) {
        let registry = registry.sub_registry_with_prefix(prefix);
        registry.register(
            "check_healthy",
            "1 when the check's last reported status is healthy or degraded, 0 when unhealthy; \
             one series per group of the check, an empty group for a check in none",
            self.healthy.clone(),
        );
        registry.register(
            "check_status",
            "The check's last reported status: 1 for it, 0 for the other two of healthy, \
             degraded and unhealthy",
            self.status.clone(),
        );
        registry.register_with_unit(
            "check_duration",
            "How long each execution of the check took",
            Unit::Seconds,
            self.duration.clone(),
        );
        registry.register(
            "check_runs",
            "Executions of the check, by its own result before flap suppression",
            self.runs.clone(),
        );
        registry.register_with_unit(
            "check_last_run_timestamp",
            "When the check last finished, in seconds since the Unix epoch",
            Unit::Seconds,
            self.last_run.clone(),
        );
        registry.register(
            "service_healthy",
            "1 when the service's last verdict is healthy, 0 when unhealthy",
            self.service.clone(),
        );
    }
}

/// Makes each check's histogram with the configured buckets.
#[derive(Clone, Debug)]
struct Buckets(Arc<[f64]>);

impl MetricConstructor<AtomicHistogram> for Buckets {
    fn new_metric(&self) -> AtomicHistogram {
        AtomicHistogram::new(&self.0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    check: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    check: Arc<str>,
    group: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    check: Arc<str>,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    check: Arc<str>,
    result: &'static str,
}

/// The one series of a family without labels, made when it is first set (a plain registered
/// gauge would be there, at 0, from the start).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct NoLabels;

impl EncodeLabelSet for NoLabels {
    fn encode(&self, _encoder: &mut LabelSetEncoder<'_>) -> Result<(), fmt::Error> {
        Ok(())
    }
}

/// For the benchmarks: the crate-internal recorder, reachable from `benches/`.
#[doc(hidden)]
pub mod __bench {
    use std::time::{Duration, SystemTime};

    use super::{Prometheus, Recorder};
    use crate::{Error, Status};

    /// The crate-internal recorder, for benchmarks. Not part of the API.
    #[derive(Debug)]
    pub struct BenchRecorder(Recorder);

    impl BenchRecorder {
        /// `Recorder::new`.
        ///
        /// # Errors
        /// As `Recorder::new`: [`Error::InvalidSetting`] for an invalid setting.
        pub fn new(prometheus: &Prometheus, checks: &[(&str, &[&str])]) -> Result<Self, Error> {
            Recorder::new(
                prometheus,
                checks
                    .iter()
                    .map(|(name, groups)| (*name, groups.iter().copied())),
            )
            .map(Self)
        }

        /// `Recorder::record`.
        pub fn record(
            &self,
            index: usize,
            status: Status,
            raw: Status,
            duration: Duration,
            finished: SystemTime,
        ) {
            self.0.record(index, status, raw, duration, finished);
        }

        /// `Recorder::service`.
        pub fn service(&self, status: Status) {
            self.0.service(status);
        }
    }
}
