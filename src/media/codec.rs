//! What an FLV audio/video tag body says about its codec: keyframes, sequence headers, codec ids
//! (legacy and Enhanced RTMP), picture size from H.264/HEVC parameter sets, and audio parameters from
//! the header bits or the AAC AudioSpecificConfig.
//!
//! Every function takes bytes from the network: short or odd input gives `false`, `None` or an error,
//! never a panic.

use std::fmt;

// ---------------------------------------------------------------------------------------------------
// Tag body headers

/// Video tag body, legacy and enhanced (Enhanced RTMP v1/v2):
///
/// ```text
/// legacy:   | frame type (4) | codec id (4) | [AVC/HEVC: packet type (8) | composition time (24)]
/// enhanced: | 1 | frame type (3) | packet type (4) | FourCC (32) | ...
///           with packet type 7 (ModEx) and 6 (Multitrack) inserting prefixes before the FourCC
/// ```
const VIDEO_EX_HEADER: u8 = 0x80;
const VIDEO_FRAME_KEY: u8 = 1;
const VIDEO_FRAME_COMMAND: u8 = 5;
const LEGACY_AVC: u8 = 7;
const LEGACY_HEVC: u8 = 12;
const AVC_SEQUENCE_HEADER: u8 = 0;

const VIDEO_PACKET_SEQUENCE_START: u8 = 0;
const VIDEO_PACKET_METADATA: u8 = 4;
/// An AV1 configuration taken from an MPEG-2 TS descriptor: also a sequence start.
const VIDEO_PACKET_MPEG2TS_SEQUENCE_START: u8 = 5;
const VIDEO_PACKET_MULTITRACK: u8 = 6;
const VIDEO_PACKET_MODEX: u8 = 7;

/// Audio tag body:
///
/// ```text
/// legacy:   | sound format (4) | rate (2) | size (1) | channels (1) | [AAC: packet type (8)] | ...
/// enhanced: | 9 (4) | packet type (4) | FourCC (32) | ...
///           with packet type 7 (ModEx) and 5 (Multitrack) inserting prefixes before the FourCC
/// ```
const AUDIO_FORMAT_EX_HEADER: u8 = 9;
const AUDIO_FORMAT_AAC: u8 = 10;
const AAC_SEQUENCE_HEADER: u8 = 0;

const AUDIO_PACKET_SEQUENCE_START: u8 = 0;
const AUDIO_PACKET_MULTITRACK: u8 = 5;
const AUDIO_PACKET_MODEX: u8 = 7;

/// Multitrack type 0: one track, so no per-track size.
const MULTITRACK_ONE_TRACK: u8 = 0;

/// A keyframe (frame type 1), including a keyframe that is a sequence header.
pub fn video_is_keyframe(body: &[u8]) -> bool {
    match body.first() {
        Some(&b0) if b0 & VIDEO_EX_HEADER != 0 => (b0 >> 4) & 0x07 == VIDEO_FRAME_KEY,
        Some(&b0) => b0 >> 4 == VIDEO_FRAME_KEY,
        None => false,
    }
}

/// An AVC/HEVC decoder configuration (legacy) or an Enhanced RTMP sequence start.
pub fn video_is_sequence_header(body: &[u8]) -> bool {
    match body.first() {
        Some(&b0) if b0 & VIDEO_EX_HEADER != 0 => ex_video_header(body).is_some_and(|h| {
            h.packet_type == VIDEO_PACKET_SEQUENCE_START
                || h.packet_type == VIDEO_PACKET_MPEG2TS_SEQUENCE_START
        }),
        Some(&b0) => {
            matches!(b0 & 0x0F, LEGACY_AVC | LEGACY_HEVC)
                && body.get(1) == Some(&AVC_SEQUENCE_HEADER)
        }
        None => false,
    }
}

/// An AAC AudioSpecificConfig (legacy) or an Enhanced RTMP audio sequence start.
pub fn audio_is_sequence_header(body: &[u8]) -> bool {
    match body.first().map(|b0| b0 >> 4) {
        Some(AUDIO_FORMAT_AAC) => body.get(1) == Some(&AAC_SEQUENCE_HEADER),
        Some(AUDIO_FORMAT_EX_HEADER) => {
            ex_audio_header(body).is_some_and(|h| h.packet_type == AUDIO_PACKET_SEQUENCE_START)
        }
        _ => false,
    }
}

/// An Enhanced RTMP header after its ModEx and multitrack prefixes are peeled off.
struct ExHeader<'a> {
    packet_type: u8,
    fourcc: [u8; 4],
    /// The packet's payload; for multitrack, the first track's.
    payload: &'a [u8],
}

