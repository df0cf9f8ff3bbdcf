//! The HTTP endpoints against hostile or careless clients and mounts: slow-loris connections,
//! endless distinct queries, names and messages that try to forge lines, and adapters mounted
//! under a prefix. Everything on loopback, bounded in count and time.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use healthcheck::http::server::Server;
use healthcheck::http::{HealthHandler, HttpOptions};
use healthcheck::{Check, HealthChecks, MetricsConfig, Probe};
use support::http_client::{get, send};

fn health(checks: impl IntoIterator<Item = Check>) -> HealthChecks {
    checks
        .into_iter()
        .fold(
            HealthChecks::builder()
                .without_registered_checks()
                .metrics(MetricsConfig::disabled()),
            |builder, check| builder.check(check),
        )
        .build()
        .expect("valid checks")
}

fn two_checks(first: &'static str, second: &'static str) -> HealthHandler {
    HttpOptions::new()
        .build(health([
            Check::new(first, || async { true }),
            Check::new(second, || async { Err::<(), _>("down") }).critical(false),
        ]))
        .expect("valid options")
}

// --- Line forging (issue 7, point 12). ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_messages_cannot_forge_lines_in_text_bodies() {
    let handler = HttpOptions::new()
        .build(health([
            Check::new("a\n[+]forged ok", || async { true }),
            Check::new("b", || async {
                Err::<(), _>("refused\n[+]fake ok\r\nreadyz check passed")
            })
            .critical(false),
            Check::new("c\nd -> OK (1 ms) fine", || async { true }),
        ]))
        .expect("valid options");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    tokio::task::spawn_blocking(move || {
        let verbose = get(address, "/readyz?verbose");
        assert_eq!(
            verbose.body,
            "[+]a\\n[+]forged ok ok\n\
             [-]b failed: refused\\n[+]fake ok\\r\\nreadyz check passed\n\
             [+]c\\nd -> OK (1 ms) fine ok\n\
             readyz check passed"
        );
        let excluded = get(address, "/readyz?verbose&exclude=a%0A%5B%2B%5Dforged+ok");
        assert!(
            excluded
                .body
                .starts_with("[-]b failed: refused\\n[+]fake ok\\r\\nreadyz check passed\n"),
            "{}",
            excluded.body
        );
        assert!(
            excluded
                .body
                .contains("\n[+]a\\n[+]forged ok excluded: ok\n"),
            "{}",
            excluded.body
        );
        assert_eq!(excluded.body.lines().count(), 4, "{}", excluded.body);
        let one = get(address, "/readyz/b");
        assert_eq!(
            one.body,
            "[-]b failed: refused\\n[+]fake ok\\r\\nreadyz check passed"
        );
        let text = get(address, "/healthcheck?format=text");
        let lines: Vec<&str> = text.body.lines().collect();
        assert_eq!(lines.len(), 3, "{}", text.body);
        assert!(
            lines[0].starts_with("a\\n[+]forged ok -> OK ("),
            "{}",
            text.body
        );
        assert!(
            lines[1].starts_with("b -> FAIL (")
                && lines[1].ends_with(") refused\\n[+]fake ok\\r\\nreadyz check passed"),
            "{}",
            text.body
        );
        assert!(
            lines[2].starts_with("c\\nd -> OK (1 ms) fine -> OK ("),
            "{}",
            text.body
        );
        let missing = get(address, "/readyz/x%0A%5B%2B%5Dy");
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body.lines().count(), 1, "{}", missing.body);
        // JSON keeps the values as they are: it has no lines to forge.
        let json = get(address, "/healthcheck").json();
        assert_eq!(
            json["components"]["b"]["status_message"],
            "refused\n[+]fake ok\r\nreadyz check passed"
        );
        assert!(json["components"]["a\n[+]forged ok"].is_object());
    })
    .await
    .expect("no panic");
    server.shutdown().await;
}

// --- The keyed response cache (issue 7, point 8). ---

