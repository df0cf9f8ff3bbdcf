//! The HTML status page (`GET /status.html`) over real HTTP and in a real headless Chromium: the
//! verdict, each check with its colour, icon and word, message, response time, groups and a
//! sparkline of its history, the fleet's check → group → host grid with stale marks, details
//! hidden without the token, and everything from checks escaped.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use healthcheck::fleet::{
    BeatRecord, FleetConfig, FleetRecord, FleetStore, MemoryFleetStore, StoreError, StoreFuture,
};
use healthcheck::http::server::Server as HttpServer;
use healthcheck::http::{Details, HttpOptions};
use healthcheck::status::StatusPage;
use healthcheck::{Check, Component, HealthChecks, MetricsConfig, Status};
use support::browser::{Browser, artifact_path, contrast_ratio, parse_rgb};
use support::http_client::{Response, get, send};

const XSS: &str = "<script>alert(1)</script>";
const WINDOW: Duration = Duration::from_millis(800);

/// One instance of service `payments` on `host`, publishing to `store`.
fn instance(store: &Arc<dyn FleetStore>, host: &str, flaky: Arc<AtomicUsize>) -> HealthChecks {
    HealthChecks::builder()
        .without_registered_checks()
        .service("payments")
        .host(host)
        .instance(format!("{host}-1"))
        .metrics(MetricsConfig::new().enabled(false))
        .fleet(
            FleetConfig::new()
                .shared_store(Arc::clone(store))
                .freshness(WINDOW),
        )
        .check(Check::new("database", || async { Ok::<_, String>(()) }).groups(["db"]))
        .check(
            Check::new("cache", || async {
                Component::degraded("evictions are high")
            })
            .groups(["cache", "db"]),
        )
        .check(
            Check::new("card-gateway", || async { Err::<(), _>(XSS) })
                .groups(["payments"])
                .critical(false),
        )
        .check(Check::new("queue", move || {
            // Fails every third run: a history with both colours.
            let run = flaky.fetch_add(1, Ordering::SeqCst);
            async move {
                if run % 3 == 2 {
                    Err(format!("run {run}: broker <b>unreachable</b>"))
                } else {
                    Ok(())
                }
            }
        }))
        .build()
        .expect("valid checks")
}

/// A store in memory that keeps records for a minute whatever the freshness window: `web-2`
/// stays on the page as stale however long a loaded machine takes to start a browser (the
/// store would otherwise forget it after two windows).
#[derive(Debug)]
struct KeptStore(MemoryFleetStore);

const KEPT: Duration = Duration::from_secs(60);

impl FleetStore for KeptStore {
    fn publish<'a>(
        &'a self,
        records: &'a [FleetRecord],
        _ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        self.0.publish(records, KEPT)
    }

    fn read<'a>(
        &'a self,
        service: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Vec<FleetRecord>, StoreError>> {
        self.0.read(service)
    }

    fn beat<'a>(
        &'a self,
        beat: &'a BeatRecord,
        _ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        self.0.beat(beat, KEPT)
    }

    fn beats<'a>(
        &'a self,
        service: &'a str,
    ) -> StoreFuture<'a, Result<Vec<BeatRecord>, StoreError>> {
        self.0.beats(service)
    }

    fn describe(&self) -> String {
        self.0.describe()
    }
}

struct Dashboard {
    server: HttpServer,
    health: HealthChecks,
}

impl Dashboard {
    fn address(&self) -> SocketAddr {
        self.server.local_addr()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address())
    }
}

/// `web-1` serving the page, with five runs of history (the start-up round's and four more),
/// and `web-2` that published once and went away (stale by the time the page is read).
async fn dashboard(details: Details, page: StatusPage) -> Dashboard {
    let store: Arc<dyn FleetStore> = Arc::new(KeptStore(MemoryFleetStore::new()));
    let departing = instance(&store, "web-2", Arc::new(AtomicUsize::new(0)));
    departing.run().await;
    assert!(departing.flush_fleet(Duration::from_secs(2)).await);
    drop(departing);
    tokio::time::sleep(WINDOW + Duration::from_millis(100)).await;

    let health = instance(&store, "web-1", Arc::new(AtomicUsize::new(0)));
    // The fleet's start-up round runs every check once in the background; waiting for it makes
    // the history below the same on every machine: that run, four more, the page's own.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while health.history("queue").is_none_or(|h| h.is_empty()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no start-up round within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..4 {
        health.run().await;
    }
    assert!(health.flush_fleet(Duration::from_secs(2)).await);
    let handler = HttpOptions::new()
        .details(details)
        .cache_ttl(Duration::from_secs(60))
        .status_page(page)
        .build(health.clone())
        .expect("valid options");
    let server = HttpServer::bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    Dashboard { server, health }
}

