//! The RTMP chunk stream, sans-IO: [`ChunkReader`] reassembles messages from received bytes,
//! [`write_message`] splits one message into chunks.
//!
//! A chunk is a basic header, a message header whose size depends on the basic header's `fmt`, an
//! optional extended timestamp, and up to `chunk_size` bytes of one message's payload:
//!
//! ```text
//! +--------------+----------------+--------------------+--------------+
//! | Basic header | Message header | Extended timestamp |  Chunk data  |
//! |  1..3 bytes  | 11/7/3/0 bytes |   0 or 4 bytes     |  <= size     |
//! +--------------+----------------+--------------------+--------------+
//! ```
//!
//! Basic header (csid 2..=63 / 64..=319 / 64..=65599):
//!
//! ```text
//!  0 1 2 3 4 5 6 7     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5     0                   1                   2
//! +-+-+-+-+-+-+-+-+   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |fmt|   csid    |   |fmt|     0     |   csid - 64   |   |fmt|     1     |  (csid - 64), little-endian   |
//! +-+-+-+-+-+-+-+-+   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Message header, fmt 0 (fmt 1 stops after the type id and carries a delta, fmt 2 has only the
//! delta, fmt 3 has nothing):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          timestamp (BE 24; 0xFFFFFF = extended)       | length
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!     message length (BE 24)    |    type id    | stream id (LE!)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!          message stream id (little-endian 32)  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Timestamp semantics (as the spec, ffmpeg's rtmppkt.c, librtmp and SRS agree):
//! - fmt 0 carries the absolute timestamp; it also becomes the "delta" a following fmt 3 reuses
//!   (so fmt 0 at t=1000 followed by a fmt 3 that starts a new message gives t=2000).
//! - fmt 1/2 carry a delta added (wrapping at 2^32) to the previous message's timestamp on that csid.
//! - fmt 3 starting a new message adds the previous delta again; if the previous header had an
//!   extended timestamp, 4 bytes follow and are the new delta (ffmpeg's writer relies on this).
//! - fmt 3 continuing a message changes nothing; if the message's header was extended the 4 bytes
//!   are repeated (ffmpeg, librtmp, FMS). Like SRS we also accept a sender that does not repeat
//!   them: the 4 bytes are consumed only when they equal the header's extended field.

use std::fmt;

/// Chunk size of both directions until a Set Chunk Size message says otherwise.
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Largest chunk size the protocol allows (31 bits).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// Largest chunk stream id the three-byte basic header can carry.
pub const MAX_CSID: u32 = 65599;

const TYPE_SET_CHUNK_SIZE: u8 = 1;
const TYPE_ABORT: u8 = 2;
/// Timestamp field value meaning "4-byte extended timestamp follows".
const EXTENDED: u32 = 0xFF_FFFF;
/// Largest 24-bit message length.
const MAX_WIRE_LEN: usize = 0xFF_FFFF;
/// A message's buffer starts at most this big and then grows with the bytes actually received, so a
/// peer that declares 8 MiB and sends 10 bytes costs us 64 KiB, not 8 MiB.
const INITIAL_RESERVE: usize = 64 * 1024;
/// Input buffer capacity kept after compaction; more is released.
const KEEP_INPUT_CAPACITY: usize = 256 * 1024;

/// One reassembled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    pub csid: u32,
    pub timestamp: u32,
    pub type_id: u8,
    pub stream_id: u32,
    pub payload: Vec<u8>,
}

/// Bounds on what a peer can make the reader hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Largest message accepted; the length is checked before anything is allocated.
    pub max_message_len: usize,
    /// Largest number of distinct chunk stream ids remembered.
    pub max_chunk_streams: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            max_message_len: 8 * 1024 * 1024,
            max_chunk_streams: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// A Set Chunk Size message carried this value (0 after masking the top bit).
    BadChunkSize(u32),
    /// A message header declared `len` bytes, more than `max`.
    MessageTooLong { csid: u32, len: usize, max: usize },
    /// A new chunk stream id appeared while this many were already tracked.
    TooManyChunkStreams(usize),
    /// A fmt 1/2/3 chunk on a chunk stream that never had a fmt 0 header.
    MissingHeader { csid: u32, fmt: u8 },
    /// A Set Chunk Size or Abort message shorter than its 4-byte body.
    ShortControlMessage { type_id: u8, len: usize },
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::BadChunkSize(v) => write!(f, "invalid chunk size {v:#x}"),
            ChunkError::MessageTooLong { csid, len, max } => write!(
                f,
                "message of {len} bytes on chunk stream {csid} exceeds the limit of {max}"
            ),
            ChunkError::TooManyChunkStreams(max) => {
                write!(f, "more than {max} chunk streams in use")
            }
            ChunkError::MissingHeader { csid, fmt } => write!(
                f,
                "fmt {fmt} chunk on chunk stream {csid}, which has no previous header"
            ),
            ChunkError::ShortControlMessage { type_id, len } => write!(
                f,
                "protocol control message type {type_id} has {len} bytes, needs 4"
            ),
        }
    }
}

