//! A channel: one publisher, N subscribers, a bounded buffer, and the fan-out between them.
//!
//! The publisher's thread calls `push`: under the channel lock the packet is put on the channel's
//! timeline, buffered, and appended to the pending batch. When the merge window has passed (or at
//! once, with a window of 0) the batch is flushed: its frames are serialised once per output format
//! and offered to every subscriber's `Sink`, which writes them straight to the socket when it can
//! take them (see `sink.rs`). The flush runs outside the channel lock, under a flush lock that keeps
//! batches in order.

use std::io::IoSlice;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use serde_json::{json, Value};

use super::buffer::{BufferLimits, Cursor, Frame, GopBuffer};
use super::sink::{next_batch_id, Format, Offer, SharedBatch, Sink};
use super::stream::{CloseReason, MediaInfo, Stream};
use crate::media::{ts_after, Packet, PacketKind};
use crate::text::rfc3339;

/// Gap inserted between the last frame of an old source and the first of a new one (one frame).
const SWITCH_GAP_MS: u32 = 40;
/// A new source that sends this many audio packets and no video is treated as audio-only.
const AUDIO_ONLY_AFTER_PACKETS: u32 = 50;

/// The channel closed: the subscriber must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelClosed;

/// The latest onMetaData and sequence headers, kept outside the buffer and sent first to joiners.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    pub metadata: Option<Packet>,
    pub video: Option<Packet>,
    pub audio: Option<Packet>,
}

impl Headers {
    fn slot_for(&mut self, packet: &Packet) -> Option<&mut Option<Packet>> {
        match packet.kind {
            PacketKind::Data if is_metadata(&packet.body) => Some(&mut self.metadata),
            PacketKind::Video if packet.is_sequence_header() => Some(&mut self.video),
            PacketKind::Audio if packet.is_sequence_header() => Some(&mut self.audio),
            _ => None,
        }
    }

