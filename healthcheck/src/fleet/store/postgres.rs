//! The PostgreSQL fleet store: one table of results and one of beats in a database the fleet
//! shares.
//!
//! The pool is `deadpool-postgres`: maintained with `tokio-postgres` in mind, it creates
//! connections lazily, has its own wait, create and recycle timeouts, caches prepared statements
//! per connection, and drops a connection that the server closed (so a restarted server is
//! reconnected to on the next call). bb8-postgres would do, but needs more glue for the same.

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::error::with_causes;

use super::sql::{self, fields_from_column, labels_from_column, status_from_column};
use super::{BeatRecord, FleetRecord, FleetStore, StoreError, StoreFuture, StoreUrl, warn_skipped};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole call may take, waiting for a connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The server-side limit of one statement, in milliseconds.
const STATEMENT_TIMEOUT_MS: u32 = 5_000;
/// Connections at most.
const POOL_SIZE: usize = 4;
/// How often, at most, a publish also deletes the rows that expired.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The tables, created when absent. The advisory lock (its key is "healthch" in ASCII)
/// serialises their creation between processes, as `CREATE TABLE IF NOT EXISTS` alone can fail
/// when two run at once; it is held until the end of the batch's implicit transaction.
const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7522525871029642088);
CREATE TABLE IF NOT EXISTS healthcheck_results (
    service text NOT NULL,
    check_name text NOT NULL,
    grp text NOT NULL,
    instance text NOT NULL,
    host text NOT NULL,
    labels text NOT NULL,
    status text NOT NULL,
    message text,
    response_time double precision NOT NULL,
    checked_at timestamptz NOT NULL,
    critical boolean NOT NULL,
    stale_after double precision,
    fields text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (service, check_name, grp, instance)
);
CREATE INDEX IF NOT EXISTS healthcheck_results_expires_at ON healthcheck_results (expires_at);
CREATE TABLE IF NOT EXISTS healthcheck_beats (
    service text NOT NULL,
    heartbeat text NOT NULL,
    instance text NOT NULL,
    host text NOT NULL,
    at timestamptz NOT NULL,
    ok boolean NOT NULL,
    message text,
    fields text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (service, heartbeat)
);
";

/// The whole batch in one statement: one array per column, unnested into rows.
const UPSERT_RESULTS: &str = "
INSERT INTO healthcheck_results AS r (service, check_name, grp, instance, host, labels, status,
    message, response_time, checked_at, critical, stale_after, fields, expires_at)
SELECT t.*, now() + make_interval(secs => $14)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::float8[], $10::timestamptz[], $11::bool[], $12::float8[], $13::text[]) AS t
ON CONFLICT (service, check_name, grp, instance) DO UPDATE SET
    host = excluded.host, labels = excluded.labels, status = excluded.status,
    message = excluded.message, response_time = excluded.response_time,
    checked_at = excluded.checked_at, critical = excluded.critical,
    stale_after = excluded.stale_after, fields = excluded.fields, expires_at = excluded.expires_at";

const SELECT_RESULTS: &str = "
SELECT service, check_name, grp, instance, host, labels, status, message, response_time,
    checked_at, critical, stale_after, fields
FROM healthcheck_results WHERE expires_at > now() AND ($1::text IS NULL OR service = $1)";

/// A beat replaces an older one, or one that expired.
const UPSERT_BEAT: &str = "
INSERT INTO healthcheck_beats AS b (service, heartbeat, instance, host, at, ok, message, fields,
    expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))
ON CONFLICT (service, heartbeat) DO UPDATE SET
    instance = excluded.instance, host = excluded.host, at = excluded.at, ok = excluded.ok,
    message = excluded.message, fields = excluded.fields, expires_at = excluded.expires_at
WHERE b.at <= excluded.at OR b.expires_at <= now()";

const SELECT_BEATS: &str = "
SELECT service, heartbeat, instance, host, at, ok, message, fields
FROM healthcheck_beats WHERE service = $1 AND expires_at > now()";

const PRUNE: &str = "
DELETE FROM healthcheck_results WHERE expires_at <= now();
DELETE FROM healthcheck_beats WHERE expires_at <= now();
";