impl std::error::Error for ChunkError {}

/// What the reader remembers per chunk stream id.
#[derive(Debug)]
struct ChunkStream {
    header: HeaderState,
    payload: Vec<u8>,
}

impl std::ops::Deref for ChunkStream {
    type Target = HeaderState;
    fn deref(&self) -> &HeaderState {
        &self.header
    }
}

impl std::ops::DerefMut for ChunkStream {
    fn deref_mut(&mut self) -> &mut HeaderState {
        &mut self.header
    }
}

impl AsRef<HeaderState> for ChunkStream {
    fn as_ref(&self) -> &HeaderState {
        &self.header
    }
}

/// A fully received chunk header, not yet applied to the chunk stream state.
/// A parsed chunk header, shared with other readers of the chunk format (the bench's skimmer).
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub fmt: u8,
    pub csid: u32,
    /// Index of the chunk stream in the caller's table, if the csid is known.
    pub index: Option<usize>,
    /// Bytes the header occupies (basic + message header + extended timestamp).
    pub len: usize,
    /// Timestamp or delta: the 24-bit field, or the extended value when present.
    pub time: u32,
    pub extended: bool,
    pub msg_len: usize,
    pub type_id: u8,
    pub stream_id: u32,
}

/// What a chunk stream's earlier headers leave behind: the base for the next header on it.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderState {
    pub csid: u32,
    /// Timestamp of the last message started on this chunk stream.
    pub timestamp: u32,
    /// Delta a fmt 3 chunk starting a new message adds (see the module comment).
    pub delta: u32,
    pub length: usize,
    pub type_id: u8,
    pub stream_id: u32,
    /// The last message header had the 0xFFFFFF marker, so fmt 3 chunks carry 4 more bytes.
    pub extended: bool,
    /// Value of those 4 bytes for the current message, to recognise their repetition.
    pub ext_field: u32,
    /// A message has started and not all of its `length` bytes have arrived.
    pub in_progress: bool,
}

/// What a header did to its chunk stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderEffect {
    /// The chunk continues the message in progress.
    Continues,
    /// A new message starts; `abandoned` when a partial one was given up for it.
    Starts { abandoned: bool },
}

impl HeaderState {
    pub fn new(csid: u32) -> HeaderState {
        HeaderState {
            csid,
            ..HeaderState::default()
        }
    }

    /// Apply a parsed header. A fmt 0/1/2 header in the middle of a message continues it if it
    /// declares the same length (some senders repeat headers, as ffmpeg accepts); otherwise the
    /// partial message is abandoned and a new one starts (ffmpeg fails the connection there).
    pub fn apply(&mut self, h: &Header) -> HeaderEffect {
        let continues = self.in_progress
            && match h.fmt {
                0 | 1 => h.msg_len == self.length,
                _ => true,
            };
        if continues {
            return HeaderEffect::Continues;
        }
        match h.fmt {
            0 => {
                self.timestamp = h.time;
                self.delta = h.time;
                self.length = h.msg_len;
                self.type_id = h.type_id;
                self.stream_id = h.stream_id;
            }
            1 | 2 => {
                self.delta = h.time;
                self.timestamp = self.timestamp.wrapping_add(h.time);
                if h.fmt == 1 {
                    self.length = h.msg_len;
                    self.type_id = h.type_id;
                }
            }
            _ => {
                if h.extended {
                    self.delta = h.time;
                }
                self.timestamp = self.timestamp.wrapping_add(self.delta);
            }
        }
        self.extended = h.extended;
        self.ext_field = h.time;
        let abandoned = self.in_progress;
        self.in_progress = true;
        HeaderEffect::Starts { abandoned }
    }
}

