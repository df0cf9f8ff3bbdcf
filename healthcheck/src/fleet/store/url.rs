//! Store URLs: parsed once, shown only with their credentials masked.

use std::fmt;
use std::sync::Arc;

use super::FleetStore;

/// The URL of a shared store, such as `redis://:s3cret@cache:6379/0`.
///
/// Its [`Debug`](fmt::Debug) and [`Display`](fmt::Display) show it with the password and any
/// secret-looking query parameter (`password`, `token`, `secret`, ...) replaced by `***`;
/// [`mask`](Self::mask) does the same to any text, such as a client's error message.
///
/// # Example
/// ```
/// use healthcheck::fleet::StoreUrl;
///
/// let url = StoreUrl::parse("postgres://app:hunter2@db:5432/health?sslpassword=xyz")?;
/// assert_eq!(url.scheme(), "postgres");
/// assert_eq!(url.to_string(), "postgres://app:***@db:5432/health?sslpassword=***");
/// assert_eq!(url.mask("password authentication failed: hunter2"), "password authentication failed: ***");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl {
    raw: String,
    scheme: String,
    masked: String,
    secrets: Vec<String>,
}

impl StoreUrl {
    /// Parses `raw`: a scheme, then the rest as the backend reads it.
    ///
    /// # Errors
    /// A message (with the URL masked) when `raw` has no scheme.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let Some((scheme, rest)) = raw.split_once(':') else {
            return Err("it has no scheme (expected a URL such as redis://host:6379)".to_owned());
        };
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err("it has no scheme (expected a URL such as redis://host:6379)".to_owned());
        }
        let mut secrets = Vec::new();
        let mut masked = format!("{scheme}:");
        let (authority, path) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find(['/', '?', '#']).unwrap_or(after.len());
                masked.push_str("//");
                (Some(&after[..end]), &after[end..])
            }
            None => (None, rest),
        };
        if let Some(authority) = authority {
            match authority.rsplit_once('@') {
                Some((userinfo, hosts)) => {
                    match userinfo.split_once(':') {
                        Some((user, password)) => {
                            push_secret(&mut secrets, password);
                            masked.push_str(user);
                            masked.push_str(":***");
                        }
                        None => masked.push_str(userinfo),
                    }
                    masked.push('@');
                    masked.push_str(hosts);
                }
                None => masked.push_str(authority),
            }
        }
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        masked.push_str(path);
        if let Some(query) = query {
            masked.push('?');
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    masked.push('&');
                }
                match pair.split_once('=') {
                    Some((name, value)) if looks_secret(name) => {
                        push_secret(&mut secrets, value);
                        masked.push_str(name);
                        masked.push_str("=***");
                    }
                    _ => masked.push_str(pair),
                }
            }
        }
        Ok(Self {
            raw: raw.to_owned(),
            scheme: scheme.to_ascii_lowercase(),
            masked,
            secrets,
        })
    }

    /// A PostgreSQL connection string in the `key=value` form (`host=db user=app
    /// password=hunter2`), kept whole for the client and shown with its secret values (those of
    /// `password` and the like) masked, under the scheme `postgres`.
    #[cfg(feature = "postgres")]
    pub(crate) fn conninfo(raw: &str) -> Self {
        let raw = raw.trim();
        let mut secrets = Vec::new();
        let mut masked = String::new();
        let mut rest = raw;
        while let Some((key, after)) = rest.split_once('=') {
            let key = key.trim();
            let after = after.trim_start();
            // A value runs to the next blank, or is quoted with '...' (and \' and \\ inside).
            let end = if let Some(quoted) = after.strip_prefix('\'') {
                let mut escaped = false;
                let close = quoted.char_indices().find(|&(_, c)| {
                    let closes = c == '\'' && !escaped;
                    escaped = c == '\\' && !escaped;
                    closes
                });
                close.map_or(after.len(), |(i, _)| i + 2)
            } else {
                after.find(char::is_whitespace).unwrap_or(after.len())
            };
            let (value, next) = after.split_at(end);
            if !masked.is_empty() {
                masked.push(' ');
            }
            masked.push_str(key);
            masked.push('=');
            if looks_secret(key) {
                let bare = value.strip_prefix('\'').unwrap_or(value);
                let bare = bare.strip_suffix('\'').unwrap_or(bare);
                push_secret(&mut secrets, bare);
                push_secret(
                    &mut secrets,
                    &bare.replace("\\'", "'").replace("\\\\", "\\"),
                );
                masked.push_str("***");
            } else {
                masked.push_str(value);
            }
            rest = next.trim_start();
        }
        Self {
            raw: raw.to_owned(),
            scheme: "postgres".to_owned(),
            masked,
            secrets,
        }
    }

    /// The scheme, lowercase: `redis`, `postgres`, ...
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The whole URL, credentials included: for the client, never for output.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with its credentials masked.
    #[must_use]
    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// `text` with every credential of this URL in it replaced by `***`.
    #[must_use]
    pub fn mask(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        if text.contains(&self.raw) {
            text = text.replace(&self.raw, &self.masked);
        }
        text
    }
}

/// Keeps a secret, and its percent-decoded form, for masking.
fn push_secret(secrets: &mut Vec<String>, secret: &str) {
    if secret.is_empty() {
        return;
    }
    secrets.push(secret.to_owned());
    if let Ok(decoded) = percent_encoding::percent_decode_str(secret).decode_utf8() {
        if decoded != secret {
            secrets.push(decoded.into_owned());
        }
    }
    // Longest first, so that a secret holding another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Whether a query parameter's name says its value is a secret.
fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "secret", "token", "key", "auth", "credential"]
        .iter()
        .any(|word| name.contains(word))
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StoreUrl").field(&self.masked).finish()
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

