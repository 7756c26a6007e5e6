//! MPEG-TS writing for HLS, sans-IO: FLV tag bodies in, 188-byte TS packets out.
//!
//! One program with a PAT, a PMT, H.264 video on PID 0x100 (Annex-B, an AUD per access unit,
//! SPS/PPS before every keyframe) and AAC (in ADTS) or MP3 audio on PID 0x101. PTS/DTS come from
//! the FLV timestamp and the composition time offset, in 90 kHz, shifted by 1.4 s so that a PTS
//! before its DTS and the PCR (0.7 s behind the DTS, on the video PID, or the audio PID without
//! video) stay positive. Other codecs give [`TsError::Unsupported`]: no HLS for them.
//!
//! Files: `writer` (the muxer), `psi` (PAT/PMT, CRC32), `pes` (PES headers, TS packets, PCR),
//! `adts`, `annexb`; this file holds the vocabulary they share.

pub mod adts;
pub mod annexb;
pub mod pes;
pub mod psi;

mod writer;

use std::fmt;

pub use writer::TsWriter;

pub const TS_PACKET_LEN: usize = 188;
pub const PAT_PID: u16 = 0;
pub const PMT_PID: u16 = 0x1000;
pub const VIDEO_PID: u16 = 0x100;
pub const AUDIO_PID: u16 = 0x101;
pub const PROGRAM_NUMBER: u16 = 1;
pub const STREAM_TYPE_H264: u8 = 0x1B;
pub const STREAM_TYPE_AAC: u8 = 0x0F;
pub const STREAM_TYPE_MPEG_AUDIO: u8 = 0x03;
/// Added to every timestamp (90 kHz): 1.4 s.
pub const TIMESTAMP_OFFSET: u64 = 126_000;
/// How far the PCR runs behind the DTS (90 kHz): 0.7 s.
pub const PCR_DELAY: u64 = 63_000;

/// Why a packet could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsError {
    /// A codec (or codec variant) HLS in MPEG-TS cannot carry: the channel has no HLS.
    Unsupported(String),
    /// A malformed body: this packet is skipped.
    Malformed(&'static str),
    /// Media before its sequence header: this packet is skipped.
    NoConfig(&'static str),
}

impl fmt::Display for TsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TsError::Unsupported(what) => write!(f, "no HLS for this codec: {what}"),
            TsError::Malformed(what) => write!(f, "malformed media: {what}"),
            TsError::NoConfig(what) => write!(f, "{what} before its sequence header"),
        }
    }
}

impl std::error::Error for TsError {}

/// The 4-byte TS packet header: sync byte, payload-unit start, PID, adaptation field (with or
/// without) and payload, continuity counter.
pub(crate) fn packet_header(pid: u16, unit_start: bool, adaptation: bool, cc: u8) -> [u8; 4] {
    let start = if unit_start { 0x40 } else { 0 };
    let control = if adaptation { 0x30 } else { 0x10 };
    [
        0x47,
        start | ((pid >> 8) as u8 & 0x1F),
        pid as u8,
        control | (cc & 0x0F),
    ]
}

#[cfg(test)]
mod tests;
