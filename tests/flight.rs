//! Single flight as callers see it: back-to-back runs each run their checks, callers with
//! different timeouts each get their own deadline, a caller that comes to an execution already
//! overdue is told so, a check that panics when cancelled still timed out, and a hung blocking
//! check never keeps the process from exiting.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use healthcheck::{Check, HealthChecks, MetricsConfig, Status, healthcheck};
use support::Gate;

fn only(check: Check) -> HealthChecks {
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .check(check)
        .build()
        .expect("valid checks")
}

// --- 1. Back-to-back runs run the checks: single flight shares executions in flight only. ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_to_back_async_runs_each_run_the_check() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let health = only(Check::new("slow_async", || async {
        CALLS.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        true
    }));
    for run in 0..20 {
        let started = Instant::now();
        let report = health.run().await;
        assert!(report.service_healthy, "{report}");
        assert!(
            started.elapsed() >= Duration::from_millis(19),
            "run {run} took {:?}: it reused a finished execution",
            started.elapsed()
        );
    }
    assert_eq!(CALLS.load(Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_to_back_blocking_runs_each_run_the_check() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let health = only(Check::blocking("slow_blocking", || {
        CALLS.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        true
    }));
    for _ in 0..20 {
        assert!(health.run().await.service_healthy);
    }
    assert_eq!(CALLS.load(Ordering::SeqCst), 20);
}

#[test]
fn back_to_back_runs_without_a_runtime_each_run_the_check() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let health = only(Check::new("slow_no_runtime", || async {
        CALLS.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        true
    }));
    for _ in 0..20 {
        assert!(
            health
                .run_blocking()
                .expect("no runtime here")
                .service_healthy
        );
    }
    assert_eq!(CALLS.load(Ordering::SeqCst), 20);
}

// --- 3. Two instances, one annotated check, different timeouts: each its own deadline. ---

static SHARED_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Takes 300 ms; its timeout is each instance's default.
#[healthcheck(groups = ["two_instances"])]
async fn takes_300ms() -> bool {
    SHARED_CALLS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    true
}

fn instance(default_timeout: Duration) -> HealthChecks {
    HealthChecks::builder()
        .filter_registered(|check| check.in_group("two_instances"))
        .metrics(MetricsConfig::disabled())
        .default_timeout(default_timeout)
        .build()
        .expect("valid checks")
}

