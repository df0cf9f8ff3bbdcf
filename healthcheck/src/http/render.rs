//! Response bodies, as pure rendering: the panopticon report, the IETF health+json draft, text,
//! Kubernetes probe output, oarepo-heartbeat's JSON, error bodies.

use std::fmt::Write as _;

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use crate::component::Status;
use crate::report::{ComponentReport, OneLine, Report};

/// python-panopticon's report; without details, only the overall status and timestamp.
pub(crate) fn report_json(report: &Report, details: bool) -> Vec<u8> {
    if details {
        return report.to_json().into_bytes();
    }
    let summary = json!({
        "service_healthy": report.service_healthy,
        "status": report.status,
        "timestamp": timestamp(report),
    });
    summary.to_string().into_bytes()
}

fn timestamp(report: &Report) -> String {
    report
        .timestamp
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `pass`, `warn` or `fail`, as the IETF draft names them.
const fn draft_status(status: Status) -> &'static str {
    match status {
        Status::Healthy => "pass",
        Status::Degraded => "warn",
        Status::Unhealthy => "fail",
    }
}

/// draft-inadarei-api-health-check: `status`, and `checks` keyed `<name>:responseTime`.
pub(crate) fn health_json(report: &Report, details: bool) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("status".to_owned(), draft_status(report.status).into());
    if details {
        let time = timestamp(report);
        let checks: Map<String, Value> = report
            .components
            .iter()
            .map(|(name, component)| {
                let mut entry = json!({
                    "componentId": name,
                    "componentType": "component",
                    "observedValue": component.response_time * 1000.0,
                    "observedUnit": "ms",
                    "status": draft_status(component.status),
                    "time": time,
                });
                if let (Some(output), Status::Degraded | Status::Unhealthy) =
                    (&component.status_message, component.status)
                {
                    entry["output"] = output.clone().into();
                }
                (format!("{name}:responseTime"), Value::Array(vec![entry]))
            })
            .collect();
        body.insert("checks".to_owned(), Value::Object(checks));
    }
    Value::Object(body).to_string().into_bytes()
}

/// One line per component for people; without details, the overall status only.
pub(crate) fn report_text(report: &Report, details: bool) -> Vec<u8> {
    if details {
        report.to_string().into_bytes()
    } else {
        format!("{}\n", report.status.label()).into_bytes()
    }
}

/// Kubernetes probe output. `passed` decides the status code; the body is `ok`, or the
/// `[+]`/`[-]` list and a closing line when verbose or failing (without details: the closing
/// line alone).
pub(crate) fn probe_text(
    probe: &str,
    report: &Report,
    excluded: &[String],
    verbose: bool,
    details: bool,
) -> Vec<u8> {
    let passed = report.service_healthy;
    if passed && !verbose {
        return b"ok".to_vec();
    }
    let mut body = String::new();
    if details {
        for (name, component) in &report.components {
            probe_line(&mut body, name, component);
        }
        for name in excluded {
            let _ = writeln!(body, "[+]{} excluded: ok", OneLine(name));
        }
    }
    let _ = write!(
        body,
        "{probe} check {}",
        if passed { "passed" } else { "failed" }
    );
    body.into_bytes()
}

/// `[+]<name> ok` or `[-]<name> failed: <reason>`, with the name and the reason escaped to one
/// line each (see [`OneLine`]), so that neither can forge a line of its own.
fn probe_line(body: &mut String, name: &str, component: &ComponentReport) {
    let name = OneLine(name);
    if component.healthy {
        let _ = writeln!(body, "[+]{name} ok");
    } else {
        let reason = component.status_message.as_deref().unwrap_or("unhealthy");
        let _ = writeln!(body, "[-]{name} failed: {}", OneLine(reason));
    }
}

/// The probe output of one check: `ok`, or `[-]<name> failed: <reason>`.
pub(crate) fn single_check_text(name: &str, component: &ComponentReport, details: bool) -> Vec<u8> {
    if component.healthy {
        return b"ok".to_vec();
    }
    if !details {
        return b"failed".to_vec();
    }
    let mut body = String::new();
    probe_line(&mut body, name, component);
    body.trim_end().as_bytes().to_vec()
}

/// oarepo-heartbeat: `{"status": bool, "checks": {"<name>": {"status": bool, ...}}}`.
pub(crate) fn heartbeat_json(report: &Report, details: bool) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("status".to_owned(), report.service_healthy.into());
    if details {
        let checks: Map<String, Value> = report
            .components
            .iter()
            .map(|(name, component)| {
                let mut check = Map::new();
                check.insert("status".to_owned(), component.healthy.into());
                if let Some(message) = &component.status_message {
                    check.insert("message".to_owned(), message.clone().into());
                }
                check.insert("response_time".to_owned(), component.response_time.into());
                for (key, value) in &component.extra {
                    check.entry(key.clone()).or_insert_with(|| value.clone());
                }
                (name.clone(), Value::Object(check))
            })
            .collect();
        body.insert("checks".to_owned(), Value::Object(checks));
    }
    Value::Object(body).to_string().into_bytes()
}

