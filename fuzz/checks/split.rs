//! A second fragmentation of an input, derived from the input itself so that a corpus file alone
//! reproduces a finding.

/// `data` cut into pieces of 1 to 64 bytes (mostly small), the sizes drawn from a generator seeded
/// by the input's length and first bytes.
pub fn pieces(data: &[u8]) -> Vec<&[u8]> {
    let mut seed = data.len() as u64 ^ 0x9E37_79B9_7F4A_7C15;
    for &b in data.iter().take(8) {
        seed = seed.rotate_left(8) ^ u64::from(b);
    }
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Half the pieces are 1..=4 bytes (to cut headers apart), the rest 1..=64.
        let size = if seed & 1 == 0 {
            1 + (seed >> 8) % 4
        } else {
            1 + (seed >> 8) % 64
        };
        let (head, tail) = rest.split_at((size as usize).min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}
