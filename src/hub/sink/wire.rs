//! What the hub writes to, without knowing sockets: a subscriber's `Wire`, the shared
//! serialisation of a channel batch, and the pieces a subscriber's backlog is made of.

use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use crate::hub::frame::Format;
use crate::hub::frame::Frame;
use crate::hub::types::CloseReason;

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
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A connection's write side as the hub sees it. A failed write reports the close reason it
/// stands for (the wire knows what its errors mean).
pub trait Wire: Send + Sync {
    /// Write what the socket takes now without blocking; `Ok(0)` when it takes nothing.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> Result<usize, CloseReason>;
    /// `try_write_vectored` for a batch shared by many sinks; a wire may send it without
    /// copying its bytes again for each socket.
    fn try_write_shared(&self, batch: &SharedBatch<'_>) -> Result<usize, CloseReason> {
        self.try_write_vectored(batch.bufs)
    }
    /// Write all of `bufs`, blocking up to the wire's write timeout.
    fn write_all_vectored(&self, bufs: &mut [IoSlice<'_>]) -> Result<(), CloseReason>;
    /// Shut the connection down (wakes a thread blocked reading it).
    fn shutdown(&self);
    /// Wake the subscriber's thread: its sink has a backlog to write, or has ended. Never
    /// blocks; called with the sink's lock held.
    fn wake_owner(&self) {}
}

/// One unit of bytes to write: a shared frame, or connection-specific bytes (RTMP control replies).
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Frame(Arc<Frame>),
    Raw(Arc<[u8]>),
}

impl Piece {
    pub(crate) fn len(&self, format: Format) -> usize {
        match self {
            Piece::Frame(f) => f.wire_len(format),
            Piece::Raw(bytes) => bytes.len(),
        }
    }

    fn slices<'a>(&'a self, format: Format, out: &mut Vec<IoSlice<'a>>) {
        match self {
            Piece::Frame(f) => f.wire_slices(format, out),
            Piece::Raw(bytes) => out.push(IoSlice::new(bytes)),
        }
    }

    pub(crate) fn frame(&self) -> Option<&Arc<Frame>> {
        match self {
            Piece::Frame(f) => Some(f),
            Piece::Raw(_) => None,
        }
    }
}

/// Slices for `pieces`, the first advanced by `skip` bytes.
pub(crate) fn slices<'a>(
    pieces: &'a [Piece],
    skip: usize,
    format: Format,
    out: &mut Vec<IoSlice<'a>>,
) {
    let Some((first, rest)) = pieces.split_first() else {
        return;
    };
    let start = out.len();
    first.slices(format, out);
    // Drop the first piece's bytes already written: whole slices, then the front of one.
    let mut skip = skip;
    let mut keep = start;
    while keep < out.len() && skip >= out[keep].len() {
        skip -= out[keep].len();
        keep += 1;
    }
    out.drain(start..keep);
    if skip > 0 {
        if let Some(partial) = out.get_mut(start) {
            partial.advance(skip);
        }
    }
    for piece in rest {
        piece.slices(format, out);
    }
}

/// After `written` bytes of `pieces` went out: the pieces still (partly) to write and the bytes of
/// the first of them already written.
pub(crate) fn remainder(
    mut pieces: Vec<Piece>,
    mut written: usize,
    format: Format,
) -> (Vec<Piece>, usize) {
    let mut first = 0;
    for piece in &pieces {
        let len = piece.len(format);
        if written < len {
            break;
        }
        written -= len;
        first += 1;
    }
    pieces.drain(..first);
    (pieces, written)
}
