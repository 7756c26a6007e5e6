//! Reading primitives shared by the AMF0 and AMF3 decoders, and the bounds they both count
//! against. Each takes from the front of the slice and fails without consuming on shortage.

use super::{Amf0Error, MAX_DEPTH};

/// Count one more decoded value against the budget of `MAX_ELEMENTS`.
pub(super) fn count_element(elements_left: &mut usize) -> Result<(), Amf0Error> {
    *elements_left = elements_left
        .checked_sub(1)
        .ok_or(Amf0Error::TooManyElements)?;
    Ok(())
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], Amf0Error> {
    if input.len() < n {
        return Err(Amf0Error::Truncated);
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

pub(super) fn read_u8(input: &mut &[u8]) -> Result<u8, Amf0Error> {
    Ok(take(input, 1)?[0])
}

pub(super) fn read_array<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], Amf0Error> {
    let mut bytes = [0; N];
    bytes.copy_from_slice(take(input, N)?);
    Ok(bytes)
}

pub(super) fn read_u16(input: &mut &[u8]) -> Result<u16, Amf0Error> {
    read_array(input).map(u16::from_be_bytes)
}

pub(super) fn read_u32(input: &mut &[u8]) -> Result<u32, Amf0Error> {
    read_array(input).map(u32::from_be_bytes)
}

pub(super) fn read_f64(input: &mut &[u8]) -> Result<f64, Amf0Error> {
    read_array(input).map(f64::from_be_bytes)
}

/// `len` bytes of UTF-8; a length beyond the input is refused before anything is allocated.
pub(super) fn read_utf8(input: &mut &[u8], len: usize) -> Result<String, Amf0Error> {
    if len > input.len() {
        return Err(Amf0Error::TooLong(len));
    }
    let bytes = take(input, len)?;
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| Amf0Error::InvalidUtf8)
}

/// One level deeper, refused past [`MAX_DEPTH`].
pub(super) fn deeper(depth: usize) -> Result<usize, Amf0Error> {
    if depth >= MAX_DEPTH {
        Err(Amf0Error::TooDeep)
    } else {
        Ok(depth + 1)
    }
}
