//! What an FLV audio/video tag body says about its codec: keyframes, sequence headers, codec ids
//! (legacy and Enhanced RTMP), picture size from H.264/HEVC parameter sets and AV1 sequence headers, and audio parameters from
//! the header bits or the AAC AudioSpecificConfig.
//!
//! This is the public face of the codec parsers; each concept lives in its own file of `media`.
//! Every function takes bytes from the network: short or odd input gives `false`, `None` or an error,
//! never a panic.

pub use super::audio::{audio_params, parse_audio_specific_config, AudioParams};
pub use super::av1::parse_av1_sequence_header;
pub use super::avc::parse_h264_sps;
pub use super::codec_id::{AudioCodec, VideoCodec};
pub use super::error::CodecError;
pub use super::hevc::parse_hevc_sps;
pub use super::picture::VideoSize;
pub use super::sniff::{
    audio_codec, audio_is_sequence_header, header_track, video_codec, video_is_keyframe,
    video_is_sequence_header,
};
pub use super::video_size::video_size_from_sequence_header;