/// 300 failing checks with a long message each: a report of about 100 KB.
fn three_hundred_failing_checks() -> HealthChecks {
    health((0..300).map(|i| {
        Check::new(format!("check_{i:03}"), move || async move {
            Err::<(), _>(format!("connection refused: {}", "x".repeat(300)))
        })
    }))
}

/// Sends `GET`/`HEAD` requests on one keep-alive connection, reading each response whole.
struct KeepAlive {
    stream: TcpStream,
}

impl KeepAlive {
    fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        Self { stream }
    }

    /// The status and the body length.
    fn request(&mut self, method: &str, target: &str) -> (u16, usize) {
        let request = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n\r\n");
        self.stream.write_all(request.as_bytes()).expect("send");
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") {
            self.stream.read_exact(&mut byte).expect("a response head");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("a content length");
        if method != "HEAD" {
            let mut body = vec![0; length];
            self.stream.read_exact(&mut body).expect("the body");
        }
        (status, length)
    }
}

/// 1,024 distinct queries (unknown parameters, `GET` and `HEAD`), and as many distinct queries
/// that the endpoints do read, on a report of 300 failing checks: memory stays bounded.
#[cfg(target_os = "linux")]
#[test]
fn distinct_queries_do_not_pin_memory() {
    if support::ran_in_child("distinct_queries_do_not_pin_memory", &[]) {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let handler = runtime.block_on(async {
        HttpOptions::new()
            .cache_ttl(Duration::from_secs(120))
            .build(three_hundred_failing_checks())
            .expect("valid options")
    });
    let server = runtime
        .block_on(Server::bind("127.0.0.1:0", handler))
        .expect("bind");
    let address = server.local_addr();
    let mut client = KeepAlive::connect(address);
    let targets = [
        "/healthcheck",
        "/healthcheck?format=text",
        "/readyz?verbose",
    ];
    // Warm up: the checks run, the slots fill, the allocator grows to its working size.
    for _ in 0..3 {
        for target in targets {
            let (status, length) = client.request("GET", target);
            assert!(
                length > 50_000,
                "{target}: a report of {length} bytes ({status})"
            );
        }
    }
    let before = support::resident_bytes();
    for n in 0..1024 {
        let method = if n % 2 == 0 { "GET" } else { "HEAD" };
        let target = format!(
            "{}{}x={n}",
            targets[n % 3],
            if n % 3 == 0 { "?" } else { "&" }
        );
        let (status, _) = client.request(method, &target);
        assert_eq!(status, 503, "{target}");
    }
    let after_unknown = support::resident_bytes();
    // Queries the endpoint does read, each a response of its own.
    for n in 0..1024 {
        let target = format!("/readyz?verbose&exclude=check_{:03}", n % 300);
        let target = if n < 300 {
            target
        } else {
            format!("{target}&exclude=check_{:03}", (n * 7) % 300)
        };
        client.request(if n % 2 == 0 { "GET" } else { "HEAD" }, &target);
    }
    let after = support::resident_bytes();
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let grew = after.saturating_sub(before);
    let _ = writeln!(
        std::io::stderr(),
        "resident memory: {:.1} MB, {:.1} MB after the unknown parameters, {:.1} MB at the end",
        mb(before),
        mb(after_unknown),
        mb(after)
    );
    // Unknown parameters share the endpoints' slots: no growth to speak of (8 MB before they
    // did). Parameters the endpoints read: bounded by the keyed map's 4 MiB.
    assert!(
        after_unknown.saturating_sub(before) < 4_000_000,
        "unknown parameters grew memory from {:.1} MB to {:.1} MB",
        mb(before),
        mb(after_unknown)
    );
    assert!(
        grew < 32_000_000,
        "memory grew from {:.1} MB to {:.1} MB ({:.1} MB after the unknown parameters)",
        mb(before),
        mb(after),
        mb(after_unknown)
    );
    drop(client);
    runtime.block_on(server.shutdown());
}

/// An unknown parameter or a repeated group lands in the same cached response as the canonical
/// request: a check that counts its runs runs once for all of them within the time to live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_that_change_nothing_share_one_response() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let handler = HttpOptions::new()
        .cache_ttl(Duration::from_secs(60))
        .build(health([Check::new("counted", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { true }
        })
        .groups(["front"])]))
        .expect("valid options");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    tokio::task::spawn_blocking(move || {
        let first = get(address, "/healthcheck?group=front").body;
        for target in [
            "/healthcheck?group=front&group=front",
            "/healthcheck?x=1&group=front",
            "/healthcheck?group=front&format=json",
        ] {
            assert_eq!(get(address, target).body, first, "{target}");
        }
        let plain = get(address, "/readyz?verbose").body;
        for target in [
            "/readyz?verbose&x=2",
            "/readyz?verbose&exclude=nope",
            "/readyz?exclude=nope&verbose=1",
        ] {
            assert_eq!(get(address, target).body, plain, "{target}");
        }
        assert_eq!(
            get(address, "/readyz?verbose&exclude=counted").body,
            "[+]counted excluded: ok\nreadyz check passed"
        );
    })
    .await
    .expect("no panic");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    server.shutdown().await;
}

