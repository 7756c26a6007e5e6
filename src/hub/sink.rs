//! A subscriber's output side, shared by the channel (fast path) and the subscriber's own thread
//! (slow path).
//!
//! Fast path: the thread that flushes a channel batch writes it straight to the subscriber's
//! socket with a non-blocking vectored write of the batch's shared serialisation; no other thread
//! wakes. Slow path: when the socket cannot take the whole batch, the rest goes to the sink's
//! bounded queue and the subscriber's thread takes the socket over, writing with blocking writes
//! until the queue is empty; then it hands the socket back. A subscriber that falls too far behind
//! (too many frames queued, or more than `max_lag` of media) skips to the next keyframe, and each
//! packet it misses is counted in its stream's `droppedPackets`.
//!
//! The socket itself is behind the `Wire` trait: the hub knows nothing of sockets.

use std::io::{self, IoSlice};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use parking_lot::Mutex;

use super::buffer::Frame;
use super::stream::{clock_seconds, CloseReason, Stream};
use crate::media::{ts_diff, Packet, PacketKind};

/// One serialisation (RTMP or FLV) of a channel batch, offered to every sink of that format.
#[derive(Clone, Copy)]
pub struct SharedBatch<'a> {
    /// Unique per batch and format: a wire may keep the bytes staged for the next sink.
    pub id: u64,
    pub bufs: &'a [IoSlice<'a>],
    /// Total bytes of `bufs`.
    pub len: usize,
    /// How many sinks of this format the batch is offered to.
    pub fanout: usize,
}

impl<'a> SharedBatch<'a> {
    pub fn new(id: u64, bufs: &'a [IoSlice<'a>], fanout: usize) -> SharedBatch<'a> {
        SharedBatch {
            id,
            bufs,
            len: bufs.iter().map(|b| b.len()).sum(),
            fanout,
        }
    }
}

/// A process-wide unique id for each serialised batch (see `SharedBatch::id`).
pub(crate) fn next_batch_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A connection's write side as the hub sees it.
pub trait Wire: Send + Sync {
    /// Write what the socket takes now without blocking; `Ok(0)` when it takes nothing.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// `try_write_vectored` for a batch shared by many sinks; a wire may send it without
    /// copying its bytes again for each socket.
    fn try_write_shared(&self, batch: &SharedBatch<'_>) -> io::Result<usize> {
        self.try_write_vectored(batch.bufs)
    }
    /// Write all of `bufs`, blocking up to the socket's write timeout.
    fn write_all_vectored(&self, bufs: &mut [IoSlice<'_>]) -> io::Result<()>;
    /// Shut the connection down (wakes a thread blocked reading it).
    fn shutdown(&self);
}

/// Which serialisation of a frame a subscriber reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rtmp,
    Flv,
}

/// One unit of bytes to write: a shared frame, or connection-specific bytes (RTMP control replies).
#[derive(Debug, Clone)]
pub enum Piece {
    Frame(Arc<Frame>),
    Raw(Arc<[u8]>),
}

impl Piece {
    fn bytes(&self, format: Format) -> &[u8] {
        match self {
            Piece::Frame(f) => match format {
                Format::Rtmp => f.rtmp_bytes(),
                Format::Flv => f.flv_bytes(),
            },
            Piece::Raw(bytes) => bytes,
        }
    }

