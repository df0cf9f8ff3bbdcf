//! The SQLite fleet store on real files: the contract, rows it did not write, a file that
//! cannot be opened and then can, two stores and two processes on one file, one transaction per
//! publish.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SubsecRound as _, Utc};
use healthcheck::Status;
use healthcheck::fleet::{BeatRecord, FleetStore, SqliteStore};
use serde_json::{Map, Value};
use support::fleet_contract::{self, record, unique_service};
use support::servers::temp_dir;

const TTL: Duration = Duration::from_secs(60);

/// A fresh directory (removed when dropped) and a database path in it.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        Self(temp_dir("sqlite"))
    }

    fn db(&self) -> PathBuf {
        self.0.join("health.db")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_contract() {
    let dir = Dir::new();
    fleet_contract::run(&SqliteStore::open(dir.db()).expect("a store")).await;
}

#[tokio::test]
async fn rows_that_are_not_records_are_skipped() {
    let dir = Dir::new();
    let store = SqliteStore::open(dir.db()).expect("a store");
    let service = unique_service("sqlite-garbage");
    let good = record(&service, "database", "db", "i-1", Status::Healthy);
    store
        .publish(std::slice::from_ref(&good), TTL)
        .await
        .expect("publish");

    let connection = rusqlite::Connection::open(dir.db()).expect("open the file");
    let far = i64::MAX / 2;
    let insert = "INSERT INTO healthcheck_results (service, check_name, grp, instance, host,
            labels, status, message, response_time, checked_at, critical, stale_after, fields,
            expires_at)
        VALUES (?1, ?2, '', 'i-9', 'h', ?3, ?4, NULL, 0, ?5, 1, NULL, ?6, ?7)";
    let now = "2024-01-01T00:00:00.000000000Z";
    let rows: [(&str, rusqlite::types::Value, &str, &str, &str); 6] = [
        (
            "bad-labels",
            "{not json".to_owned().into(),
            "healthy",
            now,
            "{}",
        ),
        ("labels-a-number", 42_i64.into(), "healthy", now, "{}"),
        ("bad-status", "{}".to_owned().into(), "splendid", now, "{}"),
        (
            "bad-fields",
            "{}".to_owned().into(),
            "healthy",
            now,
            "[1, 2",
        ),
        (
            "bad-time",
            "{}".to_owned().into(),
            "healthy",
            "yesterday",
            "{}",
        ),
        (
            "blob-labels",
            vec![0xff_u8, 0xfe].into(),
            "healthy",
            now,
            "{}",
        ),
    ];
    for (check, labels, status, checked_at, fields) in rows {
        connection
            .execute(
                insert,
                rusqlite::params![service, check, labels, status, checked_at, fields, far],
            )
            .expect("insert a garbage row");
    }
    connection
        .execute(
            "INSERT INTO healthcheck_beats (service, heartbeat, instance, host, at, ok, message,
                fields, expires_at)
            VALUES (?1, 'broken', 'i-9', 'h', ?2, 1, NULL, 'garbage', ?3)",
            rusqlite::params![service, now, far],
        )
        .expect("insert a garbage beat");

    assert_eq!(store.read(Some(&service)).await.expect("read"), vec![good]);
    assert!(!store.read(None).await.expect("read all").is_empty());
    assert_eq!(store.beats(&service).await.expect("beats"), vec![]);
}

#[tokio::test]
async fn a_file_that_cannot_be_opened_fails_calls_until_it_can() {
    let dir = Dir::new();
    let path = dir.0.join("not-yet").join("health.db");
    let store = SqliteStore::open(&path).expect("opening is lazy");
    let service = unique_service("sqlite-later");
    let kept = record(&service, "database", "db", "i-1", Status::Healthy);
    let error = store
        .publish(std::slice::from_ref(&kept), TTL)
        .await
        .expect_err("no directory, no file");
    assert!(error.store().starts_with("sqlite://"), "{error}");
    assert!(store.read(None).await.is_err());

    std::fs::create_dir_all(path.parent().expect("a parent")).expect("the directory");
    store
        .publish(std::slice::from_ref(&kept), TTL)
        .await
        .expect("the same store, once the file can be made");
    assert_eq!(store.read(Some(&service)).await.expect("read"), vec![kept]);
}