// --- Mounting under a prefix (issue 7, point 9). ---

/// Runs an actix-web app configured by `configure` on loopback, `check` against it, then stops
/// it.
fn with_actix(
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    check: impl FnOnce(SocketAddr),
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("bound");
    let (started, server) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new().configure(configure.clone())
            })
            .workers(1)
            .listen(listener)
            .expect("listen")
            .run();
            let _ = started.send(server.handle());
            server.await
        })
    });
    let server = server.recv().expect("the server started");
    check(address);
    actix_web::rt::System::new().block_on(server.stop(true));
    let _ = thread.join();
}

#[test]
fn actix_web_serves_inside_a_scope() {
    let plain = two_checks("db", "search");
    let based = HttpOptions::new()
        .base_path("/health")
        .build(health([Check::new("queue", || async { true })]))
        .expect("valid options");
    with_actix(
        move |config| {
            config
                .service(
                    actix_web::web::scope("/status")
                        .configure(healthcheck::http::actix::configure(plain.clone())),
                )
                .service(
                    actix_web::web::scope("/api")
                        .configure(healthcheck::http::actix::configure(based.clone())),
                );
        },
        |address| {
            let ready = get(address, "/status/readyz");
            assert_eq!((ready.status, ready.body.as_str()), (200, "ok"));
            let report = get(address, "/status/healthcheck").json();
            assert_eq!(report["components"]["search"]["status_message"], "down");
            assert_eq!(get(address, "/status/readyz/db").body, "ok");
            assert_eq!(get(address, "/status/readyz/nope").status, 404);
            assert_eq!(get(address, "/status/readyz/%FF").status, 400);
            assert_eq!(
                get(address, "/status/.well-known/heartbeat/readiness").status,
                200
            );
            assert_eq!(get(address, "/status/ping").body, "OK");
            assert_eq!(get(address, "/api/health/readyz/queue").body, "ok");
            assert_eq!(
                get(address, "/api/health/readyz?verbose").body,
                "[+]queue ok\nreadyz check passed"
            );
            let head = send(address, "HEAD", "/status/healthcheck", &[]);
            assert_eq!(head.status, 200);
            assert_eq!(get(address, "/readyz").status, 404);
        },
    );
}

