//! A stream: one connection (RTMP publish or play, HTTP-FLV play, a relay) as the registry
//! records it.
//!
//! `Stream` is the record: identity, state, counters, what it learnt of its media. It points at
//! nothing, so channels and sinks may hold it freely; the wiring is in `handle`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Condvar, Mutex};

use super::counters::ServerCounters;
use super::headers::{Headers, MediaInfo};
use super::meter::Meter;
use super::stats::StreamStats;
use super::traffic::Protocol;
use super::types::{CloseReason, Decision, Role, RtmpInfo, StreamState, StreamType};
use crate::media::{Packet, PacketKind};

/// A server's request that an RTMP client reconnect (Enhanced RTMP v2): to `tc_url`, or to
/// the same server when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconnectAsk {
    pub tc_url: Option<String>,
    pub description: Option<String>,
}

/// Sends a [`ReconnectAsk`] to one connection.
pub type Reconnector = std::sync::Arc<dyn Fn(&ReconnectAsk) + Send + Sync>;

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
    bytes_in: AtomicU64,
    dropped_packets: AtomicU64,
    /// Byte and media-time counters, updated for every write.
    pub meter: Meter,
    /// `Protocol` index: the label its bytes are counted under server-wide.
    protocol: AtomicU8,
    /// The server's counters (set by the registry; a bare stream in a test counts only itself).
    counters: OnceLock<Arc<ServerCounters>>,
    /// The controller's accept/reject (or a close's reject) not yet taken by the connection.
    decision: Mutex<Option<Decision>>,
    decided: Condvar,
    /// Shuts the connection's socket down, so a thread blocked in a read wakes up.
    closer: Mutex<Option<Box<dyn Fn() + Send>>>,
    /// Delivers a ReconnectRequest to an RTMP client, and whether the client advertised that
    /// it follows one (`capsEx` Reconnect).
    reconnector: Mutex<Option<(Reconnector, bool)>>,
    close_requested: Mutex<Option<CloseReason>>,
    closed: AtomicBool,
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
    pub fn new(key: u64, id: String, stream_type: StreamType, remote_addr: String) -> Stream {
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
            bytes_in: AtomicU64::new(0),
            dropped_packets: AtomicU64::new(0),
            meter: Meter::default(),
            protocol: AtomicU8::new(Protocol::of(stream_type).index() as u8),
            counters: OnceLock::new(),
            decision: Mutex::new(None),
            decided: Condvar::new(),
            closer: Mutex::new(None),
            reconnector: Mutex::new(None),
            close_requested: Mutex::new(None),
            closed: AtomicBool::new(false),
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

    pub fn set_media_info(&self, info: MediaInfo) {
        *self.media.lock() = info;
    }

    /// Register how to wake the connection's thread when the stream is closed from outside.
    pub fn set_closer(&self, closer: Box<dyn Fn() + Send>) {
        *self.closer.lock() = Some(closer);
    }

    /// Drop the closer once the connection has ended (it holds the socket).
    pub(crate) fn clear_closer(&self) {
        *self.closer.lock() = None;
        *self.reconnector.lock() = None;
    }

    /// Register how to send the RTMP client a ReconnectRequest; `advertised`: the client said
    /// in `connect` that it follows one.
    pub fn set_reconnector(&self, advertised: bool, reconnector: Reconnector) {
        *self.reconnector.lock() = Some((reconnector, advertised));
    }

    /// Send the client a ReconnectRequest; false if the stream has no RTMP client to send to.
    pub fn request_reconnect(&self, ask: &ReconnectAsk) -> bool {
        // Called outside the lock: it writes to the connection.
        let reconnector = self.reconnector.lock().as_ref().map(|(r, _)| r.clone());
        match reconnector {
            Some(reconnector) => {
                reconnector(ask);
                true
            }
            None => false,
        }
    }

    /// Whether the stream's RTMP client advertised that it follows a ReconnectRequest.
    pub fn advertises_reconnect(&self) -> bool {
        self.reconnector.lock().as_ref().is_some_and(|(_, a)| *a)
    }

    /// Ask the connection to end (API close, channel close, reject): a wait for a decision ends
    /// and its socket is shut down. The connection reports the reason back when it finishes.
    pub fn request_close(&self, reason: CloseReason) {
        self.note_close_reason(reason);
        self.decide(Decision::Reject);
        if let Some(close) = self.closer.lock().as_ref() {
            close();
        }
    }

    /// Record why the stream is ending without waking its connection (a player ends by itself
    /// once it has written its goodbye). The first reason wins.
    pub fn note_close_reason(&self, reason: CloseReason) {
        let mut requested = self.close_requested.lock();
        if requested.is_none() {
            *requested = Some(reason);
        }
    }

    /// The reason given to `request_close`, if any: it wins over what the connection saw.
    pub fn close_requested(&self) -> Option<CloseReason> {
        *self.close_requested.lock()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Mark the stream closed; `false` if it already was (its close is reported once).
    pub(crate) fn mark_closed(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    /// Give the connection a decision; the first one not yet taken stands.
    pub(crate) fn decide(&self, decision: Decision) {
        let mut pending = self.decision.lock();
        if pending.is_none() {
            *pending = Some(decision);
        }
        self.decided.notify_all();
    }

    /// Wait for accept/reject and take it; `None` when the timeout passes first.
    pub(crate) fn wait_decision(&self, timeout: Duration) -> Option<Decision> {
        let deadline = Instant::now() + timeout;
        let mut pending = self.decision.lock();
        while pending.is_none() {
            if self.decided.wait_until(&mut pending, deadline).timed_out() {
                break;
            }
        }
        pending.take()
    }

    /// Count this stream's bytes and drops into the server's counters too.
    pub(crate) fn count_into(&self, counters: Arc<ServerCounters>) {
        let _ = self.counters.set(counters);
    }

    pub(crate) fn server_counters(&self) -> Option<&ServerCounters> {
        self.counters.get().map(|c| &**c)
    }

    /// The protocol its bytes are counted under (from its type, unless marked a relay).
    pub fn protocol(&self) -> Protocol {
        Protocol::from_index(self.protocol.load(Ordering::Relaxed))
    }

    /// Count its bytes under `protocol` from now on (a relay's stream).
    pub fn set_protocol(&self, protocol: Protocol) {
        self.protocol
            .store(protocol.index() as u8, Ordering::Relaxed);
    }

    pub fn add_bytes_in(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
        self.meter.add_in(n);
        if let Some(c) = self.server_counters() {
            c.traffic.add_received(self.protocol(), n);
        }
    }

    /// Bytes sent by the connection itself (not by a channel's flush, which counts its whole
    /// batch into the server's counters at once).
    pub fn add_bytes_out(&self, n: u64) {
        self.meter.add_out(n, super::meter::clock_seconds());
        self.count_sent(n);
    }

    /// Bytes already on the meter, into the server's counters.
    pub(crate) fn count_sent(&self, n: u64) {
        if let Some(c) = self.server_counters() {
            c.traffic.add_sent(self.protocol(), n);
        }
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }

    pub fn bytes_out(&self) -> u64 {
        self.meter.bytes_out()
    }

    pub fn add_dropped(&self, packets: u64) {
        self.dropped_packets.fetch_add(packets, Ordering::Relaxed);
        if let Some(c) = self.server_counters() {
            c.add_dropped(packets);
        }
    }

    pub fn dropped_packets(&self) -> u64 {
        self.dropped_packets.load(Ordering::Relaxed)
    }

    /// The publisher's latest metadata and sequence headers, in the order joiners get them.
    pub fn cached_headers(&self) -> Vec<Packet> {
        self.headers.lock().iter().cloned().collect()
    }

    /// A publisher's packet: media position, codec facts and header cache. The codec facts come
    /// from the first track's headers (a multitrack stream shows its first track).
    pub fn observe_packet(&self, packet: &Packet) {
        let first_track_header = match self.headers.lock().slot_for(packet) {
            Some(slot) => {
                *slot.packet = Some(packet.clone());
                slot.first_of_kind
            }
            None => false,
        };
        if packet.kind != PacketKind::Data {
            self.meter.note_media_ts(packet.timestamp);
        }
        let mut media = self.media.lock();
        let new_codec = match packet.kind {
            PacketKind::Video => media.video_codec.is_none(),
            PacketKind::Audio => media.audio_codec.is_none(),
            PacketKind::Data => true,
        };
        if new_codec || first_track_header {
            media.observe(packet);
        }
    }

    pub fn media_time(&self) -> f64 {
        self.meter.media_time()
    }

    pub fn bitrate(&self) -> u64 {
        self.meter.bits_per_second(self.started.elapsed().as_secs())
    }

    /// The stream's stats; `channel` is the id and media facts of the channel it is wired to
    /// (a player shows the channel's media).
    pub fn stats(&self, channel: Option<(&str, MediaInfo)>) -> StreamStats {
        let (channel_id, channel_media) = channel.unzip();
        let media = match (self.role(), channel_media) {
            (Some(Role::Player), Some(media)) => media,
            _ => self.media_info(),
        };
        StreamStats {
            id: self.id(),
            created_at: self.created_at,
            elapsed_secs: self.started.elapsed().as_secs_f64(),
            stream_type: self.stream_type,
            state: self.state(),
            rtmp: self.rtmp_info(),
            remote_addr: self.remote_addr.clone(),
            media,
            bitrate: self.bitrate(),
            time_secs: self.media_time(),
            bytes: self.bytes_in() + self.bytes_out(),
            channel: channel_id.map(str::to_owned),
            dropped_packets: self.dropped_packets(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::handle::StreamHandle;

    fn handle() -> StreamHandle {
        StreamHandle::new(Stream::new(7, "7".into(), StreamType::Rtmp, "peer".into()))
    }

    #[test]
    fn the_first_close_reason_wins() {
        let s = handle();
        s.note_close_reason(CloseReason::ApiClose);
        s.request_close(CloseReason::PeerClosed);
        assert_eq!(s.close_requested(), Some(CloseReason::ApiClose));
        assert!(s.mark_closed());
        assert!(!s.mark_closed(), "a stream closes once");
    }

    #[test]
    fn a_request_to_close_ends_a_wait_for_a_decision() {
        let s = handle();
        s.request_close(CloseReason::ApiClose);
        assert_eq!(s.wait_decision(Duration::ZERO), Some(Decision::Reject));
    }

    #[test]
    fn a_publisher_learns_its_codecs_and_headers_from_its_packets() {
        let s = handle();
        s.observe_packet(&Packet::new(PacketKind::Video, 0, vec![0x17, 0, 0, 0, 0]));
        s.observe_packet(&Packet::new(
            PacketKind::Audio,
            0,
            vec![0xAF, 0, 0x12, 0x10],
        ));
        s.observe_packet(&Packet::new(
            PacketKind::Video,
            1000,
            vec![0x27, 1, 0, 0, 0],
        ));
        let media = s.media_info();
        assert_eq!(media.video_codec, Some("H264"));
        assert_eq!(media.audio_codec, Some("AAC"));
        assert_eq!(media.sample_rate, Some(44100));
        assert_eq!(s.cached_headers().len(), 2);
        assert_eq!(s.media_time(), 1.0);
        let stats = s.stats();
        assert_eq!(stats.id, "7");
        assert_eq!(stats.channel, None);
    }
}
