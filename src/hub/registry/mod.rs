//! The registry: every stream and channel, the wiring between them, and the events it reports.
//!
//! Lock order: the registry lock, then a channel's lock. The registry lock is never held while
//! a channel may write to a socket (a flush), nor while an event is emitted: operations decide
//! under the lock and do their channel work after releasing it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use super::buffer::{BufferLimits, Cursor};
use super::channel::{Channel, ChannelConfig, MergeWindow};
use super::events::{EventSink, HubEvent};
use super::handle::StreamHandle;
use super::sink::Sink;
use super::stream::Stream;
use super::timer::Timers;
use super::types::{CloseReason, Decision, Role, StreamState, StreamType};

mod close;
mod ops;
mod shutdown;

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

/// Why a registry operation was refused. The names are the product's vocabulary: RTMP status
/// descriptions and the API's error names both use them.
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
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for HubError {}

#[derive(Default)]
struct Registry {
    streams: HashMap<String, Arc<StreamHandle>>,
    channels: HashMap<String, Arc<Channel>>,
}

/// Called when a player asks for a channel that does not exist (edge mode pulls it from an
/// origin). Returns whether it created the channel; the play is then retried once.
pub type MissingChannelHandler = Box<dyn Fn(&Arc<Hub>, &str) -> bool + Send + Sync>;

pub struct Hub {
    missing_channel: OnceLock<MissingChannelHandler>,
    /// Lets a grace timer reach the hub without keeping it alive.
    this: Weak<Hub>,
    registry: Mutex<Registry>,
    next_stream: AtomicU64,
    /// Set (under the registry lock) by `shutdown`: no stream publishes or plays any more.
    shutting_down: AtomicBool,
    pub settings: HubSettings,
    events: Arc<dyn EventSink>,
    /// Flush deadlines and grace periods; `None` if the timer thread could not start.
    timers: Option<Arc<Timers>>,
    /// Shared with every stream and channel, which count into it.
    pub counters: Arc<super::counters::ServerCounters>,
}

impl Hub {
    pub fn new(settings: HubSettings, events: Arc<dyn EventSink>) -> Arc<Hub> {
        let timers = Timers::start()
            .map_err(|e| log::error!("cannot start the hub's timer thread: {e}"))
            .ok();
        Arc::new_cyclic(|this| Hub {
            missing_channel: OnceLock::new(),
            this: this.clone(),
            registry: Mutex::new(Registry::default()),
            next_stream: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            settings,
            events,
            timers,
            counters: Default::default(),
        })
    }

