//! Codec ids: the legacy FLV codec ids and sound formats, the Enhanced RTMP FourCCs, and their names.

use super::tag_header::{AUDIO_FORMAT_AAC, AUDIO_FORMAT_EX_HEADER, LEGACY_AVC, LEGACY_HEVC};

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

    pub(super) fn from_legacy_id(id: u8) -> VideoCodec {
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

    pub(super) fn from_fourcc(fourcc: [u8; 4]) -> VideoCodec {
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

    pub(super) fn from_format(format: u8) -> AudioCodec {
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

    pub(super) fn from_fourcc(fourcc: [u8; 4]) -> AudioCodec {
        match &fourcc {
            b"mp4a" => AudioCodec::Aac,
            b"Opus" => AudioCodec::Opus,
            b".mp3" => AudioCodec::Mp3,
            _ => AudioCodec::Other(AUDIO_FORMAT_EX_HEADER),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::{audio_codec, video_codec};

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
}
