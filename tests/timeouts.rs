//! Concurrency, timeouts, hangs and single flight: no failure of a check can make the report
//! fail, hang, or lose another component, and a hung check never piles up executions.

mod support;

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use healthcheck::{Check, HealthChecks, Report, Status, healthcheck};
use support::Gate;

/// Fails the test instead of hanging it.
async fn within<T>(limit: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .expect("the report must come back on time")
}

fn health() -> HealthChecks {
    HealthChecks::builder().build().expect("valid checks")
}

async fn run_group(group: &str) -> Report {
    within(Duration::from_secs(10), health().run_group(group))
        .await
        .expect("the group exists")
}

/// `callers` runs of `group` at once, each on a task of its own; their reports.
async fn concurrent_runs(
    health: &HealthChecks,
    group: &'static str,
    callers: usize,
) -> Vec<Report> {
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let health = health.clone();
            tokio::spawn(async move { health.run_group(group).await })
        })
        .collect();
    let mut reports = Vec::with_capacity(callers);
    for task in tasks {
        let report = within(Duration::from_secs(5), task)
            .await
            .expect("the caller did not panic")
            .expect("the group exists");
        reports.push(report);
    }
    reports
}

// --- Concurrency, proved without clocks: each check waits until all of them have started. ---

static ASYNC_BARRIER: LazyLock<tokio::sync::Barrier> =
    LazyLock::new(|| tokio::sync::Barrier::new(4));
static BLOCKING_BARRIER: LazyLock<std::sync::Barrier> =
    LazyLock::new(|| std::sync::Barrier::new(4));

macro_rules! barrier_checks {
    ($($async_name:ident, $blocking_name:ident;)*) => {$(
        #[healthcheck(groups = ["async_barrier"], timeout = "5s")]
        async fn $async_name() -> bool {
            ASYNC_BARRIER.wait().await;
            true
        }

        #[healthcheck(groups = ["blocking_barrier"], timeout = "5s")]
        fn $blocking_name() -> bool {
            BLOCKING_BARRIER.wait();
            true
        }
    )*};
}

barrier_checks! {
    async_a, blocking_a;
    async_b, blocking_b;
    async_c, blocking_c;
    async_d, blocking_d;
}

#[tokio::test]
async fn async_checks_run_concurrently() {
    let report = run_group("async_barrier").await;
    assert_eq!(report.components.len(), 4);
    assert!(report.service_healthy, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn blocking_checks_run_concurrently_off_the_executor() {
    // Four blocking checks meet at a barrier, while the single executor thread stays free to
    // drive an async task: neither would finish if the checks ran one after another or on it.
    let ticker = tokio::spawn(async {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let report = run_group("blocking_barrier").await;
    assert!(report.service_healthy, "{report}");
    within(Duration::from_secs(1), ticker)
        .await
        .expect("the ticker ran");
}

// --- Timeouts. ---

#[healthcheck(groups = ["timeouts"], timeout = "50ms")]
async fn async_sleeps_too_long() -> bool {
    tokio::time::sleep(Duration::from_secs(30)).await;
    true
}

#[healthcheck(groups = ["timeouts"], timeout = "50ms")]
fn blocking_sleeps_too_long() -> bool {
    std::thread::sleep(Duration::from_millis(400));
    true
}

#[healthcheck(groups = ["timeouts"])]
async fn quick_neighbour() -> bool {
    true
}

#[tokio::test]
async fn checks_past_their_timeout_are_unhealthy_and_the_report_is_on_time() {
    let started = std::time::Instant::now();
    let report = run_group("timeouts").await;
    let took = started.elapsed();
    for name in ["async_sleeps_too_long", "blocking_sleeps_too_long"] {
        let component = &report.components[name];
        assert_eq!(component.status, Status::Unhealthy, "{name}");
        assert_eq!(
            component.status_message.as_deref(),
            Some("timed out after 50ms"),
            "{name}"
        );
        assert_eq!(component.response_time, 0.05, "{name}");
    }
    assert_eq!(report.components["quick_neighbour"].status, Status::Healthy);
    // Far below the 30 s and 400 ms the checks would take: the report did not wait for them.
    assert!(took < Duration::from_millis(390), "took {took:?}");
}

#[tokio::test]
async fn the_default_timeout_applies_to_checks_without_one() {
    let health = HealthChecks::builder()
        .without_registered_checks()
        .default_timeout(Duration::from_millis(20))
        .check(
            Check::new("sleepy", || async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                true
            })
            .critical(false),
        )
        .check(
            Check::new("patient", || async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                true
            })
            .timeout(Duration::from_secs(5)),
        )
        .build()
        .expect("valid");
    let report = within(Duration::from_secs(5), health.run()).await;
    assert_eq!(
        report.components["sleepy"].status_message.as_deref(),
        Some("timed out after 20ms")
    );
    assert_eq!(report.components["patient"].status, Status::Healthy);
}

// --- Hung checks asked for again and again: one execution in flight, shared. ---

static BLOCKING_HANG_CALLS: AtomicUsize = AtomicUsize::new(0);
static RELEASE: LazyLock<Gate> = LazyLock::new(Gate::default);

/// Releases the hung checks even when an assertion fails, so that a failing test fails instead
/// of waiting for ever on the runtime's blocking threads.
struct ReleaseOnDrop;

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        RELEASE.open();
    }
}

