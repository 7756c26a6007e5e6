use super::*;
use joy4::rtmp::chunk::{write_message, ChunkReader};

/// What a skimmer reports, owned, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Media(u8, u32, usize, Vec<u8>),
    Control(u8, u32, u32, Vec<u8>),
    Status(u16),
}

fn skim_rtmp(bytes: &[u8], split: usize) -> Vec<Seen> {
    let mut s = RtmpSkimmer::new();
    let mut seen = Vec::new();
    for piece in bytes.chunks(split.max(1)) {
        s.feed(piece, &mut |e| seen.push(own(e))).unwrap();
    }
    seen
}

fn own(e: Event<'_>) -> Seen {
    match e {
        Event::Media {
            type_id,
            timestamp,
            len,
            head,
        } => Seen::Media(type_id, timestamp, len, head.to_vec()),
        Event::Control {
            type_id,
            stream_id,
            timestamp,
            payload,
        } => Seen::Control(type_id, stream_id, timestamp, payload.to_vec()),
        Event::HttpStatus(s) => Seen::Status(s),
    }
}

/// A stream of messages as a server would send it: a chunk-size change, commands, media of
/// several sizes (some past the chunk size, some with extended timestamps), on several csids.
fn sample_stream() -> Vec<u8> {
    let mut out = Vec::new();
    write_message(2, 0, 1, 0, &4000u32.to_be_bytes(), 128, &mut out);
    let cmd: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    write_message(3, 0, 20, 0, &cmd, 4000, &mut out);
    let mut ts = 0xFF_FF00u32;
    for i in 0..60u32 {
        let len = [10usize, 4000, 4001, 9000, 1][i as usize % 5];
        let body: Vec<u8> = (0..len).map(|k| (k as u32 * 7 + i) as u8).collect();
        let (csid, type_id) = if i % 3 == 0 { (4, 8) } else { (6, 9) };
        write_message(csid, ts, type_id, 1, &body, 4000, &mut out);
        ts = ts.wrapping_add(40);
    }
    write_message(2, 0, 4, 0, &[0, 6, 0, 0, 0, 9], 4000, &mut out);
    out
}

/// The reference: the project's ChunkReader on the same bytes.
fn reference(bytes: &[u8]) -> Vec<Seen> {
    let mut r = ChunkReader::new();
    r.feed(bytes);
    let mut seen = Vec::new();
    while let Some(m) = r.next_message().unwrap() {
        if is_media_type(m.type_id) {
            let n = m.payload.len().min(HEAD_LEN);
            seen.push(Seen::Media(
                m.type_id,
                m.timestamp,
                m.payload.len(),
                m.payload[..n].to_vec(),
            ));
        } else {
            seen.push(Seen::Control(
                m.type_id,
                m.stream_id,
                m.timestamp,
                m.payload,
            ));
        }
    }
    seen
}

#[test]
fn rtmp_skimmer_agrees_with_the_chunk_reader_at_every_fragmentation() {
    let bytes = sample_stream();
    let expected = reference(&bytes);
    assert_eq!(expected.len(), 63);
    for split in [1, 2, 3, 7, 17, 18, 19, 128, 1000, 4096, bytes.len()] {
        assert_eq!(skim_rtmp(&bytes, split), expected, "split {split}");
    }
}

