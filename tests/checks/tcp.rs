//! `checks::tcp`: a listener, a closed port, a peer that never completes the handshake.

use std::time::{Duration, Instant};

use healthcheck::{Status, checks};

use crate::{build_error, run_one};

#[tokio::test]
async fn a_listening_port_is_healthy_with_its_address() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let component = run_one(checks::tcp("port", format!("localhost:{}", addr.port()))).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert_eq!(component.extra["address"], addr.to_string());
    assert!(component.extra["connect_ms"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn a_closed_port_is_unhealthy_and_says_why() {
    let port = crate::support::servers::free_port();
    let component = run_one(checks::tcp("port", format!("127.0.0.1:{port}"))).await;
    assert_eq!(component.status, Status::Unhealthy);
    let message = component.status_message.unwrap();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out_on_time() {
    // A listener with a backlog of one that nobody accepts from: once its queue is full, the
    // kernel drops further SYNs, so the next connect hangs.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let filler =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        filler.set_nonblocking(true).unwrap();
        let _ = filler.connect(&addr.into());
        fillers.push(filler);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let component =
        run_one(checks::tcp("port", addr.to_string()).timeout(Duration::from_millis(300))).await;
    let took = started.elapsed();
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        component.status_message.unwrap().contains("timed out"),
        "the timeout is the reason"
    );
}

#[test]
fn a_malformed_address_fails_the_build_naming_the_check() {
    for (addr, says) in [
        ("db", "port is missing"),
        ("db:0", "1..=65535"),
        ("::1:80", "brackets"),
    ] {
        let message = build_error(checks::tcp("db port", addr));
        assert!(message.contains("db port"), "{message}");
        assert!(message.contains(says), "{message}");
    }
}
