//! The headless Chromium of the status page tests (`support::browser`) against a tiny page served
//! on loopback: what it records (console errors, exceptions, dialogs, failed loads, requests) and
//! what it reads (text, computed colours, screenshots).

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde_json::json;
use support::browser::{Browser, artifact_path, contrast_ratio, parse_rgb};

/// The page: a script that sets the title (and, with `?error=1&closed=<port>`, logs an error,
/// loads an image from a closed port and throws), escaped markup that must stay text, and a coloured badge.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>loading</title>
<style>
  body { font: 16px sans-serif; margin: 2rem; }
  #badge { background-color: #1a7f37; color: #ffffff; padding: 0.5rem 1rem; display: inline-block; }
</style>
</head>
<body>
<h1>Status</h1>
<div id="badge">operational</div>
<p id="escaped">&lt;script&gt;alert(1)&lt;/script&gt;</p>
<ul><li class="check">db</li><li class="check">cache</li></ul>
<script>
  document.title = "ready";
  console.log("status page script ran");
  const query = new URLSearchParams(location.search);
  if (query.get("error") === "1") {
    console.error("boom from the page");
    const img = document.createElement("img");
    img.src = "http://127.0.0.1:" + query.get("closed") + "/missing.png";
    document.body.appendChild(img);
    setTimeout(() => { throw new Error("uncaught boom"); }, 0);
  }
</script>
</body>
</html>
"#;

/// A page that opens a real dialog while it loads.
const ALERT_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>before</title></head>
<body><p>alerting</p><script>alert("a real dialog"); document.title = "after";</script></body>
</html>
"#;

/// Serves `PAGE` on `/`, `ALERT_PAGE` on `/alert` and 404 elsewhere, on a thread per
/// connection, until the process ends.
fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("bound");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    addr
}

fn answer(mut stream: TcpStream) {
    // Chromium opens spare connections that never send a request.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buffer = [0; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    let (status, kind, body) = match path {
        "/" => ("200 OK", "text/html; charset=utf-8", PAGE),
        "/alert" => ("200 OK", "text/html; charset=utf-8", ALERT_PAGE),
        _ => ("404 Not Found", "text/plain", "not found"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

#[tokio::test]
async fn a_real_chromium_records_and_reads_a_page() {
    let started = Instant::now();
    let addr = serve();
    let origin = format!("http://{addr}/");
    let browser = Browser::start().await;

    // The clean page: no error, no dialog (the escaped markup stays text).
    let page = browser.open(&origin, 800, 600).await;
    assert_eq!(page.eval("document.title").await, json!("ready"));
    assert_eq!(
        page.eval("[innerWidth, innerHeight]").await,
        json!([800, 600])
    );
    assert_eq!(
        page.eval("new Promise(r => setTimeout(() => r(6 * 7), 10))")
            .await,
        json!(42)
    );
    assert_eq!(page.eval("undefined").await, json!(null));
    assert!(
        page.console_errors().is_empty(),
        "{:?}",
        page.console_errors()
    );
    assert!(page.dialogs().is_empty(), "{:?}", page.dialogs());
    assert!(
        page.console_messages()
            .contains(&("log".to_owned(), "status page script ran".to_owned())),
        "{:?}",
        page.console_messages()
    );
    assert_eq!(page.text("#escaped").await, "<script>alert(1)</script>");
    assert_eq!(page.texts("li.check").await, ["db", "cache"]);
    assert!(page.texts(".nothing").await.is_empty());

    // Colours as computed, and their contrast.
    let background = page.computed_style("#badge", "background-color").await;
    let foreground = page.computed_style("#badge", "color").await;
    assert_eq!(background, "rgb(26, 127, 55)");
    assert_eq!(parse_rgb(&background), Some((26, 127, 55)));
    assert_eq!(parse_rgb(&foreground), Some((255, 255, 255)));
    let contrast = contrast_ratio((26, 127, 55), (255, 255, 255));
    assert!((contrast - 5.08).abs() < 0.05, "{contrast}");
    assert!(contrast >= 4.5, "the badge's text is readable (WCAG AA)");

    // Only loopback was asked for, the document first.
    let requests = page.requests();
    assert_eq!(requests.first(), Some(&origin), "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|url| url.starts_with("http://127.0.0.1:")),
        "{requests:?}"
    );

    // A reload loads again, and `wait_for` sees the page.
    let before = page.requests().len();
    page.reload().await;
    assert!(page.requests().len() > before, "{:?}", page.requests());
    assert!(
        page.wait_for("document.title === 'ready'", Duration::from_secs(5))
            .await
    );
    assert!(
        !page
            .wait_for("document.title === 'never'", Duration::from_millis(200))
            .await
    );
    assert!(
        !page
            .wait_for("no_such_variable.x", Duration::from_millis(100))
            .await
    );

    // A full-page PNG.
    let shot = artifact_path("browser_smoke/clean.png");
    let _ = std::fs::remove_file(&shot);
    page.screenshot(&shot).await;
    let png = std::fs::read(&shot).expect("the screenshot is written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    drop(page);

    // The erroring page: what happens during the load is caught.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let page = browser
        .open(&format!("{origin}?error=1&closed={closed}"), 800, 600)
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while page.console_errors().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let errors = page.console_errors();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors.contains(&"console.error: boom from the page".to_owned()),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("Uncaught Error: uncaught boom")),
        "{errors:?}"
    );
    assert!(
        errors.contains(&format!(
            "failed to load http://127.0.0.1:{closed}/missing.png: net::ERR_CONNECTION_REFUSED"
        )),
        "{errors:?}"
    );
    assert!(page.dialogs().is_empty(), "{:?}", page.dialogs());
    drop(page);

    // A real alert is seen, and dismissed so that the page goes on loading.
    let page = browser.open(&format!("{origin}alert"), 400, 300).await;
    assert_eq!(page.dialogs(), ["a real dialog"]);
    assert_eq!(page.eval("document.title").await, json!("after"));
    drop(page);

    browser.close().await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the smoke test took {:?}",
        started.elapsed()
    );
}

#[test]
fn colours_parse_and_contrast_as_wcag_says() {
    assert_eq!(parse_rgb("rgb(1, 2, 3)"), Some((1, 2, 3)));
    assert_eq!(parse_rgb("rgba(10, 20, 30, 0.5)"), Some((10, 20, 30)));
    assert_eq!(parse_rgb("rgb(10 20 30 / 50%)"), Some((10, 20, 30)));
    assert_eq!(parse_rgb(" #ff8000 "), Some((255, 128, 0)));
    assert_eq!(parse_rgb("#fff"), Some((255, 255, 255)));
    assert_eq!(parse_rgb("red"), None);
    assert_eq!(parse_rgb("rgb(1, 2)"), None);
    assert_eq!(parse_rgb("oklch(0.5 0.1 120)"), None);

    let (black, white) = ((0, 0, 0), (255, 255, 255));
    assert!((contrast_ratio(black, white) - 21.0).abs() < 1e-9);
    assert!((contrast_ratio(white, black) - 21.0).abs() < 1e-9);
    assert!((contrast_ratio((120, 120, 120), (120, 120, 120)) - 1.0).abs() < 1e-9);
    // #767676 on white is the classic "just AA" grey.
    let grey = contrast_ratio((0x76, 0x76, 0x76), white);
    assert!((4.5..4.6).contains(&grey), "{grey}");
}

#[test]
fn artifacts_go_under_the_target_directory() {
    let path = artifact_path("x/y.png");
    assert!(
        path.ends_with("test-artifacts/x/y.png"),
        "{}",
        path.display()
    );
    assert!(path.is_absolute(), "{}", path.display());
}