#[tokio::test]
async fn two_stores_on_one_file_see_each_other() {
    let dir = Dir::new();
    let (first, second) = (
        SqliteStore::open(dir.db()).expect("a store"),
        SqliteStore::open(dir.db()).expect("another"),
    );
    let service = unique_service("sqlite-two");
    let from_first = record(&service, "database", "db", "i-1", Status::Healthy);
    let from_second = record(&service, "database", "db", "i-2", Status::Unhealthy);
    // Both create the tables and write at once.
    let (a, b) = tokio::join!(
        first.publish(std::slice::from_ref(&from_first), TTL),
        second.publish(std::slice::from_ref(&from_second), TTL)
    );
    a.expect("first publishes");
    b.expect("second publishes");
    for store in [&first, &second] {
        let mut read = store.read(Some(&service)).await.expect("read");
        read.sort_by(|a, b| a.instance.cmp(&b.instance));
        assert_eq!(read, vec![from_first.clone(), from_second.clone()]);
    }
}

fn beat_of(service: &str) -> BeatRecord {
    BeatRecord {
        service: service.to_owned(),
        heartbeat: "nightly_backup".to_owned(),
        instance: format!("cron-{}", std::process::id()),
        host: "batch-host".to_owned(),
        at: Utc::now().trunc_subsecs(3),
        ok: true,
        message: Some("backed up".to_owned()),
        fields: Map::from_iter([("files".to_owned(), Value::from(1_204_332))]),
    }
}

