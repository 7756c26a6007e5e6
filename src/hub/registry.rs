//! The registry: every stream and channel, the wiring between them, and the events it reports.
//!
//! Lock order: the registry lock, then a channel's lock. Events are emitted after the registry
//! lock is released.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use super::buffer::{BufferLimits, Cursor};
use super::channel::Channel;
use super::sink::Sink;
use super::stream::{CloseReason, Decision, Role, Stream, StreamState, StreamType};

/// Where events go (the HTTP callback sender, or nowhere). Must not block.
pub trait EventSink: Send + Sync {
    /// `stream_key` orders events of one stream; `name` is the callback's event name.
    fn emit(&self, stream_key: Option<u64>, name: &'static str, body: Value);
}

/// Drops every event (no `-httpcallback`).
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _: Option<u64>, _: &'static str, _: Value) {}
}

/// Registry settings taken from the command line.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Buffer bounds of auto-created channels (and the default for `/channel/create`).
    pub limits: BufferLimits,
    pub check_params: bool,
    pub check_timeout: Duration,
    /// Media a subscriber may have queued before it skips to the next keyframe.
    pub max_lag: Duration,
    /// How long an auto-created channel waits for a new publisher after losing its own.
    pub publisher_grace: Duration,
    /// How long a channel gathers frames before writing them to subscribers (0 = each at once).
    pub merge_window: Duration,
}

impl Default for HubSettings {
    fn default() -> HubSettings {
        HubSettings {
            limits: BufferLimits::default(),
            check_params: false,
            check_timeout: Duration::from_secs(10),
            max_lag: Duration::from_secs(5),
            publisher_grace: Duration::from_secs(10),
            merge_window: Duration::from_millis(100),
        }
    }
}

/// The named errors of the API and of publish/play, as the seed spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubError {
    StreamNotExists,
    StreamExists,
    ChannelNotExists,
    ChannelExists,
    ChannelAlreadyHasPublisher,
    StreamStateInvalid,
    BadCursor,
}

impl HubError {
    pub fn name(self) -> &'static str {
        match self {
            HubError::StreamNotExists => "StreamNotExists",
            HubError::StreamExists => "StreamExists",
            HubError::ChannelNotExists => "ChannelNotExists",
            HubError::ChannelExists => "ChannelExists",
            HubError::ChannelAlreadyHasPublisher => "ChannelAlreadyHasPublisher",
            HubError::StreamStateInvalid => "StreamStateInvalid",
            HubError::BadCursor => "BadCursor",
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            HubError::StreamNotExists => "no stream has that id",
            HubError::StreamExists => "a stream with that id already exists",
            HubError::ChannelNotExists => "no channel has that id",
            HubError::ChannelExists => "a channel with that id already exists",
            HubError::ChannelAlreadyHasPublisher => "the channel already has a publisher",
            HubError::StreamStateInvalid => "the stream is not in a state that allows this",
            HubError::BadCursor => "cursor must be latest, oldest, next or a duration like 5s",
        }
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.detail())
    }
}

impl std::error::Error for HubError {}

#[derive(Default)]
struct Registry {
    streams: HashMap<String, Arc<Stream>>,
    channels: HashMap<String, Arc<Channel>>,
}

impl Registry {
    /// The stream and channel an API call names, or the error for the first one missing.
    fn stream_and_channel(
        &self,
        stream_id: &str,
        channel_id: &str,
    ) -> Result<(Arc<Stream>, Arc<Channel>), HubError> {
        let stream = self
            .streams
            .get(stream_id)
            .cloned()
            .ok_or(HubError::StreamNotExists)?;
        let channel = self
            .channels
            .get(channel_id)
            .cloned()
            .ok_or(HubError::ChannelNotExists)?;
        Ok((stream, channel))
    }
}

/// Called when a player asks for a channel that does not exist (edge mode pulls it from an
/// origin). Returns whether it created the channel; the play is then retried once.
pub type MissingChannelHandler = Box<dyn Fn(&Arc<Hub>, &str) -> bool + Send + Sync>;

pub struct Hub {
    missing_channel: std::sync::OnceLock<MissingChannelHandler>,
    /// Lets a grace timer reach the hub without keeping it alive.
    this: std::sync::Weak<Hub>,
    registry: Mutex<Registry>,
    next_stream: AtomicU64,
    pub settings: HubSettings,
    events: Arc<dyn EventSink>,
}