/// Reassembles messages from a received byte stream.
///
/// Feed bytes with [`feed`](Self::feed), then call [`next_message`](Self::next_message) until it
/// returns `Ok(None)`. Payload bytes are copied into their message as soon as they arrive, so after
/// draining, the internal buffer holds at most one incomplete chunk header (< 19 bytes).
/// After an error the reader is unusable and keeps returning that error.
#[derive(Debug)]
pub struct ChunkReader {
    limits: ChunkLimits,
    chunk_size: u32,
    buf: Vec<u8>,
    /// Start of the unparsed bytes in `buf`.
    pos: usize,
    streams: Vec<ChunkStream>,
    /// The chunk whose payload is being read: stream index and payload bytes still to come.
    current: Option<(usize, usize)>,
    failed: Option<ChunkError>,
}

impl Default for ChunkReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkReader {
    pub fn new() -> Self {
        Self::with_limits(ChunkLimits::default())
    }

    pub fn with_limits(limits: ChunkLimits) -> Self {
        ChunkReader {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            buf: Vec::new(),
            pos: 0,
            streams: Vec::new(),
            current: None,
            failed: None,
        }
    }

    /// The peer's current chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    pub fn feed(&mut self, data: &[u8]) {
        // Compact before appending. Moving the unparsed tail only when it is no longer than what was
        // parsed keeps the cost amortised O(1) per byte.
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= self.buf.len() - self.pos {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() > KEEP_INPUT_CAPACITY
            && self.buf.len() + data.len() <= KEEP_INPUT_CAPACITY
        {
            self.buf.shrink_to(KEEP_INPUT_CAPACITY);
        }
        self.buf.extend_from_slice(data);
    }

    /// Next complete message, `Ok(None)` when more bytes are needed.
    ///
    /// Set Chunk Size and Abort messages take effect inside the reader as soon as they are complete,
    /// before any later chunk is parsed; they are returned as well.
    pub fn next_message(&mut self) -> Result<Option<RawMessage>, ChunkError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.advance();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    fn advance(&mut self) -> Result<Option<RawMessage>, ChunkError> {
        loop {
            if let Some((index, remaining)) = self.current {
                let n = remaining.min(self.buf.len() - self.pos);
                let stream = &mut self.streams[index];
                if n > 0 {
                    let length = stream.length;
                    append(
                        &mut stream.payload,
                        &self.buf[self.pos..self.pos + n],
                        length,
                    );
                    self.pos += n;
                }
                if n < remaining {
                    self.current = Some((index, remaining - n));
                    return Ok(None);
                }
                self.current = None;
                if stream.payload.len() == stream.length {
                    stream.in_progress = false;
                    let msg = RawMessage {
                        csid: stream.csid,
                        timestamp: stream.timestamp,
                        type_id: stream.type_id,
                        stream_id: stream.stream_id,
                        payload: std::mem::take(&mut stream.payload),
                    };
                    self.apply_control(&msg)?;
                    return Ok(Some(msg));
                }
                continue;
            }
            match self.parse_header()? {
                Some(header) => self.apply_header(header)?,
                None => return Ok(None),
            }
        }
    }

    /// Parse the chunk header at `pos` without changing any state; `None` if incomplete.
    fn parse_header(&self) -> Result<Option<Header>, ChunkError> {
        parse_header(&self.buf[self.pos..], &self.streams)
    }

    /// Consume a parsed header: update the chunk stream and set up reading the chunk's payload.
    fn apply_header(&mut self, h: Header) -> Result<(), ChunkError> {
        self.pos += h.len;
        let index = match h.index {
            Some(index) => index,
            None => {
                // parse_header only lets fmt 0 through for an unknown csid.
                if self.streams.len() >= self.limits.max_chunk_streams {
                    return Err(ChunkError::TooManyChunkStreams(
                        self.limits.max_chunk_streams,
                    ));
                }
                self.streams.push(ChunkStream {
                    header: HeaderState::new(h.csid),
                    payload: Vec::new(),
                });
                self.streams.len() - 1
            }
        };
        let max_message_len = self.limits.max_message_len;
        let stream = &mut self.streams[index];

        if let HeaderEffect::Starts { abandoned } = stream.header.apply(&h) {
            if abandoned {
                log::debug!(
                    "chunk stream {}: new header abandons a partial message ({} of {} bytes)",
                    h.csid,
                    stream.payload.len(),
                    stream.length
                );
            }
            if stream.length > max_message_len {
                return Err(ChunkError::MessageTooLong {
                    csid: h.csid,
                    len: stream.length,
                    max: max_message_len,
                });
            }
            stream.payload = Vec::with_capacity(stream.length.min(INITIAL_RESERVE));
        }
        let left = stream.length - stream.payload.len();
        self.current = Some((index, left.min(self.chunk_size as usize)));
        Ok(())
    }

