use super::*;
use crate::media::test_support::*;

// SPS NAL units from ffmpeg 5.1 + libx264 (testsrc2 sources); sizes confirmed with ffprobe and the
// field values with `-bsf:v trace_headers`.
/// High, 1920x1080: 1088 coded rows, frame_crop_bottom_offset 4 (x2 for 4:2:0).
const SPS_1080P_HIGH: &str =
    "67 64 00 28 ac d9 40 78 02 27 e5 c0 44 00 00 03 00 04 00 00 03 00 c8 3c 60 c6 58";
/// Constrained Baseline, 640x360: 368 coded rows.
const SPS_360P_BASELINE: &str =
    "67 42 c0 1e d9 00 a0 2f f9 70 11 00 00 03 00 01 00 00 03 00 32 0f 16 2e 48";
/// High, 320x240, no cropping.
const SPS_240P_HIGH: &str =
    "67 64 00 0d ac d9 41 41 fb 01 10 00 00 03 00 10 00 00 03 03 20 f1 42 99 60";
/// High 4:4:4 Predictive, 350x202: crop right 2 and bottom 6 in whole samples.
const SPS_444_ODD: &str =
    "67 f4 00 0d 91 9b 28 2c 37 dc f8 08 80 00 00 03 00 80 00 00 19 07 8a 14 cb";
/// High, 1920x1080 interlaced: 34 map units of field pairs, crop bottom 2 in units of 4 rows.
const SPS_1080I: &str =
    "67 64 00 28 ac d9 40 78 04 4f de 02 20 00 00 03 00 20 00 00 06 43 e2 c5 b2 c0";
/// High 4:2:2, 352x288.
const SPS_422: &str = "67 7a 00 0d bc d9 41 60 96 c0 44 00 00 03 00 04 00 00 03 00 c8 3c 50 a6 58";
/// High 10, 720x576.
const SPS_HIGH10: &str =
    "67 6e 00 1e a6 cd 94 0b 41 26 c0 44 00 00 03 00 04 00 00 03 00 c8 3c 58 b6 58";
/// High 4:2:2 Intra (x264 AVC-Intra 100), 1920x1080: SPS scaling matrices, crop bottom 8 rows.
const SPS_AVCINTRA_1080: &str = "67 7a 10 29 b6 d4 20 22 33 19 c6 63 23 21 01 11 98 ce 33 19 18 21 02 56 b9 3d 7d 7e 4f e3 3f 11 f1 9e 08 b8 8c 54 43 c0 78 02 27 e2 70 11 00 00 03 00 01 00 00 03 00 32 84";
/// The same at 1280x720.
const SPS_AVCINTRA_720: &str = "67 7a 10 29 b6 d4 20 2a 33 1d c7 62 a1 08 40 54 66 3b 8e c5 42 02 10 25 64 2c 89 e8 85 e4 21 4b 90 83 06 95 d1 06 46 97 20 c8 d7 43 08 11 c2 1e 4c 91 0f 01 40 16 ec 04 40 00 00 03 00 40 00 00 19 21";

#[test]
fn real_h264_sps_give_their_display_sizes() {
    let cases = [
        (SPS_1080P_HIGH, size(1920, 1080)),
        (SPS_360P_BASELINE, size(640, 360)),
        (SPS_240P_HIGH, size(320, 240)),
        (SPS_444_ODD, size(350, 202)),
        (SPS_1080I, size(1920, 1080)),
        (SPS_422, size(352, 288)),
        (SPS_HIGH10, size(720, 576)),
        (SPS_AVCINTRA_1080, size(1920, 1080)),
        (SPS_AVCINTRA_720, size(1280, 720)),
    ];
    for (sps, expected) in cases {
        assert_eq!(parse_h264_sps(&hex(sps)), Ok(expected), "{sps}");
    }
}

#[test]
fn a_truncated_sps_is_an_error_at_every_cut_point() {
    for sps in [SPS_1080P_HIGH, SPS_444_ODD, SPS_1080I, SPS_AVCINTRA_1080] {
        let sps = hex(sps);
        // The cropping offsets end a few bits before the last byte (VUI follows, unparsed).
        let needed = (1..=sps.len())
            .find(|&n| parse_h264_sps(&sps[..n]).is_ok())
            .unwrap();
        for cut in 0..needed {
            let err = parse_h264_sps(&sps[..cut]).unwrap_err();
            assert_eq!(err, CodecError::Truncated("H.264 SPS"), "cut {cut}");
        }
    }
}

#[test]
fn a_nal_that_is_not_an_sps_is_refused() {
    assert_eq!(
        parse_h264_sps(&hex("68 eb e3 cb 22 c0")),
        Err(CodecError::NotSps(8))
    );
}

