use std::sync::Arc;

use super::reader::MAX_INDEX_BOX;
use super::*;
use crate::media::test_support::{hex, HVCC_1080P};

const SPS_360P: &str = "67 42 c0 1e d9 00 a0 2f f9 70 11 00 00 03 00 01 00 00 03 00 32 0f 16 2e 48";

/// A legacy AVC sequence header tag body around an avcC with one SPS and one PPS.
fn avc_header() -> Vec<u8> {
    let sps = hex(SPS_360P);
    let pps = hex("68 ce 3c 80");
    let mut body = vec![0x17, 0, 0, 0, 0, 1, sps[1], sps[2], sps[3], 0xFF, 0xE1];
    body.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    body.extend_from_slice(&sps);
    body.push(1);
    body.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    body.extend_from_slice(&pps);
    body
}

fn aac_header() -> Vec<u8> {
    vec![0xAF, 0, 0x12, 0x10] // AAC LC, 44.1 kHz, stereo
}

/// The top-level boxes of `bytes` as (type, offset, size).
fn top_level(bytes: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(h) = box_header(&bytes[at..]).unwrap() {
        let size = h.size.unwrap() as usize;
        out.push((String::from_utf8_lossy(&h.kind).into_owned(), at, size));
        at += size;
        if at >= bytes.len() {
            break;
        }
    }
    out
}

#[test]
fn track_configs_come_from_legacy_and_enhanced_sequence_headers() {
    let avc = TrackConfig::from_video_header(&avc_header()).unwrap();
    assert_eq!((avc.codec, avc.width, avc.height), (Codec::Avc, 640, 360));
    assert_eq!(avc.config, avc_header()[5..].to_vec());
    assert_eq!(avc.timescale(), 90_000);
    let hevc_body = [&[0x90][..], b"hvc1", &hex(HVCC_1080P)].concat();
    let hevc = TrackConfig::from_video_header(&hevc_body).unwrap();
    assert_eq!(
        (hevc.codec, hevc.width, hevc.height),
        (Codec::Hevc, 1920, 1080)
    );
    assert_eq!(hevc.config, hex(HVCC_1080P));
    let aac = TrackConfig::from_audio(&aac_header()).unwrap().unwrap();
    assert_eq!(
        (aac.codec, aac.sample_rate, aac.channels),
        (Codec::Aac, 44100, 2)
    );
    assert_eq!(aac.timescale(), 44100);
    assert_eq!(TrackConfig::from_audio(&[0xAF, 1, 0x21]).unwrap(), None);
    let mp3 = TrackConfig::from_audio(&[0x2F, 0xFF, 0xFB])
        .unwrap()
        .unwrap();
    assert_eq!(
        (mp3.codec, mp3.sample_rate, mp3.channels),
        (Codec::Mp3, 44100, 2)
    );
    // Codecs fMP4 is not written for here.
    assert!(matches!(
        TrackConfig::from_audio(&[0x6F, 1]),
        Err(Mp4Error::Unsupported(_))
    ));
    assert!(matches!(
        TrackConfig::from_video_header(&[0x12, 0, 0]),
        Err(Mp4Error::Unsupported(_))
    ));
    assert!(TrackConfig::from_video_header(&[0x17]).is_err());
}

