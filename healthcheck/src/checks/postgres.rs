//! The PostgreSQL checker: healthy when a pooled connection answers a query (`SELECT 1` unless
//! told otherwise).

use std::fmt;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::check::Check;
use crate::checks::task::with_causes;
use crate::checks::{Common, common_settings, redact};
use crate::component::Component;

/// The query of a checker that was given none.
const DEFAULT_QUERY: &str = "SELECT 1";
/// Connections at most in a checker's own pool.
const POOL_SIZE: usize = 2;
/// How long connecting may take, unless the connection string says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long waiting for a pooled connection, making or recycling one may take.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);
/// The server-side limit of the check's statements when the check sets no timeout (and the
/// connection string no `options`); otherwise the check's timeout is the limit.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A PostgreSQL check, made by [`postgres`]: healthy when a connection from the pool runs the
/// query (`SELECT 1`, or the one given to [`query`](Self::query)) within the check's timeout.
/// The query's rows are not looked at: it passes when the server runs it without an error.
///
/// Fields: `server_version` (what `SHOW server_version` says; read once and kept until a run
/// fails).
///
/// Given a connection string, the checker keeps a pool of its own of up to 2 connections, made
/// on first use (building never connects) and recycled without a round trip: a connection
/// found closed — the server restarted, or the runtime that ran its task is gone — is dropped
/// and another made. One that turns out closed during the query is replaced and the query run
/// once more in the same run; a server that is down makes the check unhealthy.
/// Connections are not encrypted (no TLS), like the PostgreSQL fleet store's.
///
/// Unless the connection string says otherwise, the application name is `healthcheck`,
/// connecting gives up after 5 s, and `statement_timeout` is the check's timeout (5 s when it
/// has none), so that a query the check gave up on does not run on at the server.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::{HealthChecks, checks};
///
/// let health = HealthChecks::builder()
///     .check(
///         checks::postgres("db", "postgres://health:s3cret@db.internal:5432/app")
///             .query("SELECT 1 FROM jobs LIMIT 1")
///             .timeout(Duration::from_secs(1)),
///     )
///     .build()?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
///
/// Or on the application's own pool, which then also tells whether it can hand out a
/// connection:
/// ```
/// use healthcheck::{HealthChecks, checks};
///
/// fn health(pool: &deadpool_postgres::Pool) -> Result<HealthChecks, healthcheck::Error> {
///     HealthChecks::builder().check(checks::postgres("db", pool)).build()
/// }
/// ```
#[must_use = "a checker does nothing until it is given to HealthChecksBuilder::check"]
pub struct Postgres {
    common: Common,
    target: Target,
    query: String,
}

common_settings!(Postgres);

/// What a [`postgres`] check connects through: a connection string (`&str`, `String`) or an
/// application's [`deadpool_postgres::Pool`] (owned or borrowed, which clones it).
pub struct PostgresTarget(Target);

enum Target {
    /// A connection string, parsed (or why not).
    Conn {
        text: String,
        parsed: Result<Box<tokio_postgres::Config>, String>,
    },
    /// The application's pool.
    Pool(Pool),
}

impl Target {
    /// The target as messages and `Debug` show it: the connection string redacted.
    fn describe(&self) -> String {
        match self {
            Target::Conn { text, .. } => redact(text).into_owned(),
            Target::Pool(_) => "the application's pool".to_owned(),
        }
    }
}

impl From<&str> for PostgresTarget {
    fn from(conn: &str) -> Self {
        let text = conn.trim().to_owned();
        let parsed = parse(&text);
        PostgresTarget(Target::Conn { text, parsed })
    }
}

impl From<String> for PostgresTarget {
    fn from(conn: String) -> Self {
        conn.as_str().into()
    }
}

impl From<&String> for PostgresTarget {
    fn from(conn: &String) -> Self {
        conn.as_str().into()
    }
}

impl From<Pool> for PostgresTarget {
    fn from(pool: Pool) -> Self {
        PostgresTarget(Target::Pool(pool))
    }
}

impl From<&Pool> for PostgresTarget {
    fn from(pool: &Pool) -> Self {
        PostgresTarget(Target::Pool(pool.clone()))
    }
}

impl fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PostgresTarget")
            .field(&self.0.describe())
            .finish()
    }
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("name", &self.common.name())
            .field("target", &self.target.describe())
            .field("query", &redact(&self.query))
            .finish_non_exhaustive()
    }
}

/// A check named `name` that runs `SELECT 1` on a connection to PostgreSQL through `target`: a
/// URL (`postgres://user:password@host:5432/db`, `postgresql://...`), a `key=value` connection
/// string (`host=db user=app password=... dbname=app`), or the application's
/// [`deadpool_postgres::Pool`].
///
/// A connection string that cannot be parsed, or names no host, makes
/// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
/// [`Error::InvalidCheck`](crate::Error::InvalidCheck) (its password masked).
#[track_caller]
pub fn postgres(name: impl Into<String>, target: impl Into<PostgresTarget>) -> Postgres {
    let mut common = Common::new(name);
    let PostgresTarget(target) = target.into();
    if let Target::Conn {
        text,
        parsed: Err(reason),
    } = &target
    {
        common.invalid(format!(
            "invalid PostgreSQL connection string {:?}: {reason}",
            redact(text)
        ));
    }
    Postgres {
        common,
        target,
        query: DEFAULT_QUERY.to_owned(),
    }
}

