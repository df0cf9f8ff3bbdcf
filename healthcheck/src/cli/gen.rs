//! `gen`: ready-to-use configuration that runs the checks or watches their results — a crontab
//! line, monrun sections, Kubernetes probes, a Dockerfile `HEALTHCHECK`, a Datadog monitor.
//!
//! Everything is rendered to a `String` (ending with a newline) and printed by the caller;
//! nothing here prints. Inside the application's binary, [`GenArgs::render`] takes a
//! [`GenContext`]: how to invoke the binary, the service's name, the metrics prefix, the groups
//! of its checks. The standalone binary has no application and uses
//! [`GenArgs::render_standalone`], which renders only what needs none (Kubernetes probes, the
//! Docker probe of the readiness endpoint, a Datadog monitor given `--prefix` and `--service`).
//!
//! Arguments in command lines are quoted for `/bin/sh` (and `%` escaped for cron); values that
//! would need more than one line are refused.
//!
//! # Example
//! ```
//! use clap::Parser;
//! use healthcheck::cli::{GenArgs, GenContext};
//!
//! #[derive(Parser)]
//! struct Gen {
//!     #[command(flatten)]
//!     args: GenArgs,
//! }
//!
//! let context = GenContext {
//!     program: "/usr/local/bin/billing".to_owned(),
//!     service: "billing".to_owned(),
//!     metrics_prefix: "billing".to_owned(),
//!     groups: vec!["db".to_owned()],
//! };
//! let command = Gen::parse_from(["gen", "cron", "--group", "db"]);
//! assert_eq!(
//!     command.args.render(&context)?,
//!     "*/5 * * * * /usr/local/bin/billing healthcheck check -g db --format monrun\n",
//! );
//! # Ok::<(), String>(())
//! ```

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum, value_parser};
use serde_json::json;

use super::Format;