/// `{"error": "<message>"}`.
pub(crate) fn error_json(message: &str) -> Vec<u8> {
    json!({ "error": message }).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::component::Component;

    fn report() -> Report {
        let mut components = BTreeMap::new();
        let mut db = Component::healthy().message("ok");
        db.set_response_time(std::time::Duration::from_millis(2));
        components.insert(
            "db".to_owned(),
            ComponentReport::new(db, true, std::iter::empty()),
        );
        let mut cache = Component::unhealthy("refused\nagain").field("port", 6379);
        cache.set_response_time(std::time::Duration::from_millis(1));
        components.insert(
            "cache".to_owned(),
            ComponentReport::new(cache, false, std::iter::empty()),
        );
        Report {
            service_healthy: true,
            status: Status::Degraded,
            timestamp: Utc
                .with_ymd_and_hms(2014, 9, 3, 23, 9, 38)
                .single()
                .unwrap_or_default(),
            components,
        }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn bodies() {
        let r = report();
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "summary",
                report_json(&r, false),
                r#"{"service_healthy":true,"status":"degraded","timestamp":"2014-09-03T23:09:38.000Z"}"#,
            ),
            (
                "health+json, hidden",
                health_json(&r, false),
                r#"{"status":"warn"}"#,
            ),
            (
                "health+json",
                health_json(&r, true),
                r#"{"checks":{"cache:responseTime":[{"componentId":"cache","componentType":"component","observedUnit":"ms","observedValue":1.0,"output":"refused\nagain","status":"fail","time":"2014-09-03T23:09:38.000Z"}],"db:responseTime":[{"componentId":"db","componentType":"component","observedUnit":"ms","observedValue":2.0,"status":"pass","time":"2014-09-03T23:09:38.000Z"}]},"status":"warn"}"#,
            ),
            ("text, hidden", report_text(&r, false), "DEGRADED\n"),
            ("probe ok", probe_text("readyz", &r, &[], false, true), "ok"),
            (
                "probe verbose",
                probe_text("readyz", &r, &["slow".to_owned()], true, true),
                "[-]cache failed: refused\\nagain\n[+]db ok\n[+]slow excluded: ok\nreadyz check passed",
            ),
            (
                "probe verbose, hidden",
                probe_text("livez", &r, &[], true, false),
                "livez check passed",
            ),
            (
                "single ok",
                single_check_text("db", &r.components["db"], true),
                "ok",
            ),
            (
                "single failed",
                single_check_text("cache", &r.components["cache"], true),
                "[-]cache failed: refused\\nagain",
            ),
            (
                "single failed, hidden",
                single_check_text("cache", &r.components["cache"], false),
                "failed",
            ),
            (
                "heartbeat",
                heartbeat_json(&r, true),
                r#"{"checks":{"cache":{"message":"refused\nagain","port":6379,"response_time":0.001,"status":false},"db":{"message":"ok","response_time":0.002,"status":true}},"status":true}"#,
            ),
            (
                "heartbeat, hidden",
                heartbeat_json(&r, false),
                r#"{"status":true}"#,
            ),
            (
                "error",
                error_json("no health check is in group `x`"),
                r#"{"error":"no health check is in group `x`"}"#,
            ),
        ];
        for (name, body, expected) in cases {
            assert_eq!(text(body), expected, "{name}");
        }
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        let mut components = BTreeMap::new();
        components.insert(
            "a\n[+]forged ok".to_owned(),
            ComponentReport::new(Component::healthy(), true, std::iter::empty()),
        );
        components.insert(
            "b\r\u{2028}\u{1b}".to_owned(),
            ComponentReport::new(
                Component::unhealthy("down\n[+]fake ok\r\nreadyz check passed"),
                false,
                std::iter::empty(),
            ),
        );
        let r = Report {
            service_healthy: true,
            status: Status::Degraded,
            timestamp: Utc
                .with_ymd_and_hms(2014, 9, 3, 23, 9, 38)
                .single()
                .unwrap_or_default(),
            components,
        };
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "probe verbose",
                probe_text("readyz", &r, &["c\nd".to_owned()], true, true),
                "[+]a\\n[+]forged ok ok\n\
                 [-]b\\r\\u{2028}\\u{1b} failed: down\\n[+]fake ok\\r\\nreadyz check passed\n\
                 [+]c\\nd excluded: ok\n\
                 readyz check passed",
            ),
            (
                "single check",
                single_check_text("b\n", &r.components["b\r\u{2028}\u{1b}"], true),
                "[-]b\\n failed: down\\n[+]fake ok\\r\\nreadyz check passed",
            ),
        ];
        for (name, body, expected) in cases {
            let body = text(body);
            assert_eq!(body, expected, "{name}");
            let lines = body.lines().count();
            assert_eq!(lines, expected.matches('\n').count() + 1, "{name}");
        }
        let report_text = text(report_text(&r, true));
        assert_eq!(report_text.lines().count(), 2, "{report_text}");
        assert!(
            report_text.starts_with("a\\n[+]forged ok -> OK ("),
            "{report_text}"
        );
        assert!(
            report_text.contains("b\\r\\u{2028}\\u{1b} -> FAIL ("),
            "{report_text}"
        );
        assert!(
            report_text.ends_with(" down\\n[+]fake ok\\r\\nreadyz check passed\n"),
            "{report_text}"
        );
    }

    #[test]
    fn a_failing_probe_lists_its_checks_even_without_verbose() {
        let mut r = report();
        r.service_healthy = false;
        assert_eq!(
            text(probe_text("readyz", &r, &[], false, true)),
            "[-]cache failed: refused\\nagain\n[+]db ok\nreadyz check failed"
        );
        assert_eq!(
            text(probe_text("readyz", &r, &[], false, false)),
            "readyz check failed"
        );
    }
}
