//! Media packets as they travel through a channel, and what their tag bodies say about the codec.
//!
//! An RTMP audio/video/data message payload *is* an FLV tag body, so a `Packet` just carries that body
//! (shared by `Arc`) plus the few facts the channel needs to buffer and fan it out, read from the body
//! once when the packet is made.
//!
//! Files: `tag_header` (the bit layout of a tag body's header), `sniff` (keyframe, sequence header
//! and codec of a tag body), `codec_id` (codec ids, names, FourCCs), `bits` (bit reader,
//! exp-Golomb), `video_size` with `avc`, `hevc` and `av1` (picture size from configuration
//! records, SPS and AV1 sequence headers; `picture`, the size and cropping they share), `audio`
//! (AudioSpecificConfig, OpusHead, audio parameters), `error`.
//! [`codec`] is their public face. [`ts`] writes MPEG-TS for HLS; [`mp4`] writes fragmented MP4
//! (recordings, CMAF).
mod audio;
mod av1;
mod avc;
mod bits;
pub mod codec;
mod codec_id;
mod error;
mod hevc;
pub mod mp4;
mod picture;
mod sniff;
mod tag_header;
#[cfg(test)]
mod test_support;
pub mod ts;
mod video_size;

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

/// What a packet's body says about it, read once by [`Packet::new`]. Only `Packet::new` makes one, so
/// a packet built elsewhere can only carry the flags of another packet (e.g. a copy with a new
/// timestamp); ask the packet through [`Packet::is_keyframe`] and [`Packet::is_sequence_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketFlags(u8);

impl PacketFlags {
    const KEYFRAME: u8 = 1;
    const SEQUENCE_HEADER: u8 = 2;

    fn of(kind: PacketKind, body: &[u8]) -> PacketFlags {
        let (keyframe, sequence_header) = match kind {
            PacketKind::Video => (
                codec::video_is_keyframe(body),
                codec::video_is_sequence_header(body),
            ),
            PacketKind::Audio => (false, codec::audio_is_sequence_header(body)),
            PacketKind::Data => (false, false),
        };
        let mut bits = 0;
        if keyframe {
            bits |= Self::KEYFRAME;
        }
        if sequence_header {
            bits |= Self::SEQUENCE_HEADER;
        }
        PacketFlags(bits)
    }

    fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
}

/// One media message: an FLV tag body with its timestamp (milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: PacketKind,
    pub timestamp: u32,
    /// The tag body, moved in whole from the message that carried it and shared from then on.
    pub body: Arc<Vec<u8>>,
    /// Read from `kind` and `body` by [`Packet::new`]; a copy that changes only the timestamp keeps
    /// them (see [`Packet::with_timestamp`]).
    flags: PacketFlags,
}

impl Packet {
    /// A packet of `body`; a `Vec` moves in without a copy.
    pub fn new(kind: PacketKind, timestamp: u32, body: impl Into<Vec<u8>>) -> Packet {
        let body = Arc::new(body.into());
        Packet {
            kind,
            timestamp,
            flags: PacketFlags::of(kind, &body),
            body,
        }
    }

    /// The same packet (sharing its body and flags) at another time.
    pub fn with_timestamp(self, timestamp: u32) -> Packet {
        Packet { timestamp, ..self }
    }

    /// A video keyframe (frame type 1), including a keyframe that is a sequence header.
    pub fn is_keyframe(&self) -> bool {
        self.flags.has(PacketFlags::KEYFRAME)
    }

    /// An AVC/HEVC/enhanced video sequence header or an AAC AudioSpecificConfig.
    pub fn is_sequence_header(&self) -> bool {
        self.flags.has(PacketFlags::SEQUENCE_HEADER)
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

    /// (keyframe, sequence header) as stored in the packet.
    fn stored(kind: PacketKind, body: &[u8]) -> (bool, bool) {
        let packet = Packet::new(kind, 40, body.to_vec());
        let flags = packet.flags;
        assert_eq!(
            (packet.is_keyframe(), packet.is_sequence_header()),
            (
                flags.has(PacketFlags::KEYFRAME),
                flags.has(PacketFlags::SEQUENCE_HEADER)
            )
        );
        (packet.is_keyframe(), packet.is_sequence_header())
    }

    #[test]
    fn flags_are_read_from_the_body_when_the_packet_is_made() {
        use PacketKind::{Audio, Data, Video};
        // AVC: keyframe NALU, sequence header (a keyframe too), inter frame.
        assert_eq!(stored(Video, &[0x17, 1, 0, 0, 0, 9]), (true, false));
        assert_eq!(stored(Video, &[0x17, 0, 0, 0, 0, 1, 0x64]), (true, true));
        assert_eq!(stored(Video, &[0x27, 1, 0, 0, 0, 9]), (false, false));
        // AAC: AudioSpecificConfig, raw frame.
        assert_eq!(stored(Audio, &[0xAF, 0, 0x12, 0x10]), (false, true));
        assert_eq!(stored(Audio, &[0xAF, 1, 0x21]), (false, false));
        // Enhanced RTMP (FourCC): keyframe coded frames, keyframe sequence start, inter frame,
        // audio sequence start.
        let ex = |b0: u8, fourcc: &[u8]| [&[b0][..], fourcc, &[1, 2, 3]].concat();
        assert_eq!(stored(Video, &ex(0x91, b"hvc1")), (true, false));
        assert_eq!(stored(Video, &ex(0x90, b"av01")), (true, true));
        assert_eq!(stored(Video, &ex(0xA1, b"hvc1")), (false, false));
        assert_eq!(stored(Audio, &ex(0x90, b"Opus")), (false, true));
        // Data: nothing, even with a body that would read as a video sequence header.
        assert_eq!(stored(Data, &[0x17, 0, 0, 0, 0]), (false, false));
        assert_eq!(stored(Data, b"\x02\x00\x0aonMetaData"), (false, false));
    }

    #[test]
    fn flags_are_kept_not_read_again() {
        let header = Packet::new(PacketKind::Video, 0, vec![0x17, 0, 0, 0, 0, 1]);
        // The stored answer stands even if the body is swapped for an inter frame afterwards.
        let mut swapped = header.clone();
        swapped.body = Arc::new(vec![0x27, 1, 0, 0, 0]);
        assert!(swapped.is_keyframe() && swapped.is_sequence_header());
        // A restamped copy shares body and flags.
        let later = header.clone().with_timestamp(1000);
        assert_eq!(later.timestamp, 1000);
        assert!(Arc::ptr_eq(&later.body, &header.body));
        assert_eq!(later.flags, header.flags);
    }
}
