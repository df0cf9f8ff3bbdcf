//! Running checks for the handler and keeping their results: on requests, and in the background.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::{Duration, Instant, SystemTime};

use crate::http::handler::Inner;
use crate::http::store::StoredResult;
use crate::report::Report;
use crate::run::selection::Selection;

/// Runs `names` and stores their results.
pub(crate) async fn run_and_store(inner: &Inner, names: Vec<String>) -> Report {
    let selection = Selection::Checks(names);
    let report = match inner.health.run_selection(&selection).await {
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

/// Runs the checks that are due, for as long as the handler lives.
pub(crate) async fn run(inner: Weak<Inner>) {
    let mut next: HashMap<String, Instant> = HashMap::new();
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let now = Instant::now();
        let due: Vec<String> = strong
            .refresh_intervals
            .iter()
            .filter(|(name, _)| next.get(*name).is_none_or(|at| *at <= now))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &due {
            next.insert(name.clone(), now + strong.refresh_intervals[name]);
        }
        if !due.is_empty() {
            run_and_store(&strong, due).await;
        }
        let wake = next
            .values()
            .min()
            .copied()
            .unwrap_or(now + Duration::from_secs(1));
        drop(strong);
        tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
    }
}
