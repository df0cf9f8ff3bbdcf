//! Heartbeats: dead-man switches for work that is not a request (a cron job, a queue consumer,
//! a batch). A heartbeat is a component that is healthy while its last beat is younger than its
//! `max_age`; the code beats it with [`HealthChecks::beat`](crate::HealthChecks::beat), and so
//! can a client over HTTP (`POST <base>/heartbeat/<name>`).

use std::borrow::Cow;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::store::{BeatRecord, FleetStore};
use crate::check::{Check, Probe};
use crate::component::Component;
use crate::report::HumanDuration;

/// A dead-man switch: healthy while its last beat is younger than `max_age`.
///
/// Registered with [`HealthChecksBuilder::heartbeat`](crate::HealthChecksBuilder::heartbeat), it
/// takes part in groups, probes, the report and metrics like any check. Until the first beat it
/// is unhealthy, `no heartbeat yet`, unless a start-up grace period says otherwise.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use healthcheck::{Beat, HealthChecks, Heartbeat};
///
/// let health = HealthChecks::builder()
///     .without_registered_checks()
///     .heartbeat(Heartbeat::new("nightly_backup", Duration::from_secs(25 * 3600)).critical(false))
///     .build()?;
/// // ... the backup job, when it is done:
/// health.beat_with("nightly_backup", Beat::ok().message("412 GiB").field("files", 1_204_332))?;
/// let report = health.run_blocking()?;
/// assert!(report.components["nightly_backup"].healthy);
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a Heartbeat does nothing until it is registered with HealthChecksBuilder::heartbeat"]
pub struct Heartbeat {
    name: String,
    max_age: Duration,
    groups: Vec<String>,
    critical: bool,
    probes: Vec<Probe>,
    grace: Duration,
    location: &'static Location<'static>,
}

impl Heartbeat {
    /// A heartbeat named `name` (its component's key) that must beat at least every `max_age`.
    #[track_caller]
    pub fn new(name: impl Into<String>, max_age: Duration) -> Self {
        Self {
            name: name.into(),
            max_age,
            groups: Vec::new(),
            critical: true,
            probes: vec![Probe::Readiness],
            grace: Duration::ZERO,
            location: Location::caller(),
        }
    }

    /// The groups it belongs to. Defaults to none.
    pub fn groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Whether a missing beat makes the whole service unhealthy. Defaults to `true`.
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// The Kubernetes probes it takes part in. Defaults to readiness only.
    pub fn probes(mut self, probes: impl IntoIterator<Item = Probe>) -> Self {
        self.probes = probes.into_iter().collect();
        self
    }

    /// How long after the checks are built a heartbeat that has never beaten still counts as
    /// healthy (`no heartbeat yet (starting up)`), for work that first runs some time after the
    /// process starts. Defaults to none.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) const fn max_age(&self) -> Duration {
        self.max_age
    }

    pub(crate) const fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// The check that reports this heartbeat from `cell`, its grace counted from `built`; with
    /// `shared`, beats that other processes published to the fleet store count too.
    pub(crate) fn into_check(
        self,
        cell: Arc<BeatCell>,
        built: Instant,
        shared: Option<SharedBeats>,
    ) -> Check {
        let max_age = self.max_age;
        let grace_until = built + self.grace;
        let name = self.name.clone();
        let check = match shared {
            None => Check::new_at(
                self.name,
                move || std::future::ready(cell.component(max_age, grace_until, Remote::None)),
                self.location,
            ),
            Some(shared) => Check::new_at(
                self.name,
                move || {
                    let cell = Arc::clone(&cell);
                    let shared = shared.clone();
                    let name = name.clone();
                    async move {
                        let remote = match shared.store.beats(&shared.service).await {
                            Ok(beats) => match beats.into_iter().find(|b| b.heartbeat == name) {
                                Some(beat) => Remote::Beat(beat),
                                None => Remote::None,
                            },
                            Err(error) => Remote::Unreadable(error.to_string()),
                        };
                        cell.component(max_age, grace_until, remote)
                    }
                },
                self.location,
            ),
        };
        check
            .groups(self.groups)
            .critical(self.critical)
            .probes(self.probes)
    }
}

/// Where a heartbeat finds the beats that other processes published.
#[derive(Clone, Debug)]
pub(crate) struct SharedBeats {
    pub(crate) store: Arc<dyn FleetStore>,
    pub(crate) service: String,
}

/// What the fleet store said of a heartbeat.
#[derive(Debug)]
pub(crate) enum Remote {
    None,
    Beat(BeatRecord),
    Unreadable(String),
}

/// What one beat says: that the work went well (with an optional message and fields), or that
/// it failed.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Beat {
    ok: bool,
    message: Option<String>,
    fields: Map<String, Value>,
}

impl Beat {
    /// The work went well.
    pub fn ok() -> Self {
        Self {
            ok: true,
            message: None,
            fields: Map::new(),
        }
    }

    /// The work failed, for the reason given by `message`: the heartbeat is unhealthy until the
    /// next good beat.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            ok: false,
            message: Some(message.into()),
            fields: Map::new(),
        }
    }

    /// A message shown with the heartbeat's component.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// An extra field shown with the heartbeat's component, such as `files: 1204332`.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }

    /// Whether the beat says the work went well.
    #[must_use]
    pub const fn is_ok(&self) -> bool {
        self.ok
    }

    /// The record of this beat in a fleet store.
    pub(crate) fn record(&self, heartbeat: &str, identity: &crate::Identity) -> BeatRecord {
        BeatRecord {
            service: identity.service().to_owned(),
            heartbeat: heartbeat.to_owned(),
            instance: identity.instance().to_owned(),
            host: identity.host().to_owned(),
            at: Utc::now(),
            ok: self.ok,
            message: self.message.clone(),
            fields: self.fields.clone(),
        }
    }
}

