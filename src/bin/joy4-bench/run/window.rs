//! The main thread's watch over a run: it opens the measurement window once the ramp has settled,
//! samples the server at the window's edges, keeps reading a little past the end, and once a second
//! records a timeline entry and prints a progress line.

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use super::config::Config;
use super::shared::Shared;
use crate::report;
use joy4::net::sys;

/// Reading goes on this long after the window closed, for the messages sent just before.
const DRAIN: Duration = Duration::from_secs(1);

/// The server's `/proc` figures, and when they were read (µs since the bench started).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerSample {
    pub t_us: u64,
    pub proc_: sys::ProcSample,
}

pub fn sample(pid: Option<u32>, shared: &Shared) -> Option<ServerSample> {
    let pid = pid?;
    let p = sys::sample_proc(pid).ok()?;
    Some(ServerSample {
        t_us: shared.now_us(),
        proc_: p,
    })
}

/// What the main thread saw while it watched the run.
pub struct Watched {
    pub at_start: Option<ServerSample>,
    pub self_at_start: Option<sys::ProcSample>,
    pub at_end: Option<ServerSample>,
    pub self_at_end: Option<sys::ProcSample>,
    /// Subscribers connected (and not dropped) when the window opened.
    pub connected_at_start: usize,
    pub max_rss: u64,
    pub max_threads: u64,
    pub timeline: Vec<serde_json::Value>,
    pub ramp_ended_us: Option<u64>,
}

/// Watch the run from the start of the ramp until the window has closed and drained.
pub fn watch(
    cfg: &Config,
    shared: &Shared,
    ramp_start: Instant,
    before: Option<ServerSample>,
    ticks: u64,
) -> Watched {
    let ramp_limit = ramp_start
        + Duration::from_secs_f64(cfg.subscribers as f64 / cfg.ramp)
        + cfg.timeout
        + Duration::from_secs(5);
    let mut seen = Watched {
        at_start: None,
        self_at_start: None,
        at_end: None,
        self_at_end: None,
        connected_at_start: 0,
        max_rss: before.map(|s| s.proc_.rss_kib).unwrap_or(0),
        max_threads: 0,
        timeline: Vec::new(),
        ramp_ended_us: None,
    };
    let mut ticker = Ticker {
        last_tick: Instant::now(),
        last_rx: 0,
        last_cpu: before,
        ticks,
    };
    let mut window_opened = false;
    let mut window_closed = false;
    let mut next_tick = Instant::now() + Duration::from_secs(1);
    while !window_closed {
        // Wake for the next tick or the window's next edge, whichever comes first.
        let (w0, w1) = shared.window();
        let edge = if !window_opened {
            w0
        } else if seen.self_at_end.is_none() {
            w1
        } else {
            w1 + DRAIN.as_micros() as u64
        };
        let mut wake = next_tick;
        if edge != u64::MAX {
            let at = shared.epoch + Duration::from_micros(edge);
            wake = wake.min(at);
        }
        let now = Instant::now();
        if wake > now {
            thread::sleep(wake - now);
        }
        let now_us = shared.now_us();
        if w0 == u64::MAX {
            let settled = shared.attempted.load(Ordering::Acquire) == cfg.subscribers
                && shared.connected.load(Ordering::Acquire) + shared.failed.load(Ordering::Acquire)
                    == cfg.subscribers;
            if settled || Instant::now() >= ramp_limit {
                seen.ramp_ended_us = Some(now_us);
                let start = now_us + cfg.settle.as_micros() as u64;
                shared
                    .window_end
                    .store(start + cfg.duration.as_micros() as u64, Ordering::Release);
                shared.window_start.store(start, Ordering::Release);
            }
        }
        let (w0, w1) = shared.window();
        if !window_opened && now_us >= w0 {
            window_opened = true;
            seen.at_start = sample(cfg.pid, shared);
            seen.self_at_start = sys::sample_self().ok();
            seen.connected_at_start =
                shared.connected.load(Ordering::Acquire) - shared.dropped.load(Ordering::Acquire);
        }
        if window_opened && now_us >= w1 && seen.at_end.is_none() && seen.self_at_end.is_none() {
            seen.at_end = sample(cfg.pid, shared);
            seen.self_at_end = sys::sample_self().ok();
        }
        // Messages sent just before the window closed are still on their way: keep reading a little.
        if window_opened && now_us >= w1 + DRAIN.as_micros() as u64 {
            window_closed = true;
        }
        if Instant::now() >= next_tick {
            next_tick += Duration::from_secs(1);
            ticker.tick(cfg, shared, w0, now_us, &mut seen);
        }
    }
    seen
}

