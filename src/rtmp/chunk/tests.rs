use super::reader::INITIAL_RESERVE;
use super::writer::write_basic_header;
use super::*;
use crate::rtmp::type_id::{ABORT as TYPE_ABORT, SET_CHUNK_SIZE as TYPE_SET_CHUNK_SIZE};

fn set_chunk_size(size: u32, out: &mut Vec<u8>) {
    write_message(2, 0, TYPE_SET_CHUNK_SIZE, 0, &size.to_be_bytes(), 128, out);
}

/// Feed everything at once and collect every message.
fn read_all(reader: &mut ChunkReader, bytes: &[u8]) -> Vec<RawMessage> {
    reader.feed(bytes);
    let mut out = Vec::new();
    while let Some(msg) = reader.next_message().unwrap() {
        out.push(msg);
    }
    out
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Hand-built chunk: basic header + the given message header bytes + data.
fn chunk(fmt: u8, csid: u32, header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_basic_header(&mut out, fmt, csid);
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    out
}

fn fmt0(ts: u32, len: u32, type_id: u8, stream_id: u32) -> Vec<u8> {
    let mut h = ts.min(EXTENDED).to_be_bytes()[1..].to_vec();
    h.extend_from_slice(&len.to_be_bytes()[1..]);
    h.push(type_id);
    h.extend_from_slice(&stream_id.to_le_bytes());
    if ts >= EXTENDED {
        h.extend_from_slice(&ts.to_be_bytes());
    }
    h
}

fn fmt1(delta: u32, len: u32, type_id: u8) -> Vec<u8> {
    let mut h = delta.to_be_bytes()[1..].to_vec();
    h.extend_from_slice(&len.to_be_bytes()[1..]);
    h.push(type_id);
    h
}

fn fmt2(delta: u32) -> Vec<u8> {
    delta.to_be_bytes()[1..].to_vec()
}

#[test]
fn messages_round_trip_through_writer_and_reader_for_all_sizes_and_timestamps() {
    let chunk_sizes = [1, 128, 4096, 65536, MAX_CHUNK_SIZE];
    let lens = [0, 1, 127, 128, 129, 10_000];
    let timestamps = [0, 0xFF_FFFE, 0xFF_FFFF, 0x100_0000, u32::MAX];
    for &size in &chunk_sizes {
        let mut wire = Vec::new();
        set_chunk_size(size, &mut wire);
        let mut expected = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            for (j, &ts) in timestamps.iter().enumerate() {
                let csid = [3, 4, 63, 64, 319, 320, MAX_CSID][(i + j) % 7];
                let msg = RawMessage {
                    csid,
                    timestamp: ts,
                    type_id: 9,
                    stream_id: 0x0102_0304 + j as u32,
                    payload: payload(len, (i * 5 + j) as u8),
                };
                let before = wire.len();
                write_message(
                    msg.csid,
                    msg.timestamp,
                    msg.type_id,
                    msg.stream_id,
                    &msg.payload,
                    size,
                    &mut wire,
                );
                assert_eq!(
                    wire.len() - before,
                    encoded_len(csid, ts, len, size),
                    "encoded_len for csid {csid} ts {ts} len {len} size {size}"
                );
                expected.push(msg);
            }
        }
        let mut reader = ChunkReader::new();
        let got = read_all(&mut reader, &wire);
        assert_eq!(got[0].type_id, TYPE_SET_CHUNK_SIZE);
        assert_eq!(reader.chunk_size(), size);
        assert_eq!(&got[1..], &expected[..], "chunk size {size}");
    }
}

