use super::*;
use crate::hls::playlist::{media_playlist, multivariant_playlist};

const AVC_RECORD: [u8; 16] = [
    1, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0, 3, 0x67, 0x64, 0x1F, 1, 0, 2, 0x68, 0xEE,
];

fn video_header(record: &[u8]) -> Packet {
    Packet::new(
        PacketKind::Video,
        0,
        [&[0x17, 0, 0, 0, 0][..], record].concat(),
    )
}

fn aac_header() -> Packet {
    Packet::new(PacketKind::Audio, 0, vec![0xAF, 0, 0x12, 0x10])
}

fn frame(ts: u32, key: bool) -> Packet {
    let b0 = if key { 0x17 } else { 0x27 };
    let nal = if key { 0x65 } else { 0x41 };
    Packet::new(
        PacketKind::Video,
        ts,
        vec![b0, 1, 0, 0, 0, 0, 0, 0, 2, nal, 0],
    )
}

fn audio(ts: u32) -> Packet {
    Packet::new(PacketKind::Audio, ts, vec![0xAF, 1, 0x21, 0x10])
}

fn settings(fragment_ms: u32, window: usize) -> SegmenterSettings {
    SegmenterSettings {
        fragment_ms,
        window,
        ..SegmenterSettings::default()
    }
}

/// 25 fps video with a keyframe every `gop` frames and audio between frames, for `secs`.
fn feed(s: &mut Segmenter, from_ms: u32, secs: u32, gop: u32) {
    for i in 0..secs * 25 {
        let ts = from_ms + i * 40;
        s.push(&frame(ts, i % gop == 0), false, 0).unwrap();
        s.push(&audio(ts + 20), false, 0).unwrap();
    }
}

fn first_video_is_keyframe(segment: &Segment) -> bool {
    // After PAT and PMT, the first video packet's adaptation field has random access set.
    segment
        .bytes
        .chunks(188)
        .find(|p| ((u16::from(p[1] & 0x1F) << 8) | u16::from(p[2])) == crate::media::ts::VIDEO_PID)
        .is_some_and(|p| p[3] & 0x20 != 0 && p[5] & 0x40 != 0)
}

#[test]
fn segments_are_cut_at_keyframes_once_the_fragment_has_passed() {
    let mut s = Segmenter::new(settings(2000, 10));
    s.push(&video_header(&AVC_RECORD), false, 0).unwrap();
    s.push(&aac_header(), false, 0).unwrap();
    // Inter frames before the first keyframe are dropped, as is audio.
    s.push(&frame(0, false), false, 0).unwrap();
    s.push(&audio(10), false, 0).unwrap();
    // Keyframes every 0.8 s: a 2 s fragment closes at the third one (2.4 s).
    feed(&mut s, 40, 10, 20);
    let durations: Vec<u32> = s.segments().iter().map(|x| x.duration_ms).collect();
    assert_eq!(durations, [2400, 2400, 2400, 2400]);
    for (i, segment) in s.segments().iter().enumerate() {
        assert_eq!(segment.sequence, i as u64);
        assert_eq!(
            &segment.bytes[..3],
            &[0x47, 0x40, 0x00],
            "starts with the PAT"
        );
        assert!(
            first_video_is_keyframe(segment),
            "segment {i} starts at a keyframe"
        );
        assert!(!segment.discontinuity);
    }
    assert_eq!(s.target_duration_secs(), 2);
}

#[test]
fn the_window_slides_and_holds_only_window_plus_one() {
    let mut s = Segmenter::new(settings(1000, 3));
    s.push(&video_header(&AVC_RECORD), false, 0).unwrap();
    feed(&mut s, 0, 20, 25);
    let sequences: Vec<u64> = s.segments().iter().map(|x| x.sequence).collect();
    assert_eq!(sequences, [16, 17, 18]);
    assert!(s.segment(15).is_none(), "fell out of the window");
    assert!(s.segment(19).is_none(), "still being written");
    assert_eq!(s.segment(17).unwrap().sequence, 17);
    let window: usize = s.segments().iter().map(|x| x.bytes.len()).sum();
    assert!(s.held_bytes() > window, "the one being written counts too");
    let text = media_playlist(&s, |x| format!("{}.ts", x.sequence));
    assert_eq!(
        text,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:16\n\
         #EXTINF:1.000,\n16.ts\n#EXTINF:1.000,\n17.ts\n#EXTINF:1.000,\n18.ts\n"
    );
}

