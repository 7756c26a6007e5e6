//! The server side of an RTMP connection's command flow, sans-IO.
//!
//! Feed it decoded chunk-layer messages; it answers protocol chatter itself (into `output`) and
//! returns events for the application: connect, a publish or play request, media, and the end of a
//! publish or play. Publish and play requests are answered later with `accept_*` / `reject_*`, which
//! is where `-rtmpcheckparams` fits: nothing is promised to the client until the application decides.

use std::fmt;

use super::chunk::RawMessage;
use super::message::{self, type_id, AckWindow, Message, MessageError, UserControl};
use crate::amf0::{self, Amf0Value};
use crate::flv;
use crate::media::{Packet, PacketKind};

/// Chunk size joy4 announces right after `connect` (the shared media serialisation assumes it).
pub const OUT_CHUNK_SIZE: u32 = crate::hub::frame::RTMP_OUT_CHUNK_SIZE;
/// Window acknowledgement size and peer bandwidth announced to clients.
pub const WINDOW_ACK_SIZE: u32 = 2_500_000;

const CSID_CONTROL: u32 = 2;
const CSID_COMMAND: u32 = 3;
const CSID_STATUS: u32 = 5;

/// A request the application must answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRequest {
    /// Message stream id the client used (from createStream).
    pub stream_id: u32,
    pub app: String,
    /// The stream name without its query string.
    pub name: String,
    /// The query string after the name (`abc?token=x` gives `token=x`), possibly empty.
    pub query: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// `connect` was answered; `command_object` is the client's connect object (tcUrl, app, …).
    Connected {
        command_object: Amf0Value,
    },
    PublishRequested(StreamRequest),
    PlayRequested(StreamRequest),
    Media(Packet),
    /// FCUnpublish, deleteStream or closeStream of the publishing stream.
    PublishEnded,
    /// deleteStream or closeStream of the playing stream.
    PlayEnded,
}

