//! A channel: one publisher, N subscribers, a bounded buffer, and the fan-out between them.
//!
//! The publisher's thread calls `push`; under the channel lock the packet is put on the channel's
//! timeline, buffered, and handed as one `Arc<Frame>` to every subscriber's bounded queue with a
//! non-blocking `try_send`. A subscriber that falls behind (queue full, or more than `max_lag` of
//! media queued) skips to the next keyframe, and every packet it misses is counted.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::buffer::{BufferLimits, Cursor, Frame, GopBuffer};
use super::stream::{rfc3339, CloseReason, MediaInfo, Stream};
use crate::media::{ts_after, ts_diff, Packet, PacketKind};

/// Media frames a subscriber queue holds before the subscriber is considered slow.
pub const QUEUE_FRAMES: usize = 1024;
/// Room above `QUEUE_FRAMES` kept for control items (end of stream), so they always fit.
const QUEUE_CONTROL_SLACK: usize = 16;
/// Gap inserted between the last frame of an old source and the first of a new one (one frame).
const SWITCH_GAP_MS: u32 = 40;
/// A new source that sends this many audio packets and no video is treated as audio-only.
const AUDIO_ONLY_AFTER_PACKETS: u32 = 50;

/// What a subscriber's queue carries.
#[derive(Debug)]
pub enum Delivery {
    /// A run of frames to write in order (a joiner's headers and backlog, or a resync).
    Frames(Vec<Arc<Frame>>),
    Frame(Arc<Frame>),
    /// The subscriber must end; the reason is reported in its streamClose.
    End(CloseReason),
}

/// A new subscriber queue: the sender goes to the channel (and the stream, so the player can be
/// moved), the receiver to the player's connection.
pub fn subscriber_queue() -> (Sender<Delivery>, Receiver<Delivery>) {
    crossbeam_channel::bounded(QUEUE_FRAMES + QUEUE_CONTROL_SLACK)
}

/// Why a player's queue stopped giving frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueEnd {
    /// The channel, the API or the registry ended the stream.
    Ended(CloseReason),
    /// Every sender is gone (the stream was dropped from its channel without a reason).
    Disconnected,
}

/// The player side of a subscriber queue.
pub struct PlayQueue {
    rx: Receiver<Delivery>,
    stream: Arc<Stream>,
}

impl PlayQueue {
    pub fn new(rx: Receiver<Delivery>, stream: Arc<Stream>) -> PlayQueue {
        PlayQueue { rx, stream }
    }

    /// Block up to `timeout` for at least one frame, then take everything queued without waiting.
    /// Returns `Ok(false)` on timeout with nothing received.
    pub fn next_batch(
        &self,
        timeout: std::time::Duration,
        out: &mut Vec<Arc<Frame>>,
    ) -> Result<bool, QueueEnd> {
        if let Some(reason) = self.stream.pending_end.lock().take() {
            return Err(QueueEnd::Ended(reason));
        }
        let first = match self.rx.recv_timeout(timeout) {
            Ok(d) => d,
            Err(RecvTimeoutError::Timeout) => return Ok(false),
            Err(RecvTimeoutError::Disconnected) => return Err(QueueEnd::Disconnected),
        };
        self.take(first, out)?;
        loop {
            match self.rx.try_recv() {
                Ok(d) => self.take(d, out)?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) if out.is_empty() => {
                    return Err(QueueEnd::Disconnected)
                }
                Err(TryRecvError::Disconnected) => break,
            }
        }
        if let Some(last) = out.last() {
            self.stream
                .dequeued_ts
                .store(last.timestamp(), Ordering::Relaxed);
        }
        Ok(true)
    }

    fn take(&self, delivery: Delivery, out: &mut Vec<Arc<Frame>>) -> Result<(), QueueEnd> {
        match delivery {
            Delivery::Frame(f) => out.push(f),
            Delivery::Frames(fs) => out.extend(fs),
            Delivery::End(reason) => {
                // Frames already taken are still written; the end is reported on the next call.
                if out.is_empty() {
                    return Err(QueueEnd::Ended(reason));
                }
                // Put the end back in front is impossible with a channel, so remember it.
                self.stream.pending_end.lock().get_or_insert(reason);
            }
        }
        if out.is_empty() {
            if let Some(reason) = self.stream.pending_end.lock().take() {
                return Err(QueueEnd::Ended(reason));
            }
        }
        Ok(())
    }

    /// An end remembered while frames were still to be written.
    pub fn pending_end(&self) -> Option<CloseReason> {
        self.stream.pending_end.lock().take()
    }
}

