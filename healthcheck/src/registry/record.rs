//! What the registry keeps of an instance, and how it is asked for.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether an instance is in service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InstanceStatus {
    /// Its readiness checks pass: send it traffic.
    #[serde(rename = "UP")]
    Up,
    /// Its readiness checks fail, or it is shutting down.
    #[serde(rename = "DOWN")]
    Down,
}

impl InstanceStatus {
    /// `UP` or `DOWN`, as in the keys and the JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Up => "UP",
            Self::Down => "DOWN",
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an instance is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownReason {
    /// A critical readiness check fails.
    Unhealthy,
    /// The process began a graceful shutdown
    /// ([`HealthChecks::begin_shutdown`](crate::HealthChecks::begin_shutdown)) and is draining.
    ShuttingDown,
    /// The process took itself out of the registry
    /// ([`Registration::deregister`](super::Registration::deregister), or the registration was
    /// dropped).
    Deregistered,
    /// Its lease ran out: the process died, hung, or lost etcd for longer than the time to
    /// live. Only in [events](super::RegistryEvent): there is no record left to say it.
    Expired,
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unhealthy => "unhealthy",
            Self::ShuttingDown => "shutting down",
            Self::Deregistered => "deregistered",
            Self::Expired => "expired",
        })
    }
}

/// An instance as the registry keeps it, under `<prefix>/by-uuid/<id>`, as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceRecord {
    /// The instance id (the process's [`Identity::instance`](crate::Identity::instance)).
    pub id: String,
    /// Its type: the service it is an instance of, unless told otherwise.
    #[serde(rename = "type")]
    pub kind: String,
    /// The host it runs on.
    pub host: String,
    /// Its version, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its region, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The endpoints it serves (URLs or `host:port`).
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// `UP` or `DOWN`.
    pub status: InstanceStatus,
    /// Why it is down; `None` while up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DownReason>,
    /// The critical readiness checks that fail, while it is down for that.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<String>,
    /// When the status last changed.
    pub since: DateTime<Utc>,
    /// When the instance first registered.
    pub started: DateTime<Utc>,
}

impl InstanceRecord {
    /// Whether the instance is up.
    #[must_use]
    pub fn is_up(&self) -> bool {
        self.status == InstanceStatus::Up
    }

    /// The record as the JSON stored in etcd.
    #[must_use]
    pub fn to_json(&self) -> String {
        // A struct of strings, maps and timestamps always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The record from its JSON.
    ///
    /// # Errors
    /// The reason, when `json` is not such a record.
    pub fn from_json(json: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(json).map_err(|e| format!("not an instance record: {e}"))
    }
}

/// Which instances a [`list`](super::Registry::list) or a [`watch`](super::Registry::watch)
/// covers: all by default, narrowed by type, host, region and status (all of those given).
///
/// # Example
/// ```
/// use healthcheck::registry::{InstanceStatus, RegistryFilter};
///
/// let filter = RegistryFilter::new().kind("api").region("eu-west-1").status(InstanceStatus::Up);
/// assert_eq!(filter.kind_name(), Some("api"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryFilter {
    kind: Option<String>,
    host: Option<String>,
    region: Option<String>,
    status: Option<InstanceStatus>,
}

impl RegistryFilter {
    /// Every instance.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Only instances of this type.
    #[must_use]
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Only instances on this host.
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Only instances in this region.
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Only instances with this status. A watch with a status filter still reports an instance
    /// leaving that status (an `Up` filter sees its `Down`).
    #[must_use]
    pub const fn status(mut self, status: InstanceStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// The type asked for, if any.
    #[must_use]
    pub fn kind_name(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// The host asked for, if any.
    #[must_use]
    pub fn host_name(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The region asked for, if any.
    #[must_use]
    pub fn region_name(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The status asked for, if any.
    #[must_use]
    pub const fn status_value(&self) -> Option<InstanceStatus> {
        self.status
    }

    /// Whether `record` is covered, status aside.
    pub(crate) fn matches_identity(&self, record: &InstanceRecord) -> bool {
        self.kind.as_ref().is_none_or(|k| *k == record.kind)
            && self.host.as_ref().is_none_or(|h| *h == record.host)
            && self
                .region
                .as_ref()
                .is_none_or(|r| Some(r) == record.region.as_ref())
    }

    /// Whether `record` is covered.
    #[must_use]
    pub fn matches(&self, record: &InstanceRecord) -> bool {
        self.matches_identity(record) && self.status.is_none_or(|s| s == record.status)
    }
}

/// A change seen by a [`watch`](super::Registry::watch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryEvent {
    /// The instance is up: it registered up, or came back up.
    Up(InstanceRecord),
    /// The instance is down, and why. With [`DownReason::Expired`] and
    /// [`DownReason::Deregistered`] it is also gone from the registry.
    Down(InstanceRecord, DownReason),
}

impl RegistryEvent {
    /// The instance the event is about.
    #[must_use]
    pub const fn instance(&self) -> &InstanceRecord {
        match self {
            Self::Up(instance) | Self::Down(instance, _) => instance,
        }
    }
}
