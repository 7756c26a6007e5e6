//! A push: subscribe to a local channel and publish it to a remote RTMP server, reconnecting
//! until closed. The subscription stays while the remote is away (the queue is drained and the
//! headers remembered); after a reconnect the headers go first, then media from the next keyframe.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backoff::{Backoff, Ended};
use super::connection::{client_options, ByteCounts, MediaClock, SocketSlot};
use super::connection::{rtmp_info, TICK};
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

/// A push that follows a ReconnectRequest sends to its old server until the next video
/// keyframe, at most this long.
const MOVE_WITHIN: Duration = Duration::from_secs(5);

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

    pub(super) fn run(mut self) {
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

    fn push_once(&mut self, state: &mut PushState) -> Ended {
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

    /// Follow a ReconnectRequest: connect to its target and publish there (headers first);
    /// `None` (logged) if the target is refused or cannot be reached: the push stays.
    fn connect_elsewhere(
        &mut self,
        tc_url: Option<&str>,
        headers: &Headers,
        last_ts: u32,
    ) -> Option<RtmpClient> {
        let id = self.stream.id();
        let target = match self.url.reconnect_target(tc_url) {
            Ok(target) => target,
            Err(e) => {
                let why = log_safe(&e.to_string(), LOG_TEXT_MAX);
                log::warn!("push {id}: refusing a ReconnectRequest: {why}");
                return None;
            }
        };
        let shown = log_safe(&target.to_string(), LOG_TEXT_MAX);
        let connected = RtmpClient::connect_with(&target, client_options()).and_then(|mut c| {
            c.publish()?;
            for header in headers.iter() {
                c.write_packet(&header.clone().with_timestamp(last_ts))?;
            }
            Ok(c)
        });
        match connected {
            Ok(client) => {
                log::info!("push {id}: ReconnectRequest: publishing to {shown}; leaving the old server at the next keyframe");
                self.stream.set_rtmp_info(rtmp_info("push", &target));
                self.url = target;
                Some(client)
            }
            Err(e) => {
                let why = log_safe(&e.to_string(), LOG_TEXT_MAX);
                log::warn!("push {id}: ReconnectRequest to {shown} failed: {why}; staying");
                None
            }
        }
    }

    fn publish(
        &mut self,
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
        let fits = |client: &RtmpClient| {
            client.stream_id() == crate::rtmp::PLAY_STREAM_ID
                && client.out_chunk_size() == crate::rtmp::OUT_CHUNK_SIZE
        };
        let mut shared = fits(client);
        let mut clock = MediaClock::new();
        // The connection a ReconnectRequest opened, and since when.
        let mut moving: Option<(RtmpClient, Instant)> = None;
        loop {
            if moving.is_none() {
                if let Some((tc_url, _)) = client.take_reconnect_request() {
                    moving = self
                        .connect_elsewhere(tc_url.as_deref(), &state.headers, state.last_ts)
                        .map(|next| (next, Instant::now()));
                }
            }
            match queue.next_batch(TICK, &mut state.frames) {
                Ok(true) => {
                    for frame in state.frames.drain(..) {
                        state.headers.observe(&frame.packet);
                        state.last_ts = frame.timestamp();
                        let is_header = frame.is_header();
                        let at_keyframe =
                            frame.is_keyframe() && frame.packet.kind == PacketKind::Video;
                        let switch = moving.as_ref().is_some_and(|(_, since)| {
                            at_keyframe
                                || !state.headers.has_video()
                                || since.elapsed() >= MOVE_WITHIN
                        });
                        if switch {
                            let (next, _) = moving.take().expect("a connection to move to");
                            bytes.account(client, &self.stream);
                            let old = std::mem::replace(client, next);
                            old.close();
                            *bytes = ByteCounts::default();
                            shared = fits(client);
                            awaiting_keyframe = !at_keyframe && state.headers.has_video();
                            if let Err(reason) = self.socket.attach(client, &self.stream) {
                                return Ended::Stop(reason);
                            }
                            log::info!("push {}: moved; the old server is left", self.stream.id());
                        }
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
