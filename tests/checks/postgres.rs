//! `checks::postgres`: a real PostgreSQL (shared where a test neither stops it nor changes it),
//! healthy, down and back, hanging, with a wrong password, on the application's pool.

use std::time::{Duration, Instant};

use healthcheck::{Status, checks};

use crate::support::servers::postgres::{PASSWORD, Postgres, USER};
use crate::{build_error, health_of, run_one};

#[tokio::test]
async fn a_server_that_answers_is_healthy_with_its_version() {
    let server = Postgres::shared();
    let component = run_one(checks::postgres("db", server.url())).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    let version = component.extra["server_version"].as_str().unwrap();
    assert!(
        version.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "{version}"
    );
    let message = component.status_message.unwrap();
    assert!(message.contains("SELECT 1"), "{message}");
    assert!(message.contains(version), "{message}");
}

#[tokio::test]
async fn a_key_value_string_and_a_query_of_its_own_work_and_a_failing_query_says_why() {
    let server = Postgres::shared();
    let addr = server.url();
    let port = addr.rsplit_once(':').unwrap().1.split('/').next().unwrap();
    let conninfo =
        format!("host=127.0.0.1 port={port} user={USER} password={PASSWORD} dbname=postgres");
    let component =
        run_one(checks::postgres("db", &conninfo).query("SELECT count(*) FROM pg_stat_activity"))
            .await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert!(
        component
            .status_message
            .unwrap()
            .contains("pg_stat_activity")
    );

    let component =
        run_one(checks::postgres("db", &conninfo).query("SELECT * FROM no_such_table")).await;
    assert_eq!(component.status, Status::Unhealthy);
    let message = component.status_message.unwrap();
    assert!(message.contains("no_such_table"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");
    assert!(message.contains("password=***"), "{message}");
}

#[tokio::test]
async fn the_applications_pool_is_checked_through() {
    let server = Postgres::shared();
    let config: tokio_postgres::Config = server.url().parse().unwrap();
    let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(2)
        .build()
        .unwrap();
    let component = run_one(checks::postgres("db", &pool)).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert!(component.extra["server_version"].is_string());
    assert_eq!(
        pool.status().size,
        1,
        "the check used the application's pool"
    );
}

#[tokio::test]
async fn a_wrong_password_is_unhealthy_and_never_shows() {
    let server = Postgres::shared();
    let wrong = "wrong-Pg-pass-93";
    let check = checks::postgres("db", server.url_with(wrong, ""));
    assert!(!format!("{check:?}").contains(wrong));
    let component = run_one(check).await;
    assert_eq!(component.status, Status::Unhealthy);
    let message = component.status_message.clone().unwrap();
    assert!(
        message.contains("password authentication failed"),
        "{message}"
    );
    assert!(
        message.contains("***"),
        "the URL is shown masked: {message}"
    );
    let json = serde_json::to_string(&component).unwrap();
    assert!(!json.contains(wrong), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_down_is_unhealthy_and_healthy_again_once_back() {
    let mut server = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let health = health_of([checks::postgres("db", server.url()).into()]);
    let status = |report: &healthcheck::Report| report.components["db"].status;
    assert_eq!(status(&health.run().await), Status::Healthy);

    let mut server = tokio::task::spawn_blocking(move || {
        server.kill();
        server
    })
    .await
    .unwrap();
    let report = health.run().await;
    let component = &report.components["db"];
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    let message = component.status_message.clone().unwrap();
    assert!(message.contains("cannot connect"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");

    let server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap();
    let report = health.run().await;
    assert_eq!(status(&report), Status::Healthy, "{}", report.to_json());
    drop(server);
}

#[tokio::test]
async fn a_server_that_hangs_times_out_on_time() {
    let server = Postgres::shared();
    let real = server.url();
    let port: u16 = real
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let stalled = crate::support::proxy::delaying(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(3600),
    )
    .await;
    let url = format!("postgres://{USER}:{PASSWORD}@{stalled}/postgres");
    let started = Instant::now();
    let component = run_one(checks::postgres("db", url).timeout(Duration::from_millis(300))).await;
    let took = started.elapsed();
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        component.status_message.unwrap().contains("timed out"),
        "the timeout is the reason"
    );
}

#[test]
fn a_malformed_connection_string_fails_the_build_without_its_password() {
    for (conn, says) in [
        ("postgres://app:hunter2@db:port/app", "`port`"),
        ("host=db password=hunter2 port=abc", "invalid"),
        ("user=app password=hunter2", "no host"),
    ] {
        let message = build_error(checks::postgres("main db", conn));
        assert!(message.contains("main db"), "{message}");
        assert!(message.contains(says), "{conn}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    let message = build_error(checks::postgres("db", "host=db").query(" "));
    assert!(message.contains("query is empty"), "{message}");
}

#[test]
fn the_check_survives_the_runtime_that_first_ran_it() {
    let server = Postgres::shared();
    let health = health_of([checks::postgres("db", server.url()).into()]);
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = runtime.block_on(health.run());
        assert_eq!(
            report.components["db"].status,
            Status::Healthy,
            "{}",
            report.to_json()
        );
        drop(runtime);
    }
}
