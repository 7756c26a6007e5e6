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

use std::fmt;

/// How deeply objects and arrays may nest (AMF0 and AMF3 together).
pub const MAX_DEPTH: usize = 64;

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
        }
    }
}

impl std::error::Error for Amf0Error {}

/// Decode one value from the front of `input`, advancing it.
pub fn decode(input: &mut &[u8]) -> Result<Amf0Value, Amf0Error> {
    decode_value(input, 0)
}

/// Decode values until the input is used up.
pub fn decode_all(input: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    let mut rest = input;
    let mut values = Vec::new();
    while !rest.is_empty() {
        values.push(decode(&mut rest)?);
    }
    Ok(values)
}

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
    /// Property lookup on an Object or EcmaArray (the first pair with that key).
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.as_pairs()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
    /// A JSON rendering (objects/arrays as JSON objects/arrays, Null/Undefined as null, Date as millis).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Amf0Value::Number(n) => number_to_json(*n),
            Amf0Value::Boolean(b) => Value::Bool(*b),
            Amf0Value::String(s) => Value::String(s.clone()),
            Amf0Value::Object(pairs) | Amf0Value::EcmaArray(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Amf0Value::Null | Amf0Value::Undefined => Value::Null,
            Amf0Value::StrictArray(items) => {
                Value::Array(items.iter().map(Amf0Value::to_json).collect())
            }
            Amf0Value::Date { millis, .. } => number_to_json(*millis),
        }
    }
}

/// Integers stay integers (AMF0 has only doubles, but `width: 1920` should not print as `1920.0`);
/// NaN and infinities have no JSON form and become null.
fn number_to_json(n: f64) -> serde_json::Value {
    // 2^53: beyond it not every integer is exact, so keep the float form.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.is_finite() && n.fract() == 0.0 && n.abs() <= EXACT {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
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

// ---------------------------------------------------------------------------------------------------
// Reading primitives. Each takes from the front of the slice and fails without consuming on shortage.

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], Amf0Error> {
    if input.len() < n {
        return Err(Amf0Error::Truncated);
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

fn read_u8(input: &mut &[u8]) -> Result<u8, Amf0Error> {
    Ok(take(input, 1)?[0])
}

fn read_array<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], Amf0Error> {
    let mut bytes = [0; N];
    bytes.copy_from_slice(take(input, N)?);
    Ok(bytes)
}

fn read_u16(input: &mut &[u8]) -> Result<u16, Amf0Error> {
    read_array(input).map(u16::from_be_bytes)
}

fn read_u32(input: &mut &[u8]) -> Result<u32, Amf0Error> {
    read_array(input).map(u32::from_be_bytes)
}

fn read_f64(input: &mut &[u8]) -> Result<f64, Amf0Error> {
    read_array(input).map(f64::from_be_bytes)
}

/// `len` bytes of UTF-8; a length beyond the input is refused before anything is allocated.
fn read_utf8(input: &mut &[u8], len: usize) -> Result<String, Amf0Error> {
    if len > input.len() {
        return Err(Amf0Error::TooLong(len));
    }
    let bytes = take(input, len)?;
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| Amf0Error::InvalidUtf8)
}

fn read_short_string(input: &mut &[u8]) -> Result<String, Amf0Error> {
    let len = read_u16(input)? as usize;
    read_utf8(input, len)
}

fn read_long_string(input: &mut &[u8]) -> Result<String, Amf0Error> {
    let len = read_u32(input)? as usize;
    read_utf8(input, len)
}

// ---------------------------------------------------------------------------------------------------
// AMF0

fn decode_value(input: &mut &[u8], depth: usize) -> Result<Amf0Value, Amf0Error> {
    let marker = read_u8(input)?;
    match marker {
        // 00 | f64 BE
        NUMBER => Ok(Amf0Value::Number(read_f64(input)?)),
        // 01 | u8 (non-zero = true)
        BOOLEAN => Ok(Amf0Value::Boolean(read_u8(input)? != 0)),
        // 02 | u16 len | UTF-8
        STRING => Ok(Amf0Value::String(read_short_string(input)?)),
        // 03 | (u16 len | key | value)* | 00 00 09
        OBJECT => Ok(Amf0Value::Object(decode_pairs(input, depth, None)?)),
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
                items.push(decode_value(input, depth)?);
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
            Ok(Amf0Value::Object(decode_pairs(input, depth, None)?))
        }
        // 11 | one AMF3 value
        AVMPLUS => Amf3Decoder::new(input.len()).value(input, deeper(depth)?),
        other => Err(Amf0Error::UnknownMarker(other)),
    }
}

