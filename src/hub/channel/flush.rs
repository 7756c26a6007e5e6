//! Writing a channel's pending batch: serialised once per output format, offered to every sink,
//! in order with every other batch of the channel; and the deadline that ends a merge window.

use std::io::IoSlice;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::MutexGuard;

use super::{Channel, State};
use crate::hub::frame::Frame;
use crate::hub::meter::clock_seconds;
use crate::hub::sink::{next_batch_id, Format, Offer, SharedBatch, Sink};
use crate::hub::timer::Due;
use crate::hub::traffic::BatchTally;
use crate::media::Packet;

/// How long a batch may wait for more frames, by audience. Merging writes saves a write and a
/// wake-up per subscriber per frame, which pays for a big audience but costs every viewer
/// latency, and a small audience gains nothing from it: so a channel with few subscribers writes
/// each message as it comes, and the window grows linearly from there to `max` (`-mergewrite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeWindow {
    pub max: Duration,
    /// Up to this many subscribers: a write per message.
    pub per_message_up_to: usize,
    /// From this many subscribers: the whole `max`.
    pub full_from: usize,
}

impl MergeWindow {
    /// The window adapted to the audience (see the type's comment).
    pub fn adaptive(max: Duration) -> MergeWindow {
        MergeWindow {
            max,
            per_message_up_to: 32,
            full_from: 160,
        }
    }

    /// `max` whatever the audience.
    pub fn fixed(max: Duration) -> MergeWindow {
        MergeWindow {
            max,
            per_message_up_to: 0,
            full_from: 1,
        }
    }

    /// The window for a channel with `subscribers`.
    pub fn for_audience(&self, subscribers: usize) -> Duration {
        if subscribers <= self.per_message_up_to {
            Duration::ZERO
        } else if subscribers >= self.full_from {
            self.max
        } else {
            let above = (subscribers - self.per_message_up_to) as u32;
            let span = (self.full_from - self.per_message_up_to) as u32;
            self.max * above / span
        }
    }
}

/// From this many subscribers on, a batch is written by two threads (the flushing thread and a
/// helper), so the last subscriber of a big channel does not wait a whole pass of writes.
pub(super) const PARALLEL_FLUSH_SINKS: usize = 1024;

/// A batch taken out of the channel, to be offered to a snapshot of its subscribers.
pub(super) struct Flush {
    frames: Vec<Arc<Frame>>,
    sinks: Arc<Vec<Arc<Sink>>>,
    headers: Arc<[Packet]>,
    has_video: bool,
}

impl Channel {
    /// Take the pending batch out (with the lock held), for `finish_flush`.
    pub(super) fn take_flush(st: &mut State) -> Option<Flush> {
        st.batch_started = None;
        if st.batch.is_empty() {
            return None;
        }
        if st.sinks.is_empty() {
            st.batch.clear();
            return None;
        }
        let frames = std::mem::take(&mut st.batch);
        let state = &mut *st;
        let headers = state
            .headers_list
            .get_or_insert_with(|| state.headers.iter().cloned().collect())
            .clone();
        Some(Flush {
            frames,
            sinks: st.sinks.clone(),
            headers,
            has_video: st.media.video_codec.is_some(),
        })
    }

