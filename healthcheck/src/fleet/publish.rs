//! Publishing off the run's path: a run hands over what it found (a lock and a push: the
//! records the store wants are built later, on the SDK's own runtime, and nothing is woken), and
//! a task there, looking every 100 ms, writes them to the store, retrying with backoff while the store is down. Only the newest result of
//! each (check, group) waits: an outage costs no memory beyond one result per check.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::Notify;

use super::identity::Identity;
use super::store::{BeatRecord, FleetRecord, FleetStore, StoreError};
use crate::check::{CheckDef, CheckRef};
use crate::component::Status;

/// How long one call to the store may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the writer looks for results handed over: the most a result waits before it is
/// written, and what gathers the runs of a burst into one write.
const TICK: Duration = Duration::from_millis(100);
/// Runs handed over and not yet taken beyond which the run's side folds them into one.
const MAX_BATCHES: usize = 64;

/// One check's result of a run, as handed over: cheap to make (a check handle, a status, and
/// the message and fields the report already holds).
#[derive(Debug)]
pub(crate) struct Finding {
    pub(crate) check: CheckRef,
    pub(crate) status: Status,
    pub(crate) response_time: f64,
    pub(crate) message: Option<String>,
    pub(crate) fields: Map<String, Value>,
    pub(crate) critical: bool,
}

/// A run's findings and when it ran.
#[derive(Debug)]
struct Batch {
    at: DateTime<Utc>,
    handed: Instant,
    findings: Vec<Finding>,
}

/// The publishing side of an instance: cheap to hand results to, never waits for the store.
#[derive(Debug)]
pub(crate) struct Publisher {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: Arc<dyn FleetStore>,
    identity: Identity,
    ttl: Duration,
    stale_after: f64,
    pending: Mutex<Pending>,
    /// When each check was last handed over, for the background rounds.
    handed: Mutex<HashMap<String, Instant>>,
    wake: Notify,
    progress: Notify,
    closed: AtomicBool,
    stats: Counters,
}

#[derive(Debug, Default)]
struct Pending {
    batches: Vec<Batch>,
    /// Runs folded on the run's side when too many waited (the store is down).
    folded: HashMap<(String, String), FleetRecord>,
    beats: HashMap<String, (BeatRecord, Duration)>,
    /// Handed over so far, and written so far (as of a hand-over's number).
    queued: u64,
    published: u64,
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
    /// Runs and beats handed over and not written yet.
    pub pending: usize,
    /// The last error, without credentials, and when it happened.
    pub last_error: Option<(SystemTime, String)>,
    /// When the last write succeeded.
    pub last_success: Option<SystemTime>,
}

impl Publisher {
    /// Starts the task that writes to `store` on the SDK's own runtime.
    pub(crate) fn start(
        store: Arc<dyn FleetStore>,
        identity: Identity,
        ttl: Duration,
        stale_after: Duration,
    ) -> Result<Self, crate::Error> {
        let shared = Arc::new(Shared {
            store,
            identity,
            ttl,
            stale_after: stale_after.as_secs_f64(),
            pending: Mutex::default(),
            handed: Mutex::default(),
            wake: Notify::new(),
            progress: Notify::new(),
            closed: AtomicBool::new(false),
            stats: Counters::default(),
        });
        crate::health::own_runtime()?.spawn(write_loop(Arc::clone(&shared)));
        Ok(Self { shared })
    }

    /// Hands over the findings of a run made at `at`. A lock and a push: no I/O, no copies.
    pub(crate) fn results(&self, at: DateTime<Utc>, findings: Vec<Finding>) {
        if findings.is_empty() {
            return;
        }
        let mut pending = lock(&self.shared.pending);
        if pending.batches.len() >= MAX_BATCHES {
            // The writer is behind (runs come faster than it looks, or the store is down): keep
            // only the newest finding of each check, moved as it is.
            let mut seen = HashSet::new();
            let mut kept: Vec<Batch> = std::mem::take(&mut pending.batches)
                .into_iter()
                .rev()
                .filter_map(|mut batch| {
                    batch
                        .findings
                        .retain(|f| seen.insert(std::ptr::from_ref::<CheckDef>(&f.check)));
                    (!batch.findings.is_empty()).then_some(batch)
                })
                .collect();
            kept.reverse();
            pending.batches = kept;
        }
        if pending.batches.len() >= MAX_BATCHES {
            // Still as many (each run had checks of its own): fold them into records.
            let batches = std::mem::take(&mut pending.batches);
            for batch in batches {
                for record in self.shared.records(batch) {
                    pending
                        .folded
                        .insert((record.check.clone(), record.group.clone()), record);
                }
            }
        }
        pending.batches.push(Batch {
            at,
            handed: Instant::now(),
            findings,
        });
        pending.queued += 1;
    }

