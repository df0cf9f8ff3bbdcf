//! What one check says about one component: [`Component`] and [`Status`].

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How well a component (or the whole service) works.
///
/// Ordered from best to worst, so the worst of several is their [`Ord::max`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Healthy,
    /// Works, with a concern worth a look (the `warn` of other systems). Counts as healthy.
    Degraded,
    /// Does not work.
    Unhealthy,
}

impl Status {
    /// `true` for [`Status::Healthy`] and [`Status::Degraded`]: the component works.
    #[must_use]
    pub const fn is_healthy(self) -> bool {
        !matches!(self, Status::Unhealthy)
    }

    /// The lowercase name used in reports: `healthy`, `degraded` or `unhealthy`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }

    /// The short word shown to people: `OK`, `DEGRADED` or `FAIL`.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Status::Healthy => "OK",
            Status::Degraded => "DEGRADED",
            Status::Unhealthy => "FAIL",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The keys of a report component that belong to the SDK. A check's extra fields cannot use them.
pub(crate) const RESERVED_KEYS: [&str; 6] = [
    "healthy",
    "response_time",
    "status_message",
    "status",
    "critical",
    "groups",
];

const PENDING_MESSAGE: &str = "Health check didn't provide a status.";

/// The outcome of one run of a check: its [`Status`], an optional status message, optional
/// extra fields, and optionally the response time the check measured itself.
///
/// A check returns one (`fn() -> Component`) or fills one in (`fn(&mut Component)`, the style of
/// python-panopticon). Checks that return `bool` or `Result` are turned into one by
/// [`IntoComponent`](crate::IntoComponent).
///
/// # Example
/// ```
/// use healthcheck::{Component, Status};
///
/// let mut component = Component::pending();
/// assert_eq!(component.status(), Status::Unhealthy);
///
/// component.set_healthy(true);
/// component.insert("queued_jobs", 423);
/// assert!(component.is_healthy());
/// assert_eq!(component.extra()["queued_jobs"], 423);
///
/// let slow = Component::degraded("replica lag is 12 s");
/// assert_eq!(slow.status(), Status::Degraded);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    status: Status,
    status_message: Option<Cow<'static, str>>,
    response_time: Option<Duration>,
    extra: Map<String, Value>,
}

impl Default for Component {
    /// The same as [`Component::pending`].
    fn default() -> Self {
        Self::pending()
    }
}

impl Component {
    /// A component that has not been given a status yet: unhealthy, with the status message
    /// "Health check didn't provide a status." (as in python-panopticon). This is what a
    /// `fn(&mut Component)` check starts from.
    #[must_use]
    pub fn pending() -> Self {
        Self {
            status: Status::Unhealthy,
            status_message: Some(Cow::Borrowed(PENDING_MESSAGE)),
            response_time: None,
            extra: Map::new(),
        }
    }

    /// A healthy component with no message.
    #[must_use]
    pub fn healthy() -> Self {
        Self::with_status(Status::Healthy)
    }

    /// A component that works but with a concern, described by `message`.
    #[must_use]
    pub fn degraded(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_status(Status::Degraded).message(message)
    }

    /// A component that does not work, for the reason given by `message`.
    #[must_use]
    pub fn unhealthy(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_status(Status::Unhealthy).message(message)
    }

    /// A component with the given status and no message.
    #[must_use]
    pub fn with_status(status: Status) -> Self {
        Self {
            status,
            status_message: None,
            response_time: None,
            extra: Map::new(),
        }
    }

