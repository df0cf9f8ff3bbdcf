//! What the benchmarks compute from their samples and how they print times.

#![allow(dead_code)] // each benchmark uses some of it

use std::time::Duration;

/// The middle sample.
pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Nearest-rank percentiles of a set of times.
pub(crate) struct Percentiles {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
}

impl Percentiles {
    pub(crate) fn of(samples: &[Duration]) -> Self {
        assert!(!samples.is_empty(), "no sample");
        let mut samples = samples.to_vec();
        samples.sort_unstable();
        let rank = |q: f64| {
            let index = (q * samples.len() as f64).ceil() as usize;
            samples[index.clamp(1, samples.len()) - 1]
        };
        Self {
            p50: rank(0.50),
            p99: rank(0.99),
            max: rank(1.0),
        }
    }
}

/// `duration` in milliseconds, two decimals.
pub(crate) fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

/// `duration` in nanoseconds.
pub(crate) fn ns(duration: Duration) -> String {
    format!("{} ns", duration.as_nanos())
}
