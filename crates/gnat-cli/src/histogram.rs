//! A latency histogram for `gnat bench` and `gnat rtt`: 64 linear sub-buckets per power of
//! two (under 1.6 % error), in nanoseconds, mergeable across clients.

use std::time::Duration;

/// A latency histogram: 64 linear sub-buckets per power of two (under 1.6 % error), in
/// nanoseconds, mergeable across clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

impl Histogram {
    /// An empty histogram.
    pub(crate) fn new() -> Histogram {
        Histogram {
            counts: vec![0; ((64 - SUB_BITS as usize) + 1) * SUB as usize],
            total: 0,
            max: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros();
        let shift = exp - SUB_BITS;
        let mantissa = (v >> shift) & (SUB - 1);
        ((exp - SUB_BITS + 1) as u64 * SUB + mantissa) as usize
    }

    /// The middle of bucket `index`.
    fn value_of(index: usize) -> u64 {
        let index = index as u64;
        if index < SUB {
            return index;
        }
        let exp = index / SUB + u64::from(SUB_BITS) - 1;
        let shift = exp - u64::from(SUB_BITS);
        let low = (SUB + index % SUB) << shift;
        low + (1u64 << shift) / 2
    }

    /// How many latencies were recorded.
    pub(crate) fn count(&self) -> u64 {
        self.total
    }

    /// Records one value.
    pub(crate) fn record(&mut self, d: Duration) {
        let v = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        if let Some(c) = self.counts.get_mut(Self::index(v)) {
            *c += 1;
        }
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// Adds another histogram's values.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0 to 1); `None` when empty.
    pub(crate) fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        if rank >= self.total {
            return Some(Duration::from_nanos(self.max));
        }
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Duration::from_nanos(Self::value_of(i).min(self.max)));
            }
        }
        Some(Duration::from_nanos(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), None);
        for us in 1..=100u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5).unwrap().as_nanos() as f64;
        let p99 = h.quantile(0.99).unwrap().as_nanos() as f64;
        assert!((p50 / 50_000.0 - 1.0).abs() < 0.02, "{p50}");
        assert!((p99 / 99_000.0 - 1.0).abs() < 0.02, "{p99}");
        assert_eq!(h.quantile(1.0), Some(Duration::from_micros(100)));
        let mut other = Histogram::new();
        other.record(Duration::from_secs(3));
        h.merge(&other);
        assert_eq!(h.total, 101);
        assert_eq!(h.quantile(1.0), Some(Duration::from_secs(3)));
    }

    #[test]
    fn histogram_buckets_are_monotonic_and_exact_when_small() {
        for v in 0..SUB {
            assert_eq!(Histogram::value_of(Histogram::index(v)), v);
        }
        let mut last = 0;
        for shift in 0..58 {
            for m in [0u64, 1, 31, 63] {
                let v = (SUB + m) << shift;
                let i = Histogram::index(v);
                assert!(i >= last, "{v}");
                last = i;
                let back = Histogram::value_of(i) as f64;
                assert!((back / v as f64 - 1.0).abs() < 0.02, "{v} -> {back}");
            }
        }
        assert!(Histogram::index(u64::MAX) < Histogram::new().counts.len());
    }
}
