//! Reading one request off an API connection, bounded in size and time: the head (at most
//! [`MAX_HEAD`] bytes), then the body (at most [`MAX_BODY`] bytes, by `Content-Length` or
//! chunked), all before one deadline. Bytes past a request stay for the next one (keep-alive).

use std::io;
use std::net::TcpStream;
use std::time::Instant;

use super::{MAX_BODY, MAX_HEAD};
use crate::http::request::{parse_head, HeadError, RequestHead};
use crate::net;

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ReadError {
    /// The peer closed, or left an idle keep-alive connection: close without an answer.
    Gone(String),
    /// The deadline passed with the request incomplete: 408.
    TimedOut,
    /// No end of the head within [`MAX_HEAD`] bytes: 431.
    HeadTooLarge,
    /// More than [`MAX_BODY`] bytes of body: 413.
    BodyTooLarge,
    /// Not HTTP as we take it: 400.
    Malformed(String),
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Length(usize),
    /// `Content-Length` above [`MAX_BODY`] (however large): never read.
    TooLong,
    Chunked,
}

impl Framing {
    /// Read the framing headers. Both `Content-Length` and `Transfer-Encoding`, or conflicting
    /// lengths, are refused: a proxy in front might read the request differently.
    pub(super) fn of(head: &RequestHead) -> Result<Framing, ReadError> {
        let lengths: Vec<&str> = head
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.as_str())
            .collect();
        let chunked = match head.header("transfer-encoding") {
            None => false,
            Some(te) if te.eq_ignore_ascii_case("chunked") => true,
            Some(te) => {
                return Err(ReadError::Malformed(format!(
                    "Transfer-Encoding {te:?} is not supported"
                )))
            }
        };
        match (lengths.as_slice(), chunked) {
            ([], false) => Ok(Framing::Length(0)),
            ([], true) => Ok(Framing::Chunked),
            (_, true) => Err(ReadError::Malformed(
                "both Content-Length and Transfer-Encoding".into(),
            )),
            ([first, rest @ ..], false) => {
                if rest.iter().any(|v| v != first) {
                    return Err(ReadError::Malformed("conflicting Content-Length".into()));
                }
                if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ReadError::Malformed(format!(
                        "bad Content-Length {first:?}"
                    )));
                }
                match first.parse::<usize>() {
                    Ok(n) if n <= MAX_BODY => Ok(Framing::Length(n)),
                    _ => Ok(Framing::TooLong),
                }
            }
        }
    }

    /// Whether body bytes may follow the head (and, if the request is answered without reading
    /// them, the connection must close).
    pub(super) fn has_body(self) -> bool {
        !matches!(self, Framing::Length(0))
    }
}

/// One API connection and the bytes read but not yet used.
pub(super) struct Connection {
    pub(super) socket: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    pub(super) fn new(socket: TcpStream) -> Connection {
        Connection {
            socket,
            buf: Vec::new(),
        }
    }

