//! What every fleet store must do, run against each backend's real server: the same cases for
//! the in-memory store, SQLite, Redis, PostgreSQL and etcd.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use healthcheck::Status;
use healthcheck::fleet::{BeatRecord, FleetRecord, FleetStore};
use serde_json::{Map, Value};

/// A service name no earlier run of the suite used, so that reruns against one server never
/// see each other's records.
pub fn unique_service(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A record of `check` in `group` from `instance` on `host`.
pub fn record(
    service: &str,
    check: &str,
    group: &str,
    instance: &str,
    status: Status,
) -> FleetRecord {
    FleetRecord {
        service: service.to_owned(),
        check: check.to_owned(),
        group: group.to_owned(),
        instance: instance.to_owned(),
        host: format!("host-of-{instance}"),
        labels: BTreeMap::from([("region".to_owned(), "eu-west-1".to_owned())]),
        status,
        message: (status != Status::Healthy).then(|| format!("{check} is {}", status.as_str())),
        response_time: 0.012_5,
        checked_at: Utc::now().trunc_subsecs_ms(),
        critical: true,
        stale_after: Some(90.0),
        fields: Map::from_iter([("queued".to_owned(), Value::from(3))]),
    }
}

trait TruncMs {
    fn trunc_subsecs_ms(self) -> Self;
}

impl TruncMs for chrono::DateTime<Utc> {
    fn trunc_subsecs_ms(self) -> Self {
        use chrono::SubsecRound;
        self.trunc_subsecs(3)
    }
}

fn sorted(mut records: Vec<FleetRecord>) -> Vec<FleetRecord> {
    records
        .sort_by(|a, b| (&a.check, &a.group, &a.instance).cmp(&(&b.check, &b.group, &b.instance)));
    records
}

/// Runs every case against `store`.
pub async fn run(store: &dyn FleetStore) {
    publishes_and_reads(store).await;
    keeps_awkward_values(store).await;
    publishes_a_hundred_results_at_once(store).await;
    keeps_beats(store).await;
    forgets_what_expired(store).await;
}

/// Two instances publish; a later publish replaces, another service is not read.
pub async fn publishes_and_reads(store: &dyn FleetStore) {
    let service = unique_service("contract");
    let other = unique_service("contract-other");
    let ttl = Duration::from_secs(60);
    let first = vec![
        record(&service, "database", "db", "i-1", Status::Healthy),
        record(&service, "cache", "", "i-1", Status::Degraded),
    ];
    let second = vec![record(&service, "database", "db", "i-2", Status::Unhealthy)];
    store.publish(&first, ttl).await.expect("publish i-1");
    store.publish(&second, ttl).await.expect("publish i-2");
    store
        .publish(
            &[record(&other, "database", "db", "i-9", Status::Healthy)],
            ttl,
        )
        .await
        .expect("publish another service");

    let read = sorted(store.read(Some(&service)).await.expect("read"));
    let mut expected = first.clone();
    expected.extend(second.clone());
    assert_eq!(read, sorted(expected), "what was published reads back");

    // A newer result of the same key replaces the older one.
    let mut newer = record(&service, "database", "db", "i-1", Status::Unhealthy);
    newer.message = Some("connection refused".to_owned());
    store
        .publish(&[newer.clone()], ttl)
        .await
        .expect("publish again");
    let read = sorted(store.read(Some(&service)).await.expect("read"));
    assert_eq!(read.len(), 3, "replaced, not added: {read:?}");
    assert!(read.contains(&newer));

    let all = store.read(None).await.expect("read every service");
    assert!(all.iter().any(|r| r.service == other));
    assert!(all.iter().any(|r| r.service == service));
}

/// Names with slashes and newlines, a 70 KB message and unicode read back unchanged, and do not
/// reach into other keys.
pub async fn keeps_awkward_values(store: &dyn FleetStore) {
    let service = unique_service("contract/awkward");
    let mut odd = record(&service, "a/b%2Fc", "g/1", "i/../x", Status::Unhealthy);
    odd.message = Some(format!("line one\nline two é ✓ {}", "x".repeat(70 * 1024)));
    odd.fields
        .insert("quote\"d".to_owned(), Value::from("tab\there"));
    let plain = record(&service, "a", "b%2Fc", "i", Status::Healthy);
    store
        .publish(&[odd.clone(), plain.clone()], Duration::from_secs(60))
        .await
        .expect("publish awkward values");
    let read = sorted(store.read(Some(&service)).await.expect("read"));
    assert_eq!(read, sorted(vec![odd, plain]));
}

/// One instance's 100 results go in one call and all read back.
pub async fn publishes_a_hundred_results_at_once(store: &dyn FleetStore) {
    let service = unique_service("contract-hundred");
    let records: Vec<FleetRecord> = (0..100)
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
        .publish(&records, Duration::from_secs(60))
        .await
        .expect("publish 100");
    let read = store.read(Some(&service)).await.expect("read");
    assert_eq!(sorted(read), sorted(records));
}

/// The latest beat of each heartbeat of a service.
pub async fn keeps_beats(store: &dyn FleetStore) {
    let service = unique_service("contract-beats");
    let beat = |name: &str, ok: bool, message: Option<&str>| BeatRecord {
        service: service.clone(),
        heartbeat: name.to_owned(),
        instance: "cron-1".to_owned(),
        host: "batch-host".to_owned(),
        at: Utc::now().trunc_subsecs_ms(),
        ok,
        message: message.map(str::to_owned),
        fields: Map::from_iter([("files".to_owned(), Value::from(1_204_332))]),
    };
    let ttl = Duration::from_secs(60);
    store
        .beat(&beat("nightly_backup", true, None), ttl)
        .await
        .expect("beat");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let failed = beat("nightly_backup", false, Some("disk full"));
    store.beat(&failed, ttl).await.expect("beat again");
    let other = beat("hourly_sync", true, Some("synced"));
    store.beat(&other, ttl).await.expect("another heartbeat");

    let mut beats = store.beats(&service).await.expect("read beats");
    beats.sort_by(|a, b| a.heartbeat.cmp(&b.heartbeat));
    assert_eq!(beats, vec![other, failed]);
    assert!(
        store
            .beats(&unique_service("nobody"))
            .await
            .expect("read")
            .is_empty()
    );
}

/// An instance that stops publishing is gone once its time to live has passed.
pub async fn forgets_what_expired(store: &dyn FleetStore) {
    let service = unique_service("contract-expiry");
    let kept = record(&service, "database", "db", "alive", Status::Healthy);
    let gone = record(&service, "database", "db", "departed", Status::Healthy);
    store
        .publish(std::slice::from_ref(&kept), Duration::from_secs(60))
        .await
        .expect("publish");
    store
        .publish(&[gone], Duration::from_secs(2))
        .await
        .expect("publish");
    assert_eq!(store.read(Some(&service)).await.expect("read").len(), 2);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let read = store.read(Some(&service)).await.expect("read");
        if read == vec![kept.clone()] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the departed instance is still there after 15 s: {read:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The store works from a runtime other than the one that first used it, once that one is
/// gone (its connections live on the SDK's own runtime). Call from outside any runtime.
pub fn outlives_its_first_runtime(store: &dyn FleetStore) {
    let service = unique_service("runtimes");
    let first = record(&service, "database", "db", "i-1", Status::Healthy);
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime
            .block_on(store.publish(std::slice::from_ref(&first), Duration::from_secs(60)))
            .expect("publish");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("another runtime");
    let read = runtime
        .block_on(store.read(Some(&service)))
        .expect("read after the first runtime is gone");
    assert_eq!(read, vec![first]);
}
