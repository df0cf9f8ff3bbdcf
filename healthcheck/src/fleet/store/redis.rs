//! A fleet store on Redis: each record as JSON under its own key, expiring with its time to live.
//!
//! Keys, under a prefix (`healthcheck` unless [`RedisStore::with_prefix`] says otherwise), with
//! every name escaped so that none can reach into another key:
//!
//! - `<prefix>:<service>:result:<check>:<group>:<instance>`: one instance's latest result of one
//!   check in one group, [`FleetRecord::to_json`], with the `ttl` of its publish;
//! - `<prefix>:<service>:beat:<heartbeat>`: a heartbeat's latest beat, [`BeatRecord::to_json`].
//!
//! A publish is one pipelined round trip of `SET key value PX ttl`; a read walks the keys with
//! `SCAN ... MATCH` (never `KEYS`, which blocks the server) and fetches them with `MGET` in
//! batches. The connection is Redis's own [`ConnectionManager`], made on first use, living on the
//! SDK's runtime; a call that finds the server gone fails within [`CALL_DEADLINE`] and the next
//! ones reconnect.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, RedisError};

use super::task::on_own_runtime;
use super::{
    BeatRecord, FleetRecord, FleetStore, StoreError, StoreFuture, StoreUrl, decode_values,
    key_segment,
};

/// The prefix of every key, unless [`RedisStore::with_prefix`] sets another.
const DEFAULT_PREFIX: &str = "healthcheck";

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the server may take to answer one command or pipeline.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one call of the store may take in all, reconnecting included.
const CALL_DEADLINE: Duration = Duration::from_secs(5);
/// How many keys one `SCAN` step looks at.
const SCAN_COUNT: usize = 1000;
/// How many keys one `MGET` fetches.
const MGET_BATCH: usize = 500;

/// A [`FleetStore`] on Redis (or Valkey, or anything that speaks its protocol): `redis://` and,
/// when the `redis` crate is built with TLS, `rediss://`.
///
/// Constructing it does not connect: the first call does, on the SDK's own runtime, so that the
/// connection outlives the runtime of whoever called first. A server that is down makes calls
/// fail within a few seconds with a [`StoreError`]; once it is back, the same store works again.
/// Its [`Debug`](fmt::Debug) output and its errors show the URL with the password masked.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::fleet::{FleetStore, RedisStore};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::new("redis://:s3cret@cache:6379/0")?.with_prefix("health");
/// store.publish(&[], Duration::from_secs(60)).await?;
/// let failing: Vec<_> = store
///     .read(Some("payments"))
///     .await?
///     .into_iter()
///     .filter(|record| !record.status.is_healthy())
///     .collect();
/// # Ok(())
/// # }
/// ```
pub struct RedisStore {
    url: StoreUrl,
    prefix: String,
    connection: Arc<Connection>,
}

/// The client (a parsed URL) and, once a call made it, the connection.
struct Connection {
    client: redis::Client,
    manager: Mutex<Option<ConnectionManager>>,
}

impl RedisStore {
    /// A store at `url`, such as `redis://:password@host:6379/0`. Does not connect.
    ///
    /// # Errors
    /// [`StoreError`] (with the password masked) when `url` is not a Redis URL.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let parsed = StoreUrl::parse(url)
            .map_err(|reason| StoreError::described("(not a URL)".to_owned(), reason))?;
        Self::from_url(&parsed)
            .map_err(|reason| StoreError::described(parsed.masked().to_owned(), reason))
    }

    /// A store at `url`, whose scheme is `redis` or `rediss`. Does not connect.
    pub(crate) fn from_url(url: &StoreUrl) -> Result<Self, String> {
        if !matches!(url.scheme(), "redis" | "rediss") {
            return Err(format!(
                "{url} is not a Redis URL (expected redis:// or rediss://)"
            ));
        }
        let client = redis::Client::open(url.expose())
            .map_err(|e| url.mask(&format!("{url}: not a valid Redis URL: {e}")))?;
        Ok(Self {
            url: url.clone(),
            prefix: DEFAULT_PREFIX.to_owned(),
            connection: Arc::new(Connection {
                client,
                manager: Mutex::new(None),
            }),
        })
    }

    /// The store with its keys under `prefix` instead of `healthcheck`, to share one Redis
    /// between several fleets. Used as is (not escaped).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The prefix of the store's keys.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs `op` on a connection, on the SDK's runtime, within [`CALL_DEADLINE`].
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, RedisError>> + Send,
    {
        let connection = Arc::clone(&self.connection);
        on_own_runtime(&self.url, CALL_DEADLINE, async move {
            connection.run(op).await.map_err(|e| e.to_string())
        })
        .await
    }
}

