//! Single flight per check: at most one execution of a check is in flight at a time, and every
//! caller that asks for it meanwhile shares that execution's result, each under its own
//! deadline.
//!
//! The uncontended path allocates nothing: the owner marks the check as being polled, polls its
//! future once inline, and goes back to idle. Only when the execution has to go on in the
//! background (its future is pending, or it is blocking) or another caller joins does a shared
//! result cell exist.
//!
//! An execution frees its check *before* it publishes its result, so a caller that comes after
//! the result always starts a new execution: single flight shares executions in flight, never
//! finished ones.
//!
//! Callers may have different timeouts (two [`HealthChecks`](crate::HealthChecks) with different
//! defaults share the flights of the `#[healthcheck]` functions). Each caller waits until its own
//! deadline; the execution itself runs until the longest timeout of its callers has passed since
//! it started, so a short-timeout caller never cuts short a long-timeout one, and a caller that
//! comes when the execution has already run for longer than its own timeout is told so at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::component::Component;
use crate::report::HumanDuration;

/// The single-flight state of one check.
///
/// `state` is [`IDLE`], [`RUNNING`], or, while the owner polls the check's future for the first
/// time (or a quick blocking check runs in its batch), the time that owner started, encoded: so
/// that the uncontended path is one compare-and-swap to start and one to finish, with no lock
/// and no allocation. The lock guards the shared cell of an execution that goes on in the
/// background or that someone joined.
#[derive(Debug)]
pub(crate) struct Flight {
    state: AtomicU64,
    running: Mutex<Option<Arc<Shared>>>,
}

const IDLE: u64 = 0;
const RUNNING: u64 = 1;

/// The state of an execution being polled by its owner, who started at `started`.
fn polling(started: Instant) -> u64 {
    2 + nanos(started.saturating_duration_since(epoch()))
}

/// When the owner of a polling state started.
fn polling_started(state: u64) -> Instant {
    epoch() + Duration::from_nanos(state - 2)
}

/// The instant that polling states count from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(|| {
        let now = Instant::now();
        now.checked_sub(Duration::from_secs(1)).unwrap_or(now)
    })
}

/// What [`Flight::begin`] made of the caller.
pub(crate) enum Begin {
    /// The caller owns a new execution.
    Owner,
    /// An execution is in flight: wait for its result, until the caller's own deadline.
    Join(Arc<Shared>),
    /// An execution is in flight and has already run for longer than the caller's timeout: the
    /// caller's answer, at once.
    Overdue(Component),
}

impl Flight {
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU64::new(IDLE),
            running: Mutex::new(None),
        }
    }

    fn running(&self) -> MutexGuard<'_, Option<Arc<Shared>>> {
        // No code that can panic runs under this lock, so a poisoned lock is still consistent.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts an execution, or joins the one in flight, for a caller that started at `started`
    /// with `timeout`.
    pub(crate) fn begin(&self, started: Instant, timeout: Duration) -> Begin {
        let mine = polling(started);
        if self
            .state
            .compare_exchange(IDLE, mine, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return Begin::Owner;
        }
        // Someone else's execution: only under the lock does a polling state become running.
        let mut running = self.running();
        let shared = loop {
            match self.state.load(Ordering::Acquire) {
                IDLE => {
                    if self
                        .state
                        .compare_exchange(IDLE, mine, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return Begin::Owner;
                    }
                }
                RUNNING => {
                    if let Some(shared) = running.as_ref() {
                        break Arc::clone(shared);
                    }
                }
                owner => {
                    let shared = Arc::new(Shared::new(polling_started(owner), timeout));
                    *running = Some(Arc::clone(&shared));
                    if self
                        .state
                        .compare_exchange(owner, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        break shared;
                    }
                    // The owner finished meanwhile.
                    *running = None;
                }
            }
        };
        drop(running);
        let age = started.saturating_duration_since(shared.started);
        if age >= timeout {
            return Begin::Overdue(overdue(timeout, age));
        }
        shared.extend(timeout);
        Begin::Join(shared)
    }

    /// The owner's execution finished where it started (inline, or in its batch): free the
    /// check, then hand the result to anyone who joined meanwhile.
    pub(crate) fn land(&self, result: &Component) {
        let state = self.state.load(Ordering::Acquire);
        if state != RUNNING
            && self
                .state
                .compare_exchange(state, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return;
        }
        // Someone joined: the state is running, and only the owner can end it.
        let shared = {
            let mut running = self.running();
            self.state.store(IDLE, Ordering::Release);
            running.take()
        };
        if let Some(shared) = shared {
            shared.publish(result.clone());
        }
    }

    /// The owner's execution goes on in the background; returns where its result goes.
    pub(crate) fn take_off(&self, started: Instant, timeout: Duration) -> Arc<Shared> {
        let mut running = self.running();
        if self.state.load(Ordering::Acquire) == RUNNING {
            if let Some(shared) = running.as_ref() {
                shared.extend(timeout);
                return Arc::clone(shared);
            }
        }
        let shared = Arc::new(Shared::new(started, timeout));
        *running = Some(Arc::clone(&shared));
        self.state.store(RUNNING, Ordering::Release);
        shared
    }

    /// Frees the check, if `shared` is still its execution in flight.
    fn end(&self, shared: &Arc<Shared>) {
        let mut running = self.running();
        if running
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, shared))
        {
            *running = None;
            self.state.store(IDLE, Ordering::Release);
        }
    }
}

