//! Event intake: JSON events submitted (as `POST <base>/events` does) and read from real UDP
//! sockets reach the application's handler with their body and source; what is malformed, too
//! large or finds the queue full is refused and counted; a failing or panicking handler is
//! counted and the intake goes on; a flood of datagrams costs no more than the queue's bound and
//! every datagram of it is accounted for; closing drains the queue for a grace and says what was
//! left.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use healthcheck::Error;
use healthcheck::events::{Event, EventSource, Events, EventsBuilder, Rejected};
use serde_json::json;
use tokio::sync::{mpsc, watch};

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A handler that sends each event to the test.
fn forwarding(builder: EventsBuilder) -> (Events, mpsc::UnboundedReceiver<Event>) {
    let (seen, events) = mpsc::unbounded_channel();
    let intake = builder
        .handler(move |event| {
            let seen = seen.clone();
            async move { seen.send(event).map_err(|_| "the test has gone") }
        })
        .build()
        .expect("the intake builds");
    (intake, events)
}

async fn next(events: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("an event within 5 s")
        .expect("the handler is there")
}

/// A handler held on a gate until the test opens it, counting the calls that started.
struct Gated {
    open: watch::Sender<bool>,
    started: Arc<AtomicU64>,
}

impl Gated {
    fn build(builder: EventsBuilder) -> (Events, Self) {
        let (open, gate) = watch::channel(false);
        let started = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&started);
        let events = builder
            .handler(move |_event| {
                let mut gate = gate.clone();
                counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    gate.wait_for(|open| *open)
                        .await
                        .map(|_| ())
                        .map_err(|_| "the gate has gone")
                }
            })
            .build()
            .expect("the intake builds");
        (events, Self { open, started })
    }

    fn started(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }

    fn open(&self) {
        self.open.send_replace(true);
    }
}

#[tokio::test]
async fn a_json_event_reaches_the_handler_with_its_body_and_source() {
    let (intake, mut seen) = forwarding(Events::builder());
    intake
        .submit(
            br#"{"kind": "deploy", "version": "1.4.2"}"#,
            EventSource::Http,
        )
        .expect("queued");
    intake
        .submit(b" [1, 2, 3]\n", EventSource::Other)
        .expect("queued");

    let first = next(&mut seen).await;
    assert_eq!(first.body, json!({"kind": "deploy", "version": "1.4.2"}));
    assert_eq!(first.source, EventSource::Http);
    assert!(first.received.elapsed().expect("in the past") < Duration::from_secs(5));
    let second = next(&mut seen).await;
    assert_eq!(second.body, json!([1, 2, 3]));
    assert_eq!(second.source, EventSource::Other);

    wait_for("both handled", Duration::from_secs(5), || {
        intake.stats().handled == 2
    })
    .await;
    let stats = intake.stats();
    assert_eq!((stats.received, stats.failed, stats.queued), (2, 0, 0));
    assert_eq!(intake.max_body(), 64 * 1024);
}

#[tokio::test]
async fn what_is_not_one_json_document_is_malformed_with_serdes_message() {
    let (intake, _seen) = forwarding(Events::builder());
    for body in [&b"{\"kind\": "[..], b"", b"{} {}", b"deploy", b"\xff\xfe"] {
        let serde = serde_json::from_slice::<serde_json::Value>(body)
            .expect_err("not JSON")
            .to_string();
        match intake.submit(body, EventSource::Http) {
            Err(rejected @ Rejected::Malformed(_)) => {
                assert_eq!(rejected.status(), http::StatusCode::BAD_REQUEST);
                assert_eq!(
                    rejected.to_string(),
                    format!("the body must be one JSON document: {serde}")
                );
                let Rejected::Malformed(message) = rejected else {
                    unreachable!()
                };
                assert_eq!(message, serde);
            }
            other => panic!("{body:?}: {other:?}"),
        }
    }
    assert!(matches!(
        intake.submit(b"", EventSource::Http),
        Err(Rejected::Malformed(m)) if m == "EOF while parsing a value at line 1 column 0"
    ));
    let stats = intake.stats();
    assert_eq!((stats.malformed, stats.received), (6, 0));
}

