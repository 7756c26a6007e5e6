//! H.264 in MPEG-TS: the FLV body's length-prefixed NAL units (AVCC) become an Annex-B access
//! unit: an access unit delimiter, the SPS and PPS before every keyframe (from the
//! AVCDecoderConfigurationRecord), then each NAL unit behind a start code.
//!
//! ```text
//! AVCDecoderConfigurationRecord:
//!  0 version | 1 profile | 2 compatibility | 3 level | 4 111111 | length size - 1 (2)
//!  5 111 | SPS count (5) | (SPS length (16) | SPS)* | PPS count (8) | (PPS length (16) | PPS)* | ...
//! AVCC access unit: (NAL length (8 * length size) | NAL unit)*
//! Annex-B access unit: 00 00 00 01 09 F0 | (00 00 00 01 | NAL unit)*
//! ```

use super::TsError;

const START_CODE: [u8; 4] = [0, 0, 0, 1];
/// An access unit delimiter NAL (type 9) saying "any slice type".
pub const ACCESS_UNIT_DELIMITER: [u8; 6] = [0, 0, 0, 1, 0x09, 0xF0];
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;

/// The parts of an AVCDecoderConfigurationRecord an Annex-B stream needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// 1, 2 or 4 bytes per NAL length.
    pub length_size: usize,
    /// Every SPS then every PPS, each behind a start code.
    pub parameter_sets: Vec<u8>,
    /// profile, compatibility and level: the `avc1.PPCCLL` codec string.
    pub profile: [u8; 3],
}

impl AvcConfig {
    pub fn parse(record: &[u8]) -> Result<AvcConfig, TsError> {
        const SHORT: TsError = TsError::Malformed("AVCDecoderConfigurationRecord is truncated");
        if record.len() < 7 {
            return Err(SHORT);
        }
        let length_size = usize::from(record[4] & 0x03) + 1;
        if length_size == 3 {
            return Err(TsError::Malformed("NAL length size of 3 bytes"));
        }
        let mut parameter_sets = Vec::new();
        let mut pos = 5;
        for count_mask in [0x1Fu8, 0xFF] {
            let count = record.get(pos).ok_or(SHORT)? & count_mask;
            pos += 1;
            for _ in 0..count {
                let len = record.get(pos..pos + 2).ok_or(SHORT)?;
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let nal = record.get(pos + 2..pos + 2 + len).ok_or(SHORT)?;
                parameter_sets.extend_from_slice(&START_CODE);
                parameter_sets.extend_from_slice(nal);
                pos += 2 + len;
            }
        }
        Ok(AvcConfig {
            length_size,
            parameter_sets,
            profile: [record[1], record[2], record[3]],
        })
    }

    /// `avc1.PPCCLL` for a playlist's CODECS attribute.
    pub fn codec_string(&self) -> String {
        let [p, c, l] = self.profile;
        format!("avc1.{p:02x}{c:02x}{l:02x}")
    }
}

/// The NAL units of an AVCC access unit, checked against its length.
pub fn nal_units(data: &[u8], length_size: usize) -> Result<Vec<&[u8]>, TsError> {
    let mut units = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let len_bytes = data
            .get(pos..pos + length_size)
            .ok_or(TsError::Malformed("NAL length is truncated"))?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        pos += length_size;
        let unit = data
            .get(pos..pos + len)
            .ok_or(TsError::Malformed("NAL unit longer than its access unit"))?;
        if !unit.is_empty() {
            units.push(unit);
        }
        pos += len;
    }
    Ok(units)
}

/// The Annex-B access unit for AVCC `data`: an AUD, the parameter sets before a keyframe that
/// lacks them, then the NAL units (the source's own AUDs dropped, as ours comes first).
pub fn to_annex_b(data: &[u8], config: &AvcConfig, keyframe: bool) -> Result<Vec<u8>, TsError> {
    let units = nal_units(data, config.length_size)?;
    let mut out = Vec::with_capacity(data.len() + config.parameter_sets.len() + 32);
    out.extend_from_slice(&ACCESS_UNIT_DELIMITER);
    let has_parameter_sets = units
        .iter()
        .any(|u| matches!(u[0] & 0x1F, NAL_SPS | NAL_PPS));
    if keyframe && !has_parameter_sets {
        out.extend_from_slice(&config.parameter_sets);
    }
    for unit in units {
        if unit[0] & 0x1F == NAL_AUD {
            continue;
        }
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(unit);
    }
    Ok(out)
}
