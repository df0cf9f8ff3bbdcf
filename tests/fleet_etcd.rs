//! The etcd fleet store against a real `etcd`: the contract, garbage under its keys, one
//! transaction per publish, leases that run out when their instance stops publishing, a server
//! that goes away and comes back, credentials that never show.

mod support;

use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, GetOptions};
use healthcheck::Status;
use healthcheck::fleet::{EtcdStore, FleetRecord, FleetStore};
use support::fleet_contract::{record, unique_service};
use support::servers::{Server, etcd};

const PASSWORD: &str = "s3cret-Etcd-pw";

fn store_url(server: &Server, user: Option<(&str, &str)>) -> String {
    match user {
        Some((name, password)) => format!("etcd://{name}:{password}@{}", server.addr),
        None => format!("etcd://{}", server.addr),
    }
}

async fn raw(server: &Server, user: Option<(&str, &str)>) -> Client {
    let options = user.map(|(name, password)| ConnectOptions::new().with_user(name, password));
    Client::connect([etcd::endpoint(server)], options)
        .await
        .expect("connect")
}

/// The store's current revision.
async fn revision(client: &mut Client) -> i64 {
    client
        .get("/revision-probe", None)
        .await
        .expect("get")
        .header()
        .expect("a header")
        .revision()
}

#[tokio::test]
async fn the_etcd_store_keeps_the_contract() {
    let server = etcd::start();
    let store = EtcdStore::new(&store_url(&server, None)).expect("a store");
    support::fleet_contract::run(&store).await;
}