/// The subcommand of the application's binary that the generated commands run.
const APP_SUBCOMMAND: &str = "healthcheck";
/// The standalone binary that Docker's `HEALTHCHECK` runs by default.
const STANDALONE_PROGRAM: &str = "healthcheck";
/// `periodSeconds` of the Kubernetes startup probe.
const STARTUP_PERIOD_SECONDS: u32 = 5;
/// Results the Datadog monitor counts (`last(N)`).
const DATADOG_LAST_RESULTS: u32 = 3;
/// Minutes without data before the Datadog monitor alerts.
const DATADOG_NO_DATA_MINUTES: u32 = 10;
/// The Datadog monitor's name, with `<service>` to fill in.
const DATADOG_NAME: &str = "<service>: health check {{check.name}} is not OK";
/// The Datadog monitor's message, with `<service>` and `<minutes>` to fill in; `{{...}}` are
/// Datadog's template variables.
const DATADOG_MESSAGE: &str = "\
{{#is_alert}}The health check {{check.name}} of <service> fails.{{/is_alert}}
{{#is_warning}}The health check {{check.name}} of <service> is degraded.{{/is_warning}}
{{#is_recovery}}The health check {{check.name}} of <service> is healthy again.{{/is_recovery}}
{{#is_no_data}}The health check {{check.name}} of <service> has not reported for <minutes> \
minutes.{{/is_no_data}}";

/// `gen`: prints ready-to-use configuration for cron, monrun, Kubernetes, Docker or Datadog.
#[derive(Debug, Clone, Args)]
pub struct GenArgs {
    /// What to generate.
    #[command(subcommand)]
    pub kind: GenKind,
}

/// What `gen` generates.
#[derive(Debug, Clone, Subcommand)]
pub enum GenKind {
    /// A crontab line that runs the checks on a schedule.
    Cron(CronArgs),
    /// monrun sections (`/etc/monrun/conf.d/`), one per group of checks.
    Monrun(MonrunArgs),
    /// Kubernetes liveness, readiness and startup probes on the HTTP endpoints (YAML to paste
    /// under a container).
    K8s(K8sArgs),
    /// A Dockerfile `HEALTHCHECK` instruction.
    Docker(DockerArgs),
    /// A Datadog monitor (JSON) on the service check the metrics send for every check.
    DatadogMonitor(DatadogArgs),
}

/// Options of `gen cron`.
#[derive(Debug, Clone, Args)]
pub struct CronArgs {
    /// When to run: five crontab fields (minute hour day-of-month month day-of-week), each `*`,
    /// a number, a range (`1-5`), a step (`*/10`, `0-30/10`) or a list of those (`0,30`);
    /// names for months (`jan`) and days of the week (`mon`). Also `@hourly`, `@daily`,
    /// `@weekly`, `@monthly`, `@yearly`.
    #[arg(long, default_value = "*/5 * * * *")]
    pub schedule: String,
    /// Runs only the checks of this group; repeat for several. All checks when none is given.
    #[arg(short = 'g', long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// The output format of the check.
    #[arg(long, value_enum, default_value_t = Format::Monrun)]
    pub format: Format,
    /// Appends the command's output and errors to this file (`>> PATH 2>&1`). Without it,
    /// cron mails them.
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,
    /// The user to run as, a field of its own in `/etc/crontab` and `/etc/cron.d/` files
    /// (not in a user's own crontab).
    #[arg(long)]
    pub user: Option<String>,
}

/// Options of `gen monrun`.
#[derive(Debug, Clone, Args)]
pub struct MonrunArgs {
    /// The monrun checks are named `<PREFIX>-<group>` (`<PREFIX>` alone for all checks).
    /// Defaults to the service's name.
    #[arg(long)]
    pub prefix: Option<String>,
    /// A section for this group; repeat for several. Defaults to every group the application
    /// declares, or one section for all checks when it declares none.
    #[arg(short = 'g', long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// One section that runs all checks, instead of one per group.
    #[arg(long, conflicts_with = "groups")]
    pub all: bool,
    /// Seconds between two runs (`execution_interval`).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = value_parser!(u32).range(1..))]
    pub interval: u32,
    /// Seconds after which monrun stops a run (`execution_timeout`).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = value_parser!(u32).range(1..))]
    pub timeout: u32,
}

/// Where the service's health endpoints listen.
#[derive(Debug, Clone, Args)]
pub struct HttpEndpoint {
    /// The port of the health endpoints.
    #[arg(long, default_value_t = 8080, value_parser = value_parser!(u16).range(1..))]
    pub port: u16,
    /// The path the endpoints are mounted under, such as `/health` for `/health/readyz`.
    /// Empty for the root.
    #[arg(long, value_name = "PATH", default_value = "")]
    pub base_path: String,
}

/// Options of `gen k8s`.
#[derive(Debug, Clone, Args)]
pub struct K8sArgs {
    /// Where the probes go.
    #[command(flatten)]
    pub endpoint: HttpEndpoint,
    /// Seconds between two liveness or readiness probes (`periodSeconds`).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = value_parser!(u32).range(1..))]
    pub period: u32,
    /// Seconds a probe may take before it counts as failed (`timeoutSeconds`).
    #[arg(long, value_name = "SECONDS", default_value_t = 2, value_parser = value_parser!(u32).range(1..))]
    pub timeout: u32,
    /// Failed liveness probes in a row before the container is restarted, or readiness probes
    /// before it is taken out of the service's endpoints (`failureThreshold`).
    #[arg(long, value_name = "COUNT", default_value_t = 3, value_parser = value_parser!(u32).range(1..))]
    pub failure_threshold: u32,
    /// Seconds the service may take to start before it is restarted: the startup probe runs
    /// every 5 seconds, this long (its `failureThreshold` is this divided by 5, rounded up).
    #[arg(long, value_name = "SECONDS", default_value_t = 150, value_parser = value_parser!(u32).range(1..))]
    pub startup_seconds: u32,
}

/// Options of `gen docker`.
#[derive(Debug, Clone, Args)]
pub struct DockerArgs {
    /// The readiness endpoint the standalone `healthcheck probe` asks.
    #[command(flatten)]
    pub endpoint: HttpEndpoint,
    /// Time between two checks (`30s`, `1m30s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Time a check may take before it counts as failed.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Time after the start during which failures do not count.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub start_period: Duration,
    /// Failed checks in a row before the container is unhealthy.
    #[arg(long, value_name = "COUNT", default_value_t = 3, value_parser = value_parser!(u32).range(1..))]
    pub retries: u32,
    /// Runs the application's own checks (`<program> healthcheck check --format text`) instead
    /// of the standalone `healthcheck probe` of the readiness endpoint.
    #[arg(long, conflicts_with_all = ["port", "base_path"])]
    pub in_app: bool,
    /// With `--in-app`: runs only the checks of this group; repeat for several.
    #[arg(short = 'g', long = "group", value_name = "GROUP", requires = "in_app")]
    pub groups: Vec<String>,
}

/// Options of `gen datadog-monitor`.
#[derive(Debug, Clone, Args)]
pub struct DatadogArgs {
    /// The metrics prefix: the service check is `<PREFIX>.check`. Defaults to the
    /// application's.
    #[arg(long)]
    pub prefix: Option<String>,
    /// The service (its `service` tag) whose checks the monitor watches. Defaults to the
    /// application's.
    #[arg(long)]
    pub service: Option<String>,
    /// Whom to notify, a Datadog handle such as `@pagerduty-billing` or `@slack-ops`, added to
    /// the message; repeat for several.
    #[arg(long, value_name = "HANDLE")]
    pub notify: Vec<String>,
    /// A tag of the monitor (`team:payments`); repeat for several. `service:<SERVICE>` is
    /// always there.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

/// What `gen` knows of the application, filled in by the application's binary.
#[derive(Debug, Clone)]
pub struct GenContext {
    /// How to invoke the application, such as the current executable's path.
    pub program: String,
    /// The service's name: the default monrun prefix and Datadog `service`.
    pub service: String,
    /// The prefix of the metrics: the service check is `<metrics_prefix>.check`.
    pub metrics_prefix: String,
    /// The groups the application's checks declare.
    pub groups: Vec<String>,
}

impl GenArgs {
    /// The configuration for the application described by `context`: the text to print,
    /// ending with a newline.
    ///
    /// # Errors
    /// A one-line message that says which value is wrong and what is expected: a schedule that
    /// is not a crontab schedule, a group the application does not declare, a value with a line
    /// break, a base path that is not a URL path, a name Datadog would not accept.
    pub fn render(&self, context: &GenContext) -> Result<String, String> {
        self.kind.render(Some(context))
    }

    /// The configuration for the standalone binary, which has no application: Kubernetes
    /// probes, the Docker probe of the readiness endpoint and a Datadog monitor given
    /// `--prefix` and `--service`.
    ///
    /// # Errors
    /// What [`render`](Self::render) fails with, and a message that says the application's
    /// binary is needed for `cron`, `monrun` and `docker --in-app`, or that `datadog-monitor`
    /// needs `--prefix` and `--service`.
    pub fn render_standalone(&self) -> Result<String, String> {
        self.kind.render(None)
    }
}

impl GenKind {
    fn render(&self, context: Option<&GenContext>) -> Result<String, String> {
        match self {
            Self::Cron(args) => cron(args, application(context, "cron")?),
            Self::Monrun(args) => monrun(args, application(context, "monrun")?),
            Self::K8s(args) => k8s(args),
            Self::Docker(args) => docker(args, context),
            Self::DatadogMonitor(args) => datadog_monitor(args, context),
        }
    }
}

/// The context, or an error saying that `gen <what>` runs from the application's binary.
fn application<'a>(context: Option<&'a GenContext>, what: &str) -> Result<&'a GenContext, String> {
    context.ok_or_else(|| {
        format!(
            "`gen {what}` needs the application's binary, which runs the checks: run \
             `<your service> {APP_SUBCOMMAND} gen {what}` instead"
        )
    })
}

fn cron(args: &CronArgs, context: &GenContext) -> Result<String, String> {
    let schedule = cron_schedule(&args.schedule)?;
    let mut command = shell_words(&check_command(context, &args.groups, args.format)?);
    if let Some(log) = &args.log {
        let log = log
            .to_str()
            .ok_or_else(|| format!("--log {log:?} is not valid UTF-8; expected a UTF-8 path"))?;
        single_line("--log", log)?;
        command = format!("{command} >> {} 2>&1", shell_quote(log));
    }
    let user = match &args.user {
        Some(user) if !one_word(user) => {
            return Err(format!(
                "--user {user:?} is not a user name; expected one word such as `root`"
            ));
        }
        Some(user) => format!("{user} "),
        None => String::new(),
    };
    // cron turns an unescaped `%` of the command into a line break.
    Ok(format!(
        "{schedule} {user}{}\n",
        command.replace('%', r"\%")
    ))
}

fn monrun(args: &MonrunArgs, context: &GenContext) -> Result<String, String> {
    let prefix = args.prefix.as_deref().unwrap_or(&context.service);
    if prefix.is_empty() {
        return Err(
            "the monrun prefix is empty; expected a name such as the service's (--prefix)"
                .to_owned(),
        );
    }
    let groups: &[String] = match (args.all, args.groups.is_empty()) {
        (true, _) => &[],
        (false, false) => &args.groups,
        (false, true) => &context.groups,
    };
    let sections = if groups.is_empty() {
        vec![monrun_section(args, context, prefix.to_owned(), &[])?]
    } else {
        groups
            .iter()
            .map(|group| {
                monrun_section(
                    args,
                    context,
                    format!("{prefix}-{group}"),
                    std::slice::from_ref(group),
                )
            })
            .collect::<Result<_, _>>()?
    };
    Ok(sections.join("\n"))
}

fn monrun_section(
    args: &MonrunArgs,
    context: &GenContext,
    name: String,
    groups: &[String],
) -> Result<String, String> {
    single_line("monrun check name", &name)?;
    if name.contains(['[', ']']) {
        return Err(format!(
            "monrun check name {name:?} contains a bracket; expected a name without `[` or `]`"
        ));
    }
    let command = shell_words(&check_command(context, groups, Format::Monrun)?);
    Ok(format!(
        "[{name}]\nexecution_interval={}\nexecution_timeout={}\ncommand={command}\n",
        args.interval, args.timeout
    ))
}

fn k8s(args: &K8sArgs) -> Result<String, String> {
    let port = args.endpoint.port;
    let startup_failures = args.startup_seconds.div_ceil(STARTUP_PERIOD_SECONDS);
    let probes = [
        (
            "livenessProbe",
            "livez",
            args.period,
            args.failure_threshold,
        ),
        (
            "readinessProbe",
            "readyz",
            args.period,
            args.failure_threshold,
        ),
        (
            "startupProbe",
            "startupz",
            STARTUP_PERIOD_SECONDS,
            startup_failures,
        ),
    ];
    let mut yaml = String::new();
    for (key, endpoint, period, failures) in probes {
        // A JSON string is a YAML double-quoted scalar.
        let path = serde_json::Value::from(args.endpoint.path(endpoint)?);
        yaml.push_str(&format!(
            "{key}:\n  httpGet:\n    path: {path}\n    port: {port}\n  initialDelaySeconds: 0\n  \
             periodSeconds: {period}\n  timeoutSeconds: {timeout}\n  successThreshold: 1\n  \
             failureThreshold: {failures}\n",
            timeout = args.timeout,
        ));
    }
    Ok(yaml)
}

fn docker(args: &DockerArgs, context: Option<&GenContext>) -> Result<String, String> {
    let command = if args.in_app {
        let context = application(context, "docker --in-app")?;
        check_command(context, &args.groups, Format::Text)?
    } else {
        let url = format!(
            "http://127.0.0.1:{}{}",
            args.endpoint.port,
            args.endpoint.path("readyz")?
        );
        // The probe gives up when Docker would: its own default is shorter.
        vec![
            STANDALONE_PROGRAM.to_owned(),
            "probe".to_owned(),
            url,
            "--timeout".to_owned(),
            humantime::format_duration(args.timeout).to_string(),
        ]
    };
    Ok(format!(
        "HEALTHCHECK --interval={} --timeout={} --start-period={} --retries={} CMD {}\n",
        docker_duration("--interval", args.interval)?,
        docker_duration("--timeout", args.timeout)?,
        docker_duration("--start-period", args.start_period)?,
        args.retries,
        serde_json::Value::from(command),
    ))
}

fn datadog_monitor(args: &DatadogArgs, context: Option<&GenContext>) -> Result<String, String> {
    let prefix = given_or_context(
        args.prefix.as_deref(),
        context.map(|c| c.metrics_prefix.as_str()),
        "--prefix",
    )?;
    let service = given_or_context(
        args.service.as_deref(),
        context.map(|c| c.service.as_str()),
        "--service",
    )?;
    datadog_metric_name("--prefix", prefix)?;
    datadog_tag("--service", service)?;
    let service_tag = format!("service:{service}");
    let monitor = json!({
        "name": DATADOG_NAME.replace("<service>", service),
        "type": "service check",
        "query": format!(
            "\"{prefix}.check\".over(\"{service_tag}\").by(\"check\")\
             .last({DATADOG_LAST_RESULTS}).count_by_status()"
        ),
        "message": datadog_message(service, &args.notify)?,
        "options": {
            "thresholds": { "critical": 2, "warning": 1, "ok": 1 },
            "notify_no_data": true,
            "no_data_timeframe": DATADOG_NO_DATA_MINUTES,
            "renotify_interval": 0,
        },
        "tags": datadog_tags(service_tag, &args.tags)?,
    });
    let text = serde_json::to_string_pretty(&monitor).map_err(|error| error.to_string())?;
    Ok(text + "\n")
}

/// The monitor's message, then the handles to notify.
fn datadog_message(service: &str, notify: &[String]) -> Result<String, String> {
    let message = DATADOG_MESSAGE
        .replace("<service>", service)
        .replace("<minutes>", &DATADOG_NO_DATA_MINUTES.to_string());
    for handle in notify {
        if !(handle.starts_with('@') && handle.len() > 1 && one_word(handle)) {
            return Err(format!(
                "--notify {handle:?} is not a Datadog handle; expected one word starting with \
                 `@`, such as `@pagerduty-billing` or `@slack-ops`"
            ));
        }
    }
    if notify.is_empty() {
        return Ok(message);
    }
    Ok(format!("{message}\n\n{}", notify.join(" ")))
}

/// The monitor's tags: `service:<service>` and the others given, once each.
fn datadog_tags(service_tag: String, given: &[String]) -> Result<Vec<String>, String> {
    let mut tags = vec![service_tag];
    for tag in given {
        datadog_tag("--tag", tag)?;
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    Ok(tags)
}

/// `given`, else the application's value, else an error saying that `option` is needed.
fn given_or_context<'a>(
    given: Option<&'a str>,
    context: Option<&'a str>,
    option: &str,
) -> Result<&'a str, String> {
    given.or(context).ok_or_else(|| {
        format!(
            "`gen datadog-monitor` outside the application needs {option}; expected `--prefix \
             <metrics prefix> --service <service>`"
        )
    })
}

impl HttpEndpoint {
    /// The path of `endpoint` (`readyz`) under the base path.
    fn path(&self, endpoint: &str) -> Result<String, String> {
        let base = self.base_path.trim_end_matches('/');
        let valid = base.is_empty()
            || base.strip_prefix('/').is_some_and(|segments| {
                segments
                    .split('/')
                    .all(|segment| !segment.is_empty() && url_path_segment(segment))
            });
        if !valid {
            return Err(format!(
                "--base-path {:?} is not a URL path; expected empty or a path such as `/health` \
                 (segments of letters, digits, `-._~!$&'()*+,;=:@` and `%XX` escapes)",
                self.base_path
            ));
        }
        Ok(format!("{base}/{endpoint}"))
    }
}

/// Whether `segment` is made of the characters RFC 3986 allows in a path segment.
fn url_path_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%' {
            let escape = bytes.get(index + 1..index + 3);
            if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            index += 3;
        } else if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            index += 1;
        } else {
            return false;
        }
    }
    true
}