impl Hub {
    pub fn new(settings: HubSettings, events: Arc<dyn EventSink>) -> Arc<Hub> {
        Arc::new_cyclic(|this| Hub {
            missing_channel: std::sync::OnceLock::new(),
            this: this.clone(),
            registry: Mutex::new(Registry::default()),
            next_stream: AtomicU64::new(1),
            settings,
            events,
        })
    }

    /// A new connection. Its id is the next free decimal number (ids are never reused, and one
    /// taken by `/stream/changeid` is skipped).
    pub fn new_stream(&self, stream_type: StreamType, remote_addr: String) -> Arc<Stream> {
        let mut reg = self.registry.lock();
        loop {
            let key = self.next_stream.fetch_add(1, Ordering::Relaxed);
            let id = key.to_string();
            if reg.streams.contains_key(&id) {
                continue;
            }
            let stream = Arc::new(Stream::new(key, id.clone(), stream_type, remote_addr));
            reg.streams.insert(id, stream.clone());
            return stream;
        }
    }

    /// Install the handler for plays of unknown channels (once; later calls are ignored).
    pub fn set_missing_channel_handler(&self, handler: MissingChannelHandler) {
        let _ = self.missing_channel.set(handler);
    }

    /// Create an auto-created channel with no publisher yet (for a source that is still
    /// connecting, such as an edge pull). Returns the existing one if there is one.
    pub fn ensure_channel(&self, id: &str) -> Arc<Channel> {
        let mut reg = self.registry.lock();
        if let Some(ch) = reg.channels.get(id) {
            return ch.clone();
        }
        let ch = self.new_channel(id, self.settings.limits, true);
        reg.channels.insert(id.to_string(), ch.clone());
        ch
    }

    /// A source that reconnected (a pull after its remote came back): its next frames continue
    /// the channel's timeline from its first keyframe, as after a publisher switch.
    pub fn restart_source(&self, stream: &Arc<Stream>) {
        if let Some(channel) = stream.channel() {
            if channel.publisher().is_some_and(|p| p.key == stream.key) {
                channel.set_publisher(stream);
            }
        }
    }

    /// The channel a player asks for; an unknown one is offered to the missing-channel handler
    /// (edge mode) first.
    pub fn channel_for_play(&self, id: &str) -> Option<Arc<Channel>> {
        if let Some(ch) = self.channel(id) {
            return Some(ch);
        }
        let created = match (self.missing_channel.get(), self.this.upgrade()) {
            (Some(handler), Some(hub)) => handler(&hub, id),
            _ => false,
        };
        if created {
            self.channel(id)
        } else {
            None
        }
    }

    pub fn stream(&self, id: &str) -> Option<Arc<Stream>> {
        self.registry.lock().streams.get(id).cloned()
    }

    pub fn channel(&self, id: &str) -> Option<Arc<Channel>> {
        self.registry.lock().channels.get(id).cloned()
    }

    fn new_channel(&self, id: &str, limits: BufferLimits, auto_created: bool) -> Arc<Channel> {
        let max_lag = self.settings.max_lag.as_millis().min(i32::MAX as u128) as u32;
        Arc::new(Channel::new(
            id.to_string(),
            limits,
            auto_created,
            max_lag,
            self.settings.merge_window,
        ))
    }

    /// With `-rtmpcheckparams`: hold the stream in `checkingParams`, post `streamCheckParams`, and
    /// wait for accept/reject or the timeout. Without the flag, accept at once.
    pub fn check_params(&self, stream: &Arc<Stream>) -> Result<(), CloseReason> {
        if !self.settings.check_params {
            return Ok(());
        }
        stream.set_state(StreamState::CheckingParams);
        let body = json!({
            "id": stream.id(),
            "type": stream.stream_type.as_str(),
            "remoteAddr": stream.remote_addr,
            "rtmp": stream.rtmp_info().map(|r| r.to_json()),
        });
        self.events
            .emit(Some(stream.key), "streamCheckParams", body);
        match stream.wait_decision(self.settings.check_timeout) {
            Some(Decision::Accept) => Ok(()),
            Some(Decision::Reject) => {
                Err(stream.close_requested().unwrap_or(CloseReason::Rejected))
            }
            None => Err(CloseReason::Timeout),
        }
    }

