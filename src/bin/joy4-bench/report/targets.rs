//! The performance targets a candidate server's rows are checked against, each row against the
//! baseline's RTMP row with the same N and readers.
//!
//! The CPU and latency targets depend on the audience. Small audiences get a write per message (as
//! nginx-rtmp does): their CPU is not compared, and up to N = 20 their latency is held to the
//! baseline's. The merge window grows with the audience between, so latency has no target there.
//! From N = 200 CPU is compared, and latency is held to the full merge window.

use std::fmt::Write as _;

use super::row::{baseline_row, cpu_ratio, same_case, Row};

/// RSS growth per subscriber at most this, KiB, from `LARGE_N` subscribers (below, the server's
/// fixed costs spread over few subscribers dominate the figure).
pub const MAX_RSS_KIB: f64 = 16.0;
/// Every subscriber gets at least this share of the stream's bytes (and none fails).
pub const MIN_SHARE: f64 = 0.95;
/// Below this N there is no CPU target; from it, CPU at most `MID_CPU_RATIO` x the baseline's.
pub const CPU_FROM_N: u64 = 200;
pub const MID_CPU_RATIO: f64 = 0.5;
/// From this N, CPU at most `LARGE_CPU_RATIO_PLAYER` (player readers) or
/// `LARGE_CPU_RATIO_LOWAT` (lowat readers) x the baseline's.
pub const LARGE_N: u64 = 1000;
pub const LARGE_CPU_RATIO_PLAYER: f64 = 0.35;
pub const LARGE_CPU_RATIO_LOWAT: f64 = 0.45;
/// Up to this N, latency p99 at most the baseline's p99 plus `SMALL_P99_MARGIN_MS`.
pub const SMALL_N: u64 = 20;
pub const SMALL_P99_MARGIN_MS: f64 = 20.0;
/// From `CPU_FROM_N`, latency p99 at most the merge window plus `LARGE_P99_MARGIN_MS`.
pub const LARGE_P99_MARGIN_MS: f64 = 30.0;
/// Channel runs: CPU per channel-second at most this x the baseline's.
pub const CHANNELS_CPU_RATIO: f64 = 0.6;
/// Storms: the polled API answers every request within this.
pub const STORM_API_MAX_MS: f64 = 50.0;

/// The targets of one summary: only the merge window joy4 ran with is a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    pub window_ms: f64,
}

/// What a row's latency p99 is held to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencyRule {
    /// At most the baseline's p99 (same N and readers) plus this many ms.
    BaselinePlus(f64),
    /// At most this many ms: the merge window plus a margin.
    AtMost(f64),
    /// No target: between small and large audiences the merge window grows with N.
    Free,
}

impl Targets {
    /// CPU at most this times the baseline's, for `n` subscribers with these readers; `None`
    /// below `CPU_FROM_N`.
    pub fn max_cpu_ratio(&self, n: u64, readers: &str) -> Option<f64> {
        match n {
            n if n >= LARGE_N && readers == "player" => Some(LARGE_CPU_RATIO_PLAYER),
            n if n >= LARGE_N => Some(LARGE_CPU_RATIO_LOWAT),
            n if n >= CPU_FROM_N => Some(MID_CPU_RATIO),
            _ => None,
        }
    }

    pub fn latency_rule(&self, n: u64) -> LatencyRule {
        match n {
            n if n <= SMALL_N => LatencyRule::BaselinePlus(SMALL_P99_MARGIN_MS),
            n if n >= CPU_FROM_N => LatencyRule::AtMost(self.window_ms + LARGE_P99_MARGIN_MS),
            _ => LatencyRule::Free,
        }
    }

    /// The rules in one paragraph, for the head of the verdicts.
    pub fn describe(&self, baseline: &str) -> String {
        format!(
            "RSS <= {MAX_RSS_KIB:.0} KiB per subscriber for N >= {LARGE_N}; share min >= {:.0} %, none failed; \
             CPU <= {LARGE_CPU_RATIO_PLAYER}x {baseline} (player readers) or {LARGE_CPU_RATIO_LOWAT}x \
             (lowat readers) for N >= {LARGE_N}, <= {MID_CPU_RATIO}x for N >= {CPU_FROM_N}, none below; \
             latency p99 <= {baseline}'s p99 + {SMALL_P99_MARGIN_MS:.0} ms for N <= {SMALL_N}, \
             <= {:.0} ms merge window + {LARGE_P99_MARGIN_MS:.0} ms for N >= {CPU_FROM_N}, none between",
            MIN_SHARE * 100.0,
            self.window_ms,
        )
    }
}

