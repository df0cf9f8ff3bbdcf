//! What the checkers on network clients share: running a probe on the SDK's own runtime, and
//! telling errors with their causes ([`with_causes`]).
//!
//! A client's background tasks (connection drivers, reconnection) live on the runtime that polls
//! it first. The PostgreSQL and Redis checkers leave theirs there and replace a connection whose
//! task has gone with its runtime, as they would one the server closed. etcd's clients do not
//! say when that happened, so the etcd checker runs each probe in a task on
//! [`own_runtime`](crate::health::own_runtime), which lives as long as the process.

#[cfg(feature = "etcd")]
use std::future::Future;
#[cfg(feature = "etcd")]
use std::pin::Pin;
#[cfg(feature = "etcd")]
use std::task::{Context, Poll};

#[cfg(feature = "etcd")]
use tokio::task::JoinHandle;

#[cfg(feature = "etcd")]
use crate::component::Component;

/// Runs `probe` on the SDK's own runtime and waits for it from the caller's. Dropping the
/// returned future (the run's deadline passed) aborts the probe, so that nothing of it lingers.
#[cfg(feature = "etcd")]
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
#[cfg(feature = "etcd")]
struct AbortOnDrop<T>(JoinHandle<T>);

#[cfg(feature = "etcd")]
impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

#[cfg(feature = "etcd")]
impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) use crate::error::with_causes;