/// The fleet store in a PostgreSQL database, for fleets that already run one.
///
/// Two tables, `healthcheck_results` and `healthcheck_beats`, are created when absent. A
/// publish is one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE` statement whatever
/// the number of records; a read is one query that skips the rows that expired, and a publish
/// now and then (at most once a minute) deletes them. Expiry follows the server's clock, so
/// hosts whose clocks differ agree on it.
///
/// It connects lazily, through a pool of up to 4 connections: making a store never connects,
/// and never fails because the server is down. Connecting gives up after 3 s and a call after
/// 5 s (statements are also limited to 5 s on the server), so a server that went away makes
/// calls fail quickly with a [`StoreError`], and the first call after it is back succeeds. The
/// connections live on the SDK's own runtime, not the caller's, so a caller's runtime that is
/// dropped takes nothing of the store with it.
///
/// Connections are **not encrypted** (no TLS): use it on a trusted network, or over a tunnel
/// or a Unix socket (`host=/var/run/postgresql`). A server that requires TLS refuses it.
///
/// [`Debug`](std::fmt::Debug), [`describe`](FleetStore::describe) and every error show the
/// URL with its password masked.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::fleet::{FleetStore, PostgresStore};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::new("postgres://health:s3cret@db.internal:5432/ops")?;
/// assert_eq!(store.describe(), "postgres://health:***@db.internal:5432/ops");
/// store.publish(&[], Duration::from_secs(60)).await?;
/// let everybody = store.read(None).await?;
/// # let _ = everybody;
/// # Ok(())
/// # }
/// ```
pub struct PostgresStore {
    shared: Arc<Shared>,
}

/// What the calls, which run on the SDK's runtime, share with the store.
struct Shared {
    url: StoreUrl,
    pool: Pool,
    /// Whether this store created (or found) the tables; reset when a table turns out missing.
    schema_ready: AtomicBool,
    /// When the expired rows were last deleted, in seconds since the epoch.
    last_prune: AtomicU64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PostgresStore")
            .field(&self.shared.url.masked())
            .finish()
    }
}

impl PostgresStore {
    /// The store in the database at `url_or_conninfo`: a URL
    /// (`postgres://user:password@host:5432/db`, `postgresql://...`) or a `key=value`
    /// connection string (`host=db user=app password=... dbname=ops`). Does not connect.
    ///
    /// Unless the connection string says otherwise, connecting times out after 3 s, statements
    /// after 5 s, and the application name is `healthcheck`.
    ///
    /// # Errors
    /// [`StoreError`] (with the password masked) when `url_or_conninfo` cannot be parsed.
    pub fn new(url_or_conninfo: &str) -> Result<Self, StoreError> {
        let trimmed = url_or_conninfo.trim();
        let lower = trimmed.to_ascii_lowercase();
        let url = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            StoreUrl::parse(trimmed)
                .map_err(|e| StoreError::new(&StoreUrl::conninfo(trimmed), e))?
        } else {
            StoreUrl::conninfo(trimmed)
        };
        Self::with_url(url)
    }

    /// The store at `postgres://...` or `postgresql://...`.
    pub(crate) fn from_url(url: &StoreUrl) -> Result<Self, String> {
        Self::with_url(url.clone()).map_err(|e| e.to_string())
    }

    fn with_url(url: StoreUrl) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url.expose())
            .map_err(|e| StoreError::new(&url, format_args!("not a PostgreSQL address: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_options().is_none() {
            config.options(format!("-c statement_timeout={STATEMENT_TIMEOUT_MS}"));
        }
        if config.get_application_name().is_none() {
            config.application_name("healthcheck");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection the server closed is dropped, and another made; no round trip.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CALL_TIMEOUT))
            .create_timeout(Some(CALL_TIMEOUT))
            .recycle_timeout(Some(CALL_TIMEOUT))
            .build()
            .map_err(|e| StoreError::new(&url, e))?;
        Ok(Self {
            shared: Arc::new(Shared {
                url,
                pool,
                schema_ready: AtomicBool::new(false),
                last_prune: AtomicU64::new(epoch_seconds()),
            }),
        })
    }

    /// Runs `work` with a pooled connection, the tables created, on the SDK's own runtime. A
    /// table found missing (dropped, or lost with a server) is created again and `work` run once
    /// more.
    fn call<T, F>(&self, work: F) -> StoreFuture<'_, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c Client) -> BoxFuture<'c, Result<T, tokio_postgres::Error>>
            + Send
            + 'static,
    {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let url = shared.url.clone();
            sql::on_own_runtime(&url, CALL_TIMEOUT, async move {
                let failed =
                    |e: &dyn std::error::Error| StoreError::new(&shared.url, with_causes(e));
                let client = shared.pool.get().await.map_err(|e| failed(&e))?;
                let mut retried = false;
                loop {
                    if !shared.schema_ready.load(Ordering::Acquire) {
                        client.batch_execute(SCHEMA).await.map_err(|e| failed(&e))?;
                        shared.schema_ready.store(true, Ordering::Release);
                    }
                    match work(&client).await {
                        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) && !retried => {
                            shared.schema_ready.store(false, Ordering::Release);
                            retried = true;
                        }
                        result => return result.map_err(|e| failed(&e)),
                    }
                }
            })
            .await
        })
    }
}

fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl Shared {
    /// Deletes the rows that expired, in the background, if the last time was long enough ago.
    fn prune_now_and_then(self: &Arc<Self>) {
        let now = epoch_seconds();
        let last = self.last_prune.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PRUNE_EVERY.as_secs()
            || self
                .last_prune
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let Ok(runtime) = crate::health::own_runtime() else {
            return;
        };
        let shared = Arc::clone(self);
        runtime.spawn(async move {
            let pruned = tokio::time::timeout(CALL_TIMEOUT, async {
                let client = shared.pool.get().await.map_err(|e| with_causes(&e))?;
                client
                    .batch_execute(PRUNE)
                    .await
                    .map_err(|e| with_causes(&e))
            })
            .await;
            let error = match pruned {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e,
                Err(_) => format!("no answer within {} s", CALL_TIMEOUT.as_secs()),
            };
            tracing::debug!(
                store = shared.url.masked(),
                error = shared.url.mask(&error),
                "could not delete the expired rows of the fleet store; the next publish retries"
            );
        });
    }
}

/// The batch as one array per column; of records with the same key, the last one.
#[derive(Default)]
struct Columns {
    service: Vec<String>,
    check: Vec<String>,
    group: Vec<String>,
    instance: Vec<String>,
    host: Vec<String>,
    labels: Vec<String>,
    status: Vec<&'static str>,
    message: Vec<Option<String>>,
    response_time: Vec<f64>,
    checked_at: Vec<DateTime<Utc>>,
    critical: Vec<bool>,
    stale_after: Vec<Option<f64>>,
    fields: Vec<String>,
}

impl Columns {
    fn of(records: &[FleetRecord]) -> Self {
        // One statement cannot update a row twice: the last record of a key wins, as it would
        // had they been published one after the other.
        let mut last: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            last.insert((&r.service, &r.check, &r.group, &r.instance), i);
        }
        let mut columns = Self::default();
        for (i, r) in records.iter().enumerate() {
            if last.get(&(&*r.service, &*r.check, &*r.group, &*r.instance)) != Some(&i) {
                continue;
            }
            columns.service.push(r.service.clone());
            columns.check.push(r.check.clone());
            columns.group.push(r.group.clone());
            columns.instance.push(r.instance.clone());
            columns.host.push(r.host.clone());
            columns.labels.push(sql::labels_column(&r.labels));
            columns.status.push(r.status.as_str());
            columns.message.push(r.message.clone());
            columns.response_time.push(r.response_time);
            columns.checked_at.push(r.checked_at);
            columns.critical.push(r.critical);
            columns.stale_after.push(r.stale_after);
            columns.fields.push(sql::fields_column(&r.fields));
        }
        columns
    }
}

/// One row of `SELECT_RESULTS` as a record, or why it is not one.
fn result_from_row(row: &Row) -> Result<FleetRecord, String> {
    let text = |i: usize| row.try_get::<_, String>(i).map_err(|e| e.to_string());
    Ok(FleetRecord {
        service: text(0)?,
        check: text(1)?,
        group: text(2)?,
        instance: text(3)?,
        host: text(4)?,
        labels: labels_from_column(&text(5)?)?,
        status: status_from_column(&text(6)?)?,
        message: row.try_get(7).map_err(|e| e.to_string())?,
        response_time: row.try_get(8).map_err(|e| e.to_string())?,
        checked_at: row.try_get(9).map_err(|e| e.to_string())?,
        critical: row.try_get(10).map_err(|e| e.to_string())?,
        stale_after: row.try_get(11).map_err(|e| e.to_string())?,
        fields: fields_from_column(&text(12)?)?,
    })
}

/// One row of `SELECT_BEATS` as a beat, or why it is not one.
fn beat_from_row(row: &Row) -> Result<BeatRecord, String> {
    let text = |i: usize| row.try_get::<_, String>(i).map_err(|e| e.to_string());
    Ok(BeatRecord {
        service: text(0)?,
        heartbeat: text(1)?,
        instance: text(2)?,
        host: text(3)?,
        at: row.try_get(4).map_err(|e| e.to_string())?,
        ok: row.try_get(5).map_err(|e| e.to_string())?,
        message: row.try_get(6).map_err(|e| e.to_string())?,
        fields: fields_from_column(&text(7)?)?,
    })
}

/// Decodes `rows`, warning once about those that cannot be.
fn decode_all<T>(
    url: &StoreUrl,
    rows: &[Row],
    key_columns: usize,
    decode: impl Fn(&Row) -> Result<T, String>,
) -> Vec<T> {
    let mut found = Vec::with_capacity(rows.len());
    let mut skipped = 0;
    let mut example = None;
    for row in rows {
        match decode(row) {
            Ok(decoded) => found.push(decoded),
            Err(error) => {
                skipped += 1;
                example.get_or_insert_with(|| {
                    let key: Vec<Option<String>> =
                        (0..key_columns).map(|i| row.try_get(i).ok()).collect();
                    (sql::row_key(&key), error)
                });
            }
        }
    }
    warn_skipped(url, skipped, example);
    found
}