#[derive(Debug)]
pub enum SessionError {
    Message(MessageError),
    /// A command that the flow cannot continue from (e.g. publish before connect).
    Protocol(String),
    BadAggregate(flv::FlvError),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Message(e) => write!(f, "bad message: {e}"),
            SessionError::Protocol(what) => write!(f, "protocol violation: {what}"),
            SessionError::BadAggregate(e) => write!(f, "bad aggregate message: {e}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<MessageError> for SessionError {
    fn from(e: MessageError) -> SessionError {
        SessionError::Message(e)
    }
}

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

/// Split `name?query`.
fn split_query(name: &str) -> (String, String) {
    match name.split_once('?') {
        Some((n, q)) => (n.to_string(), q.to_string()),
        None => (name.to_string(), String::new()),
    }
}

impl ServerSession {
    pub fn new() -> ServerSession {
        ServerSession {
            output: Vec::new(),
            phase: Phase::AwaitingConnect,
            app: String::new(),
            object_encoding: 0.0,
            next_stream_id: 1,
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
            128
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
        let timestamp = raw.timestamp;
        let stream_id = raw.stream_id;
        let msg = Message::decode(raw.type_id, raw.payload)?;
        let mut events = Vec::new();
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
            Message::Audio(body) => self.media(PacketKind::Audio, timestamp, body, &mut events),
            Message::Video(body) => self.media(PacketKind::Video, timestamp, body, &mut events),
            Message::Data { values, payload } => {
                let body = match values.first().and_then(Amf0Value::as_str) {
                    // @setDataFrame("onMetaData", {...}) is stored as onMetaData({...}).
                    Some("@setDataFrame") => amf0::encode_all(&values[1..]),
                    _ => payload,
                };
                self.media(PacketKind::Data, timestamp, body, &mut events);
            }
            Message::Aggregate(payload) => {
                let tags = flv::split_aggregate(&payload, timestamp)
                    .map_err(SessionError::BadAggregate)?;
                for tag in tags {
                    if let Some(kind) = PacketKind::from_tag_type(tag.tag_type) {
                        self.media(kind, tag.timestamp, tag.body, &mut events);
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
                &mut events,
            )?,
            Message::Unknown { type_id, .. } => {
                log::debug!("ignoring RTMP message type {type_id}");
            }
        }
        Ok(events)
    }

    fn media(&mut self, kind: PacketKind, ts: u32, body: Vec<u8>, events: &mut Vec<SessionEvent>) {
        // Media outside a publish is ignored, as other servers do.
        if matches!(self.phase, Phase::Publishing(_)) && !body.is_empty() {
            events.push(SessionEvent::Media(Packet::new(kind, ts, body)));
        }
    }

    fn command(
        &mut self,
        name: &str,
        transaction_id: f64,
        command_object: Amf0Value,
        args: Vec<Amf0Value>,
        stream_id: u32,
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), SessionError> {
        if self.phase == Phase::AwaitingConnect && name != "connect" {
            return Err(SessionError::Protocol(format!("{name} before connect")));
        }
        match name {
            "connect" => {
                if self.phase != Phase::AwaitingConnect {
                    return Err(SessionError::Protocol("a second connect".into()));
                }
                self.app = command_object
                    .get("app")
                    .and_then(Amf0Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.object_encoding = command_object
                    .get("objectEncoding")
                    .and_then(Amf0Value::as_number)
                    .unwrap_or(0.0);
                self.send(CSID_CONTROL, 0, &Message::WindowAckSize(WINDOW_ACK_SIZE));
                self.send(
                    CSID_CONTROL,
                    0,
                    &Message::SetPeerBandwidth {
                        size: WINDOW_ACK_SIZE,
                        limit_type: 2,
                    },
                );
                self.send(CSID_CONTROL, 0, &Message::SetChunkSize(OUT_CHUNK_SIZE));
                self.phase = Phase::Connected;
                let properties = Amf0Value::object([
                    ("fmsVer", Amf0Value::string("FMS/3,0,1,123")),
                    ("capabilities", Amf0Value::Number(31.0)),
                ]);
                let mut info = status(
                    "status",
                    "NetConnection.Connect.Success",
                    "Connection succeeded.",
                );
                if let Amf0Value::Object(pairs) = &mut info {
                    pairs.push((
                        "objectEncoding".into(),
                        Amf0Value::Number(self.object_encoding),
                    ));
                }
                self.send_result(transaction_id, vec![properties, info]);
                events.push(SessionEvent::Connected { command_object });
            }
            "releaseStream" | "FCPublish" | "FCSubscribe" => {
                self.send_result(transaction_id, vec![Amf0Value::Undefined]);
            }
            "createStream" => {
                let id = self.next_stream_id;
                self.next_stream_id += 1;
                self.send_result(transaction_id, vec![Amf0Value::Number(f64::from(id))]);
            }
            "getStreamLength" => {
                self.send_result(transaction_id, vec![Amf0Value::Number(0.0)]);
            }
            "publish" => {
                if self.phase != Phase::Connected {
                    return Err(SessionError::Protocol("publish in the wrong state".into()));
                }
                let raw_name = args.first().and_then(Amf0Value::as_str).unwrap_or_default();
                let (name, query) = split_query(raw_name);
                self.phase = Phase::PublishPending(stream_id);
                events.push(SessionEvent::PublishRequested(StreamRequest {
                    stream_id,
                    app: self.app.clone(),
                    name,
                    query,
                }));
            }
            "play" => {
                if self.phase != Phase::Connected {
                    return Err(SessionError::Protocol("play in the wrong state".into()));
                }
                let raw_name = args.first().and_then(Amf0Value::as_str).unwrap_or_default();
                let (name, query) = split_query(raw_name);
                self.phase = Phase::PlayPending(stream_id);
                events.push(SessionEvent::PlayRequested(StreamRequest {
                    stream_id,
                    app: self.app.clone(),
                    name,
                    query,
                }));
            }
            "FCUnpublish" => {
                self.send_result(transaction_id, vec![Amf0Value::Undefined]);
                if matches!(self.phase, Phase::Publishing(_)) {
                    self.phase = Phase::Finished;
                    events.push(SessionEvent::PublishEnded);
                }
            }
            "deleteStream" | "closeStream" => match self.phase {
                Phase::Publishing(_) | Phase::PublishPending(_) => {
                    self.phase = Phase::Finished;
                    events.push(SessionEvent::PublishEnded);
                }
                Phase::Playing(_) | Phase::PlayPending(_) => {
                    self.phase = Phase::Finished;
                    events.push(SessionEvent::PlayEnded);
                }
                _ => {}
            },
            "pause" | "receiveAudio" | "receiveVideo" | "_checkbw" | "_result" | "onBWDone" => {
                // Harmless calls some clients make; live streams carry on regardless.
            }
            other => {
                log::debug!("unknown RTMP command {other:?}");
                let info = status(
                    "error",
                    "NetConnection.Call.Failed",
                    &format!("unknown command {other}"),
                );
                let msg = message::command("_error", transaction_id, Amf0Value::Null, vec![info]);
                self.send(CSID_COMMAND, 0, &msg);
            }
        }
        Ok(())
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

/// The channel a request names: `rtmp://host/1` (app `1`, name `1`) is channel `1`;
/// `rtmp://host/live/abc` is `live/abc`. A query string on the app is dropped.
pub fn channel_path(app: &str, name: &str) -> String {
    let app = app.split('?').next().unwrap_or_default().trim_matches('/');
    let name = name.trim_matches('/');
    if app.is_empty() || app == name {
        name.to_string()
    } else if name.is_empty() {
        app.to_string()
    } else {
        format!("{app}/{name}")
    }
}

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
mod tests {
    use super::*;
    use crate::rtmp::chunk::ChunkReader;

    fn raw(stream_id: u32, msg: &Message) -> RawMessage {
        let (type_id, payload) = msg.encode();
        RawMessage {
            csid: 3,
            timestamp: 0,
            type_id,
            stream_id,
            payload,
        }
    }

    fn cmd(name: &str, tx: f64, args: Vec<Amf0Value>) -> Message {
        message::command(name, tx, Amf0Value::Null, args)
    }

    /// Decode everything the session sent, assuming the chunk size switch it announces.
    fn sent(session: &mut ServerSession) -> Vec<Message> {
        let bytes = session.take_output();
        let mut reader = ChunkReader::new();
        reader.feed(&bytes);
        let mut out = Vec::new();
        while let Some(m) = reader.next_message().unwrap() {
            out.push(Message::decode(m.type_id, m.payload).unwrap());
        }
        out
    }

    fn status_codes(msgs: &[Message]) -> Vec<String> {
        msgs.iter()
            .filter_map(|m| match m {
                Message::Command { name, args, .. } if name == "onStatus" => args
                    .first()
                    .and_then(|a| a.get("code"))
                    .and_then(|c| c.as_str())
                    .map(str::to_string),
                _ => None,
            })
            .collect()
    }

    fn connected(app: &str) -> ServerSession {
        let mut s = ServerSession::new();
        let connect = message::command(
            "connect",
            1.0,
            Amf0Value::object([
                ("app", Amf0Value::string(app)),
                (
                    "tcUrl",
                    Amf0Value::string(format!("rtmp://localhost/{app}")),
                ),
            ]),
            vec![],
        );
        let events = s.handle(raw(0, &connect)).unwrap();
        assert!(matches!(events[0], SessionEvent::Connected { .. }));
        s
    }

    #[test]
    fn connect_is_answered_with_window_bandwidth_chunk_size_and_success() {
        let mut s = connected("live");
        let msgs = sent(&mut s);
        assert_eq!(msgs[0], Message::WindowAckSize(WINDOW_ACK_SIZE));
        assert!(matches!(msgs[1], Message::SetPeerBandwidth { .. }));
        assert_eq!(msgs[2], Message::SetChunkSize(OUT_CHUNK_SIZE));
        match &msgs[3] {
            Message::Command {
                name,
                transaction_id,
                args,
                ..
            } => {
                assert_eq!(name, "_result");
                assert_eq!(*transaction_id, 1.0);
                assert_eq!(
                    args[1].get("code").and_then(|c| c.as_str()),
                    Some("NetConnection.Connect.Success")
                );
            }
            other => panic!("expected _result, got {other:?}"),
        }
    }

    #[test]
    fn publish_flow_waits_for_the_application_before_publish_start() {
        let mut s = connected("live");
        sent(&mut s);
        s.handle(raw(
            0,
            &cmd("releaseStream", 2.0, vec![Amf0Value::string("abc")]),
        ))
        .unwrap();
        s.handle(raw(
            0,
            &cmd("FCPublish", 3.0, vec![Amf0Value::string("abc")]),
        ))
        .unwrap();
        s.handle(raw(0, &cmd("createStream", 4.0, vec![]))).unwrap();
        let msgs = sent(&mut s);
        assert!(matches!(&msgs[2], Message::Command { name, args, .. }
            if name == "_result" && args[0] == Amf0Value::Number(1.0)));
        let events = s
            .handle(raw(
                1,
                &cmd(
                    "publish",
                    5.0,
                    vec![Amf0Value::string("abc?token=x"), Amf0Value::string("live")],
                ),
            ))
            .unwrap();
        assert_eq!(
            events,
            vec![SessionEvent::PublishRequested(StreamRequest {
                stream_id: 1,
                app: "live".into(),
                name: "abc".into(),
                query: "token=x".into(),
            })]
        );
        assert!(
            sent(&mut s).is_empty(),
            "nothing promised before the decision"
        );
        // Media before acceptance is not forwarded.
        let early = s
            .handle(RawMessage {
                csid: 6,
                timestamp: 0,
                type_id: 9,
                stream_id: 1,
                payload: vec![0x17, 0],
            })
            .unwrap();
        assert!(early.is_empty());
        s.accept_publish();
        assert_eq!(status_codes(&sent(&mut s)), vec!["NetStream.Publish.Start"]);
        let media = s
            .handle(RawMessage {
                csid: 6,
                timestamp: 40,
                type_id: 9,
                stream_id: 1,
                payload: vec![0x27, 1],
            })
            .unwrap();
        assert!(matches!(&media[0], SessionEvent::Media(p) if p.timestamp == 40));
        let meta = message::data(vec![
            Amf0Value::string("@setDataFrame"),
            Amf0Value::string("onMetaData"),
            Amf0Value::object([("width", Amf0Value::Number(640.0))]),
        ]);
        let events = s.handle(raw(1, &meta)).unwrap();
        match &events[0] {
            SessionEvent::Media(p) => {
                assert_eq!(p.kind, PacketKind::Data);
                assert!(crate::hub::headers::is_metadata(&p.body));
            }
            other => panic!("{other:?}"),
        }
        let end = s.handle(raw(0, &cmd("FCUnpublish", 6.0, vec![]))).unwrap();
        assert_eq!(end, vec![SessionEvent::PublishEnded]);
    }

    #[test]
    fn rejected_publish_gets_the_given_status_code() {
        let mut s = connected("live");
        s.handle(raw(0, &cmd("createStream", 2.0, vec![]))).unwrap();
        s.handle(raw(1, &cmd("publish", 3.0, vec![Amf0Value::string("abc")])))
            .unwrap();
        sent(&mut s);
        s.reject_publish("NetStream.Publish.BadName", "ChannelAlreadyHasPublisher");
        assert_eq!(
            status_codes(&sent(&mut s)),
            vec!["NetStream.Publish.BadName"]
        );
    }

    #[test]
    fn play_flow_sends_reset_start_and_sample_access_once_accepted() {
        let mut s = connected("1");
        s.handle(raw(0, &cmd("createStream", 2.0, vec![]))).unwrap();
        s.handle(raw(
            0,
            &cmd("getStreamLength", 3.0, vec![Amf0Value::string("1")]),
        ))
        .unwrap();
        let events = s
            .handle(raw(
                1,
                &cmd(
                    "play",
                    4.0,
                    vec![Amf0Value::string("1"), Amf0Value::Number(-2000.0)],
                ),
            ))
            .unwrap();
        assert!(
            matches!(&events[0], SessionEvent::PlayRequested(r) if r.name == "1" && r.app == "1")
        );
        sent(&mut s);
        s.accept_play();
        let msgs = sent(&mut s);
        assert_eq!(
            status_codes(&msgs),
            vec!["NetStream.Play.Reset", "NetStream.Play.Start"]
        );
        assert!(msgs
            .iter()
            .any(|m| matches!(m, Message::Data { values, .. } if values[0] == Amf0Value::string("|RtmpSampleAccess"))));
        assert_eq!(s.play_stream_id(), Some(1));
        let end = s
            .handle(raw(
                0,
                &cmd("deleteStream", 5.0, vec![Amf0Value::Number(1.0)]),
            ))
            .unwrap();
        assert_eq!(end, vec![SessionEvent::PlayEnded]);
    }

    #[test]
    fn unknown_commands_get_an_error_and_the_session_goes_on() {
        let mut s = connected("live");
        sent(&mut s);
        s.handle(raw(0, &cmd("fancyCall", 7.0, vec![]))).unwrap();
        let msgs = sent(&mut s);
        assert!(
            matches!(&msgs[0], Message::Command { name, transaction_id, .. } if name == "_error" && *transaction_id == 7.0)
        );
        s.handle(raw(0, &cmd("createStream", 8.0, vec![]))).unwrap();
        assert_eq!(sent(&mut s).len(), 1);
    }

    #[test]
    fn commands_before_connect_are_a_protocol_error() {
        let mut s = ServerSession::new();
        assert!(s.handle(raw(0, &cmd("publish", 1.0, vec![]))).is_err());
    }

    #[test]
    fn pings_are_answered_and_acknowledgements_follow_the_peer_window() {
        let mut s = connected("live");
        sent(&mut s);
        s.handle(raw(0, &Message::UserControl(UserControl::PingRequest(77))))
            .unwrap();
        assert_eq!(
            sent(&mut s),
            vec![Message::UserControl(UserControl::PingResponse(77))]
        );
        s.handle(raw(0, &Message::WindowAckSize(1000))).unwrap();
        s.bytes_received(999);
        assert!(sent(&mut s).is_empty());
        s.bytes_received(2);
        assert_eq!(
            sent(&mut s),
            vec![Message::Acknowledgement {
                sequence_number: 1001
            }]
        );
    }

    #[test]
    fn channel_paths_follow_the_url_path() {
        assert_eq!(channel_path("1", "1"), "1");
        assert_eq!(channel_path("live", "abc"), "live/abc");
        assert_eq!(channel_path("live?x=1", "abc"), "live/abc");
        assert_eq!(channel_path("", "abc"), "abc");
    }
}
