//! The subscriber's own side of a sink: its thread writes the backlog while the socket is backed
//! up, and an in-process consumer (a push relay) takes frames from the queue.

use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, TryRecvError};

use super::wire::{slices, Piece};
use super::{Backlog, Sink};
use crate::hub::frame::Frame;
use crate::hub::meter::clock_seconds;
use crate::hub::types::CloseReason;

/// How often an idle subscriber's thread looks whether its peer has gone (a viewer of a silent
/// channel that leaves is noticed within this).
const PEER_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Why a queue-mode consumer stopped getting frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueEnd {
    Ended(CloseReason),
}

impl Sink {
    /// The subscriber's thread, for a socket sink: write whatever the channel queued (the socket
    /// is ours while the queue is not empty), until the stream ends. Returns why it ended.
    pub fn run_owner(&self) -> CloseReason {
        let Some(wire) = self.wire.clone() else {
            return CloseReason::Error;
        };
        let mut batch: Vec<(Vec<Piece>, usize)> = Vec::new();
        loop {
            let first = match self.rx.recv_timeout(PEER_CHECK_INTERVAL) {
                Ok(item) => item,
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(reason) = self.stream.close_requested() {
                        return reason;
                    }
                    if wire.peer_gone() {
                        self.state.lock().ended = true;
                        return CloseReason::PeerClosed;
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
            if let Err(reason) = wire.write_all_vectored(&mut iov) {
                log::debug!(
                    "subscriber {}: backlog write failed ({})",
                    self.stream.id(),
                    reason.as_str()
                );
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
        }
        Ok(())
    }

    pub fn shutdown(&self) {
        if let Some(wire) = &self.wire {
            wire.shutdown();
        }
    }
}
