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
//!
//! A service-check message or an event text too long for one payload is cut (after escaping, on
//! a character boundary, never inside an escape) and ends with [`TRUNCATED`], so that the line
//! fits the payload size it is written for; an event text also stays within Datadog's
//! [`MAX_EVENT_TEXT`] and a title within [`MAX_EVENT_TITLE`].

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

/// What ends a service-check message or an event text that was cut short to fit.
pub(crate) const TRUNCATED: &str = "…(truncated)";

/// The longest event text Datadog keeps is 4000 characters; counted here in bytes of the escaped
/// text, which are never fewer than its characters.
pub(crate) const MAX_EVENT_TEXT: usize = 4000;

/// The longest event title written, in bytes of the escaped title, so that a long check name
/// leaves room for the text.
pub(crate) const MAX_EVENT_TITLE: usize = 200;

/// Writes lines under a prefix, each ending with the global tags.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    /// `"<prefix>."`, or empty.
    prefix: String,
    /// The global tags, comma-joined, already sanitized.
    global_tags: String,
    /// The longest line, newline included, that a service check or an event may take: messages
    /// and texts are cut to fit.
    max_line: usize,
}

impl Writer {
    /// A writer for payloads of at most `max_line` bytes.
    pub(crate) fn new(prefix: &str, global_tags: &[String], max_line: usize) -> Self {
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
            max_line,
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

    /// `_sc|<prefix>.<name>|<status>|#<tags>|m:<message>\n`, the message cut so that the line
    /// fits `max_line`.
    pub(crate) fn service_check(
        &self,
        out: &mut String,
        name: &str,
        status: CheckStatus,
        tags: &str,
        message: Option<&str>,
    ) {
        let start = out.len();
        self.service_check_head(out, name, status, tags);
        self.push_message(out, out.len() - start, message);
        out.push('\n');
    }

    /// The message of a service check as [`service_check`](Self::service_check) writes it
    /// (escaped, and cut so that its line fits `max_line`), for a client that writes the line
    /// itself; `None` when the line would carry none.
    #[cfg(feature = "dogstatsd")]
    pub(crate) fn service_check_message(
        &self,
        name: &str,
        status: CheckStatus,
        tags: &str,
        message: Option<&str>,
    ) -> Option<String> {
        let mut line = String::new();
        self.service_check_head(&mut line, name, status, tags);
        let head = line.len();
        self.push_message(&mut line, head, message);
        line.get(head + "|m:".len()..).map(str::to_owned)
    }

    /// `_sc|<prefix>.<name>|<status>|#<tags>`.
    fn service_check_head(&self, out: &mut String, name: &str, status: CheckStatus, tags: &str) {
        out.push_str("_sc|");
        out.push_str(&self.prefix);
        out.push_str(name);
        out.push('|');
        out.push(char::from(b'0' + status as u8));
        self.tags(out, tags);
    }

    /// `|m:<message>`, escaped and cut so that a line whose head took `head` bytes fits
    /// `max_line`; nothing when no part of the message fits.
    fn push_message(&self, out: &mut String, head: usize, message: Option<&str>) {
        let Some(message) = message.filter(|m| !m.is_empty()) else {
            return;
        };
        let room = self
            .max_line
            .saturating_sub(head + "|m:".len() + "\n".len());
        let before = out.len();
        out.push_str("|m:");
        escape_into(out, message, true, room);
        if out.len() == before + "|m:".len() {
            out.truncate(before);
        }
    }

    /// `_e{<title len>,<text len>}:<title>|<text>|k:<key>|t:<alert>|#<tags>\n`, lengths in bytes
    /// of the escaped title and text; the title cut to [`MAX_EVENT_TITLE`], the text to
    /// [`MAX_EVENT_TEXT`] and to what fits `max_line`.
    pub(crate) fn event(
        &self,
        out: &mut String,
        title: &str,
        text: &str,
        aggregation_key: &str,
        alert_type: &str,
        tags: &str,
    ) {
        let EventParts { title, text, tail } =
            self.event_parts(title, text, aggregation_key, alert_type, tags);
        let _ = write!(
            out,
            "_e{{{},{}}}:{title}|{text}{tail}",
            title.len(),
            text.len()
        );
    }

    /// The title, the text and what follows them (`|k:..|t:..|#..\n`) of an event as
    /// [`event`](Self::event) writes it: escaped and cut.
    pub(crate) fn event_parts(
        &self,
        title: &str,
        text: &str,
        aggregation_key: &str,
        alert_type: &str,
        tags: &str,
    ) -> EventParts {
        let mut title_escaped = String::with_capacity(title.len().min(MAX_EVENT_TITLE));
        escape_into(&mut title_escaped, title, false, MAX_EVENT_TITLE);
        let mut tail = String::new();
        if !aggregation_key.is_empty() {
            tail.push_str("|k:");
            tail.push_str(aggregation_key);
        }
        tail.push_str("|t:");
        tail.push_str(alert_type);
        self.tags(&mut tail, tags);
        tail.push('\n');
        // `_e{<title len>,<text len>}:<title>|` and the tail; the text's length takes at most as
        // many digits as `max_line`.
        let fixed = "_e{,}:|".len()
            + decimal_digits(title_escaped.len())
            + decimal_digits(self.max_line)
            + title_escaped.len()
            + tail.len();
        let room = self.max_line.saturating_sub(fixed).min(MAX_EVENT_TEXT);
        let mut text_escaped = String::with_capacity(text.len().min(room));
        escape_into(&mut text_escaped, text, false, room);
        EventParts {
            title: title_escaped,
            text: text_escaped,
            tail,
        }
    }

    /// `<prefix>.<name>`.
    #[cfg(feature = "dogstatsd")]
    pub(crate) fn name(&self, name: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + name.len());
        full.push_str(&self.prefix);
        full.push_str(name);
        full
    }

