//! `checks::dns`: the system's resolver on `localhost`, and a real DNS server (hickory-server)
//! on a loopback UDP port serving a small zone, asked directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use healthcheck::{Status, checks};

use crate::support::dns_server::DnsServer;

use crate::{build_error, health_of, run_one};

fn addresses(component: &healthcheck::ComponentReport) -> Vec<String> {
    component.extra["addresses"]
        .as_array()
        .expect("an `addresses` array")
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn localhost_resolves_with_the_system_resolver() {
    let component = run_one(checks::dns("local name", "localhost")).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    let addresses = addresses(&component);
    assert!(
        addresses.iter().any(|a| a == "127.0.0.1" || a == "::1"),
        "{addresses:?}"
    );
    let mut sorted = addresses.clone();
    sorted.dedup();
    assert_eq!(sorted, addresses, "deduplicated");
    let message = component.status_message.unwrap();
    assert!(
        message.starts_with(&format!(
            "resolved localhost to {} address",
            addresses.len()
        )),
        "{message}"
    );
    assert!(component.extra.get("nameserver").is_none());
}

#[tokio::test]
async fn an_expected_address_missing_from_the_answer_is_unhealthy_naming_both() {
    let component = run_one(
        checks::dns("local name", "localhost")
            .expect("192.0.2.99")
            .expect("127.0.0.1"),
    )
    .await;
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    let message = component.status_message.clone().unwrap();
    assert!(message.starts_with("localhost resolved to ["), "{message}");
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(
        message.ends_with("expected [127.0.0.1, 192.0.2.99]; missing [192.0.2.99]"),
        "{message}"
    );
    assert!(addresses(&component).contains(&"127.0.0.1".to_owned()));
}

#[tokio::test]
async fn a_nameserver_asked_directly_answers_from_its_zone() {
    let server = DnsServer::start();
    let component = run_one(
        checks::dns("www", "www.test")
            .nameserver(server.addr.to_string())
            .expect("192.0.2.10")
            .expect("2001:db8::10"),
    )
    .await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert_eq!(
        addresses(&component),
        ["192.0.2.10", "192.0.2.11", "2001:db8::10"]
    );
    assert_eq!(component.extra["nameserver"], server.addr.to_string());
    assert_eq!(
        component.status_message.as_deref(),
        Some("resolved www.test to 3 addresses")
    );

    // A name with an A record and no AAAA is healthy on the A record alone.
    let component =
        run_one(checks::dns("v4", "v4.test.").nameserver(server.addr.to_string())).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert_eq!(addresses(&component), ["192.0.2.20"]);
    assert_eq!(
        component.status_message.as_deref(),
        Some("resolved v4.test. to 1 address")
    );
}

#[tokio::test]
async fn a_name_the_nameserver_does_not_have_is_unhealthy_with_nxdomain() {
    let server = DnsServer::start();
    let component =
        run_one(checks::dns("missing", "missing.test").nameserver(server.addr.to_string())).await;
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    assert_eq!(
        component.status_message.as_deref(),
        Some("cannot resolve missing.test: no such name (NXDOMAIN)")
    );
    assert!(component.extra.get("addresses").is_none());
    assert_eq!(component.extra["nameserver"], server.addr.to_string());
}

#[tokio::test]
async fn the_nameserver_answer_without_an_expected_address_is_unhealthy() {
    let server = DnsServer::start();
    let component = run_one(
        checks::dns("www", "www.test")
            .nameserver(server.addr.to_string())
            .expect("192.0.2.12"),
    )
    .await;
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    assert_eq!(
        component.status_message.as_deref(),
        Some(
            "www.test resolved to [192.0.2.10, 192.0.2.11, 2001:db8::10], \
             expected [192.0.2.12]; missing [192.0.2.12]"
        )
    );
}

#[tokio::test]
async fn a_nameserver_that_never_answers_times_out_on_time() {
    // Reads every query and drops it.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let queries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&queries);
    let sink = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while socket.recv_from(&mut buf).await.is_ok() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let started = Instant::now();
    let component = run_one(
        checks::dns("www", "www.test")
            .nameserver(addr.to_string())
            .timeout(Duration::from_millis(300)),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let message = component.status_message.unwrap();
    assert!(message.contains("timed out"), "{message}");
    assert!(
        queries.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the silent server was asked"
    );
    sink.abort();
}

#[test]
fn a_malformed_name_or_address_fails_the_build_naming_the_check() {
    for (check, says) in [
        (checks::dns("db name", ""), "name is empty"),
        (checks::dns("db name", "db internal"), "letters, digits"),
        (checks::dns("db name", "db..internal"), "empty label"),
        (checks::dns("db name", "10.0.0.1"), "nothing to resolve"),
        (
            checks::dns("db name", "db.internal").nameserver("dns.internal"),
            "invalid nameserver address",
        ),
        (
            checks::dns("db name", "db.internal").nameserver("10.0.0.2:0"),
            "1..=65535",
        ),
        (
            checks::dns("db name", "db.internal").expect("10.0.0"),
            "not an IP address",
        ),
    ] {
        let message = build_error(check);
        assert!(message.contains("db name"), "{message}");
        assert!(message.contains(says), "{message}");
    }
}

#[test]
fn the_check_survives_the_runtime_that_first_ran_it() {
    let server = DnsServer::start();
    let health = health_of([
        checks::dns("system", "localhost").into(),
        checks::dns("direct", "www.test")
            .nameserver(server.addr.to_string())
            .into(),
    ]);
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    };
    let first = runtime();
    let report = first.block_on(health.run());
    assert!(report.service_healthy, "{}", report.to_json());
    drop(first);
    let second = runtime();
    let report = second.block_on(health.run());
    assert!(report.service_healthy, "{}", report.to_json());
    assert_eq!(
        addresses(&report.components["direct"]),
        ["192.0.2.10", "192.0.2.11", "2001:db8::10"]
    );
}
