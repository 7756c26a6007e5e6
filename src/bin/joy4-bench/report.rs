//! The arithmetic of a bench report, kept apart from sockets and threads so it can be tested:
//! nearest-rank percentiles over values and over a latency histogram, rates, server CPU per
//! subscriber-second, RSS growth per subscriber, and each subscriber's share of the stream's bitrate.

use std::fmt::Write as _;

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

/// `amount / seconds`, `None` for an empty interval.
pub fn rate_per_second(amount: f64, seconds: f64) -> Option<f64> {
    (seconds > 0.0).then(|| amount / seconds)
}

/// Bytes over seconds as kilobits per second.
pub fn kbit_per_second(bytes: u64, seconds: f64) -> Option<f64> {
    rate_per_second(bytes as f64 * 8.0 / 1000.0, seconds)
}

/// Server CPU microseconds per subscriber-second: CPU seconds spent over the subscriber-seconds
/// served in the same window. `None` when no subscriber was served.
pub fn cpu_us_per_subscriber_second(cpu_seconds: f64, subscriber_seconds: f64) -> Option<f64> {
    (subscriber_seconds > 0.0).then(|| cpu_seconds * 1e6 / subscriber_seconds)
}

/// Subscriber-seconds a subscriber alive over `[alive_from, alive_to)` contributes to the window
/// `[window_start, window_end)` (all in the same unit, e.g. seconds since the bench started).
pub fn overlap(alive_from: f64, alive_to: f64, window_start: f64, window_end: f64) -> f64 {
    (alive_to.min(window_end) - alive_from.max(window_start)).max(0.0)
}

/// RSS growth per subscriber in KiB: `(after - before) / subscribers`, both in KiB; may be negative
/// when the allocator returned memory. `None` for no subscribers.
pub fn rss_growth_per_subscriber_kib(
    before_kib: u64,
    after_kib: u64,
    subscribers: usize,
) -> Option<f64> {
    (subscribers > 0).then(|| (after_kib as f64 - before_kib as f64) / subscribers as f64)
}

/// A subscriber's share of the stream: media bytes it received over media bytes published in the
/// same window (1.0 = all of it). `None` when nothing was published.
pub fn bitrate_share(received: u64, published: u64) -> Option<f64> {
    (published > 0).then(|| received as f64 / published as f64)
}

/// CPU seconds from clock ticks (`/proc/PID/stat` utime + stime are in ticks).
pub fn ticks_to_seconds(ticks: u64, ticks_per_second: u64) -> f64 {
    if ticks_per_second == 0 {
        0.0
    } else {
        ticks as f64 / ticks_per_second as f64
    }
}

/// Round to three decimals for JSON (keeps files readable; no figure needs more).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------------------------------
// The side-by-side summary of several runs (the JSON files `--json` wrote)
// ---------------------------------------------------------------------------------------------------

/// One row of the side-by-side table, read from a run's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    pub protocol: String,
    pub subscribers: u64,
    /// How the non-probe subscribers read: `player` (woken for every write, like ffplay or VLC)
    /// or `lowat NK` (SO_RCVLOWAT of N KiB).
    pub readers: String,
    pub cpu_us: Option<f64>,
    pub rss_kib: Option<f64>,
    pub share_min: Option<f64>,
    pub share_median: Option<f64>,
    pub lat_p50: Option<f64>,
    pub lat_p99: Option<f64>,
    pub failures: u64,
    pub bench_cpu_us: Option<f64>,
}

impl Row {
    pub fn from_json(v: &serde_json::Value) -> Row {
        let f = |ptr: &str| v.pointer(ptr).and_then(|x| x.as_f64());
        let u = |ptr: &str| v.pointer(ptr).and_then(|x| x.as_u64()).unwrap_or(0);
        Row {
            label: v
                .pointer("/label")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .to_string(),
            protocol: v
                .pointer("/config/protocol")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .to_string(),
            subscribers: u("/config/subscribers"),
            readers: readers_name(u("/config/rcvlowat")),
            cpu_us: f("/server/cpu_us_per_subscriber_second"),
            rss_kib: f("/server/rss_growth_per_subscriber_kib"),
            share_min: f("/per_subscriber/share/min"),
            share_median: f("/per_subscriber/share/median"),
            lat_p50: f("/latency_ms/p50"),
            lat_p99: f("/latency_ms/p99"),
            failures: u("/subscribers/failed") + u("/subscribers/disconnected"),
            bench_cpu_us: f("/bench/cpu_us_per_subscriber_second"),
        }
    }
}

