//! PROXY protocol headers (v1 and v2) as the first bytes of a connection.

use joy4::net::proxy_protocol::{next_step, parse, ProxyHeaderError, Step, V1_MAX, V2_MAX_PAYLOAD};

/// Whatever a peer sends first: reading in the amounts the parser asks for never passes its
/// bound; a header parses the same from exactly its bytes; a v1 header ends in CRLF.
pub fn proxy_header(data: &[u8]) {
    let bound = V1_MAX.max(16 + V2_MAX_PAYLOAD);
    let mut read = 0;
    loop {
        match next_step(&data[..read]) {
            Ok(Step::Need(n)) => {
                assert!(n > 0);
                assert!(read + n <= bound, "asked to read {} bytes", read + n);
                if read + n > data.len() {
                    break;
                }
                read += n;
            }
            Ok(Step::Done(header)) => {
                assert_eq!(parse(data), Ok((header, read)));
                assert_eq!(parse(&data[..read]), Ok((header, read)));
                if header.version == 1 {
                    assert!(data[..read].ends_with(b"\r\n") && read <= V1_MAX);
                }
                return;
            }
            Err(e) => {
                assert!(!e.as_str().is_empty());
                assert_eq!(parse(data).unwrap_err(), e);
                return;
            }
        }
    }
    assert_eq!(parse(data).unwrap_err(), ProxyHeaderError::Truncated);
}