/// The answer of a caller that came to an execution older than its own timeout.
fn overdue(timeout: Duration, age: Duration) -> Component {
    Component::unhealthy(format!(
        "timed out after {} (still running since {})",
        humantime::format_duration(timeout),
        HumanDuration(age)
    ))
    .response_time_or(timeout)
}

/// The result of one execution, shared by all its callers.
#[derive(Debug)]
pub(crate) struct Shared {
    started: Instant,
    /// How long after `started` the execution may run: the longest timeout of its callers, in
    /// nanoseconds. It only grows.
    budget_nanos: AtomicU64,
    result: OnceLock<Component>,
    published: Notify,
}

impl Shared {
    fn new(started: Instant, timeout: Duration) -> Self {
        Self {
            started,
            budget_nanos: AtomicU64::new(nanos(timeout)),
            result: OnceLock::new(),
            published: Notify::new(),
        }
    }

    /// Lets the execution run for `timeout` from its start, if that is longer than it may
    /// already. Measured from the start, not from the caller's arrival: a check that hangs is
    /// still given up on and started afresh, however many callers keep joining it.
    fn extend(&self, timeout: Duration) {
        self.budget_nanos
            .fetch_max(nanos(timeout), Ordering::AcqRel);
    }

    pub(crate) const fn started(&self) -> Instant {
        self.started
    }

    /// How long the execution may run: the longest timeout among its callers, measured from
    /// its start.
    pub(crate) fn budget(&self) -> Duration {
        Duration::from_nanos(self.budget_nanos.load(Ordering::Acquire))
    }

    /// When the execution is given up on, unless a caller with a later deadline joins.
    pub(crate) fn deadline(&self) -> Instant {
        self.started + self.budget()
    }

    /// Publishes the result; the first one published wins.
    fn publish(&self, component: Component) {
        if self.result.set(component).is_ok() {
            self.published.notify_waiters();
        }
    }

