//! What the checkers on network clients (PostgreSQL, Redis, etcd) share: their calls run on the
//! SDK's own runtime, and their errors are told with their causes.
//!
//! A client's background tasks (connection drivers, reconnection) live on the runtime that polls
//! it first. Running each probe in a task on [`own_runtime`](crate::health::own_runtime), which
//! lives as long as the process, keeps a checker's pooled connections working after the runtime
//! that first ran it has been dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

use crate::component::Component;

/// Runs `probe` on the SDK's own runtime and waits for it from the caller's. Dropping the
/// returned future (the run's deadline passed) aborts the probe, so that nothing of it lingers.
pub(crate) async fn on_own_runtime<F>(probe: F) -> Component
where
    F: Future<Output = Component> + Send + 'static,
{
    let runtime = match crate::health::own_runtime() {
        Ok(runtime) => runtime,
        Err(e) => return Component::unhealthy(format!("cannot start the SDK's runtime: {e}")),
    };
    let task = AbortOnDrop(runtime.spawn(probe));
    match task.await {
        Ok(component) => component,
        Err(e) => Component::unhealthy(format!("the check's task failed: {e}")),
    }
}

/// A task handle that aborts its task when dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `error` and its causes, each once: `a: b: c`.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}
