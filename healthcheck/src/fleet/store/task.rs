//! The network backends' calls, run on the SDK's own runtime.
//!
//! A client's background tasks (connection drivers, reconnection, lease keep-alives) live on the
//! runtime that polls it first. Running every call in a task on
//! [`own_runtime`](crate::health::own_runtime), which lives as long as the process, keeps a
//! store working after the runtime of whoever called it first has been dropped, and lets callers
//! outside any Tokio runtime use it.

use std::future::Future;
use std::time::Duration;

use super::{StoreError, StoreUrl};

/// Runs `call` on the SDK's runtime and gives up after `deadline`: the store's answer, or a
/// [`StoreError`] saying it did not answer in time.
pub(crate) async fn on_own_runtime<T, F>(
    url: &StoreUrl,
    deadline: Duration,
    call: F,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, String>> + Send + 'static,
{
    let runtime = crate::health::own_runtime().map_err(|e| StoreError::new(url, e))?;
    let task = runtime.spawn(async move { tokio::time::timeout(deadline, call).await });
    match task.await {
        Ok(Ok(answer)) => answer.map_err(|message| StoreError::new(url, message)),
        Ok(Err(_elapsed)) => Err(StoreError::new(
            url,
            format!("no answer within {}", humantime::format_duration(deadline)),
        )),
        Err(join) => Err(StoreError::new(
            url,
            format!("the store's task failed: {join}"),
        )),
    }
}
