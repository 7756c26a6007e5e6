//! The registry's operations for the control plane: stats snapshots, channels created and closed
//! by the API, streams closed, accepted, rejected, renamed, and rewired between channels.

use std::sync::Arc;

use super::{Hub, HubError};
use crate::hub::buffer::{BufferLimits, Cursor};
use crate::hub::handle::StreamHandle;
use crate::hub::stats::{ChannelStats, StreamStats};
use crate::hub::stream::ReconnectAsk;
use crate::hub::types::{CloseReason, Decision, Role, StreamState, StreamType};
use crate::text::{log_safe, LOG_TEXT_MAX};

impl Hub {
    /// Every stream's stats, in no particular order.
    pub fn stream_stats(&self) -> Vec<StreamStats> {
        let streams: Vec<Arc<StreamHandle>> =
            self.registry.lock().streams.values().cloned().collect();
        streams.iter().map(|s| s.stats()).collect()
    }

    /// How many streams there are of each type, and how many channels: counted under the
    /// registry lock, without a snapshot of each (a summary stays cheap at 10,000 viewers).
    pub fn census(&self) -> (Vec<(StreamType, usize)>, usize) {
        let reg = self.registry.lock();
        let mut by_type: Vec<(StreamType, usize)> = Vec::new();
        for stream in reg.streams.values() {
            match by_type.iter_mut().find(|(t, _)| *t == stream.stream_type) {
                Some((_, n)) => *n += 1,
                None => by_type.push((stream.stream_type, 1)),
            }
        }
        (by_type, reg.channels.len())
    }

    /// Every channel's stats, in no particular order.
    pub fn channel_stats(&self) -> Vec<ChannelStats> {
        let channels: Vec<_> = self.registry.lock().channels.values().cloned().collect();
        channels.iter().map(|c| c.stats()).collect()
    }

    pub fn create_channel(&self, id: &str, limits: BufferLimits) -> Result<(), HubError> {
        let mut reg = self.registry.lock();
        if reg.channels.contains_key(id) {
            return Err(HubError::ChannelExists);
        }
        let channel = self.new_channel(id, limits, false);
        reg.channels.insert(id.to_string(), channel);
        log::info!("channel {} created by the API", log_safe(id, LOG_TEXT_MAX));
        Ok(())
    }

    pub fn close_channel(&self, id: &str) -> Result<(), HubError> {
        let channel = self
            .registry
            .lock()
            .channels
            .remove(id)
            .ok_or(HubError::ChannelNotExists)?;
        self.end_channel(&channel);
        Ok(())
    }

    pub fn close_stream(&self, id: &str) -> Result<(), HubError> {
        let stream = self.stream(id).ok_or(HubError::StreamNotExists)?;
        stream.request_close(CloseReason::ApiClose);
        Ok(())
    }

    /// Send the RTMP client of stream `id` a ReconnectRequest (`StreamStateInvalid`: the stream
    /// has no RTMP client, e.g. an HTTP-FLV viewer or a relay of this server's own).
    pub fn reconnect_stream(&self, id: &str, ask: &ReconnectAsk) -> Result<(), HubError> {
        let stream = self.stream(id).ok_or(HubError::StreamNotExists)?;
        if stream.request_reconnect(ask) {
            Ok(())
        } else {
            Err(HubError::StreamStateInvalid)
        }
    }

    fn decide(&self, id: &str, decision: Decision) -> Result<(), HubError> {
        let stream = self.stream(id).ok_or(HubError::StreamNotExists)?;
        Self::decide_stream(&stream, decision)
    }

    fn decide_stream(stream: &StreamHandle, decision: Decision) -> Result<(), HubError> {
        if stream.state() != StreamState::CheckingParams {
            return Err(HubError::StreamStateInvalid);
        }
        if decision == Decision::Reject {
            stream.note_close_reason(CloseReason::Rejected);
        } else {
            stream.set_state(StreamState::Connected);
        }
        stream.decide(decision);
        Ok(())
    }

