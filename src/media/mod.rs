//! Media packets as they travel through a channel, and codec header parsing.
//!
//! An RTMP audio/video/data message payload *is* an FLV tag body, so a `Packet` just carries that body
//! (shared by `Arc`) plus the few facts the channel needs to buffer and fan it out.
pub mod codec;

use std::sync::Arc;

/// What an FLV tag / RTMP message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// FLV tag type 8 / RTMP message type 8.
    Audio,
    /// FLV tag type 9 / RTMP message type 9.
    Video,
    /// FLV tag type 18 / RTMP message type 18 (AMF0 script data, e.g. onMetaData).
    Data,
}

impl PacketKind {
    /// The FLV tag type, which is also the RTMP message type id.
    pub fn tag_type(self) -> u8 {
        match self {
            PacketKind::Audio => 8,
            PacketKind::Video => 9,
            PacketKind::Data => 18,
        }
    }

    pub fn from_tag_type(tag_type: u8) -> Option<PacketKind> {
        match tag_type {
            8 => Some(PacketKind::Audio),
            9 => Some(PacketKind::Video),
            18 => Some(PacketKind::Data),
            _ => None,
        }
    }
}

/// One media message: an FLV tag body with its timestamp (milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: PacketKind,
    pub timestamp: u32,
    pub body: Arc<[u8]>,
}

impl Packet {
    pub fn new(kind: PacketKind, timestamp: u32, body: impl Into<Arc<[u8]>>) -> Packet {
        Packet {
            kind,
            timestamp,
            body: body.into(),
        }
    }

    /// A video keyframe (frame type 1), including a keyframe that is a sequence header.
    pub fn is_keyframe(&self) -> bool {
        self.kind == PacketKind::Video && codec::video_is_keyframe(&self.body)
    }

    /// An AVC/HEVC/enhanced video sequence header or an AAC AudioSpecificConfig.
    pub fn is_sequence_header(&self) -> bool {
        match self.kind {
            PacketKind::Video => codec::video_is_sequence_header(&self.body),
            PacketKind::Audio => codec::audio_is_sequence_header(&self.body),
            PacketKind::Data => false,
        }
    }
}

/// `a - b` on RTMP's 32-bit millisecond clock, which wraps at 2^32: the signed distance, so a
/// timestamp just past the wrap still counts as "after" one just before it.
pub fn ts_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Whether `a` is strictly later than `b` on the wrapping clock.
pub fn ts_after(a: u32, b: u32) -> bool {
    ts_diff(a, b) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_compare_across_the_wrap() {
        assert_eq!(ts_diff(5, u32::MAX - 4), 10);
        assert!(ts_after(5, u32::MAX - 4));
        assert!(!ts_after(u32::MAX - 4, 5));
        assert_eq!(ts_diff(1000, 1040), -40);
    }
}
