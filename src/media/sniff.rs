//! Tag sniffing: what the first bytes of an FLV audio/video tag body say (keyframe, sequence header,
//! codec), for legacy and Enhanced RTMP headers.
//!
//! Every function takes bytes from the network: short or odd input gives `false` or `None`, never a
//! panic.

use super::codec_id::{AudioCodec, VideoCodec};

use super::tag_header::*;

/// A keyframe (frame type 1), including a keyframe that is a sequence header.
pub fn video_is_keyframe(body: &[u8]) -> bool {
    match body.first() {
        Some(&b0) if b0 & VIDEO_EX_HEADER != 0 => (b0 >> 4) & 0x07 == VIDEO_FRAME_KEY,
        Some(&b0) => b0 >> 4 == VIDEO_FRAME_KEY,
        None => false,
    }
}

/// An AVC/HEVC decoder configuration (legacy) or an Enhanced RTMP sequence start.
pub fn video_is_sequence_header(body: &[u8]) -> bool {
    match body.first() {
        Some(&b0) if b0 & VIDEO_EX_HEADER != 0 => ex_video_header(body).is_some_and(|h| {
            h.packet_type == VIDEO_PACKET_SEQUENCE_START
                || h.packet_type == VIDEO_PACKET_MPEG2TS_SEQUENCE_START
        }),
        Some(&b0) => {
            matches!(b0 & 0x0F, LEGACY_AVC | LEGACY_HEVC)
                && body.get(1) == Some(&AVC_SEQUENCE_HEADER)
        }
        None => false,
    }
}

/// An AAC AudioSpecificConfig (legacy) or an Enhanced RTMP audio sequence start.
pub fn audio_is_sequence_header(body: &[u8]) -> bool {
    match body.first().map(|b0| b0 >> 4) {
        Some(AUDIO_FORMAT_AAC) => body.get(1) == Some(&AAC_SEQUENCE_HEADER),
        Some(AUDIO_FORMAT_EX_HEADER) => {
            ex_audio_header(body).is_some_and(|h| h.packet_type == AUDIO_PACKET_SEQUENCE_START)
        }
        _ => false,
    }
}

/// An Enhanced RTMP header after its ModEx and multitrack prefixes are peeled off.
pub(super) struct ExHeader<'a> {
    pub(super) packet_type: u8,
    pub(super) fourcc: [u8; 4],
    /// The packet's payload; for multitrack, the first track's.
    pub(super) payload: &'a [u8],
    /// The track id of a multitrack packet that carries one track.
    pub(super) track: Option<u8>,
}

pub(super) fn ex_video_header(body: &[u8]) -> Option<ExHeader<'_>> {
    let frame_type = (body.first()? >> 4) & 0x07;
    ex_header(
        body,
        VIDEO_PACKET_MODEX,
        VIDEO_PACKET_MULTITRACK,
        |packet_type| frame_type == VIDEO_FRAME_COMMAND && packet_type != VIDEO_PACKET_METADATA,
    )
}

pub(super) fn ex_audio_header(body: &[u8]) -> Option<ExHeader<'_>> {
    ex_header(body, AUDIO_PACKET_MODEX, AUDIO_PACKET_MULTITRACK, |_| false)
}

