//! AMF0 values (and the AMF3 values some clients wrap inside them): decoding and encoding.
//!
//! Decoding works on a byte slice and never trusts a declared length or count further than the bytes
//! that are actually left, so a hostile message cannot make us allocate more than it is long (times the
//! small per-value overhead of [`Amf0Value`]). Nesting is bounded by [`MAX_DEPTH`].
//!
//! Choices worth knowing:
//! - Strings must be valid UTF-8 ([`Amf0Error::InvalidUtf8`] otherwise): a lossy decode could map two
//!   different stream keys to the same name.
//! - AMF0 references (marker 7) and AMF3 object references decode as [`Amf0Value::Undefined`]: following
//!   them could form cycles, and clients do not send them in the commands a server reads.
//! - An ECMA array whose end marker is missing is accepted when the input ends right after the declared
//!   number of pairs, as some encoders write `onMetaData` that way (ffmpeg reads it too).
//!
//! This file holds the value and error types and the encoder; `decode` reads AMF0 and `amf3` the
//! AMF3 values behind the avmplus marker.

mod amf3;
mod decode;
mod read;
#[cfg(test)]
mod tests;

use std::fmt;

pub use decode::{decode, decode_all};

/// How deeply objects and arrays may nest (AMF0 and AMF3 together).
pub const MAX_DEPTH: usize = 64;
/// How many values (nested ones included) one `decode` or `decode_all` call may produce: each
/// costs a few dozen bytes of memory however small its encoding.
pub const MAX_ELEMENTS: usize = 65_536;

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const REFERENCE: u8 = 0x07;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0A;
const DATE: u8 = 0x0B;
const LONG_STRING: u8 = 0x0C;
const UNSUPPORTED: u8 = 0x0D;
const XML_DOCUMENT: u8 = 0x0F;
const TYPED_OBJECT: u8 = 0x10;
const AVMPLUS: u8 = 0x11;

/// A decoded AMF0 value. Objects and ECMA arrays keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    Number(f64),
    Boolean(bool),
    /// Marker 2 (string) or 12 (long string).
    String(String),
    Object(Vec<(String, Amf0Value)>),
    Null,
    Undefined,
    EcmaArray(Vec<(String, Amf0Value)>),
    StrictArray(Vec<Amf0Value>),
    /// Milliseconds since the epoch and the (unused) time-zone field.
    Date {
        millis: f64,
        time_zone: i16,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Error {
    /// The input ended inside a value.
    Truncated,
    UnknownMarker(u8),
    /// A declared length or count is larger than allowed or than the input.
    TooLong(usize),
    TooDeep,
    InvalidUtf8,
    /// An AMF3 value of a type we do not convert (byte array, vector, dictionary, XML object), by marker.
    Amf3Unsupported(u8),
    /// An AMF3 externalizable object: its body format is private to its class, so it cannot be skipped.
    Amf3Externalizable(String),
    /// AMF3 references (strings, traits) would expand the input more than we allow.
    Amf3Expansion,
    /// More than [`MAX_ELEMENTS`] values.
    TooManyElements,
}

impl fmt::Display for Amf0Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amf0Error::Truncated => write!(f, "AMF input ended inside a value"),
            Amf0Error::UnknownMarker(m) => write!(f, "unknown AMF0 marker 0x{m:02x}"),
            Amf0Error::TooLong(n) => write!(f, "AMF length or count {n} exceeds the input"),
            Amf0Error::TooDeep => write!(f, "AMF values nest deeper than {MAX_DEPTH}"),
            Amf0Error::InvalidUtf8 => write!(f, "AMF string is not valid UTF-8"),
            Amf0Error::Amf3Unsupported(m) => write!(f, "unsupported AMF3 marker 0x{m:02x}"),
            Amf0Error::Amf3Externalizable(class) => {
                write!(f, "AMF3 externalizable object of class {class:?}")
            }
            Amf0Error::Amf3Expansion => write!(f, "AMF3 references expand the input too much"),
            Amf0Error::TooManyElements => write!(f, "more than {MAX_ELEMENTS} AMF values"),
        }
    }
}

impl std::error::Error for Amf0Error {}

