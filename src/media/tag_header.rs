//! The bit layout of an FLV audio/video tag body's header, legacy and Enhanced RTMP: the values
//! that tag sniffing and the codec ids read.

/// Video tag body, legacy and enhanced (Enhanced RTMP v1/v2):
///
/// ```text
/// legacy:   | frame type (4) | codec id (4) | [AVC/HEVC: packet type (8) | composition time (24)]
/// enhanced: | 1 | frame type (3) | packet type (4) | FourCC (32) | ...
///           with packet type 7 (ModEx) and 6 (Multitrack) inserting prefixes before the FourCC
/// ```
pub(super) const VIDEO_EX_HEADER: u8 = 0x80;
pub(super) const VIDEO_FRAME_KEY: u8 = 1;
pub(super) const VIDEO_FRAME_COMMAND: u8 = 5;
pub(super) const LEGACY_AVC: u8 = 7;
pub(super) const LEGACY_HEVC: u8 = 12;
pub(super) const AVC_SEQUENCE_HEADER: u8 = 0;

pub(super) const VIDEO_PACKET_SEQUENCE_START: u8 = 0;
pub(super) const VIDEO_PACKET_METADATA: u8 = 4;
/// An AV1 configuration taken from an MPEG-2 TS descriptor: also a sequence start.
pub(super) const VIDEO_PACKET_MPEG2TS_SEQUENCE_START: u8 = 5;
pub(super) const VIDEO_PACKET_MULTITRACK: u8 = 6;
pub(super) const VIDEO_PACKET_MODEX: u8 = 7;

/// Audio tag body:
///
/// ```text
/// legacy:   | sound format (4) | rate (2) | size (1) | channels (1) | [AAC: packet type (8)] | ...
/// enhanced: | 9 (4) | packet type (4) | FourCC (32) | ...
///           with packet type 7 (ModEx) and 5 (Multitrack) inserting prefixes before the FourCC
/// ```
pub(super) const AUDIO_FORMAT_EX_HEADER: u8 = 9;
pub(super) const AUDIO_FORMAT_AAC: u8 = 10;
pub(super) const AAC_SEQUENCE_HEADER: u8 = 0;

pub(super) const AUDIO_PACKET_SEQUENCE_START: u8 = 0;
pub(super) const AUDIO_PACKET_MULTITRACK: u8 = 5;
pub(super) const AUDIO_PACKET_MODEX: u8 = 7;

/// Multitrack type 0: one track, so no per-track size.
pub(super) const MULTITRACK_ONE_TRACK: u8 = 0;
