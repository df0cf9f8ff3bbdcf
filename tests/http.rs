//! The HTTP endpoints over real sockets, through every adapter: the standalone server (hyper,
//! via the tower adapter), axum and actix-web.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use healthcheck::http::server::Server;
use healthcheck::http::{Details, HealthHandler, HttpOptions};
use healthcheck::{Check, Component, HealthChecks, MetricsConfig, Probe, Report, Status};
use support::http_client::{get, send};

/// `db` (healthy, back), `cache` (degraded, front), `search` (unhealthy, not critical, front),
/// `heart` (liveness only).
fn checks() -> HealthChecks {
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .check(
            Check::new("db", || async {
                Ok::<_, String>(serde_json::json!({"pool": 10}))
            })
            .groups(["back"]),
        )
        .check(Check::blocking("cache", || Component::degraded("hit rate 40%")).groups(["front"]))
        .check(
            Check::new("search", || async { Err::<(), _>("503 from upstream") })
                .critical(false)
                .groups(["front"]),
        )
        .check(Check::new("heart", || async { true }).probes([Probe::Liveness]))
        .build()
        .expect("valid checks")
}

fn handler(options: HttpOptions) -> HealthHandler {
    options.build(checks()).expect("valid options")
}

/// Every endpoint, status, content type, header, format and error path, as seen by a client.
fn exercise(address: SocketAddr, handler: &HealthHandler) {
    let report = get(address, "/healthcheck");
    assert_eq!(report.status, 200, "{report:?}");
    assert_eq!(report.header("content-type"), Some("application/json"));
    assert_eq!(report.header("cache-control"), Some("max-age=1"));
    let json = report.json();
    assert_eq!(json["service_healthy"], true);
    assert_eq!(json["status"], "degraded");
    let names: Vec<&str> = json["components"]
        .as_object()
        .expect("components")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, ["cache", "db", "search"], "readiness checks only");
    assert_eq!(json["components"]["db"]["pool"], 10);
    assert_eq!(
        json["components"]["search"]["status_message"],
        "503 from upstream"
    );

    let front = get(address, "/healthcheck?group=front").json();
    assert_eq!(front["components"].as_object().map(|c| c.len()), Some(2));
    let both = get(address, "/healthcheck?group=front&group=back").json();
    assert_eq!(both["components"].as_object().map(|c| c.len()), Some(3));
    let unknown = get(address, "/healthcheck?group=nope");
    assert_eq!(
        (unknown.status, unknown.header("content-type")),
        (404, Some("application/json"))
    );
    assert_eq!(
        unknown.json()["error"],
        "no health check is in group `nope`"
    );

    for target in [
        "/healthcheck?format=health+json",
        "/healthcheck?format=health%2Bjson",
    ] {
        let draft = get(address, target);
        assert_eq!(
            draft.header("content-type"),
            Some("application/health+json"),
            "{target}"
        );
        let json = draft.json();
        assert_eq!(json["status"], "warn");
        assert_eq!(json["checks"]["search:responseTime"][0]["status"], "fail");
        assert_eq!(
            json["checks"]["search:responseTime"][0]["output"],
            "503 from upstream"
        );
        assert_eq!(json["checks"]["db:responseTime"][0]["observedUnit"], "ms");
        assert_eq!(json["checks"]["db:responseTime"][0]["componentId"], "db");
    }
    let negotiated = send(
        address,
        "GET",
        "/healthcheck",
        &[("Accept", "application/health+json")],
    );
    assert_eq!(
        negotiated.header("content-type"),
        Some("application/health+json")
    );
    let text = get(address, "/healthcheck?format=text");
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(text.body.contains("cache -> DEGRADED ("), "{}", text.body);
    assert!(text.body.contains("search -> FAIL ("), "{}", text.body);
    let bad = get(address, "/healthcheck?format=xml");
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["error"],
        "unknown format `xml`: expected json, health+json or text"
    );

    // Kubernetes probes.
    let ready = get(address, "/readyz");
    assert_eq!((ready.status, ready.body.as_str()), (200, "ok"));
    assert_eq!(
        ready.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let verbose = get(address, "/readyz?verbose");
    assert_eq!(
        verbose.body,
        "[-]cache failed: hit rate 40%\n[+]db ok\n[-]search failed: 503 from upstream\nreadyz check passed"
            .replace("[-]cache failed: hit rate 40%", "[+]cache ok")
    );
    let excluded = get(address, "/readyz?verbose&exclude=search");
    assert_eq!(
        excluded.body,
        "[+]cache ok\n[+]db ok\n[+]search excluded: ok\nreadyz check passed"
    );
    let live = get(address, "/livez?verbose");
    assert_eq!(live.body, "[+]heart ok\nlivez check passed");
    assert_eq!(get(address, "/startupz").body, "ok");
    let one = get(address, "/readyz/db");
    assert_eq!((one.status, one.body.as_str()), (200, "ok"));
    let failing = get(address, "/readyz/search");
    assert_eq!(
        (failing.status, failing.body.as_str()),
        (503, "[-]search failed: 503 from upstream")
    );
    let missing = get(address, "/readyz/nope");
    assert_eq!(
        (missing.status, missing.header("content-type")),
        (404, Some("text/plain; charset=utf-8"))
    );
    assert_eq!(missing.body, "no health check is named `nope`");

    // oarepo-heartbeat.
    let heartbeat = get(address, "/.well-known/heartbeat/readiness");
    assert_eq!(
        (heartbeat.status, heartbeat.header("content-type")),
        (200, Some("application/json"))
    );
    let json = heartbeat.json();
    assert_eq!(json["status"], true);
    assert_eq!(json["checks"]["search"]["status"], false);
    assert_eq!(json["checks"]["db"]["pool"], 10);
    let liveliness = get(address, "/.well-known/heartbeat/liveliness").json();
    assert_eq!(liveliness["checks"].as_object().map(|c| c.len()), Some(1));

    let ping = get(address, "/ping");
    assert_eq!((ping.status, ping.body.as_str()), (200, "OK"));

    // Methods.
    let head = send(address, "HEAD", "/healthcheck", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    let length: usize = head
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .expect("a length");
    assert_eq!(length, get(address, "/healthcheck").body.len());
    for method in ["POST", "DELETE", "PUT"] {
        let refused = send(address, method, "/healthcheck", &[("Content-Length", "0")]);
        assert_eq!(refused.status, 405, "{method}");
        assert_eq!(refused.header("allow"), Some("GET, HEAD"), "{method}");
        assert!(refused.json()["error"].is_string(), "{method}");
    }
    let refused = send(address, "POST", "/livez", &[("Content-Length", "0")]);
    assert_eq!(
        (refused.status, refused.header("content-type")),
        (405, Some("text/plain; charset=utf-8"))
    );

    // Bad input.
    let not_utf8 = get(address, "/healthcheck?group=%FF%FE");
    assert_eq!(not_utf8.status, 400);
    assert!(
        not_utf8.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("not valid UTF-8"))
    );
    let not_utf8 = get(address, "/readyz/%FF");
    assert_eq!(not_utf8.status, 400);
    assert!(
        not_utf8.body.contains("not valid UTF-8"),
        "{}",
        not_utf8.body
    );
    let long = format!("/healthcheck?group={}", "a".repeat(9000));
    let too_long = get(address, &long);
    assert_eq!(too_long.status, 414);
    assert!(
        too_long.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("longer than 8192 bytes"))
    );

    // Graceful shutdown: readiness drains, liveness stays.
    handler.begin_shutdown();
    for target in [
        "/healthcheck",
        "/readyz",
        "/readyz/db",
        "/.well-known/heartbeat/readiness",
    ] {
        let draining = get(address, target);
        assert_eq!(draining.status, 503, "{target}");
        assert!(
            draining.body.contains("shutting down"),
            "{target}: {}",
            draining.body
        );
        assert_eq!(
            draining.header("cache-control"),
            Some("no-store"),
            "{target}"
        );
    }
    assert_eq!(
        get(address, "/healthcheck").json()["service_healthy"],
        false
    );
    for target in ["/livez", "/ping", "/.well-known/heartbeat/liveliness"] {
        assert_eq!(get(address, target).status, 200, "{target}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standalone_server_serves_every_endpoint() {
    let handler = handler(HttpOptions::new());
    let server = Server::bind("127.0.0.1:0", handler.clone())
        .await
        .expect("bind");
    let address = server.local_addr();
    let checked = handler.clone();
    tokio::task::spawn_blocking(move || exercise(address, &checked))
        .await
        .expect("no panic");
    server.shutdown().await;
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "the server stopped listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standalone_server_listens_on_ipv6() {
    let handler = handler(HttpOptions::new());
    let Ok(server) = Server::bind("[::1]:0", handler).await else {
        return; // No IPv6 loopback on this machine.
    };
    let address = server.local_addr();
    assert!(address.is_ipv6());
    let ready = tokio::task::spawn_blocking(move || get(address, "/readyz"))
        .await
        .expect("no panic");
    assert_eq!((ready.status, ready.body.as_str()), (200, "ok"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_serves_every_endpoint_beside_the_application_routes() {
    let handler = handler(HttpOptions::new());
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "hello" }))
        .merge(healthcheck::http::axum::router(handler.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let checked = handler.clone();
    tokio::task::spawn_blocking(move || {
        assert_eq!(get(address, "/").body, "hello");
        exercise(address, &checked);
    })
    .await
    .expect("no panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_mounts_under_a_base_path() {
    let handler = handler(HttpOptions::new().base_path("/health/"));
    let app = healthcheck::http::axum::router(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    tokio::task::spawn_blocking(move || {
        assert_eq!(get(address, "/health/readyz").body, "ok");
        assert_eq!(get(address, "/health/healthcheck").status, 200);
        assert_eq!(get(address, "/health/readyz/db").body, "ok");
        assert_eq!(get(address, "/healthcheck").status, 404);
    })
    .await
    .expect("no panic");
}

#[test]
fn actix_web_serves_every_endpoint_beside_the_application_routes() {
    let handler = handler(HttpOptions::new());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("bound");
    let served = handler.clone();
    let (started, server) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .route("/", actix_web::web::get().to(|| async { "hello" }))
                    .configure(healthcheck::http::actix::configure(served.clone()))
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
    assert_eq!(get(address, "/").body, "hello");
    exercise(address, &handler);
    actix_web::rt::System::new().block_on(server.stop(true));
}

#[tokio::test]
async fn the_tower_service_takes_any_http_body() {
    use tower::ServiceExt;
    let service = healthcheck::http::tower::HealthService::new(handler(HttpOptions::new()));
    let request = http::Request::get("/readyz?verbose")
        .body(String::from("ignored"))
        .expect("request");
    let response = service.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    assert!(body.ends_with(b"readyz check passed"));
    let request = http::Request::get("/nowhere")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .expect("request");
    assert_eq!(
        service.oneshot(request).await.expect("infallible").status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_are_hidden_without_the_token() {
    let handler = handler(HttpOptions::new().details(Details::Token("s3cret".to_owned())));
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    tokio::task::spawn_blocking(move || {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some("Bearer s3cre"),
            Some("Basic s3cret"),
        ] {
            let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
            let hidden = send(address, "GET", "/healthcheck", &headers);
            assert_eq!(hidden.status, 200, "{auth:?}");
            let json = hidden.json();
            assert_eq!(json["service_healthy"], true, "{auth:?}");
            assert_eq!(json["status"], "degraded", "{auth:?}");
            assert!(json.get("components").is_none(), "{auth:?}: {json}");
            let verbose = send(address, "GET", "/readyz?verbose", &headers);
            assert_eq!(verbose.body, "readyz check passed", "{auth:?}");
            let heartbeat =
                send(address, "GET", "/.well-known/heartbeat/readiness", &headers).json();
            assert_eq!(heartbeat, serde_json::json!({"status": true}), "{auth:?}");
            let draft = send(address, "GET", "/healthcheck?format=health+json", &headers).json();
            assert_eq!(draft, serde_json::json!({"status": "warn"}), "{auth:?}");
            assert_eq!(
                send(address, "GET", "/readyz/search", &headers).body,
                "failed",
                "{auth:?}"
            );
        }
        for auth in ["Bearer s3cret", "bearer s3cret"] {
            let full = send(address, "GET", "/healthcheck", &[("Authorization", auth)]).json();
            assert_eq!(
                full["components"]["search"]["status_message"], "503 from upstream",
                "{auth}"
            );
        }
        let verbose = send(
            address,
            "GET",
            "/readyz?verbose",
            &[("Authorization", "Bearer s3cret")],
        );
        assert!(verbose.body.contains("[-]search failed: 503 from upstream"));
    })
    .await
    .expect("no panic");
    server.shutdown().await;

    let never = handler_with_never();
    let server = Server::bind("127.0.0.1:0", never).await.expect("bind");
    let address = server.local_addr();
    tokio::task::spawn_blocking(move || {
        let json = get(address, "/healthcheck").json();
        assert!(json.get("components").is_none(), "{json}");
    })
    .await
    .expect("no panic");
    server.shutdown().await;
}

fn handler_with_never() -> HealthHandler {
    handler(HttpOptions::new().details(Details::Never))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_service_answers_503_or_the_configured_status() {
    let failing = || {
        HealthChecks::builder()
            .without_registered_checks()
            .metrics(MetricsConfig::disabled())
            .check(Check::new("db", || async { false }).probes([Probe::Readiness, Probe::Liveness]))
            .build()
            .expect("valid")
    };
    for (options, expected) in [
        (HttpOptions::new(), 503),
        (
            HttpOptions::new().unhealthy_status(http::StatusCode::INTERNAL_SERVER_ERROR),
            500,
        ),
    ] {
        let server = Server::bind("127.0.0.1:0", options.build(failing()).expect("valid"))
            .await
            .expect("bind");
        let address = server.local_addr();
        tokio::task::spawn_blocking(move || {
            assert_eq!(get(address, "/healthcheck").status, expected);
            let ready = get(address, "/readyz");
            assert_eq!(
                (ready.status, ready.body.as_str()),
                (
                    503,
                    "[-]db failed: check returned false\nreadyz check failed"
                )
            );
            assert_eq!(get(address, "/.well-known/heartbeat/readiness").status, 500);
            let ping = get(address, "/ping");
            assert_eq!((ping.status, ping.body.as_str()), (503, "FAIL"));
        })
        .await
        .expect("no panic");
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_ping_rule() {
    let handler = HttpOptions::new()
        .ping(|| async { false })
        .build(checks())
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    let ping = tokio::task::spawn_blocking(move || get(address, "/ping"))
        .await
        .expect("no panic");
    assert_eq!(ping.status, 503);
    server.shutdown().await;
}

// --- Load protection. ---

static SLOW_CALLS: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_requests_runs_a_slow_check_once() {
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .check(Check::new("slow", || async {
            SLOW_CALLS.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await;
            true
        }))
        .build()
        .expect("valid");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::from_secs(30))
        .build(health)
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    let requests: Vec<_> = (0..500)
        .map(|i| {
            let target = if i % 2 == 0 {
                "/healthcheck"
            } else {
                "/readyz?verbose"
            };
            tokio::spawn(async move { raw_get(address, target).await })
        })
        .collect();
    for request in requests {
        let (status, body) = request.await.expect("no panic");
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        SLOW_CALLS.load(Ordering::SeqCst),
        1,
        "one run for five hundred requests"
    );
    server.shutdown().await;
}

/// An async raw GET, for many requests at once.
async fn raw_get(address: SocketAddr, target: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

static RELEASE: LazyLock<support::Gate> = LazyLock::new(support::Gate::default);
static REFRESHED_CALLS: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_background_refresh_requests_never_wait_for_a_check() {
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .check(
            Check::blocking("gated", || {
                REFRESHED_CALLS.fetch_add(1, Ordering::SeqCst);
                RELEASE.wait();
                true
            })
            .timeout(Duration::from_secs(30)),
        )
        .build()
        .expect("valid");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .refresh_every(Duration::from_millis(50))
        .build(health)
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();

    // The check is stuck in its first background run: requests answer at once, from the store.
    let pending = tokio::task::spawn_blocking(move || {
        (0..20)
            .map(|_| get(address, "/readyz/gated"))
            .collect::<Vec<_>>()
    })
    .await
    .expect("no panic");
    for response in &pending {
        assert_eq!(response.status, 503);
        assert!(response.body.contains("no result yet"), "{}", response.body);
    }
    assert_eq!(
        REFRESHED_CALLS.load(Ordering::SeqCst),
        1,
        "requests did not run the check"
    );
    assert_eq!(pending[0].header("cache-control"), Some("no-store"));

    RELEASE.open();
    let started = Instant::now();
    loop {
        let response = tokio::task::spawn_blocking(move || get(address, "/readyz/gated"))
            .await
            .expect("no panic");
        if response.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the refresh never landed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = REFRESHED_CALLS.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        REFRESHED_CALLS.load(Ordering::SeqCst) > before,
        "the refresh keeps running"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cache_every_request_runs_the_checks() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .check(Check::new("counted", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { true }
        }))
        .build()
        .expect("valid");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .build(health)
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    let responses = tokio::task::spawn_blocking(move || {
        (0..5)
            .map(|_| get(address, "/healthcheck"))
            .collect::<Vec<_>>()
    })
    .await
    .expect("no panic");
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    assert_eq!(responses[0].header("cache-control"), Some("no-store"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cache_the_json_is_the_report_of_a_run() {
    let direct = checks().run().await;
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .unhealthy_status(http::StatusCode::INTERNAL_SERVER_ERROR)
        .build(checks())
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    let (whole, front) = tokio::task::spawn_blocking(move || {
        (
            get(address, "/healthcheck"),
            get(address, "/healthcheck?group=front"),
        )
    })
    .await
    .expect("no panic");
    assert_eq!(whole.status, 200);
    let served: Report = serde_json::from_str(&whole.body).expect("a report");
    // `heart` is a liveness check: /healthcheck reports the readiness checks.
    let mut expected = direct.clone();
    expected.components.remove("heart");
    assert_eq!(
        (served.service_healthy, served.status),
        (expected.service_healthy, expected.status)
    );
    assert_eq!(
        served.components.keys().collect::<Vec<_>>(),
        expected.components.keys().collect::<Vec<_>>()
    );
    for (name, component) in &expected.components {
        let got = &served.components[name];
        assert_eq!(
            (
                got.healthy,
                got.status,
                &got.status_message,
                got.critical,
                &got.groups,
                &got.extra
            ),
            (
                component.healthy,
                component.status,
                &component.status_message,
                component.critical,
                &component.groups,
                &component.extra
            ),
            "{name}"
        );
    }
    let front: Report = serde_json::from_str(&front.body).expect("a report");
    assert_eq!(
        front.components.keys().collect::<Vec<_>>(),
        ["cache", "search"]
    );
    assert_eq!(front.status, Status::Degraded);

    let failing = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .check(Check::new("db", || async { false }))
        .build()
        .expect("valid");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .unhealthy_status(http::StatusCode::INTERNAL_SERVER_ERROR)
        .build(failing)
        .expect("valid");
    let response = handler
        .handle(healthcheck::http::HealthRequest {
            method: &http::Method::GET,
            path: "/healthcheck",
            query: None,
            headers: &http::HeaderMap::new(),
        })
        .await;
    assert_eq!(response.status, http::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(String::from_utf8_lossy(&response.body).starts_with(r#"{"service_healthy":false,"#));
    server.shutdown().await;
}

#[test]
fn an_empty_or_unsendable_details_token_is_an_error_that_hides_it() {
    for token in ["", "two words", "line\nbreak"] {
        let error = HttpOptions::new()
            .details(Details::Token(token.to_owned()))
            .build(checks())
            .expect_err("not a usable token");
        let text = error.to_string();
        assert!(text.contains("details token"), "{text}");
        assert!(token.is_empty() || !text.contains(token), "{text}");
    }
    assert!(
        HttpOptions::new()
            .details(Details::Token("s3cret".to_owned()))
            .build(checks())
            .is_ok()
    );
}

#[test]
fn a_refresh_of_an_unknown_check_is_an_error() {
    let error = HttpOptions::new()
        .refresh_check_every("nope", Duration::from_secs(1))
        .build(checks())
        .expect_err("unknown check");
    assert_eq!(error.to_string(), "no health check is named `nope`");
}
