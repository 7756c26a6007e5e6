//! A frame: one packet on a channel's timeline with what makes it an FLV tag or RTMP chunks,
//! shared by every subscriber through an `Arc<Frame>`.

use std::io::IoSlice;
use std::sync::Arc;

use crate::media::{Packet, PacketKind};
use crate::rtmp::chunk::ChunkHeaders;
use crate::rtmp::{CSID_AUDIO, CSID_DATA, CSID_VIDEO, OUT_CHUNK_SIZE, PLAY_STREAM_ID};

/// Which serialisation of a frame a subscriber reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rtmp,
    Flv,
}

/// A packet on a channel's timeline, and the few header bytes that make its body an FLV tag or
/// RTMP chunks. The body itself is never copied: a serialisation is a list of slices, the
/// headers' and the body's, written with vectored writes.
#[derive(Debug)]
pub struct Frame {
    pub packet: Packet,
    /// The first frame of a new source (publisher switch, source reconnect) after another had
    /// sent frames: the timeline continues, but the stream's parameters may not (HLS marks a
    /// discontinuity).
    starts_source: bool,
    /// Wall-clock time (Unix ms) the frame reached the server (HLS's `PROGRAM-DATE-TIME`).
    received_ms: u64,
    /// The FLV tag's header and PreviousTagSize (`None`: too large for a tag, never written).
    flv: Option<([u8; crate::flv::TAG_HEADER_LEN], [u8; 4])>,
    /// The RTMP chunk headers for the play message stream at joy4's chunk size.
    rtmp: Option<ChunkHeaders>,
}

impl Frame {
    pub fn new(packet: Packet) -> Frame {
        let received_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let (kind, ts, len) = (packet.kind, packet.timestamp, packet.body.len());
        let flv = crate::flv::tag_header(kind.tag_type(), ts, len)
            .map(|head| (head, crate::flv::previous_tag_size(len)));
        let csid = match kind {
            PacketKind::Audio => CSID_AUDIO,
            PacketKind::Video => CSID_VIDEO,
            PacketKind::Data => CSID_DATA,
        };
        let rtmp = ChunkHeaders::new(
            csid,
            ts,
            kind.tag_type(),
            PLAY_STREAM_ID,
            len,
            OUT_CHUNK_SIZE,
        );
        Frame {
            packet,
            starts_source: false,
            received_ms,
            flv,
            rtmp,
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

    /// The memory the frame holds: its body and record. The channel's buffer bound counts this.
    pub fn held_bytes(&self) -> usize {
        self.len() + std::mem::size_of::<Frame>()
    }

    /// The serialisation's length in bytes (0 for a frame too large to write).
    pub fn wire_len(&self, format: Format) -> usize {
        let len = self.len();
        match format {
            Format::Flv => self
                .flv
                .map_or(0, |(head, tail)| head.len() + len + tail.len()),
            Format::Rtmp => self.rtmp.map_or(0, |h| {
                let chunks = len.div_ceil(OUT_CHUNK_SIZE as usize).max(1);
                h.first().len() + len + (chunks - 1) * h.next().len()
            }),
        }
    }

    /// The serialisation as slices of the headers and the body, appended to `out`.
    pub fn wire_slices<'a>(&'a self, format: Format, out: &mut Vec<IoSlice<'a>>) {
        let body = &self.packet.body[..];
        match format {
            Format::Flv => {
                if let Some((head, tail)) = &self.flv {
                    out.push(IoSlice::new(head));
                    if !body.is_empty() {
                        out.push(IoSlice::new(body));
                    }
                    out.push(IoSlice::new(tail));
                }
            }
            Format::Rtmp => {
                if let Some(h) = &self.rtmp {
                    out.push(IoSlice::new(h.first()));
                    for (i, chunk) in body.chunks(OUT_CHUNK_SIZE as usize).enumerate() {
                        if i > 0 {
                            out.push(IoSlice::new(h.next()));
                        }
                        out.push(IoSlice::new(chunk));
                    }
                }
            }
        }
    }

    /// The serialisation as one buffer (a copy: for tests and the odd single write).
    pub fn wire_bytes(&self, format: Format) -> Vec<u8> {
        let mut slices = Vec::new();
        self.wire_slices(format, &mut slices);
        slices.iter().flat_map(|s| s.iter().copied()).collect()
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
    fn the_slices_are_the_tag_and_the_chunks_the_codecs_write() {
        for (len, ts) in [
            (0usize, 0u32),
            (1, 0),
            (4096, 40),
            (4097, 80),
            (20_000, 0x0100_0000),
        ] {
            let mut body = vec![0u8; len];
            if let Some(b) = body.first_mut() {
                *b = 0x27;
            }
            let frame = Frame::new(Packet::new(PacketKind::Video, ts, body.clone()));
            let mut flv = Vec::new();
            crate::flv::write_tag(9, ts, &body, &mut flv);
            let mut rtmp = Vec::new();
            crate::rtmp::chunk::write_message(
                CSID_VIDEO,
                ts,
                9,
                PLAY_STREAM_ID,
                &body,
                OUT_CHUNK_SIZE,
                &mut rtmp,
            );
            assert_eq!(frame.wire_bytes(Format::Flv), flv, "FLV, len {len} ts {ts}");
            assert_eq!(
                frame.wire_bytes(Format::Rtmp),
                rtmp,
                "RTMP, len {len} ts {ts}"
            );
            assert_eq!(frame.wire_len(Format::Flv), flv.len());
            assert_eq!(frame.wire_len(Format::Rtmp), rtmp.len());
        }
    }

    #[test]
    fn a_frame_holds_its_body_once() {
        let frame = Frame::new(Packet::new(PacketKind::Video, 0, vec![0x27; 50_000]));
        assert!(frame.held_bytes() < 50_000 + 256);
    }
}
