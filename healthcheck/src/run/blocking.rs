//! Blocking checks on threads of the SDK's own, without one thread hop per check.
//!
//! The threads are plain detached threads, not Tokio's blocking pool: a runtime waits for its
//! blocking pool when it shuts down, so a hung check there would keep a `#[tokio::main]`
//! program from exiting when `main` returns. Ours never hold the process, and a thread that has
//! had no work for a while ends.
//!
//! The blocking checks of one run share a queue. Checks that are slow or new to us each get a
//! worker of their own, so they all run at once, and each publishes its result to its flight's
//! shared cell. Checks whose last run was quick form a [`Batch`]: they share one worker, which
//! runs them one after another and writes each result into the batch, which wakes the caller
//! once, when the last one is in (a single-flight joiner still gets its result through the
//! check's flight). If that worker gets stuck (a quick check that has suddenly become slow), a
//! supervisor adds a worker every millisecond while checks are still waiting in the queue, so a
//! stuck check delays the others by about a millisecond, not by its timeout.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::check::{Body, CheckDef, CheckRef};
use crate::component::Component;
use crate::run::flight::Landing;
use crate::run::panicked;

/// A check whose last run took less than this shares a worker with the other quick ones.
const QUICK: Duration = Duration::from_micros(100);

/// How long the queue may make no progress before the supervisor adds a worker.
const STALL: Duration = Duration::from_millis(1);

/// Whether `check` goes into the run's [`Batch`] rather than on a worker of its own.
pub(crate) fn is_quick(check: &CheckDef) -> bool {
    check.last_run().is_some_and(|took| took < QUICK)
}

/// Runs a blocking check's body, timed, its panic caught.
fn call(check: &CheckDef) -> Component {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| match check.body() {
        Body::Blocking(body) => body(),
        Body::BlockingFn(body) => body(),
        Body::Async(_) | Body::AsyncFn(_) => {
            Component::unhealthy("an async check was queued as a blocking one")
        }
    }));
    let took = started.elapsed();
    check.record_run(took);
    match outcome {
        Ok(component) => component.response_time_or(took),
        Err(payload) => panicked(&*payload, took),
    }
}

/// One blocking check to run.
#[derive(Debug)]
pub(crate) enum Job {
    /// A check on a worker of its own; its result goes to its flight's shared cell.
    Alone(Landing),
    /// A quick check; its result goes into the batch.
    Batched(Batched),
}

impl Job {
    fn run(self) {
        match self {
            Job::Alone(landing) => {
                let component = call(landing.check());
                landing.land(component);
            }
            Job::Batched(mut batched) => {
                let component = call(&batched.check);
                batched.finish(component);
            }
        }
    }
}

/// The results of a run's quick blocking checks, one slot each, and a wake-up for the caller
/// when the last one is in.
#[derive(Debug)]
pub(crate) struct Batch {
    results: Box<[OnceLock<Component>]>,
    remaining: AtomicUsize,
    done: Notify,
}

impl Batch {
    pub(crate) fn new(len: usize) -> Arc<Self> {
        Arc::new(Self {
            results: (0..len).map(|_| OnceLock::new()).collect(),
            remaining: AtomicUsize::new(len),
            done: Notify::new(),
        })
    }

    /// The result in `slot`, if it is in.
    pub(crate) fn result(&self, slot: usize) -> Option<&Component> {
        self.results.get(slot)?.get()
    }

    /// Waits until every result is in, or until `deadline`; `true` when they all are.
    pub(crate) async fn wait_until(&self, deadline: Instant) -> bool {
        loop {
            let notified = self.done.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.remaining.load(Ordering::Acquire) == 0 {
                return true;
            }
            if crate::run::deadline::timeout_at(deadline, notified)
                .await
                .is_none()
            {
                return self.remaining.load(Ordering::Acquire) == 0;
            }
        }
    }
}

/// A quick check of a [`Batch`]: its flight is held by the caller's first-poll state (no
/// shared cell unless someone joins), and released when the check lands. Dropped unrun (no
/// thread could take it), it lands as abandoned.
#[derive(Debug)]
pub(crate) struct Batched {
    check: CheckRef,
    batch: Arc<Batch>,
    slot: usize,
    landed: bool,
}

impl Batched {
    pub(crate) const fn new(check: CheckRef, batch: Arc<Batch>, slot: usize) -> Self {
        Self {
            check,
            batch,
            slot,
            landed: false,
        }
    }

