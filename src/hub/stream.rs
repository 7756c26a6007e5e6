//! A stream: one connection (RTMP publish/play, HTTP-FLV play, later proxies) as the registry sees it.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};

use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use crate::text::rfc3339;

use super::channel::{Channel, Headers};
use super::sink::Sink;
use crate::media::codec;
use crate::media::{Packet, PacketKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    Connecting,
    CheckingParams,
    Connected,
    Subscribing,
    Publishing,
}

impl StreamState {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamState::Connecting => "connecting",
            StreamState::CheckingParams => "checkingParams",
            StreamState::Connected => "connected",
            StreamState::Subscribing => "subscribing",
            StreamState::Publishing => "publishing",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    Rtmp,
    HttpFlv,
}

impl StreamType {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamType::Rtmp => "rtmp",
            StreamType::HttpFlv => "http-flv",
        }
    }
}

/// What a stream does with its channel: the output format decides which serialisation it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Publisher,
    Player,
}

/// Why a stream ended; reported in the streamClose event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    PeerClosed,
    ApiClose,
    Rejected,
    Timeout,
    Error,
    ChannelClosed,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::PeerClosed => "peerClosed",
            CloseReason::ApiClose => "apiClose",
            CloseReason::Rejected => "rejected",
            CloseReason::Timeout => "timeout",
            CloseReason::Error => "error",
            CloseReason::ChannelClosed => "channelClosed",
        }
    }
}

/// The accept/reject answer for a stream in `checkingParams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject,
}

/// RTMP facts of a stream, shown in stats and callbacks.
#[derive(Debug, Clone, Default)]
pub struct RtmpInfo {
    pub command: String,
    pub connect_params: Value,
    pub stream_name: String,
    /// Query parameters of the publish/play request, decoded, in order.
    pub params: Vec<(String, String)>,
}

