//! Audio parameters (sample rate, channels): from the AAC AudioSpecificConfig, an OpusHead, or the
//! legacy header bits.

use super::bits::BitReader;
use super::codec_id::AudioCodec;
use super::error::CodecError;
use super::sniff::ex_audio_header;
use super::tag_header::{AAC_SEQUENCE_HEADER, AUDIO_FORMAT_EX_HEADER, AUDIO_PACKET_SEQUENCE_START};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioParams {
    pub sample_rate: u32,
    pub channels: u8,
}

const AAC_SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// MPEG-4 AudioSpecificConfig (ISO 14496-3):
///
/// ```text
/// | object type (5) [31: 32 + 6 bits] | frequency index (4) [15: rate (24)] | channel config (4) |
/// [object type 5 (SBR) or 29 (PS): | extension frequency index (4) [15: (24)] | object type (5..11) |]
/// [channel config 0 and an AAC-family object type: GASpecificConfig bits, then a program config]
/// ```
///
/// With explicit SBR/PS signalling the output rate is the extension rate, and PS makes mono stereo.
pub fn parse_audio_specific_config(asc: &[u8]) -> Result<AudioParams, CodecError> {
    let mut r = BitReader::new(asc, "AudioSpecificConfig");
    let mut object_type = audio_object_type(&mut r)?;
    let mut sample_rate = sampling_frequency(&mut r)?;
    let channel_config = r.bits(4)?;
    let mut parametric_stereo = false;
    if object_type == 5 || object_type == 29 {
        parametric_stereo = object_type == 29;
        sample_rate = sampling_frequency(&mut r)?;
        object_type = audio_object_type(&mut r)?;
        if object_type == 22 {
            r.skip(4)?; // extensionChannelConfiguration
        }
    }
    let channels = match channel_config {
        0 => program_config_channels(&mut r, object_type)?,
        1..=6 => channel_config as u8,
        7 | 12 | 14 => 8,
        11 => 7,
        13 => 24,
        _ => return Err(CodecError::Invalid("AAC channel configuration")),
    };
    let channels = if parametric_stereo && channels == 1 {
        2
    } else {
        channels
    };
    Ok(AudioParams {
        sample_rate,
        channels,
    })
}

fn audio_object_type(r: &mut BitReader<'_>) -> Result<u32, CodecError> {
    match r.bits(5)? {
        31 => Ok(32 + r.bits(6)?),
        t => Ok(t),
    }
}

fn sampling_frequency(r: &mut BitReader<'_>) -> Result<u32, CodecError> {
    match r.bits(4)? {
        // An explicit rate; zero is no rate at all.
        15 => match r.bits(24)? {
            0 => Err(CodecError::Invalid("AAC sampling frequency of 0 Hz")),
            rate => Ok(rate),
        },
        i => AAC_SAMPLE_RATES
            .get(i as usize)
            .copied()
            .ok_or(CodecError::Invalid("AAC sampling frequency index")),
    }
}

/// Channel configuration 0: the layout is in a program_config_element inside GASpecificConfig.
///
/// ```text
/// GASpecificConfig: | frame length (1) | depends on core (1) [delay (14)] | extension (1) | PCE ...
/// PCE: | tag (4) | object (2) | freq (4) | front (4) | side (4) | back (4) | lfe (2) | assoc (3) |
///      | cc (4) | mono mixdown (1) [4] | stereo mixdown (1) [4] | matrix mixdown (1) [3] |
///      | (is CPE (1) | tag (4)) per front, side and back element | tag (4) per LFE | ...
/// ```
fn program_config_channels(r: &mut BitReader<'_>, object_type: u32) -> Result<u8, CodecError> {
    // The object types whose specific config is GASpecificConfig.
    if !matches!(object_type, 1..=4 | 6 | 7 | 17 | 19..=23) {
        return Err(CodecError::Unsupported(
            "AAC channel configuration 0 outside the AAC family",
        ));
    }
    r.skip(1)?; // frameLengthFlag
    if r.flag()? {
        r.skip(14)?; // coreCoderDelay
    }
    r.skip(1)?; // extensionFlag
    r.skip(4 + 2 + 4)?; // element_instance_tag, object_type, sampling_frequency_index
    let front = r.bits(4)?;
    let side = r.bits(4)?;
    let back = r.bits(4)?;
    let lfe = r.bits(2)?;
    r.skip(3 + 4)?; // num_assoc_data_elements, num_valid_cc_elements
    for extra in [4, 4, 3] {
        // mono mixdown, stereo mixdown, matrix mixdown
        if r.flag()? {
            r.skip(extra)?;
        }
    }
    let mut channels = lfe;
    for _ in 0..front + side + back {
        channels += if r.flag()? { 2 } else { 1 };
        r.skip(4)?;
    }
    Ok(channels as u8)
}

/// Audio params from an audio tag body: for AAC only from a sequence header (via the
/// AudioSpecificConfig), for enhanced audio from an `mp4a` or `Opus` sequence start, for the other
/// formats from the header bits.
pub fn audio_params(body: &[u8]) -> Option<AudioParams> {
    let b0 = *body.first()?;
    let format = b0 >> 4;
    let stereo_bit = if b0 & 1 == 1 { 2 } else { 1 };
    let fixed = |sample_rate, channels| {
        Some(AudioParams {
            sample_rate,
            channels,
        })
    };
    match AudioCodec::from_format(format) {
        AudioCodec::Aac => {
            if body.get(1) != Some(&AAC_SEQUENCE_HEADER) {
                return None;
            }
            parse_audio_specific_config(&body[2..]).ok()
        }
        AudioCodec::Other(AUDIO_FORMAT_EX_HEADER) => {
            let h = ex_audio_header(body)?;
            if h.packet_type != AUDIO_PACKET_SEQUENCE_START {
                return None;
            }
            match AudioCodec::from_fourcc(h.fourcc) {
                AudioCodec::Aac => parse_audio_specific_config(h.payload).ok(),
                AudioCodec::Opus => opus_head_params(h.payload),
                _ => None,
            }
        }
        // Formats with a fixed rate, as the FLV specification defines them.
        AudioCodec::Nellymoser if format == 4 => fixed(16000, 1),
        AudioCodec::Nellymoser if format == 5 => fixed(8000, 1),
        AudioCodec::Mp3_8k => fixed(8000, stereo_bit),
        AudioCodec::G711A | AudioCodec::G711U => fixed(8000, stereo_bit),
        AudioCodec::Speex => fixed(16000, 1),
        AudioCodec::Other(_) => None,
        _ => {
            const RATES: [u32; 4] = [5512, 11025, 22050, 44100];
            fixed(RATES[usize::from((b0 >> 2) & 3)], stereo_bit)
        }
    }
}

/// OpusHead (RFC 7845): | "OpusHead" | version (8) | channels (8) | pre-skip (16 LE) | input rate ...
/// Opus always decodes at 48 kHz; the input rate is only informative.
fn opus_head_params(head: &[u8]) -> Option<AudioParams> {
    if head.get(..8)? != b"OpusHead" {
        return None;
    }
    Some(AudioParams {
        sample_rate: 48000,
        channels: *head.get(9)?,
    })
}

#[cfg(test)]
mod tests;