    /// Accept (`true`) or reject the stream with internal key `key` (as events carry it): a
    /// callback reply still finds the stream after a `/stream/changeid`.
    pub fn decide_stream_key(&self, key: u64, accept: bool) -> Result<(), HubError> {
        let stream = self
            .registry
            .lock()
            .streams
            .values()
            .find(|s| s.key == key)
            .cloned()
            .ok_or(HubError::StreamNotExists)?;
        let decision = if accept {
            Decision::Accept
        } else {
            Decision::Reject
        };
        Self::decide_stream(&stream, decision)
    }

    pub fn accept_stream(&self, id: &str) -> Result<(), HubError> {
        self.decide(id, Decision::Accept)
    }

    pub fn reject_stream(&self, id: &str) -> Result<(), HubError> {
        self.decide(id, Decision::Reject)
    }

    pub fn change_stream_id(&self, id: &str, new_id: &str) -> Result<(), HubError> {
        let mut reg = self.registry.lock();
        if reg.streams.contains_key(new_id) {
            return Err(HubError::StreamExists);
        }
        let stream = reg.streams.remove(id).ok_or(HubError::StreamNotExists)?;
        stream.set_id(new_id.to_string());
        reg.streams.insert(new_id.to_string(), stream);
        Ok(())
    }

    /// The stream and channel an API call names, or the error for the first one missing.
    fn stream_and_channel(
        &self,
        stream_id: &str,
        channel_id: &str,
    ) -> Result<(Arc<StreamHandle>, Arc<crate::hub::Channel>), HubError> {
        let reg = self.registry.lock();
        let stream = reg
            .streams
            .get(stream_id)
            .cloned()
            .ok_or(HubError::StreamNotExists)?;
        let channel = reg
            .channels
            .get(channel_id)
            .cloned()
            .ok_or(HubError::ChannelNotExists)?;
        Ok((stream, channel))
    }

    /// Switch channel `id`'s source to stream `stream_id`; the previous publisher stays connected.
    pub fn set_publisher(&self, id: &str, stream_id: &str, replace: bool) -> Result<(), HubError> {
        let (stream, channel) = self.stream_and_channel(stream_id, id)?;
        if stream.role() == Some(Role::Player) {
            return Err(HubError::StreamStateInvalid);
        }
        let previous = channel
            .attach_publisher(stream.record(), replace)
            .map_err(|_| HubError::ChannelAlreadyHasPublisher)?;
        // Leave the channel it published to before, if any.
        if let Some(old) = stream.set_channel(Some(channel.clone())) {
            if !Arc::ptr_eq(&old, &channel) && old.clear_publisher(&stream) {
                old.flush();
            }
        }
        stream.set_role(Role::Publisher);
        if let Some(previous) = previous {
            if let Some(handle) = self.handle_of(previous.key) {
                handle.set_channel(None);
            }
            if previous.state() == StreamState::Publishing {
                previous.set_state(StreamState::Connected);
            }
        }
        channel.take_headers_from(&stream);
        if matches!(stream.state(), StreamState::Connected) {
            stream.set_state(StreamState::Publishing);
        }
        Ok(())
    }

    fn handle_of(&self, key: u64) -> Option<Arc<StreamHandle>> {
        let reg = self.registry.lock();
        reg.streams.values().find(|s| s.key == key).cloned()
    }

    /// Move a playing stream to channel `id`, starting at `cursor`.
    pub fn add_subscriber(&self, id: &str, stream_id: &str, cursor: &str) -> Result<(), HubError> {
        let cursor = Cursor::parse(cursor).ok_or(HubError::BadCursor)?;
        let (stream, channel) = self.stream_and_channel(stream_id, id)?;
        if stream.role() == Some(Role::Publisher) {
            return Err(HubError::StreamStateInvalid);
        }
        let Some(sink) = stream.sink() else {
            // A player still in checkingParams has no output yet: wire it for when it is accepted.
            if stream.state() == StreamState::CheckingParams {
                stream.set_role(Role::Player);
                stream.set_channel(Some(channel));
                return Ok(());
            }
            return Err(HubError::StreamStateInvalid);
        };
        if let Some(old) = stream.channel() {
            if Arc::ptr_eq(&old, &channel) {
                return Ok(());
            }
            old.remove_subscriber(&stream);
        }
        channel
            .add_subscriber(&sink, cursor)
            .map_err(|_| HubError::ChannelNotExists)?;
        stream.set_channel(Some(channel));
        Ok(())
    }
}