impl Connection {
    /// The connection manager, made (without connecting) on first use. Runs on the SDK's runtime,
    /// where the manager then spawns its tasks.
    fn manager(&self) -> Result<ConnectionManager, RedisError> {
        let mut manager = self.manager.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(manager) = manager.as_ref() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(0);
        let made = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        *manager = Some(made.clone());
        Ok(made)
    }

    /// Forgets the connection manager, so that the next call starts afresh. After any failure:
    /// the manager reconnects by itself after a lost connection, but not after a refused login,
    /// which a fixed password or ACL on the server should cure without a restart of ours.
    fn reset(&self) {
        self.manager
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Runs `op`, once more on a fresh connection when the first one turned out to be gone (a
    /// restarted server): every operation of the store can be repeated safely.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, RedisError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let first = op(self.manager()?).await;
        match first {
            Ok(answer) => Ok(answer),
            Err(e) => {
                self.reset();
                if !(e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error()) {
                    return Err(e);
                }
                let second = op(self.manager()?).await;
                if second.is_err() {
                    self.reset();
                }
                second
            }
        }
    }
}

/// One segment of a key: [`key_segment`], and `:` (the separator) as `%3A`.
fn segment(name: &str) -> Cow<'_, str> {
    let escaped = key_segment(name);
    if escaped.contains(':') {
        Cow::Owned(escaped.replace(':', "%3A"))
    } else {
        escaped
    }
}

/// `text` matching itself only in a `SCAN ... MATCH` pattern.
fn glob_literal(text: &str) -> Cow<'_, str> {
    if !text.contains(['*', '?', '[', ']', '\\', '^']) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    Cow::Owned(escaped)
}

impl RedisStore {
    fn result_key(&self, record: &FleetRecord) -> String {
        format!(
            "{}:{}:result:{}:{}:{}",
            self.prefix,
            segment(&record.service),
            segment(&record.check),
            segment(&record.group),
            segment(&record.instance)
        )
    }

    fn beat_key(&self, beat: &BeatRecord) -> String {
        format!(
            "{}:{}:beat:{}",
            self.prefix,
            segment(&beat.service),
            segment(&beat.heartbeat)
        )
    }

    /// The `MATCH` pattern of the results of `service`, or of every service.
    fn results_pattern(&self, service: Option<&str>) -> String {
        let service = service.map_or(Cow::Borrowed("*"), |s| {
            Cow::Owned(glob_literal(&segment(s)).into_owned())
        });
        format!("{}:{service}:result:*", glob_literal(&self.prefix))
    }

    fn beats_pattern(&self, service: &str) -> String {
        format!(
            "{}:{}:beat:*",
            glob_literal(&self.prefix),
            glob_literal(&segment(service))
        )
    }

    /// Every value under the keys matching `pattern` that still exists: `SCAN`, then `MGET` in
    /// batches (a key that expired in between is left out).
    async fn values(&self, pattern: String) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.call(move |mut connection| {
            let pattern = pattern.clone();
            async move {
                let mut keys: Vec<String> = Vec::new();
                let mut cursor: u64 = 0;
                loop {
                    let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                        .cursor_arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(SCAN_COUNT)
                        .query_async(&mut connection)
                        .await?;
                    keys.extend(batch);
                    cursor = next;
                    if cursor == 0 {
                        break;
                    }
                }
                // SCAN may return a key more than once.
                keys.sort_unstable();
                keys.dedup();
                let mut found = Vec::with_capacity(keys.len());
                for batch in keys.chunks(MGET_BATCH) {
                    let values: Vec<Option<Vec<u8>>> = connection.mget(batch).await?;
                    found.extend(
                        batch
                            .iter()
                            .zip(values)
                            .filter_map(|(key, value)| Some((key.clone(), value?))),
                    );
                }
                Ok(found)
            }
        })
        .await
    }
}