/// The readers column for a run's SO_RCVLOWAT setting.
pub fn readers_name(rcvlowat: u64) -> String {
    match rcvlowat {
        0 => "player".to_string(),
        n if n % 1024 == 0 => format!("lowat {}K", n / 1024),
        n => format!("lowat {n}"),
    }
}

/// CPU ratio of a row to the baseline row of the same subscriber count and readers; the baseline
/// is the row whose label contains `baseline` and whose protocol is RTMP (the issue compares
/// HTTP-FLV against the baseline's RTMP figure too).
pub fn cpu_ratio(row: &Row, rows: &[Row], baseline: &str) -> Option<f64> {
    let base = rows.iter().find(|b| {
        b.label.contains(baseline)
            && b.protocol == "rtmp"
            && b.subscribers == row.subscribers
            && b.readers == row.readers
    })?;
    match (row.cpu_us, base.cpu_us) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// The side-by-side table, Markdown-compatible so it can go into the README as it is.
pub fn summary_table(rows: &[Row], baseline: Option<&str>) -> String {
    let opt = |x: Option<f64>, digits: usize| match x {
        Some(x) => format!("{x:.digits$}"),
        None => "-".to_string(),
    };
    let pct = |x: Option<f64>| match x {
        Some(x) => format!("{:.1}", x * 100.0),
        None => "-".to_string(),
    };
    let mut header = vec![
        "server",
        "protocol",
        "readers",
        "N",
        "CPU µs/sub·s",
        "RSS KiB/sub",
        "share min %",
        "share med %",
        "lat p50 ms",
        "lat p99 ms",
        "failed",
        "bench µs/sub·s",
    ];
    if baseline.is_some() {
        header.insert(5, "CPU vs base");
    }
    let mut lines: Vec<Vec<String>> = Vec::new();
    for row in rows {
        let mut cells = vec![
            row.label.clone(),
            row.protocol.clone(),
            row.readers.clone(),
            row.subscribers.to_string(),
            opt(row.cpu_us, 0),
            opt(row.rss_kib, 1),
            pct(row.share_min),
            pct(row.share_median),
            opt(row.lat_p50, 1),
            opt(row.lat_p99, 1),
            row.failures.to_string(),
            opt(row.bench_cpu_us, 0),
        ];
        if let Some(b) = baseline {
            cells.insert(
                5,
                match cpu_ratio(row, rows, b) {
                    Some(r) => format!("{r:.2}x"),
                    None => "-".to_string(),
                },
            );
        }
        lines.push(cells);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        out.push('|');
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i < 3 {
                let _ = write!(out, " {c}{} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {}{c} |", " ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(
        &mut out,
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    );
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i < 3 {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w.saturating_sub(1)))
            }
        })
        .collect();
    line(&mut out, &rule);
    for l in &lines {
        line(&mut out, l);
    }
    out
}

/// The targets, for rows whose label contains `candidate`, against the baseline's RTMP
/// row with the same N and readers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    /// CPU per subscriber-second at most this times the baseline's.
    pub max_cpu_ratio: f64,
    /// Every subscriber gets at least this share of the stream's bytes.
    pub min_share: f64,
    /// Server-added latency p99 at most this (the merge window + 50 ms).
    pub max_p99_ms: f64,
    /// RSS growth per subscriber at most this.
    pub max_rss_kib: f64,
}