fn deeper(depth: usize) -> Result<usize, Amf0Error> {
    if depth >= MAX_DEPTH {
        Err(Amf0Error::TooDeep)
    } else {
        Ok(depth + 1)
    }
}

/// Key/value pairs up to the `00 00 09` end. `ecma_count` is only used to accept a missing end marker
/// when exactly that many pairs were read and the input is used up; it never sizes an allocation.
fn decode_pairs(
    input: &mut &[u8],
    depth: usize,
    ecma_count: Option<usize>,
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
        let value = decode_value(input, depth)?;
        pairs.push((key, value));
    }
}

// ---------------------------------------------------------------------------------------------------
// AMF3 (behind the AMF0 avmplus marker), converted to the nearest AMF0 value.

const AMF3_UNDEFINED: u8 = 0x00;
const AMF3_NULL: u8 = 0x01;
const AMF3_FALSE: u8 = 0x02;
const AMF3_TRUE: u8 = 0x03;
const AMF3_INTEGER: u8 = 0x04;
const AMF3_DOUBLE: u8 = 0x05;
const AMF3_STRING: u8 = 0x06;
const AMF3_XML_DOC: u8 = 0x07;
const AMF3_DATE: u8 = 0x08;
const AMF3_ARRAY: u8 = 0x09;
const AMF3_OBJECT: u8 = 0x0A;
const AMF3_XML: u8 = 0x0B;

struct Traits {
    sealed: Vec<String>,
    dynamic: bool,
}

/// The reference tables of one AMF3 value. Strings and traits may be referenced again by index, which
/// lets a few bytes stand for a long string: `budget` caps the bytes such references may copy, keeping
/// memory linear in the input.
struct Amf3Decoder {
    strings: Vec<String>,
    traits: Vec<Traits>,
    budget: usize,
}

impl Amf3Decoder {
    fn new(input_len: usize) -> Self {
        Amf3Decoder {
            strings: Vec::new(),
            traits: Vec::new(),
            budget: input_len.saturating_mul(2).saturating_add(64 * 1024),
        }
    }

    fn spend(&mut self, bytes: usize) -> Result<(), Amf0Error> {
        self.budget = self
            .budget
            .checked_sub(bytes)
            .ok_or(Amf0Error::Amf3Expansion)?;
        Ok(())
    }

