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

/// A connection's `connect` command object as it is kept for the connection's life: AMF0-encoded,
/// a few hundred bytes in one allocation rather than a tree of small ones (a viewer holds it for
/// hours); decoded when it is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectObject(std::sync::Arc<[u8]>);

impl ConnectObject {
    pub fn new(value: &crate::amf0::Amf0Value) -> ConnectObject {
        let mut bytes = Vec::new();
        crate::amf0::encode(value, &mut bytes);
        ConnectObject(bytes.into())
    }

    /// The object again (`Null` if it could not be read back, which encoding never produces).
    pub fn value(&self) -> crate::amf0::Amf0Value {
        crate::amf0::decode(&mut &self.0[..]).unwrap_or(crate::amf0::Amf0Value::Null)
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// RTMP facts of a stream, shown in stats and callbacks.
#[derive(Debug, Clone, Default)]
pub struct RtmpInfo {
    /// `publish` or `play`.
    pub command: String,
    /// The `connect` command object (for a relay, its `app` and `tcUrl`).
    pub connect_params: Option<ConnectObject>,
    pub stream_name: String,
    /// Query parameters of the publish/play request, decoded, in order.
    pub params: Vec<(String, String)>,
}

#[cfg(test)]
mod connect_object_tests {
    use super::ConnectObject;
    use crate::amf0::Amf0Value;

    #[test]
    fn a_connect_object_reads_back_as_it_was_and_is_held_compactly() {
        let object = Amf0Value::Object(vec![
            ("app".into(), Amf0Value::String("live".into())),
            ("tcUrl".into(), Amf0Value::String("rtmp://h/live".into())),
            ("fpad".into(), Amf0Value::Boolean(false)),
            ("audioCodecs".into(), Amf0Value::Number(3575.0)),
        ]);
        let kept = ConnectObject::new(&object);
        assert_eq!(kept.value(), object);
        assert!(kept.len() < 80, "{} bytes", kept.len());
    }
}
