//! AMF0 values (and the AMF3 values some clients wrap inside them): decoding and encoding.
//! SKELETON: the implementation is being written; signatures are fixed.

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
    Date { millis: f64, time_zone: i16 },
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
}

impl std::fmt::Display for Amf0Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for Amf0Error {}

/// Decode one value from the front of `input`, advancing it.
pub fn decode(input: &mut &[u8]) -> Result<Amf0Value, Amf0Error> {
    let _ = input;
    todo!()
}

/// Decode values until the input is used up.
pub fn decode_all(input: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    let _ = input;
    todo!()
}

/// Append the encoding of `value` to `out`.
pub fn encode(value: &Amf0Value, out: &mut Vec<u8>) {
    let _ = (value, out);
    todo!()
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
        todo!()
    }
    pub fn as_number(&self) -> Option<f64> {
        todo!()
    }
    /// Property lookup on an Object or EcmaArray.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        let _ = key;
        todo!()
    }
    /// A JSON rendering (objects/arrays as JSON objects/arrays, Null/Undefined as null, Date as millis).
    pub fn to_json(&self) -> serde_json::Value {
        todo!()
    }
}
