//! HEVC (H.265): the SPS of an HEVCDecoderConfigurationRecord (hvcC), and the display size from an SPS.

use super::bits::{unescape_rbsp, BitReader};
use super::error::CodecError;
use super::picture::{chroma_subsampling, cropped_size, VideoSize};

/// HEVCDecoderConfigurationRecord (hvcC, ISO 14496-15):
///
/// ```text
///  0..22  version, profile/tier/level, chroma, bit depths, frame rate, length size ... (22 bytes)
///  22     array count (8)
///  then per array: | completeness (1) | 0 | NAL type (6) | NAL count (16) | (length (16) | NAL)* |
/// ```
pub(super) fn hevc_config_sps(config: &[u8]) -> Result<Option<&[u8]>, CodecError> {
    const WHAT: &str = "HEVCDecoderConfigurationRecord";
    const SPS: u8 = 33;
    let truncated = CodecError::Truncated(WHAT);
    let arrays = *config.get(22).ok_or(truncated.clone())?;
    let mut rest = &config[23..];
    for _ in 0..arrays {
        let head = rest.get(..3).ok_or(truncated.clone())?;
        let nal_type = head[0] & 0x3F;
        let count = u16::from_be_bytes([head[1], head[2]]);
        rest = &rest[3..];
        for _ in 0..count {
            let len = rest
                .get(..2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .ok_or(truncated.clone())?;
            let nal = rest.get(2..2 + len).ok_or(truncated.clone())?;
            if nal_type == SPS {
                return Ok(Some(nal));
            }
            rest = &rest[2 + len..];
        }
    }
    Ok(None)
}

/// HEVC SPS NAL unit (with its 2-byte NAL header) -> display size: the coded luma size less the
/// conformance window, counted in chroma sample units.
pub fn parse_hevc_sps(nal: &[u8]) -> Result<VideoSize, CodecError> {
    const WHAT: &str = "HEVC SPS";
    let header = nal.get(..2).ok_or(CodecError::Truncated(WHAT))?;
    let nal_type = (header[0] >> 1) & 0x3F;
    if nal_type != 33 {
        return Err(CodecError::NotSps(nal_type));
    }
    let rbsp = unescape_rbsp(&nal[2..]);
    let mut r = BitReader::new(&rbsp, WHAT);

    r.skip(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)? as usize;
    if max_sub_layers_minus1 > 6 {
        return Err(CodecError::Invalid("HEVC sps_max_sub_layers_minus1"));
    }
    r.skip(1)?; // sps_temporal_id_nesting_flag

    // profile_tier_level: general profile (88 bits) and level (8 bits), then per sub-layer presence
    // flags, padding to 8 pairs, and the present sub-layer profiles (88) and levels (8).
    r.skip(88 + 8)?;
    let mut sub_layers = [(false, false); 6];
    for s in sub_layers.iter_mut().take(max_sub_layers_minus1) {
        *s = (r.flag()?, r.flag()?);
    }
    if max_sub_layers_minus1 > 0 {
        r.skip(2 * (8 - max_sub_layers_minus1))?;
    }
    for &(profile, level) in sub_layers.iter().take(max_sub_layers_minus1) {
        if profile {
            r.skip(88)?;
        }
        if level {
            r.skip(8)?;
        }
    }

    r.ue()?; // sps_seq_parameter_set_id
    let chroma_format_idc = r.ue()?;
    if chroma_format_idc > 3 {
        return Err(CodecError::Invalid("HEVC chroma_format_idc"));
    }
    let separate_colour_plane = chroma_format_idc == 3 && r.flag()?;
    let width = u64::from(r.ue()?);
    let height = u64::from(r.ue()?);
    let mut window = [0u64; 4]; // left, right, top, bottom
    if r.flag()? {
        for w in &mut window {
            *w = u64::from(r.ue()?);
        }
    }
    let chroma_array_type = if separate_colour_plane {
        0
    } else {
        chroma_format_idc
    };
    let (sub_width, sub_height) = chroma_subsampling(chroma_array_type);
    cropped_size(
        width,
        height,
        sub_width * (window[0] + window[1]),
        sub_height * (window[2] + window[3]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::*;
    use crate::media::test_support::*;

    /// The 1280x720 SPS from libx265 (no conformance window).
    const HEVC_SPS_720P: &str = "42 01 01 01 60 00 00 03 00 90 00 00 03 00 00 03 00 5d a0 02 80 80 2d 16 59 59 a4 93 2b c0 5a 02 00 00 03 00 02 00 00 03 00 32 10";

    #[test]
    fn hevc_sizes_come_from_the_sps_in_hvcc() {
        assert_eq!(parse_hevc_sps(&hex(HEVC_SPS_720P)), Ok(size(1280, 720)));
        let hvcc = hex(HVCC_1080P);
        // Legacy id 12.
        let legacy = [&[0x1C, 0, 0, 0, 0][..], &hvcc].concat();
        assert_eq!(video_codec(&legacy), Some(VideoCodec::Hevc));
        assert_eq!(
            video_size_from_sequence_header(&legacy),
            Ok(Some(size(1920, 1080)))
        );
        // Enhanced RTMP: keyframe, SequenceStart, 'hvc1'; no composition time.
        let enhanced = [&[0x90][..], b"hvc1", &hvcc].concat();
        assert!(video_is_sequence_header(&enhanced));
        assert!(video_is_keyframe(&enhanced));
        assert_eq!(video_codec(&enhanced), Some(VideoCodec::Hevc));
        assert_eq!(
            video_size_from_sequence_header(&enhanced),
            Ok(Some(size(1920, 1080)))
        );
        // Every cut from the FourCC to the end of the SPS is an error; the PPS is not needed.
        let sps_end = 5 + 23 + (3 + 2 + 24) + (3 + 2 + 42);
        for cut in 5..sps_end {
            assert_eq!(
                video_size_from_sequence_header(&enhanced[..cut]),
                Err(CodecError::Truncated("HEVCDecoderConfigurationRecord")),
                "cut {cut}"
            );
        }
        assert!(video_size_from_sequence_header(&enhanced[..sps_end]).is_ok());
        assert_eq!(
            parse_hevc_sps(&hex("40 01 0c")),
            Err(CodecError::NotSps(32))
        );
    }
}
