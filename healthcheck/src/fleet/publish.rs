//! Publishing off the run's path: a run hands its results over (a lock and a map insert), and a
//! task on the SDK's own runtime writes them to the store, retrying with backoff while the store
//! is down. Only the newest result of each (check, group) waits: an outage costs no memory
//! beyond one result per check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use super::store::{BeatRecord, FleetRecord, FleetStore, StoreError};

/// How long one call to the store may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The publishing side of an instance: cheap to hand results to, never waits for the store.
#[derive(Debug)]
pub(crate) struct Publisher {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: Arc<dyn FleetStore>,
    ttl: Duration,
    pending: Mutex<Pending>,
    wake: Notify,
    progress: Notify,
    closed: AtomicBool,
    stats: Counters,
}

#[derive(Debug, Default)]
struct Pending {
    results: HashMap<(String, String), FleetRecord>,
    beats: HashMap<String, (BeatRecord, Duration)>,
    /// Handed over so far, and published so far (as of a hand-over's number).
    queued: u64,
    published: u64,
    /// When each check was last handed over, for the background rounds.
    handed: HashMap<String, Instant>,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    failures: AtomicU64,
    consecutive: AtomicU64,
    last_error: Mutex<Option<(SystemTime, String)>>,
    last_success: Mutex<Option<SystemTime>>,
}

/// What publishing has done so far: see [`HealthChecks::fleet_status`](crate::HealthChecks::fleet_status).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishStatus {
    /// The store, as its URL without credentials.
    pub store: String,
    /// Whether the last attempt to write succeeded (or none failed yet).
    pub connected: bool,
    /// Writes that succeeded.
    pub published: u64,
    /// Writes that failed (each retried later).
    pub failures: u64,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// Results and beats waiting to be written.
    pub pending: usize,
    /// The last error, without credentials, and when it happened.
    pub last_error: Option<(SystemTime, String)>,
    /// When the last write succeeded.
    pub last_success: Option<SystemTime>,
}

impl Publisher {
    /// Starts the task that writes to `store` on the SDK's own runtime.
    pub(crate) fn start(store: Arc<dyn FleetStore>, ttl: Duration) -> Result<Self, crate::Error> {
        let shared = Arc::new(Shared {
            store,
            ttl,
            pending: Mutex::default(),
            wake: Notify::new(),
            progress: Notify::new(),
            closed: AtomicBool::new(false),
            stats: Counters::default(),
        });
        crate::health::own_runtime()?.spawn(write_loop(Arc::clone(&shared)));
        Ok(Self { shared })
    }

    /// Hands over the results of a run. A lock and a few map inserts: no I/O.
    pub(crate) fn results(&self, records: Vec<FleetRecord>) {
        if records.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut pending = self.pending();
        for record in records {
            if let Some(at) = pending.handed.get_mut(&record.check) {
                *at = now;
            } else {
                pending.handed.insert(record.check.clone(), now);
            }
            let key = (record.check.clone(), record.group.clone());
            pending.results.insert(key, record);
        }
        pending.queued += 1;
        drop(pending);
        self.shared.wake.notify_one();
    }

    /// Hands over a heartbeat's beat, kept for `ttl` by the store.
    pub(crate) fn beat(&self, beat: BeatRecord, ttl: Duration) {
        let mut pending = self.pending();
        pending.beats.insert(beat.heartbeat.clone(), (beat, ttl));
        pending.queued += 1;
        drop(pending);
        self.shared.wake.notify_one();
    }

