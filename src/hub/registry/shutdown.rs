//! The server's shutdown, as the hub sees it: every stream and channel closed with a reason,
//! and every close reported.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Hub;
use crate::hub::handle::StreamHandle;
use crate::hub::types::{CloseReason, Role};

impl Hub {
    /// Whether `shutdown` has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Close every stream and channel because the server is shutting down, and report each
    /// close: from now on nothing publishes or plays (see `start_publish`, `start_play_with`).
    ///
    /// In this order, so that the events read like a publisher leaving on its own:
    /// 1. each publisher is asked to end (its connection says `NetStream.Unpublish.Success` and
    ///    closes) and its `streamClose` is reported;
    /// 2. each channel closes: its players get their goodbye (RTMP `UnpublishNotify`, the end of
    ///    the HTTP-FLV body) from their own threads, and its `channelClose` is reported;
    /// 3. every other stream (players, connections still setting up, relays) is closed and its
    ///    `streamClose` reported.
    ///
    /// Every `streamClose` reason is `shutdown`. Every event has been emitted when this returns;
    /// the connections' threads finish their goodbyes on their own. Returns the number of
    /// streams and channels closed.
    pub fn shutdown(&self) -> (usize, usize) {
        let streams: Vec<Arc<StreamHandle>> = {
            let reg = self.registry.lock();
            self.shutting_down.store(true, Ordering::Release);
            reg.streams.values().cloned().collect()
        };
        let reason = CloseReason::Shutdown;
        for stream in &streams {
            stream.note_close_reason(reason);
        }
        let (publishers, others): (Vec<_>, Vec<_>) = streams
            .iter()
            .partition(|s| s.role() == Some(Role::Publisher));
        for stream in &publishers {
            stream.request_close(reason);
            self.finish_stream(stream, reason);
        }
        let channels: Vec<_> = self
            .registry
            .lock()
            .channels
            .drain()
            .map(|(_, channel)| channel)
            .collect();
        for channel in &channels {
            self.end_channel(channel);
        }
        for stream in &others {
            // A player with an output was ended by its channel and writes its goodbye before it
            // closes; closing its socket now would cut that off.
            if stream.role() != Some(Role::Player) || stream.sink().is_none() {
                stream.request_close(reason);
            }
            self.finish_stream(stream, reason);
        }
        (streams.len(), channels.len())
    }
}
