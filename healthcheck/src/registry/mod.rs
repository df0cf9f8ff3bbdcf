//! A service registry on etcd: each instance under a lease kept alive, its status following its
//! readiness, with queries and watches. os-lively's model, with its leases actually renewed.
//!
//! [`Registry::register`] puts an [`Instance`] in etcd and keeps it there while the process
//! lives: `UP` while the readiness checks pass, `DOWN` when a critical one fails or a shutdown
//! has begun, gone when the process stops gracefully (the lease is revoked) or dies (the lease
//! runs out after its time to live). [`Registry::get`], [`is_up`](Registry::is_up) and
//! [`list`](Registry::list) read it; [`Registry::watch`] follows it as `Up` and `Down(reason)`
//! events. The keys are laid out in [`keys`](self#keys).
//!
//! # Keys
//! Under the prefix (`/services` unless [`RegistryBuilder::prefix`] says otherwise), every name
//! escaped (`/` as `%2F`, `%` as `%25`), all of an instance's keys on one lease:
//!
//! | key | value |
//! |---|---|
//! | `by-uuid/<id>` | the instance as JSON ([`InstanceRecord`]) |
//! | `by-status/<UP\|DOWN>/<id>` | the id |
//! | `by-type-host/<type>/<host>/<id>` | the id |
//! | `by-region/<region>/<id>` | the id (when the instance has a region) |
//!
//! A status change rewrites them in one transaction.
//!
//! # Faults
//! etcd being away changes nothing else: [`register`](Registry::register) returns at once and
//! keeps trying in the background (the [`check`](Registry::check) component says so, degraded);
//! a renewal that goes unanswered is tried again through a new connection, so that a member or a
//! connection lost for less than the time to live keeps the lease and shows to nobody; a lease
//! that ran out while etcd was away is granted anew and the instance put back under the same id;
//! a watch picks up where it left off (from the last revision it saw) once etcd is back.
//!
//! # Example
//! ```no_run
//! use healthcheck::HealthChecks;
//! use healthcheck::registry::{Instance, Registry, RegistryFilter};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::etcd("127.0.0.1:2379").build()?;
//! let health = HealthChecks::builder().check(registry.check()).build()?;
//! let registration = registry.register(
//!     Instance::of(&health).kind("api").region("eu-west-1").endpoint("http://10.0.0.7:8080"),
//! );
//! let up = registry.list(&RegistryFilter::new().kind("api")).await?;
//! # drop(up);
//! // At shutdown: DOWN at once, then gone.
//! health.begin_shutdown();
//! registration.deregister().await?;
//! # Ok(())
//! # }
//! ```

mod client;
mod instance;
mod keys;
mod record;
mod registration;
mod watch;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use etcd_client::{GetOptions, Txn, TxnOp};

use crate::check::Check;
use crate::component::Component;
use crate::fleet::store::StoreUrl;

use client::Connection;
pub use instance::Instance;
use keys::Keys;
pub use record::{DownReason, InstanceRecord, InstanceStatus, RegistryEvent, RegistryFilter};
use registration::Shared as RegistrationShared;
pub use registration::{Registration, RegistrationState};
pub use watch::RegistryWatch;

/// `HEALTHCHECK_REGISTRY`: the registry's URL, such as `etcd://h1:2379,h2:2379`, read by
/// [`Registry::from_env`].
pub const REGISTRY_ENV: &str = "HEALTHCHECK_REGISTRY";
/// The key prefix unless [`RegistryBuilder::prefix`] sets another.
pub const DEFAULT_PREFIX: &str = "/services";
/// The lease's time to live unless [`RegistryBuilder::ttl`] sets another.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);
/// The shortest time to live a registry takes.
pub const MIN_TTL: Duration = Duration::from_secs(2);
/// How often a registration runs the readiness checks itself when nothing else has, unless
/// [`RegistryBuilder::refresh_every`] says otherwise.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);

/// An error of the registry: what went wrong, with the registry's URL (its password masked).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("service registry {registry}: {message}")]
pub struct RegistryError {
    registry: String,
    message: String,
}

impl RegistryError {
    pub(crate) fn new(registry: &str, message: impl fmt::Display) -> Self {
        Self {
            registry: registry.to_owned(),
            message: crate::checks::redact(&message.to_string()).into_owned(),
        }
    }