    /// Read more bytes before `deadline`; `Ok(0)` at end of stream.
    fn fill(&mut self, deadline: Instant) -> Result<usize, ReadError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::TimedOut);
        }
        let mut chunk = [0u8; 16 * 1024];
        match net::read_timeout(&self.socket, &mut chunk, Some(left), false) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e) if net::is_timeout(&e) => Err(ReadError::TimedOut),
            Err(e) => Err(ReadError::Gone(e.to_string())),
        }
    }

    /// The next request head. `idle_ok`: a connection that sends nothing at all before the
    /// deadline is closed without a 408 (an idle keep-alive connection).
    pub(super) fn read_head(
        &mut self,
        deadline: Instant,
        idle_ok: bool,
    ) -> Result<RequestHead, ReadError> {
        loop {
            match parse_head(&self.buf) {
                Ok(Some((head, used))) => {
                    self.buf.drain(..used);
                    return Ok(head);
                }
                Ok(None) => {}
                Err(HeadError::TooLarge) => return Err(ReadError::HeadTooLarge),
                Err(HeadError::Malformed(what)) => return Err(ReadError::Malformed(what.into())),
            }
            let had_bytes = !self.buf.is_empty();
            match self.fill(deadline) {
                Ok(0) if had_bytes => {
                    return Err(ReadError::Gone("peer closed inside a request head".into()))
                }
                Ok(0) => return Err(ReadError::Gone("peer closed".into())),
                Ok(_) => {}
                Err(ReadError::TimedOut) if idle_ok && !had_bytes => {
                    return Err(ReadError::Gone("idle".into()))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The body as `framing` delimits it, before `deadline`.
    pub(super) fn read_body(
        &mut self,
        framing: Framing,
        deadline: Instant,
    ) -> Result<Vec<u8>, ReadError> {
        match framing {
            Framing::TooLong => Err(ReadError::BodyTooLarge),
            Framing::Length(n) => {
                while self.buf.len() < n {
                    if self.fill(deadline)? == 0 {
                        return Err(ReadError::Gone("peer closed inside a body".into()));
                    }
                }
                Ok(self.buf.drain(..n).collect())
            }
            Framing::Chunked => {
                let mut decoder = Chunked::default();
                loop {
                    match decoder.feed(&self.buf)? {
                        Some(used) => {
                            self.buf.drain(..used);
                            return Ok(decoder.body);
                        }
                        None => {
                            if self.fill(deadline)? == 0 {
                                return Err(ReadError::Gone("peer closed inside a body".into()));
                            }
                        }
                    }
                }
            }
        }
    }

    /// After an answer that ends the connection: stop sending, then read and discard what the
    /// peer still sends for a moment, so that closing with unread bytes does not reset the
    /// connection before the peer has read the answer.
    pub(super) fn linger(mut self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            self.buf.clear();
            match self.fill(deadline) {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    }
}

/// How long [`Connection::linger`] waits for the peer to close, and how much it reads meanwhile.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_BYTES: usize = 8 * MAX_BODY;

/// A chunk-size line longer than this is refused.
const MAX_CHUNK_LINE: usize = 1024;

#[derive(Debug, Default)]
enum ChunkState {
    #[default]
    Size,
    Data(usize),
    DataEnd,
    Trailers(usize),
}

/// An incremental decoder of a chunked body, fed the connection's buffer as it grows.
#[derive(Debug, Default)]
struct Chunked {
    state: ChunkState,
    /// Where in the buffer the next unread piece starts.
    pos: usize,
    body: Vec<u8>,
}

impl Chunked {
    /// Advance over `buf`; `Some(bytes used)` once the body and its trailers are complete.
    fn feed(&mut self, buf: &[u8]) -> Result<Option<usize>, ReadError> {
        loop {
            let rest = &buf[self.pos.min(buf.len())..];
            match self.state {
                ChunkState::Size | ChunkState::Trailers(_) => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > MAX_CHUNK_LINE {
                            return Err(ReadError::Malformed("chunk line too long".into()));
                        }
                        return Ok(None);
                    };
                    let line = &rest[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    self.pos += nl + 1;
                    if let ChunkState::Trailers(seen) = self.state {
                        if line.is_empty() {
                            return Ok(Some(self.pos));
                        }
                        let seen = seen + nl + 1;
                        if seen > MAX_HEAD {
                            return Err(ReadError::Malformed("trailers too long".into()));
                        }
                        self.state = ChunkState::Trailers(seen);
                        continue;
                    }
                    if nl > MAX_CHUNK_LINE {
                        return Err(ReadError::Malformed("chunk line too long".into()));
                    }
                    let size = chunk_size(line)?;
                    if size == 0 {
                        self.state = ChunkState::Trailers(0);
                    } else if size > MAX_BODY - self.body.len() {
                        return Err(ReadError::BodyTooLarge);
                    } else {
                        self.state = ChunkState::Data(size);
                    }
                }
                ChunkState::Data(left) => {
                    if rest.is_empty() {
                        return Ok(None);
                    }
                    let take = left.min(rest.len());
                    self.body.extend_from_slice(&rest[..take]);
                    self.pos += take;
                    self.state = if take == left {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - take)
                    };
                }
                ChunkState::DataEnd => match rest {
                    [] | [b'\r'] => return Ok(None),
                    [b'\n', ..] => {
                        self.pos += 1;
                        self.state = ChunkState::Size;
                    }
                    [b'\r', b'\n', ..] => {
                        self.pos += 2;
                        self.state = ChunkState::Size;
                    }
                    _ => {
                        return Err(ReadError::Malformed(
                            "chunk data not followed by CRLF".into(),
                        ))
                    }
                },
            }
        }
    }
}

/// The hex size of a chunk-size line (extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> Result<usize, ReadError> {
    let hex = line.split(|&b| b == b';').next().unwrap_or_default();
    let hex = std::str::from_utf8(hex).unwrap_or_default().trim();
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ReadError::Malformed(format!("bad chunk size {hex:?}")));
    }
    // A size that does not fit is surely too large.
    usize::from_str_radix(hex, 16).map_err(|_| ReadError::BodyTooLarge)
}