fn ex_video_header(body: &[u8]) -> Option<ExHeader<'_>> {
    let frame_type = (body.first()? >> 4) & 0x07;
    ex_header(
        body,
        VIDEO_PACKET_MODEX,
        VIDEO_PACKET_MULTITRACK,
        |packet_type| frame_type == VIDEO_FRAME_COMMAND && packet_type != VIDEO_PACKET_METADATA,
    )
}

fn ex_audio_header(body: &[u8]) -> Option<ExHeader<'_>> {
    ex_header(body, AUDIO_PACKET_MODEX, AUDIO_PACKET_MULTITRACK, |_| false)
}

/// The shared shape of enhanced audio and video headers (the packet type is the low nibble of byte 0):
///
/// ```text
/// ModEx (repeats while the packet type is ModEx):
///   | size - 1 (8) [if 255: size - 1 (16)] | data (size) | ModEx type (4) | packet type (4) |
/// Multitrack:
///   | multitrack type (4) | packet type (4) | [FourCC unless many codecs] |
///   then per track: | [FourCC if many codecs] | track id (8) | [size (24) unless one track] | data |
/// Otherwise:
///   | FourCC | data |
/// ```
/// `is_command` says whether a packet type (given the frame type) carries a command and no FourCC.
fn ex_header(
    body: &[u8],
    modex: u8,
    multitrack: u8,
    is_command: impl Fn(u8) -> bool,
) -> Option<ExHeader<'_>> {
    let mut packet_type = body.first()? & 0x0F;
    let mut rest = &body[1..];
    while packet_type == modex {
        let (size, after) = match *rest.first()? {
            0xFF => (
                usize::from(u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?])) + 1,
                3,
            ),
            n => (usize::from(n) + 1, 1),
        };
        rest = rest.get(after + size..)?;
        packet_type = rest.first()? & 0x0F;
        rest = &rest[1..];
    }
    if is_command(packet_type) {
        return None;
    }
    if packet_type != multitrack {
        return Some(ExHeader {
            packet_type,
            fourcc: rest.get(..4)?.try_into().ok()?,
            payload: &rest[4..],
        });
    }
    let b = *rest.first()?;
    let (track_kind, packet_type) = (b >> 4, b & 0x0F);
    // Whether the FourCC is shared (types 0, 1) or per track (type 2), the first one sits right here.
    let fourcc: [u8; 4] = rest.get(1..5)?.try_into().ok()?;
    let first_track = &rest[5..];
    // Skip the track id, and the track size where there is one.
    let payload = if track_kind == MULTITRACK_ONE_TRACK {
        first_track.get(1..)?
    } else {
        let size = u32::from_be_bytes([
            0,
            *first_track.get(1)?,
            *first_track.get(2)?,
            *first_track.get(3)?,
        ]);
        first_track.get(4..4 + size as usize)?
    };
    Some(ExHeader {
        packet_type,
        fourcc,
        payload,
    })
}

// ---------------------------------------------------------------------------------------------------
// Codec identification

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// Legacy id 2.
    SorensonH263,
    /// Legacy id 3.
    ScreenVideo,
    /// Legacy id 4.
    Vp6,
    /// Legacy id 5.
    Vp6Alpha,
    /// Legacy id 6.
    ScreenVideo2,
    /// Legacy id 7, or enhanced `avc1`.
    H264,
    /// Legacy id 12 (a Chinese-CDN convention), or enhanced `hvc1`.
    Hevc,
    /// Enhanced `av01`.
    Av1,
    /// Enhanced `vp09`.
    Vp9,
    /// Any other legacy id, or an unknown FourCC as a big-endian number.
    Other(u32),
}

