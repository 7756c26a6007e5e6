//! Byte and drop counters that only grow: server-wide by protocol, and per channel over the
//! channel's life (they do not fall when a viewer leaves, unlike the sums over open streams).
//!
//! Counting stays off the per-subscriber hot path: a channel's flush adds what a whole batch
//! wrote once (not once per subscriber), and each protocol's counters sit on a cache line of
//! their own, so publishers and flushes of different protocols do not share one.

use std::sync::atomic::{AtomicU64, Ordering};

use super::types::StreamType;

/// What carries the media a stream moves: the `protocol` label of the byte counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// RTMP publishers and players on the RTMP port.
    Rtmp,
    /// HTTP-FLV players on the media port.
    HttpFlv,
    /// HLS viewers (playlists and segments) on the media port.
    Hls,
    /// Relays: pulls (and edge pulls) from, and pushes to, other servers.
    Relay,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [
        Protocol::Rtmp,
        Protocol::HttpFlv,
        Protocol::Hls,
        Protocol::Relay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Rtmp => "rtmp",
            Protocol::HttpFlv => "http-flv",
            Protocol::Hls => "hls",
            Protocol::Relay => "relay",
        }
    }

    /// The protocol of a stream of this type, until it is marked a relay.
    pub fn of(stream_type: StreamType) -> Protocol {
        match stream_type {
            StreamType::Rtmp => Protocol::Rtmp,
            StreamType::HttpFlv => Protocol::HttpFlv,
            StreamType::HlsMem => Protocol::Hls,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn from_index(i: u8) -> Protocol {
        Protocol::ALL
            .get(usize::from(i))
            .copied()
            .unwrap_or(Protocol::Rtmp)
    }
}

/// A counter on a cache line of its own.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Line(AtomicU64);

/// Bytes received and sent by protocol, for the server's life.
#[derive(Debug, Default)]
pub struct Traffic {
    received: [Line; 4],
    sent: [Line; 4],
}

impl Traffic {
    pub fn add_received(&self, protocol: Protocol, bytes: u64) {
        self.received[protocol.index()]
            .0
            .fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn add_sent(&self, protocol: Protocol, bytes: u64) {
        if bytes > 0 {
            self.sent[protocol.index()]
                .0
                .fetch_add(bytes, Ordering::Relaxed);
        }
    }

    pub fn received(&self, protocol: Protocol) -> u64 {
        self.received[protocol.index()].0.load(Ordering::Relaxed)
    }

    pub fn sent(&self, protocol: Protocol) -> u64 {
        self.sent[protocol.index()].0.load(Ordering::Relaxed)
    }
}

/// A channel's counters over its life: what came in from its publishers, what went out to its
/// subscribers and viewers, and the packets its slow subscribers skipped. Shared (by `Arc`) with
/// the sinks that write for the channel, so a subscriber's own thread counts into it too.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct ChannelTraffic {
    received: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
}

impl ChannelTraffic {
    pub fn add_received(&self, bytes: u64) {
        self.received.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn add_sent(&self, bytes: u64) {
        if bytes > 0 {
            self.sent.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    pub fn add_dropped(&self, packets: u64) {
        self.dropped.fetch_add(packets, Ordering::Relaxed);
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Bytes a flush wrote directly, by protocol: summed on the flushing thread without atomics,
/// then added to the shared counters once per batch.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct BatchTally([u64; 4]);

impl BatchTally {
    pub(crate) fn add(&mut self, protocol: Protocol, bytes: usize) {
        self.0[protocol.index()] += bytes as u64;
    }

    pub(crate) fn merge(&mut self, other: BatchTally) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Add the batch to the server's counters.
    pub(crate) fn count_into(&self, traffic: &Traffic) {
        for protocol in Protocol::ALL {
            traffic.add_sent(protocol, self.0[protocol.index()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_round_trip_through_their_index() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_index(p.index() as u8), p);
        }
        assert_eq!(Protocol::of(StreamType::HlsMem).as_str(), "hls");
    }

    #[test]
    fn a_batch_tally_reaches_the_server_counters_by_protocol() {
        let traffic = Traffic::default();
        let mut a = BatchTally::default();
        a.add(Protocol::Rtmp, 100);
        a.add(Protocol::HttpFlv, 7);
        let mut b = BatchTally::default();
        b.add(Protocol::Rtmp, 1);
        a.merge(b);
        assert_eq!(a.total(), 108);
        a.count_into(&traffic);
        a.count_into(&traffic);
        assert_eq!(traffic.sent(Protocol::Rtmp), 202);
        assert_eq!(traffic.sent(Protocol::HttpFlv), 14);
        assert_eq!(traffic.sent(Protocol::Hls), 0);
    }
}
