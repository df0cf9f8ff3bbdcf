//! Logs that a flood cannot turn into a flood of logs: at most a few lines every ten seconds for
//! one kind of trouble, the next line saying how many were left out.

use std::time::{Duration, Instant};

/// How long a window lasts.
const WINDOW: Duration = Duration::from_secs(10);
/// How many lines a window logs.
const BURST: u32 = 5;

/// The rate limit of one kind of log line.
#[derive(Debug, Default)]
pub(super) struct Limited {
    window: Option<Instant>,
    logged: u32,
    left_out: u64,
}

impl Limited {
    /// Whether a line may be logged now, and how many were left out before it.
    fn admit(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .window
            .is_none_or(|start| now.duration_since(start) >= WINDOW)
        {
            self.window = Some(now);
            self.logged = 0;
        }
        if self.logged < BURST {
            self.logged += 1;
            Some(std::mem::take(&mut self.left_out))
        } else {
            self.left_out += 1;
            None
        }
    }

    /// `what: detail` as a warning, unless too many were logged lately.
    pub(super) fn warn(&mut self, what: &str, detail: &str) {
        match self.admit() {
            Some(0) => tracing::warn!("{what}: {detail}"),
            Some(left_out) => tracing::warn!(left_out, "{what}: {detail}"),
            None => {}
        }
    }

    /// `what: detail` for debugging, unless too many were logged lately.
    pub(super) fn debug(&mut self, what: &str, detail: &str) {
        match self.admit() {
            Some(0) => tracing::debug!("{what}: {detail}"),
            Some(left_out) => tracing::debug!(left_out, "{what}: {detail}"),
            None => {}
        }
    }

    /// Says how many lines were left out since the last one, if any, as a warning.
    pub(super) fn flush(&mut self, what: &str) {
        let left_out = std::mem::take(&mut self.left_out);
        if left_out > 0 {
            tracing::warn!(left_out, "{what} (lines left out)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_then_the_rest_is_counted() {
        let mut limited = Limited::default();
        let admitted: Vec<_> = (0..8).map(|_| limited.admit()).collect();
        assert_eq!(
            admitted,
            [
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                None,
                None,
                None
            ]
        );
        // A new window: the first line says how many were left out.
        limited.window = Some(Instant::now() - WINDOW);
        assert_eq!(limited.admit(), Some(3));
        assert_eq!(limited.admit(), Some(0));
    }
}
