//! The recent results of each check, and its flap suppression, in one place: a ring buffer of its
//! last N executions (when, reported status, the run's own status, duration, message), kept
//! beside the check's single flight, so that every execution is recorded exactly once, whoever
//! asked for it, before its result is handed to anyone.
//!
//! The status page's sparklines and [`HealthChecks::history`](crate::HealthChecks::history) read
//! the ring; the suppression (`failure_threshold`, `success_threshold`) reads the runs in a row
//! it records. A run that joined an execution in flight, or a response served from a cache,
//! adds nothing.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::component::{Component, Status};

/// How many results each check keeps by default (an hour of runs every minute).
pub const DEFAULT_HISTORY: usize = 60;

/// The longest message kept in an entry, in bytes; a longer one is cut at a character boundary
/// and ends with `…`. The history's memory is bounded by checks × length × this.
pub const HISTORY_MESSAGE_MAX: usize = 512;

/// The field of a component that holds its run's own status, when the check suppresses flaps.
pub(crate) const RAW_STATUS: &str = "raw_status";

/// One past execution of a check.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Its status, as reported (after flap suppression).
    pub status: Status,
    /// The run's own status, before flap suppression (the same as `status` for a check that
    /// suppresses nothing).
    pub raw_status: Status,
    /// How long it took.
    #[serde(rename = "response_time", serialize_with = "as_seconds")]
    pub duration: Duration,
    /// What it said, when it was not healthy (at most [`HISTORY_MESSAGE_MAX`] bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn as_seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// The history of one check and the state of its flap suppression.
#[derive(Debug)]
pub(crate) struct CheckHistory {
    ring: Mutex<Ring>,
}

#[derive(Debug)]
struct Ring {
    /// How many entries are kept: the most any [`HealthChecks`](crate::HealthChecks) holding
    /// the check asked for.
    capacity: usize,
    entries: VecDeque<HistoryEntry>,
    /// The status last reported, once there is one.
    reported: Option<Status>,
    /// Runs in a row that failed (unhealthy), and that passed (healthy or degraded).
    failing: u32,
    passing: u32,
}

