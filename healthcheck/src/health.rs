//! [`HealthChecks`]: the registered checks, ready to run; and its builder.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use tokio::runtime::{Handle, Runtime};

use crate::check::{Check, CheckDef, CheckRef};
use crate::component::{Component, Status};
use crate::error::Error;
use crate::fleet::{
    Beat, BeatCell, Finding, Fleet, FleetConfig, Heartbeat, Identity, IdentitySettings,
    PublishStatus, Publisher, ResolvedFleet, SharedBeats,
};
use crate::history::{DEFAULT_HISTORY, HistoryEntry};
use crate::linked;
use crate::metrics::{CheckRecord, Message, MetricsConfig, Pipeline, RunRecord, Statsd};
use crate::readiness::ReadinessState;
use crate::report::{ComponentReport, Report, default_reduce};
use crate::run::{self as runner, selection::Selection};

/// The timeout of a check that sets none, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The environment variable that sets the default timeout (`500ms`, `2s`, ...).
pub const TIMEOUT_ENV: &str = "HEALTHCHECK_TIMEOUT";

type Filter = dyn Fn(&CheckDef) -> bool + Send + Sync;
type Reduce = dyn Fn(&BTreeMap<String, ComponentReport>) -> Status + Send + Sync;

/// Builds a [`HealthChecks`]: which checks, the default timeout, and the rule for the service's
/// status.
#[must_use = "a builder does nothing until build() is called"]
pub struct HealthChecksBuilder {
    registered: bool,
    filter: Option<Box<Filter>>,
    checks: Vec<Check>,
    heartbeats: Vec<Heartbeat>,
    identity: IdentitySettings,
    default_timeout: Option<Duration>,
    reduce: Option<Arc<Reduce>>,
    metrics: MetricsConfig,
    fleet: FleetConfig,
    history: usize,
    #[cfg(feature = "prometheus")]
    prometheus: Option<crate::prometheus::Prometheus>,
}

impl fmt::Debug for HealthChecksBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthChecksBuilder")
            .field("registered", &self.registered)
            .field("filtered", &self.filter.is_some())
            .field("checks", &self.checks)
            .field("heartbeats", &self.heartbeats)
            .field("identity", &self.identity)
            .field("default_timeout", &self.default_timeout)
            .field("custom_reduce", &self.reduce.is_some())
            .field("metrics", &self.metrics)
            .field("fleet", &self.fleet)
            .finish()
    }
}

impl HealthChecksBuilder {
    fn new() -> Self {
        Self {
            registered: true,
            filter: None,
            checks: Vec::new(),
            heartbeats: Vec::new(),
            identity: IdentitySettings::default(),
            default_timeout: None,
            reduce: None,
            metrics: MetricsConfig::new(),
            fleet: FleetConfig::new(),
            history: DEFAULT_HISTORY,
            #[cfg(feature = "prometheus")]
            prometheus: None,
        }
    }

    /// Where this instance publishes its results for the fleet, and how the fleet is read.
    /// Defaults to [`FleetConfig::new`]: the store `HEALTHCHECK_STORE` names, else a store in
    /// memory of this instance's own.
    pub fn fleet(mut self, fleet: FleetConfig) -> Self {
        self.fleet = fleet;
        self
    }

    /// How Datadog metrics are sent. Defaults to [`MetricsConfig::new`]: on, to the agent the
    /// environment names (`DD_DOGSTATSD_URL`, `DD_AGENT_HOST`), else `127.0.0.1:8125`.
    pub fn metrics(mut self, metrics: MetricsConfig) -> Self {
        self.metrics = metrics;
        self
    }