#[test]
fn two_actix_web_configurations_in_one_app_keep_their_own_handler() {
    let first = HttpOptions::new()
        .base_path("/one")
        .build(health([Check::new("alpha", || async { true })]))
        .expect("valid options");
    let second = HttpOptions::new()
        .base_path("/two")
        .build(health([Check::new("beta", || async { true })]))
        .expect("valid options");
    let third = two_checks("gamma", "delta");
    with_actix(
        move |config| {
            config
                .configure(healthcheck::http::actix::configure(first.clone()))
                .configure(healthcheck::http::actix::configure(second.clone()))
                .service(
                    actix_web::web::scope("/three")
                        .configure(healthcheck::http::actix::configure(third.clone())),
                );
        },
        |address| {
            assert_eq!(
                get(address, "/one/readyz?verbose").body,
                "[+]alpha ok\nreadyz check passed"
            );
            assert_eq!(
                get(address, "/two/readyz?verbose").body,
                "[+]beta ok\nreadyz check passed"
            );
            assert_eq!(
                get(address, "/three/readyz?verbose").body,
                "[+]delta ok\n[+]gamma ok\nreadyz check passed"
                    .replace("[+]delta ok", "[-]delta failed: down")
            );
            assert_eq!(get(address, "/one/readyz/beta").status, 404);
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_serves_inside_a_nested_router() {
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "hello" }))
        .nest(
            "/status",
            healthcheck::http::axum::router(two_checks("db", "search")),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("bound");
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    tokio::task::spawn_blocking(move || {
        assert_eq!(get(address, "/").body, "hello");
        assert_eq!(get(address, "/status/readyz").body, "ok");
        assert_eq!(get(address, "/status/readyz/db").body, "ok");
        assert_eq!(
            get(address, "/status/readyz?verbose").body,
            "[+]db ok\n[-]search failed: down\nreadyz check passed"
        );
        assert_eq!(get(address, "/status/healthcheck").status, 200);
        assert_eq!(get(address, "/readyz").status, 404);
    })
    .await
    .expect("no panic");
    served.abort();
}

// --- Slow-loris (issue 7, point 7). ---

/// Half a request head: the request line and one header, never the blank line.
const HALF_HEAD: &[u8] = b"GET /livez HTTP/1.1\r\nHost: loris\r\n";

/// `count` connections that each send half a request head and then nothing.
fn slow_loris(address: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(address).expect("connect");
            stream.write_all(HALF_HEAD).expect("send half a head");
            stream
        })
        .collect()
}

/// Waits until the server closed every connection (a read sees the end, or a reset); fails
/// after `within`.
fn closed_within(connections: Vec<TcpStream>, within: Duration) {
    let deadline = Instant::now() + within;
    for (i, mut stream) in connections.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        let mut sink = Vec::new();
        match stream.read_to_end(&mut sink) {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) => {}
            Err(error) => panic!("connection {i} still open after {within:?}: {error}"),
        }
    }
}

/// A probe over a fresh connection, answered within `within`.
fn probe_within(address: SocketAddr, within: Duration) -> Duration {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(within)).expect("timeout");
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut response = Vec::new();
    if let Err(error) = stream.read_to_end(&mut response) {
        panic!("/livez did not answer within {within:?}: {error}");
    }
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with("ok"),
        "{response}"
    );
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_is_cut_off_and_the_probes_keep_answering() {
    let handler = HttpOptions::new()
        .build(health([
            Check::new("heart", || async { true }).probes([Probe::Liveness])
        ]))
        .expect("valid options");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let loris = slow_loris(address, 200);
        for _ in 0..5 {
            probe_within(address, Duration::from_secs(2));
        }
        // The default header timeout is 5 seconds.
        closed_within(loris, Duration::from_secs(10));
        assert!(
            started.elapsed() >= Duration::from_secs(4),
            "not before the timeout"
        );
    })
    .await
    .expect("no panic");
    server.shutdown().await;
}

