//! The Redis checker: healthy when the server answers `PING`; degraded when its memory is above
//! a threshold.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::{AsyncConnectionConfig, RedisError};

use crate::check::Check;
use crate::checks::task::with_causes;
use crate::checks::{Common, common_settings, redact};
use crate::component::Component;

/// How long one connection attempt of the checker's own connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server may take to answer, on the checker's own connection.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A Redis check, made by [`redis()`]: healthy when the server answers `PING` within the check's
/// timeout; degraded when a memory threshold is set
/// ([`max_memory_usage`](Self::max_memory_usage), [`max_used_memory`](Self::max_used_memory))
/// and `INFO memory` shows the server above it.
///
/// Fields: `redis_version` (from `INFO server`, read once and kept until a run fails), and,
/// when a threshold is set, `used_memory` and `maxmemory` in bytes (`maxmemory` is 0 when the
/// server has no limit).
///
/// Given a URL, the checker keeps a connection of its own (a multiplexed connection), made on
/// first use (building never connects). A connection found dropped — the server restarted, or
/// the runtime that ran its task is gone — is replaced and the command sent once more in the
/// same run; after any failure the next run starts from a fresh connection, so a password fixed
/// on the server is taken without a restart.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::{HealthChecks, checks};
///
/// let health = HealthChecks::builder()
///     .check(
///         checks::redis("cache", "redis://:s3cret@cache.internal:6379/0")
///             .max_memory_usage(0.9)
///             .timeout(Duration::from_millis(500)),
///     )
///     .build()?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
///
/// Or on the application's own connection:
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use healthcheck::{HealthChecks, checks};
///
/// let client = redis::Client::open("redis://cache.internal:6379/0")?;
/// let connection = redis::aio::ConnectionManager::new(client).await?;
/// let health = HealthChecks::builder()
///     .check(checks::redis("cache", connection.clone()))
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a checker does nothing until it is given to HealthChecksBuilder::check"]
pub struct Redis {
    common: Common,
    target: Target,
    max_usage: Option<f64>,
    max_used: Option<u64>,
}

common_settings!(Redis);

/// What a [`redis()`] check talks to: a URL (`&str`, `String`), or an application's
/// [`ConnectionManager`] or [`MultiplexedConnection`] (a clone of it, which shares its
/// connection).
pub struct RedisTarget(Target);

enum Target {
    /// A URL, parsed into a client (or why not).
    Url {
        text: String,
        client: Result<redis::Client, String>,
    },
    Manager(ConnectionManager),
    Multiplexed(MultiplexedConnection),
}

impl Target {
    /// The target as messages and `Debug` show it: the URL redacted.
    fn describe(&self) -> String {
        match self {
            Target::Url { text, .. } => redact(text).into_owned(),
            Target::Manager(_) | Target::Multiplexed(_) => {
                "the application's connection".to_owned()
            }
        }
    }
}

impl From<&str> for RedisTarget {
    fn from(url: &str) -> Self {
        let text = url.trim().to_owned();
        let client = redis::Client::open(text.as_str()).map_err(|e| with_causes(&e));
        RedisTarget(Target::Url { text, client })
    }
}

impl From<String> for RedisTarget {
    fn from(url: String) -> Self {
        url.as_str().into()
    }
}

impl From<&String> for RedisTarget {
    fn from(url: &String) -> Self {
        url.as_str().into()
    }
}

impl From<ConnectionManager> for RedisTarget {
    fn from(connection: ConnectionManager) -> Self {
        RedisTarget(Target::Manager(connection))
    }
}

impl From<MultiplexedConnection> for RedisTarget {
    fn from(connection: MultiplexedConnection) -> Self {
        RedisTarget(Target::Multiplexed(connection))
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisTarget")
            .field(&self.0.describe())
            .finish()
    }
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("name", &self.common.name())
            .field("target", &self.target.describe())
            .field("max_memory_usage", &self.max_usage)
            .field("max_used_memory", &self.max_used)
            .finish_non_exhaustive()
    }
}

/// A check named `name` that sends `PING` to Redis (or Valkey, or anything that speaks its
/// protocol) at `target`: a URL (`redis://:password@host:6379/0`, `redis://user:password@...`,
/// `redis+unix:///path`), or the application's [`ConnectionManager`] or
/// [`MultiplexedConnection`].
///
/// A URL the `redis` crate cannot parse makes
/// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
/// [`Error::InvalidCheck`](crate::Error::InvalidCheck) (its password masked).
#[track_caller]
pub fn redis(name: impl Into<String>, target: impl Into<RedisTarget>) -> Redis {
    let mut common = Common::new(name);
    let RedisTarget(target) = target.into();
    if let Target::Url {
        text,
        client: Err(reason),
    } = &target
    {
        common.invalid(format!("invalid Redis URL {:?}: {reason}", redact(text)));
    }
    Redis {
        common,
        target,
        max_usage: None,
        max_used: None,
    }
}