    /// The timeout of checks that set none. Defaults to the value of the `HEALTHCHECK_TIMEOUT`
    /// environment variable (such as `500ms` or `2s`), or else to 2 seconds.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = Some(timeout);
        self
    }

    /// Adds a check registered at run time: a [`Check`], or a built-in checker of
    /// [`checks`](crate::checks) (whose malformed URL or address makes [`build`](Self::build)
    /// fail with [`Error::InvalidCheck`]).
    pub fn check(mut self, check: impl Into<Check>) -> Self {
        self.checks.push(check.into());
        self
    }

    /// Exports Prometheus metrics of every execution and run (see
    /// [`prometheus`](crate::prometheus)): served at `GET <base>/metrics` by the HTTP handler,
    /// or registered into the application's own registry with
    /// [`Prometheus::register`](crate::prometheus::Prometheus::register). Works alongside
    /// DogStatsD or alone ([`MetricsConfig::disabled`]).
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn prometheus(mut self, prometheus: crate::prometheus::Prometheus) -> Self {
        self.prometheus = Some(prometheus);
        self
    }

    /// How many recent results each check keeps for [`HealthChecks::history`] and the status
    /// page's sparklines. Defaults to 60; zero keeps none.
    pub fn history(mut self, len: usize) -> Self {
        self.history = len;
        self
    }

    /// Adds checks made at run time, as [`check`](Self::check) does one by one (the liveness
    /// checks of [`Workers`](crate::workers::Workers), say).
    pub fn checks(mut self, checks: impl IntoIterator<Item = impl Into<Check>>) -> Self {
        for check in checks {
            self = self.check(check);
        }
        self
    }

    /// The service this process belongs to, for its [`Identity`]. Defaults to `DD_SERVICE`, else
    /// the program's file name.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.identity.service = Some(service.into());
        self
    }

    /// The host this process publishes as, for its [`Identity`]. Defaults to
    /// `HEALTHCHECK_HOST`, else the machine's host name.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.identity.host = Some(host.into());
        self
    }

    /// The instance id this process publishes as, for its [`Identity`]: for several instances
    /// in one process (workers of their own), or an id that outlives restarts (a pod's name).
    /// Defaults to `HEALTHCHECK_INSTANCE`, else a random UUID per process.
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.identity.instance = Some(instance.into());
        self
    }

    /// Adds a label (`region`, `zone`, ...) to the process's [`Identity`]. `env` and `version`
    /// default to `DD_ENV` and `DD_VERSION`.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.identity.labels.push((key.into(), value.into()));
        self
    }

    /// Adds a heartbeat: a component that is healthy while its last beat (see
    /// [`HealthChecks::beat`]) is younger than its `max_age`.
    pub fn heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeats.push(heartbeat);
        self
    }

    /// Leaves out the `#[healthcheck]` functions: only the checks added with
    /// [`check`](Self::check) run.
    pub fn without_registered_checks(mut self) -> Self {
        self.registered = false;
        self
    }

    /// Keeps only the `#[healthcheck]` functions for which `keep` returns `true`, for example
    /// those of some groups. Checks added with [`check`](Self::check) are always kept.
    pub fn filter_registered(
        mut self,
        keep: impl Fn(&CheckDef) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.filter = Some(Box::new(keep));
        self
    }

    /// Replaces the rule that turns the components into the service's status. `service_healthy`
    /// is `status != Status::Unhealthy`. Defaults to [`default_reduce`].
    ///
    /// # Example
    /// ```
    /// use healthcheck::{HealthChecks, Status};
    ///
    /// // Healthy while at least one replica is healthy.
    /// let health = HealthChecks::builder()
    ///     .reduce(|components| {
    ///         if components.values().any(|c| c.healthy) { Status::Healthy } else { Status::Unhealthy }
    ///     })
    ///     .build()?;
    /// # Ok::<(), healthcheck::Error>(())
    /// ```
    pub fn reduce(
        mut self,
        reduce: impl Fn(&BTreeMap<String, ComponentReport>) -> Status + Send + Sync + 'static,
    ) -> Self {
        self.reduce = Some(Arc::new(reduce));
        self
    }

    /// Collects the checks and validates them.
    ///
    /// When there is no check at all, a warning is logged: `#[healthcheck]` functions in a library
    /// crate that the binary never refers to are dropped by the linker (add `use my_checks as _;`).
    ///
    /// # Errors
    /// - [`Error::DuplicateName`] when two checks have the same name (both locations are named);
    /// - [`Error::EmptyName`], [`Error::EmptyGroup`], [`Error::ZeroTimeout`] for a check with an
    ///   empty name, an empty group name or a zero timeout;
    /// - [`Error::ZeroDefaultTimeout`] when the default timeout is zero;
    /// - [`Error::ZeroMaxAge`] for a heartbeat whose `max_age` is zero (a heartbeat's name counts
    ///   like a check's for [`Error::DuplicateName`] and [`Error::EmptyName`]);
    /// - [`Error::InvalidEnv`] when `HEALTHCHECK_TIMEOUT` is not a duration, or a metrics
    ///   variable (`HEALTHCHECK_STATSD_ENABLED`, `HEALTHCHECK_STATSD_PREFIX`, `DD_DOGSTATSD_URL`,
    ///   `DD_DOGSTATSD_PORT`, `DD_TAGS`, ...) has a malformed value;
    /// - [`Error::InvalidSetting`] when the metrics prefix or a metrics tag given in code is
    ///   malformed (see [`MetricsConfig::prefix`] and [`MetricsConfig::tag`]), or the service or
    ///   a label is empty, longer than 200 characters or holds a control character;
    /// - [`Error::InvalidEnv`] also for `DD_SERVICE`, `DD_ENV`, `DD_VERSION`, `HEALTHCHECK_HOST`
    ///   and `HEALTHCHECK_INSTANCE` values of that kind;
    /// - [`Error::MetricsThread`] when the thread that sends metrics cannot start.
    pub fn build(self) -> Result<HealthChecks, Error> {
        let identity = self.identity.resolve()?;
        let fleet = self.fleet.resolve()?;
        let shared_beats = SharedBeats {
            store: Arc::clone(&fleet.store),
            service: identity.service().to_owned(),
        };
        let default_timeout = match self.default_timeout {
            Some(timeout) => timeout,
            None => timeout_from_env()?.unwrap_or(DEFAULT_TIMEOUT),
        };
        if default_timeout.is_zero() {
            return Err(Error::ZeroDefaultTimeout);
        }

        let mut checks: Vec<CheckRef> = Vec::new();
        if self.registered {
            let keep = |def: &CheckDef| self.filter.as_ref().is_none_or(|keep| keep(def));
            checks.extend(
                linked::registered()
                    .filter(|def| keep(def))
                    .map(CheckRef::Static),
            );
        }
        for mut check in self.checks {
            if let Some(reason) = check.take_invalid() {
                return Err(Error::InvalidCheck {
                    check: check.def().name().to_owned(),
                    location: check.def().location(),
                    reason,
                });
            }
            checks.push(check.into_ref());
        }
        let built = Instant::now();
        let mut heartbeats = HashMap::with_capacity(self.heartbeats.len());
        for heartbeat in self.heartbeats {
            if heartbeat.max_age().is_zero() {
                return Err(Error::ZeroMaxAge {
                    name: heartbeat.name().to_owned(),
                    location: heartbeat.location().into(),
                });
            }
            let cell = Arc::new(BeatCell::default());
            let entry = (Arc::clone(&cell), heartbeat.max_age());
            heartbeats.insert(heartbeat.name().to_owned(), entry);
            // With a store of the application's choosing, beats of other processes count.
            let shared = fleet.explicit.then(|| shared_beats.clone());
            let check = heartbeat.into_check(cell, built, shared);
            checks.push(check.into_ref());
        }
        validate(&checks)?;
        checks.sort_by(|a, b| a.name().cmp(b.name()));

        if checks.is_empty() {
            tracing::warn!(
                "no health checks are registered. #[healthcheck] functions in a library crate are \
                 dropped by the linker when the binary never refers to that crate: add \
                 `use my_checks_crate as _;` to the binary, or register checks with \
                 HealthChecksBuilder::check"
            );
        }
        let (metrics, metrics_prefix) = match self.metrics.resolve()? {
            Some(settings) => {
                let prefix = settings.prefix.clone();
                (Some(Pipeline::start(settings)?), Some(prefix))
            }
            None => (None, None),
        };
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, check) in checks.iter().enumerate() {
            for group in check.groups() {
                groups.entry(group.to_owned()).or_default().push(index);
            }
        }
        let publisher = if fleet.publish {
            Some(Publisher::start(
                Arc::clone(&fleet.store),
                identity.clone(),
                fleet.ttl(),
                fleet.freshness,
            )?)
        } else {
            None
        };
        #[cfg(feature = "status")]
        crate::status::mark_started();
        let readiness = Arc::new(ReadinessState::new(&checks));
        for check in &checks {
            check.history.reserve(self.history);
        }
        #[cfg(feature = "prometheus")]
        let prometheus = match &self.prometheus {
            Some(prometheus) => Some((
                prometheus.clone(),
                crate::prometheus::Recorder::new(
                    prometheus,
                    checks.iter().map(|c| (c.name(), c.groups())),
                )?,
            )),
            None => None,
        };
        let health = HealthChecks {
            inner: Arc::new(Inner {
                identity,
                checks,
                heartbeats,
                groups,
                default_timeout,
                reduce: self.reduce,
                metrics,
                metrics_prefix,
                fleet,
                publisher,
                readiness,
                history_len: self.history,
                #[cfg(feature = "prometheus")]
                prometheus,
            }),
        };
        if health.inner.fleet.explicit && health.inner.publisher.is_some() {
            own_runtime()?.spawn(publish_rounds(Arc::downgrade(&health.inner)));
        }
        Ok(health)
    }
}

