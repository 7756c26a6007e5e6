//! Server-wide counters the registry does not derive from its streams: shown by the API's
//! `/stat` and `/metrics`. They only grow, for the server's life; streams and channels that
//! close take nothing away from them.

use std::sync::atomic::{AtomicU64, Ordering};

use super::traffic::Traffic;
use super::types::CloseReason;

/// The listener a connection was accepted on: the `protocol` label of accepted connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Rtmp,
    /// The media port: HTTP-FLV, HLS, the watch page.
    Http,
    Api,
}

impl Listener {
    pub const ALL: [Listener; 3] = [Listener::Rtmp, Listener::Http, Listener::Api];

    pub fn as_str(self) -> &'static str {
        match self {
            Listener::Rtmp => "rtmp",
            Listener::Http => "http",
            Listener::Api => "api",
        }
    }
}

/// What an HLS request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HlsRequestKind {
    /// The entry (multivariant) playlist, which opens a viewer's session.
    Entry,
    /// A session's media playlist.
    Playlist,
    Segment,
}

impl HlsRequestKind {
    pub const ALL: [HlsRequestKind; 3] = [
        HlsRequestKind::Entry,
        HlsRequestKind::Playlist,
        HlsRequestKind::Segment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HlsRequestKind::Entry => "entry",
            HlsRequestKind::Playlist => "playlist",
            HlsRequestKind::Segment => "segment",
        }
    }
}

pub const CLOSE_REASONS: [CloseReason; 7] = [
    CloseReason::PeerClosed,
    CloseReason::ApiClose,
    CloseReason::Rejected,
    CloseReason::Timeout,
    CloseReason::Error,
    CloseReason::ChannelClosed,
    CloseReason::Shutdown,
];

fn reason_index(reason: CloseReason) -> usize {
    CLOSE_REASONS.iter().position(|r| *r == reason).unwrap_or(0)
}

#[derive(Debug, Default)]
pub struct ServerCounters {
    /// Connection threads that panicked (their stream was cleaned up all the same).
    pub panics: AtomicU64,
    /// Connections closed at accept because a connection limit was reached.
    pub refused_connections: AtomicU64,
    /// Connections closed for their PROXY protocol header: bad, slow, or from an untrusted peer.
    pub bad_proxy_headers: AtomicU64,
    /// Bytes received and sent, by protocol.
    pub traffic: Traffic,
    accepted: [AtomicU64; 3],
    closed: [AtomicU64; 7],
    /// Packets subscribers skipped for being too slow, on every channel.
    dropped_packets: AtomicU64,
    hls_requests: [AtomicU64; 3],
}

impl ServerCounters {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// A connection accepted on `listener` (within the connection limits).
    pub fn accepted(&self, listener: Listener) {
        Self::add(&self.accepted[listener as usize]);
    }

    pub fn accepted_on(&self, listener: Listener) -> u64 {
        Self::get(&self.accepted[listener as usize])
    }

    pub(crate) fn stream_closed(&self, reason: CloseReason) {
        Self::add(&self.closed[reason_index(reason)]);
    }

    pub fn closed_for(&self, reason: CloseReason) -> u64 {
        Self::get(&self.closed[reason_index(reason)])
    }

    pub(crate) fn add_dropped(&self, packets: u64) {
        self.dropped_packets.fetch_add(packets, Ordering::Relaxed);
    }

    pub fn dropped_packets(&self) -> u64 {
        Self::get(&self.dropped_packets)
    }

    pub fn hls_request(&self, kind: HlsRequestKind) {
        Self::add(&self.hls_requests[kind as usize]);
    }

    pub fn hls_requests(&self, kind: HlsRequestKind) -> u64 {
        Self::get(&self.hls_requests[kind as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_close_reason_has_its_own_counter() {
        let c = ServerCounters::default();
        for (i, reason) in CLOSE_REASONS.iter().enumerate() {
            for _ in 0..=i {
                c.stream_closed(*reason);
            }
        }
        for (i, reason) in CLOSE_REASONS.iter().enumerate() {
            assert_eq!(c.closed_for(*reason), i as u64 + 1, "{}", reason.as_str());
        }
    }

    #[test]
    fn listeners_and_hls_kinds_count_apart() {
        let c = ServerCounters::default();
        c.accepted(Listener::Api);
        c.accepted(Listener::Api);
        c.hls_request(HlsRequestKind::Segment);
        assert_eq!(c.accepted_on(Listener::Api), 2);
        assert_eq!(c.accepted_on(Listener::Rtmp), 0);
        assert_eq!(c.hls_requests(HlsRequestKind::Segment), 1);
        assert_eq!(c.hls_requests(HlsRequestKind::Entry), 0);
    }
}