impl Redis {
    /// Degraded when `used_memory` is above `fraction` (in `(0, 1]`, such as `0.9`) of the
    /// server's `maxmemory`. On a server without a limit (`maxmemory` 0), which grows until the
    /// host runs out, the fraction applies to the host's memory (`total_system_memory`) and the
    /// message says so; a server that reports neither is not judged on it.
    ///
    /// A fraction outside `(0, 1]` makes
    /// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail.
    pub fn max_memory_usage(mut self, fraction: f64) -> Self {
        if !(fraction > 0.0 && fraction <= 1.0) {
            self.common.invalid(format!(
                "max_memory_usage is a fraction in (0, 1], such as 0.9 for 90%, not {fraction}"
            ));
        }
        self.max_usage = Some(fraction);
        self
    }

    /// Degraded when `used_memory` is above `bytes`, whatever `maxmemory` is.
    pub fn max_used_memory(mut self, bytes: u64) -> Self {
        self.max_used = Some(bytes);
        self
    }
}

/// The connection of the checker.
enum Connection {
    /// Its own, made on first use and forgotten after a failure.
    Own {
        client: redis::Client,
        current: Mutex<Option<MultiplexedConnection>>,
    },
    Manager(ConnectionManager),
    Multiplexed(MultiplexedConnection),
}

/// A connection of either kind the application may give.
enum Live {
    Manager(ConnectionManager),
    Multiplexed(MultiplexedConnection),
}

impl Live {
    async fn query<T: redis::FromRedisValue>(
        &mut self,
        pipe: &redis::Pipeline,
    ) -> Result<T, RedisError> {
        match self {
            Live::Manager(connection) => pipe.query_async(connection).await,
            Live::Multiplexed(connection) => pipe.query_async(connection).await,
        }
    }

    async fn ping(&mut self) -> Result<String, RedisError> {
        let ping = redis::cmd("PING");
        match self {
            Live::Manager(connection) => ping.query_async(connection).await,
            Live::Multiplexed(connection) => ping.query_async(connection).await,
        }
    }
}

impl Connection {
    /// A connection to send on; the checker's own is made here when there is none, its task on
    /// the current runtime.
    async fn live(&self) -> Result<Live, RedisError> {
        match self {
            Connection::Own { client, current } => {
                if let Some(connection) = current
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .as_ref()
                {
                    return Ok(Live::Multiplexed(connection.clone()));
                }
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT));
                let made = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                *current.lock().unwrap_or_else(PoisonError::into_inner) = Some(made.clone());
                Ok(Live::Multiplexed(made))
            }
            Connection::Manager(connection) => Ok(Live::Manager(connection.clone())),
            Connection::Multiplexed(connection) => Ok(Live::Multiplexed(connection.clone())),
        }
    }

    /// Forgets the checker's own connection, so that the next run starts afresh.
    fn reset(&self) {
        if let Connection::Own { current, .. } = self {
            current
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        }
    }
}

/// What the runs of one checker share.
struct Shared {
    connection: Connection,
    described: String,
    max_usage: Option<f64>,
    max_used: Option<u64>,
    /// The server's version, once read; forgotten when a run fails.
    version: Mutex<Option<String>>,
}

impl From<Redis> for Check {
    fn from(redis: Redis) -> Check {
        let Redis {
            common,
            target,
            max_usage,
            max_used,
        } = redis;
        let described = target.describe();
        let connection = match target {
            Target::Url {
                client: Ok(client), ..
            } => Connection::Own {
                client,
                current: Mutex::new(None),
            },
            Target::Manager(connection) => Connection::Manager(connection),
            Target::Multiplexed(connection) => Connection::Multiplexed(connection),
            Target::Url { client: Err(_), .. } => {
                // Never run: the build fails with the reason recorded.
                return common.into_check(|| async { Component::unhealthy("invalid check") });
            }
        };
        let shared = Arc::new(Shared {
            connection,
            described,
            max_usage,
            max_used,
            version: Mutex::new(None),
        });
        common.into_check(move || probe(Arc::clone(&shared)))
    }
}

/// What one run asked the server, and its answers.
struct Answers {
    version: Option<String>,
    /// `INFO memory`, when a threshold asked for it.
    memory: Option<String>,
}