#[test]
fn byte_at_a_time_feeding_yields_the_same_messages() {
    let mut wire = Vec::new();
    set_chunk_size(100, &mut wire);
    write_message(4, 0x0100_0000, 9, 1, &payload(1000, 1), 100, &mut wire);
    write_message(6, 5, 8, 1, &payload(3, 2), 100, &mut wire);
    write_message(400, 7, 18, 1, &[], 100, &mut wire);
    let expected = read_all(&mut ChunkReader::new(), &wire);
    assert_eq!(expected.len(), 4);

    let mut reader = ChunkReader::new();
    let mut got = Vec::new();
    for b in &wire {
        reader.feed(&[*b]);
        while let Some(msg) = reader.next_message().unwrap() {
            got.push(msg);
        }
        assert!(reader.end - reader.pos < 19, "input buffer stays small");
    }
    assert_eq!(got, expected);
}

#[test]
fn writer_splits_into_fmt3_chunks_repeating_the_extended_timestamp() {
    let mut out = Vec::new();
    write_message(5, 0x0123_4567, 9, 1, &[0xAA; 300], 128, &mut out);
    let ext = [0x01, 0x23, 0x45, 0x67];
    assert_eq!(out[0], 0x05);
    assert_eq!(&out[1..4], &[0xFF, 0xFF, 0xFF]);
    assert_eq!(&out[4..7], &[0, 1, 44]);
    assert_eq!(out[7], 9);
    assert_eq!(&out[8..12], &[1, 0, 0, 0], "stream id little-endian");
    assert_eq!(&out[12..16], &ext);
    let second = 16 + 128;
    assert_eq!(out[second], 0xC5);
    assert_eq!(&out[second + 1..second + 5], &ext);
    let third = second + 5 + 128;
    assert_eq!(out[third], 0xC5);
    assert_eq!(&out[third + 1..third + 5], &ext);
    assert_eq!(out.len(), third + 5 + 44);
}

#[test]
fn writer_produces_the_same_bytes_for_the_same_input() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    write_message(6, 1234, 8, 1, &payload(500, 3), 128, &mut a);
    write_message(6, 1234, 8, 1, &payload(500, 3), 128, &mut b);
    assert_eq!(a, b);
}

#[test]
fn fmt1_fmt2_and_fmt3_headers_apply_timestamp_deltas() {
    let mut wire = chunk(0, 4, &fmt0(1000, 3, 8, 1), b"abc");
    wire.extend(chunk(1, 4, &fmt1(20, 2, 9), b"de"));
    wire.extend(chunk(2, 4, &fmt2(30), b"fg"));
    // fmt 3 starting a new message reuses the last delta (30).
    wire.extend(chunk(3, 4, &[], b"hi"));
    let got = read_all(&mut ChunkReader::new(), &wire);
    let summary: Vec<_> = got
        .iter()
        .map(|m| (m.timestamp, m.type_id, m.stream_id, m.payload.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1000, 8, 1, b"abc".to_vec()),
            (1020, 9, 1, b"de".to_vec()),
            (1050, 9, 1, b"fg".to_vec()),
            (1080, 9, 1, b"hi".to_vec()),
        ]
    );
}

#[test]
fn fmt3_after_fmt0_uses_the_absolute_timestamp_as_delta_like_ffmpeg() {
    let mut wire = chunk(0, 4, &fmt0(1000, 1, 8, 1), b"a");
    wire.extend(chunk(3, 4, &[], b"b"));
    let got = read_all(&mut ChunkReader::new(), &wire);
    assert_eq!(got[0].timestamp, 1000);
    assert_eq!(got[1].timestamp, 2000);
}

#[test]
fn timestamp_deltas_wrap_at_2_pow_32() {
    let mut wire = chunk(0, 4, &fmt0(u32::MAX - 5, 1, 8, 1), b"a");
    wire.extend(chunk(2, 4, &fmt2(10), b"b"));
    let got = read_all(&mut ChunkReader::new(), &wire);
    assert_eq!(got[0].timestamp, u32::MAX - 5);
    assert_eq!(got[1].timestamp, 4);
}