/// The last beat of one heartbeat.
#[derive(Debug, Default)]
pub(crate) struct BeatCell {
    last: Mutex<Option<Last>>,
}

#[derive(Debug)]
struct Last {
    at: Instant,
    wall: SystemTime,
    beat: Beat,
}

impl BeatCell {
    /// Records a beat: a lock and a store, no I/O.
    pub(crate) fn beat(&self, beat: Beat) {
        let last = Last {
            at: Instant::now(),
            wall: SystemTime::now(),
            beat,
        };
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(last);
    }

    fn component(&self, max_age: Duration, grace_until: Instant, remote: Remote) -> Component {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let wall_now = SystemTime::now();
        let local = last.as_ref().map(|last| Seen {
            age: now.saturating_duration_since(last.at),
            wall: last.wall,
            ok: last.beat.ok,
            message: last.beat.message.as_deref(),
            fields: &last.beat.fields,
            by: None,
        });
        let (remote_beat, store_error) = match &remote {
            Remote::None => (None, None),
            Remote::Beat(beat) => (Some(beat), None),
            Remote::Unreadable(error) => (None, Some(error.as_str())),
        };
        let remote_seen = remote_beat.map(|beat| {
            let wall = SystemTime::from(beat.at);
            Seen {
                age: wall_now.duration_since(wall).unwrap_or_default(),
                wall,
                ok: beat.ok,
                message: beat.message.as_deref(),
                fields: &beat.fields,
                by: Some(format!("{} ({})", beat.host, beat.instance)),
            }
        });
        // The newer beat counts; on a tie, this process's own.
        let seen = match (local, remote_seen) {
            (Some(local), Some(remote)) if remote.wall > local.wall => Some(remote),
            (Some(local), _) => Some(local),
            (None, remote) => remote,
        };
        let Some(seen) = seen else {
            let mut component = if now < grace_until {
                Component::healthy().message("no heartbeat yet (starting up)")
            } else {
                match store_error {
                    Some(error) => Component::unhealthy(format!(
                        "no heartbeat yet (the fleet store could not be read: {error})"
                    )),
                    None => Component::unhealthy("no heartbeat yet"),
                }
            };
            if let Some(error) = store_error {
                component.insert("store_error", error.to_owned());
            }
            return component;
        };
        let age = seen.age;
        let mut component = if age > max_age {
            Component::unhealthy(format!(
                "no heartbeat for {} (expected within {})",
                Seconds(age),
                Seconds(max_age)
            ))
        } else if seen.ok {
            let component = Component::healthy();
            match seen.message {
                Some(message) => component.message(Cow::Owned(message.to_owned())),
                None => component,
            }
        } else {
            Component::unhealthy(
                seen.message
                    .unwrap_or("the last heartbeat reported a failure")
                    .to_owned(),
            )
        };
        for (key, value) in seen.fields {
            component.insert(key.clone(), value.clone());
        }
        let wall = DateTime::<Utc>::from(seen.wall).to_rfc3339_opts(SecondsFormat::Millis, true);
        component.insert("last_beat", wall);
        component.insert("age", age.as_secs_f64());
        if let Some(by) = seen.by {
            component.insert("beaten_by", by);
        }
        if let Some(error) = store_error {
            component.insert("store_error", error.to_owned());
        }
        // The check answers at once; its response time says nothing about the work.
        component.set_response_time(Duration::ZERO);
        component
    }
}

/// A beat as the heartbeat judges it, from this process or from the store.
struct Seen<'a> {
    age: Duration,
    wall: SystemTime,
    ok: bool,
    message: Option<&'a str>,
    fields: &'a Map<String, Value>,
    by: Option<String>,
}

/// A duration in whole seconds (`93 s`), or finer below a second.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= Duration::from_secs(1) {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{}", HumanDuration(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_is_healthy_while_its_last_beat_is_fresh() {
        let cell = BeatCell::default();
        let built = Instant::now();
        let max_age = Duration::from_secs(60);
        let never = cell.component(max_age, built, Remote::None);
        assert_eq!(never.status_message(), Some("no heartbeat yet"));
        assert!(!never.is_healthy());
        let grace = cell.component(max_age, built + Duration::from_secs(10), Remote::None);
        assert!(grace.is_healthy());

        cell.beat(Beat::ok().message("412 GiB").field("files", 3));
        let fresh = cell.component(max_age, built, Remote::None);
        assert!(fresh.is_healthy());
        assert_eq!(fresh.status_message(), Some("412 GiB"));
        assert_eq!(fresh.extra()["files"], 3);

        cell.beat(Beat::failed("disk full"));
        let failed = cell.component(max_age, built, Remote::None);
        assert_eq!(failed.status_message(), Some("disk full"));
        assert!(!failed.is_healthy());

        cell.beat(Beat::ok());
        if let Some(last) = cell
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            last.at = Instant::now()
                .checked_sub(Duration::from_secs(93))
                .unwrap_or(last.at);
        }
        let stale = cell.component(max_age, built, Remote::None);
        assert!(!stale.is_healthy());
        assert_eq!(
            stale.status_message(),
            Some("no heartbeat for 93 s (expected within 60 s)")
        );
    }
}
