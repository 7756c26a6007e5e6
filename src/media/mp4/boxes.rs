//! Writing ISO BMFF boxes into a byte vector: a box is its 32-bit size, its type, then its body;
//! a full box adds a version byte and 24 bits of flags.
//!
//! ```text
//! | size (32, header included) | type (4 ASCII bytes) | [full box: version (8) | flags (24)] | body |
//! ```

/// Appends boxes to `out`; `open` returns where the box starts, `close` fills in its size.
pub(crate) struct BoxWriter<'a> {
    pub(crate) out: &'a mut Vec<u8>,
}

impl<'a> BoxWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> BoxWriter<'a> {
        BoxWriter { out }
    }

    pub(crate) fn open(&mut self, kind: &[u8; 4]) -> usize {
        let start = self.out.len();
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        self.out.extend_from_slice(kind);
        start
    }

    pub(crate) fn open_full(&mut self, kind: &[u8; 4], version: u8, flags: u32) -> usize {
        let start = self.open(kind);
        self.u32((u32::from(version) << 24) | (flags & 0x00FF_FFFF));
        start
    }

    pub(crate) fn close(&mut self, start: usize) {
        let size = (self.out.len() - start) as u32;
        self.out[start..start + 4].copy_from_slice(&size.to_be_bytes());
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.out.extend_from_slice(v);
    }

    pub(crate) fn zeros(&mut self, n: usize) {
        self.out.resize(self.out.len() + n, 0);
    }

    /// A whole box whose body is `body`.
    pub(crate) fn leaf(&mut self, kind: &[u8; 4], body: &[u8]) {
        let start = self.open(kind);
        self.bytes(body);
        self.close(start);
    }
}

/// The unity transformation matrix of `mvhd` and `tkhd` (16.16 and 2.30 fixed point).
pub(crate) const UNITY_MATRIX: [u32; 9] = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000];
