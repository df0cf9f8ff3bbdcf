//! `POST /events` over real HTTP (the standalone server, axum, actix-web and the tower service)
//! and UDP on the standalone server's port: an event reaches the application's handler and is
//! answered in the daemon library's shape; 413, 400, 404, 405, 401 and 503 with `Retry-After`.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use healthcheck::events::{Event, EventSource, Events};
use healthcheck::http::server::Server;
use healthcheck::http::{Details, HealthHandler, HttpOptions};
use healthcheck::{HealthChecks, MetricsConfig};
use support::http_client::{Response, send, send_body};
use tokio::sync::{Semaphore, mpsc};

fn health() -> HealthChecks {
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::new().enabled(false))
        .build()
        .expect("valid")
}

/// An intake whose handler forwards each event, each after taking a permit of `gate`.
fn intake(capacity: usize, gate: Arc<Semaphore>) -> (Events, mpsc::UnboundedReceiver<Event>) {
    let (sent, received) = mpsc::unbounded_channel();
    let events = Events::builder()
        .capacity(capacity)
        .max_body(1024)
        .retry_after(Duration::from_secs(3))
        .handler(move |event: Event| {
            let sent = sent.clone();
            let gate = Arc::clone(&gate);
            async move {
                gate.acquire().await.map_err(|e| e.to_string())?.forget();
                sent.send(event).map_err(|e| e.to_string())
            }
        })
        .build()
        .expect("valid intake");
    (events, received)
}

async fn post(
    address: SocketAddr,
    headers: &[(&str, &str)],
    body: &[u8],
    chunked: bool,
) -> Response {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let body = body.to_vec();
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        send_body(address, "POST", "/events", &headers, &body, chunked)
    })
    .await
    .expect("the request ran")
}

/// Every answer of the endpoint, against a server at `address` whose intake has room for two
/// events and a handler held by `gate`.
async fn exercise(
    address: SocketAddr,
    events: &Events,
    gate: &Semaphore,
    received: &mut mpsc::UnboundedReceiver<Event>,
) {
    let json = [("Content-Type", "application/json")];
    let ok = post(
        address,
        &json,
        br#"{"kind":"deploy","version":"1.4.2"}"#,
        false,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.json(),
        serde_json::json!({"result": true, "message": "Event received"})
    );
    gate.add_permits(1);
    let event = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("handled in time")
        .expect("an event");
    assert_eq!(event.body["version"], "1.4.2");
    assert_eq!(event.source, EventSource::Http);

    // Not JSON: 400 with the parse error.
    let bad = post(address, &json, b"{\"kind\": deploy}", false).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["result"], false);
    let message = bad.json()["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    assert!(message.contains("line 1 column"), "{message}");
    let empty = post(address, &json, b"", false).await;
    assert_eq!(empty.status, 400, "{}", empty.body);

    // Too large: with a length, and streamed without one.
    let large = format!("{{\"pad\":\"{}\"}}", "x".repeat(2000));
    for chunked in [false, true] {
        let response = post(address, &json, large.as_bytes(), chunked).await;
        assert_eq!(response.status, 413, "chunked {chunked}: {}", response.body);
        assert!(response.body.contains("1024 bytes"), "{}", response.body);
    }
    let newline = post(address, &json, b"{\"text\":\"a\\nb\"}\n", true).await;
    assert_eq!(newline.status, 200, "{}", newline.body);
    // The handler has taken it, and waits at the gate: the queue is empty.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.stats().queued > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the handler never took the event"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The handler is held: the queue takes two more, the next is refused with Retry-After.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let response = post(address, &json, format!("{{\"n\":{i}}}").as_bytes(), false).await;
        if response.status == 503 {
            assert_eq!(response.header("retry-after"), Some("3"));
            assert_eq!(response.json()["result"], false);
        }
        statuses.push(response.status);
    }
    // The handler holds one event, two wait in the queue, the rest are refused.
    assert_eq!(statuses, [200, 200, 503, 503]);

    // Other methods: 405 with Allow.
    let get = tokio::task::spawn_blocking(move || send(address, "GET", "/events", &[]))
        .await
        .expect("ran");
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST"));

    // Let everything through: all that was accepted is handled.
    gate.add_permits(100);
    let accepted = 1 + statuses.iter().filter(|s| **s == 200).count();
    for _ in 0..accepted {
        tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("handled in time")
            .expect("an event");
    }
}

