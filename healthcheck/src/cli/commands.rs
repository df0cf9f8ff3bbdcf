//! The subcommands of an application's binary: their arguments and what each does.

use std::fmt::Write as _;
use std::time::Duration;

use crate::check::Probe;
use crate::component::Status;
use crate::fleet::{FleetFilter, FleetReduce, FleetView};
use crate::health::HealthChecks;
use crate::report::Report;
use crate::run::selection::Selection;

use super::generate::{GenArgs, GenContext};
use super::{EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_USAGE, Outcome};

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One line per component: `database -> OK (1.2 ms) ok`.
    #[default]
    Text,
    /// python-panopticon's JSON report (for `state`: the fleet view as JSON).
    Json,
    /// A monitoring one-liner: `0;OK`, `1;WARN <degraded>` or `2;FAIL <failing>`.
    Monrun,
}

/// A Kubernetes probe, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeName {
    /// The checks in the liveness probe.
    Liveness,
    /// The checks in the readiness probe.
    Readiness,
    /// The checks in the startup probe.
    Startup,
}

impl From<ProbeName> for Probe {
    fn from(probe: ProbeName) -> Self {
        match probe {
            ProbeName::Liveness => Probe::Liveness,
            ProbeName::Readiness => Probe::Readiness,
            ProbeName::Startup => Probe::Startup,
        }
    }
}

/// `check`: runs checks in-process.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Only the checks of this group (repeatable; with --check, the checks of either).
    #[arg(short = 'g', long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Only this check (repeatable).
    #[arg(short = 'c', long = "check", value_name = "CHECK")]
    pub checks: Vec<String>,
    /// Only the checks that take part in this Kubernetes probe.
    #[arg(long, value_enum)]
    pub probe: Option<ProbeName>,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The exit code when the service is degraded (0, 1 or 2).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub degraded_exit: u8,
}

/// `state`: the fleet's view from the shared store.
#[derive(Debug, Clone, clap::Args)]
pub struct StateArgs {
    /// The service to read (default: this one's; `*` for every service).
    #[arg(long)]
    pub service: Option<String>,
    /// Only this group.
    #[arg(short = 'g', long = "group")]
    pub group: Option<String>,
    /// Only this check.
    #[arg(short = 'c', long = "check")]
    pub check: Option<String>,
    /// The fleet's rule: all (every instance healthy), any (one per group), quorum:N.
    #[arg(long, value_parser = parse_reduce)]
    pub reduce: Option<FleetReduce>,
    /// How to print the state.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_reduce(text: &str) -> Result<FleetReduce, String> {
    text.parse()
}

/// `beat`: a heartbeat's beat through the shared store.
#[derive(Debug, Clone, clap::Args)]
pub struct BeatArgs {
    /// The heartbeat's name.
    pub name: String,
    /// Beat as failed, with this message (the job ran and failed).
    #[arg(long, value_name = "MESSAGE")]
    pub failed: Option<String>,
    /// How long to wait for the store to take the beat.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// `list`: the registered checks.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// How to print the list.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// How `list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ListFormat {
    /// One line per check: name, options, where it is defined.
    #[default]
    Text,
    /// A JSON array of the checks.
    Json,
}

/// A duration such as `2s`, `500ms` or `1m 30s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); expected such as 2s, 500ms, 1m"))
}

/// The exit code of a status.
pub(crate) const fn exit_code(status: Status, degraded_exit: u8) -> u8 {
    match status {
        Status::Healthy => EXIT_HEALTHY,
        Status::Degraded => degraded_exit,
        Status::Unhealthy => EXIT_UNHEALTHY,
    }
}

/// The selection `args` asks for.
fn selection(health: &HealthChecks, args: &CheckArgs) -> Result<Selection, String> {
    let groups: Vec<&str> = health.groups().collect();
    for group in &args.groups {
        if !groups.contains(&group.as_str()) {
            return Err(format!(
                "no check is in group `{group}` (groups: {})",
                list_or_none(groups.iter().copied())
            ));
        }
    }
    for name in &args.checks {
        if health.check(name).is_none() {
            return Err(format!(
                "no check is named `{name}` (checks: {})",
                list_or_none(health.checks().map(crate::check::CheckDef::name))
            ));
        }
    }
    if args.groups.is_empty() && args.checks.is_empty() {
        return Ok(match args.probe {
            Some(probe) => Selection::Probe(probe.into()),
            None => Selection::All,
        });
    }
    let names: Vec<String> = health
        .checks()
        .filter(|check| {
            args.checks.iter().any(|name| name == check.name())
                || args.groups.iter().any(|group| check.in_group(group))
        })
        .filter(|check| args.probe.is_none_or(|probe| check.in_probe(probe.into())))
        .map(|check| check.name().to_owned())
        .collect();
    if names.is_empty() {
        return Err("no check is in both the groups or checks named and the probe".to_owned());
    }
    Ok(Selection::Checks(names))
}

fn list_or_none<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

pub(crate) async fn check(health: &HealthChecks, args: &CheckArgs) -> Outcome {
    let selection = match selection(health, args) {
        Ok(selection) => selection,
        Err(message) => return Outcome::error(EXIT_USAGE, message),
    };
    let report = match health.run_selection(&selection).await {
        Ok(report) => report,
        Err(error) => return Outcome::error(EXIT_USAGE, error),
    };
    // A run in a short-lived process: its results reach the fleet store before it exits.
    if health.fleet_status().is_some() {
        let _ = health.flush_fleet(Duration::from_secs(2)).await;
    }
    let code = exit_code(report.status, args.degraded_exit);
    Outcome::out(code, render_report(&report, args.format))
}

