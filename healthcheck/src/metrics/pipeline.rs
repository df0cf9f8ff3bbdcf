//! The metrics thread: turns runs into metrics, service checks and events, and hands them to the
//! transport (the SDK's own lines and sink, or an application's `dogstatsd::Client`), off the
//! thread that runs the checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::check::CheckRef;
use crate::component::Status;
use crate::error::Error;
use crate::metrics::config::{Resolved, Transport};
use crate::metrics::datagram::{self, CheckStatus, Kind, Value, Writer};
use crate::metrics::emit::{Drops, Emit, Lines};

/// How many messages may wait for the metrics thread; past that, new ones are dropped (and
/// counted) rather than slowing the checks.
const QUEUE: usize = 1024;

/// What one run of the checks sends.
#[derive(Debug)]
pub(crate) struct RunRecord {
    pub(crate) scope: String,
    /// Whether the run covered every check, and so can speak for the whole service.
    pub(crate) whole: bool,
    pub(crate) duration: Duration,
    pub(crate) service: Status,
    pub(crate) checks: Vec<CheckRecord>,
}

/// One component of a run.
#[derive(Debug)]
pub(crate) struct CheckRecord {
    pub(crate) check: CheckRef,
    /// The status reported: after flap suppression. Service checks and transition events
    /// follow it.
    pub(crate) status: Status,
    /// The check's own result, before flap suppression: tagged `raw_status` on its
    /// response time and health gauge.
    pub(crate) raw_status: Status,
    pub(crate) response_time: Duration,
    /// The status message, kept only when the component is not healthy.
    pub(crate) message: Option<String>,
    /// `false` when this run shared another caller's execution: its timing and per-check
    /// metrics went out with that caller's run.
    pub(crate) executed: bool,
}

#[derive(Debug)]
pub(crate) enum Message {
    Run(RunRecord),
    /// One of the application's own metrics.
    Metric(AppMetric),
    Flush(mpsc::Sender<()>),
}

/// A call of [`Statsd`](crate::Statsd): the name sanitized but without the prefix, the tags
/// sanitized and comma-joined.
#[derive(Debug)]
pub(crate) struct AppMetric {
    pub(crate) name: String,
    pub(crate) value: Value,
    pub(crate) kind: Kind,
    pub(crate) tags: String,
}

/// The name of the metrics thread: every call of the transport, the application's
/// `dogstatsd::Client` included, is made on it.
pub(crate) const THREAD_NAME: &str = "healthcheck-metrics";

/// The sending end, shared by the runner and the application's [`Statsd`](crate::Statsd).
#[derive(Debug)]
pub(crate) struct Pipeline {
    queue: SyncSender<Message>,
    /// Messages that found the queue full, and payloads (or client calls) that failed.
    dropped: Arc<AtomicU64>,
    /// `dropped` as the last flush saw it.
    reported: AtomicU64,
}

impl Pipeline {
    /// Starts the metrics thread.
    pub(crate) fn start(settings: Resolved) -> Result<Arc<Self>, Error> {
        let writer = Writer::new(&settings.prefix, &settings.tags, settings.max_line);
        let dropped = Arc::new(AtomicU64::new(0));
        let drops = Drops::new(Arc::clone(&dropped));
        match settings.transport {
            Transport::Sink(sink) => Self::start_with(Lines::new(writer, sink, drops), dropped),
            #[cfg(feature = "dogstatsd")]
            Transport::Client(client) => Self::start_with(
                crate::metrics::client::ClientEmitter::new(client, writer, drops),
                dropped,
            ),
        }
    }

    /// Starts the metrics thread on `out`, which counts what it fails to send in `dropped`.
    fn start_with(out: impl Emit, dropped: Arc<AtomicU64>) -> Result<Arc<Self>, Error> {
        let (queue, inbox) = mpsc::sync_channel(QUEUE);
        let worker = Worker {
            out,
            healthy: HashMap::new(),
        };
        std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || worker.serve(&inbox))
            .map_err(Error::MetricsThread)?;
        Ok(Arc::new(Self {
            queue,
            dropped,
            reported: AtomicU64::new(0),
        }))
    }

    /// Queues a message without waiting; drops it when the queue is full.
    pub(crate) fn send(&self, message: Message) {
        match self.queue.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped,
                        "the metrics queue is full: metrics are being dropped"
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits until everything queued so far has been handed to the sink, at most `timeout`.
    /// `true` only if it was, and nothing was dropped since the previous flush (a full queue, a
    /// payload the sink could not send).
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let delivered = self.wait_for_worker(timeout);
        // The worker counts a failed send before it answers the flush that follows it.
        let dropped = self.dropped.load(Ordering::Acquire);
        let reported = self.reported.fetch_max(dropped, Ordering::AcqRel);
        delivered && dropped <= reported
    }

    fn wait_for_worker(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (done, waiter) = mpsc::channel();
        let mut message = Message::Flush(done);
        // Never wait past the deadline for room in the queue either.
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(returned)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    message = returned;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        waiter
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }

    /// Messages dropped because the queue was full, plus payloads the sink could not send (or
    /// calls of the application's client that failed).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