/// The shared shape of enhanced audio and video headers (the packet type is the low nibble of byte 0):
///
/// ```text
/// ModEx (repeats while the packet type is ModEx):
///   | size - 1 (8) [if 255: size - 1 (16)] | data (size) | ModEx type (4) | packet type (4) |
/// Multitrack:
///   | multitrack type (4) | packet type (4) | [FourCC unless many codecs] |
///   then per track: | [FourCC if many codecs] | track id (8) | [size (24) unless one track] | data |
/// Otherwise:
///   | FourCC | data |
/// ```
/// `is_command` says whether a packet type (given the frame type) carries a command and no FourCC.
fn ex_header(
    body: &[u8],
    modex: u8,
    multitrack: u8,
    is_command: impl Fn(u8) -> bool,
) -> Option<ExHeader<'_>> {
    let mut packet_type = body.first()? & 0x0F;
    let mut rest = &body[1..];
    while packet_type == modex {
        let (size, after) = match *rest.first()? {
            0xFF => (
                usize::from(u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?])) + 1,
                3,
            ),
            n => (usize::from(n) + 1, 1),
        };
        rest = rest.get(after + size..)?;
        packet_type = rest.first()? & 0x0F;
        rest = &rest[1..];
    }
    if is_command(packet_type) {
        return None;
    }
    if packet_type != multitrack {
        return Some(ExHeader {
            packet_type,
            fourcc: rest.get(..4)?.try_into().ok()?,
            payload: &rest[4..],
            track: None,
        });
    }
    let b = *rest.first()?;
    let (track_kind, packet_type) = (b >> 4, b & 0x0F);
    // Whether the FourCC is shared (types 0, 1) or per track (type 2), the first one sits right here.
    let fourcc: [u8; 4] = rest.get(1..5)?.try_into().ok()?;
    let first_track = &rest[5..];
    // Skip the track id, and the track size where there is one.
    let payload = if track_kind == MULTITRACK_ONE_TRACK {
        first_track.get(1..)?
    } else {
        let size = u32::from_be_bytes([
            0,
            *first_track.get(1)?,
            *first_track.get(2)?,
            *first_track.get(3)?,
        ]);
        first_track.get(4..4 + size as usize)?
    };
    let track = if track_kind == MULTITRACK_ONE_TRACK {
        first_track.first().copied()
    } else {
        None
    };
    Some(ExHeader {
        packet_type,
        fourcc,
        payload,
        track,
    })
}

/// The track a sequence header starts: `Some(id)` for an Enhanced RTMP multitrack packet that
/// carries one track (a stream may start each of its tracks in a message of its own), `None` for
/// a stream's only track or a packet that starts every track at once.
pub fn header_track(video: bool, body: &[u8]) -> Option<u8> {
    let enhanced = match body.first() {
        Some(&b0) if video => b0 & VIDEO_EX_HEADER != 0,
        Some(&b0) => b0 >> 4 == AUDIO_FORMAT_EX_HEADER,
        None => false,
    };
    if !enhanced {
        return None;
    }
    let header = if video {
        ex_video_header(body)
    } else {
        ex_audio_header(body)
    };
    header.and_then(|h| h.track)
}

/// The codec of a video tag body: the legacy codec id, or the Enhanced RTMP FourCC. `None` for an
/// empty body, a truncated enhanced header, or an enhanced command frame (which names no codec).
pub fn video_codec(body: &[u8]) -> Option<VideoCodec> {
    let b0 = *body.first()?;
    if b0 & VIDEO_EX_HEADER != 0 {
        ex_video_header(body).map(|h| VideoCodec::from_fourcc(h.fourcc))
    } else {
        Some(VideoCodec::from_legacy_id(b0 & 0x0F))
    }
}

