//! One bench run: a publisher thread, a ramp that opens subscribers through a few connector threads,
//! a couple of reader threads that serve every subscriber socket from an epoll set, and the main
//! thread that samples the server every second, prints progress, and ends the run on time.
//!
//! ```text
//! publisher --RTMP--> server ==fan-out==> N subscriber sockets
//!    | send time per (type, timestamp)            | connector threads: connect, handshake, play
//!    v                                            v
//!  SendLog  <---- lookup on arrival ----  reader threads (epoll; skim chunk/tag headers only)
//! ```
//!
//! Measurement window: it opens `settle` after the last subscriber's setup ended (connected or
//! failed) and lasts `duration`. CPU, bytes, frames, latency and the bitrate share are counted inside
//! it; RSS growth compares the server before the first subscriber with the server at its start.

use std::fs;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel as channel;
use parking_lot::Mutex;

use crate::report;
use crate::stream::Source;
use joy4::net::sys;

mod config;
mod figures;
mod publisher;
mod ramp;
mod reader;
mod setup;
mod shared;
mod subscriber;
mod window;

pub use config::{Config, SourceSpec, MAX_SUBSCRIBERS};
use figures::Figures;
use publisher::publisher;
use ramp::{connector_loop, ramp_loop};
use reader::{reader_loop, Reader};
use shared::Shared;
use subscriber::SubStats;
use window::{sample, watch};

const THREAD_STACK: usize = 256 * 1024;

/// What `run` hands back: the JSON document and the table for people.
pub struct Outcome {
    pub json: serde_json::Value,
    pub table: String,
}

