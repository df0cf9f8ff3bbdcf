//! The blocking API, for programs without an async runtime, and the async API called from an
//! executor that is not Tokio.

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use healthcheck::{Error, HealthChecks, Selection, Status, healthcheck};

#[healthcheck(groups = ["mixed"])]
async fn async_sleeper() -> bool {
    tokio::time::sleep(Duration::from_millis(10)).await;
    true
}

#[healthcheck(groups = ["mixed"])]
fn blocking_sleeper() -> Result<serde_json::Value, String> {
    std::thread::sleep(Duration::from_millis(10));
    Ok(serde_json::json!({"slept_ms": 10}))
}

#[healthcheck(timeout = "30ms", critical = false)]
async fn too_slow() -> bool {
    tokio::time::sleep(Duration::from_secs(30)).await;
    true
}

fn health() -> HealthChecks {
    HealthChecks::builder().build().expect("valid checks")
}

#[test]
fn run_blocking_works_without_a_runtime() {
    let report = health()
        .run_blocking()
        .expect("no runtime here, so it may block");
    assert!(report.service_healthy, "{report}");
    assert_eq!(report.components["async_sleeper"].status, Status::Healthy);
    assert_eq!(report.components["blocking_sleeper"].extra["slept_ms"], 10);
    assert_eq!(
        report.components["too_slow"].status_message.as_deref(),
        Some("timed out after 30ms")
    );

    let group = health()
        .run_selection_blocking(&Selection::group("mixed"))
        .expect("the group exists");
    assert_eq!(group.components.len(), 2);
    let unknown = health()
        .run_selection_blocking(&Selection::group("nope"))
        .expect_err("no such group");
    assert!(matches!(unknown, Error::UnknownGroup(ref g) if g == "nope"));
}

#[tokio::test]
async fn run_blocking_inside_a_runtime_is_a_clear_error() {
    let error = health()
        .run_blocking()
        .expect_err("blocking would stall the executor");
    assert!(matches!(error, Error::InsideAsyncRuntime));
    assert!(
        error.to_string().contains("use the async method"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn run_blocking_inside_a_multi_threaded_runtime_is_a_clear_error_too() {
    let health = health();
    let error = tokio::task::spawn(async move { health.run_blocking() })
        .await
        .expect("no panic")
        .expect_err("blocking would stall the executor");
    assert!(matches!(error, Error::InsideAsyncRuntime));
}

/// The smallest executor there is: polls on this thread, parks between wake-ups.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

#[test]
fn the_async_api_works_from_another_executor() {
    let report = block_on(health().run());
    assert!(report.service_healthy, "{report}");
    assert_eq!(
        report.components["blocking_sleeper"].status,
        Status::Healthy
    );
    assert_eq!(report.components["too_slow"].status, Status::Unhealthy);
}
