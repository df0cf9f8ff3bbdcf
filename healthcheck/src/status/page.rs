//! `GET <base>/status.html`: one self-contained HTML page (no external assets, no script) with
//! the service's verdict, each check with its status, message, response time, groups and a
//! sparkline of its recent runs, and the fleet's check → group → host grid when a shared store
//! is configured. Rendered with askama, which escapes everything that comes from checks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use askama::Template;
use chrono::{SecondsFormat, Utc};

use crate::component::Status;
use crate::fleet::view::Ago;
use crate::fleet::{FleetView, InstanceResult};
use crate::history::HistoryEntry;
use crate::report::{HumanDuration, Report};

/// The default path of the page, under the handler's base path.
pub const STATUS_PAGE_PATH: &str = "/status.html";

/// The longest message shown on the page, in bytes; a longer one is cut and ends with `…`.
const MESSAGE_MAX: usize = 2_000;

/// The HTML status page's settings, for [`HttpOptions::status_page`](crate::http::HttpOptions::status_page).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use healthcheck::HealthChecks;
/// use healthcheck::http::HttpOptions;
/// use healthcheck::status::StatusPage;
///
/// let handler = HttpOptions::new()
///     .status_page(StatusPage::new().title("Orders API").refresh_every(Duration::from_secs(5)))
///     .build(HealthChecks::builder().build()?)?;
/// # let _ = handler;
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct StatusPage {
    pub(crate) path: String,
    pub(crate) title: Option<String>,
    pub(crate) refresh: Option<Duration>,
}

impl Default for StatusPage {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusPage {
    /// At `/status.html`, titled with the service's name, reloading itself every 10 seconds.
    pub fn new() -> Self {
        Self {
            path: STATUS_PAGE_PATH.to_owned(),
            title: None,
            refresh: Some(Duration::from_secs(10)),
        }
    }

    /// The page's path under the handler's base path. Defaults to `/status.html`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.path = format!("/{}", path.trim_matches('/'));
        self
    }

    /// The page's title. Defaults to the service's name.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// How often the page reloads itself (a `<meta http-equiv="refresh">`, whole seconds, at
    /// least 1); `None` turns that off. Defaults to 10 seconds.
    pub fn refresh_every(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.refresh = interval.into();
        self
    }
}

/// What the page shows, gathered by the HTTP handler.
pub(crate) struct PageInput<'a> {
    pub(crate) page: &'a StatusPage,
    pub(crate) service: &'a str,
    pub(crate) report: &'a Report,
    /// Each check's history, by name.
    pub(crate) history: &'a dyn Fn(&str) -> Vec<HistoryEntry>,
    pub(crate) history_len: usize,
    /// The fleet, when a shared store is configured: its view, or why it could not be read.
    pub(crate) fleet: Option<Result<FleetView, String>>,
    pub(crate) details: bool,
}

