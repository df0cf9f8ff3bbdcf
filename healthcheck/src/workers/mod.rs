//! Supervised workers: named background tasks (async) and threads (blocking) that are started
//! again when they end or panic, after a pause that doubles up to a cap, each reported as a
//! liveness check `worker:<name>`.
//!
//! A daemon's workers — a queue consumer, a cache warmer, a poller — are what its health is
//! made of, and what dies silently. [`Workers`] keeps each one running: a worker that returns
//! (with `Ok` or `Err`) or panics is restarted after [`WorkersBuilder::backoff`]'s pause, which
//! doubles with each failure in a row up to its cap and starts over once a run has lasted
//! [`WorkersBuilder::healthy_after`]. Its state, restarts and last error are in
//! [`Workers::status`], and [`Workers::checks`] gives a liveness check per worker: healthy while
//! it runs, degraded while it waits to be restarted, unhealthy once it has waited longer than
//! [`WorkersBuilder::stuck_after`] or given up ([`WorkersBuilder::give_up_after`]).
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use healthcheck::HealthChecks;
//! use healthcheck::workers::{Stop, Workers};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let workers = Workers::builder().backoff(Duration::from_millis(100), Duration::from_secs(30)).build();
//! workers.spawn("consumer", |stop: Stop| async move {
//!     while !stop.is_stopped() {
//!         // ... take a message, handle it ...
//!         tokio::time::sleep(Duration::from_millis(10)).await;
//!     }
//!     Ok::<(), std::io::Error>(())
//! })?;
//! let health = HealthChecks::builder()
//!     .without_registered_checks()
//!     .checks(workers.checks())
//!     .build()?;
//! let report = health.run().await;
//! assert!(report.components["worker:consumer"].healthy);
//! workers.shutdown(Duration::from_secs(1)).await;
//! # Ok(())
//! # }
//! ```

mod supervise;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use crate::check::{Check, Probe};
use crate::component::Component;
use crate::error::Error;

pub use supervise::Stop;

/// Where a worker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerState {
    /// Running.
    Running,
    /// Ended or panicked, waiting to be started again at `until`.
    Backoff {
        /// When it starts again.
        until: Instant,
    },
    /// Restarted [`WorkersBuilder::give_up_after`] times in a row without lasting: no more.
    GaveUp,
    /// Stopped by [`Workers::shutdown`] (or its runtime went away).
    Stopped,
}

impl WorkerState {
    /// `running`, `backoff`, `gave_up` or `stopped`.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Backoff { .. } => "backoff",
            Self::GaveUp => "gave_up",
            Self::Stopped => "stopped",
        }
    }
}

/// What a worker is kind of: a task on the async runtime, or a thread of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerKind {
    /// An async task.
    Task,
    /// A thread, for blocking work.
    Thread,
}

/// One worker's state, restarts and last error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStatus {
    /// Its name.
    pub name: String,
    /// A task or a thread.
    pub kind: WorkerKind,
    /// Where it is.
    pub state: WorkerState,
    /// How many times it was started again.
    pub restarts: u64,
    /// Failures in a row (runs that did not last [`WorkersBuilder::healthy_after`]).
    pub failures_in_a_row: u32,
    /// Why it last ended: its error, `panicked: <message>`, or `returned`.
    pub last_error: Option<String>,
    /// When it entered its state.
    pub since: SystemTime,
}

/// The settings of [`Workers`].
#[derive(Clone, Debug)]
#[must_use]
pub struct WorkersBuilder {
    first_pause: Duration,
    max_pause: Duration,
    healthy_after: Duration,
    stuck_after: Duration,
    give_up_after: Option<u32>,
}

impl Default for WorkersBuilder {
    fn default() -> Self {
        Self {
            first_pause: Duration::from_millis(100),
            max_pause: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
            stuck_after: Duration::from_secs(60),
            give_up_after: None,
        }
    }
}

impl WorkersBuilder {
    /// The pause before the first restart (default 100 ms), doubled with each failure in a row
    /// up to `max` (default 30 s).
    pub const fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_pause = first;
        self.max_pause = max;
        self
    }

    /// How long a run must last for the pauses to start over from the first (default 60 s).
    pub const fn healthy_after(mut self, duration: Duration) -> Self {
        self.healthy_after = duration;
        self
    }

    /// How long a worker may wait to be restarted before its check is unhealthy (default 60 s;
    /// until then it is degraded).
    pub const fn stuck_after(mut self, duration: Duration) -> Self {
        self.stuck_after = duration;
        self
    }

    /// Gives a worker up after `failures` failures in a row (default: never).
    pub const fn give_up_after(mut self, failures: u32) -> Self {
        self.give_up_after = Some(failures);
        self
    }

    /// The workers' supervisor, with no worker yet.
    pub fn build(self) -> Workers {
        let max_pause = self.max_pause.max(self.first_pause);
        Workers {
            inner: Arc::new(Inner {
                settings: WorkersBuilder { max_pause, ..self },
                workers: Mutex::new(BTreeMap::new()),
                stop: watch::channel(false).0,
                grace: Mutex::new(Duration::ZERO),
            }),
        }
    }
}

/// Named workers, each restarted when it ends or panics. Cheap to clone; clones share them.
#[derive(Clone)]
pub struct Workers {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) settings: WorkersBuilder,
    pub(crate) workers: Mutex<BTreeMap<String, Arc<Mutex<WorkerStatus>>>>,
    pub(crate) stop: watch::Sender<bool>,
    /// How long a task may take to end after the shutdown began.
    pub(crate) grace: Mutex<Duration>,
}

