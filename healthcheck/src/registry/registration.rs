//! Keeping one instance registered: its lease granted and kept alive, its keys written, its
//! status following its readiness; all in one task on the SDK's runtime.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper, PutOptions, Txn, TxnOp};
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::instance::Instance;
use super::record::{DownReason, InstanceRecord, InstanceStatus};
use super::{Registry, RegistryError};
use crate::check::Probe;
use crate::readiness::{Follower, Readiness};
use crate::run::selection::Selection;

/// Where a registration stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistrationState {
    /// The instance id.
    pub id: String,
    /// Whether the instance is in etcd under a live lease, as far as the registration can
    /// tell: from the grant until etcd says the lease is gone, or its time to live passes
    /// without a renewal etcd answered (unanswered renewals meanwhile count in `errors`).
    pub registered: bool,
    /// The status last written, if any.
    pub status: Option<InstanceStatus>,
    /// Why it is down, when it is.
    pub reason: Option<DownReason>,
    /// The lease the instance's keys are on.
    pub lease: Option<i64>,
    /// How many times the instance was registered (more than once when a lease was lost).
    pub registrations: u64,
    /// How many exchanges with etcd failed.
    pub errors: u64,
    /// The last failure, its secrets masked.
    pub last_error: Option<String>,
    /// Whether it was deregistered.
    pub deregistered: bool,
}

/// What a registration's handle and its task share.
pub(crate) struct Shared {
    state: watch::Sender<RegistrationState>,
}

impl Shared {
    pub(crate) fn state(&self) -> RegistrationState {
        self.state.borrow().clone()
    }

    fn update(&self, change: impl FnOnce(&mut RegistrationState)) {
        self.state.send_modify(change);
    }
}

/// An instance kept in the registry; see [`Registry::register`].
///
/// Dropping it deregisters the instance in the background (best effort: a process that exits
/// right after may not get that far, and then the lease runs out after its time to live);
/// [`deregister`](Self::deregister) does it and waits.
#[must_use = "dropping a Registration deregisters the instance"]
pub struct Registration {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<oneshot::Sender<Result<(), RegistryError>>>>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("state", &self.state())
            .finish()
    }
}

impl Registration {
    /// The instance id.
    #[must_use]
    pub fn id(&self) -> String {
        self.shared.state.borrow().id.clone()
    }

    /// Where the registration stands.
    #[must_use]
    pub fn state(&self) -> RegistrationState {
        self.shared.state()
    }

    /// Waits until the instance is in etcd with `status` (any status when `None`), up to
    /// `timeout`; `true` when it is.
    pub async fn wait_for(&self, status: Option<InstanceStatus>, timeout: Duration) -> bool {
        let mut receiver = self.shared.state.subscribe();
        let reached = receiver.wait_for(|state| {
            state.registered && status.is_none_or(|wanted| state.status == Some(wanted))
        });
        matches!(tokio::time::timeout(timeout, reached).await, Ok(Ok(_)))
    }

    /// Takes the instance out of the registry and waits until it is out: its record is written
    /// `DOWN` (reason `deregistered`, for watchers), then its lease is revoked, which removes
    /// its keys at once.
    ///
    /// # Errors
    /// [`RegistryError`] when etcd could not be told (the lease then runs out by itself after
    /// its time to live).
    pub async fn deregister(mut self) -> Result<(), RegistryError> {
        let Some(stop) = self.stop.take() else {
            return Ok(());
        };
        let (done, answer) = oneshot::channel();
        if stop.send(done).is_err() {
            return Ok(());
        }
        answer.await.unwrap_or(Ok(()))
    }

    pub(crate) fn downgrade(&self) -> Weak<Shared> {
        Arc::downgrade(&self.shared)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let (done, _answer) = oneshot::channel();
            let _ = stop.send(done);
        }
    }
}

