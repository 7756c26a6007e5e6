//! AMF3 (behind the AMF0 avmplus marker), converted to the nearest AMF0 value.

use super::read::{count_element, deeper, read_f64, read_u8, read_utf8};
use super::{Amf0Error, Amf0Value};

pub(super) const AMF3_UNDEFINED: u8 = 0x00;
pub(super) const AMF3_NULL: u8 = 0x01;
pub(super) const AMF3_FALSE: u8 = 0x02;
pub(super) const AMF3_TRUE: u8 = 0x03;
pub(super) const AMF3_INTEGER: u8 = 0x04;
pub(super) const AMF3_DOUBLE: u8 = 0x05;
pub(super) const AMF3_STRING: u8 = 0x06;
pub(super) const AMF3_XML_DOC: u8 = 0x07;
pub(super) const AMF3_DATE: u8 = 0x08;
pub(super) const AMF3_ARRAY: u8 = 0x09;
pub(super) const AMF3_OBJECT: u8 = 0x0A;
pub(super) const AMF3_XML: u8 = 0x0B;

struct Traits {
    sealed: Vec<String>,
    dynamic: bool,
}

/// The reference tables of one AMF3 value. Strings and traits may be referenced again by index, which
/// lets a few bytes stand for a long string: `budget` caps the bytes such references may copy, keeping
/// memory linear in the input.
pub(super) struct Amf3Decoder {
    strings: Vec<String>,
    traits: Vec<Traits>,
    budget: usize,
    /// Values still allowed (see `MAX_ELEMENTS`), shared with the AMF0 value around this one.
    elements_left: usize,
}

impl Amf3Decoder {
    pub(super) fn new(input_len: usize, elements_left: usize) -> Self {
        Amf3Decoder {
            strings: Vec::new(),
            traits: Vec::new(),
            budget: input_len.saturating_mul(2).saturating_add(64 * 1024),
            elements_left,
        }
    }

    pub(super) fn elements_left(&self) -> usize {
        self.elements_left
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

    pub(super) fn value(
        &mut self,
        input: &mut &[u8],
        depth: usize,
    ) -> Result<Amf0Value, Amf0Error> {
        count_element(&mut self.elements_left)?;
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