/// The page's HTML.
pub(crate) fn render(input: &PageInput<'_>) -> String {
    let report = input.report;
    let title = input.page.title.as_deref().unwrap_or(input.service);
    let refresh_seconds = input
        .page
        .refresh
        .map(|interval| interval.as_secs_f64().ceil().max(1.0) as u64);
    let mut counts = [0usize; 3];
    let checks: Vec<CheckRow> = if input.details {
        report
            .components
            .iter()
            .map(|(name, component)| {
                counts[component.status as usize] += 1;
                let look = Look::of(component.status);
                CheckRow {
                    name: name.clone(),
                    class: look.class,
                    icon: look.icon,
                    word: look.word,
                    message: component.status_message.as_deref().map(shorten),
                    response_time: HumanDuration(component.response_duration()).to_string(),
                    groups: component.groups.clone(),
                    critical: component.critical,
                    spark: Spark::of(&(input.history)(name), input.history_len),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let counts = [
        (counts[0], "healthy"),
        (counts[1], "degraded"),
        (counts[2], "unhealthy"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, word)| format!("{n} {word}"))
    .collect::<Vec<_>>()
    .join(", ");
    let (fleet, fleet_error) = match (&input.fleet, input.details) {
        (Some(Ok(view)), true) => (Some(FleetGrid::of(view, input.service)), None),
        (Some(Err(error)), true) => (None, Some(error.clone())),
        _ => (None, None),
    };
    let page = Page {
        title,
        verdict: Look::of(report.status),
        counts,
        details: input.details,
        checks,
        history_len: input.history_len,
        fleet,
        fleet_error,
        refresh_seconds,
        generated: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        version: env!("CARGO_PKG_VERSION"),
    };
    page.render().unwrap_or_else(|error| {
        // Rendering writes into a String: it fails only on a bug of the template.
        tracing::error!(%error, "the status page could not be rendered");
        format!(
            "<!DOCTYPE html><title>status</title><p>The status page could not be rendered; \
             the service is {}.</p>",
            report.status.as_str()
        )
    })
}

#[derive(Template)]
#[template(path = "status.html")]
struct Page<'a> {
    title: &'a str,
    verdict: Look,
    counts: String,
    details: bool,
    checks: Vec<CheckRow>,
    history_len: usize,
    fleet: Option<FleetGrid>,
    fleet_error: Option<String>,
    refresh_seconds: Option<u64>,
    generated: String,
    version: &'static str,
}

/// How a status looks: a class for the colour, and an icon and a word, so that colour is never
/// the only sign.
#[derive(Clone, Copy)]
struct Look {
    class: &'static str,
    icon: &'static str,
    word: &'static str,
}

impl Look {
    const fn of(status: Status) -> Self {
        match status {
            Status::Healthy => Self {
                class: "healthy",
                icon: "✓",
                word: "Healthy",
            },
            Status::Degraded => Self {
                class: "degraded",
                icon: "!",
                word: "Degraded",
            },
            Status::Unhealthy => Self {
                class: "unhealthy",
                icon: "✗",
                word: "Unhealthy",
            },
        }
    }

    const STALE: Self = Self {
        class: "stale",
        icon: "◌",
        word: "Stale",
    };
}

struct CheckRow {
    name: String,
    class: &'static str,
    icon: &'static str,
    word: &'static str,
    message: Option<String>,
    response_time: String,
    groups: Vec<String>,
    critical: bool,
    spark: Spark,
}

/// An SVG bar chart of a check's recent runs: one bar per run, its height the run's duration
/// against the slowest run shown, failures at full height; a caption counts them in words.
struct Spark {
    width: u32,
    height: u32,
    bars: Vec<Bar>,
    summary: String,
    caption: String,
}

struct Bar {
    class: &'static str,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    title: String,
}

impl Spark {
    const BAR: u32 = 3;
    const GAP: u32 = 1;
    const HEIGHT: u32 = 24;

    fn of(entries: &[HistoryEntry], slots: usize) -> Self {
        let slots = slots.max(1);
        let entries = &entries[entries.len().saturating_sub(slots)..];
        let slowest = entries
            .iter()
            .map(|e| e.duration.as_secs_f64())
            .fold(0.0_f64, f64::max);
        let step = Self::BAR + Self::GAP;
        let width = u32::try_from(slots)
            .unwrap_or(u32::MAX / step)
            .saturating_mul(step);
        // The newest run at the right, empty slots at the left.
        let first = slots - entries.len();
        let mut bars = Vec::with_capacity(slots);
        for slot in 0..first {
            bars.push(Bar {
                class: "empty",
                x: slot as u32 * step,
                y: Self::HEIGHT - 2,
                width: Self::BAR,
                height: 2,
                title: "no run".to_owned(),
            });
        }
        let mut counts = [0usize; 3];
        for (i, entry) in entries.iter().enumerate() {
            counts[entry.status as usize] += 1;
            let height = if entry.status == Status::Unhealthy || slowest <= 0.0 {
                Self::HEIGHT
            } else {
                let share = entry.duration.as_secs_f64() / slowest;
                ((share * f64::from(Self::HEIGHT)).round() as u32).clamp(3, Self::HEIGHT)
            };
            let mut title = format!(
                "{} · {} · {}",
                entry.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                entry.status.as_str(),
                HumanDuration(entry.duration)
            );
            if entry.raw_status != entry.status {
                // A flap held back (or a recovery not yet counted): what the run itself said.
                let _ = write!(title, " (the run: {})", entry.raw_status.as_str());
            }
            if let Some(message) = &entry.message {
                let _ = write!(title, " · {}", shorten(message));
            }
            bars.push(Bar {
                class: Look::of(entry.status).class,
                x: (first + i) as u32 * step,
                y: Self::HEIGHT - height,
                width: Self::BAR,
                height,
                title,
            });
        }
        let runs = entries.len();
        let summary = if runs == 0 {
            "no runs yet".to_owned()
        } else {
            format!(
                "last {runs} runs: {} healthy, {} degraded, {} unhealthy",
                counts[0], counts[1], counts[2]
            )
        };
        let caption = match (runs, counts[1], counts[2]) {
            (0, ..) => "no runs yet".to_owned(),
            (_, 0, 0) => format!("{runs} runs, all healthy"),
            (_, degraded, failed) => {
                let mut parts = Vec::new();
                if failed > 0 {
                    parts.push(format!("{failed} failed"));
                }
                if degraded > 0 {
                    parts.push(format!("{degraded} degraded"));
                }
                format!("{runs} runs, {}", parts.join(", "))
            }
        };
        Self {
            width,
            height: Self::HEIGHT,
            bars,
            summary,
            caption,
        }
    }
}

/// The fleet's check → group → host grid of one service.
struct FleetGrid {
    service: String,
    hosts: Vec<String>,
    rows: Vec<FleetRow>,
}

struct FleetRow {
    check: String,
    group: String,
    cells: Vec<Option<FleetCell>>,
}

struct FleetCell {
    host: String,
    class: &'static str,
    icon: &'static str,
    word: &'static str,
    age: String,
    message: Option<String>,
    instances: usize,
}

impl FleetGrid {
    fn of(view: &FleetView, service: &str) -> Self {
        let checks = view.services.get(service);
        let hosts: BTreeSet<&str> = checks
            .into_iter()
            .flat_map(BTreeMap::values)
            .flat_map(BTreeMap::values)
            .flatten()
            .map(|result| result.host.as_str())
            .collect();
        let mut rows = Vec::new();
        for (check, groups) in checks.into_iter().flatten() {
            for (group, results) in groups {
                let cells = hosts
                    .iter()
                    .map(|host| {
                        let on_host: Vec<&InstanceResult> =
                            results.iter().filter(|r| r.host == *host).collect();
                        FleetCell::of(host, &on_host)
                    })
                    .collect();
                rows.push(FleetRow {
                    check: check.clone(),
                    group: group.clone(),
                    cells,
                });
            }
        }
        Self {
            service: service.to_owned(),
            hosts: hosts.into_iter().map(str::to_owned).collect(),
            rows,
        }
    }
}

impl FleetCell {
    /// The worst of the host's instances (stale counts as failing), with the oldest age.
    fn of(host: &str, results: &[&InstanceResult]) -> Option<Self> {
        let worst = results
            .iter()
            .max_by_key(|r| (r.stale || r.status == Status::Unhealthy, r.status))?;
        let look = if worst.stale {
            Look::STALE
        } else {
            Look::of(worst.status)
        };
        let oldest = results.iter().map(|r| r.age).fold(0.0_f64, f64::max);
        let age = Ago(Duration::try_from_secs_f64(oldest).unwrap_or_default()).to_string();
        Some(Self {
            host: host.to_owned(),
            class: look.class,
            icon: look.icon,
            word: look.word,
            age: if worst.stale {
                format!("{age} ago, stale")
            } else {
                format!("{age} ago")
            },
            message: worst.message.as_deref().map(shorten),
            instances: results.len(),
        })
    }
}

/// `message`, cut to at most [`MESSAGE_MAX`] bytes.
fn shorten(message: &str) -> String {
    if message.len() <= MESSAGE_MAX {
        return message.to_owned();
    }
    let mut end = MESSAGE_MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}
