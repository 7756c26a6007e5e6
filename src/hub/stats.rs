//! Snapshots of a stream and of a channel, as plain values: the API and the callbacks render them.

use std::time::SystemTime;

use super::buffer::BufferLimits;
use super::headers::MediaInfo;
use super::types::{RtmpInfo, StreamState, StreamType};

/// A stream as `/stat/streams` and the streamConnected event show it.
#[derive(Debug, Clone)]
pub struct StreamStats {
    pub id: String,
    pub created_at: SystemTime,
    pub elapsed_secs: f64,
    pub stream_type: StreamType,
    pub state: StreamState,
    pub rtmp: Option<RtmpInfo>,
    pub remote_addr: String,
    /// A publisher's codecs; a player's are its channel's.
    pub media: MediaInfo,
    /// Bits per second over the last few seconds, in and out together.
    pub bitrate: u64,
    /// Media position in seconds.
    pub time_secs: f64,
    /// Bytes received plus bytes sent.
    pub bytes: u64,
    pub channel: Option<String>,
    pub dropped_packets: u64,
}

/// A channel as `/stat/channels` shows it.
#[derive(Debug, Clone)]
pub struct ChannelStats {
    pub id: String,
    pub created_at: SystemTime,
    pub elapsed_secs: f64,
    /// Subscriber stream ids.
    pub subscribers: Vec<String>,
    pub limits: BufferLimits,
    /// Bytes the buffer holds (frame bodies and records).
    pub buffer_used: usize,
    pub buffered_duration_ms: u32,
    pub buffered_gops: usize,
    pub publisher: Option<String>,
    pub media: MediaInfo,
    /// Its counters over its life.
    pub totals: ChannelTotals,
}

/// What a channel has moved over its life (these only grow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelTotals {
    /// Media bytes (message bodies) taken from its publishers.
    pub received_bytes: u64,
    /// Bytes written to its subscribers and HLS viewers.
    pub sent_bytes: u64,
    /// Packets its subscribers skipped for being too slow.
    pub dropped_packets: u64,
}
