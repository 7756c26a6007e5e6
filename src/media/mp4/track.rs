//! What a track needs from the channel: its codec configuration (from the FLV sequence header),
//! and each sample's bytes and composition offset (from an FLV tag body, its header stripped).
//!
//! Video: legacy AVC (codec id 7) and HEVC (id 12) carry `| packet type (8) | composition time
//! (SI24) | data |`; Enhanced RTMP carries `| FourCC | data |` with CodedFrames (type 1, with a
//! SI24 composition time for `avc1`/`hvc1`, none for `av01`) and CodedFramesX (type 3, time 0).
//! Audio: legacy AAC `| header (8) | packet type (8) | data |`, MP3 `| header (8) | data |`,
//! enhanced `| header (8) | FourCC | data |`.

use super::Mp4Error;
use crate::media::codec::{
    audio_codec, audio_params, parse_audio_specific_config, video_codec,
    video_size_from_sequence_header, AudioCodec, VideoCodec,
};
use crate::media::sniff::{ex_audio_header, ex_video_header};
use crate::media::tag_header::{
    AUDIO_FORMAT_EX_HEADER, AUDIO_PACKET_SEQUENCE_START, VIDEO_EX_HEADER,
    VIDEO_PACKET_SEQUENCE_START,
};

const LEGACY_NALU: u8 = 1;
const LEGACY_SEQUENCE_HEADER: u8 = 0;
const EX_CODED_FRAMES: u8 = 1;
const EX_CODED_FRAMES_X: u8 = 3;
const AAC_RAW: u8 = 1;
/// Video media time in 90 kHz units: milliseconds convert exactly.
pub const VIDEO_TIMESCALE: u32 = 90_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Avc,
    Hevc,
    Av1,
    Aac,
    Mp3,
}

impl Codec {
    pub fn is_video(self) -> bool {
        matches!(self, Codec::Avc | Codec::Hevc | Codec::Av1)
    }
}

/// One track's configuration, as its sample entry in the init segment needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackConfig {
    pub codec: Codec,
    /// The avcC / hvcC / av1C record, or the AAC AudioSpecificConfig; empty for MP3.
    pub config: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub sample_rate: u32,
    pub channels: u8,
}

impl TrackConfig {
    /// Media time units per second: 90 kHz for video, the sample rate for audio.
    pub fn timescale(&self) -> u32 {
        if self.codec.is_video() {
            VIDEO_TIMESCALE
        } else {
            self.sample_rate.max(1)
        }
    }

    /// From a video sequence-header tag body (legacy or enhanced).
    pub fn from_video_header(body: &[u8]) -> Result<TrackConfig, Mp4Error> {
        let codec = match video_codec(body) {
            Some(VideoCodec::H264) => Codec::Avc,
            Some(VideoCodec::Hevc) => Codec::Hevc,
            Some(VideoCodec::Av1) => Codec::Av1,
            Some(other) => return Err(Mp4Error::Unsupported(other.name().to_string())),
            None => return Err(Mp4Error::Malformed("video sequence header")),
        };
        let config = if body[0] & VIDEO_EX_HEADER != 0 {
            match ex_video_header(body) {
                Some(h) if h.packet_type == VIDEO_PACKET_SEQUENCE_START => h.payload,
                _ => return Err(Mp4Error::Unsupported("this video sequence start".into())),
            }
        } else {
            if body.get(1) != Some(&LEGACY_SEQUENCE_HEADER) {
                return Err(Mp4Error::Malformed("video sequence header"));
            }
            body.get(5..)
                .ok_or(Mp4Error::Malformed("video sequence header"))?
        };
        if config.is_empty() {
            return Err(Mp4Error::Malformed("empty video configuration record"));
        }
        let size = video_size_from_sequence_header(body)
            .ok()
            .flatten()
            .unwrap_or(crate::media::codec::VideoSize {
                width: 0,
                height: 0,
            });
        Ok(TrackConfig {
            codec,
            config: config.to_vec(),
            width: size.width,
            height: size.height,
            sample_rate: 0,
            channels: 0,
        })
    }