impl FleetStore for PostgresStore {
    fn publish<'a>(
        &'a self,
        records: &'a [FleetRecord],
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        if records.is_empty() {
            return Box::pin(std::future::ready(Ok(())));
        }
        let columns = Arc::new(Columns::of(records));
        let ttl = ttl.as_secs_f64();
        Box::pin(async move {
            self.call(move |client| {
                let c = Arc::clone(&columns);
                Box::pin(async move {
                    let upsert = client.prepare_cached(UPSERT_RESULTS).await?;
                    let params: [&(dyn ToSql + Sync); 14] = [
                        &c.service,
                        &c.check,
                        &c.group,
                        &c.instance,
                        &c.host,
                        &c.labels,
                        &c.status,
                        &c.message,
                        &c.response_time,
                        &c.checked_at,
                        &c.critical,
                        &c.stale_after,
                        &c.fields,
                        &ttl,
                    ];
                    client.execute(&upsert, &params).await.map(drop)
                })
            })
            .await?;
            self.shared.prune_now_and_then();
            Ok(())
        })
    }

    fn read<'a>(
        &'a self,
        service: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Vec<FleetRecord>, StoreError>> {
        let service = service.map(str::to_owned);
        let url = self.shared.url.clone();
        self.call(move |client| {
            let (service, url) = (service.clone(), url.clone());
            Box::pin(async move {
                let select = client.prepare_cached(SELECT_RESULTS).await?;
                let rows = client.query(&select, &[&service]).await?;
                Ok(decode_all(&url, &rows, 4, result_from_row))
            })
        })
    }

    fn beat<'a>(
        &'a self,
        beat: &'a BeatRecord,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let beat = Arc::new(beat.clone());
        let fields = sql::fields_column(&beat.fields);
        let ttl = ttl.as_secs_f64();
        self.call(move |client| {
            let (beat, fields) = (Arc::clone(&beat), fields.clone());
            Box::pin(async move {
                let upsert = client.prepare_cached(UPSERT_BEAT).await?;
                let params: [&(dyn ToSql + Sync); 9] = [
                    &beat.service,
                    &beat.heartbeat,
                    &beat.instance,
                    &beat.host,
                    &beat.at,
                    &beat.ok,
                    &beat.message,
                    &fields,
                    &ttl,
                ];
                client.execute(&upsert, &params).await.map(drop)
            })
        })
    }

    fn beats<'a>(
        &'a self,
        service: &'a str,
    ) -> StoreFuture<'a, Result<Vec<BeatRecord>, StoreError>> {
        let service = service.to_owned();
        let url = self.shared.url.clone();
        self.call(move |client| {
            let (service, url) = (service.clone(), url.clone());
            Box::pin(async move {
                let select = client.prepare_cached(SELECT_BEATS).await?;
                let rows = client.query(&select, &[&service]).await?;
                Ok(decode_all(&url, &rows, 2, beat_from_row))
            })
        })
    }

    fn describe(&self) -> String {
        self.shared.url.masked().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn making_a_store_never_connects_and_never_shows_the_password() {
        let store = PostgresStore::new("postgres://app:hunter2@127.0.0.1:1/health").unwrap();
        assert_eq!(store.describe(), "postgres://app:***@127.0.0.1:1/health");
        assert_eq!(
            format!("{store:?}"),
            "PostgresStore(\"postgres://app:***@127.0.0.1:1/health\")"
        );
        let store = PostgresStore::new("host=127.0.0.1 port=1 user=app password=hunter2").unwrap();
        assert_eq!(
            store.describe(),
            "host=127.0.0.1 port=1 user=app password=***"
        );
        let url = StoreUrl::parse("postgresql://app:hunter2@db/health").unwrap();
        assert!(PostgresStore::from_url(&url).is_ok());
        let error = PostgresStore::new("postgres://app:hunter2@db:notaport/health").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let error = PostgresStore::new("host=db password=hunter2 nonsense").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn a_batch_keeps_the_last_record_of_a_key() {
        let record = |check: &str, host: &str| FleetRecord {
            service: "s".into(),
            check: check.into(),
            group: String::new(),
            instance: "i".into(),
            host: host.into(),
            labels: Default::default(),
            status: crate::Status::Healthy,
            message: None,
            response_time: 0.0,
            checked_at: Utc::now(),
            critical: true,
            stale_after: None,
            fields: Default::default(),
        };
        let columns = Columns::of(&[record("a", "1"), record("b", "2"), record("a", "3")]);
        assert_eq!(columns.check, ["b", "a"]);
        assert_eq!(columns.host, ["2", "3"]);
    }
}
