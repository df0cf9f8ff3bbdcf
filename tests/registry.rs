//! The service registry against a real `etcd` (one member, and a cluster of three): leases kept
//! alive past their time to live, the status following readiness, watches that see `Up`,
//! `Down(Unhealthy)`, `Down(ShuttingDown)`, `Down(Deregistered)` and — for a process killed
//! with SIGKILL — `Down(Expired)`, etcd killed and restarted under a registration and a watch,
//! a lease lost, garbage under the prefix, queries by type, host, region and status.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use etcd_client::{Client, GetOptions};
use healthcheck::registry::{
    DownReason, Instance, InstanceStatus, Registration, Registry, RegistryEvent, RegistryFilter,
    RegistryWatch,
};
use healthcheck::{Check, HealthChecks, Status};
use support::servers::{Server, etcd};

/// A process's checks: one readiness check whose result the test sets.
struct Process {
    health: HealthChecks,
    ready: Arc<AtomicBool>,
}

fn process(id: &str, service: &str, ready: bool) -> Process {
    let flag = Arc::new(AtomicBool::new(ready));
    let read = Arc::clone(&flag);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .service(service)
        .instance(id)
        .host("web-1")
        .label("region", "eu-west-1")
        .check(Check::new("database", move || {
            let ready = read.load(Ordering::SeqCst);
            async move {
                if ready {
                    Ok(())
                } else {
                    Err("connection refused")
                }
            }
        }))
        .build()
        .expect("the checks build");
    Process {
        health,
        ready: flag,
    }
}

fn registry(endpoints: &str, prefix: &str, ttl: Duration) -> Registry {
    Registry::etcd(endpoints)
        .prefix(prefix)
        .ttl(ttl)
        .refresh_every(Duration::from_millis(300))
        .build()
        .expect("the registry builds")
}

/// The next event about `id` within `timeout`.
async fn next_about(watch: &mut RegistryWatch, id: &str, timeout: Duration) -> RegistryEvent {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, watch.next()).await {
            Ok(Some(event)) if event.instance().id == id => return event,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the watch ended"),
            Err(_) => panic!("no event about {id} within {timeout:?}"),
        }
    }
}

/// No event about `id` for `quiet`.
async fn nothing_about(watch: &mut RegistryWatch, id: &str, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + quiet;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, watch.next()).await {
        assert!(event.instance().id != id, "unexpected event: {event:?}");
    }
}

async fn registered(registration: &Registration, status: InstanceStatus) {
    assert!(
        registration
            .wait_for(Some(status), Duration::from_secs(20))
            .await,
        "not registered {status}: {:?}",
        registration.state()
    );
}

async fn raw(server: &Server) -> Client {
    Client::connect([etcd::endpoint(server)], None)
        .await
        .expect("connect")
}

