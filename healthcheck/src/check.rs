//! Check descriptors: what the `#[healthcheck]` attribute registers, and [`Check`] for checks
//! registered at run time.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::component::Component;
use crate::history::CheckHistory;
use crate::outcome::IntoComponent;
use crate::run::flight::Flight;

/// A boxed, sendable future that yields a [`Component`].
pub type BoxFuture = Pin<Box<dyn Future<Output = Component> + Send + 'static>>;

/// A Kubernetes probe that a check takes part in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Probe {
    /// Is the process alive? A failure makes Kubernetes restart it.
    Liveness,
    /// Can it serve traffic? A failure takes it out of the load balancer. The default.
    Readiness,
    /// Has it finished starting? Holds the other probes back until it passes.
    Startup,
}

impl Probe {
    /// Every probe, in the order liveness, readiness, startup.
    pub const ALL: [Probe; 3] = [Probe::Liveness, Probe::Readiness, Probe::Startup];

    /// The bit of this probe in the `probes` mask that the attribute macro emits.
    #[doc(hidden)]
    #[must_use]
    pub const fn bit(self) -> u8 {
        match self {
            Probe::Liveness => 1,
            Probe::Readiness => 2,
            Probe::Startup => 4,
        }
    }

    /// The lowercase name: `liveness`, `readiness` or `startup`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Probe::Liveness => "liveness",
            Probe::Readiness => "readiness",
            Probe::Startup => "startup",
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a check was declared: the `#[healthcheck]` function, or the call that built a [`Check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceLocation {
    file: &'static str,
    line: u32,
    column: u32,
}

impl SourceLocation {
    /// The source file.
    #[must_use]
    pub const fn file(&self) -> &'static str {
        self.file
    }

    /// The line, starting at 1.
    #[must_use]
    pub const fn line(&self) -> u32 {
        self.line
    }

    /// The column, starting at 1.
    #[must_use]
    pub const fn column(&self) -> u32 {
        self.column
    }
}

impl From<&'static Location<'static>> for SourceLocation {
    fn from(location: &'static Location<'static>) -> Self {
        Self {
            file: location.file(),
            line: location.line(),
            column: location.column(),
        }
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// How a check's body is called.
#[doc(hidden)]
pub enum Body {
    /// An `async fn` registered by the attribute.
    Async(fn() -> BoxFuture),
    /// A plain `fn` registered by the attribute: run on the blocking thread pool.
    Blocking(fn() -> Component),
    /// An async closure registered at run time.
    AsyncFn(Arc<dyn Fn() -> BoxFuture + Send + Sync>),
    /// A blocking closure registered at run time.
    BlockingFn(Arc<dyn Fn() -> Component + Send + Sync>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Body::Async(_) => "Async",
            Body::Blocking(_) => "Blocking",
            Body::AsyncFn(_) => "AsyncFn",
            Body::BlockingFn(_) => "BlockingFn",
        })
    }
}

impl Body {
    pub(crate) fn is_blocking(&self) -> bool {
        matches!(self, Body::Blocking(_) | Body::BlockingFn(_))
    }
}

const UNKNOWN_DURATION: u64 = u64::MAX;

/// A registered check: its name and options, how to call it, and its run-time state.
///
/// Built by the `#[healthcheck]` attribute (as a `static`) or by [`Check`]. The getters describe
/// it; [`HealthChecks::checks`](crate::HealthChecks::checks) lists them.
pub struct CheckDef {
    name: Cow<'static, str>,
    groups: Cow<'static, [Cow<'static, str>]>,
    timeout: Option<Duration>,
    critical: bool,
    probes: u8,
    location: SourceLocation,
    body: Body,
    /// Failing runs in a row before the check is reported unhealthy (at least 1).
    failure_threshold: u32,
    /// Passing runs in a row before an unhealthy check is reported healthy again (at least 1).
    success_threshold: u32,
    pub(crate) flight: Flight,
    /// Its recent executions and the state of its flap suppression.
    pub(crate) history: CheckHistory,
    last_run_nanos: AtomicU64,
}

impl CheckDef {
    /// The constructor the attribute macro calls. `timeout_nanos == 0` means "the default".
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub const fn from_attribute(
        name: &'static str,
        groups: &'static [Cow<'static, str>],
        timeout_nanos: u64,
        critical: bool,
        probes: u8,
        file: &'static str,
        line: u32,
        column: u32,
        body: Body,
    ) -> Self {
        Self {
            name: Cow::Borrowed(name),
            groups: Cow::Borrowed(groups),
            timeout: if timeout_nanos == 0 {
                None
            } else {
                Some(Duration::from_nanos(timeout_nanos))
            },
            critical,
            probes,
            location: SourceLocation { file, line, column },
            body,
            failure_threshold: 1,
            success_threshold: 1,
            flight: Flight::new(),
            history: CheckHistory::new(),
            last_run_nanos: AtomicU64::new(UNKNOWN_DURATION),
        }
    }

