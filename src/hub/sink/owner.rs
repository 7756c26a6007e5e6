//! The subscriber's own side of a sink: its thread writes the backlog while the socket is backed
//! up, and an in-process consumer (a push relay, an HLS muxer) takes frames from the queue.

use std::io::IoSlice;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::wire::{slices, Piece};
use super::{Backlog, Sink, GATHER_WAKE_FRAMES};
use crate::hub::frame::Frame;
use crate::hub::meter::clock_seconds;
use crate::hub::types::CloseReason;

/// Why a queue-mode consumer stopped getting frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueEnd {
    Ended(CloseReason),
}

impl Sink {
    /// The subscriber's thread, when woken (`Wire::wake_owner`): write whatever the channel
    /// queued, with blocking writes, until the queue is empty; then the socket goes back to the
    /// channel and this returns `None`. `Some(reason)` when the stream has ended (what was queued
    /// before the end is written first).
    pub fn write_backlog(&self) -> Option<CloseReason> {
        let Some(wire) = self.wire.clone() else {
            return Some(CloseReason::Error);
        };
        // Sized once per turn: a vector grown by doubling would leave each smaller buffer in
        // this long-lived thread's allocator cache.
        let mut batch: Vec<(Vec<Piece>, usize)> = Vec::new();
        loop {
            let mut end = None;
            let channel;
            {
                let mut st = self.state.lock();
                channel = st.channel.clone();
                batch.reserve_exact(st.backlog.len());
                while let Some(item) = st.backlog.pop_front() {
                    match item {
                        Backlog::Pieces { pieces, skip } => batch.push((pieces, skip)),
                        Backlog::Frame(frame) => batch.push((vec![Piece::Frame(frame)], 0)),
                        Backlog::End(reason) => {
                            end = Some(reason);
                            break;
                        }
                    }
                }
                if batch.is_empty() && end.is_none() {
                    // Caught up: the channel writes directly again.
                    st.owner_writes = false;
                    return None;
                }
            }
            let pieces: usize = batch.iter().map(|(p, _)| p.len()).sum();
            let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(pieces);
            for (pieces, skip) in &batch {
                slices(pieces, *skip, self.format, &mut iov);
            }
            let total: usize = iov.iter().map(|s| s.len()).sum();
            if let Err(reason) = wire.write_all_vectored(&mut iov) {
                log::debug!(
                    "subscriber {}: backlog write failed ({})",
                    self.stream.id(),
                    reason.as_str()
                );
                self.stop();
                return Some(reason);
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
            self.count_sent(channel.as_deref(), total);
            batch.clear();
            {
                let mut st = self.state.lock();
                st.queued_frames = st.queued_frames.saturating_sub(frames);
            }
            if end.is_some() {
                return end;
            }
        }
    }

    /// Queue mode: let frames gather for up to `max` without being woken for each; only the
    /// queue's end or a burst (`GATHER_WAKE_FRAMES` queued) cuts it short. The consumer then
    /// takes them at once with `next_batch`.
    pub fn gather(&self, max: Duration) {
        let until = Instant::now() + max;
        let mut st = self.state.lock();
        st.gathering = true;
        while !st.ended && st.pending_end.is_none() && st.queued_frames < GATHER_WAKE_FRAMES {
            if self.queued.wait_until(&mut st, until).timed_out() {
                break;
            }
        }
        st.gathering = false;
    }

    /// Queue mode: block up to `timeout` for frames, then take all that are queued.
    /// `Ok(false)` when nothing came within `timeout`.
    pub fn next_batch(
        &self,
        timeout: Duration,
        out: &mut Vec<Arc<Frame>>,
    ) -> Result<bool, QueueEnd> {
        let mut st = self.state.lock();
        if let Some(reason) = st.pending_end.take() {
            return Err(QueueEnd::Ended(reason));
        }
        if st.backlog.is_empty() {
            self.queued.wait_for(&mut st, timeout);
            if st.backlog.is_empty() {
                return Ok(false);
            }
        }
        let mut taken = 0;
        while let Some(item) = st.backlog.pop_front() {
            match item {
                Backlog::Pieces { pieces, .. } => {
                    for piece in pieces {
                        if let Piece::Frame(f) = piece {
                            out.push(f);
                            taken += 1;
                        }
                    }
                }
                Backlog::Frame(f) => {
                    out.push(f);
                    taken += 1;
                }
                Backlog::End(reason) => {
                    if out.is_empty() {
                        return Err(QueueEnd::Ended(reason));
                    }
                    st.pending_end = Some(reason);
                    break;
                }
            }
        }
        st.queued_frames = st.queued_frames.saturating_sub(taken);
        drop(st);
        if let Some(last) = out.last() {
            self.stream.meter.set_dequeued_ts(last.timestamp());
            self.stream.meter.note_media_ts(last.timestamp());
        }
        Ok(true)
    }

    /// Write bytes after the stream ended (an RTMP player's goodbye). Only the owner calls this.
    pub fn write_final(&self, bytes: &[u8]) -> Result<(), CloseReason> {
        if let Some(wire) = &self.wire {
            wire.write_all_vectored(&mut [IoSlice::new(bytes)])?;
            self.stream.add_bytes_out(bytes.len() as u64);
            if let Some(channel) = &self.state.lock().channel {
                channel.add_sent(bytes.len() as u64);
            }
        }
        Ok(())
    }

    pub fn shutdown(&self) {
        if let Some(wire) = &self.wire {
            wire.shutdown();
        }
    }
}
