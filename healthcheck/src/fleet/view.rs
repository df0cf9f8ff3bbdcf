//! The fleet view: every instance's results, read from the store, as check → group →
//! host/instance, with staleness and one verdict by the fleet's rule.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::config::FleetReduce;
use super::store::{FleetRecord, FleetStore, StoreError};
use crate::component::Status;

/// How long a read of the store may take before the view reports it unreachable.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the fleet from its store: see [`HealthChecks::fleet`](crate::HealthChecks::fleet).
///
/// # Example
/// ```
/// use healthcheck::{Check, HealthChecks};
/// use healthcheck::fleet::{FleetConfig, FleetFilter, MemoryFleetStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryFleetStore::new();
/// let health = HealthChecks::builder()
///     .without_registered_checks()
///     .service("payments")
///     .host("web-1")
///     .check(Check::new("database", || async { true }).groups(["db"]))
///     .fleet(FleetConfig::new().store(store))
///     .build()?;
/// health.run().await;
/// health.flush_fleet(std::time::Duration::from_secs(1)).await;
/// let view = health.fleet().read(&FleetFilter::new()).await?;
/// assert!(view.healthy);
/// assert!(view.to_text().starts_with("database at web-1 [db] -> OK "));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Fleet {
    store: Arc<dyn FleetStore>,
    service: String,
    freshness: Duration,
    reduce: FleetReduce,
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("store", &self.store.describe())
            .field("service", &self.service)
            .field("freshness", &self.freshness)
            .field("reduce", &self.reduce)
            .finish()
    }
}

/// Which results a read of the fleet returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct FleetFilter {
    service: ServiceFilter,
    check: Option<String>,
    group: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum ServiceFilter {
    #[default]
    Own,
    Named(String),
    All,
}

impl FleetFilter {
    /// Every result of the reader's own service.
    pub fn new() -> Self {
        Self::default()
    }

    /// The results of service `service` instead of the reader's own (`*` for every service).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        let service = service.into();
        self.service = if service == "*" {
            ServiceFilter::All
        } else {
            ServiceFilter::Named(service)
        };
        self
    }

    /// The results of every service.
    pub fn all_services(mut self) -> Self {
        self.service = ServiceFilter::All;
        self
    }

    /// Only check `check`.
    pub fn check(mut self, check: impl Into<String>) -> Self {
        self.check = Some(check.into());
        self
    }

    /// Only group `group`.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }
}

/// The fleet as read at one moment: service → check → group → each instance's result, and
/// the verdict of the fleet's rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FleetView {
    /// The verdict of the rule: `false` too when nothing was read at all.
    pub healthy: bool,
    /// The rule, as `all`, `any`, `quorum:N` or `custom`.
    pub rule: String,
    /// When the store was read.
    pub read_at: DateTime<Utc>,
    /// What fails the rule, one line each (`payments/database [db]: 1 of 3 healthy`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<String>,
    /// Service → check → group (empty for none) → instances, by host then instance.
    pub services: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<InstanceResult>>>>,
}

/// One instance's result of one check, as the fleet view shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct InstanceResult {
    /// The host.
    pub host: String,
    /// The instance id.
    pub instance: String,
    /// The status that counts: the published one, or `unhealthy` when stale.
    pub status: Status,
    /// The published status, stale or not.
    pub reported_status: Status,
    /// Whether the result is older than the freshness window.
    pub stale: bool,
    /// The check's message, or `stale: last result 93 s ago` when stale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Seconds since the check ran, by the reader's clock.
    pub age: f64,
    /// When the check ran.
    pub checked_at: DateTime<Utc>,
    /// How long the check took, in seconds.
    pub response_time: f64,
    /// Whether a failure of the check fails its service.
    pub critical: bool,
    /// The instance's labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The check's extra fields.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
}

impl Fleet {
    /// A view of the fleet in `store`, as seen by `service` (the service that
    /// [`FleetFilter::new`] reads), with a freshness window of `freshness` for records that do
    /// not carry their own, and the default rule.
    pub fn new(
        store: Arc<dyn FleetStore>,
        service: impl Into<String>,
        freshness: Duration,
    ) -> Self {
        Self {
            store,
            service: service.into(),
            freshness,
            reduce: FleetReduce::All,
        }
    }

    /// The same view with another rule.
    #[must_use]
    pub fn with_reduce(mut self, reduce: FleetReduce) -> Self {
        self.reduce = reduce;
        self
    }

