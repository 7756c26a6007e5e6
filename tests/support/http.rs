//! A small HTTP/1.1 client: raw requests, heads, chunked bodies.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::net::find;
use super::{read_before, tcp_connect, StreamError};

#[derive(Debug, Clone)]
pub struct HttpHead {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl HttpHead {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub head: HttpHead,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn parse_head(raw: &[u8]) -> Result<HttpHead, String> {
    let text =
        std::str::from_utf8(raw).map_err(|_| format!("response head is not UTF-8: {raw:?}"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("").to_string();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP status line: {status_line:?}"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(HttpHead {
        version,
        status,
        reason,
        headers,
    })
}

/// Read a response head; returns it and the body bytes that came with it.
pub(super) fn read_head(
    sock: &mut TcpStream,
    timeout: Duration,
) -> Result<(HttpHead, Vec<u8>), StreamError> {
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            let head = parse_head(&buf[..i]).map_err(StreamError::Protocol)?;
            return Ok((head, buf[i + 4..].to_vec()));
        }
        if buf.len() > 64 * 1024 {
            return Err(StreamError::Protocol(
                "response head larger than 64 KiB".into(),
            ));
        }
        match read_before(sock, &mut tmp, deadline)? {
            0 => {
                return Err(StreamError::Closed(format!(
                    "EOF before the end of the response head (got {:?})",
                    String::from_utf8_lossy(&buf)
                )))
            }
            n => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
enum ChunkState {
    #[default]
    Size,
    Data(usize),
    DataEnd,
    Done,
}

/// Incremental decoder for `Transfer-Encoding: chunked`.
#[derive(Debug, Default)]
pub(super) struct Dechunk {
    state: ChunkState,
    raw: Vec<u8>,
}

impl Dechunk {
    pub(super) fn done(&self) -> bool {
        matches!(self.state, ChunkState::Done)
    }

    pub(super) fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.raw.extend_from_slice(data);
        let mut p = 0;
        loop {
            match self.state {
                ChunkState::Size => {
                    let Some(i) = find(&self.raw[p..], b"\r\n") else {
                        if self.raw.len() - p > 1024 {
                            return Err("chunk size line too long".into());
                        }
                        break;
                    };
                    let line = String::from_utf8_lossy(&self.raw[p..p + i]).into_owned();
                    let hex = line.split(';').next().unwrap_or("").trim();
                    let n = usize::from_str_radix(hex, 16)
                        .map_err(|_| format!("bad chunk size line {line:?}"))?;
                    p += i + 2;
                    self.state = if n == 0 {
                        ChunkState::Done
                    } else {
                        ChunkState::Data(n)
                    };
                }
                ChunkState::Data(n) => {
                    let avail = self.raw.len() - p;
                    if avail == 0 {
                        break;
                    }
                    let k = n.min(avail);
                    out.extend_from_slice(&self.raw[p..p + k]);
                    p += k;
                    self.state = if k == n {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(n - k)
                    };
                }
                ChunkState::DataEnd => {
                    if self.raw.len() - p < 2 {
                        break;
                    }
                    if &self.raw[p..p + 2] != b"\r\n" {
                        return Err("chunk data not followed by CRLF".into());
                    }
                    p += 2;
                    self.state = ChunkState::Size;
                }
                ChunkState::Done => break,
            }
        }
        self.raw.drain(..p);
        Ok(())
    }
}

/// Send `request` as is and read one response (body by Content-Length, chunked, or until EOF; at
/// most 1 MiB). For non-streaming answers (404, 405, 400, OPTIONS).
pub fn http_exchange(
    addr: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> Result<HttpResponse, String> {
    let mut sock = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    sock.write_all(request)
        .map_err(|e| format!("write request: {e}"))?;
    let (head, mut rest) =
        read_head(&mut sock, timeout).map_err(|e| format!("reading response head: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut body = Vec::new();
    let mut dechunk = if head.is_chunked() {
        Some(Dechunk::default())
    } else {
        None
    };
    let content_length: Option<usize> = head
        .header("content-length")
        .and_then(|v| v.trim().parse().ok());
    let mut tmp = [0u8; 8192];
    loop {
        match &mut dechunk {
            Some(d) => {
                d.push(&rest, &mut body)?;
                if d.done() {
                    break;
                }
            }
            None => body.extend_from_slice(&rest),
        }
        rest.clear();
        if let Some(n) = content_length {
            if body.len() >= n {
                body.truncate(n);
                break;
            }
        }
        if body.len() > 1 << 20 {
            break;
        }
        match read_before(&sock, &mut tmp, deadline) {
            Ok(0) => break,
            Ok(n) => rest.extend_from_slice(&tmp[..n]),
            // A close-delimited body that did not close: return what came.
            Err(StreamError::Timeout) if content_length.is_none() && dechunk.is_none() => break,
            Err(StreamError::Timeout) => {
                return Err(format!("timed out reading the body of {head:?}"))
            }
            Err(_) => break,
        }
    }
    Ok(HttpResponse { head, body })
}

/// `GET PATH` with `Connection: close`.
fn get_request(addr: SocketAddr, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: joy4-tests\r\nConnection: close\r\n\r\n")
}

/// `GET PATH` with `Connection: close`: for answers that end (not for a live stream).
pub fn http_get(addr: SocketAddr, path: &str) -> Result<HttpResponse, String> {
    http_exchange(
        addr,
        get_request(addr, path).as_bytes(),
        Duration::from_secs(5),
    )
}

/// `GET PATH`, read only the status line and headers, then drop the connection.
pub fn http_status(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let mut sock = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    sock.write_all(get_request(addr, path).as_bytes())
        .map_err(|e| format!("write request: {e}"))?;
    let (head, _) = read_head(&mut sock, Duration::from_secs(5)).map_err(String::from)?;
    Ok(head.status)
}

/// `HEAD PATH`: the status only. Asks whether an HTTP-FLV channel is there without playing it
/// (so without a `streamCheckParams` under `-rtmpcheckparams`).
pub fn http_head_status(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let req = format!("HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: joy4-tests\r\nConnection: close\r\n\r\n");
    let mut sock = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    sock.write_all(req.as_bytes())
        .map_err(|e| format!("write request: {e}"))?;
    let (head, _) = read_head(&mut sock, Duration::from_secs(5)).map_err(String::from)?;
    Ok(head.status)
}