fn timeout_from_env() -> Result<Option<Duration>, Error> {
    let Some(value) = std::env::var_os(TIMEOUT_ENV) else {
        return Ok(None);
    };
    let invalid = |value: String, reason: String| Error::InvalidEnv {
        name: TIMEOUT_ENV,
        value,
        reason,
    };
    let value = value
        .into_string()
        .map_err(|raw| invalid(raw.to_string_lossy().into_owned(), "not UTF-8".to_owned()))?;
    humantime::parse_duration(value.trim())
        .map(Some)
        .map_err(|e| {
            invalid(
                value,
                format!("{e} (expected a duration such as `500ms` or `2s`)"),
            )
        })
}

fn validate(checks: &[CheckRef]) -> Result<(), Error> {
    let mut seen: HashMap<&str, &CheckDef> = HashMap::with_capacity(checks.len());
    for check in checks {
        let location = check.location();
        if check.name().is_empty() {
            return Err(Error::EmptyName { location });
        }
        if check.groups().any(str::is_empty) {
            return Err(Error::EmptyGroup {
                check: check.name().to_owned(),
                location,
            });
        }
        if check.failure_threshold() == 0 || check.success_threshold() == 0 {
            return Err(Error::InvalidCheck {
                check: check.name().to_owned(),
                location,
                reason: "a failure or success threshold counts runs in a row: at least 1 (1 \
                         reports every run as it is)"
                    .to_owned(),
            });
        }
        if check.timeout().is_some_and(|t| t.is_zero()) {
            return Err(Error::ZeroTimeout {
                check: check.name().to_owned(),
                location,
            });
        }
        if let Some(first) = seen.insert(check.name(), check) {
            return Err(Error::DuplicateName {
                name: check.name().to_owned(),
                first: first.location(),
                second: location,
            });
        }
    }
    Ok(())
}

