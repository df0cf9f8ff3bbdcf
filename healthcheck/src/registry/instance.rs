//! What a process registers about itself.

use std::collections::BTreeMap;
use std::fmt;

use crate::health::HealthChecks;

/// An instance to [register](super::Registry::register): the process's
/// [identity](crate::Identity) (id, host) plus its type, version, region, the endpoints it
/// serves and free-form metadata, and the [`HealthChecks`] whose readiness its status follows.
///
/// The type defaults to the identity's service, the version and region to its `version` and
/// `region` labels.
///
/// # Example
/// ```
/// use healthcheck::HealthChecks;
/// use healthcheck::registry::Instance;
///
/// let health = HealthChecks::builder()
///     .without_registered_checks()
///     .service("payments")
///     .label("region", "eu-west-1")
///     .build()?;
/// let instance = Instance::of(&health).endpoint("http://10.0.0.7:8080").metadata("zone", "b");
/// assert_eq!(instance.kind_name(), "payments");
/// assert_eq!(instance.region_name(), Some("eu-west-1"));
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Instance {
    pub(crate) health: HealthChecks,
    pub(crate) kind: String,
    pub(crate) version: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) endpoints: Vec<String>,
    pub(crate) metadata: BTreeMap<String, String>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id())
            .field("kind", &self.kind)
            .field("host", &self.health.identity().host())
            .field("version", &self.version)
            .field("region", &self.region)
            .field("endpoints", &self.endpoints)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl Instance {
    /// The instance of the process that `health` checks.
    pub fn of(health: &HealthChecks) -> Self {
        let identity = health.identity();
        Self {
            kind: identity.service().to_owned(),
            version: identity.labels().get("version").cloned(),
            region: identity.labels().get("region").cloned(),
            endpoints: Vec::new(),
            metadata: BTreeMap::new(),
            health: health.clone(),
        }
    }

    /// Its type (default: the service).
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }

    /// Its version (default: the `version` label, from `DD_VERSION`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Its region (default: the `region` label).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// An endpoint it serves: a URL or `host:port`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoints.push(endpoint.into());
        self
    }

    /// A metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Its id: the identity's instance.
    #[must_use]
    pub fn id(&self) -> &str {
        self.health.identity().instance()
    }

    /// Its type.
    #[must_use]
    pub fn kind_name(&self) -> &str {
        &self.kind
    }

    /// Its region, if any.
    #[must_use]
    pub fn region_name(&self) -> Option<&str> {
        self.region.as_deref()
    }
}