/// `<program> healthcheck check [-g <group>]... --format <format>`, one argument a word.
fn check_command(
    context: &GenContext,
    groups: &[String],
    format: Format,
) -> Result<Vec<String>, String> {
    if context.program.is_empty() {
        return Err("the program to run is empty; expected the application's path".to_owned());
    }
    single_line("program", &context.program)?;
    let mut words = vec![
        context.program.clone(),
        APP_SUBCOMMAND.to_owned(),
        "check".to_owned(),
    ];
    for group in groups {
        single_line("group", group)?;
        if !context.groups.contains(group) {
            return Err(format!(
                "unknown group {group:?}; expected {}",
                known_groups(context)
            ));
        }
        words.extend(["-g".to_owned(), group.clone()]);
    }
    let format = format.to_possible_value().ok_or("the format has no name")?;
    words.extend(["--format".to_owned(), format.get_name().to_owned()]);
    Ok(words)
}

/// The application's groups, for an error message.
fn known_groups(context: &GenContext) -> String {
    if context.groups.is_empty() {
        return "no group: the application declares none".to_owned();
    }
    let quoted: Vec<String> = context.groups.iter().map(|g| format!("{g:?}")).collect();
    format!("one of {}", quoted.join(", "))
}

/// An error when `value` of `what` is not a single line.
fn single_line(what: &str, value: &str) -> Result<(), String> {
    if value.contains(char::is_control) {
        return Err(format!(
            "{what} {value:?} contains a line break or another control character; expected a \
             single line"
        ));
    }
    Ok(())
}

