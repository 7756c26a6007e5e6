use super::adts::AdtsConfig;
use super::annexb::{nal_units, to_annex_b, AvcConfig, ACCESS_UNIT_DELIMITER};
use super::pes::{encode_pcr, encode_timestamp, pes_header, write_pes, FirstPacket};
use super::psi::{crc32_mpeg2, pat_section, pmt_section, PmtStream};
use super::*;
use crate::media::{Packet, PacketKind};

/// A TS packet as a reader sees it.
#[derive(Debug)]
struct TsPacket {
    pid: u16,
    unit_start: bool,
    cc: u8,
    pcr: Option<u64>,
    random_access: bool,
    payload: Vec<u8>,
}

fn parse_ts(bytes: &[u8]) -> Vec<TsPacket> {
    assert_eq!(bytes.len() % TS_PACKET_LEN, 0, "whole TS packets");
    bytes
        .chunks(TS_PACKET_LEN)
        .map(|p| {
            assert_eq!(p[0], 0x47, "sync byte");
            let pid = (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]);
            let control = (p[3] >> 4) & 3;
            let mut pos = 4;
            let (mut pcr, mut random_access) = (None, false);
            if control & 2 != 0 {
                let len = usize::from(p[4]);
                if len > 0 {
                    random_access = p[5] & 0x40 != 0;
                    if p[5] & 0x10 != 0 {
                        let b = &p[6..12];
                        pcr = Some(
                            (u64::from(b[0]) << 25)
                                | (u64::from(b[1]) << 17)
                                | (u64::from(b[2]) << 9)
                                | (u64::from(b[3]) << 1)
                                | u64::from(b[4] >> 7),
                        );
                    }
                }
                pos += 1 + len;
            }
            TsPacket {
                pid,
                unit_start: p[1] & 0x40 != 0,
                cc: p[3] & 0x0F,
                pcr,
                random_access,
                payload: p[pos..].to_vec(),
            }
        })
        .collect()
}

fn decode_timestamp(b: &[u8]) -> u64 {
    (u64::from(b[0] & 0x0E) << 29)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] >> 1) << 15)
        | (u64::from(b[3]) << 7)
        | u64::from(b[4] >> 1)
}

/// A PES reassembled from the packets of one PID: (PTS, DTS, payload).
fn pes_of(packets: &[TsPacket], pid: u16) -> Vec<(u64, Option<u64>, Vec<u8>)> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for p in packets.iter().filter(|p| p.pid == pid) {
        if p.unit_start {
            out.push(Vec::new());
        }
        out.last_mut()
            .expect("PES starts")
            .extend_from_slice(&p.payload);
    }
    out.into_iter()
        .map(|pes| {
            assert_eq!(&pes[..3], &[0, 0, 1]);
            let header_len = usize::from(pes[8]);
            let pts = decode_timestamp(&pes[9..14]);
            let dts = (pes[7] & 0x40 != 0).then(|| decode_timestamp(&pes[14..19]));
            let length = usize::from(u16::from_be_bytes([pes[4], pes[5]]));
            if length != 0 {
                assert_eq!(length, pes.len() - 6, "PES length");
            }
            (pts, dts, pes[9 + header_len..].to_vec())
        })
        .collect()
}

#[test]
fn crc32_matches_the_mpeg2_check_value_and_verifies_to_zero() {
    assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
    let pmt = pmt_section(
        3,
        VIDEO_PID,
        &[PmtStream {
            stream_type: 0x1B,
            pid: VIDEO_PID,
        }],
    );
    assert_eq!(
        crc32_mpeg2(&pmt),
        0,
        "a section with its CRC checks to zero"
    );
}

#[test]
fn the_pat_is_the_well_known_single_program_pat() {
    // The PAT ffmpeg writes for one program on PID 0x1000.
    let expected = [
        0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00, 0x2A, 0xB1, 0x04,
        0xB2,
    ];
    assert_eq!(pat_section(), expected);
}

#[test]
fn the_pmt_lists_streams_pcr_pid_and_version() {
    let streams = [
        PmtStream {
            stream_type: STREAM_TYPE_H264,
            pid: VIDEO_PID,
        },
        PmtStream {
            stream_type: STREAM_TYPE_AAC,
            pid: AUDIO_PID,
        },
    ];
    let pmt = pmt_section(2, VIDEO_PID, &streams);
    let length = (usize::from(pmt[1] & 0x0F) << 8) | usize::from(pmt[2]);
    assert_eq!(length, pmt.len() - 3);
    assert_eq!(pmt[5], 0xC1 | (2 << 1), "version 2, current");
    assert_eq!(&pmt[8..10], &[0xE1, 0x00], "PCR on PID 0x100");
    assert_eq!(&pmt[12..17], &[0x1B, 0xE1, 0x00, 0xF0, 0x00]);
    assert_eq!(&pmt[17..22], &[0x0F, 0xE1, 0x01, 0xF0, 0x00]);
}

