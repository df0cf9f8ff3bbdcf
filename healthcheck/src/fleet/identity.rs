//! Who a process is: its service, host, instance and labels, sent with everything it publishes
//! to a fleet, so that many processes on many hosts can be told apart.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use crate::error::Error;

/// `HEALTHCHECK_HOST`: the host name to publish. Defaults to the machine's host name.
pub const HOST_ENV: &str = "HEALTHCHECK_HOST";
/// `HEALTHCHECK_INSTANCE`: the instance id to publish. Defaults to a random UUID per process.
pub const INSTANCE_ENV: &str = "HEALTHCHECK_INSTANCE";

/// A process's identity: service, host, instance id and labels. See
/// [`HealthChecks::identity`](crate::HealthChecks::identity).
///
/// # Example
/// ```
/// use healthcheck::HealthChecks;
///
/// let health = HealthChecks::builder()
///     .service("payments")
///     .label("region", "eu-west-1")
///     .build()?;
/// let identity = health.identity();
/// assert_eq!(identity.service(), "payments");
/// assert_eq!(identity.labels()["region"], "eu-west-1");
/// assert!(!identity.host().is_empty() && !identity.instance().is_empty());
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    service: String,
    host: String,
    instance: String,
    labels: BTreeMap<String, String>,
}

impl Identity {
    /// The service: as the builder says, else `DD_SERVICE`, else the program's file name.
    #[must_use]
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The host: as the builder says, else `HEALTHCHECK_HOST`, else the machine's host name.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The instance: as the builder says, else `HEALTHCHECK_INSTANCE`, else a random UUID drawn
    /// once per process (two [`HealthChecks`](crate::HealthChecks) in one process are one
    /// instance unless told otherwise).
    #[must_use]
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The labels (region, zone, version, ...): as the builder says, plus `env` from `DD_ENV` and
    /// `version` from `DD_VERSION` unless given.
    #[must_use]
    pub const fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("service", &self.service)
            .field("host", &self.host)
            .field("instance", &self.instance)
            .field("labels", &self.labels)
            .finish()
    }
}

/// What the builder was told of the identity.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdentitySettings {
    pub(crate) service: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) instance: Option<String>,
    pub(crate) labels: Vec<(String, String)>,
}

impl IdentitySettings {
    /// The identity, from these settings, the environment and the machine.
    pub(crate) fn resolve(self) -> Result<Identity, Error> {
        let service = match self.service {
            Some(service) => checked("service", service)?,
            None => match env("DD_SERVICE")? {
                Some(service) => checked_env("DD_SERVICE", service)?,
                None => program_name(),
            },
        };
        let host = match (self.host, env(HOST_ENV)?) {
            (Some(host), _) => checked("host", host)?,
            (None, Some(host)) => checked_env(HOST_ENV, host)?,
            (None, None) => gethostname::gethostname()
                .into_string()
                .ok()
                .filter(|h| valid(h).is_ok())
                .unwrap_or_else(|| "localhost".to_owned()),
        };
        let instance = match (self.instance, env(INSTANCE_ENV)?) {
            (Some(instance), _) => checked("instance", instance)?,
            (None, Some(instance)) => checked_env(INSTANCE_ENV, instance)?,
            (None, None) => process_instance().to_owned(),
        };
        let mut labels = BTreeMap::new();
        for (key, value) in self.labels {
            let key = checked("label name", key)?;
            labels.insert(key, checked("label value", value)?);
        }
        for (key, variable) in [("env", "DD_ENV"), ("version", "DD_VERSION")] {
            if labels.contains_key(key) {
                continue;
            }
            if let Some(value) = env(variable)? {
                labels.insert(key.to_owned(), checked_env(variable, value)?);
            }
        }
        Ok(Identity {
            service,
            host,
            instance,
            labels,
        })
    }
}

/// A random UUID, drawn once per process.
fn process_instance() -> &'static str {
    static INSTANCE: OnceLock<String> = OnceLock::new();
    INSTANCE.get_or_init(|| uuid::Uuid::new_v4().to_string())
}

fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem()?.to_str().map(str::to_owned))
        .filter(|name| valid(name).is_ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A value of the identity: not empty, at most 200 characters, no control characters (they
/// end up in store keys and in lines of text).
fn valid(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("it is empty".to_owned());
    }
    if value.chars().count() > 200 {
        return Err("it is longer than 200 characters".to_owned());
    }
    if value.chars().any(char::is_control) {
        return Err("it holds a control character (such as a newline)".to_owned());
    }
    Ok(())
}

fn checked(setting: &'static str, value: String) -> Result<String, Error> {
    match valid(&value) {
        Ok(()) => Ok(value),
        Err(reason) => Err(Error::InvalidSetting {
            setting,
            value,
            reason,
        }),
    }
}

fn checked_env(name: &'static str, value: String) -> Result<String, Error> {
    match valid(&value) {
        Ok(()) => Ok(value),
        Err(reason) => Err(Error::InvalidEnv {
            name,
            value,
            reason,
        }),
    }
}

/// A variable's value, trimmed; `None` when unset or blank.
fn env(name: &'static str) -> Result<Option<String>, Error> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(value) => {
            let value = value.into_string().map_err(|raw| Error::InvalidEnv {
                name,
                value: raw.to_string_lossy().into_owned(),
                reason: "not UTF-8".to_owned(),
            })?;
            let value = value.trim();
            Ok((!value.is_empty()).then(|| value.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert!(valid("payments").is_ok());
        assert!(valid("eu-west-1 b").is_ok());
        assert!(valid("").is_err());
        assert!(valid("a\nb").is_err());
        assert!(valid(&"x".repeat(201)).is_err());
    }

    #[test]
    fn one_instance_per_process() {
        assert_eq!(process_instance(), process_instance());
        assert!(uuid::Uuid::parse_str(process_instance()).is_ok());
    }
}
