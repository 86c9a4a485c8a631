//! A latency histogram with fixed log-linear buckets.
//!
//! Recording must cost a few nanoseconds (it happens once per delivery),
//! and the memory must not grow with the number of samples. So each power
//! of two is cut into [`SUB_BUCKETS`] equal buckets, the way HdrHistogram
//! does: a value is placed with a leading-zero count and a shift, and a
//! quantile read back from it is within 1/16 (6.25 %) of the true one.
//! That is plenty for p50/p99 of a latency; the maximum is kept exactly.

/// Bits of each value kept below its leading one: 16 buckets per octave.
const SUB_BITS: u32 = 4;
const SUB_BUCKETS: usize = 1 << SUB_BITS;
/// Values below `SUB_BUCKETS` get a bucket each; every octave above gets
/// `SUB_BUCKETS`, up to the octave of `u64::MAX`.
const BUCKETS: usize = SUB_BUCKETS * (64 - SUB_BITS as usize + 1);

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("total", &self.total)
            .field("max", &self.max)
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

fn bucket_of(value: u64) -> usize {
    if value < SUB_BUCKETS as u64 {
        return value as usize;
    }
    let octave = 63 - value.leading_zeros(); // >= SUB_BITS
    let shift = octave - SUB_BITS;
    let sub = ((value >> shift) as usize) & (SUB_BUCKETS - 1);
    (shift as usize + 1) * SUB_BUCKETS + sub
}

/// The largest value that falls in bucket `index`.
fn bucket_top(index: usize) -> u64 {
    if index < SUB_BUCKETS {
        return index as u64;
    }
    let shift = (index / SUB_BUCKETS - 1) as u32;
    let sub = (index % SUB_BUCKETS) as u64;
    let low = (SUB_BUCKETS as u64 + sub) << shift;
    low + ((1u64 << shift) - 1)
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: 0,
        }
    }

    pub fn record(&mut self, value: u64) {
        self.counts[bucket_of(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value below which a fraction `q` (0 to 1) of the samples lie,
    /// rounded up to the top of its bucket (never above the maximum).
    /// 0 when nothing was recorded.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        // The rank of the sample we want, 1-based: q = 0.5 of 10 is the 5th.
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return bucket_top(index).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut last = 0;
        for value in (0..5000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let b = bucket_of(value);
            assert!(b >= last && b < BUCKETS, "value {value}");
            assert!(bucket_top(b) >= value, "value {value} above its bucket");
            last = b;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_top(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn small_values_are_exact_and_large_ones_within_a_sixteenth() {
        for value in [
            0u64,
            1,
            15,
            16,
            17,
            31,
            32,
            33,
            1000,
            123_456,
            9_876_543_210,
        ] {
            let top = bucket_top(bucket_of(value));
            assert!(top >= value);
            assert!(top - value <= value / 16, "{value} -> {top}");
            if value < 32 {
                assert_eq!(top, value);
            }
        }
    }

    #[test]
    fn quantiles_of_a_uniform_spread() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max(), 10_000_000);
        let near = |got: u64, want: u64| got >= want && got - want <= want / 16;
        assert!(near(h.quantile(0.5), 5_000_000), "{}", h.quantile(0.5));
        assert!(near(h.quantile(0.99), 9_900_000), "{}", h.quantile(0.99));
        assert_eq!(h.quantile(1.0), 10_000_000);
        assert!(near(h.quantile(0.0), 1000));
    }

    #[test]
    fn empty_and_three_samples() {
        let mut a = Histogram::new();
        assert_eq!(a.quantile(0.99), 0);
        for v in [10, 20, 30] {
            a.record(v);
        }
        assert_eq!((a.count(), a.max(), a.quantile(0.5)), (3, 30, 20));
    }
}
