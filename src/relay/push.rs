//! A push: subscribe to a local channel and publish it to a remote RTMP server, reconnecting
//! until closed. The subscription stays while the remote is away (the queue is drained and the
//! headers remembered); after a reconnect the headers go first, then media from the next keyframe.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backoff::{Backoff, Ended};
use super::connection::{client_options, ByteCounts, MediaClock, SocketSlot};
use super::TICK;
use crate::hub::{
    CloseReason, Cursor, Format, Frame, Headers, Hub, PlayQueue, QueueEnd, StreamHandle,
};
use crate::media::PacketKind;
use crate::rtmp::client::{RtmpClient, RtmpUrl};
use crate::text::{log_safe, LOG_TEXT_MAX};

pub(super) struct Push {
    hub: Arc<Hub>,
    stream: Arc<StreamHandle>,
    url: RtmpUrl,
    channel: String,
    socket: SocketSlot,
}

/// What a push carries across its reconnects.
struct PushState {
    queue: Option<PlayQueue>,
    /// The channel's latest metadata and sequence headers, resent after a reconnect.
    headers: Headers,
    /// Timestamp of the last frame taken (headers resent after a reconnect carry it).
    last_ts: u32,
    frames: Vec<Arc<Frame>>,
}

impl Push {
    pub(super) fn new(
        hub: &Arc<Hub>,
        stream: &Arc<StreamHandle>,
        url: RtmpUrl,
        channel: String,
    ) -> Push {
        Push {
            hub: hub.clone(),
            stream: stream.clone(),
            url,
            channel,
            socket: SocketSlot::install(stream),
        }
    }

    pub(super) fn run(self) {
        let id = self.stream.id();
        let mut backoff = Backoff::new();
        let mut state = PushState {
            queue: None,
            headers: Headers::default(),
            last_ts: 0,
            frames: Vec::with_capacity(64),
        };
        let reason = loop {
            if let Some(reason) = self.stream.close_requested() {
                break reason;
            }
            let ended = self.push_once(&mut state);
            self.socket.detach();
            match ended {
                Ended::Stop(reason) => break reason,
                Ended::Retry { why, media_for, .. } => {
                    let delay = backoff.after(media_for);
                    let why = log_safe(&why, LOG_TEXT_MAX);
                    log::info!("push {id}: {why}; reconnecting in {delay:?}");
                    if let Err(reason) = self.wait_draining(delay, &mut state) {
                        break reason;
                    }
                }
            }
        };
        log::info!("push {id}: ended ({})", reason.as_str());
        self.hub.finish_stream(&self.stream, reason);
    }

    /// Sleep `delay` while taking (and dropping) what the channel sends, so the subscription
    /// does not fall behind; headers are remembered.
    fn wait_draining(&self, delay: Duration, state: &mut PushState) -> Result<(), CloseReason> {
        let end = Instant::now() + delay;
        loop {
            if let Some(reason) = self.stream.close_requested() {
                return Err(reason);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            match &state.queue {
                None => std::thread::sleep(left.min(TICK)),
                Some(queue) => match queue.next_batch(left.min(TICK), &mut state.frames) {
                    Ok(_) => {
                        for frame in state.frames.drain(..) {
                            state.headers.observe(&frame.packet);
                            state.last_ts = frame.timestamp();
                        }
                    }
                    Err(end) => return Err(queue_end_reason(end)),
                },
            }
        }
    }

    fn push_once(&self, state: &mut PushState) -> Ended {
        let mut client = match RtmpClient::connect_with(&self.url, client_options()) {
            Ok(client) => client,
            Err(e) => return Ended::from_client("cannot connect", &e, Duration::ZERO),
        };
        let mut bytes = ByteCounts::default();
        let result = self.publish(&mut client, state, &mut bytes);
        bytes.account(&client, &self.stream);
        if matches!(result, Ended::Stop(_)) {
            client.close();
        }
        result
    }

    fn publish(
        &self,
        client: &mut RtmpClient,
        state: &mut PushState,
        bytes: &mut ByteCounts,
    ) -> Ended {
        if let Err(reason) = self.socket.attach(client, &self.stream) {
            return Ended::Stop(reason);
        }
        if let Err(e) = client.publish() {
            return Ended::from_client("cannot publish", &e, Duration::ZERO);
        }
        let mut awaiting_keyframe = false;
        let queue = match state.queue.take() {
            Some(queue) => {
                // A reconnect: headers first, then media from the next keyframe.
                for header in state.headers.iter() {
                    let packet = header.clone().with_timestamp(state.last_ts);
                    if let Err(e) = client.write_packet(&packet) {
                        state.queue = Some(queue);
                        return Ended::from_client("connection lost", &e, Duration::ZERO);
                    }
                }
                awaiting_keyframe = state.headers.has_video();
                log::info!("push {}: reconnected", self.stream.id());
                queue
            }
            None => match self
                .hub
                .start_play(&self.stream, &self.channel, Cursor::Latest)
            {
                Ok(queue) => {
                    log::info!(
                        "push {}: publishing channel {} to {}",
                        self.stream.id(),
                        log_safe(&self.channel, LOG_TEXT_MAX),
                        log_safe(&self.url.to_string(), LOG_TEXT_MAX)
                    );
                    queue
                }
                Err(e) => {
                    log::info!(
                        "push {}: cannot subscribe to channel {}: {}",
                        self.stream.id(),
                        log_safe(&self.channel, LOG_TEXT_MAX),
                        e.name()
                    );
                    return Ended::Stop(CloseReason::ChannelClosed);
                }
            },
        };
        let queue = state.queue.insert(queue);
        // The channel's shared serialisation fits this connection when the ids and chunk size
        // match joy4's own players (they do against joy4, nginx-rtmp and SRS).
        let shared = client.stream_id() == crate::rtmp::PLAY_STREAM_ID
            && client.out_chunk_size() == crate::rtmp::OUT_CHUNK_SIZE;
        let mut clock = MediaClock::new();
        loop {
            match queue.next_batch(TICK, &mut state.frames) {
                Ok(true) => {
                    for frame in state.frames.drain(..) {
                        state.headers.observe(&frame.packet);
                        state.last_ts = frame.timestamp();
                        let is_header = frame.is_header();
                        if awaiting_keyframe && !is_header {
                            if !(frame.is_keyframe() && frame.packet.kind == PacketKind::Video) {
                                continue;
                            }
                            awaiting_keyframe = false;
                        }
                        let written = if shared && frame.packet.kind != PacketKind::Data {
                            client.write_prechunked(&frame.wire_bytes(Format::Rtmp))
                        } else {
                            client.write_packet(&frame.packet)
                        };
                        if let Err(e) = written {
                            // (Dropping the drain empties `frames`.)
                            return Ended::from_client("connection lost", &e, clock.media_for());
                        }
                        clock.note();
                    }
                    self.stream.meter.note_media_ts(state.last_ts);
                    bytes.account(client, &self.stream);
                }
                Ok(false) => {
                    if let Err(e) = client.poll_incoming() {
                        return Ended::from_client("connection lost", &e, clock.media_for());
                    }
                }
                Err(end) => return Ended::Stop(queue_end_reason(end)),
            }
            if let Some(reason) = self.stream.close_requested() {
                return Ended::Stop(reason);
            }
        }
    }
}

fn queue_end_reason(end: QueueEnd) -> CloseReason {
    #[allow(unreachable_patterns)]
    match end {
        QueueEnd::Ended(reason) => reason,
        _ => CloseReason::Error,
    }
}
