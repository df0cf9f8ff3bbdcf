//! Built-in checkers: the probes most services need, each a constructor that returns a builder
//! of one kind, behind a cargo feature named after it and built on the field's own client crate.
//! A checker becomes a [`Check`] like any other (give it to
//! [`HealthChecksBuilder::check`](crate::HealthChecksBuilder::check)), so timeouts, groups,
//! `critical`, probes, metrics and caching apply unchanged; every checker also has those four
//! settings itself (`timeout`, `groups`, `critical`, `probes`).
//!
//! | kind | feature | healthy when | fields |
//! |---|---|---|---|
//! | [`http`](fn@http) | `http` | a URL answers with an expected status (header, body text) | `status_code`, `ttfb_ms` |
//! | [`tcp`] | `tcp` | a connection opens | `address`, `connect_ms` |
//! | [`dns`] | `dns` | a name resolves (to the addresses expected) | `addresses`, `nameserver` |
//! | [`postgres`] | `postgres` | a pooled connection runs `SELECT 1` (or a query) | `server_version` |
//! | [`redis`] | `redis` | `PING` answers (degraded: memory above a threshold) | `redis_version`, `used_memory`, `maxmemory` |
//! | [`memcached`] | `memcached` | the server answers `version` | `version` |
//! | [`etcd`] | `etcd` | every member answers and a leader is known (degraded: a minority down) | `members`, `healthy_members`, `leader`, `down` |
//! | [`disk`] | `disk` | free space and inodes of a filesystem are above [`Threshold`]s | `path`, `free_bytes`, `total_bytes`, `free_percent`, `free_inodes`, `total_inodes` |
//! | [`memory`] | `memory` | available memory, within the container's cgroup limit, is above [`Threshold`]s | `available_bytes`, `total_bytes`, `available_percent`, `cgroup_limit_bytes`, `source` |
//!
//! A checker that cannot even be built — a malformed URL or address — is not a check that
//! fails at every run: [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fails
//! with [`Error::InvalidCheck`](crate::Error::InvalidCheck), naming the check and where it was
//! declared.
//!
//! Credentials never leave the process: every message, field and log line a checker produces
//! goes through [`redact`], which masks URL passwords, secret-named parameters and
//! `Authorization` values. Use it in your own checks too.

use std::panic::Location;
use std::time::Duration;

use crate::check::{Check, Probe};
use crate::outcome::IntoComponent;

#[cfg(any(feature = "tcp", feature = "memcached"))]
mod address;
#[cfg(feature = "disk")]
mod disk;
#[cfg(feature = "dns")]
mod dns;
#[cfg(feature = "etcd")]
mod etcd;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "memcached")]
mod memcached;
#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod redact;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "postgres", feature = "redis", feature = "etcd"))]
mod task;
#[cfg(feature = "tcp")]
mod tcp;
#[cfg(any(feature = "disk", feature = "memory"))]
mod threshold;

#[cfg(feature = "http")]
pub use self::http::{BODY_LIMIT, Http, StatusCodes, http};
#[cfg(feature = "disk")]
pub use disk::{Disk, disk};
#[cfg(feature = "dns")]
pub use dns::{Dns, dns};
#[cfg(feature = "etcd")]
pub use etcd::{Etcd, etcd};
#[cfg(feature = "memcached")]
pub use memcached::{Memcached, memcached};
#[cfg(feature = "memory")]
pub use memory::{Memory, memory};
#[cfg(feature = "postgres")]
pub use postgres::{Postgres, PostgresTarget, postgres};
pub use redact::{MASK, redact};
#[cfg(feature = "redis")]
pub use redis::{Redis, RedisTarget, redis};
#[cfg(feature = "tcp")]
pub use tcp::{Tcp, tcp};
#[cfg(any(feature = "disk", feature = "memory"))]
pub use threshold::{IntoThreshold, Threshold, ThresholdError};

/// The settings every checker shares with [`Check`], and where it was declared.
#[derive(Debug)]
#[cfg_attr(
    not(any(
        feature = "tcp",
        feature = "http",
        feature = "dns",
        feature = "postgres",
        feature = "redis",
        feature = "memcached",
        feature = "etcd",
        feature = "disk",
        feature = "memory"
    )),
    allow(dead_code)
)]
pub(crate) struct Common {
    name: String,
    location: &'static Location<'static>,
    timeout: Option<Duration>,
    groups: Option<Vec<String>>,
    critical: Option<bool>,
    probes: Option<Vec<Probe>>,
    /// The first reason the checker cannot be built.
    invalid: Option<String>,
}