    fn emit_connected(&self, stream: &Stream) {
        self.events
            .emit(Some(stream.key), "streamConnected", stream.stat_json());
    }

    /// Make `stream` the publisher of channel `path`, creating the channel. A stream the controller
    /// already wired (setPublisher during checkingParams) keeps its channel.
    pub fn start_publish(
        &self,
        stream: &Arc<Stream>,
        path: &str,
    ) -> Result<Arc<Channel>, HubError> {
        let channel = {
            let mut reg = self.registry.lock();
            stream.set_role(Role::Publisher);
            if let Some(ch) = stream.channel() {
                ch
            } else {
                let channel = match reg.channels.get(path) {
                    Some(ch) if ch.publisher().is_some() => {
                        return Err(HubError::ChannelAlreadyHasPublisher)
                    }
                    Some(ch) => ch.clone(),
                    None => {
                        let ch = self.new_channel(path, self.settings.limits, true);
                        reg.channels.insert(path.to_string(), ch.clone());
                        ch
                    }
                };
                channel.set_publisher(stream);
                stream.set_channel(Some(channel.clone()));
                channel
            }
        };
        stream.set_state(StreamState::Publishing);
        self.emit_connected(stream);
        Ok(channel)
    }

    /// Subscribe `stream` to channel `path` from `cursor`, as an in-process consumer that takes
    /// frames with `next_batch` (a push relay).
    pub fn start_play(
        &self,
        stream: &Arc<Stream>,
        path: &str,
        cursor: Cursor,
    ) -> Result<Arc<Sink>, HubError> {
        self.start_play_with(stream, path, cursor, Sink::queue(stream.clone()))
    }

    /// Subscribe `stream` to channel `path` from `cursor` with its output `sink`. A stream the
    /// controller already wired (addSubscriber during checkingParams) joins that channel. An
    /// unknown channel is offered to the missing-channel handler (edge mode) once.
    pub fn start_play_with(
        &self,
        stream: &Arc<Stream>,
        path: &str,
        cursor: Cursor,
        sink: Arc<Sink>,
    ) -> Result<Arc<Sink>, HubError> {
        let channel = match stream.channel() {
            Some(ch) => ch,
            None => self
                .channel_for_play(path)
                .ok_or(HubError::ChannelNotExists)?,
        };
        {
            let _reg = self.registry.lock();
            stream.set_role(Role::Player);
            *stream.sink.lock() = Some(sink.clone());
            channel
                .add_subscriber(&sink, cursor)
                .map_err(|_| HubError::ChannelNotExists)?;
            stream.set_channel(Some(channel));
        }
        stream.set_state(StreamState::Subscribing);
        self.emit_connected(stream);
        Ok(sink)
    }

    /// The stream's connection has ended: unwire it, forget it, and post its one streamClose.
    /// A publisher leaving an auto-created channel closes that channel.
    pub fn finish_stream(&self, stream: &Arc<Stream>, seen: CloseReason) {
        if stream.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let reason = stream.close_requested().unwrap_or(seen);
        let mut closed_channel = None;
        let mut vacated = None;
        {
            let mut reg = self.registry.lock();
            let id = stream.id();
            if reg.streams.get(&id).is_some_and(|s| s.key == stream.key) {
                reg.streams.remove(&id);
            }
            if let Some(channel) = stream.channel() {
                match stream.role() {
                    Some(Role::Publisher) => {
                        if channel.clear_publisher(stream) && channel.auto_created {
                            if self.settings.publisher_grace.is_zero() {
                                reg.channels.remove(&channel.id);
                                closed_channel = Some(channel);
                            } else {
                                vacated = Some(channel);
                            }
                        }
                    }
                    _ => {
                        channel.remove_subscriber(stream);
                    }
                }
            }
            stream.set_channel(None);
            // The player's own thread may be waiting on its sink: let it go.
            if let Some(sink) = stream.sink.lock().take() {
                sink.end(reason);
            }
        }
        stream.clear_closer();
        self.events.emit(
            Some(stream.key),
            "streamClose",
            json!({
                "id": stream.id(),
                "reason": reason.as_str(),
                "bytes": stream.bytes_in.load(Ordering::Relaxed) + stream.bytes_out(),
                "elapsed": stream.started.elapsed().as_secs_f64(),
            }),
        );
        if let Some(channel) = closed_channel {
            self.end_channel(&channel);
        }
        if let Some(channel) = vacated {
            self.start_grace_timer(channel);
        }
    }

