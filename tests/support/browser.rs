//! A real headless Chromium for the status page tests, driven over the DevTools protocol with
//! `chromiumoxide`.
//!
//! [`Browser::start`] runs Debian's `/usr/bin/chromium` (installed by `.ci/install-servers`) with a
//! fresh profile; [`Browser::open`] opens a page and records, from before its navigation, what a
//! person would see in DevTools: console messages, uncaught exceptions, JavaScript dialogs, failed
//! loads and every request the page made. The helpers at the end ([`artifact_path`],
//! [`parse_rgb`], [`contrast_ratio`]) serve the checks of what the page shows.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chromiumoxide::browser::BrowserConfig;
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::log::{EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::browser_protocol::network::{EventLoadingFailed, EventRequestWillBeSent};
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, EventJavascriptDialogOpening, EventLoadEventFired,
    HandleJavaScriptDialogParams, ReloadParams, Viewport,
};
use chromiumoxide::cdp::js_protocol::runtime::{
    EvaluateParams, EventConsoleApiCalled, EventExceptionThrown, ExceptionDetails, RemoteObject,
};
use chromiumoxide::listeners::EventStream;
use chromiumoxide::page::ScreenshotParams;
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;

/// How long Chromium may take to start and answer on its DevTools socket.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a page may take to fire its load event.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one DevTools command (an evaluation, a screenshot) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long closing waits for Chromium to exit before it kills it.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The flags given to Chromium besides chromiumoxide's own (`--headless`, `--no-sandbox`, a
/// `--user-data-dir`, `--disable-background-networking`, `--no-first-run`, `--disable-sync`, ...).
/// The machine's network is closed: without these Chromium keeps trying (and failing) to reach
/// Google's services.
const FLAGS: &[&str] = &[
    "disable-gpu",
    "disable-quic",
    "no-first-run",
    "disable-background-networking",
    "disable-component-update",
    "disable-sync",
    "disable-domain-reliability",
    "no-pings",
];

/// One headless Chromium process, and the task that runs chromiumoxide's handler of its DevTools
/// connection. Dropping it kills Chromium (best effort, even while a test panics) and removes its
/// profile; [`Browser::close`] does it gracefully.
pub struct Browser {
    browser: Option<chromiumoxide::Browser>,
    handler: Option<tokio::task::JoinHandle<()>>,
    /// The profile (`profile/`) and the temporary files (`tmp/`) of this Chromium.
    dir: PathBuf,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts headless Chromium with a fresh temporary `--user-data-dir` (removed on drop) and the
    /// flags `--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    /// --disable-background-networking --disable-component-update --disable-sync`. Panics with a
    /// clear message when Chromium is not installed (run `.ci/install-servers`) or does not start
    /// within 30 s.
    pub async fn start() -> Browser {
        let executable = chromium_executable().unwrap_or_else(|| {
            panic!(
                "Chromium is not installed (neither /usr/bin/chromium nor `chromium` on PATH): \
                 run `.ci/install-servers`, which installs Debian's `chromium` package"
            )
        });
        let dir = fresh_dir();
        let config = BrowserConfig::builder()
            .chrome_executable(&executable)
            // `--headless` is chromiumoxide's default (its `HeadlessMode` is not exported).
            .no_sandbox()
            .user_data_dir(dir.join("profile"))
            // Its temporary files too (the singleton socket, shared memory files), so that a
            // killed Chromium leaves nothing behind in /tmp.
            .env("TMPDIR", dir.join("tmp").to_string_lossy())
            // No emulation set by chromiumoxide: each page gets the viewport `open` is given.
            .viewport(None)
            .launch_timeout(START_TIMEOUT)
            .request_timeout(COMMAND_TIMEOUT)
            .args(FLAGS.iter().copied())
            .build()
            .unwrap_or_else(|e| panic!("configuring Chromium ({}): {e}", executable.display()));
        // Chromium is killed by chromiumoxide when the launch fails or times out.
        let launched = tokio::time::timeout(
            START_TIMEOUT + Duration::from_secs(5),
            chromiumoxide::Browser::launch(config),
        )
        .await;
        let (browser, mut handler) = match launched {
            Ok(Ok(launched)) => launched,
            Ok(Err(e)) => {
                remove_dir(&dir);
                panic!(
                    "starting headless Chromium ({}) failed: {e} ({e:?})",
                    executable.display()
                )
            }
            Err(_) => {
                remove_dir(&dir);
                panic!(
                    "headless Chromium ({}) did not open its DevTools socket within {} s",
                    executable.display(),
                    START_TIMEOUT.as_secs()
                )
            }
        };
        // The handler must be polled for anything to happen; it yields an error for a message
        // it cannot handle, and ends when the connection closes.
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Browser {
            browser: Some(browser),
            handler: Some(handler),
            dir,
        }
    }