#[test]
fn extended_timestamp_repeated_on_continuation_chunks_is_consumed() {
    let ts = 0x0200_0000u32;
    let ext = ts.to_be_bytes();
    let data = payload(200, 9);
    let mut wire = chunk(0, 4, &fmt0(ts, 200, 9, 1), &data[..128]);
    wire.extend(chunk(3, 4, &ext, &data[128..]));
    let got = read_all(&mut ChunkReader::new(), &wire);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].timestamp, ts);
    assert_eq!(got[0].payload, data);
}

#[test]
fn continuation_chunks_without_the_repeated_extended_timestamp_are_tolerated() {
    let ts = 0x0200_0000u32;
    let data = payload(200, 9);
    let mut wire = chunk(0, 4, &fmt0(ts, 200, 9, 1), &data[..128]);
    wire.extend(chunk(3, 4, &[], &data[128..]));
    let got = read_all(&mut ChunkReader::new(), &wire);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, data);
}

#[test]
fn fmt3_starting_a_message_after_an_extended_header_reads_a_new_extended_delta() {
    // What ffmpeg's writer emits when two consecutive deltas are both >= 0xFFFFFF.
    let mut wire = chunk(0, 4, &fmt0(10, 1, 8, 1), b"a");
    let mut h = fmt1(EXTENDED, 1, 8);
    h.extend_from_slice(&0x0100_0000u32.to_be_bytes());
    wire.extend(chunk(1, 4, &h, b"b"));
    wire.extend(chunk(3, 4, &0x0100_0005u32.to_be_bytes(), b"c"));
    let got = read_all(&mut ChunkReader::new(), &wire);
    let ts: Vec<u32> = got.iter().map(|m| m.timestamp).collect();
    assert_eq!(
        ts,
        vec![10, 10 + 0x0100_0000, 10 + 0x0100_0000 + 0x0100_0005]
    );
    assert_eq!(got[2].payload, b"c");
}

#[test]
fn interleaved_chunk_streams_are_reassembled_separately() {
    let a = payload(300, 1);
    let b = payload(200, 2);
    let mut wire = chunk(0, 4, &fmt0(100, 300, 9, 1), &a[..128]);
    wire.extend(chunk(0, 6, &fmt0(50, 200, 8, 1), &b[..128]));
    wire.extend(chunk(3, 4, &[], &a[128..256]));
    wire.extend(chunk(3, 6, &[], &b[128..]));
    wire.extend(chunk(3, 4, &[], &a[256..]));
    let got = read_all(&mut ChunkReader::new(), &wire);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].csid, got[0].timestamp, &got[0].payload),
        (6, 50, &b)
    );
    assert_eq!(
        (got[1].csid, got[1].timestamp, &got[1].payload),
        (4, 100, &a)
    );
}

#[test]
fn set_chunk_size_mid_stream_applies_to_a_message_already_in_progress() {
    let a = payload(300, 1);
    let mut wire = chunk(0, 4, &fmt0(0, 300, 9, 1), &a[..128]);
    set_chunk_size(1000, &mut wire);
    // The rest of the message now comes in one chunk.
    wire.extend(chunk(3, 4, &[], &a[128..]));
    write_message(4, 40, 9, 1, &payload(5000, 3), 1000, &mut wire);
    let mut reader = ChunkReader::new();
    let got = read_all(&mut reader, &wire);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].type_id, TYPE_SET_CHUNK_SIZE);
    assert_eq!(got[1].payload, a);
    assert_eq!(got[2].payload, payload(5000, 3));
    assert_eq!(reader.chunk_size(), 1000);
}

#[test]
fn set_chunk_size_ignores_the_reserved_top_bit() {
    let mut wire = Vec::new();
    set_chunk_size(0x8000_1000, &mut wire);
    let mut reader = ChunkReader::new();
    read_all(&mut reader, &wire);
    assert_eq!(reader.chunk_size(), 0x1000);
}

