//! Every figure of a run as the JSON document `--json` writes.

use std::collections::BTreeMap;

use serde_json::json;

use super::config::{Config, SourceSpec};
use super::shared::Shared;
use super::subscriber::SubStats;
use super::window::ServerSample;
use crate::report::{self, Spread};
use joy4::net::sys;

/// What a finished run measured, with the run's config: the inputs of its JSON report.
pub struct Figures<'a> {
    pub cfg: &'a Config,
    pub shared: &'a Shared,
    pub subs: &'a [SubStats],
    pub w0: u64,
    pub w1: u64,
    pub window_s: f64,
    pub ticks: u64,
    /// The server before any publisher (memory per channel counts from here).
    pub before_publish: Option<ServerSample>,
    pub before: Option<ServerSample>,
    pub at_start: Option<ServerSample>,
    pub at_end: Option<ServerSample>,
    pub hwm: Option<u64>,
    pub max_rss: u64,
    pub max_threads: u64,
    pub self_before: Option<sys::ProcSample>,
    pub self_at_start: Option<sys::ProcSample>,
    pub self_at_end: Option<sys::ProcSample>,
    pub connected_at_start: usize,
    pub ramp_ended_us: Option<u64>,
    pub started_unix: u64,
    pub timeline: Vec<serde_json::Value>,
    pub nofile: Option<(u64, u64)>,
}