    /// A new connection. Its id is the next free decimal number (ids are never reused, and one
    /// taken by `/stream/changeid` is skipped).
    pub fn new_stream(&self, stream_type: StreamType, remote_addr: String) -> Arc<StreamHandle> {
        let mut reg = self.registry.lock();
        loop {
            let key = self.next_stream.fetch_add(1, Ordering::Relaxed);
            let id = key.to_string();
            if reg.streams.contains_key(&id) {
                continue;
            }
            let stream = Stream::new(key, id.clone(), stream_type, remote_addr);
            stream.count_into(self.counters.clone());
            let handle = Arc::new(StreamHandle::new(stream));
            reg.streams.insert(id, handle.clone());
            return handle;
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
    pub fn restart_source(&self, stream: &StreamHandle) {
        if let Some(channel) = stream.channel() {
            channel.restart_source(stream);
        }
    }

    /// Whether a play of an unknown channel may still find one (edge mode pulls it).
    pub fn creates_missing_channels(&self) -> bool {
        self.missing_channel.get().is_some()
    }

    /// The channel a player asks for; an unknown one is offered to the missing-channel handler
    /// (edge mode) first.
    pub fn channel_for_play(&self, id: &str) -> Option<Arc<Channel>> {
        if let Some(ch) = self.channel(id) {
            return Some(ch);
        }
        if self.is_shutting_down() {
            return None;
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

    pub fn stream(&self, id: &str) -> Option<Arc<StreamHandle>> {
        self.registry.lock().streams.get(id).cloned()
    }

    pub fn channel(&self, id: &str) -> Option<Arc<Channel>> {
        self.registry.lock().channels.get(id).cloned()
    }

    fn new_channel(&self, id: &str, limits: BufferLimits, auto_created: bool) -> Arc<Channel> {
        let config = ChannelConfig {
            limits,
            auto_created,
            max_lag_ms: self.settings.max_lag.as_millis().min(i32::MAX as u128) as u32,
            merge_window: MergeWindow::adaptive(self.settings.merge_window),
            counters: Some(self.counters.clone()),
        };
        Channel::new(id.to_string(), config, self.timers.clone())
    }

    fn emit(&self, stream_key: Option<u64>, event: HubEvent) {
        self.events.emit(stream_key, event);
    }

    /// With `-rtmpcheckparams`: hold the stream in `checkingParams`, report `streamCheckParams`,
    /// and wait for accept/reject or the timeout. Without the flag, accept at once.
    pub fn check_params(&self, stream: &StreamHandle) -> Result<(), CloseReason> {
        if !self.settings.check_params {
            return Ok(());
        }
        stream.set_state(StreamState::CheckingParams);
        let event = HubEvent::StreamCheckParams {
            id: stream.id(),
            stream_type: stream.stream_type,
            remote_addr: stream.remote_addr.clone(),
            rtmp: stream.rtmp_info(),
        };
        self.emit(Some(stream.key), event);
        match stream.wait_decision(self.settings.check_timeout) {
            Some(Decision::Accept) => Ok(()),
            Some(Decision::Reject) => {
                Err(stream.close_requested().unwrap_or(CloseReason::Rejected))
            }
            None => Err(CloseReason::Timeout),
        }
    }

    fn emit_connected(&self, stream: &StreamHandle) {
        let stats = Box::new(stream.stats());
        self.emit(Some(stream.key), HubEvent::StreamConnected(stats));
    }

    /// Make `stream` the publisher of channel `path`, creating the channel. A stream the controller
    /// already wired (setPublisher during checkingParams) keeps its channel. Refused
    /// (`StreamStateInvalid`) once the hub is shutting down.
    pub fn start_publish(
        &self,
        stream: &StreamHandle,
        path: &str,
    ) -> Result<Arc<Channel>, HubError> {
        let channel = {
            let mut reg = self.registry.lock();
            if self.is_shutting_down() {
                return Err(HubError::StreamStateInvalid);
            }
            stream.set_role(Role::Publisher);
            match stream.channel() {
                Some(ch) => ch,
                None => {
                    let channel = match reg.channels.get(path) {
                        Some(ch) => ch.clone(),
                        None => {
                            let ch = self.new_channel(path, self.settings.limits, true);
                            reg.channels.insert(path.to_string(), ch.clone());
                            ch
                        }
                    };
                    channel
                        .attach_publisher(stream.record(), false)
                        .map_err(|_| HubError::ChannelAlreadyHasPublisher)?;
                    stream.set_channel(Some(channel.clone()));
                    channel
                }
            }
        };
        channel.take_headers_from(stream);
        stream.set_state(StreamState::Publishing);
        self.emit_connected(stream);
        Ok(channel)
    }

    /// Wire a viewer to `channel` without subscribing it: an output that muxes the channel once
    /// for all its viewers (HLS) serves it. It shows as a subscribing player of the channel and
    /// reports streamConnected; `finish_stream` ends it as any other.
    pub fn attach_viewer(&self, stream: &StreamHandle, channel: &Arc<Channel>) {
        {
            let _reg = self.registry.lock();
            stream.set_role(Role::Player);
            stream.set_channel(Some(channel.clone()));
        }
        stream.set_state(StreamState::Subscribing);
        self.emit_connected(stream);
    }

    /// Subscribe `stream` to channel `path` from `cursor`, as an in-process consumer that takes
    /// frames with `next_batch` (a push relay).
    pub fn start_play(
        &self,
        stream: &StreamHandle,
        path: &str,
        cursor: Cursor,
    ) -> Result<Arc<Sink>, HubError> {
        let sink = Sink::queue(stream.record().clone());
        self.start_play_with(stream, path, cursor, sink)
    }

    /// Subscribe `stream` to channel `path` from `cursor` with its output `sink`. A stream the
    /// controller already wired (addSubscriber during checkingParams) joins that channel. An
    /// unknown channel is offered to the missing-channel handler (edge mode) once. Refused
    /// (`ChannelNotExists`) once the hub is shutting down.
    pub fn start_play_with(
        &self,
        stream: &StreamHandle,
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
            // Wired before it joins: a close racing with the join finds the channel to leave,
            // or an ended sink that the channel refuses.
            let _reg = self.registry.lock();
            if self.is_shutting_down() {
                return Err(HubError::ChannelNotExists);
            }
            stream.set_role(Role::Player);
            stream.set_sink(Some(sink.clone()));
            stream.set_channel(Some(channel.clone()));
        }
        if channel.add_subscriber(&sink, cursor).is_err() {
            stream.set_channel(None);
            return Err(HubError::ChannelNotExists);
        }
        stream.set_state(StreamState::Subscribing);
        self.emit_connected(stream);
        Ok(sink)
    }
}

#[cfg(test)]
mod tests;