/// A time to live in milliseconds, as `PX` takes it: at least one.
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl FleetStore for RedisStore {
    fn publish<'a>(
        &'a self,
        records: &'a [FleetRecord],
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let mut pipeline = redis::pipe();
        for record in records {
            pipeline
                .cmd("SET")
                .arg(self.result_key(record))
                .arg(record.to_json())
                .arg("PX")
                .arg(millis(ttl))
                .ignore();
        }
        Box::pin(async move {
            if records.is_empty() {
                return Ok(());
            }
            self.call(move |mut connection| {
                let pipeline = pipeline.clone();
                async move { pipeline.exec_async(&mut connection).await }
            })
            .await
        })
    }

    fn read<'a>(
        &'a self,
        service: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Vec<FleetRecord>, StoreError>> {
        Box::pin(async move {
            let values = self.values(self.results_pattern(service)).await?;
            Ok(decode_values(
                &self.url,
                values,
                FleetRecord::from_json,
                |record| service.is_none_or(|s| s == record.service),
            ))
        })
    }

    fn beat<'a>(
        &'a self,
        beat: &'a BeatRecord,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let key = self.beat_key(beat);
        let value = beat.to_json();
        Box::pin(self.call(move |mut connection| {
            let (key, value) = (key.clone(), value.clone());
            async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(millis(ttl))
                    .exec_async(&mut connection)
                    .await
            }
        }))
    }

    fn beats<'a>(
        &'a self,
        service: &'a str,
    ) -> StoreFuture<'a, Result<Vec<BeatRecord>, StoreError>> {
        Box::pin(async move {
            let values = self.values(self.beats_pattern(service)).await?;
            Ok(decode_values(
                &self.url,
                values,
                BeatRecord::from_json,
                |beat| beat.service == service,
            ))
        })
    }

    fn describe(&self) -> String {
        self.url.masked().to_owned()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_reach_into_other_keys() {
        assert_eq!(segment("database"), "database");
        assert_eq!(segment("a:b/c%d"), "a%3Ab%2Fc%25d");
        let store = RedisStore::new("redis://:pw@cache:6379/0").unwrap();
        let record = FleetRecord {
            service: "pay:ments".into(),
            check: "db:main".into(),
            group: String::new(),
            instance: "i/1".into(),
            host: "web-1".into(),
            labels: std::collections::BTreeMap::new(),
            status: crate::Status::Healthy,
            message: None,
            response_time: 0.0,
            checked_at: chrono::Utc::now(),
            critical: true,
            stale_after: None,
            fields: serde_json::Map::new(),
        };
        assert_eq!(
            store.result_key(&record),
            "healthcheck:pay%3Aments:result:db%3Amain::i%2F1"
        );
    }

    #[test]
    fn patterns_match_the_service_literally() {
        let store = RedisStore::new("redis://cache")
            .unwrap()
            .with_prefix("h[1]");
        assert_eq!(
            store.results_pattern(Some("a*b?")),
            "h\\[1\\]:a\\*b\\?:result:*"
        );
        assert_eq!(store.results_pattern(None), "h\\[1\\]:*:result:*");
        assert_eq!(store.beats_pattern("x:y"), "h\\[1\\]:x%3Ay:beat:*");
    }

    #[test]
    fn the_password_never_shows() {
        let store = RedisStore::new("redis://:s3cret@cache:6379/0").unwrap();
        let shown = format!("{store:?} {}", store.describe());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redis://:***@cache:6379/0"), "{shown}");
        let error = RedisStore::new("http://:s3cret@cache").unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
