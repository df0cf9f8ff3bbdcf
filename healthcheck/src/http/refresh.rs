//! Running checks for the handler and keeping their results: on requests, and in the background.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt;

use crate::check::CheckDef;
use crate::error::Error;
use crate::health::HealthChecks;
use crate::http::handler::Inner;
use crate::http::store::StoredResult;
use crate::report::Report;

/// How a check is refreshed in the background.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refreshed {
    pub(crate) interval: Duration,
    /// Past this age its latest result is no longer served: three intervals and its timeout.
    pub(crate) stale_after: Duration,
}

impl Refreshed {
    pub(crate) fn new(interval: Duration, check: &CheckDef, health: &HealthChecks) -> Self {
        let timeout = check.timeout().unwrap_or(health.default_timeout());
        Self {
            interval,
            stale_after: interval.saturating_mul(3).saturating_add(timeout),
        }
    }
}

/// Runs `names` and stores their results.
pub(crate) async fn run_and_store(inner: &Inner, names: &[&str]) -> Report {
    let report = match inner.health.run_names(names).await {
        Ok(report) => report,
        Err(error) => {
            // The names come from the checks themselves: only a runtime failure gets here.
            tracing::warn!(%error, "the health checks could not run");
            return inner.health.failed_report(&error.to_string());
        }
    };
    let checked_at = SystemTime::from(report.timestamp);
    let results = report
        .components
        .iter()
        .map(|(name, component)| {
            (
                name.clone(),
                StoredResult {
                    component: component.clone(),
                    checked_at,
                },
            )
        })
        .collect();
    inner.store.save(results).await;
    report
}

/// Starts the background refresh of every check in `intervals`: a task per check, each on its
/// own schedule, so that a slow check delays no other.
///
/// The tasks run on the SDK's own runtime, which lives as long as the process: they go on when
/// the runtime that built the handler is dropped, and a panic in one round (a `reduce` function,
/// a store) is logged and the next round comes as planned. They end when the handler is dropped.
pub(crate) fn start(inner: &Arc<Inner>) -> Result<(), Error> {
    let runtime = crate::health::own_runtime()?;
    for (name, refreshed) in &inner.refresh_intervals {
        let task = refresh_one(Arc::downgrade(inner), name.clone(), refreshed.interval);
        runtime.spawn(task);
    }
    Ok(())
}

/// Runs one check every `interval` for as long as the handler lives. A run that takes longer
/// than the interval is followed by the next one at once.
async fn refresh_one(inner: Weak<Inner>, name: String, interval: Duration) {
    let mut next = Instant::now();
    loop {
        tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        next = (next + interval).max(Instant::now());
        let names = [name.as_str()];
        let round = AssertUnwindSafe(run_and_store(&strong, &names));
        if let Err(panic) = round.catch_unwind().await {
            let message = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a non-string panic payload");
            tracing::error!(
                check = name.as_str(),
                panic = message,
                "the background refresh of a health check panicked; it goes on at its next round"
            );
        }
        drop(strong);
    }
}
