//! Where the metrics thread puts what it sends: [`Emit`], written by [`Lines`] as DogStatsD lines
//! for a [`MetricSink`], or handed to an application's `dogstatsd::Client` (`client.rs`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::batch;
use crate::metrics::datagram::{CheckStatus, Kind, Value, Writer};
use crate::metrics::sink::MetricSink;

/// What can be sent. Called on the metrics thread only; names are without the prefix, `tags`
/// comma-joined and already sanitized (the global tags are the emitter's to add).
pub(crate) trait Emit: Send + 'static {
    fn metric(&mut self, name: &str, value: Value, kind: Kind, tags: &str);

    fn service_check(&mut self, name: &str, status: CheckStatus, tags: &str, message: Option<&str>);

    /// `alert_type` is `error`, `warning`, `info` or `success`.
    fn event(
        &mut self,
        title: &str,
        text: &str,
        aggregation_key: &str,
        alert_type: &str,
        tags: &str,
    );

    /// Sends whatever is held back: called when no message is waiting, and before a flush is
    /// answered.
    fn flush(&mut self);
}

/// Counts what could not be sent, in the count shared with [`Statsd::dropped`](crate::Statsd),
/// and logs it now and then.
#[derive(Debug)]
pub(crate) struct Drops {
    dropped: Arc<AtomicU64>,
    failures: u64,
}

impl Drops {
    pub(crate) const fn new(dropped: Arc<AtomicU64>) -> Self {
        Self {
            dropped,
            failures: 0,
        }
    }

    /// One payload (or one client call) was lost to `error`. Logged at `debug` level the 1st,
    /// 2nd, 4th, 8th... time, so that an agent that is down does not flood the log.
    pub(crate) fn count(&mut self, error: &dyn fmt::Display, what: &'static str, bytes: usize) {
        // The flush that follows must see it: it reads `dropped` after the worker answers.
        self.dropped.fetch_add(1, Ordering::Release);
        self.failures += 1;
        if self.failures.is_power_of_two() {
            tracing::debug!(
                %error,
                failures = self.failures,
                bytes,
                "could not send metrics: the {what} is dropped"
            );
        }
    }
}

/// The SDK's own transport: DogStatsD lines, packed into payloads for the sink.
pub(crate) struct Lines {
    writer: Writer,
    sink: Arc<dyn MetricSink>,
    lines: String,
    drops: Drops,
}

impl Lines {
    /// Past this many bytes of lines, the full payloads are sent without waiting for the queue
    /// to empty.
    const HELD: usize = 64 * 1024;

    pub(crate) fn new(writer: Writer, sink: Arc<dyn MetricSink>, drops: Drops) -> Self {
        Self {
            writer,
            sink,
            lines: String::new(),
            drops,
        }
    }

    fn wrote(&mut self) {
        if self.lines.len() >= Self::HELD {
            self.send(false);
        }
    }

    /// Sends the lines held, but for the last payload unless `all`: more lines may fill it.
    fn send(&mut self, all: bool) {
        let mut sent = 0;
        let mut payloads = batch::pack(&self.lines, self.sink.max_payload_size()).peekable();
        while let Some(payload) = payloads.next() {
            if !all && payloads.peek().is_none() {
                break;
            }
            if let Err(error) = self.sink.send(payload.as_bytes()) {
                self.drops.count(&error, "payload", payload.len());
            }
            sent += payload.len();
        }
        self.lines.drain(..sent);
    }
}

impl Emit for Lines {
    fn metric(&mut self, name: &str, value: Value, kind: Kind, tags: &str) {
        self.writer.metric(&mut self.lines, name, value, kind, tags);
        self.wrote();
    }

    fn service_check(
        &mut self,
        name: &str,
        status: CheckStatus,
        tags: &str,
        message: Option<&str>,
    ) {
        self.writer
            .service_check(&mut self.lines, name, status, tags, message);
        self.wrote();
    }

    fn event(
        &mut self,
        title: &str,
        text: &str,
        aggregation_key: &str,
        alert_type: &str,
        tags: &str,
    ) {
        self.writer.event(
            &mut self.lines,
            title,
            text,
            aggregation_key,
            alert_type,
            tags,
        );
        self.wrote();
    }

    fn flush(&mut self) {
        self.send(true);
    }
}
