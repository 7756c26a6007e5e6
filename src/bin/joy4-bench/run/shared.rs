//! The state the bench's threads share: clocks, the send log, counters, latency histograms.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::report::Histogram;
use crate::sendlog::SendLog;

/// Bytes (or frames) counted before the window opened and before it closed: their difference is the
/// amount inside the window, without any thread having to take a snapshot at the right moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowCount {
    pub total: u64,
    pub before_start: u64,
    pub before_end: u64,
}

impl WindowCount {
    pub fn add(&mut self, t: u64, n: u64, w: (u64, u64)) {
        self.total += n;
        if t < w.0 {
            self.before_start += n;
        }
        if t < w.1 {
            self.before_end += n;
        }
    }

    pub fn in_window(&self) -> u64 {
        self.before_end.saturating_sub(self.before_start)
    }
}

/// Server-added latency, in µs from a message's send time to its arrival at a subscriber.
#[derive(Default)]
pub struct Latency {
    /// Probe samples of the current second (progress line); cleared by the main thread.
    pub interval: Histogram,
    /// Probe samples inside the window: the reported figure.
    pub probes: Histogram,
    /// Samples of every subscriber inside the window, SO_RCVLOWAT batching included.
    pub all: Histogram,
}

/// What one channel's publisher sent: when each message went out, bytes and frames.
#[derive(Default)]
pub struct Published {
    pub log: SendLog,
    pub bytes: Mutex<WindowCount>,
    pub frames: Mutex<WindowCount>,
}

/// What every thread of a run reads and updates.
pub struct Shared {
    pub epoch: Instant,
    /// One per channel.
    pub channels: Vec<Published>,
    pub window_start: AtomicU64,
    pub window_end: AtomicU64,
    pub stop: AtomicBool,
    pub attempted: AtomicUsize,
    pub connected: AtomicUsize,
    pub failed: AtomicUsize,
    pub dropped: AtomicUsize,
    pub rx_bytes: AtomicU64,
    pub latency: Mutex<Latency>,
    /// Answer times of the `--poll` URL, µs, and how many polls failed.
    pub poll: Mutex<(Histogram, u64)>,
    pub publisher_error: Mutex<Option<String>>,
}

impl Shared {
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub fn window(&self) -> (u64, u64) {
        (
            self.window_start.load(Ordering::Acquire),
            self.window_end.load(Ordering::Acquire),
        )
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// What all channels published, added up.
    pub fn published_total(&self) -> (WindowCount, WindowCount) {
        let add = |a: WindowCount, b: WindowCount| WindowCount {
            total: a.total + b.total,
            before_start: a.before_start + b.before_start,
            before_end: a.before_end + b.before_end,
        };
        self.channels.iter().fold(Default::default(), |(b, f), c| {
            (add(b, *c.bytes.lock()), add(f, *c.frames.lock()))
        })
    }
}

impl Shared {
    pub fn new(channels: usize) -> Shared {
        Shared {
            epoch: Instant::now(),
            channels: (0..channels).map(|_| Published::default()).collect(),
            window_start: AtomicU64::new(u64::MAX),
            window_end: AtomicU64::new(u64::MAX),
            stop: AtomicBool::new(false),
            attempted: AtomicUsize::new(0),
            connected: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            rx_bytes: AtomicU64::new(0),
            latency: Mutex::new(Latency::default()),
            poll: Mutex::new((Histogram::default(), 0)),
            publisher_error: Mutex::new(None),
        }
    }
}

/// One latency sample of a subscriber, recorded into the shared histograms in batches.
pub struct LatSample {
    pub us: u64,
    pub probe: bool,
    pub in_window: bool,
}

pub fn record_latency(shared: &Shared, lat: &[LatSample]) {
    if lat.is_empty() {
        return;
    }
    let mut l = shared.latency.lock();
    for s in lat {
        if s.probe {
            l.interval.record(s.us);
        }
        if s.in_window {
            l.all.record(s.us);
            if s.probe {
                l.probes.record(s.us);
            }
        }
    }
}