    /// Opens `url` in a new page with a `width` x `height` viewport (device scale 1) and waits for
    /// its load event (30 s at most). Records from before the navigation: console messages,
    /// uncaught exceptions, JavaScript dialogs (dismissed at once so that the page does not hang),
    /// failed loads, and every request the page makes. Panics when the page does not load.
    pub async fn open(&self, url: &str, width: u32, height: u32) -> Page {
        let browser = self.browser.as_ref().expect("the browser is running");
        let page = command(
            "opening a new page",
            browser.new_page("about:blank"),
            COMMAND_TIMEOUT,
        )
        .await;
        // Listeners first, then the navigation: nothing that happens during the load is missed.
        let streams = Streams {
            console: listen(&page).await,
            exceptions: listen(&page).await,
            log: listen(&page).await,
            requests: listen(&page).await,
            failures: listen(&page).await,
            loads: listen(&page).await,
        };
        let dialogs: Arc<Mutex<Vec<String>>> = Arc::default();
        let dialog_task = {
            let mut opening = listen::<EventJavascriptDialogOpening>(&page).await;
            let page = page.clone();
            let dialogs = Arc::clone(&dialogs);
            tokio::spawn(async move {
                while let Some(dialog) = opening.next().await {
                    lock(&dialogs).push(dialog.message.clone());
                    // Dismissed (confirm answers false, prompt null), except that a page may
                    // always be left.
                    let leave = dialog.r#type.as_ref() == "beforeunload";
                    let _ = page.execute(HandleJavaScriptDialogParams::new(leave)).await;
                }
            })
        };
        command(
            "setting the viewport",
            page.execute(SetDeviceMetricsOverrideParams::new(
                i64::from(width),
                i64::from(height),
                1.0,
                false,
            )),
            COMMAND_TIMEOUT,
        )
        .await;
        let page = Page {
            page,
            url: url.to_owned(),
            streams: Mutex::new(streams),
            recorded: Mutex::default(),
            dialogs,
            dialog_task,
        };
        // chromiumoxide gives a navigation 30 s of its own, and then fails it with `Timeout`.
        match tokio::time::timeout(LOAD_TIMEOUT + Duration::from_secs(5), page.page.goto(url)).await
        {
            Ok(Ok(_)) => {}
            Ok(Err(chromiumoxide::error::CdpError::Timeout)) | Err(_) => panic!(
                "{url} did not fire its load event within {} s",
                LOAD_TIMEOUT.as_secs()
            ),
            Ok(Err(e)) => panic!("loading {url} failed: {e}"),
        }
        page.settle().await;
        page
    }

