//! The handle a connection holds while its stream lives: the record plus its wiring (the channel
//! it publishes to or plays from, a player's sink). The registry and the connection hold the
//! handle, the channel never does, so no reference cycle forms.

use std::ops::Deref;
use std::sync::Arc;

use parking_lot::Mutex;

use super::channel::{Channel, FlushHold};
use super::sink::Sink;
use super::stats::StreamStats;
use super::stream::Stream;
use super::types::CloseReason;
use crate::media::Packet;

/// What a connection holds while its stream lives: the record and its wiring. The registry
/// holds the same handle, and rewires it for the API (publisher switch, subscriber move).
pub struct StreamHandle {
    stream: Arc<Stream>,
    channel: Mutex<Option<Arc<Channel>>>,
    /// A player's output, kept so the player can be moved between channels and ended.
    sink: Mutex<Option<Arc<Sink>>>,
}

impl Deref for StreamHandle {
    type Target = Stream;

    fn deref(&self) -> &Stream {
        &self.stream
    }
}

impl std::fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.stream.fmt(f)
    }
}

impl StreamHandle {
    pub(crate) fn new(stream: Stream) -> StreamHandle {
        StreamHandle {
            stream: Arc::new(stream),
            channel: Mutex::new(None),
            sink: Mutex::new(None),
        }
    }

    /// The record, for what outlives or does not need the wiring (channels, sinks).
    pub fn record(&self) -> &Arc<Stream> {
        &self.stream
    }

    /// The channel this stream publishes to or plays from.
    pub fn channel(&self) -> Option<Arc<Channel>> {
        self.channel.lock().clone()
    }

    pub(crate) fn set_channel(&self, channel: Option<Arc<Channel>>) -> Option<Arc<Channel>> {
        std::mem::replace(&mut *self.channel.lock(), channel)
    }

    pub(crate) fn sink(&self) -> Option<Arc<Sink>> {
        self.sink.lock().clone()
    }

    pub(crate) fn set_sink(&self, sink: Option<Arc<Sink>>) -> Option<Arc<Sink>> {
        std::mem::replace(&mut *self.sink.lock(), sink)
    }

    /// A publishing connection's packet: note it, and hand it to the channel if this stream is
    /// that channel's current source (otherwise it is discarded, e.g. after a switch).
    pub fn publish_packet(&self, packet: Packet) {
        self.stream.observe_packet(&packet);
        if let Some(channel) = self.channel() {
            channel.push(&self.stream, packet);
        }
    }

    /// Start a burst of `publish_packet`s (what one read brought): the channel writes them to
    /// its subscribers together when the returned hold is dropped.
    pub fn hold_flushes(&self) -> Option<FlushHold> {
        self.channel().map(|c| c.hold_flushes())
    }

    /// Ask the connection to end; a player's sink stops taking frames at once.
    pub fn request_close(&self, reason: CloseReason) {
        self.stream.note_close_reason(reason);
        if let Some(sink) = self.sink() {
            sink.end(reason);
        }
        self.stream.request_close(reason);
    }

    pub fn stats(&self) -> StreamStats {
        let channel = self.channel();
        self.stream
            .stats(channel.as_deref().map(|c| (c.id.as_str(), c.media_info())))
    }
}
