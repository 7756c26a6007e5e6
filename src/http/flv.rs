//! HTTP-FLV play: `GET /PATH.flv` streams channel PATH as an endless FLV body, close-delimited
//! (`Connection: close`, no Content-Length).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use super::exchange::{json_response, simple_response};
use super::request::RequestHead;
use crate::hub::{
    CloseReason, Cursor, Format, Hub, RtmpInfo, Sink, StreamGuard, StreamHandle, StreamType, Wire,
};
use crate::net::{self, Continuation, SocketWire};
use crate::text::{log_safe, LOG_TEXT_MAX};

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

/// Play channel `channel_name` for the request `head` (GET or HEAD) on `socket`. Once the
/// viewer plays, the rest of its life is returned, to run on a fresh thread.
pub(crate) fn play_request(
    mut socket: TcpStream,
    peer: SocketAddr,
    head: &RequestHead,
    query: &str,
    channel_name: &str,
    hub: &Arc<Hub>,
) -> Option<Continuation> {
    let params = crate::text::query_pairs(query);
    let cursor_text = crate::text::last_value(&params, "cursor").unwrap_or("latest");
    let Some(cursor) = Cursor::parse(cursor_text) else {
        simple_response(
            &mut socket,
            400,
            "",
            "BadCursor: cursor must be latest, oldest, next or a duration like 5s\n",
        );
        return None;
    };
    if head.method == "HEAD" {
        match hub.channel_for_play(channel_name) {
            Some(_) => {
                let _ = socket.write_all(RESPONSE_HEAD.as_bytes());
            }
            None => not_found(&mut socket, peer, channel_name),
        }
        return None;
    }
    // With -rtmpcheckparams the stream exists from the start, as the controller is asked about
    // it; otherwise only once the channel is found (a 404 is no stream).
    let mut checked = None;
    if hub.channel(channel_name).is_none() && !hub.creates_missing_channels() {
        // Nothing to play, nothing to ask the controller about (HEAD says as much).
        not_found(&mut socket, peer, channel_name);
        return None;
    }
    if hub.settings.check_params {
        let (stream, mut guard) = new_stream(hub, peer);
        // The same check as an RTMP play: the controller sees the channel and the query.
        stream.set_rtmp_info(RtmpInfo {
            command: "play".into(),
            stream_name: channel_name.to_string(),
            params,
            ..RtmpInfo::default()
        });
        if let Err(reason) = hub.check_params(&stream) {
            log::info!(
                "http-flv {peer}: play of {} rejected ({})",
                log_safe(channel_name, LOG_TEXT_MAX),
                reason.as_str()
            );
            let body = serde_json::json!({
                "error": "Rejected",
                "detail": format!("play rejected by the controller ({})", reason.as_str()),
            });
            json_response(&mut socket, 403, &body.to_string());
            guard.set_reason(reason);
            return None;
        }
        checked = Some((stream, guard));
    }
    let Some(channel) = hub.channel_for_play(channel_name) else {
        not_found(&mut socket, peer, channel_name);
        if let Some((_, mut guard)) = checked {
            guard.set_reason(CloseReason::Rejected);
        }
        return None;
    };
    let (stream, mut guard) = checked.unwrap_or_else(|| new_stream(hub, peer));
    let started = play(
        socket,
        hub,
        &stream,
        channel_name,
        cursor,
        channel.has_audio_video(),
    );
    let log_closed = move |stream: &StreamHandle, reason: CloseReason| {
        log::debug!(
            "http-flv {peer}: stream {} closed ({})",
            stream.id(),
            reason.as_str()
        );
    };
    match started {
        Err(reason) => {
            log_closed(&stream, reason);
            guard.set_reason(reason);
            None
        }
        // While the socket keeps up the channel writes to it directly; the viewer's thread only
        // takes over when it backs up, and ends when the stream ends.
        Ok((wire, sink)) => Some(Continuation::new(move || {
            let reason = net::serve_silent_subscriber(&wire, &sink);
            wire.shutdown();
            log_closed(&stream, reason);
            guard.set_reason(reason);
        })),
    }
}

/// A new HTTP-FLV stream, and the guard that finishes it however this thread ends.
fn new_stream(hub: &Arc<Hub>, peer: SocketAddr) -> (Arc<StreamHandle>, StreamGuard) {
    let stream = hub.new_stream(StreamType::HttpFlv, net::peer_text(peer));
    let guard = StreamGuard::new(hub.clone(), stream.clone());
    (stream, guard)
}

fn not_found(socket: &mut TcpStream, peer: SocketAddr, channel_name: &str) {
    log::info!(
        "http-flv {peer}: no channel {}",
        log_safe(channel_name, LOG_TEXT_MAX)
    );
    simple_response(
        socket,
        404,
        "",
        &format!("channel {channel_name} not found\n"),
    );
}

const RESPONSE_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: no-cache\r\nConnection: close\r\nServer: joy4\r\n\r\n";

/// Answer the request and attach the viewer to the channel: its socket and sink.
fn play(
    socket: TcpStream,
    hub: &Hub,
    stream: &Arc<StreamHandle>,
    channel: &str,
    cursor: Cursor,
    (has_audio, has_video): (bool, bool),
) -> Result<(Arc<SocketWire>, Arc<Sink>), CloseReason> {
    let _ = socket.set_nodelay(true);
    let wire = Arc::new(SocketWire::new(socket));
    // Non-blocking: the channel splices batches to it (see net::stage).
    if let Err(e) = wire.prepare_subscriber() {
        return Err(net::close_reason(&e));
    }
    let closer = wire.clone();
    stream.set_closer(Box::new(move || closer.shutdown()));
    let mut head = RESPONSE_HEAD.as_bytes().to_vec();
    head.extend_from_slice(&crate::flv::file_header(has_audio, has_video));
    if let Err(e) = wire.write_all(&head) {
        return Err(net::close_reason(&e));
    }
    stream.add_bytes_out(head.len() as u64);
    let sink = Sink::new(stream.record().clone(), Format::Flv, wire.clone());
    if let Err(e) = hub.start_play_with(stream, channel, cursor, sink.clone()) {
        log::info!(
            "http-flv {}: play of {} failed: {e}",
            stream.remote_addr,
            log_safe(channel, LOG_TEXT_MAX)
        );
        return Err(CloseReason::ChannelClosed);
    }
    log::info!(
        "http-flv {}: stream {} plays channel {}",
        stream.remote_addr,
        stream.id(),
        log_safe(channel, LOG_TEXT_MAX)
    );
    Ok((wire, sink))
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