/// The once-a-second sample: the figures of the last second against the previous tick's.
struct Ticker {
    last_tick: Instant,
    last_rx: u64,
    last_cpu: Option<ServerSample>,
    ticks: u64,
}

impl Ticker {
    fn tick(&mut self, cfg: &Config, shared: &Shared, w0: u64, now_us: u64, seen: &mut Watched) {
        let s = sample(cfg.pid, shared);
        if let Some(s) = s {
            seen.max_rss = seen.max_rss.max(s.proc_.rss_kib);
            seen.max_threads = seen.max_threads.max(s.proc_.threads);
        }
        let dt = self.last_tick.elapsed().as_secs_f64();
        self.last_tick = Instant::now();
        let rx = shared.rx_bytes.load(Ordering::Relaxed);
        let rx_mbps = (rx - self.last_rx) as f64 * 8.0 / 1e6 / dt.max(1e-3);
        self.last_rx = rx;
        let cpu_pct = match (self.last_cpu, s) {
            (Some(a), Some(b)) if b.t_us > a.t_us => Some(
                report::ticks_to_seconds(b.proc_.cpu_ticks - a.proc_.cpu_ticks, self.ticks) * 1e6
                    / (b.t_us - a.t_us) as f64
                    * 100.0,
            ),
            _ => None,
        };
        if s.is_some() {
            self.last_cpu = s;
        }
        let (p50, p99) = {
            let mut l = shared.latency.lock();
            let r = (
                l.interval.percentile_us(50.0),
                l.interval.percentile_us(99.0),
            );
            l.interval.clear();
            r
        };
        let phase = if w0 == u64::MAX {
            "ramp"
        } else if now_us < w0 {
            "settle"
        } else {
            "measure"
        };
        let t = now_us as f64 / 1e6;
        seen.timeline.push(json!({
            "t": report::round3(t),
            "phase": phase,
            "attempted": shared.attempted.load(Ordering::Relaxed),
            "connected": shared.connected.load(Ordering::Relaxed),
            "failed": shared.failed.load(Ordering::Relaxed),
            "dropped": shared.dropped.load(Ordering::Relaxed),
            "rx_mbit_s": report::round3(rx_mbps),
            "latency_p50_ms": p50.map(|u| report::round3(u as f64 / 1000.0)),
            "latency_p99_ms": p99.map(|u| report::round3(u as f64 / 1000.0)),
            "server_cpu_percent": cpu_pct.map(report::round3),
            "server_rss_kib": s.map(|s| s.proc_.rss_kib),
        }));
        if cfg.quiet {
            return;
        }
        let ms = |u: Option<u64>| match u {
            Some(u) => format!("{:.1}", u as f64 / 1000.0),
            None => "-".into(),
        };
        let server = match s {
            Some(s) => format!(
                " | server cpu {} rss {:.1} MiB",
                cpu_pct.map(|c| format!("{c:.1}%")).unwrap_or("-".into()),
                s.proc_.rss_kib as f64 / 1024.0
            ),
            None => String::new(),
        };
        eprintln!(
            "[{t:6.1}s] {phase:<7} subs {}/{} ok, {} failed, {} dropped | rx {rx_mbps:.1} Mbit/s | latency p50 {} p99 {} ms{server}",
            shared.connected.load(Ordering::Relaxed),
            cfg.subscribers,
            shared.failed.load(Ordering::Relaxed),
            shared.dropped.load(Ordering::Relaxed),
            ms(p50),
            ms(p99),
        );
    }
}
