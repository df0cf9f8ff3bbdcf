//! The SQLite fleet store: one file that several processes on one host share, with no server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::sql::{self, fields_from_column, labels_from_column, status_from_column};
use super::{BeatRecord, FleetRecord, FleetStore, StoreError, StoreFuture, StoreUrl, warn_skipped};

/// How long a call waits for another process's write to end before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The tables, created when absent. Times are text in one fixed-width RFC 3339 form (so that
/// they sort as they compare) and expiry is in milliseconds since the epoch.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS healthcheck_results (
    service TEXT NOT NULL,
    check_name TEXT NOT NULL,
    grp TEXT NOT NULL,
    instance TEXT NOT NULL,
    host TEXT NOT NULL,
    labels TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    response_time REAL NOT NULL,
    checked_at TEXT NOT NULL,
    critical INTEGER NOT NULL,
    stale_after REAL,
    fields TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (service, check_name, grp, instance)
);
CREATE INDEX IF NOT EXISTS healthcheck_results_expires_at ON healthcheck_results (expires_at);
CREATE TABLE IF NOT EXISTS healthcheck_beats (
    service TEXT NOT NULL,
    heartbeat TEXT NOT NULL,
    instance TEXT NOT NULL,
    host TEXT NOT NULL,
    at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    message TEXT,
    fields TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (service, heartbeat)
);
";

const UPSERT_RESULT: &str = "
INSERT INTO healthcheck_results (service, check_name, grp, instance, host, labels, status,
    message, response_time, checked_at, critical, stale_after, fields, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT (service, check_name, grp, instance) DO UPDATE SET
    host = excluded.host, labels = excluded.labels, status = excluded.status,
    message = excluded.message, response_time = excluded.response_time,
    checked_at = excluded.checked_at, critical = excluded.critical,
    stale_after = excluded.stale_after, fields = excluded.fields, expires_at = excluded.expires_at";

const SELECT_RESULTS: &str = "
SELECT service, check_name, grp, instance, host, labels, status, message, response_time,
    checked_at, critical, stale_after, fields
FROM healthcheck_results WHERE expires_at > ?1 AND (?2 IS NULL OR service = ?2)";

/// A beat replaces an older one, or one that expired.
const UPSERT_BEAT: &str = "
INSERT INTO healthcheck_beats (service, heartbeat, instance, host, at, ok, message, fields,
    expires_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (service, heartbeat) DO UPDATE SET
    instance = excluded.instance, host = excluded.host, at = excluded.at, ok = excluded.ok,
    message = excluded.message, fields = excluded.fields, expires_at = excluded.expires_at
WHERE healthcheck_beats.at <= excluded.at OR healthcheck_beats.expires_at <= ?10";

const SELECT_BEATS: &str = "
SELECT service, heartbeat, instance, host, at, ok, message, fields
FROM healthcheck_beats WHERE service = ?1 AND expires_at > ?2";

/// The fleet store in a SQLite file, for several processes on one host and no server: a
/// service and the cron job that beats its heartbeat, the workers of a pre-forking server.
///
/// The file is in WAL mode, so that readers never wait for a writer; a writer waits up to 5 s
/// for another's write to end. The tables (`healthcheck_results`, `healthcheck_beats`) are
/// created when absent. A publish is one transaction; a read, one query. The file is opened on
/// first use, on the SDK's own blocking threads (never on the caller's executor), and opened
/// again after an error. Expiry follows this host's clock.
///
/// [`Debug`](std::fmt::Debug) shows only the store's URL (`sqlite:///path`).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use healthcheck::fleet::{FleetStore, SqliteStore};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let path = std::env::temp_dir().join("healthcheck-doc-example.db");
/// let store = SqliteStore::open(&path)?;
/// store.publish(&[], Duration::from_secs(60)).await?;
/// let everybody = store.read(None).await?;
/// # let _ = everybody;
/// # drop(store);
/// # for end in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
/// # }
/// # Ok(())
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(example()).unwrap();
/// ```
pub struct SqliteStore {
    url: StoreUrl,
    path: Arc<PathBuf>,
    connection: Arc<Mutex<Option<Connection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SqliteStore")
            .field(&self.url.masked())
            .finish()
    }
}

impl SqliteStore {
    /// The store in the file at `path`, created with its tables if absent. Opens it lazily: a
    /// file that cannot be opened fails the first call, not this one.
    ///
    /// # Errors
    /// [`StoreError`] when `path` is empty.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let url = StoreUrl::parse(&format!("sqlite://{}", path.display()))
            .map_err(|e| StoreError::new(&StoreUrl::parse("sqlite:").expect("a scheme"), e))?;
        if path.as_os_str().is_empty() {
            return Err(StoreError::new(
                &url,
                "the path of the database file is empty",
            ));
        }
        Ok(Self {
            url,
            path: Arc::new(path.to_owned()),
            connection: Arc::new(Mutex::new(None)),
        })
    }

    /// The store at `sqlite:///absolute/path` or `sqlite://relative/path`.
    pub(crate) fn from_url(url: &StoreUrl) -> Result<Self, String> {
        let path = url
            .expose()
            .split_once("://")
            .map(|(_, path)| path)
            .filter(|path| !path.is_empty())
            .ok_or_else(|| {
                format!("`{url}` names no file (expected sqlite:///absolute/path or sqlite://relative/path)")
            })?;
        let path = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|e| format!("`{url}`: {e}"))?;
        Self::open(PathBuf::from(path.as_ref())).map_err(|e| e.to_string())
    }

    /// Runs `work` with the connection, opening it first if needed, on a blocking thread.
    /// After an error the connection is dropped, to be opened afresh by the next call.
    async fn with_connection<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let url = self.url.clone();
        let path = Arc::clone(&self.path);
        let connection = Arc::clone(&self.connection);
        sql::on_blocking_thread(&self.url, move || {
            let mut slot = connection.lock().unwrap_or_else(PoisonError::into_inner);
            let result = match slot.as_mut() {
                Some(open) => work(open),
                None => connect(&path).and_then(|mut open| {
                    let result = work(&mut open);
                    *slot = Some(open);
                    result
                }),
            };
            result.map_err(|e| {
                *slot = None;
                StoreError::new(&url, e)
            })
        })
        .await
    }
}