async fn fetch(address: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let path = path.to_owned();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        send(address, "GET", &path, &headers)
    })
    .await
    .expect("the request ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_every_check_with_its_history_and_the_fleet_grid_escaped() {
    let dash = dashboard(Details::Always, StatusPage::new()).await;
    let page = fetch(dash.address(), "/status.html", &[]).await;

    // The queue failed in the run the page made: the service is unhealthy, and the page, for
    // people, still answers 200.
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<span class=\"verdict-word\">Unhealthy</span>")
    );
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page.header("content-security-policy").expect("a policy");
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let body = &page.body;

    // Self-contained: no script, no external asset, nothing loaded at all.
    assert!(!body.contains("<script"), "{body}");
    for attribute in [" src=", " href=", "url(", "@import"] {
        assert!(!body.contains(attribute), "{attribute} in {body}");
    }
    // Everything from checks is escaped, in text and in attributes.
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{body}"
    );
    assert!(
        body.contains("broker &#60;b&#62;unreachable&#60;"),
        "{body}"
    );

    // Each check: status class, icon and word, groups.
    for (check, class, word) in [
        ("database", "healthy", "Healthy"),
        ("cache", "degraded", "Degraded"),
        ("card-gateway", "unhealthy", "Unhealthy"),
    ] {
        let row = row_of(body, check);
        assert!(row.contains(&format!("data-status=\"{class}\"")), "{row}");
        assert!(row.contains(&format!("</span> {word}</span>")), "{row}");
    }
    assert!(
        row_of(body, "cache")
            .contains("<span class=\"group\">cache</span><span class=\"group\">db</span>")
    );
    assert!(row_of(body, "card-gateway").contains("(not critical)"));

    // Sparklines: five runs, and the one the page made; the queue's third and sixth failed.
    let queue = row_of(body, "queue");
    assert!(
        queue.contains("aria-label=\"last 6 runs: 4 healthy, 0 degraded, 2 unhealthy\""),
        "{queue}"
    );
    assert!(queue.contains("6 runs, 2 failed"), "{queue}");
    assert_eq!(
        queue.matches("<rect class=\"unhealthy\"").count(),
        2,
        "{queue}"
    );
    assert_eq!(
        queue.matches("<rect class=\"healthy\"").count(),
        4,
        "{queue}"
    );
    assert_eq!(
        queue.matches("<rect class=\"empty\"").count(),
        54,
        "{queue}"
    );
    let history = dash.health.history("queue").expect("a check");
    assert_eq!(history.len(), 6);
    assert_eq!(history[2].status, Status::Unhealthy);

    // The fleet grid: web-1 fresh, web-2 stale.
    let cell = |host: &str, check: &str| {
        let marker = format!("data-host=\"{host}\" data-check=\"{check}\" data-status=\"");
        let at = body
            .find(&marker)
            .unwrap_or_else(|| panic!("no cell {host}/{check}: {body}"));
        let rest = &body[at + marker.len()..];
        rest[..rest.find('"').expect("quoted")].to_owned()
    };
    assert_eq!(cell("web-1", "database"), "healthy");
    assert_eq!(cell("web-1", "cache"), "degraded");
    assert_eq!(cell("web-2", "database"), "stale");
    assert_eq!(cell("web-2", "card-gateway"), "stale");
    assert!(body.contains("ago, stale"), "{body}");
    dash.server.shutdown().await;
}