    /// Hands over a heartbeat's beat, kept for `ttl` by the store.
    pub(crate) fn beat(&self, beat: BeatRecord, ttl: Duration) {
        let mut pending = lock(&self.shared.pending);
        pending.beats.insert(beat.heartbeat.clone(), (beat, ttl));
        pending.queued += 1;
    }

    /// The checks (of `names`) not handed over for `interval` or more.
    pub(crate) fn overdue<'a>(
        &self,
        names: impl Iterator<Item = &'a str>,
        interval: Duration,
    ) -> Vec<&'a str> {
        let now = Instant::now();
        let mut recent: HashMap<String, Instant> = lock(&self.shared.handed).clone();
        // Runs handed over since the writer last looked.
        for batch in &lock(&self.shared.pending).batches {
            for finding in &batch.findings {
                recent.insert(finding.check.name().to_owned(), batch.handed);
            }
        }
        names
            .filter(|name| {
                recent
                    .get(*name)
                    .is_none_or(|at| now.saturating_duration_since(*at) >= interval)
            })
            .collect()
    }

    /// Waits until everything handed over before the call is written, at most `timeout`.
    pub(crate) async fn flush(&self, timeout: Duration) -> bool {
        let target = lock(&self.shared.pending).queued;
        self.shared.wake.notify_one();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let progress = self.shared.progress.notified();
            if lock(&self.shared.pending).published >= target {
                return true;
            }
            if tokio::time::timeout_at(deadline, progress).await.is_err() {
                return lock(&self.shared.pending).published >= target;
            }
        }
    }

    /// What publishing has done so far.
    pub(crate) fn status(&self) -> PublishStatus {
        let stats = &self.shared.stats;
        let pending = lock(&self.shared.pending);
        let waiting = pending.batches.len() + pending.folded.len() + pending.beats.len();
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
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // The task writes what is pending once more, then ends.
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The store's records of a run: one per group of each check (one, under the empty group,
    /// for a check in none).
    fn records(&self, batch: Batch) -> Vec<FleetRecord> {
        let identity = &self.identity;
        let mut records = Vec::with_capacity(batch.findings.len());
        for finding in batch.findings {
            let record = |group: &str| FleetRecord {
                service: identity.service().to_owned(),
                check: finding.check.name().to_owned(),
                group: group.to_owned(),
                instance: identity.instance().to_owned(),
                host: identity.host().to_owned(),
                labels: identity.labels().clone(),
                status: finding.status,
                message: finding.message.as_deref().map(bounded_message),
                response_time: finding.response_time,
                checked_at: batch.at,
                critical: finding.critical,
                stale_after: Some(self.stale_after),
                fields: bounded_fields(&finding.fields),
            };
            let mut groups = finding.check.groups().peekable();
            if groups.peek().is_none() {
                records.push(record(""));
            } else {
                records.extend(groups.map(record));
            }
        }
        records
    }

    /// Moves what was handed over into `latest` (the newest of each (check, group)) and
    /// `beats`; the hand-over number it covers.
    fn take(
        &self,
        latest: &mut HashMap<(String, String), FleetRecord>,
        beats: &mut HashMap<String, (BeatRecord, Duration)>,
    ) -> u64 {
        let mut pending = lock(&self.pending);
        let batches = std::mem::take(&mut pending.batches);
        let folded = std::mem::take(&mut pending.folded);
        beats.extend(pending.beats.drain());
        let upto = pending.queued;
        drop(pending);
        latest.extend(folded);
        let mut handed = Vec::new();
        // Newest first: a check's result superseded by a later run is never turned into a
        // record.
        let mut seen = HashSet::new();
        for batch in batches.into_iter().rev() {
            let findings: Vec<Finding> = batch
                .findings
                .into_iter()
                .filter(|f| seen.insert(f.check.name().to_owned()))
                .collect();
            if findings.is_empty() {
                continue;
            }
            handed.extend(
                findings
                    .iter()
                    .map(|f| (f.check.name().to_owned(), batch.handed)),
            );
            let newest = Batch {
                at: batch.at,
                handed: batch.handed,
                findings,
            };
            for record in self.records(newest) {
                latest.insert((record.check.clone(), record.group.clone()), record);
            }
        }
        if !handed.is_empty() {
            let mut times = lock(&self.handed);
            for (name, at) in handed {
                times.insert(name, at);
            }
        }
        upto
    }

    fn mark_published(&self, upto: u64) {
        let mut pending = lock(&self.pending);
        pending.published = pending.published.max(upto);
        drop(pending);
        self.progress.notify_waiters();
    }
}