#[tokio::test]
async fn a_body_beyond_max_body_is_too_large() {
    let (intake, mut seen) = forwarding(Events::builder().max_body(16));
    assert_eq!(intake.max_body(), 16);
    let rejected = intake
        .submit(br#"{"kind":"deploy"}"#, EventSource::Http)
        .expect_err("17 bytes");
    assert!(
        matches!(
            rejected,
            Rejected::TooLarge {
                size: 17,
                limit: 16
            }
        ),
        "{rejected:?}"
    );
    assert_eq!(rejected.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    // Too large is told before malformed.
    assert!(matches!(
        intake.submit(&[b'x'; 100], EventSource::Http),
        Err(Rejected::TooLarge { size: 100, .. })
    ));
    intake
        .submit(br#"{"kind":"dep"}"#, EventSource::Http)
        .expect("16 bytes fit");
    assert_eq!(next(&mut seen).await.body["kind"], "dep");
    let stats = intake.stats();
    assert_eq!(
        (stats.too_large, stats.malformed, stats.received),
        (2, 0, 1)
    );
}

#[tokio::test]
async fn a_full_queue_refuses_with_retry_after_and_close_says_what_was_left() {
    let (intake, gate) = Gated::build(
        Events::builder()
            .capacity(4)
            .retry_after(Duration::from_millis(1500)),
    );
    intake
        .submit(br#"{"n": 0}"#, EventSource::Http)
        .expect("queued");
    wait_for(
        "the handler holds the first",
        Duration::from_secs(5),
        || gate.started() == 1,
    )
    .await;
    for n in 1..=4 {
        intake
            .submit(format!(r#"{{"n": {n}}}"#).as_bytes(), EventSource::Http)
            .expect("room in the queue");
    }
    let rejected = intake
        .submit(br#"{"n": 5}"#, EventSource::Http)
        .expect_err("the queue is full");
    assert!(
        matches!(
            rejected,
            Rejected::Full {
                capacity: 4,
                retry_after
            } if retry_after == Duration::from_secs(2)
        ),
        "{rejected:?}"
    );
    assert_eq!(rejected.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(2)));
    // Malformed or not, a full queue refuses before parsing.
    assert!(matches!(
        intake.submit(b"nope", EventSource::Http),
        Err(Rejected::Full { .. })
    ));
    let stats = intake.stats();
    assert_eq!(
        (
            stats.received,
            stats.queued,
            stats.rejected_full,
            stats.handled
        ),
        (5, 4, 2, 0)
    );

    // The handler stays blocked: the four queued and the one it holds are left.
    let started = Instant::now();
    let left = intake.close(Duration::from_millis(200)).await;
    assert_eq!(left, 5);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(
        intake.submit(br#"{"n": 6}"#, EventSource::Http),
        Err(Rejected::Closed)
    ));
    assert_eq!(
        Rejected::Closed.status(),
        http::StatusCode::SERVICE_UNAVAILABLE
    );
    // Again: the same answer, at once.
    assert_eq!(intake.close(Duration::from_secs(60)).await, 5);
    assert_eq!(gate.started(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_lets_the_handler_finish_the_queue_within_its_grace() {
    let (intake, gate) = Gated::build(Events::builder().capacity(10));
    for n in 0..10 {
        intake
            .submit(json!({ "n": n }).to_string().as_bytes(), EventSource::Http)
            .expect("queued");
    }
    let opener = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        gate.open();
        gate
    });
    assert_eq!(intake.close(Duration::from_secs(10)).await, 0);
    let stats = intake.stats();
    assert_eq!((stats.received, stats.handled, stats.queued), (10, 10, 0));
    assert_eq!(opener.await.expect("opened").started(), 10);
}

#[tokio::test]
async fn a_failing_or_panicking_handler_is_counted_and_the_intake_goes_on() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&seen);
    let intake = Events::builder()
        .handler(move |event: Event| {
            let kept = Arc::clone(&kept);
            async move {
                match event.body["do"].as_str() {
                    Some("fail") => Err("the store refused:\nread-only".to_owned()),
                    Some("panic") => panic!("a bug in the handler"),
                    _ => {
                        kept.lock().expect("not poisoned").push(event.body);
                        Ok(())
                    }
                }
            }
        })
        .build()
        .expect("the intake builds");
    for body in [
        json!({"do": "fail"}),
        json!({"do": "panic"}),
        json!({"do": "store", "n": 1}),
        json!({"do": "panic"}),
        json!({"do": "store", "n": 2}),
    ] {
        intake
            .submit(body.to_string().as_bytes(), EventSource::Http)
            .expect("queued");
    }
    wait_for("all five done", Duration::from_secs(5), || {
        let stats = intake.stats();
        stats.handled + stats.failed == 5
    })
    .await;
    let stats = intake.stats();
    assert_eq!((stats.handled, stats.failed), (2, 3));
    let stored: Vec<_> = seen
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|body| body["n"].clone())
        .collect();
    assert_eq!(stored, [json!(1), json!(2)]);
    assert_eq!(intake.close(Duration::from_secs(1)).await, 0);
}

#[tokio::test]
async fn datagrams_are_counted_and_the_good_ones_handled_with_their_peer() {
    let (intake, mut seen) = forwarding(Events::builder().max_body(64));
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = socket.local_addr().expect("bound");
    let serving = intake.serve_udp(socket);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let peer = client.local_addr().expect("bound");

    let oversized = json!({ "pad": "x".repeat(100) }).to_string();
    for datagram in [
        &br#"{"kind": "first"}"#[..],
        b"{not json",
        oversized.as_bytes(),
        b"",
        br#"{"kind": "second"}"#,
    ] {
        client.send_to(datagram, server).expect("sent");
    }
    wait_for("five datagrams read", Duration::from_secs(5), || {
        intake.stats().udp_datagrams == 5
    })
    .await;
    for kind in ["first", "second"] {
        let event = next(&mut seen).await;
        assert_eq!(event.body["kind"], kind);
        assert_eq!(event.source, EventSource::Udp(peer));
    }
    let stats = intake.stats();
    assert_eq!(
        (
            stats.received,
            stats.malformed,
            stats.too_large,
            stats.rejected_full
        ),
        (2, 2, 1, 0)
    );
    if cfg!(target_os = "linux") {
        assert_eq!(stats.udp_kernel_drops, Some(0));
    }

    // The loop ends with the intake, and the port is free again.
    assert_eq!(intake.close(Duration::from_secs(1)).await, 0);
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the loop ends")
        .expect("without panicking");
    std::net::UdpSocket::bind(server).expect("the socket was closed");
}

#[tokio::test]
async fn a_udp_loop_on_a_closed_intake_ends_at_once() {
    let (intake, _seen) = forwarding(Events::builder());
    intake.close(Duration::ZERO).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    tokio::time::timeout(Duration::from_secs(5), intake.serve_udp(socket))
        .await
        .expect("the loop ends")
        .expect("without panicking");
}

/// 100,000 datagrams at a handler that does not move: the queue takes its bound, the rest is
/// refused (or dropped by the kernel when the reader falls behind), and each is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)] // The flood's figures, for the record (`--nocapture`).
async fn a_flood_costs_the_queues_bound_and_every_datagram_is_accounted_for() {
    const SENT: u64 = 100_000;
    const CAPACITY: u64 = 1000;
    let (intake, gate) = Gated::build(Events::builder().capacity(CAPACITY as usize));
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = socket.local_addr().expect("bound");
    let serving = intake.serve_udp(socket);

    let started = Instant::now();
    let sender = std::thread::spawn(move || flood(server, SENT));
    let retried = tokio::task::spawn_blocking(move || sender.join().expect("the sender"))
        .await
        .expect("the sender");
    let sent_in = started.elapsed();
    wait_for(
        "every datagram read or dropped by the kernel",
        Duration::from_secs(20),
        || {
            let stats = intake.stats();
            stats.udp_datagrams + stats.udp_kernel_drops.unwrap_or(0) == SENT
        },
    )
    .await;
    let accounted_in = started.elapsed();
    let stats = intake.stats();
    let kernel_drops = stats.udp_kernel_drops.expect("known on Linux");
    eprintln!(
        "flood of {SENT}: received {}, rejected (queue full) {}, dropped by the kernel {}, \
         sent in {sent_in:?} ({retried} sends retried), all accounted for in {accounted_in:?}",
        stats.received, stats.rejected_full, kernel_drops
    );
    // The queue's bound, and the one event the handler holds.
    assert!(
        (CAPACITY..=CAPACITY + 1).contains(&stats.received),
        "{stats:?}"
    );
    assert!(stats.queued <= CAPACITY, "{stats:?}");
    assert_eq!(gate.started(), stats.received - stats.queued, "{stats:?}");
    assert_eq!(
        stats.received + stats.rejected_full + kernel_drops,
        SENT,
        "{stats:?}"
    );
    assert_eq!(
        stats.received + stats.rejected_full,
        stats.udp_datagrams,
        "{stats:?}"
    );
    assert_eq!((stats.malformed, stats.too_large), (0, 0));

    gate.open();
    wait_for("the queue handled", Duration::from_secs(10), || {
        let stats = intake.stats();
        stats.handled == stats.received
    })
    .await;
    assert_eq!(intake.stats().queued, 0);
    assert_eq!(intake.close(Duration::from_secs(1)).await, 0);
    serving.await.expect("the loop ends");
}

/// Sends `count` small JSON datagrams to `server` as fast as the socket takes them; returns how
/// many sends had to be retried.
fn flood(server: SocketAddr, count: u64) -> u64 {
    let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut retried = 0;
    let mut datagram = String::new();
    for n in 0..count {
        datagram.clear();
        datagram.push_str(&format!(r#"{{"n":{n}}}"#));
        loop {
            match client.send_to(datagram.as_bytes(), server) {
                Ok(_) => break,
                // ENOBUFS (105 on Linux) or EAGAIN: the socket's buffer, not the receiver.
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(105) =>
                {
                    retried += 1;
                    std::thread::yield_now();
                }
                Err(e) => panic!("datagram {n}: {e}"),
            }
        }
    }
    retried
}

#[tokio::test]
async fn two_intakes_share_neither_counters_nor_queues() {
    let (first, mut first_seen) = forwarding(Events::builder().capacity(2));
    let (second, mut second_seen) = forwarding(Events::builder().capacity(2));
    let first_socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let first_addr = first_socket.local_addr().expect("bound");
    let _first_udp = first.serve_udp(first_socket);
    let second_socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let _second_udp = second.serve_udp(second_socket);

    first
        .submit(br#"{"to": "first"}"#, EventSource::Http)
        .expect("queued");
    second
        .submit(br#"{"to": "second"}"#, EventSource::Http)
        .expect("queued");
    let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .send_to(br#"{"to": "first", "by": "udp"}"#, first_addr)
        .expect("sent");
    first
        .submit(b"nope", EventSource::Http)
        .expect_err("malformed");

    assert_eq!(next(&mut first_seen).await.body["to"], "first");
    assert_eq!(next(&mut first_seen).await.body["by"], "udp");
    assert_eq!(next(&mut second_seen).await.body["to"], "second");
    wait_for("both handled", Duration::from_secs(5), || {
        first.stats().handled == 2 && second.stats().handled == 1
    })
    .await;
    let (a, b) = (first.stats(), second.stats());
    assert_eq!(
        (a.received, a.malformed, a.udp_datagrams),
        (2, 1, 1),
        "{a:?}"
    );
    assert_eq!(
        (b.received, b.malformed, b.udp_datagrams),
        (1, 0, 0),
        "{b:?}"
    );
    assert!(second_seen.try_recv().is_err());

    // Closing one leaves the other taking events.
    first.close(Duration::from_secs(1)).await;
    assert!(matches!(
        first.submit(b"{}", EventSource::Http),
        Err(Rejected::Closed)
    ));
    second.submit(b"{}", EventSource::Http).expect("still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_lets_that_many_calls_run_at_once() {
    let (intake, gate) = Gated::build(Events::builder().concurrency(3));
    for n in 0..5 {
        intake
            .submit(json!({ "n": n }).to_string().as_bytes(), EventSource::Http)
            .expect("queued");
    }
    wait_for("three calls at once", Duration::from_secs(5), || {
        gate.started() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(gate.started(), 3);
    assert_eq!(intake.stats().queued, 2);
    gate.open();
    wait_for("all handled", Duration::from_secs(5), || {
        intake.stats().handled == 5
    })
    .await;
}

#[test]
fn built_outside_a_runtime_it_runs_on_the_sdks_own() {
    let (seen, events) = std::sync::mpsc::channel();
    let intake = Events::builder()
        .handler(move |event: Event| {
            let seen = seen.clone();
            async move { seen.send(event.body).map_err(|_| "the test has gone") }
        })
        .build()
        .expect("the intake builds on the SDK's runtime");
    intake
        .submit(br#"{"from": "a plain thread"}"#, EventSource::Other)
        .expect("queued");
    let body = events
        .recv_timeout(Duration::from_secs(5))
        .expect("handled");
    assert_eq!(body["from"], "a plain thread");

    // `close` needs no particular runtime.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    assert_eq!(runtime.block_on(intake.close(Duration::from_secs(1))), 0);
    assert_eq!(intake.stats().handled, 1);
}

#[test]
fn once_its_runtime_has_gone_submit_says_closed_without_panicking() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let intake = runtime.block_on(async {
        Events::builder()
            .handler(|_event| async { Ok::<(), String>(()) })
            .build()
            .expect("the intake builds")
    });
    // Queued, but the runtime never runs the task again.
    for _ in 0..2 {
        intake.submit(b"{}", EventSource::Http).expect("queued");
    }
    drop(runtime);
    assert!(matches!(
        intake.submit(b"{}", EventSource::Http),
        Err(Rejected::Closed)
    ));
    let stats = intake.stats();
    assert_eq!((stats.received, stats.handled, stats.queued), (2, 0, 0));
    let other = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    assert_eq!(other.block_on(intake.close(Duration::from_secs(1))), 2);
}

#[tokio::test]
async fn dropping_every_clone_ends_the_task_and_the_udp_loops() {
    let handler_alive = Arc::new(());
    let held = Arc::clone(&handler_alive);
    let intake = Events::builder()
        .handler(move |_event| {
            let _held = &held;
            async { Ok::<(), String>(()) }
        })
        .build()
        .expect("the intake builds");
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let serving = intake.serve_udp(socket);
    let clone = intake.clone();
    clone.submit(b"{}", EventSource::Http).expect("queued");
    drop(intake);
    wait_for("the event handled", Duration::from_secs(5), || {
        clone.stats().handled == 1
    })
    .await;
    drop(clone);
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the loop ends")
        .expect("without panicking");
    wait_for("the handler dropped", Duration::from_secs(5), || {
        Arc::strong_count(&handler_alive) == 1
    })
    .await;
}

#[test]
fn settings_that_cannot_work_are_refused_at_build() {
    let handled = || Events::builder().handler(|_event| async { Ok::<(), String>(()) });
    for (builder, setting) in [
        (handled().capacity(0), "event capacity"),
        (handled().max_body(0), "event max_body"),
        (handled().concurrency(0), "event concurrency"),
        (Events::builder(), "event handler"),
    ] {
        match builder.build() {
            Err(Error::InvalidSetting { setting: s, .. }) => assert_eq!(s, setting),
            other => panic!("{setting}: {other:?}"),
        }
    }
}
