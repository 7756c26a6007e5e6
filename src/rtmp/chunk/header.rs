//! Chunk headers: parsing one, and what it does to its chunk stream.

use super::{be24, be32, ChunkError, EXTENDED};

/// A fully received chunk header, not yet applied to its chunk stream ([`HeaderState::apply`]).
/// Public API for every reader of the chunk format.
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
    /// Delta a fmt 3 chunk starting a new message adds (see the `chunk` module comment).
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

/// A chunk stream's header state and what a reader keeps beside it (a message's payload, or less).
/// `parse_header` reads the header state of each through `AsRef`.
#[derive(Debug, Default)]
pub struct ChunkStream<T> {
    pub header: HeaderState,
    pub data: T,
}

impl<T> std::ops::Deref for ChunkStream<T> {
    type Target = HeaderState;
    fn deref(&self) -> &HeaderState {
        &self.header
    }
}

impl<T> std::ops::DerefMut for ChunkStream<T> {
    fn deref_mut(&mut self) -> &mut HeaderState {
        &mut self.header
    }
}

impl<T> AsRef<HeaderState> for ChunkStream<T> {
    fn as_ref(&self) -> &HeaderState {
        &self.header
    }
}
