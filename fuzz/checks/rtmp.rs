//! RTMP wire layers: the handshake, the chunk reader and message decoding.

use joy4::rtmp::chunk::{
    write_message, ChunkError, ChunkLimits, ChunkReader, RawMessage, DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
};
use joy4::rtmp::handshake::{
    ClientHandshake, HandshakeError, HandshakeOutcome, ServerHandshake, HANDSHAKE_PACKET_LEN,
};
use joy4::rtmp::message::{type_id, Message};

use super::split::pieces;

const C0C1: usize = 1 + HANDSHAKE_PACKET_LEN;

/// What a handshake made of a whole input: the response bytes, the bytes left after it (if it
/// completed), or its error.
#[derive(Debug, PartialEq)]
struct HandshakeRun {
    response: Vec<u8>,
    remaining: Option<Vec<u8>>,
    error: Option<HandshakeError>,
}

fn run_handshake<'a>(
    feeds: impl IntoIterator<Item = &'a [u8]>,
    mut process: impl FnMut(&[u8]) -> Result<HandshakeOutcome, HandshakeError>,
) -> HandshakeRun {
    let mut run = HandshakeRun {
        response: Vec::new(),
        remaining: None,
        error: None,
    };
    for feed in feeds {
        match process(feed) {
            Ok(HandshakeOutcome::InProgress { response }) => run.response.extend(response),
            Ok(HandshakeOutcome::Completed {
                response,
                remaining,
            }) => {
                run.response.extend(response);
                // Later feeds are the chunk reader's, as the connection hands them over.
                run.remaining = Some(remaining);
                // A handshake that completed refuses more input.
                assert_eq!(process(b"x"), Err(HandshakeError::AlreadyCompleted));
                return run;
            }
            Err(e) => {
                run.error = Some(e);
                return run;
            }
        }
    }
    run
}

/// Server and client handshakes on the input, whole and split: the same outcome whatever the
/// split; S0 is 3, S1 carries zeros in bytes 4..8, S2 echoes C1, the client's C2 echoes S1, and
/// the bytes after the handshake are handed on untouched.
pub fn handshake(data: &[u8]) {
    // Server side: the input is C0 C1 C2 and then chunks.
    let mut server = ServerHandshake::new();
    let whole = run_handshake([data], |b| server.process(b));
    let mut server = ServerHandshake::new();
    let split = run_handshake(pieces(data), |b| server.process(b));
    let first_version_ok = matches!(data.first(), None | Some(3) | Some(6));
    assert_eq!(whole.error.is_some(), !first_version_ok, "{whole:?}");
    assert_eq!(split.error, whole.error);
    if data.len() >= C0C1 + HANDSHAKE_PACKET_LEN && first_version_ok {
        assert_eq!(
            whole.remaining.as_deref(),
            Some(&data[C0C1 + HANDSHAKE_PACKET_LEN..])
        );
        // Split feeds stop at the completing piece: its tail is the start of the rest.
        let split_rest = split.remaining.as_ref().expect("split handshake completes");
        assert!(data[C0C1 + HANDSHAKE_PACKET_LEN..].starts_with(split_rest));
    } else {
        assert_eq!(whole.remaining, None);
    }
    for run in [&whole, &split] {
        if run.error.is_some() || data.len() < C0C1 {
            assert!(run.response.is_empty(), "a response before C1 is complete");
            continue;
        }
        assert_eq!(run.response.len(), 1 + 2 * HANDSHAKE_PACKET_LEN);
        assert_eq!(run.response[0], 3, "S0");
        assert_eq!(&run.response[5..9], &[0; 4], "S1 bytes 4..8");
        assert_eq!(&run.response[C0C1..], &data[1..C0C1], "S2 echoes C1");
    }

    // Client side: the input is S0 S1 S2 and then chunks.
    let (mut client, c0c1) = ClientHandshake::new();
    assert_eq!((c0c1.len(), c0c1[0]), (C0C1, 3));
    let run = run_handshake(pieces(data), |b| client.process(b));
    let full = 1 + 2 * HANDSHAKE_PACKET_LEN;
    match data.first() {
        Some(&v) if v != 3 => assert_eq!(run.error, Some(HandshakeError::BadVersion(v))),
        _ if data.len() >= full => assert_eq!(&run.response[..], &data[1..C0C1], "C2 echoes S1"),
        _ => assert_eq!(
            run,
            HandshakeRun {
                response: vec![],
                remaining: None,
                error: None
            }
        ),
    }
}