/// One line per candidate row: each target with its figure and `met` / `NOT MET` (a figure
/// without a target is shown in brackets), and the number of targets not met over all rows (a
/// missing figure counts as not met).
pub fn check_targets(
    rows: &[Row],
    candidate: &str,
    baseline: &str,
    t: &Targets,
) -> (String, usize) {
    let ms = |x: Option<f64>| x.map_or("-".into(), |p| format!("{p:.1} ms"));
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
        if row.is_channels_run() || row.is_storm() {
            let base = baseline_row(row, rows, baseline);
            if row.is_channels_run() {
                channel_verdicts(row, base, baseline, &mut verdict);
            } else {
                let note = storm_verdicts(row, base, baseline, &mut verdict);
                verdicts.push(note);
            }
            let _ = writeln!(
                out,
                "- {} {} N={} readers={}{}: {}",
                row.label,
                row.protocol,
                row.subscribers,
                row.readers,
                shape(row),
                verdicts.join("; ")
            );
            continue;
        }
        // A scale run with no baseline run at its N (5,000 idle-ish subscribers) is held to
        // connecting, reading and memory; its CPU and latency are reported, not compared.
        let compared = rows
            .iter()
            .any(|b| b.label.contains(baseline) && same_case(b, row));
        let ratio = cpu_ratio(row, rows, baseline);
        let ratio_text = ratio.map_or("-".into(), |r| format!("{r:.2}x"));
        let mut notes = Vec::new();
        match t.max_cpu_ratio(row.subscribers, &row.readers) {
            Some(max) if compared => verdict(
                format!("CPU {ratio_text} <= {max:.2}x:"),
                ratio.map(|r| r <= max),
            ),
            None if compared => notes.push(format!(
                "(CPU {ratio_text}: no target below N = {CPU_FROM_N})"
            )),
            _ => {}
        }
        served_verdicts(row, &mut verdict);
        let p99 = ms(row.lat_p99);
        match t.latency_rule(row.subscribers) {
            _ if !compared => {}
            LatencyRule::BaselinePlus(margin) => {
                let base_p99 = baseline_row(row, rows, baseline).and_then(|b| b.lat_p99);
                let max = base_p99.map(|b| b + margin);
                verdict(
                    format!(
                        "latency p99 {p99} <= {} ({baseline}'s {} + {margin:.0} ms):",
                        ms(max),
                        ms(base_p99)
                    ),
                    row.lat_p99.zip(max).map(|(p, m)| p <= m),
                );
            }
            LatencyRule::AtMost(max) => verdict(
                format!("latency p99 {p99} <= {max:.0} ms:"),
                row.lat_p99.map(|p| p <= max),
            ),
            LatencyRule::Free => notes.push(format!(
                "(latency p99 {p99}: no target for {SMALL_N} < N < {CPU_FROM_N})"
            )),
        }
        let rss = row.rss_kib.map_or("-".into(), |r| format!("{r:.1} KiB"));
        if row.subscribers >= LARGE_N {
            verdict(
                format!("RSS {rss} <= {MAX_RSS_KIB:.0} KiB:"),
                row.rss_kib.map(|r| r <= MAX_RSS_KIB),
            );
        } else {
            notes.push(format!("(RSS {rss}: no target below N = {LARGE_N})"));
        }
        if !compared {
            notes.push(format!(
                "scale run (no {baseline} run at this N): CPU {} µs/sub·s, latency p99 {p99} reported only",
                row.cpu_us.map_or("-".into(), |c| format!("{c:.0}"))
            ));
        }
        verdicts.extend(notes);
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

/// How a channels or storm row is named in its verdict line.
fn shape(row: &Row) -> String {
    if row.is_channels_run() {
        format!(" channels={}", row.channels)
    } else {
        format!(" storm={:.0}/s", row.ramp)
    }
}

/// Many channels with few viewers each: CPU per channel-second at most `CHANNELS_CPU_RATIO` x
/// the baseline's and memory per channel at most the baseline's, with every viewer served.
fn channel_verdicts(
    row: &Row,
    base: Option<&Row>,
    baseline: &str,
    verdict: &mut impl FnMut(String, Option<bool>),
) {
    let ratio = row
        .cpu_us_per_channel
        .zip(base.and_then(|b| b.cpu_us_per_channel))
        .filter(|(_, b)| *b > 0.0)
        .map(|(a, b)| a / b);
    verdict(
        format!(
            "CPU per channel {} <= {CHANNELS_CPU_RATIO:.2}x:",
            ratio.map_or("-".into(), |r| format!("{r:.2}x"))
        ),
        ratio.map(|r| r <= CHANNELS_CPU_RATIO),
    );
    let kib = |x: Option<f64>| x.map_or("-".into(), |k| format!("{k:.0} KiB"));
    let base_rss = base.and_then(|b| b.rss_kib_per_channel);
    verdict(
        format!(
            "memory per channel {} <= {baseline}'s {}:",
            kib(row.rss_kib_per_channel),
            kib(base_rss)
        ),
        row.rss_kib_per_channel.zip(base_rss).map(|(a, b)| a <= b),
    );
    served_verdicts(row, verdict);
}

/// A storm of connections: every one served, and the API (when polled) answering within
/// `STORM_API_MAX_MS` all along. Returns the note that reports first keyframes beside the
/// baseline's.
fn storm_verdicts(
    row: &Row,
    base: Option<&Row>,
    baseline: &str,
    verdict: &mut impl FnMut(String, Option<bool>),
) -> String {
    served_verdicts(row, verdict);
    if row.poll_max.is_some() || row.poll_failures > 0 {
        verdict(
            format!(
                "API max {} < {STORM_API_MAX_MS:.0} ms, {} failed:",
                row.poll_max.map_or("-".into(), |m| format!("{m:.1} ms")),
                row.poll_failures
            ),
            row.poll_max
                .map(|m| m < STORM_API_MAX_MS && row.poll_failures == 0),
        );
    }
    let ms = |x: Option<f64>| x.map_or("-".into(), |m| format!("{m:.0}"));
    format!(
        "(1st key p50/p99 {}/{} ms; {baseline}'s {}/{} ms)",
        ms(row.first_key_p50),
        ms(row.first_key_p99),
        ms(base.and_then(|b| b.first_key_p50)),
        ms(base.and_then(|b| b.first_key_p99)),
    )
}

fn served_verdicts(row: &Row, verdict: &mut impl FnMut(String, Option<bool>)) {
    verdict(
        format!(
            "share min {} >= {:.0}%:",
            row.share_min
                .map_or("-".into(), |s| format!("{:.1}%", s * 100.0)),
            MIN_SHARE * 100.0
        ),
        row.share_min.map(|s| s >= MIN_SHARE),
    );
    verdict(
        format!("failed/disconnected {} = 0:", row.failures),
        Some(row.failures == 0),
    );
}
