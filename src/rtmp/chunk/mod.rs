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
//!
//! The pieces are public for every reader of the chunk format, not only [`ChunkReader`]: a tool
//! that follows a chunk stream without reassembling it (a traffic skimmer) uses [`parse_header`]
//! and [`HeaderState::apply`], and [`write_message`] / [`encoded_len`] build chunks to send.

use std::fmt;

mod header;
mod reader;
mod writer;

pub use header::{parse_header, ChunkStream, Header, HeaderEffect, HeaderState};
pub use reader::ChunkReader;
pub use writer::{encoded_len, write_message, ChunkHeaders};

/// Chunk size of both directions until a Set Chunk Size message says otherwise.
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Largest chunk size the protocol allows (31 bits).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// Largest chunk stream id the three-byte basic header can carry.
pub const MAX_CSID: u32 = 65599;

/// Timestamp field value meaning "4-byte extended timestamp follows".
const EXTENDED: u32 = 0xFF_FFFF;

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
    /// Largest number of payload bytes held in unfinished messages, all chunk streams together.
    pub max_partial_bytes: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            max_message_len: 8 * 1024 * 1024,
            max_chunk_streams: 64,
            max_partial_bytes: 16 * 1024 * 1024,
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
    /// Unfinished messages would hold more than `max` bytes in all.
    TooMuchPartial { max: usize },
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
            ChunkError::TooMuchPartial { max } => {
                write!(f, "unfinished messages would hold more than {max} bytes")
            }
        }
    }
}

impl std::error::Error for ChunkError {}

/// Big-endian 24-bit integer.
fn be24(b: &[u8]) -> u32 {
    u32::from_be_bytes([0, b[0], b[1], b[2]])
}

/// Big-endian 32-bit integer.
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests;