    /// The flap suppression the attribute macro sets (`failure_threshold`,
    /// `success_threshold`); zero counts as one.
    #[doc(hidden)]
    #[must_use]
    pub const fn with_thresholds(mut self, failure: u32, success: u32) -> Self {
        self.failure_threshold = if failure == 0 { 1 } else { failure };
        self.success_threshold = if success == 0 { 1 } else { success };
        self
    }

    /// Failing runs in a row before the check is reported unhealthy; until then it is reported
    /// degraded. 1 (the default) reports every run as it is.
    #[must_use]
    pub const fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// Passing runs in a row before a check reported unhealthy is reported healthy again. 1
    /// (the default) reports every run as it is.
    #[must_use]
    pub const fn success_threshold(&self) -> u32 {
        self.success_threshold
    }

    /// The result of one execution, as reported: recorded in the check's history, with its flap
    /// suppression applied. Every execution goes through here exactly once, before its result
    /// is handed to anyone.
    pub(crate) fn conclude(&self, component: Component) -> Component {
        self.history
            .conclude(component, self.failure_threshold, self.success_threshold)
    }

    /// The check's name: the key of its component in the report.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The groups the check belongs to.
    pub fn groups(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.groups.iter().map(|g| g.as_ref())
    }

    /// The check's own timeout, if it set one; otherwise the runner's default applies.
    #[must_use]
    pub const fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether a failure of this check makes the whole service unhealthy. Defaults to `true`.
    #[must_use]
    pub const fn is_critical(&self) -> bool {
        self.critical
    }

    /// Whether the check takes part in `probe`.
    #[must_use]
    pub const fn in_probe(&self, probe: Probe) -> bool {
        self.probes & probe.bit() != 0
    }

    /// The probes the check takes part in.
    pub fn probes(&self) -> impl Iterator<Item = Probe> + '_ {
        Probe::ALL.into_iter().filter(|p| self.in_probe(*p))
    }

    /// The check and its options as JSON (for `list` and `/status`): name, groups, timeout
    /// (`default_timeout` when it has none), critical, probes, blocking, and where it is defined.
    #[cfg(any(feature = "cli", feature = "status"))]
    pub(crate) fn describe(&self, default_timeout: Duration) -> serde_json::Value {
        serde_json::json!({
            "name": self.name(),
            "groups": self.groups().collect::<Vec<_>>(),
            "timeout_ms": self.timeout().unwrap_or(default_timeout).as_millis(),
            "critical": self.is_critical(),
            "probes": self.probes().map(Probe::as_str).collect::<Vec<_>>(),
            "blocking": self.is_blocking(),
            "location": format!("{}:{}", self.location().file(), self.location().line()),
        })
    }

    /// Where the check was declared.
    #[must_use]
    pub const fn location(&self) -> SourceLocation {
        self.location
    }

    /// `true` when the check's body is blocking (a plain `fn` or [`Check::blocking`]).
    #[must_use]
    pub fn is_blocking(&self) -> bool {
        self.body.is_blocking()
    }

    /// Whether the check belongs to `group`.
    #[must_use]
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    pub(crate) const fn body(&self) -> &Body {
        &self.body
    }

    /// How long the last completed run took, if known.
    pub(crate) fn last_run(&self) -> Option<Duration> {
        match self.last_run_nanos.load(Ordering::Relaxed) {
            UNKNOWN_DURATION => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    pub(crate) fn record_run(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(UNKNOWN_DURATION - 1);
        self.last_run_nanos
            .store(nanos.min(UNKNOWN_DURATION - 1), Ordering::Relaxed);
    }
}

impl fmt::Debug for CheckDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckDef")
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("timeout", &self.timeout)
            .field("critical", &self.critical)
            .field("probes", &self.probes().collect::<Vec<_>>())
            .field("location", &self.location)
            .field("blocking", &self.is_blocking())
            .finish_non_exhaustive()
    }
}

/// A shared handle to a check, registered by the attribute (a `static`) or at run time.
#[derive(Clone, Debug)]
pub(crate) enum CheckRef {
    Static(&'static CheckDef),
    Owned(Arc<CheckDef>),
}

impl Deref for CheckRef {
    type Target = CheckDef;

