//! A subscriber's output side, shared by the channel (fast path) and the subscriber's own thread
//! (slow path).
//!
//! Fast path: the thread that flushes a channel batch writes it straight to the subscriber's
//! socket with a non-blocking vectored write of the batch's shared serialisation; no other thread
//! wakes. Slow path: when the socket cannot take the whole batch, the rest goes to the sink's
//! bounded queue, the subscriber's thread is woken (`Wire::wake_owner`) and takes the socket
//! over, writing with blocking writes until the queue is empty (`write_backlog`); then it hands
//! the socket back. The queue is empty, and holds no memory, while the socket keeps up. A
//! subscriber that falls too far behind (too many frames queued, or more than `max_lag` of media)
//! skips to the next keyframe, and each packet it misses is counted in its stream's
//! `droppedPackets`.
//!
//! The socket itself is behind the `Wire` trait: the hub knows nothing of sockets.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::frame::{restamp, Frame};
use super::meter::clock_seconds;
use super::stream::Stream;
use super::traffic::{ChannelTraffic, Protocol};
use super::types::CloseReason;
use crate::media::{ts_diff, Packet};

mod owner;
mod wire;

pub use owner::QueueEnd;
pub(crate) use wire::next_batch_id;
use wire::{remainder, slices, Piece};
pub use wire::{Format, SharedBatch, Wire};

pub(crate) enum Backlog {
    /// Pieces to write in order; `skip` bytes of the first were already written.
    Pieces {
        pieces: Vec<Piece>,
        skip: usize,
    },
    /// One frame for an in-process consumer: no vector allocated (and freed on another
    /// thread) per frame.
    Frame(Arc<Frame>),
    End(CloseReason),
}

/// Frames a subscriber may have queued before it counts as behind.
pub const MAX_QUEUED_FRAMES: usize = 1024;
/// An in-process consumer letting frames gather is woken when this many are queued (a burst),
/// well before the queue counts as behind.
pub const GATHER_WAKE_FRAMES: usize = MAX_QUEUED_FRAMES / 4;
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
    /// The in-process consumer lets frames gather (`Sink::gather`): only an end or a burst
    /// (`GATHER_WAKE_FRAMES`) wakes it.
    gathering: bool,
    /// What the subscriber's thread (or an in-process consumer) has still to take, in order.
    backlog: VecDeque<Backlog>,
    /// The counters of the channel joined last, which the subscriber's own writes count into.
    channel: Option<Arc<ChannelTraffic>>,
    /// The last frame of the channel's batch pending at the join, and whether the joiner was
    /// given buffered frames: what of that batch the joiner already has is not sent again.
    joined_through: Option<(Arc<Frame>, bool)>,
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
    /// The stream's protocol, here beside the fields a flush touches anyway.
    pub protocol: Protocol,
    state: Mutex<SinkState>,
    /// Signalled when something is queued for an in-process consumer.
    queued: Condvar,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("stream", &self.stream.id())
            .field("format", &self.format)
            .finish()
    }
}

