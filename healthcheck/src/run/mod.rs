//! Running checks: a selection of checks run concurrently, each under its timeout, each call
//! timed.
//!
//! Async checks are polled once inline, in the caller's task: a check that is ready at once (most
//! in-memory checks) costs one call and no task. A check that is still pending goes on, under a
//! deadline, in the caller's task too, beside the run's other pending checks (no task, no wake-up
//! of another thread: a round trip to a local server costs what the client costs); one that
//! outlives the caller's wait — a caller with a longer timeout joined it, or the caller's run was
//! dropped — is handed to a task of its own, so that whoever joined it still gets its result. Blocking checks run on threads of the SDK's own (see
//! [`blocking`]), which never keep the process from exiting. Every execution goes through the
//! check's [`Flight`], so a check is in flight at most once, whoever asks; [`selection`] says
//! which checks a run covers.
//!
//! [`Flight`]: flight::Flight

pub(crate) mod blocking;
pub(crate) mod deadline;
pub(crate) mod flight;
pub(crate) mod selection;

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};

use crate::check::{Body, BoxFuture, CheckRef};
use crate::component::Component;
use blocking::{Batch, Batched, Job};
use flight::{Begin, Landing, Shared};

/// The component of a check that did not finish within `timeout`.
pub(crate) fn timed_out(timeout: Duration) -> Component {
    Component::unhealthy(format!(
        "timed out after {}",
        humantime::format_duration(timeout)
    ))
    .response_time_or(timeout)
}

/// The component of a check that panicked after running for `took`.
pub(crate) fn panicked(payload: &(dyn Any + Send), took: Duration) -> Component {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload");
    Component::unhealthy(format!("panicked: {message}")).response_time_or(took)
}

/// The result of one check in a run.
pub(crate) struct Outcome {
    pub(crate) component: Component,
    /// `false` when the run shared an execution that another caller started.
    pub(crate) executed: bool,
}

/// A check this run waits for: its index, the execution, the caller's own deadline and timeout,
/// and whether this run started the execution.
struct Waiting {
    index: usize,
    shared: Arc<Shared>,
    deadline: Instant,
    timeout: Duration,
    executed: bool,
    /// An async execution, driven by a task that ends it at its deadline.
    driven: bool,
}

/// How long a caller whose deadline has come waits for an async execution's task to publish
/// the result it is giving at that same deadline.
const LANDING_GRACE: Duration = Duration::from_millis(20);