/// The checks of a service, ready to run.
///
/// Cheap to clone (an [`Arc`] inside): share one between request handlers.
///
/// # Example
/// ```
/// use healthcheck::{healthcheck, HealthChecks};
///
/// #[healthcheck(groups = ["back"])]
/// async fn queue() -> Result<serde_json::Value, std::io::Error> {
///     Ok(serde_json::json!({"queued_jobs": 423}))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), healthcheck::Error> {
/// let health = HealthChecks::builder().build()?;
/// let report = health.run().await;
/// assert!(report.service_healthy);
/// assert_eq!(report.components["queue"].extra["queued_jobs"], 423);
/// assert!(report.to_json().starts_with(r#"{"service_healthy":true,"#));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HealthChecks {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Identity,
    /// Sorted by name.
    checks: Vec<CheckRef>,
    /// The last beat of each heartbeat, by name, with its `max_age`.
    heartbeats: HashMap<String, (Arc<BeatCell>, Duration)>,
    /// Each group with the indices of its checks.
    groups: BTreeMap<String, Vec<usize>>,
    default_timeout: Duration,
    reduce: Option<Arc<Reduce>>,
    metrics: Option<Arc<Pipeline>>,
    /// The metrics' prefix, while metrics are on.
    metrics_prefix: Option<String>,
    fleet: ResolvedFleet,
    /// Hands results to the fleet store; `None` when read-only.
    publisher: Option<Publisher>,
    /// The readiness checks' latest results, for those who follow them.
    readiness: Arc<ReadinessState>,
    /// How many recent results each check keeps, as the builder asked.
    history_len: usize,
    /// The Prometheus exporter and this instance's handles of its series.
    #[cfg(feature = "prometheus")]
    prometheus: Option<(crate::prometheus::Prometheus, crate::prometheus::Recorder)>,
}

impl fmt::Debug for HealthChecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthChecks")
            .field("checks", &self.inner.checks)
            .field("default_timeout", &self.inner.default_timeout)
            .field("custom_reduce", &self.inner.reduce.is_some())
            .field("metrics", &self.inner.metrics.is_some())
            .field("fleet", &self.inner.fleet.store.describe())
            .finish()
    }
}

impl HealthChecks {
    /// A builder that starts from every `#[healthcheck]` function linked into the program.
    pub fn builder() -> HealthChecksBuilder {
        HealthChecksBuilder::new()
    }

    /// Starts a graceful shutdown: readiness is down from now on, whatever the checks say. The
    /// HTTP endpoints' readiness answers 503 "shutting down" (see
    /// [`HealthHandler::begin_shutdown`](crate::http::HealthHandler::begin_shutdown)), and a
    /// service registry entry turns `DOWN` at once. Clones of this `HealthChecks` share it; it
    /// cannot be undone.
    pub fn begin_shutdown(&self) {
        self.inner.readiness.begin_shutdown();
    }

    /// Whether [`begin_shutdown`](Self::begin_shutdown) was called.
    #[must_use]
    pub fn is_shutting_down(&self) -> bool {
        self.inner.readiness.is_shutting_down()
    }

    /// The prefix of the metrics this instance sends (`healthcheck` unless configured), or
    /// `None` when metrics are off.
    #[must_use]
    pub fn metrics_prefix(&self) -> Option<&str> {
        self.inner.metrics_prefix.as_deref()
    }

    /// Follows the readiness checks' results (for the service registry).
    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    pub(crate) fn follow_readiness(&self) -> crate::readiness::Follower {
        self.inner.readiness.follow()
    }

