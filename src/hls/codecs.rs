//! RFC 6381 codec strings for a playlist's `CODECS` attribute, read from the tracks' fMP4
//! configuration records: `avc1.PPCCLL` (avcC), `hvc1.P.C.TL.B…` (hvcC, ISO/IEC 14496-15 E.3),
//! `av01.P.LLT.DD` (av1C, AV1-ISOBMFF "Codecs Parameter String"), `mp4a.40.AOT` for AAC and
//! `mp4a.40.34` for MP3 (the name HLS players know it by).

use std::fmt::Write;

use crate::media::mp4::{Codec, TrackConfig};

/// The codec string of one track; a record too short to read gives the bare sample entry name.
pub fn codec_string(track: &TrackConfig) -> String {
    let c = &track.config;
    match track.codec {
        Codec::Avc => match c.get(1..4) {
            Some(p) => format!("avc1.{:02x}{:02x}{:02x}", p[0], p[1], p[2]),
            None => "avc1".into(),
        },
        Codec::Hevc => hevc_string(c).unwrap_or_else(|| "hvc1".into()),
        Codec::Av1 => av1_string(c).unwrap_or_else(|| "av01".into()),
        Codec::Aac => {
            let object_type = c.first().map_or(2, |b| b >> 3);
            let object_type = if object_type == 31 {
                // Escaped: 32 + the next six bits.
                c.get(..2)
                    .map_or(2, |b| 32 + (((b[0] & 7) << 3) | (b[1] >> 5)))
            } else {
                object_type
            };
            format!("mp4a.40.{object_type}")
        }
        Codec::Mp3 => "mp4a.40.34".into(),
    }
}

/// All tracks' strings, comma-separated.
pub fn codecs_attribute<'a>(tracks: impl IntoIterator<Item = &'a TrackConfig>) -> String {
    tracks
        .into_iter()
        .map(codec_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn hevc_string(c: &[u8]) -> Option<String> {
    let head = c.get(..13)?;
    let space = ["", "A", "B", "C"][usize::from(head[1] >> 6)];
    let tier = if head[1] & 0x20 != 0 { 'H' } else { 'L' };
    let profile = head[1] & 0x1F;
    let compat = u32::from_be_bytes([head[2], head[3], head[4], head[5]]).reverse_bits();
    let mut s = format!("hvc1.{space}{profile}.{compat:X}.{tier}{}", head[12]);
    // The six constraint bytes, trailing zero bytes left out.
    let constraints = &head[6..12];
    let used = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1);
    for b in &constraints[..used] {
        let _ = write!(s, ".{b:X}");
    }
    Some(s)
}

fn av1_string(c: &[u8]) -> Option<String> {
    let head = c.get(..3)?;
    let profile = head[1] >> 5;
    let level = head[1] & 0x1F;
    let tier = if head[2] & 0x80 != 0 { 'H' } else { 'M' };
    let depth = match (head[2] & 0x40 != 0, head[2] & 0x20 != 0) {
        (true, true) => 12,
        (true, false) => 10,
        _ => 8,
    };
    Some(format!("av01.{profile}.{level:02}{tier}.{depth:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(codec: Codec, config: &[u8]) -> TrackConfig {
        TrackConfig {
            codec,
            config: config.to_vec(),
            width: 0,
            height: 0,
            sample_rate: 44_100,
            channels: 2,
        }
    }

    #[test]
    fn codec_strings_follow_rfc_6381_and_the_iso_bmff_bindings() {
        assert_eq!(
            codec_string(&track(Codec::Avc, &[1, 0x64, 0, 0x1F, 0xFF])),
            "avc1.64001f"
        );
        // Main profile, compatible with Main and Main 10 (flags 1 and 2), level 3.1 (93),
        // progressive-source bit set: hvc1.1.6.L93.B0 as Apple's examples write it.
        let hvcc = [1, 0x01, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 93];
        assert_eq!(codec_string(&track(Codec::Hevc, &hvcc)), "hvc1.1.6.L93.B0");
        // Main profile, level 4.0 (8), main tier, 8 bits.
        assert_eq!(
            codec_string(&track(Codec::Av1, &[0x81, 0x08, 0x0C, 0])),
            "av01.0.08M.08"
        );
        assert_eq!(codec_string(&track(Codec::Aac, &[0x12, 0x10])), "mp4a.40.2");
        assert_eq!(codec_string(&track(Codec::Mp3, &[])), "mp4a.40.34");
        assert_eq!(codec_string(&track(Codec::Hevc, &[1, 2])), "hvc1");
        let both = [
            track(Codec::Avc, &[1, 0x42, 0xC0, 0x1E]),
            track(Codec::Aac, &[0x12, 0x10]),
        ];
        assert_eq!(codecs_attribute(&both), "avc1.42c01e,mp4a.40.2");
    }
}
