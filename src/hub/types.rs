//! The small vocabulary of the hub: what a stream is, what it does, and why it ended.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    Connecting,
    CheckingParams,
    Connected,
    Subscribing,
    Publishing,
}

impl StreamState {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamState::Connecting => "connecting",
            StreamState::CheckingParams => "checkingParams",
            StreamState::Connected => "connected",
            StreamState::Subscribing => "subscribing",
            StreamState::Publishing => "publishing",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    Rtmp,
    HttpFlv,
    /// An HLS viewer: served from the channel's one in-memory HLS muxer.
    HlsMem,
}

impl StreamType {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamType::Rtmp => "rtmp",
            StreamType::HttpFlv => "http-flv",
            StreamType::HlsMem => "hls-mem",
        }
    }
}

/// What a stream does with its channel: the output format decides which serialisation it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Publisher,
    Player,
}

/// Why a stream ended; reported in the streamClose event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    PeerClosed,
    ApiClose,
    Rejected,
    Timeout,
    Error,
    ChannelClosed,
    /// The server is shutting down (SIGTERM, SIGINT).
    Shutdown,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::PeerClosed => "peerClosed",
            CloseReason::ApiClose => "apiClose",
            CloseReason::Rejected => "rejected",
            CloseReason::Timeout => "timeout",
            CloseReason::Error => "error",
            CloseReason::ChannelClosed => "channelClosed",
            CloseReason::Shutdown => "shutdown",
        }
    }
}

/// The accept/reject answer for a stream in `checkingParams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject,
}

/// RTMP facts of a stream, shown in stats and callbacks.
#[derive(Debug, Clone, Default)]
pub struct RtmpInfo {
    /// `publish` or `play`.
    pub command: String,
    /// The `connect` command object (for a relay, its `app` and `tcUrl`).
    pub connect_params: Option<std::sync::Arc<crate::amf0::Amf0Value>>,
    pub stream_name: String,
    /// Query parameters of the publish/play request, decoded, in order.
    pub params: Vec<(String, String)>,
}
