//! The PostgreSQL fleet store against a real server: the contract, rows it did not write, a
//! server that dies and comes back, a wrong password, two stores on one database, one statement
//! per publish, and a caller's runtime that goes away.

mod support;

use std::time::{Duration, Instant};

use healthcheck::Status;
use healthcheck::fleet::{FleetStore, PostgresStore, StoreError};
use support::fleet_contract::{self, record, unique_service};
use support::servers::postgres::{PASSWORD, Postgres};

const TTL: Duration = Duration::from_secs(60);

fn store(url: &str) -> PostgresStore {
    PostgresStore::new(url).expect("a store (which does not connect yet)")
}

/// Asserts that `result` failed within a few seconds of `since` and without the password.
fn assert_quick_masked_error<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    since: Instant,
    what: &str,
) -> StoreError {
    let error = result.expect_err(what);
    let elapsed = since.elapsed();
    assert!(
        elapsed < Duration::from_secs(8),
        "{what}: the error took {elapsed:?}"
    );
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(
            !shown.contains(PASSWORD),
            "{what}: the password shows: {shown}"
        );
    }
    error
}

#[tokio::test]
async fn the_postgres_store_keeps_the_contract() {
    let server = Postgres::shared();
    fleet_contract::run(&store(&server.url())).await;
}

#[tokio::test]
async fn rows_that_are_not_records_are_skipped() {
    let server = Postgres::shared();
    let store = store(&server.url());
    let service = unique_service("pg-garbage");
    let good = record(&service, "database", "db", "i-1", Status::Healthy);
    store
        .publish(std::slice::from_ref(&good), TTL)
        .await
        .expect("publish");

    let client = server.client().await;
    let insert = "INSERT INTO healthcheck_results (service, check_name, grp, instance, host,
            labels, status, message, response_time, checked_at, critical, stale_after, fields,
            expires_at)
        VALUES ($1, $2, '', 'i-9', 'h', $3, $4, NULL, 0, now(), true, NULL, $5,
            now() + interval '1 minute')";
    for (check, labels, status, fields) in [
        ("bad-labels", "{not json", "healthy", "{}"),
        ("labels-not-strings", "{\"region\": 1}", "healthy", "{}"),
        ("bad-status", "{}", "splendid", "{}"),
        ("bad-fields", "{}", "healthy", "[1, 2"),
    ] {
        client
            .execute(insert, &[&service, &check, &labels, &status, &fields])
            .await
            .expect("insert a garbage row");
    }
    let beat_insert = "INSERT INTO healthcheck_beats (service, heartbeat, instance, host, at, ok,
            message, fields, expires_at)
        VALUES ($1, 'broken', 'i-9', 'h', now(), true, NULL, 'garbage',
            now() + interval '1 minute')";
    client
        .execute(beat_insert, &[&service])
        .await
        .expect("insert a garbage beat");

    assert_eq!(store.read(Some(&service)).await.expect("read"), vec![good]);
    assert!(!store.read(None).await.expect("read all").is_empty());
    assert_eq!(store.beats(&service).await.expect("beats"), vec![]);
}

#[tokio::test]
async fn a_server_that_dies_fails_calls_quickly_and_is_used_again_once_back() {
    let mut server = Postgres::start();
    let service = unique_service("pg-restart");
    let before = record(&service, "database", "db", "i-1", Status::Healthy);

    // Made while the server is down: no error, no connection.
    server.kill();
    let store = store(&server.url());
    let started = Instant::now();
    let result = store.publish(std::slice::from_ref(&before), TTL).await;
    let error = assert_quick_masked_error(result, started, "publish to a server that is down");
    assert!(error.store().contains(":***@"), "{error}");

    server.restart();
    store
        .publish(std::slice::from_ref(&before), TTL)
        .await
        .expect("publish once the server is up");

    // Its pooled connections die with the server.
    server.kill();
    let started = Instant::now();
    assert_quick_masked_error(
        store.read(Some(&service)).await,
        started,
        "read, server gone",
    );
    let started = Instant::now();
    let after = record(&service, "cache", "", "i-1", Status::Degraded);
    assert_quick_masked_error(
        store.publish(std::slice::from_ref(&after), TTL).await,
        started,
        "publish, server gone",
    );
    assert!(!server.is_up());

    // Back: the same store object works, with no new construction.
    server.restart();
    store
        .publish(std::slice::from_ref(&after), TTL)
        .await
        .expect("publish after the restart");
    let mut read = store
        .read(Some(&service))
        .await
        .expect("read after the restart");
    read.sort_by(|a, b| a.check.cmp(&b.check));
    assert_eq!(read, vec![after.clone(), before]);

    // Tables dropped under it (a restore, an operator) are made again by the next call.
    let client = server.client().await;
    client
        .batch_execute("DROP TABLE healthcheck_results; DROP TABLE healthcheck_beats")
        .await
        .expect("drop the tables");
    store
        .publish(std::slice::from_ref(&after), TTL)
        .await
        .expect("publish once the tables are gone");
    assert_eq!(store.read(Some(&service)).await.expect("read"), vec![after]);
}