#[test]
fn samples_are_found_behind_legacy_and_enhanced_headers() {
    // Legacy AVC NALU with a composition time of 40 ms, and of -2 ms.
    let body = [0x17, 1, 0, 0, 40, 0xAA, 0xBB];
    assert_eq!(
        video_sample(&body),
        Some(SampleSlice {
            offset: 5,
            composition_ms: 40
        })
    );
    assert_eq!(
        video_sample(&[0x27, 1, 0xFF, 0xFF, 0xFE, 9])
            .unwrap()
            .composition_ms,
        -2
    );
    assert_eq!(video_sample(&avc_header()), None);
    assert_eq!(video_sample(&[0x17, 2, 0, 0, 0]), None); // end of sequence
    assert_eq!(video_sample(&[0x17, 1, 0, 0, 0]), None); // empty
                                                         // Enhanced: CodedFrames of hvc1 (with time), CodedFramesX (none), av01 (none).
    let hvc = [&[0x91][..], b"hvc1", &[0, 0, 33, 0xCC]].concat();
    assert_eq!(
        video_sample(&hvc),
        Some(SampleSlice {
            offset: 8,
            composition_ms: 33
        })
    );
    let x = [&[0xA3][..], b"hvc1", &[0xCC]].concat();
    assert_eq!(video_sample(&x).unwrap().offset, 5);
    let av1 = [&[0x91][..], b"av01", &[0x12, 0]].concat();
    assert_eq!(
        video_sample(&av1),
        Some(SampleSlice {
            offset: 5,
            composition_ms: 0
        })
    );
    // Audio: AAC raw, AAC config, MP3, enhanced mp4a frames.
    assert_eq!(audio_sample(&[0xAF, 1, 0x21]).unwrap().offset, 2);
    assert_eq!(audio_sample(&aac_header()), None);
    assert_eq!(audio_sample(&[0x2F, 0xFF, 0xFB]).unwrap().offset, 1);
    let ex = [&[0x91][..], b"mp4a", &[0x21, 0x22]].concat();
    assert_eq!(audio_sample(&ex).unwrap().offset, 5);
    for short in [&[][..], &[0x17], &[0x91, b'h'], &[0xAF]] {
        let _ = (video_sample(short), audio_sample(short));
    }
}

#[test]
fn the_init_segment_is_ftyp_then_moov_with_mvex_and_reads_back() {
    let tracks = vec![
        TrackConfig::from_video_header(&avc_header()).unwrap(),
        TrackConfig::from_audio(&aac_header()).unwrap().unwrap(),
    ];
    let init = init_segment(&tracks);
    let boxes = top_level(&init);
    assert_eq!(boxes.len(), 2);
    assert_eq!((boxes[0].0.as_str(), boxes[0].1), ("ftyp", 0));
    assert_eq!(&init[8..12], b"isom");
    assert_eq!(boxes[1].0, "moov");
    assert_eq!(boxes[1].1 + boxes[1].2, init.len());
    let moov = &init[boxes[1].1 + 8..];
    let find = |needle: &[u8]| moov.windows(needle.len()).any(|w| w == needle);
    for kind in [&b"mvex"[..], b"trex", b"avc1", b"avcC", b"mp4a", b"esds"] {
        assert!(find(kind), "{}", String::from_utf8_lossy(kind));
    }
    assert!(find(&tracks[0].config));
    // esds: DecoderConfigDescriptor with object type 0x40 (AAC), then the ASC.
    assert!(find(&[0x04, 0x80, 0x80, 0x80, 20, 0x40, 0x15]));
    assert!(find(&[0x05, 0x80, 0x80, 0x80, 2, 0x12, 0x10]));
    let read = parse_moov(moov).unwrap();
    assert_eq!(
        read,
        vec![
            TrackInfo {
                track_id: 1,
                timescale: 90_000,
                video: true
            },
            TrackInfo {
                track_id: 2,
                timescale: 44100,
                video: false
            }
        ]
    );
    // MP3: object type 0x6B and no DecoderSpecificInfo.
    let mp3 = TrackConfig::from_audio(&[0x2F, 0xFF]).unwrap().unwrap();
    let init = init_segment(&[mp3]);
    assert!(init
        .windows(7)
        .any(|w| w == [0x04, 0x80, 0x80, 0x80, 13, 0x6B, 0x15]));
    assert!(!init.windows(2).any(|w| w == [0x05, 0x80]));
}

