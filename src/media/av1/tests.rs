use super::*;
use crate::media::codec::*;
use crate::media::test_support::*;

/// The sequence header OBU libaom writes for 640x360 (profile 0, level 2.1, no timing info).
const AV1_SEQUENCE_HEADER_OBU_360P: &str = "0a 0b 00 00 00 0c c4 ff 67 36 be 40 10";
/// av1C for it: marker + version 1, profile 0 level 1, 4:2:0, no presentation delay.
const AV1C_HEAD: &str = "81 01 0c 00";

fn av1c_360p() -> Vec<u8> {
    hex(&format!("{AV1C_HEAD} {AV1_SEQUENCE_HEADER_OBU_360P}"))
}

#[test]
fn an_enhanced_av01_sequence_start_gives_the_size_in_its_av1c() {
    let body = [&[0x90][..], b"av01", &av1c_360p()].concat();
    assert!(video_is_sequence_header(&body));
    assert!(video_is_keyframe(&body));
    assert_eq!(video_codec(&body), Some(VideoCodec::Av1));
    assert_eq!(
        video_size_from_sequence_header(&body),
        Ok(Some(size(640, 360)))
    );
    // A bare sequence header OBU, without the record around it.
    let bare = [&[0x90][..], b"av01", &hex(AV1_SEQUENCE_HEADER_OBU_360P)].concat();
    assert_eq!(
        video_size_from_sequence_header(&bare),
        Ok(Some(size(640, 360)))
    );
    // Other OBUs (a temporal delimiter, metadata) before the sequence header are skipped.
    let config = hex(&format!(
        "{AV1C_HEAD} 12 00 2a 02 01 02 {AV1_SEQUENCE_HEADER_OBU_360P}"
    ));
    assert_eq!(
        av1_config_sequence_header(&config),
        Ok(Some(&av1c_360p()[6..]))
    );
    // No sequence header at all.
    assert_eq!(av1_config_sequence_header(&hex("81 01 0c 00")), Ok(None));
    // An MPEG-2 TS sequence start carries a TS descriptor, not av1C: no size, no error.
    let ts = [&[0x95][..], b"av01", &[0x80, 0x01]].concat();
    assert_eq!(video_size_from_sequence_header(&ts), Ok(None));
}

#[test]
fn every_cut_of_an_av1_sequence_start_is_an_error_not_a_panic() {
    let body = [&[0x90][..], b"av01", &av1c_360p()].concat();
    // The last two bytes (color config) are not needed for the size; a record that ends right
    // after its 4 fixed bytes simply has no configuration OBUs.
    for cut in 5..body.len() - 2 {
        if cut == 9 {
            assert_eq!(video_size_from_sequence_header(&body[..cut]), Ok(None));
            continue;
        }
        assert!(
            video_size_from_sequence_header(&body[..cut]).is_err(),
            "cut {cut}"
        );
    }
    // The forbidden bit, and a LEB128 size longer than 8 bytes.
    assert_eq!(
        av1_config_sequence_header(&hex("81 01 0c 00 8a 00")),
        Err(CodecError::Invalid("AV1 OBU forbidden bit"))
    );
    assert_eq!(
        av1_config_sequence_header(&hex("0a ff ff ff ff ff ff ff ff 01")),
        Err(CodecError::Invalid("AV1 OBU size"))
    );
    assert!(av1_config_sequence_header(&hex("0a ff ff ff ff ff ff ff 7f")).is_err());
}

/// A sequence header OBU payload with timing and decoder model info, two operating points (one
/// above level 3.3, so with a tier bit) and initial display delays, for `width` x `height`.
fn full_sequence_header(width: u64, height: u64) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.put(3, 0).flag(false).flag(false); // profile, still_picture, reduced header
    w.flag(true).put(32, 1).put(32, 25).flag(true); // timing info, equal picture interval
    w.put(2, 0).put(1, 1).put(2, 2); // uvlc(5): two zeros, a one, then 2 bits (5 - 3)
    w.flag(true).put(5, 9).put(32, 1).put(5, 4).put(5, 4); // decoder model info
    w.flag(true).put(5, 1); // initial display delay present, two operating points
    for level in [8u64, 4] {
        w.put(12, 0x101).put(5, level);
        if level > 7 {
            w.flag(true); // seq_tier
        }
        w.flag(true).put(10, 3).put(10, 4).flag(false); // decoder model for this op
        w.flag(true).put(4, 9); // initial display delay for this op
    }
    let bits = |v: u64| 64 - v.leading_zeros();
    let (wb, hb) = (bits(width - 1), bits(height - 1));
    w.put(4, u64::from(wb - 1)).put(4, u64::from(hb - 1));
    w.put(wb, width - 1).put(hb, height - 1);
    w.put(8, 0); // the rest of the header, not read
    w.bytes
}

#[test]
fn sequence_headers_with_timing_decoder_models_and_operating_points_are_read() {
    assert_eq!(
        parse_av1_sequence_header(&full_sequence_header(1920, 1080)),
        Ok(size(1920, 1080))
    );
    assert_eq!(
        parse_av1_sequence_header(&full_sequence_header(7680, 4320)),
        Ok(size(7680, 4320))
    );
    // Reduced still picture header: level only, then the sizes (4 bits each, 16x9).
    let mut w = BitWriter::default();
    w.put(3, 0).flag(true).flag(true).put(5, 0);
    w.put(4, 3).put(4, 3).put(4, 15).put(4, 8);
    assert_eq!(parse_av1_sequence_header(&w.bytes), Ok(size(16, 9)));
    // A uvlc run that reaches the end of the data is truncated.
    let mut w = BitWriter::default();
    w.put(3, 0)
        .flag(false)
        .flag(false)
        .flag(true)
        .put(32, 1)
        .put(32, 25)
        .flag(true);
    w.put(16, 0);
    assert!(parse_av1_sequence_header(&w.bytes).is_err());
}

#[test]
fn a_multitrack_av01_sequence_start_gives_its_size() {
    // Multitrack (6), one track, SequenceStart, 'av01', track id 0, then av1C.
    let one_track = [&[0x96, 0x00][..], b"av01", &[0], &av1c_360p()].concat();
    assert!(video_is_sequence_header(&one_track));
    assert!(video_is_keyframe(&one_track));
    assert_eq!(video_codec(&one_track), Some(VideoCodec::Av1));
    assert_eq!(
        video_size_from_sequence_header(&one_track),
        Ok(Some(size(640, 360)))
    );
}