impl CheckHistory {
    pub(crate) const fn new() -> Self {
        Self {
            ring: Mutex::new(Ring {
                capacity: 0,
                entries: VecDeque::new(),
                reported: None,
                failing: 0,
                passing: 0,
            }),
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        // Nothing that can panic runs under the lock: a poisoned one is still consistent.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps at least `len` entries from now on.
    pub(crate) fn reserve(&self, len: usize) {
        let mut ring = self.ring();
        ring.capacity = ring.capacity.max(len);
    }

    /// How many entries it keeps.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.ring().capacity
    }

    /// The entries, oldest first.
    pub(crate) fn entries(&self) -> Vec<HistoryEntry> {
        self.ring().entries.iter().cloned().collect()
    }

    /// Records one execution and returns its result as reported: with `failure` > 1, a failing
    /// run is reported degraded until `failure` runs in a row have failed; with `success` > 1, a
    /// check reported unhealthy stays so until `success` runs in a row have passed. A check with
    /// either above 1 gets its run's own status as the `raw_status` field.
    pub(crate) fn conclude(
        &self,
        mut component: Component,
        failure: u32,
        success: u32,
    ) -> Component {
        let raw = component.status();
        let suppresses = failure > 1 || success > 1;
        let mut ring = self.ring();
        let reported = if raw == Status::Unhealthy {
            ring.failing = ring.failing.saturating_add(1);
            ring.passing = 0;
            if ring.reported == Some(Status::Unhealthy) || ring.failing >= failure {
                Status::Unhealthy
            } else {
                let message = format!(
                    "failing {} of {failure} before unhealthy: {}",
                    ring.failing,
                    component.status_message().unwrap_or("unhealthy")
                );
                component.set_status(Status::Degraded);
                component.set_status_message(message);
                Status::Degraded
            }
        } else {
            ring.passing = ring.passing.saturating_add(1);
            ring.failing = 0;
            if ring.reported == Some(Status::Unhealthy) && ring.passing < success {
                let mut message = format!(
                    "recovering: {} of {success} passing runs before healthy",
                    ring.passing
                );
                if let Some(said) = component.status_message() {
                    message.push_str(": ");
                    message.push_str(said);
                }
                component.set_status(Status::Unhealthy);
                component.set_status_message(message);
                Status::Unhealthy
            } else {
                raw
            }
        };
        ring.reported = Some(reported);
        if suppresses {
            component.insert(RAW_STATUS, raw.as_str());
        }
        if ring.capacity > 0 {
            if ring.entries.len() >= ring.capacity {
                ring.entries.pop_front();
            }
            let entry = HistoryEntry {
                at: Utc::now(),
                status: reported,
                raw_status: raw,
                duration: component.response_time().unwrap_or_default(),
                message: component
                    .status_message()
                    .filter(|_| reported != Status::Healthy || raw != Status::Healthy)
                    .map(shorten),
            };
            ring.entries.push_back(entry);
        }
        component
    }
}

/// The raw status a component's `raw_status` field holds, if it has one.
pub(crate) fn raw_status_of(extra: &serde_json::Map<String, serde_json::Value>) -> Option<Status> {
    match extra.get(RAW_STATUS)?.as_str()? {
        "healthy" => Some(Status::Healthy),
        "degraded" => Some(Status::Degraded),
        "unhealthy" => Some(Status::Unhealthy),
        _ => None,
    }
}

/// `message`, cut to at most [`HISTORY_MESSAGE_MAX`] bytes.
fn shorten(message: &str) -> String {
    if message.len() <= HISTORY_MESSAGE_MAX {
        return message.to_owned();
    }
    let mut end = HISTORY_MESSAGE_MAX - '…'.len_utf8();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component with `status` and `message`.
    fn run(status: Status, message: &'static str) -> Component {
        let mut component = Component::with_status(status);
        component.set_status_message(message);
        component
    }

    fn statuses(
        history: &CheckHistory,
        runs: &[Status],
        failure: u32,
        success: u32,
    ) -> Vec<Status> {
        runs.iter()
            .map(|&status| {
                history
                    .conclude(run(status, "x"), failure, success)
                    .status()
            })
            .collect()
    }

    use Status::{Degraded as D, Healthy as H, Unhealthy as U};

    #[test]
    fn keeps_the_last_n_oldest_first() {
        let history = CheckHistory::new();
        history.reserve(3);
        history.reserve(2);
        assert_eq!(history.capacity(), 3);
        for i in 0..5 {
            let mut component = Component::healthy();
            component.set_response_time(Duration::from_millis(i));
            history.conclude(component, 1, 1);
        }
        let durations: Vec<u128> = history
            .entries()
            .iter()
            .map(|e| e.duration.as_millis())
            .collect();
        assert_eq!(durations, [2, 3, 4]);
    }

    #[test]
    fn no_capacity_keeps_nothing_but_still_suppresses() {
        let history = CheckHistory::new();
        assert_eq!(statuses(&history, &[U, U, U], 3, 1), [D, D, U]);
        assert!(history.entries().is_empty());
    }

    #[test]
    fn a_threshold_of_one_reports_every_run_as_it_is() {
        let history = CheckHistory::new();
        let runs = [H, U, D, U, H, H, U];
        assert_eq!(statuses(&history, &runs, 1, 1), runs);
        let component = history.conclude(run(U, "down"), 1, 1);
        assert_eq!(component.status_message(), Some("down"));
        assert!(raw_status_of(component.extra()).is_none());
    }

    #[test]
    fn three_failures_in_a_row_before_unhealthy() {
        let history = CheckHistory::new();
        history.reserve(10);
        assert_eq!(
            statuses(&history, &[U, U, H, U, U, U, U, H], 3, 1),
            [D, D, H, D, D, U, U, H]
        );
        let entries = history.entries();
        assert_eq!(entries[1].status, D);
        assert_eq!(entries[1].raw_status, U);
        assert_eq!(
            entries[1].message.as_deref(),
            Some("failing 2 of 3 before unhealthy: x")
        );
        let component = history.conclude(run(U, "refused"), 3, 1);
        assert_eq!(component.status(), D);
        assert_eq!(
            component.status_message(),
            Some("failing 1 of 3 before unhealthy: refused")
        );
        assert_eq!(raw_status_of(component.extra()), Some(U));
    }

    #[test]
    fn two_passes_in_a_row_before_healthy_again() {
        let history = CheckHistory::new();
        assert_eq!(
            statuses(&history, &[U, H, U, H, D, H], 1, 2),
            [U, U, U, U, D, H]
        );
        let history = CheckHistory::new();
        history.conclude(run(U, "down"), 1, 2);
        let recovering = history.conclude(run(D, "slow"), 1, 2);
        assert_eq!(
            recovering.status_message(),
            Some("recovering: 1 of 2 passing runs before healthy: slow")
        );
        assert_eq!(raw_status_of(recovering.extra()), Some(D));
    }

    #[test]
    fn both_thresholds() {
        let history = CheckHistory::new();
        assert_eq!(
            statuses(&history, &[H, U, U, U, H, U, H, H, U], 3, 2),
            [H, D, D, U, U, U, U, H, D]
        );
    }

    #[test]
    fn messages_are_cut_at_a_character() {
        let history = CheckHistory::new();
        history.reserve(4);
        history.conclude(Component::healthy().message("fine"), 1, 1);
        let long = "é".repeat(70_000);
        history.conclude(Component::unhealthy(long), 1, 1);
        let entries = history.entries();
        assert_eq!(entries[0].message, None);
        let kept = entries[1].message.as_deref().unwrap();
        assert!(kept.len() <= HISTORY_MESSAGE_MAX, "{}", kept.len());
        assert!(kept.ends_with('…') && kept.starts_with("éé"));
    }
}
