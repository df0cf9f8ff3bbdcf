//! The SDK's error type.

use crate::check::SourceLocation;

/// What can go wrong when building a [`HealthChecks`](crate::HealthChecks) or asking it for a
/// report. A check's own failure is never an error: it is an unhealthy component in the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two checks have the same name.
    #[error("two health checks are named `{name}`: one at {first}, the other at {second}")]
    DuplicateName {
        /// The name.
        name: String,
        /// Where the first one was declared.
        first: SourceLocation,
        /// Where the second one was declared.
        second: SourceLocation,
    },
    /// A check has an empty name.
    #[error("the health check at {location} has an empty name")]
    EmptyName {
        /// Where it was declared.
        location: SourceLocation,
    },
    /// A check is in a group with an empty name.
    #[error("health check `{check}` ({location}) has an empty group name")]
    EmptyGroup {
        /// The check.
        check: String,
        /// Where it was declared.
        location: SourceLocation,
    },
    /// A check's timeout is zero.
    #[error("health check `{check}` ({location}) has a zero timeout")]
    ZeroTimeout {
        /// The check.
        check: String,
        /// Where it was declared.
        location: SourceLocation,
    },
    /// A check cannot be built: a built-in checker was given a malformed URL, address or
    /// setting. The reason never holds a credential.
    #[error("health check `{check}` ({location}) cannot be built: {reason}")]
    InvalidCheck {
        /// The check.
        check: String,
        /// Where it was declared.
        location: SourceLocation,
        /// What is wrong.
        reason: String,
    },
    /// The default timeout is zero.
    #[error("the default health check timeout is zero")]
    ZeroDefaultTimeout,
    /// An environment variable has a value that cannot be used.
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    InvalidEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting given in code has a value that cannot be used.
    #[error("invalid {setting} {value:?}: {reason}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The thread that sends metrics could not be started.
    #[error("could not start the thread that sends metrics: {0}")]
    MetricsThread(#[source] std::io::Error),
    /// No check has this name.
    #[error("no health check is named `{0}`")]
    UnknownCheck(String),
    /// No heartbeat has this name.
    #[error("no heartbeat is named `{0}`")]
    UnknownHeartbeat(String),
    /// A heartbeat's `max_age` is zero.
    #[error("heartbeat `{name}` ({location}) has a zero max_age")]
    ZeroMaxAge {
        /// The heartbeat.
        name: String,
        /// Where it was declared.
        location: SourceLocation,
    },
    /// No check is in this group.
    #[error("no health check is in group `{0}`")]
    UnknownGroup(String),
    /// A blocking method was called on a thread that runs an async runtime, where blocking would
    /// stall the executor.
    #[error(
        "a blocking health check method was called from inside an async runtime; \
         use the async method (`run`, `run_selection`) there"
    )]
    InsideAsyncRuntime,
    /// The runtime for blocking runs could not be started.
    #[error("could not start the runtime that runs health checks for blocking callers: {0}")]
    Runtime(#[source] std::io::Error),
}

/// `error` and its causes, each once: `a: b: c` (the Display of many client errors leaves the
/// causes out: tokio-postgres says "db error" for a refused password).
#[cfg(any(feature = "postgres", feature = "redis", feature = "etcd"))]
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}
