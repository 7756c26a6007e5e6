//! A frame: one packet on a channel's timeline with its serialisations, each built at most once
//! per channel and shared by every subscriber through an `Arc<Frame>`.

use std::sync::{Arc, OnceLock};

use crate::media::{Packet, PacketKind};
use crate::rtmp::{CSID_AUDIO, CSID_DATA, CSID_VIDEO, OUT_CHUNK_SIZE, PLAY_STREAM_ID};

#[derive(Debug)]
pub struct Frame {
    pub packet: Packet,
    /// The first frame of a new source (publisher switch, source reconnect) after another had
    /// sent frames: the timeline continues, but the stream's parameters may not (HLS marks a
    /// discontinuity).
    starts_source: bool,
    /// Wall-clock time (Unix ms) the frame reached the server (HLS's `PROGRAM-DATE-TIME`).
    received_ms: u64,
    flv: OnceLock<Box<[u8]>>,
    rtmp: OnceLock<Box<[u8]>>,
}

impl Frame {
    pub fn new(packet: Packet) -> Frame {
        let received_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Frame {
            packet,
            starts_source: false,
            received_ms,
            flv: OnceLock::new(),
            rtmp: OnceLock::new(),
        }
    }

    /// The first frame of a new source on a channel's timeline.
    pub fn starting_source(packet: Packet) -> Frame {
        Frame {
            starts_source: true,
            ..Frame::new(packet)
        }
    }

    pub fn starts_source(&self) -> bool {
        self.starts_source
    }

    pub fn received_ms(&self) -> u64 {
        self.received_ms
    }

    pub fn timestamp(&self) -> u32 {
        self.packet.timestamp
    }

    pub fn is_keyframe(&self) -> bool {
        self.packet.is_keyframe()
    }

    pub fn is_sequence_header(&self) -> bool {
        self.packet.is_sequence_header()
    }

    /// Metadata or a sequence header: what a joiner gets first and a skipping subscriber resends.
    pub fn is_header(&self) -> bool {
        self.is_sequence_header() || self.packet.kind == PacketKind::Data
    }

    pub fn len(&self) -> usize {
        self.packet.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packet.body.is_empty()
    }

    /// The memory the frame holds once both serialisations exist: the body, the FLV tag and the
    /// RTMP chunks. The channel's buffer bound counts this, so it bounds what is really held.
    pub fn held_bytes(&self) -> usize {
        let len = self.len();
        let flv = crate::flv::TAG_HEADER_LEN + len + 4;
        let extended = if self.timestamp() >= 0xFF_FFFF { 4 } else { 0 };
        let chunks = len.div_ceil(OUT_CHUNK_SIZE as usize).max(1);
        let rtmp = 12 + extended + len + (chunks - 1) * (1 + extended);
        len + flv + rtmp
    }

    /// The FLV tag (header, body, PreviousTagSize), built on first use.
    pub fn flv_bytes(&self) -> &[u8] {
        self.flv.get_or_init(|| {
            let mut out = Vec::with_capacity(crate::flv::TAG_HEADER_LEN + self.len() + 4);
            crate::flv::write_tag(
                self.packet.kind.tag_type(),
                self.packet.timestamp,
                &self.packet.body,
                &mut out,
            );
            out.into_boxed_slice()
        })
    }

    /// The RTMP chunks for the play message stream at joy4's chunk size, built on first use.
    pub fn rtmp_bytes(&self) -> &[u8] {
        self.rtmp.get_or_init(|| {
            let csid = match self.packet.kind {
                PacketKind::Audio => CSID_AUDIO,
                PacketKind::Video => CSID_VIDEO,
                PacketKind::Data => CSID_DATA,
            };
            let mut out = Vec::with_capacity(self.len() + 64);
            crate::rtmp::chunk::write_message(
                csid,
                self.packet.timestamp,
                self.packet.kind.tag_type(),
                PLAY_STREAM_ID,
                &self.packet.body,
                OUT_CHUNK_SIZE,
                &mut out,
            );
            out.into_boxed_slice()
        })
    }
}

/// A copy of `packet` at timestamp `ts`, as a new frame (headers replayed to a joiner or after a
/// skip sit at the joiner's start time).
pub fn restamp(packet: &Packet, ts: u32) -> Arc<Frame> {
    let mut packet = packet.clone();
    packet.timestamp = ts;
    Arc::new(Frame::new(packet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_bytes_match_the_serialisations_once_built() {
        for (len, ts) in [
            (1usize, 0u32),
            (4096, 40),
            (4097, 80),
            (20_000, 0x0100_0000),
        ] {
            let mut body = vec![0u8; len];
            body[0] = 0x27;
            let frame = Frame::new(Packet::new(PacketKind::Video, ts, body));
            let built = frame.len() + frame.flv_bytes().len() + frame.rtmp_bytes().len();
            assert_eq!(frame.held_bytes(), built, "len {len} ts {ts}");
        }
    }
}