/// Whether `value` is one word: not empty, no space, no control character.
fn one_word(value: &str) -> bool {
    !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c.is_control())
}

/// `words` as a `/bin/sh` command line.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` as one `/bin/sh` word: as it is when it has nothing special, else single-quoted.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The shorthands that cron accepts for a whole schedule (`@reboot` is not a schedule).
const CRON_NICKNAMES: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// One field of a crontab schedule.
struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names of the values from `min` on.
    names: &'static [&'static str],
    expected: &'static str,
}

const CRON_FIELDS: [CronField; 5] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        expected: "0-59",
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        expected: "0-23",
    },
    CronField {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        expected: "1-31",
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
        expected: "1-12 or jan-dec",
    },
    CronField {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
        expected: "0-7 (0 and 7 are Sunday) or sun-sat",
    },
];

/// The schedule, its fields separated by one space, if cron accepts it.
fn cron_schedule(schedule: &str) -> Result<String, String> {
    let trimmed = schedule.trim();
    if CRON_NICKNAMES.contains(&trimmed) {
        return Ok(trimmed.to_owned());
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    if fields.len() != CRON_FIELDS.len() {
        return Err(format!(
            "--schedule {schedule:?} has {} fields; expected 5 (minute hour day-of-month month \
             day-of-week) such as \"*/5 * * * *\", or one of {}",
            fields.len(),
            CRON_NICKNAMES.join(", ")
        ));
    }
    for (field, text) in CRON_FIELDS.iter().zip(&fields) {
        field.check(text).map_err(|reason| {
            format!(
                "--schedule {schedule:?}: in the {} field {text:?}, {reason}; expected `*`, {}, a \
                 range, a step (`*/N`, `A-B/N`) or a comma-separated list of those",
                field.name, field.expected
            )
        })?;
    }
    Ok(fields.join(" "))
}

impl CronField {
    fn check(&self, text: &str) -> Result<(), String> {
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            if let Some(step) = step {
                if !step
                    .parse::<u32>()
                    .is_ok_and(|step| (1..=self.max).contains(&step))
                {
                    return Err(format!("the step of {item:?} is not 1-{}", self.max));
                }
            }
            if range == "*" {
                continue;
            }
            match range.split_once('-') {
                Some((low, high)) => {
                    if self.value(low)? > self.value(high)? {
                        return Err(format!("the range {range:?} runs backwards"));
                    }
                }
                None if step.is_some() => {
                    return Err(format!("{item:?} has a step after neither `*` nor a range"));
                }
                None => {
                    self.value(range)?;
                }
            }
        }
        Ok(())
    }

    fn value(&self, text: &str) -> Result<u32, String> {
        if text.is_empty() {
            return Err("a value is empty".to_owned());
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u32>() {
                Ok(value) if (self.min..=self.max).contains(&value) => Ok(value),
                _ => Err(format!("{text} is out of range")),
            };
        }
        self.names
            .iter()
            .zip(self.min..)
            .find_map(|(name, value)| name.eq_ignore_ascii_case(text).then_some(value))
            .ok_or_else(|| format!("{text:?} is not a value"))
    }
}

