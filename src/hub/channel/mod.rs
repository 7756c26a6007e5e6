//! A channel: one publisher, N subscribers, a bounded buffer, and the fan-out between them.
//!
//! The publisher's thread calls `push`: under the channel lock the packet is put on the channel's
//! timeline, buffered, and appended to the pending batch. When the merge window has passed (or at
//! once, with a window of 0: a channel with few subscribers, see `MergeWindow`) the batch is flushed (`flush.rs`): its frames are serialised once
//! per output format and offered to every subscriber's `Sink`. A batch whose window ends while
//! the publisher is silent is flushed by the hub's timer, so no frame waits for the next one.
//!
//! Nothing here takes the registry lock; the registry calls in without holding its own lock
//! whenever the call may flush (which writes to sockets).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

use super::buffer::{BufferLimits, GopBuffer};
use super::counters::ServerCounters;
use super::frame::Frame;
use super::headers::{Headers, MediaInfo};
use super::sink::Sink;
use super::stats::{ChannelStats, ChannelTotals};
use super::stream::Stream;
use super::timer::Timers;
use super::traffic::ChannelTraffic;
use crate::media::{ts_after, Packet, PacketKind};

mod flush;
mod join;

pub use flush::{FlushHold, MergeWindow};

/// Gap inserted between the last frame of an old source and the first of a new one (one frame).
const SWITCH_GAP_MS: u32 = 40;
/// A new source that sends this many audio packets and no video is treated as audio-only.
const AUDIO_ONLY_AFTER_PACKETS: u32 = 50;

/// The channel closed: the subscriber must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelClosed;

/// The channel already has another publisher and the caller did not ask to replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelBusy;

struct State {
    publisher: Option<Arc<Stream>>,
    limits: BufferLimits,
    buffer: GopBuffer,
    headers: Headers,
    /// `headers` as a list a flush shares by reference count; rebuilt after a header changes.
    headers_list: Option<Arc<[Packet]>>,
    media: MediaInfo,
    /// Copied on change, so a flush takes a snapshot with one reference count.
    sinks: Arc<Vec<Arc<Sink>>>,
    /// Frames not yet flushed to subscribers, and when the first of them arrived.
    batch: Vec<Arc<Frame>>,
    batch_started: Option<Instant>,
    /// Bursts in progress (`Channel::hold_flushes`): while any is, a channel that writes each
    /// message at once waits for the burst's end instead.
    held: u32,
    /// Added (wrapping) to the current source's timestamps.
    offset: u32,
    last_ts: Option<u32>,
    last_ts_by_kind: [Option<u32>; 3],
    /// A source took over after another had sent frames: rebase at its first keyframe.
    rebase_pending: bool,
    audio_while_waiting: u32,
    /// When the publisher left (the channel waits for a new one for the grace period).
    vacant_since: Option<Instant>,
    closed: bool,
}

pub struct Channel {
    pub id: String,
    pub created_at: SystemTime,
    pub started: Instant,
    /// Created by a publish/play on its path (closes with its publisher) rather than by the API.
    pub auto_created: bool,
    max_lag_ms: u32,
    merge: MergeWindow,
    /// Where a batch's flush deadline is scheduled; `None` flushes only on the next packet.
    timers: Option<Arc<Timers>>,
    this: Weak<Channel>,
    state: Mutex<State>,
    /// Held while a batch is written, taken before the state lock is released: batches reach
    /// every socket in order. Writes under it never block (they are non-blocking). It keeps the
    /// vector of the batch written last, emptied, for the channel's next batch: a publisher's
    /// reads allocate no batch.
    flushing: Mutex<Vec<Arc<Frame>>>,
    /// Bytes in and out and drops over the channel's life.
    pub traffic: Arc<ChannelTraffic>,
    /// The server's counters, which a flush adds its batch to.
    counters: Option<Arc<ServerCounters>>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("id", &self.id).finish()
    }
}

fn kind_index(kind: PacketKind) -> usize {
    match kind {
        PacketKind::Audio => 0,
        PacketKind::Video => 1,
        PacketKind::Data => 2,
    }
}

/// How a channel is set up.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub limits: BufferLimits,
    pub auto_created: bool,
    /// Media a subscriber may have queued before it skips to the next keyframe.
    pub max_lag_ms: u32,
    pub merge_window: MergeWindow,
    /// The server's counters (`None`: the channel counts only its own).
    pub counters: Option<Arc<ServerCounters>>,
}

