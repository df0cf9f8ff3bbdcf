//! `GET /environ` over real HTTP: what the application was built from, its details hidden
//! without the token; 404 when no build was given.

mod support;

use std::time::Duration;

use healthcheck::HealthChecks;
use healthcheck::http::server::Server as HttpServer;
use healthcheck::http::{Details, HttpOptions};
use support::http_client::send;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environ_says_what_the_application_was_built_from() {
    let health = HealthChecks::builder()
        .without_registered_checks()
        .build()
        .expect("checks");
    let environ = healthcheck::environ!()
        .feature("postgres")
        .library("tokio", "1")
        .git_commit(Some("0123abc\n"));
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .details(Details::Token("t0ken".to_owned()))
        .environ(environ)
        .build(health.clone())
        .expect("valid");
    let http = HttpServer::bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    let address = http.local_addr();
    let get = move |headers: &'static [(&'static str, &'static str)]| {
        tokio::task::spawn_blocking(move || send(address, "GET", "/environ", headers))
    };

    let shown = get(&[("Authorization", "Bearer t0ken")])
        .await
        .expect("no panic");
    assert_eq!(shown.status, 200, "{}", shown.body);
    let json = shown.json();
    // The crate where `environ!` was expanded: this test's package.
    assert_eq!(json["name"], env!("CARGO_PKG_NAME"));
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["git_commit"], "0123abc");
    assert_eq!(
        json["profile"],
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert!(
        json["rust_version"]
            .as_str()
            .expect("a version")
            .starts_with("rustc 1."),
        "{json}"
    );
    assert!(
        json["target"].as_str().expect("a target").contains('-'),
        "{json}"
    );
    let sdk_features = json["healthcheck_features"].as_array().expect("features");
    assert!(sdk_features.iter().any(|f| f == "status"), "{json}");
    assert_eq!(json["features"], serde_json::json!(["postgres"]));
    assert_eq!(json["libraries"]["tokio"], "1");

    let hidden = get(&[]).await.expect("no panic");
    assert_eq!(hidden.status, 200);
    assert_eq!(
        hidden.json(),
        serde_json::json!({"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")})
    );

    // Without a build given, there is no such endpoint.
    let plain = HttpOptions::new().build(health).expect("valid");
    let http = HttpServer::bind("127.0.0.1:0", plain).await.expect("bind");
    let address = http.local_addr();
    let missing = tokio::task::spawn_blocking(move || send(address, "GET", "/environ", &[]))
        .await
        .expect("no panic");
    assert_eq!(missing.status, 404);
}