/// Starts keeping `instance` registered.
pub(crate) fn start(registry: Registry, instance: Instance) -> Registration {
    let id = instance.id().to_owned();
    let shared = Arc::new(Shared {
        state: watch::channel(RegistrationState {
            id,
            registered: false,
            status: None,
            reason: None,
            lease: None,
            registrations: 0,
            errors: 0,
            last_error: None,
            deregistered: false,
        })
        .0,
    });
    let (stop, stopped) = oneshot::channel();
    match crate::health::own_runtime() {
        Ok(runtime) => {
            let follower = instance.health.follow_readiness();
            runtime
                .spawn(Keeper::new(registry, instance, Arc::clone(&shared), follower).run(stopped));
        }
        Err(error) => {
            tracing::warn!(%error, "the service registry cannot start its task");
            shared.update(|state| {
                state.errors += 1;
                state.last_error = Some(error.to_string());
            });
        }
    }
    Registration {
        shared,
        stop: Some(stop),
    }
}

/// The status to write for a readiness.
fn desired(readiness: &Readiness) -> (InstanceStatus, Option<DownReason>, Vec<String>) {
    if readiness.shutting_down {
        (
            InstanceStatus::Down,
            Some(DownReason::ShuttingDown),
            Vec::new(),
        )
    } else if readiness.ready == Some(true) {
        (InstanceStatus::Up, None, Vec::new())
    } else {
        (
            InstanceStatus::Down,
            Some(DownReason::Unhealthy),
            readiness.failing.clone(),
        )
    }
}

/// A live lease and its keep-alive stream.
struct Lease {
    id: i64,
    keeper: Option<(LeaseKeeper, LeaseKeepAliveStream)>,
    /// When etcd forgets the lease unless it is renewed before: the time to live etcd last
    /// reported, counted from when that request was sent. Until then the lease lives in the
    /// cluster whatever happens to the connection, so a member that goes away costs a renewal
    /// through another member, not a new registration.
    expires: Instant,
}

impl Lease {
    fn expires(sent: Instant, ttl_seconds: i64) -> Instant {
        sent + Duration::from_secs(u64::try_from(ttl_seconds).unwrap_or(0))
    }

    fn alive(&self) -> bool {
        Instant::now() < self.expires
    }
}

/// Why a renewal failed.
enum Renewal {
    /// etcd answered that the lease is gone: register again.
    Gone(RegistryError),
    /// No answer: the lease may well live on; renew again soon, through a new connection.
    Unanswered(RegistryError),
}

/// The registration's task.
struct Keeper {
    registry: Registry,
    instance: Instance,
    shared: Arc<Shared>,
    follower: Follower,
    started: DateTime<Utc>,
    since: DateTime<Utc>,
    lease: Option<Lease>,
    /// The status, reason and failing checks last written.
    written: Option<(InstanceStatus, Option<DownReason>, Vec<String>)>,
}

/// The first pause between attempts to reach etcd, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a grant or a write may take (a keep-alive has a third of the time to live).
const REQUEST_LIMIT: Duration = Duration::from_secs(3);
/// The first pause before renewing again after a renewal went unanswered, doubled up to a
/// sixth of the time to live.
const FIRST_RENEWAL_RETRY: Duration = Duration::from_millis(100);

impl Keeper {
    fn new(
        registry: Registry,
        instance: Instance,
        shared: Arc<Shared>,
        follower: Follower,
    ) -> Self {
        let now = Utc::now();
        Self {
            registry,
            instance,
            shared,
            follower,
            started: now,
            since: now,
            lease: None,
            written: None,
        }
    }

    fn ttl(&self) -> Duration {
        self.registry.inner.ttl
    }

