//! HLS from memory, sans-IO: a channel's packets are cut into segments held in memory and listed
//! in playlists. Three variants (`-hlsvariant`): `mpegts` (`segmenter`, `playlist`: MPEG-TS, RFC
//! 8216), `fmp4` and `lowlatency` (`cmaf`, `cmaf_playlist`: CMAF segments written by
//! `media::mp4`, and for Low-Latency HLS their parts, with `blocking` reading the delivery
//! directives). `codecs` names the tracks for `CODECS`. `http::hls` feeds a segmenter from a
//! channel and serves what it holds.
pub mod blocking;
pub mod cmaf;
pub mod cmaf_playlist;
pub mod codecs;
pub mod output;
pub mod playlist;
pub mod segmenter;

use std::fmt;
use std::str::FromStr;

pub use cmaf::{CmafSegmenter, CmafSettings};
pub use output::HlsOutput;
pub use segmenter::{Segment, Segmenter, SegmenterSettings};

/// The container and playlist style a server's HLS uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HlsVariant {
    /// MPEG-TS segments (version 3): every player, old TVs too.
    #[default]
    Mpegts,
    /// CMAF (fragmented MP4) segments with an init segment (version 7): HEVC and AV1 too.
    Fmp4,
    /// fMP4 with parts, blocking playlist reload and delta updates (LL-HLS).
    LowLatency,
}

impl HlsVariant {
    pub fn name(self) -> &'static str {
        match self {
            HlsVariant::Mpegts => "mpegts",
            HlsVariant::Fmp4 => "fmp4",
            HlsVariant::LowLatency => "lowlatency",
        }
    }
}

impl fmt::Display for HlsVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HlsVariant {
    type Err = String;

    fn from_str(s: &str) -> Result<HlsVariant, String> {
        match s {
            "mpegts" => Ok(HlsVariant::Mpegts),
            "fmp4" => Ok(HlsVariant::Fmp4),
            "lowlatency" => Ok(HlsVariant::LowLatency),
            _ => Err(format!("{s:?} is not mpegts, fmp4 or lowlatency")),
        }
    }
}
