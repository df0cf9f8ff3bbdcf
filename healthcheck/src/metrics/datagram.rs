//! DogStatsD lines, as pure formatting: no I/O here.
//!
//! The datagram shapes are Datadog's:
//! - metric: `<name>:<value>|<type>|#<tags>`
//! - service check: `_sc|<name>|<status>|#<tags>|m:<message>` (`m:` last)
//! - event: `_e{<title bytes>,<text bytes>}:<title>|<text>|k:<key>|t:<alert type>|#<tags>`
//!
//! Messages and event texts are escaped as Datadog's own clients do (a newline becomes `\n`,
//! `m:` in a service-check message becomes `m\:`), so that one line stays one line; tag values
//! are sanitized to the characters a tag may hold.

use std::fmt::Write as _;

/// The type of a metric line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Timing,
    Gauge,
    Count,
    Histogram,
    Distribution,
}

impl Kind {
    const fn code(self) -> &'static str {
        match self {
            Kind::Timing => "ms",
            Kind::Gauge => "g",
            Kind::Count => "c",
            Kind::Histogram => "h",
            Kind::Distribution => "d",
        }
    }
}

/// A service check's status, as DogStatsD numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckStatus {
    Ok = 0,
    Warning = 1,
    Critical = 2,
}

/// Writes lines under a prefix, each ending with the global tags.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    /// `"<prefix>."`, or empty.
    prefix: String,
    /// The global tags, comma-joined, already sanitized.
    global_tags: String,
}

impl Writer {
    pub(crate) fn new(prefix: &str, global_tags: &[String]) -> Self {
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}.")
        };
        let mut joined = String::new();
        for tag in global_tags {
            push_tag(&mut joined, tag);
        }
        Self {
            prefix,
            global_tags: joined,
        }
    }

    /// `<prefix>.<name>:<value>|<type>|#<tags>\n`. `tags` are already sanitized and comma-joined.
    pub(crate) fn metric(
        &self,
        out: &mut String,
        name: &str,
        value: Value,
        kind: Kind,
        tags: &str,
    ) {
        out.push_str(&self.prefix);
        out.push_str(name);
        out.push(':');
        value.write(out);
        out.push('|');
        out.push_str(kind.code());
        self.tags(out, tags);
        out.push('\n');
    }

    /// `_sc|<prefix>.<name>|<status>|#<tags>|m:<message>\n`.
    pub(crate) fn service_check(
        &self,
        out: &mut String,
        name: &str,
        status: CheckStatus,
        tags: &str,
        message: Option<&str>,
    ) {
        out.push_str("_sc|");
        out.push_str(&self.prefix);
        out.push_str(name);
        out.push('|');
        out.push(char::from(b'0' + status as u8));
        self.tags(out, tags);
        if let Some(message) = message.filter(|m| !m.is_empty()) {
            out.push_str("|m:");
            escape_into(out, message, true);
        }
        out.push('\n');
    }

    /// `_e{<title len>,<text len>}:<title>|<text>|k:<key>|t:<alert>|#<tags>\n`, lengths in bytes
    /// of the escaped title and text.
    pub(crate) fn event(
        &self,
        out: &mut String,
        title: &str,
        text: &str,
        aggregation_key: &str,
        alert_type: &str,
        tags: &str,
    ) {
        let mut title_escaped = String::with_capacity(title.len());
        escape_into(&mut title_escaped, title, false);
        let mut text_escaped = String::with_capacity(text.len());
        escape_into(&mut text_escaped, text, false);
        let _ = write!(
            out,
            "_e{{{},{}}}:{title_escaped}|{text_escaped}",
            title_escaped.len(),
            text_escaped.len()
        );
        if !aggregation_key.is_empty() {
            out.push_str("|k:");
            out.push_str(aggregation_key);
        }
        out.push_str("|t:");
        out.push_str(alert_type);
        self.tags(out, tags);
        out.push('\n');
    }

    fn tags(&self, out: &mut String, tags: &str) {
        if tags.is_empty() && self.global_tags.is_empty() {
            return;
        }
        out.push_str("|#");
        out.push_str(tags);
        if !tags.is_empty() && !self.global_tags.is_empty() {
            out.push(',');
        }
        out.push_str(&self.global_tags);
    }
}

/// A metric value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    /// A whole number.
    Int(i64),
    /// A duration in milliseconds, written to the nearest microsecond.
    Millis(std::time::Duration),
    /// Any other number; written in plain decimal notation (no exponent).
    Float(f64),
}