#[test]
fn a_fragment_header_points_its_runs_at_the_bytes_after_it() {
    let video = [
        Sample {
            duration: 3000,
            size: 5,
            sync: true,
            composition_offset: 6000,
        },
        Sample {
            duration: 3003,
            size: 3,
            sync: false,
            composition_offset: -3000,
        },
    ];
    let audio = [Sample {
        duration: 1024,
        size: 4,
        sync: true,
        composition_offset: 0,
    }];
    let runs = [
        TrackRun {
            track_id: 1,
            base_decode_time: 1 << 40,
            samples: &video,
        },
        TrackRun {
            track_id: 2,
            base_decode_time: 44100,
            samples: &audio,
        },
        TrackRun {
            track_id: 3,
            base_decode_time: 0,
            samples: &[],
        },
    ];
    let header = fragment_header(7, &runs);
    let mut file = header.clone();
    file.extend_from_slice(b"VVVVVvvvAAAA");
    let boxes = top_level(&file);
    assert_eq!(
        boxes.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
        ["moof", "mdat"]
    );
    assert_eq!(boxes[1].1 + boxes[1].2, file.len());
    let moof = &file[..boxes[0].2];
    let info = parse_moof(moof).unwrap();
    assert_eq!(info.sequence, 7);
    assert_eq!(
        &moof[info.sequence_at..info.sequence_at + 4],
        &7u32.to_be_bytes()
    );
    assert_eq!(info.trafs.len(), 2);
    assert_eq!(info.trafs[0].samples, video);
    assert_eq!(info.trafs[0].base_decode_time, 1 << 40);
    assert_eq!(info.trafs[0].duration(), 6003);
    let at = info.trafs[1].decode_time_at.unwrap();
    assert_eq!(&moof[at..at + 8], &44100u64.to_be_bytes());
    assert_eq!(info.trafs[1].samples, audio);
    // Each trun's data offset (from the moof's start) points at its track's bytes.
    let offsets: Vec<usize> = moof
        .windows(4)
        .enumerate()
        .filter(|(_, w)| w == b"trun")
        .map(|(i, _)| {
            let at = i + 4 + 4 + 4;
            u32::from_be_bytes(moof[at..at + 4].try_into().unwrap()) as usize
        })
        .collect();
    assert_eq!(&file[offsets[0]..offsets[0] + 5], b"VVVVV");
    assert_eq!(&file[offsets[1]..offsets[1] + 4], b"AAAA");
}

#[test]
fn durations_are_differences_of_absolute_times_and_do_not_drift() {
    let video = TrackConfig::from_video_header(&avc_header()).unwrap();
    let audio = TrackConfig::from_audio(&aac_header()).unwrap().unwrap();
    let mut parts = PartBuilder::new(vec![video, audio]);
    let body = Arc::new(vec![0x27, 1, 0, 0, 0, 1, 2, 3]);
    let slice = video_sample(&body).unwrap();
    let audio_body = Arc::new(vec![0xAF, 1, 9, 9]);
    let audio_slice = audio_sample(&audio_body).unwrap();
    // One hour of 30 fps video (timestamps rounded to ms as FLV has them) and 44.1 kHz AAC,
    // in one-second parts.
    let (mut video_total, mut audio_total) = (0u64, 0u64);
    let (mut frame, mut aframe) = (0u64, 0u64);
    let mut last_part = None;
    for second in 0..3600u64 {
        while frame * 1000 / 30 < (second + 1) * 1000 {
            let ms = (frame * 1000 / 30) as i64;
            parts.push(0, ms, body.clone(), slice, frame % 60 == 0);
            frame += 1;
        }
        while aframe * 1024 * 1000 / 44100 < (second + 1) * 1000 {
            let ms = (aframe * 1024 * 1000 / 44100) as i64;
            parts.push(1, ms, audio_body.clone(), audio_slice, true);
            aframe += 1;
        }
        let part = parts.finish().unwrap();
        let moof_len = box_header(&part.header).unwrap().unwrap().size.unwrap();
        let info = parse_moof(&part.header[..moof_len as usize]).unwrap();
        video_total += info.trafs[0].duration();
        audio_total += info.trafs[1].duration();
        assert_eq!(info.sequence as u64, second + 1);
        last_part = Some((part, info));
    }
    let (part, info) = last_part.unwrap();
    // Each part held its tracks' last samples back: durations are exact, and the decode time
    // of each fragment is the sum of those before it.
    assert_eq!(
        info.trafs[0].base_decode_time + info.trafs[0].duration(),
        video_total
    );
    assert_eq!(
        info.trafs[1].base_decode_time + info.trafs[1].duration(),
        audio_total
    );
    let last = parts.finish_all().unwrap();
    assert!(parts.finish_all().is_none());
    let moof_len = box_header(&last.header).unwrap().unwrap().size.unwrap();
    let info = parse_moof(&last.header[..moof_len as usize]).unwrap();
    assert_eq!(info.trafs[0].samples.len(), 1);
    assert_eq!(
        info.trafs[0].base_decode_time,
        ((frame - 1) * 1000 / 30) * 90
    );
    // An hour of media adds up to an hour, to the frame: the sum is the last frame's time.
    assert_eq!(video_total, ((frame - 1) * 1000 / 30) * 90);
    let last_audio_ms = (aframe - 1) * 1024 * 1000 / 44100;
    assert_eq!(audio_total, (last_audio_ms * 44100 + 500) / 1000);
    assert!(
        (3_599_900..=3_600_100).contains(&part.end_ms),
        "{}",
        part.end_ms
    );
}