    /// Closes the browser and waits for the process to exit (killing it after 10 s); also done,
    /// best effort, on drop.
    pub async fn close(mut self) {
        if let Some(browser) = self.browser.as_mut() {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, browser.close()).await;
            if !matches!(
                tokio::time::timeout(CLOSE_TIMEOUT, browser.wait()).await,
                Ok(Ok(_))
            ) {
                let _ = browser.kill().await;
            }
        }
        if let Some(handler) = self.handler.as_mut() {
            let _ = tokio::time::timeout(Duration::from_secs(5), handler).await;
        }
        // Drop removes the profile (and kills what would be left).
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(mut browser) = self.browser.take() {
            if let Some(child) = browser.get_mut_child() {
                // SIGKILL now (tokio's kill_on_drop would too), then reap it so that its profile
                // can go.
                let _ = child.inner.start_kill();
                let deadline = Instant::now() + CLOSE_TIMEOUT;
                while matches!(child.inner.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        if let Some(handler) = self.handler.take() {
            handler.abort();
        }
        remove_dir(&self.dir);
    }
}

/// The event streams of one page, drained when the test asks what happened.
struct Streams {
    console: EventStream<EventConsoleApiCalled>,
    exceptions: EventStream<EventExceptionThrown>,
    log: EventStream<EventEntryAdded>,
    requests: EventStream<EventRequestWillBeSent>,
    failures: EventStream<EventLoadingFailed>,
    loads: EventStream<EventLoadEventFired>,
}

/// What the page did so far.
#[derive(Default)]
struct Recorded {
    /// `(type, text)` of each console API call.
    console: Vec<(String, String)>,
    /// Uncaught exceptions, failed loads and error entries of the Log domain, in order.
    errors: Vec<String>,
    /// Every requested URL, in order.
    requests: Vec<String>,
    /// The URL of each request by its id, for the failures (which carry only the id).
    urls: HashMap<String, String>,
    /// How many load events fired.
    loads: usize,
}

/// One page (tab) of a [`Browser`], with what it recorded since before its first navigation.
/// Dropping it closes the tab (best effort).
pub struct Page {
    page: chromiumoxide::Page,
    url: String,
    streams: Mutex<Streams>,
    recorded: Mutex<Recorded>,
    dialogs: Arc<Mutex<Vec<String>>>,
    dialog_task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Page {
    /// Evaluates the JavaScript expression `js` in the page (awaiting a promise) and returns its
    /// value as JSON (`null` for `undefined`). Panics, with the expression, when it throws.
    pub async fn eval(&self, js: &str) -> Value {
        let mut params = EvaluateParams::new(js);
        params.await_promise = Some(true);
        params.return_by_value = Some(true);
        let returns = command(
            &format!("evaluating `{js}`"),
            self.page.execute(params),
            COMMAND_TIMEOUT,
        )
        .await
        .result;
        if let Some(exception) = &returns.exception_details {
            panic!("evaluating `{js}` threw: {}", exception_text(exception));
        }
        remote_value(&returns.result)
    }

    /// The `innerText` of the first element that matches the CSS `selector`; panics when none
    /// does.
    pub async fn text(&self, selector: &str) -> String {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return e === null ? null : e.innerText; }})()",
            js_string(selector)
        );
        match self.eval(&js).await {
            Value::String(text) => text,
            _ => panic!("no element matches `{selector}` on {}", self.url),
        }
    }

    /// The `innerText` of every element that matches the CSS `selector`, in document order.
    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let js = format!(
            "Array.from(document.querySelectorAll({}), e => e.innerText)",
            js_string(selector)
        );
        serde_json::from_value(self.eval(&js).await).expect("a list of strings")
    }

    /// `getComputedStyle(element).getPropertyValue(property)` of the first element that matches
    /// the CSS `selector` (colours come as `rgb(r, g, b)`, see [`parse_rgb`]); panics when none
    /// does.
    pub async fn computed_style(&self, selector: &str, property: &str) -> String {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); \
             return e === null ? null : getComputedStyle(e).getPropertyValue({}); }})()",
            js_string(selector),
            js_string(property)
        );
        match self.eval(&js).await {
            Value::String(value) => value,
            _ => panic!("no element matches `{selector}` on {}", self.url),
        }
    }

    /// The errors a person would see in red in DevTools' console: `console.error` (and failed
    /// `console.assert`) messages, uncaught exceptions (`Uncaught Error: ...`), failed loads
    /// (`failed to load <url>: net::ERR_...`) and the browser's own error entries (such as
    /// `Failed to load resource: the server responded with a status of 404`, but for the
    /// `/favicon.ico` that Chromium asks for by itself), in order within each kind.
    pub fn console_errors(&self) -> Vec<String> {
        let recorded = self.recorded();
        let console = recorded
            .console
            .iter()
            .filter(|(kind, _)| kind == "error" || kind == "assert")
            .map(|(kind, text)| format!("console.{kind}: {text}"));
        console.chain(recorded.errors.iter().cloned()).collect()
    }

    /// `(type, text)` of every console API call (`("log", "...")`, `("error", "...")`, ...), the
    /// text being the arguments joined by spaces.
    pub fn console_messages(&self) -> Vec<(String, String)> {
        self.recorded().console.clone()
    }

    /// The message of each JavaScript dialog (alert, confirm, prompt, beforeunload) that opened.
    pub fn dialogs(&self) -> Vec<String> {
        lock(&self.dialogs).clone()
    }

    /// Every URL the page requested, the document included, in order (with the `/favicon.ico`
    /// of its origin that Chromium asks for by itself).
    pub fn requests(&self) -> Vec<String> {
        self.recorded().requests.clone()
    }

    /// Reloads the page and waits for its load event (30 s at most); what it records goes on
    /// accumulating.
    pub async fn reload(&self) {
        let loads = self.recorded().loads;
        command(
            "reloading",
            self.page.execute(ReloadParams::default()),
            COMMAND_TIMEOUT,
        )
        .await;
        let deadline = Instant::now() + LOAD_TIMEOUT;
        while self.recorded().loads == loads {
            assert!(
                Instant::now() < deadline,
                "{} did not fire its load event within {} s of a reload",
                self.url,
                LOAD_TIMEOUT.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.settle().await;
    }

    /// Writes a PNG of the whole page (beyond the viewport, which stays as it is) to `path`,
    /// creating its parent directories.
    pub async fn screenshot(&self, path: &Path) {
        let metrics = command(
            "measuring the page",
            self.page.layout_metrics(),
            COMMAND_TIMEOUT,
        )
        .await;
        let (viewport_width, viewport_height) = (
            metrics.css_layout_viewport.client_width as f64,
            metrics.css_layout_viewport.client_height as f64,
        );
        let content = metrics.css_content_size;
        let params = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .clip(Viewport {
                x: 0.0,
                y: 0.0,
                width: content.width.max(viewport_width).ceil(),
                height: content.height.max(viewport_height).ceil(),
                scale: 1.0,
            })
            .capture_beyond_viewport(true)
            .from_surface(true)
            .build();
        let png = command(
            "taking a screenshot",
            self.page.screenshot(params),
            COMMAND_TIMEOUT,
        )
        .await;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Evaluates the JavaScript expression `js_condition` every 50 ms (awaiting a promise; a
    /// throw counts as false) until it is truthy, and tells whether it became so within
    /// `timeout`.
    pub async fn wait_for(&self, js_condition: &str, timeout: Duration) -> bool {
        let js = format!(
            "(async () => {{ try {{ return !!(await ({js_condition}\n)); }} catch (e) {{ return false; }} }})()"
        );
        let deadline = Instant::now() + timeout;
        loop {
            if self.eval(&js).await == Value::Bool(true) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Makes sure that the events Chromium sent before now have reached the streams: a round
    /// trip through the handler after them.
    async fn settle(&self) {
        self.eval("0").await;
    }

    /// What was recorded, with the events received so far taken in.
    fn recorded(&self) -> MutexGuard<'_, Recorded> {
        let mut recorded = lock(&self.recorded);
        let mut streams = lock(&self.streams);
        // In arrival order within each stream: the requests before their failures.
        while let Some(Some(event)) = streams.requests.next().now_or_never() {
            let url = event.request.url.clone();
            recorded
                .urls
                .insert(event.request_id.as_ref().to_owned(), url.clone());
            recorded.requests.push(url);
        }
        while let Some(Some(event)) = streams.console.next().now_or_never() {
            let text = event
                .args
                .iter()
                .map(remote_text)
                .collect::<Vec<_>>()
                .join(" ");
            recorded
                .console
                .push((event.r#type.as_ref().to_owned(), text));
        }
        while let Some(Some(event)) = streams.exceptions.next().now_or_never() {
            let text = exception_text(&event.exception_details);
            recorded.errors.push(text);
        }
        while let Some(Some(event)) = streams.failures.next().now_or_never() {
            if event.canceled == Some(true) {
                continue; // Aborted by a navigation or by the page itself: not an error.
            }
            let url = recorded
                .urls
                .get(event.request_id.as_ref())
                .cloned()
                .unwrap_or_else(|| format!("request {}", event.request_id.as_ref()));
            let reason = match &event.blocked_reason {
                Some(blocked) => format!("{} (blocked: {})", event.error_text, blocked.as_ref()),
                None => event.error_text.clone(),
            };
            recorded
                .errors
                .push(format!("failed to load {url}: {reason}"));
        }
        while let Some(Some(event)) = streams.log.next().now_or_never() {
            let entry = &event.entry;
            // The browser asks for `/favicon.ico` by itself (headless too), and logs its 404,
            // which no page can prevent but by declaring an icon: not the page's error.
            let favicon = entry.url.as_deref().is_some_and(|url| {
                url.split('?')
                    .next()
                    .unwrap_or(url)
                    .ends_with("/favicon.ico")
            });
            // A network error (`net::ERR_...`) comes with its URL from `Network.loadingFailed`.
            let duplicate = entry.source.as_ref() == "network" && entry.text.contains("net::ERR_");
            if entry.level == LogEntryLevel::Error && !favicon && !duplicate {
                let at = entry.url.as_deref().unwrap_or("");
                recorded.errors.push(format!(
                    "{} error: {} {at}",
                    entry.source.as_ref(),
                    entry.text
                ));
            }
        }
        while let Some(Some(_)) = streams.loads.next().now_or_never() {
            recorded.loads += 1;
        }
        drop(streams);
        recorded
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.dialog_task.abort();
        // Close the tab, so that a page left behind costs nothing; the browser may be gone.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let page = self.page.clone();
            runtime.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), page.close()).await;
            });
        }
    }
}

/// Where tests write artifacts (screenshots): `<target>/test-artifacts/<name>`, `<target>` being
/// `CARGO_TARGET_DIR` when set, else the workspace's `target`.
pub fn artifact_path(name: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => manifest.join(dir), // Joining keeps an absolute path.
        _ => manifest.join("target"),
    };
    target.join("test-artifacts").join(name)
}