#[test]
fn rtmp_skimmer_follows_delta_headers_and_fmt3_new_messages() {
    // fmt 0 at t=1000, then a fmt 3 chunk starting a new message: t=2000; fmt 2 delta 40.
    let mut out = Vec::new();
    write_message(4, 1000, 8, 1, &[0xAF, 1, 2], 128, &mut out);
    out.extend_from_slice(&[0xC4, 0xAF, 1, 3]); // fmt 3, csid 4, 3 bytes of payload
    out.extend_from_slice(&[0x84, 0, 0, 40, 0xAF, 1, 4]); // fmt 2, delta 40
    let seen = skim_rtmp(&out, 1);
    let ts: Vec<u32> = seen
        .iter()
        .map(|s| match s {
            Seen::Media(_, ts, _, _) => *ts,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ts, vec![1000, 2000, 2040]);
    assert_eq!(seen, reference(&out));
}

#[test]
fn rtmp_skimmer_rejects_a_continuation_on_an_unknown_stream() {
    let mut s = RtmpSkimmer::new();
    assert!(s.feed(&[0xC5, 1, 2, 3], &mut |_| {}).is_err());
}

#[test]
fn keyframes_are_told_from_sequence_headers() {
    assert!(is_video_keyframe(&[0x17, 0x01, 0, 0, 0]));
    assert!(!is_video_keyframe(&[0x17, 0x00, 0, 0, 0]));
    assert!(!is_video_keyframe(&[0x27, 0x01, 0, 0, 0]));
    // Enhanced RTMP: key frame (1 << 4), packet type CodedFrames (1) vs SequenceStart (0).
    assert!(is_video_keyframe(&[
        0x80 | 0x10 | 1,
        b'h',
        b'v',
        b'c',
        b'1'
    ]));
    assert!(!is_video_keyframe(&[0x80 | 0x10, b'h', b'v', b'c', b'1']));
    assert!(!is_video_keyframe(&[]));
}

fn flv_stream() -> Vec<u8> {
    let mut out = joy4::flv::file_header(true, true).to_vec();
    joy4::flv::write_tag(18, 0, b"meta", &mut out);
    for i in 0..20u32 {
        let body: Vec<u8> = (0..(i as usize * 97 % 3000 + 1)).map(|k| k as u8).collect();
        let tag_type = if i % 2 == 0 { 9 } else { 8 };
        // A timestamp past 24 bits uses the extension byte.
        joy4::flv::write_tag(tag_type, 0xFF_FFF0 + i * 33, &body, &mut out);
    }
    out
}

fn flv_expected(bytes: &[u8]) -> Vec<Seen> {
    let mut r = joy4::flv::FlvReader::new();
    r.feed(bytes);
    let mut seen = Vec::new();
    while let Some(tag) = r.next_tag().unwrap() {
        let n = tag.body.len().min(HEAD_LEN);
        seen.push(Seen::Media(
            tag.tag_type,
            tag.timestamp,
            tag.body.len(),
            tag.body[..n].to_vec(),
        ));
    }
    seen
}

fn skim_http(bytes: &[u8], split: usize) -> Vec<Seen> {
    let mut s = FlvSkimmer::new();
    let mut seen = Vec::new();
    for piece in bytes.chunks(split.max(1)) {
        s.feed(piece, &mut |e| seen.push(own(e))).unwrap();
    }
    seen
}

#[test]
fn flv_skimmer_reads_a_plain_body_at_every_fragmentation() {
    let flv = flv_stream();
    let mut expected = vec![Seen::Status(200)];
    expected.extend(flv_expected(&flv));
    assert_eq!(expected.len(), 22);
    let mut bytes =
        b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n".to_vec();
    bytes.extend_from_slice(&flv);
    for split in [1, 2, 5, 14, 15, 16, 100, 4096, bytes.len()] {
        assert_eq!(skim_http(&bytes, split), expected, "split {split}");
    }
}

#[test]
fn flv_skimmer_undoes_chunked_encoding() {
    let flv = flv_stream();
    let mut expected = vec![Seen::Status(200)];
    expected.extend(flv_expected(&flv));
    let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n".to_vec();
    for (i, piece) in flv.chunks(777).enumerate() {
        if i % 2 == 0 {
            bytes.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        } else {
            bytes.extend_from_slice(format!("{:X};ext=1\r\n", piece.len()).as_bytes());
        }
        bytes.extend_from_slice(piece);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    for split in [1, 3, 64, bytes.len()] {
        assert_eq!(skim_http(&bytes, split), expected, "split {split}");
    }
}

#[test]
fn flv_skimmer_reports_an_error_status_and_a_bad_signature() {
    let seen = skim_http(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!", 4);
    assert_eq!(seen, vec![Seen::Status(404)]);
    let mut s = FlvSkimmer::new();
    let err = s
        .feed(b"HTTP/1.0 200 OK\r\n\r\nFLX\x01\x05\0\0\0\x09", &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, SkimError::Flv(_)), "{err}");
    let mut s = FlvSkimmer::new();
    assert!(s.feed(b"SSH-2.0\r\n\r\n", &mut |_| {}).is_err());
}

#[test]
fn bare_flv_has_no_http_head() {
    let flv = flv_stream();
    let mut s = FlvSkimmer::bare();
    let mut seen = Vec::new();
    s.feed(&flv, &mut |e| seen.push(own(e))).unwrap();
    assert_eq!(seen, flv_expected(&flv));
}