    /// Sets the status message (builder style).
    #[must_use]
    pub fn message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.set_status_message(message);
        self
    }

    /// Adds an extra field (builder style). See [`Component::insert`].
    #[must_use]
    pub fn field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// The component's status.
    #[must_use]
    pub const fn status(&self) -> Status {
        self.status
    }

    /// `true` when the component is healthy or degraded.
    #[must_use]
    pub const fn is_healthy(&self) -> bool {
        self.status.is_healthy()
    }

    /// The status message, if any.
    #[must_use]
    pub fn status_message(&self) -> Option<&str> {
        self.status_message.as_deref()
    }

    /// The response time the check set itself with [`Component::set_response_time`], or,
    /// once the runner has timed the check, the measured one.
    #[must_use]
    pub const fn response_time(&self) -> Option<Duration> {
        self.response_time
    }

    /// The extra fields, which the report shows flat beside `healthy` and `response_time`.
    #[must_use]
    pub const fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// Sets the status. Clears the placeholder message of [`Component::pending`], if it is
    /// still there.
    pub fn set_status(&mut self, status: Status) {
        self.status = status;
        if self.status_message.as_deref() == Some(PENDING_MESSAGE) {
            self.status_message = None;
        }
    }

    /// Sets the status to [`Status::Healthy`] (`true`) or [`Status::Unhealthy`] (`false`), as
    /// python-panopticon's `component.healthy = ...` did.
    pub fn set_healthy(&mut self, healthy: bool) {
        self.set_status(if healthy {
            Status::Healthy
        } else {
            Status::Unhealthy
        });
    }

    /// Marks the component degraded: it works, with the concern given by `message`.
    pub fn set_degraded(&mut self, message: impl Into<Cow<'static, str>>) {
        self.set_status(Status::Degraded);
        self.set_status_message(message);
    }

    /// Sets the status message.
    pub fn set_status_message(&mut self, message: impl Into<Cow<'static, str>>) {
        self.status_message = Some(message.into());
    }

    /// Overrides the response time that the runner would measure around the check, for checks
    /// that know better (for example the round trip reported by a server).
    pub fn set_response_time(&mut self, response_time: Duration) {
        self.response_time = Some(response_time);
    }

    /// Adds an extra field, such as `queued_jobs: 423`, shown flat in the component's report.
    ///
    /// The keys that the report owns (`healthy`, `response_time`, `status_message`, `status`,
    /// `critical`, `groups`) cannot be set this way: such a field is left out of the report and a
    /// `tracing` warning names it. Use the setters for those.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        if RESERVED_KEYS.contains(&key.as_str()) {
            tracing::warn!(
                key = key.as_str(),
                "a health check set the reserved field `{key}` as an extra field; it is left out \
                 of the report (use the Component setters instead)"
            );
            return;
        }
        self.extra.insert(key, value.into());
    }

    /// Adds every field of a JSON object with [`Component::insert`]; any other value is stored
    /// under the key `result`. `null` adds nothing.
    pub fn extend_from_value(&mut self, value: Value) {
        match value {
            Value::Null => {}
            Value::Object(fields) => {
                for (key, value) in fields {
                    self.insert(key, value);
                }
            }
            other => self.insert("result", other),
        }
    }

    pub(crate) fn response_time_or(mut self, measured: Duration) -> Self {
        self.response_time.get_or_insert(measured);
        self
    }

    pub(crate) fn into_parts(
        self,
    ) -> (
        Status,
        Option<Cow<'static, str>>,
        Option<Duration>,
        Map<String, Value>,
    ) {
        (
            self.status,
            self.status_message,
            self.response_time,
            self.extra,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_placeholder_is_cleared_by_a_status() {
        let mut c = Component::pending();
        assert_eq!(c.status_message(), Some(PENDING_MESSAGE));
        c.set_healthy(true);
        assert_eq!(c.status_message(), None);
        assert_eq!(c.status(), Status::Healthy);
    }

    #[test]
    fn explicit_message_survives_a_status_change() {
        let mut c = Component::pending();
        c.set_status_message("fine");
        c.set_healthy(true);
        assert_eq!(c.status_message(), Some("fine"));
    }

    #[test]
    fn reserved_keys_are_not_extras() {
        let mut c = Component::healthy();
        for key in RESERVED_KEYS {
            c.insert(key, false);
        }
        c.insert("queued_jobs", 423);
        assert_eq!(c.extra().len(), 1);
        assert!(c.is_healthy());
    }

    #[test]
    fn values_extend_extras() {
        let cases = [
            (Value::Null, Map::new()),
            (
                serde_json::json!({"a": 1, "healthy": false}),
                serde_json::json!({"a": 1})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            (
                serde_json::json!(7),
                serde_json::json!({"result": 7})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        ];
        for (value, expected) in cases {
            let mut c = Component::healthy();
            c.extend_from_value(value.clone());
            assert_eq!(c.extra(), &expected, "extending with {value}");
        }
    }

    #[test]
    fn statuses_order_from_best_to_worst() {
        assert!(Status::Healthy < Status::Degraded && Status::Degraded < Status::Unhealthy);
        assert!(Status::Degraded.is_healthy());
        assert!(!Status::Unhealthy.is_healthy());
    }
}
