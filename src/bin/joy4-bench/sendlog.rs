//! When the publisher sent each message, looked up by subscribers on arrival to measure the latency
//! the server adds. A lock-free ring keyed by (message type, timestamp): the publisher writes one
//! slot per message, any number of readers look slots up.
//!
//! Slot layout (one `u64`, so a reader never sees half an update):
//!
//! ```text
//! | timestamp (32) | kind (2) | send time in 10 µs units since the bench started, + 1 (30) |
//! ```
//!
//! 2^30 units of 10 µs is just under three hours, more than a run may last. The index is
//! `(timestamp * 4 + kind) mod SLOTS`, so two messages collide only when their timestamps are a
//! multiple of `SLOTS / 4` ms apart (16 s): an old entry is then simply overwritten, and a lookup
//! that finds another timestamp reports "unknown".

use std::sync::atomic::{AtomicU64, Ordering};

const SLOTS: usize = 1 << 16;
const TIME_BITS: u32 = 30;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;
const UNIT_US: u64 = 10;
/// Longest time since the start that can be stored.
pub const MAX_US: u64 = (TIME_MASK - 1) * UNIT_US;

pub struct SendLog {
    slots: Box<[AtomicU64]>,
}

impl Default for SendLog {
    fn default() -> Self {
        Self::new()
    }
}

fn kind_of(type_id: u8) -> u64 {
    match type_id {
        8 => 0,
        9 => 1,
        _ => 2,
    }
}

fn index(type_id: u8, timestamp: u32) -> usize {
    ((u64::from(timestamp) * 4 + kind_of(type_id)) as usize) & (SLOTS - 1)
}

impl SendLog {
    pub fn new() -> SendLog {
        SendLog {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Record that the message (`type_id`, `timestamp`) was sent at `sent_us` since the start.
    pub fn record(&self, type_id: u8, timestamp: u32, sent_us: u64) {
        let units = (sent_us.min(MAX_US) / UNIT_US) + 1;
        let value = (u64::from(timestamp) << 32) | (kind_of(type_id) << TIME_BITS) | units;
        self.slots[index(type_id, timestamp)].store(value, Ordering::Release);
    }

    /// When the message was sent (µs since the start, to 10 µs), if it is still in the ring.
    pub fn lookup(&self, type_id: u8, timestamp: u32) -> Option<u64> {
        let value = self.slots[index(type_id, timestamp)].load(Ordering::Acquire);
        let units = value & TIME_MASK;
        if units == 0
            || (value >> 32) as u32 != timestamp
            || (value >> TIME_BITS) & 3 != kind_of(type_id)
        {
            return None;
        }
        Some((units - 1) * UNIT_US)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_find_the_send_time_of_the_same_type_and_timestamp() {
        let log = SendLog::new();
        log.record(9, 40, 1_234_567);
        log.record(8, 40, 2_000_000);
        assert_eq!(log.lookup(9, 40), Some(1_234_560));
        assert_eq!(log.lookup(8, 40), Some(2_000_000));
        assert_eq!(log.lookup(9, 80), None);
        assert_eq!(log.lookup(18, 40), None);
        // Time zero is a real time, not "empty".
        log.record(9, 0, 0);
        assert_eq!(log.lookup(9, 0), Some(0));
    }

    #[test]
    fn an_entry_16_seconds_later_replaces_the_colliding_one() {
        let log = SendLog::new();
        log.record(9, 1000, 5_000);
        log.record(9, 1000 + 16_384, 9_000);
        assert_eq!(log.lookup(9, 1000), None);
        assert_eq!(log.lookup(9, 1000 + 16_384), Some(9_000));
        // Timestamps near the 32-bit wrap are kept exactly.
        log.record(8, u32::MAX, 70);
        assert_eq!(log.lookup(8, u32::MAX), Some(70));
    }
}
