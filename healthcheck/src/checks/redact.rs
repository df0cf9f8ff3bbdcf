//! Masking credentials in text: what a checker says must never carry a password out of the
//! process.

use std::borrow::Cow;

/// The mark that replaces a credential.
pub const MASK: &str = "***";

/// Names of query parameters and `key=value` pairs whose values are secrets (compared without
/// case; a name that ends with one of them counts too, such as `api_key` or `sslpassword`).
const SECRET_NAMES: [&str; 10] = [
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "token",
    "apikey",
    "api_key",
    "access_key",
    "auth",
];

/// `text` with every credential it holds replaced by `***`: the password of a URL
/// (`redis://:s3cret@host` → `redis://:***@host`), the value of a query parameter or a
/// `key=value` pair named like a secret (`?token=…`, `password=…` in a connection string), and
/// the credentials of an `Authorization` header or a `Bearer`/`Basic` token. Borrowed when there
/// is nothing to mask.
///
/// For the messages, fields and log lines of checks, the built-in ones and an application's own.
///
/// # Example
/// ```
/// use healthcheck::checks::redact;
///
/// assert_eq!(
///     redact("connect to postgres://app:hunter2@db/health?sslpassword=x failed"),
///     "connect to postgres://app:***@db/health?sslpassword=*** failed"
/// );
/// assert_eq!(redact("Authorization: Bearer eyJhbGciOi"), "Authorization: ***");
/// assert_eq!(redact("host=db user=app password=hunter2"), "host=db user=app password=***");
/// assert_eq!(redact("all fine"), "all fine");
/// ```
#[must_use]
pub fn redact(text: &str) -> Cow<'_, str> {
    // Most messages hold nothing to mask: say so without lowering their case or scanning them
    // three times. Every credential below needs an `@`, a `=` or one of these words.
    if !text.contains(['@', '='])
        && !["authorization", "bearer", "basic"]
            .iter()
            .any(|word| contains_ignoring_ascii_case(text, word))
    {
        return Cow::Borrowed(text);
    }
    let mut out = Cow::Borrowed(text);
    for mask in [url_passwords, authorization, secret_pairs] {
        if let Cow::Owned(masked) = mask(&out) {
            out = Cow::Owned(masked);
        }
    }
    out
}

/// Whether `text` holds `word` (lowercase ASCII), in any ASCII case.
fn contains_ignoring_ascii_case(text: &str, word: &str) -> bool {
    text.as_bytes()
        .windows(word.len())
        .any(|window| window.eq_ignore_ascii_case(word.as_bytes()))
}

/// Replaces the byte ranges `spans` (sorted, not overlapping) of `text` with [`MASK`].
fn masked(text: &str, spans: &[(usize, usize)]) -> Cow<'static, str> {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for &(start, end) in spans {
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// `scheme://user:password@host`: the password.
fn url_passwords(text: &str) -> Cow<'_, str> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        let end = text[start..]
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"' || c == '\''
            })
            .map_or(text.len(), |e| start + e);
        let authority = &text[start..end];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                if colon + 1 < at && &authority[colon + 1..at] != MASK {
                    spans.push((start + colon + 1, start + at));
                }
            }
        }
        from = end.max(start);
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    masked(text, &spans)
}

