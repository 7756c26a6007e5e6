//! AMF0 decoding from a byte slice.

use super::amf3::Amf3Decoder;
use super::read::{
    count_element, deeper, read_array, read_f64, read_u16, read_u32, read_u8, read_utf8,
};
use super::*;

/// Decode one value from the front of `input`, advancing it.
/// At most [`MAX_ELEMENTS`] values (nested ones included) are decoded.
pub fn decode(input: &mut &[u8]) -> Result<Amf0Value, Amf0Error> {
    let mut elements_left = MAX_ELEMENTS;
    decode_value(input, 0, &mut elements_left)
}

/// Decode values until the input is used up; at most [`MAX_ELEMENTS`] values in all.
pub fn decode_all(input: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    let mut rest = input;
    let mut values = Vec::new();
    let mut elements_left = MAX_ELEMENTS;
    while !rest.is_empty() {
        values.push(decode_value(&mut rest, 0, &mut elements_left)?);
    }
    Ok(values)
}

fn read_short_string(input: &mut &[u8]) -> Result<String, Amf0Error> {
    let len = read_u16(input)? as usize;
    read_utf8(input, len)
}

fn read_long_string(input: &mut &[u8]) -> Result<String, Amf0Error> {
    let len = read_u32(input)? as usize;
    read_utf8(input, len)
}

fn decode_value(input: &mut &[u8], depth: usize, left: &mut usize) -> Result<Amf0Value, Amf0Error> {
    count_element(left)?;
    let marker = read_u8(input)?;
    match marker {
        // 00 | f64 BE
        NUMBER => Ok(Amf0Value::Number(read_f64(input)?)),
        // 01 | u8 (non-zero = true)
        BOOLEAN => Ok(Amf0Value::Boolean(read_u8(input)? != 0)),
        // 02 | u16 len | UTF-8
        STRING => Ok(Amf0Value::String(read_short_string(input)?)),
        // 03 | (u16 len | key | value)* | 00 00 09
        OBJECT => Ok(Amf0Value::Object(decode_pairs(input, depth, None, left)?)),
        NULL => Ok(Amf0Value::Null),
        UNDEFINED | UNSUPPORTED => Ok(Amf0Value::Undefined),
        // 07 | u16 index: we keep no reference table (see the module comment).
        REFERENCE => {
            read_u16(input)?;
            Ok(Amf0Value::Undefined)
        }
        // 08 | u32 count | (u16 len | key | value)* | 00 00 09
        ECMA_ARRAY => {
            let count = read_u32(input)? as usize;
            Ok(Amf0Value::EcmaArray(decode_pairs(
                input,
                depth,
                Some(count),
                left,
            )?))
        }
        // 0A | u32 count | value*
        STRICT_ARRAY => {
            let count = read_u32(input)? as usize;
            // Every value takes at least one byte, so a larger count cannot be honest.
            if count > input.len() {
                return Err(Amf0Error::TooLong(count));
            }
            let depth = deeper(depth)?;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                items.push(decode_value(input, depth, left)?);
            }
            Ok(Amf0Value::StrictArray(items))
        }
        // 0B | f64 millis | i16 time zone
        DATE => {
            let millis = read_f64(input)?;
            let time_zone = i16::from_be_bytes(read_array(input)?);
            Ok(Amf0Value::Date { millis, time_zone })
        }
        // 0C | u32 len | UTF-8;  0F (XML document) has the same layout.
        LONG_STRING | XML_DOCUMENT => Ok(Amf0Value::String(read_long_string(input)?)),
        // 10 | u16 len | class name | object body: the class name does not matter to a server.
        TYPED_OBJECT => {
            read_short_string(input)?;
            Ok(Amf0Value::Object(decode_pairs(input, depth, None, left)?))
        }
        // 11 | one AMF3 value
        AVMPLUS => {
            let mut amf3 = Amf3Decoder::new(input.len(), *left);
            let value = amf3.value(input, deeper(depth)?);
            *left = amf3.elements_left();
            value
        }
        other => Err(Amf0Error::UnknownMarker(other)),
    }
}

/// Key/value pairs up to the `00 00 09` end. `ecma_count` is only used to accept a missing end marker
/// when exactly that many pairs were read and the input is used up; it never sizes an allocation.
fn decode_pairs(
    input: &mut &[u8],
    depth: usize,
    ecma_count: Option<usize>,
    left: &mut usize,
) -> Result<Vec<(String, Amf0Value)>, Amf0Error> {
    let depth = deeper(depth)?;
    let mut pairs = Vec::new();
    loop {
        if input.is_empty() && ecma_count == Some(pairs.len()) {
            return Ok(pairs);
        }
        let key = read_short_string(input)?;
        if key.is_empty() && input.first() == Some(&OBJECT_END) {
            *input = &input[1..];
            return Ok(pairs);
        }
        let value = decode_value(input, depth, left)?;
        pairs.push((key, value));
    }
}
