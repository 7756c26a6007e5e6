//! Lean readers for a subscriber's byte stream: they find message boundaries, timestamps and the
//! first bytes of each media message, and never copy or allocate for media payloads. That keeps the
//! bench's own CPU per subscriber far below the server's.
//!
//! * [`RtmpSkimmer`] follows the chunk stream (same header semantics as `rtmp::chunk::ChunkReader`,
//!   whose tests it is checked against) and hands back control and command messages whole, because
//!   the client must answer pings and acknowledge windows, and read the `play` replies.
//! * [`FlvSkimmer`] reads an HTTP response head, undoes chunked transfer encoding when present, and
//!   walks FLV tag headers.

use std::fmt;

use joy4::media::codec;

mod flv;
mod rtmp;

pub use flv::FlvSkimmer;
pub use rtmp::RtmpSkimmer;

/// Bytes of a media message's body kept to classify it (frame type, AVC packet type, ex-header).
pub const HEAD_LEN: usize = 5;

/// A complete message, as the skimmers see it.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// An audio (8), video (9), data (18) or aggregate (22) message: only its size and first bytes.
    Media {
        type_id: u8,
        timestamp: u32,
        len: usize,
        head: &'a [u8],
    },
    /// Any other RTMP message, with its payload (control, user control, commands).
    Control {
        type_id: u8,
        stream_id: u32,
        timestamp: u32,
        payload: &'a [u8],
    },
    /// HTTP response head parsed: the status code.
    HttpStatus(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkimError {
    Rtmp(String),
    Http(String),
    Flv(String),
}

impl fmt::Display for SkimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkimError::Rtmp(m) => write!(f, "RTMP stream: {m}"),
            SkimError::Http(m) => write!(f, "HTTP response: {m}"),
            SkimError::Flv(m) => write!(f, "FLV stream: {m}"),
        }
    }
}

impl std::error::Error for SkimError {}

/// Whether a message type carries media (its payload is skipped).
pub fn is_media_type(type_id: u8) -> bool {
    matches!(type_id, 8 | 9 | 18 | 22)
}

/// Whether a video body's first bytes say "keyframe, not a sequence header".
pub fn is_video_keyframe(head: &[u8]) -> bool {
    codec::video_is_keyframe(head) && !is_video_sequence_start(head)
}

fn is_video_sequence_start(head: &[u8]) -> bool {
    match head.first() {
        // Enhanced RTMP: the packet type is the low nibble; 0 is SequenceStart, 5 MPEG2-TS start.
        Some(&b0) if b0 & 0x80 != 0 => matches!(b0 & 0x0F, 0 | 5),
        Some(_) => codec::video_is_sequence_header(head),
        None => false,
    }
}

fn be24(b: &[u8]) -> u32 {
    u32::from_be_bytes([0, b[0], b[1], b[2]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests;
