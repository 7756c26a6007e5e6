//! H.264 (AVC): the first SPS of an AVCDecoderConfigurationRecord, and the display size from an SPS.

use super::bits::{unescape_rbsp, BitReader};
use super::error::CodecError;
use super::picture::{chroma_subsampling, cropped_size, VideoSize};

/// AVCDecoderConfigurationRecord (ISO 14496-15):
///
/// ```text
///  0 version | 1 profile | 2 compatibility | 3 level | 4 111111 | length size - 1 (2)
///  5 111 | SPS count (5) | (SPS length (16) | SPS)* | PPS count (8) | (PPS length (16) | PPS)* | ...
/// ```
pub(super) fn avc_config_first_sps(config: &[u8]) -> Result<Option<&[u8]>, CodecError> {
    const WHAT: &str = "AVCDecoderConfigurationRecord";
    let count = config.get(5).ok_or(CodecError::Truncated(WHAT))? & 0x1F;
    if count == 0 {
        return Ok(None);
    }
    let len = config
        .get(6..8)
        .ok_or(CodecError::Truncated(WHAT))
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))?;
    config
        .get(8..8 + len)
        .ok_or(CodecError::Truncated(WHAT))
        .map(Some)
}

/// H.264 profiles whose SPS carries chroma format, bit depths and scaling matrices.
const H264_HIGH_PROFILES: [u8; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// H.264 SPS NAL unit (with its 1-byte NAL header) -> display size: the coded size in macroblocks,
/// less the frame cropping, counted in crop units that depend on the chroma format and on whether the
/// picture is coded as fields.
pub fn parse_h264_sps(nal: &[u8]) -> Result<VideoSize, CodecError> {
    const WHAT: &str = "H.264 SPS";
    let header = *nal.first().ok_or(CodecError::Truncated(WHAT))?;
    let nal_type = header & 0x1F;
    if nal_type != 7 {
        return Err(CodecError::NotSps(nal_type));
    }
    let rbsp = unescape_rbsp(&nal[1..]);
    let mut r = BitReader::new(&rbsp, WHAT);

    let profile_idc = r.bits(8)? as u8;
    r.skip(16)?; // constraint flags, level_idc
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if H264_HIGH_PROFILES.contains(&profile_idc) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc > 3 {
            return Err(CodecError::Invalid("H.264 chroma_format_idc"));
        }
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.flag()?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            // seq_scaling_matrix_present_flag: 6 4x4 lists, then 2 (or 6 for 4:4:4) 8x8 lists.
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.flag()?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = r.ue()?;
            if cycle > 255 {
                return Err(CodecError::Invalid(
                    "H.264 num_ref_frames_in_pic_order_cnt_cycle",
                ));
            }
            for _ in 0..cycle {
                r.se()?; // offset_for_ref_frame
            }
        }
        2 => {}
        _ => return Err(CodecError::Invalid("H.264 pic_order_cnt_type")),
    }
    r.ue()?; // max_num_ref_frames
    r.flag()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_map_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        r.flag()?; // mb_adaptive_frame_field_flag
    }
    r.flag()?; // direct_8x8_inference_flag
    let mut crop = [0u64; 4]; // left, right, top, bottom
    if r.flag()? {
        for c in &mut crop {
            *c = u64::from(r.ue()?);
        }
    }

    // A field-coded picture has two fields of map units each.
    let fields = if frame_mbs_only { 1 } else { 2 };
    let chroma_array_type = if separate_colour_plane {
        0
    } else {
        chroma_format_idc
    };
    let (sub_width, sub_height) = chroma_subsampling(chroma_array_type);
    let (crop_unit_x, crop_unit_y) = (sub_width, sub_height * fields);
    cropped_size(
        width_mbs * 16,
        fields * height_map_units * 16,
        crop_unit_x * (crop[0] + crop[1]),
        crop_unit_y * (crop[2] + crop[3]),
    )
}

/// scaling_list(): delta-coded; a next scale of 0 ends the list early.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), CodecError> {
    let mut last_scale = 8i64;
    let mut next_scale = 8i64;
    for _ in 0..size {
        if next_scale != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(CodecError::Invalid("H.264 delta_scale"));
            }
            next_scale = (last_scale + delta).rem_euclid(256);
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
