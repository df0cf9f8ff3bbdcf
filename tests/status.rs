//! `GET /status` over real HTTP: who the service is and since when, its checks and workers,
//! metrics and fleet store, and its configuration with every secret masked at every depth;
//! only the name and uptime without the token.

mod support;

use std::time::Duration;

use healthcheck::http::server::Server as HttpServer;
use healthcheck::http::{Details, HttpOptions};
use healthcheck::status::{HIDDEN, ServiceStatus};
use healthcheck::workers::Workers;
use healthcheck::{Check, HealthChecks};
use serde::Serialize;
use support::http_client::send;

#[derive(Serialize)]
struct Config {
    listen: String,
    database_url: String,
    smtp: Smtp,
    upstreams: Vec<Upstream>,
    deploy_key: String,
}

#[derive(Serialize)]
struct Smtp {
    host: String,
    password: String,
}

#[derive(Serialize)]
struct Upstream {
    name: String,
    auth_token: String,
    vault_unseal: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_service_and_masks_its_secrets_at_every_depth() {
    let workers = Workers::builder().build();
    workers
        .spawn("consumer", |mut stop| async move {
            stop.stopped().await;
            Ok::<(), String>(())
        })
        .expect("spawned");
    let health = HealthChecks::builder()
        .without_registered_checks()
        .service("billing")
        .instance("i-7")
        .check(Check::new("database", || async { true }).groups(["db"]))
        .checks(workers.checks())
        .build()
        .expect("checks");
    let config = Config {
        listen: "0.0.0.0:8080".into(),
        database_url: "postgres://billing:pg-S3cret@db:5432/billing".into(),
        smtp: Smtp {
            host: "mail".into(),
            password: "smtp-S3cret".into(),
        },
        upstreams: vec![Upstream {
            name: "ledger".into(),
            auth_token: "tok-S3cret".into(),
            vault_unseal: "unseal-S3cret".into(),
        }],
        deploy_key: "key-S3cret".into(),
    };
    let events = healthcheck::events::Events::builder()
        .handler(|_event| async { Ok::<(), String>(()) })
        .build()
        .expect("an intake");
    events
        .submit(
            br#"{"kind":"deploy"}"#,
            healthcheck::events::EventSource::Other,
        )
        .expect("queued");
    assert!(
        events
            .submit(b"nope", healthcheck::events::EventSource::Other)
            .is_err()
    );
    let status = ServiceStatus::new()
        .environ(healthcheck::environ!())
        .workers(workers.clone())
        .events(events.clone())
        .config(&config)
        .expect("serializable")
        .secret_key("vault_unseal");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .details(Details::Token("t0ken".to_owned()))
        .status(status)
        .build(health)
        .expect("valid");
    let http = HttpServer::bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    let address = http.local_addr();
    let get = move |headers: &'static [(&'static str, &'static str)]| {
        tokio::task::spawn_blocking(move || send(address, "GET", "/status", headers))
    };

    let shown = get(&[("Authorization", "Bearer t0ken")])
        .await
        .expect("no panic");
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(
        !shown.body.contains("S3cret"),
        "a secret shows: {}",
        shown.body
    );
    let json = shown.json();
    assert_eq!(json["name"], "billing");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["instance"], "i-7");
    assert_eq!(json["pid"], std::process::id());
    assert!(json["uptime_seconds"].as_f64().expect("a number") >= 0.0);
    assert!(json["started"].as_str().expect("RFC 3339").ends_with('Z'));
    assert!(
        json["rust_version"]
            .as_str()
            .expect("a version")
            .starts_with("rustc ")
    );
    let checks = json["checks"].as_array().expect("checks");
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "database" && c["groups"][0] == "db")
    );
    assert!(checks.iter().any(|c| c["name"] == "worker:consumer"));
    assert_eq!(json["workers"][0]["name"], "consumer");
    assert_eq!(json["workers"][0]["state"], "running");
    assert_eq!(json["workers"][0]["restarts"], 0);
    assert!(json["metrics"]["enabled"].is_boolean());
    assert_eq!(json["events"]["received"], 1, "{json}");
    assert_eq!(json["events"]["malformed"], 1, "{json}");
    let config = &json["config"];
    assert_eq!(config["listen"], "0.0.0.0:8080");
    assert_eq!(config["smtp"]["host"], "mail");
    assert_eq!(config["smtp"]["password"], HIDDEN);
    assert_eq!(config["upstreams"][0]["name"], "ledger");
    assert_eq!(config["upstreams"][0]["auth_token"], HIDDEN);
    assert_eq!(config["upstreams"][0]["vault_unseal"], HIDDEN);
    assert_eq!(config["deploy_key"], HIDDEN);
    let dsn = config["database_url"].as_str().expect("a DSN");
    assert!(
        dsn.contains("db:5432/billing") && !dsn.contains("pg-S3cret"),
        "{dsn}"
    );

    let hidden = get(&[]).await.expect("no panic");
    assert_eq!(hidden.status, 200);
    let json = hidden.json();
    assert_eq!(json["name"], "billing");
    assert!(
        json.get("config").is_none() && json.get("checks").is_none(),
        "{json}"
    );
    workers.shutdown(Duration::from_secs(1)).await;
}