    /// What went wrong, without the registry's URL.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A service registry on etcd. Cheap to clone; clones share one connection.
///
/// Built with [`Registry::etcd`] or [`Registry::from_env`]; connects on first use, on the SDK's
/// own runtime, so that it outlives whichever runtime called it first.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Arc<Connection>,
    keys: Keys,
    ttl: Duration,
    refresh: Duration,
    /// The registrations made through this registry, for its [`check`](Registry::check).
    registrations: Mutex<Vec<Weak<RegistrationShared>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.inner.connection.display())
            .field("prefix", &self.inner.keys.prefix())
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Registry`]; [`build`](Self::build) checks them.
#[must_use]
pub struct RegistryBuilder {
    url: String,
    prefix: String,
    ttl: Duration,
    refresh: Duration,
    user: Option<(String, String)>,
    connect_timeout: Duration,
    #[cfg(feature = "registry-tls")]
    tls: Option<etcd_client::TlsOptions>,
}

impl fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field("url", &crate::checks::redact(&self.url))
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("refresh", &self.refresh)
            .field("user", &self.user.as_ref().map(|(name, _)| name))
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry on the etcd at `endpoints`: `h1:2379,h2:2379`, or an `etcd://` URL
    /// (`etcd://user:password@h1:2379,h2:2379`). A host without a port is on 2379.
    pub fn etcd(endpoints: impl Into<String>) -> RegistryBuilder {
        let url = endpoints.into();
        let url = if url.contains("://") {
            url
        } else {
            format!("etcd://{url}")
        };
        RegistryBuilder {
            url,
            prefix: DEFAULT_PREFIX.to_owned(),
            ttl: DEFAULT_TTL,
            refresh: DEFAULT_REFRESH,
            user: None,
            connect_timeout: Duration::from_secs(2),
            #[cfg(feature = "registry-tls")]
            tls: None,
        }
    }

    /// The registry that [`REGISTRY_ENV`] (`HEALTHCHECK_REGISTRY`) names, if it is set.
    ///
    /// # Errors
    /// [`RegistryError`] when the variable is set but not UTF-8.
    pub fn from_env() -> Result<Option<RegistryBuilder>, RegistryError> {
        match std::env::var(REGISTRY_ENV) {
            Ok(url) if url.trim().is_empty() => Ok(None),
            Ok(url) => Ok(Some(Self::etcd(url.trim()))),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(RegistryError::new(
                REGISTRY_ENV,
                "the variable is not UTF-8 (expected etcd://host:2379,...)",
            )),
        }
    }

    /// The key prefix, such as `/services`.
    #[must_use]
    pub fn prefix(&self) -> &str {
        self.inner.keys.prefix()
    }

    /// The time to live of each registration's lease.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Registers `instance` and keeps it registered, following its readiness, until the
    /// returned [`Registration`] is deregistered or dropped. Returns at once: the work is done
    /// in the background, on the SDK's runtime, retried while etcd is away.
    pub fn register(&self, instance: Instance) -> Registration {
        let registration = registration::start(self.clone(), instance);
        let mut all = self
            .inner
            .registrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        all.retain(|weak| weak.strong_count() > 0);
        let id = registration.id();
        if all
            .iter()
            .filter_map(Weak::upgrade)
            .any(|other| other.state().id == id)
        {
            tracing::warn!(%id, "an instance registered twice: both registrations write the same keys, and the first to stop takes the instance out; give each HealthChecks its own instance id");
        }
        all.push(registration.downgrade());
        registration
    }

    /// The instance with id `id`, if it is registered.
    ///
    /// # Errors
    /// [`RegistryError`] when etcd cannot be asked, or the record there is not one.
    pub async fn get(&self, id: &str) -> Result<Option<InstanceRecord>, RegistryError> {
        let key = self.inner.keys.record(id);
        let values = self
            .inner
            .connection
            .call(move |client| async move {
                let mut kv = client.kv_client();
                let response = kv.get(key, None).await?;
                Ok(response.kvs().first().map(|kv| kv.value().to_vec()))
            })
            .await?;
        values
            .map(|value| {
                InstanceRecord::from_json(&value).map_err(|e| self.error(format!("{id}: {e}")))
            })
            .transpose()
    }

    /// Whether the instance with id `id` is registered and `UP`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn is_up(&self, id: &str) -> Result<bool, RegistryError> {
        Ok(self.get(id).await?.is_some_and(|record| record.is_up()))
    }

    /// The registered instances that `filter` covers, by id. Reads through the narrowest index
    /// the filter allows (type and host, region, status), then the records. Entries that are
    /// not instance records are skipped with a warning.
    ///
    /// # Errors
    /// [`RegistryError`] when etcd cannot be asked.
    pub async fn list(
        &self,
        filter: &RegistryFilter,
    ) -> Result<Vec<InstanceRecord>, RegistryError> {
        let keys = &self.inner.keys;
        let index = match (filter.kind_name(), filter.host_name(), filter.region_name()) {
            (Some(kind), Some(host), _) => Some(keys.by_type_host(kind, host)),
            (Some(kind), None, _) => Some(keys.by_type(kind)),
            (None, _, Some(region)) => Some(keys.by_region(region)),
            (None, _, None) => filter.status_value().map(|status| keys.by_status(status)),
        };
        let records_prefix = keys.records();
        let record_keys: Vec<String> = {
            let keys = keys.clone();
            self.inner
                .connection
                .call(move |client| async move {
                    let Some(index) = index else {
                        return Ok(Vec::new());
                    };
                    let mut kv = client.kv_client();
                    let response = kv
                        .get(
                            index,
                            Some(GetOptions::new().with_prefix().with_keys_only()),
                        )
                        .await?;
                    Ok(response
                        .kvs()
                        .iter()
                        .filter_map(|kv| kv.key_str().ok().and_then(Keys::id_of))
                        .map(|id| keys.record(&id))
                        .collect())
                })
                .await?
        };
        let values: Vec<(String, Vec<u8>)> = if filter.kind_name().is_none()
            && filter.region_name().is_none()
            && filter.status_value().is_none()
        {
            self.inner
                .connection
                .call(move |client| async move {
                    let mut kv = client.kv_client();
                    let response = kv
                        .get(records_prefix, Some(GetOptions::new().with_prefix()))
                        .await?;
                    Ok(response
                        .kvs()
                        .iter()
                        .map(|kv| {
                            (
                                String::from_utf8_lossy(kv.key()).into_owned(),
                                kv.value().to_vec(),
                            )
                        })
                        .collect())
                })
                .await?
        } else {
            let mut values = Vec::with_capacity(record_keys.len());
            // etcd takes at most 128 operations in one transaction by default.
            for chunk in record_keys.chunks(128) {
                let chunk = chunk.to_vec();
                let found: Vec<(String, Vec<u8>)> = self
                    .inner
                    .connection
                    .call(move |client| async move {
                        let mut kv = client.kv_client();
                        let txn = Txn::new().and_then(
                            chunk
                                .into_iter()
                                .map(|key| TxnOp::get(key, None))
                                .collect::<Vec<_>>(),
                        );
                        let response = kv.txn(txn).await?;
                        let mut found = Vec::new();
                        for op in response.op_responses() {
                            if let etcd_client::TxnOpResponse::Get(get) = op {
                                for kv in get.kvs() {
                                    found.push((
                                        String::from_utf8_lossy(kv.key()).into_owned(),
                                        kv.value().to_vec(),
                                    ));
                                }
                            }
                        }
                        Ok(found)
                    })
                    .await?;
                values.extend(found);
            }
            values
        };
        let mut records = Vec::with_capacity(values.len());
        let mut skipped = 0;
        for (key, value) in values {
            match InstanceRecord::from_json(&value) {
                Ok(record) if filter.matches(&record) => records.push(record),
                Ok(_) => {}
                Err(reason) => {
                    skipped += 1;
                    tracing::warn!(registry = %self.inner.connection.display(), %key, %reason, "skipped an entry of the service registry that is not an instance record");
                }
            }
        }
        if skipped > 0 {
            tracing::debug!(skipped, "entries skipped in a registry listing");
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        records.dedup_by(|a, b| a.id == b.id);
        Ok(records)
    }

    /// Follows the instances that `filter` covers: first each one's current state (`Up`, or
    /// `Down` with its reason), then every change, as a [`Stream`](futures_util::Stream) of
    /// [`RegistryEvent`]s. Survives etcd going away: it resumes from the last revision it saw,
    /// so that no change is lost or repeated (when etcd has compacted that revision away, it
    /// reads the registry again and reports the difference).
    pub fn watch(&self, filter: RegistryFilter) -> RegistryWatch {
        watch::start(self.clone(), filter)
    }

    /// A check named `registry` that reports this registry's registrations: healthy while each
    /// is in etcd, degraded (never unhealthy: etcd being away is not the service being down)
    /// while one is not, with the last error. Not critical; in the liveness probe only.
    pub fn check(&self) -> Check {
        let inner = Arc::downgrade(&self.inner);
        Check::new("registry", move || std::future::ready(component(&inner)))
            .critical(false)
            .probes([crate::check::Probe::Liveness])
    }

    fn error(&self, message: impl fmt::Display) -> RegistryError {
        RegistryError::new(self.inner.connection.display(), message)
    }
}