    fn finish(&mut self, component: Component) {
        self.landed = true;
        let component = self.check.conclude(component);
        // Frees the check (and hands the result to joiners) before the caller can see it.
        self.check.flight.land(&component);
        if let Some(slot) = self.batch.results.get(self.slot) {
            let _ = slot.set(component);
        }
        if self.batch.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.batch.done.notify_one();
        }
    }
}

impl Drop for Batched {
    fn drop(&mut self) {
        if !self.landed {
            self.finish(Component::unhealthy(
                "the check's execution was abandoned before it finished (no thread could run it)",
            ));
        }
    }
}

#[derive(Debug)]
struct Queue {
    jobs: Box<[Mutex<Option<Job>>]>,
    next: AtomicUsize,
}

impl Queue {
    fn claim(&self) -> Option<Job> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = self.jobs.get(index)?;
        slot.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn all_claimed(&self) -> bool {
        self.next.load(Ordering::Relaxed) >= self.jobs.len()
    }

    fn work(&self) {
        while let Some(job) = self.claim() {
            job.run();
        }
    }
}

fn spawn_worker(queue: &Arc<Queue>) {
    let queue = Arc::clone(queue);
    // If no thread can run it, the closure is dropped unrun; the queue's jobs then publish that
    // they were abandoned when the last worker lets go of it.
    POOL.execute(Box::new(move || queue.work()));
}

/// Runs `alone` (each on a worker of its own) and `batched` (all on one worker) on the SDK's
/// threads. Each job publishes its own result.
pub(crate) fn dispatch(alone: Vec<Job>, batched: Vec<Job>) {
    let workers = alone.len() + usize::from(!batched.is_empty());
    // A batch of one has no check behind it for a stuck worker to hold up.
    let supervise = batched.len() > 1;
    let queue = Arc::new(Queue {
        jobs: alone
            .into_iter()
            .chain(batched)
            .map(|job| Mutex::new(Some(job)))
            .collect(),
        next: AtomicUsize::new(0),
    });
    for _ in 0..workers {
        spawn_worker(&queue);
    }
    if supervise {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(STALL).await;
                if queue.all_claimed() {
                    return;
                }
                spawn_worker(&queue);
            }
        });
    }
}

/// How long a thread of the pool waits for work before it ends.
const IDLE: Duration = Duration::from_secs(10);

type Task = Box<dyn FnOnce() + Send>;

/// The SDK's threads for blocking checks: as many as the work needs, each ending after
/// [`IDLE`] without work.
struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    tasks: VecDeque<Task>,
    /// Threads waiting for work.
    idle: usize,
}

static POOL: Pool = Pool {
    state: Mutex::new(PoolState {
        tasks: VecDeque::new(),
        idle: 0,
    }),
    work: Condvar::new(),
};

impl Pool {
    fn state(&self) -> MutexGuard<'_, PoolState> {
        // Tasks run outside the lock, and nothing under it panics.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn execute(&'static self, task: Task) {
        let mut state = self.state();
        state.tasks.push_back(task);
        if state.idle >= state.tasks.len() {
            drop(state);
            self.work.notify_one();
            return;
        }
        drop(state);
        let spawned = std::thread::Builder::new()
            .name("healthcheck-blocking".to_owned())
            .spawn(move || self.serve());
        if let Err(error) = spawned {
            tracing::warn!(%error, "could not start a thread for blocking health checks");
            // Unless a thread is there to take it, give the task up: its checks then report
            // that they were abandoned instead of waiting for ever.
            let mut state = self.state();
            if state.idle == 0 {
                let abandoned: Vec<Task> = state.tasks.drain(..).collect();
                drop(state);
                drop(abandoned);
            }
        }
    }

    fn serve(&self) {
        loop {
            let mut state = self.state();
            let task = loop {
                if let Some(task) = state.tasks.pop_front() {
                    break Some(task);
                }
                state.idle += 1;
                let (next, waited) = self
                    .work
                    .wait_timeout(state, IDLE)
                    .unwrap_or_else(PoisonError::into_inner);
                state = next;
                state.idle -= 1;
                if waited.timed_out() && state.tasks.is_empty() {
                    break None;
                }
            };
            drop(state);
            let Some(task) = task else {
                return;
            };
            // A job catches its check's panic; this only keeps the thread for the next task.
            let _ = catch_unwind(AssertUnwindSafe(task));
        }
    }
}
