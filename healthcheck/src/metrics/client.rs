//! The SDK's metrics through an application's `dogstatsd::Client` (feature `dogstatsd`): the
//! same names, values, tags, statuses and messages as the SDK's own lines, each handed to the
//! matching method of the client, on the metrics thread.
//!
//! The crate neither escapes service-check messages and event texts nor sanitizes tags, so the
//! SDK does both first, with the [`Writer`] its own lines are written by. Durations become
//! histograms in fractional milliseconds: the client's `timing` takes whole milliseconds.

use std::sync::Arc;

use dogstatsd::{Client, EventAlertType, EventOptions, ServiceCheckOptions, ServiceStatus};

use crate::metrics::datagram::{CheckStatus, Kind, Value, Writer};
use crate::metrics::emit::{Drops, Emit};

/// Hands each metric, service check and event to the client.
pub(crate) struct ClientEmitter {
    client: Arc<Client>,
    /// Names, global tags, escaping and cutting, as for the SDK's own lines.
    writer: Writer,
    drops: Drops,
    value: String,
}

impl ClientEmitter {
    pub(crate) const fn new(client: Arc<Client>, writer: Writer, drops: Drops) -> Self {
        Self {
            client,
            writer,
            drops,
            value: String::new(),
        }
    }

    fn sent(&mut self, result: dogstatsd::DogstatsdResult, what: &'static str, bytes: usize) {
        if let Err(error) = result {
            self.drops.count(&error, what, bytes);
        }
    }
}

impl Emit for ClientEmitter {
    fn metric(&mut self, name: &str, value: Value, kind: Kind, tags: &str) {
        let name = self.writer.name(name);
        self.value.clear();
        value.write(&mut self.value);
        let tags = self.writer.all_tags(tags);
        let text = self.value.as_str();
        let result = match kind {
            // Datadog aggregates a timing as a histogram; the client's `timing` would round
            // a 0.4 ms check down to 0.
            Kind::Timing | Kind::Histogram => self.client.histogram(name.as_str(), text, tags),
            Kind::Gauge => self.client.gauge(name.as_str(), text, tags),
            Kind::Distribution => self.client.distribution(name.as_str(), text, tags),
            Kind::Count => self.client.count(name.as_str(), whole(value), tags),
        };
        let bytes = name.len() + self.value.len();
        self.sent(result, "metric", bytes);
    }

    fn service_check(
        &mut self,
        name: &str,
        status: CheckStatus,
        tags: &str,
        message: Option<&str>,
    ) {
        let message = self
            .writer
            .service_check_message(name, status, tags, message);
        let name = self.writer.name(name);
        let status = match status {
            CheckStatus::Ok => ServiceStatus::OK,
            CheckStatus::Warning => ServiceStatus::Warning,
            CheckStatus::Critical => ServiceStatus::Critical,
        };
        let options = ServiceCheckOptions {
            message: message.as_deref(),
            ..ServiceCheckOptions::default()
        };
        let result = self.client.service_check(
            name.as_str(),
            status,
            self.writer.all_tags(tags),
            Some(options),
        );
        let bytes = name.len() + message.as_ref().map_or(0, String::len);
        self.sent(result, "service check", bytes);
    }

    fn event(
        &mut self,
        title: &str,
        text: &str,
        aggregation_key: &str,
        alert_type: &str,
        tags: &str,
    ) {
        let parts = self
            .writer
            .event_parts(title, text, aggregation_key, alert_type, tags);
        let alert_type = match alert_type {
            "error" => EventAlertType::Error,
            "warning" => EventAlertType::Warning,
            "success" => EventAlertType::Success,
            _ => EventAlertType::Info,
        };
        let options = EventOptions {
            aggregation_key: Some(aggregation_key).filter(|key| !key.is_empty()),
            alert_type: Some(alert_type),
            ..EventOptions::default()
        };
        let result = self.client.event_with_options(
            parts.title.as_str(),
            parts.text.as_str(),
            self.writer.all_tags(tags),
            Some(options),
        );
        let bytes = parts.title.len() + parts.text.len();
        self.sent(result, "event", bytes);
    }