/// The `(r, g, b)` of a CSS colour as computed styles give it: `rgb(1, 2, 3)`, `rgba(1, 2, 3,
/// 0.5)` (the alpha ignored), `rgb(1 2 3 / 50%)`, or `#rrggbb` / `#rgb`. `None` for anything else
/// (a colour name, `color(...)`, `oklch(...)`).
pub fn parse_rgb(css: &str) -> Option<(u8, u8, u8)> {
    let css = css.trim();
    if let Some(hex) = css.strip_prefix('#') {
        let digit = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
        return match hex.len() {
            3 | 4 => Some((digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17)),
            6 | 8 => Some((digit(0, 2)?, digit(2, 2)?, digit(4, 2)?)),
            _ => None,
        };
    }
    let inner = css
        .strip_prefix("rgba(")
        .or_else(|| css.strip_prefix("rgb("))?
        .strip_suffix(')')?;
    let mut channels = inner
        .split(|c: char| c == ',' || c == '/' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let value = match part.strip_suffix('%') {
                Some(percent) => percent.parse::<f64>().ok()? * 2.55,
                None => part.parse::<f64>().ok()?,
            };
            value
                .is_finite()
                .then(|| value.round().clamp(0.0, 255.0) as u8)
        });
    Some((channels.next()??, channels.next()??, channels.next()??))
}