/// The report as `format` prints it.
pub(crate) fn render_report(report: &Report, format: Format) -> String {
    match format {
        Format::Text => report.to_string(),
        Format::Json => format!("{}\n", report.to_json()),
        Format::Monrun => {
            let names = |wanted: fn(&crate::report::ComponentReport) -> bool| {
                report
                    .components
                    .iter()
                    .filter(|(_, c)| wanted(c))
                    .map(|(name, _)| super::one_line(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match report.status {
                Status::Healthy => "0;OK\n".to_owned(),
                Status::Degraded => format!("1;WARN {}\n", names(|c| c.status != Status::Healthy)),
                Status::Unhealthy => format!(
                    "2;FAIL {}\n",
                    names(|c| c.status == Status::Unhealthy && c.critical)
                ),
            }
        }
    }
}

pub(crate) async fn state(health: &HealthChecks, args: &StateArgs) -> Outcome {
    let mut fleet = health.fleet();
    if let Some(reduce) = &args.reduce {
        fleet = fleet.with_reduce(reduce.clone());
    }
    let mut filter = FleetFilter::new();
    match args.service.as_deref() {
        Some("*") => filter = filter.all_services(),
        Some(service) => filter = filter.service(service),
        None => {}
    }
    read_state(
        &fleet,
        filter,
        args.group.as_deref(),
        args.check.as_deref(),
        args.format,
    )
    .await
}

/// Reads the fleet's view narrowed to `group` and `check`, and prints it as `format`: exit 0
/// when the fleet's rule holds, 2 when it does not or the store cannot be read.
pub(crate) async fn read_state(
    fleet: &crate::fleet::Fleet,
    mut filter: FleetFilter,
    group: Option<&str>,
    check: Option<&str>,
    format: Format,
) -> Outcome {
    if let Some(group) = group {
        filter = filter.group(group);
    }
    if let Some(check) = check {
        filter = filter.check(check);
    }
    match fleet.read(&filter).await {
        Ok(view) => {
            let code = if view.healthy {
                EXIT_HEALTHY
            } else {
                EXIT_UNHEALTHY
            };
            Outcome::out(code, render_view(&view, format))
        }
        Err(error) => Outcome::error(EXIT_UNHEALTHY, error),
    }
}

/// The fleet view as `format` prints it.
pub(crate) fn render_view(view: &FleetView, format: Format) -> String {
    match format {
        Format::Text => view.to_text(),
        Format::Json => format!("{}\n", view.to_json()),
        Format::Monrun if view.healthy => "0;OK\n".to_owned(),
        Format::Monrun if view.failing.is_empty() => "2;FAIL nothing was read\n".to_owned(),
        Format::Monrun => format!(
            "2;FAIL {}\n",
            view.failing
                .iter()
                .map(|line| super::one_line(line))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

pub(crate) async fn beat(health: &HealthChecks, args: &BeatArgs) -> Outcome {
    let beaten = match &args.failed {
        Some(message) => health.beat_failed(&args.name, message.clone()),
        None => health.beat(&args.name),
    };
    if let Err(error) = beaten {
        return Outcome::error(EXIT_USAGE, error);
    }
    if health.fleet_status().is_none() {
        return Outcome::error(
            EXIT_USAGE,
            "no fleet store is configured to take the beat (set HEALTHCHECK_STORE or \
             the builder's fleet store)",
        );
    }
    if health.flush_fleet(args.timeout).await {
        Outcome::out(EXIT_HEALTHY, "")
    } else {
        let last = health
            .fleet_status()
            .and_then(|status| status.last_error)
            .map_or_else(|| "no answer".to_owned(), |(_, error)| error);
        Outcome::error(
            EXIT_UNHEALTHY,
            format!(
                "the fleet store did not take the beat within {}: {last}",
                humantime::format_duration(args.timeout)
            ),
        )
    }
}

pub(crate) fn list(health: &HealthChecks, args: &ListArgs) -> Outcome {
    let checks = health.checks();
    if args.format == ListFormat::Json {
        let list: Vec<serde_json::Value> = checks
            .map(|check| check.describe(health.default_timeout()))
            .collect();
        return Outcome::out(EXIT_HEALTHY, format!("{}\n", serde_json::Value::from(list)));
    }
    let mut text = String::new();
    for check in checks {
        let groups: Vec<&str> = check.groups().collect();
        let probes: Vec<&str> = check.probes().map(Probe::as_str).collect();
        let _ = writeln!(
            text,
            "{}  timeout={} critical={} groups={} probes={}{}  {}:{}",
            super::one_line(check.name()),
            humantime::format_duration(check.timeout().unwrap_or(health.default_timeout())),
            check.is_critical(),
            if groups.is_empty() {
                "-".to_owned()
            } else {
                groups.join(",")
            },
            probes.join(","),
            if check.is_blocking() { " blocking" } else { "" },
            check.location().file(),
            check.location().line(),
        );
    }
    Outcome::out(EXIT_HEALTHY, text)
}

pub(crate) fn generate(health: &HealthChecks, args: &GenArgs) -> Outcome {
    let program = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| health.identity().service().to_owned());
    let context = GenContext {
        program,
        service: health.identity().service().to_owned(),
        metrics_prefix: health
            .metrics_prefix()
            .unwrap_or(crate::metrics::DEFAULT_PREFIX)
            .to_owned(),
        groups: health.groups().map(str::to_owned).collect(),
    };
    match args.render(&context) {
        Ok(text) => Outcome::out(EXIT_HEALTHY, text),
        Err(message) => Outcome::error(EXIT_USAGE, message),
    }
}
