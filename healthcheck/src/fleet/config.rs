//! How an instance takes part in the fleet: its store, how often it publishes, when a result
//! counts as stale, and the rule of the fleet's verdict.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::store::{self, FleetStore, MemoryFleetStore, STORE_ENV, StoreUrl};
use super::view::FleetView;
use crate::error::Error;

/// How often an instance with a shared store publishes when nothing else runs its checks.
pub const DEFAULT_PUBLISH_INTERVAL: Duration = Duration::from_secs(30);

/// The rule that turns the fleet's results into one verdict, per (service, check, group).
///
/// Results of checks that are not critical never fail the fleet; stale results count as
/// failing.
#[derive(Clone, Default)]
pub enum FleetReduce {
    /// Every instance healthy (the default).
    #[default]
    All,
    /// At least one healthy instance per (service, check, group).
    OnePerGroup,
    /// At least `n` healthy instances per (service, check, group).
    Quorum(usize),
    /// A function of the caller's own over the whole view.
    Custom(Arc<dyn Fn(&FleetView) -> bool + Send + Sync>),
}

impl FleetReduce {
    /// A function of the caller's own over the whole view.
    pub fn custom(rule: impl Fn(&FleetView) -> bool + Send + Sync + 'static) -> Self {
        Self::Custom(Arc::new(rule))
    }

    /// The rule's name, as [`FromStr`] reads it: `all`, `any`, `quorum:2` or `custom`.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Self::All => "all".to_owned(),
            Self::OnePerGroup => "any".to_owned(),
            Self::Quorum(n) => format!("quorum:{n}"),
            Self::Custom(_) => "custom".to_owned(),
        }
    }
}

impl fmt::Debug for FleetReduce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for FleetReduce {
    type Err = String;

    /// `all`, `any` (or `one-per-group`), or `quorum:N` with `N` at least 1.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "all" => Ok(Self::All),
            "any" | "one-per-group" => Ok(Self::OnePerGroup),
            other => match other.strip_prefix("quorum:").map(str::parse::<usize>) {
                Some(Ok(n)) if n > 0 => Ok(Self::Quorum(n)),
                _ => Err(format!(
                    "unknown fleet rule `{other}`: expected all, any or quorum:N (N at least 1)"
                )),
            },
        }
    }
}

/// Where and how an instance publishes its results, and how the fleet is read; given to
/// [`HealthChecksBuilder::fleet`](crate::HealthChecksBuilder::fleet).
///
/// Without one, the store is `HEALTHCHECK_STORE` when set, else a [`MemoryFleetStore`] of the
/// instance's own.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use healthcheck::HealthChecks;
/// use healthcheck::fleet::{FleetConfig, FleetReduce, MemoryFleetStore};
///
/// let health = HealthChecks::builder()
///     .service("payments")
///     .fleet(
///         FleetConfig::new()
///             .store(MemoryFleetStore::new())
///             .publish_every(Duration::from_secs(10))
///             .reduce(FleetReduce::Quorum(2)),
///     )
///     .build()?;
/// assert_eq!(health.fleet().freshness(), Duration::from_secs(30));
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct FleetConfig {
    store: Option<StoreSetting>,
    interval: Option<Duration>,
    freshness: Option<Duration>,
    reduce: FleetReduce,
    publish: bool,
    read_only: bool,
}

