//! Picture size from a video sequence header: the codec's configuration record, then its SPS.

use super::av1::{av1_config_sequence_header, parse_av1_sequence_header};
use super::avc::{avc_config_first_sps, parse_h264_sps};
use super::codec_id::VideoCodec;
use super::error::CodecError;
use super::hevc::{hevc_config_sps, parse_hevc_sps};
use super::picture::VideoSize;
use super::sniff::{ex_video_header, video_is_sequence_header};
use super::tag_header::{VIDEO_EX_HEADER, VIDEO_PACKET_SEQUENCE_START};

/// From a video sequence-header tag body: AVC (AVCDecoderConfigurationRecord -> first SPS), HEVC
/// (hvcC -> SPS), AV1 (av1C -> sequence header OBU). `Ok(None)` when the body is not a sequence header, is of another codec, or carries no
/// SPS; an error when the configuration or SPS is malformed.
pub fn video_size_from_sequence_header(body: &[u8]) -> Result<Option<VideoSize>, CodecError> {
    if !video_is_sequence_header(body) {
        return Ok(None);
    }
    let (codec, config) = if body[0] & VIDEO_EX_HEADER != 0 {
        match ex_video_header(body) {
            // An MPEG-2 TS sequence start carries a TS descriptor, not a configuration record.
            Some(h) if h.packet_type != VIDEO_PACKET_SEQUENCE_START => return Ok(None),
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
        VideoCodec::Av1 => av1_config_sequence_header(config)?
            .map(parse_av1_sequence_header)
            .transpose(),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::*;
    use crate::media::test_support::*;

    /// The first video tag ffmpeg writes for the 1080p High stream: AVC sequence header.
    const TAG_1080P_AVC_SEQUENCE_HEADER: &str = "17 00 00 00 00 01 64 00 28 ff e1 00 1b 67 64 00 28 ac d9 40 78 02 27 e5 c0 44 00 00 03 00 04 00 00 03 00 c8 3c 60 c6 58 01 00 06 68 eb e3 cb 22 c0 fd f8 f8 00";

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
}