#[test]
fn box_headers_and_moofs_from_bad_bytes_are_errors_not_panics() {
    assert_eq!(box_header(&[0, 0, 0]).unwrap(), None);
    assert_eq!(
        box_header(&[0, 0, 0, 1, b'm', b'd', b'a', b't']).unwrap(),
        None
    );
    assert!(box_header(&[0, 0, 0, 4, b'm', b'o', b'o', b'f']).is_err());
    let h = box_header(&[0, 0, 0, 0, b'm', b'd', b'a', b't'])
        .unwrap()
        .unwrap();
    assert_eq!(h.size, None);
    let big = [&[0, 0, 0, 1][..], b"mdat", &(1u64 << 33).to_be_bytes()].concat();
    assert_eq!(box_header(&big).unwrap().unwrap().size, Some(1 << 33));
    let sample = Sample {
        duration: 1,
        size: 1,
        sync: true,
        composition_offset: 0,
    };
    let header = fragment_header(
        1,
        &[TrackRun {
            track_id: 1,
            base_decode_time: 0,
            samples: &[sample; 3],
        }],
    );
    let moof_len = box_header(&header).unwrap().unwrap().size.unwrap() as usize;
    let moof = &header[..moof_len];
    // Every truncation, and every byte flipped, is refused or read without a panic.
    for n in 0..moof.len() {
        assert!(parse_moof(&moof[..n]).is_err());
    }
    for i in 0..moof.len() {
        let mut bad = moof.to_vec();
        bad[i] ^= 0xFF;
        let _ = parse_moof(&bad);
    }
    // A sample count beyond the trun's bytes is refused before anything is allocated.
    let mut huge = moof.to_vec();
    let trun = huge.windows(4).position(|w| w == b"trun").unwrap();
    huge[trun + 8..trun + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(parse_moof(&huge).is_err());
    const { assert!(MAX_INDEX_BOX >= 1 << 20) };
}

#[test]
fn a_part_can_end_right_before_a_keyframe() {
    let video = TrackConfig::from_video_header(&avc_header()).unwrap();
    let mut parts = PartBuilder::new(vec![video]);
    let body = Arc::new(vec![0x27, 1, 0, 0, 0, 1, 2, 3]);
    let slice = video_sample(&body).unwrap();
    parts.push(0, 0, body.clone(), slice, true);
    parts.push(0, 40, body.clone(), slice, false);
    // The next sample (a keyframe at 80 ms) is known: both samples go, with exact durations.
    parts.next_sample_at(0, 80);
    let part = parts.finish().unwrap();
    let moof_len = box_header(&part.header).unwrap().unwrap().size.unwrap();
    let info = parse_moof(&part.header[..moof_len as usize]).unwrap();
    let durations: Vec<u32> = info.trafs[0].samples.iter().map(|s| s.duration).collect();
    assert_eq!(durations, [3600, 3600]);
    assert!(parts.is_empty());
    assert_eq!(part.end_ms, 80);
}