impl VideoCodec {
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::SorensonH263 => "FLV1",
            VideoCodec::ScreenVideo => "SCREEN",
            VideoCodec::Vp6 => "VP6",
            VideoCodec::Vp6Alpha => "VP6A",
            VideoCodec::ScreenVideo2 => "SCREEN2",
            VideoCodec::H264 => "H264",
            VideoCodec::Hevc => "HEVC",
            VideoCodec::Av1 => "AV1",
            VideoCodec::Vp9 => "VP9",
            VideoCodec::Other(_) => "OTHER",
        }
    }

    fn from_legacy_id(id: u8) -> VideoCodec {
        match id {
            2 => VideoCodec::SorensonH263,
            3 => VideoCodec::ScreenVideo,
            4 => VideoCodec::Vp6,
            5 => VideoCodec::Vp6Alpha,
            6 => VideoCodec::ScreenVideo2,
            LEGACY_AVC => VideoCodec::H264,
            LEGACY_HEVC => VideoCodec::Hevc,
            other => VideoCodec::Other(u32::from(other)),
        }
    }

    fn from_fourcc(fourcc: [u8; 4]) -> VideoCodec {
        match &fourcc {
            b"avc1" => VideoCodec::H264,
            b"hvc1" => VideoCodec::Hevc,
            b"av01" => VideoCodec::Av1,
            b"vp09" => VideoCodec::Vp9,
            _ => VideoCodec::Other(u32::from_be_bytes(fourcc)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// Format 0: linear PCM in the platform's byte order.
    Pcm,
    /// Format 1.
    Adpcm,
    /// Format 2, or enhanced `.mp3`.
    Mp3,
    /// Format 3: little-endian linear PCM.
    PcmLe,
    /// Formats 4 (16 kHz mono), 5 (8 kHz mono) and 6.
    Nellymoser,
    /// Format 7.
    G711A,
    /// Format 8.
    G711U,
    /// Format 10, or enhanced `mp4a`.
    Aac,
    /// Format 11.
    Speex,
    /// Format 14.
    Mp3_8k,
    /// Enhanced `Opus`.
    Opus,
    /// Any other format; 9 for an enhanced FourCC not listed here (`fLaC`, `ac-3`, `ec-3`).
    Other(u8),
}

impl AudioCodec {
    pub fn name(self) -> &'static str {
        match self {
            AudioCodec::Pcm => "PCM",
            AudioCodec::Adpcm => "ADPCM",
            AudioCodec::Mp3 | AudioCodec::Mp3_8k => "MP3",
            AudioCodec::PcmLe => "PCM_LE",
            AudioCodec::Nellymoser => "NELLYMOSER",
            AudioCodec::G711A => "G711A",
            AudioCodec::G711U => "G711U",
            AudioCodec::Aac => "AAC",
            AudioCodec::Speex => "SPEEX",
            AudioCodec::Opus => "OPUS",
            AudioCodec::Other(_) => "OTHER",
        }
    }

    fn from_format(format: u8) -> AudioCodec {
        match format {
            0 => AudioCodec::Pcm,
            1 => AudioCodec::Adpcm,
            2 => AudioCodec::Mp3,
            3 => AudioCodec::PcmLe,
            4..=6 => AudioCodec::Nellymoser,
            7 => AudioCodec::G711A,
            8 => AudioCodec::G711U,
            AUDIO_FORMAT_AAC => AudioCodec::Aac,
            11 => AudioCodec::Speex,
            14 => AudioCodec::Mp3_8k,
            other => AudioCodec::Other(other),
        }
    }

    fn from_fourcc(fourcc: [u8; 4]) -> AudioCodec {
        match &fourcc {
            b"mp4a" => AudioCodec::Aac,
            b"Opus" => AudioCodec::Opus,
            b".mp3" => AudioCodec::Mp3,
            _ => AudioCodec::Other(AUDIO_FORMAT_EX_HEADER),
        }
    }
}

/// The codec of a video tag body: the legacy codec id, or the Enhanced RTMP FourCC. `None` for an
/// empty body, a truncated enhanced header, or an enhanced command frame (which names no codec).
pub fn video_codec(body: &[u8]) -> Option<VideoCodec> {
    let b0 = *body.first()?;
    if b0 & VIDEO_EX_HEADER != 0 {
        ex_video_header(body).map(|h| VideoCodec::from_fourcc(h.fourcc))
    } else {
        Some(VideoCodec::from_legacy_id(b0 & 0x0F))
    }
}

/// The codec of an audio tag body: the sound format, or the Enhanced RTMP FourCC for format 9.
pub fn audio_codec(body: &[u8]) -> Option<AudioCodec> {
    let format = body.first()? >> 4;
    if format == AUDIO_FORMAT_EX_HEADER {
        ex_audio_header(body).map(|h| AudioCodec::from_fourcc(h.fourcc))
    } else {
        Some(AudioCodec::from_format(format))
    }
}

// ---------------------------------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The named structure ended early.
    Truncated(&'static str),
    /// A NAL unit given as an SPS has another type (the type found).
    NotSps(u8),
    /// A field holds a value the specification does not allow.
    Invalid(&'static str),
    /// Valid, but a variant we do not parse.
    Unsupported(&'static str),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Truncated(what) => write!(f, "{what} is truncated"),
            CodecError::NotSps(t) => write!(f, "NAL unit type {t} is not a sequence parameter set"),
            CodecError::Invalid(what) => write!(f, "invalid {what}"),
            CodecError::Unsupported(what) => write!(f, "unsupported {what}"),
        }
    }
}

impl std::error::Error for CodecError {}

// ---------------------------------------------------------------------------------------------------
// Bit reading

/// MSB-first bit reader; `what` names the structure for truncation errors.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8], what: &'static str) -> Self {
        BitReader { data, pos: 0, what }
    }

    fn flag(&mut self) -> Result<bool, CodecError> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or(CodecError::Truncated(self.what))?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// Up to 32 bits.
    fn bits(&mut self, n: u32) -> Result<u32, CodecError> {
        debug_assert!(n <= 32);
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.flag()?);
        }
        Ok(v as u32)
    }

    fn skip(&mut self, n: usize) -> Result<(), CodecError> {
        if self.data.len() * 8 < self.pos + n {
            return Err(CodecError::Truncated(self.what));
        }
        self.pos += n;
        Ok(())
    }

    /// Unsigned exp-Golomb: `n` zeros, a one, then `n` bits; value = 2^n - 1 + those bits.
    fn ue(&mut self) -> Result<u32, CodecError> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros > 31 {
                return Err(CodecError::Invalid("exp-Golomb code longer than 32 bits"));
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    /// Signed exp-Golomb: 1, 2, 3, 4 ... map to 1, -1, 2, -2 ...
    fn se(&mut self) -> Result<i64, CodecError> {
        let k = i64::from(self.ue()?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// NAL payload to RBSP: drop each emulation-prevention 0x03 that follows two zero bytes.
fn unescape_rbsp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = 0;
    for &b in data {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// Picture size

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSize {
    pub width: u32,
    pub height: u32,
}

/// From a video sequence-header tag body: AVC (AVCDecoderConfigurationRecord -> first SPS), HEVC
/// (hvcC -> SPS). `Ok(None)` when the body is not a sequence header, is of another codec, or carries no
/// SPS; an error when the configuration or SPS is malformed.
pub fn video_size_from_sequence_header(body: &[u8]) -> Result<Option<VideoSize>, CodecError> {
    if !video_is_sequence_header(body) {
        return Ok(None);
    }
    let (codec, config) = if body[0] & VIDEO_EX_HEADER != 0 {
        match ex_video_header(body) {
            Some(h) => (VideoCodec::from_fourcc(h.fourcc), h.payload),
            None => return Ok(None),
        }
    } else {
        // Skip packet type and composition time.
        let config = body
            .get(5..)
            .ok_or(CodecError::Truncated("video sequence header"))?;
        (VideoCodec::from_legacy_id(body[0] & 0x0F), config)
    };
    match codec {
        VideoCodec::H264 => avc_config_first_sps(config)?
            .map(parse_h264_sps)
            .transpose(),
        VideoCodec::Hevc => hevc_config_sps(config)?.map(parse_hevc_sps).transpose(),
        _ => Ok(None),
    }
}

/// AVCDecoderConfigurationRecord (ISO 14496-15):
///
/// ```text
///  0 version | 1 profile | 2 compatibility | 3 level | 4 111111 | length size - 1 (2)
///  5 111 | SPS count (5) | (SPS length (16) | SPS)* | PPS count (8) | (PPS length (16) | PPS)* | ...
/// ```
fn avc_config_first_sps(config: &[u8]) -> Result<Option<&[u8]>, CodecError> {
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

/// HEVCDecoderConfigurationRecord (hvcC, ISO 14496-15):
///
/// ```text
///  0..22  version, profile/tier/level, chroma, bit depths, frame rate, length size ... (22 bytes)
///  22     array count (8)
///  then per array: | completeness (1) | 0 | NAL type (6) | NAL count (16) | (length (16) | NAL)* |
/// ```
fn hevc_config_sps(config: &[u8]) -> Result<Option<&[u8]>, CodecError> {
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

/// (SubWidthC, SubHeightC); ChromaArrayType 0 (monochrome or separate planes) crops in luma samples.
fn chroma_subsampling(chroma_array_type: u32) -> (u64, u64) {
    match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    }
}

fn cropped_size(
    width: u64,
    height: u64,
    crop_x: u64,
    crop_y: u64,
) -> Result<VideoSize, CodecError> {
    if crop_x >= width || crop_y >= height {
        return Err(CodecError::Invalid("cropping larger than the picture"));
    }
    let too_large = || CodecError::Invalid("picture size beyond 32 bits");
    Ok(VideoSize {
        width: u32::try_from(width - crop_x).map_err(|_| too_large())?,
        height: u32::try_from(height - crop_y).map_err(|_| too_large())?,
    })
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

// ---------------------------------------------------------------------------------------------------
// Audio parameters

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
        15 => r.bits(24),
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
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn size(width: u32, height: u32) -> VideoSize {
        VideoSize { width, height }
    }

    fn params(sample_rate: u32, channels: u8) -> AudioParams {
        AudioParams {
            sample_rate,
            channels,
        }
    }

    /// MSB-first bit writer for building parameter sets field by field.
    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        bits: usize,
    }

    impl BitWriter {
        fn put(&mut self, n: u32, value: u64) -> &mut Self {
            for i in (0..n).rev() {
                if self.bits.is_multiple_of(8) {
                    self.bytes.push(0);
                }
                let bit = ((value >> i) & 1) as u8;
                *self.bytes.last_mut().unwrap() |= bit << (7 - self.bits % 8);
                self.bits += 1;
            }
            self
        }
        fn flag(&mut self, on: bool) -> &mut Self {
            self.put(1, u64::from(on))
        }
        fn ue(&mut self, v: u64) -> &mut Self {
            let n = 64 - (v + 1).leading_zeros() - 1;
            self.put(n, 0).put(n + 1, v + 1)
        }
        fn se(&mut self, v: i64) -> &mut Self {
            self.ue(if v > 0 {
                2 * v as u64 - 1
            } else {
                2 * v.unsigned_abs()
            })
        }
        /// rbsp_trailing_bits, then emulation prevention, behind a NAL header.
        fn nal(&mut self, header: &[u8]) -> Vec<u8> {
            self.put(1, 1);
            let mut out = header.to_vec();
            let mut zeros = 0;
            for &b in &self.bytes {
                if zeros >= 2 && b <= 3 {
                    out.push(3);
                    zeros = 0;
                }
                zeros = if b == 0 { zeros + 1 } else { 0 };
                out.push(b);
            }
            out
        }
    }

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
    const SPS_422: &str =
        "67 7a 00 0d bc d9 41 60 96 c0 44 00 00 03 00 04 00 00 03 00 c8 3c 50 a6 58";
    /// High 10, 720x576.
    const SPS_HIGH10: &str =
        "67 6e 00 1e a6 cd 94 0b 41 26 c0 44 00 00 03 00 04 00 00 03 00 c8 3c 58 b6 58";
    /// High 4:2:2 Intra (x264 AVC-Intra 100), 1920x1080: SPS scaling matrices, crop bottom 8 rows.
    const SPS_AVCINTRA_1080: &str = "67 7a 10 29 b6 d4 20 22 33 19 c6 63 23 21 01 11 98 ce 33 19 18 21 02 56 b9 3d 7d 7e 4f e3 3f 11 f1 9e 08 b8 8c 54 43 c0 78 02 27 e2 70 11 00 00 03 00 01 00 00 03 00 32 84";
    /// The same at 1280x720.
    const SPS_AVCINTRA_720: &str = "67 7a 10 29 b6 d4 20 2a 33 1d c7 62 a1 08 40 54 66 3b 8e c5 42 02 10 25 64 2c 89 e8 85 e4 21 4b 90 83 06 95 d1 06 46 97 20 c8 d7 43 08 11 c2 1e 4c 91 0f 01 40 16 ec 04 40 00 00 03 00 40 00 00 19 21";

    /// The first video tag ffmpeg writes for the 1080p High stream: AVC sequence header.
    const TAG_1080P_AVC_SEQUENCE_HEADER: &str = "17 00 00 00 00 01 64 00 28 ff e1 00 1b 67 64 00 28 ac d9 40 78 02 27 e5 c0 44 00 00 03 00 04 00 00 03 00 c8 3c 60 c6 58 01 00 06 68 eb e3 cb 22 c0 fd f8 f8 00";

    /// hvcC from libx265 1920x1080 (1088 coded rows, conformance window bottom 4 x2), with the VPS,
    /// SPS and PPS arrays (its SEI array dropped, the array count set to 3).
    const HVCC_1080P: &str = "01 01 60 00 00 00 90 00 00 00 00 00 78 f0 00 fc fd f8 f8 00 00 0f 03 \
        a0 00 01 00 18 40 01 0c 01 ff ff 01 60 00 00 03 00 90 00 00 03 00 00 03 00 78 95 98 09 \
        a1 00 01 00 2a 42 01 01 01 60 00 00 03 00 90 00 00 03 00 00 03 00 78 a0 03 c0 80 10 e5 96 56 69 24 ca f0 16 80 80 00 00 03 00 80 00 00 0c 84 \
        a2 00 01 00 07 44 01 c1 72 b4 62 40";
    /// The 1280x720 SPS from libx265 (no conformance window).
    const HEVC_SPS_720P: &str = "42 01 01 01 60 00 00 03 00 90 00 00 03 00 00 03 00 5d a0 02 80 80 2d 16 59 59 a4 93 2b c0 5a 02 00 00 03 00 02 00 00 03 00 32 10";

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

    #[test]
    fn emulation_prevention_bytes_are_removed() {
        assert_eq!(
            unescape_rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 0, 3]),
            [0, 0, 1, 0, 0, 0, 0]
        );
        assert_eq!(unescape_rbsp(&[0, 3, 0, 0, 4]), [0, 3, 0, 0, 4]);
    }

    #[test]
    fn an_avc_sequence_header_gives_its_sps_size() {
        let body = hex(TAG_1080P_AVC_SEQUENCE_HEADER);
        assert!(video_is_sequence_header(&body));
        assert!(video_is_keyframe(&body));
        assert_eq!(video_codec(&body), Some(VideoCodec::H264));
        assert_eq!(
            video_size_from_sequence_header(&body),
            Ok(Some(size(1920, 1080)))
        );
        // Not a sequence header: nothing to say.
        assert_eq!(
            video_size_from_sequence_header(&[0x27, 1, 0, 0, 0]),
            Ok(None)
        );
        assert_eq!(video_size_from_sequence_header(&[]), Ok(None));
        // Every truncation of the record is an error, not a panic.
        let sps_end = 13 + 0x1b;
        for cut in 2..sps_end {
            assert!(
                video_size_from_sequence_header(&body[..cut]).is_err(),
                "cut {cut}"
            );
        }
        // A record without SPS.
        assert_eq!(
            video_size_from_sequence_header(&hex("17 00 00 00 00 01 64 00 28 ff e0 00")),
            Ok(None)
        );
    }

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

    #[test]
    fn enhanced_multitrack_and_modex_prefixes_are_seen_through() {
        let hvcc = hex(HVCC_1080P);
        // Multitrack (6), one track, SequenceStart, 'hvc1', track id 0.
        let one_track = [&[0x96, 0x00][..], b"hvc1", &[0], &hvcc].concat();
        assert!(video_is_sequence_header(&one_track));
        assert_eq!(video_codec(&one_track), Some(VideoCodec::Hevc));
        assert_eq!(
            video_size_from_sequence_header(&one_track),
            Ok(Some(size(1920, 1080)))
        );
        // Many tracks, many codecs: FourCC, track id, 24-bit size per track.
        let len = (hvcc.len() as u32).to_be_bytes();
        let many = [
            &[0x96, 0x20][..],
            b"hvc1",
            &[1, len[1], len[2], len[3]],
            &hvcc,
        ]
        .concat();
        assert_eq!(
            video_size_from_sequence_header(&many),
            Ok(Some(size(1920, 1080)))
        );
        // ModEx (7) with 2 bytes of data, then CodedFrames (1) of 'av01', inter frame.
        let modex = [&[0xA7, 0x01, 0xAA, 0xBB, 0x01][..], b"av01", &[0x12]].concat();
        assert_eq!(video_codec(&modex), Some(VideoCodec::Av1));
        assert!(!video_is_sequence_header(&modex));
        assert!(!video_is_keyframe(&modex));
        // Enhanced command frame (frame type 5): no FourCC.
        assert_eq!(video_codec(&[0xD1, 0x00]), None);
        // Truncated ModEx sizes do not panic.
        for body in [
            &[0x97][..],
            &[0x97, 0xFF],
            &[0x97, 0xFF, 0x01],
            &[0x97, 0x05, 1],
        ] {
            assert_eq!(video_codec(body), None);
            assert!(!video_is_sequence_header(body));
        }
    }

    #[test]
    fn video_header_checks_never_panic_and_read_legacy_and_enhanced_bits() {
        for body in [&[][..], &[0x17], &[0x80], &[0x90, b'h']] {
            let _ = (
                video_is_keyframe(body),
                video_is_sequence_header(body),
                video_codec(body),
                video_size_from_sequence_header(body),
            );
        }
        assert!(video_is_keyframe(&[0x17, 1]));
        assert!(!video_is_keyframe(&[0x27, 1]));
        assert!(!video_is_sequence_header(&[0x17, 1]));
        assert!(!video_is_sequence_header(&[0x17]));
        assert!(!video_is_sequence_header(&[0x12, 0])); // H.263 has no sequence header
        assert!(video_is_keyframe(&[0x91]));
        assert!(!video_is_keyframe(&[0xA1]));
        assert!(!video_is_sequence_header(&[&[0x91][..], b"avc1"].concat()));
        assert!(video_is_sequence_header(&[&[0x95][..], b"av01"].concat()));
    }

    #[test]
    fn video_codecs_are_named_from_legacy_ids_and_fourccs() {
        let cases = [
            (0x12, VideoCodec::SorensonH263, "FLV1"),
            (0x13, VideoCodec::ScreenVideo, "SCREEN"),
            (0x14, VideoCodec::Vp6, "VP6"),
            (0x15, VideoCodec::Vp6Alpha, "VP6A"),
            (0x16, VideoCodec::ScreenVideo2, "SCREEN2"),
            (0x17, VideoCodec::H264, "H264"),
            (0x1C, VideoCodec::Hevc, "HEVC"),
            (0x11, VideoCodec::Other(1), "OTHER"),
        ];
        for (b0, codec, name) in cases {
            assert_eq!(video_codec(&[b0]), Some(codec));
            assert_eq!(codec.name(), name);
        }
        let fourcc = |f: &[u8]| video_codec(&[&[0x91][..], f].concat());
        assert_eq!(fourcc(b"avc1"), Some(VideoCodec::H264));
        assert_eq!(fourcc(b"vp09"), Some(VideoCodec::Vp9));
        assert_eq!(fourcc(b"av01").map(VideoCodec::name), Some("AV1"));
        assert_eq!(fourcc(b"vp08"), Some(VideoCodec::Other(0x7670_3038)));
        assert_eq!(fourcc(b"vp0"), None);
    }

    #[test]
    fn audio_specific_configs_give_rate_and_channels() {
        let cases = [
            ("12 10", params(44100, 2)),          // AAC-LC 44.1 kHz stereo
            ("11 90", params(48000, 2)),          // AAC-LC 48 kHz stereo
            ("13 88", params(22050, 1)),          // AAC-LC 22.05 kHz mono
            ("12 10 56 e5 00", params(44100, 2)), // ffmpeg's, with an implicit-SBR sync extension
            ("11 b0", params(48000, 6)),          // 5.1
            ("11 b8", params(48000, 8)),          // configuration 7 is 7.1
            ("2b 92 08 00", params(44100, 2)),    // HE-AAC: SBR over 22.05 kHz core
            ("eb 09 88 00", params(48000, 2)),    // HE-AAC v2: PS makes the mono core stereo
            ("f9 46 40", params(48000, 2)),       // object type 31 + 10 = 42 (USAC), escaped
        ];
        for (asc, expected) in cases {
            assert_eq!(
                parse_audio_specific_config(&hex(asc)),
                Ok(expected),
                "{asc}"
            );
        }
    }

    #[test]
    fn an_explicit_24_bit_sample_rate_is_read() {
        let mut w = BitWriter::default();
        w.put(5, 2).put(4, 15).put(24, 37_800).put(4, 1);
        assert_eq!(parse_audio_specific_config(&w.bytes), Ok(params(37_800, 1)));
    }

    #[test]
    fn channel_configuration_0_counts_the_program_config_element() {
        let mut w = BitWriter::default();
        w.put(5, 2).put(4, 3).put(4, 0); // AAC-LC, 48 kHz, layout in the PCE
        w.put(1, 0).put(1, 0).put(1, 0); // GASpecificConfig
        w.put(4, 0).put(2, 1).put(4, 3); // PCE tag, object, frequency
        w.put(4, 2).put(4, 0).put(4, 1).put(2, 1); // 2 front, 0 side, 1 back, 1 LFE
        w.put(3, 0)
            .put(4, 0)
            .put(1, 0)
            .put(1, 0)
            .put(1, 1)
            .put(3, 0); // matrix mixdown present
        w.put(1, 0).put(4, 0).put(1, 1).put(4, 1); // front: mono + pair
        w.put(1, 1).put(4, 2); // back: pair
        w.put(4, 0); // LFE
        assert_eq!(parse_audio_specific_config(&w.bytes), Ok(params(48000, 6)));
        // Cut inside the PCE.
        assert_eq!(
            parse_audio_specific_config(&w.bytes[..5]),
            Err(CodecError::Truncated("AudioSpecificConfig"))
        );
    }

    #[test]
    fn bad_or_short_audio_specific_configs_are_errors() {
        assert_eq!(
            parse_audio_specific_config(&[]),
            Err(CodecError::Truncated("AudioSpecificConfig"))
        );
        assert_eq!(
            parse_audio_specific_config(&[0x12]),
            Err(CodecError::Truncated("AudioSpecificConfig"))
        );
        assert_eq!(
            parse_audio_specific_config(&[0xF8]), // escaped object type, cut
            Err(CodecError::Truncated("AudioSpecificConfig"))
        );
        // Frequency index 13 is reserved.
        assert!(matches!(
            parse_audio_specific_config(&hex("16 90")),
            Err(CodecError::Invalid(_))
        ));
        // Channel configuration 15 is reserved.
        assert!(matches!(
            parse_audio_specific_config(&hex("12 78")),
            Err(CodecError::Invalid(_))
        ));
    }

    #[test]
    fn audio_params_come_from_the_asc_for_aac_and_the_header_bits_otherwise() {
        assert_eq!(audio_params(&hex("af 00 12 10")), Some(params(44100, 2)));
        assert_eq!(
            audio_params(&hex("af 00 11 90 56 e5 00")),
            Some(params(48000, 2))
        );
        assert_eq!(audio_params(&hex("af 01 21 1a")), None); // raw AAC frame
        assert_eq!(audio_params(&hex("af 00")), None);
        assert_eq!(audio_params(&hex("af")), None);
        assert_eq!(audio_params(&[]), None);
        assert_eq!(audio_params(&[0x2F, 0xFF]), Some(params(44100, 2))); // MP3 stereo
        assert_eq!(audio_params(&[0x2E, 0xFF]), Some(params(44100, 1))); // ffmpeg's mono MP3
        assert_eq!(audio_params(&[0x6A]), Some(params(22050, 1))); // Nellymoser
        assert_eq!(audio_params(&[0x52]), Some(params(8000, 1))); // Nellymoser 8 kHz
        assert_eq!(audio_params(&[0x42]), Some(params(16000, 1))); // Nellymoser 16 kHz
        assert_eq!(audio_params(&[0xE2]), Some(params(8000, 1))); // MP3 8 kHz
        assert_eq!(audio_params(&[0x72]), Some(params(8000, 1))); // G.711 A-law
        assert_eq!(audio_params(&[0xB2]), Some(params(16000, 1))); // Speex
        assert_eq!(audio_params(&[0x03]), Some(params(5512, 2))); // PCM
        assert_eq!(audio_params(&[0xC0]), None); // reserved format 12
    }

    #[test]
    fn enhanced_audio_opus_and_mp4a_sequence_starts_give_params() {
        let opus_head = [
            &b"OpusHead"[..],
            &[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0],
        ]
        .concat();
        let opus = [&[0x90][..], b"Opus", &opus_head].concat();
        assert_eq!(audio_codec(&opus), Some(AudioCodec::Opus));
        assert!(audio_is_sequence_header(&opus));
        assert_eq!(audio_params(&opus), Some(params(48000, 2)));
        let frame = [&[0x91][..], b"Opus", &[0xFC]].concat();
        assert!(!audio_is_sequence_header(&frame));
        assert_eq!(audio_params(&frame), None);

        let mp4a = [&[0x90][..], b"mp4a", &[0x11, 0x90]].concat();
        assert_eq!(audio_codec(&mp4a), Some(AudioCodec::Aac));
        assert_eq!(audio_params(&mp4a), Some(params(48000, 2)));
        // Multitrack (5), one track, SequenceStart, 'Opus', track 0.
        let multi = [&[0x95, 0x00][..], b"Opus", &[0], &opus_head].concat();
        assert!(audio_is_sequence_header(&multi));
        assert_eq!(audio_params(&multi), Some(params(48000, 2)));
        // Unknown FourCC.
        let flac = [&[0x90][..], b"fLaC"].concat();
        assert_eq!(audio_codec(&flac), Some(AudioCodec::Other(9)));
        assert_eq!(audio_codec(&[0x90, b'O']), None);
    }

    #[test]
    fn audio_codecs_are_named_from_the_sound_format() {
        let cases = [
            (0x0, AudioCodec::Pcm, "PCM"),
            (0x1, AudioCodec::Adpcm, "ADPCM"),
            (0x2, AudioCodec::Mp3, "MP3"),
            (0x3, AudioCodec::PcmLe, "PCM_LE"),
            (0x4, AudioCodec::Nellymoser, "NELLYMOSER"),
            (0x6, AudioCodec::Nellymoser, "NELLYMOSER"),
            (0x7, AudioCodec::G711A, "G711A"),
            (0x8, AudioCodec::G711U, "G711U"),
            (0xA, AudioCodec::Aac, "AAC"),
            (0xB, AudioCodec::Speex, "SPEEX"),
            (0xE, AudioCodec::Mp3_8k, "MP3"),
            (0xF, AudioCodec::Other(15), "OTHER"),
        ];
        for (format, codec, name) in cases {
            assert_eq!(audio_codec(&[format << 4]), Some(codec));
            assert_eq!(codec.name(), name);
        }
        assert_eq!(AudioCodec::Opus.name(), "OPUS");
        assert_eq!(audio_codec(&[]), None);
    }

    #[test]
    fn audio_sequence_headers_are_aac_configs_and_enhanced_starts() {
        assert!(audio_is_sequence_header(&hex("af 00 12 10")));
        assert!(!audio_is_sequence_header(&hex("af 01 21")));
        assert!(!audio_is_sequence_header(&hex("af")));
        assert!(!audio_is_sequence_header(&hex("2f 00")));
        assert!(!audio_is_sequence_header(&[]));
        assert!(!audio_is_sequence_header(&[0x90]));
    }
}
