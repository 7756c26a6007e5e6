//! The performance targets a candidate server's rows are checked against.

use std::fmt::Write as _;

use super::row::{cpu_ratio, Row};

/// Performance targets for rows whose label contains `candidate`, against the baseline's RTMP
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