/// One line per candidate row: each target with its figure and `met` / `NOT MET`, and the
/// number of targets not met over all rows (a missing figure counts as not met).
pub fn check_targets(
    rows: &[Row],
    candidate: &str,
    baseline: &str,
    t: &Targets,
) -> (String, usize) {
    let mut out = String::new();
    let mut missed = 0;
    for row in rows.iter().filter(|r| r.label.contains(candidate)) {
        let mut verdicts = Vec::new();
        let mut verdict = |name: String, ok: Option<bool>| {
            let word = match ok {
                Some(true) => "met",
                _ => {
                    missed += 1;
                    "NOT MET"
                }
            };
            verdicts.push(format!("{name} {word}"));
        };
        let ratio = cpu_ratio(row, rows, baseline);
        // A scale run with no baseline run at its N (5,000 idle-ish subscribers) is held to
        // connecting, reading and memory; its CPU and latency are reported, not compared.
        let compared = rows.iter().any(|b| {
            b.label.contains(baseline)
                && b.subscribers == row.subscribers
                && b.readers == row.readers
        });
        if compared {
            verdict(
                format!(
                    "CPU {} <= {:.2}x:",
                    ratio.map_or("-".into(), |r| format!("{r:.2}x")),
                    t.max_cpu_ratio
                ),
                ratio.map(|r| r <= t.max_cpu_ratio),
            );
        }
        verdict(
            format!(
                "share min {} >= {:.0}%:",
                row.share_min
                    .map_or("-".into(), |s| format!("{:.1}%", s * 100.0)),
                t.min_share * 100.0
            ),
            row.share_min.map(|s| s >= t.min_share),
        );
        verdict(
            format!("failed/disconnected {} = 0:", row.failures),
            Some(row.failures == 0),
        );
        let p99 = row.lat_p99.map_or("-".into(), |p| format!("{p:.1} ms"));
        if compared {
            verdict(
                format!("latency p99 {p99} <= {:.0} ms:", t.max_p99_ms),
                row.lat_p99.map(|p| p <= t.max_p99_ms),
            );
        }
        verdict(
            format!(
                "RSS {} <= {:.0} KiB:",
                row.rss_kib.map_or("-".into(), |r| format!("{r:.1} KiB")),
                t.max_rss_kib
            ),
            row.rss_kib.map(|r| r <= t.max_rss_kib),
        );
        if !compared {
            verdicts.push(format!(
                "scale run (no {baseline} run at this N): CPU {} µs/sub·s, latency p99 {p99} reported only",
                row.cpu_us.map_or("-".into(), |c| format!("{c:.0}"))
            ));
        }
        let _ = writeln!(
            out,
            "- {} {} N={} readers={}: {}",
            row.label,
            row.protocol,
            row.subscribers,
            row.readers,
            verdicts.join("; ")
        );
    }
    (out, missed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_of_no_values_is_none() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[], 0.0), None);
        assert!(Spread::of(vec![]).is_none());
    }

    #[test]
    fn percentile_of_one_value_is_that_value_for_every_p() {
        for p in [0.0, 1.0, 50.0, 99.0, 100.0] {
            assert_eq!(percentile(&[7.5], p), Some(7.5));
        }
    }

    #[test]
    fn p99_of_a_hundred_values_is_the_ninety_ninth() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        // Just above a rank boundary moves to the next value.
        assert_eq!(percentile(&v, 99.5), Some(100.0));
    }

    #[test]
    fn nearest_rank_rounds_up() {
        // 10 values: p50 -> rank 5, p51 -> rank 6, p95 -> rank 10 (9.5 rounds up).
        assert_eq!(nearest_rank(10, 50.0), Some(5));
        assert_eq!(nearest_rank(10, 51.0), Some(6));
        assert_eq!(nearest_rank(10, 95.0), Some(10));
        assert_eq!(nearest_rank(3, 50.0), Some(2));
        assert_eq!(nearest_rank(2, 50.0), Some(1));
        assert_eq!(nearest_rank(0, 50.0), None);
        // Out-of-range p is clamped.
        assert_eq!(nearest_rank(4, 150.0), Some(4));
        assert_eq!(nearest_rank(4, -3.0), Some(1));
        assert_eq!(nearest_rank(4, f64::NAN), Some(1));
    }

    #[test]
    fn spread_sorts_its_input() {
        let s = Spread::of(vec![5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.count, s.min, s.median, s.max), (5, 1.0, 3.0, 5.0));
        assert_eq!(s.p99, 5.0);
    }

    #[test]
    fn histogram_percentiles_agree_with_nearest_rank_within_a_bucket() {
        let mut h = Histogram::new();
        assert_eq!(h.percentile_us(50.0), None);
        assert_eq!(h.max_us(), None);
        // 1 ms .. 100 ms in 1 ms steps.
        for ms in 1..=100u64 {
            h.record(ms * 1000);
        }
        assert_eq!(h.count(), 100);
        // Bucket upper edges: value 99 ms sits in bucket [99.0, 99.1) ms -> 99.1 ms.
        assert_eq!(h.percentile_us(99.0), Some(99_100));
        assert_eq!(h.percentile_us(50.0), Some(50_100));
        // Never above the exact maximum.
        assert_eq!(h.percentile_us(100.0), Some(100_000));
        assert_eq!(h.max_us(), Some(100_000));
        assert_eq!(h.mean_us(), Some(50_500.0));
    }

    #[test]
    fn histogram_overflow_answers_the_maximum() {
        let mut h = Histogram::new();
        h.record(500);
        h.record(20_000_000);
        h.record(30_000_000);
        // Rank 1 of 3: the first bucket's upper edge.
        assert_eq!(h.percentile_us(33.0), Some(600));
        // Rank 2 is in the overflow bucket, where only the maximum is known.
        assert_eq!(h.percentile_us(50.0), Some(30_000_000));
        assert_eq!(h.max_us(), Some(30_000_000));
    }

    #[test]
    fn histograms_merge_and_clear() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(1_000);
        b.record(3_000);
        b.record(2_000);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.percentile_us(50.0), Some(2_100));
        assert_eq!(a.max_us(), Some(3_000));
        a.clear();
        assert_eq!(a.count(), 0);
        assert_eq!(a.percentile_us(50.0), None);
        a.record(100);
        assert_eq!(a.percentile_us(50.0), Some(100));
    }

    #[test]
    fn rates_divide_by_the_interval_and_refuse_an_empty_one() {
        assert_eq!(rate_per_second(100.0, 4.0), Some(25.0));
        assert_eq!(rate_per_second(100.0, 0.0), None);
        assert_eq!(kbit_per_second(125_000, 1.0), Some(1000.0));
        assert_eq!(kbit_per_second(2_500_000, 20.0), Some(1000.0));
        assert_eq!(kbit_per_second(1, -1.0), None);
    }

    #[test]
    fn cpu_per_subscriber_second() {
        // 5 CPU seconds over 1000 subscribers x 20 s = 250 µs per subscriber-second.
        assert_eq!(
            cpu_us_per_subscriber_second(5.0, 1000.0 * 20.0),
            Some(250.0)
        );
        assert_eq!(cpu_us_per_subscriber_second(0.0, 10.0), Some(0.0));
        assert_eq!(cpu_us_per_subscriber_second(1.0, 0.0), None);
        assert_eq!(ticks_to_seconds(250, 100), 2.5);
        assert_eq!(ticks_to_seconds(250, 0), 0.0);
    }

    #[test]
    fn subscriber_seconds_are_clipped_to_the_window() {
        assert_eq!(overlap(0.0, 100.0, 10.0, 30.0), 20.0);
        assert_eq!(overlap(15.0, 100.0, 10.0, 30.0), 15.0);
        assert_eq!(overlap(0.0, 12.5, 10.0, 30.0), 2.5);
        assert_eq!(overlap(0.0, 5.0, 10.0, 30.0), 0.0);
        assert_eq!(overlap(40.0, 50.0, 10.0, 30.0), 0.0);
    }

    #[test]
    fn rss_growth_is_per_subscriber_and_may_be_negative() {
        assert_eq!(
            rss_growth_per_subscriber_kib(10_000, 30_000, 1000),
            Some(20.0)
        );
        assert_eq!(
            rss_growth_per_subscriber_kib(10_000, 9_000, 100),
            Some(-10.0)
        );
        assert_eq!(rss_growth_per_subscriber_kib(1, 2, 0), None);
    }

    #[test]
    fn bitrate_share_is_received_over_published() {
        assert_eq!(bitrate_share(950, 1000), Some(0.95));
        assert_eq!(bitrate_share(0, 1000), Some(0.0));
        assert_eq!(bitrate_share(10, 0), None);
        // Latency at the window edges can make it slightly above one.
        assert_eq!(bitrate_share(1010, 1000), Some(1.01));
    }

    fn row(label: &str, protocol: &str, n: u64, cpu: f64) -> Row {
        Row {
            label: label.into(),
            protocol: protocol.into(),
            subscribers: n,
            readers: "player".into(),
            cpu_us: Some(cpu),
            rss_kib: Some(12.0),
            share_min: Some(0.99),
            share_median: Some(1.0),
            lat_p50: Some(100.0),
            lat_p99: Some(140.0),
            failures: 0,
            bench_cpu_us: Some(20.0),
        }
    }

    #[test]
    fn cpu_ratio_compares_with_the_baselines_rtmp_row_of_the_same_n() {
        let rows = vec![
            row("joy4", "rtmp", 1000, 100.0),
            row("joy4", "http-flv", 1000, 80.0),
            row("nginx-rtmp", "rtmp", 1000, 200.0),
            row("nginx-rtmp", "rtmp", 200, 400.0),
        ];
        assert_eq!(cpu_ratio(&rows[0], &rows, "nginx"), Some(0.5));
        assert_eq!(cpu_ratio(&rows[1], &rows, "nginx"), Some(0.4));
        assert_eq!(cpu_ratio(&rows[2], &rows, "nginx"), Some(1.0));
        assert_eq!(cpu_ratio(&rows[0], &rows, "srs"), None);
        let table = summary_table(&rows, Some("nginx"));
        assert!(table.contains("0.50x"), "{table}");
        assert_eq!(table.lines().count(), 2 + rows.len());
        // Runs with other readers are not compared with each other.
        let mut lowat = rows[2].clone();
        lowat.readers = "lowat 16K".into();
        assert_eq!(
            cpu_ratio(&rows[0], &[rows[0].clone(), lowat], "nginx"),
            None
        );
    }

    #[test]
    fn readers_are_named_by_their_rcvlowat() {
        assert_eq!(readers_name(0), "player");
        assert_eq!(readers_name(16384), "lowat 16K");
        assert_eq!(readers_name(1000), "lowat 1000");
    }

    #[test]
    fn targets_are_checked_per_candidate_row_and_misses_counted() {
        let t = Targets {
            max_cpu_ratio: 0.5,
            min_share: 0.95,
            max_p99_ms: 150.0,
            max_rss_kib: 64.0,
        };
        let rows = vec![
            row("joy4", "rtmp", 1000, 100.0),
            row("joy4", "http-flv", 1000, 120.0),
            row("nginx-rtmp", "rtmp", 1000, 200.0),
        ];
        let (text, missed) = check_targets(&rows, "joy4", "nginx", &t);
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            text.lines()
                .next()
                .unwrap()
                .contains("CPU 0.50x <= 0.50x: met"),
            "{text}"
        );
        assert!(text.contains("CPU 0.60x <= 0.50x: NOT MET"), "{text}");
        assert_eq!(missed, 1);
        // A latency over the bound, a short share and a failure each count.
        let mut bad = rows.clone();
        bad[0].lat_p99 = Some(151.0);
        bad[0].share_min = Some(0.9);
        bad[0].failures = 2;
        bad[0].rss_kib = None;
        let (_, missed) = check_targets(&bad, "joy4", "nginx", &t);
        assert_eq!(missed, 5);
        // A baseline run of another protocol only: the CPU target cannot be met.
        let other = vec![rows[0].clone(), row("nginx-rtmp", "http-flv", 1000, 200.0)];
        let (text, missed) = check_targets(&other, "joy4", "nginx", &t);
        assert!(text.contains("CPU - <= 0.50x: NOT MET"), "{text}");
        assert_eq!(missed, 1);
        // No baseline run at this N at all: a scale run, held to share, failures and memory.
        let mut scale = row("joy4", "rtmp", 5000, 40.0);
        scale.lat_p99 = Some(160.0);
        let (text, missed) = check_targets(&[scale.clone()], "joy4", "nginx", &t);
        assert!(text.contains("scale run"), "{text}");
        assert!(!text.contains("latency p99 160.0 ms <="), "{text}");
        assert_eq!(missed, 0);
        scale.share_min = Some(0.9);
        assert_eq!(check_targets(&[scale], "joy4", "nginx", &t).1, 1);
    }

    #[test]
    fn rows_read_back_from_report_json() {
        let v = serde_json::json!({
            "label": "joy4",
            "config": {"protocol": "rtmp", "subscribers": 200},
            "server": {"cpu_us_per_subscriber_second": 95.5, "rss_growth_per_subscriber_kib": 3.25},
            "per_subscriber": {"share": {"min": 0.97, "median": 0.99}},
            "latency_ms": {"p50": 101.0, "p99": 130.0},
            "subscribers": {"failed": 1, "disconnected": 2},
            "bench": {"cpu_us_per_subscriber_second": 12.0},
        });
        let r = Row::from_json(&v);
        assert_eq!(r.label, "joy4");
        assert_eq!(r.subscribers, 200);
        assert_eq!(r.cpu_us, Some(95.5));
        assert_eq!(r.failures, 3);
        assert_eq!(r.lat_p99, Some(130.0));
        let empty = Row::from_json(&serde_json::json!({}));
        assert_eq!(empty.cpu_us, None);
        assert_eq!(empty.label, "?");
    }
}