/// Runs `checks` and returns their outcomes, in the same order.
pub(crate) async fn run(checks: &[&CheckRef], default_timeout: Duration) -> Vec<Outcome> {
    let mut results: Vec<Option<Outcome>> = Vec::with_capacity(checks.len());
    let mut waiting: Vec<Waiting> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let mut quick: Vec<Quick> = Vec::new();
    let mut in_place = InPlace::default();
    let mut clock = Instant::now();
    // Whether `clock` was read when the previous check was done.
    let mut fresh = true;

    for (index, &check) in checks.iter().enumerate() {
        let timeout = check.timeout().unwrap_or(default_timeout);
        // One clock read per check: a check polled right after another starts when that one
        // was done, so the few instructions between two checks count towards the second.
        if !fresh {
            clock = Instant::now();
        }
        fresh = false;
        let started = clock;
        let deadline = started + timeout;
        let wait = |shared, executed, driven| Waiting {
            index,
            shared,
            deadline,
            timeout,
            executed,
            driven,
        };
        let make = match check.flight.begin(started, timeout) {
            Begin::Join(shared) => {
                results.push(None);
                waiting.push(wait(shared, false, !check.is_blocking()));
                continue;
            }
            Begin::Overdue(component) => {
                results.push(Some(Outcome {
                    component,
                    executed: false,
                }));
                continue;
            }
            Begin::Owner => match check.body() {
                Body::Async(make) => make as &dyn Fn() -> BoxFuture,
                Body::AsyncFn(make) => &**make,
                Body::Blocking(_) | Body::BlockingFn(_) if blocking::is_quick(check) => {
                    // The flight stays in its first-poll state: no shared cell unless someone
                    // joins. The result comes back through the run's batch.
                    results.push(None);
                    quick.push(Quick {
                        index,
                        check: check.clone(),
                        deadline,
                        timeout,
                    });
                    continue;
                }
                Body::Blocking(_) | Body::BlockingFn(_) => {
                    let shared = check.flight.take_off(started, timeout);
                    jobs.push(Job::Alone(Landing::new(check.clone(), Arc::clone(&shared))));
                    results.push(None);
                    waiting.push(wait(shared, true, false));
                    continue;
                }
            },
        };
        match poll_once(make) {
            FirstPoll::Ready(result) => {
                clock = Instant::now();
                fresh = true;
                let took = clock - started;
                let component = if took > timeout {
                    tracing::warn!(
                        check = check.name(),
                        took = ?took,
                        "an async health check blocked its executor thread for longer than its \
                         timeout; make it truly async or register it as a blocking check"
                    );
                    timed_out(timeout)
                } else {
                    result.response_time_or(took)
                };
                let component = check.conclude(component);
                check.flight.land(&component);
                results.push(executed(component));
            }
            FirstPoll::Pending(future) => {
                let shared = check.flight.take_off(started, timeout);
                let landing = Landing::new(check.clone(), Arc::clone(&shared));
                in_place.push(Box::pin(finish_in_background(future, landing)));
                results.push(None);
                waiting.push(wait(shared, true, true));
            }
            FirstPoll::Panicked(payload) => {
                clock = Instant::now();
                fresh = true;
                let component = check.conclude(panicked(&*payload, clock - started));
                check.flight.land(&component);
                results.push(executed(component));
            }
        }
    }

    let batch = (!quick.is_empty()).then(|| Batch::new(quick.len()));
    let batched: Vec<Job> = batch.as_ref().map_or_else(Vec::new, |batch| {
        quick
            .iter()
            .enumerate()
            .map(|(slot, q)| Job::Batched(Batched::new(q.check.clone(), Arc::clone(batch), slot)))
            .collect()
    });
    if !jobs.is_empty() || !batched.is_empty() {
        blocking::dispatch(jobs, batched);
    }
    let waits = async {
        if let Some(batch) = batch {
            collect_batch(&batch, &quick, &mut results).await;
        }
        wait_all(waiting, &mut results).await;
    };
    in_place.drive_while(waits).await;
    in_place.hand_off();
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| Outcome {
                component: Component::unhealthy("the check produced no result"),
                executed: true,
            })
        })
        .collect()
}

/// The pending executions a run drives in its own task. Those still going when the run is done
/// waiting, or when it is dropped, are handed to tasks of their own.
#[derive(Default)]
struct InPlace {
    futures: FuturesUnordered<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl InPlace {
    fn push(&mut self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        self.futures.push(future);
    }

    /// Polls the executions along with `main` until `main` is done.
    async fn drive_while(&mut self, main: impl Future<Output = ()>) {
        let mut main = std::pin::pin!(main);
        std::future::poll_fn(|cx| {
            // The executions first, so that a result that just came in is there for `main`.
            while let Poll::Ready(Some(())) = self.futures.poll_next_unpin(cx) {}
            main.as_mut().poll(cx)
        })
        .await;
    }

    /// Hands what is still going to tasks of its own, on the current runtime; without one, drops
    /// it (its [`Landing`] then tells whoever joined that it was abandoned).
    fn hand_off(&mut self) {
        if self.futures.is_empty() {
            return;
        }
        let futures = std::mem::take(&mut self.futures);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            for future in futures {
                drop(runtime.spawn(future));
            }
        }
    }
}

impl Drop for InPlace {
    fn drop(&mut self) {
        self.hand_off();
    }
}