    fn apply_control(&mut self, msg: &RawMessage) -> Result<(), ChunkError> {
        if msg.type_id != TYPE_SET_CHUNK_SIZE && msg.type_id != TYPE_ABORT {
            return Ok(());
        }
        let Some(body) = msg.payload.get(..4) else {
            return Err(ChunkError::ShortControlMessage {
                type_id: msg.type_id,
                len: msg.payload.len(),
            });
        };
        let value = be32(body);
        if msg.type_id == TYPE_SET_CHUNK_SIZE {
            // The top bit is reserved; some senders set it.
            let size = value & MAX_CHUNK_SIZE;
            if size == 0 {
                return Err(ChunkError::BadChunkSize(value));
            }
            self.chunk_size = size;
        } else if let Some(stream) = self.streams.iter_mut().find(|s| s.csid == value) {
            if stream.in_progress {
                stream.in_progress = false;
                stream.payload = Vec::new();
            }
        }
        Ok(())
    }
}

/// Append to a message buffer, growing geometrically but never past the declared length: memory
/// follows the bytes actually received, and a finished message carries no slack capacity.
fn append(payload: &mut Vec<u8>, bytes: &[u8], declared: usize) {
    let needed = payload.len() + bytes.len();
    if needed > payload.capacity() {
        let target = needed.max(payload.capacity() * 2).min(declared);
        payload.reserve_exact(target - payload.len());
    }
    payload.extend_from_slice(bytes);
}

/// Parse the chunk header at the start of `input`; `None` if incomplete. `streams` are the chunk
/// streams seen so far (the header's `index` points into it). A fmt 1/2/3 header on an unknown
/// chunk stream is `MissingHeader`.
///
/// ```text
/// basic header   fmt(2) csid(6) [csid-64 (1 byte) | csid-64 (2 bytes LE)]
/// fmt 0 (11)     timestamp(3) length(3) type(1) stream id(4, LE)
/// fmt 1 (7)      delta(3) length(3) type(1)
/// fmt 2 (3)      delta(3)
/// fmt 3 (0)      -- (a repeated extended timestamp may follow when the stream's was extended)
/// then           extended timestamp(4) when the 24-bit field is 0xFFFFFF
/// ```
pub fn parse_header<S: AsRef<HeaderState>>(
    input: &[u8],
    streams: &[S],
) -> Result<Option<Header>, ChunkError> {
    let Some(&first) = input.first() else {
        return Ok(None);
    };
    let fmt = first >> 6;
    let (csid, mut len) = match first & 0x3F {
        0 => match input.get(1) {
            Some(&b) => (64 + u32::from(b), 2),
            None => return Ok(None),
        },
        1 => match input.get(1..3) {
            Some(b) => (64 + u32::from(u16::from_le_bytes([b[0], b[1]])), 3),
            None => return Ok(None),
        },
        id => (u32::from(id), 1),
    };
    let known = streams
        .iter()
        .position(|s| s.as_ref().csid == csid)
        .map(|i| (i, streams[i].as_ref()));
    let mut header = Header {
        fmt,
        csid,
        index: known.map(|(i, _)| i),
        len,
        time: 0,
        extended: false,
        msg_len: 0,
        type_id: 0,
        stream_id: 0,
    };
    if fmt == 3 {
        let Some((_, previous)) = known else {
            return Err(ChunkError::MissingHeader { csid, fmt });
        };
        if previous.extended {
            let Some(ext) = input.get(len..len + 4) else {
                return Ok(None);
            };
            let ext = be32(ext);
            if !previous.in_progress {
                header.time = ext;
                header.len += 4;
            } else if ext == previous.ext_field {
                header.len += 4;
            }
            header.extended = true;
        }
        return Ok(Some(header));
    }
    if fmt != 0 && known.is_none() {
        return Err(ChunkError::MissingHeader { csid, fmt });
    }
    let message_header_len = [11, 7, 3][usize::from(fmt)];
    let Some(mh) = input.get(len..len + message_header_len) else {
        return Ok(None);
    };
    len += message_header_len;
    header.time = be24(&mh[0..3]);
    if fmt <= 1 {
        header.msg_len = be24(&mh[3..6]) as usize;
        header.type_id = mh[6];
    }
    if fmt == 0 {
        header.stream_id = u32::from_le_bytes([mh[7], mh[8], mh[9], mh[10]]);
    }
    if header.time == EXTENDED {
        let Some(ext) = input.get(len..len + 4) else {
            return Ok(None);
        };
        header.time = be32(ext);
        header.extended = true;
        len += 4;
    }
    header.len = len;
    Ok(Some(header))
}