/// Where a subscriber that waits for a keyframe may start.
fn is_resume_point(frame: &Frame, has_video: bool) -> bool {
    if has_video {
        frame.is_keyframe() && !frame.is_sequence_header()
    } else {
        !frame.is_header()
    }
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
        Arc::new(Sink {
            wire,
            format,
            protocol: stream.protocol(),
            stream,
            state: Mutex::new(SinkState::default()),
            queued: Condvar::new(),
        })
    }

    /// Queue `item` for the subscriber's side (bytes are dropped when the queue is full, as a
    /// subscriber that far behind is skipping anyway; the end never is, or its thread would
    /// wait for ever), and make sure that side looks: the socket becomes the subscriber
    /// thread's, which is woken if it had not been already.
    fn push(&self, st: &mut SinkState, item: Backlog) {
        let is_end = matches!(item, Backlog::End(_));
        // An in-process queue is bounded by its frames (see `behind`), not its items.
        if self.wire.is_none() || st.backlog.len() < QUEUE_ITEMS + QUEUE_SLACK || is_end {
            st.backlog.push_back(item);
        }
        match &self.wire {
            Some(wire) => {
                let idle = !st.owner_writes;
                st.owner_writes = true;
                if idle || st.ended {
                    wire.wake_owner();
                }
            }
            None => {
                if !st.gathering || is_end || st.queued_frames >= GATHER_WAKE_FRAMES {
                    self.queued.notify_one();
                }
            }
        }
    }

    /// Start (or restart, after a move between channels) with a joiner's backlog: headers and
    /// buffered frames, written by the subscriber's thread. With no backlog and `awaiting_keyframe`,
    /// the first frames written are from the next keyframe. `channel`: the joined channel's
    /// counters, which what the subscriber's thread writes counts into.
    /// `joined_through`: the last frame of the channel's pending batch, which reaches this sink
    /// too when it goes out, and whether the joiner got buffered frames: the batch's frames up
    /// to there that the joiner already has (the headers; the media too when it got buffered
    /// frames) are then left out.
    pub(crate) fn join(
        &self,
        backlog: Vec<Arc<Frame>>,
        awaiting_keyframe: bool,
        channel: Arc<ChannelTraffic>,
        joined_through: Option<(Arc<Frame>, bool)>,
    ) -> bool {
        let mut st = self.state.lock();
        if st.ended {
            return false;
        }
        st.channel = Some(channel);
        st.joined_through = joined_through;
        st.skipping = false;
        st.headers_missed = false;
        st.awaiting_keyframe = awaiting_keyframe;
        if let Some(last) = backlog.last() {
            self.stream.meter.set_dequeued_ts(last.timestamp());
        }
        if !backlog.is_empty() {
            st.queued_frames += backlog.len();
            let pieces = backlog.into_iter().map(Piece::Frame).collect();
            self.push(&mut st, Backlog::Pieces { pieces, skip: 0 });
        }
        true
    }

    /// Whether the subscriber fell behind and waits for a keyframe to resume (frames it misses
    /// are counted as dropped).
    pub fn is_skipping(&self) -> bool {
        self.state.lock().skipping
    }

    /// An in-process consumer that takes frames with `next_batch` (no socket).
    pub fn is_in_process(&self) -> bool {
        self.wire.is_none()
    }

    /// Tell the subscriber to end once what is queued is written. No frames are taken after this.
    pub fn end(&self, reason: CloseReason) {
        let mut st = self.state.lock();
        if st.ended {
            return;
        }
        st.ended = true;
        self.push(&mut st, Backlog::End(reason));
    }

    /// The subscriber's thread saw the peer go: no more writes, nothing queued.
    pub fn stop(&self) {
        let mut st = self.state.lock();
        st.ended = true;
        st.backlog.clear();
    }

    fn count_dropped(&self, st: &SinkState, frames: usize) {
        if frames > 0 {
            self.stream.add_dropped(frames as u64);
            if let Some(channel) = &st.channel {
                channel.add_dropped(frames as u64);
            }
        }
    }

    /// Bytes written outside a channel's flush (which counts its batch itself), into the
    /// server's and the channel's counters.
    fn count_sent(&self, channel: Option<&ChannelTraffic>, bytes: usize) {
        self.stream.count_sent(bytes as u64);
        if let Some(channel) = channel {
            channel.add_sent(bytes as u64);
        }
    }

    /// Take a channel batch. Never blocks: writes what the socket takes, queues the rest.
    /// Returns the bytes written to the socket now, for the channel to count with the batch.
    pub fn offer(&self, offer: &Offer<'_>) -> usize {
        let mut st = self.state.lock();
        if st.ended || offer.frames.is_empty() {
            return 0;
        }
        // The batch that was pending when this subscriber joined: what it got at the join is
        // not sent again.
        let narrowed: Option<Vec<Arc<Frame>>> =
            st.joined_through.take().and_then(|(seen, had_backlog)| {
                let i = offer.frames.iter().position(|f| Arc::ptr_eq(f, &seen))?;
                let (before, after) = offer.frames.split_at(i + 1);
                let new_to_it = before.iter().filter(|f| !had_backlog && !f.is_header());
                Some(new_to_it.chain(after).cloned().collect())
            });
        let all: &[Arc<Frame>] = narrowed.as_deref().unwrap_or(offer.frames);
        if all.is_empty() {
            return 0;
        }
        let mut start = 0;
        if st.skipping || st.awaiting_keyframe {
            // Resume only once the backlog is (nearly) written out.
            let may_resume = !st.skipping || st.queued_frames <= MAX_QUEUED_FRAMES / 32;
            let found = if may_resume {
                all.iter().position(|f| is_resume_point(f, offer.has_video))
            } else {
                None
            };
            let missed = &all[..found.unwrap_or(all.len())];
            if st.skipping {
                self.count_dropped(&st, missed.len());
            }
            if missed.iter().any(|f| f.is_header()) {
                st.headers_missed = true;
            }
            let Some(i) = found else { return 0 };
            start = i;
            st.skipping = false;
            st.awaiting_keyframe = false;
            self.stream.meter.set_dequeued_ts(all[i].timestamp());
        }
        let frames = &all[start..];
        let resync = std::mem::take(&mut st.headers_missed);
        if start > 0 || resync || narrowed.is_some() {
            // This subscriber's bytes differ from the batch's: its own (rare) piece list.
            let mut pieces: Vec<Piece> = Vec::with_capacity(frames.len() + 3);
            if resync {
                let ts = frames[0].timestamp();
                pieces.extend(offer.headers.iter().map(|p| Piece::Frame(restamp(p, ts))));
            }
            pieces.extend(frames.iter().cloned().map(Piece::Frame));
            return self.deliver(&mut st, pieces, offer.max_lag_ms);
        }
        if self.wire.is_none() {
            self.enqueue_frames(&mut st, frames, offer.max_lag_ms);
            return 0;
        }
        if st.owner_writes {
            let pieces = frames.iter().cloned().map(Piece::Frame).collect();
            self.enqueue(&mut st, pieces, 0, offer.max_lag_ms);
            return 0;
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
            Ok(n) if n == total => {
                self.wrote(n, frames.last(), offer.second);
                n
            }
            Ok(n) => {
                self.wrote(n, None, offer.second);
                let pieces = frames.iter().cloned().map(Piece::Frame).collect();
                let (rest, skip) = remainder(pieces, n, self.format);
                self.enqueue(&mut st, rest, skip, offer.max_lag_ms);
                n
            }
            Err(reason) => {
                self.fail(&mut st, reason);
                0
            }
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
            self.push(&mut st, Backlog::Pieces { pieces, skip: 0 });
            return;
        }
        let written = self.deliver(&mut st, pieces, u32::MAX);
        self.count_sent(st.channel.as_deref(), written);
    }

    /// Write `pieces` now if the socket is ours and takes them; queue what is left. Returns the
    /// bytes written now.
    fn deliver(&self, st: &mut SinkState, pieces: Vec<Piece>, max_lag_ms: u32) -> usize {
        if st.owner_writes || self.wire.is_none() {
            self.enqueue(st, pieces, 0, max_lag_ms);
            return 0;
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
                n
            }
            Ok(n) => {
                drop(iov);
                self.wrote(n, None, clock_seconds());
                let (rest, skip) = remainder(pieces, n, self.format);
                self.enqueue(st, rest, skip, max_lag_ms);
                n
            }
            Err(reason) => {
                self.fail(st, reason);
                0
            }
        }
    }

    fn try_write(&self, iov: &[IoSlice<'_>]) -> Result<usize, CloseReason> {
        match &self.wire {
            Some(wire) => wire.try_write_vectored(iov),
            None => Ok(0),
        }
    }

    fn wrote(&self, bytes: usize, last: Option<&Arc<Frame>>, second: u64) {
        if bytes > 0 {
            self.stream.meter.add_out(bytes as u64, second);
        }
        if let Some(frame) = last {
            self.stream.meter.note_media_ts(frame.timestamp());
            self.stream.meter.set_dequeued_ts(frame.timestamp());
        }
    }

    fn fail(&self, st: &mut SinkState, reason: CloseReason) {
        log::debug!(
            "subscriber {}: write failed ({})",
            self.stream.id(),
            reason.as_str()
        );
        st.ended = true;
        self.stream.note_close_reason(reason);
        self.push(st, Backlog::End(reason));
    }

    /// `enqueue` of one frame for an in-process consumer, as a queue item of its own.
    /// Queue frames for an in-process consumer, one item each (the queue keeps its room, so
    /// nothing is allocated), or start skipping if it is too far behind.
    fn enqueue_frames(&self, st: &mut SinkState, frames: &[Arc<Frame>], max_lag_ms: u32) {
        let Some((last, rest)) = frames.split_last() else {
            return;
        };
        let lag = ts_diff(last.timestamp(), self.stream.meter.dequeued_ts());
        let behind = st.queued_frames + frames.len() > MAX_QUEUED_FRAMES
            || lag > max_lag_ms.min(i32::MAX as u32) as i32;
        if behind {
            log::debug!(
                "subscriber {} is behind ({} frames queued, lag {lag} ms): skipping to the next keyframe",
                self.stream.id(),
                st.queued_frames
            );
            st.skipping = true;
            st.headers_missed |= frames.iter().any(|f| f.is_header());
            self.count_dropped(st, frames.len());
            return;
        }
        st.queued_frames += frames.len();
        st.backlog.extend(rest.iter().cloned().map(Backlog::Frame));
        self.push(st, Backlog::Frame(last.clone()));
    }

    /// A socket subscriber's queue holds at most `QUEUE_ITEMS` batches; an in-process one, which
    /// takes many batches at once, is bounded by its frames and lag only.
    fn items_full(&self, st: &SinkState) -> bool {
        self.wire.is_some() && st.backlog.len() >= QUEUE_ITEMS
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
            .map(|ts| ts_diff(ts, self.stream.meter.dequeued_ts()))
            .unwrap_or(0);
        let behind = st.queued_frames + frames > MAX_QUEUED_FRAMES
            || lag > max_lag_ms.min(i32::MAX as u32) as i32
            || self.items_full(st);
        // A partly written piece must be finished, or the byte stream breaks.
        if behind && skip == 0 {
            log::debug!(
                "subscriber {} is behind ({} frames queued, lag {lag} ms): skipping to the next keyframe",
                self.stream.id(),
                st.queued_frames
            );
            st.skipping = true;
            if pieces
                .iter()
                .filter_map(Piece::frame)
                .any(|f| f.is_header())
            {
                st.headers_missed = true;
            }
            self.count_dropped(st, frames);
            return;
        }
        st.queued_frames += frames;
        self.push(st, Backlog::Pieces { pieces, skip });
    }
}

#[cfg(test)]
mod tests;