    /// U29: 1 to 4 bytes, 7 bits each with the top bit meaning "more", except the fourth which gives
    /// all 8 bits.
    ///
    /// ```text
    /// 0xxxxxxx
    /// 1xxxxxxx 0xxxxxxx
    /// 1xxxxxxx 1xxxxxxx 0xxxxxxx
    /// 1xxxxxxx 1xxxxxxx 1xxxxxxx xxxxxxxx
    /// ```
    fn u29(input: &mut &[u8]) -> Result<u32, Amf0Error> {
        let mut value = 0u32;
        for _ in 0..3 {
            let b = read_u8(input)?;
            value = (value << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Ok((value << 8) | u32::from(read_u8(input)?))
    }

    /// String: U29 `len << 1 | 1` then UTF-8, or U29 `index << 1` into the string table.
    fn string(&mut self, input: &mut &[u8]) -> Result<String, Amf0Error> {
        let header = Self::u29(input)?;
        let index = (header >> 1) as usize;
        if header & 1 == 0 {
            let s = self
                .strings
                .get(index)
                .ok_or(Amf0Error::TooLong(index))?
                .clone();
            self.spend(s.len())?;
            return Ok(s);
        }
        let s = read_utf8(input, index)?;
        // The empty string is never sent by reference, so it takes no table slot.
        if !s.is_empty() {
            self.strings.push(s.clone());
        }
        Ok(s)
    }

    fn value(&mut self, input: &mut &[u8], depth: usize) -> Result<Amf0Value, Amf0Error> {
        let marker = read_u8(input)?;
        match marker {
            AMF3_UNDEFINED => Ok(Amf0Value::Undefined),
            AMF3_NULL => Ok(Amf0Value::Null),
            AMF3_FALSE => Ok(Amf0Value::Boolean(false)),
            AMF3_TRUE => Ok(Amf0Value::Boolean(true)),
            AMF3_INTEGER => {
                // 29-bit two's complement: move bit 28 to the sign bit and shift back.
                let raw = Self::u29(input)?;
                Ok(Amf0Value::Number(f64::from(((raw << 3) as i32) >> 3)))
            }
            AMF3_DOUBLE => Ok(Amf0Value::Number(read_f64(input)?)),
            AMF3_STRING => Ok(Amf0Value::String(self.string(input)?)),
            // XML: U29 `len << 1 | 1` then UTF-8, or an object reference.
            AMF3_XML_DOC | AMF3_XML => {
                let header = Self::u29(input)?;
                if header & 1 == 0 {
                    return Ok(Amf0Value::Undefined);
                }
                Ok(Amf0Value::String(read_utf8(input, (header >> 1) as usize)?))
            }
            // Date: U29 `1` then f64 millis, or an object reference.
            AMF3_DATE => {
                let header = Self::u29(input)?;
                if header & 1 == 0 {
                    return Ok(Amf0Value::Undefined);
                }
                Ok(Amf0Value::Date {
                    millis: read_f64(input)?,
                    time_zone: 0,
                })
            }
            AMF3_ARRAY => self.array(input, depth),
            AMF3_OBJECT => self.object(input, depth),
            other => Err(Amf0Error::Amf3Unsupported(other)),
        }
    }

    /// Array: U29 `dense_count << 1 | 1`, associative (string key, value)* up to an empty key, then
    /// `dense_count` values. Without associative part it becomes a StrictArray, otherwise an EcmaArray
    /// whose dense values are keyed "0", "1", ...
    fn array(&mut self, input: &mut &[u8], depth: usize) -> Result<Amf0Value, Amf0Error> {
        let header = Self::u29(input)?;
        if header & 1 == 0 {
            return Ok(Amf0Value::Undefined);
        }
        let depth = deeper(depth)?;
        let dense_count = (header >> 1) as usize;
        let mut assoc = Vec::new();
        loop {
            let key = self.string(input)?;
            if key.is_empty() {
                break;
            }
            let value = self.value(input, depth)?;
            assoc.push((key, value));
        }
        if dense_count > input.len() {
            return Err(Amf0Error::TooLong(dense_count));
        }
        let mut dense = Vec::with_capacity(dense_count);
        for _ in 0..dense_count {
            dense.push(self.value(input, depth)?);
        }
        if assoc.is_empty() {
            return Ok(Amf0Value::StrictArray(dense));
        }
        assoc.extend(
            dense
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v)),
        );
        Ok(Amf0Value::EcmaArray(assoc))
    }

