//! Following the registry: a task on the SDK's runtime reads the records once, then watches
//! them from the revision it read at, and turns the changes into `Up` and `Down` events.
//!
//! It remembers the last state it reported of each instance, so that a change is reported once:
//! after a reconnection it watches again from the revision after the last one it saw (etcd
//! replays what happened meanwhile); when etcd has compacted that revision away, it reads the
//! records again and reports the difference.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use etcd_client::{EventType, GetOptions, WatchOptions};
use tokio::sync::mpsc;

use super::Registry;
use super::keys::Keys;
use super::record::{DownReason, InstanceRecord, RegistryEvent, RegistryFilter};

/// How many events may wait for the watcher's owner before the task waits too.
const BUFFER: usize = 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A stream of [`RegistryEvent`]s; see [`Registry::watch`]. Stops its task when dropped.
#[derive(Debug)]
pub struct RegistryWatch {
    events: mpsc::Receiver<RegistryEvent>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RegistryWatch {
    /// The next event; `None` only when the watch could not start (no runtime for its task).
    pub async fn next(&mut self) -> Option<RegistryEvent> {
        self.events.recv().await
    }
}

impl futures_util::Stream for RegistryWatch {
    type Item = RegistryEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RegistryEvent>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for RegistryWatch {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub(crate) fn start(registry: Registry, filter: RegistryFilter) -> RegistryWatch {
    let (sender, events) = mpsc::channel(BUFFER);
    let task = match crate::health::own_runtime() {
        Ok(runtime) => Some(
            runtime.spawn(
                Watcher {
                    registry,
                    filter,
                    sender,
                    known: HashMap::new(),
                    revision: None,
                    answered: false,
                }
                .run(),
            ),
        ),
        Err(error) => {
            tracing::warn!(%error, "a service registry watch cannot start its task");
            None
        }
    };
    RegistryWatch { events, task }
}

/// What was last reported of an instance: its record, and why it is down (`None`: up).
type Reported = (InstanceRecord, Option<DownReason>);

struct Watcher {
    registry: Registry,
    filter: RegistryFilter,
    sender: mpsc::Sender<RegistryEvent>,
    known: HashMap<String, Reported>,
    /// The last revision seen; `None` until the records were read.
    revision: Option<i64>,
    /// Whether etcd answered since the last failure.
    answered: bool,
}

/// Why a watch stopped.
enum Stop {
    /// The owner dropped the stream.
    Closed,
    /// etcd went away or ended the watch; watch again.
    Lost(String),
    /// The revision to resume from was compacted away; read again.
    Compacted,
}

impl Watcher {
    async fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        let url = self.registry.inner.connection.display().to_owned();
        loop {
            let stop = match self.revision {
                None => match self.read().await {
                    Ok(()) => continue,
                    Err(stop) => stop,
                },
                Some(revision) => self.follow(revision).await,
            };
            match stop {
                Stop::Closed => return,
                Stop::Compacted => {
                    tracing::info!(registry = %url, "a service registry watch fell behind a compaction; reading the registry again");
                    self.revision = None;
                    continue;
                }
                Stop::Lost(reason) => {
                    if std::mem::take(&mut self.answered) {
                        backoff = FIRST_BACKOFF;
                    }
                    tracing::warn!(registry = %url, %reason, "a service registry watch lost etcd; resuming");
                    self.registry.inner.connection.reset_streams();
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.sender.closed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Reads every record, reports how each differs from what was reported, and notes the
    /// revision read at.
    async fn read(&mut self) -> Result<(), Stop> {
        let prefix = self.registry.inner.keys.records();
        let connection = &self.registry.inner.connection;
        let client = connection
            .stream_client()
            .await
            .map_err(|e| Stop::Lost(e.to_string()))?;
        let mut kv = client.kv_client();
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            kv.get(prefix, Some(GetOptions::new().with_prefix())),
        )
        .await
        .map_err(|_| Stop::Lost("no answer to a read".to_owned()))?
        .map_err(|e| Stop::Lost(e.to_string()))?;
        let revision = response.header().map_or(0, |h| h.revision());
        let mut present = std::collections::HashSet::new();
        for kv in response.kvs() {
            let key = String::from_utf8_lossy(kv.key());
            if let Some(record) = self.decode(&key, kv.value()) {
                present.insert(record.id.clone());
                self.report(record).await?;
            }
        }
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|id| !present.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.gone(&id, None).await?;
        }
        self.revision = Some(revision);
        Ok(())
    }

    /// Watches the records from after `revision` until the watch stops.
    async fn follow(&mut self, revision: i64) -> Stop {
        let prefix = self.registry.inner.keys.records();
        let client = match self.registry.inner.connection.stream_client().await {
            Ok(client) => client,
            Err(error) => return Stop::Lost(error.to_string()),
        };
        let mut watch_client = client.watch_client();
        let options = WatchOptions::new()
            .with_prefix()
            .with_prev_key()
            .with_progress_notify()
            .with_start_revision(revision + 1);
        let started = tokio::select! {
            started = tokio::time::timeout(Duration::from_secs(5), watch_client.watch(prefix, Some(options))) => started,
            () = self.sender.closed() => return Stop::Closed,
        };
        let mut stream = match started {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Stop::Lost(error.to_string()),
            Err(_) => return Stop::Lost("no answer to a watch request".to_owned()),
        };
        loop {
            let message = tokio::select! {
                message = stream.message() => message,
                () = self.sender.closed() => return Stop::Closed,
            };
            let response = match message {
                Ok(Some(response)) => {
                    self.answered = true;
                    response
                }
                Ok(None) => return Stop::Lost("etcd ended the watch".to_owned()),
                Err(error) => return Stop::Lost(error.to_string()),
            };
            if response.compact_revision() > 0 {
                return Stop::Compacted;
            }
            if response.canceled() {
                return Stop::Lost(format!(
                    "etcd canceled the watch: {}",
                    response.cancel_reason()
                ));
            }
            if response.created() {
                // Its revision is etcd's current one, not the last one delivered: the events
                // from the start revision on are still to come.
                continue;
            }
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                self.revision = Some(self.revision.unwrap_or(0).max(kv.mod_revision()));
                let key = String::from_utf8_lossy(kv.key()).into_owned();
                let outcome = match event.event_type() {
                    EventType::Put => match self.decode(&key, kv.value()) {
                        Some(record) => self.report(record).await,
                        None => Ok(()),
                    },
                    EventType::Delete => match Keys::id_of(&key) {
                        Some(id) => {
                            let previous = event
                                .prev_kv()
                                .and_then(|prev| InstanceRecord::from_json(prev.value()).ok());
                            self.gone(&id, previous).await
                        }
                        None => Ok(()),
                    },
                };
                if let Err(stop) = outcome {
                    return stop;
                }
            }
            // A progress notification: everything up to this revision was delivered.
            if let (true, Some(header)) = (response.events().is_empty(), response.header()) {
                self.revision = Some(self.revision.unwrap_or(0).max(header.revision()));
            }
        }
    }

    fn decode(&self, key: &str, value: &[u8]) -> Option<InstanceRecord> {
        match InstanceRecord::from_json(value) {
            Ok(record) => Some(record),
            Err(reason) => {
                tracing::warn!(registry = %self.registry.inner.connection.display(), %key, %reason, "skipped an entry of the service registry that is not an instance record");
                None
            }
        }
    }

    /// Reports `record` if its state differs from what was reported of it.
    async fn report(&mut self, record: InstanceRecord) -> Result<(), Stop> {
        if !self.filter.matches_identity(&record) {
            return Ok(());
        }
        let state = if record.is_up() {
            None
        } else {
            Some(record.reason.unwrap_or(DownReason::Unhealthy))
        };
        let previous = self.known.get(&record.id).map(|(_, state)| *state);
        if previous == Some(state) {
            // Same state: keep the newer record for a later `Expired`.
            if let Some(entry) = self.known.get_mut(&record.id) {
                entry.0 = record;
            }
            return Ok(());
        }
        if previous.is_none()
            && !self
                .filter
                .status_value()
                .is_none_or(|s| s == record.status)
        {
            return Ok(());
        }
        let event = match state {
            None => RegistryEvent::Up(record.clone()),
            Some(reason) => RegistryEvent::Down(record.clone(), reason),
        };
        self.known.insert(record.id.clone(), (record, state));
        self.send(event).await
    }

    /// Reports that the instance `id` is gone from the registry, unless it said so itself.
    async fn gone(&mut self, id: &str, previous: Option<InstanceRecord>) -> Result<(), Stop> {
        let Some((record, state)) = self.known.remove(id) else {
            return Ok(());
        };
        if state == Some(DownReason::Deregistered) {
            return Ok(());
        }
        let record = previous.filter(|p| p.id == record.id).unwrap_or(record);
        self.send(RegistryEvent::Down(record, DownReason::Expired))
            .await
    }

    async fn send(&self, event: RegistryEvent) -> Result<(), Stop> {
        self.sender.send(event).await.map_err(|_| Stop::Closed)
    }
}
