//! [`Statsd`]: the application's own metrics, through the SDK's configured client.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::datagram::{self, Kind, Value};
use crate::metrics::pipeline::{AppMetric, Message, Pipeline};

/// Sends the application's own metrics with the SDK's prefix, global tags and transport, like
/// python-panopticon's `DataDog` helper. Cheap to clone. When metrics are off, every call does
/// nothing.
///
/// Calls never wait on I/O: metrics are queued for the SDK's metrics thread, which batches them
/// with the checks' metrics.
///
/// With `MetricsConfig::dogstatsd_client` (feature `dogstatsd`), each call
/// is forwarded to the application's client from the metrics thread, under
/// `<namespace>.<prefix>.<name>`: `gauge`, `count`, `histogram` and `distribution` to the
/// client's methods of the same names, and `timing` (so `time` and `time_future`) to
/// `histogram` in fractional milliseconds.
///
/// # Example
/// ```
/// use healthcheck::HealthChecks;
///
/// let health = HealthChecks::builder().build()?;
/// let statsd = health.statsd();
/// statsd.gauge("queue.depth", 42.0, &["queue:emails"]);
/// statsd.increment("jobs.done", &[]);
/// let sum = statsd.time("jobs.sum", &[], || (1..=10).sum::<u32>());
/// assert_eq!(sum, 55);
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Statsd {
    pipeline: Option<Arc<Pipeline>>,
}

impl fmt::Debug for Statsd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statsd")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl Statsd {
    pub(crate) const fn new(pipeline: Option<Arc<Pipeline>>) -> Self {
        Self { pipeline }
    }

    /// `false` when metrics are off: calls do nothing.
    #[must_use]
    pub const fn is_enabled(&self) -> bool {
        self.pipeline.is_some()
    }

    /// How many times metrics were dropped since metrics started, counting one for each
    /// - message that found the metrics thread's queue full (the metrics of one run of the
    ///   checks, or one call of this type's methods), and
    /// - payload (a datagram of one or more lines) that the transport could not send: the agent
    ///   unreachable, its buffer full past the send timeout, or the payload too large to send,
    ///   such as a line with a name or tags longer than a datagram; with
    ///   `MetricsConfig::dogstatsd_client` (feature `dogstatsd`), each call
    ///   of the client that returned an error (a batching client's own losses are not seen).
    ///
    /// 0 when metrics are off. [`flush_metrics`](crate::HealthChecks::flush_metrics) returns
    /// `false` when it grew since the previous flush.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.pipeline.as_ref().map_or(0, |p| p.dropped())
    }

    fn emit(&self, name: &str, value: Value, kind: Kind, tags: &[&str]) {
        let Some(pipeline) = &self.pipeline else {
            return;
        };
        let mut joined = String::new();
        for tag in tags {
            datagram::push_tag(&mut joined, tag);
        }
        pipeline.send(Message::Metric(AppMetric {
            name: sanitize_name(name),
            value,
            kind,
            tags: joined,
        }));
    }

    /// Sets a gauge.
    pub fn gauge(&self, name: &str, value: f64, tags: &[&str]) {
        self.emit(name, Value::Float(value), Kind::Gauge, tags);
    }

    /// Adds one to a counter.
    pub fn increment(&self, name: &str, tags: &[&str]) {
        self.count(name, 1, tags);
    }

    /// Adds `value` to a counter.
    pub fn count(&self, name: &str, value: i64, tags: &[&str]) {
        self.emit(name, Value::Int(value), Kind::Count, tags);
    }

    /// Records a histogram sample.
    pub fn histogram(&self, name: &str, value: f64, tags: &[&str]) {
        self.emit(name, Value::Float(value), Kind::Histogram, tags);
    }

    /// Records a distribution sample.
    pub fn distribution(&self, name: &str, value: f64, tags: &[&str]) {
        self.emit(name, Value::Float(value), Kind::Distribution, tags);
    }

    /// Records a timing, in milliseconds with microsecond precision.
    pub fn timing(&self, name: &str, duration: Duration, tags: &[&str]) {
        self.emit(name, Value::Millis(duration), Kind::Timing, tags);
    }

    /// Runs `f`, records how long it took as a timing, and returns its result.
    pub fn time<T>(&self, name: &str, tags: &[&str], f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = f();
        self.timing(name, started.elapsed(), tags);
        result
    }

    /// Awaits `future`, records how long it took as a timing, and returns its output.
    pub async fn time_future<F: Future>(&self, name: &str, tags: &[&str], future: F) -> F::Output {
        let started = Instant::now();
        let output = future.await;
        self.timing(name, started.elapsed(), tags);
        output
    }
}

/// Metric names hold letters, digits, `_` and `.`; anything else becomes `_`.
fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_sanitized() {
        for (name, expected) in [
            ("queue.depth", "queue.depth"),
            ("jobs done/s", "jobs_done_s"),
            ("é", "_"),
        ] {
            assert_eq!(super::sanitize_name(name), expected);
        }
    }
}