#[test]
fn abort_discards_the_partial_message_of_that_chunk_stream() {
    let mut wire = chunk(0, 4, &fmt0(0, 300, 9, 1), &[1; 128]);
    write_message(2, 0, TYPE_ABORT, 0, &4u32.to_be_bytes(), 128, &mut wire);
    // After the abort a fmt 3 chunk starts a fresh 300-byte message.
    let fresh = payload(300, 7);
    wire.extend(chunk(3, 4, &[], &fresh[..128]));
    wire.extend(chunk(3, 4, &[], &fresh[128..256]));
    wire.extend(chunk(3, 4, &[], &fresh[256..]));
    let got = read_all(&mut ChunkReader::new(), &wire);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].type_id, TYPE_ABORT);
    assert_eq!(got[1].payload, fresh);
}

#[test]
fn a_repeated_full_header_with_the_same_length_continues_the_message() {
    let a = payload(200, 1);
    let mut wire = chunk(0, 4, &fmt0(7, 200, 9, 1), &a[..128]);
    wire.extend(chunk(0, 4, &fmt0(7, 200, 9, 1), &a[128..]));
    let got = read_all(&mut ChunkReader::new(), &wire);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, a);
}

#[test]
fn a_new_header_with_another_length_abandons_the_partial_message() {
    let mut wire = chunk(0, 4, &fmt0(7, 200, 9, 1), &[0; 128]);
    wire.extend(chunk(1, 4, &fmt1(3, 2, 8), b"ok"));
    let got = read_all(&mut ChunkReader::new(), &wire);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].timestamp, &got[0].payload[..]), (10, &b"ok"[..]));
}

#[test]
fn chunk_size_zero_is_rejected() {
    let mut wire = Vec::new();
    set_chunk_size(0, &mut wire);
    let mut reader = ChunkReader::new();
    reader.feed(&wire);
    assert_eq!(reader.next_message(), Err(ChunkError::BadChunkSize(0)));
    // The reader stays failed.
    assert_eq!(reader.next_message(), Err(ChunkError::BadChunkSize(0)));
}

#[test]
fn short_set_chunk_size_is_rejected() {
    let mut wire = Vec::new();
    write_message(2, 0, TYPE_SET_CHUNK_SIZE, 0, &[0, 1], 128, &mut wire);
    let mut reader = ChunkReader::new();
    reader.feed(&wire);
    assert_eq!(
        reader.next_message(),
        Err(ChunkError::ShortControlMessage {
            type_id: TYPE_SET_CHUNK_SIZE,
            len: 2
        })
    );
}

#[test]
fn a_16_mib_message_is_rejected_before_any_payload_arrives() {
    let wire = chunk(0, 4, &fmt0(0, 0xFF_FFFF, 9, 1), &[]);
    let mut reader = ChunkReader::new();
    reader.feed(&wire);
    assert_eq!(
        reader.next_message(),
        Err(ChunkError::MessageTooLong {
            csid: 4,
            len: 0xFF_FFFF,
            max: 8 * 1024 * 1024
        })
    );
}

