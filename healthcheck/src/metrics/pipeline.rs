//! The metrics thread: turns runs into DogStatsD lines, packs them into payloads, and hands them
//! to the sink, off the thread that runs the checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::check::CheckRef;
use crate::component::Status;
use crate::error::Error;
use crate::metrics::batch;
use crate::metrics::config::Resolved;
use crate::metrics::datagram::{self, CheckStatus, Kind, Value, Writer};
use crate::metrics::sink::MetricSink;

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
    pub(crate) status: Status,
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
    /// Lines formatted by the application's own calls.
    Lines(String),
    Flush(mpsc::Sender<()>),
}

/// The sending end, shared by the runner and the application's [`Statsd`](crate::Statsd).
#[derive(Debug)]
pub(crate) struct Pipeline {
    queue: SyncSender<Message>,
    writer: Writer,
    /// Messages that found the queue full, and payloads the sink could not send.
    dropped: Arc<AtomicU64>,
    /// `dropped` as the last flush saw it.
    reported: AtomicU64,
}

impl Pipeline {
    /// Starts the metrics thread.
    pub(crate) fn start(settings: Resolved) -> Result<Arc<Self>, Error> {
        let (queue, inbox) = mpsc::sync_channel(QUEUE);
        let writer = Writer::new(
            &settings.prefix,
            &settings.tags,
            settings.sink.max_payload_size(),
        );
        let dropped = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            writer: writer.clone(),
            sink: settings.sink,
            healthy: HashMap::new(),
            failures: 0,
            dropped: Arc::clone(&dropped),
        };
        std::thread::Builder::new()
            .name("healthcheck-metrics".to_owned())
            .spawn(move || worker.serve(&inbox))
            .map_err(Error::MetricsThread)?;
        Ok(Arc::new(Self {
            queue,
            writer,
            dropped,
            reported: AtomicU64::new(0),
        }))
    }

    pub(crate) const fn writer(&self) -> &Writer {
        &self.writer
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

    /// Messages dropped because the queue was full, plus payloads the sink could not send.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

struct Worker {
    writer: Writer,
    sink: Arc<dyn MetricSink>,
    /// Whether each check was healthy at its last run, for transition events.
    healthy: HashMap<String, bool>,
    failures: u64,
    /// Shared with the [`Pipeline`]: every payload the sink could not send counts one.
    dropped: Arc<AtomicU64>,
}

impl Worker {
    fn serve(mut self, inbox: &Receiver<Message>) {
        let mut lines = String::new();
        let mut flushed: Vec<mpsc::Sender<()>> = Vec::new();
        while let Ok(first) = inbox.recv() {
            let mut next = Some(first);
            // Everything already waiting goes out together.
            while let Some(message) = next.take().or_else(|| inbox.try_recv().ok()) {
                match message {
                    Message::Run(run) => self.format_run(&mut lines, &run),
                    Message::Lines(text) => lines.push_str(&text),
                    Message::Flush(done) => flushed.push(done),
                }
                if lines.len() >= 64 * 1024 {
                    self.send(&lines);
                    lines.clear();
                }
            }
            self.send(&lines);
            lines.clear();
            for done in flushed.drain(..) {
                let _ = done.send(());
            }
        }
    }

    fn send(&mut self, lines: &str) {
        for payload in batch::pack(lines, self.sink.max_payload_size()) {
            if let Err(error) = self.sink.send(payload.as_bytes()) {
                self.dropped.fetch_add(1, Ordering::Release);
                self.failures += 1;
                if self.failures.is_power_of_two() {
                    tracing::debug!(
                        %error,
                        failures = self.failures,
                        bytes = payload.len(),
                        "could not send metrics: the payload is dropped"
                    );
                }
            }
        }
    }

    fn format_run(&mut self, out: &mut String, run: &RunRecord) {
        let mut tags = String::new();
        let mut timing_tags = String::new();
        let mut failing: Vec<&str> = Vec::new();
        for record in &run.checks {
            let check = &record.check;
            let healthy = record.status.is_healthy();
            if !healthy {
                failing.push(check.name());
            }
            self.transition(out, record);
            if !record.executed {
                continue;
            }
            tags.clear();
            datagram::push_key_value(&mut tags, "check", check.name());
            let groups_start = tags.len();
            for group in check.groups() {
                datagram::push_key_value(&mut tags, "group", group);
            }
            timing_tags.clear();
            timing_tags.push_str(&tags[..groups_start]);
            datagram::push_key_value(&mut timing_tags, "status", record.status.as_str());
            timing_tags.push_str(&tags[groups_start..]);

            self.writer.metric(
                out,
                "check.response_time",
                Value::Millis(record.response_time),
                Kind::Timing,
                &timing_tags,
            );
            self.writer.metric(
                out,
                "check.healthy",
                Value::Int(healthy.into()),
                Kind::Gauge,
                &tags,
            );
            let status = match record.status {
                Status::Healthy => CheckStatus::Ok,
                Status::Degraded => CheckStatus::Warning,
                Status::Unhealthy => CheckStatus::Critical,
            };
            self.writer
                .service_check(out, "check", status, &tags, record.message.as_deref());
        }

        tags.clear();
        datagram::push_key_value(&mut tags, "scope", &run.scope);
        self.writer.metric(
            out,
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
        self.writer.metric(
            out,
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
        self.writer
            .service_check(out, "service", status, "", Some(&message));
    }

    /// An event when a check goes from healthy to unhealthy or back; the first run counts only
    /// when it fails.
    fn transition(&mut self, out: &mut String, record: &CheckRecord) {
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
            self.writer.event(out, &title, text, &key, "success", &tags);
        } else {
            let title = format!("Healthcheck {name} failed");
            let text = record.message.as_deref().unwrap_or("unhealthy");
            self.writer.event(out, &title, text, &key, "error", &tags);
        }
    }
}
