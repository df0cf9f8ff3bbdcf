//! The intake's task: takes events off the queue and hands each to a call of the handler (a task
//! of its own, at most `concurrency` at once), counts how each call ended, and on close lets the
//! queue drain until the grace's deadline.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinSet};

use super::logs::Limited;
use super::{Counters, Event, Handler};

/// Runs until the intake is closed (then drains it until the deadline) or dropped (then stops at
/// once), and says in `done` how many events were left unhandled.
pub(super) async fn run(
    mut queue: mpsc::Receiver<Event>,
    handler: Handler,
    concurrency: usize,
    counters: Arc<Counters>,
    mut closing: watch::Receiver<Option<Instant>>,
    done: watch::Sender<Option<u64>>,
) {
    let mut calls = JoinSet::new();
    let mut failures = Limited::default();
    let deadline = loop {
        tokio::select! {
            biased;
            changed = closing.changed() => match changed {
                Ok(()) => {
                    if let Some(deadline) = *closing.borrow_and_update() {
                        break Some(deadline);
                    }
                }
                // Every `Events` has gone.
                Err(_) => break None,
            },
            Some(ended) = calls.join_next() => record(&counters, &mut failures, ended),
            event = queue.recv(), if calls.len() < concurrency => match event {
                Some(event) => call(&mut calls, &handler, event),
                None => break None,
            },
        }
    };
    queue.close();
    let unhandled = match deadline {
        Some(deadline) => {
            drain(
                &mut queue,
                &mut calls,
                &handler,
                concurrency,
                &counters,
                &mut failures,
                deadline,
            )
            .await
        }
        None => queue.len() + calls.len(),
    };
    calls.abort_all();
    drop(queue);
    failures.flush("the event handler failed");
    match (deadline, unhandled) {
        (Some(_), 0) => tracing::debug!("the event intake is closed, every event handled"),
        (Some(_), n) => tracing::warn!(
            unhandled = n,
            "the event intake is closed with events unhandled at the end of its grace"
        ),
        (None, 0) => {}
        (None, n) => tracing::warn!(
            unhandled = n,
            "the event intake was dropped without being closed, with events unhandled"
        ),
    }
    done.send_replace(Some(unhandled as u64));
}

/// Hands what is queued to the handler until all is done or the deadline passes; returns how
/// many events are left, queued or in a call.
async fn drain(
    queue: &mut mpsc::Receiver<Event>,
    calls: &mut JoinSet<Result<(), String>>,
    handler: &Handler,
    concurrency: usize,
    counters: &Counters,
    failures: &mut Limited,
    deadline: Instant,
) -> usize {
    let grace = tokio::time::sleep_until(deadline.into());
    tokio::pin!(grace);
    let mut empty = false;
    loop {
        if empty && calls.is_empty() {
            return 0;
        }
        tokio::select! {
            biased;
            () = &mut grace => return queue.len() + calls.len(),
            Some(ended) = calls.join_next() => record(counters, failures, ended),
            event = queue.recv(), if !empty && calls.len() < concurrency => match event {
                Some(event) => call(calls, handler, event),
                None => empty = true,
            },
        }
    }
}

/// Calls the handler in a task of its own, where a panic, even before its future, is caught.
fn call(calls: &mut JoinSet<Result<(), String>>, handler: &Handler, event: Event) {
    let handler = Arc::clone(handler);
    calls.spawn(async move { handler(event).await });
}

fn record(
    counters: &Counters,
    failures: &mut Limited,
    ended: Result<Result<(), String>, JoinError>,
) {
    match ended {
        Ok(Ok(())) => Counters::add(&counters.handled),
        Ok(Err(error)) => {
            Counters::add(&counters.failed);
            failures.warn("the event handler failed", &one_line(&error));
        }
        Err(error) if error.is_panic() => {
            Counters::add(&counters.failed);
            let message = format!("panicked: {}", panic_message(&error.into_panic()));
            failures.warn("the event handler failed", &one_line(&message));
        }
        // Cancelled: only when the task itself is stopped.
        Err(_) => {}
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
