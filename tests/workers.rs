//! Supervised workers: a worker that panics three times and then runs is restarted with growing
//! pauses and reported; one that keeps failing is given up and fails its liveness check; a
//! blocking worker on its own thread is restarted the same way; a shutdown stops them all, and
//! aborts a task that does not stop.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use healthcheck::workers::{Stop, WorkerState, Workers};
use healthcheck::{HealthChecks, Status};

fn health(workers: &Workers) -> HealthChecks {
    HealthChecks::builder()
        .without_registered_checks()
        .checks(workers.checks())
        .build()
        .expect("the checks build")
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_panics_three_times_is_restarted_with_growing_pauses_and_reported() {
    let workers = Workers::builder()
        .backoff(Duration::from_millis(40), Duration::from_secs(5))
        .build();
    let starts = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let seen = Arc::clone(&starts);
    workers
        .spawn("consumer", move |mut stop: Stop| {
            let seen = Arc::clone(&seen);
            async move {
                let run = {
                    let mut starts = seen.lock().expect("not poisoned");
                    starts.push(Instant::now());
                    starts.len()
                };
                if run <= 3 {
                    panic!("lost the queue connection (run {run})");
                }
                stop.stopped().await;
                Ok::<(), String>(())
            }
        })
        .expect("spawned");
    let checks = health(&workers);

    // While it waits between runs, it is degraded, with why.
    wait_for("a first pause", Duration::from_secs(2), || {
        matches!(workers.status()[0].state, WorkerState::Backoff { .. })
    })
    .await;
    let report = checks.run().await;
    let component = &report.components["worker:consumer"];
    assert_eq!(component.status, Status::Degraded, "{}", report.to_json());
    assert!(
        component
            .status_message
            .as_deref()
            .unwrap_or_default()
            .contains("panicked: lost the queue connection"),
        "{}",
        report.to_json()
    );

    wait_for("a fourth run", Duration::from_secs(5), || {
        starts.lock().expect("not poisoned").len() == 4
    })
    .await;
    let starts = starts.lock().expect("not poisoned").clone();
    let pauses: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    // 40 ms, 80 ms, 160 ms: each at least its pause, and growing.
    for (pause, least) in pauses.iter().zip([40, 80, 160]) {
        assert!(*pause >= Duration::from_millis(least), "{pauses:?}");
    }
    assert!(pauses[0] < pauses[1] && pauses[1] < pauses[2], "{pauses:?}");

    let status = &workers.status()[0];
    assert_eq!(status.state, WorkerState::Running);
    assert_eq!(status.restarts, 3);
    assert_eq!(status.failures_in_a_row, 3);
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("(run 3)")
    );
    let report = checks.run().await;
    let component = &report.components["worker:consumer"];
    assert_eq!(component.status, Status::Healthy, "{}", report.to_json());
    assert_eq!(component.extra["restarts"], 3);
    assert_eq!(component.extra["state"], "running");

    workers.shutdown(Duration::from_secs(1)).await;
    assert_eq!(workers.status()[0].state, WorkerState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_keeps_failing_is_given_up_and_fails_its_liveness_check() {
    let workers = Workers::builder()
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .give_up_after(4)
        .build();
    let runs = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&runs);
    workers
        .spawn("poller", move |_stop| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>("upstream answered 500\nsecond line") }
        })
        .expect("spawned");
    wait_for("given up", Duration::from_secs(3), || {
        workers.status()[0].state == WorkerState::GaveUp
    })
    .await;
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    let report = health(&workers).run().await;
    let component = &report.components["worker:poller"];
    assert_eq!(component.status, Status::Unhealthy);
    assert_eq!(
        component.status_message.as_deref(),
        Some("gave up after 4 failures in a row: upstream answered 500 second line")
    );
    assert!(!report.service_healthy);
    // Not restarted any more.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stuck_in_backoff_longer_than_the_threshold_is_unhealthy() {
    let workers = Workers::builder()
        .backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .stuck_after(Duration::from_millis(50))
        .build();
    workers
        .spawn("mailer", |_stop| async { Err::<(), _>("SMTP refused") })
        .expect("spawned");
    let checks = health(&workers);
    wait_for("a pause", Duration::from_secs(2), || {
        matches!(workers.status()[0].state, WorkerState::Backoff { .. })
    })
    .await;
    assert_eq!(
        checks.run().await.components["worker:mailer"].status,
        Status::Degraded
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(
        checks.run().await.components["worker:mailer"].status,
        Status::Unhealthy
    );
    // A shutdown ends the pause at once.
    let started = Instant::now();
    workers.shutdown(Duration::from_secs(1)).await;
    assert_eq!(workers.status()[0].state, WorkerState::Stopped);
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_worker_on_its_own_thread_is_restarted_and_stops_when_told() {
    let workers = Workers::builder()
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .build();
    let runs = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&runs);
    workers
        .spawn_blocking("indexer", move |stop: &Stop| {
            let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
            assert!(run > 2, "the index is corrupt (run {run})");
            while !stop.is_stopped() {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok::<(), String>(())
        })
        .expect("spawned");
    wait_for("a third run", Duration::from_secs(2), || {
        runs.load(Ordering::SeqCst) == 3
    })
    .await;
    let status = &workers.status()[0];
    assert_eq!(status.restarts, 2);
    assert_eq!(status.state, WorkerState::Running);
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("panicked: the index is corrupt (run 2)")
    );
    workers.shutdown(Duration::from_secs(1)).await;
    wait_for("stopped", Duration::from_secs(1), || {
        workers.status()[0].state == WorkerState::Stopped
    })
    .await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_ignores_the_shutdown_is_aborted_after_the_grace() {
    let workers = Workers::builder().build();
    workers
        .spawn("stubborn", |_stop| async {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            #[allow(unreachable_code)]
            Ok::<(), String>(())
        })
        .expect("spawned");
    let started = Instant::now();
    workers.shutdown(Duration::from_millis(100)).await;
    assert_eq!(workers.status()[0].state, WorkerState::Stopped);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_secs(1),
        "{took:?}"
    );
}

#[tokio::test]
async fn names_are_unique_and_workers_need_a_runtime() {
    let workers = Workers::builder().build();
    workers
        .spawn("a", |_stop| async { Ok::<(), String>(()) })
        .expect("spawned");
    let again = workers
        .spawn("a", |_stop| async { Ok::<(), String>(()) })
        .expect_err("a second `a`");
    assert!(again.to_string().contains("exists"), "{again}");
    let outside = std::thread::spawn(|| {
        Workers::builder()
            .build()
            .spawn("b", |_stop| async { Ok::<(), String>(()) })
            .map_err(|e| e.to_string())
    })
    .join()
    .expect("no panic");
    assert!(
        outside.expect_err("no runtime").contains("Tokio runtime"),
        "outside a runtime"
    );
}