fn be24(b: &[u8]) -> u32 {
    u32::from_be_bytes([0, b[0], b[1], b[2]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn basic_header_len(csid: u32) -> usize {
    match csid {
        0..=63 => 1,
        64..=319 => 2,
        _ => 3,
    }
}

/// Basic header; see the diagram in the module comment.
fn write_basic_header(out: &mut Vec<u8>, fmt: u8, csid: u32) {
    let fmt = fmt << 6;
    match csid {
        0..=63 => out.push(fmt | csid as u8),
        64..=319 => out.extend_from_slice(&[fmt, (csid - 64) as u8]),
        _ => {
            let [lo, hi] = ((csid - 64) as u16).to_le_bytes();
            out.extend_from_slice(&[fmt | 1, lo, hi]);
        }
    }
}

/// Bytes [`write_message`] appends for these arguments.
pub fn encoded_len(csid: u32, timestamp: u32, payload_len: usize, chunk_size: u32) -> usize {
    let basic = basic_header_len(csid);
    let ext = if timestamp >= EXTENDED { 4 } else { 0 };
    let chunks = payload_len.div_ceil(chunk_size.max(1) as usize).max(1);
    basic + 11 + ext + payload_len + (chunks - 1) * (basic + ext)
}

/// Stateless writer: first chunk fmt 0 (absolute timestamp), continuation chunks fmt 3; the extended
/// timestamp (when timestamp >= 0xFFFFFF) is repeated on every continuation chunk. Same input, same
/// bytes, so one serialisation can be shared by every subscriber of a channel.
///
/// ```text
/// fmt 0 chunk:  | basic (fmt 0) | ts | len | type | stream id LE | [ext ts] | payload[..size]     |
/// then:         | basic (fmt 3) | [ext ts] | payload[size..2*size] | ...
/// ```
///
/// # Panics
/// If `csid` is outside 2..=65599, `chunk_size` is 0, or the payload exceeds the 24-bit length
/// field: all are programming errors of the caller, not conditions of the peer.
pub fn write_message(
    csid: u32,
    timestamp: u32,
    type_id: u8,
    stream_id: u32,
    payload: &[u8],
    chunk_size: u32,
    out: &mut Vec<u8>,
) {
    assert!(
        (2..=MAX_CSID).contains(&csid),
        "chunk stream id {csid} out of range"
    );
    assert!(chunk_size > 0, "chunk size 0");
    assert!(
        payload.len() <= MAX_WIRE_LEN,
        "message of {} bytes does not fit the 24-bit length",
        payload.len()
    );
    out.reserve(encoded_len(csid, timestamp, payload.len(), chunk_size));
    let extended = timestamp >= EXTENDED;
    let ext = timestamp.to_be_bytes();

    write_basic_header(out, 0, csid);
    out.extend_from_slice(&timestamp.min(EXTENDED).to_be_bytes()[1..]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&stream_id.to_le_bytes());
    if extended {
        out.extend_from_slice(&ext);
    }
    let mut chunks = payload.chunks(chunk_size as usize);
    if let Some(first) = chunks.next() {
        out.extend_from_slice(first);
    }
    for chunk in chunks {
        write_basic_header(out, 3, csid);
        if extended {
            out.extend_from_slice(&ext);
        }
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert!(
                reader.buf.len() - reader.pos < 19,
                "input buffer stays small"
            );
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
        assert!(reader.streams[0].payload.capacity() <= INITIAL_RESERVE);
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
}
