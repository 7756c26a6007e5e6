//! RFC 8216 playlists: the media playlist of a segmenter's window, and the one-variant
//! multivariant playlist that hands a player its session's media playlist.

use std::fmt::Write;

use super::segmenter::{Segment, Segmenter};

/// The media playlist: the window's segments, each named by `uri`; `#EXT-X-ENDLIST` once the
/// channel has ended.
pub fn media_playlist(segmenter: &Segmenter, uri: impl Fn(&Segment) -> String) -> String {
    let segments = segmenter.segments();
    let first = segments.front().map_or(0, |s| s.sequence);
    let mut text = String::with_capacity(128 + segments.len() * 96);
    text.push_str("#EXTM3U\n#EXT-X-VERSION:3\n");
    let _ = writeln!(
        text,
        "#EXT-X-TARGETDURATION:{}",
        segmenter.target_duration_secs()
    );
    let _ = writeln!(text, "#EXT-X-MEDIA-SEQUENCE:{first}");
    if segmenter.discontinuity_sequence() > 0 {
        let _ = writeln!(
            text,
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            segmenter.discontinuity_sequence()
        );
    }
    for segment in segments {
        if segment.discontinuity {
            text.push_str("#EXT-X-DISCONTINUITY\n");
        }
        super::cmaf_playlist::program_date_time(&mut text, segment.program_date_ms);
        let secs = f64::from(segment.duration_ms) / 1000.0;
        let _ = writeln!(text, "#EXTINF:{secs:.3},\n{}", uri(segment));
    }
    if segmenter.is_ended() {
        text.push_str("#EXT-X-ENDLIST\n");
    }
    text
}

/// A multivariant playlist with one variant at `uri`.
pub fn multivariant_playlist(
    uri: &str,
    bandwidth: u64,
    codecs: &str,
    resolution: Option<(u32, u32)>,
) -> String {
    let mut attributes = format!("BANDWIDTH={}", bandwidth.max(1));
    if !codecs.is_empty() {
        let _ = write!(attributes, ",CODECS=\"{codecs}\"");
    }
    if let Some((w, h)) = resolution {
        let _ = write!(attributes, ",RESOLUTION={w}x{h}");
    }
    format!("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:{attributes}\n{uri}\n")
}