impl fmt::Debug for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workers")
            .field("settings", &self.inner.settings)
            .field("workers", &self.status())
            .finish()
    }
}

impl Workers {
    /// The settings, to [`build`](WorkersBuilder::build) the supervisor.
    pub fn builder() -> WorkersBuilder {
        WorkersBuilder::default()
    }

    /// Starts `worker` as an async task on the current Tokio runtime, and starts it again
    /// (calling `worker` anew) whenever it ends or panics. `worker` gets a [`Stop`] that says
    /// when [`shutdown`](Self::shutdown) was called.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] when a worker of that name exists; [`Error::Runtime`] outside
    /// a Tokio runtime.
    pub fn spawn<F, Fut, E>(&self, name: impl Into<String>, worker: F) -> Result<(), Error>
    where
        F: Fn(Stop) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            Error::Runtime(std::io::Error::other(format!(
                "workers are tasks of a Tokio runtime: {e}"
            )))
        })?;
        let status = self.add(name.into(), WorkerKind::Task)?;
        runtime.spawn(supervise::task(Arc::clone(&self.inner), status, worker));
        Ok(())
    }

    /// Starts `worker` on a thread of its own, and starts it again whenever it returns or
    /// panics. For blocking work; `worker` should look at its [`Stop`] now and then.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] when a worker of that name exists, or the thread cannot start.
    pub fn spawn_blocking<F, E>(&self, name: impl Into<String>, worker: F) -> Result<(), Error>
    where
        F: Fn(&Stop) -> Result<(), E> + Send + 'static,
        E: fmt::Display,
    {
        let name = name.into();
        let status = self.add(name.clone(), WorkerKind::Thread)?;
        let inner = Arc::clone(&self.inner);
        std::thread::Builder::new()
            .name(format!("worker:{name}"))
            .spawn(move || supervise::thread(&inner, &status, &worker))
            .map(|_| ())
            .map_err(|e| Error::InvalidSetting {
                setting: "worker",
                value: name,
                reason: format!("its thread cannot start: {e}"),
            })
    }

    fn add(&self, name: String, kind: WorkerKind) -> Result<Arc<Mutex<WorkerStatus>>, Error> {
        let mut workers = self
            .inner
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if workers.contains_key(&name) {
            return Err(Error::InvalidSetting {
                setting: "worker",
                value: name,
                reason: "a worker of that name exists".to_owned(),
            });
        }
        let status = Arc::new(Mutex::new(WorkerStatus {
            name: name.clone(),
            kind,
            state: WorkerState::Running,
            restarts: 0,
            failures_in_a_row: 0,
            last_error: None,
            since: SystemTime::now(),
        }));
        workers.insert(name, Arc::clone(&status));
        Ok(status)
    }

    /// Every worker's status, by name.
    #[must_use]
    pub fn status(&self) -> Vec<WorkerStatus> {
        self.inner
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|status| {
                status
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
    }

    /// A liveness check per worker spawned so far, named `worker:<name>`.
    #[must_use]
    pub fn checks(&self) -> Vec<Check> {
        let stuck_after = self.inner.settings.stuck_after;
        self.inner
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, status)| {
                let status = Arc::downgrade(status);
                Check::new(format!("worker:{name}"), move || {
                    std::future::ready(match status.upgrade() {
                        Some(status) => component(
                            &status.lock().unwrap_or_else(PoisonError::into_inner),
                            stuck_after,
                        ),
                        None => Component::unhealthy("the worker's supervisor is gone"),
                    })
                })
                .probes([Probe::Liveness])
            })
            .collect()
    }

    /// Tells every worker to stop ([`Stop::is_stopped`]), waits up to `grace` for them to end,
    /// then aborts the async ones still running (threads cannot be aborted: they end when they
    /// look at their `Stop`). No worker is restarted after this.
    pub async fn shutdown(&self, grace: Duration) {
        *self
            .inner
            .grace
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = grace;
        self.inner.stop.send_replace(true);
        // A little beyond the grace, for the aborted tasks to be marked.
        let deadline = tokio::time::Instant::now() + grace + Duration::from_millis(100);
        while tokio::time::Instant::now() < deadline
            && self
                .status()
                .iter()
                .any(|s| s.state != WorkerState::Stopped && s.state != WorkerState::GaveUp)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The component of a worker's check.
fn component(status: &WorkerStatus, stuck_after: Duration) -> Component {
    let mut component = match status.state {
        WorkerState::Running => Component::healthy(),
        WorkerState::Backoff { .. } => {
            let waited = status.since.elapsed().unwrap_or_default();
            let message = format!(
                "restarting (failed {} time{} in a row): {}",
                status.failures_in_a_row,
                if status.failures_in_a_row == 1 {
                    ""
                } else {
                    "s"
                },
                status.last_error.as_deref().unwrap_or("ended")
            );
            if waited > stuck_after {
                Component::unhealthy(message)
            } else {
                Component::degraded(message)
            }
        }
        WorkerState::GaveUp => Component::unhealthy(format!(
            "gave up after {} failures in a row: {}",
            status.failures_in_a_row,
            status.last_error.as_deref().unwrap_or("ended")
        )),
        WorkerState::Stopped => Component::unhealthy("stopped"),
    };
    component.insert("state", status.state.as_str());
    component.insert("restarts", status.restarts);
    if let Some(error) = &status.last_error {
        component.insert("last_error", crate::checks::redact(error).into_owned());
    }
    component.insert(
        "since",
        chrono::DateTime::<chrono::Utc>::from(status.since).to_rfc3339(),
    );
    component
}