    /// Object header U29, low bits first:
    ///
    /// ```text
    /// ...0        object reference (index in the rest)
    /// ...01       traits reference (index in the rest)
    /// ...111      externalizable traits
    /// nnnnd011    inline traits: d = dynamic, n = sealed member count;
    ///             then class name, n member names, n values, and if dynamic (key, value)* up to ""
    /// ```
    fn object(&mut self, input: &mut &[u8], depth: usize) -> Result<Amf0Value, Amf0Error> {
        let header = Self::u29(input)?;
        if header & 1 == 0 {
            return Ok(Amf0Value::Undefined);
        }
        let depth = deeper(depth)?;
        let traits_index = if header & 2 == 0 {
            let index = (header >> 2) as usize;
            if index >= self.traits.len() {
                return Err(Amf0Error::TooLong(index));
            }
            let cost = self.traits[index].sealed.iter().map(String::len).sum();
            self.spend(cost)?;
            index
        } else {
            let class = self.string(input)?;
            if header & 4 != 0 {
                return Err(Amf0Error::Amf3Externalizable(class));
            }
            let dynamic = header & 8 != 0;
            let count = (header >> 4) as usize;
            // Each name takes at least one byte.
            if count > input.len() {
                return Err(Amf0Error::TooLong(count));
            }
            let mut sealed = Vec::with_capacity(count);
            for _ in 0..count {
                sealed.push(self.string(input)?);
            }
            self.traits.push(Traits { sealed, dynamic });
            self.traits.len() - 1
        };
        let names = self.traits[traits_index].sealed.clone();
        let dynamic = self.traits[traits_index].dynamic;
        let mut pairs = Vec::with_capacity(names.len().min(input.len()));
        for name in names {
            let value = self.value(input, depth)?;
            pairs.push((name, value));
        }
        if dynamic {
            loop {
                let key = self.string(input)?;
                if key.is_empty() {
                    break;
                }
                let value = self.value(input, depth)?;
                pairs.push((key, value));
            }
        }
        Ok(Amf0Value::Object(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: Amf0Value) {
        let mut bytes = Vec::new();
        encode(&value, &mut bytes);
        let mut rest = &bytes[..];
        assert_eq!(decode(&mut rest).unwrap(), value);
        assert!(rest.is_empty(), "decode must consume exactly the encoding");
    }

    /// What ffmpeg 5 sends as `connect` when publishing to rtmp://host/live/abc.
    fn ffmpeg_connect() -> Vec<Amf0Value> {
        vec![
            Amf0Value::string("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::object([
                ("app", Amf0Value::string("live")),
                ("type", Amf0Value::string("nonprivate")),
                (
                    "flashVer",
                    Amf0Value::string("FMLE/3.0 (compatible; Lavf59.27.100)"),
                ),
                ("tcUrl", Amf0Value::string("rtmp://127.0.0.1:1935/live")),
            ]),
        ]
    }

    #[test]
    fn every_amf0_type_survives_a_round_trip() {
        round_trip(Amf0Value::Number(0.0));
        round_trip(Amf0Value::Number(-1.5e300));
        round_trip(Amf0Value::Boolean(true));
        round_trip(Amf0Value::Boolean(false));
        round_trip(Amf0Value::string(""));
        round_trip(Amf0Value::string("héllo"));
        round_trip(Amf0Value::Null);
        round_trip(Amf0Value::Undefined);
        round_trip(Amf0Value::Date {
            millis: 1_700_000_000_000.0,
            time_zone: -60,
        });
        round_trip(Amf0Value::object([
            ("a", Amf0Value::Number(1.0)),
            ("", Amf0Value::Null), // an empty key not followed by 09 is a real key
            (
                "nested",
                Amf0Value::object([("b", Amf0Value::Boolean(true))]),
            ),
        ]));
        round_trip(Amf0Value::EcmaArray(vec![
            ("duration".into(), Amf0Value::Number(0.0)),
            ("encoder".into(), Amf0Value::string("Lavf")),
        ]));
        round_trip(Amf0Value::StrictArray(vec![
            Amf0Value::Number(1.0),
            Amf0Value::string("x"),
            Amf0Value::StrictArray(vec![]),
        ]));
    }

    #[test]
    fn strings_over_64k_are_written_as_long_strings() {
        let long = "x".repeat(70_000);
        let mut bytes = Vec::new();
        encode(&Amf0Value::string(long.clone()), &mut bytes);
        assert_eq!(bytes[0], LONG_STRING);
        assert_eq!(&bytes[1..5], &70_000u32.to_be_bytes());
        round_trip(Amf0Value::string(long));
    }

    #[test]
    fn ecma_arrays_carry_their_count() {
        let mut bytes = Vec::new();
        encode(
            &Amf0Value::EcmaArray(vec![("w".into(), Amf0Value::Number(1.0))]),
            &mut bytes,
        );
        assert_eq!(&bytes[..5], &[ECMA_ARRAY, 0, 0, 0, 1]);
        assert_eq!(&bytes[bytes.len() - 3..], &[0, 0, OBJECT_END]);
    }

    #[test]
    fn the_ffmpeg_connect_command_decodes_to_what_was_sent() {
        let bytes = encode_all(&ffmpeg_connect());
        // Pin the wire form of the start: string marker, length 7, "connect", number marker.
        assert_eq!(&bytes[..11], b"\x02\x00\x07connect\x00");
        let values = decode_all(&bytes).unwrap();
        assert_eq!(values, ffmpeg_connect());
        assert_eq!(values[0].as_str(), Some("connect"));
        assert_eq!(values[1].as_number(), Some(1.0));
        assert_eq!(
            values[2].get("tcUrl").and_then(Amf0Value::as_str),
            Some("rtmp://127.0.0.1:1935/live")
        );
        assert_eq!(values[2].get("missing"), None);
    }

    #[test]
    fn truncated_input_at_every_cut_point_is_an_error() {
        let mut values = ffmpeg_connect();
        values.push(Amf0Value::Null);
        values.push(Amf0Value::StrictArray(vec![
            Amf0Value::Number(2.0),
            Amf0Value::Date {
                millis: 1.0,
                time_zone: 0,
            },
        ]));
        // Inside an object, so that a cut before the ECMA array's end marker is not accepted leniently.
        values.push(Amf0Value::object([
            (
                "meta",
                Amf0Value::EcmaArray(vec![(
                    "k".into(),
                    Amf0Value::object([("x", Amf0Value::Boolean(false))]),
                )]),
            ),
            ("after", Amf0Value::Null),
        ]));
        // A complete value last, so every cut lands inside some value.
        values.push(Amf0Value::Number(3.0));
        let bytes = encode_all(&values);
        let mut value_ends = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            decode(&mut rest).unwrap();
            value_ends.push(bytes.len() - rest.len());
        }
        for cut in 1..bytes.len() {
            let result = decode_all(&bytes[..cut]);
            if value_ends.contains(&cut) {
                assert!(result.is_ok(), "cut at a value boundary {cut}");
            } else {
                assert!(result.is_err(), "cut at {cut} must fail");
            }
        }
    }

