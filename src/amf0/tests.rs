use super::amf3::*;
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
    let point = |x: f64, y: Amf0Value| Amf0Value::object([("x", Amf0Value::Number(x)), ("y", y)]);
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

#[test]
fn more_values_than_the_element_limit_are_refused() {
    // A strict array of nulls: one byte per value, the cheapest way to make many values.
    let count = MAX_ELEMENTS as u32;
    let mut bytes = vec![STRICT_ARRAY];
    bytes.extend_from_slice(&count.to_be_bytes());
    bytes.extend(std::iter::repeat_n(NULL, count as usize));
    let mut rest = &bytes[..];
    assert_eq!(decode(&mut rest), Err(Amf0Error::TooManyElements));
    // One value fewer (the array itself counts) is fine.
    let mut fits = vec![STRICT_ARRAY];
    fits.extend_from_slice(&(count - 1).to_be_bytes());
    fits.extend(std::iter::repeat_n(NULL, count as usize - 1));
    assert!(decode_all(&fits).is_ok());
}

#[test]
fn the_element_limit_spans_all_values_of_one_message_and_amf3_inside_it() {
    let half = MAX_ELEMENTS as u32 / 2;
    let mut bytes = Vec::new();
    for _ in 0..2 {
        bytes.push(STRICT_ARRAY);
        bytes.extend_from_slice(&half.to_be_bytes());
        bytes.extend(std::iter::repeat_n(NULL, half as usize));
    }
    assert_eq!(decode_all(&bytes), Err(Amf0Error::TooManyElements));
    // AMF3 dense array of nulls behind the avmplus marker.
    let mut amf3 = vec![AVMPLUS, AMF3_ARRAY];
    let n = MAX_ELEMENTS as u32;
    let header = (n << 1) | 1;
    amf3.extend_from_slice(&[
        0x80 | ((header >> 22) & 0x7F) as u8,
        0x80 | ((header >> 15) & 0x7F) as u8,
        0x80 | ((header >> 8) & 0x7F) as u8,
        (header & 0xFF) as u8,
    ]);
    amf3.push(0x01); // empty key: end of the associative part
    amf3.extend(std::iter::repeat_n(AMF3_NULL, n as usize));
    let mut rest = &amf3[..];
    assert_eq!(decode(&mut rest), Err(Amf0Error::TooManyElements));
}

#[test]
fn encoded_len_is_the_length_encode_writes() {
    let values = vec![
        Amf0Value::Number(1.0),
        Amf0Value::Boolean(true),
        Amf0Value::string("abc"),
        Amf0Value::String("x".repeat(70_000)),
        Amf0Value::object([("a", Amf0Value::Null), ("b", Amf0Value::Undefined)]),
        Amf0Value::EcmaArray(vec![(
            "k".into(),
            Amf0Value::StrictArray(vec![Amf0Value::Null]),
        )]),
        Amf0Value::Date {
            millis: 1.0,
            time_zone: 0,
        },
    ];
    for v in &values {
        let mut out = Vec::new();
        encode(v, &mut out);
        assert_eq!(encoded_len(v), out.len(), "{v:?}");
    }
    assert_eq!(encoded_len_all(&values), encode_all(&values).len());
}

#[test]
fn a_bounded_copy_keeps_at_most_the_values_and_string_lengths_asked_for() {
    let big = Amf0Value::object([
        ("app", Amf0Value::string("live")),
        ("tcUrl", Amf0Value::String("é".repeat(5000))),
        (
            "junk",
            Amf0Value::StrictArray(vec![Amf0Value::Null; 100_000]),
        ),
        ("after", Amf0Value::Number(1.0)),
    ]);
    let kept = big.bounded(64, 1024);
    assert_eq!(kept.get("app").and_then(Amf0Value::as_str), Some("live"));
    let tc = kept.get("tcUrl").and_then(Amf0Value::as_str).unwrap();
    assert!(tc.len() <= 1024 && tc.len() >= 1022, "{}", tc.len());
    let junk = match kept.get("junk") {
        Some(Amf0Value::StrictArray(items)) => items.len(),
        other => panic!("{other:?}"),
    };
    assert!(junk < 64, "{junk}");
    assert!(encoded_len(&kept) < 64 * 16 + 2 * 1024);
}
