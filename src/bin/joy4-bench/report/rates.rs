//! Rates and per-subscriber figures: CPU per subscriber-second, RSS growth, bitrate share.

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
