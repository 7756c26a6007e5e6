use super::*;

fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x20 | command);
    out.push(family);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn inet4_body() -> Vec<u8> {
    let mut body = vec![203, 0, 113, 7, 10, 0, 0, 5];
    body.extend_from_slice(&51234u16.to_be_bytes());
    body.extend_from_slice(&1935u16.to_be_bytes());
    body
}

#[test]
fn a_v1_tcp4_header_gives_the_client_address_and_its_exact_length() {
    let text = b"PROXY TCP4 203.0.113.7 10.0.0.5 51234 1935\r\n\x03rest";
    let (header, len) = parse(text).unwrap();
    assert_eq!(header.version, 1);
    assert_eq!(header.source, Some("203.0.113.7:51234".parse().unwrap()));
    assert_eq!(&text[len..], b"\x03rest");
}

#[test]
fn a_v1_tcp6_header_and_unknown_are_read() {
    let (header, _) = parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n").unwrap();
    assert_eq!(header.source, Some("[2001:db8::1]:4000".parse().unwrap()));
    let (header, len) = parse(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nGET").unwrap();
    assert_eq!((header.source, len), (None, 35));
    assert_eq!(parse(b"PROXY UNKNOWN\r\n").unwrap().0.source, None);
}

#[test]
fn v1_headers_that_do_not_parse_are_refused() {
    let bad = |text: &[u8]| parse(text).unwrap_err();
    assert_eq!(
        bad(b"PROXY UDP4 1.2.3.4 1.2.3.5 1 2\r\n"),
        ProxyHeaderError::UnknownFamily
    );
    assert!(matches!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n"),
        ProxyHeaderError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 ::1 ::1 1 2\r\n"),
        ProxyHeaderError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.5 70000 2\r\n"),
        ProxyHeaderError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.5 +1 2\r\n"),
        ProxyHeaderError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.5 1 2\n"),
        ProxyHeaderError::Malformed(_)
    ));
    assert_eq!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.5 1 2"),
        ProxyHeaderError::Truncated
    );
    assert_eq!(
        bad(b"GET / HTTP/1.1\r\n\r\n"),
        ProxyHeaderError::UnknownVersion
    );
    assert_eq!(bad(b"\x03\x00\x00\x00"), ProxyHeaderError::UnknownVersion);
}

#[test]
fn a_v1_line_without_crlf_within_107_bytes_is_oversized_and_never_read_further() {
    let mut text = b"PROXY TCP4 ".to_vec();
    text.resize(200, b'1');
    assert_eq!(parse(&text).unwrap_err(), ProxyHeaderError::Oversized);
    // The longest legal line is accepted; one byte more is not.
    let mut longest = b"PROXY UNKNOWN ".to_vec();
    longest.resize(V1_MAX - 2, b'x');
    longest.extend_from_slice(b"\r\n");
    assert_eq!(parse(&longest).unwrap().1, V1_MAX);
    longest.insert(20, b'x');
    assert_eq!(parse(&longest).unwrap_err(), ProxyHeaderError::Oversized);
    // Reading byte by byte never asks for more than 107 bytes.
    let mut read = 0;
    while let Ok(Step::Need(n)) = next_step(&text[..read]) {
        read += n;
        assert!(read <= V1_MAX);
    }
}

#[test]
fn a_v2_inet_header_gives_the_client_address_and_skips_tlvs() {
    let mut body = inet4_body();
    body.extend_from_slice(&[0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0]); // an SSL TLV
    let mut bytes = v2(1, 0x11, &body);
    let header_len = bytes.len();
    bytes.extend_from_slice(b"\x03after");
    let (header, len) = parse(&bytes).unwrap();
    assert_eq!(len, header_len);
    assert_eq!(header.version, 2);
    assert_eq!(header.source, Some("203.0.113.7:51234".parse().unwrap()));
}

#[test]
fn a_v2_inet6_header_local_command_and_unspec_family_are_read() {
    let mut body = vec![0u8; 36];
    body[..16].copy_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
    body[32..34].copy_from_slice(&443u16.to_be_bytes());
    let (header, _) = parse(&v2(1, 0x21, &body)).unwrap();
    assert_eq!(header.source, Some("[2001:db8::7]:443".parse().unwrap()));
    assert_eq!(parse(&v2(0, 0x00, &[])).unwrap().0.source, None);
    assert_eq!(parse(&v2(1, 0x00, &[])).unwrap().0.source, None);
    assert_eq!(parse(&v2(1, 0x31, &[0; 216])).unwrap().0.source, None);
}

#[test]
fn v2_headers_of_unknown_versions_families_or_sizes_are_refused() {
    let mut bytes = v2(1, 0x11, &inet4_body());
    bytes[12] = 0x11;
    assert_eq!(parse(&bytes).unwrap_err(), ProxyHeaderError::UnknownVersion);
    assert_eq!(
        parse(&v2(1, 0x41, &inet4_body())).unwrap_err(),
        ProxyHeaderError::UnknownFamily
    );
    assert_eq!(
        parse(&v2(1, 0x12, &inet4_body())).unwrap_err(),
        ProxyHeaderError::UnknownFamily
    );
    assert!(matches!(
        parse(&v2(2, 0x11, &inet4_body())).unwrap_err(),
        ProxyHeaderError::Malformed(_)
    ));
    assert!(matches!(
        parse(&v2(1, 0x11, &[1, 2, 3])).unwrap_err(),
        ProxyHeaderError::Malformed(_)
    ));
    assert!(matches!(
        parse(&v2(1, 0x21, &inet4_body())).unwrap_err(),
        ProxyHeaderError::Malformed(_)
    ));
    // A length over the bound is refused from the 16 fixed bytes, before the body is read.
    let mut fixed = v2(1, 0x11, &[]);
    fixed[14..16].copy_from_slice(&((V2_MAX_PAYLOAD + 1) as u16).to_be_bytes());
    assert_eq!(next_step(&fixed).unwrap_err(), ProxyHeaderError::Oversized);
    let whole = v2(1, 0x11, &inet4_body());
    assert_eq!(
        parse(&whole[..whole.len() - 1]).unwrap_err(),
        ProxyHeaderError::Truncated
    );
}

#[test]
fn reading_in_the_asked_amounts_never_passes_the_end_of_the_header() {
    let whole = v2(1, 0x11, &inet4_body());
    let mut read = 0;
    let steps: Vec<usize> = std::iter::from_fn(|| match next_step(&whole[..read]).unwrap() {
        Step::Need(n) => {
            read += n;
            Some(n)
        }
        Step::Done(_) => None,
    })
    .collect();
    assert_eq!(steps, vec![8, 8, 12]);
    assert_eq!(read, whole.len());
}

#[test]
fn only_the_starts_of_proxy_headers_look_like_them() {
    assert!(starts_like_header(b"P"));
    assert!(undecided(b"PRO"));
    assert!(starts_like_header(b"PROXY TCP4"));
    assert!(starts_like_header(b"\r\n\r\n\0"));
    assert!(!undecided(b"\r\n\r\n\0\r\n"));
    for other in [
        &b"POST / HTTP/1.1"[..],
        b"PUT",
        b"GET /",
        b"\x03\x00",
        b"PROXYX",
        b"",
    ] {
        assert!(!starts_like_header(other), "{other:?}");
    }
}