/// Runs `first`, then `second` 30 ms later while the first execution is in flight; each
/// report with how long its run took.
async fn overlapping(
    first: &HealthChecks,
    second: &HealthChecks,
) -> (
    (healthcheck::Report, Duration),
    (healthcheck::Report, Duration),
) {
    let timed = |health: HealthChecks, delay: Duration| async move {
        tokio::time::sleep(delay).await;
        let started = Instant::now();
        let report = health.run().await;
        (report, started.elapsed())
    };
    let a = tokio::spawn(timed(first.clone(), Duration::ZERO));
    let b = tokio::spawn(timed(second.clone(), Duration::from_millis(30)));
    (a.await.expect("first"), b.await.expect("second"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_with_different_timeouts_each_get_their_own_deadline() {
    let short = instance(Duration::from_millis(100));
    let long = instance(Duration::from_secs(5));

    // The short instance starts the execution; the long one joins it.
    let ((short_report, short_took), (long_report, long_took)) = overlapping(&short, &long).await;
    let component = &short_report.components["takes_300ms"];
    assert_eq!(
        component.status_message.as_deref(),
        Some("timed out after 100ms")
    );
    assert!(short_took < Duration::from_millis(250), "{short_took:?}");
    assert_eq!(
        long_report.components["takes_300ms"].status,
        Status::Healthy,
        "the short caller's deadline cut the long caller's execution: {long_report}"
    );
    assert!(long_took < Duration::from_millis(1_000), "{long_took:?}");
    assert_eq!(
        SHARED_CALLS.load(Ordering::SeqCst),
        1,
        "one shared execution"
    );

    // The long instance starts it; the short one joins and still leaves at its own deadline.
    let ((long_report, _), (short_report, short_took)) = overlapping(&long, &short).await;
    assert_eq!(
        long_report.components["takes_300ms"].status,
        Status::Healthy
    );
    assert_eq!(
        short_report.components["takes_300ms"]
            .status_message
            .as_deref(),
        Some("timed out after 100ms")
    );
    assert!(
        short_took < Duration::from_millis(250),
        "the short caller waited for the long deadline: {short_took:?}"
    );
    assert_eq!(SHARED_CALLS.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_goes_away_leaves_its_execution_to_those_who_joined_it() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let health = only(Check::new("slow", || async {
        CALLS.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        true
    }));
    // The first caller starts the execution and drives it in its own task ...
    let first = tokio::spawn({
        let health = health.clone();
        async move { health.run().await }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    // ... a second caller joins it ...
    let second = tokio::spawn({
        let health = health.clone();
        async move { health.run().await }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    // ... and the first goes away (an HTTP client hung up): the execution goes on.
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());
    let report = second.await.expect("the second caller");
    assert_eq!(
        report.components["slow"].status,
        Status::Healthy,
        "the execution died with its first caller: {report}"
    );
    assert_eq!(CALLS.load(Ordering::SeqCst), 1, "one shared execution");
}

// --- 4. Overdue executions and checks that panic when cancelled. ---

static OVERDUE_GATE: LazyLock<Gate> = LazyLock::new(Gate::default);

struct OpenOnDrop(&'static Gate);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_of_an_overdue_execution_is_told_it_is_still_running() {
    let _release = OpenOnDrop(&OVERDUE_GATE);
    let health = only(
        Check::blocking("hangs", || {
            OVERDUE_GATE.wait();
            true
        })
        .timeout(Duration::from_millis(50)),
    );
    let first = health.run().await;
    assert_eq!(
        first.components["hangs"].status_message.as_deref(),
        Some("timed out after 50ms")
    );
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let second = health.run().await;
    let took = started.elapsed();
    let component = &second.components["hangs"];
    let message = component.status_message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with("timed out after 50ms (still running since "),
        "{message}"
    );
    assert!(message.ends_with(" ms)"), "{message}");
    assert_eq!(component.response_time, 0.05);
    assert!(
        took < Duration::from_millis(40),
        "answered at once: {took:?}"
    );
}

struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("a destructor that panics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_panics_when_cancelled_timed_out() {
    // In a child without backtraces: the panic hook then reports the destructor's panic at once,
    // so what the execution publishes is in before the joiner's deadline.
    if support::ran_in_child(
        "a_check_that_panics_when_cancelled_timed_out",
        &[("RUST_BACKTRACE", "0")],
    ) {
        return;
    }
    let health = only(
        Check::new("panics_on_drop", || async {
            let _guard = PanicsWhenDropped;
            std::future::pending::<bool>().await
        })
        .timeout(Duration::from_millis(200)),
    );
    // A second caller joins the execution late: its own deadline comes well after the
    // execution's, so it gets what the execution published when it was dropped at its deadline
    // (its destructor's panic, and the panic hook's report of it, included).
    let first = tokio::spawn({
        let health = health.clone();
        async move { health.run().await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let joined = health.run().await;
    let first = first.await.expect("the first caller");
    for report in [first, joined] {
        let component = &report.components["panics_on_drop"];
        assert_eq!(
            component.status_message.as_deref(),
            Some("timed out after 200ms")
        );
        assert_eq!(component.response_time, 0.2);
    }
}

// --- 2. A hung blocking check never keeps the process from exiting. ---

const MAIN_RETURNED: &str = "main returned";

/// The child: a `#[tokio::main]`-style program whose blocking check hangs for ever. It runs the
/// checks, flushes its metrics, and returns from `main`, dropping its runtime.
#[allow(clippy::print_stdout)] // The parent reads when `main` returned.
fn main_with_a_hung_blocking_check() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let health = HealthChecks::builder()
            .without_registered_checks()
            .check(
                Check::blocking("hangs_for_ever", || -> bool {
                    loop {
                        std::thread::park();
                    }
                })
                .timeout(Duration::from_millis(50)),
            )
            .check(Check::new("fine", || async { true }))
            .build()
            .expect("valid checks");
        let report = health.run().await;
        assert!(!report.service_healthy);
        assert!(health.flush_metrics(Duration::from_secs(5)).await);
    });
    println!("{MAIN_RETURNED}");
    drop(runtime);
}

#[test]
fn a_hung_blocking_check_does_not_keep_the_process_from_exiting() {
    if std::env::var_os(support::CHILD).is_some() {
        main_with_a_hung_blocking_check();
        return;
    }
    let agent = support::Listener::udp();
    let url = agent.url();
    let mut child = support::child_command(
        "a_hung_blocking_check_does_not_keep_the_process_from_exiting",
        &[("DD_DOGSTATSD_URL", url.as_str())],
    )
    .arg("--nocapture")
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("the child starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let returned = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains(MAIN_RETURNED));
    assert!(returned, "the child's main never returned");
    let returned_at = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if returned_at.elapsed() > Duration::from_secs(1) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the process was still running 1 s after main returned");
    };
    assert!(status.success(), "the child failed: {status}");

    let lines = agent.lines(Duration::from_millis(500));
    for name in ["hangs_for_ever", "fine"] {
        assert!(
            lines.iter().any(|l| {
                l.starts_with("healthcheck.check.response_time:")
                    && l.contains(&format!("check:{name}"))
            }),
            "no timing of {name} reached the agent: {lines:?}"
        );
    }
}

// --- Quick blocking checks share a worker; one that starts hanging costs the others nothing. ---

static TURNS_SLOW_GATE: LazyLock<Gate> = LazyLock::new(Gate::default);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_blocking_check_that_starts_hanging_times_out_alone() {
    static HANG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let _release = OpenOnDrop(&TURNS_SLOW_GATE);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .check(
            // First in name order: the shared worker meets it before its neighbours.
            Check::blocking("a_turns_slow", || {
                CALLS.fetch_add(1, Ordering::SeqCst);
                if HANG.load(Ordering::SeqCst) {
                    TURNS_SLOW_GATE.wait();
                }
                true
            })
            .timeout(Duration::from_millis(50)),
        )
        .check(Check::blocking("b_neighbour", || true))
        .check(Check::blocking("c_neighbour", || Err::<(), _>("down")).critical(false))
        .build()
        .expect("valid checks");
    for _ in 0..3 {
        // Quick now: the next runs put all three on one shared worker.
        assert!(health.run().await.service_healthy);
    }
    HANG.store(true, Ordering::SeqCst);

    let started = Instant::now();
    let report = health.run().await;
    let took = started.elapsed();
    assert_eq!(
        report.components["a_turns_slow"].status_message.as_deref(),
        Some("timed out after 50ms")
    );
    assert_eq!(report.components["b_neighbour"].status, Status::Healthy);
    assert_eq!(
        report.components["c_neighbour"].status_message.as_deref(),
        Some("down")
    );
    assert!(took < Duration::from_millis(300), "{took:?}");

    tokio::time::sleep(Duration::from_millis(60)).await;
    let report = health.run().await;
    let message = report.components["a_turns_slow"]
        .status_message
        .clone()
        .unwrap_or_default();
    assert!(
        message.starts_with("timed out after 50ms (still running since "),
        "{message}"
    );
    assert_eq!(report.components["b_neighbour"].status, Status::Healthy);
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        4,
        "the hung call is not repeated"
    );

    TURNS_SLOW_GATE.open();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let report = health.run().await;
    assert_eq!(report.components["a_turns_slow"].status, Status::Healthy);
    assert_eq!(CALLS.load(Ordering::SeqCst), 5);
}