struct Worker<E> {
    out: E,
    /// Whether each check was healthy at its last run, for transition events.
    healthy: HashMap<String, bool>,
}

impl<E: Emit> Worker<E> {
    fn serve(mut self, inbox: &Receiver<Message>) {
        let mut flushed: Vec<mpsc::Sender<()>> = Vec::new();
        while let Ok(first) = inbox.recv() {
            let mut next = Some(first);
            // Everything already waiting goes out together.
            while let Some(message) = next.take().or_else(|| inbox.try_recv().ok()) {
                match message {
                    Message::Run(run) => self.format_run(&run),
                    Message::Metric(metric) => {
                        self.out
                            .metric(&metric.name, metric.value, metric.kind, &metric.tags);
                    }
                    Message::Flush(done) => flushed.push(done),
                }
            }
            self.out.flush();
            for done in flushed.drain(..) {
                let _ = done.send(());
            }
        }
    }

    fn format_run(&mut self, run: &RunRecord) {
        let mut tags = String::new();
        let mut timing_tags = String::new();
        let mut healthy_tags = String::new();
        let mut failing: Vec<&str> = Vec::new();
        for record in &run.checks {
            let check = &record.check;
            let healthy = record.status.is_healthy();
            if !healthy {
                failing.push(check.name());
            }
            self.transition(record);
            if !record.executed {
                continue;
            }
            // `check`, then `status` (the response time only) and `raw_status`, then `group`s;
            // service checks have `check` and the `group`s.
            tags.clear();
            datagram::push_key_value(&mut tags, "check", check.name());
            let groups_start = tags.len();
            for group in check.groups() {
                datagram::push_key_value(&mut tags, "group", group);
            }
            healthy_tags.clear();
            healthy_tags.push_str(&tags[..groups_start]);
            datagram::push_key_value(&mut healthy_tags, "raw_status", record.raw_status.as_str());
            healthy_tags.push_str(&tags[groups_start..]);
            timing_tags.clear();
            timing_tags.push_str(&tags[..groups_start]);
            datagram::push_key_value(&mut timing_tags, "status", record.status.as_str());
            datagram::push_key_value(&mut timing_tags, "raw_status", record.raw_status.as_str());
            timing_tags.push_str(&tags[groups_start..]);

            self.out.metric(
                "check.response_time",
                Value::Millis(record.response_time),
                Kind::Timing,
                &timing_tags,
            );
            self.out.metric(
                "check.healthy",
                Value::Int(healthy.into()),
                Kind::Gauge,
                &healthy_tags,
            );
            let status = match record.status {
                Status::Healthy => CheckStatus::Ok,
                Status::Degraded => CheckStatus::Warning,
                Status::Unhealthy => CheckStatus::Critical,
            };
            self.out
                .service_check("check", status, &tags, record.message.as_deref());
        }

        tags.clear();
        datagram::push_key_value(&mut tags, "scope", &run.scope);
        self.out.metric(
            "run.duration",
            Value::Millis(run.duration),
            Kind::Timing,
            &tags,
        );
        if !run.whole {
            // A group, a probe's checks or one check cannot vouch for the whole service.
            return;
        }
        let service_healthy = run.service.is_healthy();
        self.out.metric(
            "service.healthy",
            Value::Int(service_healthy.into()),
            Kind::Gauge,
            "",
        );
        let message = if failing.is_empty() {
            "all checks healthy".to_owned()
        } else if service_healthy {
            format!(
                "healthy; failing non-critical checks: {}",
                failing.join(", ")
            )
        } else {
            format!("failing: {}", failing.join(", "))
        };
        let status = if service_healthy {
            CheckStatus::Ok
        } else {
            CheckStatus::Critical
        };
        self.out
            .service_check("service", status, "", Some(&message));
    }

