//! [`ChunkReader`]: reassembles messages from received bytes.

use super::header::{parse_header, ChunkStream, Header, HeaderEffect, HeaderState};
use super::{be32, ChunkError, ChunkLimits, RawMessage, DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE};
use crate::rtmp::type_id::{ABORT, SET_CHUNK_SIZE};

/// A message's buffer starts at most this big and then grows with the bytes actually received, so a
/// peer that declares 8 MiB and sends 10 bytes costs us 64 KiB, not 8 MiB.
pub(super) const INITIAL_RESERVE: usize = 64 * 1024;
/// Input buffer capacity kept after compaction; more is released.
const KEEP_INPUT_CAPACITY: usize = 256 * 1024;

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
    /// Input: `buf[pos..end]` is unparsed; `buf[end..]` is zeroed room a read may fill in place.
    pub(super) buf: Vec<u8>,
    /// Start of the unparsed bytes in `buf`.
    pub(super) pos: usize,
    /// End of the bytes received.
    pub(super) end: usize,
    /// Each chunk stream with the payload of its message in progress.
    pub(super) streams: Vec<ChunkStream<Vec<u8>>>,
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
            end: 0,
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
        let room = self.room_for(data.len());
        room[..data.len()].copy_from_slice(data);
        self.end += data.len();
    }

    /// Let `read` put up to `max` bytes straight into the reader's input (no copy through a
    /// buffer of the caller's); returns what `read` returned.
    pub fn fill_from<E>(
        &mut self,
        max: usize,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let room = self.room_for(max);
        let n = read(&mut room[..max])?;
        self.end += n.min(max);
        Ok(n)
    }

    /// Give back the input buffer's memory beyond what unparsed bytes need (a connection that
    /// will only receive small messages from now on, such as a player).
    pub fn release_input(&mut self) {
        self.buf.drain(..self.pos);
        self.end -= self.pos;
        self.pos = 0;
        self.buf.truncate(self.end);
        self.buf.shrink_to_fit();
        self.streams.shrink_to_fit();
    }

    /// At least `len` bytes of room after the received bytes. Compacts first: moving the
    /// unparsed tail only when it is no longer than what was parsed keeps the cost amortised O(1)
    /// per byte.
    fn room_for(&mut self, len: usize) -> &mut [u8] {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.pos >= self.end - self.pos {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() > KEEP_INPUT_CAPACITY && self.end + len <= KEEP_INPUT_CAPACITY {
            self.buf.truncate(KEEP_INPUT_CAPACITY);
            self.buf.shrink_to_fit();
        }
        if self.buf.len() < self.end + len {
            self.buf.resize(self.end + len, 0);
        }
        &mut self.buf[self.end..]
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
                let n = remaining.min(self.end - self.pos);
                let stream = &mut self.streams[index];
                if n > 0 {
                    let length = stream.length;
                    append(&mut stream.data, &self.buf[self.pos..self.pos + n], length);
                    self.pos += n;
                }
                if n < remaining {
                    self.current = Some((index, remaining - n));
                    return Ok(None);
                }
                self.current = None;
                if stream.data.len() == stream.length {
                    stream.in_progress = false;
                    let msg = RawMessage {
                        csid: stream.csid,
                        timestamp: stream.timestamp,
                        type_id: stream.type_id,
                        stream_id: stream.stream_id,
                        payload: std::mem::take(&mut stream.data),
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
        parse_header(&self.buf[self.pos..self.end], &self.streams)
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
                    data: Vec::new(),
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
                    stream.data.len(),
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
            stream.data = Vec::with_capacity(stream.length.min(INITIAL_RESERVE));
        }
        let left = stream.length.saturating_sub(stream.data.len());
        let chunk_len = left.min(self.chunk_size as usize);
        // The bytes this chunk adds, unless they finish a message at once.
        if chunk_len < left {
            let held: usize = self.streams.iter().map(|s| s.data.len()).sum();
            if held + chunk_len > self.limits.max_partial_bytes {
                return Err(ChunkError::TooMuchPartial {
                    max: self.limits.max_partial_bytes,
                });
            }
        }
        self.current = Some((index, chunk_len));
        Ok(())
    }

    fn apply_control(&mut self, msg: &RawMessage) -> Result<(), ChunkError> {
        if msg.type_id != SET_CHUNK_SIZE && msg.type_id != ABORT {
            return Ok(());
        }
        let Some(body) = msg.payload.get(..4) else {
            return Err(ChunkError::ShortControlMessage {
                type_id: msg.type_id,
                len: msg.payload.len(),
            });
        };
        let value = be32(body);
        if msg.type_id == SET_CHUNK_SIZE {
            // The top bit is reserved; some senders set it.
            let size = value & MAX_CHUNK_SIZE;
            if size == 0 {
                return Err(ChunkError::BadChunkSize(value));
            }
            self.chunk_size = size;
        } else if let Some(stream) = self.streams.iter_mut().find(|s| s.csid == value) {
            if stream.in_progress {
                stream.in_progress = false;
                stream.data = Vec::new();
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