    /// From an audio tag body: an AAC sequence header, or any MP3 frame. `Ok(None)` for an
    /// AAC frame (its configuration comes in the sequence header).
    pub fn from_audio(body: &[u8]) -> Result<Option<TrackConfig>, Mp4Error> {
        let codec = match audio_codec(body) {
            Some(AudioCodec::Aac) => Codec::Aac,
            Some(AudioCodec::Mp3) | Some(AudioCodec::Mp3_8k) => Codec::Mp3,
            Some(other) => return Err(Mp4Error::Unsupported(other.name().to_string())),
            None => return Err(Mp4Error::Malformed("audio header")),
        };
        if codec == Codec::Mp3 {
            let params = audio_params(body).ok_or(Mp4Error::Malformed("MP3 header"))?;
            return Ok(Some(TrackConfig {
                codec,
                config: Vec::new(),
                width: 0,
                height: 0,
                sample_rate: params.sample_rate,
                channels: params.channels,
            }));
        }
        let asc = if body[0] >> 4 == AUDIO_FORMAT_EX_HEADER {
            match ex_audio_header(body) {
                Some(h) if h.packet_type == AUDIO_PACKET_SEQUENCE_START => h.payload,
                _ => return Ok(None),
            }
        } else if body.get(1) == Some(&LEGACY_SEQUENCE_HEADER) {
            &body[2..]
        } else {
            return Ok(None);
        };
        let params = parse_audio_specific_config(asc)
            .map_err(|_| Mp4Error::Malformed("AudioSpecificConfig"))?;
        Ok(Some(TrackConfig {
            codec,
            config: asc.to_vec(),
            width: 0,
            height: 0,
            sample_rate: params.sample_rate,
            channels: params.channels,
        }))
    }
}

/// A sample's bytes within its tag body, and its composition offset in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSlice {
    /// Where the sample's bytes start in the tag body (they run to its end).
    pub offset: usize,
    pub composition_ms: i32,
}

fn si24(b: &[u8]) -> i32 {
    let v = (i32::from(b[0]) << 16) | (i32::from(b[1]) << 8) | i32::from(b[2]);
    (v << 8) >> 8
}

/// Where a coded video frame's sample lies in its tag body; `None` for sequence headers, ends of
/// sequence, metadata, commands and empty frames.
pub fn video_sample(body: &[u8]) -> Option<SampleSlice> {
    let b0 = *body.first()?;
    let slice = if b0 & VIDEO_EX_HEADER != 0 {
        let h = ex_video_header(body)?;
        let payload_at = body.len() - h.payload.len();
        match h.packet_type {
            EX_CODED_FRAMES if &h.fourcc == b"av01" => SampleSlice {
                offset: payload_at,
                composition_ms: 0,
            },
            EX_CODED_FRAMES => SampleSlice {
                offset: payload_at + 3,
                composition_ms: si24(h.payload.get(..3)?),
            },
            EX_CODED_FRAMES_X => SampleSlice {
                offset: payload_at,
                composition_ms: 0,
            },
            _ => return None,
        }
    } else {
        if body.get(1) != Some(&LEGACY_NALU) {
            return None;
        }
        SampleSlice {
            offset: 5,
            composition_ms: si24(body.get(2..5)?),
        }
    };
    (slice.offset < body.len()).then_some(slice)
}

/// Where a coded audio frame's sample lies in its tag body; `None` for sequence headers.
pub fn audio_sample(body: &[u8]) -> Option<SampleSlice> {
    let format = body.first()? >> 4;
    let offset = if format == AUDIO_FORMAT_EX_HEADER {
        let h = ex_audio_header(body)?;
        if h.packet_type != EX_CODED_FRAMES {
            return None;
        }
        body.len() - h.payload.len()
    } else if audio_codec(body) == Some(AudioCodec::Aac) {
        if body.get(1) != Some(&AAC_RAW) {
            return None;
        }
        2
    } else {
        1
    };
    (offset < body.len()).then_some(SampleSlice {
        offset,
        composition_ms: 0,
    })
}