    /// An event when a check's reported status goes from healthy to unhealthy or back (after
    /// flap suppression: `status`, not `raw_status`); the first run counts only when it fails.
    fn transition(&mut self, record: &CheckRecord) {
        let name = record.check.name();
        let healthy = record.status.is_healthy();
        let previous = match self.healthy.get_mut(name) {
            Some(previous) => std::mem::replace(previous, healthy),
            None => {
                self.healthy.insert(name.to_owned(), healthy);
                true
            }
        };
        if previous == healthy {
            return;
        }
        let mut tags = String::new();
        datagram::push_key_value(&mut tags, "check", name);
        for group in record.check.groups() {
            datagram::push_key_value(&mut tags, "group", group);
        }
        // `check:<sanitized name>`: groups the failed and recovered events of one check.
        let key = tags.split(',').next().unwrap_or_default().to_owned();
        if healthy {
            let title = format!("Healthcheck {name} recovered");
            let text = record.message.as_deref().unwrap_or(record.status.as_str());
            self.out.event(&title, text, &key, "success", &tags);
        } else {
            let title = format!("Healthcheck {name} failed");
            let text = record.message.as_deref().unwrap_or("unhealthy");
            self.out.event(&title, text, &key, "error", &tags);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::check::Check;
    use crate::metrics::datagram::CheckStatus;

    /// A call of the transport, and the name of the thread that made it.
    type Call = (Option<String>, String);

    /// What the worker asked of its transport, and on which thread.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Call>>>);

    impl Recorder {
        fn record(&self, call: String) {
            let thread = std::thread::current().name().map(str::to_owned);
            self.0.lock().expect("not poisoned").push((thread, call));
        }

        fn calls(&self) -> Vec<String> {
            let calls = self.0.lock().expect("not poisoned");
            for (thread, call) in calls.iter() {
                assert_eq!(thread.as_deref(), Some(THREAD_NAME), "{call}");
            }
            calls.iter().map(|(_, call)| call.clone()).collect()
        }
    }

    impl Emit for Recorder {
        fn metric(&mut self, name: &str, value: Value, kind: Kind, tags: &str) {
            let mut text = String::new();
            value.write(&mut text);
            self.record(format!("{name}:{text}|{kind:?}|{tags}"));
        }

        fn service_check(
            &mut self,
            name: &str,
            status: CheckStatus,
            tags: &str,
            message: Option<&str>,
        ) {
            self.record(format!("sc {name} {status:?} {tags} {message:?}"));
        }

        fn event(
            &mut self,
            title: &str,
            text: &str,
            aggregation_key: &str,
            alert_type: &str,
            tags: &str,
        ) {
            self.record(format!(
                "event {title}|{text}|{aggregation_key}|{alert_type}|{tags}"
            ));
        }

        fn flush(&mut self) {}
    }

    fn run(status: Status, raw_status: Status) -> Message {
        let check = Check::new("DB", || async { true })
            .groups(["back"])
            .into_ref();
        Message::Run(RunRecord {
            scope: "db".to_owned(),
            whole: false,
            duration: Duration::from_micros(2_500),
            service: status,
            checks: vec![CheckRecord {
                check,
                status,
                raw_status,
                response_time: Duration::from_micros(1_250),
                message: (!status.is_healthy() || raw_status != status)
                    .then(|| "flapping".to_owned()),
                executed: true,
            }],
        })
    }

    #[test]
    fn raw_status_is_a_tag_and_everything_else_follows_the_reported_status() {
        let recorder = Recorder::default();
        let pipeline = Pipeline::start_with(recorder.clone(), Arc::new(AtomicU64::new(0)))
            .expect("the metrics thread starts");
        // Suppressed failure, reported failure, suppressed recovery: one event, the second.
        pipeline.send(run(Status::Degraded, Status::Unhealthy));
        pipeline.send(run(Status::Unhealthy, Status::Unhealthy));
        pipeline.send(run(Status::Unhealthy, Status::Healthy));
        assert!(pipeline.flush(Duration::from_secs(5)));
        let per_run = |status: &str, raw: &str, healthy: u8, sc: &str| {
            vec![
                format!(
                    "check.response_time:1.25|Timing|check:db,status:{status},raw_status:{raw},group:back"
                ),
                format!("check.healthy:{healthy}|Gauge|check:db,raw_status:{raw},group:back"),
                format!("sc check {sc} check:db,group:back Some(\"flapping\")"),
                "run.duration:2.5|Timing|scope:db".to_owned(),
            ]
        };
        let mut expected = per_run("degraded", "unhealthy", 1, "Warning");
        expected.push(
            "event Healthcheck DB failed|flapping|check:db|error|check:db,group:back".to_owned(),
        );
        expected.extend(per_run("unhealthy", "unhealthy", 0, "Critical"));
        expected.extend(per_run("unhealthy", "healthy", 0, "Critical"));
        assert_eq!(recorder.calls(), expected);
    }

    #[test]
    fn the_applications_metrics_go_through_the_same_thread() {
        let recorder = Recorder::default();
        let pipeline = Pipeline::start_with(recorder.clone(), Arc::new(AtomicU64::new(0)))
            .expect("the metrics thread starts");
        crate::Statsd::new(Some(Arc::clone(&pipeline))).timing(
            "render time",
            Duration::from_micros(400),
            &["Page:Home"],
        );
        assert!(pipeline.flush(Duration::from_secs(5)));
        assert_eq!(recorder.calls(), ["render_time:0.4|Timing|page:home"]);
    }
}