impl Figures<'_> {
    pub fn json(&self) -> serde_json::Value {
        let cfg = self.cfg;
        let us_s = |u: u64| u as f64 / 1e6;
        let connected: Vec<&SubStats> = self
            .subs
            .iter()
            .filter(|s| s.connected_us.is_some())
            .collect();
        let failed: Vec<&SubStats> = self
            .subs
            .iter()
            .filter(|s| s.connected_us.is_none())
            .collect();
        // Dropped: connected, then ended with an error before the window closed.
        let dropped: Vec<&SubStats> = connected
            .iter()
            .copied()
            .filter(|s| s.error.is_some() && s.ended_us.is_some_and(|e| e < self.w1))
            .collect();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for s in failed.iter().chain(dropped.iter()) {
            *reasons
                .entry(s.error.clone().unwrap_or_else(|| "not started".into()))
                .or_default() += 1;
        }
        let (published, published_frames) = self.shared.published_total();
        let pub_window = published.in_window();
        let spread = |v: Vec<f64>| Spread::of(v).map(|s| s.to_json());
        // Each subscriber against what its own channel published.
        let channel_bytes = |s: &SubStats| self.shared.channels[s.channel].bytes.lock().in_window();
        let channel_frames =
            |s: &SubStats| self.shared.channels[s.channel].frames.lock().in_window();
        let shares: Vec<f64> = connected
            .iter()
            .filter_map(|s| report::bitrate_share(s.bytes.in_window(), channel_bytes(s)))
            .collect();
        let below_95 = shares.iter().filter(|&&x| x < 0.95).count();
        // Who missed frames of the window, for a look at why (first 20).
        let short: Vec<serde_json::Value> = connected
            .iter()
            .filter(|s| s.frames.in_window() < channel_frames(s))
            .take(20)
            .map(|s| {
                json!({
                    "id": s.id, "channel": s.channel, "probe": s.probe, "frames": s.frames.in_window(),
                    "bytes": s.bytes.in_window(), "ended_s": s.ended_us.map(|u| report::round3(us_s(u))),
                    "error": s.error,
                })
            })
            .collect();
        let short_count = connected
            .iter()
            .filter(|s| s.frames.in_window() < channel_frames(s))
            .count();
        let ms_since = |from: u64, to: Option<u64>| to.map(|t| t.saturating_sub(from) as f64 / 1e3);
        let ttfb: Vec<f64> = connected
            .iter()
            .filter_map(|s| ms_since(s.start_us, s.first_media_us))
            .collect();
        let ttfk: Vec<f64> = connected
            .iter()
            .filter_map(|s| ms_since(s.start_us, s.first_key_us))
            .collect();
        let setup: Vec<f64> = connected
            .iter()
            .filter_map(|s| ms_since(s.start_us, s.connected_us))
            .collect();
        let sub_seconds: f64 = connected
            .iter()
            .map(|s| {
                report::overlap(
                    us_s(s.connected_us.unwrap_or(0)),
                    us_s(s.ended_us.unwrap_or(self.w1).min(self.w1)),
                    us_s(self.w0),
                    us_s(self.w1),
                )
            })
            .sum();
        let (matched, replayed, unmatched) = self.subs.iter().fold((0, 0, 0), |a, s| {
            (a.0 + s.matched, a.1 + s.replayed, a.2 + s.unmatched)
        });
        let latency = self.shared.latency.lock();
        let probes = connected.iter().filter(|s| s.probe).count();

        let server = match (self.before, self.at_start, self.at_end) {
            (Some(b), Some(s), Some(e)) => {
                let cpu = report::ticks_to_seconds(
                    e.proc_.cpu_ticks.saturating_sub(s.proc_.cpu_ticks),
                    self.ticks,
                );
                let secs = (e.t_us - s.t_us) as f64 / 1e6;
                json!({
                    "pid": cfg.pid,
                    "cpu_seconds": report::round3(cpu),
                    "cpu_percent": report::rate_per_second(cpu * 100.0, secs).map(report::round3),
                    "cpu_us_per_subscriber_second":
                        report::cpu_us_per_subscriber_second(cpu, sub_seconds).map(report::round3),
                    "rss_before_kib": b.proc_.rss_kib,
                    "rss_after_ramp_kib": s.proc_.rss_kib,
                    "rss_end_kib": e.proc_.rss_kib,
                    "rss_growth_per_subscriber_kib": report::rss_growth_per_subscriber_kib(
                        b.proc_.rss_kib, s.proc_.rss_kib, self.connected_at_start).map(report::round3),
                    "channels": cfg.channels,
                    "cpu_us_per_channel_second":
                        report::cpu_us_per_subscriber_second(cpu, cfg.channels as f64 * secs).map(report::round3),
                    "rss_before_publishers_kib": self.before_publish.map(|p| p.proc_.rss_kib),
                    "rss_growth_per_channel_kib": self.before_publish.and_then(|p|
                        report::rss_growth_per_subscriber_kib(p.proc_.rss_kib, s.proc_.rss_kib, cfg.channels))
                        .map(report::round3),
                    "peak_rss_kib": self.hwm,
                    "max_sampled_rss_kib": self.max_rss,
                    "max_threads": self.max_threads,
                })
            }
            _ => json!({"pid": cfg.pid}),
        };
        let bench = match (self.self_before, self.self_at_start, self.self_at_end) {
            (Some(b), Some(s), Some(e)) => {
                let cpu =
                    report::ticks_to_seconds(e.cpu_ticks.saturating_sub(s.cpu_ticks), self.ticks);
                json!({
                    "cpu_seconds": report::round3(cpu),
                    "cpu_us_per_subscriber_second":
                        report::cpu_us_per_subscriber_second(cpu, sub_seconds).map(report::round3),
                    "rss_before_kib": b.rss_kib,
                    "rss_end_kib": e.rss_kib,
                    "threads": e.threads,
                })
            }
            _ => json!({}),
        };
        let source = match &cfg.source {
            SourceSpec::Synthetic(p) => json!({"synthetic": {
                "kbps": p.kbps, "gop_s": p.gop_s, "fps": p.fps}}),
            SourceSpec::File(path) => json!({"file": path.display().to_string()}),
        };
        json!({
            "tool": "joy4-bench",
            "version": env!("CARGO_PKG_VERSION"),
            "label": cfg.label,
            "started_unix": self.started_unix,
            "config": {
                "publish_url": cfg.publish.to_string(),
                "play_url": cfg.play.to_string(),
                "channels": cfg.channels,
                "protocol": cfg.play.protocol(),
                "subscribers": cfg.subscribers,
                "ramp_per_second": cfg.ramp,
                "duration_s": cfg.duration.as_secs_f64(),
                "warmup_s": cfg.warmup.as_secs_f64(),
                "settle_s": cfg.settle.as_secs_f64(),
                "source": source,
                "probes": cfg.probes,
                "rcvlowat": cfg.rcvlowat,
                "readers": cfg.readers,
                "connectors": cfg.connectors,
                "timeout_s": cfg.timeout.as_secs_f64(),
                "nofile_limit": self.nofile.map(|(s, h)| json!({"soft": s, "hard": h})),
            },
            "window": {
                "ramp_ended_s": self.ramp_ended_us.map(|u| report::round3(us_s(u))),
                "start_s": report::round3(us_s(self.w0)),
                "end_s": report::round3(us_s(self.w1)),
                "seconds": report::round3(self.window_s),
                "subscriber_seconds": report::round3(sub_seconds),
            },
            "stream": {
                "published_bytes": published.in_window(),
                "published_frames": published_frames.in_window(),
                "published_kbps": report::kbit_per_second(pub_window, self.window_s).map(report::round3),
                "published_bytes_total": published.total,
                "publisher_error": self.shared.publisher_error.lock().clone(),
            },
            "subscribers": {
                "attempted": self.subs.len(),
                "connected": connected.len(),
                "connected_at_window_start": self.connected_at_start,
                "failed": failed.len(),
                "disconnected": dropped.len(),
                "reasons": reasons,
            },
            "per_subscriber": {
                "bytes": spread(connected.iter().map(|s| s.bytes.in_window() as f64).collect()),
                "frames": spread(connected.iter().map(|s| s.frames.in_window() as f64).collect()),
                "bytes_total": spread(connected.iter().map(|s| s.bytes.total as f64).collect()),
                "share": spread(shares.clone()),
                "share_below_95_percent": below_95,
                "missing_frames_count": short_count,
                "missing_frames_examples": short,
            },
            "setup_ms": spread(setup),
            "time_to_first_byte_ms": spread(ttfb),
            "time_to_first_keyframe_ms": spread(ttfk),
            "latency_ms": {
                "probes": probes,
                "matched_messages": matched,
                "replayed_messages": replayed,
                "unmatched_messages": unmatched,
                "samples": latency.probes.count(),
                "p50": latency.probes.percentile_us(50.0).map(|u| report::round3(u as f64 / 1e3)),
                "p95": latency.probes.percentile_us(95.0).map(|u| report::round3(u as f64 / 1e3)),
                "p99": latency.probes.percentile_us(99.0).map(|u| report::round3(u as f64 / 1e3)),
                "max": latency.probes.max_us().map(|u| report::round3(u as f64 / 1e3)),
            },
            "latency_all_subscribers_ms": latency.all.to_json_ms(),
            "poll_ms": cfg.poll.as_ref().map(|url| {
                let (answers, failures) = &*self.shared.poll.lock();
                let ms = |u: Option<u64>| u.map(|u| report::round3(u as f64 / 1e3));
                json!({
                    "url": url.to_string(),
                    "answers": answers.count(),
                    "failures": failures,
                    "p50": ms(answers.percentile_us(50.0)),
                    "p99": ms(answers.percentile_us(99.0)),
                    "max": ms(answers.max_us()),
                })
            }),
            "server": server,
            "bench": bench,
            "timeline": self.timeline,
        })
    }
}