impl Value {
    fn write(self, out: &mut String) {
        match self {
            Value::Int(n) => push_int(out, n),
            Value::Millis(duration) => {
                let micros = (duration.as_nanos() + 500) / 1000;
                push_int(out, i64::try_from(micros / 1000).unwrap_or(i64::MAX));
                let fraction = (micros % 1000) as u16;
                if fraction != 0 {
                    out.push('.');
                    let digits = [fraction / 100, fraction / 10 % 10, fraction % 10];
                    let significant = if digits[2] != 0 {
                        3
                    } else if digits[1] != 0 {
                        2
                    } else {
                        1
                    };
                    for digit in &digits[..significant] {
                        out.push(char::from(b'0' + *digit as u8));
                    }
                }
            }
            Value::Float(x) if x.is_finite() => {
                let _ = write!(out, "{x}");
            }
            Value::Float(_) => out.push('0'),
        }
    }
}

/// Writes a whole number without going through `fmt`.
fn push_int(out: &mut String, n: i64) {
    if (0..10).contains(&n) {
        out.push(char::from(b'0' + n as u8));
        return;
    }
    if n < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut rest = n.unsigned_abs();
    let mut start = digits.len();
    while rest > 0 || start == digits.len() {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    for digit in &digits[start..] {
        out.push(char::from(*digit));
    }
}

/// Appends `tag` to a comma-joined tag list, sanitized.
pub(crate) fn push_tag(list: &mut String, tag: &str) {
    if tag.is_empty() {
        return;
    }
    if !list.is_empty() {
        list.push(',');
    }
    sanitize_into(list, tag);
}

/// Appends `key:value` to a comma-joined tag list, the value sanitized.
pub(crate) fn push_key_value(list: &mut String, key: &str, value: &str) {
    if !list.is_empty() {
        list.push(',');
    }
    list.push_str(key);
    list.push(':');
    sanitize_into(list, value);
}

/// The longest tag Datadog keeps.
pub(crate) const MAX_TAG: usize = 200;

/// Writes a tag the way Datadog would store it: lowercase, with anything but letters, digits,
/// `_ - : . /` turned into `_`, at most 200 characters.
fn sanitize_into(out: &mut String, tag: &str) {
    let clean = |b: &u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b':' | b'.' | b'/');
    if tag.len() <= MAX_TAG && tag.as_bytes().iter().all(clean) {
        out.push_str(tag);
        return;
    }
    for c in tag.chars().take(MAX_TAG) {
        match c {
            'a'..='z' | '0'..='9' | '_' | '-' | ':' | '.' | '/' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            _ => out.push('_'),
        }
    }
}

