//! Runs a selection of checks concurrently, each under its timeout, and times each call.
//!
//! Async checks are polled once inline, in the caller's task: a check that is ready at once (most
//! in-memory checks) costs one call and no task. A check that is still pending goes on in a task
//! of its own, under a deadline. Blocking checks run on the blocking thread pool (see
//! [`blocking`](crate::blocking)). Every execution goes through the check's [`Flight`], so a
//! check is in flight at most once, whoever asks.
//!
//! [`Flight`]: crate::flight::Flight

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::blocking::{self, Job};
use crate::check::{Body, BoxFuture, CheckRef};
use crate::component::Component;
use crate::flight::{Begin, Landing, Shared};

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

/// Runs `checks` and returns their outcomes, in the same order.
pub(crate) async fn run(checks: &[&CheckRef], default_timeout: Duration) -> Vec<Outcome> {
    let mut results: Vec<Option<Outcome>> = Vec::with_capacity(checks.len());
    // Each pending check, with whether this run started its execution.
    let mut waiting: Vec<(usize, Arc<Shared>, bool)> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();

    for (index, &check) in checks.iter().enumerate() {
        let timeout = check.timeout().unwrap_or(default_timeout);
        let started = Instant::now();
        let make = match check.flight.begin(started, timeout) {
            Begin::Join(shared) => {
                results.push(None);
                waiting.push((index, shared, false));
                continue;
            }
            Begin::Owner => match check.body() {
                Body::Async(make) => make as &dyn Fn() -> BoxFuture,
                Body::AsyncFn(make) => &**make,
                Body::Blocking(_) | Body::BlockingFn(_) => {
                    let shared = check.flight.take_off(started, timeout);
                    jobs.push(Job::new(Landing::new(check.clone(), Arc::clone(&shared))));
                    results.push(None);
                    waiting.push((index, shared, true));
                    continue;
                }
            },
        };
        match poll_once(make) {
            FirstPoll::Ready(result) => {
                let took = started.elapsed();
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
                check.flight.land(&component);
                results.push(executed(component));
            }
            FirstPoll::Pending(future) => {
                let shared = check.flight.take_off(started, timeout);
                let landing = Landing::new(check.clone(), Arc::clone(&shared));
                tokio::spawn(finish_in_background(future, landing, started));
                results.push(None);
                waiting.push((index, shared, true));
            }
            FirstPoll::Panicked(payload) => {
                let component = panicked(&*payload, started.elapsed());
                check.flight.land(&component);
                results.push(executed(component));
            }
        }
    }

    if !jobs.is_empty() {
        blocking::dispatch(jobs);
    }
    // Every wait ends by its check's deadline, whatever the order. The last ones started are
    // the likeliest to finish last: waiting for them first finds the others already done.
    for (index, shared, executed) in waiting.into_iter().rev() {
        let component = shared.wait().await;
        results[index] = Some(Outcome {
            component,
            executed,
        });
    }
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

/// Drives a pending check to its end or its deadline, and publishes the result.
async fn finish_in_background(future: BoxFuture, landing: Landing, started: Instant) {
    let deadline = tokio::time::Instant::from_std(landing.shared().deadline());
    let timeout = landing.shared().timeout();
    let outcome = tokio::time::timeout_at(deadline, AssertUnwindSafe(future).catch_unwind()).await;
    let took = started.elapsed();
    landing.check().record_run(took);
    let component = match outcome {
        Ok(Ok(component)) => component.response_time_or(took),
        Ok(Err(payload)) => panicked(&*payload, took),
        Err(_) => timed_out(timeout),
    };
    landing.land(component);
}
