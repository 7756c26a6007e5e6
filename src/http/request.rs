//! A request head parser (request line + headers), sans-IO, bounded, for the HTTP-FLV server.

use std::fmt;

use crate::text::{percent_decode, Decode};

/// Request line plus headers may not exceed this.
pub const MAX_HEAD_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The request target as sent (`/live/abc.flv?cursor=5s`).
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path, percent-decoded, and the raw query string.
    pub fn path_and_query(&self) -> (String, &str) {
        let (path, query) = match self.target.split_once('?') {
            Some((p, q)) => (p, q),
            None => (self.target.as_str(), ""),
        };
        (
            percent_decode(path, Decode::Path).unwrap_or_else(|| path.to_string()),
            query,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// No end of headers within `MAX_HEAD_LEN` bytes.
    TooLarge,
    Malformed(&'static str),
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::TooLarge => write!(f, "request head larger than {MAX_HEAD_LEN} bytes"),
            HeadError::Malformed(what) => write!(f, "malformed request: {what}"),
        }
    }
}

impl std::error::Error for HeadError {}

/// Parse a request head from the start of `buf`. `Ok(None)`: not complete yet (read more).
/// On success also returns how many bytes the head used.
pub fn parse_head(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let window = &buf[..buf.len().min(MAX_HEAD_LEN)];
    let end = match find_head_end(window) {
        Some(end) => end,
        None if buf.len() >= MAX_HEAD_LEN => return Err(HeadError::TooLarge),
        None => return Ok(None),
    };
    let text = std::str::from_utf8(&buf[..end.0]).map_err(|_| HeadError::Malformed("not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(HeadError::Malformed("empty request"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed(
            "request line is not METHOD TARGET VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HeadError::Malformed("bad method"));
    }
    if !target.starts_with('/') {
        return Err(HeadError::Malformed("target must start with /"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(HeadError::Malformed("unsupported HTTP version"));
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(HeadError::Malformed("header line without a colon"))?;
        if name.is_empty() || name.contains(' ') {
            return Err(HeadError::Malformed("bad header name"));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(Some((
        RequestHead {
            method: method.to_string(),
            target: target.to_string(),
            version: version.to_string(),
            headers,
        },
        end.1,
    )))
}

/// (end of the header text, end of the blank line), for `\r\n\r\n` or a bare `\n\n`.
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    for i in 0..buf.len() {
        if buf[i..].starts_with(b"\r\n\r\n") {
            return Some((i, i + 4));
        }
        if buf[i..].starts_with(b"\n\n") {
            return Some((i, i + 2));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_get_parses_with_headers_and_length() {
        let raw =
            b"GET /live/abc.flv?cursor=5s HTTP/1.1\r\nHost: x\r\nOrigin:  http://a\r\n\r\nextra";
        let (head, used) = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.header("host"), Some("x"));
        assert_eq!(head.header("ORIGIN"), Some("http://a"));
        assert_eq!(&raw[used..], b"extra");
        let (path, query) = head.path_and_query();
        assert_eq!(path, "/live/abc.flv");
        assert_eq!(query, "cursor=5s");
    }

    #[test]
    fn an_incomplete_head_asks_for_more() {
        assert_eq!(
            parse_head(b"GET /1.flv HTTP/1.1\r\nHost: x\r\n").unwrap(),
            None
        );
        assert_eq!(parse_head(b"").unwrap(), None);
    }

    #[test]
    fn an_endless_request_line_is_refused_once_past_the_limit() {
        let mut raw = b"GET /".to_vec();
        raw.resize(MAX_HEAD_LEN + 10, b'a');
        assert_eq!(parse_head(&raw), Err(HeadError::TooLarge));
    }

    #[test]
    fn malformed_requests_are_errors() {
        for raw in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET nopath HTTP/1.1\r\n\r\n",
            b"GET /x HTTP/2.0\r\n\r\n",
            b"get /x HTTP/1.1\r\n\r\n",
            b"GET /x HTTP/1.1\r\nNoColon\r\n\r\n",
            b"\xff\xfe /x HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(raw), Err(HeadError::Malformed(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn percent_encoded_paths_are_decoded_but_plus_is_kept() {
        let (head, _) = parse_head(b"GET /live/a%20b+c.flv HTTP/1.0\n\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.path_and_query().0, "/live/a b+c.flv");
    }
}
