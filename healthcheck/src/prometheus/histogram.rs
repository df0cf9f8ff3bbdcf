//! Metric types for what every execution writes: a histogram of check durations whose
//! observations are two atomic additions, with no lock (one of `prometheus-client`'s own takes
//! a mutex on every observation, which a run pays per check), and a timestamp gauge set with a
//! plain store. Both are encoded by `prometheus-client`'s encoder, the histogram as a classic
//! one, like its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// A gauge of a time in seconds, set with a plain store (the executions of a check overwrite
/// each other's; no read-modify-write needed).
#[derive(Clone, Debug, Default)]
pub(crate) struct TimestampGauge {
    bits: Arc<AtomicU64>,
}

impl TimestampGauge {
    pub(crate) fn set(&self, seconds: f64) {
        self.bits.store(seconds.to_bits(), Ordering::Relaxed);
    }
}

impl TypedMetric for TimestampGauge {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for TimestampGauge {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&f64::from_bits(self.bits.load(Ordering::Relaxed)))
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A classic histogram with fixed upper bounds; clones share their counts.
#[derive(Clone, Debug)]
pub(crate) struct AtomicHistogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The finite upper bounds, increasing; the `+Inf` bucket is the last of `counts`.
    bounds: Box<[f64]>,
    /// The same bounds in whole nanoseconds (a duration of exactly a bound is in its bucket, as
    /// `le` says): compared without converting each duration to seconds.
    bounds_nanos: Box<[u64]>,
    /// Observations per bucket (not cumulative): one per bound, and one for `+Inf`.
    counts: Box<[AtomicU64]>,
    /// The sum of the observations, in nanoseconds (584 years fit): one addition, no
    /// compare-and-swap loop.
    sum_nanos: AtomicU64,
}

impl AtomicHistogram {
    /// A histogram with these upper bounds (finite, increasing), and `+Inf`.
    pub(crate) fn new(bounds: &[f64]) -> Self {
        let bounds: Box<[f64]> = bounds.iter().copied().filter(|b| b.is_finite()).collect();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        let bounds_nanos = bounds
            .iter()
            .map(|bound| {
                let nanos = (bound * 1e9).round();
                if nanos <= 0.0 {
                    0
                } else {
                    nanos.min(u64::MAX as f64) as u64
                }
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                bounds,
                bounds_nanos,
                counts,
                sum_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// Adds one observation: a duration.
    pub(crate) fn observe(&self, duration: std::time::Duration) {
        let inner = &*self.inner;
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        // The first bucket whose bound is at least the duration.
        let bucket = inner.bounds_nanos.partition_point(|bound| *bound < nanos);
        if let Some(count) = inner.counts.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        inner.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The number of observations, the sum and each bucket's count (not cumulative). The count is
    /// the buckets' total, so `_count` always equals the `+Inf` bucket; an observation that lands
    /// during the read may be in the buckets and not yet in the sum, or the other way round.
    fn snapshot(&self) -> (u64, f64, Vec<(f64, u64)>) {
        let inner = &*self.inner;
        let buckets: Vec<(f64, u64)> = inner
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(inner.counts.iter())
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        let count: u64 = buckets.iter().map(|(_, n)| n).sum();
        let sum = inner.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (count, sum, buckets)
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        let (count, sum, buckets) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_at_least_their_value() {
        let histogram = AtomicHistogram::new(&[0.1, 1.0, f64::INFINITY]);
        // 0.1 s and 1 s are in the buckets they bound.
        for millis in [50, 100, 500, 1000, 2000, 3000] {
            histogram.observe(std::time::Duration::from_millis(millis));
        }
        let (count, sum, buckets) = histogram.snapshot();
        assert_eq!(count, 6);
        assert!((sum - 6.65).abs() < 1e-9, "{sum}");
        assert_eq!(buckets, [(0.1, 2), (1.0, 2), (f64::INFINITY, 2)]);
    }

    #[test]
    fn a_bound_that_is_not_a_whole_number_of_nanoseconds_in_binary_still_holds_itself() {
        let histogram = AtomicHistogram::new(&[0.0005, 0.0025]);
        histogram.observe(std::time::Duration::from_micros(500));
        histogram.observe(std::time::Duration::from_nanos(500_001));
        let (_, _, buckets) = histogram.snapshot();
        assert_eq!(buckets, [(0.0005, 1), (0.0025, 1), (f64::INFINITY, 0)]);
    }

    #[test]
    fn concurrent_observations_are_all_counted() {
        let histogram = AtomicHistogram::new(&[0.5]);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..10_000 {
                        histogram.observe(std::time::Duration::from_millis(250));
                    }
                });
            }
        });
        let (count, sum, buckets) = histogram.snapshot();
        assert_eq!(count, 40_000);
        assert!((sum - 10_000.0).abs() < 1e-6, "{sum}");
        assert_eq!(buckets, [(0.5, 40_000), (f64::INFINITY, 0)]);
    }
}