/// `duration` as Docker reads it (`30s`, `1m30s`, `500ms`).
fn docker_duration(option: &str, duration: Duration) -> Result<String, String> {
    let millis = duration.as_millis();
    if millis == 0 || duration.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!(
            "{option} {} is not a whole number of milliseconds of at least 1ms; expected a \
             duration such as `30s` or `1m30s`",
            humantime::format_duration(duration)
        ));
    }
    if millis % 1000 != 0 {
        return Ok(format!("{millis}ms"));
    }
    let seconds = duration.as_secs();
    let parts = [
        (seconds / 3600, "h"),
        (seconds / 60 % 60, "m"),
        (seconds % 60, "s"),
    ];
    Ok(parts
        .iter()
        .filter(|(count, _)| *count != 0)
        .map(|(count, unit)| format!("{count}{unit}"))
        .collect())
}

/// An error unless `name` is a Datadog metric name: ASCII letters, digits, `_` and `.`,
/// starting with a letter.
fn datadog_metric_name(option: &str, name: &str) -> Result<(), String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'));
    if !valid {
        return Err(format!(
            "{option} {name:?} is not a Datadog metric name; expected ASCII letters, digits, `_` \
             and `.`, starting with a letter"
        ));
    }
    Ok(())
}

/// An error unless `tag` is a Datadog tag as written: letters, digits, `_-:./`, starting with a
/// letter, at most 200 characters.
fn datadog_tag(option: &str, tag: &str) -> Result<(), String> {
    let valid = tag.starts_with(char::is_alphabetic)
        && tag.chars().count() <= 200
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '/'));
    if !valid {
        return Err(format!(
            "{option} {tag:?} is not a Datadog tag; expected letters, digits, `_-:./`, starting \
             with a letter, at most 200 characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Gen {
        #[command(flatten)]
        args: GenArgs,
    }

    fn parse(args: &[&str]) -> GenArgs {
        match Gen::try_parse_from(std::iter::once("gen").chain(args.iter().copied())) {
            Ok(command) => command.args,
            Err(error) => panic!("{args:?}: {error}"),
        }
    }

    fn context() -> GenContext {
        GenContext {
            program: "/usr/local/bin/billing".to_owned(),
            service: "billing".to_owned(),
            metrics_prefix: "billing.app".to_owned(),
            groups: vec!["db".to_owned(), "cache".to_owned()],
        }
    }

    const HOSTILE_GROUP: &str = "a b'c $HOME 100%";

    fn hostile_context() -> GenContext {
        GenContext {
            program: "/opt/my app/it's/billing".to_owned(),
            groups: vec![HOSTILE_GROUP.to_owned()],
            ..context()
        }
    }

    fn render(args: &[&str]) -> String {
        let text = parse(args)
            .render(&context())
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert!(text.ends_with('\n'), "{text:?}");
        text
    }

    fn render_error(args: GenArgs, context: &GenContext) -> String {
        let error = args.render(context).expect_err("an error");
        assert!(!error.contains('\n'), "{error:?}");
        error
    }

    /// The words `/bin/sh` makes of `command`, its redirections carried out.
    #[cfg(unix)]
    fn sh_words(command: &str) -> Vec<String> {
        let script = format!("set -- {command}\nprintf '%s\\0' \"$@\"");
        let output = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .output()
            .expect("/bin/sh runs");
        assert!(output.status.success(), "{command}: {output:?}");
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        text.split_terminator('\0').map(str::to_owned).collect()
    }

    /// The command cron hands to the shell: `\%` is `%`; an unescaped `%` would end it.
    fn cron_unescape(command: &str) -> String {
        let mut out = String::new();
        let mut chars = command.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&'%') => out.push(chars.next().unwrap_or('%')),
                '%' => panic!("an unescaped % in {command:?}"),
                c => out.push(c),
            }
        }
        out
    }

    /// A crontab line as its schedule (checked by croner) and its command.
    fn split_crontab_line(line: &str) -> (String, String) {
        let line = line.strip_suffix('\n').expect("one line");
        assert!(!line.contains('\n'));
        let fields: Vec<&str> = line.splitn(6, ' ').collect();
        let schedule = fields[..5].join(" ");
        croner_parse(&schedule).unwrap_or_else(|e| panic!("{schedule}: {e}"));
        (schedule, cron_unescape(fields[5]))
    }

    fn croner_parse(schedule: &str) -> Result<croner::Cron, croner::errors::CronError> {
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .build()
            .parse(schedule)
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn the_arguments_are_consistent() {
        use clap::CommandFactory;
        Gen::command().debug_assert();
    }

    #[test]
    fn cron_runs_the_checks_every_five_minutes() {
        let line = render(&["cron"]);
        assert_eq!(
            line,
            "*/5 * * * * /usr/local/bin/billing healthcheck check --format monrun\n"
        );
        let (schedule, command) = split_crontab_line(&line);
        let cron = croner_parse(&schedule).expect("a schedule");
        let at = |minute| {
            chrono::NaiveDate::from_ymd_opt(2025, 3, 14)
                .and_then(|d| d.and_hms_opt(12, minute, 0))
                .expect("a time")
                .and_utc()
        };
        assert!(cron.is_time_matching(&at(5)).expect("matches"));
        assert!(!cron.is_time_matching(&at(7)).expect("matches"));
        #[cfg(unix)]
        assert_eq!(
            sh_words(&command),
            strings(&[
                "/usr/local/bin/billing",
                "healthcheck",
                "check",
                "--format",
                "monrun"
            ])
        );
    }

    #[test]
    fn cron_options() {
        let line = render(&[
            "cron",
            "--schedule",
            "0  9-17/2 * jan,jul mon-fri",
            "-g",
            "db",
            "--group",
            "cache",
            "--format",
            "json",
            "--user",
            "billing",
        ]);
        assert_eq!(
            line,
            "0 9-17/2 * jan,jul mon-fri billing /usr/local/bin/billing healthcheck check -g db -g \
             cache --format json\n"
        );
        split_crontab_line(&line);
        assert_eq!(
            render(&["cron", "--schedule", "@hourly"])
                .split_once(' ')
                .map(|s| s.0),
            Some("@hourly")
        );
    }

    #[cfg(unix)]
    #[test]
    fn cron_quotes_for_the_shell_and_escapes_percent_signs() {
        let dir = std::env::temp_dir().join(format!("gen cron {}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let log = dir.join("it's 100%.log");
        let args = parse(&[
            "cron",
            "-g",
            HOSTILE_GROUP,
            "--log",
            log.to_str().expect("UTF-8"),
        ]);
        let line = args.render(&hostile_context()).expect("a line");
        let (_, command) = split_crontab_line(&line);
        let words = sh_words(&command);
        let created = log.exists();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            words,
            strings(&[
                "/opt/my app/it's/billing",
                "healthcheck",
                "check",
                "-g",
                HOSTILE_GROUP,
                "--format",
                "monrun"
            ])
        );
        assert!(created, "the log redirection of {line:?}");
    }

    #[test]
    fn cron_refuses_line_breaks_and_unknown_groups() {
        let with_newline = GenContext {
            program: "/usr/bin/billing\nrm -rf /".to_owned(),
            ..context()
        };
        assert!(render_error(parse(&["cron"]), &with_newline).contains("program"));
        let group = GenContext {
            groups: vec!["db\n* * * * * evil".to_owned()],
            ..context()
        };
        let error = render_error(parse(&["cron", "-g", "db\n* * * * * evil"]), &group);
        assert!(
            error.contains("group") && error.contains("line break"),
            "{error}"
        );
        let error = render_error(parse(&["cron", "-g", "dbs"]), &context());
        assert_eq!(
            error,
            r#"unknown group "dbs"; expected one of "db", "cache""#
        );
        let error = render_error(parse(&["cron", "--user", "ro\tot"]), &context());
        assert!(error.starts_with("--user"), "{error}");
        let error = render_error(parse(&["cron", "--log", "/var/log/a\nb"]), &context());
        assert!(error.starts_with("--log"), "{error}");
    }

    #[test]
    fn cron_schedules_are_checked_as_cron_checks_them() {
        for valid in [
            "*/5 * * * *",
            "0 0 * * *",
            "*/15 9-17 * * mon-fri",
            "0 0 1 JAN,jul *",
            "30 4 1,15 * 5",
            "0 22 * * 1-5/2",
            "59 23 31 12 7",
            "0-59/59 0 1 1 0",
        ] {
            assert_eq!(cron_schedule(valid), Ok(valid.to_owned()));
            croner_parse(valid).unwrap_or_else(|e| panic!("croner: {valid}: {e}"));
        }
        for (invalid, field) in [
            ("61 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day-of-month"),
            ("* * 32 * *", "day-of-month"),
            ("* * * 13 *", "month"),
            ("* * * * 8", "day-of-week"),
            ("* * * * 1-9", "day-of-week"),
        ] {
            let error = cron_schedule(invalid).expect_err(invalid);
            assert!(error.contains(&format!("in the {field} field")), "{error}");
            assert!(croner_parse(invalid).is_err(), "croner accepts {invalid}");
        }
        for (invalid, field) in [
            ("* * * foo *", "month"),
            ("*/0 * * * *", "minute"),
            ("5-1 * * * *", "minute"),
            ("5/10 * * * *", "minute"),
            ("1,,2 * * * *", "minute"),
            ("* * * * mon-", "day-of-week"),
            ("*/ * * * *", "minute"),
            ("/5 * * * *", "minute"),
            ("x * * * *", "minute"),
        ] {
            let error = cron_schedule(invalid).expect_err(invalid);
            assert!(error.contains(&format!("in the {field} field")), "{error}");
        }
        let error = cron_schedule("* * * *").expect_err("4 fields");
        assert!(error.contains("has 4 fields; expected 5"), "{error}");
        assert!(cron_schedule("@reboot").is_err());
    }

    #[test]
    fn an_out_of_range_minute_is_an_error_naming_the_field() {
        let error = render_error(parse(&["cron", "--schedule", "61 * * * *"]), &context());
        assert!(
            error.starts_with(r#"--schedule "61 * * * *": in the minute field "61", 61 is out of range; expected `*`, 0-59"#),
            "{error}"
        );
    }

    fn monrun_ini(text: &str) -> ini::Ini {
        let raw = ini::ParseOption {
            enabled_quote: false,
            enabled_escape: false,
            ..ini::ParseOption::default()
        };
        ini::Ini::load_from_str_opt(text, raw).expect("INI")
    }

    #[test]
    fn monrun_has_a_section_per_group() {
        let text = render(&["monrun"]);
        let ini = monrun_ini(&text);
        let sections: Vec<_> = ini.sections().flatten().collect();
        assert_eq!(sections, ["billing-db", "billing-cache"]);
        for group in ["db", "cache"] {
            let section = ini
                .section(Some(format!("billing-{group}")))
                .expect("a section");
            assert_eq!(section.get("execution_interval"), Some("60"));
            assert_eq!(section.get("execution_timeout"), Some("30"));
            assert_eq!(
                section.get("command").map(str::to_owned),
                Some(format!(
                    "/usr/local/bin/billing healthcheck check -g {group} --format monrun"
                ))
            );
            assert_eq!(section.len(), 3);
        }
    }

    #[test]
    fn monrun_options() {
        let text = render(&[
            "monrun",
            "--prefix",
            "pay",
            "-g",
            "db",
            "--interval",
            "120",
            "--timeout",
            "10",
        ]);
        let ini = monrun_ini(&text);
        assert_eq!(
            ini.get_from(Some("pay-db"), "execution_interval"),
            Some("120")
        );
        assert_eq!(
            ini.get_from(Some("pay-db"), "execution_timeout"),
            Some("10")
        );
        assert_eq!(ini.sections().flatten().count(), 1);

        let all = monrun_ini(&render(&["monrun", "--all"]));
        assert_eq!(
            all.get_from(Some("billing"), "command"),
            Some("/usr/local/bin/billing healthcheck check --format monrun")
        );
        let no_groups = GenContext {
            groups: Vec::new(),
            ..context()
        };
        let text = parse(&["monrun"]).render(&no_groups).expect("a section");
        assert_eq!(
            monrun_ini(&text).sections().flatten().collect::<Vec<_>>(),
            ["billing"]
        );
        assert!(Gen::try_parse_from(["gen", "monrun", "--all", "-g", "db"]).is_err());
        assert!(Gen::try_parse_from(["gen", "monrun", "--interval", "0"]).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn monrun_quotes_for_the_shell() {
        let text = parse(&["monrun"])
            .render(&hostile_context())
            .expect("a section");
        let ini = monrun_ini(&text);
        let name = format!("billing-{HOSTILE_GROUP}");
        let command = ini
            .get_from(Some(name.as_str()), "command")
            .expect("a command");
        assert_eq!(
            sh_words(command),
            strings(&[
                "/opt/my app/it's/billing",
                "healthcheck",
                "check",
                "-g",
                HOSTILE_GROUP,
                "--format",
                "monrun"
            ])
        );
    }

    #[test]
    fn monrun_refuses_names_that_break_the_file() {
        let bracket = GenContext {
            groups: vec!["a]b".to_owned()],
            ..context()
        };
        assert!(render_error(parse(&["monrun"]), &bracket).contains("bracket"));
        let newline = GenContext {
            groups: vec!["a\n[b]".to_owned()],
            ..context()
        };
        assert!(render_error(parse(&["monrun"]), &newline).contains("line break"));
        let error = render_error(parse(&["monrun", "--prefix", ""]), &context());
        assert!(error.contains("prefix is empty"), "{error}");
    }

    fn yaml(text: &str) -> yaml_rust2::Yaml {
        let mut documents = yaml_rust2::YamlLoader::load_from_str(text).expect("YAML");
        assert_eq!(documents.len(), 1);
        documents.remove(0)
    }

    #[test]
    fn k8s_probes_the_http_endpoints() {
        let doc = yaml(&render(&["k8s"]));
        let keys: Vec<_> = doc
            .as_hash()
            .expect("a mapping")
            .keys()
            .filter_map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["livenessProbe", "readinessProbe", "startupProbe"]);
        for (key, path, period, failures) in [
            ("livenessProbe", "/livez", 10, 3),
            ("readinessProbe", "/readyz", 10, 3),
            ("startupProbe", "/startupz", 5, 30),
        ] {
            let probe = &doc[key];
            assert_eq!(probe["httpGet"]["path"].as_str(), Some(path), "{key}");
            assert_eq!(probe["httpGet"]["port"].as_i64(), Some(8080), "{key}");
            assert_eq!(probe["periodSeconds"].as_i64(), Some(period), "{key}");
            assert_eq!(probe["timeoutSeconds"].as_i64(), Some(2), "{key}");
            assert_eq!(probe["failureThreshold"].as_i64(), Some(failures), "{key}");
            assert_eq!(probe["successThreshold"].as_i64(), Some(1), "{key}");
            assert_eq!(probe["initialDelaySeconds"].as_i64(), Some(0), "{key}");
            assert_eq!(probe.as_hash().map(|h| h.len()), Some(6), "{key}");
        }
    }

    #[test]
    fn k8s_options() {
        let args = parse(&[
            "k8s",
            "--port",
            "9000",
            "--base-path",
            "/api/health/",
            "--period",
            "20",
            "--timeout",
            "5",
            "--failure-threshold",
            "6",
            "--startup-seconds",
            "61",
        ]);
        // The standalone binary renders it too, the same.
        let text = args.render_standalone().expect("YAML");
        assert_eq!(args.render(&context()), Ok(text.clone()));
        let doc = yaml(&text);
        assert_eq!(
            doc["readinessProbe"]["httpGet"]["path"].as_str(),
            Some("/api/health/readyz")
        );
        assert_eq!(doc["livenessProbe"]["httpGet"]["port"].as_i64(), Some(9000));
        assert_eq!(doc["livenessProbe"]["periodSeconds"].as_i64(), Some(20));
        assert_eq!(doc["livenessProbe"]["failureThreshold"].as_i64(), Some(6));
        assert_eq!(doc["startupProbe"]["timeoutSeconds"].as_i64(), Some(5));
        assert_eq!(doc["startupProbe"]["failureThreshold"].as_i64(), Some(13));
        let odd = parse(&["k8s", "--base-path", "/a:b/%C3%A9/x'y"]).render_standalone();
        let doc = yaml(&odd.expect("YAML"));
        assert_eq!(
            doc["startupProbe"]["httpGet"]["path"].as_str(),
            Some("/a:b/%C3%A9/x'y/startupz")
        );
    }

    #[test]
    fn base_paths_are_url_paths() {
        for bad in ["health", "/a b", "/a?x=1", "/a#b", "/%zz", "/a\n", "/a//b"] {
            let args = parse(&["k8s", "--base-path", bad]);
            let error = args.render_standalone().expect_err(bad);
            assert!(
                error.starts_with("--base-path") && !error.contains('\n'),
                "{error}"
            );
        }
        assert!(Gen::try_parse_from(["gen", "k8s", "--port", "0"]).is_err());
        assert!(Gen::try_parse_from(["gen", "k8s", "--port", "65536"]).is_err());
    }

    /// A `HEALTHCHECK` line as its options and the JSON array of its exec-form `CMD`.
    fn split_healthcheck(line: &str) -> (String, Vec<String>) {
        let line = line.strip_suffix('\n').expect("one line");
        let (options, command) = line.split_once(" CMD ").expect("CMD");
        let options = options.strip_prefix("HEALTHCHECK ").expect("HEALTHCHECK");
        let command = serde_json::from_str(command).expect("a JSON array of strings");
        (options.to_owned(), command)
    }

    #[test]
    fn docker_probes_the_readiness_endpoint() {
        let line = render(&["docker"]);
        assert_eq!(
            line,
            "HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 CMD \
             [\"healthcheck\",\"probe\",\"http://127.0.0.1:8080/readyz\",\"--timeout\",\"3s\"]\n"
        );
        let args = parse(&[
            "docker",
            "--port",
            "9000",
            "--base-path",
            "/health",
            "--interval",
            "1m 30s",
            "--timeout",
            "500ms",
            "--start-period",
            "2h",
            "--retries",
            "5",
        ]);
        let (options, command) = split_healthcheck(&args.render_standalone().expect("a line"));
        assert_eq!(
            options,
            "--interval=1m30s --timeout=500ms --start-period=2h --retries=5"
        );
        assert_eq!(
            command,
            [
                "healthcheck",
                "probe",
                "http://127.0.0.1:9000/health/readyz",
                "--timeout",
                "500ms"
            ]
        );
    }

    #[test]
    fn docker_in_app_runs_the_application_s_checks() {
        let args = parse(&["docker", "--in-app", "-g", HOSTILE_GROUP]);
        let (_, command) = split_healthcheck(&args.render(&hostile_context()).expect("a line"));
        assert_eq!(
            command,
            [
                "/opt/my app/it's/billing",
                "healthcheck",
                "check",
                "-g",
                HOSTILE_GROUP,
                "--format",
                "text"
            ]
        );
        let quote = GenContext {
            program: r#"C:\bin\"billing""#.to_owned(),
            ..context()
        };
        let (_, command) = split_healthcheck(
            &parse(&["docker", "--in-app"])
                .render(&quote)
                .expect("a line"),
        );
        assert_eq!(command[0], quote.program);

        let error = parse(&["docker", "--in-app"])
            .render_standalone()
            .expect_err("no application");
        assert!(error.contains("needs the application's binary"), "{error}");
        assert!(Gen::try_parse_from(["gen", "docker", "--in-app", "--port", "1"]).is_err());
        assert!(Gen::try_parse_from(["gen", "docker", "-g", "db"]).is_err());
    }

    #[test]
    fn docker_durations_read_back() {
        for (given, shown) in [
            ("1s", "1s"),
            ("90s", "1m30s"),
            ("1h 1s", "1h1s"),
            ("1500ms", "1500ms"),
        ] {
            let duration = humantime::parse_duration(given).expect("a duration");
            let rendered = docker_duration("--interval", duration).expect("a Docker duration");
            assert_eq!(rendered, shown);
            assert_eq!(humantime::parse_duration(&rendered), Ok(duration));
        }
        for bad in ["0s", "1500us"] {
            let duration = humantime::parse_duration(bad).expect("a duration");
            let error = docker_duration("--timeout", duration).expect_err(bad);
            assert!(error.starts_with("--timeout"), "{error}");
        }
    }

    fn monitor(text: &str) -> serde_json::Value {
        serde_json::from_str(text).expect("JSON")
    }

    #[test]
    fn datadog_monitor_watches_the_service_check() {
        let json = monitor(&render(&[
            "datadog-monitor",
            "--notify",
            "@pagerduty-billing",
            "--tag",
            "team:payments",
        ]));
        assert_eq!(json["type"], "service check");
        assert_eq!(
            json["query"],
            r#""billing.app.check".over("service:billing").by("check").last(3).count_by_status()"#
        );
        assert_eq!(
            json["options"]["thresholds"],
            json!({"critical": 2, "warning": 1, "ok": 1})
        );
        assert_eq!(json["options"]["notify_no_data"], true);
        assert_eq!(json["options"]["no_data_timeframe"], 10);
        assert_eq!(json["options"]["renotify_interval"], 0);
        assert_eq!(json["tags"], json!(["service:billing", "team:payments"]));
        let message = json["message"].as_str().expect("a message");
        assert!(message.ends_with("\n\n@pagerduty-billing"), "{message}");
        assert!(message.contains("{{#is_alert}}The health check {{check.name}} of billing fails."));
        assert_eq!(
            json["name"],
            "billing: health check {{check.name}} is not OK"
        );
    }

    #[test]
    fn datadog_monitor_standalone_needs_prefix_and_service() {
        for args in [
            &["datadog-monitor"][..],
            &["datadog-monitor", "--prefix", "app"],
            &["datadog-monitor", "--service", "billing"],
        ] {
            let error = parse(args).render_standalone().expect_err("no application");
            assert!(error.contains("needs --"), "{error}");
        }
        let args = parse(&[
            "datadog-monitor",
            "--prefix",
            "app",
            "--service",
            "pay",
            "--tag",
            "service:pay",
        ]);
        let json = monitor(&args.render_standalone().expect("JSON"));
        assert_eq!(
            json["query"],
            r#""app.check".over("service:pay").by("check").last(3).count_by_status()"#
        );
        assert_eq!(json["tags"], json!(["service:pay"]));
    }

    #[test]
    fn datadog_monitor_refuses_what_datadog_would_not_take() {
        for (args, option) in [
            (
                &["datadog-monitor", "--service", r#"bil"ling"#][..],
                "--service",
            ),
            (&["datadog-monitor", "--service", "bil ling"], "--service"),
            (&["datadog-monitor", "--prefix", "1app"], "--prefix"),
            (&["datadog-monitor", "--prefix", "app\n"], "--prefix"),
            (&["datadog-monitor", "--tag", "team payments"], "--tag"),
            (&["datadog-monitor", "--notify", "pagerduty"], "--notify"),
            (&["datadog-monitor", "--notify", "@"], "--notify"),
            (&["datadog-monitor", "--notify", "@a b"], "--notify"),
        ] {
            let error = render_error(parse(args), &context());
            assert!(error.starts_with(option), "{args:?}: {error}");
        }
    }

    #[test]
    fn cron_and_monrun_need_the_application() {
        for (args, what) in [(&["cron"][..], "`gen cron`"), (&["monrun"], "`gen monrun`")] {
            let error = parse(args).render_standalone().expect_err("no application");
            assert!(
                error.starts_with(what) && error.contains("application's binary"),
                "{error}"
            );
        }
    }
}