#[tokio::test]
async fn garbage_under_its_keys_is_skipped() {
    let server = etcd::start();
    let store = EtcdStore::new(&store_url(&server, None)).expect("a store");
    let service = unique_service("garbage");
    let good = record(&service, "database", "db", "i-1", Status::Healthy);
    store
        .publish(std::slice::from_ref(&good), Duration::from_secs(60))
        .await
        .expect("publish");

    let mut raw = raw(&server, None).await;
    let results = format!("/healthcheck/{service}/results");
    raw.put(format!("{results}/bad/g/i-1"), "not json", None)
        .await
        .expect("put");
    raw.put(
        format!("{results}/bad/g/i-2"),
        b"\xff\x00 binary".to_vec(),
        None,
    )
    .await
    .expect("put");
    raw.put(format!("{results}/bad/g/i-3"), r#"{"check": 1}"#, None)
        .await
        .expect("put");
    raw.put(format!("/healthcheck/{service}/beats/nightly"), "[]", None)
        .await
        .expect("put");
    raw.put(format!("/healthcheck/{service}/elsewhere"), "?", None)
        .await
        .expect("put");

    assert_eq!(store.read(Some(&service)).await.expect("read"), vec![good]);
    assert!(
        store
            .read(None)
            .await
            .expect("read all")
            .iter()
            .any(|r| r.service == service)
    );
    assert_eq!(store.beats(&service).await.expect("beats"), vec![]);
}

#[tokio::test]
async fn a_publish_is_one_transaction() {
    let server = etcd::start();
    let store = EtcdStore::new(&store_url(&server, None)).expect("a store");
    let mut raw = raw(&server, None).await;
    let service = unique_service("transaction");
    let records: Vec<FleetRecord> = (0..100)
        .map(|i| {
            record(
                &service,
                &format!("check-{i:03}"),
                "g",
                "i-1",
                Status::Healthy,
            )
        })
        .collect();
    for _ in 0..3 {
        let before = revision(&mut raw).await;
        store
            .publish(&records, Duration::from_secs(60))
            .await
            .expect("publish 100");
        assert_eq!(
            revision(&mut raw).await,
            before + 1,
            "one revision per publish"
        );
    }
    let keys = raw
        .get(
            format!("/healthcheck/{service}/results/"),
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .expect("count");
    assert_eq!(keys.count(), 100);
}

#[tokio::test]
async fn an_instance_that_stops_publishing_is_forgotten_and_the_others_stay() {
    let server = etcd::start();
    let url = store_url(&server, None);
    let service = unique_service("leases");
    let ttl = Duration::from_secs(3);
    let departing = EtcdStore::new(&url).expect("a store");
    let staying = EtcdStore::new(&url).expect("another store");
    let gone = record(&service, "database", "db", "departing", Status::Healthy);
    let kept = record(&service, "database", "db", "staying", Status::Healthy);
    departing.publish(&[gone], ttl).await.expect("publish");
    drop(departing);

    // The staying instance publishes every second for more than twice its time to live: its
    // lease is renewed each time, and its result is there between publishes.
    let started = Instant::now();
    let mut departed_after = None;
    while started.elapsed() < ttl * 2 + Duration::from_secs(2) {
        staying
            .publish(std::slice::from_ref(&kept), ttl)
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_millis(900)).await;
        let read = staying.read(Some(&service)).await.expect("read");
        assert!(
            read.contains(&kept),
            "the publishing instance is gone: {read:?}"
        );
        if departed_after.is_none() && read.len() == 1 {
            departed_after = Some(started.elapsed());
        }
    }
    let departed_after = departed_after.expect("the departed instance is still there");
    assert!(
        departed_after >= ttl - Duration::from_millis(500),
        "gone after {departed_after:?}, before its time to live"
    );
}

#[tokio::test]
async fn a_lease_that_was_lost_is_granted_anew_on_the_next_publish() {
    let server = etcd::start();
    let store = EtcdStore::new(&store_url(&server, None)).expect("a store");
    let mut raw = raw(&server, None).await;
    let service = unique_service("lost-lease");
    let first = record(&service, "database", "db", "i-1", Status::Healthy);
    store
        .publish(&[first], Duration::from_secs(60))
        .await
        .expect("publish");
    // The lease goes (as when etcd was away longer than its time to live), and the keys on it.
    for lease in raw.leases().await.expect("leases").leases() {
        raw.lease_revoke(lease.id()).await.expect("revoke");
    }
    assert_eq!(store.read(Some(&service)).await.expect("read"), vec![]);

    let second = record(&service, "database", "db", "i-1", Status::Degraded);
    store
        .publish(std::slice::from_ref(&second), Duration::from_secs(60))
        .await
        .expect("publish on a new lease");
    assert_eq!(
        store.read(Some(&service)).await.expect("read"),
        vec![second]
    );
    assert_eq!(raw.leases().await.expect("leases").leases().len(), 1);
}

#[tokio::test]
async fn a_server_that_goes_away_fails_fast_and_the_store_recovers() {
    let mut server = etcd::start();
    etcd::require_password(&server, PASSWORD).await;
    let store = EtcdStore::new(&store_url(&server, Some(("root", PASSWORD)))).expect("a store");
    let service = unique_service("restart");
    let ttl = Duration::from_secs(2);
    store
        .publish(
            &[record(&service, "database", "db", "i-1", Status::Healthy)],
            ttl,
        )
        .await
        .expect("publish while up");

    server.kill();
    let started = Instant::now();
    let error = store
        .publish(
            &[record(&service, "database", "db", "i-1", Status::Unhealthy)],
            ttl,
        )
        .await
        .expect_err("publish while down");
    let read = store
        .read(Some(&service))
        .await
        .expect_err("read while down");
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "two calls took {:?}",
        started.elapsed()
    );
    for shown in [error.to_string(), format!("{error:?}"), read.to_string()] {
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(shown.contains("etcd://root:***@"), "{shown}");
    }

    // Away longer than the lease's time to live: the next publish needs a new lease (and,
    // the server having restarted, a new login token).
    std::thread::sleep(ttl + Duration::from_secs(1));
    server.restart();
    let after = record(&service, "database", "db", "i-1", Status::Degraded);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match store
            .publish(std::slice::from_ref(&after), Duration::from_secs(60))
            .await
        {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "not back after {attempts}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(store.read(Some(&service)).await.expect("read"), vec![after]);
}

#[tokio::test]
async fn a_wrong_password_fails_without_showing_it() {
    let server = etcd::start();
    etcd::require_password(&server, PASSWORD).await;
    let wrong = "wr0ng-Pass-word";
    let store = EtcdStore::new(&store_url(&server, Some(("root", wrong)))).expect("a store");
    let started = Instant::now();
    let error = store.read(None).await.expect_err("a refused login");
    assert!(started.elapsed() < Duration::from_secs(6));
    let shown = format!("{error} {error:?} {store:?} {}", store.describe());
    assert!(!shown.contains(wrong), "{shown}");
    assert!(shown.contains("etcd://root:***@"), "{shown}");
}

#[test]
fn the_store_outlives_the_runtime_of_its_first_caller() {
    let server = etcd::start();
    let store = EtcdStore::new(&store_url(&server, None)).expect("a store");
    support::fleet_contract::outlives_its_first_runtime(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_rides_out_an_etcd_outage() {
    let mut server = etcd::start();
    let url = store_url(&server, None);
    support::fleet_e2e::survives_an_outage(&url, None, &mut server).await;
}

#[tokio::test]
async fn a_fleet_larger_than_one_response_is_read_whole() {
    let server = etcd::start();
    let store = EtcdStore::new(&store_url(&server, None)).expect("a store");
    let service = unique_service("etcd-pages");
    // 1,200 records of 4 KB: more than one page, and more than gRPC's 4 MiB in one response.
    for instance in 0..12 {
        let records: Vec<FleetRecord> = (0..100)
            .map(|check| {
                let mut record = record(
                    &service,
                    &format!("check-{check:03}"),
                    "g",
                    &format!("i-{instance:02}"),
                    Status::Unhealthy,
                );
                record.message = Some("x".repeat(4096));
                record
            })
            .collect();
        store
            .publish(&records, Duration::from_secs(60))
            .await
            .expect("publish");
    }
    let read = store.read(Some(&service)).await.expect("read");
    assert_eq!(read.len(), 1200);
    let mut keys: Vec<(String, String)> = read
        .iter()
        .map(|r| (r.instance.clone(), r.check.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 1200, "every record once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_with_a_huge_message_still_publishes() {
    let server = etcd::start();
    let service = unique_service("etcd-huge");
    // A hundred checks that each fail with a whole error page: 7 MB in all, past etcd's
    // 1.5 MiB limit on a request, unless the published messages are bounded.
    let mut builder = healthcheck::HealthChecks::builder()
        .without_registered_checks()
        .service(&service)
        .metrics(healthcheck::MetricsConfig::new().enabled(false))
        .fleet(healthcheck::fleet::FleetConfig::new().store_url(store_url(&server, None)));
    for i in 0..100 {
        builder = builder.check(healthcheck::Check::new(format!("page_{i:03}"), || async {
            Err::<(), _>(format!(
                "502 Bad Gateway\n{}",
                "<p>upstream</p>".repeat(5000)
            ))
        }));
    }
    let health = builder.build().expect("valid");
    let report = health.run().await;
    let local = report.components["page_000"]
        .status_message
        .as_deref()
        .unwrap_or_default();
    assert!(
        local.len() > 70_000,
        "the local report keeps the whole message"
    );
    assert!(
        health.flush_fleet(Duration::from_secs(10)).await,
        "{:?}",
        health.fleet_status()
    );
    let view = health
        .fleet()
        .read(&healthcheck::fleet::FleetFilter::new())
        .await
        .expect("readable");
    let published = view.services[&service]["page_000"][""][0]
        .message
        .clone()
        .unwrap_or_default();
    assert!(
        published.starts_with("502 Bad Gateway\n<p>upstream</p>"),
        "{published:.80}"
    );
    assert!(published.ends_with(" bytes in all)"), "{published}");
    assert_eq!(view.services[&service].len(), 100);
}
