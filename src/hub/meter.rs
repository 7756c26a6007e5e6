//! Byte and media-time counters of a stream, and the rate meter behind its `bitrate`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use parking_lot::Mutex;

use crate::media::ts_diff;

/// Whole seconds on one process-wide clock: the rate buckets of every stream count in it, so a
/// flush reads the clock once for all its subscribers.
pub fn clock_seconds() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_secs()
}

const RATE_WINDOW_SECS: usize = 5;

/// Bytes per second over the last few seconds, from one-second buckets.
#[derive(Debug)]
pub struct RateMeter {
    /// Bytes in each second (u32 keeps the meter on the stream's meter cache line; saturates
    /// at 4 GiB/s).
    buckets: [u32; RATE_WINDOW_SECS + 1],
    current_second: u64,
}

impl RateMeter {
    pub fn new() -> RateMeter {
        RateMeter {
            buckets: [0; RATE_WINDOW_SECS + 1],
            current_second: 0,
        }
    }

    fn roll_to(&mut self, second: u64) {
        if second <= self.current_second {
            return;
        }
        let gap = (second - self.current_second).min(self.buckets.len() as u64);
        for i in 1..=gap {
            let idx = ((self.current_second + i) % self.buckets.len() as u64) as usize;
            self.buckets[idx] = 0;
        }
        self.current_second = second;
    }

    pub fn add(&mut self, second: u64, bytes: u64) {
        self.roll_to(second);
        let idx = (second % self.buckets.len() as u64) as usize;
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.buckets[idx] = self.buckets[idx].saturating_add(bytes);
    }

    /// Bits per second over the complete seconds of the window (the current one is partial).
    /// `lived_secs`: how long the stream has existed (a young stream averages over its life).
    pub fn bits_per_second(&mut self, second: u64, lived_secs: u64) -> u64 {
        self.roll_to(second);
        let full = (lived_secs as usize).min(RATE_WINDOW_SECS);
        if full == 0 {
            return 0;
        }
        let len = self.buckets.len() as u64;
        let sum: u64 = (1..=full as u64)
            .map(|back| u64::from(self.buckets[((second + len - back) % len) as usize]))
            .sum();
        sum * 8 / full as u64
    }
}

impl Default for RateMeter {
    fn default() -> RateMeter {
        RateMeter::new()
    }
}

const NO_MEDIA_TS: u64 = u64::MAX;

/// The counters a subscriber's every write updates, on one cache line of their own: the channel
/// updates them for each subscriber on each batch, and a scattered layout costs a cache miss each.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct Meter {
    bytes_out: AtomicU64,
    /// `NO_MEDIA_TS` until the first media timestamp is seen.
    first_media_ts: AtomicU64,
    /// Last media timestamp seen or sent (ms), for `time`.
    media_ts: AtomicU32,
    /// Timestamp of the last frame a player took off its queue: the channel measures its lag.
    dequeued_ts: AtomicU32,
    rate: Mutex<RateMeter>,
}

impl Default for Meter {
    fn default() -> Meter {
        Meter {
            bytes_out: AtomicU64::new(0),
            first_media_ts: AtomicU64::new(NO_MEDIA_TS),
            media_ts: AtomicU32::new(0),
            dequeued_ts: AtomicU32::new(0),
            rate: Mutex::new(RateMeter::new()),
        }
    }
}

impl Meter {
    /// Bytes received: counted in the rate only (the stream keeps its own total).
    pub fn add_in(&self, bytes: u64) {
        self.rate.lock().add(clock_seconds(), bytes);
    }

    /// Bytes sent, with the clock already read (once per batch for every subscriber).
    pub fn add_out(&self, bytes: u64, second: u64) {
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        self.rate.lock().add(second, bytes);
    }

    pub fn bytes_out(&self) -> u64 {
        self.bytes_out.load(Ordering::Relaxed)
    }

    pub fn note_media_ts(&self, ts: u32) {
        self.media_ts.store(ts, Ordering::Relaxed);
        if self.first_media_ts.load(Ordering::Relaxed) == NO_MEDIA_TS {
            let _ = self.first_media_ts.compare_exchange(
                NO_MEDIA_TS,
                u64::from(ts),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Media position in seconds since the first media timestamp.
    pub fn media_time(&self) -> f64 {
        match self.first_media_ts.load(Ordering::Relaxed) {
            NO_MEDIA_TS => 0.0,
            first => {
                let last = self.media_ts.load(Ordering::Relaxed);
                ts_diff(last, first as u32).max(0) as f64 / 1000.0
            }
        }
    }

    pub fn dequeued_ts(&self) -> u32 {
        self.dequeued_ts.load(Ordering::Relaxed)
    }

    pub fn set_dequeued_ts(&self, ts: u32) {
        self.dequeued_ts.store(ts, Ordering::Relaxed);
    }

    pub fn bits_per_second(&self, lived_secs: u64) -> u64 {
        self.rate
            .lock()
            .bits_per_second(clock_seconds(), lived_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_meter_averages_complete_seconds() {
        let mut r = RateMeter::new();
        for s in 0..10 {
            r.add(s, 1000);
        }
        assert_eq!(r.bits_per_second(10, 10), 8000);
        // Two idle seconds bring the average down, five clear it.
        assert_eq!(r.bits_per_second(12, 12), 8000 * 3 / 5);
        assert_eq!(r.bits_per_second(20, 20), 0);
    }

    #[test]
    fn a_young_stream_reports_rate_over_the_seconds_it_has_lived() {
        let mut r = RateMeter::new();
        r.add(0, 500);
        r.add(1, 500);
        assert_eq!(r.bits_per_second(2, 2), 4000);
        assert_eq!(r.bits_per_second(0, 0), 0);
    }

    #[test]
    fn media_time_counts_from_the_first_timestamp_across_the_wrap() {
        let m = Meter::default();
        assert_eq!(m.media_time(), 0.0);
        m.note_media_ts(u32::MAX - 999);
        m.note_media_ts(1000);
        assert_eq!(m.media_time(), 2.0);
    }
}
