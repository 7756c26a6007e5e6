//! What became of the events, per event name: sent, failed, dropped. A plain snapshot
//! (`CallbackStats`) is what `/stat` renders.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

/// The fate of one event name's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    /// POSTs answered with a 2xx status.
    pub sent: u64,
    /// POSTs that failed: refused, timed out, a non-2xx status or a reply that is not HTTP.
    pub failed: u64,
    /// Events never posted: the queue was full, or a close event took their place.
    pub dropped: u64,
}

/// A snapshot of the callback sender's counters (serialises as the `/stat` `callbacks` object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallbackStats {
    pub sent: u64,
    pub failed: u64,
    pub dropped: u64,
    /// Events waiting in the queues now.
    pub queued: u64,
    /// The same counts per event name (`streamClose`, …).
    pub events: BTreeMap<&'static str, EventCounts>,
}

#[derive(Clone, Copy)]
pub(super) enum Fate {
    Sent,
    Failed,
    Dropped,
}

#[derive(Default)]
pub(super) struct Counters {
    by_name: Mutex<BTreeMap<&'static str, EventCounts>>,
}

impl Counters {
    pub(super) fn add(&self, name: &'static str, fate: Fate) {
        let mut by_name = self.by_name.lock();
        let counts = by_name.entry(name).or_default();
        match fate {
            Fate::Sent => counts.sent += 1,
            Fate::Failed => counts.failed += 1,
            Fate::Dropped => counts.dropped += 1,
        }
    }

    pub(super) fn snapshot(&self, queued: usize) -> CallbackStats {
        let events = self.by_name.lock().clone();
        let mut stats = CallbackStats {
            queued: queued as u64,
            ..CallbackStats::default()
        };
        for c in events.values() {
            stats.sent += c.sent;
            stats.failed += c.failed;
            stats.dropped += c.dropped;
        }
        stats.events = events;
        stats
    }
}

/// One warning per second at most; the rest are counted and reported with the next one.
pub(super) struct Throttle {
    pub(super) last: Option<Instant>,
    pub(super) held_back: u64,
}

impl Throttle {
    pub(super) fn new() -> Throttle {
        Throttle {
            last: None,
            held_back: 0,
        }
    }

    /// `Some(warnings held back since the last one)` when a warning may be logged now.
    pub(super) fn pass(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            self.held_back += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held_back))
    }
}

/// Log `text` at warn, noting the warnings held back before it.
pub(super) fn warn(text: &str, held_back: u64) {
    match held_back {
        0 => log::warn!("{text}"),
        n => log::warn!("{text} ({n} similar warnings held back)"),
    }
}
