//! Datadog metrics over DogStatsD: what every run of the checks sends, and the application's own
//! metrics through the same client.
//!
//! Per run, under the prefix (`healthcheck` by default):
//!
//! | name | type | value | tags |
//! |---|---|---|---|
//! | `<prefix>.check.response_time` | timing (`ms`) | the check's duration | `check`, `status`, `raw_status`, `group`s |
//! | `<prefix>.check.healthy` | gauge | 1 healthy or degraded, 0 unhealthy | `check`, `raw_status`, `group`s |
//! | `<prefix>.run.duration` | timing (`ms`) | the whole run | `scope` |
//! | `<prefix>.service.healthy` | gauge | 1 / 0 for `service_healthy` | |
//! | `<prefix>.check` | service check | OK / WARNING / CRITICAL | `check`, `group`s; message: the status message |
//! | `<prefix>.service` | service check | OK / CRITICAL | message: the failing components |
//!
//! plus an event when a check goes from healthy to unhealthy (`Healthcheck <name> failed`) or
//! back (`Healthcheck <name> recovered`). Lines are formatted and batched into datagrams on a
//! thread of the SDK's own; the runner never waits on metric I/O.
//!
//! `status` (and so `check.healthy`, the service checks and the events) is the status reported,
//! after flap suppression (a check's `failure_threshold` and `success_threshold`); `raw_status`
//! is the check's own result of that run, before it. Both are `healthy`, `degraded` or
//! `unhealthy`.
//!
//! With `MetricsConfig::dogstatsd_client` (feature `dogstatsd`) the same go through the
//! application's `dogstatsd::Client`, durations as histograms (`h`) rather than timings.

mod batch;
#[cfg(feature = "dogstatsd")]
mod client;
mod config;
mod datagram;
mod emit;
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
