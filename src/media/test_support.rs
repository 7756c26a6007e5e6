//! Helpers for the codec tests: hex fixtures, a bit writer, and parameter sets shared by several files.

use super::codec::VideoSize;

pub(super) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

pub(super) fn size(width: u32, height: u32) -> VideoSize {
    VideoSize { width, height }
}

/// MSB-first bit writer for building parameter sets field by field.
#[derive(Default)]
pub(super) struct BitWriter {
    pub(super) bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    pub(super) fn put(&mut self, n: u32, value: u64) -> &mut Self {
        for i in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            *self.bytes.last_mut().unwrap() |= bit << (7 - self.bits % 8);
            self.bits += 1;
        }
        self
    }
    pub(super) fn flag(&mut self, on: bool) -> &mut Self {
        self.put(1, u64::from(on))
    }
    pub(super) fn ue(&mut self, v: u64) -> &mut Self {
        let n = 64 - (v + 1).leading_zeros() - 1;
        self.put(n, 0).put(n + 1, v + 1)
    }
    pub(super) fn se(&mut self, v: i64) -> &mut Self {
        self.ue(if v > 0 {
            2 * v as u64 - 1
        } else {
            2 * v.unsigned_abs()
        })
    }
    /// rbsp_trailing_bits, then emulation prevention, behind a NAL header.
    pub(super) fn nal(&mut self, header: &[u8]) -> Vec<u8> {
        self.put(1, 1);
        let mut out = header.to_vec();
        let mut zeros = 0;
        for &b in &self.bytes {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }
}

/// hvcC from libx265 1920x1080 (1088 coded rows, conformance window bottom 4 x2), with the VPS,
/// SPS and PPS arrays (its SEI array dropped, the array count set to 3).
pub(super) const HVCC_1080P: &str = "01 01 60 00 00 00 90 00 00 00 00 00 78 f0 00 fc fd f8 f8 00 00 0f 03 \
    a0 00 01 00 18 40 01 0c 01 ff ff 01 60 00 00 03 00 90 00 00 03 00 00 03 00 78 95 98 09 \
    a1 00 01 00 2a 42 01 01 01 60 00 00 03 00 90 00 00 03 00 00 03 00 78 a0 03 c0 80 10 e5 96 56 69 24 ca f0 16 80 80 00 00 03 00 80 00 00 0c 84 \
    a2 00 01 00 07 44 01 c1 72 b4 62 40";
