//! Single flight per check: at most one execution of a check is in flight at a time, and every
//! caller that asks for it meanwhile shares that execution's result.
//!
//! The uncontended path allocates nothing: the owner marks the check as being polled, polls its
//! future once inline, and goes back to idle. Only when the execution has to go on in the
//! background (its future is pending, or it is blocking) or another caller joins does a shared
//! result cell exist.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::component::Component;

/// The single-flight state of one check.
#[derive(Debug)]
pub(crate) struct Flight {
    slot: Mutex<Slot>,
}

#[derive(Debug)]
enum Slot {
    Idle,
    /// The owner is polling the check's future for the first time.
    Polling {
        started: Instant,
        timeout: Duration,
    },
    /// The execution goes on; its result will be published here.
    Running(Arc<Shared>),
}

/// What [`Flight::begin`] made of the caller.
pub(crate) enum Begin {
    /// The caller owns a new execution.
    Owner,
    /// An execution is in flight: wait for its result.
    Join(Arc<Shared>),
}

impl Flight {
    pub(crate) const fn new() -> Self {
        Self {
            slot: Mutex::new(Slot::Idle),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        // No code that can panic runs under this lock, so a poisoned lock is still consistent.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts an execution, or joins the one in flight.
    pub(crate) fn begin(&self, started: Instant, timeout: Duration) -> Begin {
        let mut slot = self.slot();
        match &*slot {
            Slot::Idle => {
                *slot = Slot::Polling { started, timeout };
                Begin::Owner
            }
            Slot::Polling { started, timeout } => {
                let shared = Arc::new(Shared::new(*started, *timeout));
                *slot = Slot::Running(Arc::clone(&shared));
                Begin::Join(shared)
            }
            Slot::Running(shared) => Begin::Join(Arc::clone(shared)),
        }
    }

    /// The owner's execution finished inline: hand the result to anyone who joined meanwhile.
    pub(crate) fn land(&self, result: &Component) {
        let previous = std::mem::replace(&mut *self.slot(), Slot::Idle);
        if let Slot::Running(shared) = previous {
            shared.publish(result.clone());
        }
    }

    /// The owner's execution goes on in the background; returns where its result goes.
    pub(crate) fn take_off(&self, started: Instant, timeout: Duration) -> Arc<Shared> {
        let mut slot = self.slot();
        if let Slot::Running(shared) = &*slot {
            return Arc::clone(shared);
        }
        let shared = Arc::new(Shared::new(started, timeout));
        *slot = Slot::Running(Arc::clone(&shared));
        shared
    }

    /// The background execution has ended and published its result.
    fn end(&self) {
        *self.slot() = Slot::Idle;
    }
}

/// The result of one execution, shared by all its callers.
#[derive(Debug)]
pub(crate) struct Shared {
    started: Instant,
    timeout: Duration,
    result: OnceLock<Component>,
    published: Notify,
}

impl Shared {
    fn new(started: Instant, timeout: Duration) -> Self {
        Self {
            started,
            timeout,
            result: OnceLock::new(),
            published: Notify::new(),
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.started + self.timeout
    }

    pub(crate) const fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Publishes the result; the first one published wins.
    fn publish(&self, component: Component) {
        if self.result.set(component).is_ok() {
            self.published.notify_waiters();
        }
    }

    /// Waits for the result, at most until the execution's deadline.
    pub(crate) async fn wait(&self) -> Component {
        // Most results are in by the time they are asked for: no timer, no waiting.
        if let Some(component) = self.result.get() {
            return component.clone();
        }
        let deadline = tokio::time::Instant::from_std(self.deadline());
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
        tokio::time::timeout_at(deadline, published)
            .await
            .unwrap_or_else(|_| crate::runner::timed_out(self.timeout))
    }
}

/// Ends a background execution: publishes its result and frees the check for the next one.
/// Dropped without [`Landing::land`] (a runtime shutting down drops unfinished work), it
/// publishes that the execution was aborted, so that nobody waits for nothing.
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
        self.shared.publish(component);
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        if self.shared.result.get().is_none() {
            self.shared.publish(Component::unhealthy(
                "the check's execution was aborted (its runtime shut down)",
            ));
        }
        self.check.flight.end();
    }
}