/// The registry component: the state of each registration.
fn component(inner: &Weak<Inner>) -> Component {
    let Some(inner) = inner.upgrade() else {
        return Component::degraded("the service registry is gone");
    };
    let registrations: Vec<Arc<RegistrationShared>> = inner
        .registrations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let states: Vec<RegistrationState> = registrations.iter().map(|r| r.state()).collect();
    let mut component = match states.iter().find(|s| !s.registered) {
        _ if states.is_empty() => Component::healthy().message("no instance registered"),
        Some(state) => Component::degraded(format!(
            "{} is not registered in {}: {}",
            state.id,
            inner.connection.display(),
            state.last_error.as_deref().unwrap_or("registering")
        )),
        None => Component::healthy().message(format!(
            "registered in {}: {}",
            inner.connection.display(),
            states
                .iter()
                .map(|s| format!("{} {}", s.id, s.status.map_or("?", InstanceStatus::as_str)))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    component.insert("registry", inner.connection.display());
    component.insert("errors", states.iter().map(|s| s.errors).sum::<u64>());
    component.insert(
        "registrations",
        states.iter().filter(|s| s.registered).count(),
    );
    component
}

impl RegistryBuilder {
    /// The prefix of every key (default `/services`), to share one etcd between registries.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The time to live of each registration's lease (default 10 s, at least 2 s): how long an
    /// instance that died stays listed. The lease is renewed every third of it.
    pub const fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How often a registration runs the readiness checks itself when nothing else has run them
    /// in that time (an HTTP request, a background refresh, the application); default 5 s.
    pub const fn refresh_every(mut self, interval: Duration) -> Self {
        self.refresh = interval;
        self
    }

    /// The user and password when etcd's authentication is on (also taken from the URL).
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some((name.into(), password.into()));
        self
    }

    /// How long one connection attempt may take (default 2 s).
    pub const fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Connects over TLS: `ca_pem` is the certificate authority that signed etcd's certificate,
    /// `identity` an optional client certificate and key (PEM) for mutual TLS.
    #[cfg(feature = "registry-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "registry-tls")))]
    pub fn tls(mut self, ca_pem: impl AsRef<[u8]>, identity: Option<(&[u8], &[u8])>) -> Self {
        let mut tls = etcd_client::TlsOptions::new()
            .ca_certificate(etcd_client::Certificate::from_pem(ca_pem.as_ref()));
        if let Some((cert, key)) = identity {
            tls = tls.identity(etcd_client::Identity::from_pem(cert, key));
        }
        self.tls = Some(tls);
        self
    }

    /// The registry. Does not connect.
    ///
    /// # Errors
    /// [`RegistryError`] when the URL is not an etcd URL, the time to live is under 2 s or over
    /// a year, the refresh interval is zero, or the prefix is empty or not absolute.
    pub fn build(self) -> Result<Registry, RegistryError> {
        let parsed = StoreUrl::parse(&self.url)
            .map_err(|reason| RegistryError::new(&crate::checks::redact(&self.url), reason))?;
        let display = parsed.masked().to_owned();
        let fail = |message: String| RegistryError::new(&display, message);
        if !(MIN_TTL..=Duration::from_secs(365 * 24 * 3600)).contains(&self.ttl) {
            return Err(fail(format!(
                "a time to live of {} is out of range (2 s to a year)",
                humantime::format_duration(self.ttl)
            )));
        }
        if self.refresh.is_zero() {
            return Err(fail("the refresh interval is zero".to_owned()));
        }
        if !self.prefix.starts_with('/') || self.prefix.trim_end_matches('/').is_empty() {
            return Err(fail(format!(
                "the prefix {:?} is not an absolute key path such as /services",
                self.prefix
            )));
        }
        let connection = Arc::new(
            Connection::new(
                &parsed,
                self.user,
                self.connect_timeout,
                #[cfg(feature = "registry-tls")]
                self.tls,
            )
            .map_err(fail)?,
        );
        Ok(Registry {
            inner: Arc::new(Inner {
                connection,
                keys: Keys::new(&self.prefix),
                ttl: self.ttl,
                refresh: self.refresh,
                registrations: Mutex::new(Vec::new()),
            }),
        })
    }
}