/// Whether an I/O error of a response write just means the peer left.
pub(super) fn is_quiet(e: &io::Error) -> bool {
    net::is_peer_gone(e) || net::is_timeout(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "POST".into(),
            target: "/".into(),
            version: "HTTP/1.1".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn framing_is_read_strictly() {
        assert_eq!(Framing::of(&head(&[])), Ok(Framing::Length(0)));
        assert_eq!(
            Framing::of(&head(&[("Content-Length", "12")])),
            Ok(Framing::Length(12))
        );
        for absurd in ["1048577", "100000000000000", "99999999999999999999999999"] {
            assert_eq!(
                Framing::of(&head(&[("content-length", absurd)])),
                Ok(Framing::TooLong)
            );
        }
        assert_eq!(
            Framing::of(&head(&[("Transfer-Encoding", "chunked")])),
            Ok(Framing::Chunked)
        );
        for bad in [
            &[("Content-Length", "-1")][..],
            &[("Content-Length", "1"), ("Content-Length", "2")],
            &[("Content-Length", "1"), ("Transfer-Encoding", "chunked")],
            &[("Transfer-Encoding", "gzip, chunked")],
            &[("Content-Length", "")],
        ] {
            assert!(
                matches!(Framing::of(&head(bad)), Err(ReadError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    fn decode_in_pieces(raw: &[u8], piece: usize) -> Result<(Vec<u8>, usize), ReadError> {
        let mut d = Chunked::default();
        for end in (piece..raw.len() + piece).step_by(piece) {
            if let Some(used) = d.feed(&raw[..end.min(raw.len())])? {
                return Ok((d.body, used));
            }
        }
        Err(ReadError::Gone("incomplete".into()))
    }

    #[test]
    fn chunked_bodies_decode_however_they_arrive() {
        let raw = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\nNEXT";
        for piece in [1, 2, 3, 7, raw.len()] {
            let (body, used) = decode_in_pieces(raw, piece).unwrap();
            assert_eq!(body, b"hello world");
            assert_eq!(&raw[used..], b"NEXT", "piece {piece}");
        }
        let bare = b"3\nabc\n0\n\n";
        assert_eq!(decode_in_pieces(bare, 1).unwrap().0, b"abc");
    }

    #[test]
    fn chunked_bodies_are_bounded() {
        let huge = b"ffffffffffffffff\r\n";
        assert_eq!(decode_in_pieces(huge, 4), Err(ReadError::BodyTooLarge));
        let mut many = Vec::new();
        for _ in 0..=MAX_BODY / 4096 {
            many.extend_from_slice(b"1000\r\n");
            many.extend_from_slice(&[b'x'; 4096]);
            many.extend_from_slice(b"\r\n");
        }
        assert_eq!(decode_in_pieces(&many, 65536), Err(ReadError::BodyTooLarge));
        let long_line = vec![b'1'; MAX_CHUNK_LINE + 2];
        assert!(matches!(
            decode_in_pieces(&long_line, 100),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            decode_in_pieces(b"zz\r\n", 1),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            decode_in_pieces(b"1\r\nab\r\n", 1),
            Err(ReadError::Malformed(_))
        ));
    }
}
