//! AMF0 values, and the AMF3 values behind the avmplus marker.

use joy4::amf0::{self, Amf0Value};

/// The same value, with numbers compared by their bits (so NaN equals itself).
fn same(a: &Amf0Value, b: &Amf0Value) -> bool {
    use Amf0Value as V;
    let pairs = |x: &[(String, V)], y: &[(String, V)]| {
        x.len() == y.len() && x.iter().zip(y).all(|((k, v), (l, w))| k == l && same(v, w))
    };
    match (a, b) {
        (V::Number(x), V::Number(y)) => x.to_bits() == y.to_bits(),
        (V::Object(x), V::Object(y)) | (V::EcmaArray(x), V::EcmaArray(y)) => pairs(x, y),
        (V::StrictArray(x), V::StrictArray(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        (
            V::Date {
                millis: m,
                time_zone: z,
            },
            V::Date {
                millis: n,
                time_zone: y,
            },
        ) => m.to_bits() == n.to_bits() && z == y,
        _ => a == b,
    }
}

/// Whether encoding keeps every key whole (it cuts keys over 65535 bytes, which only AMF3 can
/// carry in).
fn keys_fit(v: &Amf0Value) -> bool {
    match v {
        Amf0Value::Object(p) | Amf0Value::EcmaArray(p) => p
            .iter()
            .all(|(k, v)| k.len() <= u16::MAX as usize && keys_fit(v)),
        Amf0Value::StrictArray(items) => items.iter().all(keys_fit),
        _ => true,
    }
}

/// Values and string bytes a decoded value holds: what its memory is made of.
fn footprint(v: &Amf0Value) -> (usize, usize) {
    let mut total = (1, 0);
    let mut add = |(n, b): (usize, usize)| {
        total.0 += n;
        total.1 += b;
    };
    match v {
        Amf0Value::String(s) => add((0, s.len())),
        Amf0Value::Object(p) | Amf0Value::EcmaArray(p) => {
            for (k, v) in p {
                add((0, k.len()));
                add(footprint(v));
            }
        }
        Amf0Value::StrictArray(items) => items.iter().for_each(|v| add(footprint(v))),
        _ => {}
    }
    total
}

/// The documented bound: every value takes at least one input byte, and strings hold no more
/// than the input, plus (AMF3 references only) twice the input and 64 KiB.
fn check_footprint(value: &Amf0Value, used: usize) {
    let (values, string_bytes) = footprint(value);
    assert!(values <= used, "{values} values from {used} bytes");
    assert!(
        string_bytes <= 3 * used + 64 * 1024,
        "{string_bytes} string bytes from {used} input bytes"
    );
}

/// Every value that decodes from the front of `input`: decode(encode(v)) == v, using all of the
/// encoding; and that encoding is stable.
fn round_trip_all(mut input: &[u8]) {
    while !input.is_empty() {
        let before = input.len();
        let Ok(value) = amf0::decode(&mut input) else {
            return;
        };
        assert!(input.len() < before, "a decoded value consumed nothing");
        check_footprint(&value, before - input.len());
        let mut bytes = Vec::new();
        amf0::encode(&value, &mut bytes);
        let mut rest = &bytes[..];
        let again = amf0::decode(&mut rest)
            .unwrap_or_else(|e| panic!("{value:?} encodes to bytes that do not decode: {e}"));
        assert!(
            rest.is_empty(),
            "{value:?}: decoding its encoding leaves bytes"
        );
        if keys_fit(&value) {
            assert!(same(&again, &value), "{value:?} decodes back as {again:?}");
        }
        let mut bytes2 = Vec::new();
        amf0::encode(&again, &mut bytes2);
        assert_eq!(bytes, bytes2, "the encoding of {value:?} is not stable");
    }
}

/// AMF0 values as they come (a command or data message body).
pub fn amf0(data: &[u8]) {
    // decode_all fails exactly when some value on the way fails.
    let all = amf0::decode_all(data);
    round_trip_all(data);
    if let Ok(values) = all {
        let bytes = amf0::encode_all(&values);
        let again = amf0::decode_all(&bytes).expect("encode_all output decodes");
        assert_eq!(again.len(), values.len());
    }
}

/// One AMF3 value: the input behind an avmplus (0x11) marker, as clients send AMF3 inside AMF0.
pub fn amf3(data: &[u8]) {
    let mut wrapped = Vec::with_capacity(data.len() + 1);
    wrapped.push(0x11);
    wrapped.extend_from_slice(data);
    round_trip_all(&wrapped);
}