/// Opens the file in WAL mode and creates the tables when absent.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // Switching to WAL and creating the tables can meet another process doing the same on a
    // new file: SQLite then answers "database is locked" at once, without its busy handler.
    let mode: String =
        while_busy(|| connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "the SQLite fleet store is not in WAL mode");
    }
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    while_busy(|| connection.execute_batch(SCHEMA))?;
    Ok(connection)
}

/// Runs `step` again while SQLite says the database is busy, for up to [`BUSY_TIMEOUT`]. On a
/// blocking thread: the waits sleep it.
fn while_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Milliseconds since the epoch on this host's clock.
fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// `ttl` from now, in milliseconds since the epoch.
fn expiry_ms(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// A time as its column holds it: RFC 3339 in UTC with nanoseconds, always the same width.
fn time_column(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn time_from_column(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| format!("bad time {text:?}: {e}"))
}

/// One row of `SELECT_RESULTS` as a record, or why it is not one.
fn result_from_row(row: &Row<'_>) -> Result<FleetRecord, String> {
    let text = |i: usize| row.get::<_, String>(i).map_err(|e| e.to_string());
    Ok(FleetRecord {
        service: text(0)?,
        check: text(1)?,
        group: text(2)?,
        instance: text(3)?,
        host: text(4)?,
        labels: labels_from_column(&text(5)?)?,
        status: status_from_column(&text(6)?)?,
        message: row.get(7).map_err(|e| e.to_string())?,
        response_time: row.get(8).map_err(|e| e.to_string())?,
        checked_at: time_from_column(&text(9)?)?,
        critical: row.get(10).map_err(|e| e.to_string())?,
        stale_after: row.get(11).map_err(|e| e.to_string())?,
        fields: fields_from_column(&text(12)?)?,
    })
}

/// One row of `SELECT_BEATS` as a beat, or why it is not one.
fn beat_from_row(row: &Row<'_>) -> Result<BeatRecord, String> {
    let text = |i: usize| row.get::<_, String>(i).map_err(|e| e.to_string());
    Ok(BeatRecord {
        service: text(0)?,
        heartbeat: text(1)?,
        instance: text(2)?,
        host: text(3)?,
        at: time_from_column(&text(4)?)?,
        ok: row.get(5).map_err(|e| e.to_string())?,
        message: row.get(6).map_err(|e| e.to_string())?,
        fields: fields_from_column(&text(7)?)?,
    })
}

/// The first `n` columns of a row as text, for naming a row that could not be decoded.
fn key_of(row: &Row<'_>, n: usize) -> String {
    let parts: Vec<Option<String>> = (0..n).map(|i| row.get::<_, String>(i).ok()).collect();
    sql::row_key(&parts)
}

/// Decodes every row of `rows`, warning once about those that cannot be.
fn decode_all<T>(
    url: &StoreUrl,
    mut rows: rusqlite::Rows<'_>,
    key_columns: usize,
    decode: impl Fn(&Row<'_>) -> Result<T, String>,
) -> rusqlite::Result<Vec<T>> {
    let mut found = Vec::new();
    let mut skipped = 0;
    let mut example = None;
    while let Some(row) = rows.next()? {
        match decode(row) {
            Ok(decoded) => found.push(decoded),
            Err(error) => {
                skipped += 1;
                example.get_or_insert_with(|| (key_of(row, key_columns), error));
            }
        }
    }
    warn_skipped(url, skipped, example);
    Ok(found)
}

impl FleetStore for SqliteStore {
    fn publish<'a>(
        &'a self,
        records: &'a [FleetRecord],
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let rows: Vec<_> = records
            .iter()
            .map(|r| {
                (
                    r.service.clone(),
                    r.check.clone(),
                    r.group.clone(),
                    r.instance.clone(),
                    r.host.clone(),
                    sql::labels_column(&r.labels),
                    r.status.as_str(),
                    r.message.clone(),
                    r.response_time,
                    time_column(r.checked_at),
                    r.critical,
                    r.stale_after,
                    sql::fields_column(&r.fields),
                )
            })
            .collect();
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(());
            }
            self.with_connection(move |connection| {
                let now = now_ms();
                let expires_at = expiry_ms(now, ttl);
                let transaction =
                    connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                {
                    let mut upsert = transaction.prepare_cached(UPSERT_RESULT)?;
                    for row in &rows {
                        upsert.execute(params![
                            row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
                            row.10, row.11, row.12, expires_at
                        ])?;
                    }
                    transaction
                        .prepare_cached("DELETE FROM healthcheck_results WHERE expires_at <= ?1")?
                        .execute([now])?;
                }
                transaction.commit()
            })
            .await
        })
    }

    fn read<'a>(
        &'a self,
        service: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Vec<FleetRecord>, StoreError>> {
        let service = service.map(str::to_owned);
        let url = self.url.clone();
        Box::pin(self.with_connection(move |connection| {
            let mut select = connection.prepare_cached(SELECT_RESULTS)?;
            let rows = select.query(params![now_ms(), service])?;
            decode_all(&url, rows, 4, result_from_row)
        }))
    }

    fn beat<'a>(
        &'a self,
        beat: &'a BeatRecord,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let row = (
            beat.service.clone(),
            beat.heartbeat.clone(),
            beat.instance.clone(),
            beat.host.clone(),
            time_column(beat.at),
            beat.ok,
            beat.message.clone(),
            sql::fields_column(&beat.fields),
        );
        Box::pin(self.with_connection(move |connection| {
            let now = now_ms();
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            transaction.prepare_cached(UPSERT_BEAT)?.execute(params![
                row.0,
                row.1,
                row.2,
                row.3,
                row.4,
                row.5,
                row.6,
                row.7,
                expiry_ms(now, ttl),
                now
            ])?;
            transaction
                .prepare_cached("DELETE FROM healthcheck_beats WHERE expires_at <= ?1")?
                .execute([now])?;
            transaction.commit()
        }))
    }

    fn beats<'a>(
        &'a self,
        service: &'a str,
    ) -> StoreFuture<'a, Result<Vec<BeatRecord>, StoreError>> {
        let service = service.to_owned();
        let url = self.url.clone();
        Box::pin(self.with_connection(move |connection| {
            let mut select = connection.prepare_cached(SELECT_BEATS)?;
            let rows = select.query(params![service, now_ms()])?;
            decode_all(&url, rows, 2, beat_from_row)
        }))
    }

    fn describe(&self) -> String {
        self.url.masked().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_absolute_and_relative_files() {
        let absolute = StoreUrl::parse("sqlite:///var/lib/app/health.db").unwrap();
        let store = SqliteStore::from_url(&absolute).unwrap();
        assert_eq!(*store.path, PathBuf::from("/var/lib/app/health.db"));
        assert_eq!(store.describe(), "sqlite:///var/lib/app/health.db");
        assert_eq!(
            format!("{store:?}"),
            "SqliteStore(\"sqlite:///var/lib/app/health.db\")"
        );
        let relative = StoreUrl::parse("sqlite://data/health%20x.db").unwrap();
        let store = SqliteStore::from_url(&relative).unwrap();
        assert_eq!(*store.path, PathBuf::from("data/health x.db"));
        assert!(SqliteStore::from_url(&StoreUrl::parse("sqlite://").unwrap()).is_err());
        assert!(SqliteStore::from_url(&StoreUrl::parse("sqlite:x").unwrap()).is_err());
        assert!(SqliteStore::open("").is_err());
    }

    #[test]
    fn times_keep_their_nanoseconds_and_sort_as_text() {
        let early = DateTime::from_timestamp(1_700_000_000, 5).unwrap();
        let late = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(time_from_column(&time_column(early)), Ok(early));
        assert!(time_column(early) < time_column(late));
        assert!(time_from_column("yesterday").is_err());
    }
}