    async fn run(
        mut self,
        mut stopped: oneshot::Receiver<oneshot::Sender<Result<(), RegistryError>>>,
    ) {
        let refresh = self.registry.inner.refresh;
        let mut refresh_tick = tokio::time::interval(refresh);
        refresh_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The grant's own keep-alive counts as the first renewal.
        let mut keep_tick =
            tokio::time::interval_at(Instant::now() + self.ttl() / 3, self.ttl() / 3);
        keep_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut refreshing: Option<tokio::task::JoinHandle<()>> = None;
        let mut backoff = FIRST_BACKOFF;
        let mut renewal_retry = FIRST_RENEWAL_RETRY;
        let mut next_attempt = Instant::now();
        // Until the readiness is known (the first run is under way), wait for it, but not
        // longer than one refresh interval.
        let registering_from = Instant::now();
        loop {
            if self.lease.as_ref().is_some_and(|lease| !lease.alive()) {
                // Not renewed within its time to live: etcd has dropped it, and the keys on it.
                tracing::warn!(id = %self.instance.id(), "the service registry's lease ran out; registering again");
                self.lost_lease();
            }
            let readiness = self.follower.receiver.borrow_and_update().clone();
            let known = readiness.ready.is_some()
                || readiness.shutting_down
                || registering_from.elapsed() >= refresh;
            let wanted = desired(&readiness);
            if known && Instant::now() >= next_attempt {
                let outcome = if self.lease.is_none() {
                    self.register(&wanted).await
                } else if self.written.as_ref() != Some(&wanted) {
                    self.write(&wanted).await
                } else {
                    Ok(())
                };
                match outcome {
                    Ok(()) => backoff = FIRST_BACKOFF,
                    Err(error) => {
                        // A write that failed on a lease that lives is written again on it
                        // (`write` drops a lease that etcd says is gone).
                        self.failed(&error);
                        next_attempt = Instant::now() + backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            let waiting = self.lease.is_none() || self.written.as_ref() != Some(&wanted);
            let expires = self.lease.as_ref().map(|lease| lease.expires);
            tokio::select! {
                done = &mut stopped => {
                    let result = self.deregister().await;
                    if let Ok(done) = done {
                        let _ = done.send(result);
                    }
                    if let Some(task) = refreshing {
                        task.abort();
                    }
                    return;
                }
                _ = self.follower.receiver.changed() => {}
                _ = keep_tick.tick(), if self.lease.is_some() => {
                    match self.keep_alive().await {
                        Ok(()) => renewal_retry = FIRST_RENEWAL_RETRY,
                        Err(Renewal::Unanswered(error)) => {
                            self.failed(&error);
                            keep_tick.reset_after(renewal_retry);
                            renewal_retry = (renewal_retry * 2).min(self.ttl() / 6);
                        }
                        Err(Renewal::Gone(error)) => {
                            self.failed(&error);
                            self.lost_lease();
                            next_attempt = Instant::now();
                        }
                    }
                }
                _ = refresh_tick.tick() => {
                    let last = self.follower.state.last_seen();
                    // A run in the last three quarters of an interval (someone else's: ours
                    // began an interval ago) makes one of ours needless.
                    let stale = last.is_none_or(|seen| seen.elapsed() + refresh / 4 >= refresh);
                    let idle = refreshing.as_ref().is_none_or(tokio::task::JoinHandle::is_finished);
                    if stale && idle {
                        let health = self.instance.health.clone();
                        refreshing = Some(tokio::spawn(async move {
                            let _ = health
                                .run_selection(&Selection::Probe(Probe::Readiness))
                                .await;
                        }));
                    }
                }
                () = tokio::time::sleep_until(next_attempt), if waiting && Instant::now() < next_attempt => {}
                // The lease's end, seen as it comes (the loop's top registers again).
                () = tokio::time::sleep_until(expires.unwrap_or(next_attempt)), if expires.is_some() => {}
            }
        }
    }

    /// Forgets a lease that etcd no longer has, so that the next attempt registers again.
    fn lost_lease(&mut self) {
        self.lease = None;
        self.shared.update(|state| state.registered = false);
    }

    fn failed(&self, error: &RegistryError) {
        tracing::warn!(id = %self.instance.id(), %error, "the service registry could not be updated; trying again");
        self.shared.update(|state| {
            state.errors += 1;
            state.last_error = Some(error.message().to_owned());
        });
    }

    fn error(&self, message: impl std::fmt::Display) -> RegistryError {
        RegistryError::new(self.registry.inner.connection.display(), message)
    }

    fn record(&self, wanted: &(InstanceStatus, Option<DownReason>, Vec<String>)) -> InstanceRecord {
        let instance = &self.instance;
        InstanceRecord {
            id: instance.id().to_owned(),
            kind: instance.kind.clone(),
            host: instance.health.identity().host().to_owned(),
            version: instance.version.clone(),
            region: instance.region.clone(),
            endpoints: instance.endpoints.clone(),
            metadata: instance.metadata.clone(),
            status: wanted.0,
            reason: wanted.1,
            failing: wanted.2.clone(),
            since: self.since,
            started: self.started,
        }
    }

    /// The transaction that writes `record`'s keys on `lease`.
    fn writes(&self, record: &InstanceRecord, lease: i64) -> Txn {
        let keys = &self.registry.inner.keys;
        let put = || Some(PutOptions::new().with_lease(lease));
        let (index, other) = keys.index(record);
        let mut ops = vec![TxnOp::put(keys.record(&record.id), record.to_json(), put())];
        ops.extend(
            index
                .into_iter()
                .map(|key| TxnOp::put(key, record.id.clone(), put())),
        );
        ops.push(TxnOp::delete(other, None));
        Txn::new().and_then(ops)
    }

    async fn client(&self) -> Result<Client, RegistryError> {
        self.registry
            .inner
            .connection
            .client()
            .await
            .map_err(|e| self.error(e))
    }

    async fn within<T>(
        &self,
        call: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, RegistryError> {
        let limit = REQUEST_LIMIT;
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => {
                self.registry.inner.connection.reset();
                Err(self.error(error))
            }
            Err(_) => {
                self.registry.inner.connection.reset();
                Err(self.error(format!(
                    "no answer within {}",
                    humantime::format_duration(limit)
                )))
            }
        }
    }

    /// Grants a lease and writes every key on it.
    async fn register(
        &mut self,
        wanted: &(InstanceStatus, Option<DownReason>, Vec<String>),
    ) -> Result<(), RegistryError> {
        let client = tokio::time::timeout(REQUEST_LIMIT, self.client())
            .await
            .map_err(|_| self.error("could not connect in time"))??;
        // etcd's leases are whole seconds: round up, so that renewals at a third of the time
        // to live stay well inside it.
        let ttl = self.ttl();
        let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        let ttl = i64::try_from(seconds).unwrap_or(i64::MAX);
        let mut leases = client.lease_client();
        let sent = Instant::now();
        let granted = self.within(leases.grant(ttl, None)).await?;
        let id = granted.id();
        let expires = Lease::expires(sent, granted.ttl());
        if self
            .written
            .as_ref()
            .is_none_or(|written| written != wanted)
        {
            self.since = Utc::now();
        }
        let record = self.record(wanted);
        let mut kv = client.kv_client();
        self.within(kv.txn(self.writes(&record, id))).await?;
        let keeper = self.within(leases.keep_alive(id)).await.ok();
        self.lease = Some(Lease {
            id,
            keeper,
            expires,
        });
        self.written = Some(wanted.clone());
        tracing::info!(id = %record.id, status = %record.status, lease = id, "registered in the service registry");
        self.shared.update(|state| {
            state.registered = true;
            state.status = Some(record.status);
            state.reason = record.reason;
            state.lease = Some(id);
            state.registrations += 1;
        });
        Ok(())
    }

    /// Writes a new status on the current lease.
    async fn write(
        &mut self,
        wanted: &(InstanceStatus, Option<DownReason>, Vec<String>),
    ) -> Result<(), RegistryError> {
        let Some(lease) = self.lease.as_ref().map(|lease| lease.id) else {
            return Ok(());
        };
        if self
            .written
            .as_ref()
            .is_none_or(|written| written.0 != wanted.0 || written.1 != wanted.1)
        {
            self.since = Utc::now();
        }
        let record = self.record(wanted);
        let client = self.client().await?;
        let mut kv = client.kv_client();
        if let Err(error) = self.within(kv.txn(self.writes(&record, lease))).await {
            if error.message().contains("lease not found") {
                self.lost_lease();
            }
            return Err(error);
        }
        self.written = Some(wanted.clone());
        tracing::info!(id = %record.id, status = %record.status, reason = ?record.reason, "service registry status changed");
        self.shared.update(|state| {
            state.status = Some(record.status);
            state.reason = record.reason;
        });
        Ok(())
    }

    /// Renews the lease: an error that says whether etcd answered that it is gone or did not
    /// answer at all (then the stream and the client are made anew for the next try).
    async fn keep_alive(&mut self) -> Result<(), Renewal> {
        let Some(lease) = self.lease.as_mut() else {
            return Ok(());
        };
        let id = lease.id;
        let limit = self.registry.inner.ttl / 3;
        let connection = Arc::clone(&self.registry.inner.connection);
        let display = connection.display().to_owned();
        let unanswered =
            |message: String| Renewal::Unanswered(RegistryError::new(&display, message));
        let sent = Instant::now();
        if lease.keeper.is_none() {
            let pair = tokio::time::timeout(limit, async {
                let client = connection.client().await?;
                client.lease_client().keep_alive(id).await
            })
            .await;
            match pair {
                Ok(Ok(pair)) => lease.keeper = Some(pair),
                Ok(Err(error)) => {
                    connection.reset();
                    return Err(unanswered(error.to_string()));
                }
                Err(_) => {
                    connection.reset();
                    return Err(unanswered("no answer to a lease keep-alive".to_owned()));
                }
            }
        }
        let Some((keeper, stream)) = lease.keeper.as_mut() else {
            return Ok(());
        };
        let renewed = tokio::time::timeout(limit, async {
            keeper.keep_alive().await?;
            stream.message().await
        })
        .await;
        match renewed {
            Ok(Ok(Some(response))) if response.ttl() > 0 => {
                lease.expires = Lease::expires(sent, response.ttl());
                Ok(())
            }
            Ok(Ok(Some(_))) => {
                tracing::warn!(
                    lease = id,
                    "the service registry's lease is gone; registering again"
                );
                Err(Renewal::Gone(RegistryError::new(
                    &display,
                    format!("lease {id:x} expired"),
                )))
            }
            Ok(Ok(None)) => {
                lease.keeper = None;
                Err(unanswered("the keep-alive stream ended".to_owned()))
            }
            Ok(Err(error)) => {
                lease.keeper = None;
                connection.reset();
                Err(unanswered(error.to_string()))
            }
            Err(_) => {
                lease.keeper = None;
                connection.reset();
                Err(unanswered("no answer to a lease keep-alive".to_owned()))
            }
        }
    }

    /// Writes the record `DOWN` (deregistered), then revokes the lease.
    async fn deregister(&mut self) -> Result<(), RegistryError> {
        let Some(lease) = self.lease.take() else {
            self.shared.update(|state| state.deregistered = true);
            return Ok(());
        };
        let wanted = (
            InstanceStatus::Down,
            Some(DownReason::Deregistered),
            Vec::new(),
        );
        self.since = Utc::now();
        let record = self.record(&wanted);
        let outcome = match self.client().await {
            Ok(client) => {
                let mut kv = client.kv_client();
                let written = self.within(kv.txn(self.writes(&record, lease.id))).await;
                let mut leases = client.lease_client();
                let revoked = self.within(leases.revoke(lease.id)).await;
                written.and(revoked).map(|_| ())
            }
            Err(error) => Err(error),
        };
        self.shared.update(|state| {
            state.registered = false;
            state.deregistered = true;
            state.status = Some(InstanceStatus::Down);
            state.reason = Some(DownReason::Deregistered);
            state.lease = None;
        });
        match &outcome {
            Ok(()) => tracing::info!(id = %record.id, "deregistered from the service registry"),
            Err(error) => {
                tracing::warn!(id = %record.id, %error, "could not deregister from the service registry; the lease runs out by itself");
            }
        }
        outcome
    }
}