impl Postgres {
    /// The query to run instead of `SELECT 1`, sent as a simple query (several statements
    /// separated by `;` are allowed). The check passes when the server runs it without error.
    /// An empty query makes [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build)
    /// fail.
    pub fn query(mut self, sql: impl Into<String>) -> Self {
        self.query = sql.into();
        if self.query.trim().is_empty() {
            self.common.invalid("the query is empty");
        }
        self
    }
}

/// The configuration in `conn`, or why it cannot be used.
fn parse(conn: &str) -> Result<Box<tokio_postgres::Config>, String> {
    let config = tokio_postgres::Config::from_str(conn).map_err(|e| with_causes(&e))?;
    if config.get_hosts().is_empty() {
        return Err("it names no host".to_owned());
    }
    Ok(Box::new(config))
}

/// What the runs of one checker share.
struct Shared {
    pool: Pool,
    /// The target as messages show it.
    described: String,
    query: String,
    /// The server's version, once read; forgotten when a run fails.
    version: Mutex<Option<String>>,
}

impl From<Postgres> for Check {
    fn from(postgres: Postgres) -> Check {
        let Postgres {
            mut common,
            target,
            query,
        } = postgres;
        let described = target.describe();
        let pool = match target {
            Target::Pool(pool) => Some(pool),
            Target::Conn {
                parsed: Ok(config), ..
            } => match own_pool(*config, common.timeout_setting()) {
                Ok(pool) => Some(pool),
                Err(reason) => {
                    common.invalid(format!("cannot make a pool for {described}: {reason}"));
                    None
                }
            },
            Target::Conn { parsed: Err(_), .. } => None,
        };
        let Some(pool) = pool else {
            // Never run: the build fails with the reason recorded.
            return common.into_check(|| async { Component::unhealthy("invalid check") });
        };
        let shared = Arc::new(Shared {
            pool,
            described,
            query,
            version: Mutex::new(None),
        });
        common.into_check(move || probe(Arc::clone(&shared)))
    }
}

/// The checker's own pool on `config`, with the defaults it documents.
fn own_pool(
    mut config: tokio_postgres::Config,
    check_timeout: Option<Duration>,
) -> Result<Pool, String> {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_options().is_none() {
        let limit = check_timeout.map_or(STATEMENT_TIMEOUT, |t| t.max(Duration::from_millis(1)));
        config.options(format!("-c statement_timeout={}", limit.as_millis()));
    }
    if config.get_application_name().is_none() {
        config.application_name("healthcheck");
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // A connection the server closed is dropped, and another made; no round trip.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .build()
        .map_err(|e| e.to_string())
}

/// One run: the query on a pooled connection, once more on a fresh one if that was closed.
async fn probe(shared: Arc<Shared>) -> Component {
    let mut retried = false;
    loop {
        let client = match shared.pool.get().await {
            Ok(client) => client,
            Err(e) => {
                return shared.failed(format!(
                    "cannot connect to PostgreSQL at {}: {}",
                    shared.described,
                    with_causes(&e)
                ));
            }
        };
        match run_query(&shared, &client).await {
            Ok(version) => {
                let query = redact(&shared.query);
                return Component::healthy()
                    .message(format!("PostgreSQL {version} answered `{query}`"))
                    .field("server_version", version);
            }
            Err(e) => {
                let closed = e.is_closed() || client.is_closed();
                if closed {
                    // Out of the pool: the next connection is a fresh one.
                    drop(Object::take(client));
                }
                if closed && !retried {
                    retried = true;
                    tracing::debug!(
                        target: "healthcheck::checks",
                        "a pooled PostgreSQL connection was closed; trying a fresh one"
                    );
                    continue;
                }
                return shared.failed(format!(
                    "PostgreSQL at {} failed `{}`: {}",
                    shared.described,
                    shared.query,
                    with_causes(&e)
                ));
            }
        }
    }
}

/// Runs the query on `client`, and reads the server's version when not known yet; the version.
async fn run_query(shared: &Shared, client: &Object) -> Result<String, tokio_postgres::Error> {
    client.simple_query(&shared.query).await?;
    if let Some(version) = shared
        .version
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
    {
        return Ok(version);
    }
    let rows = client.simple_query("SHOW server_version").await?;
    let version = rows
        .iter()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap_or_default();
    *shared
        .version
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(version.clone());
    Ok(version)
}

impl Shared {
    /// An unhealthy component saying `message` (redacted); the version is read again next time.
    fn failed(&self, message: String) -> Component {
        self.version
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Component::unhealthy(redact(&message).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::{PostgresTarget, Target, parse};

    #[test]
    fn connection_strings_parse_or_say_what_is_wrong() {
        assert!(parse("postgres://app:pw@db:5432/app").is_ok());
        assert!(parse("host=db user=app password=pw dbname=app").is_ok());
        for bad in [
            "postgres://app:pw@db:port/app",
            "host=db port=abc",
            "user=app",
            "",
            "mysql://db",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_target_never_shows_its_password() {
        let target = PostgresTarget::from("postgres://app:hunter2@db/app");
        assert!(!format!("{target:?}").contains("hunter2"));
        let target = PostgresTarget::from("host=db password=hunter2");
        assert!(!format!("{target:?}").contains("hunter2"));
        assert!(matches!(target.0, Target::Conn { .. }));
    }
}
