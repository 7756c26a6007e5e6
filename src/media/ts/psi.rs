//! Program-specific information: the PAT and PMT sections, each in one TS packet, with the
//! MPEG-2 CRC32.
//!
//! ```text
//! PAT: | table 0x00 | 1 0 11 | length (12) | TS id (16) | 11 | version (5) | current (1) |
//!      | section 0 | last 0 | program (16) | 111 | PMT PID (13) | CRC32 |
//! PMT: | table 0x02 | 1 0 11 | length (12) | program (16) | 11 | version (5) | current (1) |
//!      | section 0 | last 0 | 111 | PCR PID (13) | 1111 | info length 0 (12) |
//!      | per stream: type (8) | 111 | PID (13) | 1111 | info length 0 (12) | CRC32 |
//! ```

use super::{packet_header, PAT_PID, PMT_PID, PROGRAM_NUMBER, TS_PACKET_LEN};

/// CRC-32/MPEG-2: polynomial 0x04C11DB7, initial value all ones, no reflection, no final xor.
pub fn crc32_mpeg2(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// One elementary stream as the PMT lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmtStream {
    pub stream_type: u8,
    pub pid: u16,
}

/// The PAT section (from table id to CRC).
pub fn pat_section() -> Vec<u8> {
    let mut s = vec![0x00, 0xB0, 13, 0x00, 0x01, 0xC1, 0x00, 0x00];
    s.extend_from_slice(&PROGRAM_NUMBER.to_be_bytes());
    s.extend_from_slice(&(0xE000 | PMT_PID).to_be_bytes());
    with_crc(s)
}

/// The PMT section for `streams`, with the PCR on `pcr_pid`.
pub fn pmt_section(version: u8, pcr_pid: u16, streams: &[PmtStream]) -> Vec<u8> {
    let length = 9 + 5 * streams.len() + 4;
    let mut s = vec![0x02, 0xB0 | (length >> 8) as u8, length as u8];
    s.extend_from_slice(&PROGRAM_NUMBER.to_be_bytes());
    s.push(0xC1 | ((version & 0x1F) << 1));
    s.extend_from_slice(&[0x00, 0x00]);
    s.extend_from_slice(&(0xE000 | pcr_pid).to_be_bytes());
    s.extend_from_slice(&[0xF0, 0x00]);
    for st in streams {
        s.push(st.stream_type);
        s.extend_from_slice(&(0xE000 | st.pid).to_be_bytes());
        s.extend_from_slice(&[0xF0, 0x00]);
    }
    with_crc(s)
}

fn with_crc(mut section: Vec<u8>) -> Vec<u8> {
    let crc = crc32_mpeg2(&section);
    section.extend_from_slice(&crc.to_be_bytes());
    section
}

/// A section in one TS packet: pointer field 0, the section, then 0xFF filler.
pub fn write_section(pid: u16, cc: &mut u8, section: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&packet_header(pid, true, false, *cc));
    *cc = (*cc + 1) & 0x0F;
    out.push(0);
    out.extend_from_slice(section);
    out.resize(start + TS_PACKET_LEN, 0xFF);
}

/// PAT then PMT.
pub fn write_tables(
    cc: &mut [u8; 2],
    version: u8,
    pcr_pid: u16,
    streams: &[PmtStream],
    out: &mut Vec<u8>,
) {
    write_section(PAT_PID, &mut cc[0], &pat_section(), out);
    write_section(
        PMT_PID,
        &mut cc[1],
        &pmt_section(version, pcr_pid, streams),
        out,
    );
}
