//! Pieces of one remote connection shared by pulls and pushes: its media clock, its socket (so a
//! close request can wake a blocked read), its byte counts, the client's timeouts, and the
//! relay stream's stat.

use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::amf0::Amf0Value;
use crate::hub::{CloseReason, ConnectObject, RtmpInfo, Stream, StreamHandle};
use crate::net;
use crate::rtmp::client::{ClientOptions, RtmpClient, RtmpUrl};

/// Bound of connecting, the handshake, connect and play/publish (each).
pub(super) const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// A remote that sends no media for this long is dropped and reconnected.
pub(super) const MEDIA_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a waiting proxy looks at close requests and its edge channel.
pub(super) const TICK: Duration = Duration::from_millis(250);

/// When media started and last arrived on one connection.
pub(super) struct MediaClock {
    connected: Instant,
    first: Option<Instant>,
    last: Instant,
}

impl MediaClock {
    pub(super) fn new() -> MediaClock {
        let now = Instant::now();
        MediaClock {
            connected: now,
            first: None,
            last: now,
        }
    }

    pub(super) fn note(&mut self) {
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = now;
    }

    pub(super) fn media_for(&self) -> Duration {
        self.first
            .map(|first| self.last.duration_since(first))
            .unwrap_or_default()
    }

    pub(super) fn silent_for(&self) -> Duration {
        self.last.max(self.connected).elapsed()
    }
}

/// The current connection's socket, shut down by the stream's closer (`/stream/close`) so a
/// blocked read wakes up at once.
#[derive(Clone)]
pub(super) struct SocketSlot(Arc<Mutex<Option<TcpStream>>>);

impl SocketSlot {
    pub(super) fn install(stream: &Arc<StreamHandle>) -> SocketSlot {
        let slot = SocketSlot(Arc::new(Mutex::new(None)));
        let closer = slot.clone();
        stream.set_closer(Box::new(move || {
            if let Some(socket) = closer.0.lock().as_ref() {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }));
        slot
    }

    /// Remember the client's socket; `Err` if a close was requested meanwhile.
    pub(super) fn attach(&self, client: &RtmpClient, stream: &Stream) -> Result<(), CloseReason> {
        if let Ok(socket) = client.try_clone_socket() {
            *self.0.lock() = Some(socket);
        }
        match stream.close_requested() {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    pub(super) fn detach(&self) {
        self.0.lock().take();
    }
}

/// Bytes a client moved since the last call, added to the stream's counters.
#[derive(Default)]
pub(super) struct ByteCounts {
    read: u64,
    written: u64,
}

impl ByteCounts {
    pub(super) fn account(&mut self, client: &RtmpClient, stream: &Stream) {
        let (read, written) = (client.bytes_read(), client.bytes_written());
        if read > self.read {
            stream.add_bytes_in(read - self.read);
        }
        if written > self.written {
            stream.add_bytes_out(written - self.written);
        }
        self.read = read;
        self.written = written;
    }
}

pub(super) fn client_options() -> ClientOptions {
    ClientOptions {
        setup_timeout: SETUP_TIMEOUT,
        read_timeout: Some(TICK),
        write_timeout: net::WRITE_TIMEOUT,
    }
}

/// The `rtmp` part of a proxy stream's stat: what it does and where.
pub(super) fn rtmp_info(command: &str, url: &RtmpUrl) -> RtmpInfo {
    RtmpInfo {
        command: command.to_string(),
        connect_params: Some(ConnectObject::new(&Amf0Value::Object(vec![
            ("app".into(), Amf0Value::String(url.app.clone())),
            ("tcUrl".into(), Amf0Value::String(url.tc_url.clone())),
        ]))),
        stream_name: url.stream_name().to_string(),
        params: crate::text::query_pairs(url.query()),
    }
}