/// Escapes a message or event text so that it stays on one line: `\n` (and `\r\n`) become the
/// two characters `\n`; in a service-check message, `m:` becomes `m\:` and `|` becomes `/`.
fn escape_into(out: &mut String, text: &str, service_check: bool) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("\\n"),
            'm' if service_check && chars.peek() == Some(&':') => {
                chars.next();
                out.push_str("m\\:");
            }
            '|' if service_check => out.push('/'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn writer() -> Writer {
        Writer::new(
            "healthcheck",
            &["env:prod".to_owned(), "Team:Core Platform".to_owned()],
        )
    }

    #[test]
    fn metric_lines() {
        let cases: &[(&str, Value, Kind, &str, &str)] = &[
            (
                "check.response_time",
                Value::Millis(Duration::from_micros(1_234)),
                Kind::Timing,
                "check:db",
                "healthcheck.check.response_time:1.234|ms|#check:db,env:prod,team:core_platform\n",
            ),
            (
                "check.response_time",
                Value::Millis(Duration::from_micros(1_500)),
                Kind::Timing,
                "",
                "healthcheck.check.response_time:1.5|ms|#env:prod,team:core_platform\n",
            ),
            (
                "run.duration",
                Value::Millis(Duration::from_millis(100)),
                Kind::Timing,
                "scope:all",
                "healthcheck.run.duration:100|ms|#scope:all,env:prod,team:core_platform\n",
            ),
            (
                "check.healthy",
                Value::Int(0),
                Kind::Gauge,
                "check:db",
                "healthcheck.check.healthy:0|g|#check:db,env:prod,team:core_platform\n",
            ),
            (
                "jobs",
                Value::Float(0.000_000_1),
                Kind::Histogram,
                "",
                "healthcheck.jobs:0.0000001|h|#env:prod,team:core_platform\n",
            ),
            (
                "x",
                Value::Float(f64::NAN),
                Kind::Count,
                "",
                "healthcheck.x:0|c|#env:prod,team:core_platform\n",
            ),
            (
                "x",
                Value::Int(-3),
                Kind::Distribution,
                "",
                "healthcheck.x:-3|d|#env:prod,team:core_platform\n",
            ),
            (
                "x",
                Value::Int(1_234_567),
                Kind::Count,
                "",
                "healthcheck.x:1234567|c|#env:prod,team:core_platform\n",
            ),
            (
                "x",
                Value::Int(i64::MIN),
                Kind::Count,
                "",
                "healthcheck.x:-9223372036854775808|c|#env:prod,team:core_platform\n",
            ),
            (
                "x",
                Value::Millis(Duration::from_micros(10)),
                Kind::Timing,
                "",
                "healthcheck.x:0.01|ms|#env:prod,team:core_platform\n",
            ),
            (
                "x",
                Value::Millis(Duration::from_nanos(999)),
                Kind::Timing,
                "",
                "healthcheck.x:0.001|ms|#env:prod,team:core_platform\n",
            ),
            (
                "x",
                Value::Millis(Duration::from_nanos(499)),
                Kind::Timing,
                "",
                "healthcheck.x:0|ms|#env:prod,team:core_platform\n",
            ),
            (
                "x",
                Value::Millis(Duration::from_micros(20_020)),
                Kind::Timing,
                "",
                "healthcheck.x:20.02|ms|#env:prod,team:core_platform\n",
            ),
        ];
        for (name, value, kind, tags, expected) in cases {
            let mut out = String::new();
            writer().metric(&mut out, name, *value, *kind, tags);
            assert_eq!(&out, expected);
        }
    }

    #[test]
    fn no_tags_at_all_means_no_tag_section() {
        let mut out = String::new();
        Writer::new("", &[]).metric(&mut out, "up", Value::Int(1), Kind::Gauge, "");
        assert_eq!(out, "up:1|g\n");
    }

    #[test]
    fn service_check_lines() {
        let cases: &[(CheckStatus, Option<&str>, &str)] = &[
            (
                CheckStatus::Ok,
                None,
                "_sc|healthcheck.check|0|#check:db,env:prod,team:core_platform\n",
            ),
            (
                CheckStatus::Critical,
                Some("timed out after 500ms"),
                "_sc|healthcheck.check|2|#check:db,env:prod,team:core_platform|m:timed out after 500ms\n",
            ),
            (
                CheckStatus::Warning,
                Some("lag\nis high | see m:ops\r\nnow"),
                "_sc|healthcheck.check|1|#check:db,env:prod,team:core_platform|m:lag\\nis high / see m\\:ops\\nnow\n",
            ),
        ];
        for (status, message, expected) in cases {
            let mut out = String::new();
            writer().service_check(&mut out, "check", *status, "check:db", *message);
            assert_eq!(&out, expected);
        }
    }

    #[test]
    fn event_lines_count_escaped_bytes() {
        let mut out = String::new();
        writer().event(
            &mut out,
            "Healthcheck db failed",
            "connection refused\nretrying",
            "healthcheck:db",
            "error",
            "check:db",
        );
        assert_eq!(
            out,
            "_e{21,28}:Healthcheck db failed|connection refused\\nretrying|k:healthcheck:db|t:error|#check:db,env:prod,team:core_platform\n"
        );
        let mut out = String::new();
        Writer::new("", &[]).event(&mut out, "é", "ü", "", "success", "");
        assert_eq!(out, "_e{2,2}:é|ü|t:success\n");
    }

    #[test]
    fn tags_are_sanitized() {
        let cases = [
            ("check", "database", "check:database"),
            ("check", "Primary DB", "check:primary_db"),
            ("check", "a,b|c#d", "check:a_b_c_d"),
            (
                "check",
                "renamed-component/v1.2",
                "check:renamed-component/v1.2",
            ),
            ("group", "ünïcode", "group:_n_code"),
        ];
        for (key, value, expected) in cases {
            let mut list = String::new();
            push_key_value(&mut list, key, value);
            assert_eq!(list, expected);
        }
        let mut list = String::new();
        push_key_value(&mut list, "check", &"x".repeat(300));
        assert_eq!(list.len(), "check:".len() + MAX_TAG);
    }
}
