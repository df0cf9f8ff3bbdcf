//! Built-in checkers: the probes most services need, each a constructor that returns a builder
//! of one kind, behind a cargo feature named after it and built on the field's own client crate.
//! A checker becomes a [`Check`](crate::Check) like any other (give it to
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

#[cfg(any(feature = "tcp", feature = "memcached"))]
mod address;
#[cfg(any(
    feature = "tcp",
    feature = "http",
    feature = "dns",
    feature = "postgres",
    feature = "redis",
    feature = "memcached",
    feature = "etcd",
    feature = "disk",
    feature = "memory"
))]
mod common;
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
#[cfg(any(
    feature = "tcp",
    feature = "http",
    feature = "dns",
    feature = "postgres",
    feature = "redis",
    feature = "memcached",
    feature = "etcd",
    feature = "disk",
    feature = "memory"
))]
pub(crate) use common::{Common, common_settings};
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
