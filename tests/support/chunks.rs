//! RTMP bytes as a client writes them (chunks, the handshake's C0+C1) and messages as it reads them.

use super::{amf, FlvTag, Rng};

/// The basic header for `fmt` and chunk stream id `csid` (1, 2 or 3 bytes).
pub fn basic_header(fmt: u8, csid: u32, out: &mut Vec<u8>) {
    if csid < 64 {
        out.push(fmt << 6 | csid as u8);
    } else if csid < 320 {
        out.push(fmt << 6);
        out.push((csid - 64) as u8);
    } else {
        let x = csid - 64;
        out.push(fmt << 6 | 1);
        out.push((x & 0xff) as u8);
        out.push((x >> 8) as u8);
    }
}

/// A type-0 chunk header (basic header + 11-byte message header, extended timestamp if needed).
pub fn fmt0_header(
    csid: u32,
    timestamp: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    out: &mut Vec<u8>,
) {
    basic_header(0, csid, out);
    let ts = timestamp.min(0xFF_FFFF);
    out.extend_from_slice(&ts.to_be_bytes()[1..]);
    out.extend_from_slice(&length.to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&stream_id.to_le_bytes());
    if timestamp >= 0xFF_FFFF {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
}

/// Chunk one message: a type-0 chunk, then type-3 continuations (repeating the extended timestamp).
pub fn write_chunks(
    csid: u32,
    timestamp: u32,
    type_id: u8,
    stream_id: u32,
    payload: &[u8],
    chunk_size: usize,
    out: &mut Vec<u8>,
) {
    fmt0_header(
        csid,
        timestamp,
        payload.len() as u32,
        type_id,
        stream_id,
        out,
    );
    let mut first = true;
    for piece in payload.chunks(chunk_size.max(1)) {
        if !first {
            basic_header(3, csid, out);
            if timestamp >= 0xFF_FFFF {
                out.extend_from_slice(&timestamp.to_be_bytes());
            }
        }
        first = false;
        out.extend_from_slice(piece);
    }
}

/// C0 + C1 of a simple handshake.
pub fn c0c1() -> Vec<u8> {
    let mut v = vec![3u8];
    v.extend_from_slice(&[0u8; 8]);
    v.extend_from_slice(&Rng::seeded().bytes(1528));
    v
}

#[derive(Debug, Clone)]
pub struct RtmpMessage {
    pub csid: u32,
    pub timestamp: u32,
    pub type_id: u8,
    pub stream_id: u32,
    pub payload: Vec<u8>,
}

impl RtmpMessage {
    /// The AMF0 values of a command or data message (types 20/18, and AMF3-wrapped 17/15).
    pub fn amf(&self) -> Option<Vec<amf::V>> {
        let body = match self.type_id {
            20 | 18 => &self.payload[..],
            17 | 15 if !self.payload.is_empty() => &self.payload[1..],
            _ => return None,
        };
        amf::decode_all(body).ok()
    }
    pub fn command_name(&self) -> Option<String> {
        self.amf()?.first()?.as_str().map(str::to_string)
    }
    pub fn transaction(&self) -> Option<f64> {
        self.amf()?.get(1)?.as_num()
    }
    /// The `code` of an onStatus / _result / _error info object.
    pub fn status_code(&self) -> Option<String> {
        let vals = self.amf()?;
        vals.iter()
            .skip(2)
            .find_map(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string))
    }
    pub fn as_flv_tag(&self) -> FlvTag {
        FlvTag {
            tag_type: self.type_id,
            timestamp: self.timestamp,
            body: self.payload.clone(),
        }
    }
    pub fn describe(&self) -> String {
        match self.type_id {
            20 | 17 | 18 | 15 => format!(
                "type {} {} {}",
                self.type_id,
                self.command_name().unwrap_or_else(|| "?".into()),
                self.status_code().unwrap_or_default()
            ),
            8 | 9 => self.as_flv_tag().describe(),
            4 if self.payload.len() >= 2 => format!(
                "user-control {}",
                u16::from_be_bytes([self.payload[0], self.payload[1]])
            ),
            t => format!("type {t} ({} bytes)", self.payload.len()),
        }
    }
}