#[test]
fn a_new_source_or_new_headers_start_a_segment_with_a_discontinuity() {
    let mut s = Segmenter::new(settings(2000, 10));
    s.push(&video_header(&AVC_RECORD), false, 0).unwrap();
    feed(&mut s, 0, 3, 25);
    // A new source at 3 s, though the fragment has not passed since the keyframe at 2 s.
    s.push(&frame(3040, true), true, 0).unwrap();
    feed(&mut s, 3080, 1, 25);
    // New headers (another encoder), then its first keyframe.
    let mut other = AVC_RECORD;
    other[3] = 0x28;
    s.push(&video_header(&other), false, 0).unwrap();
    feed(&mut s, 4080, 3, 25);
    s.end();
    let marks: Vec<(u32, bool)> = s
        .segments()
        .iter()
        .map(|x| (x.start_ts, x.discontinuity))
        .collect();
    assert_eq!(
        marks,
        [
            (0, false),
            (2000, false),
            (3040, true),
            (4080, true),
            (6080, false)
        ]
    );
    let text = media_playlist(&s, |x| format!("{}.ts", x.sequence));
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 2);
    assert!(
        text.contains("#EXT-X-DISCONTINUITY\n#EXTINF:1.040,\n2.ts\n"),
        "{text}"
    );
    assert!(text.ends_with("#EXT-X-ENDLIST\n"));
    assert_eq!(s.codecs(), "avc1.640028");
}

#[test]
fn discontinuities_leaving_the_window_are_counted() {
    let mut s = Segmenter::new(settings(1000, 2));
    s.push(&video_header(&AVC_RECORD), false, 0).unwrap();
    feed(&mut s, 0, 2, 25);
    s.push(&frame(2000, true), true, 0).unwrap();
    feed(&mut s, 2040, 4, 25);
    assert!(s.segments().iter().all(|x| !x.discontinuity));
    assert_eq!(s.discontinuity_sequence(), 1);
    let text = media_playlist(&s, |x| format!("{}.ts", x.sequence));
    assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
}

#[test]
fn audio_only_is_cut_by_time() {
    let mut s = Segmenter::new(settings(2000, 10));
    s.push(&aac_header(), false, 0).unwrap();
    for i in 0..300 {
        s.push(&audio(i * 23), false, 0).unwrap();
    }
    let durations: Vec<u32> = s.segments().iter().map(|x| x.duration_ms).collect();
    assert_eq!(durations, [2001, 2001, 2001]);
    assert_eq!(s.codecs(), "mp4a.40.2");
}

#[test]
fn an_unsupported_codec_is_an_error_and_long_segments_raise_the_target() {
    let mut s = Segmenter::new(settings(2000, 10));
    let hevc = Packet::new(PacketKind::Video, 0, vec![0x1C, 1, 0, 0, 0]);
    assert!(matches!(
        s.push(&hevc, false, 0),
        Err(TsError::Unsupported(_))
    ));
    let mut s = Segmenter::new(settings(2000, 10));
    s.push(&video_header(&AVC_RECORD), false, 0).unwrap();
    feed(&mut s, 0, 12, 125);
    assert_eq!(s.segments()[0].duration_ms, 5000);
    assert_eq!(s.target_duration_secs(), 5);
}

#[test]
fn the_multivariant_playlist_names_one_variant() {
    assert_eq!(
        multivariant_playlist("abc.m3u8?session=x", 1_200_000, "avc1.64001f,mp4a.40.2", Some((320, 240))),
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1200000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=320x240\nabc.m3u8?session=x\n"
    );
    assert!(multivariant_playlist("a.m3u8", 0, "", None).contains("BANDWIDTH=1\na.m3u8"));
}
