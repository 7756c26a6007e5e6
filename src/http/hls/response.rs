//! HLS responses: playlists, segments (with HEAD and byte ranges) and JSON errors, each with a
//! Content-Length so the connection can stay open for the player's next request.

use std::io::{self, Write};
use std::net::TcpStream;

use crate::http::exchange::reason_phrase;

pub const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
pub const SEGMENT_TYPE: &str = "video/mp2t";
/// CMAF segments, parts and init segments.
pub const MP4_TYPE: &str = "video/mp4";
/// A session's entry playlist names its token: no cache may share it.
pub const CACHE_ENTRY: &str = "no-cache, no-store";
/// A live media playlist changes every fragment; a cache may hold it for a second.
pub const CACHE_PLAYLIST: &str = "public, max-age=1";
/// A segment, part or init segment never changes under its URL (the muxer run is in it).
pub const CACHE_SEGMENT: &str = "public, max-age=86400, immutable";
/// A blocking playlist reload's answer holds what its URL (`_HLS_msn`, `_HLS_part`) asked
/// for: a cache may serve it for about a part target (a second, the least `max-age` says).
pub const CACHE_BLOCKING: &str = "public, max-age=1";

/// A refusal: status, error name, reason.
pub type Refusal = (u16, &'static str, String);

/// How the response ends the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    pub head_only: bool,
    pub keep_alive: bool,
}

fn head(
    status: u16,
    content_type: &str,
    cache: &str,
    len: usize,
    extra: &str,
    x: Exchange,
) -> String {
    let connection = if x.keep_alive { "keep-alive" } else { "close" };
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nCache-Control: {cache}\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: Content-Length, Content-Range\r\nConnection: {connection}\r\nServer: joy4\r\n{extra}\r\n",
        reason_phrase(status)
    )
}

/// A response with a whole body; returns the body bytes written.
pub fn write_body(
    socket: &mut TcpStream,
    status: u16,
    content_type: &str,
    cache: &str,
    extra: &str,
    body: &[u8],
    x: Exchange,
) -> io::Result<usize> {
    let head = head(status, content_type, cache, body.len(), extra, x);
    if x.head_only || body.is_empty() {
        socket.write_all(head.as_bytes())?;
        return Ok(0);
    }
    // One write for a small body, two for a segment (no copy of it).
    if body.len() <= 16 * 1024 {
        let mut all = head.into_bytes();
        all.extend_from_slice(body);
        socket.write_all(&all)?;
    } else {
        socket.write_all(head.as_bytes())?;
        socket.write_all(body)?;
    }
    Ok(body.len())
}

pub fn write_playlist(
    socket: &mut TcpStream,
    text: &str,
    cache: &str,
    x: Exchange,
) -> io::Result<usize> {
    write_body(socket, 200, PLAYLIST_TYPE, cache, "", text.as_bytes(), x)
}

/// A JSON error: `{"error": NAME, "reason": TEXT}`.
pub fn write_error(socket: &mut TcpStream, status: u16, error: &str, reason: &str, x: Exchange) {
    let body = serde_json::json!({ "error": error, "reason": reason }).to_string();
    let _ = write_body(
        socket,
        status,
        "application/json",
        "no-cache",
        "",
        body.as_bytes(),
        x,
    );
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    Whole,
    /// Inclusive byte positions.
    Part(usize, usize),
    Unsatisfiable,
}

/// `bytes=A-B`, `bytes=A-` or `bytes=-N`; several ranges or another unit get the whole body.
pub fn parse_range(header: Option<&str>, len: usize) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAnswer::Unsatisfiable;
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<usize>().ok();
    let range = match (a.is_empty(), b.is_empty()) {
        (true, false) => parse(b)
            .filter(|&n| n > 0)
            .map(|n| (len.saturating_sub(n), len - 1)),
        (false, true) => parse(a).map(|start| (start, len.wrapping_sub(1))),
        (false, false) => parse(a)
            .zip(parse(b))
            .filter(|(s, e)| s <= e)
            .map(|(s, e)| (s, e.min(len.wrapping_sub(1)))),
        (true, true) => None,
    };
    match range {
        Some((start, end)) if len > 0 && start < len => RangeAnswer::Part(start, end),
        _ => RangeAnswer::Unsatisfiable,
    }
}

/// A segment (of `content_type`), whole or the part `range` asks for; returns the body bytes
/// written.
pub fn write_segment(
    socket: &mut TcpStream,
    content_type: &str,
    bytes: &[u8],
    range: Option<&str>,
    x: Exchange,
) -> io::Result<usize> {
    let len = bytes.len();
    match parse_range(range, len) {
        RangeAnswer::Whole => write_body(
            socket,
            200,
            content_type,
            CACHE_SEGMENT,
            "Accept-Ranges: bytes\r\n",
            bytes,
            x,
        ),
        RangeAnswer::Part(start, end) => write_body(
            socket,
            206,
            content_type,
            CACHE_SEGMENT,
            &format!("Accept-Ranges: bytes\r\nContent-Range: bytes {start}-{end}/{len}\r\n"),
            &bytes[start..=end],
            x,
        ),
        RangeAnswer::Unsatisfiable => write_body(
            socket,
            416,
            "text/plain",
            "no-cache",
            &format!("Content-Range: bytes */{len}\r\n"),
            b"",
            x,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(parse_range(None, 100), Whole);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Part(0, 9));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-500"), 100), Part(0, 99));
        assert_eq!(parse_range(Some("bytes=50-5000"), 100), Part(50, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=9-1"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=x-1"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Whole);
        assert_eq!(parse_range(Some("items=0-1"), 100), Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
    }
}
