//! The settings every checker shares with [`Check`](crate::Check), and how a checker becomes one.

use std::panic::Location;
use std::time::Duration;

use crate::check::{Check, Probe};
use crate::checks::redact;
use crate::outcome::IntoComponent;

/// The settings every checker shares with [`Check`], and where it was declared.
#[derive(Debug)]
pub(crate) struct Common {
    name: String,
    location: &'static Location<'static>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) groups: Option<Vec<String>>,
    pub(crate) critical: Option<bool>,
    pub(crate) probes: Option<Vec<Probe>>,
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
pub(crate) use common_settings;
