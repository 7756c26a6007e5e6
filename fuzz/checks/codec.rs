//! What HTTP-FLV pulls and publishers carry: FLV tag streams and codec headers in tag bodies.

use joy4::flv::{self, FlvError, FlvFileHeader, FlvReader, FlvTag, MAX_TAG_DATA_LEN};
use joy4::media::codec;
use joy4::media::{Packet, PacketKind};

use super::split::pieces;

#[derive(Debug, PartialEq)]
struct FlvRun {
    header: Option<FlvFileHeader>,
    tags: Vec<FlvTag>,
    error: Option<FlvError>,
}

fn read_flv<'a>(mut reader: FlvReader, feeds: impl IntoIterator<Item = &'a [u8]>) -> FlvRun {
    let mut tags = Vec::new();
    for feed in feeds {
        reader.feed(feed);
        loop {
            match reader.next_tag() {
                Ok(Some(tag)) => tags.push(tag),
                Ok(None) => break,
                Err(e) => {
                    // The reader stays stuck on the offending bytes.
                    assert_eq!(reader.next_tag(), Err(e.clone()));
                    let header = reader.header().cloned();
                    return FlvRun {
                        header,
                        tags,
                        error: Some(e),
                    };
                }
            }
        }
    }
    FlvRun {
        header: reader.header().cloned(),
        tags,
        error: None,
    }
}

/// An FLV byte stream (an HTTP-FLV body): the same header, tags and error whatever the split,
/// tags within the limit, and the tags written again read back equal under the strict reader.
pub fn flv_reader(data: &[u8]) {
    let whole = read_flv(FlvReader::new(), [data]);
    let split = read_flv(FlvReader::new(), pieces(data));
    assert_eq!(whole, split, "the split changed what the FLV reader yields");

    let max = 200;
    let tight = read_flv(FlvReader::with_max_tag_len(max), pieces(data));
    assert!(tight.tags.iter().all(|t| t.body.len() <= max));
    match &tight.error {
        Some(FlvError::TagTooLarge(n)) => assert!(*n > max),
        _ => assert_eq!(tight, whole, "a limit nothing exceeded changed the result"),
    }

    let Some(header) = &whole.header else {
        return;
    };
    let mut out = flv::file_header(header.has_audio, header.has_video).to_vec();
    for tag in &whole.tags {
        assert!(tag.body.len() <= MAX_TAG_DATA_LEN);
        flv::write_tag(tag.tag_type, tag.timestamp, &tag.body, &mut out);
    }
    let again = read_flv(FlvReader::new().strict(), [&out[..]]);
    assert_eq!(again.error, None, "rewritten FLV does not read back");
    assert_eq!(again.header.as_ref(), Some(header));
    assert_eq!(again.tags, whole.tags);
}

/// A tag body as audio, video and script data, and as a raw parameter set: flags computed once
/// by `Packet::new` agree with the sniffers, a picture size comes only from a sequence header and
/// is not empty, and every parser returns instead of panicking.
pub fn codec_headers(data: &[u8]) {
    let video = Packet::new(PacketKind::Video, 0, data.to_vec());
    assert_eq!(video.is_keyframe(), codec::video_is_keyframe(data));
    assert_eq!(
        video.is_sequence_header(),
        codec::video_is_sequence_header(data)
    );
    let audio = Packet::new(PacketKind::Audio, 0, data.to_vec());
    assert!(!audio.is_keyframe());
    assert_eq!(
        audio.is_sequence_header(),
        codec::audio_is_sequence_header(data)
    );
    let script = Packet::new(PacketKind::Data, 0, data.to_vec());
    assert!(!script.is_keyframe() && !script.is_sequence_header());

    let _ = codec::video_codec(data).map(|c| c.name());
    let _ = codec::audio_codec(data).map(|c| c.name());
    if codec::video_is_sequence_header(data) || codec::video_is_keyframe(data) {
        assert!(!data.is_empty());
    }
    if let Ok(Some(size)) = codec::video_size_from_sequence_header(data) {
        assert!(codec::video_is_sequence_header(data));
        assert!(size.width > 0 && size.height > 0, "{size:?}");
    }
    if let Some(params) = codec::audio_params(data) {
        assert!(params.channels > 0 || params.sample_rate > 0, "{params:?}");
    }
    for size in [codec::parse_h264_sps(data), codec::parse_hevc_sps(data)]
        .into_iter()
        .flatten()
    {
        assert!(size.width > 0 && size.height > 0, "{size:?}");
    }
    let _ = codec::parse_audio_specific_config(data);
}
