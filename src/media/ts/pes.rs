//! PES packets and their cutting into 188-byte TS packets (with PCR and stuffing in the
//! adaptation field).
//!
//! ```text
//! PES: | 00 00 01 | stream id | length (16, 0 = unbounded) | 10 00 0 0 0 0 | PTS/DTS flags (2) 000000 |
//!      | header length | PTS (5 bytes) | [DTS (5 bytes)] | payload
//! timestamp (33 bits): | prefix (4) | ts[32..30] | 1 | ts[29..15] | 1 | ts[14..0] | 1 |
//! TS packet: | 0x47 | 0 | start (1) | 0 | PID (13) | 00 | adaptation (2) | counter (4) | ...
//! adaptation field: | length | discontinuity 0 | random access | 0 | PCR | 0000 | [PCR (6)] | 0xFF... |
//! PCR: | base (33) | 111111 | extension (9) |
//! ```

use super::{packet_header, TS_PACKET_LEN};

pub const STREAM_ID_VIDEO: u8 = 0xE0;
pub const STREAM_ID_AUDIO: u8 = 0xC0;

/// A 33-bit timestamp with its 4-bit prefix and marker bits.
pub fn encode_timestamp(prefix: u8, ts: u64) -> [u8; 5] {
    let ts = ts & 0x1_FFFF_FFFF;
    [
        (prefix << 4) | (((ts >> 29) as u8) & 0x0E) | 1,
        (ts >> 22) as u8,
        (((ts >> 14) as u8) & 0xFE) | 1,
        (ts >> 7) as u8,
        (((ts << 1) as u8) & 0xFE) | 1,
    ]
}

/// A PCR: base in 90 kHz, extension 0.
pub fn encode_pcr(base: u64) -> [u8; 6] {
    let base = base & 0x1_FFFF_FFFF;
    [
        (base >> 25) as u8,
        (base >> 17) as u8,
        (base >> 9) as u8,
        (base >> 1) as u8,
        (((base & 1) as u8) << 7) | 0x7E,
        0,
    ]
}

/// The PES header for a payload of `payload_len` bytes; DTS only when it differs from PTS.
/// Video PES may be longer than 16 bits can say: their length is 0 (unbounded).
pub fn pes_header(stream_id: u8, pts: u64, dts: Option<u64>, payload_len: usize) -> Vec<u8> {
    let dts = dts.filter(|&d| d != pts);
    let header_data_len: usize = if dts.is_some() { 10 } else { 5 };
    let total = 3 + header_data_len + payload_len;
    let length = if total > 0xFFFF { 0 } else { total as u16 };
    let mut h = Vec::with_capacity(9 + header_data_len);
    h.extend_from_slice(&[0, 0, 1, stream_id]);
    h.extend_from_slice(&length.to_be_bytes());
    h.push(0x80);
    match dts {
        Some(dts) => {
            h.extend_from_slice(&[0xC0, 10]);
            h.extend_from_slice(&encode_timestamp(0x3, pts));
            h.extend_from_slice(&encode_timestamp(0x1, dts));
        }
        None => {
            h.extend_from_slice(&[0x80, 5]);
            h.extend_from_slice(&encode_timestamp(0x2, pts));
        }
    }
    h
}

/// How the first TS packet of a PES is marked.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstPacket {
    pub pcr: Option<u64>,
    pub random_access: bool,
}

/// Cut a PES (header and payload, given in pieces) into TS packets on `pid`, counting `cc`.
pub fn write_pes(pid: u16, cc: &mut u8, first: FirstPacket, pieces: &[&[u8]], out: &mut Vec<u8>) {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut piece = 0;
    let mut offset = 0;
    let mut written = 0;
    let mut is_first = true;
    while written < total {
        let remaining = total - written;
        let mut flags = 0u8;
        let mut pcr = None;
        if is_first {
            if first.random_access {
                flags |= 0x40;
            }
            if let Some(base) = first.pcr {
                flags |= 0x10;
                pcr = Some(encode_pcr(base));
            }
        }
        // Adaptation field bytes needed for flags and PCR (length byte + flags byte + PCR).
        let needed = if flags != 0 {
            2 + pcr.map_or(0, |p| p.len())
        } else {
            0
        };
        let room = TS_PACKET_LEN - 4 - needed;
        let (af_len, take) = if remaining >= room {
            (needed, room)
        } else {
            (TS_PACKET_LEN - 4 - remaining, remaining)
        };
        let start = out.len();
        out.extend_from_slice(&packet_header(pid, is_first, af_len > 0, *cc));
        *cc = (*cc + 1) & 0x0F;
        if af_len > 0 {
            out.push((af_len - 1) as u8);
            if af_len > 1 {
                out.push(flags);
                if let Some(p) = pcr {
                    out.extend_from_slice(&p);
                }
                out.resize(start + 4 + af_len, 0xFF);
            }
        }
        let mut left = take;
        while left > 0 {
            let p = pieces[piece];
            if offset == p.len() {
                piece += 1;
                offset = 0;
                continue;
            }
            let n = left.min(p.len() - offset);
            out.extend_from_slice(&p[offset..offset + n]);
            offset += n;
            left -= n;
        }
        written += take;
        is_first = false;
    }
}