    /// The freshness window of records that do not carry their own.
    #[must_use]
    pub const fn freshness(&self) -> Duration {
        self.freshness
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn FleetStore> {
        &self.store
    }

    /// Reads the store and builds the view.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read within 5 s.
    pub async fn read(&self, filter: &FleetFilter) -> Result<FleetView, StoreError> {
        let service = match &filter.service {
            ServiceFilter::Own => Some(self.service.as_str()),
            ServiceFilter::Named(name) => Some(name.as_str()),
            ServiceFilter::All => None,
        };
        let records = tokio::time::timeout(READ_TIMEOUT, self.store.read(service))
            .await
            .map_err(|_| {
                StoreError::described(
                    self.store.describe(),
                    format!("reading took longer than {} s", READ_TIMEOUT.as_secs()),
                )
            })??;
        let records = records.into_iter().filter(|r| {
            filter.check.as_ref().is_none_or(|c| *c == r.check)
                && filter.group.as_ref().is_none_or(|g| *g == r.group)
        });
        Ok(self.view(records, Utc::now()))
    }

    /// The view of `records` as of `now`.
    pub(crate) fn view(
        &self,
        records: impl Iterator<Item = FleetRecord>,
        now: DateTime<Utc>,
    ) -> FleetView {
        let mut services: BTreeMap<
            String,
            BTreeMap<String, BTreeMap<String, Vec<InstanceResult>>>,
        > = BTreeMap::new();
        for record in records {
            let age = (now - record.checked_at).to_std().unwrap_or_default();
            let window = record
                .stale_after
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .unwrap_or(self.freshness);
            let stale = age > window;
            let message = if stale {
                Some(format!("stale: last result {} ago", Ago(age)))
            } else {
                record.message
            };
            let result = InstanceResult {
                host: record.host,
                instance: record.instance,
                status: if stale {
                    Status::Unhealthy
                } else {
                    record.status
                },
                reported_status: record.status,
                stale,
                message,
                age: age.as_secs_f64(),
                checked_at: record.checked_at,
                response_time: record.response_time,
                critical: record.critical,
                labels: record.labels,
                fields: record.fields,
            };
            services
                .entry(record.service)
                .or_default()
                .entry(record.check)
                .or_default()
                .entry(record.group)
                .or_default()
                .push(result);
        }
        for instances in services
            .values_mut()
            .flat_map(|c| c.values_mut())
            .flat_map(|g| g.values_mut())
        {
            instances.sort_by(|a, b| (&a.host, &a.instance).cmp(&(&b.host, &b.instance)));
        }
        let mut view = FleetView {
            healthy: false,
            rule: self.reduce.name(),
            read_at: now,
            failing: Vec::new(),
            services,
        };
        let (healthy, failing) = verdict(&self.reduce, &view);
        view.healthy = healthy;
        view.failing = failing;
        view
    }
}

/// The verdict of `rule` over `view`, with what fails it.
fn verdict(rule: &FleetReduce, view: &FleetView) -> (bool, Vec<String>) {
    if view.services.is_empty() {
        return (false, vec!["no instance has published results".to_owned()]);
    }
    let needed = |total: usize| match rule {
        FleetReduce::All => total,
        FleetReduce::OnePerGroup => 1,
        FleetReduce::Quorum(n) => *n,
        FleetReduce::Custom(_) => 0,
    };
    let mut failing = Vec::new();
    for (service, checks) in &view.services {
        for (check, groups) in checks {
            for (group, instances) in groups {
                if instances.iter().all(|i| !i.critical) {
                    continue;
                }
                let healthy = instances.iter().filter(|i| i.status.is_healthy()).count();
                if healthy < needed(instances.len()) {
                    let group = if group.is_empty() {
                        String::new()
                    } else {
                        format!(" [{group}]")
                    };
                    failing.push(format!(
                        "{service}/{check}{group}: {healthy} of {} healthy",
                        instances.len()
                    ));
                }
            }
        }
    }
    if let FleetReduce::Custom(rule) = rule {
        let healthy = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rule(view)))
            .unwrap_or_else(|_| {
                tracing::error!(
                    "the fleet's reduce function panicked; the fleet is reported unhealthy"
                );
                false
            });
        return (healthy, failing);
    }
    (failing.is_empty(), failing)
}