    /// Close `channel` if it is still without a publisher when the grace period is over.
    fn start_grace_timer(&self, channel: Arc<Channel>) {
        let grace = self.settings.publisher_grace;
        let hub = self.this.clone();
        log::info!(
            "channel {} lost its publisher; waiting {:?} for a new one",
            channel.id,
            grace
        );
        let spawned = std::thread::Builder::new()
            .name(format!("grace-{}", channel.id))
            .stack_size(64 * 1024)
            .spawn(move || {
                std::thread::sleep(grace);
                if let Some(hub) = hub.upgrade() {
                    hub.expire_if_vacant(&channel);
                }
            });
        if let Err(e) = spawned {
            // The channel then stays until a publisher returns or the API closes it.
            log::warn!("cannot start a grace timer: {e}");
        }
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

    /// After a channel left the registry: end its subscribers and publisher, post channelClose.
    fn end_channel(&self, channel: &Arc<Channel>) {
        let (publisher, subscribers) = channel.close();
        for s in subscribers {
            // The player writes its goodbye (UnpublishNotify / end of body) and then ends.
            s.note_close_reason(CloseReason::ChannelClosed);
        }
        if let Some(p) = publisher {
            p.request_close(CloseReason::ChannelClosed);
        }
        log::info!("channel {} closed", channel.id);
        self.events
            .emit(None, "channelClose", json!({ "id": channel.id }));
    }

    // ---- the REST API's operations ----

    pub fn streams_json(&self) -> Value {
        let streams: Vec<Arc<Stream>> = self.registry.lock().streams.values().cloned().collect();
        let mut map = Map::new();
        for s in streams {
            map.insert(s.id(), s.stat_json());
        }
        Value::Object(map)
    }

    pub fn channels_json(&self) -> Value {
        let channels: Vec<Arc<Channel>> = self.registry.lock().channels.values().cloned().collect();
        let mut map = Map::new();
        for c in channels {
            map.insert(c.id.clone(), c.stat_json());
        }
        Value::Object(map)
    }

    pub fn create_channel(&self, id: &str, limits: BufferLimits) -> Result<(), HubError> {
        let mut reg = self.registry.lock();
        if reg.channels.contains_key(id) {
            return Err(HubError::ChannelExists);
        }
        let channel = self.new_channel(id, limits, false);
        reg.channels.insert(id.to_string(), channel);
        log::info!("channel {id} created by the API");
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

    fn decide(&self, id: &str, decision: Decision) -> Result<(), HubError> {
        let stream = self.stream(id).ok_or(HubError::StreamNotExists)?;
        Self::decide_stream(&stream, decision)
    }

    fn decide_stream(stream: &Stream, decision: Decision) -> Result<(), HubError> {
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

    /// Switch channel `id`'s source to stream `stream_id`; the previous publisher stays connected.
    pub fn set_publisher(&self, id: &str, stream_id: &str, replace: bool) -> Result<(), HubError> {
        let reg = self.registry.lock();
        let (stream, channel) = reg.stream_and_channel(stream_id, id)?;
        if stream.role() == Some(Role::Player) {
            return Err(HubError::StreamStateInvalid);
        }
        if let Some(current) = channel.publisher() {
            if current.key == stream.key {
                return Ok(());
            }
            if !replace {
                return Err(HubError::ChannelAlreadyHasPublisher);
            }
        }
        // Leave the channel it published to before, if any.
        if let Some(old) = stream.channel() {
            old.clear_publisher(&stream);
        }
        stream.set_role(Role::Publisher);
        if let Some(previous) = channel.set_publisher(&stream) {
            previous.set_channel(None);
            if previous.state() == StreamState::Publishing {
                previous.set_state(StreamState::Connected);
            }
        }
        stream.set_channel(Some(channel));
        if matches!(stream.state(), StreamState::Connected) {
            stream.set_state(StreamState::Publishing);
        }
        Ok(())
    }

    /// Move a playing stream to channel `id`, starting at `cursor`.
    pub fn add_subscriber(&self, id: &str, stream_id: &str, cursor: &str) -> Result<(), HubError> {
        let cursor = Cursor::parse(cursor).ok_or(HubError::BadCursor)?;
        let reg = self.registry.lock();
        let (stream, channel) = reg.stream_and_channel(stream_id, id)?;
        if stream.role() == Some(Role::Publisher) {
            return Err(HubError::StreamStateInvalid);
        }
        let sink = stream.sink.lock().clone();
        let Some(sink) = sink else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Packet, PacketKind};

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(&'static str, Value)>>);

    impl EventSink for Recorder {
        fn emit(&self, _: Option<u64>, name: &'static str, body: Value) {
            self.0.lock().push((name, body));
        }
    }

    fn hub_with(settings: HubSettings) -> (Arc<Hub>, Arc<Recorder>) {
        let rec = Arc::new(Recorder::default());
        (Hub::new(settings, rec.clone()), rec)
    }

    fn hub() -> (Arc<Hub>, Arc<Recorder>) {
        hub_with(HubSettings {
            publisher_grace: Duration::ZERO,
            ..HubSettings::default()
        })
    }

    #[test]
    fn a_vacant_channel_waits_out_the_grace_period_for_a_new_publisher() {
        let (hub, rec) = hub_with(HubSettings {
            publisher_grace: Duration::from_millis(200),
            ..HubSettings::default()
        });
        let first = hub.new_stream(StreamType::Rtmp, "x".into());
        hub.start_publish(&first, "live/a").unwrap();
        let player = hub.new_stream(StreamType::HttpFlv, "y".into());
        let _queue = hub.start_play(&player, "live/a", Cursor::Latest).unwrap();
        hub.finish_stream(&first, CloseReason::PeerClosed);
        assert!(
            hub.channel("live/a").is_some(),
            "kept during the grace period"
        );
        let second = hub.new_stream(StreamType::Rtmp, "x".into());
        hub.start_publish(&second, "live/a").unwrap();
        std::thread::sleep(Duration::from_millis(400));
        assert!(
            hub.channel("live/a").is_some(),
            "the new publisher keeps it"
        );
        assert_eq!(hub.channel("live/a").unwrap().subscriber_count(), 1);
        hub.finish_stream(&second, CloseReason::PeerClosed);
        std::thread::sleep(Duration::from_millis(400));
        assert!(
            hub.channel("live/a").is_none(),
            "closed after the grace period"
        );
        assert!(rec.0.lock().iter().any(|(name, _)| *name == "channelClose"));
    }

    #[test]
    fn ids_are_decimal_counters_that_skip_taken_names() {
        let (hub, _) = hub();
        let a = hub.new_stream(StreamType::Rtmp, "x".into());
        assert_eq!(a.id(), "1");
        hub.change_stream_id("1", "3").unwrap();
        let b = hub.new_stream(StreamType::Rtmp, "x".into());
        assert_eq!(b.id(), "2");
        let c = hub.new_stream(StreamType::Rtmp, "x".into());
        assert_eq!(c.id(), "4");
        assert_eq!(hub.change_stream_id("2", "3"), Err(HubError::StreamExists));
        assert_eq!(
            hub.change_stream_id("9", "10"),
            Err(HubError::StreamNotExists)
        );
    }

    #[test]
    fn a_second_publisher_on_a_path_is_refused() {
        let (hub, _) = hub();
        let a = hub.new_stream(StreamType::Rtmp, "x".into());
        let b = hub.new_stream(StreamType::Rtmp, "x".into());
        hub.start_publish(&a, "live/a").unwrap();
        assert_eq!(
            hub.start_publish(&b, "live/a").unwrap_err(),
            HubError::ChannelAlreadyHasPublisher
        );
    }

    #[test]
    fn publisher_leaving_closes_its_channel_and_ends_players_with_one_event_each() {
        let (hub, rec) = hub();
        let publisher = hub.new_stream(StreamType::Rtmp, "x".into());
        let ch = hub.start_publish(&publisher, "1").unwrap();
        ch.push(
            &publisher,
            Packet::new(PacketKind::Video, 0, vec![0x17, 1, 0, 0, 0]),
        );
        let player = hub.new_stream(StreamType::HttpFlv, "y".into());
        let queue = hub.start_play(&player, "1", Cursor::Latest).unwrap();
        hub.finish_stream(&publisher, CloseReason::PeerClosed);
        hub.finish_stream(&publisher, CloseReason::PeerClosed);
        assert!(hub.channel("1").is_none());
        let mut frames = Vec::new();
        let end = loop {
            match queue.next_batch(Duration::from_millis(50), &mut frames) {
                Err(e) => break e,
                Ok(_) => frames.clear(),
            }
        };
        assert_eq!(
            end,
            super::super::sink::QueueEnd::Ended(CloseReason::ChannelClosed)
        );
        hub.finish_stream(&player, CloseReason::PeerClosed);
        let events = rec.0.lock();
        let names: Vec<&str> = events.iter().map(|e| e.0).collect();
        assert_eq!(
            names,
            vec![
                "streamConnected",
                "streamConnected",
                "streamClose",
                "channelClose",
                "streamClose"
            ]
        );
        assert_eq!(events[4].1["reason"], "channelClosed");
        assert_eq!(events[2].1["reason"], "peerClosed");
    }

    #[test]
    fn a_finished_player_releases_its_own_thread() {
        let (hub, _) = hub();
        let publisher = hub.new_stream(StreamType::Rtmp, "x".into());
        hub.start_publish(&publisher, "1").unwrap();
        let player = hub.new_stream(StreamType::Rtmp, "y".into());
        let sink = hub.start_play(&player, "1", Cursor::Latest).unwrap();
        // The player's connection ended (its reader saw EOF): the thread waiting on the sink
        // must be told, or it waits forever.
        hub.finish_stream(&player, CloseReason::PeerClosed);
        let mut frames = Vec::new();
        assert_eq!(
            sink.next_batch(Duration::from_secs(1), &mut frames),
            Err(super::super::sink::QueueEnd::Ended(CloseReason::PeerClosed))
        );
        assert_eq!(hub.channel("1").unwrap().subscriber_count(), 0);
    }

    #[test]
    fn a_decision_by_key_follows_a_renamed_stream() {
        let (hub, _) = hub_with(HubSettings {
            check_params: true,
            check_timeout: Duration::from_secs(5),
            ..HubSettings::default()
        });
        let s = hub.new_stream(StreamType::Rtmp, "x".into());
        let (h2, s2) = (hub.clone(), s.clone());
        let waiter = std::thread::spawn(move || h2.check_params(&s2));
        while s.state() != StreamState::CheckingParams {
            std::thread::yield_now();
        }
        hub.change_stream_id(&s.id(), "renamed").unwrap();
        hub.decide_stream_key(s.key, true).unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(
            hub.decide_stream_key(9999, true),
            Err(HubError::StreamNotExists)
        );
    }

    #[test]
    fn play_of_an_unknown_channel_is_not_found() {
        let (hub, _) = hub();
        let player = hub.new_stream(StreamType::Rtmp, "y".into());
        assert_eq!(
            hub.start_play(&player, "nope", Cursor::Latest).err(),
            Some(HubError::ChannelNotExists)
        );
    }

    #[test]
    fn check_params_times_out_and_can_be_accepted() {
        let rec = Arc::new(Recorder::default());
        let hub = Hub::new(
            HubSettings {
                check_params: true,
                check_timeout: Duration::from_millis(50),
                ..HubSettings::default()
            },
            rec.clone(),
        );
        let s = hub.new_stream(StreamType::Rtmp, "x".into());
        assert_eq!(hub.check_params(&s), Err(CloseReason::Timeout));
        let t = hub.new_stream(StreamType::Rtmp, "x".into());
        let (h2, t2) = (hub.clone(), t.clone());
        let waiter = std::thread::spawn(move || h2.check_params(&t2));
        while t.state() != StreamState::CheckingParams {
            std::thread::yield_now();
        }
        hub.accept_stream(&t.id()).unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(
            hub.accept_stream(&t.id()),
            Err(HubError::StreamStateInvalid)
        );
        assert_eq!(rec.0.lock()[0].0, "streamCheckParams");
    }
}