impl RtmpInfo {
    pub fn to_json(&self) -> Value {
        json!({
            "command": self.command,
            "connectParams": self.connect_params,
            "streamName": self.stream_name,
            "params": self.params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<Map<String, Value>>(),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaInfo {
    pub video_codec: Option<&'static str>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub audio_codec: Option<&'static str>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
}

impl MediaInfo {
    /// Learn codec facts from a packet (sequence headers give the exact size and audio parameters).
    pub fn observe(&mut self, packet: &Packet) {
        match packet.kind {
            PacketKind::Video => {
                if let Some(c) = codec::video_codec(&packet.body) {
                    self.video_codec = Some(c.name());
                }
                if codec::video_is_sequence_header(&packet.body) {
                    if let Ok(Some(size)) = codec::video_size_from_sequence_header(&packet.body) {
                        self.width = Some(size.width);
                        self.height = Some(size.height);
                    }
                }
            }
            PacketKind::Audio => {
                if let Some(c) = codec::audio_codec(&packet.body) {
                    self.audio_codec = Some(c.name());
                }
                if let Some(p) = codec::audio_params(&packet.body) {
                    self.sample_rate = Some(p.sample_rate);
                    self.channels = Some(p.channels);
                }
            }
            PacketKind::Data => {
                // onMetaData fills what sequence headers cannot (e.g. Sorenson H.263 sizes).
                if let Ok(values) = crate::amf0::decode_all(&packet.body) {
                    if let Some(meta) = values.iter().find(|v| v.get("width").is_some()) {
                        let num = |k| meta.get(k).and_then(|v| v.as_number());
                        if self.width.is_none() {
                            self.width = num("width").map(|w| w as u32);
                        }
                        if self.height.is_none() {
                            self.height = num("height").map(|h| h as u32);
                        }
                    }
                }
            }
        }
    }

    pub fn audio_json(&self) -> Value {
        match self.audio_codec {
            None => Value::Null,
            Some(t) => {
                json!({"type": t, "samplerate": self.sample_rate, "channelCount": self.channels})
            }
        }
    }

    pub fn video_json(&self) -> Value {
        match self.video_codec {
            None => Value::Null,
            Some(t) => json!({"type": t, "width": self.width, "height": self.height}),
        }
    }
}

const NO_MEDIA_TS: u64 = u64::MAX;

/// Whole seconds on one process-wide clock: the rate buckets of every stream count in it, so a
/// flush reads the clock once for all its subscribers.
pub fn clock_seconds() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_secs()
}

/// Bytes per second over the last few seconds, from one-second buckets.
#[derive(Debug)]
pub struct RateMeter {
    /// Bytes in each second (u32 keeps the meter on the stream's meter cache line; saturates
    /// at 4 GiB/s).
    buckets: [u32; RATE_WINDOW_SECS + 1],
    current_second: u64,
}

const RATE_WINDOW_SECS: usize = 5;

impl RateMeter {
    fn new() -> RateMeter {
        RateMeter {
            buckets: [0; RATE_WINDOW_SECS + 1],
            current_second: 0,
        }
    }

    fn roll_to(&mut self, second: u64) {
        if second <= self.current_second {
            return;
        }
        let gap = (second - self.current_second).min(self.buckets.len() as u64);
        for i in 1..=gap {
            let idx = ((self.current_second + i) % self.buckets.len() as u64) as usize;
            self.buckets[idx] = 0;
        }
        self.current_second = second;
    }

    pub fn add(&mut self, second: u64, bytes: u64) {
        self.roll_to(second);
        let idx = (second % self.buckets.len() as u64) as usize;
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.buckets[idx] = self.buckets[idx].saturating_add(bytes);
    }

    /// Bits per second over the complete seconds of the window (the current one is partial).
    /// `lived_secs`: how long the stream has existed (a young stream averages over its life).
    pub fn bits_per_second(&mut self, second: u64, lived_secs: u64) -> u64 {
        self.roll_to(second);
        let full = (lived_secs as usize).min(RATE_WINDOW_SECS);
        if full == 0 {
            return 0;
        }
        let len = self.buckets.len() as u64;
        let sum: u64 = (1..=full as u64)
            .map(|back| u64::from(self.buckets[((second + len - back) % len) as usize]))
            .sum();
        sum * 8 / full as u64
    }
}

/// One connection as the registry knows it. The connection's own thread holds an `Arc<Stream>`.
/// The counters a subscriber's every write updates, on one cache line of their own: the channel
/// updates them for each subscriber on each batch, and a scattered layout costs a cache miss each.
#[repr(C, align(64))]
pub(crate) struct Meter {
    pub(crate) bytes_out: AtomicU64,
    /// `NO_MEDIA_TS` until the first media timestamp is seen.
    first_media_ts: AtomicU64,
    /// Last media timestamp seen or sent (ms), for `time`.
    media_ts: AtomicU32,
    /// Timestamp of the last frame a player took off its queue: the channel measures its lag.
    pub(crate) dequeued_ts: AtomicU32,
    rate: Mutex<RateMeter>,
}

pub struct Stream {
    /// Internal identity: never changes, unlike the user-visible id (see `/stream/changeid`).
    pub key: u64,
    id: Mutex<String>,
    pub stream_type: StreamType,
    pub remote_addr: String,
    pub created_at: SystemTime,
    pub started: Instant,
    state: Mutex<StreamState>,
    role: Mutex<Option<Role>>,
    rtmp: Mutex<Option<RtmpInfo>>,
    media: Mutex<MediaInfo>,
    channel: Mutex<Option<Arc<Channel>>>,
    pub bytes_in: AtomicU64,
    pub dropped_packets: AtomicU64,
    /// Byte and media-time counters, updated for every write.
    pub(crate) meter: Meter,
    decisions: (Sender<Decision>, Receiver<Decision>),
    /// Shuts the connection's socket down, so a thread blocked in a read wakes up (set by the server).
    closer: Mutex<Option<Box<dyn Fn() + Send>>>,
    close_requested: Mutex<Option<CloseReason>>,
    pub(crate) closed: AtomicBool,
    /// A player's output, kept so the player can be moved between channels and ended.
    pub(crate) sink: Mutex<Option<Arc<Sink>>>,
    /// A publisher's latest metadata and sequence headers, for a channel that switches to it.
    headers: Mutex<Headers>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("id", &*self.id.lock())
            .field("type", &self.stream_type)
            .field("state", &*self.state.lock())
            .finish()
    }
}

impl Stream {
    pub(crate) fn new(
        key: u64,
        id: String,
        stream_type: StreamType,
        remote_addr: String,
    ) -> Stream {
        Stream {
            key,
            id: Mutex::new(id),
            stream_type,
            remote_addr,
            created_at: SystemTime::now(),
            started: Instant::now(),
            state: Mutex::new(StreamState::Connecting),
            role: Mutex::new(None),
            rtmp: Mutex::new(None),
            media: Mutex::new(MediaInfo::default()),
            channel: Mutex::new(None),
            bytes_in: AtomicU64::new(0),

            dropped_packets: AtomicU64::new(0),
            meter: Meter {
                bytes_out: AtomicU64::new(0),
                first_media_ts: AtomicU64::new(NO_MEDIA_TS),
                media_ts: AtomicU32::new(0),
                dequeued_ts: AtomicU32::new(0),
                rate: Mutex::new(RateMeter::new()),
            },
            decisions: crossbeam_channel::bounded(4),
            closer: Mutex::new(None),
            close_requested: Mutex::new(None),
            closed: AtomicBool::new(false),
            sink: Mutex::new(None),
            headers: Mutex::new(Headers::default()),
        }
    }

    pub fn id(&self) -> String {
        self.id.lock().clone()
    }

    pub(crate) fn set_id(&self, id: String) {
        *self.id.lock() = id;
    }

    pub fn state(&self) -> StreamState {
        *self.state.lock()
    }

    pub fn set_state(&self, state: StreamState) {
        *self.state.lock() = state;
    }

    pub fn role(&self) -> Option<Role> {
        *self.role.lock()
    }

    pub fn set_role(&self, role: Role) {
        *self.role.lock() = Some(role);
    }

    pub fn set_rtmp_info(&self, info: RtmpInfo) {
        *self.rtmp.lock() = Some(info);
    }

    pub fn rtmp_info(&self) -> Option<RtmpInfo> {
        self.rtmp.lock().clone()
    }

    pub fn media_info(&self) -> MediaInfo {
        self.media.lock().clone()
    }

    /// The channel this stream publishes to or plays from.
    pub fn channel(&self) -> Option<Arc<Channel>> {
        self.channel.lock().clone()
    }

    pub(crate) fn set_channel(&self, channel: Option<Arc<Channel>>) {
        *self.channel.lock() = channel;
    }

    /// Register how to wake the connection's thread when the stream is closed from outside.
    pub fn set_closer(&self, closer: Box<dyn Fn() + Send>) {
        *self.closer.lock() = Some(closer);
    }

    /// Drop the closer once the connection has ended (it holds the socket).
    pub(crate) fn clear_closer(&self) {
        *self.closer.lock() = None;
    }

    /// Ask the connection to end (API close, channel close, reject). The connection reports the
    /// reason back when it finishes.
    pub fn request_close(&self, reason: CloseReason) {
        {
            let mut requested = self.close_requested.lock();
            if requested.is_none() {
                *requested = Some(reason);
            }
        }
        let sink = self.sink.lock().clone();
        if let Some(sink) = sink {
            sink.end(reason);
        }
        let _ = self.decisions.0.try_send(Decision::Reject);
        if let Some(close) = self.closer.lock().as_ref() {
            close();
        }
    }

    /// The reason given to `request_close`, if any: it wins over what the connection saw.
    pub fn close_requested(&self) -> Option<CloseReason> {
        *self.close_requested.lock()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn decide(&self, decision: Decision) {
        let _ = self.decisions.0.try_send(decision);
    }

    /// Wait for accept/reject; `None` when the timeout passes first.
    pub(crate) fn wait_decision(&self, timeout: Duration) -> Option<Decision> {
        self.decisions.1.recv_timeout(timeout).ok()
    }

    pub fn add_bytes_in(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
        self.meter.rate.lock().add(clock_seconds(), n);
    }

    pub fn add_bytes_out(&self, n: u64) {
        self.add_bytes_out_at(n, clock_seconds());
    }

    /// `add_bytes_out` with the clock already read (once per batch for every subscriber).
    pub fn add_bytes_out_at(&self, n: u64, second: u64) {
        self.meter.bytes_out.fetch_add(n, Ordering::Relaxed);
        self.meter.rate.lock().add(second, n);
    }

    /// Remember a publisher's header packet (metadata or sequence header).
    pub fn cache_header(&self, packet: &Packet) -> bool {
        self.headers.lock().observe(packet)
    }

    pub fn cached_headers(&self) -> Vec<Packet> {
        let h = self.headers.lock();
        [&h.metadata, &h.video, &h.audio]
            .into_iter()
            .filter_map(|p| p.clone())
            .collect()
    }

    /// Record why the stream is ending without waking its connection (a player ends by itself once
    /// it has written its goodbye).
    pub fn note_close_reason(&self, reason: CloseReason) {
        let mut requested = self.close_requested.lock();
        if requested.is_none() {
            *requested = Some(reason);
        }
    }

    /// A publisher's packet: media position, codec facts and header cache.
    pub fn observe_packet(&self, packet: &Packet) {
        self.cache_header(packet);
        if packet.kind != PacketKind::Data {
            self.note_media_ts(packet.timestamp);
        }
        if packet.kind == PacketKind::Data || packet.is_sequence_header() || {
            let m = self.media.lock();
            m.video_codec.is_none() && packet.kind == PacketKind::Video
                || m.audio_codec.is_none() && packet.kind == PacketKind::Audio
        } {
            self.media.lock().observe(packet);
        }
    }

    /// A publishing connection's packet: note it, and hand it to the channel if this stream is
    /// that channel's current source (otherwise it is discarded, e.g. after a switch).
    pub fn publish_packet(&self, packet: Packet) {
        self.observe_packet(&packet);
        if let Some(channel) = self.channel() {
            channel.push(self, packet);
        }
    }

    pub fn set_media_info(&self, info: MediaInfo) {
        *self.media.lock() = info;
    }

    pub fn note_media_ts(&self, ts: u32) {
        self.meter.media_ts.store(ts, Ordering::Relaxed);
        if self.meter.first_media_ts.load(Ordering::Relaxed) == NO_MEDIA_TS {
            let _ = self.meter.first_media_ts.compare_exchange(
                NO_MEDIA_TS,
                u64::from(ts),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Media position in seconds since the stream's first media timestamp.
    pub fn media_time(&self) -> f64 {
        match self.meter.first_media_ts.load(Ordering::Relaxed) {
            NO_MEDIA_TS => 0.0,
            first => {
                let last = self.meter.media_ts.load(Ordering::Relaxed);
                crate::media::ts_diff(last, first as u32).max(0) as f64 / 1000.0
            }
        }
    }

    pub fn bytes_out(&self) -> u64 {
        self.meter.bytes_out.load(Ordering::Relaxed)
    }

    pub fn bitrate(&self) -> u64 {
        let lived = self.started.elapsed().as_secs();
        self.meter
            .rate
            .lock()
            .bits_per_second(clock_seconds(), lived)
    }

    /// The stat object of `/stat/stream/{id}` and of the streamConnected event.
    pub fn stat_json(&self) -> Value {
        let rtmp = self.rtmp.lock().as_ref().map(RtmpInfo::to_json);
        let channel = self.channel();
        // A player shows what it plays: its channel's media facts.
        let media = match (self.role(), &channel) {
            (Some(Role::Player), Some(ch)) => ch.media_info(),
            _ => self.media_info(),
        };
        json!({
            "id": self.id(),
            "createdAt": rfc3339(self.created_at),
            "elapsed": self.started.elapsed().as_secs_f64(),
            "type": self.stream_type.as_str(),
            "stat": self.state().as_str(),
            "rtmp": rtmp,
            "remoteAddr": self.remote_addr,
            "audio": media.audio_json(),
            "video": media.video_json(),
            "bitrate": self.bitrate(),
            "time": self.media_time(),
            "bytes": self.bytes_in.load(Ordering::Relaxed) + self.meter.bytes_out.load(Ordering::Relaxed),
            "channel": channel.as_ref().map(|c| c.id.clone()),
            "droppedPackets": self.dropped_packets.load(Ordering::Relaxed),
        })
    }
}

/// The close reason an I/O error stands for: timeouts, a peer that went away, or an error.
pub fn close_reason_of(e: &std::io::Error) -> CloseReason {
    use std::io::ErrorKind::*;
    match e.kind() {
        WouldBlock | TimedOut => CloseReason::Timeout,
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected => {
            CloseReason::PeerClosed
        }
        _ => CloseReason::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_meter_averages_complete_seconds() {
        let mut r = RateMeter::new();
        for s in 0..10 {
            r.add(s, 1000);
        }
        assert_eq!(r.bits_per_second(10, 10), 8000);
        // Two idle seconds bring the average down, five clear it.
        assert_eq!(r.bits_per_second(12, 12), 8000 * 3 / 5);
        assert_eq!(r.bits_per_second(20, 20), 0);
    }

    #[test]
    fn a_young_stream_reports_rate_over_the_seconds_it_has_lived() {
        let mut r = RateMeter::new();
        r.add(0, 500);
        r.add(1, 500);
        assert_eq!(r.bits_per_second(2, 2), 4000);
        assert_eq!(r.bits_per_second(0, 0), 0);
    }
}
