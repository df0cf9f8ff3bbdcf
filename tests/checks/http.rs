//! `checks::http`: a scripted hyper server on loopback (statuses, delays, redirects, bodies,
//! headers), HTTPS with a certificate authority made by the test, a port nobody listens on.

use std::time::{Duration, Instant};

use healthcheck::{Status, checks};

use crate::support::http_server::{HttpServer, TestCa};
use crate::{build_error, health_of, run_one};

#[tokio::test]
async fn a_200_is_healthy_with_its_status_and_time_to_first_byte() {
    let server = HttpServer::start();
    let component = run_one(checks::http("api", server.url("/ok"))).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert_eq!(
        component.status_message.as_deref(),
        Some("URL is available")
    );
    assert_eq!(component.extra["status_code"], 200);
    let ttfb = component.extra["ttfb_ms"].as_f64().unwrap();
    assert!(
        ttfb > 0.0 && ttfb < component.response_time * 1000.0 + 1.0,
        "{ttfb}"
    );
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, ::http::Method::GET);
    assert_eq!(seen[0].path, "/ok");
}

#[tokio::test]
async fn a_503_is_unhealthy_in_panopticons_words() {
    let server = HttpServer::start();
    let component = run_one(checks::http("api", server.url("/status/503"))).await;
    assert_eq!(component.status, Status::Unhealthy);
    assert_eq!(
        component.status_message.as_deref(),
        Some("server responded with unexpected status code: 503")
    );
    assert_eq!(component.extra["status_code"], 503);
    assert!(component.extra["ttfb_ms"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn a_server_that_is_down_cannot_be_connected_to() {
    let port = crate::support::servers::free_port();
    let component = run_one(checks::http("api", format!("http://127.0.0.1:{port}/"))).await;
    assert_eq!(component.status, Status::Unhealthy);
    let message = component.status_message.unwrap();
    assert!(
        message.starts_with("Error connecting to URL: "),
        "{message}"
    );
    assert!(message.contains("Connection refused"), "{message}");
    assert!(
        !component.extra.contains_key("status_code"),
        "no response came"
    );
}

#[tokio::test]
async fn a_slow_server_times_out_on_time() {
    let server = HttpServer::start();
    let started = Instant::now();
    let component =
        run_one(checks::http("api", server.url("/delay/5000")).timeout(Duration::from_millis(300)))
            .await;
    let took = started.elapsed();
    assert_eq!(component.status, Status::Unhealthy);
    assert!(
        component.status_message.unwrap().contains("timed out"),
        "the timeout is the reason"
    );
    assert!(took < Duration::from_millis(800), "took {took:?}");
}

#[tokio::test]
async fn a_redirect_is_a_status_unless_followed() {
    let server = HttpServer::start();
    let not_followed = run_one(checks::http("api", server.url("/redirect/ok"))).await;
    assert_eq!(
        not_followed.status_message.as_deref(),
        Some("server responded with unexpected status code: 302")
    );
    assert_eq!(not_followed.extra["status_code"], 302);

    let expected =
        run_one(checks::http("api", server.url("/redirect/ok")).expect_status(302)).await;
    assert_eq!(expected.status, Status::Healthy, "{expected:?}");

    let followed =
        run_one(checks::http("api", server.url("/redirect/ok")).follow_redirects(3)).await;
    assert_eq!(followed.status, Status::Healthy, "{followed:?}");
    assert_eq!(followed.extra["status_code"], 200);

    let too_many =
        run_one(checks::http("api", server.url("/redirect/redirect/ok")).follow_redirects(1)).await;
    assert_eq!(too_many.status, Status::Unhealthy);
    let message = too_many.status_message.unwrap();
    assert!(
        message.starts_with("Error connecting to URL: "),
        "{message}"
    );
    assert!(message.contains("too many redirects"), "{message}");
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/redirect/ok",
            "/redirect/ok",
            "/redirect/ok",
            "/ok",
            "/redirect/redirect/ok",
            "/redirect/ok"
        ]
    );
}

#[tokio::test]
async fn head_is_sent_as_head() {
    let server = HttpServer::start();
    let component = run_one(
        checks::http("api", server.url("/echo"))
            .head()
            .expect_header("x-method", "HEAD"),
    )
    .await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert_eq!(server.requests()[0].method, ::http::Method::HEAD);

    let component = run_one(
        checks::http("api", server.url("/echo"))
            .method(::http::Method::OPTIONS)
            .expect_header("x-method", "OPTIONS"),
    )
    .await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
}

#[tokio::test]
async fn the_body_must_contain_the_text() {
    let server = HttpServer::start();
    let present =
        run_one(checks::http("api", server.url("/body/all-ready")).body_contains("ready")).await;
    assert_eq!(present.status, Status::Healthy, "{present:?}");

    let absent =
        run_one(checks::http("api", server.url("/body/all-ready")).body_contains("down")).await;
    assert_eq!(absent.status, Status::Unhealthy);
    assert_eq!(
        absent.status_message.as_deref(),
        Some("the response body does not contain \"down\"")
    );
    assert_eq!(
        absent.extra["status_code"], 200,
        "the status is still reported"
    );

    // Within the first MiB, and past it.
    let within = run_one(
        checks::http("api", server.url(&format!("/big/{}/needle", 1_000_000)))
            .body_contains("needle"),
    )
    .await;
    assert_eq!(within.status, Status::Healthy, "{within:?}");
    let past = run_one(
        checks::http("api", server.url(&format!("/big/{}/needle", 2 << 20)))
            .body_contains("needle")
            .timeout(Duration::from_secs(5)),
    )
    .await;
    assert_eq!(
        past.status_message.as_deref(),
        Some("the response body does not contain \"needle\" (in its first 1 MiB)")
    );
}

#[tokio::test]
async fn request_headers_are_sent_and_kept_out_of_debug() {
    let server = HttpServer::start();
    let checker = checks::http("api", server.url("/echo"))
        .header("X-Tenant", "blue")
        .header("Authorization", "Bearer s3cret-token");
    let debug = format!("{checker:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(debug.contains("authorization"), "{debug}");
    let component = run_one(checker).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    let seen = &server.requests()[0];
    assert_eq!(seen.headers["x-tenant"], "blue");
    assert_eq!(seen.headers["authorization"], "Bearer s3cret-token");
    assert!(
        seen.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("healthcheck/")
    );
}

#[tokio::test]
async fn response_headers_must_match_when_expected() {
    let server = HttpServer::start();
    let url = server.url("/header/x-version/2");
    let matching = run_one(checks::http("api", &url).expect_header("X-Version", "2")).await;
    assert_eq!(matching.status, Status::Healthy, "{matching:?}");

    let other = run_one(checks::http("api", &url).expect_header("x-version", "3")).await;
    assert_eq!(
        other.status_message.as_deref(),
        Some("the response header x-version is \"2\", expected \"3\"")
    );
    assert_eq!(other.extra["status_code"], 200);

    let missing = run_one(
        checks::http("api", &url)
            .expect_header("x-version", "2")
            .expect_header("x-build", "7"),
    )
    .await;
    assert_eq!(
        missing.status_message.as_deref(),
        Some("the response has no x-build header")
    );
}

#[tokio::test]
async fn expected_statuses_are_a_code_a_list_or_a_range() {
    let server = HttpServer::start();
    let url = server.url("/status/204");
    for checker in [
        checks::http("api", &url).expect_status(204),
        checks::http("api", &url).expect_status([200, 204]),
        checks::http("api", &url).expect_status(vec![204]),
        checks::http("api", &url).expect_status(200..=204),
        checks::http("api", &url).expect_status(200..205),
        checks::http("api", &url).expect_status(::http::StatusCode::NO_CONTENT),
    ] {
        let component = run_one(checker).await;
        assert_eq!(component.status, Status::Healthy, "{component:?}");
    }
    for checker in [
        checks::http("api", &url).expect_status(200),
        checks::http("api", &url).expect_status([200, 201]),
        checks::http("api", &url).expect_status(200..204),
    ] {
        let component = run_one(checker).await;
        assert_eq!(
            component.status_message.as_deref(),
            Some("server responded with unexpected status code: 204")
        );
    }
    let not_found =
        run_one(checks::http("api", server.url("/missing")).expect_status(400..=499)).await;
    assert_eq!(not_found.status, Status::Healthy, "{not_found:?}");
}

#[tokio::test]
async fn https_is_healthy_with_its_authority_trusted() {
    let ca = TestCa::new();
    let server = HttpServer::start_tls(ca.server.clone());
    let component =
        run_one(checks::http("api", server.url("/ok")).root_certificate(&ca.ca_pem)).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert_eq!(component.extra["status_code"], 200);
}

#[tokio::test]
async fn https_is_unhealthy_when_the_certificate_is_not_trusted() {
    let ca = TestCa::new();
    // Signed by an authority the checker was not told about.
    let server = HttpServer::start_tls(ca.server.clone());
    let component = run_one(checks::http("api", server.url("/ok"))).await;
    assert_eq!(component.status, Status::Unhealthy);
    let message = component.status_message.unwrap();
    assert!(
        message.starts_with("Error connecting to URL: "),
        "{message}"
    );
    assert!(message.contains("UnknownIssuer"), "{message}");

    // Self-signed, while another authority is trusted.
    let self_signed = HttpServer::start_tls(TestCa::self_signed());
    let component =
        run_one(checks::http("api", self_signed.url("/ok")).root_certificate(&ca.ca_pem)).await;
    assert_eq!(component.status, Status::Unhealthy);
    let message = component.status_message.unwrap();
    assert!(message.contains("invalid peer certificate"), "{message}");

    // Accepted on request.
    let component =
        run_one(checks::http("api", self_signed.url("/ok")).danger_accept_invalid_certs(true))
            .await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
}

#[tokio::test]
async fn credentials_in_the_url_never_show() {
    const SECRETS: [&str; 2] = ["pw-s3cret", "tok-s3cret"];
    let server = HttpServer::start();
    let url = |port: u16, path: &str| {
        format!("http://user:pw-s3cret@127.0.0.1:{port}{path}?token=tok-s3cret")
    };
    let port = server.addr.port();

    // A wrong status, a server that is down, a body that lacks the text.
    let down_port = crate::support::servers::free_port();
    for checker in [
        checks::http("api", url(port, "/status/401")),
        checks::http("api", url(down_port, "/")),
        checks::http("api", url(port, "/body/nothing")).body_contains("something"),
        checks::http("api", url(port, "/redirect/redirect/ok")).follow_redirects(1),
    ] {
        let debug = format!("{checker:?}");
        let report = health_of([checker.into()]).run().await;
        let json = report.to_json();
        for secret in SECRETS {
            assert!(!json.contains(secret), "{json}");
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(!report.service_healthy, "{json}");
    }
    // The password was sent, as basic authentication.
    let seen = &server.requests()[0];
    assert_eq!(seen.headers["authorization"], "Basic dXNlcjpwdy1zM2NyZXQ=");

    // Nor in a build error.
    let message = build_error(checks::http("api", url(port, "/")).header("bad name", "x"));
    assert!(message.contains("not a valid header name"), "{message}");
    let message = build_error(checks::http(
        "api",
        "http://user:pw-s3cret@exa mple.com/?token=tok-s3cret",
    ));
    assert!(message.contains("invalid URL"), "{message}");
    for secret in SECRETS {
        assert!(!message.contains(secret), "{message}");
    }
}

#[test]
fn malformed_settings_fail_the_build_naming_the_check() {
    for (checker, says) in [
        (checks::http("web api", "not a url"), "invalid URL"),
        (checks::http("web api", "ftp://example.com/"), "\"ftp\""),
        (
            checks::http("web api", "mailto:ops@example.com"),
            "\"mailto\"",
        ),
        (checks::http("web api", "http://"), "invalid URL"),
        (
            checks::http("web api", "http://example.com/").expect_status(Vec::new()),
            "no status code",
        ),
        (
            checks::http("web api", "http://example.com/").expect_status(42),
            "not a status code",
        ),
        (
            checks::http("web api", "http://example.com/").header("bad name", "v"),
            "not a valid header name",
        ),
        (
            checks::http("web api", "http://example.com/").header("x-key", "line\nbreak"),
            "the value of x-key is not a valid header value",
        ),
        (
            checks::http("web api", "http://example.com/").expect_header("x-ok", "a\u{0}b"),
            "not a valid header value",
        ),
        (
            checks::http("web api", "http://example.com/")
                .head()
                .body_contains("ok"),
            "HEAD",
        ),
        (
            checks::http("web api", "https://example.com/").root_certificate("not a PEM"),
            "no PEM certificate",
        ),
    ] {
        let message = build_error(checker);
        assert!(message.contains("web api"), "{message}");
        assert!(message.contains(says), "{says}: {message}");
    }
}

#[tokio::test]
async fn connections_are_reused_from_run_to_run() {
    let server = HttpServer::start();
    let health = health_of([checks::http("api", server.url("/ok")).into()]);
    for _ in 0..5 {
        assert!(health.run().await.service_healthy);
    }
    assert_eq!(server.requests().len(), 5);
    assert_eq!(server.connections(), 1, "one pooled connection");
}

#[tokio::test]
async fn a_run_cut_off_by_its_timeout_leaves_the_checker_usable() {
    let server = HttpServer::start();
    let health = health_of([checks::http("api", server.url("/slow-first/1000"))
        .timeout(Duration::from_millis(200))
        .into()]);
    let report = health.run().await;
    let component = &report.components["api"];
    assert!(
        component
            .status_message
            .as_deref()
            .unwrap()
            .contains("timed out"),
        "{component:?}"
    );
    for _ in 0..3 {
        let report = health.run().await;
        assert!(report.service_healthy, "{}", report.to_json());
    }
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn a_restarted_server_is_reached_on_a_fresh_connection() {
    let server = HttpServer::start();
    let addr = server.addr;
    let health = health_of([checks::http("api", server.url("/ok")).into()]);
    assert!(health.run().await.service_healthy);
    drop(server);
    let report = health.run().await;
    assert!(!report.service_healthy, "the server is down");
    let restarted = HttpServer::start_on(addr);
    let report = health.run().await;
    assert!(report.service_healthy, "{}", report.to_json());
    assert_eq!(restarted.connections(), 1);
}

#[test]
fn a_checker_survives_its_first_runtime_being_dropped() {
    let server = HttpServer::start();
    let health = health_of([checks::http("api", server.url("/ok")).into()]);
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = first.block_on(health.run());
    assert!(report.service_healthy, "{}", report.to_json());
    drop(first);
    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..3 {
        let report = second.block_on(health.run());
        assert!(report.service_healthy, "{}", report.to_json());
    }
}