#[tokio::test]
async fn a_beat_from_another_process_is_read_here() {
    const TEST: &str = "a_beat_from_another_process_is_read_here";
    if std::env::var_os(support::CHILD).is_some() {
        // The child: a cron job that beats the service's heartbeat and exits.
        let db = std::env::var("FLEET_SQLITE_DB").expect("the parent names the file");
        let service = std::env::var("FLEET_SQLITE_SERVICE").expect("and the service");
        let store = SqliteStore::open(db).expect("a store");
        store.beat(&beat_of(&service), TTL).await.expect("beat");
        return;
    }
    let dir = Dir::new();
    let service = unique_service("sqlite-cron");
    // The service has the file open (tables made, WAL in use) while the job runs.
    let store = SqliteStore::open(dir.db()).expect("a store");
    let own = record(&service, "database", "db", "i-1", Status::Healthy);
    store.publish(&[own], TTL).await.expect("publish");
    assert_eq!(store.beats(&service).await.expect("beats"), vec![]);

    let db = dir.db().display().to_string();
    let output = support::child(
        TEST,
        &[("FLEET_SQLITE_DB", &db), ("FLEET_SQLITE_SERVICE", &service)],
    );
    assert!(
        output.status.success(),
        "the child failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let beats = store.beats(&service).await.expect("beats");
    assert_eq!(beats.len(), 1, "{beats:?}");
    assert_eq!(beats[0].heartbeat, "nightly_backup");
    assert_ne!(beats[0].instance, format!("cron-{}", std::process::id()));
    assert_eq!(beats[0].fields["files"], 1_204_332);
}

/// The commits in the write-ahead log of `db` since it last restarted: each transaction ends
/// with one frame that carries the database's size (the others carry 0).
fn wal_commits(db: &Path) -> usize {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let bytes = std::fs::read(PathBuf::from(wal)).expect("the file is in WAL mode");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let page_size = word(8) as usize;
    let salt = &bytes[16..24];
    let mut commits = 0;
    let mut frame = 32;
    while frame + 24 + page_size <= bytes.len() {
        if &bytes[frame + 8..frame + 16] != salt {
            break; // Frames of before the log restarted.
        }
        if word(frame + 4) != 0 {
            commits += 1;
        }
        frame += 24 + page_size;
    }
    commits
}

#[tokio::test]
async fn a_hundred_records_are_one_transaction() {
    let dir = Dir::new();
    let store = SqliteStore::open(dir.db()).expect("a store");
    let service = unique_service("sqlite-one-transaction");
    let records: Vec<_> = (0..100)
        .map(|i| {
            record(
                &service,
                &format!("check-{i:03}"),
                "g",
                "i-1",
                Status::Healthy,
            )
        })
        .collect();
    store
        .publish(&records[..1], TTL)
        .await
        .expect("first publish");
    let before = wal_commits(&dir.db());
    store.publish(&records, TTL).await.expect("publish 100");
    assert_eq!(
        wal_commits(&dir.db()) - before,
        1,
        "one commit for 100 records"
    );
    assert_eq!(store.read(Some(&service)).await.expect("read").len(), 100);
}

/// A cron job, a process of its own with the service's checks built in, beats the service's
/// heartbeat through the SQLite file; the service (another `HealthChecks`, here the parent)
/// reports it healthy, then failed, as the job says.
#[test]
fn a_cron_job_in_another_process_beats_the_services_heartbeat() {
    const TEST: &str = "a_cron_job_in_another_process_beats_the_services_heartbeat";
    let build = |url: &str, service: &str, instance: &str| {
        healthcheck::HealthChecks::builder()
            .without_registered_checks()
            .service(service)
            .instance(instance)
            .metrics(healthcheck::MetricsConfig::new().enabled(false))
            .heartbeat(healthcheck::Heartbeat::new(
                "nightly_backup",
                Duration::from_secs(25 * 3600),
            ))
            .fleet(healthcheck::fleet::FleetConfig::new().store_url(url))
            .build()
            .expect("valid")
    };
    if std::env::var_os(support::CHILD).is_some() {
        // The job: beat, make sure it is written, exit.
        let url = std::env::var("FLEET_SQLITE_URL").expect("the parent names the file");
        let service = std::env::var("FLEET_SQLITE_SERVICE").expect("and the service");
        let job = build(&url, &service, "cron");
        match std::env::var("FLEET_SQLITE_FAILED") {
            Ok(reason) => job.beat_failed("nightly_backup", reason),
            Err(_) => job.beat_with("nightly_backup", healthcheck::Beat::ok().message("412 GiB")),
        }
        .expect("declared");
        assert!(
            job.flush_fleet_blocking(Duration::from_secs(10))
                .expect("no runtime here"),
            "{:?}",
            job.fleet_status()
        );
        return;
    }
    let dir = Dir::new();
    let url = format!("sqlite://{}", dir.db().display());
    let service = unique_service("sqlite-cron-job");
    let web = build(&url, &service, "web-1");
    let report = web.run_blocking().expect("ran");
    assert_eq!(
        report.components["nightly_backup"]
            .status_message
            .as_deref(),
        Some("no heartbeat yet")
    );

    let job = |failed: Option<&str>| {
        let mut env = vec![
            ("FLEET_SQLITE_URL", url.as_str()),
            ("FLEET_SQLITE_SERVICE", service.as_str()),
        ];
        if let Some(reason) = failed {
            env.push(("FLEET_SQLITE_FAILED", reason));
        }
        let output = support::child(TEST, &env);
        assert!(
            output.status.success(),
            "the job failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    job(None);
    let report = web.run_blocking().expect("ran");
    let beat = &report.components["nightly_backup"];
    assert!(beat.healthy, "{beat:?}");
    assert_eq!(beat.status_message.as_deref(), Some("412 GiB"));
    assert!(
        beat.extra["beaten_by"]
            .as_str()
            .is_some_and(|by| by.ends_with("(cron)")),
        "{beat:?}"
    );

    job(Some("disk full"));
    let report = web.run_blocking().expect("ran");
    let beat = &report.components["nightly_backup"];
    assert!(!beat.healthy);
    assert_eq!(beat.status_message.as_deref(), Some("disk full"));
}
