//! ISO BMFF (fragmented MP4), sans-IO: the one MP4 writer of joy4, for recordings and for CMAF
//! segments and parts.
//!
//! - `track`: a track's configuration from the FLV sequence headers (H.264 `avc1`/`avcC`, HEVC
//!   `hvc1`/`hvcC`, AV1 `av01`/`av1C`, AAC `mp4a`/`esds` 0x40, MP3 `mp4a`/`esds` 0x6B), and
//!   where a sample lies in an FLV tag body.
//! - `init`: the init segment (`ftyp` + `moov` with `mvex`).
//! - `fragment`: `moof` + `mdat` header for samples the caller writes after it.
//! - `parts`: samples gathered into fragments, times converted from absolute milliseconds.
//! - `reader`: box headers, `moov` tracks and `moof` samples read back, bounded.
//! - `boxes`: the box-writing helper.

mod boxes;
pub mod fragment;
pub mod init;
pub mod parts;
pub mod reader;
pub mod track;

use std::fmt;

pub use fragment::{fragment_header, Sample, TrackRun};
pub use init::init_segment;
pub use parts::{Part, PartBuilder, SampleBytes};
pub use reader::{box_header, parse_moof, parse_moov, BoxHeader, FragmentInfo, TrackInfo};
pub use track::{audio_sample, video_sample, Codec, SampleSlice, TrackConfig};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mp4Error {
    /// A codec fragmented MP4 is not written for here (its name).
    Unsupported(String),
    /// Bytes that do not hold what they should.
    Malformed(&'static str),
}

impl fmt::Display for Mp4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mp4Error::Unsupported(what) => write!(f, "no fMP4 for this codec: {what}"),
            Mp4Error::Malformed(what) => write!(f, "malformed: {what}"),
        }
    }
}

impl std::error::Error for Mp4Error {}

#[cfg(test)]
mod tests;