/// The WCAG 2 contrast ratio of two colours, from 1 (the same) to 21 (black on white); 4.5 is
/// the minimum for normal text (AA), 3 for large text.
pub fn contrast_ratio(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// `/usr/bin/chromium`, else `chromium` on PATH.
fn chromium_executable() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("chromium"))
        .find(|path| path.is_file())
}

/// A new directory for one Chromium, with its empty `profile/` and `tmp/` (kept short: the
/// singleton socket's path goes in there and must fit in 108 bytes).
fn fresh_dir() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hc-chromium-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    remove_dir(&dir); // Left by an earlier process of the same id.
    for sub in ["profile", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))
            .unwrap_or_else(|e| panic!("creating {}: {e}", dir.join(sub).display()));
    }
    dir
}

/// Removes a directory, retrying a little while a process that just died still writes into it.
fn remove_dir(dir: &Path) {
    for _ in 0..50 {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => return,
        }
    }
}

/// Subscribes to one kind of event of `page`.
async fn listen<T>(page: &chromiumoxide::Page) -> EventStream<T>
where
    T: chromiumoxide::cdp::IntoEventKind + Unpin,
{
    command(
        "listening to the page's events",
        page.event_listener::<T>(),
        COMMAND_TIMEOUT,
    )
    .await
}

/// Awaits a chromiumoxide call, panicking with `what` when it fails or takes longer than
/// `timeout`.
async fn command<T>(
    what: &str,
    call: impl Future<Output = chromiumoxide::Result<T>>,
    timeout: Duration,
) -> T {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what} failed: {e}"),
        Err(_) => panic!("{what} took more than {} s", timeout.as_secs()),
    }
}

/// Locks a mutex, a panic elsewhere notwithstanding.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `text` as a JavaScript string literal.
fn js_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// The JSON value of an evaluation's result: `null` for `undefined`, a string for the values
/// JSON cannot hold (`NaN`, `Infinity`, `-0`, big integers).
fn remote_value(object: &RemoteObject) -> Value {
    match (&object.value, &object.unserializable_value) {
        (Some(value), _) => value.clone(),
        (None, Some(unserializable)) => Value::String(unserializable.as_ref().to_owned()),
        (None, None) => Value::Null,
    }
}

/// How DevTools prints one console argument.
fn remote_text(object: &RemoteObject) -> String {
    match &object.value {
        Some(Value::String(text)) => text.clone(),
        Some(value) => value.to_string(),
        None => object
            .unserializable_value
            .as_ref()
            .map(|v| v.as_ref().to_owned())
            .or_else(|| object.description.clone())
            .unwrap_or_else(|| object.r#type.as_ref().to_owned()),
    }
}

/// `Uncaught Error: boom` (with the stack DevTools prints), from an exception's details.
fn exception_text(details: &ExceptionDetails) -> String {
    match details
        .exception
        .as_ref()
        .and_then(|e| e.description.as_ref())
    {
        Some(description) => format!("{} {description}", details.text),
        None => details.text.clone(),
    }
}