// Each checker uses a part of these; with only some checker features on, the rest is unused.
#[allow(dead_code)]
impl Common {
    /// Settings for a checker named `name`, declared where the caller's caller is.
    #[track_caller]
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            location: Location::caller(),
            timeout: None,
            groups: None,
            critical: None,
            probes: None,
            invalid: None,
        }
    }

    /// The checker's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Records that the checker cannot be built, for `reason` (redacted here); the first reason
    /// wins.
    pub(crate) fn invalid(&mut self, reason: impl AsRef<str>) {
        if self.invalid.is_none() {
            self.invalid = Some(redact(reason.as_ref()).into_owned());
        }
    }

    /// Whether the checker was found unbuildable.
    pub(crate) fn is_invalid(&self) -> bool {
        self.invalid.is_some()
    }

    /// The check timeout, if one was set.
    pub(crate) fn timeout_setting(&self) -> Option<Duration> {
        self.timeout
    }

    /// An async [`Check`] running `body`, with these settings.
    pub(crate) fn into_check<F, Fut>(self, body: F) -> Check
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output: IntoComponent> + Send + 'static,
    {
        let check = Check::new_at(self.name.clone(), body, self.location);
        self.apply(check)
    }

    /// A blocking [`Check`] running `body` on the blocking thread pool, with these settings.
    pub(crate) fn into_blocking_check<F, R>(self, body: F) -> Check
    where
        F: Fn() -> R + Send + Sync + 'static,
        R: IntoComponent,
    {
        let check = Check::blocking_at(self.name.clone(), body, self.location);
        self.apply(check)
    }

    fn apply(self, mut check: Check) -> Check {
        if let Some(timeout) = self.timeout {
            check = check.timeout(timeout);
        }
        if let Some(groups) = self.groups {
            check = check.groups(groups);
        }
        if let Some(critical) = self.critical {
            check = check.critical(critical);
        }
        if let Some(probes) = self.probes {
            check = check.probes(probes);
        }
        match self.invalid {
            Some(reason) => check.invalid(reason),
            None => check,
        }
    }
}

/// The settings every checker shares with [`Check`]: `timeout`, `groups`, `critical`, `probes`,
/// for a builder with a `common: Common` field.
#[cfg_attr(
    not(any(
        feature = "tcp",
        feature = "http",
        feature = "dns",
        feature = "postgres",
        feature = "redis",
        feature = "memcached",
        feature = "etcd",
        feature = "disk",
        feature = "memory"
    )),
    allow(unused_macros)
)]
macro_rules! common_settings {
    ($ty:ty) => {
        impl $ty {
            /// The check's timeout (see [`Check::timeout`](crate::Check::timeout)). Defaults to
            /// the runner's default timeout (2 seconds).
            pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.common.timeout = Some(timeout);
                self
            }

            /// The groups the check belongs to (see [`Check::groups`](crate::Check::groups)).
            /// Defaults to none.
            pub fn groups<I, S>(mut self, groups: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.common.groups = Some(groups.into_iter().map(Into::into).collect());
                self
            }

            /// Whether a failure makes the whole service unhealthy (see
            /// [`Check::critical`](crate::Check::critical)). Defaults to `true`.
            pub fn critical(mut self, critical: bool) -> Self {
                self.common.critical = Some(critical);
                self
            }

            /// The Kubernetes probes the check takes part in (see
            /// [`Check::probes`](crate::Check::probes)). Defaults to readiness only.
            pub fn probes(mut self, probes: impl IntoIterator<Item = crate::Probe>) -> Self {
                self.common.probes = Some(probes.into_iter().collect());
                self
            }
        }
    };
}
#[cfg_attr(
    not(any(
        feature = "tcp",
        feature = "http",
        feature = "dns",
        feature = "postgres",
        feature = "redis",
        feature = "memcached",
        feature = "etcd",
        feature = "disk",
        feature = "memory"
    )),
    allow(unused_imports)
)]
pub(crate) use common_settings;
