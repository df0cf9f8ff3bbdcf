//! The health report: python-panopticon's JSON format, plus a few additive keys.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::component::{Component, Status};

/// The result of one run of the checks.
///
/// Serializes to the JSON that python-panopticon documents (`service_healthy`, `timestamp`,
/// `components` with `healthy`, `response_time`, `status_message` and extra fields), with the
/// additive keys `status` (at the top and per component), `critical` and `groups`:
///
/// ```json
/// {
///   "service_healthy": true,
///   "status": "healthy",
///   "timestamp": "2014-09-03T23:09:38.702Z",
///   "components": {
///     "background_jobs": {"healthy": true, "response_time": 0.00123, "status": "healthy", "critical": true, "queued_jobs": 423},
///     "database": {"healthy": true, "response_time": 0.00123, "status_message": "ok", "status": "healthy", "critical": true}
///   }
/// }
/// ```
///
/// It reads back with `serde_json::from_str`, also from reports without the additive keys.
/// [`Display`](fmt::Display) prints one line per component for people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawReport")]
pub struct Report {
    /// `true` when the service works: by default, when every critical component is healthy or
    /// degraded.
    pub service_healthy: bool,
    /// The service's overall status; `service_healthy` is `status != Unhealthy`.
    pub status: Status,
    /// When the run started: RFC 3339, UTC, milliseconds, `Z`.
    #[serde(serialize_with = "serialize_timestamp")]
    pub timestamp: DateTime<Utc>,
    /// The components, keyed and sorted by check name.
    pub components: BTreeMap<String, ComponentReport>,
}

/// One component of a [`Report`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawComponentReport")]
pub struct ComponentReport {
    /// `true` when the component is healthy or degraded.
    pub healthy: bool,
    /// How long the check took, in seconds, measured on a monotonic clock (or set by the check).
    pub response_time: f64,
    /// What the check said, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// `healthy`, `degraded` or `unhealthy`.
    pub status: Status,
    /// Whether a failure of this component makes the service unhealthy.
    pub critical: bool,
    /// The groups of the check; left out when it has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The extra fields the check added, shown flat beside the others.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ComponentReport {
    /// The report entry of a check's [`Component`].
    pub(crate) fn new<'a>(
        component: Component,
        critical: bool,
        groups: impl Iterator<Item = &'a str>,
    ) -> Self {
        let (status, status_message, response_time, extra) = component.into_parts();
        Self {
            healthy: status.is_healthy(),
            response_time: response_time.unwrap_or_default().as_secs_f64(),
            status_message: status_message.map(String::from),
            status,
            critical,
            groups: groups.map(str::to_owned).collect(),
            extra,
        }
    }

    /// The run's own status, before flap suppression: the `raw_status` field of a check with a
    /// `failure_threshold` or `success_threshold` above 1; for any other check, its `status`.
    #[must_use]
    pub fn raw_status(&self) -> Status {
        crate::history::raw_status_of(&self.extra).unwrap_or(self.status)
    }

    /// `response_time` as a [`Duration`] (zero when it is negative or not finite).
    #[must_use]
    pub fn response_duration(&self) -> Duration {
        Duration::try_from_secs_f64(self.response_time).unwrap_or_default()
    }
}

impl Report {
    /// `true` when the report has a component with this name.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.components.contains_key(name)
    }

    /// The component with this name, if any.
    #[must_use]
    pub fn component(&self, name: &str) -> Option<&ComponentReport> {
        self.components.get(name)
    }

    /// The report as compact JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        // The same bytes as `serde_json::to_string(self)`, written directly.
        crate::json::report(self)
    }

    /// The report as indented JSON, for people.
    #[must_use]
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The default rule for the service's status: the worst status of the critical components; a
/// failing non-critical component makes the service degraded, not unhealthy.
#[must_use]
pub fn default_reduce(components: &BTreeMap<String, ComponentReport>) -> Status {
    reduce_entries(components.values())
}

/// [`default_reduce`] over any sequence of components.
pub(crate) fn reduce_entries<'a>(components: impl Iterator<Item = &'a ComponentReport>) -> Status {
    components
        .map(|c| match c.status {
            Status::Unhealthy if !c.critical => Status::Degraded,
            status => status,
        })
        .max()
        .unwrap_or(Status::Healthy)
}

fn serialize_timestamp<S: Serializer>(
    timestamp: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&timestamp.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// What a report looks like on the wire, where the additive keys may be missing.
#[derive(Deserialize)]
struct RawReport {
    service_healthy: bool,
    #[serde(default)]
    status: Option<Status>,
    timestamp: DateTime<Utc>,
    components: BTreeMap<String, ComponentReport>,
}

impl From<RawReport> for Report {
    fn from(raw: RawReport) -> Self {
        let status = raw.status.unwrap_or(if raw.service_healthy {
            Status::Healthy
        } else {
            Status::Unhealthy
        });
        Self {
            service_healthy: raw.service_healthy,
            status,
            timestamp: raw.timestamp,
            components: raw.components,
        }
    }
}

#[derive(Deserialize)]
struct RawComponentReport {
    healthy: bool,
    #[serde(default)]
    response_time: f64,
    #[serde(default)]
    status_message: Option<String>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default = "critical_by_default")]
    critical: bool,
    #[serde(default, deserialize_with = "null_as_empty")]
    groups: Vec<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