    /// Waits for the result, at most until `deadline`; `None` when the deadline came first.
    pub(crate) async fn wait_until(&self, deadline: Instant) -> Option<Component> {
        // Most results are in by the time they are asked for: no timer, no waiting.
        if let Some(component) = self.result.get() {
            return Some(component.clone());
        }
        let published = async {
            loop {
                let notified = self.published.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before the check below, so a result published in between still
                // wakes us.
                notified.as_mut().enable();
                if let Some(component) = self.result.get() {
                    return component.clone();
                }
                notified.await;
            }
        };
        crate::run::deadline::timeout_at(deadline, published)
            .await
            // A result published right at the deadline still counts.
            .or_else(|| self.result.get().cloned())
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Ends a background execution: frees the check for the next execution, then publishes the
/// result. Dropped without [`Landing::land`] (a runtime shutting down drops unfinished work), it
/// publishes that the execution was abandoned, so that nobody waits for nothing.
#[derive(Debug)]
pub(crate) struct Landing {
    check: crate::check::CheckRef,
    shared: Arc<Shared>,
}

impl Landing {
    pub(crate) const fn new(check: crate::check::CheckRef, shared: Arc<Shared>) -> Self {
        Self { check, shared }
    }

    pub(crate) const fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn check(&self) -> &crate::check::CheckDef {
        &self.check
    }

    pub(crate) fn land(self, component: Component) {
        let component = self.check.conclude(component);
        self.check.flight.end(&self.shared);
        self.shared.publish(component);
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        if self.shared.result.get().is_none() {
            let abandoned = Component::unhealthy(
                "the check's execution was abandoned before it finished (its runtime shut down)",
            )
            .response_time_or(self.shared.started.elapsed());
            let component = self.check.conclude(abandoned);
            self.check.flight.end(&self.shared);
            self.shared.publish(component);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_execution_is_never_joined() {
        let flight = Flight::new();
        let now = Instant::now();
        let second = Duration::from_secs(1);
        assert!(matches!(flight.begin(now, second), Begin::Owner));
        let shared = flight.take_off(now, second);
        flight.end(&shared);
        shared.publish(Component::healthy());
        assert!(matches!(flight.begin(Instant::now(), second), Begin::Owner));
    }

    #[test]
    fn every_joiner_gets_the_owners_result_under_contention() {
        let flight = Arc::new(Flight::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let flight = Arc::clone(&flight);
                std::thread::spawn(move || {
                    let (mut owned, mut joined) = (0, 0);
                    for _ in 0..20_000 {
                        match flight.begin(Instant::now(), Duration::from_secs(10)) {
                            Begin::Owner => {
                                owned += 1;
                                std::hint::spin_loop();
                                flight.land(&Component::healthy());
                            }
                            Begin::Join(shared) => {
                                joined += 1;
                                let deadline = Instant::now() + Duration::from_secs(5);
                                while shared.result.get().is_none() {
                                    assert!(Instant::now() < deadline, "a joiner was left waiting");
                                    std::thread::yield_now();
                                }
                            }
                            Begin::Overdue(_) => panic!("nothing here is overdue"),
                        }
                    }
                    (owned, joined)
                })
            })
            .collect();
        let mut owned = 0;
        for thread in threads {
            owned += thread.join().map(|(o, _)| o).unwrap_or_default();
        }
        assert!(owned > 0);
        assert!(matches!(
            flight.begin(Instant::now(), Duration::from_secs(1)),
            Begin::Owner
        ));
    }

    #[test]
    fn joiners_extend_the_deadline_and_overdue_callers_are_told() {
        let flight = Flight::new();
        let start = Instant::now();
        assert!(matches!(
            flight.begin(start, Duration::from_millis(500)),
            Begin::Owner
        ));
        let shared = flight.take_off(start, Duration::from_millis(500));
        assert_eq!(shared.budget(), Duration::from_millis(500));
        let later = start + Duration::from_millis(100);
        let Begin::Join(joined) = flight.begin(later, Duration::from_secs(10)) else {
            panic!("a caller within its timeout joins");
        };
        assert!(Arc::ptr_eq(&joined, &shared));
        assert_eq!(shared.budget(), Duration::from_secs(10));
        // A shorter caller does not shorten it.
        let _ = flight.begin(later, Duration::from_millis(200));
        assert_eq!(shared.budget(), Duration::from_secs(10));

        let much_later = start + Duration::from_millis(3_100);
        let Begin::Overdue(answer) = flight.begin(much_later, Duration::from_millis(200)) else {
            panic!("a caller that comes past its own timeout is answered at once");
        };
        assert_eq!(
            answer.status_message(),
            Some("timed out after 200ms (still running since 3.10 s)")
        );
        assert_eq!(answer.response_time(), Some(Duration::from_millis(200)));
    }
}