/// `Authorization: <anything>` to the end of the line, and `Bearer <token>` / `Basic <token>`.
fn authorization(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let line_end = |from: usize| {
        text[from..]
            .find(['\n', '\r', '"', ','])
            .map_or(text.len(), |e| from + e)
    };
    let mut from = 0;
    while let Some(found) = lower[from..].find("authorization") {
        let name_end = from + found + "authorization".len();
        let rest = &text[name_end..];
        let sep = rest.len() - rest.trim_start_matches(['"', '\'']).len();
        let after_sep = &rest[sep..];
        let value_start = if let Some(v) = after_sep.strip_prefix([':', '=']) {
            name_end + sep + 1 + (v.len() - v.trim_start_matches([' ', '"', '\'']).len())
        } else {
            from = name_end;
            continue;
        };
        let end = line_end(value_start);
        if end > value_start {
            spans.push((value_start, end));
        }
        from = end.max(name_end);
    }
    for scheme in ["bearer ", "basic "] {
        let mut from = 0;
        while let Some(found) = lower[from..].find(scheme) {
            let start = from + found + scheme.len();
            let end = text[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';'))
                .map_or(text.len(), |e| start + e);
            let inside = spans.iter().any(|&(s, e)| start >= s && start < e);
            if end > start && !inside && &text[start..end] != MASK {
                spans.push((start, end));
            }
            from = end.max(start);
        }
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_unstable();
    masked(text, &spans)
}

/// `name=value` where `name` ends like a secret: in a query string, a connection string, a
/// line of configuration.
fn secret_pairs(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find('=') {
        let eq = from + found;
        let name_start = lower[..eq]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .map_or(0, |s| s + 1);
        let name = &lower[name_start..eq];
        let value_start = eq + 1;
        let quoted = text[value_start..].starts_with(['"', '\'']);
        let (start, end) = if quoted {
            let quote = &text[value_start..=value_start];
            let start = value_start + 1;
            let end = text[start..].find(quote).map_or(text.len(), |e| start + e);
            (start, end)
        } else {
            let end = text[value_start..]
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '&' | ';' | ',' | '"' | '\'' | ')')
                })
                .map_or(text.len(), |e| value_start + e);
            (value_start, end)
        };
        if !name.is_empty()
            && end > start
            && &text[start..end] != MASK
            && SECRET_NAMES.iter().any(|s| name.ends_with(s))
        {
            spans.push((start, end));
        }
        from = end.max(value_start);
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    masked(text, &spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_and_the_rest_kept() {
        let cases = [
            ("all fine", "all fine"),
            ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
            (
                "Error connecting to URL: https://user:p%40ss@api.example.com/health: refused",
                "Error connecting to URL: https://user:***@api.example.com/health: refused",
            ),
            ("amqp://guest@rabbit/", "amqp://guest@rabbit/"),
            ("http://example.com/a@b", "http://example.com/a@b"),
            (
                "two: redis://:a@h1 and postgres://u:b@h2/db",
                "two: redis://:***@h1 and postgres://u:***@h2/db",
            ),
            (
                "https://api.example.com/v1?user=me&access_token=abc.def&page=2",
                "https://api.example.com/v1?user=me&access_token=***&page=2",
            ),
            (
                "host=db port=5432 user=app password=hunter2 dbname=health",
                "host=db port=5432 user=app password=*** dbname=health",
            ),
            ("PASSWORD='with space' next", "PASSWORD='***' next"),
            ("sslpassword=x;Pwd=y", "sslpassword=***;Pwd=***"),
            ("api_key=k1, secret=k2", "api_key=***, secret=***"),
            ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: ***"),
            (
                "authorization: Basic dXNlcjpwYXNz\nnext line",
                "authorization: ***\nnext line",
            ),
            (
                r#"{"Authorization":"Bearer abc","ok":true}"#,
                r#"{"Authorization":"***","ok":true}"#,
            ),
            (
                "sent bearer abc123 to the API",
                "sent bearer *** to the API",
            ),
            (
                "monkey=banana key_count=3 x=1",
                "monkey=banana key_count=3 x=1",
            ),
            ("a=b=c", "a=b=c"),
            ("=", "="),
            ("password=", "password="),
            ("é://ü:ñ@h ö", "é://ü:***@h ö"),
            (
                "already redis://:***@h password=***",
                "already redis://:***@h password=***",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn nothing_to_mask_borrows() {
        assert!(matches!(redact("connection refused"), Cow::Borrowed(_)));
        let long = "x".repeat(70 * 1024);
        assert!(matches!(redact(&long), Cow::Borrowed(_)));
    }
}