#[derive(Clone)]
enum StoreSetting {
    Store(Arc<dyn FleetStore>),
    Url(String),
}

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let store = match &self.store {
            None => "default".to_owned(),
            Some(StoreSetting::Store(store)) => store.describe(),
            Some(StoreSetting::Url(url)) => masked(url),
        };
        f.debug_struct("FleetConfig")
            .field("store", &store)
            .field("interval", &self.interval)
            .field("freshness", &self.freshness)
            .field("reduce", &self.reduce)
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl FleetConfig {
    /// The defaults: the store of `HEALTHCHECK_STORE` (else a store in memory), publishing
    /// every run, and every 30 s when nothing else runs the checks (shared stores only), a
    /// freshness window of 3 × that interval, every instance healthy as the rule.
    pub fn new() -> Self {
        Self {
            publish: true,
            ..Self::default()
        }
    }

    /// The store to publish to and read from.
    pub fn store(mut self, store: impl FleetStore + 'static) -> Self {
        self.store = Some(StoreSetting::Store(Arc::new(store)));
        self
    }

    /// The store, shared with other users.
    pub fn shared_store(mut self, store: Arc<dyn FleetStore>) -> Self {
        self.store = Some(StoreSetting::Store(store));
        self
    }

    /// The store at `url` (`sqlite:///path`, `redis://...`, `postgres://...`,
    /// `etcd://h1:2379,h2:2379`, `memory:`), opened by [`build`](crate::HealthChecksBuilder::build),
    /// which fails on a malformed URL or a backend whose feature is off.
    pub fn store_url(mut self, url: impl Into<String>) -> Self {
        self.store = Some(StoreSetting::Url(url.into()));
        self
    }

    /// How often the instance publishes when nothing else ran its checks: the SDK then runs
    /// the checks whose last published result is older than this (with a shared store only;
    /// with the in-memory store, results are published as runs produce them). Defaults to 30 s.
    pub fn publish_every(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// How old a result may be before the fleet view counts it as stale (failing), and after
    /// which (doubled) the store forgets it. Defaults to 3 × the publish interval.
    pub fn freshness(mut self, window: Duration) -> Self {
        self.freshness = Some(window);
        self
    }

    /// The rule of the fleet's verdict. Defaults to [`FleetReduce::All`].
    pub fn reduce(mut self, reduce: FleetReduce) -> Self {
        self.reduce = reduce;
        self
    }

    /// Reads the fleet without publishing this instance's results: for a dashboard or a
    /// command line that only looks.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The settings, with the store opened (lazily: nothing connects here).
    pub(crate) fn resolve(self) -> Result<ResolvedFleet, Error> {
        let interval = self.interval.unwrap_or(DEFAULT_PUBLISH_INTERVAL);
        if interval.is_zero() {
            return Err(Error::InvalidSetting {
                setting: "fleet publish interval",
                value: "0s".to_owned(),
                reason: "it must be longer than zero".to_owned(),
            });
        }
        let freshness = self.freshness.unwrap_or(interval.saturating_mul(3));
        if freshness.is_zero() {
            return Err(Error::InvalidSetting {
                setting: "fleet freshness window",
                value: "0s".to_owned(),
                reason: "it must be longer than zero".to_owned(),
            });
        }
        if let FleetReduce::Quorum(0) = self.reduce {
            return Err(Error::InvalidSetting {
                setting: "fleet rule",
                value: "quorum:0".to_owned(),
                reason: "a quorum is at least 1".to_owned(),
            });
        }
        let (store, explicit) = match self.store {
            Some(StoreSetting::Store(store)) => (store, true),
            Some(StoreSetting::Url(url)) => {
                let opened = StoreUrl::parse(&url).and_then(|u| store::open(&u).map(|s| (u, s)));
                match opened {
                    Ok((url, store)) => (store, url.scheme() != "memory"),
                    Err(reason) => {
                        return Err(Error::InvalidSetting {
                            setting: "fleet store URL",
                            value: masked(&url),
                            reason,
                        });
                    }
                }
            }
            None => match store_from_env()? {
                Some((url, store)) => (store, url.scheme() != "memory"),
                // A store of its own: two instances in one process do not mix their beats.
                None => (
                    Arc::new(MemoryFleetStore::new()) as Arc<dyn FleetStore>,
                    false,
                ),
            },
        };
        Ok(ResolvedFleet {
            store,
            explicit,
            interval,
            freshness,
            reduce: self.reduce,
            publish: self.publish && !self.read_only,
        })
    }
}

/// A URL as it may be shown: masked, or nothing of it when it cannot even be parsed.
fn masked(url: &str) -> String {
    StoreUrl::parse(url).map_or_else(|_| "(not a URL)".to_owned(), |u| u.masked().to_owned())
}

/// A store opened from its URL.
type Opened = (StoreUrl, Arc<dyn FleetStore>);

/// The store named by `HEALTHCHECK_STORE`, if set.
fn store_from_env() -> Result<Option<Opened>, Error> {
    let Some(value) = std::env::var_os(STORE_ENV) else {
        return Ok(None);
    };
    let invalid = |value: String, reason: String| Error::InvalidEnv {
        name: STORE_ENV,
        value,
        reason,
    };
    let Ok(value) = value.into_string() else {
        return Err(invalid("(not UTF-8)".to_owned(), "not UTF-8".to_owned()));
    };
    if value.trim().is_empty() {
        return Ok(None);
    }
    let url = StoreUrl::parse(&value).map_err(|reason| invalid(masked(&value), reason))?;
    let store = store::open(&url).map_err(|reason| invalid(url.masked().to_owned(), reason))?;
    Ok(Some((url, store)))
}

/// The fleet settings of a built [`HealthChecks`](crate::HealthChecks).
#[derive(Clone, Debug)]
pub(crate) struct ResolvedFleet {
    pub(crate) store: Arc<dyn FleetStore>,
    /// Whether the store was chosen (in code or by `HEALTHCHECK_STORE`), not the default: only
    /// then are beats of other processes read and checks run in the background to publish.
    pub(crate) explicit: bool,
    pub(crate) interval: Duration,
    pub(crate) freshness: Duration,
    pub(crate) reduce: FleetReduce,
    pub(crate) publish: bool,
}

impl ResolvedFleet {
    /// How long the store keeps a result: twice the freshness window.
    pub(crate) fn ttl(&self) -> Duration {
        self.freshness.saturating_mul(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_from_text() {
        assert!(matches!("all".parse(), Ok(FleetReduce::All)));
        assert!(matches!("any".parse(), Ok(FleetReduce::OnePerGroup)));
        assert!(matches!("quorum:2".parse(), Ok(FleetReduce::Quorum(2))));
        let error = "quorum:0".parse::<FleetReduce>().unwrap_err();
        assert!(error.contains("quorum:N"), "{error}");
        assert!("most".parse::<FleetReduce>().is_err());
    }

    #[test]
    fn a_bad_store_url_is_an_error_that_hides_the_password() {
        for (url, says) in [
            ("redis//:hunter2@cache", "no scheme"),
            ("mongodb://admin:hunter2@db", "unknown store `mongodb`"),
        ] {
            let error = FleetConfig::new().store_url(url).resolve().unwrap_err();
            let text = error.to_string();
            assert!(text.contains(says), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
}
