//! `GET <base>/status`: the daemon library's status page as JSON — who and what the service
//! is, since when, its checks, its workers, its metrics and fleet store, and the configuration
//! it hands over with every secret masked.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Environ;
use crate::health::HealthChecks;

/// What replaces a secret.
pub const HIDDEN: &str = "*** HIDDEN ***";

/// When the SDK was first used in this process: what `/status` calls `started`.
fn process_started() -> (SystemTime, Instant) {
    static STARTED: OnceLock<(SystemTime, Instant)> = OnceLock::new();
    *STARTED.get_or_init(|| (SystemTime::now(), Instant::now()))
}

/// Notes the process's start, as early as the SDK is used.
pub(crate) fn mark_started() {
    let _ = process_started();
}

/// What `GET <base>/status` shows beyond what the SDK knows: the build, the workers, the
/// application's configuration. See [`HttpOptions::status`](crate::http::HttpOptions::status).
///
/// # Example
/// ```
/// use healthcheck::status::ServiceStatus;
///
/// #[derive(serde::Serialize)]
/// struct Config { database_url: String, pool: u32, api_token: String }
///
/// let config = Config {
///     database_url: "postgres://app:s3cret@db/app".into(),
///     pool: 8,
///     api_token: "abc".into(),
/// };
/// let status = ServiceStatus::new().config(&config)?;
/// let shown = status.masked_config().expect("a configuration");
/// assert_eq!(shown["api_token"], "*** HIDDEN ***");
/// assert_eq!(shown["pool"], 8);
/// assert!(!shown["database_url"].as_str().unwrap().contains("s3cret"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ServiceStatus {
    environ: Option<Environ>,
    #[cfg(feature = "workers")]
    workers: Option<crate::workers::Workers>,
    #[cfg(feature = "events")]
    events: Option<crate::events::Events>,
    config: Option<Value>,
    secret_keys: Vec<String>,
}

impl ServiceStatus {
    /// Nothing beyond what the SDK knows.
    pub fn new() -> Self {
        mark_started();
        Self::default()
    }

    /// The build (its version is the status's `version`).
    pub fn environ(mut self, environ: Environ) -> Self {
        self.environ = Some(environ);
        self
    }

    /// The workers to show (state, restarts, last error, since).
    #[cfg(feature = "workers")]
    #[cfg_attr(docsrs, doc(cfg(feature = "workers")))]
    pub fn workers(mut self, workers: crate::workers::Workers) -> Self {
        self.workers = Some(workers);
        self
    }

    /// The event intake to show (its counters: received, handled, failed, refused and why,
    /// queued, datagrams and the kernel's drops).
    #[cfg(feature = "events")]
    #[cfg_attr(docsrs, doc(cfg(feature = "events")))]
    pub fn events(mut self, events: crate::events::Events) -> Self {
        self.events = Some(events);
        self
    }

    /// The application's configuration, any `Serialize`; its secrets are masked when shown.
    ///
    /// # Errors
    /// What `serde_json` says when `config` cannot be turned into JSON.
    pub fn config(mut self, config: &impl Serialize) -> Result<Self, serde_json::Error> {
        self.config = Some(serde_json::to_value(config)?);
        Ok(self)
    }

    /// Also masks the values of keys named `key` (case does not matter), at every depth.
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_keys.push(key.into().to_ascii_lowercase());
        self
    }

    /// The configuration as `/status` shows it, its secrets masked; `None` when none was given.
    #[must_use]
    pub fn masked_config(&self) -> Option<Value> {
        let mut config = self.config.clone()?;
        mask(&mut config, &self.secret_keys);
        Some(config)
    }

    /// The JSON of `/status` for `health`; with `details` false, only the name, start and
    /// uptime.
    pub(crate) fn to_json(&self, health: &HealthChecks, details: bool) -> String {
        let (started_at, started) = process_started();
        let identity = health.identity();
        let started_at = chrono::DateTime::<chrono::Utc>::from(started_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let uptime = started.elapsed().as_secs_f64();
        if !details {
            return json!({
                "name": identity.service(),
                "started": started_at,
                "uptime_seconds": uptime,
            })
            .to_string();
        }
        let checks: Vec<Value> = health
            .checks()
            .map(|check| check.describe(health.default_timeout()))
            .collect();
        let fleet = health.fleet_status().map(|status| {
            json!({
                "store": status.store,
                "connected": status.connected,
                "published": status.published,
                "failures": status.failures,
                "last_error": status.last_error.map(|(_, error)| crate::checks::redact(&error).into_owned()),
            })
        });
        let mut status = Map::new();
        status.insert("name".into(), identity.service().into());
        if let Some(environ) = &self.environ {
            status.insert("version".into(), environ.version.clone().into());
        }
        status.insert("started".into(), started_at.into());
        status.insert("uptime_seconds".into(), uptime.into());
        status.insert("host".into(), identity.host().into());
        status.insert("instance".into(), identity.instance().into());
        status.insert("pid".into(), std::process::id().into());
        status.insert(
            "rust_version".into(),
            env!("HEALTHCHECK_BUILD_RUSTC").into(),
        );
        status.insert("checks".into(), checks.into());
        #[cfg(feature = "workers")]
        if let Some(workers) = &self.workers {
            status.insert("workers".into(), workers_json(workers));
        }
        #[cfg(feature = "events")]
        if let Some(events) = &self.events {
            status.insert(
                "events".into(),
                serde_json::to_value(events.stats()).unwrap_or(Value::Null),
            );
        }
        status.insert(
            "metrics".into(),
            json!({
                "enabled": health.metrics_prefix().is_some(),
                "prefix": health.metrics_prefix(),
                "dropped": health.statsd().dropped(),
            }),
        );
        status.insert("fleet".into(), fleet.unwrap_or(Value::Null));
        if let Some(config) = self.masked_config() {
            status.insert("config".into(), config);
        }
        Value::Object(status).to_string()
    }
}

