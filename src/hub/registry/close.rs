//! The end of a stream and of a channel: the stream's one streamClose, the grace period a
//! channel waits for a new publisher, and the channel's close.

use std::sync::Arc;

use super::Hub;
use crate::hub::channel::Channel;
use crate::hub::events::HubEvent;
use crate::hub::handle::StreamHandle;
use crate::hub::types::{CloseReason, Role};
use crate::text::{log_safe, LOG_TEXT_MAX};

impl Hub {
    /// The stream's connection has ended: unwire it, forget it, and report its one streamClose.
    /// A publisher leaving an auto-created channel closes that channel (after the grace period).
    pub fn finish_stream(&self, stream: &StreamHandle, seen: CloseReason) {
        if !stream.mark_closed() {
            return;
        }
        let reason = stream.close_requested().unwrap_or(seen);
        self.counters.stream_closed(reason);
        // The player's own thread may be waiting on its sink: let it go (before it leaves the
        // channel, so a join racing with this close is refused).
        if let Some(sink) = stream.set_sink(None) {
            sink.end(reason);
        }
        let (channel, vacated) = {
            let mut reg = self.registry.lock();
            let id = stream.id();
            if reg.streams.get(&id).is_some_and(|s| s.key == stream.key) {
                reg.streams.remove(&id);
            }
            let channel = stream.set_channel(None);
            let mut vacated = false;
            if let Some(channel) = &channel {
                if stream.role() == Some(Role::Publisher) {
                    vacated = channel.clear_publisher(stream) && channel.auto_created;
                    if vacated && self.settings.publisher_grace.is_zero() {
                        reg.channels.remove(&channel.id);
                    }
                }
            }
            (channel, vacated)
        };
        if let Some(channel) = &channel {
            if stream.role() == Some(Role::Publisher) {
                channel.flush();
            } else {
                channel.remove_subscriber(stream);
            }
        }
        stream.clear_closer();
        self.emit(
            Some(stream.key),
            HubEvent::StreamClose {
                id: stream.id(),
                reason,
                bytes: stream.bytes_in() + stream.bytes_out(),
                elapsed_secs: stream.started.elapsed().as_secs_f64(),
            },
        );
        if let (Some(channel), true) = (channel, vacated) {
            if self.settings.publisher_grace.is_zero() {
                self.end_channel(&channel);
            } else if !self.is_shutting_down() {
                // (At shutdown the channel is closed with all the others.)
                self.start_grace_timer(channel);
            }
        }
    }

    /// Close `channel` if it is still without a publisher when the grace period is over.
    fn start_grace_timer(&self, channel: Arc<Channel>) {
        let grace = self.settings.publisher_grace;
        log::info!(
            "channel {} lost its publisher; waiting {:?} for a new one",
            log_safe(&channel.id, LOG_TEXT_MAX),
            grace
        );
        let Some(timers) = &self.timers else {
            // The channel then stays until a publisher returns or the API closes it.
            log::warn!(
                "no timer thread: channel {} waits without a grace period",
                log_safe(&channel.id, LOG_TEXT_MAX)
            );
            return;
        };
        let hub = self.this.clone();
        timers.after(
            grace,
            Box::new(move || {
                if let Some(hub) = hub.upgrade() {
                    hub.expire_if_vacant(&channel);
                }
            }),
        );
    }

    fn expire_if_vacant(&self, channel: &Arc<Channel>) {
        let expired = {
            let mut reg = self.registry.lock();
            let current = reg
                .channels
                .get(&channel.id)
                .is_some_and(|c| Arc::ptr_eq(c, channel));
            let vacant_long_enough = channel
                .vacant_for()
                .is_some_and(|d| d >= self.settings.publisher_grace);
            if current && vacant_long_enough {
                reg.channels.remove(&channel.id);
                true
            } else {
                false
            }
        };
        if expired {
            self.end_channel(channel);
        }
    }

    /// After a channel left the registry: end its subscribers and publisher, report channelClose.
    pub(super) fn end_channel(&self, channel: &Arc<Channel>) {
        let (publisher, subscribers) = channel.close();
        for s in subscribers {
            // The player writes its goodbye (UnpublishNotify / end of body) and then ends.
            s.note_close_reason(CloseReason::ChannelClosed);
        }
        if let Some(p) = publisher {
            p.request_close(CloseReason::ChannelClosed);
        }
        log::info!("channel {} closed", log_safe(&channel.id, LOG_TEXT_MAX));
        let id = channel.id.clone();
        self.emit(None, HubEvent::ChannelClose { id });
    }
}
