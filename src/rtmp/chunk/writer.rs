//! [`write_message`]: one message split into chunks.

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
