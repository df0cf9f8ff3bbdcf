//! The fleet, end to end in one process: instances with identities of their own publish into
//! one store, and the view, its rules, staleness, heartbeats from another instance and
//! `GET <base>/fleet` read it. The real stores run the same through `support::fleet_e2e`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use healthcheck::fleet::{
    FleetConfig, FleetFilter, FleetReduce, FleetStore, MemoryFleetStore, STORE_ENV,
};
use healthcheck::http::HttpOptions;
use healthcheck::http::server::Server;
use healthcheck::{Check, Error, HealthChecks, Heartbeat, Status};
use support::http_client::get;

fn instance(
    store: &Arc<dyn FleetStore>,
    host: &str,
    database_up: Arc<AtomicBool>,
    fleet: FleetConfig,
) -> HealthChecks {
    HealthChecks::builder()
        .without_registered_checks()
        .service("payments")
        .host(host)
        .instance(format!("{host}-1"))
        .label("region", "eu-west-1")
        .metrics(healthcheck::MetricsConfig::new().enabled(false))
        .check(
            Check::new("database", move || {
                let up = database_up.load(Ordering::SeqCst);
                async move {
                    if up {
                        Ok(())
                    } else {
                        Err("connection refused")
                    }
                }
            })
            .groups(["db"]),
        )
        .check(Check::new("cache", || async { true }).critical(false))
        .fleet(fleet.shared_store(Arc::clone(store)))
        .build()
        .expect("valid")
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn instances_publish_every_run_and_the_view_reads_check_group_host() {
    let store: Arc<dyn FleetStore> = Arc::new(MemoryFleetStore::new());
    let web1 = instance(
        &store,
        "web-1",
        Arc::new(AtomicBool::new(true)),
        FleetConfig::new(),
    );
    let down = Arc::new(AtomicBool::new(true));
    let web2 = instance(&store, "web-2", Arc::clone(&down), FleetConfig::new());
    web1.run().await;
    web2.run().await;
    assert!(web1.flush_fleet(SECOND).await && web2.flush_fleet(SECOND).await);

    let view = web1
        .fleet()
        .read(&FleetFilter::new())
        .await
        .expect("readable");
    assert!(view.healthy, "{:?}", view.failing);
    let database = &view.services["payments"]["database"]["db"];
    let hosts: Vec<&str> = database.iter().map(|i| i.host.as_str()).collect();
    assert_eq!(hosts, ["web-1", "web-2"]);
    assert_eq!(database[0].instance, "web-1-1");
    assert_eq!(database[0].labels["region"], "eu-west-1");
    assert!(!database[0].stale && database[0].age < 1.0);
    // A check in no group is published under the empty group.
    assert_eq!(view.services["payments"]["cache"][""].len(), 2);

    // One host's database fails: every rule but "one per group" says so, naming it.
    down.store(false, Ordering::SeqCst);
    web2.run().await;
    assert!(web2.flush_fleet(SECOND).await);
    let view = web1
        .fleet()
        .read(&FleetFilter::new())
        .await
        .expect("readable");
    assert!(!view.healthy);
    assert_eq!(view.failing, ["payments/database [db]: 1 of 2 healthy"]);
    let failing = &view.services["payments"]["database"]["db"][1];
    assert_eq!(
        (failing.host.as_str(), failing.status),
        ("web-2", Status::Unhealthy)
    );
    assert_eq!(failing.message.as_deref(), Some("connection refused"));
    let text = view.to_text();
    assert!(text.contains("database at web-2 [db] -> FAIL "), "{text}");
    assert!(text.contains("connection refused\n"), "{text}");

    let lenient = web1.fleet().with_reduce(FleetReduce::OnePerGroup);
    assert!(
        lenient
            .read(&FleetFilter::new())
            .await
            .expect("readable")
            .healthy
    );
    let filtered = web1
        .fleet()
        .read(&FleetFilter::new().check("cache"))
        .await
        .expect("readable");
    assert!(filtered.healthy);
    assert!(!filtered.services["payments"].contains_key("database"));
    let other = web1
        .fleet()
        .read(&FleetFilter::new().service("orders"))
        .await
        .expect("readable");
    assert!(
        other.services.is_empty() && !other.healthy,
        "nothing published: not healthy"
    );
}

#[tokio::test]
async fn a_burst_of_runs_faster_than_the_writer_publishes_the_newest_of_each_check() {
    let store: Arc<dyn FleetStore> = Arc::new(MemoryFleetStore::new());
    let database_up = Arc::new(AtomicBool::new(true));
    let web1 = instance(
        &store,
        "web-1",
        Arc::clone(&database_up),
        FleetConfig::new(),
    );
    // Hundreds of runs between two looks of the writer (every 100 ms): far more than it keeps
    // waiting before they are folded; the database goes down for the last ones.
    for run in 0..500 {
        database_up.store(run < 490, Ordering::SeqCst);
        web1.run().await;
    }
    assert!(web1.flush_fleet(10 * SECOND).await);
    let view = web1
        .fleet()
        .read(&FleetFilter::new())
        .await
        .expect("readable");
    let database = view.services["payments"]["database"]["db"][0].clone();
    assert_eq!(
        database.status,
        Status::Unhealthy,
        "the newest result: {view:?}"
    );
    assert_eq!(database.message.as_deref(), Some("connection refused"));
    let cache = view.services["payments"]["cache"][""][0].clone();
    assert_eq!(cache.status, Status::Healthy);
}

#[tokio::test]
async fn an_instance_that_stops_publishing_is_stale_after_the_window_then_gone() {
    let store: Arc<dyn FleetStore> = Arc::new(MemoryFleetStore::new());
    let window = Duration::from_millis(300);
    let config = || FleetConfig::new().freshness(window);
    let reader = instance(&store, "web-1", Arc::new(AtomicBool::new(true)), config());
    let departing = instance(&store, "web-2", Arc::new(AtomicBool::new(true)), config());
    departing.run().await;
    assert!(departing.flush_fleet(SECOND).await);
    drop(departing);

    tokio::time::sleep(window + Duration::from_millis(100)).await;
    reader.run().await;
    assert!(reader.flush_fleet(SECOND).await);
    let view = reader
        .fleet()
        .read(&FleetFilter::new())
        .await
        .expect("readable");
    let web2 = &view.services["payments"]["database"]["db"][1];
    assert_eq!(web2.host, "web-2");
    assert!(web2.stale);
    assert_eq!(web2.status, Status::Unhealthy);
    assert_eq!(web2.reported_status, Status::Healthy);
    assert!(
        web2.message
            .as_deref()
            .is_some_and(|m| m.starts_with("stale: last result ")),
        "{:?}",
        web2.message
    );
    assert!(!view.healthy);

    // The store keeps a result for twice the window: then the instance is gone.
    tokio::time::sleep(window * 2).await;
    reader.run().await;
    assert!(reader.flush_fleet(SECOND).await);
    let view = reader
        .fleet()
        .read(&FleetFilter::new())
        .await
        .expect("readable");
    let hosts: Vec<&str> = view.services["payments"]["database"]["db"]
        .iter()
        .map(|i| i.host.as_str())
        .collect();
    assert_eq!(hosts, ["web-1"]);
    assert!(view.healthy, "{:?}", view.failing);
}

#[tokio::test]
async fn a_heartbeat_beaten_by_another_instance_counts_through_the_store() {
    let store: Arc<dyn FleetStore> = Arc::new(MemoryFleetStore::new());
    let declared = || Heartbeat::new("nightly_backup", Duration::from_secs(25 * 3600));
    let service = HealthChecks::builder()
        .without_registered_checks()
        .service("payments")
        .instance("web-1")
        .heartbeat(declared())
        .fleet(FleetConfig::new().shared_store(Arc::clone(&store)))
        .build()
        .expect("valid");
    let report = service.run().await;
    assert_eq!(
        report.components["nightly_backup"]
            .status_message
            .as_deref(),
        Some("no heartbeat yet")
    );

    // The backup job: another instance of the service (another process, on another host).
    let job = HealthChecks::builder()
        .without_registered_checks()
        .service("payments")
        .host("batch-1")
        .instance("cron")
        .heartbeat(declared())
        .fleet(FleetConfig::new().shared_store(Arc::clone(&store)))
        .build()
        .expect("valid");
    job.beat_with(
        "nightly_backup",
        healthcheck::Beat::ok()
            .message("412 GiB")
            .field("files", 1_204_332),
    )
    .expect("declared");
    assert!(job.flush_fleet(SECOND).await, "the beat reached the store");

    let report = service.run().await;
    let component = &report.components["nightly_backup"];
    assert!(component.healthy, "{component:?}");
    assert_eq!(component.status_message.as_deref(), Some("412 GiB"));
    assert_eq!(component.extra["files"], 1_204_332);
    assert_eq!(component.extra["beaten_by"], "batch-1 (cron)");

    job.beat_failed("nightly_backup", "disk full")
        .expect("declared");
    assert!(job.flush_fleet(SECOND).await);
    let report = service.run().await;
    let component = &report.components["nightly_backup"];
    assert!(!component.healthy);
    assert_eq!(component.status_message.as_deref(), Some("disk full"));
}

#[tokio::test]
async fn the_fleet_endpoint_answers_json_text_and_filters_by_the_rule() {
    let store: Arc<dyn FleetStore> = Arc::new(MemoryFleetStore::new());
    let up = Arc::new(AtomicBool::new(true));
    let web1 = instance(&store, "web-1", Arc::clone(&up), FleetConfig::new());
    let web2 = instance(
        &store,
        "web-2",
        Arc::new(AtomicBool::new(true)),
        FleetConfig::new(),
    );
    web2.run().await;
    assert!(web2.flush_fleet(SECOND).await);
    let handler = HttpOptions::new()
        .base_path("/health")
        .cache_ttl(Duration::ZERO)
        .build(web1.clone())
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();

    // A request runs web-1's checks, which publish; the fleet then holds both hosts.
    let ready = tokio::task::spawn_blocking(move || get(address, "/health/readyz"))
        .await
        .expect("no panic");
    assert_eq!(ready.status, 200);
    assert!(web1.flush_fleet(SECOND).await);
    let (json, text, unknown_format) = tokio::task::spawn_blocking(move || {
        (
            get(address, "/health/fleet"),
            get(address, "/health/fleet?format=text&group=db"),
            get(address, "/health/fleet?format=yaml"),
        )
    })
    .await
    .expect("no panic");
    assert_eq!(json.status, 200, "{}", json.body);
    let body = json.json();
    assert_eq!(body["healthy"], true);
    assert_eq!(body["rule"], "all");
    assert_eq!(
        body["services"]["payments"]["database"]["db"][1]["host"],
        "web-2"
    );
    assert_eq!(text.status, 200);
    assert!(
        text.body.contains("database at web-1 [db] -> OK "),
        "{}",
        text.body
    );
    assert!(!text.body.contains("cache at"), "{}", text.body);
    assert_eq!(unknown_format.status, 400);

    up.store(false, Ordering::SeqCst);
    let failing = tokio::task::spawn_blocking(move || {
        get(address, "/health/readyz");
        std::thread::sleep(Duration::from_millis(200));
        get(address, "/health/fleet?check=database")
    })
    .await
    .expect("no panic");
    assert_eq!(failing.status, 503, "{}", failing.body);
    assert_eq!(
        failing.json()["failing"][0],
        "payments/database [db]: 1 of 2 healthy"
    );
    let nobody = tokio::task::spawn_blocking(move || get(address, "/health/fleet?service=orders"))
        .await
        .expect("no panic");
    assert_eq!(nobody.status, 503);
    server.shutdown().await;
}

#[test]
fn a_malformed_store_variable_fails_the_build_naming_it_without_the_password() {
    if support::ran_in_child(
        "a_malformed_store_variable_fails_the_build_naming_it_without_the_password",
        &[(STORE_ENV, "mongodb://admin:hunter2@db:27017")],
    ) {
        return;
    }
    let error = HealthChecks::builder()
        .build()
        .expect_err("not a store we know");
    let text = error.to_string();
    assert!(matches!(error, Error::InvalidEnv { name, .. } if name == STORE_ENV));
    assert!(text.contains("HEALTHCHECK_STORE"), "{text}");
    assert!(text.contains("mongodb://admin:***@db:27017"), "{text}");
    assert!(text.contains("unknown store `mongodb`"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!format!("{error:?}").contains("hunter2"));
}

#[test]
fn the_memory_store_named_by_the_variable_is_shared_by_the_process() {
    if support::ran_in_child(
        "the_memory_store_named_by_the_variable_is_shared_by_the_process",
        &[(STORE_ENV, "memory:")],
    ) {
        return;
    }
    let build = |instance: &str| {
        HealthChecks::builder()
            .without_registered_checks()
            .service("worker")
            .instance(instance)
            .metrics(healthcheck::MetricsConfig::new().enabled(false))
            .check(Check::new("queue", || async { true }))
            .build()
            .expect("valid")
    };
    let (a, b) = (build("a"), build("b"));
    a.run_blocking().expect("ran");
    b.run_blocking().expect("ran");
    assert!(a.flush_fleet_blocking(SECOND).expect("no runtime here"));
    assert!(b.flush_fleet_blocking(SECOND).expect("no runtime here"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let view = runtime
        .block_on(a.fleet().read(&FleetFilter::new()))
        .expect("readable");
    assert_eq!(view.services["worker"]["queue"][""].len(), 2);
    let status = a.fleet_status().expect("publishes");
    assert!(
        status.connected && status.published >= 1 && status.failures == 0,
        "{status:?}"
    );
}

#[tokio::test]
async fn an_instance_that_nothing_runs_still_publishes_every_interval() {
    let store: Arc<dyn FleetStore> = Arc::new(MemoryFleetStore::new());
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let worker = HealthChecks::builder()
        .without_registered_checks()
        .service("consumer")
        .instance("worker-1")
        .metrics(healthcheck::MetricsConfig::new().enabled(false))
        .check(Check::new("queue", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { true }
        }))
        .fleet(
            FleetConfig::new()
                .shared_store(Arc::clone(&store))
                .publish_every(Duration::from_millis(100)),
        )
        .build()
        .expect("valid");
    // No request, no refresh, no call to run: the SDK runs and publishes on its own.
    tokio::time::sleep(Duration::from_millis(550)).await;
    let view = worker
        .fleet()
        .read(&FleetFilter::new())
        .await
        .expect("readable");
    assert!(view.healthy, "{:?}", view.failing);
    assert_eq!(
        view.services["consumer"]["queue"][""][0].instance,
        "worker-1"
    );
    let rounds = runs.load(Ordering::SeqCst);
    assert!(
        (3..=7).contains(&rounds),
        "{rounds} runs in 550 ms at one per 100 ms"
    );

    // A check that the application runs itself is not run again by the rounds.
    let busy = runs.load(Ordering::SeqCst);
    for _ in 0..10 {
        worker.run().await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let extra = runs.load(Ordering::SeqCst) - busy - 10;
    assert!(
        extra <= 2,
        "{extra} background runs while the application ran the check"
    );

    // Dropped: the rounds end.
    drop(worker);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let after = runs.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        after,
        "no round after the checks were dropped"
    );
}