/// The most of a message that goes to the store: a store's limits on a write (etcd takes
/// 1.5 MiB a request) must not be reached by a check that returns a whole error page.
const MAX_MESSAGE: usize = 1024;
/// The most of a record's fields, as JSON, that goes to the store.
const MAX_FIELDS: usize = 4096;

/// `message`, cut at [`MAX_MESSAGE`] bytes (on a character boundary) with a mark.
fn bounded_message(message: &str) -> String {
    if message.len() <= MAX_MESSAGE {
        return message.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &message[..end], message.len())
}

/// `fields`, or a note of their size when their JSON is longer than [`MAX_FIELDS`].
fn bounded_fields(fields: &Map<String, Value>) -> Map<String, Value> {
    if fields.is_empty() {
        return Map::new();
    }
    let size = serde_json::to_string(fields).map_or(0, |json| json.len());
    if size <= MAX_FIELDS {
        return fields.clone();
    }
    let mut note = Map::new();
    note.insert(
        "fields_omitted".to_owned(),
        Value::from(format!(
            "{size} bytes of fields, more than the fleet store keeps"
        )),
    );
    note
}

/// Writes whatever is handed over, for as long as the publisher lives; backs off while the
/// store fails, taking in (and folding) new runs meanwhile.
async fn write_loop(shared: Arc<Shared>) {
    let mut latest: HashMap<(String, String), FleetRecord> = HashMap::new();
    let mut beats: HashMap<String, (BeatRecord, Duration)> = HashMap::new();
    let mut backoff = FIRST_BACKOFF;
    loop {
        let wake = shared.wake.notified();
        let closed = shared.closed.load(Ordering::SeqCst);
        let upto = shared.take(&mut latest, &mut beats);
        if latest.is_empty() && beats.is_empty() {
            shared.mark_published(upto);
            if closed {
                return;
            }
            // Runs do not wake the writer (a wake-up is a system call on the run's path): it
            // looks every tick, and at once when a flush or the end asks.
            let _ = tokio::time::timeout(TICK, wake).await;
            continue;
        }
        let records: Vec<FleetRecord> = latest.drain().map(|(_, r)| r).collect();
        let beat_list: Vec<(BeatRecord, Duration)> = beats.drain().map(|(_, b)| b).collect();
        match write(&shared, &records, &beat_list).await {
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
                shared.mark_published(upto);
            }
            Err(error) => {
                // Kept for the next attempt, unless a newer result comes meanwhile.
                for record in records {
                    latest.insert((record.check.clone(), record.group.clone()), record);
                }
                for (beat, ttl) in beat_list {
                    beats.insert(beat.heartbeat.clone(), (beat, ttl));
                }
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
                shared.progress.notify_waiters();
                if closed {
                    return;
                }
                // Wait out the backoff, folding in what runs hand over meanwhile.
                let until = tokio::time::Instant::now() + backoff;
                loop {
                    let wake = shared.wake.notified();
                    if tokio::time::timeout_at(until, wake).await.is_err()
                        || shared.closed.load(Ordering::SeqCst)
                    {
                        break;
                    }
                    shared.take(&mut latest, &mut beats);
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_and_fields_are_bounded_for_the_store() {
        assert_eq!(bounded_message("connection refused"), "connection refused");
        let long = "é".repeat(70 * 1024);
        let cut = bounded_message(&long);
        assert!(cut.len() < MAX_MESSAGE + 40, "{}", cut.len());
        assert!(cut.ends_with(&format!("… ({} bytes in all)", long.len())));
        let mut fields = Map::new();
        fields.insert("queued".to_owned(), Value::from(3));
        assert_eq!(bounded_fields(&fields), fields);
        fields.insert("page".to_owned(), Value::from("x".repeat(10_000)));
        let note = bounded_fields(&fields);
        assert_eq!(note.len(), 1);
        assert!(
            note["fields_omitted"]
                .as_str()
                .is_some_and(|n| n.starts_with("100"))
        );
    }
}