/// The channel closed (or the subscriber's queue cannot take the join); the subscriber must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelClosed;

struct Slot {
    stream: Arc<Stream>,
    tx: Sender<Delivery>,
    /// Waiting for a keyframe after falling behind (misses are counted).
    skipping: bool,
    /// Waiting for the first keyframe after joining with cursor `next` (not counted).
    awaiting_first_keyframe: bool,
    /// A sequence header or metadata was missed while skipping: resend them on resume.
    headers_missed: bool,
}

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
    subscribers: Vec<Slot>,
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
    state: Mutex<State>,
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
    pub fn new(id: String, limits: BufferLimits, auto_created: bool, max_lag_ms: u32) -> Channel {
        Channel {
            id,
            created_at: SystemTime::now(),
            started: Instant::now(),
            auto_created,
            max_lag_ms,
            state: Mutex::new(State {
                publisher: None,
                limits,
                buffer: GopBuffer::new(),
                headers: Headers::default(),
                media: MediaInfo::default(),
                subscribers: Vec::new(),
                offset: 0,
                last_ts: None,
                last_ts_by_kind: [None; 3],
                rebase_pending: false,
                audio_while_waiting: 0,
                vacant_since: None,
                closed: false,
            }),
        }
    }

    pub fn publisher(&self) -> Option<Arc<Stream>> {
        self.state.lock().publisher.clone()
    }

    /// How long the channel has been without a publisher, if it lost one.
    pub fn vacant_for(&self) -> Option<std::time::Duration> {
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
        self.state.lock().subscribers.len()
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

    /// Make `stream` the source. Its cached headers are taken over; the next frames continue the
    /// channel's timeline from its first keyframe. Returns the previous publisher.
    pub fn set_publisher(&self, stream: &Arc<Stream>) -> Option<Arc<Stream>> {
        let mut st = self.state.lock();
        let previous = st.publisher.replace(stream.clone());
        st.vacant_since = None;
        if st.last_ts.is_some() {
            st.rebase_pending = true;
            st.audio_while_waiting = 0;
        }
        for packet in stream.cached_headers().iter() {
            self.accept_header(&mut st, packet.clone());
        }
        previous.filter(|p| p.key != stream.key)
    }

    /// Detach the publisher if it is `stream`; the channel keeps its subscribers.
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
        if st.headers.slot_for(&packet).is_some() {
            self.accept_header(&mut st, packet);
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
        self.fan_out(&mut st, &frame, false);
        true
    }

    /// Store a header if it differs from the current one and send it on to subscribers.
    fn accept_header(&self, st: &mut State, packet: Packet) {
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
        self.fan_out(st, &frame, true);
    }

    fn fan_out(&self, st: &mut State, frame: &Arc<Frame>, is_header: bool) {
        let has_video = st.media.video_codec.is_some();
        let resume_point = if has_video {
            frame.keyframe && !frame.sequence_header
        } else {
            !is_header
        };
        let max_lag = self.max_lag_ms as i32;
        let State {
            subscribers,
            headers,
            ..
        } = st;
        for slot in subscribers.iter_mut() {
            if slot.awaiting_first_keyframe {
                if !resume_point {
                    if is_header {
                        slot.headers_missed = true;
                    }
                    continue;
                }
                slot.awaiting_first_keyframe = false;
            }
            if slot.skipping {
                if resume_point && slot.tx.len() < QUEUE_FRAMES / 4 {
                    slot.skipping = false;
                    slot.stream
                        .dequeued_ts
                        .store(frame.timestamp(), Ordering::Relaxed);
                } else {
                    slot.headers_missed |= is_header;
                    slot.stream.dropped_packets.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            } else {
                let lag = ts_diff(
                    frame.timestamp(),
                    slot.stream.dequeued_ts.load(Ordering::Relaxed),
                );
                if slot.tx.len() >= QUEUE_FRAMES || lag > max_lag {
                    log::debug!(
                        "channel {}: subscriber {} is behind (lag {lag} ms), skipping to the next keyframe",
                        self.id,
                        slot.stream.id()
                    );
                    slot.skipping = true;
                    slot.headers_missed |= is_header;
                    slot.stream.dropped_packets.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            let delivery = if std::mem::take(&mut slot.headers_missed) && !is_header {
                let mut frames: Vec<Arc<Frame>> = headers
                    .iter()
                    .map(|p| restamp(p, frame.timestamp()))
                    .collect();
                frames.push(frame.clone());
                Delivery::Frames(frames)
            } else {
                Delivery::Frame(frame.clone())
            };
            if slot.tx.try_send(delivery).is_err() {
                slot.skipping = true;
                slot.stream.dropped_packets.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Register a subscriber and give it the headers and the buffer from `cursor`, under one lock,
    /// so it neither loses nor doubles a frame at the seam. Fails if the channel has closed.
    pub fn add_subscriber(
        &self,
        stream: &Arc<Stream>,
        tx: Sender<Delivery>,
        cursor: Cursor,
    ) -> Result<(), ChannelClosed> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(ChannelClosed);
        }
        st.subscribers.retain(|s| s.stream.key != stream.key);
        let backlog = st.buffer.frames_from(cursor);
        let has_video = st.media.video_codec.is_some();
        let start_ts = backlog
            .first()
            .map(|f| f.timestamp())
            .or(st.last_ts)
            .unwrap_or(0);
        let mut join: Vec<Arc<Frame>> = st.headers.iter().map(|p| restamp(p, start_ts)).collect();
        let wait_for_keyframe = backlog.is_empty() && has_video;
        join.extend(backlog);
        let live = join.last().map(|f| f.timestamp()).unwrap_or(start_ts);
        stream.dequeued_ts.store(live, Ordering::Relaxed);
        if !join.is_empty() && tx.try_send(Delivery::Frames(join)).is_err() {
            // Only a queue that is still full from a previous channel gets here.
            return Err(ChannelClosed);
        }
        st.subscribers.push(Slot {
            stream: stream.clone(),
            tx,
            skipping: false,
            awaiting_first_keyframe: wait_for_keyframe,
            headers_missed: false,
        });
        Ok(())
    }

    pub fn remove_subscriber(&self, stream: &Stream) -> bool {
        let mut st = self.state.lock();
        let before = st.subscribers.len();
        st.subscribers.retain(|s| s.stream.key != stream.key);
        st.subscribers.len() != before
    }

    /// Close the channel: every subscriber is told to end. Returns the publisher and subscribers
    /// that were attached, for the registry to update.
    pub fn close(&self) -> (Option<Arc<Stream>>, Vec<Arc<Stream>>) {
        let mut st = self.state.lock();
        st.closed = true;
        st.buffer.clear();
        let subscribers: Vec<Arc<Stream>> = st
            .subscribers
            .drain(..)
            .map(|slot| {
                let _ = slot.tx.try_send(Delivery::End(CloseReason::ChannelClosed));
                slot.stream
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
            "subscriberCount": st.subscribers.len(),
            "subscribers": st.subscribers.iter().map(|s| s.stream.id()).collect::<Vec<_>>(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::stream::StreamType;
    use std::time::Duration;

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

    fn drain(rx: &Receiver<Delivery>) -> Vec<Arc<Frame>> {
        let mut out = Vec::new();
        while let Ok(d) = rx.try_recv() {
            match d {
                Delivery::Frame(f) => out.push(f),
                Delivery::Frames(fs) => out.extend(fs),
                Delivery::End(_) => {}
            }
        }
        out
    }

    fn channel() -> Channel {
        Channel::new("c".into(), BufferLimits::default(), true, 5000)
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
        let sub = stream(2);
        let (tx, rx) = subscriber_queue();
        ch.add_subscriber(&sub, tx, Cursor::Latest).unwrap();
        for i in 60..70u32 {
            ch.push(&publisher, video(i * 40, false));
        }
        let got = drain(&rx);
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
    fn a_subscriber_with_cursor_next_waits_for_a_keyframe_without_counting_drops() {
        let ch = channel();
        let publisher = stream(1);
        ch.set_publisher(&publisher);
        ch.push(&publisher, avc_header(1));
        ch.push(&publisher, video(0, true));
        ch.push(&publisher, video(40, false));
        let sub = stream(2);
        let (tx, rx) = subscriber_queue();
        ch.add_subscriber(&sub, tx, Cursor::Next).unwrap();
        ch.push(&publisher, video(80, false));
        ch.push(&publisher, video(120, true));
        let got = drain(&rx);
        assert!(got[0].sequence_header);
        assert_eq!(got[1].timestamp(), 120);
        assert_eq!(got.len(), 2);
        assert_eq!(sub.dropped_packets.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_slow_subscriber_skips_to_the_next_keyframe_and_counts_drops() {
        let ch = channel();
        let publisher = stream(1);
        ch.set_publisher(&publisher);
        ch.push(&publisher, avc_header(1));
        ch.push(&publisher, video(0, true));
        let sub = stream(2);
        let (tx, rx) = subscriber_queue();
        ch.add_subscriber(&sub, tx, Cursor::Latest).unwrap();
        // Never read: the lag bound (5 s of media) trips first.
        let mut ts = 40;
        while ts < 8000 {
            ch.push(&publisher, video(ts, ts % 2000 == 0));
            ts += 40;
        }
        let dropped = sub.dropped_packets.load(Ordering::Relaxed);
        assert!(dropped > 0);
        let got = drain(&rx);
        // Caught up: the next keyframe resumes it and nothing after it is dropped.
        ch.push(&publisher, video(8000, true));
        ch.push(&publisher, video(8040, false));
        assert_eq!(sub.dropped_packets.load(Ordering::Relaxed), dropped);
        let after = drain(&rx);
        assert_eq!(after.len(), 2);
        assert!(after[0].keyframe);
        assert!(got.len() < 200);
    }

    #[test]
    fn a_new_publisher_continues_the_timeline_from_its_first_keyframe() {
        let ch = channel();
        let (a, b) = (stream(1), stream(2));
        ch.set_publisher(&a);
        ch.push(&a, avc_header(1));
        ch.push(&a, video(1000, true));
        ch.push(&a, video(1040, false));
        let sub = stream(3);
        let (tx, rx) = subscriber_queue();
        ch.add_subscriber(&sub, tx, Cursor::Latest).unwrap();
        drain(&rx);
        // b has been streaming with other headers; it takes over.
        b.cache_header(&avc_header(2));
        ch.set_publisher(&b);
        assert!(ch.push(&b, video(0, false)), "dropped until b's keyframe");
        ch.push(&b, audio(5));
        ch.push(&b, video(40, true));
        ch.push(&b, video(80, false));
        let got = drain(&rx);
        assert!(got[0].sequence_header, "the new header comes first");
        assert_eq!(got[0].packet.body[5], 2);
        let media: Vec<u32> = got[1..].iter().map(|f| f.timestamp()).collect();
        assert_eq!(media, vec![1080, 1120]);
    }

    #[test]
    fn closing_ends_every_subscriber() {
        let ch = channel();
        let sub = stream(2);
        let (tx, rx) = subscriber_queue();
        ch.add_subscriber(&sub, tx, Cursor::Latest).unwrap();
        let (_, subs) = ch.close();
        assert_eq!(subs.len(), 1);
        let q = PlayQueue::new(rx, sub.clone());
        let mut out = Vec::new();
        assert_eq!(
            q.next_batch(Duration::from_millis(10), &mut out),
            Err(QueueEnd::Ended(CloseReason::ChannelClosed))
        );
        assert!(ch
            .add_subscriber(&sub, subscriber_queue().0, Cursor::Latest)
            .is_err());
    }
}