    /// Release the state lock and write the batch, in order with every other flush.
    pub(super) fn finish_flush(&self, mut st: MutexGuard<'_, State>, flush: Option<Flush>) {
        let Some(mut flush) = flush else { return };
        let mut order = self.flushing.lock();
        // The previous batch's vector, emptied, takes the next batch.
        if st.batch.capacity() == 0 {
            st.batch = std::mem::take(&mut *order);
        }
        drop(st);
        // In-process consumers (recordings, HLS muxers, push relays) take frames, not bytes:
        // a batch only they get is never serialised (the buffer would hold the bytes too).
        let count = |format| {
            flush
                .sinks
                .iter()
                .filter(|s| s.format == format && !s.is_in_process())
                .count()
        };
        let (rtmp_sinks, flv_sinks) = (count(Format::Rtmp), count(Format::Flv));
        let slices = |sinks: usize, format: Format| -> Vec<IoSlice<'_>> {
            let mut out = Vec::new();
            if sinks > 0 {
                for frame in &flush.frames {
                    frame.wire_slices(format, &mut out);
                }
            }
            out
        };
        let rtmp = slices(rtmp_sinks, Format::Rtmp);
        let flv = slices(flv_sinks, Format::Flv);
        let offer = Offer {
            frames: &flush.frames,
            rtmp: SharedBatch::new(next_batch_id(), &rtmp, rtmp_sinks),
            flv: SharedBatch::new(next_batch_id(), &flv, flv_sinks),
            has_video: flush.has_video,
            headers: &flush.headers,
            max_lag_ms: self.max_lag_ms,
            second: clock_seconds(),
        };
        let tally = offer_all(&flush.sinks, &offer);
        flush.frames.clear();
        *order = flush.frames;
        drop(order);
        // Once per batch, not per subscriber.
        self.traffic.add_sent(tally.total());
        if let Some(counters) = &self.counters {
            tally.count_into(&counters.traffic);
        }
    }

    /// Add a frame to the pending batch; flush if the merge window has passed. A new batch gets
    /// a deadline on the hub's timer, so it goes out when its window ends even if no other frame
    /// arrives.
    pub(super) fn enqueue_frame(&self, mut st: MutexGuard<'_, State>, frame: Arc<Frame>) {
        st.batch.push(frame);
        let window = self.merge.for_audience(st.sinks.len());
        let now = Instant::now();
        let started = match st.batch_started {
            Some(started) => started,
            None => {
                st.batch_started = Some(now);
                if !window.is_zero() {
                    if let Some(timers) = &self.timers {
                        timers.flush_at(now + window, self.this.clone());
                    }
                }
                now
            }
        };
        let due = if window.is_zero() {
            st.held == 0
        } else {
            now.duration_since(started) >= window
        };
        if due {
            let flush = Self::take_flush(&mut st);
            self.finish_flush(st, flush);
        }
    }

    /// Start a burst: the messages a publisher read at once. A channel that writes each message
    /// as it comes writes the whole burst at its end instead (one write per subscriber, not one
    /// per message), as an event loop would; it adds no delay beyond the burst's own handling.
    /// The burst ends when the returned guard is dropped.
    pub fn hold_flushes(self: &Arc<Self>) -> FlushHold {
        self.state.lock().held += 1;
        FlushHold(self.clone())
    }

    /// Flush whatever is pending now (publisher change, close).
    pub fn flush(&self) {
        let mut st = self.state.lock();
        let flush = Self::take_flush(&mut st);
        self.finish_flush(st, flush);
    }

    /// Flush the pending batch if its merge window has ended (the timer's call).
    pub fn flush_if_due(&self) {
        let mut st = self.state.lock();
        let window = self.merge.for_audience(st.sinks.len());
        let due = st
            .batch_started
            .is_some_and(|started| started.elapsed() >= window);
        if due {
            let flush = Self::take_flush(&mut st);
            self.finish_flush(st, flush);
        }
    }
}

/// Offer a batch to every sink, one format after the other (so a wire that stages a batch loads
/// each only once), in two halves on two threads for a big channel when the machine has more
/// than one core. Each sink is offered by exactly one thread, and both are done before this
/// returns, so the per-channel flush order holds. Returns the bytes written directly.
fn offer_all(sinks: &[Arc<Sink>], offer: &Offer<'_>) -> BatchTally {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let by_format = || {
        [Format::Rtmp, Format::Flv]
            .into_iter()
            .flat_map(|format| sinks.iter().filter(move |s| s.format == format))
    };
    if sinks.len() < PARALLEL_FLUSH_SINKS || cores < 2 {
        return offer_each(by_format(), offer);
    }
    let ordered: Vec<&Arc<Sink>> = by_format().collect();
    let (mine, theirs) = ordered.split_at(ordered.len() / 2);
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("flush-helper".into())
            .stack_size(128 * 1024)
            .spawn_scoped(scope, || offer_each(theirs.iter().copied(), offer));
        let mut tally = offer_each(mine.iter().copied(), offer);
        match helper {
            Ok(helper) => match helper.join() {
                Ok(theirs) => tally.merge(theirs),
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(e) => {
                log::debug!("no flush helper thread ({e}): writing the whole batch on one thread");
                tally.merge(offer_each(theirs.iter().copied(), offer));
            }
        }
        tally
    })
}

fn offer_each<'s>(sinks: impl Iterator<Item = &'s Arc<Sink>>, offer: &Offer<'_>) -> BatchTally {
    let mut tally = BatchTally::default();
    for sink in sinks {
        tally.add(sink.protocol, sink.offer(offer));
    }
    tally
}

impl Due for Channel {
    fn run_if_due(&self) {
        self.flush_if_due();
    }
}

/// A burst in progress on a channel (`Channel::hold_flushes`); dropping it ends the burst and
/// writes what a channel without a merge window held back.
pub struct FlushHold(Arc<Channel>);

impl Drop for FlushHold {
    fn drop(&mut self) {
        let channel = &self.0;
        let mut st = channel.state.lock();
        st.held = st.held.saturating_sub(1);
        let window = channel.merge.for_audience(st.sinks.len());
        if st.held == 0 && window.is_zero() && !st.batch.is_empty() {
            let flush = Channel::take_flush(&mut st);
            channel.finish_flush(st, flush);
        }
    }
}
