//! The server side of an RTMP connection's command flow, sans-IO.
//!
//! Feed it decoded chunk-layer messages; it answers protocol chatter itself (into `output`) and
//! returns events for the application: connect, a publish or play request, media, and the end of a
//! publish or play. Publish and play requests are answered later with `accept_*` / `reject_*`, which
//! is where `-rtmpcheckparams` fits: nothing is promised to the client until the application decides.

use super::chunk::{RawMessage, DEFAULT_CHUNK_SIZE};
use super::message::{self, type_id, AckWindow, Message, UserControl};
use super::{CSID_COMMAND, CSID_CONTROL, CSID_STATUS, OUT_CHUNK_SIZE, PLAY_STREAM_ID};
use crate::amf0::Amf0Value;
use crate::flv;
use crate::media::{Packet, PacketKind};

mod commands;
mod error;
mod events;

pub use error::SessionError;
pub use events::{channel_path, SessionEvent, StreamRequest};

/// What the `Connected` event keeps of a `connect` command object: at most this many values
/// (the usual properties are a dozen) ...
pub const CONNECT_SUMMARY_VALUES: usize = 64;
/// ... with strings and keys cut to this many bytes.
pub const CONNECT_SUMMARY_STRING: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingConnect,
    Connected,
    PublishPending(u32),
    Publishing(u32),
    PlayPending(u32),
    Playing(u32),
    Finished,
}

/// The command flow of one server connection (see the module comment).
pub struct ServerSession {
    output: Vec<u8>,
    phase: Phase,
    app: String,
    object_encoding: f64,
    next_stream_id: u32,
    acks: AckWindow,
}

impl Default for ServerSession {
    fn default() -> ServerSession {
        ServerSession::new()
    }
}

/// An onStatus info object.
fn status(level: &str, code: &str, description: &str) -> Amf0Value {
    Amf0Value::object([
        ("level", Amf0Value::string(level)),
        ("code", Amf0Value::string(code)),
        ("description", Amf0Value::string(description)),
    ])
}

impl ServerSession {
    pub fn new() -> ServerSession {
        ServerSession {
            output: Vec::new(),
            phase: Phase::AwaitingConnect,
            app: String::new(),
            object_encoding: 0.0,
            next_stream_id: PLAY_STREAM_ID,
            acks: AckWindow::default(),
        }
    }

