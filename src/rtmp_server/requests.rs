//! A connection's publish and play requests: checked with the controller, wired to the hub, and
//! answered on the wire.

use super::Connection;
use crate::hub::{CloseReason, Cursor, Format, HubError, Sink};
use crate::rtmp::session::{self, StreamRequest};
use crate::rtmp::RtmpError;
use crate::text::{log_safe, LOG_TEXT_MAX};

impl Connection {
    pub(super) fn note_request(&self, command: &str, request: &StreamRequest) {
        let mut info = self.stream.rtmp_info().unwrap_or_default();
        info.command = command.to_string();
        info.stream_name = request.name.clone();
        info.params = crate::text::query_pairs(&request.query);
        self.stream.set_rtmp_info(info);
    }

    pub(super) fn on_publish(
        &mut self,
        request: StreamRequest,
    ) -> Result<Option<CloseReason>, RtmpError> {
        self.note_request("publish", &request);
        self.fault_panic = fault_hook_requested(&request.query);
        let path = session::channel_path(&request.app, &request.name);
        let shown = log_safe(&path, LOG_TEXT_MAX);
        let peer = &self.stream.remote_addr;
        if path.is_empty() {
            self.session
                .reject_publish("NetStream.Publish.BadName", "empty stream name");
            self.flush_session()?;
            return Ok(Some(CloseReason::Rejected));
        }
        if let Err(reason) = self.hub.check_params(&self.stream) {
            log::info!(
                "rtmp {peer}: publish of {shown} rejected ({})",
                reason.as_str()
            );
            self.session.reject_publish(
                "NetStream.Publish.Rejected",
                "publish rejected by the controller",
            );
            self.flush_session()?;
            return Ok(Some(reason));
        }
        match self.hub.start_publish(&self.stream, &path) {
            Ok(channel) => {
                log::info!(
                    "rtmp {peer}: stream {} publishes channel {}",
                    self.stream.id(),
                    log_safe(&channel.id, LOG_TEXT_MAX)
                );
                self.session.accept_publish();
                self.flush_session()?;
                self.publishing = true;
                Ok(None)
            }
            Err(e) => {
                log::info!("rtmp {peer}: publish of {shown} refused: {}", e.name());
                self.session
                    .reject_publish("NetStream.Publish.BadName", e.name());
                self.flush_session()?;
                Ok(Some(CloseReason::Rejected))
            }
        }
    }

    pub(super) fn on_play(
        &mut self,
        request: StreamRequest,
    ) -> Result<Option<CloseReason>, RtmpError> {
        self.note_request("play", &request);
        let path = session::channel_path(&request.app, &request.name);
        let shown = log_safe(&path, LOG_TEXT_MAX);
        let peer = self.stream.remote_addr.clone();
        let params = crate::text::query_pairs(&request.query);
        let cursor_text = crate::text::last_value(&params, "cursor").unwrap_or("latest");
        let Some(cursor) = Cursor::parse(cursor_text) else {
            self.session.reject_play(
                "NetStream.Play.Failed",
                "BadCursor: cursor must be latest, oldest, next or a duration",
            );
            self.flush_session()?;
            return Ok(Some(CloseReason::Rejected));
        };
        if let Err(reason) = self.hub.check_params(&self.stream) {
            log::info!(
                "rtmp {peer}: play of {shown} rejected ({})",
                reason.as_str()
            );
            self.session
                .reject_play("NetStream.Play.Failed", "play rejected by the controller");
            self.flush_session()?;
            return Ok(Some(reason));
        }
        if self.stream.channel().is_none() && self.hub.channel_for_play(&path).is_none() {
            log::info!("rtmp {peer}: play of unknown channel {shown}");
            self.session.reject_play(
                "NetStream.Play.StreamNotFound",
                &format!("no channel {path}"),
            );
            self.flush_session()?;
            return Ok(Some(CloseReason::Rejected));
        }
        // Status first, written directly; from here on everything goes through the sink.
        self.session.accept_play();
        self.flush_session()?;
        let stream_id = self.session.play_stream_id().unwrap_or(1);
        if stream_id != crate::rtmp::PLAY_STREAM_ID {
            log::warn!(
                "rtmp {peer}: plays on message stream {stream_id}; media is sent on stream 1"
            );
        }
        // Non-blocking from here on: the channel splices batches to it (see net::stage).
        if let Err(e) = self.wire.prepare_subscriber() {
            log::warn!("rtmp {peer}: cannot make the socket non-blocking: {e}");
            return Ok(Some(CloseReason::Error));
        }
        let sink = Sink::new(
            self.stream.record().clone(),
            Format::Rtmp,
            self.wire.clone(),
        );
        if let Err(e) = self
            .hub
            .start_play_with(&self.stream, &path, cursor, sink.clone())
        {
            log::info!("rtmp {peer}: play of {shown} failed: {}", e.name());
            return Ok(Some(match e {
                HubError::ChannelNotExists => CloseReason::ChannelClosed,
                _ => CloseReason::Error,
            }));
        }
        log::info!(
            "rtmp {peer}: stream {} plays channel {shown}",
            self.stream.id()
        );
        self.reconnect.set_player(&sink);
        self.sink = Some(sink);
        self.play_stream_id = stream_id;
        self.playing = true;
        // From here on the peer sends only small control messages.
        self.reader.release_input();
        Ok(None)
    }
}

/// A test-only fault hook, so the end-to-end tests can prove that a panicking connection thread
/// cleans up: in debug builds, with `JOY4_FAULT_HOOKS=1` in the server's environment, a publish
/// whose query has `joy4fault=panic` makes the connection's thread panic on its first media
/// packet. Release builds never panic here.
fn fault_hook_requested(query: &str) -> bool {
    cfg!(debug_assertions)
        && std::env::var_os("JOY4_FAULT_HOOKS").is_some_and(|v| v == "1")
        && crate::text::last_value(&crate::text::query_pairs(query), "joy4fault") == Some("panic")
}
