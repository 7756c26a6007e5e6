//! HLS from memory, sans-IO: a channel's packets are cut into MPEG-TS segments held in memory
//! (`segmenter`) and listed in RFC 8216 playlists (`playlist`). `http::hls` feeds the segmenter
//! from a channel and serves what it holds.
pub mod playlist;
pub mod segmenter;

pub use segmenter::{Segment, Segmenter, SegmenterSettings};
