//! Shared stores of results: the [`FleetStore`] interface, the records it holds, and the
//! in-memory default. The other backends (SQLite, Redis, PostgreSQL, etcd) sit beside it, each
//! behind its cargo feature.
//!
//! A store holds, per (service, check, group, instance), the latest [`FleetRecord`], and per
//! (service, heartbeat) the latest [`BeatRecord`]. Every instance publishes its own results; any
//! process reads everybody's. Records expire: a store forgets an instance that stopped
//! publishing once the time to live it was given has passed.

#[cfg(feature = "etcd")]
mod etcd;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(feature = "redis", feature = "etcd"))]
mod task;
mod url;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::component::Status;
pub use crate::http::StoreFuture;

#[cfg(feature = "etcd")]
#[cfg_attr(docsrs, doc(cfg(feature = "etcd")))]
pub use etcd::EtcdStore;
#[cfg(feature = "registry")]
pub(crate) use etcd::parse_endpoints as etcd_endpoints;
pub use memory::MemoryFleetStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;
pub use url::StoreUrl;
pub(crate) use url::open;

/// `HEALTHCHECK_STORE`: the shared store to publish to and read from, as a URL:
/// `sqlite:///var/lib/app/health.db`, `redis://host:6379/0`, `postgres://user:pw@host/db`,
/// `etcd://h1:2379,h2:2379`, or `memory:` (the default).
pub const STORE_ENV: &str = "HEALTHCHECK_STORE";

/// One check's result as one instance published it.
///
/// Stored as JSON by the key-value stores, as a row by the SQL ones; [`FleetRecord::to_json`]
/// and [`FleetRecord::from_json`] are the shared encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetRecord {
    /// The service of the instance.
    pub service: String,
    /// The check's name.
    pub check: String,
    /// The group the record stands for; empty for a check in no group. A check in several
    /// groups publishes a record for each.
    #[serde(default)]
    pub group: String,
    /// The instance id.
    pub instance: String,
    /// The instance's host.
    pub host: String,
    /// The instance's labels (region, zone, version, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The result.
    pub status: Status,
    /// What the check said, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long the check took, in seconds.
    #[serde(default)]
    pub response_time: f64,
    /// When the check ran (wall clock).
    pub checked_at: DateTime<Utc>,
    /// Whether a failure of this check makes its service unhealthy.
    #[serde(default = "yes")]
    pub critical: bool,
    /// After how many seconds without a newer result the publisher's own freshness window
    /// says this one is stale. `None`: the reader's window applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<f64>,
    /// The extra fields the check added (a heartbeat's `last_beat` and `age` among them).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
}

const fn yes() -> bool {
    true
}

impl FleetRecord {
    /// The record as JSON, as the key-value stores keep it.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A record from its JSON.
    ///
    /// # Errors
    /// The decoder's message when `bytes` is not a record (garbage under the SDK's keys).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// The record's key within its service: check, group and instance.
    #[must_use]
    pub fn key(&self) -> (&str, &str, &str) {
        (&self.check, &self.group, &self.instance)
    }
}

/// One heartbeat's latest beat, as a process that did the work (a cron job, a worker on another
/// host) published it, for the instances that report the heartbeat to read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BeatRecord {
    /// The service the heartbeat belongs to.
    pub service: String,
    /// The heartbeat's name.
    pub heartbeat: String,
    /// The instance that beat.
    pub instance: String,
    /// Its host.
    pub host: String,
    /// When it beat (wall clock).
    pub at: DateTime<Utc>,
    /// Whether the work went well.
    pub ok: bool,
    /// The beat's message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The beat's fields.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
}

impl BeatRecord {
    /// The record as JSON, as the key-value stores keep it.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A record from its JSON.
    ///
    /// # Errors
    /// The decoder's message when `bytes` is not a beat (garbage under the SDK's keys).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// A store that could not do what was asked: unreachable, refused, or answering nonsense.
///
/// Its message never holds the store's credentials: [`StoreError::new`] masks them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{store}: {message}")]
pub struct StoreError {
    store: String,
    message: String,
}

impl StoreError {
    /// An error of the store at `url` (shown without credentials), saying `message` (in which
    /// the URL's password, if any, is masked too).
    pub fn new(url: &StoreUrl, message: impl fmt::Display) -> Self {
        Self {
            store: url.masked().to_owned(),
            message: url.mask(&message.to_string()),
        }
    }

    /// An error of a store known by its description (already without credentials).
    pub(crate) const fn described(store: String, message: String) -> Self {
        Self { store, message }
    }