    fn frame(&self) -> Option<&Arc<Frame>> {
        match self {
            Piece::Frame(f) => Some(f),
            Piece::Raw(_) => None,
        }
    }
}

enum Backlog {
    /// Pieces to write in order; `skip` bytes of the first were already written.
    Pieces {
        pieces: Vec<Piece>,
        skip: usize,
    },
    End(CloseReason),
}

/// Frames a subscriber may have queued before it counts as behind.
pub const MAX_QUEUED_FRAMES: usize = 1024;
/// Queue items (batches) before the subscriber counts as behind; a few more are kept for the end.
const QUEUE_ITEMS: usize = 128;
const QUEUE_SLACK: usize = 4;

#[derive(Default)]
struct SinkState {
    /// The subscriber's own thread holds the socket (the queue is not empty or is being written).
    owner_writes: bool,
    /// Fell behind: waiting for a keyframe to resume (misses are counted).
    skipping: bool,
    /// Joined with nothing buffered: waiting for the first keyframe (not counted).
    awaiting_keyframe: bool,
    /// A header was missed while waiting: resend the current headers on resume.
    headers_missed: bool,
    queued_frames: usize,
    /// No more writes: the subscriber is ending.
    ended: bool,
    /// An end taken off the queue while frames were still to be handed out (queue mode).
    pending_end: Option<CloseReason>,
}

/// What the channel passes to each sink with a batch.
pub struct Offer<'a> {
    pub frames: &'a [Arc<Frame>],
    /// The frames' bytes in each format, built once per batch for every sink.
    pub rtmp: SharedBatch<'a>,
    pub flv: SharedBatch<'a>,
    pub has_video: bool,
    /// The channel's current metadata and sequence headers, for a resync after a skip.
    pub headers: &'a [Packet],
    pub max_lag_ms: u32,
    /// `stream::clock_seconds()`, read once for the batch.
    pub second: u64,
}

/// A subscriber's output.
pub struct Sink {
    /// `None`: an in-process consumer (a push relay) that takes frames with `next_batch`.
    wire: Option<Arc<dyn Wire>>,
    pub format: Format,
    pub stream: Arc<Stream>,
    state: Mutex<SinkState>,
    tx: Sender<Backlog>,
    rx: Receiver<Backlog>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("stream", &self.stream.id())
            .field("format", &self.format)
            .finish()
    }
}

/// Why a queue-mode consumer stopped getting frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueEnd {
    Ended(CloseReason),
}

fn is_header(frame: &Frame) -> bool {
    frame.sequence_header || frame.packet.kind == PacketKind::Data
}

/// Where a subscriber that waits for a keyframe may start.
fn is_resume_point(frame: &Frame, has_video: bool) -> bool {
    if has_video {
        frame.keyframe && !frame.sequence_header
    } else {
        !is_header(frame)
    }
}

fn restamp(packet: &Packet, ts: u32) -> Arc<Frame> {
    Arc::new(Frame::new(Packet {
        timestamp: ts,
        ..packet.clone()
    }))
}

/// Slices for `pieces`, the first advanced by `skip` bytes.
fn slices<'a>(pieces: &'a [Piece], skip: usize, format: Format, out: &mut Vec<IoSlice<'a>>) {
    for (i, piece) in pieces.iter().enumerate() {
        let bytes = piece.bytes(format);
        out.push(IoSlice::new(if i == 0 { &bytes[skip..] } else { bytes }));
    }
}

/// After `written` bytes of `pieces` went out: the pieces still (partly) to write and the bytes of
/// the first of them already written.
fn remainder(pieces: Vec<Piece>, mut written: usize, format: Format) -> (Vec<Piece>, usize) {
    let mut first = 0;
    for piece in &pieces {
        let len = piece.bytes(format).len();
        if written < len {
            break;
        }
        written -= len;
        first += 1;
    }
    let mut pieces = pieces;
    pieces.drain(..first);
    (pieces, written)
}

impl Sink {
    /// A socket subscriber: written directly by the channel while its socket keeps up.
    pub fn new(stream: Arc<Stream>, format: Format, wire: Arc<dyn Wire>) -> Arc<Sink> {
        Sink::build(stream, format, Some(wire))
    }

    /// An in-process subscriber that takes frames with `next_batch`.
    pub fn queue(stream: Arc<Stream>) -> Arc<Sink> {
        Sink::build(stream, Format::Rtmp, None)
    }