/// Opens the store at `url` with the backend its scheme names. Connects lazily: a store that is
/// down is not an error here.
pub(crate) fn open(url: &StoreUrl) -> Result<Arc<dyn FleetStore>, String> {
    let off = |feature: &str| {
        format!(
            "the `{feature}` feature of the healthcheck crate is off; turn it on to use this store"
        )
    };
    let _ = &off;
    match url.scheme() {
        "memory" => Ok(Arc::new(super::MemoryFleetStore::shared())),
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Arc::new(super::SqliteStore::from_url(url)?)),
        #[cfg(not(feature = "sqlite"))]
        "sqlite" => Err(off("sqlite")),
        #[cfg(feature = "redis")]
        "redis" | "rediss" => Ok(Arc::new(super::RedisStore::from_url(url)?)),
        #[cfg(not(feature = "redis"))]
        "redis" | "rediss" => Err(off("redis")),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Arc::new(super::PostgresStore::from_url(url)?)),
        #[cfg(not(feature = "postgres"))]
        "postgres" | "postgresql" => Err(off("postgres")),
        #[cfg(feature = "etcd")]
        "etcd" => Ok(Arc::new(super::EtcdStore::from_url(url)?)),
        #[cfg(not(feature = "etcd"))]
        "etcd" => Err(off("etcd")),
        other => Err(format!(
            "unknown store `{other}` (expected memory:, sqlite://, redis://, postgres:// or etcd://)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_open_by_scheme_without_connecting() {
        let open = |raw: &str| open(&StoreUrl::parse(raw).unwrap());
        assert_eq!(open("memory:").unwrap().describe(), "memory:");
        for (raw, masked, feature_on) in [
            (
                "redis://:pw@127.0.0.1:1/0",
                "redis://:***@127.0.0.1:1/0",
                cfg!(feature = "redis"),
            ),
            (
                "etcd://root:pw@127.0.0.1:1",
                "etcd://root:***@127.0.0.1:1",
                cfg!(feature = "etcd"),
            ),
        ] {
            match open(raw) {
                Ok(store) => {
                    assert!(feature_on, "{raw}");
                    assert_eq!(store.describe(), masked);
                    assert!(!format!("{store:?}").contains(":pw@"));
                }
                Err(message) => {
                    assert!(!feature_on, "{raw}: {message}");
                    assert!(message.contains("feature"), "{message}");
                }
            }
        }
    }

    #[test]
    fn open_builds_the_store_its_scheme_names() {
        let open = |raw: &str| open(&StoreUrl::parse(raw).unwrap()).map(|s| s.describe());
        assert_eq!(open("memory:"), Ok("memory:".to_owned()));
        #[cfg(feature = "sqlite")]
        assert_eq!(
            open("sqlite:///tmp/health.db"),
            Ok("sqlite:///tmp/health.db".to_owned())
        );
        #[cfg(not(feature = "sqlite"))]
        assert!(open("sqlite:///tmp/health.db").is_err_and(|e| e.contains("`sqlite` feature")));
        #[cfg(feature = "postgres")]
        assert_eq!(
            open("postgresql://app:hunter2@db/health"),
            Ok("postgresql://app:***@db/health".to_owned())
        );
        #[cfg(not(feature = "postgres"))]
        assert!(open("postgres://db/health").is_err_and(|e| e.contains("`postgres` feature")));
        assert!(open("mongodb://db").is_err());
    }

    #[test]
    fn credentials_never_show() {
        let cases = [
            (
                "redis://:s3cret@cache:6379/0",
                "redis://:***@cache:6379/0",
                "s3cret",
            ),
            (
                "postgres://app:p%40ss@db/health",
                "postgres://app:***@db/health",
                "p@ss",
            ),
            (
                "etcd://root:pw@h1:2379,h2:2379",
                "etcd://root:***@h1:2379,h2:2379",
                "pw",
            ),
            (
                "postgres://db/health?user=app&password=hunter2",
                "postgres://db/health?user=app&password=***",
                "hunter2",
            ),
            (
                "sqlite:///var/lib/health.db",
                "sqlite:///var/lib/health.db",
                "",
            ),
            ("redis://user@cache", "redis://user@cache", ""),
        ];
        for (raw, masked, secret) in cases {
            let url = StoreUrl::parse(raw).unwrap();
            assert_eq!(url.masked(), masked);
            assert_eq!(format!("{url:?}"), format!("StoreUrl({masked:?})"));
            if !secret.is_empty() {
                let text = format!("connect to {raw} failed: wrong password {secret}");
                let shown = url.mask(&text);
                assert!(!shown.contains(secret), "{shown}");
                assert!(shown.contains(masked), "{shown}");
            }
        }
        assert!(StoreUrl::parse("localhost:6379").is_ok_and(|u| u.scheme() == "localhost"));
        #[cfg(feature = "postgres")]
        {
            let url = StoreUrl::conninfo(
                "host=db user=app password='pa ss\\'word' sslpassword=xyz dbname=health",
            );
            assert_eq!(
                url.masked(),
                "host=db user=app password=*** sslpassword=*** dbname=health"
            );
            let shown = url.mask("bad password pa ss\\'word, or xyz");
            assert!(
                !shown.contains("pa ss") && !shown.contains("xyz"),
                "{shown}"
            );
            assert_eq!(
                StoreUrl::conninfo(" host = db password=hunter2").masked(),
                "host=db password=***"
            );
        }
        assert!(StoreUrl::parse("no scheme").is_err());
        assert!(StoreUrl::parse("://x").is_err());
    }
}
