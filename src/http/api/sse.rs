//! `GET /events`: the hub's events as Server-Sent Events, on the reader's own connection thread.
//!
//! ```text
//! id: 7
//! event: streamConnected
//! data: {"id":"3","type":"rtmp",…}        (the JSON the callback posts, on one line)
//!
//! ```
//! A comment line (`: keep-alive`) every [`KEEP_ALIVE`] keeps proxies and the reader's own
//! timeouts from closing an idle stream; `: dropped N events` tells a reader that fell behind
//! what it lost. Writes wait at most the write timeout: a reader that stops reading is closed.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use super::handlers::Api;
use crate::http::events::SseEvent;
use crate::net;

/// A comment is sent when nothing else was for this long.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an idle stream checks whether its reader is still there.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long an EventSource waits before reconnecting (the `retry:` field), in milliseconds.
const RETRY_MS: u32 = 2000;

/// Stream events to `socket` until the reader leaves or stops reading.
pub(super) fn run(socket: TcpStream, peer: SocketAddr, api: &Api, last_event_id: Option<u64>) {
    let reader = api.events.subscribe(last_event_id);
    match stream(&socket, &reader, last_event_id.is_some()) {
        Ok(()) => log::debug!("api {peer}: event stream reader left"),
        Err(e) if net::is_peer_gone(&e) => log::debug!("api {peer}: event stream reader left"),
        Err(e) => log::info!("api {peer}: event stream ended: {e}"),
    }
}

fn stream(
    socket: &TcpStream,
    reader: &crate::http::events::EventReader,
    resumed: bool,
) -> io::Result<()> {
    let mut out = socket;
    out.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\
          Cache-Control: no-store\r\nAccess-Control-Allow-Origin: *\r\n\
          X-Accel-Buffering: no\r\nConnection: close\r\n\r\n",
    )?;
    let mut text = format!("retry: {RETRY_MS}\n\n");
    if resumed && reader.gap {
        text.push_str(": some events since Last-Event-ID are no longer kept\n\n");
    }
    for event in &reader.backlog {
        push_event(&mut text, event);
    }
    out.write_all(text.as_bytes())?;
    let mut last_write = Instant::now();
    let mut dropped_told = 0;
    loop {
        match reader.next(CHECK_EVERY) {
            Ok(event) => {
                let mut text = String::new();
                push_event(&mut text, &event);
                // Send what else is already waiting in the same write.
                while let Ok(more) = reader.next(Duration::ZERO) {
                    push_event(&mut text, &more);
                }
                let dropped = reader.dropped();
                if dropped > dropped_told {
                    text.push_str(&format!(": dropped {} events\n\n", dropped - dropped_told));
                    dropped_told = dropped;
                }
                out.write_all(text.as_bytes())?;
                last_write = Instant::now();
            }
            Err(RecvTimeoutError::Timeout) => {
                if reader_left(socket)? {
                    return Ok(());
                }
                if last_write.elapsed() >= KEEP_ALIVE {
                    out.write_all(b": keep-alive\n\n")?;
                    last_write = Instant::now();
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

fn push_event(text: &mut String, event: &SseEvent) {
    // The data is one line of JSON: serde_json escapes line breaks inside strings.
    text.push_str(&format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        event.id, event.name, event.data
    ));
}

/// Whether the reader has closed its side (what it sends otherwise is read and ignored).
fn reader_left(socket: &TcpStream) -> io::Result<bool> {
    let mut scratch = [0u8; 1024];
    while net::wait_ready(socket.as_raw_fd(), libc::POLLIN, Some(Duration::ZERO))? {
        match net::read_timeout(socket, &mut scratch, Some(Duration::from_millis(1)), false) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if net::is_timeout(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
