//! AV1: the sequence header OBU of an AV1CodecConfigurationRecord (av1C), and the picture size in it.

use super::bits::BitReader;
use super::error::CodecError;
use super::picture::VideoSize;

const OBU_SEQUENCE_HEADER: u8 = 1;
/// A LEB128 OBU size has at most 8 bytes.
const LEB128_MAX_BYTES: usize = 8;

/// AV1CodecConfigurationRecord (av1C, the AV1 ISOBMFF binding), as Enhanced RTMP's `av01`
/// SequenceStart carries it:
///
/// ```text
///  0  | marker (1) = 1 | version (7) = 1 |
///  1  | seq_profile (3) | seq_level_idx_0 (5) |
///  2  | tier (1) | high_bitdepth (1) | twelve_bit (1) | monochrome (1) | subsampling x, y (2) | position (2) |
///  3  | reserved (3) | initial_presentation_delay present (1) and value (4) |
///  4… configOBUs: the sequence header OBU, maybe metadata OBUs
/// ```
/// An OBU header's first bit is always 0, so a body that starts with a set top bit is a record; one
/// that does not is taken as bare OBUs (some encoders send the sequence header OBU alone).
pub(super) fn av1_config_sequence_header(config: &[u8]) -> Result<Option<&[u8]>, CodecError> {
    const WHAT: &str = "AV1CodecConfigurationRecord";
    let first = *config.first().ok_or(CodecError::Truncated(WHAT))?;
    let mut obus = if first & 0x80 != 0 {
        config.get(4..).ok_or(CodecError::Truncated(WHAT))?
    } else {
        config
    };
    while !obus.is_empty() {
        let (obu_type, payload, rest) = split_obu(obus)?;
        if obu_type == OBU_SEQUENCE_HEADER {
            return Ok(Some(payload));
        }
        obus = rest;
    }
    Ok(None)
}

/// One OBU off the front of `data`: (type, payload, what follows).
///
/// ```text
/// | forbidden (1) | type (4) | extension flag (1) | has size (1) | reserved (1) |
/// [ temporal id (3) | spatial id (2) | reserved (3) ]  if extension flag
/// [ size: LEB128 ]                                    if has size, else the OBU runs to the end
/// ```
fn split_obu(data: &[u8]) -> Result<(u8, &[u8], &[u8]), CodecError> {
    const WHAT: &str = "AV1 OBU";
    let header = *data.first().ok_or(CodecError::Truncated(WHAT))?;
    if header & 0x80 != 0 {
        return Err(CodecError::Invalid("AV1 OBU forbidden bit"));
    }
    let obu_type = (header >> 3) & 0x0F;
    let mut pos = 1 + usize::from(header & 0x04 != 0);
    if header & 0x02 == 0 {
        let payload = data.get(pos..).ok_or(CodecError::Truncated(WHAT))?;
        return Ok((obu_type, payload, &[]));
    }
    let mut size: u64 = 0;
    for i in 0..=LEB128_MAX_BYTES {
        if i == LEB128_MAX_BYTES {
            return Err(CodecError::Invalid("AV1 OBU size"));
        }
        let byte = *data.get(pos).ok_or(CodecError::Truncated(WHAT))?;
        pos += 1;
        size |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            break;
        }
    }
    let end = usize::try_from(size)
        .ok()
        .and_then(|size| pos.checked_add(size))
        .filter(|&end| end <= data.len())
        .ok_or(CodecError::Truncated(WHAT))?;
    Ok((obu_type, &data[pos..end], &data[end..]))
}

/// The payload of a sequence header OBU -> the largest frame size it allows (`max_frame_width`,
/// `max_frame_height`), which is the stream's picture size unless frames scale down.
pub fn parse_av1_sequence_header(payload: &[u8]) -> Result<VideoSize, CodecError> {
    let mut r = BitReader::new(payload, "AV1 sequence header");
    r.skip(3 + 1)?; // seq_profile, still_picture
    let reduced_still_picture_header = r.flag()?;
    if reduced_still_picture_header {
        r.skip(5)?; // seq_level_idx[0]
    } else {
        let timing_info_present = r.flag()?;
        let mut decoder_model_info_present = false;
        let mut buffer_delay_bits = 0;
        if timing_info_present {
            r.skip(32 + 32)?; // num_units_in_display_tick, time_scale
            if r.flag()? {
                uvlc(&mut r)?; // num_ticks_per_picture_minus_1
            }
            decoder_model_info_present = r.flag()?;
            if decoder_model_info_present {
                buffer_delay_bits = r.bits(5)? as usize + 1;
                r.skip(32 + 5 + 5)?; // decoding tick, removal and presentation time lengths
            }
        }
        let initial_display_delay_present = r.flag()?;
        let operating_points = r.bits(5)? + 1;
        for _ in 0..operating_points {
            r.skip(12)?; // operating_point_idc
            if r.bits(5)? > 7 {
                r.skip(1)?; // seq_tier
            }
            if decoder_model_info_present && r.flag()? {
                // decoder and encoder buffer delays, low_delay_mode_flag
                r.skip(2 * buffer_delay_bits + 1)?;
            }
            if initial_display_delay_present && r.flag()? {
                r.skip(4)?; // initial_display_delay_minus_1
            }
        }
    }
    let width_bits = r.bits(4)? + 1;
    let height_bits = r.bits(4)? + 1;
    let width = r.bits(width_bits)? + 1;
    let height = r.bits(height_bits)? + 1;
    Ok(VideoSize { width, height })
}

/// uvlc(): a run of zero bits, a one, then as many bits as the run was long (a run of 32 or more
/// means the largest value, with no bits after it). The run ends with the data at the latest.
fn uvlc(r: &mut BitReader<'_>) -> Result<u32, CodecError> {
    let mut leading_zeros = 0u32;
    while !r.flag()? {
        leading_zeros += 1;
    }
    if leading_zeros >= 32 {
        return Ok(u32::MAX);
    }
    Ok(r.bits(leading_zeros)? + ((1u32 << leading_zeros) - 1))
}

#[cfg(test)]
mod tests;