    /// The checks, sorted by name.
    pub fn checks(&self) -> impl ExactSizeIterator<Item = &CheckDef> + '_ {
        self.inner.checks.iter().map(|c| &**c)
    }

    /// The check named `name`, if there is one.
    #[must_use]
    pub fn check(&self, name: &str) -> Option<&CheckDef> {
        let checks = &self.inner.checks;
        let index = checks.binary_search_by(|c| c.name().cmp(name)).ok()?;
        Some(&checks[index])
    }

    /// The recent executions of check `name`, oldest first (at most as many as
    /// [`HealthChecksBuilder::history`] says; a run that joined an execution in flight or a
    /// cached response adds none); `None` when there is no such check.
    ///
    /// ```
    /// use healthcheck::{Check, Component, HealthChecks, Status};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), healthcheck::Error> {
    /// let health = HealthChecks::builder()
    ///     .without_registered_checks()
    ///     .metrics(healthcheck::MetricsConfig::disabled())
    ///     .check(Check::new("db", || async { Component::degraded("slow") }))
    ///     .build()?;
    /// health.run().await;
    /// health.run().await;
    /// let history = health.history("db").unwrap();
    /// assert_eq!(history.len(), 2);
    /// assert_eq!(history[1].status, Status::Degraded);
    /// assert_eq!(history[1].message.as_deref(), Some("slow"));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn history(&self, name: &str) -> Option<Vec<HistoryEntry>> {
        self.check(name).map(|check| check.history.entries())
    }

    /// Whether results are shared through a fleet store of the application's choosing (not the
    /// in-memory store of this instance alone).
    #[cfg(feature = "status")]
    pub(crate) fn has_shared_fleet(&self) -> bool {
        self.inner.fleet.explicit
    }

    /// The Prometheus exporter, when one was given to
    /// [`HealthChecksBuilder::prometheus`].
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    #[must_use]
    pub fn prometheus(&self) -> Option<&crate::prometheus::Prometheus> {
        self.inner
            .prometheus
            .as_ref()
            .map(|(prometheus, _)| prometheus)
    }

    /// How many recent results each check keeps ([`HealthChecksBuilder::history`]).
    #[must_use]
    pub fn history_len(&self) -> usize {
        self.inner.history_len
    }

    /// Who this process is: service, host, instance and labels.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// Records a good beat of heartbeat `name`. Costs a lock and a store: no I/O, nothing that
    /// waits.
    ///
    /// # Errors
    /// [`Error::UnknownHeartbeat`] when no heartbeat has that name.
    pub fn beat(&self, name: &str) -> Result<(), Error> {
        self.beat_with(name, Beat::ok())
    }

    /// Records that the work of heartbeat `name` failed: it is unhealthy with `message` until
    /// the next good beat.
    ///
    /// # Errors
    /// [`Error::UnknownHeartbeat`] when no heartbeat has that name.
    pub fn beat_failed(&self, name: &str, message: impl Into<String>) -> Result<(), Error> {
        self.beat_with(name, Beat::failed(message))
    }

    /// Records `beat` (good or failed, with a message and fields) for heartbeat `name`.
    ///
    /// # Errors
    /// [`Error::UnknownHeartbeat`] when no heartbeat has that name.
    pub fn beat_with(&self, name: &str, beat: Beat) -> Result<(), Error> {
        let (cell, max_age) = self
            .inner
            .heartbeats
            .get(name)
            .ok_or_else(|| Error::UnknownHeartbeat(name.to_owned()))?;
        if let Some(publisher) = &self.inner.publisher {
            // Kept by the store for as long as the beat can matter, and at least a publish's.
            let ttl = max_age.saturating_mul(2).max(self.inner.fleet.ttl());
            publisher.beat(beat.record(name, &self.inner.identity), ttl);
        }
        cell.beat(beat);
        Ok(())
    }

    /// The fleet: every instance's results in the store, as check → group → host.
    #[must_use]
    pub fn fleet(&self) -> Fleet {
        let fleet = &self.inner.fleet;
        Fleet::new(
            Arc::clone(&fleet.store),
            self.inner.identity.service(),
            fleet.freshness,
        )
        .with_reduce(fleet.reduce.clone())
    }

    /// What publishing to the fleet store has done so far (results written, failures, the last
    /// error); `None` when this instance does not publish.
    #[must_use]
    pub fn fleet_status(&self) -> Option<PublishStatus> {
        self.inner.publisher.as_ref().map(Publisher::status)
    }

    /// Waits until every result and beat handed to the fleet store before the call is written,
    /// at most `timeout`: for a program that exits right after a run or a beat (a cron job),
    /// and for tests. `true` when all was written (or nothing is published).
    pub async fn flush_fleet(&self, timeout: Duration) -> bool {
        match &self.inner.publisher {
            Some(publisher) => publisher.flush(timeout).await,
            None => true,
        }
    }

    /// [`flush_fleet`](Self::flush_fleet) for programs without an async runtime.
    ///
    /// # Errors
    /// [`Error::InsideAsyncRuntime`] on a thread that runs an async runtime;
    /// [`Error::Runtime`] when the SDK's own runtime cannot start.
    pub fn flush_fleet_blocking(&self, timeout: Duration) -> Result<bool, Error> {
        if Handle::try_current().is_ok() {
            return Err(Error::InsideAsyncRuntime);
        }
        Ok(own_runtime()?.block_on(self.flush_fleet(timeout)))
    }

    /// Hands a run's results to the fleet store: cheap handles and what the report already
    /// holds; the store's records are built on the publisher's side.
    fn publish_run(
        &self,
        timestamp: chrono::DateTime<Utc>,
        entries: &[(&CheckRef, ComponentReport, bool)],
    ) {
        let Some(publisher) = &self.inner.publisher else {
            return;
        };
        let findings = entries
            .iter()
            .map(|(check, entry, _)| Finding {
                check: (*check).clone(),
                status: entry.status,
                response_time: entry.response_time,
                message: entry.status_message.clone(),
                fields: entry.extra.clone(),
                critical: entry.critical,
            })
            .collect();
        publisher.results(timestamp, findings);
    }

    /// The group names, sorted.
    pub fn groups(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.inner.groups.keys().map(String::as_str)
    }

    /// The timeout of checks that set none.
    #[must_use]
    pub fn default_timeout(&self) -> Duration {
        self.inner.default_timeout
    }

    /// Runs every check concurrently and reports.
    ///
    /// The report is ready in about the time of the slowest check, and never later than the
    /// longest timeout: a check that fails, panics, times out or hangs only makes its own
    /// component unhealthy.
    ///
    /// Meant for a Tokio runtime with its time driver on (`enable_all` or `enable_time`, as
    /// `#[tokio::main]` sets up): runs with several blocking checks, and checks that use Tokio's
    /// timers, need it (the checks' deadlines themselves are kept by a thread of the SDK's own).
    /// Called from any other executor, the checks run on a small runtime of the SDK's own.
    pub async fn run(&self) -> Report {
        match self.run_selection(&Selection::All).await {
            Ok(report) => report,
            Err(error) => self.failed_report(&error.to_string()),
        }
    }

    /// Runs the checks of one group.
    ///
    /// # Errors
    /// [`Error::UnknownGroup`] when no check is in that group.
    pub async fn run_group(&self, group: &str) -> Result<Report, Error> {
        self.run_selection(&Selection::group(group)).await
    }

    /// Runs one check, by name.
    ///
    /// # Errors
    /// [`Error::UnknownCheck`] when no check has that name.
    pub async fn run_check(&self, name: &str) -> Result<Report, Error> {
        self.run_selection(&Selection::check(name)).await
    }

    /// Runs the selected checks.
    ///
    /// # Errors
    /// [`Error::UnknownGroup`] or [`Error::UnknownCheck`] when the selection names a group or a
    /// check that does not exist; [`Error::Runtime`] when called outside a Tokio runtime and the
    /// SDK's own runtime cannot start.
    pub async fn run_selection(&self, selection: &Selection) -> Result<Report, Error> {
        let selected = self.select(selection)?;
        let scope = Scope::of(selection);
        self.run_indices(selected, scope).await
    }

    /// Runs the checks at `selected` (indices in name order), on the current Tokio runtime or,
    /// outside one, on the SDK's own.
    async fn run_indices(&self, selected: Vec<usize>, scope: Scope) -> Result<Report, Error> {
        if Handle::try_current().is_ok() {
            return Ok(self.run_here(&selected, scope).await);
        }
        let this = self.clone();
        let task = own_runtime()?.spawn(async move { this.run_here(&selected, scope).await });
        Ok(task
            .await
            .unwrap_or_else(|e| self.failed_report(&format!("the run failed: {e}"))))
    }

    /// Runs the checks named `names`, given in name order (as [`checks`](Self::checks) lists
    /// them), skipping names that are not checks. For the HTTP handler, which picks its checks
    /// from that list.
    pub(crate) async fn run_names(&self, names: &[&str]) -> Result<Report, Error> {
        self.run_indices(self.indices_of(names), Scope::of_names(names))
            .await
    }

    /// The indices of the checks named `names`, given in name order; names that are not checks
    /// are left out.
    fn indices_of(&self, names: &[&str]) -> Vec<usize> {
        let checks = &self.inner.checks;
        let mut selected = Vec::with_capacity(names.len());
        let mut from = 0;
        for name in names {
            // A walk in step with the sorted checks; a search for names out of order.
            match checks[from..]
                .iter()
                .take(8)
                .position(|c| c.name() == *name)
            {
                Some(offset) => from += offset,
                None => match checks.binary_search_by(|c| c.name().cmp(name)) {
                    Ok(index) => from = index,
                    Err(_) => continue,
                },
            }
            selected.push(from);
            from += 1;
        }
        selected
    }

    /// Runs every check from a program without an async runtime (a worker, a CLI), blocking the
    /// calling thread until the report is ready.
    ///
    /// # Errors
    /// [`Error::InsideAsyncRuntime`] when called on a thread that runs an async runtime, where
    /// blocking would stall the executor (use [`run`](Self::run) there); [`Error::Runtime`] when
    /// the SDK's own runtime cannot start.
    pub fn run_blocking(&self) -> Result<Report, Error> {
        self.run_selection_blocking(&Selection::All)
    }

    /// [`run_selection`](Self::run_selection) for programs without an async runtime.
    ///
    /// # Errors
    /// As [`run_blocking`](Self::run_blocking), plus [`Error::UnknownGroup`] and
    /// [`Error::UnknownCheck`] for a selection of names that do not exist.
    pub fn run_selection_blocking(&self, selection: &Selection) -> Result<Report, Error> {
        if Handle::try_current().is_ok() {
            return Err(Error::InsideAsyncRuntime);
        }
        let selected = self.select(selection)?;
        Ok(own_runtime()?.block_on(self.run_here(&selected, Scope::of(selection))))
    }

    /// The indices of the selected checks, in name order.
    fn select(&self, selection: &Selection) -> Result<Vec<usize>, Error> {
        let checks = &self.inner.checks;
        let mut indices: Vec<usize> = match selection {
            Selection::All => return Ok((0..checks.len()).collect()),
            Selection::Probe(probe) => {
                return Ok((0..checks.len())
                    .filter(|&i| checks[i].in_probe(*probe))
                    .collect());
            }
            Selection::Groups(groups) => {
                let mut indices = Vec::new();
                for group in groups {
                    let members = self
                        .inner
                        .groups
                        .get(group)
                        .ok_or_else(|| Error::UnknownGroup(group.clone()))?;
                    indices.extend_from_slice(members);
                }
                indices
            }
            Selection::Checks(names) => names
                .iter()
                .map(|name| {
                    checks
                        .binary_search_by(|c| c.name().cmp(name))
                        .map_err(|_| Error::UnknownCheck(name.clone()))
                })
                .collect::<Result<_, _>>()?,
        };
        indices.sort_unstable();
        indices.dedup();
        Ok(indices)
    }

    /// Runs the selected checks on the current Tokio runtime.
    async fn run_here(&self, selected: &[usize], scope: Scope) -> Report {
        let ran = self.run_entries(selected).await;
        self.publish_run(ran.timestamp, &ran.entries);
        let records = self.records(&ran.entries);
        let components = ran
            .entries
            .into_iter()
            .map(|(check, entry, _)| (check.name().to_owned(), entry))
            .collect();
        let report = self.assemble(ran.timestamp, components);
        self.observe_verdict(selected.len(), report.status);
        self.send_run(records, scope, ran.duration, report.status);
        report
    }

    /// Hands the service's verdict to the exporters, when the run covered every check.
    fn observe_verdict(&self, covered: usize, status: Status) {
        #[cfg(feature = "prometheus")]
        if let Some((_, recorder)) = &self.inner.prometheus {
            if covered == self.inner.checks.len() {
                recorder.service(status);
            }
        }
        let _ = (covered, status);
    }

    /// The JSON of a run of the checks named `names` (in name order), written straight from
    /// the results, without building a [`Report`]: for the HTTP handler, when nothing else needs
    /// the report. `None` when a custom reduce rule needs the report's map, or outside a Tokio
    /// runtime: then use [`run_names`](Self::run_names).
    pub(crate) async fn run_names_json(&self, names: &[&str]) -> Option<(Status, String)> {
        if self.inner.reduce.is_some() || Handle::try_current().is_err() {
            return None;
        }
        let ran = self.run_entries(&self.indices_of(names)).await;
        self.publish_run(ran.timestamp, &ran.entries);
        let records = self.records(&ran.entries);
        let status = crate::report::reduce_entries(ran.entries.iter().map(|(_, entry, _)| entry));
        let json = crate::json::report_parts(
            status,
            &ran.timestamp,
            ran.entries
                .iter()
                .map(|(check, entry, _)| (check.name(), entry)),
        );
        self.observe_verdict(names.len(), status);
        self.send_run(records, Scope::of_names(names), ran.duration, status);
        Some((status, json))
    }

    /// Runs the selected checks on the current Tokio runtime: each one's report entry, in name
    /// order, with whether this run executed it.
    async fn run_entries(&self, indices: &[usize]) -> Ran<'_> {
        // The report shows milliseconds: keep no more, so that it reads back equal.
        let timestamp = Utc::now().trunc_subsecs(3);
        let started = Instant::now();
        let selected: Vec<&CheckRef> = indices.iter().map(|&i| &self.inner.checks[i]).collect();
        let outcomes = runner::run(&selected, self.inner.default_timeout).await;
        let duration = started.elapsed();
        if self.inner.readiness.followed() {
            self.inner.readiness.observe(
                indices
                    .iter()
                    .zip(&outcomes)
                    .map(|(&index, outcome)| (index, outcome.component.status())),
            );
        }
        let entries: Vec<_> = selected
            .into_iter()
            .zip(outcomes)
            .map(|(check, outcome)| {
                let entry =
                    ComponentReport::new(outcome.component, check.is_critical(), check.groups());
                (check, entry, outcome.executed)
            })
            .collect();
        #[cfg(feature = "prometheus")]
        if let Some((_, recorder)) = &self.inner.prometheus {
            // When each finished: the run's start (already read) and its duration; no clock
            // read per check.
            let started = timestamp.timestamp_millis() as f64 / 1e3;
            for (&index, (_, entry, executed)) in indices.iter().zip(&entries) {
                if *executed {
                    recorder.record_at(
                        index,
                        entry.status,
                        entry.raw_status(),
                        entry.response_duration(),
                        started + entry.response_time,
                    );
                }
            }
        }
        Ran {
            timestamp,
            entries,
            duration,
        }
    }

    /// What the metrics thread needs of a run's entries; `None` when metrics are off.
    fn records(&self, entries: &[(&CheckRef, ComponentReport, bool)]) -> Option<Vec<CheckRecord>> {
        self.inner.metrics.as_ref()?;
        let records = entries
            .iter()
            .map(|(check, entry, executed)| CheckRecord {
                check: (*check).clone(),
                status: entry.status,
                raw_status: entry.raw_status(),
                response_time: entry.response_duration(),
                message: match entry.status {
                    Status::Healthy => None,
                    _ => entry.status_message.clone(),
                },
                executed: *executed,
            })
            .collect();
        Some(records)
    }

    fn send_run(
        &self,
        records: Option<Vec<CheckRecord>>,
        scope: Scope,
        duration: Duration,
        service: Status,
    ) {
        if let (Some(pipeline), Some(checks)) = (&self.inner.metrics, records) {
            pipeline.send(Message::Run(RunRecord {
                whole: matches!(scope, Scope::All),
                scope: scope.into_text(),
                duration,
                service,
                checks,
            }));
        }
    }

    /// The application's own metrics, sent with this instance's prefix, global tags and
    /// transport. Does nothing when metrics are off.
    #[must_use]
    pub fn statsd(&self) -> Statsd {
        Statsd::new(self.inner.metrics.clone())
    }

    /// Waits until every metric queued so far has been handed to the transport, at most
    /// `timeout`. For programs that exit right after a run, and for tests.
    ///
    /// `true` only when everything queued before the call reached the transport: `false` when
    /// `timeout` passed first, or when anything was dropped since the previous flush (the
    /// metrics queue full, the agent unreachable, a payload too large to send; see
    /// [`Statsd::dropped`]). Over UDP, reaching the transport is all that can be known: a
    /// datagram sent may still be lost on the way. Returns `true` at once when metrics are off.
    pub async fn flush_metrics(&self, timeout: Duration) -> bool {
        let Some(pipeline) = self.inner.metrics.clone() else {
            return true;
        };
        tokio::task::spawn_blocking(move || pipeline.flush(timeout))
            .await
            .unwrap_or(false)
    }

    /// [`flush_metrics`](Self::flush_metrics) for programs without an async runtime: blocks the
    /// calling thread up to `timeout`.
    #[must_use = "tells whether everything was flushed"]
    pub fn flush_metrics_blocking(&self, timeout: Duration) -> bool {
        self.inner
            .metrics
            .as_ref()
            .is_none_or(|pipeline| pipeline.flush(timeout))
    }

    /// The report of `components`, with the service's status by the reduce rule.
    pub(crate) fn assemble(
        &self,
        timestamp: chrono::DateTime<Utc>,
        components: BTreeMap<String, ComponentReport>,
    ) -> Report {
        let status = match &self.inner.reduce {
            Some(reduce) => {
                catch_unwind(AssertUnwindSafe(|| reduce(&components))).unwrap_or_else(|_| {
                    // Nothing vouches for the service then: never report it healthy.
                    tracing::error!(
                        "the reduce function panicked; the service is reported unhealthy"
                    );
                    Status::Unhealthy
                })
            }
            None => default_reduce(&components),
        };
        Report {
            service_healthy: status.is_healthy(),
            status,
            timestamp,
            components,
        }
    }

    /// A report in which every check failed with `message`, for when the checks could not run.
    pub(crate) fn failed_report(&self, message: &str) -> Report {
        let components = self
            .inner
            .checks
            .iter()
            .map(|check| {
                let component = Component::unhealthy(message.to_owned());
                let entry = ComponentReport::new(component, check.is_critical(), check.groups());
                (check.name().to_owned(), entry)
            })
            .collect();
        self.assemble(Utc::now().trunc_subsecs(3), components)
    }
}