/// One run: `PING` (with `INFO server` until the version is known, and `INFO memory` when a
/// threshold is set), once more on a fresh connection if the first was dropped.
async fn probe(shared: Arc<Shared>) -> Component {
    match ask_retrying(&shared).await {
        Ok(answers) => judge(&shared, answers),
        Err(e) => {
            shared.connection.reset();
            shared
                .version
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let message = format!(
                "Redis at {} failed PING: {}",
                shared.described,
                with_causes(&e)
            );
            Component::unhealthy(redact(&message).into_owned())
        }
    }
}

async fn ask_retrying(shared: &Shared) -> Result<Answers, RedisError> {
    match ask(shared).await {
        Ok(answers) => Ok(answers),
        Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() => {
            tracing::debug!(
                target: "healthcheck::checks",
                "a Redis connection was lost ({e}); trying a fresh one"
            );
            shared.connection.reset();
            ask(shared).await
        }
        Err(e) => Err(e),
    }
}

async fn ask(shared: &Shared) -> Result<Answers, RedisError> {
    let mut live = shared.connection.live().await?;
    let version = shared
        .version
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let wants_memory = shared.max_usage.is_some() || shared.max_used.is_some();
    if version.is_some() && !wants_memory {
        live.ping().await?;
        return Ok(Answers {
            version,
            memory: None,
        });
    }
    let mut pipe = redis::pipe();
    pipe.cmd("PING").ignore();
    if version.is_none() {
        pipe.cmd("INFO").arg("server");
    }
    if wants_memory {
        pipe.cmd("INFO").arg("memory");
    }
    let mut infos: Vec<String> = live.query(&pipe).await?;
    let memory = if wants_memory { infos.pop() } else { None };
    let version = match version {
        Some(version) => Some(version),
        None => {
            let read = infos
                .pop()
                .and_then(|info| info_value(&info, "redis_version").map(str::to_owned));
            if let Some(read) = &read {
                *shared
                    .version
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(read.clone());
            }
            read
        }
    };
    Ok(Answers { version, memory })
}

/// The component for the answers: healthy, or degraded by a memory threshold.
fn judge(shared: &Shared, answers: Answers) -> Component {
    let mut component = Component::healthy();
    let mut said = "Redis answered PING".to_owned();
    if let Some(version) = answers.version {
        said = format!("Redis {version} answered PING");
        component.insert("redis_version", version);
    }
    let Some(info) = answers.memory else {
        return component.message(said);
    };
    let number = |key: &str| info_value(&info, key).and_then(|v| v.parse::<u64>().ok());
    let Some(used) = number("used_memory") else {
        return component.message(format!("{said}; INFO memory shows no used_memory"));
    };
    let maxmemory = number("maxmemory").unwrap_or(0);
    component.insert("used_memory", used);
    component.insert("maxmemory", maxmemory);
    let mut problems = Vec::new();
    if let Some(limit) = shared.max_used {
        if used > limit {
            problems.push(format!(
                "used_memory {} is above {}",
                bytes(used),
                bytes(limit)
            ));
        }
    }
    let mut notes = Vec::new();
    if let Some(fraction) = shared.max_usage {
        let (of, what) = if maxmemory > 0 {
            (Some(maxmemory), "maxmemory")
        } else {
            notes.push("no maxmemory set".to_owned());
            (
                number("total_system_memory").filter(|&total| total > 0),
                "the host's memory (no maxmemory set)",
            )
        };
        if let Some(of) = of {
            #[allow(clippy::cast_precision_loss)] // A ratio of memory sizes.
            let usage = used as f64 / of as f64;
            if usage > fraction {
                problems.push(format!(
                    "used_memory {} is {:.0}% of {what} {}, above {:.0}%",
                    bytes(used),
                    usage * 100.0,
                    bytes(of),
                    fraction * 100.0
                ));
            }
        }
    }
    if problems.is_empty() {
        let mut message = format!("{said}; used_memory {}", bytes(used));
        for note in notes {
            message.push_str("; ");
            message.push_str(&note);
        }
        component.message(message)
    } else {
        component.set_degraded(problems.join("; "));
        component
    }
}

/// The value of `key` in an `INFO` answer (`key:value` lines).
fn info_value<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

/// `n` bytes, for people: `512 B`, `1.5 MiB`.
#[allow(clippy::cast_precision_loss)] // Shown with one decimal.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::{RedisTarget, bytes, info_value};

    #[test]
    fn info_values_are_found_by_key() {
        let info = "# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\nmaxmemory:0\r\n";
        assert_eq!(info_value(info, "used_memory"), Some("1024"));
        assert_eq!(info_value(info, "maxmemory"), Some("0"));
        assert_eq!(info_value(info, "total_system_memory"), None);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn the_target_never_shows_its_password() {
        let target = RedisTarget::from("redis://:hunter2@cache:6379/0");
        assert!(!format!("{target:?}").contains("hunter2"));
    }
}