/// The `<tr>` of check `name`.
fn row_of<'a>(body: &'a str, name: &str) -> &'a str {
    let marker = format!("data-check=\"{name}\" data-status=");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no row for {name}: {body}"));
    let end = body[start..].find("</tr>").expect("row end") + start;
    &body[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_are_hidden_without_the_token_and_never_with_never() {
    let dash = dashboard(Details::Token("s3cret".into()), StatusPage::new()).await;
    let hidden = fetch(dash.address(), "/status.html", &[]).await;
    assert_eq!(hidden.status, 200);
    assert!(
        hidden.body.contains("id=\"details-hidden\""),
        "{}",
        hidden.body
    );
    for secret in ["database", "card-gateway", "alert", "web-2", "evictions"] {
        assert!(
            !hidden.body.contains(secret),
            "{secret} shown without the token"
        );
    }
    assert!(hidden.body.contains("Unhealthy"));
    let shown = fetch(
        dash.address(),
        "/status.html",
        &[("Authorization", "Bearer s3cret")],
    )
    .await;
    assert!(
        shown.body.contains("data-check=\"database\""),
        "{}",
        shown.body
    );
    let wrong = fetch(
        dash.address(),
        "/status.html",
        &[("Authorization", "Bearer s3cre")],
    )
    .await;
    assert!(!wrong.body.contains("database"));
    dash.server.shutdown().await;

    let dash = dashboard(Details::Never, StatusPage::new()).await;
    let never = fetch(
        dash.address(),
        "/status.html",
        &[("Authorization", "Bearer s3cret")],
    )
    .await;
    assert!(!never.body.contains("database"));
    dash.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_path_title_and_refresh_are_configurable() {
    let page = StatusPage::new()
        .path("dash/board/")
        .title("Payments <prod>")
        .refresh_every(Duration::from_millis(2500));
    let dash = dashboard(Details::Always, page).await;
    let moved = fetch(dash.address(), "/dash/board", &[]).await;
    assert!(
        moved.body.contains("<h1>Payments &#60;prod&#62;</h1>"),
        "{}",
        moved.body
    );
    assert!(
        moved
            .body
            .contains("<meta http-equiv=\"refresh\" content=\"3\">")
    );
    assert_eq!(fetch(dash.address(), "/status.html", &[]).await.status, 404);
    dash.server.shutdown().await;

    let dash = dashboard(Details::Always, StatusPage::new().refresh_every(None)).await;
    let still = fetch(dash.address(), "/status.html", &[]).await;
    assert!(!still.body.contains("http-equiv"), "{}", still.body);
    // The title names the service by default.
    assert!(still.body.contains("<h1>payments</h1>"), "{}", still.body);
    dash.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_service_answers_200_and_long_messages_are_cut() {
    let long = "x".repeat(70 * 1024);
    let message = long.clone();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::new().enabled(false))
        .history(3)
        .check(Check::new("verbose", move || {
            let message = message.clone();
            async move { Component::degraded(message) }
        }))
        .build()
        .expect("valid");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .status_page(StatusPage::new())
        .build(health.clone())
        .expect("valid");
    let server = HttpServer::bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    for _ in 0..4 {
        let page = fetch(server.local_addr(), "/status.html", &[]).await;
        assert_eq!(page.status, 200);
        assert!(page.body.len() < 20_000, "{} bytes", page.body.len());
        assert!(page.body.contains("xxx…"));
    }
    // Every request ran the check (no cache); the history keeps the last three.
    let history = health.history("verbose").expect("a check");
    assert_eq!(history.len(), 3);
    assert!(
        history
            .iter()
            .all(|e| e.message.as_ref().is_some_and(|m| m.len() <= 512))
    );
    let page = fetch(server.local_addr(), "/status.html", &[]).await;
    assert!(
        page.body.contains("last 3 runs: 0 healthy, 3 degraded"),
        "{}",
        page.body
    );
    // HEAD: the headers, no body.
    let head = tokio::task::spawn_blocking({
        let address = server.local_addr();
        move || send(address, "HEAD", "/status.html", &[])
    })
    .await
    .expect("ran");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joined_executions_and_cached_responses_add_no_history() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::new().enabled(false))
        .check(Check::new("slow", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok::<_, String>(())
            }
        }))
        .build()
        .expect("valid");
    // Three callers at once share one execution.
    let (a, b, c) = tokio::join!(health.run(), health.run(), health.run());
    assert!(a.service_healthy && b.service_healthy && c.service_healthy);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(health.history("slow").expect("a check").len(), 1);

    let handler = HttpOptions::new()
        .cache_ttl(Duration::from_secs(60))
        .status_page(StatusPage::new())
        .build(health.clone())
        .expect("valid");
    let server = HttpServer::bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    for _ in 0..3 {
        assert_eq!(
            fetch(server.local_addr(), "/status.html", &[]).await.status,
            200
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(health.history("slow").expect("a check").len(), 2);
    assert!(health.history("nothing").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_page_the_path_is_not_found() {
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::new().enabled(false))
        .build()
        .expect("valid");
    let handler = HttpOptions::new().build(health).expect("valid");
    let server = HttpServer::bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    let address = server.local_addr();
    let response = tokio::task::spawn_blocking(move || get(address, "/status.html"))
        .await
        .expect("ran");
    assert_eq!(response.status, 404);
    server.shutdown().await;
}

/// The text and background colours of `selector`, and their contrast.
async fn colours(page: &support::browser::Page, selector: &str) -> ((u8, u8, u8), f64) {
    let fg = page.computed_style(selector, "color").await;
    let bg = page.computed_style(selector, "background-color").await;
    let fg = parse_rgb(&fg).unwrap_or_else(|| panic!("{selector}: colour {fg}"));
    let bg = parse_rgb(&bg).unwrap_or_else(|| panic!("{selector}: background {bg}"));
    (bg, contrast_ratio(fg, bg))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_each_status_reads_in_colour_and_words_and_no_script_runs() {
    // Started first: web-2's stale results stay in the store for twice the window only.
    let browser = Browser::start().await;
    let dash = dashboard(Details::Always, StatusPage::new()).await;
    let page = browser.open(&dash.url("/status.html"), 1100, 900).await;
    assert_eq!(page.console_errors(), Vec::<String>::new());
    assert_eq!(page.dialogs(), Vec::<String>::new());
    let origin = dash.url("/");
    for request in page.requests() {
        assert!(
            request.starts_with(&origin),
            "an outside request: {request}"
        );
    }
    // The script in a message is text, not an element.
    assert_eq!(page.eval("document.scripts.length").await, 0);
    assert_eq!(
        page.text("tr[data-check='card-gateway'] td.message").await,
        XSS
    );

    // The verdict: colour, and words.
    assert_eq!(page.text("#verdict .verdict-word").await, "Unhealthy");
    let (bg, contrast) = colours(&page, "#verdict").await;
    assert_eq!(bg, (168, 35, 27));
    assert!(contrast >= 4.5, "verdict contrast {contrast}");

    // Each status: its own background, an icon and a word, readable contrast (WCAG AA).
    let mut seen = Vec::new();
    for (selector, text) in [
        ("tr[data-check='database'] .badge", "✓ Healthy"),
        ("tr[data-check='cache'] .badge", "! Degraded"),
        ("tr[data-check='card-gateway'] .badge", "✗ Unhealthy"),
        (
            "td[data-host='web-2'][data-check='database'] .badge",
            "◌ Stale",
        ),
    ] {
        assert_eq!(page.text(selector).await, text, "{selector}");
        let (bg, contrast) = colours(&page, selector).await;
        assert!(contrast >= 4.5, "{selector}: contrast {contrast}");
        assert!(
            !seen.contains(&bg),
            "{selector}: the same colour as another status"
        );
        seen.push(bg);
    }
    assert!(
        page.text("td[data-host='web-2'][data-check='database'] .age")
            .await
            .ends_with("ago, stale")
    );
    assert_eq!(
        page.computed_style("tr[data-check='queue'] rect.unhealthy", "fill")
            .await,
        "rgb(192, 48, 42)"
    );
    let summary = page
        .eval("document.querySelector(\"tr[data-check='queue'] svg\").getAttribute('aria-label')")
        .await;
    assert_eq!(summary, "last 6 runs: 4 healthy, 0 degraded, 2 unhealthy");
    page.screenshot(&artifact_path("status-page.png")).await;

    // On a phone: no sideways scrolling of the page; each check a card.
    let phone = browser.open(&dash.url("/status.html"), 390, 844).await;
    assert_eq!(phone.console_errors(), Vec::<String>::new());
    let overflow = phone
        .eval("document.documentElement.scrollWidth - window.innerWidth")
        .await;
    assert!(overflow.as_i64().is_some_and(|o| o <= 0), "{overflow}");
    assert_eq!(
        phone.computed_style("table.checks thead", "display").await,
        "none"
    );
    assert_eq!(
        phone.text("tr[data-check='cache'] .badge").await,
        "! Degraded"
    );
    phone
        .screenshot(&artifact_path("status-page-phone.png"))
        .await;
    assert!(artifact_path("status-page-phone.png").exists());
    browser.close().await;
    dash.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_hidden_page_shows_only_the_verdict_and_reloads_itself() {
    let dash = dashboard(
        Details::Token("s3cret".into()),
        StatusPage::new().refresh_every(Duration::from_secs(1)),
    )
    .await;
    let browser = Browser::start().await;
    let page = browser.open(&dash.url("/status.html"), 800, 600).await;
    assert_eq!(page.console_errors(), Vec::<String>::new());
    assert_eq!(page.texts("tr.check").await.len(), 0);
    assert!(
        page.text("#details-hidden")
            .await
            .contains("Details are hidden")
    );
    // The meta refresh loads the page again: the footer's time changes, or the document does.
    let marked = page.eval("window.__first_load = true; true").await;
    assert_eq!(marked, true);
    assert!(
        page.wait_for("window.__first_load === undefined", Duration::from_secs(10))
            .await,
        "the page did not reload itself"
    );
    browser.close().await;
    dash.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_mounts_the_page_at_its_own_path_under_the_base() {
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::new().enabled(false))
        .check(Check::new("database", || async { Ok::<_, String>(()) }))
        .build()
        .expect("valid");
    let handler = HttpOptions::new()
        .base_path("/health")
        .status_page(StatusPage::new().path("/board"))
        .status(healthcheck::status::ServiceStatus::new())
        .build(health)
        .expect("valid");
    let app: axum::Router = healthcheck::http::axum::router(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });
    let page = fetch(address, "/health/board", &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-check=\"database\""),
        "{}",
        page.body
    );
    let status = fetch(address, "/health/status", &[]).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.json()["checks"][0]["name"], "database");
    assert_eq!(fetch(address, "/health/status.html", &[]).await.status, 404);
    serving.abort();
}