/// What a run covers, for its metrics.
enum Scope {
    All,
    Check(String),
    Checks,
    Other(Selection),
}

/// A run's results before they become a report: each check's entry, in name order, with
/// whether this run executed it.
struct Ran<'a> {
    timestamp: chrono::DateTime<Utc>,
    entries: Vec<(&'a CheckRef, ComponentReport, bool)>,
    duration: Duration,
}

impl Scope {
    fn of_names(names: &[&str]) -> Self {
        match names {
            [name] => Scope::Check((*name).to_owned()),
            _ => Scope::Checks,
        }
    }

    fn of(selection: &Selection) -> Self {
        match selection {
            Selection::All => Scope::All,
            other => Scope::Other(other.clone()),
        }
    }

    /// The `scope` tag's value; see [`Selection::scope`].
    fn into_text(self) -> String {
        match self {
            Scope::All => "all".to_owned(),
            Scope::Check(name) => name,
            Scope::Checks => "checks".to_owned(),
            Scope::Other(selection) => selection.scope(),
        }
    }
}

/// Publishes, with a shared store, every check whose result was not handed over for an
/// interval: an instance that nothing else runs (no requests, no background refresh) still
/// shows in the fleet. Ends when the checks are dropped.
async fn publish_rounds(inner: std::sync::Weak<Inner>) {
    let Some(interval) = inner.upgrade().map(|i| i.fleet.interval) else {
        return;
    };
    let mut next = Instant::now();
    loop {
        tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
        next += interval;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let health = HealthChecks { inner };
        let Some(publisher) = &health.inner.publisher else {
            return;
        };
        let names = health.inner.checks.iter().map(|c| c.name());
        let overdue = publisher.overdue(names, interval.mul_f64(0.9));
        if overdue.is_empty() {
            continue;
        }
        let run = AssertUnwindSafe(health.run_names(&overdue));
        if futures_util::FutureExt::catch_unwind(run).await.is_err() {
            tracing::error!(
                "a background run for the fleet panicked; it goes on at its next round"
            );
        }
    }
}

/// The runtime for callers without one: a worker thread plus the blocking pool, started on first
/// use and kept for the life of the process (so that a hung check stays accounted for).
pub(crate) fn own_runtime() -> Result<&'static Runtime, Error> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    static STARTING: Mutex<()> = Mutex::new(());
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    // One thread builds it: a runtime built by a loser of the race would be dropped, which
    // panics inside an async context.
    let _starting = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("healthcheck")
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    Ok(RUNTIME.get_or_init(|| runtime))
}