/// Append the encoding of `value` to `out`.
///
/// Keys longer than 65535 bytes (which no AMF0 reader could take) are cut at a character boundary.
pub fn encode(value: &Amf0Value, out: &mut Vec<u8>) {
    match value {
        Amf0Value::Number(n) => {
            out.push(NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Amf0Value::Boolean(b) => {
            out.push(BOOLEAN);
            out.push(u8::from(*b));
        }
        Amf0Value::String(s) => match u16::try_from(s.len()) {
            Ok(len) => {
                out.push(STRING);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Err(_) => {
                // Strings over 4 GiB cannot exist in a 16 MiB RTMP message; saturate rather than panic.
                let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                out.push(LONG_STRING);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&s.as_bytes()[..len as usize]);
            }
        },
        Amf0Value::Object(pairs) => {
            out.push(OBJECT);
            encode_pairs(pairs, out);
        }
        Amf0Value::Null => out.push(NULL),
        Amf0Value::Undefined => out.push(UNDEFINED),
        Amf0Value::EcmaArray(pairs) => {
            out.push(ECMA_ARRAY);
            let count = u32::try_from(pairs.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            encode_pairs(pairs, out);
        }
        Amf0Value::StrictArray(items) => {
            out.push(STRICT_ARRAY);
            let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            for item in items.iter().take(count as usize) {
                encode(item, out);
            }
        }
        Amf0Value::Date { millis, time_zone } => {
            out.push(DATE);
            out.extend_from_slice(&millis.to_be_bytes());
            out.extend_from_slice(&time_zone.to_be_bytes());
        }
    }
}

/// The number of bytes [`encode`] appends for `value`, computed without encoding it (so that an
/// oversized value can be refused before anything is allocated).
pub fn encoded_len(value: &Amf0Value) -> usize {
    let pairs_len = |pairs: &[(String, Amf0Value)]| {
        pairs
            .iter()
            .map(|(k, v)| 2 + k.len().min(u16::MAX as usize) + encoded_len(v))
            .fold(3usize, usize::saturating_add)
    };
    match value {
        Amf0Value::Number(_) => 9,
        Amf0Value::Boolean(_) => 2,
        Amf0Value::String(s) if s.len() <= u16::MAX as usize => 3 + s.len(),
        Amf0Value::String(s) => 5 + s.len().min(u32::MAX as usize),
        Amf0Value::Object(pairs) => 1 + pairs_len(pairs),
        Amf0Value::Null | Amf0Value::Undefined => 1,
        Amf0Value::EcmaArray(pairs) => 5 + pairs_len(pairs),
        Amf0Value::StrictArray(items) => items
            .iter()
            .map(encoded_len)
            .fold(5usize, usize::saturating_add),
        Amf0Value::Date { .. } => 11,
    }
}

/// [`encoded_len`] of several values one after another.
pub fn encoded_len_all(values: &[Amf0Value]) -> usize {
    values
        .iter()
        .map(encoded_len)
        .fold(0usize, usize::saturating_add)
}

/// Encode several values one after another.
pub fn encode_all(values: &[Amf0Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        encode(v, &mut out);
    }
    out
}

impl Amf0Value {
    /// Build an object from `(&str, value)` pairs.
    pub fn object<'a>(pairs: impl IntoIterator<Item = (&'a str, Amf0Value)>) -> Amf0Value {
        Amf0Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    pub fn string(s: impl Into<String>) -> Amf0Value {
        Amf0Value::String(s.into())
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf0Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }
    /// The key/value pairs of an Object or EcmaArray.
    pub fn as_pairs(&self) -> Option<&[(String, Amf0Value)]> {
        match self {
            Amf0Value::Object(pairs) | Amf0Value::EcmaArray(pairs) => Some(pairs),
            _ => None,
        }
    }
    /// A copy of at most `max_values` values in all (depth first: later properties and items are
    /// left out), with strings and keys cut to `max_string` bytes: what is kept of a peer's value
    /// for a long time (a connection's `connect` command object).
    pub fn bounded(&self, max_values: usize, max_string: usize) -> Amf0Value {
        let mut left = max_values.max(1);
        self.bounded_copy(&mut left, max_string)
    }

    fn bounded_copy(&self, left: &mut usize, max_string: usize) -> Amf0Value {
        *left = left.saturating_sub(1);
        let mut pairs_copy = |pairs: &[(String, Amf0Value)]| {
            let mut out = Vec::with_capacity(pairs.len().min(*left));
            for (key, value) in pairs {
                if *left == 0 {
                    break;
                }
                let key = truncate_at_char_boundary(key, max_string).to_string();
                out.push((key, value.bounded_copy(left, max_string)));
            }
            out
        };
        match self {
            Amf0Value::String(s) => {
                Amf0Value::String(truncate_at_char_boundary(s, max_string).to_string())
            }
            Amf0Value::Object(pairs) => Amf0Value::Object(pairs_copy(pairs)),
            Amf0Value::EcmaArray(pairs) => Amf0Value::EcmaArray(pairs_copy(pairs)),
            Amf0Value::StrictArray(items) => {
                let mut out = Vec::with_capacity(items.len().min(*left));
                for item in items {
                    if *left == 0 {
                        break;
                    }
                    out.push(item.bounded_copy(left, max_string));
                }
                Amf0Value::StrictArray(out)
            }
            scalar => scalar.clone(),
        }
    }

    /// Property lookup on an Object or EcmaArray (the first pair with that key).
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.as_pairs()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// Object and ECMA array body: `u16 len | key | value` pairs, then `00 00 09`.
fn encode_pairs(pairs: &[(String, Amf0Value)], out: &mut Vec<u8>) {
    for (key, value) in pairs {
        let key = truncate_at_char_boundary(key, u16::MAX as usize);
        out.extend_from_slice(&(key.len() as u16).to_be_bytes());
        out.extend_from_slice(key.as_bytes());
        encode(value, out);
    }
    out.extend_from_slice(&[0, 0, OBJECT_END]);
}

fn truncate_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