    /// Nothing is held back here; a client with batching holds lines on its own thread.
    fn flush(&mut self) {}
}

/// A count's value: always a whole number, as [`Statsd::count`](crate::Statsd::count) takes.
fn whole(value: Value) -> i64 {
    match value {
        Value::Int(n) => n,
        // Saturating; NaN is 0.
        Value::Float(x) => x as i64,
        Value::Millis(duration) => i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    use super::*;

    fn agent() -> (UdpSocket, Arc<Client>) {
        let agent = UdpSocket::bind("127.0.0.1:0").expect("bind");
        agent
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let options = dogstatsd::OptionsBuilder::new()
            .from_addr("127.0.0.1:0".to_owned())
            .to_addr(agent.local_addr().expect("bound").to_string())
            .namespace("app".to_owned())
            .build();
        (agent, Arc::new(Client::new(options).expect("a client")))
    }

    /// The next datagram, without the tags the client adds from `DD_ENV`, `DD_SERVICE` and
    /// `DD_VERSION` when they are set.
    fn received(agent: &UdpSocket) -> String {
        let mut buffer = [0; 2048];
        let n = agent.recv(&mut buffer).expect("a datagram");
        let datagram = String::from_utf8_lossy(&buffer[..n]).into_owned();
        let Some((head, tags)) = datagram.rsplit_once("|#") else {
            return datagram;
        };
        let tags: Vec<&str> = tags
            .split(',')
            .filter(|t| {
                !["env:", "service:", "version:"]
                    .iter()
                    .any(|k| t.starts_with(k))
            })
            .collect();
        format!("{head}|#{}", tags.join(","))
    }

    #[test]
    fn each_kind_goes_to_its_method_and_timings_become_histograms() {
        let (agent, client) = agent();
        let writer = Writer::new("hc", &["Team:Core".to_owned()], 1432);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut out = ClientEmitter::new(client, writer, Drops::new(Arc::clone(&dropped)));
        let cases = [
            (
                Value::Millis(Duration::from_micros(412)),
                Kind::Timing,
                "app.hc.x:0.412|h|#check:db,team:core",
            ),
            (
                Value::Float(2.5),
                Kind::Histogram,
                "app.hc.x:2.5|h|#check:db,team:core",
            ),
            (
                Value::Int(0),
                Kind::Gauge,
                "app.hc.x:0|g|#check:db,team:core",
            ),
            (
                Value::Float(-1.5),
                Kind::Distribution,
                "app.hc.x:-1.5|d|#check:db,team:core",
            ),
            (
                Value::Int(-3),
                Kind::Count,
                "app.hc.x:-3|c|#check:db,team:core",
            ),
        ];
        for (value, kind, expected) in cases {
            out.metric("x", value, kind, "check:db");
            assert_eq!(received(&agent), expected, "{kind:?}");
        }
        out.service_check(
            "check",
            CheckStatus::Warning,
            "check:db",
            Some("slow\nreally | m:now"),
        );
        // No namespace on service checks and events: the crate's rule.
        assert_eq!(
            received(&agent),
            "_sc|hc.check|1|m:slow\\nreally / m\\:now|#check:db,team:core"
        );
        out.event(
            "Healthcheck db failed",
            "a\nb",
            "check:db",
            "error",
            "check:db",
        );
        assert_eq!(
            received(&agent),
            "_e{21,4}:Healthcheck db failed|a\\nb|k:check:db|t:error|#check:db,team:core"
        );
        assert_eq!(dropped.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    #[test]
    fn a_failed_call_is_counted_as_dropped() {
        let (_agent, client) = agent();
        let dropped = Arc::new(AtomicU64::new(0));
        let mut out = ClientEmitter::new(
            client,
            Writer::new("hc", &[], 1432),
            Drops::new(Arc::clone(&dropped)),
        );
        // Longer than any UDP datagram: the client's `send_to` fails.
        out.metric("x", Value::Int(1), Kind::Gauge, &"t".repeat(70_000));
        assert_eq!(dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
