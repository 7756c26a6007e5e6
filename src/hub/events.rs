//! What the hub reports, as typed events: the server layer turns them into callbacks (and any
//! other output) in its own format.

use std::time::SystemTime;

use super::stats::StreamStats;
use super::types::{CloseReason, RtmpInfo, StreamType};

/// One event of the hub. `name()` is the callback's event name.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// With `-rtmpcheckparams`: a new publish or play waits for accept or reject.
    StreamCheckParams {
        id: String,
        stream_type: StreamType,
        remote_addr: String,
        rtmp: Option<RtmpInfo>,
    },
    /// A stream started publishing or playing: its stats at that moment.
    StreamConnected(Box<StreamStats>),
    /// A stream ended; sent exactly once per stream.
    StreamClose {
        id: String,
        reason: CloseReason,
        bytes: u64,
        elapsed_secs: f64,
    },
    ChannelClose {
        id: String,
    },
    /// A recording's file is complete (see `record`).
    RecordDone(Box<RecordDone>),
}

/// A finished recording file, as the `recordDone` event reports it.
#[derive(Debug, Clone)]
pub struct RecordDone {
    pub channel: String,
    /// The file name (`2026-12-05T16-30-00.123Z.mp4`).
    pub name: String,
    /// Relative to the recording folder (`live/abc/2026-12-05T16-30-00.123Z.mp4`).
    pub path: String,
    /// The UTC time of the file's first frame.
    pub start: SystemTime,
    /// Media seconds in the file, from its timestamps.
    pub duration_secs: f64,
    pub bytes: u64,
    /// `segment`, `stopped`, `channelClosed`, `shutdown`, `error` or `unsupportedCodec`.
    pub reason: &'static str,
    /// What went wrong, with reason `error` (or `unsupportedCodec`).
    pub detail: Option<String>,
}

impl HubEvent {
    pub fn name(&self) -> &'static str {
        match self {
            HubEvent::StreamCheckParams { .. } => "streamCheckParams",
            HubEvent::StreamConnected(_) => "streamConnected",
            HubEvent::StreamClose { .. } => "streamClose",
            HubEvent::ChannelClose { .. } => "channelClose",
            HubEvent::RecordDone(_) => "recordDone",
        }
    }
}

/// Where events go (the HTTP callback sender, or nowhere). Must not block.
pub trait EventSink: Send + Sync {
    /// `stream_key` (the stream's internal key, stable across `/stream/changeid`) orders the
    /// events of one stream.
    fn emit(&self, stream_key: Option<u64>, event: HubEvent);
}

/// Drops every event (no `-httpcallback`).
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _: Option<u64>, _: HubEvent) {}
}