    /// The store, as its URL without credentials.
    #[must_use]
    pub fn store(&self) -> &str {
        &self.store
    }

    /// What went wrong.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A shared store of results: where instances publish and where the fleet view reads.
///
/// Implementations connect lazily and reconnect by themselves: a store that is down at start or
/// goes away answers errors until it is back, and never blocks the caller's thread. Reads skip,
/// with a `tracing` warning, whatever under the SDK's keys or rows cannot be decoded.
pub trait FleetStore: Send + Sync + fmt::Debug {
    /// Stores the latest results of one instance, replacing those with the same (service,
    /// check, group, instance); they expire `ttl` after this call unless published again. In
    /// one round trip, statement or transaction.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached or refuses the write.
    fn publish<'a>(
        &'a self,
        records: &'a [FleetRecord],
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>>;

    /// The results of `service`, or of every service with `None`, that have not expired.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached or read.
    fn read<'a>(
        &'a self,
        service: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Vec<FleetRecord>, StoreError>>;

    /// Stores the latest beat of one heartbeat (replacing the previous one of the same
    /// service and name); it expires `ttl` after this call.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached or refuses the write.
    fn beat<'a>(
        &'a self,
        beat: &'a BeatRecord,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>>;

    /// The latest beat of each heartbeat of `service`.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached or read.
    fn beats<'a>(
        &'a self,
        service: &'a str,
    ) -> StoreFuture<'a, Result<Vec<BeatRecord>, StoreError>>;

    /// The store's URL without credentials (`redis://:***@cache:6379/0`), for logs and status.
    fn describe(&self) -> String;
}

/// Escapes one segment of a store key (`/` and `%` become `%2F` and `%25`), so that names
/// holding a slash cannot reach into another key.
#[must_use]
pub fn key_segment(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.contains(['/', '%']) {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut escaped = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        match c {
            '/' => escaped.push_str("%2F"),
            '%' => escaped.push_str("%25"),
            other => escaped.push(other),
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// Decodes the `(key, value)` entries a key-value store read, keeping what `keep` accepts;
/// what is not a record is skipped, with one warning for the read.
#[cfg(any(feature = "redis", feature = "etcd"))]
pub(crate) fn decode_values<R>(
    store: &StoreUrl,
    values: impl IntoIterator<Item = (String, Vec<u8>)>,
    decode: impl Fn(&[u8]) -> Result<R, String>,
    keep: impl Fn(&R) -> bool,
) -> Vec<R> {
    let mut records = Vec::new();
    let mut skipped = 0;
    let mut example = None;
    for (key, value) in values {
        match decode(&value) {
            Ok(record) if keep(&record) => records.push(record),
            Ok(_) => {}
            Err(error) => {
                skipped += 1;
                example.get_or_insert((key, error));
            }
        }
    }
    warn_skipped(store, skipped, example);
    records
}

/// Logs, once per read, that `skipped` entries under the SDK's keys could not be decoded; for
/// the backends.
#[allow(dead_code)] // Used by the backends behind features.
pub(crate) fn warn_skipped(store: &StoreUrl, skipped: usize, example: Option<(String, String)>) {
    if skipped == 0 {
        return;
    }
    let (key, error) = example.unwrap_or_default();
    tracing::warn!(
        store = store.masked(),
        skipped,
        key = key.as_str(),
        error = error.as_str(),
        "skipped entries of the fleet store that are not health check records"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_segments_cannot_reach_into_other_keys() {
        assert_eq!(key_segment("database"), "database");
        assert_eq!(key_segment("a/b%c"), "a%2Fb%25c");
    }

    #[test]
    fn records_read_back_from_their_json() {
        let record = FleetRecord {
            service: "payments".into(),
            check: "database".into(),
            group: "db".into(),
            instance: "i-1".into(),
            host: "web-1".into(),
            labels: BTreeMap::from([("region".into(), "eu".into())]),
            status: Status::Degraded,
            message: Some("slow\nreplica".into()),
            response_time: 0.012_5,
            checked_at: Utc::now(),
            critical: false,
            stale_after: Some(90.0),
            fields: Map::from_iter([("lag".to_owned(), Value::from(3))]),
        };
        let json = record.to_json();
        assert_eq!(FleetRecord::from_json(json.as_bytes()), Ok(record));
        assert!(FleetRecord::from_json(b"{\"check\": 1}").is_err());
        assert!(FleetRecord::from_json(b"\xff garbage").is_err());
    }
}