    fn deref(&self) -> &CheckDef {
        match self {
            CheckRef::Static(def) => def,
            CheckRef::Owned(def) => def,
        }
    }
}

/// A check registered at run time, for checks that capture state (a connection pool, a client)
/// and so cannot be a `#[healthcheck]` function. It runs and reports exactly as an annotated
/// function with the same options does.
///
/// Its body returns anything that implements [`IntoComponent`], like an annotated function.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use healthcheck::{Check, HealthChecks};
///
/// let cache = std::sync::Arc::new(std::sync::Mutex::new(vec![1, 2, 3]));
/// let health = HealthChecks::builder()
///     .without_registered_checks()
///     .check(
///         Check::new("cache", move || {
///             let cache = cache.clone();
///             async move { !cache.lock().unwrap().is_empty() }
///         })
///         .timeout(Duration::from_millis(200))
///         .groups(["back"]),
///     )
///     .check(Check::blocking("disk", || std::path::Path::new("/").exists()).critical(false))
///     .build()?;
/// let report = health.run_blocking()?;
/// assert!(report.service_healthy);
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a Check does nothing until it is registered with HealthChecksBuilder::check"]
pub struct Check {
    def: CheckDef,
    /// Why the check cannot be built (a malformed URL or address), reported by
    /// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build).
    invalid: Option<String>,
}

impl Check {
    /// An async check: `body` is called for every run and returns a future whose output
    /// implements [`IntoComponent`].
    #[track_caller]
    pub fn new<F, Fut>(name: impl Into<String>, body: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output: IntoComponent> + Send + 'static,
    {
        Self::new_at(name.into(), body, Location::caller())
    }

    /// [`Check::new`] declared at `location`, for checks the SDK builds for the caller.
    pub(crate) fn new_at<F, Fut>(
        name: String,
        body: F,
        location: &'static Location<'static>,
    ) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output: IntoComponent> + Send + 'static,
    {
        let body = move || -> BoxFuture {
            let future = body();
            Box::pin(async move { future.await.into_component() })
        };
        Self::with_body(name, Body::AsyncFn(Arc::new(body)), location)
    }

    /// A blocking check: `body` runs on the blocking thread pool, never on the async executor.
    #[track_caller]
    pub fn blocking<F, R>(name: impl Into<String>, body: F) -> Self
    where
        F: Fn() -> R + Send + Sync + 'static,
        R: IntoComponent,
    {
        let body = move || body().into_component();
        Self::with_body(
            name.into(),
            Body::BlockingFn(Arc::new(body)),
            Location::caller(),
        )
    }

    fn with_body(name: String, body: Body, location: &'static Location<'static>) -> Self {
        Self {
            def: CheckDef {
                name: Cow::Owned(name),
                groups: Cow::Borrowed(&[]),
                timeout: None,
                critical: true,
                probes: Probe::Readiness.bit(),
                location: location.into(),
                body,
                failure_threshold: 1,
                success_threshold: 1,
                flight: Flight::new(),
                history: CheckHistory::new(),
                last_run_nanos: AtomicU64::new(UNKNOWN_DURATION),
            },
            invalid: None,
        }
    }

    /// [`Check::blocking`] declared at `location`, for checks the SDK builds for the caller.
    #[cfg_attr(
        not(any(feature = "dns", feature = "disk", feature = "memory")),
        allow(dead_code)
    )]
    pub(crate) fn blocking_at<F, R>(
        name: String,
        body: F,
        location: &'static Location<'static>,
    ) -> Self
    where
        F: Fn() -> R + Send + Sync + 'static,
        R: IntoComponent,
    {
        let body = move || body().into_component();
        Self::with_body(name, Body::BlockingFn(Arc::new(body)), location)
    }

    /// Marks the check as one that cannot be built, for `reason` (which must hold no secret):
    /// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fails with
    /// [`Error::InvalidCheck`](crate::Error::InvalidCheck).
    #[allow(dead_code)] // Used by the built-in checkers, each behind its feature.
    pub(crate) fn invalid(mut self, reason: String) -> Self {
        self.invalid = Some(reason);
        self
    }

    /// Why the check cannot be built, if it cannot.
    pub(crate) fn take_invalid(&mut self) -> Option<String> {
        self.invalid.take()
    }

    /// The check's definition.
    pub(crate) fn def(&self) -> &CheckDef {
        &self.def
    }

    /// The check's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.def.name()
    }

    /// The check's timeout. Defaults to the runner's default timeout (2 seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.def.timeout = Some(timeout);
        self
    }

    /// The groups the check belongs to. Defaults to none.
    pub fn groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.def.groups = groups.into_iter().map(|g| Cow::Owned(g.into())).collect();
        self
    }

    /// Whether a failure makes the whole service unhealthy. Defaults to `true`.
    pub fn critical(mut self, critical: bool) -> Self {
        self.def.critical = critical;
        self
    }

    /// Failing runs in a row before the check is reported unhealthy. Until then a failing run is
    /// reported degraded, with `failing 2 of 3 before unhealthy: <its message>`; the run's own
    /// status stays visible as the `raw_status` field of its component and the `raw_status` tag
    /// of its metrics. Defaults to 1 (every run reported as it is); zero makes
    /// [`build`](crate::HealthChecksBuilder::build) fail.
    pub fn failure_threshold(mut self, runs: u32) -> Self {
        self.def.failure_threshold = runs;
        self
    }

    /// Passing runs in a row before a check reported unhealthy is reported healthy (or
    /// degraded) again; until then it stays unhealthy, with `recovering: 1 of 2 passing runs
    /// before healthy`. Defaults to 1; zero makes [`build`](crate::HealthChecksBuilder::build)
    /// fail.
    pub fn success_threshold(mut self, runs: u32) -> Self {
        self.def.success_threshold = runs;
        self
    }

    /// The Kubernetes probes the check takes part in. Defaults to readiness only.
    pub fn probes(mut self, probes: impl IntoIterator<Item = Probe>) -> Self {
        self.def.probes = probes.into_iter().fold(0, |mask, p| mask | p.bit());
        self
    }

    pub(crate) fn into_ref(self) -> CheckRef {
        CheckRef::Owned(Arc::new(self.def))
    }
}
