//! [`write_message`]: one message split into chunks; [`ChunkHeaders`]: the same chunks' headers
//! alone, for writing a payload in place with vectored writes.

use super::{EXTENDED, MAX_CSID};

/// Largest 24-bit message length.
const MAX_WIRE_LEN: usize = 0xFF_FFFF;

fn basic_header_len(csid: u32) -> usize {
    match csid {
        0..=63 => 1,
        64..=319 => 2,
        _ => 3,
    }
}

/// Basic header; see the diagram in the module comment.
pub(super) fn write_basic_header(out: &mut Vec<u8>, fmt: u8, csid: u32) {
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
/// Writes nothing and returns `false` if `csid` is outside 2..=65599, `chunk_size` is 0, or the
/// payload exceeds the 24-bit length field (a message that cannot be sent is dropped, never
/// truncated).
pub fn write_message(
    csid: u32,
    timestamp: u32,
    type_id: u8,
    stream_id: u32,
    payload: &[u8],
    chunk_size: u32,
    out: &mut Vec<u8>,
) -> bool {
    if !(2..=MAX_CSID).contains(&csid) || chunk_size == 0 || payload.len() > MAX_WIRE_LEN {
        log::warn!(
            "not sending a message of {} bytes on chunk stream {csid} (chunk size {chunk_size})",
            payload.len()
        );
        return false;
    }
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
    true
}

/// The headers [`write_message`] puts around a payload's chunks: the first chunk's (fmt 0) and
/// the one before each further chunk (fmt 3, with the extended timestamp when there is one).
/// With these a message can be written as `first, payload[..size], next, payload[size..2*size],
/// …` straight from the payload, without copying it into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeaders {
    first: [u8; 18],
    first_len: u8,
    next: [u8; 7],
    next_len: u8,
}

impl ChunkHeaders {
    /// The headers for one message; `None` where [`write_message`] would write nothing.
    pub fn new(
        csid: u32,
        timestamp: u32,
        type_id: u8,
        stream_id: u32,
        payload_len: usize,
        chunk_size: u32,
    ) -> Option<ChunkHeaders> {
        if !(2..=MAX_CSID).contains(&csid) || chunk_size == 0 || payload_len > MAX_WIRE_LEN {
            return None;
        }
        let mut first = Vec::with_capacity(18);
        write_message(
            csid,
            timestamp,
            type_id,
            stream_id,
            &[],
            chunk_size,
            &mut first,
        );
        // The empty message's header, with the real payload length in it.
        let len_at = basic_header_len(csid) + 3;
        first[len_at..len_at + 3].copy_from_slice(&(payload_len as u32).to_be_bytes()[1..]);
        let mut next = Vec::with_capacity(7);
        write_basic_header(&mut next, 3, csid);
        if timestamp >= EXTENDED {
            next.extend_from_slice(&timestamp.to_be_bytes());
        }
        let mut headers = ChunkHeaders {
            first: [0; 18],
            first_len: first.len() as u8,
            next: [0; 7],
            next_len: next.len() as u8,
        };
        headers.first[..first.len()].copy_from_slice(&first);
        headers.next[..next.len()].copy_from_slice(&next);
        Some(headers)
    }

    pub fn first(&self) -> &[u8] {
        &self.first[..self.first_len as usize]
    }

    pub fn next(&self) -> &[u8] {
        &self.next[..self.next_len as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message as `write_message` writes it, and as the headers and payload slices put it.
    fn both(csid: u32, ts: u32, len: usize) -> (Vec<u8>, Vec<u8>) {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut whole = Vec::new();
        assert!(write_message(csid, ts, 9, 1, &payload, 128, &mut whole));
        let h = ChunkHeaders::new(csid, ts, 9, 1, len, 128).unwrap();
        let mut pieces = h.first().to_vec();
        for (i, chunk) in payload.chunks(128).enumerate() {
            if i > 0 {
                pieces.extend_from_slice(h.next());
            }
            pieces.extend_from_slice(chunk);
        }
        (whole, pieces)
    }

    #[test]
    fn headers_around_the_payload_make_the_same_bytes_as_write_message() {
        for (csid, ts, len) in [
            (6, 40, 0),
            (6, 40, 1),
            (6, 40, 128),
            (6, 40, 129),
            (4, 0x0100_0000, 1000),
            (70, 5, 300),
            (400, 0xFF_FFFF, 257),
        ] {
            let (whole, pieces) = both(csid, ts, len);
            assert_eq!(whole, pieces, "csid {csid} ts {ts} len {len}");
        }
    }

    #[test]
    fn no_headers_for_what_write_message_refuses() {
        assert_eq!(ChunkHeaders::new(1, 0, 9, 1, 10, 128), None);
        assert_eq!(ChunkHeaders::new(6, 0, 9, 1, 10, 0), None);
        assert_eq!(ChunkHeaders::new(6, 0, 9, 1, 0x100_0000, 128), None);
    }
}
