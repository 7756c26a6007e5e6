//! A latency histogram with nearest-rank percentiles.

use super::rates::round3;
use super::spread::nearest_rank;

/// Latency histogram in microseconds: 100 µs buckets up to 10 s, then one overflow bucket; the exact
/// maximum and sum are kept beside. Percentiles are nearest-rank and answer a bucket's upper edge
/// (never above the exact maximum), so they overstate by less than 100 µs.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u32>,
    overflow: u64,
    count: u64,
    sum_us: u64,
    max_us: u64,
}

pub const BUCKET_US: u64 = 100;
const BUCKETS: usize = 100_000;

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: Vec::new(),
            overflow: 0,
            count: 0,
            sum_us: 0,
            max_us: 0,
        }
    }

    pub fn record(&mut self, us: u64) {
        let bucket = (us / BUCKET_US) as usize;
        if bucket < BUCKETS {
            if self.counts.is_empty() {
                // Allocated on first use: most histograms of a short run stay small or empty.
                self.counts = vec![0; BUCKETS];
            }
            self.counts[bucket] = self.counts[bucket].saturating_add(1);
        } else {
            self.overflow += 1;
        }
        self.count += 1;
        self.sum_us += us;
        self.max_us = self.max_us.max(us);
    }

    #[cfg(test)]
    pub fn merge(&mut self, other: &Histogram) {
        if !other.counts.is_empty() {
            if self.counts.is_empty() {
                self.counts = vec![0; BUCKETS];
            }
            for (a, b) in self.counts.iter_mut().zip(&other.counts) {
                *a = a.saturating_add(*b);
            }
        }
        self.overflow += other.overflow;
        self.count += other.count;
        self.sum_us += other.sum_us;
        self.max_us = self.max_us.max(other.max_us);
    }

    pub fn clear(&mut self) {
        if self.count > 0 {
            self.counts.iter_mut().for_each(|c| *c = 0);
        }
        self.overflow = 0;
        self.count = 0;
        self.sum_us = 0;
        self.max_us = 0;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max_us(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max_us)
    }

    pub fn mean_us(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_us as f64 / self.count as f64)
    }

    /// Nearest-rank percentile in microseconds.
    pub fn percentile_us(&self, p: f64) -> Option<u64> {
        let rank = nearest_rank(self.count, p)?;
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return Some(((i as u64 + 1) * BUCKET_US).min(self.max_us));
            }
        }
        // In the overflow bucket: only the maximum is known.
        Some(self.max_us)
    }

    /// `{"samples", "p50", "p95", "p99", "max", "mean"}` in milliseconds (nulls when empty).
    pub fn to_json_ms(&self) -> serde_json::Value {
        let ms = |us: Option<u64>| us.map(|u| round3(u as f64 / 1000.0));
        serde_json::json!({
            "samples": self.count,
            "p50": ms(self.percentile_us(50.0)),
            "p95": ms(self.percentile_us(95.0)),
            "p99": ms(self.percentile_us(99.0)),
            "max": ms(self.max_us()),
            "mean": self.mean_us().map(|u| round3(u / 1000.0)),
        })
    }
}