/// Waits for each execution of `waiting`, each until its caller's deadline, and puts the results
/// in `results`.
async fn wait_all(waiting: Vec<Waiting>, results: &mut [Option<Outcome>]) {
    // Every wait ends by its caller's deadline, whatever the order. The last ones started are
    // the likeliest to finish last: waiting for them first finds the others already done.
    for wait in waiting.into_iter().rev() {
        let mut component = wait.shared.wait_until(wait.deadline).await;
        if component.is_none() && wait.driven && wait.shared.deadline() <= wait.deadline {
            // The execution's deadline came with ours: its task is ending it and publishing
            // right now. Its result frees the check first, so the next run starts afresh.
            component = wait.shared.wait_until(Instant::now() + LANDING_GRACE).await;
        }
        let component = component.unwrap_or_else(|| timed_out(wait.timeout));
        results[wait.index] = Some(Outcome {
            component,
            executed: wait.executed,
        });
    }
}

/// A quick blocking check of this run, in the run's batch.
struct Quick {
    index: usize,
    check: CheckRef,
    deadline: Instant,
    timeout: Duration,
}

/// Waits for the batch's results, giving up on each check at its own deadline, and puts them
/// in `results`.
async fn collect_batch(batch: &Batch, quick: &[Quick], results: &mut [Option<Outcome>]) {
    let mut open: Vec<usize> = (0..quick.len()).collect();
    let mut gave_up = vec![false; quick.len()];
    while let Some(next) = open.iter().map(|&slot| quick[slot].deadline).min() {
        if batch.wait_until(next).await {
            break;
        }
        let now = Instant::now();
        open.retain(|&slot| {
            let late = batch.result(slot).is_none() && quick[slot].deadline <= now;
            gave_up[slot] |= late;
            batch.result(slot).is_none() && !late
        });
    }
    for (slot, q) in quick.iter().enumerate() {
        let component = match batch.result(slot) {
            Some(component) if !gave_up[slot] => component.clone(),
            _ => timed_out(q.timeout),
        };
        results[q.index] = Some(Outcome {
            component,
            executed: true,
        });
    }
}

fn executed(component: Component) -> Option<Outcome> {
    Some(Outcome {
        component,
        executed: true,
    })
}

enum FirstPoll {
    Ready(Component),
    Pending(BoxFuture),
    Panicked(Box<dyn Any + Send>),
}

/// Creates the check's future and polls it once, in the caller's task.
fn poll_once(make: &dyn Fn() -> BoxFuture) -> FirstPoll {
    let mut context = Context::from_waker(Waker::noop());
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        let mut future = make();
        match future.as_mut().poll(&mut context) {
            Poll::Ready(component) => FirstPoll::Ready(component),
            Poll::Pending => FirstPoll::Pending(future),
        }
    }));
    attempt.unwrap_or_else(FirstPoll::Panicked)
}

/// Drives a pending check to its end or its deadline, and publishes the result. The deadline
/// may move later while it runs (a caller with a longer timeout joined): it is read again each
/// time it comes.
async fn finish_in_background(future: BoxFuture, landing: Landing) {
    let started = landing.shared().started();
    let mut future = AssertUnwindSafe(future).catch_unwind();
    let outcome = loop {
        let deadline = landing.shared().deadline();
        match deadline::timeout_at(deadline, &mut future).await {
            Some(outcome) => break Some(outcome),
            None if landing.shared().deadline() > Instant::now() => {}
            None => break None,
        }
    };
    let took = started.elapsed();
    landing.check().record_run(took);
    let component = match outcome {
        Some(Ok(component)) => component.response_time_or(took),
        Some(Err(payload)) => panicked(&*payload, took),
        None => {
            // Dropped here, where a panic in its destructor is caught: a check that panics when
            // cancelled still timed out.
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(future)));
            if dropped.is_err() {
                tracing::debug!(
                    check = landing.check().name(),
                    "a timed-out health check panicked while it was dropped"
                );
            }
            timed_out(landing.shared().budget())
        }
    };
    landing.land(component);
}