fn handler_with(events: Events) -> HealthHandler {
    HttpOptions::new()
        .events(events)
        .build(health())
        .expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standalone_server_takes_events_over_http_and_udp() {
    let gate = Arc::new(Semaphore::new(0));
    let (events, mut received) = intake(2, Arc::clone(&gate));
    let server = Server::bind("127.0.0.1:0", handler_with(events.clone()))
        .await
        .expect("bind");
    exercise(server.local_addr(), &events, &gate, &mut received).await;
    let stats = events.stats();
    assert!(stats.rejected_full >= 1, "{stats:?}");
    assert_eq!(stats.too_large, 2, "{stats:?}");
    assert_eq!(stats.malformed, 2, "{stats:?}");

    // UDP on the same port, into the same queue.
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    client
        .send_to(br#"{"kind":"udp"}"#, server.local_addr())
        .await
        .expect("send");
    client
        .send_to(b"not json", server.local_addr())
        .await
        .expect("send");
    let event = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("handled in time")
        .expect("an event");
    assert_eq!(event.body["kind"], "udp");
    assert_eq!(
        event.source,
        EventSource::Udp(client.local_addr().expect("an address"))
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while events.stats().malformed < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(events.stats().malformed, 3);

    // The UDP port is given back on shutdown.
    let address = server.local_addr();
    server.shutdown().await;
    std::net::UdpSocket::bind(address).expect("the UDP port is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_takes_events() {
    let gate = Arc::new(Semaphore::new(0));
    let (events, mut received) = intake(2, Arc::clone(&gate));
    let app: axum::Router = healthcheck::http::axum::router(handler_with(events.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });
    exercise(address, &events, &gate, &mut received).await;
    serving.abort();
}

#[test]
fn actix_web_takes_events() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let gate = Arc::new(Semaphore::new(0));
    let (events, mut received) = runtime.block_on(async { intake(2, Arc::clone(&gate)) });
    let handler = handler_with(events.clone());
    let (started, server) = std::sync::mpsc::channel();
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address");
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .configure(healthcheck::http::actix::configure(handler.clone()))
            })
            .workers(1)
            .bind(address)
            .expect("bind")
            .run();
            started.send(server.handle()).expect("started");
            server.await
        })
    });
    let server = server.recv().expect("the server started");
    runtime.block_on(exercise(address, &events, &gate, &mut received));
    actix_web::rt::System::new().block_on(server.stop(true));
}

#[tokio::test]
async fn the_tower_service_reads_only_the_events_body() {
    use tower::ServiceExt;
    let gate = Arc::new(Semaphore::new(10));
    let (events, mut received) = intake(2, gate);
    let service = healthcheck::http::tower::HealthService::new(handler_with(events));
    let request = http::Request::post("/events")
        .body(String::from(r#"{"via":"tower"}"#))
        .expect("request");
    let response = service.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
    let event = received.recv().await.expect("an event");
    assert_eq!(event.body["via"], "tower");
    let request = http::Request::post("/events")
        .body(String::from("x").repeat(1025))
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_handler_the_path_is_not_found_and_a_token_guards_it() {
    let server = Server::bind(
        "127.0.0.1:0",
        HttpOptions::new().build(health()).expect("valid"),
    )
    .await
    .expect("bind");
    let none = post(server.local_addr(), &[], b"{}", false).await;
    assert_eq!(none.status, 404, "{}", none.body);
    server.shutdown().await;

    let gate = Arc::new(Semaphore::new(10));
    let (events, mut received) = intake(2, gate);
    let handler = HttpOptions::new()
        .details(Details::Token("s3cret".into()))
        .events(events.clone())
        .build(health())
        .expect("valid");
    let server = Server::builder()
        .udp_events(false)
        .bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    let refused = post(server.local_addr(), &[], b"{}", false).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    let taken = post(
        server.local_addr(),
        &[("Authorization", "Bearer s3cret")],
        br#"{"ok":1}"#,
        false,
    )
    .await;
    assert_eq!(taken.status, 200, "{}", taken.body);
    assert_eq!(received.recv().await.expect("an event").body["ok"], 1);
    // Without UDP events, the UDP port stays free.
    std::net::UdpSocket::bind(server.local_addr()).expect("no UDP socket on the port");
    assert_eq!(events.stats().received, 1);
    server.shutdown().await;
}