const fn critical_by_default() -> bool {
    true
}

fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

impl From<RawComponentReport> for ComponentReport {
    fn from(raw: RawComponentReport) -> Self {
        let status = raw.status.unwrap_or(if raw.healthy {
            Status::Healthy
        } else {
            Status::Unhealthy
        });
        Self {
            healthy: raw.healthy,
            response_time: raw.response_time,
            status_message: raw.status_message,
            status,
            critical: raw.critical,
            groups: raw.groups,
            extra: raw.extra,
        }
    }
}

/// A duration the way people read it: `850 µs`, `1.2 ms`, `2.50 s`.
pub(crate) struct HumanDuration(pub(crate) Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs_f64();
        if secs < 1e-3 {
            write!(f, "{:.0} µs", secs * 1e6)
        } else if secs < 1.0 {
            write!(f, "{:.1} ms", secs * 1e3)
        } else {
            write!(f, "{secs:.2} s")
        }
    }
}

/// Text for a line-oriented format (the text report, probe output): control characters and
/// Unicode line separators are written as visible escapes (`\n`, `\r`, `\t`, `\u{1b}`), so
/// that a name or a message can never start a line of its own.
pub(crate) struct OneLine<'a>(pub(crate) &'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(|c: char| needs_escape(c)) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                other => write!(f, "{}", other.escape_unicode())?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// Control characters, and the separators that some readers take for line ends.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

impl fmt::Display for ComponentReport {
    /// `OK (1.2 ms) ok`: the status label, the response time, and the message if any (on one
    /// line: control characters are escaped, `\n` for a newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.status.label(),
            HumanDuration(self.response_duration())
        )?;
        if let Some(message) = &self.status_message {
            write!(f, " {}", OneLine(message))?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    /// One line per component: `database -> OK (1.2 ms) ok`. Control characters in names and
    /// messages are escaped (`\n` for a newline), so each component is exactly one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, component) in &self.components {
            writeln!(f, "{} -> {component}", OneLine(name))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn component(status: Status, critical: bool) -> ComponentReport {
        ComponentReport::new(Component::with_status(status), critical, std::iter::empty())
    }

    #[test]
    fn default_reduce_table() {
        use Status::{Degraded as D, Healthy as H, Unhealthy as U};
        let cases: &[(&[(Status, bool)], Status)] = &[
            (&[], H),
            (&[(H, true), (H, false)], H),
            (&[(H, true), (D, true)], D),
            (&[(H, true), (U, false)], D),
            (&[(U, true), (H, false)], U),
            (&[(D, false), (U, true)], U),
        ];
        for (components, expected) in cases {
            let map = components
                .iter()
                .enumerate()
                .map(|(i, (s, c))| (i.to_string(), component(*s, *c)))
                .collect();
            assert_eq!(default_reduce(&map), *expected, "{components:?}");
        }
    }

    #[test]
    fn human_durations() {
        let cases = [
            (Duration::from_nanos(850_400), "850 µs"),
            (Duration::from_micros(1_234), "1.2 ms"),
            (Duration::from_millis(2_500), "2.50 s"),
        ];
        for (duration, text) in cases {
            assert_eq!(HumanDuration(duration).to_string(), text);
        }
    }

    #[test]
    fn reads_a_python_panopticon_report() {
        let text = json!({
            "service_healthy": false,
            "timestamp": "2014-09-03T23:09:38.702Z",
            "components": {
                "database": {"healthy": false, "response_time": 0.5, "status_message": "down"},
                "background_jobs": {"healthy": true, "response_time": 0.00123, "queued_jobs": 423}
            }
        });
        let report: Report = serde_json::from_value(text).expect("a panopticon report parses");
        assert_eq!(report.status, Status::Unhealthy);
        let jobs = &report.components["background_jobs"];
        assert_eq!(jobs.status, Status::Healthy);
        assert!(jobs.critical);
        assert_eq!(jobs.extra["queued_jobs"], 423);
        assert_eq!(
            report.components["database"].status_message.as_deref(),
            Some("down")
        );
    }

    #[test]
    fn component_keys_in_order() {
        let mut c = Component::healthy().message("ok").field("queued_jobs", 423);
        c.set_response_time(Duration::from_millis(5));
        let report = ComponentReport::new(c, false, ["front"].into_iter());
        assert_eq!(
            serde_json::to_string(&report).unwrap_or_default(),
            r#"{"healthy":true,"response_time":0.005,"status_message":"ok","status":"healthy","critical":false,"groups":["front"],"queued_jobs":423}"#
        );
    }
}
