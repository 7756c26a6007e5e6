//! Subscribers joining and leaving a channel, and the channel's close.

use std::sync::Arc;

use super::{Channel, ChannelClosed};
use crate::hub::buffer::Cursor;
use crate::hub::frame::{restamp, Frame};
use crate::hub::sink::Sink;
use crate::hub::stream::Stream;
use crate::hub::types::CloseReason;
use crate::media::PacketKind;

impl Channel {
    /// Register a subscriber and give it the headers and the buffer from `cursor`, under one lock,
    /// so it neither loses nor doubles a frame at the seam. May write a pending batch to the
    /// other subscribers first: call it holding no other lock.
    pub fn add_subscriber(&self, sink: &Arc<Sink>, cursor: Cursor) -> Result<(), ChannelClosed> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(ChannelClosed);
        }
        let mut backlog = st.buffer.frames_from(cursor);
        if batch_follows(&backlog, &st.batch) {
            // The pending batch is the newest part of the joiner's backlog: the joiner takes the
            // rest from the buffer and the batch itself when it goes out, with everyone else's.
            // A crowd of joiners does not break the merge window.
            backlog.truncate(backlog.len() - st.batch.len());
        } else {
            // Headers or metadata pending, or the cursor inside the batch: the batch goes out
            // to the others first, and the joiner gets its frames from the buffer.
            while !st.batch.is_empty() {
                let flush = Self::take_flush(&mut st);
                self.finish_flush(st, flush);
                st = self.state.lock();
                if st.closed {
                    return Err(ChannelClosed);
                }
            }
            backlog = st.buffer.frames_from(cursor);
        }
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
                let ts = if p.kind == PacketKind::Data {
                    0
                } else {
                    start_ts
                };
                restamp(p, ts)
            })
            .collect();
        let awaiting_keyframe = backlog.is_empty() && has_video;
        join.extend(backlog);
        if !sink.join(join, awaiting_keyframe, self.traffic.clone()) {
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
}

/// Whether `batch` is exactly the tail of `backlog` (the same buffered frames), with at least one
/// frame of the backlog before it.
fn batch_follows(backlog: &[Arc<Frame>], batch: &[Arc<Frame>]) -> bool {
    if batch.is_empty() || batch.len() >= backlog.len() {
        return batch.is_empty();
    }
    let tail = &backlog[backlog.len() - batch.len()..];
    tail.iter().zip(batch).all(|(a, b)| Arc::ptr_eq(a, b))
}
