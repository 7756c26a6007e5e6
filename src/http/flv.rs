//! HTTP-FLV play: `GET /PATH.flv` streams channel PATH as an endless FLV body.
//!
//! The response is written by our own code, not tiny_http: its `Response` buffers bodies of unknown
//! length (HTTP/1.0) or holds bytes back (chunked), and a live body must reach the player as it comes.
//! The body is close-delimited (`Connection: close`, no Content-Length).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use super::request::{parse_head, HeadError, RequestHead, MAX_HEAD_LEN};
use crate::hub::{CloseReason, Cursor, Format, Hub, Sink, StreamHandle, StreamType, Wire};
use crate::net::{self, SocketWire};

/// Accept HTTP-FLV connections forever, a thread each.
pub fn serve(listener: TcpListener, hub: Arc<Hub>) {
    net::accept_loop(listener, "flv", move |socket, peer| {
        handle_connection(socket, peer, hub.clone())
    });
}

/// Read the request head within the setup timeout.
fn read_head(socket: &mut TcpStream) -> Result<RequestHead, (u16, String)> {
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

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// A short plain-text response, then close.
fn simple_response(socket: &mut TcpStream, status: u16, extra_headers: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        reason_phrase(status),
        body.len()
    );
    let _ = socket.write_all(response.as_bytes());
}

/// `/live/abc.flv` -> `live/abc`; `None` for paths that are not `.flv`.
pub fn channel_of_path(path: &str) -> Option<String> {
    let name = path.strip_prefix('/')?.strip_suffix(".flv")?;
    let name = name.trim_matches('/');
    (!name.is_empty()
        && !name
            .split('/')
            .any(|seg| seg.is_empty() || seg == ".." || seg == "."))
    .then(|| name.to_string())
}

fn handle_connection(mut socket: TcpStream, peer: SocketAddr, hub: Arc<Hub>) {
    let _ = socket.set_write_timeout(Some(net::WRITE_TIMEOUT));
    let head = match read_head(&mut socket) {
        Ok(head) => head,
        Err((0, why)) => {
            log::debug!("http-flv {peer}: {why}");
            return;
        }
        Err((status, why)) => {
            log::warn!("http-flv {peer}: {why}");
            simple_response(&mut socket, status, "", &format!("{why}\n"));
            return;
        }
    };
    let (path, query) = head.path_and_query();
    log::debug!("http-flv {peer}: {} {}", head.method, head.target);
    match head.method.as_str() {
        "OPTIONS" => {
            let allow_headers = head
                .header("Access-Control-Request-Headers")
                .map(|h| format!("Access-Control-Allow-Headers: {h}\r\n"))
                .unwrap_or_default();
            simple_response(
                &mut socket,
                204,
                &format!("Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\nAccess-Control-Max-Age: 86400\r\n{allow_headers}"),
                "",
            );
            return;
        }
        "GET" | "HEAD" => {}
        _ => {
            simple_response(
                &mut socket,
                405,
                "Allow: GET, HEAD, OPTIONS\r\n",
                "method not allowed\n",
            );
            return;
        }
    }
    let Some(channel_name) = channel_of_path(&path) else {
        simple_response(&mut socket, 404, "", "not found: use /CHANNEL.flv\n");
        return;
    };
    let params = crate::text::query_pairs(query);
    let cursor_text = crate::text::last_value(&params, "cursor").unwrap_or("latest");
    let Some(cursor) = Cursor::parse(cursor_text) else {
        simple_response(
            &mut socket,
            400,
            "",
            "BadCursor: cursor must be latest, oldest, next or a duration like 5s\n",
        );
        return;
    };
    let Some(channel) = hub.channel_for_play(&channel_name) else {
        log::info!("http-flv {peer}: no channel {channel_name}");
        simple_response(
            &mut socket,
            404,
            "",
            &format!("channel {channel_name} not found\n"),
        );
        return;
    };
    if head.method == "HEAD" {
        let _ = socket.write_all(RESPONSE_HEAD.as_bytes());
        return;
    }
    let stream = hub.new_stream(StreamType::HttpFlv, peer.to_string());
    let reason = play(
        socket,
        &hub,
        &stream,
        &channel_name,
        cursor,
        channel.has_audio_video(),
    );
    log::debug!(
        "http-flv {peer}: stream {} closed ({})",
        stream.id(),
        reason.as_str()
    );
    hub.finish_stream(&stream, reason);
}

const RESPONSE_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: no-cache\r\nConnection: close\r\nServer: joy4\r\n\r\n";

fn play(
    socket: TcpStream,
    hub: &Hub,
    stream: &Arc<StreamHandle>,
    channel: &str,
    cursor: Cursor,
    (has_audio, has_video): (bool, bool),
) -> CloseReason {
    let _ = socket.set_nodelay(true);
    let wire = Arc::new(SocketWire::new(socket));
    // Non-blocking: the channel splices batches to it (see net::stage).
    if let Err(e) = wire.make_nonblocking() {
        return net::close_reason(&e);
    }
    let closer = wire.clone();
    stream.set_closer(Box::new(move || closer.shutdown()));
    let mut head = RESPONSE_HEAD.as_bytes().to_vec();
    head.extend_from_slice(&crate::flv::file_header(has_audio, has_video));
    if let Err(e) = wire.write_all(&head) {
        return net::close_reason(&e);
    }
    stream.add_bytes_out(head.len() as u64);
    let sink = Sink::new(stream.record().clone(), Format::Flv, wire.clone());
    if let Err(e) = hub.start_play_with(stream, channel, cursor, sink.clone()) {
        log::info!(
            "http-flv {}: play of {channel} failed: {e}",
            stream.remote_addr
        );
        return CloseReason::ChannelClosed;
    }
    log::info!(
        "http-flv {}: stream {} plays channel {channel}",
        stream.remote_addr,
        stream.id()
    );
    // While the socket keeps up the channel writes to it directly; this thread only takes over
    // when it backs up, and returns when the stream ends.
    let reason = sink.run_owner();
    wire.shutdown();
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flv_paths_name_channels() {
        assert_eq!(channel_of_path("/1.flv").as_deref(), Some("1"));
        assert_eq!(
            channel_of_path("/live/abc.flv").as_deref(),
            Some("live/abc")
        );
        assert_eq!(channel_of_path("/live/abc"), None);
        assert_eq!(channel_of_path("/.flv"), None);
        assert_eq!(channel_of_path("/a//b.flv"), None);
        assert_eq!(channel_of_path("/../x.flv"), None);
    }
}