#[test]
fn timestamps_and_pcr_are_encoded_with_their_markers() {
    assert_eq!(encode_timestamp(0x2, 0), [0x21, 0x00, 0x01, 0x00, 0x01]);
    assert_eq!(
        encode_timestamp(0x2, 90_000),
        [0x21, 0x00, 0x05, 0xBF, 0x21]
    );
    for ts in [0u64, 1, 90_000, 0x1_2345_6789, 0x1_FFFF_FFFF] {
        assert_eq!(decode_timestamp(&encode_timestamp(0x3, ts)), ts);
    }
    assert_eq!(encode_pcr(0), [0, 0, 0, 0, 0x7E, 0]);
    assert_eq!(encode_pcr(3), [0, 0, 0, 1, 0xFE, 0]);
}

#[test]
fn a_pes_header_carries_dts_only_when_it_differs() {
    let h = pes_header(0xE0, 3600, Some(3600), 100);
    assert_eq!(&h[..9], &[0, 0, 1, 0xE0, 0, 108, 0x80, 0x80, 5]);
    let h = pes_header(0xE0, 7200, Some(3600), 100);
    assert_eq!(&h[6..9], &[0x80, 0xC0, 10]);
    assert_eq!(decode_timestamp(&h[9..14]), 7200);
    assert_eq!(h[9] >> 4, 3);
    assert_eq!(decode_timestamp(&h[14..19]), 3600);
    assert_eq!(h[14] >> 4, 1);
    // Too long for 16 bits: unbounded.
    assert_eq!(&pes_header(0xE0, 0, None, 70_000)[4..6], &[0, 0]);
}

#[test]
fn a_pes_is_cut_into_packets_with_counters_pcr_and_stuffing() {
    for len in [1usize, 100, 170, 176, 177, 178, 183, 184, 400, 5000] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut out = Vec::new();
        let mut cc = 14;
        let first = FirstPacket {
            pcr: Some(12345),
            random_access: true,
        };
        write_pes(
            0x100,
            &mut cc,
            first,
            &[&payload[..3.min(len)], &payload[3.min(len)..]],
            &mut out,
        );
        let packets = parse_ts(&out);
        let joined: Vec<u8> = packets.iter().flat_map(|p| p.payload.clone()).collect();
        assert_eq!(joined, payload, "len {len}");
        for (i, p) in packets.iter().enumerate() {
            assert_eq!(p.pid, 0x100);
            assert_eq!(p.cc, ((14 + i) % 16) as u8, "counters count and wrap");
            assert_eq!(p.unit_start, i == 0);
            assert_eq!(p.pcr, (i == 0).then_some(12345));
            assert_eq!(p.random_access, i == 0);
        }
        assert_eq!(cc, ((14 + packets.len()) % 16) as u8);
    }
}