/// Hangs until the test releases it.
#[healthcheck(groups = ["blocking_hang"], timeout = "30ms")]
fn blocking_hangs() -> bool {
    BLOCKING_HANG_CALLS.fetch_add(1, Ordering::SeqCst);
    RELEASE.wait();
    true
}

#[healthcheck(groups = ["blocking_hang"])]
fn blocking_hang_neighbour() -> bool {
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_blocking_check_runs_once_however_often_it_is_asked_for() {
    let _release = ReleaseOnDrop;
    let health = health();
    for round in 0..5 {
        // Ten callers at once, five rounds one after another.
        for report in concurrent_runs(&health, "blocking_hang", 10).await {
            let hung = &report.components["blocking_hangs"];
            // Callers that come once the execution has run past their timeout are told so.
            let message = hung.status_message.as_deref().unwrap_or_default();
            assert!(
                message == "timed out after 30ms"
                    || message.starts_with("timed out after 30ms (still running since "),
                "round {round}: {message}"
            );
            assert_eq!(
                report.components["blocking_hang_neighbour"].status,
                Status::Healthy
            );
        }
    }
    assert_eq!(
        BLOCKING_HANG_CALLS.load(Ordering::SeqCst),
        1,
        "one thread, not fifty"
    );

    // Once it returns, the next run starts a new execution.
    RELEASE.open();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let report = run_group("blocking_hang").await;
    assert_eq!(report.components["blocking_hangs"].status, Status::Healthy);
    assert_eq!(BLOCKING_HANG_CALLS.load(Ordering::SeqCst), 2);
}

static ASYNC_HANG_STARTS: AtomicUsize = AtomicUsize::new(0);
static ASYNC_HANG_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static ASYNC_HANG_MAX_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

struct InFlight;

impl InFlight {
    fn enter() -> Self {
        ASYNC_HANG_STARTS.fetch_add(1, Ordering::SeqCst);
        let now = ASYNC_HANG_IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
        ASYNC_HANG_MAX_IN_FLIGHT.fetch_max(now, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        ASYNC_HANG_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

#[healthcheck(groups = ["async_hang"], timeout = "100ms")]
async fn async_hangs() -> bool {
    let _in_flight = InFlight::enter();
    std::future::pending::<()>().await;
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_async_check_is_in_flight_at_most_once() {
    let health = health();
    for _ in 0..3 {
        for report in concurrent_runs(&health, "async_hang", 20).await {
            assert_eq!(
                report.components["async_hangs"].status_message.as_deref(),
                Some("timed out after 100ms")
            );
        }
    }
    assert_eq!(ASYNC_HANG_MAX_IN_FLIGHT.load(Ordering::SeqCst), 1);
    // Each round's callers shared one execution (callers that came after a round's deadline
    // may have started the next one): far fewer executions than the sixty callers.
    let starts = ASYNC_HANG_STARTS.load(Ordering::SeqCst);
    assert!((3..=6).contains(&starts), "{starts} executions");
    // A timed-out execution is dropped, not left running.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(ASYNC_HANG_IN_FLIGHT.load(Ordering::SeqCst), 0);
}

// --- Single flight for slow but healthy checks: later callers share the result. ---

static SLOW_CALLS: AtomicUsize = AtomicUsize::new(0);

#[healthcheck(groups = ["shared"], timeout = "5s")]
async fn slow_but_fine() -> Result<serde_json::Value, String> {
    let call = SLOW_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(serde_json::json!({ "call": call }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_execution() {
    let health = health();
    for report in concurrent_runs(&health, "shared", 50).await {
        let component = &report.components["slow_but_fine"];
        assert_eq!(component.status, Status::Healthy);
        assert_eq!(
            component.extra["call"], 1,
            "every caller got the first execution's result"
        );
    }
    assert_eq!(SLOW_CALLS.load(Ordering::SeqCst), 1);
}

// --- Every failure mode at once: the others still report. ---

#[healthcheck(groups = ["chaos"], timeout = "50ms", critical = false)]
async fn chaos_hang() -> bool {
    std::future::pending().await
}

#[healthcheck(groups = ["chaos"], critical = false)]
fn chaos_panic() -> bool {
    panic!("chaos")
}

#[healthcheck(groups = ["chaos"], critical = false)]
async fn chaos_error() -> Result<(), String> {
    Err("chaos error".into())
}

#[healthcheck(groups = ["chaos"])]
async fn chaos_survivor() -> Result<serde_json::Value, String> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(serde_json::json!({"still": "here"}))
}

#[tokio::test]
async fn one_failing_check_never_costs_another_its_component() {
    let report = run_group("chaos").await;
    let messages: Vec<(&str, Option<&str>)> = report
        .components
        .iter()
        .map(|(name, c)| (name.as_str(), c.status_message.as_deref()))
        .collect();
    assert_eq!(
        messages,
        [
            ("chaos_error", Some("chaos error")),
            ("chaos_hang", Some("timed out after 50ms")),
            ("chaos_panic", Some("panicked: chaos")),
            ("chaos_survivor", None),
        ]
    );
    assert_eq!(report.components["chaos_survivor"].extra["still"], "here");
    assert!(report.service_healthy, "only non-critical checks failed");
}
