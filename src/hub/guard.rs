//! [`StreamGuard`]: the end of a connection's stream, whichever way its thread ends.

use std::sync::Arc;

use super::counters::ServerCounters;
use super::handle::StreamHandle;
use super::registry::Hub;
use super::types::CloseReason;

/// Finishes its stream (`Hub::finish_stream`) when dropped: when the connection's thread returns,
/// and also when it panics, so a crashed publisher never keeps its channel. A panic is logged
/// with the peer and counted in `hub.counters.panics`.
pub struct StreamGuard {
    hub: Arc<Hub>,
    stream: Arc<StreamHandle>,
    reason: CloseReason,
}

impl StreamGuard {
    /// Until `set_reason` says otherwise, the stream ends as `Error`.
    pub fn new(hub: Arc<Hub>, stream: Arc<StreamHandle>) -> StreamGuard {
        StreamGuard {
            hub,
            stream,
            reason: CloseReason::Error,
        }
    }

    pub fn stream(&self) -> &Arc<StreamHandle> {
        &self.stream
    }

    /// Why the stream ends, when its thread ends normally.
    pub fn set_reason(&mut self, reason: CloseReason) {
        self.reason = reason;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut reason = self.reason;
        if std::thread::panicking() {
            ServerCounters::add(&self.hub.counters.panics);
            log::error!(
                "{}: the thread of stream {} panicked; the stream is closed",
                // A relay's remote address is its URL, from an API request.
                crate::text::log_safe(&self.stream.remote_addr, crate::text::LOG_TEXT_MAX),
                self.stream.id()
            );
            reason = CloseReason::Error;
        }
        self.hub.finish_stream(&self.stream, reason);
    }
}
