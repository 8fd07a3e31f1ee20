//! A fixed-size log-linear latency histogram: constant memory however long the run, about
//! 1.5% relative error (64 sub-buckets per power of two), merged across connections at the
//! end.

/// Values below this are stored exactly (microseconds).
const LINEAR_LIMIT: u64 = 128;
/// Sub-buckets per power of two above the linear range.
const SUB_BUCKETS: u64 = 64;
/// Enough buckets for values up to 2^48 us (about 9 years).
const BUCKETS: usize = (SUB_BUCKETS as usize) * 44 + LINEAR_LIMIT as usize;

#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_us: u64,
    sum_us: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max_us: 0,
            sum_us: 0,
        }
    }

    fn index(value_us: u64) -> usize {
        if value_us < LINEAR_LIMIT {
            return value_us as usize;
        }
        // Keep the 7 most significant bits: value = sub << magnitude, sub in [64, 128).
        let msb = 63 - u64::from(value_us.leading_zeros());
        let magnitude = msb - 6;
        let sub = value_us >> magnitude;
        let idx = magnitude * SUB_BUCKETS + sub;
        (idx as usize).min(BUCKETS - 1)
    }

    /// The midpoint of the values that fall in bucket `idx`.
    fn value_at(idx: usize) -> u64 {
        let idx = idx as u64;
        if idx < LINEAR_LIMIT {
            return idx;
        }
        let magnitude = idx / SUB_BUCKETS - 1;
        let sub = idx - magnitude * SUB_BUCKETS;
        (sub << magnitude) + ((1u64 << magnitude) >> 1)
    }

    pub fn record(&mut self, value_us: u64) {
        let idx = Self::index(value_us);
        if let Some(c) = self.counts.get_mut(idx) {
            *c += 1;
        }
        self.total += 1;
        self.max_us = self.max_us.max(value_us);
        self.sum_us += u128::from(value_us);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += *b;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
        self.sum_us += other.sum_us;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    pub fn mean_us(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0.0..=1.0), in microseconds.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (idx, c) in self.counts.iter().enumerate() {
            seen += *c;
            if seen >= rank {
                return Self::value_at(idx).min(self.max_us);
            }
        }
        self.max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_below_linear_limit() {
        let mut h = Histogram::new();
        for v in 0..100 {
            h.record(v);
        }
        assert_eq!(h.quantile_us(0.5), 49);
        assert_eq!(h.quantile_us(1.0), 99);
        assert_eq!(h.count(), 100);
    }

    #[test]
    fn relative_error_is_small() {
        for v in [128u64, 1000, 4_321, 99_999, 1_234_567, 987_654_321] {
            let mut h = Histogram::new();
            h.record(v);
            let got = Histogram::value_at(Histogram::index(v));
            let err = (got as f64 - v as f64).abs() / v as f64;
            assert!(err < 0.02, "{v} -> {got}");
            assert_eq!(h.quantile_us(0.99), got.min(v));
        }
    }

    #[test]
    fn index_is_monotonic() {
        let mut last = 0;
        for v in 0..200_000u64 {
            let i = Histogram::index(v);
            assert!(i >= last);
            last = i;
        }
    }

    #[test]
    fn merge_adds_up() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(10);
        b.record(1_000);
        b.record(2_000);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.max_us(), 2_000);
    }

    #[test]
    fn huge_values_do_not_panic() {
        let mut h = Histogram::new();
        h.record(u64::MAX);
        assert_eq!(h.count(), 1);
        assert_eq!(h.max_us(), u64::MAX);
    }
}