#[cfg(feature = "workers")]
fn workers_json(workers: &crate::workers::Workers) -> Value {
    workers
        .status()
        .into_iter()
        .map(|worker| {
            json!({
                "name": worker.name,
                "kind": match worker.kind {
                    crate::workers::WorkerKind::Task => "task",
                    crate::workers::WorkerKind::Thread => "thread",
                },
                "state": worker.state.as_str(),
                "restarts": worker.restarts,
                "last_error": worker.last_error.map(|e| crate::checks::redact(&e).into_owned()),
                "since": chrono::DateTime::<chrono::Utc>::from(worker.since)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })
        })
        .collect()
}

/// Whether a key names a secret: `password`, `passwd`, `pwd`, `secret`, `token`, `key` and
/// `credentials`, alone or as a part (`api_key`, `clientSecret`, `sslpassword`); `dsn` and
/// `url`-like values are not masked whole, their passwords are (see [`mask`]).
fn secret_key(key: &str, extra: &[String]) -> bool {
    let key = key.to_ascii_lowercase();
    if extra.contains(&key) {
        return true;
    }
    const WORDS: [&str; 8] = [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "credential",
        "private",
        "passphrase",
    ];
    if WORDS.iter().any(|word| key.contains(word)) {
        return true;
    }
    // `key` alone or as the last part: `api_key`, `apiKey`, `signing-key`; not `keyspace`.
    // Masking one value too many is better than showing one secret.
    key.ends_with("key")
}

/// Masks, at every depth, the values of secret keys with [`HIDDEN`], and the credentials in
/// every other string (URLs and DSNs with passwords, `password=...` pairs) with `***`.
pub(crate) fn mask(value: &mut Value, extra: &[String]) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if secret_key(key, extra) && !value.is_null() {
                    *value = Value::from(HIDDEN);
                } else {
                    mask(value, extra);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| mask(item, extra)),
        Value::String(text) => {
            if let std::borrow::Cow::Owned(redacted) = crate::checks::redact(text) {
                *text = redacted;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_at_every_depth_and_the_rest_is_kept() {
        let mut config = json!({
            "database": {"dsn": "postgres://app:s3cret@db:5432/app", "pool": 8},
            "api_key": "k-123",
            "clientSecret": "c-456",
            "keyspace": "orders",
            "services": [{"name": "mail", "token": "t-789", "url": "https://u:p4ss@mail/"}],
            "tls": {"private_key_path": "/etc/tls/key.pem"},
            "custom_field": "visible",
            "vault": {"unseal": "x"},
        });
        mask(&mut config, &["unseal".to_owned()]);
        let text = config.to_string();
        for secret in ["s3cret", "k-123", "c-456", "t-789", "p4ss", "\"x\""] {
            assert!(!text.contains(secret), "{secret} shows: {text}");
        }
        assert_eq!(config["api_key"], HIDDEN);
        assert_eq!(config["services"][0]["token"], HIDDEN);
        assert_eq!(config["tls"]["private_key_path"], HIDDEN);
        assert_eq!(config["vault"]["unseal"], HIDDEN);
        assert_eq!(config["keyspace"], "orders");
        assert_eq!(config["database"]["pool"], 8);
        assert_eq!(config["custom_field"], "visible");
        assert!(
            config["database"]["dsn"]
                .as_str()
                .unwrap()
                .contains("db:5432/app")
        );
    }
}