pub fn run(cfg: Config) -> Result<Outcome, String> {
    cfg.check()?;
    let cfg = Arc::new(cfg);
    let nofile = joy4::net::raise_fd_limit().ok();
    if let Some((soft, _)) = nofile {
        if (soft as usize) < cfg.subscribers + 64 {
            eprintln!(
                "joy4-bench: warning: open-file limit {soft} is below {} subscribers + 64",
                cfg.subscribers
            );
        }
    }
    let sources = (0..cfg.channels)
        .map(|_| match &cfg.source {
            SourceSpec::Synthetic(p) => Ok(Source::synthetic(*p)),
            SourceSpec::File(path) => {
                let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                Source::from_flv(&bytes).map_err(|e| format!("{}: {e}", path.display()))
            }
        })
        .collect::<Result<Vec<Source>, String>>()?;
    let play_addr = cfg
        .play
        .resolve()
        .map_err(|e| format!("play URL host {}: {e}", cfg.play.host()))?;
    let shared = Arc::new(Shared::new(cfg.channels));
    let ticks = sys::clock_ticks_per_second();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);

    // Publishers first; subscribers only once they publish and the warm-up has passed.
    let before_publish = sample(cfg.pid, &shared);
    let (ready_tx, ready_rx) = channel::bounded(cfg.channels);
    let mut publisher_threads = Vec::new();
    for (k, source) in sources.into_iter().enumerate() {
        let (cfg, run, ready) = (cfg.clone(), shared.clone(), ready_tx.clone());
        let spawned = thread::Builder::new()
            .name(format!("bench-publisher-{k}"))
            .stack_size(THREAD_STACK)
            .spawn(move || publisher(cfg, run, k, source, ready));
        match spawned {
            Ok(t) => publisher_threads.push(t),
            Err(e) => {
                stop_all(&shared, publisher_threads);
                return Err(e.to_string());
            }
        }
    }
    let ready_by = Instant::now() + cfg.timeout + Duration::from_secs(1);
    for _ in 0..cfg.channels {
        let left = ready_by.saturating_duration_since(Instant::now());
        match ready_rx.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                stop_all(&shared, publisher_threads);
                return Err(e);
            }
            Err(_) => {
                stop_all(&shared, publisher_threads);
                return Err("the publishers did not get going in time".into());
            }
        }
    }
    let poller = cfg.poll.clone().map(|url| {
        let shared = shared.clone();
        thread::Builder::new()
            .name("bench-poll".into())
            .stack_size(THREAD_STACK)
            .spawn(move || poll_loop(&url, &shared))
    });
    progress(&cfg, &shared, "warmup");
    sleep_while(&shared, cfg.warmup);
    if let Some(e) = shared.publisher_error.lock().clone() {
        stop_all(&shared, publisher_threads);
        return Err(e);
    }

    let before = sample(cfg.pid, &shared);
    let self_before = sys::sample_self().ok();

    // Readers.
    let mut readers = Vec::new();
    let mut reader_threads = Vec::new();
    for i in 0..cfg.readers {
        let r = Arc::new(Reader {
            epoll: sys::Epoll::new().map_err(|e| format!("epoll: {e}"))?,
            pending: Mutex::new(Vec::new()),
        });
        readers.push(r.clone());
        let (shared, cfg) = (shared.clone(), cfg.clone());
        reader_threads.push(
            thread::Builder::new()
                .name(format!("bench-reader-{i}"))
                .stack_size(THREAD_STACK)
                .spawn(move || reader_loop(r, shared, cfg))
                .map_err(|e| e.to_string())?,
        );
    }

    // Connectors, fed by the ramp.
    let (ramp_tx, ramp_rx) = channel::unbounded::<usize>();
    let probe_every = if cfg.rcvlowat == 0 || cfg.probes >= cfg.subscribers {
        1
    } else {
        cfg.subscribers.div_ceil(cfg.probes.max(1))
    };
    let mut connector_threads = Vec::new();
    for i in 0..cfg.connectors.min(cfg.subscribers) {
        let (rx, shared, cfg, readers) = (
            ramp_rx.clone(),
            shared.clone(),
            cfg.clone(),
            readers.clone(),
        );
        connector_threads.push(
            thread::Builder::new()
                .name(format!("bench-connect-{i}"))
                .stack_size(THREAD_STACK)
                .spawn(move || connector_loop(rx, &shared, &cfg, &readers, probe_every, play_addr))
                .map_err(|e| e.to_string())?,
        );
    }
    drop(ramp_rx);
    let ramp_start = Instant::now();
    let ramp_thread = {
        let (shared, n, rate) = (shared.clone(), cfg.subscribers, cfg.ramp);
        thread::Builder::new()
            .name("bench-ramp".into())
            .stack_size(THREAD_STACK)
            .spawn(move || ramp_loop(&shared, n, rate, ramp_start, ramp_tx))
            .map_err(|e| e.to_string())?
    };

    // Main loop: one progress line a second; open and close the window.
    let seen = watch(&cfg, &shared, ramp_start, before, ticks);
    let hwm = sample(cfg.pid, &shared).map(|s| s.proc_.hwm_kib);

    // Stop everything and collect.
    shared.stop.store(true, Ordering::Release);
    let _ = ramp_thread.join();
    let mut all: Vec<SubStats> = Vec::new();
    for t in connector_threads {
        all.extend(t.join().unwrap_or_default());
    }
    for t in reader_threads {
        all.extend(t.join().unwrap_or_default());
    }
    stop_all(&shared, publisher_threads);
    if let Some(Ok(t)) = poller {
        let _ = t.join();
    }
    all.sort_by_key(|s| s.id);

    let (w0, w1) = shared.window();
    let window_s = (w1 - w0) as f64 / 1e6;
    let ctx = Figures {
        cfg: &cfg,
        shared: &shared,
        subs: &all,
        w0,
        w1,
        window_s,
        ticks,
        before_publish,
        before,
        at_start: seen.at_start,
        at_end: seen.at_end,
        hwm,
        max_rss: seen.max_rss,
        max_threads: seen.max_threads,
        self_before,
        self_at_start: seen.self_at_start,
        self_at_end: seen.self_at_end,
        connected_at_start: seen.connected_at_start,
        ramp_ended_us: seen.ramp_ended_us,
        started_unix,
        timeline: seen.timeline,
        nofile,
    };
    let json = ctx.json();
    let table = report::table(&json);
    Ok(Outcome { json, table })
}

/// Stop the run and wait for the publishers.
fn stop_all(shared: &Shared, publishers: Vec<thread::JoinHandle<()>>) {
    shared.stop.store(true, Ordering::Release);
    for t in publishers {
        let _ = t.join();
    }
}

/// Fetch `url` every 100 ms until the run stops, recording how long each answer took.
fn poll_loop(url: &crate::target::Target, shared: &Shared) {
    while !shared.stopping() {
        let started = Instant::now();
        let answered = crate::target::http_get_status(url, Duration::from_secs(5));
        let took = started.elapsed().as_micros() as u64;
        {
            let mut poll = shared.poll.lock();
            match answered {
                Ok(status) if (200..300).contains(&status) => poll.0.record(took),
                _ => poll.1 += 1,
            }
        }
        thread::sleep(Duration::from_millis(100).saturating_sub(started.elapsed()));
    }
}

fn sleep_while(shared: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !shared.stopping() {
        thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
    }
}

fn progress(cfg: &Config, shared: &Shared, what: &str) {
    if !cfg.quiet {
        eprintln!(
            "[{:6.1}s] {what:<7} publishing to {}",
            shared.now_us() as f64 / 1e6,
            cfg.publish
        );
    }
}
