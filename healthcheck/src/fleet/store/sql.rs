//! What the SQL stores (SQLite, PostgreSQL) share: how a record's columns are encoded and
//! decoded, and how their work runs on the SDK's own runtime rather than the caller's.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{StoreError, StoreUrl};
use crate::component::Status;

/// A status from its column, which holds [`Status::as_str`].
pub(super) fn status_from_column(text: &str) -> Result<Status, String> {
    match text {
        "healthy" => Ok(Status::Healthy),
        "degraded" => Ok(Status::Degraded),
        "unhealthy" => Ok(Status::Unhealthy),
        other => Err(format!("unknown status {other:?}")),
    }
}

/// Labels as their column holds them: a JSON object of strings.
pub(super) fn labels_column(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".to_owned())
}

/// Labels from their column.
pub(super) fn labels_from_column(text: &str) -> Result<BTreeMap<String, String>, String> {
    serde_json::from_str(text).map_err(|e| format!("labels are not a JSON object of strings: {e}"))
}

/// Fields as their column holds them: a JSON object.
pub(super) fn fields_column(fields: &Map<String, Value>) -> String {
    serde_json::to_string(fields).unwrap_or_else(|_| "{}".to_owned())
}

/// Fields from their column.
pub(super) fn fields_from_column(text: &str) -> Result<Map<String, Value>, String> {
    serde_json::from_str(text).map_err(|e| format!("fields are not a JSON object: {e}"))
}

/// The key of a row, for the warning about rows that could not be decoded.
pub(super) fn row_key(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .map(|part| part.as_deref().unwrap_or("?"))
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(feature = "postgres")]
/// Runs `work` on the SDK's own runtime, which lives as long as the process, and waits for it
/// from whatever runtime the caller is on: the store's connections and their tasks never belong
/// to a caller's runtime that may be dropped. Gives up after `timeout`.
pub(super) async fn on_own_runtime<T, F>(
    url: &StoreUrl,
    timeout: std::time::Duration,
    work: F,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    let runtime = crate::health::own_runtime().map_err(|e| StoreError::new(url, e))?;
    let task = runtime.spawn(tokio::time::timeout(timeout, work));
    match task.await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(StoreError::new(
            url,
            format_args!("no answer within {} s", timeout.as_secs_f64()),
        )),
        Err(e) => Err(StoreError::new(
            url,
            format_args!("the store's task failed: {e}"),
        )),
    }
}

#[cfg(feature = "sqlite")]
/// Runs `work`, which blocks, on the blocking threads of the SDK's own runtime, and waits for
/// it without blocking the caller's executor.
pub(super) async fn on_blocking_thread<T, F>(url: &StoreUrl, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    let runtime = crate::health::own_runtime().map_err(|e| StoreError::new(url, e))?;
    match runtime.spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(StoreError::new(
            url,
            format_args!("the store's thread failed: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_back_and_garbage_is_an_error() {
        for status in [Status::Healthy, Status::Degraded, Status::Unhealthy] {
            assert_eq!(status_from_column(status.as_str()), Ok(status));
        }
        assert!(status_from_column("HEALTHY").is_err());
        let labels = BTreeMap::from([("region".to_owned(), "eu \"west\"".to_owned())]);
        assert_eq!(labels_from_column(&labels_column(&labels)), Ok(labels));
        assert!(labels_from_column("{\"region\": 1}").is_err());
        assert!(labels_from_column("not json").is_err());
        let fields = Map::from_iter([("lag".to_owned(), Value::from(3))]);
        assert_eq!(fields_from_column(&fields_column(&fields)), Ok(fields));
        assert!(fields_from_column("[1, 2]").is_err());
        assert_eq!(
            row_key(&[Some("a".to_owned()), None, Some("c".to_owned())]),
            "a/?/c"
        );
    }
}
