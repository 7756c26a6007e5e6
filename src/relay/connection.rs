//! Pieces of one remote connection shared by pulls and pushes: its media clock, its socket (so a
//! close request can wake a blocked read), its byte counts, and the client's timeouts.

use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{SETUP_TIMEOUT, TICK};
use crate::hub::{CloseReason, Stream, StreamHandle};
use crate::net;
use crate::rtmp::client::{ClientOptions, RtmpClient};

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