/// The codec of an audio tag body: the sound format, or the Enhanced RTMP FourCC for format 9.
pub fn audio_codec(body: &[u8]) -> Option<AudioCodec> {
    let format = body.first()? >> 4;
    if format == AUDIO_FORMAT_EX_HEADER {
        ex_audio_header(body).map(|h| AudioCodec::from_fourcc(h.fourcc))
    } else {
        Some(AudioCodec::from_format(format))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::*;
    use crate::media::test_support::*;

    #[test]
    fn enhanced_multitrack_and_modex_prefixes_are_seen_through() {
        let hvcc = hex(HVCC_1080P);
        // Multitrack (6), one track, SequenceStart, 'hvc1', track id 0.
        let one_track = [&[0x96, 0x00][..], b"hvc1", &[0], &hvcc].concat();
        assert!(video_is_sequence_header(&one_track));
        assert_eq!(video_codec(&one_track), Some(VideoCodec::Hevc));
        assert_eq!(
            video_size_from_sequence_header(&one_track),
            Ok(Some(size(1920, 1080)))
        );
        // Many tracks, many codecs: FourCC, track id, 24-bit size per track.
        let len = (hvcc.len() as u32).to_be_bytes();
        let many = [
            &[0x96, 0x20][..],
            b"hvc1",
            &[1, len[1], len[2], len[3]],
            &hvcc,
        ]
        .concat();
        assert_eq!(
            video_size_from_sequence_header(&many),
            Ok(Some(size(1920, 1080)))
        );
        // ModEx (7) with 2 bytes of data, then CodedFrames (1) of 'av01', inter frame.
        let modex = [&[0xA7, 0x01, 0xAA, 0xBB, 0x01][..], b"av01", &[0x12]].concat();
        assert_eq!(video_codec(&modex), Some(VideoCodec::Av1));
        assert!(!video_is_sequence_header(&modex));
        assert!(!video_is_keyframe(&modex));
        // Enhanced command frame (frame type 5): no FourCC.
        assert_eq!(video_codec(&[0xD1, 0x00]), None);
        // Truncated ModEx sizes do not panic.
        for body in [
            &[0x97][..],
            &[0x97, 0xFF],
            &[0x97, 0xFF, 0x01],
            &[0x97, 0x05, 1],
        ] {
            assert_eq!(video_codec(body), None);
            assert!(!video_is_sequence_header(body));
        }
    }

    #[test]
    fn multitrack_frames_are_keyframes_by_frame_type_and_audio_multitrack_starts_are_headers() {
        // Multitrack, many tracks of one codec, CodedFramesX: keyframe, then inter frame.
        let frames = |b0: u8| [&[b0, 0x13][..], b"hvc1", &[0, 0, 0, 2, 0xAA, 0xBB]].concat();
        let (key, inter) = (frames(0x96), frames(0xA6));
        assert!(video_is_keyframe(&key) && !video_is_sequence_header(&key));
        assert!(!video_is_keyframe(&inter) && !video_is_sequence_header(&inter));
        assert_eq!(video_codec(&inter), Some(VideoCodec::Hevc));
        // A track size beyond the body is not a header to read.
        let short = [&[0x96, 0x10][..], b"hvc1", &[0, 0, 0, 9, 1]].concat();
        assert!(!video_is_sequence_header(&short));
        assert_eq!(video_codec(&short), None);
        // Audio multitrack (5), one track, SequenceStart of 'Opus'; then coded frames (1).
        let start = [&[0x95, 0x00][..], b"Opus", &[0], b"OpusHead"].concat();
        assert!(audio_is_sequence_header(&start));
        assert_eq!(audio_codec(&start), Some(AudioCodec::Opus));
        let coded = [&[0x95, 0x01][..], b"Opus", &[0, 0xFC]].concat();
        assert!(!audio_is_sequence_header(&coded));
    }

    #[test]
    fn video_header_checks_never_panic_and_read_legacy_and_enhanced_bits() {
        for body in [&[][..], &[0x17], &[0x80], &[0x90, b'h']] {
            let _ = (
                video_is_keyframe(body),
                video_is_sequence_header(body),
                video_codec(body),
                video_size_from_sequence_header(body),
            );
        }
        assert!(video_is_keyframe(&[0x17, 1]));
        assert!(!video_is_keyframe(&[0x27, 1]));
        assert!(!video_is_sequence_header(&[0x17, 1]));
        assert!(!video_is_sequence_header(&[0x17]));
        assert!(!video_is_sequence_header(&[0x12, 0])); // H.263 has no sequence header
        assert!(video_is_keyframe(&[0x91]));
        assert!(!video_is_keyframe(&[0xA1]));
        assert!(!video_is_sequence_header(&[&[0x91][..], b"avc1"].concat()));
        assert!(video_is_sequence_header(&[&[0x95][..], b"av01"].concat()));
    }

    #[test]
    fn audio_sequence_headers_are_aac_configs_and_enhanced_starts() {
        assert!(audio_is_sequence_header(&hex("af 00 12 10")));
        assert!(!audio_is_sequence_header(&hex("af 01 21")));
        assert!(!audio_is_sequence_header(&hex("af")));
        assert!(!audio_is_sequence_header(&hex("2f 00")));
        assert!(!audio_is_sequence_header(&[]));
        assert!(!audio_is_sequence_header(&[0x90]));
    }
}
