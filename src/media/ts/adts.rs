//! AAC in MPEG-TS: each raw AAC frame gets an ADTS header built from the AudioSpecificConfig.
//!
//! ```text
//! ADTS (7 bytes, no CRC): | sync 0xFFF (12) | MPEG-4 0 | layer 00 | no CRC 1 | profile (2) |
//!   | frequency index (4) | private 0 | channel config (3) | 0 | 0 | 0 | 0 | frame length (13) |
//!   | buffer fullness 0x7FF (11) | raw blocks - 1 = 0 (2) |
//! ```
//! ADTS can say only the AAC object types 1..=4 (profile = object type - 1), a frequency index,
//! and channel configurations 1..=7. With explicit SBR/PS signalling (object type 5 or 29) the
//! core object type and rate are written, and the decoder finds SBR/PS in the stream itself.

use super::TsError;

pub const ADTS_HEADER_LEN: usize = 7;
/// The 13-bit frame length, header included.
const MAX_ADTS_FRAME: usize = 0x1FFF;

/// What an ADTS header needs from the AudioSpecificConfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsConfig {
    pub object_type: u8,
    pub frequency_index: u8,
    pub channel_config: u8,
}

impl AdtsConfig {
    /// | object type (5) | frequency index (4) | channel config (4) | [SBR/PS: | index (4) | type (5) |]
    pub fn from_audio_specific_config(asc: &[u8]) -> Result<AdtsConfig, TsError> {
        let [b0, b1, ..] = *asc else {
            return Err(TsError::Malformed(
                "AudioSpecificConfig shorter than 2 bytes",
            ));
        };
        let mut object_type = b0 >> 3;
        let frequency_index = ((b0 & 0x07) << 1) | (b1 >> 7);
        let channel_config = (b1 >> 3) & 0x0F;
        if frequency_index >= 13 {
            return Err(TsError::Unsupported(
                "AAC with an explicit sampling rate (ADTS cannot carry it)".into(),
            ));
        }
        if object_type == 5 || object_type == 29 {
            // After the last frequency bit, the channel config and the extension frequency index
            // (9 bits) comes the core object type.
            let bits =
                u32::from_be_bytes([b1, *asc.get(2).unwrap_or(&0), *asc.get(3).unwrap_or(&0), 0]);
            object_type = ((bits >> (32 - 1 - 4 - 4 - 5)) & 0x1F) as u8;
        }
        if !(1..=4).contains(&object_type) {
            return Err(TsError::Unsupported(format!(
                "AAC object type {object_type} (ADTS carries 1 to 4)"
            )));
        }
        if !(1..=7).contains(&channel_config) {
            return Err(TsError::Unsupported(format!(
                "AAC channel configuration {channel_config} (ADTS carries 1 to 7)"
            )));
        }
        Ok(AdtsConfig {
            object_type,
            frequency_index,
            channel_config,
        })
    }

    /// The header for a raw frame of `payload_len` bytes.
    pub fn header(&self, payload_len: usize) -> Result<[u8; ADTS_HEADER_LEN], TsError> {
        let len = payload_len + ADTS_HEADER_LEN;
        if len > MAX_ADTS_FRAME {
            return Err(TsError::Malformed("AAC frame longer than ADTS allows"));
        }
        let profile = self.object_type - 1;
        Ok([
            0xFF,
            0xF1,
            (profile << 6) | (self.frequency_index << 2) | (self.channel_config >> 2),
            ((self.channel_config & 3) << 6) | (len >> 11) as u8,
            (len >> 3) as u8,
            (((len & 7) as u8) << 5) | 0x1F,
            0xFC,
        ])
    }
}