    /// Bytes to send to the peer, in order. The caller writes and clears it.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    pub fn is_connected(&self) -> bool {
        self.phase != Phase::AwaitingConnect
    }

    fn send(&mut self, csid: u32, stream_id: u32, msg: &Message) {
        let chunk_size = if self.phase == Phase::AwaitingConnect {
            DEFAULT_CHUNK_SIZE
        } else {
            OUT_CHUNK_SIZE
        };
        message::write(&mut self.output, csid, stream_id, 0, msg, chunk_size);
    }

    fn send_status(&mut self, stream_id: u32, info: Amf0Value) {
        let msg = message::command("onStatus", 0.0, Amf0Value::Null, vec![info]);
        self.send(CSID_STATUS, stream_id, &msg);
    }

    fn send_result(&mut self, transaction_id: f64, args: Vec<Amf0Value>) {
        let msg = message::command("_result", transaction_id, Amf0Value::Null, args);
        self.send(CSID_COMMAND, 0, &msg);
    }

    /// Count bytes read off the socket; sends an Acknowledgement whenever the peer's window passes.
    pub fn bytes_received(&mut self, n: usize) {
        if let Some(ack) = self.acks.received(n) {
            self.send(CSID_CONTROL, 0, &ack);
        }
    }

    /// Handle one message from the chunk layer.
    pub fn handle(&mut self, raw: RawMessage) -> Result<Vec<SessionEvent>, SessionError> {
        let mut events = Vec::new();
        self.handle_into(raw, &mut events)?;
        Ok(events)
    }

    /// `handle`, adding the events to `events` (a connection reuses one vector for every
    /// message).
    pub fn handle_into(
        &mut self,
        raw: RawMessage,
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), SessionError> {
        let timestamp = raw.timestamp;
        let stream_id = raw.stream_id;
        let msg = match Message::decode(raw.type_id, raw.payload) {
            Err(e) if e.is_oversized_data() => {
                log::warn!("dropping a data message: {e}");
                return Ok(());
            }
            other => other?,
        };
        match msg {
            Message::SetChunkSize(_) | Message::Abort { .. } | Message::Acknowledgement { .. } => {}
            Message::WindowAckSize(size) => self.acks.set_window(size),
            Message::SetPeerBandwidth { .. } => {}
            Message::UserControl(UserControl::PingRequest(t)) => {
                self.send(
                    CSID_CONTROL,
                    0,
                    &Message::UserControl(UserControl::PingResponse(t)),
                );
            }
            Message::UserControl(_) => {}
            Message::Audio(body) => self.media(PacketKind::Audio, timestamp, body, events),
            Message::Video(body) => self.media(PacketKind::Video, timestamp, body, events),
            Message::Data { values, payload } => match message::data_body(&values, payload) {
                Some(body) => self.media(PacketKind::Data, timestamp, body, events),
                None => log::warn!(
                    "dropping a data message whose AMF0 form exceeds {} bytes",
                    message::MAX_DATA_LEN
                ),
            },
            Message::Aggregate(payload) => {
                let tags = flv::split_aggregate(&payload, timestamp)
                    .map_err(SessionError::BadAggregate)?;
                for tag in tags {
                    if let Some(kind) = PacketKind::from_tag_type(tag.tag_type) {
                        self.media(kind, tag.timestamp, tag.body, events);
                    }
                }
            }
            Message::Command {
                name,
                transaction_id,
                command_object,
                args,
            } => self.command(
                &name,
                transaction_id,
                command_object,
                args,
                stream_id,
                events,
            )?,
            Message::Unknown { type_id, .. } => {
                log::debug!("ignoring RTMP message type {type_id}");
            }
        }
        Ok(())
    }

    fn media(&mut self, kind: PacketKind, ts: u32, body: Vec<u8>, events: &mut Vec<SessionEvent>) {
        // A script tag inside an aggregate message obeys the data messages' bound.
        if kind == PacketKind::Data && body.len() > message::MAX_DATA_LEN {
            log::warn!("dropping a data tag of {} bytes", body.len());
            return;
        }
        // Media outside a publish is ignored, as other servers do.
        if matches!(self.phase, Phase::Publishing(_)) && !body.is_empty() {
            events.push(SessionEvent::Media(Packet::new(kind, ts, body)));
        }
    }

    /// The publish request was accepted: NetStream.Publish.Start.
    pub fn accept_publish(&mut self) {
        if let Phase::PublishPending(sid) = self.phase {
            self.phase = Phase::Publishing(sid);
            self.send(
                CSID_CONTROL,
                0,
                &Message::UserControl(UserControl::StreamBegin(sid)),
            );
            self.send_status(
                sid,
                status("status", "NetStream.Publish.Start", "Start publishing."),
            );
        }
    }

    /// The publish request was refused with `code` (e.g. NetStream.Publish.BadName).
    pub fn reject_publish(&mut self, code: &str, description: &str) {
        if let Phase::PublishPending(sid) = self.phase {
            self.phase = Phase::Finished;
            self.send_status(sid, status("error", code, description));
        }
    }

    /// The server ends an accepted publish (it is shutting down): NetStream.Unpublish.Success.
    pub fn end_publish(&mut self, description: &str) {
        if let Phase::Publishing(sid) = self.phase {
            self.phase = Phase::Finished;
            self.send_status(
                sid,
                status("status", "NetStream.Unpublish.Success", description),
            );
        }
    }

    /// The play request was accepted: StreamBegin, Play.Reset, Play.Start, |RtmpSampleAccess.
    /// Media follows as frames shared by the channel (message stream 1, chunk size 4096).
    pub fn accept_play(&mut self) {
        if let Phase::PlayPending(sid) = self.phase {
            self.phase = Phase::Playing(sid);
            self.send(
                CSID_CONTROL,
                0,
                &Message::UserControl(UserControl::StreamIsRecorded(sid)),
            );
            self.send(
                CSID_CONTROL,
                0,
                &Message::UserControl(UserControl::StreamBegin(sid)),
            );
            self.send_status(
                sid,
                status("status", "NetStream.Play.Reset", "Playing and resetting."),
            );
            self.send_status(sid, status("status", "NetStream.Play.Start", "Start live."));
            let access = message::data(vec![
                Amf0Value::string("|RtmpSampleAccess"),
                Amf0Value::Boolean(true),
                Amf0Value::Boolean(true),
            ]);
            self.send(CSID_STATUS, sid, &access);
        }
    }

    /// The play request was refused with `code` (NetStream.Play.StreamNotFound, …Failed).
    pub fn reject_play(&mut self, code: &str, description: &str) {
        if let Phase::PlayPending(sid) = self.phase {
            self.phase = Phase::Finished;
            self.send_status(sid, status("error", code, description));
        }
    }

    /// The message stream id of an accepted play, if playing.
    pub fn play_stream_id(&self) -> Option<u32> {
        match self.phase {
            Phase::Playing(sid) => Some(sid),
            _ => None,
        }
    }
}