impl FleetView {
    /// The view as JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// One line per result, in django-alive's style:
    /// `database at web-1 [db] -> OK 3 s connection refused`, with the service first when the
    /// view holds several; a group of none shows as `-`. Messages are kept on one line.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let several = self.services.len() > 1;
        for (service, checks) in &self.services {
            for (check, groups) in checks {
                for (group, instances) in groups {
                    for i in instances {
                        if several {
                            let _ = write!(out, "{service}: ");
                        }
                        let group = if group.is_empty() { "-" } else { group };
                        let word = if i.status.is_healthy() { "OK" } else { "FAIL" };
                        let age = Ago(Duration::try_from_secs_f64(i.age).unwrap_or_default());
                        let _ = write!(out, "{check} at {} [{group}] -> {word} {age}", i.host);
                        if let Some(message) = &i.message {
                            out.push(' ');
                            out.extend(
                                message
                                    .chars()
                                    .map(|c| if c.is_control() { ' ' } else { c }),
                            );
                        }
                        out.push('\n');
                    }
                }
            }
        }
        if self.services.is_empty() {
            out.push_str("no instance has published results\n");
        }
        out
    }
}

/// An age in whole seconds (`93 s`), or milliseconds below a second.
pub(crate) struct Ago(pub(crate) Duration);

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= Duration::from_secs(1) {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{} ms", self.0.as_millis())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::store::MemoryFleetStore;

    fn record(check: &str, group: &str, host: &str, status: Status, age_s: i64) -> FleetRecord {
        FleetRecord {
            service: "payments".into(),
            check: check.into(),
            group: group.into(),
            instance: format!("{host}-i"),
            host: host.into(),
            labels: BTreeMap::new(),
            status,
            message: (!status.is_healthy()).then(|| "connection\nrefused".to_owned()),
            response_time: 0.01,
            checked_at: Utc::now() - chrono::Duration::seconds(age_s),
            critical: true,
            stale_after: None,
            fields: Map::new(),
        }
    }

    fn fleet(reduce: FleetReduce) -> Fleet {
        Fleet::new(
            Arc::new(MemoryFleetStore::new()),
            "payments",
            Duration::from_secs(60),
        )
        .with_reduce(reduce)
    }

    #[test]
    fn rules_decide_per_check_and_group() {
        let records = || {
            vec![
                record("database", "db", "web-1", Status::Healthy, 1),
                record("database", "db", "web-2", Status::Unhealthy, 1),
                record("database", "db", "web-3", Status::Healthy, 93),
                record("cache", "", "web-1", Status::Degraded, 1),
            ]
            .into_iter()
        };
        // Half a second on, so that whole seconds read the same however fast this runs.
        let now = Utc::now() + chrono::Duration::milliseconds(500);
        let all = fleet(FleetReduce::All).view(records(), now);
        assert!(!all.healthy);
        assert_eq!(all.failing, vec!["payments/database [db]: 1 of 3 healthy"]);
        let stale = &all.services["payments"]["database"]["db"][2];
        assert!(stale.stale);
        assert_eq!(stale.status, Status::Unhealthy);
        assert_eq!(stale.reported_status, Status::Healthy);
        assert_eq!(
            stale.message.as_deref(),
            Some("stale: last result 93 s ago")
        );

        assert!(fleet(FleetReduce::OnePerGroup).view(records(), now).healthy);
        assert!(!fleet(FleetReduce::Quorum(2)).view(records(), now).healthy);
        assert!(fleet(FleetReduce::Quorum(1)).view(records(), now).healthy);
        let custom = FleetReduce::custom(|v| v.services["payments"].contains_key("cache"));
        assert!(fleet(custom).view(records(), now).healthy);
        let panics = FleetReduce::custom(|_| panic!("a rule that panics"));
        assert!(!fleet(panics).view(records(), now).healthy);

        let text = all.to_text();
        assert!(text.contains("cache at web-1 [-] -> OK 1 s\n"), "{text}");
        assert!(
            text.contains("database at web-2 [db] -> FAIL 1 s connection refused\n"),
            "{text}"
        );
        assert!(text.contains("database at web-3 [db] -> FAIL 93 s stale: last result 93 s ago\n"));
    }

    #[test]
    fn an_empty_fleet_is_not_healthy() {
        let view = fleet(FleetReduce::All).view(std::iter::empty(), Utc::now());
        assert!(!view.healthy);
        assert_eq!(view.to_text(), "no instance has published results\n");
    }

    #[test]
    fn a_record_with_its_own_window_is_judged_by_it() {
        let mut slow = record("batch", "", "cron-1", Status::Healthy, 600);
        slow.stale_after = Some(3600.0);
        let view = fleet(FleetReduce::All).view(std::iter::once(slow), Utc::now());
        assert!(view.healthy);
    }
}