    /// The checks (of `names`) not handed over for `interval` or more.
    pub(crate) fn overdue<'a>(
        &self,
        names: impl Iterator<Item = &'a str>,
        interval: Duration,
    ) -> Vec<&'a str> {
        let pending = self.pending();
        let now = Instant::now();
        names
            .filter(|name| {
                pending
                    .handed
                    .get(*name)
                    .is_none_or(|at| now.saturating_duration_since(*at) >= interval)
            })
            .collect()
    }

    /// Waits until everything handed over before the call is written, at most `timeout`.
    pub(crate) async fn flush(&self, timeout: Duration) -> bool {
        let target = self.pending().queued;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let progress = self.shared.progress.notified();
            if self.pending().published >= target {
                return true;
            }
            if tokio::time::timeout_at(deadline, progress).await.is_err() {
                return self.pending().published >= target;
            }
        }
    }

    /// What publishing has done so far.
    pub(crate) fn status(&self) -> PublishStatus {
        let stats = &self.shared.stats;
        let pending = self.pending();
        let waiting = pending.results.len() + pending.beats.len();
        drop(pending);
        let consecutive = stats.consecutive.load(Ordering::Relaxed);
        PublishStatus {
            store: self.shared.store.describe(),
            connected: consecutive == 0,
            published: stats.published.load(Ordering::Relaxed),
            failures: stats.failures.load(Ordering::Relaxed),
            consecutive_failures: consecutive,
            pending: waiting,
            last_error: lock(&stats.last_error).clone(),
            last_success: *lock(&stats.last_success),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        lock(&self.shared.pending)
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // The task writes what is pending once more, then ends.
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes whatever is pending, for as long as the publisher lives; backs off while the store
/// fails.
async fn write_loop(shared: Arc<Shared>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let wake = shared.wake.notified();
        let closed = shared.closed.load(Ordering::SeqCst);
        let (results, beats, upto) = {
            let mut pending = lock(&shared.pending);
            let results: Vec<FleetRecord> = pending.results.drain().map(|(_, r)| r).collect();
            let beats: Vec<(BeatRecord, Duration)> =
                pending.beats.drain().map(|(_, b)| b).collect();
            (results, beats, pending.queued)
        };
        if results.is_empty() && beats.is_empty() {
            lock(&shared.pending).published = upto;
            shared.progress.notify_waiters();
            if closed {
                return;
            }
            wake.await;
            continue;
        }
        match write(&shared, &results, &beats).await {
            Ok(()) => {
                backoff = FIRST_BACKOFF;
                let stats = &shared.stats;
                stats.published.fetch_add(1, Ordering::Relaxed);
                let was_down = stats.consecutive.swap(0, Ordering::Relaxed);
                *lock(&stats.last_success) = Some(SystemTime::now());
                if was_down > 0 {
                    tracing::info!(
                        store = shared.store.describe(),
                        failures = was_down,
                        "the fleet store is reachable again; publishing goes on"
                    );
                }
                let mut pending = lock(&shared.pending);
                pending.published = pending.published.max(upto);
                drop(pending);
                shared.progress.notify_waiters();
                if closed {
                    // Anything handed over meanwhile gets one more round.
                    if lock(&shared.pending).results.is_empty() {
                        return;
                    }
                }
            }
            Err(error) => {
                let stats = &shared.stats;
                stats.failures.fetch_add(1, Ordering::Relaxed);
                let consecutive = stats.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
                *lock(&stats.last_error) = Some((SystemTime::now(), error.to_string()));
                // The first failure, then every tenth: an outage is seen without flooding logs.
                if consecutive == 1 || consecutive % 10 == 0 {
                    tracing::warn!(
                        store = shared.store.describe(),
                        %error,
                        consecutive,
                        "could not publish health results to the fleet store; retrying with backoff"
                    );
                }
                put_back(&shared, results, beats);
                shared.progress.notify_waiters();
                if closed {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn write(
    shared: &Shared,
    results: &[FleetRecord],
    beats: &[(BeatRecord, Duration)],
) -> Result<(), StoreError> {
    let timed_out = |what: &str| {
        StoreError::described(
            shared.store.describe(),
            format!("{what} took longer than {} s", CALL_TIMEOUT.as_secs()),
        )
    };
    if !results.is_empty() {
        tokio::time::timeout(CALL_TIMEOUT, shared.store.publish(results, shared.ttl))
            .await
            .map_err(|_| timed_out("publishing"))??;
    }
    for (beat, ttl) in beats {
        tokio::time::timeout(CALL_TIMEOUT, shared.store.beat(beat, *ttl))
            .await
            .map_err(|_| timed_out("writing a beat"))??;
    }
    Ok(())
}

/// Returns what failed to the pending maps, unless something newer came meanwhile.
fn put_back(shared: &Shared, results: Vec<FleetRecord>, beats: Vec<(BeatRecord, Duration)>) {
    let mut pending = lock(&shared.pending);
    for record in results {
        let key = (record.check.clone(), record.group.clone());
        pending.results.entry(key).or_insert(record);
    }
    for (beat, ttl) in beats {
        pending
            .beats
            .entry(beat.heartbeat.clone())
            .or_insert((beat, ttl));
    }
}
