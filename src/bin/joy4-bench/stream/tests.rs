use joy4::media::codec;

use super::h264::{avc_sequence_header, h264_pps, h264_sps};
use super::synthetic::metadata;
use super::*;

#[test]
fn the_synthetic_sequence_header_describes_640x360() {
    let body = avc_sequence_header();
    assert!(codec::video_is_sequence_header(&body));
    let size = codec::video_size_from_sequence_header(&body)
        .unwrap()
        .unwrap();
    assert_eq!((size.width, size.height), (640, 360));
    assert_eq!(h264_pps(), vec![0x68, 0xCE, 0x3C, 0x80]);
    // No start-code emulation inside the parameter sets.
    let sps = h264_sps();
    assert!(!sps.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 3));
}

#[test]
fn the_synthetic_stream_has_the_asked_bitrate_gop_and_timing() {
    let mut src = Source::synthetic(Synthetic {
        kbps: 1000,
        gop_s: 2.0,
        fps: 25,
    });
    let headers: Vec<Msg> = (0..3).map(|_| src.next_msg()).collect();
    assert_eq!(
        headers.iter().map(|m| m.type_id).collect::<Vec<_>>(),
        vec![18, 9, 8]
    );
    assert!(codec::audio_is_sequence_header(&headers[2].body));
    let mut bytes = 0usize;
    let mut keys = Vec::new();
    let mut last_ts = [0u32; 2];
    loop {
        let m = src.next_msg();
        if m.timestamp >= 10_000 {
            break;
        }
        let k = usize::from(m.type_id == 9);
        assert!(
            m.timestamp >= last_ts[k],
            "per-track timestamps never go back"
        );
        last_ts[k] = m.timestamp;
        bytes += m.body.len();
        if m.type_id == 9 && codec::video_is_keyframe(&m.body) {
            keys.push(m.timestamp);
        }
    }
    assert_eq!(keys, vec![0, 2000, 4000, 6000, 8000]);
    let kbps = bytes as f64 * 8.0 / 10.0 / 1000.0;
    assert!((950.0..=1050.0).contains(&kbps), "{kbps} kbit/s");
}

#[test]
fn a_looped_file_keeps_timestamps_rising_and_headers_first() {
    let mut file = joy4::flv::file_header(true, true).to_vec();
    joy4::flv::write_tag(18, 0, &metadata(1, 1, 1, 25), &mut file);
    joy4::flv::write_tag(9, 0, &avc_sequence_header(), &mut file);
    joy4::flv::write_tag(8, 0, &[0xAF, 0, 0x12, 0x10], &mut file);
    for i in 0..5u32 {
        joy4::flv::write_tag(9, 1000 + i * 40, &[0x27, 1, 0, 0, 0, 9], &mut file);
        joy4::flv::write_tag(8, 1000 + i * 40 + 5, &[0xAF, 1, 7], &mut file);
    }
    let mut src = Source::from_flv(&file).unwrap();
    let types: Vec<u8> = (0..3).map(|_| src.next_msg().type_id).collect();
    assert_eq!(types, vec![18, 9, 8]);
    let ts: Vec<u32> = (0..12).map(|_| src.next_msg().timestamp).collect();
    // One round spans 160 ms + one 40 ms frame interval.
    assert_eq!(ts, vec![0, 5, 40, 45, 80, 85, 120, 125, 160, 165, 200, 205]);
    assert!(Source::from_flv(&joy4::flv::file_header(true, true)).is_err());
}