async fn keys_under(client: &mut Client, prefix: &str) -> Vec<(String, i64)> {
    let response = client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await
        .expect("a read");
    response
        .kvs()
        .iter()
        .map(|kv| (kv.key_str().expect("UTF-8").to_owned(), kv.lease()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stays_registered_past_its_time_to_live_while_the_process_lives() {
    // os-lively's own check: a TTL of 5 s, 6 s later the instance is still up, because its
    // lease is kept alive (os-lively never refreshed it, and every instance went away).
    let server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(5),
    );
    let p = process("i-live", "api", true);
    let registration = registry.register(Instance::of(&p.health).endpoint("http://10.0.0.7:8080"));
    registered(&registration, InstanceStatus::Up).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(registry.is_up("i-live").await.expect("a read"));
    let record = registry
        .get("i-live")
        .await
        .expect("a read")
        .expect("a record");
    assert_eq!(record.kind, "api");
    assert_eq!(record.host, "web-1");
    assert_eq!(record.region.as_deref(), Some("eu-west-1"));
    assert_eq!(record.endpoints, ["http://10.0.0.7:8080"]);
    assert_eq!(record.status, InstanceStatus::Up);
    assert!(record.started <= record.since);

    // The keys, all on one lease.
    let mut client = raw(&server).await;
    let keys = keys_under(&mut client, "/services/").await;
    let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "/services/by-region/eu-west-1/i-live",
            "/services/by-status/UP/i-live",
            "/services/by-type-host/api/web-1/i-live",
            "/services/by-uuid/i-live",
        ]
    );
    let lease = registration.state().lease.expect("a lease");
    assert!(keys.iter().all(|(_, l)| *l == lease), "{keys:?}");
    assert_eq!(registration.state().registrations, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_follows_readiness_down_up_down() {
    // os-lively's notify sequence, from a health change.
    let server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(3),
    );
    let mut watch = registry.watch(RegistryFilter::new());
    let p = process("i-seq", "api", false);
    let registration = registry.register(Instance::of(&p.health));
    match next_about(&mut watch, "i-seq", Duration::from_secs(10)).await {
        RegistryEvent::Down(record, DownReason::Unhealthy) => {
            assert_eq!(record.failing, ["database"]);
            assert_eq!(record.reason, Some(DownReason::Unhealthy));
        }
        other => panic!("expected Down(Unhealthy), got {other:?}"),
    }
    p.ready.store(true, Ordering::SeqCst);
    let _ = p.health.run().await;
    assert!(matches!(
        next_about(&mut watch, "i-seq", Duration::from_secs(2)).await,
        RegistryEvent::Up(record) if record.is_up() && record.failing.is_empty()
    ));
    p.ready.store(false, Ordering::SeqCst);
    let _ = p.health.run().await;
    assert!(matches!(
        next_about(&mut watch, "i-seq", Duration::from_secs(2)).await,
        RegistryEvent::Down(_, DownReason::Unhealthy)
    ));
    // The index follows: DOWN, not UP.
    let down = registry
        .list(&RegistryFilter::new().status(InstanceStatus::Down))
        .await
        .expect("a read");
    assert_eq!(down.len(), 1);
    assert!(
        registry
            .list(&RegistryFilter::new().status(InstanceStatus::Up))
            .await
            .expect("a read")
            .is_empty()
    );
    drop(registration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_check_turns_the_instance_down_only_at_its_failure_threshold() {
    let server = etcd::start();
    let registry = Registry::etcd(server.addr.to_string())
        .ttl(Duration::from_secs(3))
        // Long enough that only the test's runs count.
        .refresh_every(Duration::from_secs(60))
        .build()
        .expect("the registry builds");
    let up = Arc::new(AtomicBool::new(true));
    let read = Arc::clone(&up);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .service("api")
        .instance("i-flap")
        .check(
            Check::new("database", move || {
                let up = read.load(Ordering::SeqCst);
                async move { if up { Ok(()) } else { Err("refused") } }
            })
            .failure_threshold(3)
            .success_threshold(2),
        )
        .build()
        .expect("the checks build");
    let registration = registry.register(Instance::of(&health));
    registered(&registration, InstanceStatus::Up).await;
    let mut watch = registry.watch(RegistryFilter::new());
    assert!(matches!(
        next_about(&mut watch, "i-flap", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    up.store(false, Ordering::SeqCst);
    // Two failures in a row: reported degraded, still UP.
    for _ in 0..2 {
        let report = health.run().await;
        assert_eq!(report.components["database"].status, Status::Degraded);
    }
    nothing_about(&mut watch, "i-flap", Duration::from_millis(500)).await;
    // The third: DOWN.
    health.run().await;
    assert!(matches!(
        next_about(&mut watch, "i-flap", Duration::from_secs(2)).await,
        RegistryEvent::Down(_, DownReason::Unhealthy)
    ));
    // One pass is not enough to come back; the second is.
    up.store(true, Ordering::SeqCst);
    health.run().await;
    nothing_about(&mut watch, "i-flap", Duration::from_millis(500)).await;
    health.run().await;
    assert!(matches!(
        next_about(&mut watch, "i-flap", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    drop(registration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_and_back_within_one_refresh_interval_with_nothing_else_running_checks() {
    let server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(3),
    );
    let p = process("i-refresh", "api", true);
    let registration = registry.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    let mut watch = registry.watch(RegistryFilter::new().kind("api"));
    assert!(matches!(
        next_about(&mut watch, "i-refresh", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    // Nobody runs the checks: the registration does, every 300 ms.
    let flipped = Instant::now();
    p.ready.store(false, Ordering::SeqCst);
    assert!(matches!(
        next_about(&mut watch, "i-refresh", Duration::from_secs(2)).await,
        RegistryEvent::Down(_, DownReason::Unhealthy)
    ));
    // One refresh interval, and a little for the write and the watch on a busy machine.
    let within = Duration::from_millis(300 + 200);
    assert!(flipped.elapsed() < within, "{:?}", flipped.elapsed());
    let flipped = Instant::now();
    p.ready.store(true, Ordering::SeqCst);
    assert!(matches!(
        next_about(&mut watch, "i-refresh", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    assert!(flipped.elapsed() < within, "{:?}", flipped.elapsed());
    drop(registration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_is_seen_deregistered_at_once_and_the_keys_are_gone() {
    let server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(10),
    );
    let p = process("i-stop", "api", true);
    let registration = registry.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    let mut watch = registry.watch(RegistryFilter::new());
    assert!(matches!(
        next_about(&mut watch, "i-stop", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    let started = Instant::now();
    registration.deregister().await.expect("deregistered");
    assert!(matches!(
        next_about(&mut watch, "i-stop", Duration::from_secs(1)).await,
        RegistryEvent::Down(_, DownReason::Deregistered)
    ));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(100), "took {took:?}");
    // Gone at once (not after the 10 s time to live), and reported once.
    assert_eq!(registry.get("i-stop").await.expect("a read"), None);
    let mut client = raw(&server).await;
    assert!(keys_under(&mut client, "/services/").await.is_empty());
    nothing_about(&mut watch, "i-stop", Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_shutdown_turns_the_instance_down_at_once() {
    let server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(10),
    );
    let p = process("i-drain", "api", true);
    let registration = registry.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    let mut watch = registry.watch(RegistryFilter::new());
    let _ = next_about(&mut watch, "i-drain", Duration::from_secs(2)).await;
    let started = Instant::now();
    p.health.begin_shutdown();
    assert!(matches!(
        next_about(&mut watch, "i-drain", Duration::from_secs(1)).await,
        RegistryEvent::Down(record, DownReason::ShuttingDown) if !record.is_up()
    ));
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    // Healthy checks do not bring it back.
    let _ = p.health.run().await;
    nothing_about(&mut watch, "i-drain", Duration::from_millis(700)).await;
    drop(registration);
}

/// The child of [`a_process_killed_with_sigkill_is_seen_expired_within_its_ttl`]: registers,
/// says so, and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_child_process() {
    let Ok(endpoints) = std::env::var("REGISTRY_TEST_ETCD") else {
        return; // Only as a child.
    };
    let registry = registry(&endpoints, "/services", Duration::from_secs(2));
    let p = process("i-child", "worker", true);
    let registration = registry.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    drop(registration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_with_sigkill_is_seen_expired_within_its_ttl() {
    if std::env::var_os(support::CHILD).is_some() {
        return;
    }
    let server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(2),
    );
    let mut watch = registry.watch(RegistryFilter::new().kind("worker"));
    let addr = server.addr.to_string();
    let mut child = support::child_command(
        "registered_child_process",
        &[("REGISTRY_TEST_ETCD", addr.as_str())],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("the child starts");
    match next_about(&mut watch, "i-child", Duration::from_secs(20)).await {
        RegistryEvent::Up(record) => assert_eq!(record.kind, "worker"),
        other => panic!("expected Up, got {other:?}"),
    }
    // Alive past its time to live: still up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(registry.is_up("i-child").await.expect("a read"));
    child.kill().expect("SIGKILL");
    let killed = Instant::now();
    let _ = child.wait();
    match next_about(&mut watch, "i-child", Duration::from_secs(4)).await {
        RegistryEvent::Down(record, DownReason::Expired) => assert_eq!(record.id, "i-child"),
        other => panic!("expected Down(Expired), got {other:?}"),
    }
    let took = killed.elapsed();
    assert!(took <= Duration::from_secs(3), "seen after {took:?}");
    assert!(!registry.is_up("i-child").await.expect("a read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_killed_and_restarted_the_instance_comes_back_and_the_watch_resumes() {
    let mut server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(3),
    );
    let p = process("i-restart", "api", true);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .check(registry.check())
        .build()
        .expect("builds");
    let registration = registry.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    let mut watch = registry.watch(RegistryFilter::new());
    assert!(matches!(
        next_about(&mut watch, "i-restart", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    assert_eq!(
        health.run().await.components["registry"].status,
        Status::Healthy
    );

    server.kill();
    // While etcd is away: runs go on, and the outage shows, degraded.
    p.ready.store(false, Ordering::SeqCst);
    let degraded = async {
        loop {
            let report = health.run().await;
            if report.components["registry"].status == Status::Degraded {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let report = tokio::time::timeout(Duration::from_secs(10), degraded)
        .await
        .expect("the registry component turns degraded");
    let message = report.components["registry"]
        .status_message
        .clone()
        .unwrap_or_default();
    assert!(message.contains("i-restart is not registered"), "{message}");
    assert!(
        report.service_healthy,
        "an etcd outage is not the service being down"
    );

    server.restart();
    // Back, with the status it has now, seen once by the watch that lived through it.
    match next_about(&mut watch, "i-restart", Duration::from_secs(15)).await {
        RegistryEvent::Down(_, DownReason::Unhealthy) => {}
        other => panic!("expected Down(Unhealthy), got {other:?}"),
    }
    registered(&registration, InstanceStatus::Down).await;
    p.ready.store(true, Ordering::SeqCst);
    assert!(matches!(
        next_about(&mut watch, "i-restart", Duration::from_secs(3)).await,
        RegistryEvent::Up(_)
    ));
    nothing_about(&mut watch, "i-restart", Duration::from_millis(500)).await;
    assert!(registration.state().errors > 0);
    assert_eq!(
        health.run().await.components["registry"].status,
        Status::Healthy
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_at_start_it_registers_once_etcd_is_there() {
    let mut server = etcd::start();
    server.kill();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(3),
    );
    let p = process("i-late", "api", true);
    let registration = registry.register(Instance::of(&p.health));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let state = registration.state();
    assert!(!state.registered && state.errors > 0, "{state:?}");
    assert!(state.last_error.is_some());
    server.restart();
    registered(&registration, InstanceStatus::Up).await;
    assert!(registry.is_up("i-late").await.expect("a read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_is_granted_again_under_the_same_id() {
    let server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(2),
    );
    let p = process("i-lease", "api", true);
    let registration = registry.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    let first = registration.state().lease.expect("a lease");
    let mut client = raw(&server).await;
    client.lease_revoke(first).await.expect("revoked");
    let back = async {
        loop {
            let state = registration.state();
            if state.registered && state.lease.is_some_and(|lease| lease != first) {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let state = tokio::time::timeout(Duration::from_secs(5), back)
        .await
        .expect("registered again");
    assert_eq!(state.registrations, 2);
    assert!(registry.is_up("i-lease").await.expect("a read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_under_the_prefix_is_skipped() {
    let server = etcd::start();
    let registry = registry(&server.addr.to_string(), "/reg", Duration::from_secs(3));
    let mut client = raw(&server).await;
    client
        .put("/reg/by-uuid/junk", "not json", None)
        .await
        .expect("put");
    client
        .put("/reg/by-status/UP/junk", "junk", None)
        .await
        .expect("put");
    client
        .put("/reg/by-uuid/half", "{\"id\": 1}", None)
        .await
        .expect("put");
    let mut watch = registry.watch(RegistryFilter::new());
    let p = process("i-good", "api", true);
    let registration = registry.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    assert!(matches!(
        next_about(&mut watch, "i-good", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    client
        .put("/reg/by-uuid/later", "\u{0}garbage", None)
        .await
        .expect("put");
    let all = registry.list(&RegistryFilter::new()).await.expect("a read");
    assert_eq!(
        all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["i-good"]
    );
    let up = registry
        .list(&RegistryFilter::new().status(InstanceStatus::Up))
        .await
        .expect("a read");
    assert_eq!(up.len(), 1);
    assert!(
        registry.get("junk").await.is_err(),
        "a record that is not one is an error"
    );
    // The watch goes on past the garbage.
    p.ready.store(false, Ordering::SeqCst);
    let _ = p.health.run().await;
    assert!(matches!(
        next_about(&mut watch, "i-good", Duration::from_secs(2)).await,
        RegistryEvent::Down(_, DownReason::Unhealthy)
    ));
    drop(registration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_by_type_host_region_and_status_across_instances_of_one_process() {
    let server = etcd::start();
    let addr = server.addr.to_string();
    let registry = registry(&addr, "/services", Duration::from_secs(3));
    let api_1 = process("api-1", "api", true);
    let api_2 = process("api-2", "api", false);
    let worker = process("worker-1", "worker", true);
    let registrations = [
        registry.register(Instance::of(&api_1.health)),
        registry.register(Instance::of(&api_2.health).region("us-east-1")),
        registry.register(
            Instance::of(&worker.health)
                .kind("worker")
                .metadata("queue", "mail"),
        ),
    ];
    registered(&registrations[0], InstanceStatus::Up).await;
    registered(&registrations[1], InstanceStatus::Down).await;
    registered(&registrations[2], InstanceStatus::Up).await;
    let ids = |records: Vec<healthcheck::registry::InstanceRecord>| {
        records.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    let list = |filter: RegistryFilter| {
        let registry = registry.clone();
        async move { ids(registry.list(&filter).await.expect("a read")) }
    };
    assert_eq!(
        list(RegistryFilter::new()).await,
        ["api-1", "api-2", "worker-1"]
    );
    assert_eq!(
        list(RegistryFilter::new().kind("api")).await,
        ["api-1", "api-2"]
    );
    assert_eq!(
        list(RegistryFilter::new().kind("api").host("web-1")).await,
        ["api-1", "api-2"]
    );
    assert!(
        list(RegistryFilter::new().kind("api").host("web-2"))
            .await
            .is_empty()
    );
    assert_eq!(
        list(RegistryFilter::new().region("us-east-1")).await,
        ["api-2"]
    );
    assert_eq!(
        list(RegistryFilter::new().region("eu-west-1")).await,
        ["api-1", "worker-1"]
    );
    assert_eq!(
        list(RegistryFilter::new().status(InstanceStatus::Up)).await,
        ["api-1", "worker-1"]
    );
    assert_eq!(
        list(RegistryFilter::new().kind("api").status(InstanceStatus::Up)).await,
        ["api-1"]
    );
    let worker_record = registry
        .get("worker-1")
        .await
        .expect("a read")
        .expect("there");
    assert_eq!(worker_record.metadata["queue"], "mail");
    assert!(!registry.is_up("api-2").await.expect("a read"));
    assert!(!registry.is_up("nobody").await.expect("a read"));
    // A watch filtered on UP does not report an instance that was never up.
    let mut watch = registry.watch(RegistryFilter::new().status(InstanceStatus::Up));
    let first = next_about(&mut watch, "api-1", Duration::from_secs(2)).await;
    assert!(matches!(first, RegistryEvent::Up(_)));
    nothing_about(&mut watch, "api-2", Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_of_three_killed_changes_nothing() {
    let mut cluster = etcd::Cluster::start();
    let endpoints: Vec<String> = cluster
        .members
        .iter()
        .map(|member| member.addr.to_string())
        .collect();
    // A time to live longer than a leader election and a reconnection take on a loaded
    // machine (with 2 s, a busy CI run saw the lease lapse while the members elected a leader).
    let registry = registry(&endpoints.join(","), "/services", Duration::from_secs(4));
    let p = process("i-cluster", "api", true);
    let registration = registry.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    let mut watch = registry.watch(RegistryFilter::new());
    assert!(matches!(
        next_about(&mut watch, "i-cluster", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    let lease = registration.state().lease;
    cluster.kill(0);
    // Past two times to live: the keep-alive went on through the other members, on the same
    // lease, and watchers saw nothing.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(registry.is_up("i-cluster").await.expect("a read"));
    let state = registration.state();
    assert_eq!((state.lease, state.registrations), (lease, 1), "{state:?}");
    p.ready.store(false, Ordering::SeqCst);
    let _ = p.health.run().await;
    let event = next_about(&mut watch, "i-cluster", Duration::from_secs(8)).await;
    assert!(
        matches!(event, RegistryEvent::Down(_, DownReason::Unhealthy)),
        "{event:?}"
    );
    registered(&registration, InstanceStatus::Down).await;
}

#[test]
fn bad_settings_are_errors_that_say_what_was_wrong() {
    let short = Registry::etcd("127.0.0.1:2379")
        .ttl(Duration::from_secs(1))
        .build()
        .expect_err("a TTL under 2 s");
    assert!(short.to_string().contains("time to live"), "{short}");
    let prefix = Registry::etcd("127.0.0.1:2379")
        .prefix("services")
        .build()
        .expect_err("a relative prefix");
    assert!(prefix.to_string().contains("prefix"), "{prefix}");
    let scheme = Registry::etcd("redis://root:hunter2@127.0.0.1:6379")
        .build()
        .expect_err("not etcd");
    assert!(scheme.to_string().contains("etcd"), "{scheme}");
    assert!(!scheme.to_string().contains("hunter2"), "{scheme}");
    let built = Registry::etcd("etcd://root:hunter2@127.0.0.1:2379")
        .build()
        .expect("builds");
    assert!(!format!("{built:?}").contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_endpoint_lists_instances_with_details_hidden_without_the_token() {
    use healthcheck::http::server::Server as HttpServer;
    use healthcheck::http::{Details, HttpOptions};
    use support::http_client::send;

    let mut server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(3),
    );
    let p = process("i-http", "api", true);
    let registration = registry.register(Instance::of(&p.health).endpoint("http://10.0.0.9:80"));
    registered(&registration, InstanceStatus::Up).await;
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .details(Details::Token("t0ken".to_owned()))
        .registry(registry.clone())
        .build(p.health.clone())
        .expect("valid");
    let http = HttpServer::bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    let address = http.local_addr();
    let get = move |headers: &'static [(&'static str, &'static str)]| {
        tokio::task::spawn_blocking(move || send(address, "GET", "/registry", headers))
    };

    let hidden = get(&[]).await.expect("no panic");
    assert_eq!(hidden.status, 200, "{}", hidden.body);
    assert_eq!(
        hidden.json(),
        serde_json::json!({"instances": [{"id": "i-http", "type": "api", "status": "UP"}]})
    );
    let shown = get(&[("Authorization", "Bearer t0ken")])
        .await
        .expect("no panic");
    let instance = &shown.json()["instances"][0];
    assert_eq!(instance["endpoints"][0], "http://10.0.0.9:80");
    assert_eq!(instance["host"], "web-1");
    assert_eq!(instance["region"], "eu-west-1");

    // etcd away: 503 with a JSON error, the details still hidden.
    server.kill();
    let down = get(&[]).await.expect("no panic");
    assert_eq!(down.status, 503, "{}", down.body);
    assert_eq!(
        down.json()["error"],
        "the service registry could not be read"
    );
    drop(registration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_registration_deregisters_in_the_background_and_two_instances_are_apart() {
    let server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(10),
    );
    let kept = process("i-kept", "api", true);
    let dropped = process("i-dropped", "api", true);
    let kept_registration = registry.register(Instance::of(&kept.health));
    let dropped_registration = registry.register(Instance::of(&dropped.health));
    registered(&kept_registration, InstanceStatus::Up).await;
    registered(&dropped_registration, InstanceStatus::Up).await;
    let mut watch = registry.watch(RegistryFilter::new().status(InstanceStatus::Up));
    let _ = next_about(&mut watch, "i-dropped", Duration::from_secs(2)).await;
    drop(dropped_registration);
    assert!(matches!(
        next_about(&mut watch, "i-dropped", Duration::from_secs(2)).await,
        RegistryEvent::Down(_, DownReason::Deregistered)
    ));
    // Its lease revoked right after: gone, not after the 10 s time to live.
    let gone = async {
        while registry.get("i-dropped").await.expect("a read").is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(1), gone)
        .await
        .expect("gone within a second");
    assert!(registry.is_up("i-kept").await.expect("a read"));
    assert_eq!(kept_registration.state().registrations, 1);
}

const PASSWORD: &str = "s3cret-Registry-pw";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_authentication_on_it_registers_and_a_wrong_password_never_shows() {
    let server = etcd::start();
    etcd::require_password(&server, PASSWORD).await;

    let url = format!("etcd://root:{PASSWORD}@{}", server.addr);
    let good = registry(&url, "/services", Duration::from_secs(3));
    assert!(!format!("{good:?}").contains(PASSWORD));
    let p = process("i-auth", "api", true);
    let registration = good.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    assert!(good.is_up("i-auth").await.expect("a read"));
    let mut watch = good.watch(RegistryFilter::new());
    assert!(matches!(
        next_about(&mut watch, "i-auth", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));

    // The same etcd with a wrong password: not registered, saying why, the password nowhere.
    let wrong = "wr0ng-Secret-pw";
    let bad = Registry::etcd(server.addr.to_string())
        .user("root", wrong)
        .ttl(Duration::from_secs(3))
        .build()
        .expect("builds");
    let bad_health = HealthChecks::builder()
        .without_registered_checks()
        .check(bad.check())
        .build()
        .expect("builds");
    let q = process("i-bad", "api", true);
    let refused = bad.register(Instance::of(&q.health));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let state = refused.state();
    assert!(!state.registered && state.errors > 0, "{state:?}");
    let last_error = state.last_error.clone().expect("an error");
    assert!(!last_error.contains(wrong), "{last_error}");
    let report = bad_health.run().await;
    assert_eq!(report.components["registry"].status, Status::Degraded);
    assert!(!report.to_json().contains(wrong), "{}", report.to_json());
    let error = bad.get("i-auth").await.expect_err("refused");
    assert!(!error.to_string().contains(wrong), "{error}");
    assert!(!format!("{bad:?}{refused:?}").contains(wrong));
    assert!(!good.is_up("i-bad").await.expect("a read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_it_registers_with_the_authority_given_and_not_without_it() {
    let ca = support::http_server::TestCa::new();
    let ca_pem = ca.ca_pem.clone();
    let server = etcd::start_tls(&ca.server_cert_pem, &ca.server_key_pem);
    let registry = Registry::etcd(server.addr.to_string())
        .tls(&ca_pem, None)
        .ttl(Duration::from_secs(3))
        .refresh_every(Duration::from_millis(300))
        .build()
        .expect("builds");
    let p = process("i-tls", "api", true);
    let registration = registry.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    let mut watch = registry.watch(RegistryFilter::new());
    assert!(matches!(
        next_about(&mut watch, "i-tls", Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    p.ready.store(false, Ordering::SeqCst);
    assert!(matches!(
        next_about(&mut watch, "i-tls", Duration::from_secs(2)).await,
        RegistryEvent::Down(_, DownReason::Unhealthy)
    ));

    // Plain HTTP to a TLS-only etcd: never registered, the failure said.
    let plain = registry_plain(&server.addr.to_string());
    let q = process("i-plain", "api", true);
    let refused = plain.register(Instance::of(&q.health));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let state = refused.state();
    assert!(!state.registered && state.errors > 0, "{state:?}");
}

fn registry_plain(endpoints: &str) -> Registry {
    Registry::etcd(endpoints)
        .ttl(Duration::from_secs(3))
        .connect_timeout(Duration::from_millis(500))
        .build()
        .expect("builds")
}

/// An instance registered through a link that can be cut, watched by an observer that etcd
/// stays reachable for.
struct Linked {
    _server: Server,
    link: support::proxy::Cuttable,
    observer: Registry,
    watch: RegistryWatch,
    _process: Process,
    registration: Registration,
    /// The lease of the first registration.
    first: i64,
}

async fn registered_through_a_link(id: &str, ttl: Duration) -> Linked {
    let server = etcd::start();
    let link = support::proxy::Cuttable::start(server.addr).await;
    let through_link = registry(&link.addr.to_string(), "/services", ttl);
    let observer = registry(&server.addr.to_string(), "/services", ttl);
    let mut watch = observer.watch(RegistryFilter::new());
    let p = process(id, "api", true);
    let registration = through_link.register(Instance::of(&p.health));
    registered(&registration, InstanceStatus::Up).await;
    assert!(matches!(
        next_about(&mut watch, id, Duration::from_secs(2)).await,
        RegistryEvent::Up(_)
    ));
    let first = registration.state().lease.expect("a lease");
    Linked {
        _server: server,
        link,
        observer,
        watch,
        _process: p,
        registration,
        first,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_lost_while_cut_off_from_etcd_is_granted_again_under_the_same_id() {
    // etcd stays up; the process is cut off from it for longer than the time to live.
    // Every field bound: one left to `..` would be dropped here, its server or process with it.
    let Linked {
        _server,
        link,
        observer: _,
        mut watch,
        _process,
        registration,
        first,
    } = registered_through_a_link("i-cut", Duration::from_secs(2)).await;

    link.cut();
    // The lease runs out on etcd's side: the others see the instance expire.
    assert!(matches!(
        next_about(&mut watch, "i-cut", Duration::from_secs(4)).await,
        RegistryEvent::Down(_, DownReason::Expired)
    ));
    let state = registration.state();
    assert!(!state.registered, "{state:?}");

    link.restore();
    match next_about(&mut watch, "i-cut", Duration::from_secs(15)).await {
        RegistryEvent::Up(record) => assert_eq!(record.id, "i-cut"),
        other => panic!("expected Up, got {other:?}"),
    }
    registered(&registration, InstanceStatus::Up).await;
    let state = registration.state();
    assert_eq!(state.registrations, 2);
    assert_ne!(state.lease, Some(first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_for_less_than_the_time_to_live_keeps_the_lease() {
    // The lease lives in etcd, not in the connection: renewing it through a new connection
    // before it runs out keeps the instance registered as it was, and watchers see nothing.
    let Linked {
        _server,
        link,
        observer,
        mut watch,
        _process,
        registration,
        first,
    } = registered_through_a_link("i-blip", Duration::from_secs(3)).await;

    for _ in 0..2 {
        link.cut();
        tokio::time::sleep(Duration::from_millis(700)).await;
        link.restore();
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    // Two times to live later, the same lease, one registration, and nothing to report.
    nothing_about(&mut watch, "i-blip", Duration::from_secs(2)).await;
    let state = registration.state();
    assert!(state.registered, "{state:?}");
    assert_eq!(state.lease, Some(first), "{state:?}");
    assert_eq!(state.registrations, 1, "{state:?}");
    assert!(state.errors > 0, "the cuts were not noticed: {state:?}");
    assert!(observer.is_up("i-blip").await.expect("a read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_from_the_environment() {
    if support::ran_in_child(
        "the_registry_from_the_environment",
        &[(
            "HEALTHCHECK_REGISTRY",
            "etcd://root:hunter2@127.0.0.1:1,127.0.0.1:2",
        )],
    ) {
        return;
    }
    let registry = Registry::from_env()
        .expect("UTF-8")
        .expect("set")
        .build()
        .expect("builds");
    let shown = format!("{registry:?}");
    assert!(shown.contains("127.0.0.1:1,127.0.0.1:2"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(registry.prefix(), "/services");
    assert_eq!(registry.ttl(), Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_slashes_and_values_with_newlines_or_70_kb_read_back_as_written() {
    let server = etcd::start();
    let registry = registry(
        &server.addr.to_string(),
        "/services",
        Duration::from_secs(3),
    );
    let p = process("i/odd%id", "api", true);
    let long = "x".repeat(70 * 1024);
    let registration = registry.register(
        Instance::of(&p.health)
            .kind("team/api")
            .region("eu/west")
            .metadata("note", "line one\nline two \"quoted\"")
            .metadata("long", long.clone()),
    );
    registered(&registration, InstanceStatus::Up).await;
    let record = registry
        .get("i/odd%id")
        .await
        .expect("a read")
        .expect("there");
    assert_eq!(record.metadata["note"], "line one\nline two \"quoted\"");
    assert_eq!(record.metadata["long"], long);
    let by_kind = registry
        .list(&RegistryFilter::new().kind("team/api"))
        .await
        .expect("a read");
    assert_eq!(by_kind.len(), 1);
    assert_eq!(by_kind[0].id, "i/odd%id");
    let by_region = registry
        .list(&RegistryFilter::new().region("eu/west"))
        .await
        .expect("a read");
    assert_eq!(by_region.len(), 1);
    // The names are escaped, so that none reaches into another key.
    assert!(
        registry
            .list(&RegistryFilter::new().kind("team"))
            .await
            .expect("a read")
            .is_empty()
    );
    let mut client = raw(&server).await;
    let keys: Vec<String> = keys_under(&mut client, "/services/")
        .await
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert!(
        keys.contains(&"/services/by-uuid/i%2Fodd%25id".to_owned()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"/services/by-type-host/team%2Fapi/web-1/i%2Fodd%25id".to_owned()),
        "{keys:?}"
    );
}