#[tokio::test]
async fn a_wrong_password_is_an_error_that_does_not_show_it() {
    let server = Postgres::shared();
    let wrong = "wr0ng-Pa55word";
    let store = store(&server.url_with(wrong, ""));
    assert!(!format!("{store:?}").contains(wrong));
    let started = Instant::now();
    let error = store
        .read(None)
        .await
        .expect_err("a wrong password is refused");
    assert!(started.elapsed() < Duration::from_secs(8));
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains(wrong), "the password shows: {shown}");
    }
    assert!(error.to_string().contains("password"), "{error}");
}

#[tokio::test]
async fn two_stores_on_one_database_see_each_other() {
    let server = Postgres::shared();
    let (first, second) = (store(&server.url()), store(&server.url()));
    let service = unique_service("pg-two");
    let from_first = record(&service, "database", "db", "i-1", Status::Healthy);
    let from_second = record(&service, "database", "db", "i-2", Status::Unhealthy);
    // Both create the tables at once, as two processes starting together do.
    let (a, b) = tokio::join!(
        first.publish(std::slice::from_ref(&from_first), TTL),
        second.publish(std::slice::from_ref(&from_second), TTL)
    );
    a.expect("first publishes");
    b.expect("second publishes");
    for store in [&first, &second] {
        let mut read = store.read(Some(&service)).await.expect("read");
        read.sort_by(|a, b| a.instance.cmp(&b.instance));
        assert_eq!(read, vec![from_first.clone(), from_second.clone()]);
    }
}

#[tokio::test]
async fn a_hundred_records_are_one_statement() {
    let server = Postgres::shared();
    let app = format!("hc-count-{}", std::process::id());
    let store = store(&server.url_with(PASSWORD, &format!("application_name={app}")));
    let service = unique_service("pg-one-statement");
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
    // The first call creates the tables and prepares; the second is the one counted.
    store.publish(&records, TTL).await.expect("first publish");
    let statements = || statements_of(&server.log(), &app);
    let before = statements().len();
    store.publish(&records, TTL).await.expect("second publish");
    let deadline = Instant::now() + Duration::from_secs(5);
    while statements().len() == before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Anything else the publish sent would have been logged by now too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logged = statements().split_off(before);
    assert_eq!(logged.len(), 1, "one statement per publish: {logged:#?}");
    assert!(
        logged[0].contains("INSERT INTO healthcheck_results") && logged[0].contains("unnest("),
        "{logged:#?}"
    );
    assert_eq!(store.read(Some(&service)).await.expect("read").len(), 100);
}

/// The statements that the server logged for `app`: each `app|LOG:` entry with its
/// continuation lines (a statement's text spans several).
fn statements_of(log: &str, app: &str) -> Vec<String> {
    let mut entries: Vec<(bool, String)> = Vec::new();
    for line in log.lines() {
        let starts_entry = line.split_once('|').is_some_and(|(_, rest)| {
            rest.split_once(':').is_some_and(|(level, _)| {
                !level.is_empty() && level.chars().all(|c| c.is_ascii_uppercase())
            })
        });
        if starts_entry {
            let ours = line.starts_with(&format!("{app}|LOG:"));
            entries.push((ours, line.to_owned()));
        } else if let Some((_, entry)) = entries.last_mut() {
            entry.push('\n');
            entry.push_str(line);
        }
    }
    entries
        .into_iter()
        .filter_map(|(ours, entry)| ours.then_some(entry))
        .collect()
}

#[test]
fn the_store_outlives_the_runtime_that_first_used_it() {
    let server = Postgres::shared();
    let store = store(&server.url());
    let service = unique_service("pg-runtimes");
    let first = record(&service, "database", "db", "i-1", Status::Healthy);
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime
            .block_on(store.publish(std::slice::from_ref(&first), TTL))
            .expect("publish on the first runtime");
    } // The first runtime is gone, with whatever it spawned.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("another runtime");
    let second = record(&service, "cache", "", "i-1", Status::Healthy);
    runtime.block_on(async {
        store
            .publish(std::slice::from_ref(&second), TTL)
            .await
            .expect("publish on another runtime, the pooled connection reused");
        assert_eq!(store.read(Some(&service)).await.expect("read").len(), 2);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_rides_out_a_postgres_outage() {
    let mut server = Postgres::start();
    let url = server.url();
    support::fleet_e2e::survives_an_outage(&url, Some(PASSWORD), &mut server).await;
}
