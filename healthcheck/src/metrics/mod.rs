//! Datadog metrics over DogStatsD: what every run of the checks sends, and the application's own
//! metrics through the same client.
//!
//! Per run, under the prefix (`healthcheck` by default):
//!
//! | name | type | value | tags |
//! |---|---|---|---|
//! | `<prefix>.check.response_time` | timing (`ms`) | the check's duration | `check`, `status`, `group`s |
//! | `<prefix>.check.healthy` | gauge | 1 healthy or degraded, 0 unhealthy | `check`, `group`s |
//! | `<prefix>.run.duration` | timing (`ms`) | the whole run | `scope` |
//! | `<prefix>.service.healthy` | gauge | 1 / 0 for `service_healthy` | |
//! | `<prefix>.check` | service check | OK / WARNING / CRITICAL | `check`, `group`s; message: the status message |
//! | `<prefix>.service` | service check | OK / CRITICAL | message: the failing components |
//!
//! plus an event when a check goes from healthy to unhealthy (`Healthcheck <name> failed`) or
//! back (`Healthcheck <name> recovered`). Lines are formatted and batched into datagrams on a
//! thread of the SDK's own; the runner never waits on metric I/O.

mod batch;
mod config;
mod datagram;
mod pipeline;
mod sink;
mod statsd;

pub use config::{
    DEFAULT_PREFIX, DEFAULT_UDP_PAYLOAD, DEFAULT_UNIX_PAYLOAD, Destination, ENABLED_ENV, HOST_ENV,
    MetricsConfig, PORT_ENV, PREFIX_ENV, URL_ENV,
};
pub(crate) use pipeline::{CheckRecord, Message, Pipeline, RunRecord};
pub use sink::{CaptureSink, MetricSink, UdpSink, UnixSink};
pub use statsd::Statsd;