    /// Remember a header packet; returns whether it was a header at all.
    pub fn observe(&mut self, packet: &Packet) -> bool {
        match self.slot_for(packet) {
            Some(slot) => {
                *slot = Some(packet.clone());
                true
            }
            None => false,
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Packet> {
        [&self.metadata, &self.video, &self.audio]
            .into_iter()
            .filter_map(|p| p.as_ref())
    }
}

/// Whether an AMF0 data body is `onMetaData` (string marker, length 10, the name).
pub fn is_metadata(body: &[u8]) -> bool {
    body.starts_with(b"\x02\x00\x0aonMetaData")
}

struct State {
    publisher: Option<Arc<Stream>>,
    limits: BufferLimits,
    buffer: GopBuffer,
    headers: Headers,
    media: MediaInfo,
    /// Copied on change, so a flush takes a snapshot with one reference count.
    sinks: Arc<Vec<Arc<Sink>>>,
    /// Frames not yet flushed to subscribers, and when the first of them arrived.
    batch: Vec<Arc<Frame>>,
    batch_started: Option<Instant>,
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

/// A batch taken out of the channel, to be offered to a snapshot of its subscribers.
struct Flush {
    frames: Vec<Arc<Frame>>,
    sinks: Arc<Vec<Arc<Sink>>>,
    headers: Vec<Packet>,
    has_video: bool,
}

pub struct Channel {
    pub id: String,
    pub created_at: SystemTime,
    pub started: Instant,
    /// Created by a publish/play on its path (closes with its publisher) rather than by the API.
    pub auto_created: bool,
    max_lag_ms: u32,
    merge_window: Duration,
    state: Mutex<State>,
    /// Held while a batch is written, taken before the state lock is released: batches reach
    /// every socket in order.
    flushing: Mutex<()>,
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

impl Channel {
    pub fn new(
        id: String,
        limits: BufferLimits,
        auto_created: bool,
        max_lag_ms: u32,
        merge_window: Duration,
    ) -> Channel {
        Channel {
            id,
            created_at: SystemTime::now(),
            started: Instant::now(),
            auto_created,
            max_lag_ms,
            merge_window,
            state: Mutex::new(State {
                publisher: None,
                limits,
                buffer: GopBuffer::new(),
                headers: Headers::default(),
                media: MediaInfo::default(),
                sinks: Arc::new(Vec::new()),
                batch: Vec::new(),
                batch_started: None,
                offset: 0,
                last_ts: None,
                last_ts_by_kind: [None; 3],
                rebase_pending: false,
                audio_while_waiting: 0,
                vacant_since: None,
                closed: false,
            }),
            flushing: Mutex::new(()),
        }
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

    /// Which tracks a new FLV subscriber should announce in its file header.
    pub fn has_audio_video(&self) -> (bool, bool) {
        let st = self.state.lock();
        match (st.media.audio_codec, st.media.video_codec) {
            (None, None) => (true, true),
            (a, v) => (a.is_some(), v.is_some()),
        }
    }

    /// Take the pending batch out (with the lock held), for `run_flush` after the lock is dropped.
    fn take_flush(st: &mut State) -> Option<Flush> {
        st.batch_started = None;
        if st.batch.is_empty() {
            return None;
        }
        let frames = std::mem::take(&mut st.batch);
        if st.sinks.is_empty() {
            return None;
        }
        Some(Flush {
            frames,
            sinks: st.sinks.clone(),
            headers: st.headers.iter().cloned().collect(),
            has_video: st.media.video_codec.is_some(),
        })
    }

    /// Release the state lock and write the batch, in order with every other flush.
    fn finish_flush(&self, st: parking_lot::MutexGuard<'_, State>, flush: Option<Flush>) {
        let Some(flush) = flush else { return };
        let order = self.flushing.lock();
        drop(st);
        let count = |format| flush.sinks.iter().filter(|s| s.format == format).count();
        let (rtmp_sinks, flv_sinks) = (count(Format::Rtmp), count(Format::Flv));
        let slices = |sinks: usize, bytes: fn(&Frame) -> &[u8]| -> Vec<IoSlice<'_>> {
            if sinks == 0 {
                return Vec::new();
            }
            flush
                .frames
                .iter()
                .map(|f| IoSlice::new(bytes(f)))
                .collect()
        };
        let rtmp = slices(rtmp_sinks, Frame::rtmp_bytes);
        let flv = slices(flv_sinks, Frame::flv_bytes);
        let offer = Offer {
            frames: &flush.frames,
            rtmp: SharedBatch::new(next_batch_id(), &rtmp, rtmp_sinks),
            flv: SharedBatch::new(next_batch_id(), &flv, flv_sinks),
            has_video: flush.has_video,
            headers: &flush.headers,
            max_lag_ms: self.max_lag_ms,
            second: super::stream::clock_seconds(),
        };
        // One format after the other, so a wire that stages a batch loads each only once.
        let ordered: Vec<&Arc<Sink>> = [Format::Rtmp, Format::Flv]
            .into_iter()
            .flat_map(|format| flush.sinks.iter().filter(move |s| s.format == format))
            .collect();
        offer_all(&ordered, &offer);
        drop(order);
    }

    /// Add a frame to the pending batch; flush if the merge window has passed.
    fn enqueue_frame(&self, mut st: parking_lot::MutexGuard<'_, State>, frame: Arc<Frame>) {
        st.batch.push(frame);
        let started = *st.batch_started.get_or_insert_with(Instant::now);
        if self.merge_window.is_zero() || started.elapsed() >= self.merge_window {
            let flush = Self::take_flush(&mut st);
            self.finish_flush(st, flush);
        }
    }

    /// Flush whatever is pending now (publisher change, close).
    pub fn flush(&self) {
        let mut st = self.state.lock();
        let flush = Self::take_flush(&mut st);
        self.finish_flush(st, flush);
    }

    /// Make `stream` the source. Its cached headers are taken over; the next frames continue the
    /// channel's timeline from its first keyframe. Returns the previous publisher.
    pub fn set_publisher(&self, stream: &Arc<Stream>) -> Option<Arc<Stream>> {
        let previous = {
            let mut st = self.state.lock();
            let previous = st.publisher.replace(stream.clone());
            st.vacant_since = None;
            if st.last_ts.is_some() {
                st.rebase_pending = true;
                st.audio_while_waiting = 0;
            }
            previous
        };
        for packet in stream.cached_headers() {
            let st = self.state.lock();
            self.accept_header(st, packet);
        }
        previous.filter(|p| p.key != stream.key)
    }

    /// Detach the publisher if it is `stream`; the channel keeps its subscribers.
    pub fn clear_publisher(&self, stream: &Stream) -> bool {
        let mut st = self.state.lock();
        if st.publisher.as_ref().is_some_and(|p| p.key == stream.key) {
            st.publisher = None;
            st.vacant_since = Some(Instant::now());
            let flush = Self::take_flush(&mut st);
            self.finish_flush(st, flush);
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
        if st.headers.slot_for(&packet).is_some() {
            self.accept_header(st, packet);
            return true;
        }
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
        let frame = Arc::new(Frame::new(Packet {
            timestamp: ts,
            ..packet
        }));
        if frame.packet.kind != PacketKind::Data {
            let limits = st.limits;
            st.buffer.push(frame.clone(), &limits);
        }
        self.enqueue_frame(st, frame);
        true
    }

    /// Store a header if it differs from the current one and send it on to subscribers.
    fn accept_header(&self, mut st: parking_lot::MutexGuard<'_, State>, packet: Packet) {
        let slot = st.headers.slot_for(&packet).expect("a header packet");
        if slot.as_ref().is_some_and(|old| old.body == packet.body) {
            return;
        }
        let codec_changed = slot.is_some() && packet.kind != PacketKind::Data;
        *slot = Some(packet.clone());
        st.media.observe(&packet);
        if codec_changed {
            // Buffered frames cannot be decoded with the new headers that joiners get first.
            st.buffer.clear();
        }
        let ts = st.last_ts.unwrap_or(packet.timestamp);
        let frame = Arc::new(Frame::new(Packet {
            timestamp: ts,
            ..packet
        }));
        self.enqueue_frame(st, frame);
    }

    /// Register a subscriber and give it the headers and the buffer from `cursor`, under one lock,
    /// so it neither loses nor doubles a frame at the seam.
    pub fn add_subscriber(&self, sink: &Arc<Sink>, cursor: Cursor) -> Result<(), ChannelClosed> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(ChannelClosed);
        }
        // Frames still pending are in the buffer already: the joiner gets them from there, so the
        // pending batch goes out to the others first.
        while !st.batch.is_empty() {
            let flush = Self::take_flush(&mut st);
            self.finish_flush(st, flush);
            st = self.state.lock();
            if st.closed {
                return Err(ChannelClosed);
            }
        }
        let backlog = st.buffer.frames_from(cursor);
        let has_video = st.media.video_codec.is_some();
        let start_ts = backlog
            .first()
            .map(|f| f.timestamp())
            .or(st.last_ts)
            .unwrap_or(0);
        // onMetaData at 0, as at the start of a file: ffmpeg reads script data stamped later as a
        // data stream of its own, not as metadata. The sequence headers take the start time.
        let mut join: Vec<Arc<Frame>> = st
            .headers
            .iter()
            .map(|p| {
                restamp(
                    p,
                    if p.kind == PacketKind::Data {
                        0
                    } else {
                        start_ts
                    },
                )
            })
            .collect();
        let awaiting_keyframe = backlog.is_empty() && has_video;
        join.extend(backlog);
        if !sink.join(join, awaiting_keyframe) {
            return Err(ChannelClosed);
        }
        let mut sinks: Vec<Arc<Sink>> = st
            .sinks
            .iter()
            .filter(|s| s.stream.key != sink.stream.key)
            .cloned()
            .collect();
        sinks.push(sink.clone());
        st.sinks = Arc::new(sinks);
        Ok(())
    }

    pub fn remove_subscriber(&self, stream: &Stream) -> Option<Arc<Sink>> {
        let mut st = self.state.lock();
        let found = st
            .sinks
            .iter()
            .find(|s| s.stream.key == stream.key)
            .cloned();
        if found.is_some() {
            let sinks: Vec<Arc<Sink>> = st
                .sinks
                .iter()
                .filter(|s| s.stream.key != stream.key)
                .cloned()
                .collect();
            st.sinks = Arc::new(sinks);
        }
        found
    }

    /// Close the channel: every subscriber is told to end after what it has been sent. Returns the
    /// publisher and subscribers that were attached, for the registry to update.
    pub fn close(&self) -> (Option<Arc<Stream>>, Vec<Arc<Stream>>) {
        let mut st = self.state.lock();
        st.closed = true;
        let flush = Self::take_flush(&mut st);
        self.finish_flush(st, flush);
        let mut st = self.state.lock();
        st.buffer.clear();
        let sinks = std::mem::take(&mut st.sinks);
        let subscribers = sinks
            .iter()
            .map(|sink| {
                sink.end(CloseReason::ChannelClosed);
                sink.stream.clone()
            })
            .collect();
        (st.publisher.take(), subscribers)
    }

    pub fn set_limits(&self, limits: BufferLimits) {
        self.state.lock().limits = limits;
    }

    /// The `/stat/channel/{id}` object.
    pub fn stat_json(&self) -> Value {
        let st = self.state.lock();
        json!({
            "id": self.id,
            "createdAt": rfc3339(self.created_at),
            "elapsed": self.started.elapsed().as_secs_f64(),
            "subscriberCount": st.sinks.len(),
            "subscribers": st.sinks.iter().map(|s| s.stream.id()).collect::<Vec<_>>(),
            "bufferSize": st.limits.max_bytes,
            "bufferUsed": st.buffer.bytes(),
            "bufferDuration": st.limits.max_duration_ms.map(|ms| ms as f64 / 1000.0),
            "bufferGopCount": st.limits.max_gops,
            "bufferedDuration": st.buffer.duration_ms() as f64 / 1000.0,
            "bufferedGops": st.buffer.gop_count(),
            "publisher": st.publisher.as_ref().map(|p| p.id()).unwrap_or_default(),
        })
    }
}

fn restamp(packet: &Packet, ts: u32) -> Arc<Frame> {
    Arc::new(Frame::new(Packet {
        timestamp: ts,
        ..packet.clone()
    }))
}

/// From this many subscribers on, a batch is written by two threads (the flushing thread and a
/// helper), so the last subscriber of a big channel does not wait a whole pass of writes.
const PARALLEL_FLUSH_SINKS: usize = 1024;

/// Offer a batch to every sink, in two halves on two threads for a big channel when the machine
/// has more than one core. Each sink is offered by exactly one thread, and both are done before
/// this returns, so the per-channel flush order holds.
fn offer_all(sinks: &[&Arc<Sink>], offer: &Offer<'_>) {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if sinks.len() < PARALLEL_FLUSH_SINKS || cores < 2 {
        sinks.iter().for_each(|sink| sink.offer(offer));
        return;
    }
    let (mine, theirs) = sinks.split_at(sinks.len() / 2);
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("flush-helper".into())
            .stack_size(128 * 1024)
            .spawn_scoped(scope, || theirs.iter().for_each(|sink| sink.offer(offer)));
        mine.iter().for_each(|sink| sink.offer(offer));
        if let Err(e) = helper {
            log::debug!("no flush helper thread ({e}): writing the whole batch on one thread");
            theirs.iter().for_each(|sink| sink.offer(offer));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::sink::QueueEnd;
    use crate::hub::stream::StreamType;

    fn stream(key: u64) -> Arc<Stream> {
        Arc::new(Stream::new(
            key,
            key.to_string(),
            StreamType::Rtmp,
            "test".into(),
        ))
    }

    fn video(ts: u32, key: bool) -> Packet {
        Packet::new(
            PacketKind::Video,
            ts,
            vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 9],
        )
    }

    fn avc_header(tag: u8) -> Packet {
        Packet::new(PacketKind::Video, 0, vec![0x17, 0, 0, 0, 0, tag])
    }

    fn audio(ts: u32) -> Packet {
        Packet::new(PacketKind::Audio, ts, vec![0xAF, 1, 7])
    }

    fn drain(sink: &Sink) -> Vec<Arc<Frame>> {
        let mut out = Vec::new();
        while let Ok(true) = sink.next_batch(Duration::from_millis(1), &mut out) {}
        out
    }

    fn channel() -> Channel {
        Channel::new(
            "c".into(),
            BufferLimits::default(),
            true,
            5000,
            Duration::ZERO,
        )
    }

    fn subscribe(ch: &Channel, key: u64, cursor: Cursor) -> Arc<Sink> {
        let sink = Sink::queue(stream(key));
        ch.add_subscriber(&sink, cursor).unwrap();
        sink
    }

    #[test]
    fn a_big_channel_split_over_two_threads_gives_every_subscriber_every_frame_once() {
        let ch = channel();
        let publisher = stream(1);
        ch.set_publisher(&publisher);
        ch.push(&publisher, video(0, true));
        let sinks: Vec<_> = (0..PARALLEL_FLUSH_SINKS as u64 + 11)
            .map(|key| subscribe(&ch, 10 + key, Cursor::Next))
            .collect();
        for i in 1..=20u32 {
            ch.push(&publisher, video(i * 40, i % 10 == 0));
        }
        for sink in &sinks {
            let got: Vec<u32> = drain(sink).iter().map(|f| f.timestamp()).collect();
            let want: Vec<u32> = (10..=20).map(|i| i * 40).collect();
            assert_eq!(got, want, "subscriber {}", sink.stream.id());
        }
    }

    #[test]
    fn only_the_current_publisher_is_heard() {
        let ch = channel();
        let (a, b) = (stream(1), stream(2));
        ch.set_publisher(&a);
        assert!(ch.push(&a, video(0, true)));
        assert!(!ch.push(&b, video(0, true)));
    }

    #[test]
    fn a_joiner_gets_headers_then_the_latest_gop_then_live_frames_without_gaps() {
        let ch = channel();
        let publisher = stream(1);
        ch.set_publisher(&publisher);
        ch.push(&publisher, avc_header(1));
        for i in 0..60u32 {
            ch.push(&publisher, video(i * 40, i % 50 == 0));
        }
        let sub = subscribe(&ch, 2, Cursor::Latest);
        for i in 60..70u32 {
            ch.push(&publisher, video(i * 40, false));
        }
        let got = drain(&sub);
        assert!(got[0].sequence_header);
        assert_eq!(
            got[0].timestamp(),
            2000,
            "headers are stamped at the joiner's start"
        );
        assert!(got[1].keyframe);
        let ts: Vec<u32> = got[1..].iter().map(|f| f.timestamp()).collect();
        let expected: Vec<u32> = (50..70).map(|i| i * 40).collect();
        assert_eq!(ts, expected);
    }

    #[test]
    fn a_merge_window_holds_frames_until_it_passes_and_a_joiner_neither_loses_nor_doubles() {
        let ch = Channel::new(
            "c".into(),
            BufferLimits::default(),
            true,
            5000,
            Duration::from_secs(3600),
        );
        let publisher = stream(1);
        ch.set_publisher(&publisher);
        let early = subscribe(&ch, 2, Cursor::Latest);
        ch.push(&publisher, video(0, true));
        ch.push(&publisher, video(40, false));
        assert!(drain(&early).is_empty(), "held back by the window");
        // A joiner flushes the pending batch to the others and takes it from the buffer.
        let late = subscribe(&ch, 3, Cursor::Latest);
        ch.push(&publisher, video(80, false));
        ch.flush();
        let ts = |fs: Vec<Arc<Frame>>| fs.iter().map(|f| f.timestamp()).collect::<Vec<_>>();
        assert_eq!(ts(drain(&early)), vec![0, 40, 80]);
        assert_eq!(ts(drain(&late)), vec![0, 40, 80]);
    }

    #[test]
    fn a_subscriber_with_cursor_next_waits_for_a_keyframe_without_counting_drops() {
        let ch = channel();
        let publisher = stream(1);
        ch.set_publisher(&publisher);
        ch.push(&publisher, avc_header(1));
        ch.push(&publisher, video(0, true));
        ch.push(&publisher, video(40, false));
        let sub = subscribe(&ch, 2, Cursor::Next);
        ch.push(&publisher, video(80, false));
        ch.push(&publisher, video(120, true));
        let got = drain(&sub);
        assert!(got[0].sequence_header);
        assert_eq!(got[1].timestamp(), 120);
        assert_eq!(got.len(), 2);
        assert_eq!(
            sub.stream
                .dropped_packets
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
    }

    #[test]
    fn a_new_publisher_continues_the_timeline_from_its_first_keyframe() {
        let ch = channel();
        let (a, b) = (stream(1), stream(2));
        ch.set_publisher(&a);
        ch.push(&a, avc_header(1));
        ch.push(&a, video(1000, true));
        ch.push(&a, video(1040, false));
        let sub = subscribe(&ch, 3, Cursor::Latest);
        drain(&sub);
        // b has been streaming with other headers; it takes over.
        b.cache_header(&avc_header(2));
        ch.set_publisher(&b);
        assert!(ch.push(&b, video(0, false)), "dropped until b's keyframe");
        ch.push(&b, audio(5));
        ch.push(&b, video(40, true));
        ch.push(&b, video(80, false));
        let got = drain(&sub);
        assert!(got[0].sequence_header, "the new header comes first");
        assert_eq!(got[0].packet.body[5], 2);
        let media: Vec<u32> = got[1..].iter().map(|f| f.timestamp()).collect();
        assert_eq!(media, vec![1080, 1120]);
    }

    #[test]
    fn closing_ends_every_subscriber() {
        let ch = channel();
        let sub = subscribe(&ch, 2, Cursor::Latest);
        let (_, subs) = ch.close();
        assert_eq!(subs.len(), 1);
        let mut out = Vec::new();
        assert_eq!(
            sub.next_batch(Duration::from_millis(10), &mut out),
            Err(QueueEnd::Ended(CloseReason::ChannelClosed))
        );
        assert!(ch
            .add_subscriber(&Sink::queue(stream(4)), Cursor::Latest)
            .is_err());
    }
}
