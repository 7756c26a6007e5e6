//! What the CMAF segmenter makes: init segments, parts, complete segments, and the segment
//! being written.

use std::sync::Arc;

use super::super::codecs::codecs_attribute;
use crate::media::mp4::{init_segment, Part, PartBuilder, TrackConfig};

/// The tracks of one init segment and the samples gathered for their next part.
#[derive(Debug)]
pub(super) struct Tracks {
    pub builder: PartBuilder,
    /// Track index in the builder of video and of audio.
    pub video: Option<usize>,
    pub audio: Option<usize>,
}

impl Tracks {
    /// Video then audio (those there are), and their init segment named `id`.
    pub fn new(
        video: Option<TrackConfig>,
        audio: Option<TrackConfig>,
        id: u32,
    ) -> (Tracks, Arc<InitSegment>) {
        let mut configs = Vec::new();
        let video = video.map(|c| {
            configs.push(c);
            configs.len() - 1
        });
        let audio = audio.map(|c| {
            configs.push(c);
            configs.len() - 1
        });
        let init = Arc::new(InitSegment {
            id,
            bytes: init_segment(&configs),
            codecs: codecs_attribute(&configs),
            has_video: video.is_some(),
        });
        let tracks = Tracks {
            builder: PartBuilder::new(configs),
            video,
            audio,
        };
        (tracks, init)
    }
}

/// An init segment (`ftyp` + `moov`), named by `id`.
#[derive(Debug)]
pub struct InitSegment {
    pub id: u32,
    pub bytes: Vec<u8>,
    /// The tracks' RFC 6381 codec strings.
    pub codecs: String,
    pub has_video: bool,
}

/// A part: one `moof` + `mdat`.
#[derive(Debug)]
pub struct CmafPart {
    pub duration_ms: u32,
    /// It starts with a keyframe (audio-only: always).
    pub independent: bool,
    pub bytes: Vec<u8>,
}

/// A complete segment: its parts' bytes in one piece.
#[derive(Debug)]
pub struct CmafSegment {
    pub sequence: u64,
    /// Channel timestamp of its first frame (milliseconds).
    pub start_ts: u32,
    pub duration_ms: u32,
    pub discontinuity: bool,
    /// Wall-clock time (Unix ms) its first frame reached the server; 0 if unknown.
    pub program_date_ms: u64,
    pub init: Arc<InitSegment>,
    pub bytes: Vec<u8>,
}

/// The segment being written.
#[derive(Debug)]
pub struct Building {
    pub sequence: u64,
    pub start_ts: u32,
    pub discontinuity: bool,
    pub program_date_ms: u64,
    pub init: Arc<InitSegment>,
    /// Complete parts so far.
    pub parts: Vec<Arc<CmafPart>>,
    pub(super) start_ms: i64,
    pub(super) part_start_ms: i64,
    pub(super) last_ms: i64,
    pub(super) bytes: Vec<u8>,
}

/// Write `part` out onto the segment being written; with LL-HLS it is kept as a part too.
pub(super) fn add_part(b: &mut Building, part: Part, duration_ms: u32, keep: bool) {
    if !keep {
        b.bytes.extend_from_slice(&part.header);
        for sample in &part.samples {
            b.bytes.extend_from_slice(sample.bytes());
        }
        return;
    }
    let mut bytes = Vec::with_capacity(part.len as usize);
    bytes.extend_from_slice(&part.header);
    for sample in &part.samples {
        bytes.extend_from_slice(sample.bytes());
    }
    b.bytes.extend_from_slice(&bytes);
    b.parts.push(Arc::new(CmafPart {
        duration_ms,
        independent: part.starts_with_sync,
        bytes,
    }));
}
