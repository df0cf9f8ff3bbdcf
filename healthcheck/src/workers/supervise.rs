//! The loops that run a worker, catch its end or panic, pause, and start it again.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::{Inner, WorkerState, WorkerStatus};

/// What a worker looks at to know that [`Workers::shutdown`](super::Workers::shutdown) was
/// called: it should then finish what it is doing and return.
#[derive(Clone, Debug)]
pub struct Stop {
    receiver: watch::Receiver<bool>,
}

impl Stop {
    /// Whether the workers are shutting down.
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Waits until the workers are shutting down (at once if they are).
    pub async fn stopped(&mut self) {
        let _ = self.receiver.wait_for(|stopped| *stopped).await;
    }
}

/// Why a run ended, in a line.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload");
    format!("panicked: {message}")
}

/// What happens after a run that ended with `ended` having lasted `lasted`: the pause before
/// the next, or `None` to give up. Updates the status.
fn after_run(
    inner: &Inner,
    status: &Mutex<WorkerStatus>,
    ended: String,
    lasted: Duration,
) -> Option<Duration> {
    let settings = &inner.settings;
    let mut status = status.lock().unwrap_or_else(PoisonError::into_inner);
    status.failures_in_a_row = if lasted >= settings.healthy_after {
        1
    } else {
        status.failures_in_a_row.saturating_add(1)
    };
    status.last_error = Some(
        ended
            .split(['\n', '\r'])
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    );
    status.since = SystemTime::now();
    if *inner.stop.borrow() {
        status.state = WorkerState::Stopped;
        return None;
    }
    if settings
        .give_up_after
        .is_some_and(|limit| status.failures_in_a_row >= limit)
    {
        tracing::error!(worker = %status.name, failures = status.failures_in_a_row, last_error = %ended, "a worker failed too often in a row; giving it up");
        status.state = WorkerState::GaveUp;
        return None;
    }
    let doublings = status.failures_in_a_row.saturating_sub(1).min(30);
    let pause = settings
        .first_pause
        .saturating_mul(1 << doublings)
        .min(settings.max_pause);
    tracing::warn!(worker = %status.name, failures = status.failures_in_a_row, pause = ?pause, last_error = %ended, "a worker ended; starting it again after a pause");
    status.state = WorkerState::Backoff {
        until: Instant::now() + pause,
    };
    Some(pause)
}

fn started_again(status: &Mutex<WorkerStatus>) {
    let mut status = status.lock().unwrap_or_else(PoisonError::into_inner);
    status.restarts += 1;
    status.state = WorkerState::Running;
    status.since = SystemTime::now();
}

fn stopped(status: &Mutex<WorkerStatus>) {
    let mut status = status.lock().unwrap_or_else(PoisonError::into_inner);
    status.state = WorkerState::Stopped;
    status.since = SystemTime::now();
}

/// Waits until the shutdown begins (or its sender is gone).
async fn wait_stop(signal: &mut watch::Receiver<bool>) {
    let _ = signal.wait_for(|stopped| *stopped).await;
}

/// Supervises an async worker: each run in a task of its own, so that a panic is caught.
pub(super) async fn task<F, Fut, E>(inner: Arc<Inner>, status: Arc<Mutex<WorkerStatus>>, worker: F)
where
    F: Fn(Stop) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + 'static,
{
    let mut stop_signal = inner.stop.subscribe();
    loop {
        let started = Instant::now();
        let run = worker(Stop {
            receiver: inner.stop.subscribe(),
        });
        let mut handle = tokio::spawn(async move { run.await.map_err(|e| e.to_string()) });
        let outcome = tokio::select! {
            outcome = &mut handle => outcome,
            () = wait_stop(&mut stop_signal) => {
                // Its grace to finish on its own; then it is aborted.
                let grace = *inner.grace.lock().unwrap_or_else(PoisonError::into_inner);
                if tokio::time::timeout(grace, &mut handle).await.is_err() {
                    handle.abort();
                }
                stopped(&status);
                return;
            }
        };
        let ended = match outcome {
            Ok(Ok(())) => "returned".to_owned(),
            Ok(Err(error)) => error,
            Err(join) if join.is_panic() => panic_message(&*join.into_panic()),
            Err(_) => {
                // Cancelled: its runtime is shutting down.
                stopped(&status);
                return;
            }
        };
        let Some(pause) = after_run(&inner, &status, ended, started.elapsed()) else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = wait_stop(&mut stop_signal) => {
                stopped(&status);
                return;
            }
        }
        started_again(&status);
    }
}

/// Supervises a blocking worker on the current thread.
pub(super) fn thread<F, E>(inner: &Inner, status: &Mutex<WorkerStatus>, worker: &F)
where
    F: Fn(&Stop) -> Result<(), E>,
    E: fmt::Display,
{
    let stop = Stop {
        receiver: inner.stop.subscribe(),
    };
    loop {
        let started = Instant::now();
        let ended = match catch_unwind(AssertUnwindSafe(|| worker(&stop))) {
            Ok(Ok(())) => "returned".to_owned(),
            Ok(Err(error)) => error.to_string(),
            Err(payload) => panic_message(&*payload),
        };
        let Some(pause) = after_run(inner, status, ended, started.elapsed()) else {
            return;
        };
        // Sleep in slices, to notice a shutdown.
        let until = Instant::now() + pause;
        while Instant::now() < until {
            if stop.is_stopped() {
                stopped(status);
                return;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
        }
        started_again(status);
    }
}
