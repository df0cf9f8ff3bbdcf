//! Per-check handles on the series, made once when the checks are built, and what an execution
//! of a check and the verdict of a run write into them.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use super::histogram::{AtomicHistogram, TimestampGauge};
use super::{
    CheckLabels, Families, GroupLabels, NoLabels, Prometheus, ResultLabels, STATUSES, StatusLabels,
    slot,
};
use crate::{Error, Status};

/// Per-check metric handles, made once when the [`HealthChecks`](crate::HealthChecks) is built,
/// so that a run does no label hashing and no map look-up.
pub(crate) struct Recorder {
    families: Families,
    checks: Box<[CheckHandles]>,
    /// `service_healthy`, made by the first verdict.
    service: OnceLock<Gauge>,
}

/// The series of one check.
struct CheckHandles {
    name: Arc<str>,
    /// Its groups, each once; `[""]` for a check in none.
    groups: Box<[Arc<str>]>,
    duration: AtomicHistogram,
    /// `check_runs_total` by raw result, in the order of [`STATUSES`].
    runs: [Counter; 3],
    /// The series that state something, made by the check's first execution.
    reported: OnceLock<Reported>,
    /// Keeps the reported series of one execution together when two executions of the check
    /// end at once: otherwise the state set could end with two statuses at 1, or none.
    order: Mutex<()>,
    /// The status the state series last got ([`slot`]), or [`NO_STATUS`]: an execution that
    /// reports what the last one did writes none of them, and takes no lock.
    last: AtomicU8,
}

/// No status written yet.
const NO_STATUS: u8 = u8::MAX;

/// The series of a check that appear with its first execution.
struct Reported {
    /// `check_healthy`, one per group.
    healthy: Box<[Gauge]>,
    /// `check_status`, in the order of [`STATUSES`].
    status: [Gauge; 3],
    last_run: TimestampGauge,
}

impl Recorder {
    /// Handles for these checks, in this order: a check's index in `checks` is the `index` of
    /// [`record`](Self::record). Each check is its name and its groups (possibly none).
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] when the [`Prometheus`]'s prefix or buckets are invalid.
    pub(crate) fn new<'a, C, G>(prometheus: &Prometheus, checks: C) -> Result<Self, Error>
    where
        C: IntoIterator<Item = (&'a str, G)>,
        G: IntoIterator<Item = &'a str>,
    {
        prometheus.validate()?;
        let families = prometheus.inner.families.clone();
        let checks = checks
            .into_iter()
            .map(|(name, groups)| CheckHandles::new(&families, name, groups))
            .collect();
        Ok(Self {
            families,
            checks,
            service: OnceLock::new(),
        })
    }

    /// One execution of check `index`: its reported `status`, its `raw` status (the check's own
    /// result before flap suppression; equal to `status` unless suppression changed it), its
    /// `duration`, and when it `finished`.
    pub(crate) fn record(
        &self,
        index: usize,
        status: Status,
        raw: Status,
        duration: Duration,
        finished: SystemTime,
    ) {
        let finished = match finished.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(since) => since.as_secs_f64(),
            Err(before) => -before.duration().as_secs_f64(),
        };
        self.record_at(index, status, raw, duration, finished);
    }

    /// [`record`](Self::record), with when it finished in seconds since the Unix epoch (the
    /// runner reads the clock once per run, not once per check).
    pub(crate) fn record_at(
        &self,
        index: usize,
        status: Status,
        raw: Status,
        duration: Duration,
        finished: f64,
    ) {
        let Some(check) = self.checks.get(index) else {
            tracing::warn!(
                index,
                checks = self.checks.len(),
                "no Prometheus metrics for this check index; the execution is not recorded"
            );
            return;
        };
        check.duration.observe(duration);
        check.runs[slot(raw)].inc();
        let reported = check
            .reported
            .get_or_init(|| Reported::new(&self.families, check));
        reported.last_run.set(finished);
        // Mostly the status has not changed since the last execution: nothing more to write.
        let new = u8::try_from(slot(status)).unwrap_or(NO_STATUS);
        if check.last.load(Ordering::Acquire) == new {
            return;
        }
        let _in_order = check.order.lock().unwrap_or_else(PoisonError::into_inner);
        // Reading a gauge is a plain load, writing one a locked instruction: only what changes
        // is written.
        let healthy = i64::from(status.is_healthy());
        for gauge in &reported.healthy {
            set_if_changed(gauge, healthy);
        }
        // The new status first: a scrape in between sees two at 1 rather than none.
        set_if_changed(&reported.status[slot(status)], 1);
        for (index, gauge) in reported.status.iter().enumerate() {
            if index != slot(status) {
                set_if_changed(gauge, 0);
            }
        }
        check.last.store(new, Ordering::Release);
    }

    /// The service's verdict after a run of every check.
    pub(crate) fn service(&self, status: Status) {
        self.service
            .get_or_init(|| self.families.service.get_or_create_owned(&NoLabels))
            .set(i64::from(status.is_healthy()));
    }
}

fn set_if_changed(gauge: &Gauge, value: i64) {
    if gauge.get() != value {
        gauge.set(value);
    }
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("checks", &self.checks.len())
            .finish_non_exhaustive()
    }
}

impl CheckHandles {
    fn new<'a>(families: &Families, name: &str, groups: impl IntoIterator<Item = &'a str>) -> Self {
        let name: Arc<str> = Arc::from(name);
        let mut unique: Vec<Arc<str>> = Vec::new();
        for group in groups {
            if !unique.iter().any(|known| &**known == group) {
                unique.push(Arc::from(group));
            }
        }
        if unique.is_empty() {
            unique.push(Arc::from(""));
        }
        let check = CheckLabels {
            check: Arc::clone(&name),
        };
        let runs = STATUSES.map(|result| {
            families.runs.get_or_create_owned(&ResultLabels {
                check: Arc::clone(&name),
                result: result.as_str(),
            })
        });
        Self {
            duration: families.duration.get_or_create_owned(&check),
            runs,
            name,
            groups: unique.into_boxed_slice(),
            reported: OnceLock::new(),
            order: Mutex::new(()),
            last: AtomicU8::new(NO_STATUS),
        }
    }
}

impl Reported {
    fn new(families: &Families, check: &CheckHandles) -> Self {
        let healthy = check
            .groups
            .iter()
            .map(|group| {
                families.healthy.get_or_create_owned(&GroupLabels {
                    check: Arc::clone(&check.name),
                    group: Arc::clone(group),
                })
            })
            .collect();
        let status = STATUSES.map(|status| {
            families.status.get_or_create_owned(&StatusLabels {
                check: Arc::clone(&check.name),
                status: status.as_str(),
            })
        });
        let last_run = families.last_run.get_or_create_owned(&CheckLabels {
            check: Arc::clone(&check.name),
        });
        Self {
            healthy,
            status,
            last_run,
        }
    }
}
