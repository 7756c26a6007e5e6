//! Nearest-rank percentiles over a set of values, and the spread (min, median, p95, p99, max) of one.

use super::rates::round3;

/// Nearest-rank percentile of values sorted ascending: the smallest value such that at least `p` % of
/// the values are at or below it (rank `ceil(p/100 * n)`, at least 1). `None` for no values.
///
/// `p` is clamped to 0..=100; p0 gives the minimum, p100 the maximum.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let rank = nearest_rank(sorted.len() as u64, p)?;
    Some(sorted[(rank - 1) as usize])
}

/// 1-based nearest rank for `n` values; `None` when `n` is 0.
pub fn nearest_rank(n: u64, p: f64) -> Option<u64> {
    if n == 0 {
        return None;
    }
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
    // A tiny tolerance keeps p99 of 100 values at rank 99 despite 0.99 * 100 = 99.00000000000001.
    let rank = (p / 100.0 * n as f64 - 1e-9).ceil() as u64;
    Some(rank.clamp(1, n))
}

/// Sort values ascending (NaN-free input assumed; NaNs sort last).
pub fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(|a, b| a.total_cmp(b));
    values
}

/// Minimum, median, p95, p99 and maximum of a set of values, nearest rank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub count: usize,
    pub min: f64,
    pub median: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: Vec<f64>) -> Option<Spread> {
        let v = sorted(values);
        Some(Spread {
            count: v.len(),
            min: *v.first()?,
            median: percentile(&v, 50.0)?,
            p95: percentile(&v, 95.0)?,
            p99: percentile(&v, 99.0)?,
            max: *v.last()?,
        })
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count, "min": round3(self.min), "median": round3(self.median),
            "p95": round3(self.p95), "p99": round3(self.p99), "max": round3(self.max),
        })
    }
}
