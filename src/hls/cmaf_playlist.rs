//! Media playlists of a CMAF segmenter: `fmp4` (RFC 8216 with `#EXT-X-MAP`, version 7) and
//! Low-Latency HLS (draft-pantos-hls-rfc8216bis: parts, preload hint, server control, delta
//! updates). The rules each tag follows are named in `cmaf_playlist/tests.rs`.

use std::fmt::Write;

use super::cmaf::{CmafSegmenter, PART_SEGMENTS};

/// How a playlist names its resources.
pub struct Uris<'a> {
    pub segment: &'a dyn Fn(u64) -> String,
    /// Segment sequence, part index.
    pub part: &'a dyn Fn(u64, usize) -> String,
    pub init: &'a dyn Fn(u32) -> String,
}

/// Seconds with three decimals, as EXTINF and DURATION write them.
fn secs(ms: u32) -> String {
    format!("{:.3}", f64::from(ms) / 1000.0)
}

/// `#EXT-X-PROGRAM-DATE-TIME` of a Unix time in milliseconds (none for 0: unknown).
pub fn program_date_time(text: &mut String, unix_ms: u64) {
    if unix_ms > 0 {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
        let _ = writeln!(
            text,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            crate::text::rfc3339(time)
        );
    }
}

/// The part target of a low-latency segmenter (seconds, as advertised).
pub fn part_target_secs(part_ms: u32) -> f64 {
    f64::from(part_ms) / 1000.0
}

/// The time a delta update may skip: segments that start this long before the playlist's end
/// are left out (six target durations, the least the draft allows).
pub fn skip_until_secs(target_secs: u32) -> u32 {
    target_secs * 6
}

/// The media playlist of `s`. With parts (`lowlatency`), `skip` asks for a delta update: the
/// segments older than `CAN-SKIP-UNTIL` are replaced by `#EXT-X-SKIP`.
pub fn cmaf_media_playlist(s: &CmafSegmenter, uris: &Uris<'_>, skip: bool) -> String {
    let settings = s.settings();
    let segments = s.segments();
    let first = segments
        .front()
        .map(|seg| seg.sequence)
        .or_else(|| s.building().map(|b| b.sequence))
        .unwrap_or(0);
    let target = s.target_duration_secs();
    // Delta update: how many of the oldest segments end before the skip boundary.
    let skipped = match settings.part_ms {
        Some(_) if skip => {
            let total: u64 = segments.iter().map(|seg| u64::from(seg.duration_ms)).sum();
            let building = s.building().map_or(0, |b| {
                b.parts
                    .iter()
                    .map(|p| u64::from(p.duration_ms))
                    .sum::<u64>()
            });
            let keep_from =
                (total + building).saturating_sub(u64::from(skip_until_secs(target)) * 1000);
            let mut start = 0u64;
            let mut n = 0;
            for seg in segments {
                if start + u64::from(seg.duration_ms) > keep_from || seg.discontinuity {
                    break;
                }
                start += u64::from(seg.duration_ms);
                n += 1;
            }
            n
        }
        _ => 0,
    };
    let version = if skipped > 0 { 9 } else { 7 };
    let mut text = String::with_capacity(256 + segments.len() * 160);
    let _ = write!(
        text,
        "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{target}\n"
    );
    if let Some(part_ms) = settings.part_ms {
        let part_target = part_target_secs(part_ms);
        let _ = writeln!(
            text,
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={:.1},PART-HOLD-BACK={:.3},HOLD-BACK={:.1}",
            f64::from(skip_until_secs(target)),
            part_target * 3.0,
            f64::from(target * 3),
        );
        let _ = writeln!(text, "#EXT-X-PART-INF:PART-TARGET={part_target:.3}");
    }
    let _ = writeln!(text, "#EXT-X-MEDIA-SEQUENCE:{first}");
    if s.discontinuity_sequence() > 0 {
        let _ = writeln!(
            text,
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            s.discontinuity_sequence()
        );
    }
    if skipped > 0 {
        let _ = writeln!(text, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
    }
    // The first segment listed names its init segment, and every one whose init differs.
    let mut init = None;
    let parts_from = segments.len().saturating_sub(PART_SEGMENTS);
    for (i, seg) in segments.iter().enumerate().skip(skipped) {
        if seg.discontinuity {
            text.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if init != Some(seg.init.id) {
            let _ = writeln!(text, "#EXT-X-MAP:URI=\"{}\"", (uris.init)(seg.init.id));
            init = Some(seg.init.id);
        }
        program_date_time(&mut text, seg.program_date_ms);
        if i >= parts_from {
            if let Some(parts) = s.parts_of(seg.sequence) {
                write_parts(&mut text, uris, seg.sequence, parts);
            }
        }
        let _ = writeln!(
            text,
            "#EXTINF:{},\n{}",
            secs(seg.duration_ms),
            (uris.segment)(seg.sequence)
        );
    }
    if s.is_ended() {
        text.push_str("#EXT-X-ENDLIST\n");
        return text;
    }
    if let (Some(b), Some(_)) = (s.building(), settings.part_ms) {
        // The segment being written: its parts so far, then the hint of the next one.
        if b.discontinuity {
            text.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if init != Some(b.init.id) {
            let _ = writeln!(text, "#EXT-X-MAP:URI=\"{}\"", (uris.init)(b.init.id));
        }
        program_date_time(&mut text, b.program_date_ms);
        write_parts(&mut text, uris, b.sequence, &b.parts);
        let _ = writeln!(
            text,
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"",
            (uris.part)(b.sequence, b.parts.len())
        );
    }
    text
}

fn write_parts(
    text: &mut String,
    uris: &Uris<'_>,
    sequence: u64,
    parts: &[std::sync::Arc<super::cmaf::CmafPart>],
) {
    for (index, part) in parts.iter().enumerate() {
        let independent = if part.independent {
            ",INDEPENDENT=YES"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "#EXT-X-PART:DURATION={},URI=\"{}\"{independent}",
            secs(part.duration_ms),
            (uris.part)(sequence, index)
        );
    }
}

#[cfg(test)]
mod tests;
