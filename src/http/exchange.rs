//! A media-port request on its socket: the head read within the setup timeout, and the short
//! plain-text and JSON answers every route of the media port sends.

use std::io::Write;
use std::net::TcpStream;
use std::time::Instant;

use super::request::{parse_head, HeadError, RequestHead, MAX_HEAD_LEN};
use crate::net;

/// Read the request head within the setup timeout.
pub(crate) fn read_head(socket: &mut TcpStream) -> Result<RequestHead, (u16, String)> {
    let deadline = Instant::now() + net::SETUP_TIMEOUT;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        match parse_head(&buf) {
            Ok(Some((head, _))) => return Ok(head),
            Ok(None) => {}
            Err(HeadError::TooLarge) => {
                return Err((431, format!("request head over {MAX_HEAD_LEN} bytes")))
            }
            Err(e) => return Err((400, e.to_string())),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err((408, "request head not received within 10 s".into()));
        }
        match net::read_timeout(socket, &mut chunk, Some(left), false) {
            Ok(0) => return Err((0, "peer closed before sending a request".into())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if net::is_timeout(&e) => {
                return Err((408, "request head not received within 10 s".into()))
            }
            Err(e) => return Err((0, e.to_string())),
        }
    }
}

pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// A short plain-text response, then close.
pub(crate) fn simple_response(
    socket: &mut TcpStream,
    status: u16,
    extra_headers: &str,
    body: &str,
) {
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        reason_phrase(status),
        body.len()
    );
    let _ = socket.write_all(response.as_bytes());
}

/// A short JSON response (`body` is already JSON), then close.
pub(crate) fn json_response(socket: &mut TcpStream, status: u16, body: &str) {
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n{body}",
        reason_phrase(status),
        body.len()
    );
    let _ = socket.write_all(response.as_bytes());
}