#[test]
fn a_built_sps_with_poc_type_1_and_field_coding_crops_in_units_of_four_rows() {
    // Baseline 1280x720 interlaced: 80 MBs wide, 23 map units of 32 rows = 736, crop 4 x 4.
    let mut w = BitWriter::default();
    w.put(8, 66).put(8, 0).put(8, 31).ue(0); // profile, constraints, level, sps id
    w.ue(0).ue(1); // log2_max_frame_num_minus4, pic_order_cnt_type 1
    w.flag(false).se(-3).se(2).ue(3).se(1).se(-1).se(200); // poc cycle of 3
    w.ue(4)
        .flag(false)
        .ue(79)
        .ue(22)
        .flag(false)
        .flag(true)
        .flag(true); // ..., field coding, mbaff, direct8x8
    w.flag(true).ue(0).ue(0).ue(0).ue(4); // cropping
    w.flag(false); // no VUI
    assert_eq!(parse_h264_sps(&w.nal(&[0x67])), Ok(size(1280, 720)));
}

#[test]
fn a_built_sps_with_separate_colour_planes_and_scaling_lists_crops_whole_samples() {
    let mut w = BitWriter::default();
    w.put(8, 244).put(8, 0).put(8, 40).ue(0);
    w.ue(3).flag(true); // chroma_format_idc 3, separate_colour_plane_flag
    w.ue(2).ue(2).flag(false); // bit depths 10, no transform bypass
    w.flag(true); // seq_scaling_matrix_present_flag: 12 lists for 4:4:4
    for i in 0..12 {
        let present = i % 3 != 1;
        w.flag(present);
        if !present {
            continue;
        }
        let size = if i < 6 { 16 } else { 64 };
        if i == 0 {
            // Ends early: a delta that makes the next scale 0 (8 - 8).
            w.se(-8);
        } else {
            // Full list; with emulation-prevention-provoking zero runs in between.
            for j in 0..size {
                w.se(if j % 2 == 0 { 5 } else { -5 });
            }
        }
    }
    w.ue(0).ue(2); // log2_max_frame_num_minus4, pic_order_cnt_type 2
    w.ue(1).flag(false).ue(119).ue(67).flag(true).flag(true); // 1920x1088, frames only
    w.flag(true).ue(3).ue(5).ue(1).ue(7); // crop in luma samples: 8 across, 8 down
    w.flag(false);
    assert_eq!(parse_h264_sps(&w.nal(&[0x67])), Ok(size(1912, 1080)));
}

#[test]
fn a_built_monochrome_sps_crops_in_luma_rows() {
    let mut w = BitWriter::default();
    w.put(8, 100).put(8, 0).put(8, 30).ue(0);
    w.ue(0).ue(0).ue(0).flag(false).flag(false); // chroma 0 (4:0:0), depths, no bypass/matrix
    w.ue(0).ue(0).ue(4); // frame num, poc type 0, poc lsb
    w.ue(1).flag(false).ue(39).ue(29).flag(true).flag(true); // 640x480
    w.flag(true).ue(0).ue(1).ue(0).ue(3);
    w.flag(false);
    assert_eq!(parse_h264_sps(&w.nal(&[0x67])), Ok(size(639, 477)));
}

#[test]
fn impossible_sps_values_are_errors_not_panics() {
    // Cropping more than the picture.
    let mut w = BitWriter::default();
    w.put(8, 66)
        .put(8, 0)
        .put(8, 30)
        .ue(0)
        .ue(0)
        .ue(2)
        .ue(1)
        .flag(false);
    w.ue(0)
        .ue(0)
        .flag(true)
        .flag(true)
        .flag(true)
        .ue(8)
        .ue(0)
        .ue(0)
        .ue(0);
    assert_eq!(
        parse_h264_sps(&w.nal(&[0x67])),
        Err(CodecError::Invalid("cropping larger than the picture"))
    );
    // A 4-billion-macroblock width.
    let mut w = BitWriter::default();
    w.put(8, 66)
        .put(8, 0)
        .put(8, 30)
        .ue(0)
        .ue(0)
        .ue(2)
        .ue(1)
        .flag(false);
    w.ue(u64::from(u32::MAX) - 1)
        .ue(0)
        .flag(true)
        .flag(true)
        .flag(false);
    assert_eq!(
        parse_h264_sps(&w.nal(&[0x67])),
        Err(CodecError::Invalid("picture size beyond 32 bits"))
    );
    // 40 zero bits: an exp-Golomb code too long to be real.
    assert!(matches!(
        parse_h264_sps(&[0x67, 66, 0, 30, 0, 0, 0, 0, 0, 0x80]),
        Err(CodecError::Invalid(_))
    ));
}
