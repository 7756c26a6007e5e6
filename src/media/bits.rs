//! Bit reading for parameter sets: an MSB-first reader with exp-Golomb codes, and the removal of
//! emulation-prevention bytes from NAL units.

use super::error::CodecError;

/// MSB-first bit reader; `what` names the structure for truncation errors.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8], what: &'static str) -> Self {
        BitReader { data, pos: 0, what }
    }

    pub(super) fn flag(&mut self) -> Result<bool, CodecError> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or(CodecError::Truncated(self.what))?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// Up to 32 bits.
    pub(super) fn bits(&mut self, n: u32) -> Result<u32, CodecError> {
        debug_assert!(n <= 32);
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.flag()?);
        }
        Ok(v as u32)
    }

    pub(super) fn skip(&mut self, n: usize) -> Result<(), CodecError> {
        if self.data.len() * 8 < self.pos + n {
            return Err(CodecError::Truncated(self.what));
        }
        self.pos += n;
        Ok(())
    }

    /// Unsigned exp-Golomb: `n` zeros, a one, then `n` bits; value = 2^n - 1 + those bits.
    pub(super) fn ue(&mut self) -> Result<u32, CodecError> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros > 31 {
                return Err(CodecError::Invalid("exp-Golomb code longer than 32 bits"));
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    /// Signed exp-Golomb: 1, 2, 3, 4 ... map to 1, -1, 2, -2 ...
    pub(super) fn se(&mut self) -> Result<i64, CodecError> {
        let k = i64::from(self.ue()?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// NAL payload to RBSP: drop each emulation-prevention 0x03 that follows two zero bytes.
pub(super) fn unescape_rbsp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = 0;
    for &b in data {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulation_prevention_bytes_are_removed() {
        assert_eq!(
            unescape_rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 0, 3]),
            [0, 0, 1, 0, 0, 0, 0]
        );
        assert_eq!(unescape_rbsp(&[0, 3, 0, 0, 4]), [0, 3, 0, 0, 4]);
    }
}