    fn build(stream: Arc<Stream>, format: Format, wire: Option<Arc<dyn Wire>>) -> Arc<Sink> {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_ITEMS + QUEUE_SLACK);
        Arc::new(Sink {
            wire,
            format,
            stream,
            state: Mutex::new(SinkState::default()),
            tx,
            rx,
        })
    }

    /// Start (or restart, after a move between channels) with a joiner's backlog: headers and
    /// buffered frames, written by the subscriber's thread. With no backlog and `awaiting_keyframe`,
    /// the first frames written are from the next keyframe.
    pub(crate) fn join(&self, backlog: Vec<Arc<Frame>>, awaiting_keyframe: bool) -> bool {
        let mut st = self.state.lock();
        if st.ended {
            return false;
        }
        st.skipping = false;
        st.headers_missed = false;
        st.awaiting_keyframe = awaiting_keyframe;
        if let Some(last) = backlog.last() {
            self.stream
                .meter
                .dequeued_ts
                .store(last.timestamp(), Ordering::Relaxed);
        }
        if !backlog.is_empty() {
            st.queued_frames += backlog.len();
            st.owner_writes = true;
            let pieces = backlog.into_iter().map(Piece::Frame).collect();
            let _ = self.tx.try_send(Backlog::Pieces { pieces, skip: 0 });
        }
        true
    }

    /// Tell the subscriber to end once what is queued is written. No frames are taken after this.
    pub fn end(&self, reason: CloseReason) {
        let mut st = self.state.lock();
        if st.ended {
            return;
        }
        st.ended = true;
        let _ = self.tx.try_send(Backlog::End(reason));
    }

    fn count_dropped(&self, frames: usize) {
        if frames > 0 {
            self.stream
                .dropped_packets
                .fetch_add(frames as u64, Ordering::Relaxed);
        }
    }

    /// Take a channel batch. Never blocks: writes what the socket takes, queues the rest.
    pub fn offer(&self, offer: &Offer<'_>) {
        let mut st = self.state.lock();
        if st.ended || offer.frames.is_empty() {
            return;
        }
        let mut start = 0;
        if st.skipping || st.awaiting_keyframe {
            // Resume only once the backlog is (nearly) written out.
            let may_resume = !st.skipping || st.queued_frames <= MAX_QUEUED_FRAMES / 32;
            let found = if may_resume {
                offer
                    .frames
                    .iter()
                    .position(|f| is_resume_point(f, offer.has_video))
            } else {
                None
            };
            let missed = &offer.frames[..found.unwrap_or(offer.frames.len())];
            if st.skipping {
                self.count_dropped(missed.len());
            }
            if missed.iter().any(|f| is_header(f)) {
                st.headers_missed = true;
            }
            let Some(i) = found else { return };
            start = i;
            st.skipping = false;
            st.awaiting_keyframe = false;
            self.stream
                .meter
                .dequeued_ts
                .store(offer.frames[i].timestamp(), Ordering::Relaxed);
        }
        let frames = &offer.frames[start..];
        let resync = std::mem::take(&mut st.headers_missed);
        if start > 0 || resync {
            // This subscriber's bytes differ from the batch's: its own (rare) piece list.
            let mut pieces: Vec<Piece> = Vec::with_capacity(frames.len() + 3);
            if resync {
                let ts = frames[0].timestamp();
                pieces.extend(offer.headers.iter().map(|p| Piece::Frame(restamp(p, ts))));
            }
            pieces.extend(frames.iter().cloned().map(Piece::Frame));
            self.deliver(&mut st, pieces, offer.max_lag_ms);
            return;
        }
        if st.owner_writes || self.wire.is_none() {
            let pieces = frames.iter().cloned().map(Piece::Frame).collect();
            self.enqueue(&mut st, pieces, 0, offer.max_lag_ms);
            return;
        }
        let shared = match self.format {
            Format::Rtmp => &offer.rtmp,
            Format::Flv => &offer.flv,
        };
        let total = shared.len;
        let written = match &self.wire {
            Some(wire) => wire.try_write_shared(shared),
            None => Ok(0),
        };
        match written {
            Ok(n) if n == total => self.wrote(n, frames.last(), offer.second),
            Ok(n) => {
                self.wrote(n, None, offer.second);
                let pieces = frames.iter().cloned().map(Piece::Frame).collect();
                let (rest, skip) = remainder(pieces, n, self.format);
                self.enqueue(&mut st, rest, skip, offer.max_lag_ms);
            }
            Err(e) => self.fail(&mut st, &e),
        }
    }

    /// Connection-specific bytes (an RTMP player's ping reply), in order with the media.
    pub fn send_raw(&self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let mut st = self.state.lock();
        if st.ended {
            return;
        }
        let pieces = vec![Piece::Raw(bytes.into())];
        if st.owner_writes || self.wire.is_none() {
            // Control replies are never dropped; the slack keeps room for them.
            st.owner_writes = true;
            let _ = self.tx.try_send(Backlog::Pieces { pieces, skip: 0 });
            return;
        }
        self.deliver(&mut st, pieces, u32::MAX);
    }

    /// Write `pieces` now if the socket is ours and takes them; queue what is left.
    fn deliver(&self, st: &mut SinkState, pieces: Vec<Piece>, max_lag_ms: u32) {
        if st.owner_writes || self.wire.is_none() {
            self.enqueue(st, pieces, 0, max_lag_ms);
            return;
        }
        let mut iov = Vec::with_capacity(pieces.len());
        slices(&pieces, 0, self.format, &mut iov);
        let total: usize = iov.iter().map(|s| s.len()).sum();
        match self.try_write(&iov) {
            Ok(n) if n == total => {
                drop(iov);
                self.wrote(
                    n,
                    pieces.iter().rev().find_map(Piece::frame),
                    clock_seconds(),
                );
            }
            Ok(n) => {
                drop(iov);
                self.wrote(n, None, clock_seconds());
                let (rest, skip) = remainder(pieces, n, self.format);
                self.enqueue(st, rest, skip, max_lag_ms);
            }
            Err(e) => self.fail(st, &e),
        }
    }

    fn try_write(&self, iov: &[IoSlice<'_>]) -> io::Result<usize> {
        match &self.wire {
            Some(wire) => wire.try_write_vectored(iov),
            None => Ok(0),
        }
    }

    fn wrote(&self, bytes: usize, last: Option<&Arc<Frame>>, second: u64) {
        if bytes > 0 {
            self.stream.add_bytes_out_at(bytes as u64, second);
        }
        if let Some(frame) = last {
            self.stream.note_media_ts(frame.timestamp());
            self.stream
                .meter
                .dequeued_ts
                .store(frame.timestamp(), Ordering::Relaxed);
        }
    }

    fn fail(&self, st: &mut SinkState, e: &io::Error) {
        let reason = crate::hub::stream::close_reason_of(e);
        log::debug!("subscriber {}: write failed: {e}", self.stream.id());
        st.ended = true;
        self.stream.note_close_reason(reason);
        let _ = self.tx.try_send(Backlog::End(reason));
    }

    /// Queue pieces for the subscriber's thread, or start skipping if it is too far behind.
    fn enqueue(&self, st: &mut SinkState, pieces: Vec<Piece>, skip: usize, max_lag_ms: u32) {
        let frames = pieces.iter().filter(|p| p.frame().is_some()).count();
        let newest = pieces
            .iter()
            .rev()
            .find_map(Piece::frame)
            .map(|f| f.timestamp());
        let lag = newest
            .map(|ts| ts_diff(ts, self.stream.meter.dequeued_ts.load(Ordering::Relaxed)))
            .unwrap_or(0);
        let behind = st.queued_frames + frames > MAX_QUEUED_FRAMES
            || lag > max_lag_ms.min(i32::MAX as u32) as i32
            || self.tx.len() >= QUEUE_ITEMS;
        // A partly written piece must be finished, or the byte stream breaks.
        if behind && skip == 0 {
            log::debug!(
                "subscriber {} is behind ({} frames queued, lag {lag} ms): skipping to the next keyframe",
                self.stream.id(),
                st.queued_frames
            );
            st.skipping = true;
            if pieces.iter().filter_map(Piece::frame).any(|f| is_header(f)) {
                st.headers_missed = true;
            }
            self.count_dropped(frames);
            return;
        }
        st.queued_frames += frames;
        if self.wire.is_some() {
            st.owner_writes = true;
        }
        let _ = self.tx.try_send(Backlog::Pieces { pieces, skip });
    }

    /// The subscriber's thread, for a socket sink: write whatever the channel queued (the socket
    /// is ours while the queue is not empty), until the stream ends. Returns why it ended.
    pub fn run_owner(&self) -> CloseReason {
        let Some(wire) = self.wire.clone() else {
            return CloseReason::Error;
        };
        let mut batch: Vec<(Vec<Piece>, usize)> = Vec::new();
        loop {
            let first = match self.rx.recv_timeout(Duration::from_secs(5)) {
                Ok(item) => item,
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(reason) = self.stream.close_requested() {
                        return reason;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return CloseReason::Error,
            };
            let mut end = None;
            match first {
                Backlog::End(reason) => return reason,
                Backlog::Pieces { pieces, skip } => batch.push((pieces, skip)),
            }
            loop {
                match self.rx.try_recv() {
                    Ok(Backlog::Pieces { pieces, skip }) => batch.push((pieces, skip)),
                    Ok(Backlog::End(reason)) => {
                        end = Some(reason);
                        break;
                    }
                    Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
                }
            }
            let mut iov: Vec<IoSlice<'_>> = Vec::new();
            for (pieces, skip) in &batch {
                slices(pieces, *skip, self.format, &mut iov);
            }
            let total: usize = iov.iter().map(|s| s.len()).sum();
            if let Err(e) = wire.write_all_vectored(&mut iov) {
                let reason = crate::hub::stream::close_reason_of(&e);
                log::debug!("subscriber {}: write failed: {e}", self.stream.id());
                self.state.lock().ended = true;
                return reason;
            }
            drop(iov);
            let frames: usize = batch
                .iter()
                .map(|(p, _)| p.iter().filter(|x| x.frame().is_some()).count())
                .sum();
            let last = batch
                .iter()
                .rev()
                .find_map(|(p, _)| p.iter().rev().find_map(Piece::frame).cloned());
            self.wrote(total, last.as_ref(), clock_seconds());
            batch.clear();
            {
                let mut st = self.state.lock();
                st.queued_frames = st.queued_frames.saturating_sub(frames);
                if end.is_none() && self.rx.is_empty() {
                    // Caught up: the channel writes directly again.
                    st.owner_writes = false;
                }
            }
            if let Some(reason) = end {
                return reason;
            }
        }
    }

    /// Queue mode: block up to `timeout` for frames, then take all that are queued.
    /// `Ok(false)` on timeout with nothing received.
    pub fn next_batch(
        &self,
        timeout: Duration,
        out: &mut Vec<Arc<Frame>>,
    ) -> Result<bool, QueueEnd> {
        if let Some(reason) = self.state.lock().pending_end.take() {
            return Err(QueueEnd::Ended(reason));
        }
        let first = match self.rx.recv_timeout(timeout) {
            Ok(item) => item,
            Err(RecvTimeoutError::Timeout) => return Ok(false),
            Err(RecvTimeoutError::Disconnected) => return Err(QueueEnd::Ended(CloseReason::Error)),
        };
        let mut item = Some(first);
        let mut taken = 0;
        while let Some(current) = item.take() {
            match current {
                Backlog::Pieces { pieces, .. } => {
                    for piece in pieces {
                        if let Piece::Frame(f) = piece {
                            out.push(f);
                            taken += 1;
                        }
                    }
                }
                Backlog::End(reason) => {
                    if out.is_empty() {
                        return Err(QueueEnd::Ended(reason));
                    }
                    self.state.lock().pending_end = Some(reason);
                    break;
                }
            }
            item = self.rx.try_recv().ok();
        }
        let mut st = self.state.lock();
        st.queued_frames = st.queued_frames.saturating_sub(taken);
        drop(st);
        if let Some(last) = out.last() {
            self.stream
                .meter
                .dequeued_ts
                .store(last.timestamp(), Ordering::Relaxed);
            self.stream.note_media_ts(last.timestamp());
        }
        Ok(true)
    }

    /// Write bytes after the stream ended (an RTMP player's goodbye). Only the owner calls this.
    pub fn write_final(&self, bytes: &[u8]) -> io::Result<()> {
        if let Some(wire) = &self.wire {
            wire.write_all_vectored(&mut [IoSlice::new(bytes)])?;
            self.stream.add_bytes_out(bytes.len() as u64);
        }
        Ok(())
    }

    pub fn shutdown(&self) {
        if let Some(wire) = &self.wire {
            wire.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::stream::StreamType;

    /// A socket that takes `capacity` bytes without blocking, then nothing until drained.
    struct FakeWire {
        written: Mutex<Vec<u8>>,
        capacity: Mutex<usize>,
    }

    impl FakeWire {
        fn new(capacity: usize) -> Arc<FakeWire> {
            Arc::new(FakeWire {
                written: Mutex::new(Vec::new()),
                capacity: Mutex::new(capacity),
            })
        }
    }

    impl Wire for FakeWire {
        fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut cap = self.capacity.lock();
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(*cap - n);
                self.written.lock().extend_from_slice(&b[..take]);
                n += take;
                if n == *cap {
                    break;
                }
            }
            *cap -= n;
            Ok(n)
        }
        fn write_all_vectored(&self, bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
            for b in bufs.iter() {
                self.written.lock().extend_from_slice(b);
            }
            Ok(())
        }
        fn shutdown(&self) {}
    }

    fn stream() -> Arc<Stream> {
        Arc::new(Stream::new(1, "1".into(), StreamType::HttpFlv, "t".into()))
    }

    fn video(ts: u32, key: bool) -> Arc<Frame> {
        Arc::new(Frame::new(Packet::new(
            PacketKind::Video,
            ts,
            vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, (ts / 40) as u8],
        )))
    }

    fn offer_all(sink: &Sink, frames: &[Arc<Frame>]) {
        let flv: Vec<IoSlice<'_>> = frames.iter().map(|f| IoSlice::new(f.flv_bytes())).collect();
        sink.offer(&Offer {
            frames,
            rtmp: SharedBatch::new(0, &[], 0),
            flv: SharedBatch::new(next_batch_id(), &flv, 1),
            has_video: true,
            headers: &[],
            max_lag_ms: 5000,
            second: clock_seconds(),
        });
    }

    fn expected(frames: &[Arc<Frame>]) -> Vec<u8> {
        frames.iter().flat_map(|f| f.flv_bytes().to_vec()).collect()
    }

    #[test]
    fn a_keeping_up_socket_is_written_directly_and_never_queued() {
        let wire = FakeWire::new(usize::MAX / 2);
        let sink = Sink::new(stream(), Format::Flv, wire.clone());
        let frames: Vec<_> = (0..10).map(|i| video(i * 40, i == 0)).collect();
        offer_all(&sink, &frames[..5]);
        offer_all(&sink, &frames[5..]);
        assert_eq!(*wire.written.lock(), expected(&frames));
        assert!(sink.rx.is_empty());
        assert_eq!(sink.stream.bytes_out() as usize, expected(&frames).len());
    }

    #[test]
    fn a_partial_write_hands_the_rest_to_the_owner_in_order_and_then_back() {
        let frames: Vec<_> = (0..6).map(|i| video(i * 40, i == 0)).collect();
        let all = expected(&frames);
        let wire = FakeWire::new(all.len() / 3);
        let sink = Sink::new(stream(), Format::Flv, wire.clone());
        offer_all(&sink, &frames[..4]);
        offer_all(&sink, &frames[4..]); // queued behind the remainder, not written directly
        assert_eq!(wire.written.lock().len(), all.len() / 3);
        sink.end(CloseReason::ApiClose);
        assert_eq!(sink.run_owner(), CloseReason::ApiClose);
        assert_eq!(*wire.written.lock(), all);
    }

    #[test]
    fn the_owner_hands_the_socket_back_once_caught_up() {
        let frames: Vec<_> = (0..4).map(|i| video(i * 40, i == 0)).collect();
        let wire = FakeWire::new(10);
        let sink = Sink::new(stream(), Format::Flv, wire.clone());
        offer_all(&sink, &frames[..2]);
        assert!(sink.state.lock().owner_writes);
        let owner = {
            let sink = Arc::new(sink);
            let s = sink.clone();
            (std::thread::spawn(move || s.run_owner()), sink)
        };
        let (handle, sink) = owner;
        while sink.state.lock().owner_writes {
            std::thread::yield_now();
        }
        *wire.capacity.lock() = usize::MAX / 2;
        offer_all(&sink, &frames[2..]);
        assert!(sink.rx.is_empty(), "written directly again");
        sink.end(CloseReason::PeerClosed);
        assert_eq!(handle.join().unwrap(), CloseReason::PeerClosed);
        assert_eq!(*wire.written.lock(), expected(&frames));
    }

    #[test]
    fn a_stuck_subscriber_skips_to_the_next_keyframe_and_counts_what_it_missed() {
        let wire = FakeWire::new(0);
        let sink = Sink::new(stream(), Format::Flv, wire.clone());
        // Never drained: past 5 s of lag it starts skipping.
        let mut ts = 0;
        while ts <= 8000 {
            offer_all(&sink, &[video(ts, ts % 2000 == 0)]);
            ts += 40;
        }
        let dropped = sink.stream.dropped_packets.load(Ordering::Relaxed);
        assert!(dropped > 50, "{dropped}");
        assert!(sink.state.lock().skipping);
        // The owner drains the queue; the next keyframe resumes without further loss.
        sink.end(CloseReason::ApiClose);
        sink.state.lock().ended = false;
        let _ = sink.run_owner();
        sink.state.lock().owner_writes = false;
        *wire.capacity.lock() = usize::MAX / 2;
        wire.written.lock().clear();
        offer_all(
            &sink,
            &[video(8040, false), video(10000, true), video(10040, false)],
        );
        assert_eq!(
            sink.stream.dropped_packets.load(Ordering::Relaxed),
            dropped + 1
        );
        assert_eq!(
            *wire.written.lock(),
            expected(&[video(10000, true), video(10040, false)])
        );
    }

    #[test]
    fn queue_mode_hands_out_frames_and_then_the_end() {
        let sink = Sink::queue(stream());
        let frames: Vec<_> = (0..3).map(|i| video(i * 40, i == 0)).collect();
        offer_all(&sink, &frames);
        sink.end(CloseReason::ChannelClosed);
        let mut out = Vec::new();
        assert_eq!(
            sink.next_batch(Duration::from_millis(10), &mut out),
            Ok(true)
        );
        assert_eq!(out.len(), 3);
        assert_eq!(
            sink.next_batch(Duration::from_millis(10), &mut out),
            Err(QueueEnd::Ended(CloseReason::ChannelClosed))
        );
    }

    #[test]
    fn control_bytes_keep_their_place_among_queued_media() {
        let frames: Vec<_> = (0..2).map(|i| video(i * 40, i == 0)).collect();
        let wire = FakeWire::new(5);
        let sink = Sink::new(stream(), Format::Flv, wire.clone());
        offer_all(&sink, &frames[..1]);
        sink.send_raw(b"PING".to_vec());
        offer_all(&sink, &frames[1..]);
        sink.end(CloseReason::ApiClose);
        sink.run_owner();
        let mut want = expected(&frames[..1]);
        want.extend_from_slice(b"PING");
        want.extend(expected(&frames[1..]));
        assert_eq!(*wire.written.lock(), want);
    }
}