#[test]
fn thousands_of_chunk_stream_ids_are_rejected() {
    let mut wire = Vec::new();
    for csid in 3..5003 {
        write_message(csid, 0, 8, 1, &[], 128, &mut wire);
    }
    let mut reader = ChunkReader::new();
    reader.feed(&wire);
    let mut ok = 0;
    let err = loop {
        match reader.next_message() {
            Ok(Some(_)) => ok += 1,
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert_eq!(ok, 64);
    assert_eq!(err, ChunkError::TooManyChunkStreams(64));
}

#[test]
fn fmt3_on_an_unseen_chunk_stream_is_rejected() {
    let mut reader = ChunkReader::new();
    reader.feed(&[0xC7, 0, 0]);
    assert_eq!(
        reader.next_message(),
        Err(ChunkError::MissingHeader { csid: 7, fmt: 3 })
    );
}

#[test]
fn fmt1_on_an_unseen_chunk_stream_is_rejected() {
    let mut reader = ChunkReader::new();
    reader.feed(&chunk(1, 300, &fmt1(0, 1, 8), b"x"));
    assert_eq!(
        reader.next_message(),
        Err(ChunkError::MissingHeader { csid: 300, fmt: 1 })
    );
}

#[test]
fn message_buffers_grow_with_received_bytes_not_the_declared_length() {
    let mut reader = ChunkReader::new();
    reader.feed(&chunk(0, 4, &fmt0(0, 8 * 1024 * 1024, 9, 1), &[0; 10]));
    assert_eq!(reader.next_message(), Ok(None));
    assert!(reader.streams[0].data.capacity() <= INITIAL_RESERVE);
}

#[test]
fn a_finished_message_has_no_slack_capacity() {
    let mut wire = Vec::new();
    set_chunk_size(1000, &mut wire);
    write_message(4, 0, 9, 1, &payload(100_000, 1), 1000, &mut wire);
    let mut reader = ChunkReader::new();
    let mut got = Vec::new();
    for piece in wire.chunks(777) {
        got.extend(read_all(&mut reader, piece));
    }
    assert_eq!(got[1].payload.len(), 100_000);
    assert_eq!(got[1].payload.capacity(), 100_000);
}

#[test]
fn released_input_keeps_unparsed_bytes_and_frees_the_rest() {
    let mut reader = ChunkReader::new();
    let mut msg = chunk(0, 3, &fmt0(0, 4, 20, 0), b"abcd");
    let tail = msg.split_off(5);
    reader
        .fill_from(16 * 1024, |room: &mut [u8]| {
            room[..msg.len()].copy_from_slice(&msg);
            Ok::<_, ()>(msg.len())
        })
        .unwrap();
    reader.release_input();
    assert!(reader.buf.capacity() < 1024, "{}", reader.buf.capacity());
    reader.feed(&tail);
    let got = reader
        .next_message()
        .unwrap()
        .expect("the message survives the release");
    assert_eq!(got.payload, b"abcd");
}

#[test]
fn unfinished_messages_on_many_chunk_streams_are_bounded_in_total() {
    let mut wire = Vec::new();
    set_chunk_size(6 << 20, &mut wire);
    let six_mib = vec![7u8; 6 << 20];
    for csid in [4, 5, 6] {
        wire.extend(chunk(0, csid, &fmt0(0, 8 << 20, 9, 1), &six_mib));
    }
    let mut reader = ChunkReader::new();
    reader.feed(&wire);
    assert_eq!(reader.next_message().unwrap().unwrap().type_id, 1);
    // Two streams hold 12 MiB; the third chunk would take the total past 16 MiB.
    assert_eq!(
        reader.next_message(),
        Err(ChunkError::TooMuchPartial { max: 16 << 20 })
    );
}

#[test]
fn a_chunk_that_finishes_its_message_does_not_count_as_held() {
    let mut wire = Vec::new();
    set_chunk_size(8 << 20, &mut wire);
    let body = vec![1u8; 8 << 20];
    for csid in 4..10 {
        wire.extend(chunk(0, csid, &fmt0(0, 8 << 20, 9, 1), &body));
    }
    let mut reader = ChunkReader::new();
    assert_eq!(read_all(&mut reader, &wire).len(), 7);
}

#[test]
fn the_writer_refuses_what_the_wire_cannot_carry_instead_of_panicking() {
    let mut out = Vec::new();
    assert!(!write_message(
        4,
        0,
        9,
        1,
        &vec![0u8; 0x100_0000],
        4096,
        &mut out
    ));
    assert!(!write_message(1, 0, 9, 1, &[1], 4096, &mut out));
    assert!(!write_message(4, 0, 9, 1, &[1], 0, &mut out));
    assert!(out.is_empty());
    assert!(write_message(
        4,
        0,
        9,
        1,
        &vec![0u8; 0xFF_FFFF],
        4096,
        &mut out
    ));
}
