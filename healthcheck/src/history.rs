//! The recent results of each check: a ring buffer of the last N executions (time, status,
//! duration, message), kept by the SDK for the status page's sparklines and
//! [`HealthChecks::history`](crate::HealthChecks::history).
//!
//! One entry per execution: a run that joined an execution already in flight, or a response
//! served from a cache, adds nothing, so that a busy endpoint does not fill the history with
//! copies of one result.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::component::Status;

/// How many results each check keeps by default (an hour of runs every minute).
pub const DEFAULT_HISTORY: usize = 60;

/// The longest message kept in an entry, in bytes; a longer one is cut at a character boundary
/// and ends with `…`. The history's memory is bounded by checks × length × this.
pub const HISTORY_MESSAGE_MAX: usize = 512;

/// One past execution of a check.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// When the run that executed it started.
    pub at: DateTime<Utc>,
    /// Its status.
    pub status: Status,
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

/// The ring buffers of every check, by the check's index (checks are sorted by name).
pub(crate) struct History {
    len: usize,
    checks: Vec<Mutex<VecDeque<HistoryEntry>>>,
}

impl History {
    /// Room for `len` entries for each of `checks` checks; `len == 0` keeps nothing.
    pub(crate) fn new(checks: usize, len: usize) -> Self {
        let checks = if len == 0 { 0 } else { checks };
        Self {
            len,
            checks: (0..checks).map(|_| Mutex::new(VecDeque::new())).collect(),
        }
    }

    /// How many entries each check keeps.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Records an execution of check `index`.
    pub(crate) fn record(
        &self,
        index: usize,
        at: DateTime<Utc>,
        status: Status,
        duration: Duration,
        message: Option<&str>,
    ) {
        let Some(ring) = self.checks.get(index) else {
            return;
        };
        let entry = HistoryEntry {
            at,
            status,
            duration,
            message: message.filter(|_| status != Status::Healthy).map(shorten),
        };
        let mut ring = ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.len() == self.len {
            ring.pop_front();
        }
        ring.push_back(entry);
    }

    /// The entries of check `index`, oldest first.
    pub(crate) fn entries(&self, index: usize) -> Vec<HistoryEntry> {
        self.checks.get(index).map_or_else(Vec::new, |ring| {
            let ring = ring.lock().unwrap_or_else(PoisonError::into_inner);
            ring.iter().cloned().collect()
        })
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

    #[test]
    fn keeps_the_last_n_oldest_first() {
        let history = History::new(2, 3);
        let at = Utc::now();
        for i in 0..5 {
            history.record(1, at, Status::Healthy, Duration::from_millis(i), None);
        }
        let durations: Vec<u64> = history
            .entries(1)
            .iter()
            .map(|e| e.duration.as_millis() as u64)
            .collect();
        assert_eq!(durations, [2, 3, 4]);
        assert!(history.entries(0).is_empty());
        assert!(history.entries(7).is_empty());
    }

    #[test]
    fn zero_keeps_nothing() {
        let history = History::new(2, 0);
        history.record(0, Utc::now(), Status::Unhealthy, Duration::ZERO, Some("x"));
        assert!(history.entries(0).is_empty());
    }

    #[test]
    fn messages_are_kept_when_not_healthy_and_cut_at_a_character() {
        let history = History::new(1, 4);
        let at = Utc::now();
        history.record(0, at, Status::Healthy, Duration::ZERO, Some("fine"));
        let long = "é".repeat(70_000);
        history.record(0, at, Status::Unhealthy, Duration::ZERO, Some(&long));
        let entries = history.entries(0);
        assert_eq!(entries[0].message, None);
        let kept = entries[1].message.as_deref().unwrap();
        assert!(kept.len() <= HISTORY_MESSAGE_MAX, "{}", kept.len());
        assert!(kept.ends_with('…') && kept.starts_with("éé"));
    }
}