/// Messages a reader yields from `feeds` (draining after each), and the error it stopped on.
pub fn read_messages<'a>(
    feeds: impl IntoIterator<Item = &'a [u8]>,
    limits: ChunkLimits,
) -> (Vec<RawMessage>, Option<ChunkError>) {
    let mut reader = ChunkReader::with_limits(limits);
    let mut messages = Vec::new();
    for feed in feeds {
        reader.feed(feed);
        loop {
            match reader.next_message() {
                Ok(Some(msg)) => {
                    check_message_bounds(&msg, &limits);
                    if msg.type_id == type_id::SET_CHUNK_SIZE {
                        let size = u32::from_be_bytes(msg.payload[..4].try_into().unwrap());
                        assert_eq!(reader.chunk_size(), size & MAX_CHUNK_SIZE);
                    }
                    messages.push(msg);
                }
                Ok(None) => break,
                Err(e) => {
                    // A failed reader stays failed.
                    assert_eq!(reader.next_message(), Err(e.clone()));
                    return (messages, Some(e));
                }
            }
        }
    }
    (messages, None)
}

/// A message within the reader's limits, and holding no more memory than its length.
fn check_message_bounds(msg: &RawMessage, limits: &ChunkLimits) {
    assert!(msg.payload.len() <= limits.max_message_len);
    assert!(
        msg.payload.capacity() <= msg.payload.len().max(1),
        "message of {} bytes holds {} bytes",
        msg.payload.len(),
        msg.payload.capacity()
    );
    assert!((2..=65599).contains(&msg.csid));
}

/// Chunk streams: the same messages and the same error whatever the split, within the limits
/// (default and tight ones); and the messages, written again by `write_message`, read back equal.
pub fn chunk_reader(data: &[u8]) {
    let tight = ChunkLimits {
        max_message_len: 300,
        max_chunk_streams: 3,
        max_partial_bytes: 600,
    };
    for limits in [ChunkLimits::default(), tight] {
        let whole = read_messages([data], limits);
        let split = read_messages(pieces(data), limits);
        assert_eq!(whole, split, "the split changed what the reader yields");
        if let Some(ChunkError::TooManyChunkStreams(n)) = &whole.1 {
            assert_eq!(*n, limits.max_chunk_streams);
        }
        rewrite_reads_back(&whole.0, limits);
    }
}

/// Write each message whole (at the chunk size in force, which Set Chunk Size changes) and read
/// the result: the same messages come back.
fn rewrite_reads_back(messages: &[RawMessage], limits: ChunkLimits) {
    let mut out = Vec::new();
    let mut chunk_size = DEFAULT_CHUNK_SIZE;
    for m in messages {
        write_message(
            m.csid,
            m.timestamp,
            m.type_id,
            m.stream_id,
            &m.payload,
            chunk_size,
            &mut out,
        );
        if m.type_id == type_id::SET_CHUNK_SIZE {
            let size = u32::from_be_bytes(m.payload[..4].try_into().unwrap()) & MAX_CHUNK_SIZE;
            chunk_size = size;
        }
    }
    let (again, error) = read_messages([&out[..]], limits);
    assert_eq!(error, None, "rewritten chunks do not read back");
    assert_eq!(again.len(), messages.len());
    for (a, m) in again.iter().zip(messages) {
        assert_eq!(
            (a.csid, a.timestamp, a.type_id, a.stream_id, &a.payload),
            (m.csid, m.timestamp, m.type_id, m.stream_id, &m.payload)
        );
    }
}

/// Message decoding: the first byte is the type id, the rest the payload. A message that decodes
/// encodes to bytes that decode to a message encoding to the same bytes.
pub fn message_decode(data: &[u8]) {
    let Some((&type_id, payload)) = data.split_first() else {
        return;
    };
    let Ok(msg) = Message::decode(type_id, payload.to_vec()) else {
        return;
    };
    let (t1, p1) = msg.encode();
    let again = Message::decode(t1, p1.clone())
        .unwrap_or_else(|e| panic!("{msg:?} encodes to bytes that do not decode: {e}"));
    let (t2, p2) = again.encode();
    assert_eq!(
        (t1, &p1),
        (t2, &p2),
        "{msg:?} does not survive a round trip"
    );
}