#[test]
fn adts_headers_come_from_the_audio_specific_config() {
    // AAC LC, 44.1 kHz, stereo.
    let lc = AdtsConfig::from_audio_specific_config(&[0x12, 0x10]).unwrap();
    assert_eq!(
        lc.header(100).unwrap(),
        [0xFF, 0xF1, 0x50, 0x80, 0x0D, 0x7F, 0xFC]
    );
    // HE-AAC with explicit SBR: the core object type (LC) and the core rate (22.05 kHz).
    let he = AdtsConfig::from_audio_specific_config(&[0x2B, 0x92, 0x08, 0x00]).unwrap();
    assert_eq!(
        he,
        AdtsConfig {
            object_type: 2,
            frequency_index: 7,
            channel_config: 2
        }
    );
    // Mono 48 kHz, a frame length using all 13 bits' high part.
    let mono = AdtsConfig::from_audio_specific_config(&[0x11, 0x88]).unwrap();
    let h = mono.header(8000).unwrap();
    let len = (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
    assert_eq!(len, 8007);
    assert_eq!((h[2] >> 2) & 0x0F, 3, "48 kHz");
    assert!(mono.header(8185).is_err(), "longer than 13 bits allow");
    // What ADTS cannot say.
    assert!(AdtsConfig::from_audio_specific_config(&[0x12]).is_err());
    assert!(
        AdtsConfig::from_audio_specific_config(&[0x12, 0x00]).is_err(),
        "channel config 0"
    );
    assert!(
        AdtsConfig::from_audio_specific_config(&[0x17, 0x90]).is_err(),
        "explicit rate"
    );
    assert!(
        AdtsConfig::from_audio_specific_config(&[0x3A, 0x10]).is_err(),
        "object type 7"
    );
}

fn avc_record(length_size: u8) -> Vec<u8> {
    let mut r = vec![1, 0x64, 0x00, 0x1F, 0xFC | (length_size - 1), 0xE1];
    r.extend_from_slice(&[0, 3, 0x67, 0x64, 0x1F]);
    r.extend_from_slice(&[1, 0, 2, 0x68, 0xEE]);
    r
}

fn avcc(units: &[&[u8]], length_size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for u in units {
        out.extend_from_slice(&(u.len() as u32).to_be_bytes()[4 - length_size..]);
        out.extend_from_slice(u);
    }
    out
}

#[test]
fn avcc_becomes_annex_b_with_an_aud_and_parameter_sets_before_keyframes() {
    let config = AvcConfig::parse(&avc_record(4)).unwrap();
    assert_eq!(config.codec_string(), "avc1.64001f");
    let sps_pps = [0, 0, 0, 1, 0x67, 0x64, 0x1F, 0, 0, 0, 1, 0x68, 0xEE];
    assert_eq!(config.parameter_sets, sps_pps);
    let idr: &[u8] = &[0x65, 0x88, 0x80];
    let key = to_annex_b(&avcc(&[idr], 4), &config, true).unwrap();
    let expected: Vec<u8> = [&ACCESS_UNIT_DELIMITER[..], &sps_pps, &[0, 0, 0, 1], idr].concat();
    assert_eq!(key, expected);
    // An inter frame: no parameter sets; the source's AUD is replaced by ours.
    let slice: &[u8] = &[0x41, 0x9A];
    let inter = to_annex_b(&avcc(&[&[0x09, 0x10], slice], 4), &config, false).unwrap();
    assert_eq!(
        inter,
        [&ACCESS_UNIT_DELIMITER[..], &[0, 0, 0, 1], slice].concat()
    );
    // A keyframe that carries its own SPS/PPS gets no second copy.
    let own = to_annex_b(&avcc(&[&[0x67, 1], &[0x68, 2], idr], 4), &config, true).unwrap();
    assert_eq!(own.len(), 6 + 6 + 6 + 4 + idr.len());
    // Two-byte lengths.
    let config2 = AvcConfig::parse(&avc_record(2)).unwrap();
    let two = to_annex_b(&avcc(&[slice], 2), &config2, false).unwrap();
    assert_eq!(
        two,
        [&ACCESS_UNIT_DELIMITER[..], &[0, 0, 0, 1], slice].concat()
    );
}

#[test]
fn malformed_avc_input_is_an_error_not_a_panic() {
    assert!(AvcConfig::parse(&[1, 0x64, 0, 0x1F]).is_err());
    let mut record = avc_record(4);
    record.truncate(9);
    assert!(AvcConfig::parse(&record).is_err());
    assert!(
        AvcConfig::parse(&[1, 0x64, 0, 0x1F, 0xFE, 0xE0, 0]).is_err(),
        "3-byte lengths"
    );
    assert!(nal_units(&[0, 0, 0, 9, 0x65], 4).is_err());
    assert!(nal_units(&[0, 0], 4).is_err());
    assert_eq!(nal_units(&[], 4).unwrap().len(), 0);
}

fn video(ts: u32, key: bool, cts: i32, data: &[u8]) -> Packet {
    let b0 = if key { 0x17 } else { 0x27 };
    let c = cts.to_be_bytes();
    let mut body = vec![b0, 1, c[1], c[2], c[3]];
    body.extend_from_slice(data);
    Packet::new(PacketKind::Video, ts, body)
}

#[test]
fn the_writer_muxes_h264_and_aac_with_tables_pts_dts_and_pcr() {
    let mut w = TsWriter::new();
    let mut out = Vec::new();
    let mut seq = vec![0x17, 0, 0, 0, 0];
    seq.extend_from_slice(&avc_record(4));
    w.write(&Packet::new(PacketKind::Video, 0, seq), &mut out)
        .unwrap();
    w.write(
        &Packet::new(PacketKind::Audio, 0, vec![0xAF, 0, 0x12, 0x10]),
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty(), "sequence headers write nothing");
    assert_eq!(w.codecs(), "avc1.64001f,mp4a.40.2");
    w.write_tables(&mut out);
    let idr = vec![0x65; 1000];
    w.write(&video(1000, true, 80, &avcc(&[&idr], 4)), &mut out)
        .unwrap();
    w.write(
        &Packet::new(PacketKind::Audio, 1010, vec![0xAF, 1, 7, 7, 7]),
        &mut out,
    )
    .unwrap();
    w.write(&video(1040, false, -40, &avcc(&[&[0x41, 1]], 4)), &mut out)
        .unwrap();
    let packets = parse_ts(&out);
    assert_eq!(packets[0].pid, PAT_PID);
    assert_eq!(packets[1].pid, PMT_PID);
    let videos = pes_of(&packets, VIDEO_PID);
    assert_eq!(videos.len(), 2);
    let base = TIMESTAMP_OFFSET;
    assert_eq!(
        (videos[0].0, videos[0].1),
        (base + 1080 * 90, Some(base + 1000 * 90))
    );
    assert_eq!(
        (videos[1].0, videos[1].1),
        (base + 1000 * 90, Some(base + 1040 * 90))
    );
    assert!(videos[0].2.starts_with(&ACCESS_UNIT_DELIMITER));
    let first_video = packets.iter().find(|p| p.pid == VIDEO_PID).unwrap();
    assert_eq!(first_video.pcr, Some(base + 1000 * 90 - PCR_DELAY));
    assert!(first_video.random_access);
    let audio = pes_of(&packets, AUDIO_PID);
    assert_eq!(audio.len(), 1);
    assert_eq!(audio[0].0, base + 1010 * 90);
    assert_eq!(audio[0].1, None);
    assert_eq!(&audio[0].2[..2], &[0xFF, 0xF1]);
    assert_eq!(&audio[0].2[7..], &[7, 7, 7]);
    assert!(packets
        .iter()
        .filter(|p| p.pid == AUDIO_PID)
        .all(|p| p.pcr.is_none()));
}

#[test]
fn audio_only_carries_the_pcr_on_the_audio_pid_and_mp3_as_is() {
    let mut w = TsWriter::new();
    let mut out = Vec::new();
    // MP3 needs no sequence header; the tables appear with the first frame.
    w.write(
        &Packet::new(PacketKind::Audio, 500, vec![0x2F, 0xFF, 0xFB, 1]),
        &mut out,
    )
    .unwrap();
    let packets = parse_ts(&out);
    assert_eq!(packets[0].pid, PAT_PID);
    assert_eq!(packets[1].pid, PMT_PID);
    assert_eq!(
        &packets[1].payload[9..11],
        &[0xE1, 0x01],
        "PCR on the audio PID"
    );
    assert_eq!(packets[1].payload[13], STREAM_TYPE_MPEG_AUDIO);
    assert_eq!(
        packets[2].pcr,
        Some(TIMESTAMP_OFFSET + 500 * 90 - PCR_DELAY)
    );
    assert_eq!(pes_of(&packets, AUDIO_PID)[0].2, [0xFF, 0xFB, 1]);
    assert_eq!(w.codecs(), "mp4a.40.34");
}

#[test]
fn other_codecs_have_no_hls_and_bad_frames_are_errors() {
    let mut w = TsWriter::new();
    let mut out = Vec::new();
    let hevc = Packet::new(PacketKind::Video, 0, vec![0x1C, 0, 0, 0, 0]);
    assert!(matches!(
        w.write(&hevc, &mut out),
        Err(TsError::Unsupported(_))
    ));
    let enhanced = Packet::new(PacketKind::Video, 0, [&[0x90][..], b"av01"].concat());
    assert!(matches!(
        w.write(&enhanced, &mut out),
        Err(TsError::Unsupported(_))
    ));
    let speex = Packet::new(PacketKind::Audio, 0, vec![0xB2, 1, 2]);
    let err = w.write(&speex, &mut out).unwrap_err();
    assert_eq!(err.to_string(), "no HLS for this codec: audio SPEEX");
    let frame_first = video(0, true, 0, &avcc(&[&[0x65]], 4));
    assert!(matches!(
        w.write(&frame_first, &mut out),
        Err(TsError::NoConfig(_))
    ));
    assert!(matches!(
        w.write(
            &Packet::new(PacketKind::Audio, 0, vec![0xAF, 1, 1]),
            &mut out
        ),
        Err(TsError::NoConfig(_))
    ));
    assert!(w
        .write(&Packet::new(PacketKind::Video, 0, vec![0x17, 1]), &mut out)
        .is_err());
    assert!(w
        .write(&Packet::new(PacketKind::Audio, 0, vec![]), &mut out)
        .is_err());
    assert!(out.is_empty());
}
