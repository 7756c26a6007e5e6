//! A player's own writer thread.

use std::sync::Arc;

use crate::hub::{CloseReason, Sink, Stream};
use crate::rtmp::session;

/// A player's own thread: idle while the channel writes to the socket directly; writes the
/// backlog while the socket is backed up. When the stream ends it says goodbye and shuts the
/// socket down, which also ends the connection's reader.
pub(super) fn play_owner(sink: Arc<Sink>, stream: Arc<Stream>, stream_id: u32) {
    // Should this thread panic, the socket is shut all the same, which ends the reader (and its
    // guard finishes the stream).
    let _shut = ShutdownOnDrop(sink.clone());
    let reason = sink.run_owner();
    stream.note_close_reason(reason);
    if reason == CloseReason::ChannelClosed {
        let _ = sink.write_final(&session::play_end_bytes(stream_id));
    }
    sink.shutdown();
}

struct ShutdownOnDrop(Arc<Sink>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}