    /// `tags` (comma-joined, already sanitized) and then the global tags, one by one.
    #[cfg(feature = "dogstatsd")]
    pub(crate) fn all_tags<'a>(&'a self, tags: &'a str) -> impl Iterator<Item = &'a str> + Clone {
        tags.split(',')
            .chain(self.global_tags.split(','))
            .filter(|tag| !tag.is_empty())
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

/// An event as [`Writer::event`] writes it: the escaped (and cut) title and text, and the rest
/// of the line.
#[derive(Debug)]
pub(crate) struct EventParts {
    pub(crate) title: String,
    pub(crate) text: String,
    pub(crate) tail: String,
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
    /// Writes the value as a DogStatsD line carries it.
    pub(crate) fn write(self, out: &mut String) {
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

/// How many decimal digits `n` takes.
const fn decimal_digits(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// Escapes a message or event text so that it stays on one line: `\n` (and `\r\n`) become the
/// two characters `\n`; in a service-check message, `m:` becomes `m\:` and `|` becomes `/`.
///
/// Writes at most `limit` bytes: a text whose escaped form is longer is cut after the last
/// character (or escape) that leaves room for [`TRUNCATED`], which then ends it. Only what fits
/// is ever escaped, so a text of megabytes costs no more than `limit`.
fn escape_into(out: &mut String, text: &str, service_check: bool, limit: usize) {
    let start = out.len();
    let room = limit.saturating_sub(TRUNCATED.len());
    // The end of the last escape that leaves room for the marker.
    let mut marked_end = start;
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
        let written = out.len() - start;
        if written > limit {
            if limit >= TRUNCATED.len() {
                out.truncate(marked_end);
                out.push_str(TRUNCATED);
            } else {
                // Not even room for the marker: nothing rather than a part that looks whole.
                out.truncate(start);
            }
            return;
        }
        if written <= room {
            marked_end = out.len();
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
            1432,
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
        Writer::new("", &[], 1432).metric(&mut out, "up", Value::Int(1), Kind::Gauge, "");
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
        Writer::new("", &[], 1432).event(&mut out, "é", "ü", "", "success", "");
        assert_eq!(out, "_e{2,2}:é|ü|t:success\n");
    }

    /// What a client that writes its own lines is handed is what the SDK's lines carry.
    #[cfg(feature = "dogstatsd")]
    #[test]
    fn parts_for_a_client_are_those_of_the_lines() {
        for max in [1432, 200, 90, 64] {
            let writer = Writer::new("healthcheck", &["env:prod".to_owned()], max);
            for message in [None, Some(""), Some("down\r\nhard | m:now"), Some(&*huge())] {
                let mut line = String::new();
                writer.service_check(
                    &mut line,
                    "check",
                    CheckStatus::Critical,
                    "check:db",
                    message,
                );
                let written = line.trim_end().split_once("|m:").map(|(_, m)| m.to_owned());
                let handed = writer.service_check_message(
                    "check",
                    CheckStatus::Critical,
                    "check:db",
                    message,
                );
                assert_eq!(handed, written, "{max}: {message:?}");
            }
            let mut line = String::new();
            writer.event(
                &mut line,
                "Healthcheck\ndb failed",
                &huge(),
                "check:db",
                "error",
                "check:db",
            );
            let parts = writer.event_parts(
                "Healthcheck\ndb failed",
                &huge(),
                "check:db",
                "error",
                "check:db",
            );
            let head = format!("_e{{{},{}}}:", parts.title.len(), parts.text.len());
            assert_eq!(
                line,
                format!("{head}{}|{}{}", parts.title, parts.text, parts.tail)
            );
        }
        let writer = writer();
        assert_eq!(writer.name("check.healthy"), "healthcheck.check.healthy");
        assert_eq!(
            writer.all_tags("check:db,group:back").collect::<Vec<_>>(),
            ["check:db", "group:back", "env:prod", "team:core_platform"]
        );
        assert_eq!(
            writer.all_tags("").collect::<Vec<_>>(),
            ["env:prod", "team:core_platform"]
        );
        assert_eq!(Writer::new("", &[], 1432).all_tags("").count(), 0);
        assert_eq!(Writer::new("", &[], 1432).name("up"), "up");
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

    /// A 66 KB message of many lines, as a failing dependency may return.
    fn huge() -> String {
        let mut message = String::new();
        while message.len() < 66 * 1024 {
            message.push_str(&"ab|m:é".repeat(166));
            message.push_str("\r\n");
        }
        message
    }

    #[test]
    fn a_huge_service_check_message_is_cut_to_one_line_that_fits() {
        for max in [1432, 8192, 200, 64] {
            let mut out = String::new();
            Writer::new("healthcheck", &["env:prod".to_owned()], max).service_check(
                &mut out,
                "check",
                CheckStatus::Critical,
                "check:db",
                Some(&huge()),
            );
            assert!(out.len() <= max, "{max}: {} bytes", out.len());
            assert_eq!(out.matches('\n').count(), 1, "{max}: one line");
            assert!(out.ends_with('\n'));
            let message = out
                .trim_end()
                .split_once("|m:")
                .map(|(_, m)| m)
                .unwrap_or_else(|| panic!("{max}: no message in {out}"));
            assert!(message.ends_with(TRUNCATED), "{max}: {message}");
            let kept = &message[..message.len() - TRUNCATED.len()];
            // Cut between escapes: never a dangling backslash or half an `m\:`.
            assert!(
                !kept.ends_with('\\') && !kept.ends_with("m\\"),
                "{max}: {kept}"
            );
            assert!(!kept.contains('|') && !kept.contains("m:"), "{max}: {kept}");
            // As much as fits: one more escape would not.
            assert!(out.len() + "m\\:".len() > max, "{max}: {} bytes", out.len());
        }
    }

    #[test]
    fn a_message_that_fits_is_not_cut() {
        let line = "_sc|healthcheck.check|2|#check:db,env:prod,team:core_platform|m:";
        let room = 1432 - line.len() - 1;
        for message in ["x".repeat(room), format!("{}é", "x".repeat(room - 2))] {
            let mut out = String::new();
            writer().service_check(
                &mut out,
                "check",
                CheckStatus::Critical,
                "check:db",
                Some(&message),
            );
            assert_eq!(out, format!("{line}{message}\n"));
            assert_eq!(out.len(), 1432);
        }
        // One byte more, and it is cut.
        let mut out = String::new();
        let message = "x".repeat(room + 1);
        writer().service_check(
            &mut out,
            "check",
            CheckStatus::Critical,
            "check:db",
            Some(&message),
        );
        let expected = format!("{line}{}{TRUNCATED}\n", "x".repeat(room - TRUNCATED.len()));
        assert_eq!(out, expected);
        // A multi-byte character is never split.
        let mut out = String::new();
        let message = "é".repeat(room);
        writer().service_check(
            &mut out,
            "check",
            CheckStatus::Critical,
            "check:db",
            Some(&message),
        );
        assert!(out.len() <= 1432 && out.len() >= 1431, "{}", out.len());
        assert!(out.ends_with(&format!("é{TRUNCATED}\n")));
    }

    #[test]
    fn without_room_for_the_marker_a_message_is_whole_or_absent() {
        let line = "_sc|healthcheck.check|2|#check:db,env:prod,team:core_platform";
        let tags = ["env:prod".to_owned(), "Team:Core Platform".to_owned()];
        for (room, expected) in [(4, "|m:down"), (3, ""), (0, ""), (11, "|m:down")] {
            let mut out = String::new();
            Writer::new("healthcheck", &tags, line.len() + "|m:".len() + room + 1).service_check(
                &mut out,
                "check",
                CheckStatus::Critical,
                "check:db",
                Some("down"),
            );
            assert_eq!(out, format!("{line}{expected}\n"), "{room}");
            let mut out = String::new();
            Writer::new("healthcheck", &tags, line.len() + "|m:".len() + room + 1).service_check(
                &mut out,
                "check",
                CheckStatus::Critical,
                "check:db",
                Some("down and out"),
            );
            assert_eq!(out, format!("{line}\n"), "{room}");
        }
    }

    #[test]
    fn a_huge_event_text_is_cut_and_counted_right() {
        for max in [1432, 8192, 65_000] {
            let mut out = String::new();
            Writer::new("healthcheck", &["env:prod".to_owned()], max).event(
                &mut out,
                &format!("Healthcheck {} failed", "n\n".repeat(300)),
                &huge(),
                "check:db",
                "error",
                "check:db",
            );
            assert!(out.len() <= max, "{max}: {} bytes", out.len());
            assert_eq!(out.matches('\n').count(), 1, "{max}: one line");
            let (lengths, rest) = out
                .strip_prefix("_e{")
                .and_then(|o| o.split_once("}:"))
                .expect("an event");
            let (title_len, text_len) = lengths.split_once(',').expect("two lengths");
            let (title_len, text_len): (usize, usize) = (
                title_len.parse().expect("a length"),
                text_len.parse().expect("a length"),
            );
            let title = &rest[..title_len];
            let text = &rest[title_len + 1..title_len + 1 + text_len];
            assert!(
                title.ends_with(TRUNCATED) && title.len() <= MAX_EVENT_TITLE,
                "{title}"
            );
            assert!(
                text.ends_with(TRUNCATED) && text.len() <= MAX_EVENT_TEXT,
                "{max}: {text}"
            );
            assert_eq!(
                &rest[title_len + 1 + text_len..],
                "|k:check:db|t:error|#check:db,env:prod\n"
            );
            if max > MAX_EVENT_TEXT + 300 {
                assert!(
                    text.len() > MAX_EVENT_TEXT - 10,
                    "{max}: {} bytes",
                    text.len()
                );
            }
        }
    }
}