/// With 128 file descriptors, 200 slow-loris connections take every descriptor the server has;
/// the header timeout frees them, and `/livez` answers again within a bound.
#[cfg(target_os = "linux")]
#[test]
fn under_a_file_descriptor_limit_a_slow_loris_does_not_starve_the_probes() {
    const TEST: &str = "under_a_file_descriptor_limit_a_slow_loris_does_not_starve_the_probes";
    if std::env::var_os(support::CHILD).is_some() {
        // The child: a server with the defaults, until its stdin closes.
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let server = runtime.block_on(async {
            let handler = HttpOptions::new()
                .build(health([Check::new("heart", || async { true })]))
                .expect("valid options");
            Server::bind("127.0.0.1:0", handler).await.expect("bind")
        });
        let mut stdout = std::io::stdout();
        writeln!(stdout, "port {}", server.local_addr().port()).expect("stdout");
        stdout.flush().expect("stdout");
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        drop(server);
        runtime.shutdown_background();
        return;
    }
    let mut child = support::child_with_fd_limit(TEST, 128);
    let stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut lines = std::io::BufRead::lines(stdout).map_while(Result::ok);
    let port: u16 = lines
        .by_ref()
        // The harness may print on the same line before it.
        .find_map(|line| line.split_once("port ")?.1.trim().parse().ok())
        .expect("the child reports its port");
    // Read the rest, so that the child's harness can write its summary.
    let drained = std::thread::spawn(move || lines.count());
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    probe_within(address, Duration::from_secs(5));

    let loris = slow_loris(address, 200);
    let outcome = std::panic::catch_unwind(|| {
        // Behind up to 200 connections held for the 5-second header timeout.
        let waited = probe_within(address, Duration::from_secs(15));
        for _ in 0..3 {
            probe_within(address, Duration::from_secs(2));
        }
        closed_within(loris, Duration::from_secs(20));
        waited
    });
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = drained.join();
    match outcome {
        Ok(waited) => assert!(waited < Duration::from_secs(15), "{waited:?}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_timeout_also_closes_a_connection_that_sends_nothing() {
    let handler = HttpOptions::new()
        .build(health([Check::new("heart", || async { true })]))
        .expect("valid options");
    let server = Server::builder()
        .header_read_timeout(Duration::from_secs(1))
        .bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    let address = server.local_addr();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut connections = slow_loris(address, 20);
        // Silent: not a byte, so hyper cannot even tell HTTP/1 from HTTP/2.
        connections.extend((0..20).map(|_| TcpStream::connect(address).expect("connect")));
        probe_within(address, Duration::from_secs(2));
        closed_within(connections, Duration::from_secs(4));
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(900), "{took:?}");
    })
    .await
    .expect("no panic");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_but_a_slow_check_is_not_cut() {
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .build(health([
            Check::new("heart", || async { true }),
            Check::new("slow", || async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                true
            })
            .timeout(Duration::from_secs(10)),
        ]))
        .expect("valid options");
    let server = Server::builder()
        .header_read_timeout(None)
        .idle_timeout(Duration::from_millis(500))
        .bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    let address = server.local_addr();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let silent = TcpStream::connect(address).expect("connect");
        let mut kept_alive = KeepAlive::connect(address);
        assert_eq!(kept_alive.request("GET", "/readyz/heart").0, 200);
        // A request that waits three times the idle timeout on its check.
        let mut waiting = KeepAlive::connect(address);
        assert_eq!(waiting.request("GET", "/readyz/slow").0, 200);
        assert!(started.elapsed() >= Duration::from_millis(1500));
        // The same connection goes on serving, then it too is closed once idle.
        assert_eq!(waiting.request("GET", "/readyz/heart").0, 200);
        closed_within(
            vec![silent, kept_alive.stream, waiting.stream],
            Duration::from_secs(3),
        );
    })
    .await
    .expect("no panic");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_limit_the_server_stops_accepting() {
    let handler = HttpOptions::new()
        .build(health([Check::new("heart", || async { true })]))
        .expect("valid options");
    let server = Server::builder()
        .max_connections(2)
        .header_read_timeout(Duration::from_secs(30))
        .bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    let address = server.local_addr();
    tokio::task::spawn_blocking(move || {
        let mut loris = slow_loris(address, 2);
        std::thread::sleep(Duration::from_millis(200));
        // The system completes the handshake; the server does not take the connection.
        let mut probe = TcpStream::connect(address).expect("connect");
        probe
            .write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            .expect("send");
        probe
            .set_read_timeout(Some(Duration::from_millis(700)))
            .expect("timeout");
        let mut byte = [0; 1];
        let waited = probe.read(&mut byte);
        assert!(
            waited.as_ref().is_err_and(|e| matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )),
            "answered past the limit: {waited:?}"
        );
        // One slot frees: the waiting connection is served.
        drop(loris.pop());
        probe
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut response = Vec::new();
        probe.read_to_end(&mut response).expect("an answer");
        let response = String::from_utf8_lossy(&response);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    })
    .await
    .expect("no panic");
    server.shutdown().await;
}