/// What a player receives when its channel's publisher is gone: UnpublishNotify, then StreamEOF.
pub fn play_end_bytes(stream_id: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let info = status(
        "status",
        "NetStream.Play.UnpublishNotify",
        "The stream was unpublished.",
    );
    let msg = message::command("onStatus", 0.0, Amf0Value::Null, vec![info]);
    message::write(&mut out, CSID_STATUS, stream_id, 0, &msg, OUT_CHUNK_SIZE);
    let eof = Message::UserControl(UserControl::StreamEof(stream_id));
    message::write(&mut out, CSID_CONTROL, 0, 0, &eof, OUT_CHUNK_SIZE);
    out
}

/// `onStatus NetConnection.Connect.ReconnectRequest` (Enhanced RTMP v2), on message stream 0:
/// the server asks the client to connect to `tc_url` (absent: the same server again), carry
/// on until then, and leave.
pub fn reconnect_request_bytes(tc_url: Option<&str>, description: Option<&str>) -> Vec<u8> {
    let mut info = status(
        "status",
        RECONNECT_REQUEST,
        description.unwrap_or("The server asks the client to reconnect."),
    );
    if let (Amf0Value::Object(pairs), Some(tc_url)) = (&mut info, tc_url) {
        pairs.push(("tcUrl".into(), Amf0Value::string(tc_url)));
    }
    let msg = message::command("onStatus", 0.0, Amf0Value::Null, vec![info]);
    let mut out = Vec::new();
    message::write(&mut out, CSID_STATUS, 0, 0, &msg, OUT_CHUNK_SIZE);
    out
}

/// The status code of a ReconnectRequest.
pub const RECONNECT_REQUEST: &str = "NetConnection.Connect.ReconnectRequest";
/// `capsEx` bit of a client that follows a ReconnectRequest (Enhanced RTMP v2).
pub const CAPS_EX_RECONNECT: u32 = 0x01;

/// Is this message type one the session treats as media (for byte accounting only)?
pub fn is_media_type(t: u8) -> bool {
    matches!(
        t,
        type_id::AUDIO
            | type_id::VIDEO
            | type_id::DATA_AMF0
            | type_id::DATA_AMF3
            | type_id::AGGREGATE
    )
}

#[cfg(test)]
mod tests;
