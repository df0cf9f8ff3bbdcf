//! The readiness of a [`HealthChecks`](crate::HealthChecks) as its runs find it: the latest
//! status of each readiness check, whether a shutdown has begun, and a watch that tells
//! whoever follows it (the service registry) when that changes.
//!
//! Nothing is kept until someone follows: a run costs one atomic load more.

#![cfg_attr(not(feature = "registry"), allow(dead_code))]

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::watch;

use crate::check::{CheckRef, Probe};
use crate::component::Status;

/// What the runs have found of the readiness checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// `Some(true)` when every critical readiness check's latest result is healthy or degraded,
    /// `Some(false)` when one is unhealthy, `None` until each has run once.
    pub(crate) ready: Option<bool>,
    /// The critical readiness checks whose latest result is unhealthy, by name.
    pub(crate) failing: Vec<String>,
    /// Whether [`HealthChecks::begin_shutdown`](crate::HealthChecks::begin_shutdown) was called.
    pub(crate) shutting_down: bool,
}

/// A status not known yet.
const UNKNOWN: u8 = u8::MAX;
/// The slot of a check that is not a readiness check.
const NOT_KEPT: u8 = u8::MAX - 1;

const fn encode(status: Status) -> u8 {
    match status {
        Status::Healthy => 0,
        Status::Degraded => 1,
        Status::Unhealthy => 2,
    }
}

/// The readiness state kept beside the checks.
pub(crate) struct ReadinessState {
    /// The latest status of each check, by index; only readiness checks are kept.
    latest: Box<[AtomicU8]>,
    /// The readiness checks: index, name, critical.
    members: Vec<(usize, String, bool)>,
    followers: AtomicUsize,
    shutting_down: AtomicBool,
    /// When a run last covered a readiness check.
    last_seen: Mutex<Option<Instant>>,
    sender: watch::Sender<Readiness>,
}

impl ReadinessState {
    pub(crate) fn new(checks: &[CheckRef]) -> Self {
        let members: Vec<(usize, String, bool)> = checks
            .iter()
            .enumerate()
            .filter(|(_, check)| check.in_probe(Probe::Readiness))
            .map(|(index, check)| (index, check.name().to_owned(), check.is_critical()))
            .collect();
        let initial = Readiness {
            ready: members.is_empty().then_some(true),
            failing: Vec::new(),
            shutting_down: false,
        };
        Self {
            latest: checks
                .iter()
                .map(|check| {
                    AtomicU8::new(if check.in_probe(Probe::Readiness) {
                        UNKNOWN
                    } else {
                        NOT_KEPT
                    })
                })
                .collect(),
            members,
            followers: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            last_seen: Mutex::new(None),
            sender: watch::channel(initial).0,
        }
    }

    /// Whether anyone follows; runs skip [`observe`](Self::observe) otherwise.
    pub(crate) fn followed(&self) -> bool {
        self.followers.load(Ordering::Relaxed) > 0
    }

    /// Takes in a run's results: `(check index, status)`.
    pub(crate) fn observe(&self, results: impl Iterator<Item = (usize, Status)>) {
        let mut covered = false;
        for (index, status) in results {
            // Not a let chain: those need Rust 1.88, and the crate builds on 1.85.
            let Some(slot) = self.latest.get(index) else {
                continue;
            };
            if slot.load(Ordering::Relaxed) != NOT_KEPT {
                slot.store(encode(status), Ordering::Relaxed);
                covered = true;
            }
        }
        if !covered {
            return;
        }
        *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        let mut ready = Some(true);
        let mut failing = Vec::new();
        for (index, name, critical) in &self.members {
            match self.latest[*index].load(Ordering::Relaxed) {
                UNKNOWN => ready = None,
                2 if *critical => {
                    failing.push(name.clone());
                }
                _ => {}
            }
        }
        if !failing.is_empty() {
            ready = Some(false);
        }
        self.sender.send_if_modified(|current| {
            if current.ready == ready && current.failing == failing {
                return false;
            }
            current.ready = ready;
            current.failing = failing;
            true
        });
    }

    /// When a run last covered a readiness check, if one did since the first follower came.
    pub(crate) fn last_seen(&self) -> Option<Instant> {
        *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.sender.send_if_modified(|current| {
            let changed = !current.shutting_down;
            current.shutting_down = true;
            changed
        });
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Follows the readiness: a receiver that sees each change, kept counted while it lives.
    pub(crate) fn follow(self: &Arc<Self>) -> Follower {
        self.followers.fetch_add(1, Ordering::Relaxed);
        Follower {
            receiver: self.sender.subscribe(),
            state: Arc::clone(self),
        }
    }
}

/// A follower of the readiness; stops being counted when dropped.
pub(crate) struct Follower {
    pub(crate) receiver: watch::Receiver<Readiness>,
    pub(crate) state: Arc<ReadinessState>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.state.followers.fetch_sub(1, Ordering::Relaxed);
    }
}
