//! The Redis fleet store against a real `redis-server`: the contract, garbage under its keys, a
//! server that goes away and comes back, credentials that never show, one round trip per
//! publish.

mod support;

use std::time::{Duration, Instant};

use healthcheck::Status;
use healthcheck::fleet::{FleetStore, RedisStore};
use support::fleet_contract::{record, unique_service};
use support::servers::redis;

const PASSWORD: &str = "s3cret-Redis-pw";

/// A plain connection of the test's own, to write what the SDK would not.
async fn raw(url: &str) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(url)
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

#[tokio::test]
async fn the_redis_store_keeps_the_contract() {
    let server = redis::start(None);
    let store = RedisStore::new(&redis::url(&server, None)).expect("a store");
    support::fleet_contract::run(&store).await;
}

#[tokio::test]
async fn garbage_under_its_keys_is_skipped() {
    let server = redis::start(None);
    let url = redis::url(&server, None);
    let store = RedisStore::new(&url).expect("a store");
    let service = unique_service("garbage");
    let good = record(&service, "database", "db", "i-1", Status::Healthy);
    store
        .publish(std::slice::from_ref(&good), Duration::from_secs(60))
        .await
        .expect("publish");

    let mut raw = raw(&url).await;
    let results = format!("healthcheck:{service}:result");
    let _: () = ::redis::pipe()
        .set(format!("{results}:bad:g:i-1"), "not json")
        .set(
            format!("{results}:bad:g:i-2"),
            b"\xff\x00 binary".as_slice(),
        )
        .set(format!("{results}:bad:g:i-3"), r#"{"check": 1}"#)
        .hset(format!("{results}:bad:g:i-4"), "a", "hash, not a string")
        .set(format!("healthcheck:{service}:beat:nightly"), "[]")
        .query_async(&mut raw)
        .await
        .expect("write garbage");

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
async fn a_server_that_goes_away_fails_fast_and_the_store_recovers() {
    let mut server = redis::start(Some(PASSWORD));
    let store = RedisStore::new(&redis::url(&server, Some(PASSWORD))).expect("a store");
    let service = unique_service("restart");
    let before = record(&service, "database", "db", "i-1", Status::Healthy);
    store
        .publish(&[before], Duration::from_secs(60))
        .await
        .expect("publish while up");

    server.kill();
    let started = Instant::now();
    let error = store
        .publish(
            &[record(&service, "database", "db", "i-1", Status::Unhealthy)],
            Duration::from_secs(60),
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
        assert!(shown.contains(&server.addr.to_string()), "{shown}");
    }

    // Back, empty (no persistence): the same store object publishes and reads again.
    server.restart();
    let after = record(&service, "database", "db", "i-1", Status::Degraded);
    store
        .publish(std::slice::from_ref(&after), Duration::from_secs(60))
        .await
        .expect("the first publish after the restart");
    assert_eq!(store.read(Some(&service)).await.expect("read"), vec![after]);
}

#[tokio::test]
async fn a_wrong_password_fails_without_showing_it() {
    let server = redis::start(Some(PASSWORD));
    let wrong = "wr0ng-Pass-word";
    let store = RedisStore::new(&redis::url(&server, Some(wrong))).expect("a store");
    let started = Instant::now();
    let error = store.read(None).await.expect_err("a refused login");
    assert!(started.elapsed() < Duration::from_secs(6));
    let shown = format!("{error} {error:?} {store:?} {}", store.describe());
    assert!(!shown.contains(wrong), "{shown}");
    assert!(shown.contains("redis://:***@"), "{shown}");
}

#[tokio::test]
async fn publishing_a_hundred_results_is_one_round_trip() {
    let server = redis::start(None);
    let delay = Duration::from_millis(400);
    let proxy = support::proxy::delaying(server.addr, delay).await;
    let store = RedisStore::new(&format!("redis://{proxy}/0")).expect("a store");
    let service = unique_service("round-trips");
    let records: Vec<_> = (0..100)
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
    // The first call connects, which takes round trips of its own.
    store
        .publish(&records[..1], Duration::from_secs(60))
        .await
        .expect("connect");

    let started = Instant::now();
    store
        .publish(&records, Duration::from_secs(60))
        .await
        .expect("publish 100");
    let took = started.elapsed();
    assert!(
        took >= delay && took < delay * 2,
        "100 results took {took:?} over a link of {delay:?} each way"
    );
    assert_eq!(store.read(Some(&service)).await.expect("read").len(), 100);
}

#[test]
fn the_store_outlives_the_runtime_of_its_first_caller() {
    let server = redis::start(None);
    let store = RedisStore::new(&redis::url(&server, None)).expect("a store");
    support::fleet_contract::outlives_its_first_runtime(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_rides_out_a_redis_outage() {
    let mut server = redis::start(Some(PASSWORD));
    let url = redis::url(&server, Some(PASSWORD));
    support::fleet_e2e::survives_an_outage(&url, Some(PASSWORD), &mut server).await;
}