    #[test]
    fn an_ecma_array_missing_its_end_marker_is_accepted_when_its_count_is_complete() {
        let bytes = [ECMA_ARRAY, 0, 0, 0, 1, 0, 1, b'a', NULL];
        let v = decode_all(&bytes).unwrap();
        assert_eq!(
            v,
            vec![Amf0Value::EcmaArray(vec![("a".into(), Amf0Value::Null)])]
        );
        // One pair short of the count: still truncated.
        let bytes = [ECMA_ARRAY, 0, 0, 0, 2, 0, 1, b'a', NULL];
        assert!(decode_all(&bytes).is_err());
    }

    #[test]
    fn huge_declared_lengths_error_out_before_allocating() {
        let cases: [&[u8]; 5] = [
            &[LONG_STRING, 0xFF, 0xFF, 0xFF, 0xFF, b'a'],
            &[STRING, 0xFF, 0xFF, b'a'],
            &[STRICT_ARRAY, 0xFF, 0xFF, 0xFF, 0xFF, NULL],
            // AMF3 string of length 2^28 - 1
            &[AVMPLUS, AMF3_STRING, 0xFF, 0xFF, 0xFF, 0xFF],
            // AMF3 dense array of 2^28 - 1 elements
            &[AVMPLUS, AMF3_ARRAY, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        ];
        for bytes in cases {
            let err = decode_all(bytes).unwrap_err();
            assert!(matches!(err, Amf0Error::TooLong(_)), "{bytes:?}: {err:?}");
        }
        // An ECMA array's count is not trusted: it just reads pairs until the end marker.
        let bytes = [ECMA_ARRAY, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, OBJECT_END];
        assert_eq!(
            decode_all(&bytes).unwrap(),
            vec![Amf0Value::EcmaArray(vec![])]
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut deep = Amf0Value::Null;
        for _ in 0..MAX_DEPTH {
            deep = Amf0Value::StrictArray(vec![deep]);
        }
        round_trip(deep.clone());
        let bytes = encode_all(&[Amf0Value::StrictArray(vec![deep])]);
        assert_eq!(decode_all(&bytes), Err(Amf0Error::TooDeep));

        // A million nested objects must not overflow the stack either.
        let mut bytes = vec![OBJECT];
        for _ in 0..1_000_000 {
            bytes.extend_from_slice(&[0, 1, b'a', OBJECT]);
        }
        assert_eq!(decode_all(&bytes), Err(Amf0Error::TooDeep));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert_eq!(
            decode_all(&[STRING, 0, 2, 0xC3, 0x28]),
            Err(Amf0Error::InvalidUtf8)
        );
    }

    #[test]
    fn unknown_markers_and_stray_object_ends_are_errors() {
        assert_eq!(decode_all(&[0x04]), Err(Amf0Error::UnknownMarker(0x04)));
        assert_eq!(decode_all(&[0x09]), Err(Amf0Error::UnknownMarker(0x09)));
        assert_eq!(decode_all(&[0x20]), Err(Amf0Error::UnknownMarker(0x20)));
    }

    #[test]
    fn references_unsupported_and_typed_objects_decode_leniently() {
        assert_eq!(
            decode_all(&[REFERENCE, 0, 3, UNSUPPORTED]).unwrap(),
            vec![Amf0Value::Undefined, Amf0Value::Undefined]
        );
        let bytes = [
            TYPED_OBJECT,
            0,
            1,
            b'C',
            0,
            1,
            b'a',
            BOOLEAN,
            1,
            0,
            0,
            OBJECT_END,
        ];
        assert_eq!(
            decode_all(&bytes).unwrap(),
            vec![Amf0Value::object([("a", Amf0Value::Boolean(true))])]
        );
    }

    #[test]
    fn json_rendering_keeps_integers_integral_and_nulls_non_finite_numbers() {
        let v = Amf0Value::object([
            ("width", Amf0Value::Number(1920.0)),
            ("fps", Amf0Value::Number(29.97)),
            ("bad", Amf0Value::Number(f64::NAN)),
            ("inf", Amf0Value::Number(f64::INFINITY)),
            ("u", Amf0Value::Undefined),
            (
                "list",
                Amf0Value::StrictArray(vec![Amf0Value::Boolean(true), Amf0Value::string("s")]),
            ),
            (
                "when",
                Amf0Value::Date {
                    millis: 1000.0,
                    time_zone: 0,
                },
            ),
            (
                "meta",
                Amf0Value::EcmaArray(vec![("k".into(), Amf0Value::Null)]),
            ),
        ]);
        assert_eq!(
            v.to_json(),
            serde_json::json!({
                "width": 1920, "fps": 29.97, "bad": null, "inf": null, "u": null,
                "list": [true, "s"], "when": 1000, "meta": {"k": null}
            })
        );
        assert_eq!(v.to_json()["width"].to_string(), "1920");
    }

    /// An inline AMF3 string (header `len << 1 | 1`), short enough for a one-byte U29.
    fn s3(s: &str) -> Vec<u8> {
        assert!(s.len() < 64);
        [&[(s.len() as u8) << 1 | 1][..], s.as_bytes()].concat()
    }

    /// AMF3 wrapped in AMF0, as an AMF3 command (type 17) or data (type 15) message carries it.
    #[test]
    fn an_amf3_wrapped_object_is_decoded() {
        let bytes = [
            vec![AVMPLUS, AMF3_OBJECT, 0x0B], // inline traits, dynamic, no sealed members
            s3(""),                           // anonymous class
            s3("app"),
            vec![AMF3_STRING],
            s3("live"),
            s3("int"),
            vec![AMF3_INTEGER, 0xFF, 0xFF, 0xFF, 0xFF], // -1: 29-bit sign extension
            s3("big"),
            vec![AMF3_INTEGER, 0x80, 0xC0, 0x80, 0x00], // 4-byte U29: 0x40 << 15 = 2^21
            s3("dbl"),
            [&[AMF3_DOUBLE][..], &2.5f64.to_be_bytes()].concat(),
            s3("ok"),
            vec![AMF3_TRUE],
            s3("arr"),
            vec![AMF3_ARRAY, 0x05],             // two dense values
            s3(""),                             // no associative part
            vec![AMF3_NULL, AMF3_STRING, 0x00], // a reference to string 0: "app"
            s3("d"),
            [&[AMF3_DATE, 0x01][..], &1000.0f64.to_be_bytes()].concat(),
            s3(""), // end of dynamic members
        ]
        .concat();
        assert_eq!(
            decode_all(&bytes).unwrap(),
            vec![Amf0Value::object([
                ("app", Amf0Value::string("live")),
                ("int", Amf0Value::Number(-1.0)),
                ("big", Amf0Value::Number(2_097_152.0)),
                ("dbl", Amf0Value::Number(2.5)),
                ("ok", Amf0Value::Boolean(true)),
                (
                    "arr",
                    Amf0Value::StrictArray(vec![Amf0Value::Null, Amf0Value::string("app")])
                ),
                (
                    "d",
                    Amf0Value::Date {
                        millis: 1000.0,
                        time_zone: 0
                    }
                ),
            ])]
        );
    }

    #[test]
    fn amf3_sealed_traits_can_be_referenced_by_later_objects() {
        let bytes = [
            vec![AVMPLUS, AMF3_ARRAY, 0x05], // two dense values
            s3(""),
            // Inline sealed traits with 2 members: 2 << 4 | 0b0011.
            vec![AMF3_OBJECT, 0x23],
            s3("P"),
            s3("x"),
            s3("y"),
            vec![AMF3_INTEGER, 0x01, AMF3_INTEGER, 0x02],
            // Traits reference 0: 0 << 2 | 0b01.
            vec![AMF3_OBJECT, 0x01, AMF3_INTEGER, 0x03, AMF3_FALSE],
        ]
        .concat();
        let point =
            |x: f64, y: Amf0Value| Amf0Value::object([("x", Amf0Value::Number(x)), ("y", y)]);
        assert_eq!(
            decode_all(&bytes).unwrap(),
            vec![Amf0Value::StrictArray(vec![
                point(1.0, Amf0Value::Number(2.0)),
                point(3.0, Amf0Value::Boolean(false)),
            ])]
        );
    }

    #[test]
    fn an_amf3_array_with_named_members_becomes_an_ecma_array() {
        let bytes = [
            vec![AVMPLUS, AMF3_ARRAY, 0x03], // one dense value
            s3("k"),
            vec![AMF3_NULL],
            s3(""),
            vec![AMF3_UNDEFINED],
        ]
        .concat();
        assert_eq!(
            decode_all(&bytes).unwrap(),
            vec![Amf0Value::EcmaArray(vec![
                ("k".into(), Amf0Value::Null),
                ("0".into(), Amf0Value::Undefined),
            ])]
        );
    }

    #[test]
    fn amf3_externalizable_objects_and_byte_arrays_are_errors() {
        let bytes = [AVMPLUS, AMF3_OBJECT, 0x07, 0x03, b'C'];
        assert_eq!(
            decode_all(&bytes),
            Err(Amf0Error::Amf3Externalizable("C".into()))
        );
        assert_eq!(
            decode_all(&[AVMPLUS, 0x0C, 0x01]),
            Err(Amf0Error::Amf3Unsupported(0x0C))
        );
    }

    #[test]
    fn amf3_string_references_cannot_blow_up_memory() {
        // One 60 KB string, then a dense array referencing it 100k times: 6 GB if copied blindly.
        let mut bytes = vec![AVMPLUS, AMF3_ARRAY];
        let n: u32 = 100_000;
        let header = (n << 1) | 1; // fits 3 U29 bytes (< 2^21)
        bytes.extend_from_slice(&[
            0x80 | (header >> 14) as u8,
            0x80 | ((header >> 7) & 0x7F) as u8,
            (header & 0x7F) as u8,
        ]);
        bytes.push(0x01); // no associative part
        let len: u32 = 60_000;
        let h = (len << 1) | 1;
        bytes.extend_from_slice(&[
            AMF3_STRING,
            0x80 | (h >> 14) as u8,
            0x80 | ((h >> 7) & 0x7F) as u8,
            (h & 0x7F) as u8,
        ]);
        bytes.extend(std::iter::repeat_n(b'z', len as usize));
        for _ in 1..n {
            bytes.extend_from_slice(&[AMF3_STRING, 0x00]);
        }
        assert_eq!(decode_all(&bytes), Err(Amf0Error::Amf3Expansion));
    }

    #[test]
    fn amf3_truncated_at_every_cut_point_is_an_error() {
        let bytes = [
            vec![AVMPLUS, AMF3_OBJECT, 0x1B], // inline traits, dynamic, one sealed member
            s3(""),
            s3("s"),
            [&[AMF3_DOUBLE][..], &1.0f64.to_be_bytes()].concat(),
            s3("t"),
            vec![AMF3_INTEGER, 0x81, 0x00],
            s3(""),
        ]
        .concat();
        assert!(decode_all(&bytes).is_ok());
        for cut in 1..bytes.len() {
            assert!(decode_all(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