impl Channel {
    pub fn new(id: String, config: ChannelConfig, timers: Option<Arc<Timers>>) -> Arc<Channel> {
        Arc::new_cyclic(|this| Channel {
            id,
            created_at: SystemTime::now(),
            started: Instant::now(),
            auto_created: config.auto_created,
            max_lag_ms: config.max_lag_ms,
            merge: config.merge_window,
            timers,
            this: this.clone(),
            state: Mutex::new(State {
                publisher: None,
                limits: config.limits,
                buffer: GopBuffer::new(),
                headers: Headers::default(),
                headers_list: None,
                media: MediaInfo::default(),
                sinks: Arc::new(Vec::new()),
                batch: Vec::new(),
                batch_started: None,
                held: 0,
                offset: 0,
                last_ts: None,
                last_ts_by_kind: [None; 3],
                rebase_pending: false,
                audio_while_waiting: 0,
                vacant_since: None,
                closed: false,
            }),
            flushing: Mutex::new(Vec::new()),
            traffic: Arc::default(),
            counters: config.counters,
        })
    }

    pub fn publisher(&self) -> Option<Arc<Stream>> {
        self.state.lock().publisher.clone()
    }

    /// How long the channel has been without a publisher, if it lost one.
    pub fn vacant_for(&self) -> Option<Duration> {
        let st = self.state.lock();
        match (&st.publisher, st.vacant_since) {
            (None, Some(since)) => Some(since.elapsed()),
            _ => None,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    pub fn media_info(&self) -> MediaInfo {
        self.state.lock().media.clone()
    }

    pub fn subscriber_count(&self) -> usize {
        self.state.lock().sinks.len()
    }

    pub fn limits(&self) -> BufferLimits {
        self.state.lock().limits
    }

    pub fn set_limits(&self, limits: BufferLimits) {
        self.state.lock().limits = limits;
    }

    /// Which tracks a new FLV subscriber should announce in its file header.
    pub fn has_audio_video(&self) -> (bool, bool) {
        let st = self.state.lock();
        match (st.media.audio_codec, st.media.video_codec) {
            (None, None) => (true, true),
            (a, v) => (a.is_some(), v.is_some()),
        }
    }

    /// Make `stream` the source, replacing another publisher only if `replace`. Writes nothing:
    /// `take_headers_from` then sends its headers. Returns the publisher it replaced.
    pub fn attach_publisher(
        &self,
        stream: &Arc<Stream>,
        replace: bool,
    ) -> Result<Option<Arc<Stream>>, ChannelBusy> {
        let mut st = self.state.lock();
        if let Some(current) = &st.publisher {
            if current.key == stream.key {
                return Ok(None);
            }
            if !replace {
                return Err(ChannelBusy);
            }
        }
        let previous = st.publisher.replace(stream.clone());
        st.vacant_since = None;
        if st.last_ts.is_some() {
            st.rebase_pending = true;
            st.audio_while_waiting = 0;
        }
        Ok(previous)
    }

    /// The source's cached headers become the channel's (sent on to subscribers where changed);
    /// its next frames continue the channel's timeline from its first keyframe.
    pub fn take_headers_from(&self, stream: &Stream) {
        for packet in stream.cached_headers() {
            let st = self.state.lock();
            if st.publisher.as_ref().is_some_and(|p| p.key == stream.key) {
                self.accept_header(st, packet);
            }
        }
    }

    /// `attach_publisher` (replacing any) and `take_headers_from` in one call.
    pub fn set_publisher(&self, stream: &Arc<Stream>) -> Option<Arc<Stream>> {
        let previous = self.attach_publisher(stream, true).unwrap_or(None);
        self.take_headers_from(stream);
        previous
    }

    /// A source that reconnected: its next frames continue the timeline from its first keyframe.
    pub fn restart_source(&self, stream: &Stream) {
        let mut st = self.state.lock();
        if st.publisher.as_ref().is_some_and(|p| p.key == stream.key) && st.last_ts.is_some() {
            st.rebase_pending = true;
            st.audio_while_waiting = 0;
        }
        drop(st);
        self.take_headers_from(stream);
    }

    /// Detach the publisher if it is `stream`; the channel keeps its subscribers. Frames still
    /// pending go out with the next `flush` (the caller's, once it holds no lock) or the timer.
    pub fn clear_publisher(&self, stream: &Stream) -> bool {
        let mut st = self.state.lock();
        if st.publisher.as_ref().is_some_and(|p| p.key == stream.key) {
            st.publisher = None;
            st.vacant_since = Some(Instant::now());
            true
        } else {
            false
        }
    }

    /// A packet from `from`. Discarded (returns false) unless `from` is the current publisher.
    pub fn push(&self, from: &Stream, packet: Packet) -> bool {
        let mut st = self.state.lock();
        if st.closed || st.publisher.as_ref().is_none_or(|p| p.key != from.key) {
            return false;
        }
        self.traffic.add_received(packet.body.len() as u64);
        if Headers::is_header(&packet) {
            self.accept_header(st, packet);
            return true;
        }
        let starts_source = st.rebase_pending;
        if st.rebase_pending {
            let has_video = st.media.video_codec.is_some();
            let starts_new_source = match packet.kind {
                PacketKind::Video => packet.is_keyframe(),
                PacketKind::Audio => {
                    st.audio_while_waiting += 1;
                    !has_video || st.audio_while_waiting > AUDIO_ONLY_AFTER_PACKETS
                }
                PacketKind::Data => false,
            };
            if !starts_new_source {
                return true;
            }
            let last = st.last_ts.unwrap_or(0);
            st.offset = last
                .wrapping_add(SWITCH_GAP_MS)
                .wrapping_sub(packet.timestamp);
            st.rebase_pending = false;
        }
        let mut packet = packet;
        let mut ts = packet.timestamp.wrapping_add(st.offset);
        // Each track's timestamps never go backwards, whatever the source does at a switch.
        let k = kind_index(packet.kind);
        if let Some(prev) = st.last_ts_by_kind[k] {
            if ts_after(prev, ts) {
                ts = prev;
            }
        }
        st.last_ts_by_kind[k] = Some(ts);
        if st.last_ts.is_none_or(|last| ts_after(ts, last)) {
            st.last_ts = Some(ts);
        }
        if (packet.kind == PacketKind::Video && st.media.video_codec.is_none())
            || (packet.kind == PacketKind::Audio && st.media.audio_codec.is_none())
        {
            st.media.observe(&packet);
        }
        packet.timestamp = ts;
        let frame = Arc::new(if starts_source {
            Frame::starting_source(packet)
        } else {
            Frame::new(packet)
        });
        if frame.packet.kind != PacketKind::Data {
            let limits = st.limits;
            st.buffer.push(frame.clone(), &limits);
        }
        self.enqueue_frame(st, frame);
        true
    }

    /// Store a header if it differs from the current one and send it on to subscribers.
    fn accept_header(&self, mut st: parking_lot::MutexGuard<'_, State>, mut packet: Packet) {
        let state = &mut *st;
        let Some(slot) = state.headers.slot_for(&packet) else {
            return;
        };
        if slot
            .packet
            .as_ref()
            .is_some_and(|old| old.body == packet.body)
        {
            return;
        }
        let codec_changed = slot.packet.is_some() && packet.kind != PacketKind::Data;
        *slot.packet = Some(packet.clone());
        state.headers_list = None;
        if slot.first_of_kind {
            state.media.observe(&packet);
        }
        if codec_changed {
            // Buffered frames cannot be decoded with the new headers that joiners get first.
            state.buffer.clear();
        }
        packet.timestamp = state.last_ts.unwrap_or(packet.timestamp);
        self.enqueue_frame(st, Arc::new(Frame::new(packet)));
    }

    /// The channel's stats.
    pub fn stats(&self) -> ChannelStats {
        let st = self.state.lock();
        ChannelStats {
            id: self.id.clone(),
            created_at: self.created_at,
            elapsed_secs: self.started.elapsed().as_secs_f64(),
            subscribers: st.sinks.iter().map(|s| s.stream.id()).collect(),
            limits: st.limits,
            buffer_used: st.buffer.bytes(),
            buffered_duration_ms: st.buffer.duration_ms(),
            buffered_gops: st.buffer.gop_count(),
            publisher: st.publisher.as_ref().map(|p| p.id()),
            media: st.media.clone(),
            totals: ChannelTotals {
                received_bytes: self.traffic.received(),
                sent_bytes: self.traffic.sent(),
                dropped_packets: self.traffic.dropped(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
