//! The report as JSON, written straight into a string: the same bytes as `serde_json` makes of
//! the report's `Serialize` impl, without serde's generic machinery (the flattened extra fields
//! cost it a map serializer per component). Rendering is on the path of every HTTP request, so
//! it is worth a writer of its own; a test holds it to serde's output.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::component::Status;
use crate::report::{ComponentReport, Report};

/// `report` as compact JSON.
pub(crate) fn report(report: &Report) -> String {
    write_report(
        report.service_healthy,
        report.status,
        &report.timestamp,
        report.components.len(),
        report.components.iter().map(|(name, c)| (name.as_str(), c)),
    )
}

/// The JSON of a report made of `components`, given in name order (no name twice), with the
/// service's `status`: the same bytes as the [`Report`] would give.
pub(crate) fn report_parts<'a>(
    status: Status,
    timestamp: &DateTime<Utc>,
    components: impl ExactSizeIterator<Item = (&'a str, &'a ComponentReport)>,
) -> String {
    let len = components.len();
    write_report(status.is_healthy(), status, timestamp, len, components)
}

fn write_report<'a>(
    service_healthy: bool,
    status: Status,
    timestamp: &DateTime<Utc>,
    len: usize,
    components: impl Iterator<Item = (&'a str, &'a ComponentReport)>,
) -> String {
    // About 100 bytes a component, more with messages and extra fields.
    let mut out = String::with_capacity(96 + len * 112);
    out.push_str(r#"{"service_healthy":"#);
    out.push_str(bool_text(service_healthy));
    out.push_str(r#","status":""#);
    out.push_str(status.as_str());
    out.push_str(r#"","timestamp":""#);
    out.push_str(&timestamp.to_rfc3339_opts(SecondsFormat::Millis, true));
    out.push_str(r#"","components":{"#);
    for (index, (name, component)) in components.enumerate() {
        if index > 0 {
            out.push(',');
        }
        string(&mut out, name);
        out.push(':');
        self::component(&mut out, component);
    }
    out.push_str("}}");
    out
}

/// One component: `{"healthy":..,"response_time":..,["status_message":..,]"status":..,
/// "critical":..,["groups":[..],]<extra fields>}`.
pub(crate) fn component(out: &mut String, component: &ComponentReport) {
    out.push_str(r#"{"healthy":"#);
    out.push_str(bool_text(component.healthy));
    out.push_str(r#","response_time":"#);
    float(out, component.response_time);
    if let Some(message) = &component.status_message {
        out.push_str(r#","status_message":"#);
        string(out, message);
    }
    out.push_str(r#","status":""#);
    out.push_str(component.status.as_str());
    out.push_str(r#"","critical":"#);
    out.push_str(bool_text(component.critical));
    if !component.groups.is_empty() {
        out.push_str(r#","groups":["#);
        for (index, group) in component.groups.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            string(out, group);
        }
        out.push(']');
    }
    for (key, value) in &component.extra {
        out.push(',');
        string(out, key);
        out.push(':');
        self::value(out, value);
    }
    out.push('}');
}

const fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// A float as `serde_json` writes it: the shortest text that reads back the same, `null` when it
/// is not finite.
fn float(out: &mut String, value: f64) {
    if value.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(value));
    } else {
        out.push_str("null");
    }
}

fn value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(bool_text(*b)),
        Value::String(s) => string(out, s),
        // Numbers, arrays and objects are rare in reports: serde_json's own text for them.
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string, escaped as `serde_json` escapes it: `"` and `\`, and control characters
/// (`\n`, `\t`, ... or `\u00XX`).
fn string(out: &mut String, text: &str) {
    out.push('"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            0x00..=0x1F => "",
            _ => continue,
        };
        out.push_str(&text[start..index]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        } else {
            out.push_str(escape);
        }
        start = index + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use crate::component::{Component, Status};
    use crate::report::{ComponentReport, Report};

    #[test]
    fn the_same_bytes_as_serde() {
        let mut components = BTreeMap::new();
        let mut db = Component::healthy().message("ok \"quoted\" \\ back\nslash \u{1} \u{7f} é 🎉");
        db.set_response_time(Duration::from_nanos(1_234_567));
        components.insert(
            "db \"primary\"\n".to_owned(),
            ComponentReport::new(db, true, ["front", "b\tack"].into_iter()),
        );
        let extra = Component::degraded("lag")
            .field("queued_jobs", 423)
            .field("ratio", 0.1 + 0.2)
            .field(
                "nested",
                json!({"a": [1, 2.5, null, "x\u{0}"], "b": {"c": false}}),
            )
            .field("text", "line\r\nbreak")
            .field("none", serde_json::Value::Null);
        components.insert(
            "cache".to_owned(),
            ComponentReport::new(extra, false, std::iter::empty()),
        );
        let mut odd = ComponentReport::new(Component::unhealthy(""), true, std::iter::empty());
        odd.response_time = f64::NAN;
        components.insert(String::new(), odd);
        let mut large = ComponentReport::new(Component::healthy(), true, std::iter::empty());
        large.response_time = 1e21;
        components.insert("large".to_owned(), large);
        let mut tiny = ComponentReport::new(Component::healthy(), true, std::iter::empty());
        tiny.response_time = 1e-7;
        components.insert("tiny".to_owned(), tiny);
        for service_healthy in [true, false] {
            let report = Report {
                service_healthy,
                status: Status::Degraded,
                timestamp: Utc
                    .with_ymd_and_hms(2014, 9, 3, 23, 9, 38)
                    .single()
                    .unwrap_or_default(),
                components: components.clone(),
            };
            let serde = serde_json::to_string(&report).unwrap_or_default();
            assert_eq!(super::report(&report), serde);
        }
        let report = Report {
            service_healthy: false,
            status: Status::Unhealthy,
            timestamp: Utc::now(),
            components: components.clone(),
        };
        assert_eq!(
            super::report_parts(
                Status::Unhealthy,
                &report.timestamp,
                report.components.iter().map(|(n, c)| (n.as_str(), c))
            ),
            super::report(&report)
        );
        let empty = Report {
            service_healthy: true,
            status: Status::Healthy,
            timestamp: Utc::now(),
            components: BTreeMap::new(),
        };
        assert_eq!(
            super::report(&empty),
            serde_json::to_string(&empty).unwrap_or_default()
        );
    }
}
