//! The client side of RTMP: a sans-IO [`ClientSession`] (the command flow of a player or of a
//! publisher) and a blocking [`RtmpClient`] that drives it over a `TcpStream`. The stream proxy
//! (pull and push), the tests and the benchmark tool use it; it shares the handshake, chunk and
//! message layers with the server.
//!
//! ```text
//! client                                             server
//!   C0 C1 / C2 (handshake::ClientHandshake)   <-->   S0 S1 S2
//!   connect(1, {app, tcUrl, flashVer, ...})   --->
//!                                             <---   Window Ack Size, Set Peer Bandwidth,
//!                                                    Set Chunk Size, _result(1, .., Connect.Success)
//! play:    createStream(2)                    --->
//!                                             <---   _result(2, null, stream id)
//!          play(0, name, -2000) on stream id,
//!          SetBufferLength                    --->
//!                                             <---   StreamBegin, onStatus Play.Reset, Play.Start,
//!                                                    onMetaData, sequence headers, media ...
//!                                             <---   onStatus Play.UnpublishNotify, StreamEOF (end)
//! publish: releaseStream(2, name), FCPublish(3, name), createStream(4)
//!                                             <---   _result(4, null, stream id)
//!          Set Chunk Size 4096,
//!          publish(0, name, "live")           --->
//!                                             <---   onStatus Publish.Start
//!          @setDataFrame onMetaData, audio, video ...
//! ```
//!
//! Whatever the phase, the session answers PingRequest with PingResponse and sends an
//! Acknowledgement each time the bytes received pass the window the server announced. A `_error`
//! answer or an onStatus of level "error" becomes [`ClientEvent::Failed`] with the status code.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::chunk::{self, ChunkError, ChunkReader, RawMessage};
use super::handshake::{ClientHandshake, HandshakeError, HandshakeOutcome};
use super::message::{self, type_id, AckWindow, Message, MessageError, UserControl};
use crate::amf0::{self, Amf0Value};
use crate::flv;
use crate::media::{Packet, PacketKind};

/// Default RTMP port.
pub const DEFAULT_PORT: u16 = 1935;
/// Chunk size the client announces before it publishes media.
pub const PUBLISH_CHUNK_SIZE: u32 = 4096;
/// Buffer length the client asks for when it plays (ms), as ffmpeg does.
const PLAY_BUFFER_MS: u32 = 3000;
/// The window acknowledgement size the client announces to the server.
const CLIENT_WINDOW: u32 = 2_500_000;

const CSID_CONTROL: u32 = 2;
const CSID_COMMAND: u32 = 3;
const CSID_AUDIO: u32 = 4;
const CSID_DATA: u32 = 5;
const CSID_VIDEO: u32 = 6;
/// Commands on the message stream (play, publish, deleteStream) go on their own chunk stream.
const CSID_STREAM_COMMAND: u32 = 8;

const CONNECT_TRANSACTION: f64 = 1.0;
/// AMF0 string "@setDataFrame", the prefix publishers put before onMetaData.
const SET_DATA_FRAME: &[u8] = b"\x02\x00\x0d@setDataFrame";

// ---------------------------------------------------------------------------------------------
// URL
// ---------------------------------------------------------------------------------------------

/// `rtmp://host[:port]/app/name?query`, split as ffmpeg splits it: the app is the first path
/// segment and the stream name is the rest (query included); a path of one segment
/// (`rtmp://host/1`) names both the app and the stream (`1`, `1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// Host name or address, without the brackets of an IPv6 literal.
    pub host: String,
    pub port: u16,
    pub app: String,
    /// The name sent in play/publish, query string included (`abc?token=x`).
    pub name: String,
    /// `rtmp://host[:port]/app`, sent in connect.
    pub tc_url: String,
}

/// Why a URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad URL {:?}: {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

/// A URL's host and port: `host`, `host:port`, `[v6]`, `[v6]:port`. Used for rtmp:// and
/// http:// URLs alike.
pub fn parse_authority(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in the host".to_string())?;
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(format!("bad IPv6 host [{host}]"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {p:?} after the host"))?,
            ),
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'))
    {
        return Err(format!("bad host {host:?}"));
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("bad port {p:?} (1 to 65535)")),
        },
    };
    Ok((host.to_string(), port))
}

impl RtmpUrl {
    pub fn parse(url: &str) -> Result<RtmpUrl, UrlError> {
        let bad = |reason: String| UrlError {
            url: url.to_string(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected rtmp://host[:port]/app/name".into()))?;
        if !scheme.eq_ignore_ascii_case("rtmp") {
            return Err(bad(format!(
                "scheme {scheme:?} is not supported (only rtmp://)"
            )));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = parse_authority(authority, DEFAULT_PORT).map_err(bad)?;
        let path = path.trim_start_matches('/');
        let (app, name) = match path.split_once('/') {
            Some((app, name)) => (app.to_string(), name.to_string()),
            // ffmpeg: a single segment is the app (without its query) and the stream name.
            None => (
                path.split('?').next().unwrap_or_default().to_string(),
                path.to_string(),
            ),
        };
        if app.is_empty() {
            return Err(bad("the app (first path segment) is missing".into()));
        }
        if name.split('?').next().unwrap_or_default().is_empty() {
            return Err(bad("the stream name is missing".into()));
        }
        let host_part = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let tc_url = if port == DEFAULT_PORT {
            format!("rtmp://{host_part}/{app}")
        } else {
            format!("rtmp://{host_part}:{port}/{app}")
        };
        Ok(RtmpUrl {
            host,
            port,
            app,
            name,
            tc_url,
        })
    }

    /// The stream name without its query string.
    pub fn stream_name(&self) -> &str {
        self.name.split('?').next().unwrap_or_default()
    }

    /// The query string after the stream name, possibly empty.
    pub fn query(&self) -> &str {
        self.name.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
}

impl fmt::Display for RtmpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tc_url, self.name)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub enum ClientError {
    Url(UrlError),
    Io(io::Error),
    Handshake(HandshakeError),
    Chunk(ChunkError),
    Message(MessageError),
    BadAggregate(flv::FlvError),
    /// The server answered with an error status (`_error`, or onStatus level "error").
    Rejected {
        code: String,
        description: String,
    },
    /// The server ended the stream before it started (e.g. UnpublishNotify during setup).
    Ended {
        code: String,
    },
    /// A setup step (handshake, connect, play, publish) did not finish in time.
    Timeout(&'static str),
    /// A call that the session's phase does not allow (e.g. `play` before `connect`).
    State(&'static str),
}

impl ClientError {
    /// A read or write timed out (the session is intact: a read may simply be retried).
    pub fn is_timeout(&self) -> bool {
        match self {
            ClientError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            ClientError::Timeout(_) => true,
            _ => false,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Url(e) => write!(f, "{e}"),
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::Handshake(e) => write!(f, "bad handshake: {e}"),
            ClientError::Chunk(e) => write!(f, "bad chunk stream: {e}"),
            ClientError::Message(e) => write!(f, "bad message: {e}"),
            ClientError::BadAggregate(e) => write!(f, "bad aggregate message: {e}"),
            ClientError::Rejected { code, description } => {
                write!(f, "the server refused: {code} ({description})")
            }
            ClientError::Ended { code } => write!(f, "the server ended the stream: {code}"),
            ClientError::Timeout(step) => write!(f, "{step} timed out"),
            ClientError::State(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> ClientError {
        ClientError::Io(e)
    }
}

impl From<UrlError> for ClientError {
    fn from(e: UrlError) -> ClientError {
        ClientError::Url(e)
    }
}

impl From<MessageError> for ClientError {
    fn from(e: MessageError) -> ClientError {
        ClientError::Message(e)
    }
}

impl From<ChunkError> for ClientError {
    fn from(e: ChunkError) -> ClientError {
        ClientError::Chunk(e)
    }
}

// ---------------------------------------------------------------------------------------------
// Sans-IO session
// ---------------------------------------------------------------------------------------------

/// What the session reports to its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// `connect` succeeded (NetConnection.Connect.Success).
    Connected,
    /// NetStream.Play.Start: media follows.
    PlayStarted { stream_id: u32 },
    /// NetStream.Publish.Start: media may be sent.
    PublishStarted { stream_id: u32 },
    /// An audio, video or data message of the played stream (`@setDataFrame` stripped).
    Media(Packet),
    /// The server ended the played stream (UnpublishNotify, Play.Stop, StreamEOF).
    StreamEnded { code: String },
    /// An error answer: `_error`, or an onStatus of level "error" (Play.StreamNotFound, …).
    Failed { code: String, description: String },
    /// Any other onStatus (Play.Reset, Play.PublishNotify, …), for logging.
    Status { code: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Intent {
    Play,
    Publish,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// `connect` not sent yet.
    Idle,
    Connecting,
    Connected,
    /// createStream sent with this transaction id.
    CreatingStream {
        transaction: f64,
        intent: Intent,
    },
    /// play/publish sent on this message stream, waiting for its Start status.
    Starting {
        stream_id: u32,
        intent: Intent,
    },
    Playing(u32),
    Publishing(u32),
    /// The stream ended or failed; nothing more is reported.
    Ended,
}

/// The command flow of one client connection, sans-IO: feed it the messages the chunk reader
/// reassembles, send what it puts in [`output`](Self::output), and take its events with
/// [`poll_event`](Self::poll_event). Allocations are reused: events sit in a queue that keeps
/// its capacity, and media are chunked straight into the output buffer.
#[derive(Debug)]
pub struct ClientSession {
    app: String,
    tc_url: String,
    name: String,
    output: Vec<u8>,
    out_chunk_size: u32,
    phase: Phase,
    next_transaction: f64,
    events: VecDeque<ClientEvent>,
    acks: AckWindow,
}

/// An onStatus / _error info object's code, level and description.
fn info_of(args: &[Amf0Value]) -> Option<(&str, &str, &str)> {
    let info = args.iter().find(|a| a.get("code").is_some())?;
    let text = |key| info.get(key).and_then(Amf0Value::as_str).unwrap_or("");
    Some((text("code"), text("level"), text("description")))
}

impl ClientSession {
    /// A session for `tc_url` (`rtmp://host[:port]/app`), app `app`, stream `name` (with its
    /// query string, as sent in play/publish).
    pub fn new(app: &str, tc_url: &str, name: &str) -> ClientSession {
        ClientSession {
            app: app.to_string(),
            tc_url: tc_url.to_string(),
            name: name.to_string(),
            output: Vec::new(),
            out_chunk_size: chunk::DEFAULT_CHUNK_SIZE,
            phase: Phase::Idle,
            next_transaction: CONNECT_TRANSACTION + 1.0,
            events: VecDeque::new(),
            acks: AckWindow::default(),
        }
    }

    pub fn for_url(url: &RtmpUrl) -> ClientSession {
        ClientSession::new(&url.app, &url.tc_url, &url.name)
    }

    /// Bytes to send, in order. The driver writes them and clears the buffer (keeping its
    /// capacity).
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The message stream id from createStream (0 before).
    pub fn stream_id(&self) -> u32 {
        match self.phase {
            Phase::Starting { stream_id, .. } => stream_id,
            Phase::Playing(id) | Phase::Publishing(id) => id,
            _ => 0,
        }
    }

    /// The chunk size of what the client sends.
    pub fn out_chunk_size(&self) -> u32 {
        self.out_chunk_size
    }

    pub fn is_publishing(&self) -> bool {
        matches!(self.phase, Phase::Publishing(_))
    }

    pub fn is_playing(&self) -> bool {
        matches!(self.phase, Phase::Playing(_))
    }

    fn send(&mut self, csid: u32, stream_id: u32, msg: &Message) {
        message::write(
            &mut self.output,
            csid,
            stream_id,
            0,
            msg,
            self.out_chunk_size,
        );
    }

    fn transaction(&mut self) -> f64 {
        let t = self.next_transaction;
        self.next_transaction += 1.0;
        t
    }

    fn call(&mut self, name: &str, args: Vec<Amf0Value>) -> f64 {
        let t = self.transaction();
        let msg = message::command(name, t, Amf0Value::Null, args);
        self.send(CSID_COMMAND, 0, &msg);
        t
    }

    /// Queue `connect`. The properties are those ffmpeg and OBS send, so picky servers accept it.
    pub fn connect(&mut self) {
        if self.phase != Phase::Idle {
            return;
        }
        let object = Amf0Value::object([
            ("app", Amf0Value::string(self.app.clone())),
            ("type", Amf0Value::string("nonprivate")),
            ("flashVer", Amf0Value::string("FMLE/3.0 (compatible; joy4)")),
            ("tcUrl", Amf0Value::string(self.tc_url.clone())),
            ("fpad", Amf0Value::Boolean(false)),
            ("capabilities", Amf0Value::Number(15.0)),
            ("audioCodecs", Amf0Value::Number(4071.0)),
            ("videoCodecs", Amf0Value::Number(252.0)),
            ("videoFunction", Amf0Value::Number(1.0)),
            ("objectEncoding", Amf0Value::Number(0.0)),
        ]);
        let msg = message::command("connect", CONNECT_TRANSACTION, object, vec![]);
        self.send(CSID_COMMAND, 0, &msg);
        self.send(CSID_CONTROL, 0, &Message::WindowAckSize(CLIENT_WINDOW));
        self.phase = Phase::Connecting;
    }

    /// Queue createStream and then play of the session's stream name (after `Connected`).
    pub fn play(&mut self) -> Result<(), ClientError> {
        if self.phase != Phase::Connected {
            return Err(ClientError::State("play before connect succeeded"));
        }
        let transaction = self.call("createStream", vec![]);
        self.phase = Phase::CreatingStream {
            transaction,
            intent: Intent::Play,
        };
        Ok(())
    }

    /// Queue releaseStream, FCPublish, createStream and then publish (after `Connected`).
    pub fn publish(&mut self) -> Result<(), ClientError> {
        if self.phase != Phase::Connected {
            return Err(ClientError::State("publish before connect succeeded"));
        }
        let name = Amf0Value::string(self.name.clone());
        self.call("releaseStream", vec![name.clone()]);
        self.call("FCPublish", vec![name]);
        let transaction = self.call("createStream", vec![]);
        self.phase = Phase::CreatingStream {
            transaction,
            intent: Intent::Publish,
        };
        Ok(())
    }

    /// Queue the polite goodbye: FCUnpublish (publisher) and deleteStream.
    pub fn close(&mut self) {
        let stream_id = self.stream_id();
        if self.is_publishing() {
            self.call("FCUnpublish", vec![Amf0Value::string(self.name.clone())]);
        }
        if stream_id != 0 {
            self.call(
                "deleteStream",
                vec![Amf0Value::Number(f64::from(stream_id))],
            );
        }
        self.phase = Phase::Ended;
    }

    /// Count bytes read off the socket; sends an Acknowledgement whenever the server's window
    /// passes.
    pub fn bytes_received(&mut self, n: usize) {
        if let Some(ack) = self.acks.received(n) {
            self.send(CSID_CONTROL, 0, &ack);
        }
    }

    /// Handle one message from the chunk reader (which applies Set Chunk Size itself).
    pub fn handle(&mut self, raw: RawMessage) -> Result<(), ClientError> {
        let timestamp = raw.timestamp;
        // Media skip the message layer: the payload moves into the packet as it is.
        let kind = match raw.type_id {
            type_id::AUDIO => Some(PacketKind::Audio),
            type_id::VIDEO => Some(PacketKind::Video),
            _ => None,
        };
        if let Some(kind) = kind {
            self.media(kind, timestamp, raw.payload);
            return Ok(());
        }
        match Message::decode(raw.type_id, raw.payload)? {
            Message::WindowAckSize(size) => self.acks.set_window(size),
            Message::UserControl(UserControl::PingRequest(t)) => self.send(
                CSID_CONTROL,
                0,
                &Message::UserControl(UserControl::PingResponse(t)),
            ),
            Message::UserControl(UserControl::StreamEof(id))
                if self.phase == Phase::Playing(id) =>
            {
                self.end("NetStream.Play.Stop (StreamEOF)");
            }
            Message::Data { values, payload } => {
                let body = match values.first().and_then(Amf0Value::as_str) {
                    Some("@setDataFrame") => amf0::encode_all(&values[1..]),
                    // Flash-player permissions, not stream data.
                    Some("|RtmpSampleAccess") => return Ok(()),
                    _ => payload,
                };
                self.media(PacketKind::Data, timestamp, body);
            }
            Message::Aggregate(payload) if self.is_playing() => {
                let tags =
                    flv::split_aggregate(&payload, timestamp).map_err(ClientError::BadAggregate)?;
                for tag in tags {
                    if let Some(kind) = PacketKind::from_tag_type(tag.tag_type) {
                        self.media(kind, tag.timestamp, tag.body);
                    }
                }
            }
            Message::Command {
                name,
                transaction_id,
                command_object,
                args,
            } => self.command(&name, transaction_id, command_object, args),
            _ => {}
        }
        Ok(())
    }

    fn media(&mut self, kind: PacketKind, timestamp: u32, body: Vec<u8>) {
        if self.is_playing() && !body.is_empty() {
            self.events
                .push_back(ClientEvent::Media(Packet::new(kind, timestamp, body)));
        }
    }

    fn end(&mut self, code: &str) {
        self.phase = Phase::Ended;
        self.events.push_back(ClientEvent::StreamEnded {
            code: code.to_string(),
        });
    }

    fn fail(&mut self, code: &str, description: &str) {
        self.phase = Phase::Ended;
        self.events.push_back(ClientEvent::Failed {
            code: code.to_string(),
            description: description.to_string(),
        });
    }

    fn command(&mut self, name: &str, transaction: f64, object: Amf0Value, args: Vec<Amf0Value>) {
        match name {
            "_result" | "_error" => self.answer(name == "_result", transaction, object, &args),
            "onStatus" => {
                let (code, level, description) = info_of(&args).unwrap_or_default();
                self.status(code, level, description);
            }
            "close" => self.end("NetConnection.Close"),
            // onBWDone, onFCPublish, onFCSubscribe, _checkbw and the like need no answer.
            _ => {}
        }
    }

    fn answer(&mut self, ok: bool, transaction: f64, object: Amf0Value, args: &[Amf0Value]) {
        match self.phase.clone() {
            Phase::Connecting if transaction == CONNECT_TRANSACTION => {
                if ok {
                    self.phase = Phase::Connected;
                    self.events.push_back(ClientEvent::Connected);
                } else {
                    let (code, _, description) = info_of(args).unwrap_or_default();
                    let code = if code.is_empty() {
                        "NetConnection.Connect.Rejected"
                    } else {
                        code
                    };
                    self.fail(code, description);
                }
            }
            Phase::CreatingStream {
                transaction: t,
                intent,
            } if t == transaction => {
                let id = args
                    .iter()
                    .chain([&object])
                    .find_map(Amf0Value::as_number)
                    .filter(|n| ok && *n >= 0.0 && *n <= f64::from(u32::MAX));
                let Some(id) = id else {
                    let (code, _, description) = info_of(args).unwrap_or_default();
                    let code = if code.is_empty() {
                        "NetStream.CreateStream.Failed"
                    } else {
                        code
                    };
                    return self.fail(code, description);
                };
                let stream_id = id as u32;
                let name = Amf0Value::string(self.name.clone());
                match intent {
                    Intent::Play => {
                        let t = self.transaction();
                        let play = message::command(
                            "play",
                            t,
                            Amf0Value::Null,
                            vec![name, Amf0Value::Number(-2000.0)],
                        );
                        self.send(CSID_STREAM_COMMAND, stream_id, &play);
                        let buffer = UserControl::SetBufferLength {
                            stream_id,
                            buffer_ms: PLAY_BUFFER_MS,
                        };
                        self.send(CSID_CONTROL, 0, &Message::UserControl(buffer));
                    }
                    Intent::Publish => {
                        self.send(CSID_CONTROL, 0, &Message::SetChunkSize(PUBLISH_CHUNK_SIZE));
                        self.out_chunk_size = PUBLISH_CHUNK_SIZE;
                        let t = self.transaction();
                        let publish = message::command(
                            "publish",
                            t,
                            Amf0Value::Null,
                            vec![name, Amf0Value::string("live")],
                        );
                        self.send(CSID_STREAM_COMMAND, stream_id, &publish);
                    }
                }
                self.phase = Phase::Starting { stream_id, intent };
            }
            // Answers to releaseStream / FCPublish (some servers answer _error) and the like.
            _ => {}
        }
    }

    fn status(&mut self, code: &str, level: &str, description: &str) {
        if self.phase == Phase::Ended {
            return;
        }
        if level.eq_ignore_ascii_case("error") {
            return self.fail(code, description);
        }
        match (&self.phase, code) {
            (
                Phase::Starting {
                    stream_id,
                    intent: Intent::Play,
                },
                "NetStream.Play.Start",
            ) => {
                let stream_id = *stream_id;
                self.phase = Phase::Playing(stream_id);
                self.events
                    .push_back(ClientEvent::PlayStarted { stream_id });
            }
            (
                Phase::Starting {
                    stream_id,
                    intent: Intent::Publish,
                },
                "NetStream.Publish.Start",
            ) => {
                let stream_id = *stream_id;
                self.phase = Phase::Publishing(stream_id);
                self.events
                    .push_back(ClientEvent::PublishStarted { stream_id });
            }
            (
                Phase::Playing(_) | Phase::Starting { .. },
                "NetStream.Play.UnpublishNotify"
                | "NetStream.Play.Stop"
                | "NetStream.Play.Complete",
            ) => self.end(code),
            (_, "NetStream.Publish.Rejected" | "NetStream.Publish.BadName") => {
                self.fail(code, description)
            }
            _ => self.events.push_back(ClientEvent::Status {
                code: code.to_string(),
            }),
        }
    }

    /// Chunk one media packet onto the output (while publishing). Metadata (`onMetaData`) gets
    /// the `@setDataFrame` prefix publishers send.
    pub fn write_media(&mut self, packet: &Packet) {
        let stream_id = self.stream_id();
        let (csid, body): (u32, &[u8]) = match packet.kind {
            PacketKind::Audio => (CSID_AUDIO, &packet.body),
            PacketKind::Video => (CSID_VIDEO, &packet.body),
            PacketKind::Data => (CSID_DATA, &packet.body),
        };
        if packet.kind == PacketKind::Data && body.starts_with(b"\x02\x00\x0aonMetaData") {
            let mut with_prefix = Vec::with_capacity(SET_DATA_FRAME.len() + body.len());
            with_prefix.extend_from_slice(SET_DATA_FRAME);
            with_prefix.extend_from_slice(body);
            chunk::write_message(
                csid,
                packet.timestamp,
                type_id::DATA_AMF0,
                stream_id,
                &with_prefix,
                self.out_chunk_size,
                &mut self.output,
            );
            return;
        }
        chunk::write_message(
            csid,
            packet.timestamp,
            packet.kind.tag_type(),
            stream_id,
            body,
            self.out_chunk_size,
            &mut self.output,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking client
// ---------------------------------------------------------------------------------------------

/// Timeouts of an [`RtmpClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Bound of each setup step: TCP connect, handshake + connect, play/publish start.
    pub setup_timeout: Duration,
    /// Read timeout once playing (`None` blocks). A timed-out `read_packet` can be retried.
    pub read_timeout: Option<Duration>,
    pub write_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            setup_timeout: Duration::from_secs(10),
            read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// How often a publisher looks at what the server sent (pings, errors) between media writes.
const PUBLISH_POLL_INTERVAL: Duration = Duration::from_millis(500);
const READ_BUFFER: usize = 64 * 1024;

/// A blocking RTMP client over one TCP connection: `connect`, then `play` and `read_packet`, or
/// `publish` and `write_packet`.
pub struct RtmpClient {
    socket: TcpStream,
    url: RtmpUrl,
    options: ClientOptions,
    session: ClientSession,
    reader: ChunkReader,
    buf: Box<[u8]>,
    /// The read timeout currently set on the socket (set only when it changes).
    read_timeout: Option<Option<Duration>>,
    bytes_read: u64,
    bytes_written: u64,
    ended: bool,
    last_poll: Instant,
}

impl fmt::Debug for RtmpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtmpClient")
            .field("url", &self.url.to_string())
            .field("stream_id", &self.session.stream_id())
            .finish()
    }
}

/// Connect to the first address of `host:port` that answers within `timeout`.
fn connect_tcp(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl RtmpClient {
    /// Connect to `url`: TCP, handshake and `connect`, each within `timeout`.
    pub fn connect(url: &RtmpUrl, timeout: Duration) -> Result<RtmpClient, ClientError> {
        let options = ClientOptions {
            setup_timeout: timeout,
            ..ClientOptions::default()
        };
        RtmpClient::connect_with(url, options)
    }

    pub fn connect_with(url: &RtmpUrl, options: ClientOptions) -> Result<RtmpClient, ClientError> {
        let socket = connect_tcp(&url.host, url.port, options.setup_timeout)?;
        socket.set_nodelay(true)?;
        socket.set_write_timeout(Some(options.write_timeout))?;
        let mut client = RtmpClient {
            socket,
            url: url.clone(),
            options,
            session: ClientSession::for_url(url),
            reader: ChunkReader::new(),
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            read_timeout: None,
            bytes_read: 0,
            bytes_written: 0,
            ended: false,
            last_poll: Instant::now(),
        };
        let deadline = Instant::now() + options.setup_timeout;
        client.handshake(deadline)?;
        client.session.connect();
        client.flush()?;
        client.wait_for(deadline, "connect", |e| matches!(e, ClientEvent::Connected))?;
        Ok(client)
    }

    fn handshake(&mut self, deadline: Instant) -> Result<(), ClientError> {
        let (mut handshake, c0c1) = ClientHandshake::new();
        self.write_bytes(&c0c1)?;
        loop {
            let n = self.read_some(Some(deadline), "handshake")?;
            match handshake
                .process(&self.buf[..n])
                .map_err(ClientError::Handshake)?
            {
                HandshakeOutcome::InProgress { response } => self.write_bytes(&response)?,
                HandshakeOutcome::Completed {
                    response,
                    remaining,
                } => {
                    self.write_bytes(&response)?;
                    self.session.bytes_received(remaining.len());
                    self.reader.feed(&remaining);
                    return Ok(());
                }
            }
        }
    }

    pub fn url(&self) -> &RtmpUrl {
        &self.url
    }

    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// The message stream id the server gave (the one shared pre-chunked media must carry).
    pub fn stream_id(&self) -> u32 {
        self.session.stream_id()
    }

    /// The chunk size of what the client sends (4096 once publishing).
    pub fn out_chunk_size(&self) -> u32 {
        self.session.out_chunk_size()
    }

    /// Bytes read from / written to the socket so far (handshake included).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// A handle on the socket, e.g. for a closer that shuts it down from another thread.
    pub fn try_clone_socket(&self) -> io::Result<TcpStream> {
        self.socket.try_clone()
    }

    /// Shut the socket down: a thread blocked in `read_packet` wakes with an error.
    pub fn shutdown(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }

    /// Play the URL's stream; returns once the server said NetStream.Play.Start.
    pub fn play(&mut self) -> Result<(), ClientError> {
        self.session.play()?;
        self.flush()?;
        let deadline = Instant::now() + self.options.setup_timeout;
        self.wait_for(deadline, "play", |e| {
            matches!(e, ClientEvent::PlayStarted { .. })
        })
    }

    /// Publish to the URL's stream; returns once the server said NetStream.Publish.Start.
    pub fn publish(&mut self) -> Result<(), ClientError> {
        self.session.publish()?;
        self.flush()?;
        let deadline = Instant::now() + self.options.setup_timeout;
        self.wait_for(deadline, "publish", |e| {
            matches!(e, ClientEvent::PublishStarted { .. })
        })?;
        self.last_poll = Instant::now();
        Ok(())
    }

    fn wait_for(
        &mut self,
        deadline: Instant,
        step: &'static str,
        done: impl Fn(&ClientEvent) -> bool,
    ) -> Result<(), ClientError> {
        loop {
            while let Some(event) = self.session.poll_event() {
                match event {
                    ClientEvent::Failed { code, description } => {
                        return Err(ClientError::Rejected { code, description })
                    }
                    ClientEvent::StreamEnded { code } => return Err(ClientError::Ended { code }),
                    e if done(&e) => return Ok(()),
                    _ => {}
                }
            }
            self.read_and_handle(Some(deadline), step)?;
        }
    }

    /// The next media packet of the played stream; `Ok(None)` once the server ended it
    /// (UnpublishNotify, Play.Stop, StreamEOF). A timeout (`is_timeout()`) leaves the session
    /// intact, so the call can be repeated.
    pub fn read_packet(&mut self) -> Result<Option<Packet>, ClientError> {
        loop {
            while let Some(event) = self.session.poll_event() {
                match event {
                    ClientEvent::Media(packet) => return Ok(Some(packet)),
                    ClientEvent::StreamEnded { .. } => self.ended = true,
                    ClientEvent::Failed { code, description } => {
                        self.ended = true;
                        return Err(ClientError::Rejected { code, description });
                    }
                    _ => {}
                }
            }
            if self.ended {
                return Ok(None);
            }
            self.read_and_handle(None, "read")?;
        }
    }

    /// Send one media packet (after `publish`).
    pub fn write_packet(&mut self, packet: &Packet) -> Result<(), ClientError> {
        if !self.session.is_publishing() {
            return Err(ClientError::State("write_packet before publish started"));
        }
        self.session.write_media(packet);
        self.flush()?;
        self.poll_now_and_then()
    }

    /// Send bytes that are already chunked for this connection: messages on [`stream_id`]
    /// (Self::stream_id) at [`out_chunk_size`](Self::out_chunk_size), each starting with a fmt 0
    /// header (a channel's shared serialisation, when those match).
    pub fn write_prechunked(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        if !self.session.is_publishing() {
            return Err(ClientError::State(
                "write_prechunked before publish started",
            ));
        }
        self.write_bytes(bytes)?;
        self.poll_now_and_then()
    }

    fn poll_now_and_then(&mut self) -> Result<(), ClientError> {
        if self.last_poll.elapsed() >= PUBLISH_POLL_INTERVAL {
            self.last_poll = Instant::now();
            self.poll_incoming()?;
        }
        Ok(())
    }

    /// Handle whatever the server has sent without blocking (a publisher's pings and errors).
    pub fn poll_incoming(&mut self) -> Result<(), ClientError> {
        self.socket.set_nonblocking(true)?;
        let result = (|| loop {
            match self.socket.read(&mut self.buf) {
                Ok(0) => return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => self.accept(n)?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::Io(e)),
            }
        })();
        self.socket.set_nonblocking(false)?;
        result?;
        self.flush()?;
        while let Some(event) = self.session.poll_event() {
            match event {
                ClientEvent::Failed { code, description } => {
                    return Err(ClientError::Rejected { code, description })
                }
                ClientEvent::StreamEnded { code } => return Err(ClientError::Ended { code }),
                _ => {}
            }
        }
        Ok(())
    }

    /// Say goodbye (FCUnpublish / deleteStream) and shut the socket down; errors are ignored.
    pub fn close(mut self) {
        self.session.close();
        let _ = self.flush();
        self.shutdown();
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !bytes.is_empty() {
            self.socket.write_all(bytes)?;
            self.bytes_written += bytes.len() as u64;
        }
        Ok(())
    }

    /// Send what the session queued.
    fn flush(&mut self) -> io::Result<()> {
        let out = self.session.output();
        if out.is_empty() {
            return Ok(());
        }
        let result = self.socket.write_all(out);
        self.bytes_written += out.len() as u64;
        out.clear();
        result
    }

    /// One read with the deadline (setup) or the configured read timeout (playing).
    fn read_some(
        &mut self,
        deadline: Option<Instant>,
        step: &'static str,
    ) -> Result<usize, ClientError> {
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ClientError::Timeout(step));
                }
                Some(left)
            }
            None => self.options.read_timeout,
        };
        if self.read_timeout != Some(timeout) || deadline.is_some() {
            self.socket.set_read_timeout(timeout)?;
            self.read_timeout = Some(timeout);
        }
        loop {
            match self.socket.read(&mut self.buf) {
                Ok(0) => return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => {
                    self.bytes_read += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if deadline.is_some()
                        && matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                {
                    return Err(ClientError::Timeout(step))
                }
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
    }

    /// Feed `n` bytes of `buf` to the chunk reader and the session.
    fn accept(&mut self, n: usize) -> Result<(), ClientError> {
        self.session.bytes_received(n);
        self.reader.feed(&self.buf[..n]);
        while let Some(raw) = self.reader.next_message()? {
            self.session.handle(raw)?;
        }
        Ok(())
    }

    fn read_and_handle(
        &mut self,
        deadline: Option<Instant>,
        step: &'static str,
    ) -> Result<(), ClientError> {
        let n = self.read_some(deadline, step)?;
        self.accept(n)?;
        self.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::handshake::ServerHandshake;
    use crate::rtmp::session::{self, ServerSession, SessionEvent, StreamRequest};
    use std::net::TcpListener;
    use std::thread;

    // ---- URLs ----

    #[test]
    fn urls_split_like_ffmpeg() {
        let u = RtmpUrl::parse("rtmp://example.com/live/abc?token=x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.app.as_str(), u.name.as_str()),
            ("example.com", 1935, "live", "abc?token=x")
        );
        assert_eq!(u.tc_url, "rtmp://example.com/live");
        assert_eq!((u.stream_name(), u.query()), ("abc", "token=x"));

        let u = RtmpUrl::parse("rtmp://127.0.0.1:19350/1").unwrap();
        assert_eq!((u.app.as_str(), u.name.as_str()), ("1", "1"));
        assert_eq!(u.tc_url, "rtmp://127.0.0.1:19350/1");
        assert_eq!(
            session::channel_path(&u.app, u.stream_name()),
            "1",
            "joy4 maps app == name to the channel of that name"
        );

        let u = RtmpUrl::parse("RTMP://[::1]:1936/app/a/b").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1936));
        assert_eq!((u.app.as_str(), u.name.as_str()), ("app", "a/b"));
        assert_eq!(u.tc_url, "rtmp://[::1]:1936/app");
        assert_eq!(u.to_string(), "rtmp://[::1]:1936/app/a/b");
    }

    #[test]
    fn unusable_urls_are_refused_with_a_reason() {
        for (url, why) in [
            ("http://host/live/abc", "scheme"),
            ("rtmps://host/live/abc", "scheme"),
            ("host/live/abc", "expected"),
            ("rtmp:///live/abc", "host"),
            ("rtmp://:1935/live/abc", "host"),
            ("rtmp://host:0/live/abc", "port"),
            ("rtmp://host:70000/live/abc", "port"),
            ("rtmp://host:12a/live/abc", "port"),
            ("rtmp://host:/live/abc", "port"),
            ("rtmp://ho st/live/abc", "host"),
            ("rtmp://[::1/live/abc", "unclosed"),
            ("rtmp://host", "app"),
            ("rtmp://host/", "app"),
            ("rtmp://host/live/", "name"),
            ("rtmp://host/live/?x=1", "name"),
        ] {
            let err = RtmpUrl::parse(url).expect_err(url);
            assert!(err.reason.contains(why), "{url}: {err}");
        }
    }

    // ---- session against the server session, in memory ----

    /// Both sides of one connection after the handshake: bytes from one are fed to the other.
    struct Pair {
        client: ClientSession,
        client_reader: ChunkReader,
        server: ServerSession,
        server_reader: ChunkReader,
        server_events: Vec<SessionEvent>,
    }

    impl Pair {
        fn new(url: &str) -> Pair {
            let url = RtmpUrl::parse(url).unwrap();
            Pair {
                client: ClientSession::for_url(&url),
                client_reader: ChunkReader::new(),
                server: ServerSession::new(),
                server_reader: ChunkReader::new(),
                server_events: Vec::new(),
            }
        }

        /// Move bytes both ways until neither side has anything to send.
        fn pump(&mut self) {
            loop {
                let to_server = self.client.take_output();
                let to_client = self.server.take_output();
                if to_server.is_empty() && to_client.is_empty() {
                    return;
                }
                self.server_reader.feed(&to_server);
                while let Some(raw) = self.server_reader.next_message().unwrap() {
                    let events = self.server.handle(raw).unwrap();
                    self.server_events.extend(events);
                }
                self.client_reader.feed(&to_client);
                self.client.bytes_received(to_client.len());
                while let Some(raw) = self.client_reader.next_message().unwrap() {
                    self.client.handle(raw).unwrap();
                }
            }
        }

        fn client_events(&mut self) -> Vec<ClientEvent> {
            std::iter::from_fn(|| self.client.poll_event()).collect()
        }

        fn connected(url: &str) -> Pair {
            let mut p = Pair::new(url);
            p.client.connect();
            p.pump();
            assert!(
                matches!(p.server_events[0], SessionEvent::Connected { .. }),
                "{:?}",
                p.server_events
            );
            assert_eq!(p.client_events(), vec![ClientEvent::Connected]);
            p.server_events.clear();
            p
        }

        /// Server -> client: one message on the played stream.
        fn server_sends(&mut self, csid: u32, stream_id: u32, ts: u32, msg: &Message) {
            message::write(
                self.server.output(),
                csid,
                stream_id,
                ts,
                msg,
                session::OUT_CHUNK_SIZE,
            );
            self.pump();
        }
    }

    /// Decode what a client sent, from its own chunk size announcements.
    fn decode_all(bytes: &[u8]) -> Vec<Message> {
        let mut reader = ChunkReader::new();
        reader.feed(bytes);
        std::iter::from_fn(|| reader.next_message().unwrap())
            .map(|m| Message::decode(m.type_id, m.payload).unwrap())
            .collect()
    }

    #[test]
    fn play_flow_reaches_play_start_and_delivers_media_until_unpublish() {
        let mut p = Pair::connected("rtmp://localhost/live/abc?token=x");
        p.client.play().unwrap();
        p.pump();
        assert_eq!(
            p.server_events,
            vec![SessionEvent::PlayRequested(StreamRequest {
                stream_id: 1,
                app: "live".into(),
                name: "abc".into(),
                query: "token=x".into(),
            })]
        );
        assert!(p.client_events().is_empty(), "nothing before the decision");
        p.server.accept_play();
        p.pump();
        let events = p.client_events();
        assert!(
            events.contains(&ClientEvent::PlayStarted { stream_id: 1 }),
            "{events:?}"
        );
        assert!(p.client.is_playing());

        // Metadata, a big keyframe (several 4096-byte chunks), aggregate-free audio.
        let meta = message::data(vec![
            Amf0Value::string("onMetaData"),
            Amf0Value::object([("width", Amf0Value::Number(640.0))]),
        ]);
        p.server_sends(5, 1, 0, &meta);
        let mut key = vec![0x17, 1, 0, 0, 0];
        key.extend((0..20_000).map(|i| i as u8));
        p.server_sends(6, 1, 40, &Message::Video(key.clone()));
        p.server_sends(4, 1, 0x0100_0000, &Message::Audio(vec![0xAF, 1, 9]));
        let events = p.client_events();
        let Message::Data { payload, .. } = meta else {
            unreachable!()
        };
        assert_eq!(
            events,
            vec![
                ClientEvent::Media(Packet::new(PacketKind::Data, 0, payload)),
                ClientEvent::Media(Packet::new(PacketKind::Video, 40, key)),
                ClientEvent::Media(Packet::new(
                    PacketKind::Audio,
                    0x0100_0000,
                    vec![0xAF, 1, 9]
                )),
            ]
        );

        p.server.output().extend(session::play_end_bytes(1));
        p.pump();
        assert_eq!(
            p.client_events(),
            vec![ClientEvent::StreamEnded {
                code: "NetStream.Play.UnpublishNotify".into()
            }],
            "StreamEOF after UnpublishNotify is not a second end"
        );
    }

    #[test]
    fn publish_flow_reaches_publish_start_and_media_arrive_intact() {
        let mut p = Pair::connected("rtmp://localhost/live/cam");
        p.client.publish().unwrap();
        p.pump();
        assert_eq!(
            p.server_events,
            vec![SessionEvent::PublishRequested(StreamRequest {
                stream_id: 1,
                app: "live".into(),
                name: "cam".into(),
                query: String::new(),
            })]
        );
        p.server_events.clear();
        p.server.accept_publish();
        p.pump();
        assert!(p
            .client_events()
            .contains(&ClientEvent::PublishStarted { stream_id: 1 }));
        assert_eq!(p.client.out_chunk_size(), PUBLISH_CHUNK_SIZE);

        let meta_body = amf0::encode_all(&[
            Amf0Value::string("onMetaData"),
            Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(320.0))]),
        ]);
        let mut key = vec![0x17, 1, 0, 0, 0];
        key.extend((0..10_000).map(|i| (i * 7) as u8));
        let sent = vec![
            Packet::new(PacketKind::Data, 0, meta_body),
            Packet::new(PacketKind::Video, 0, key),
            Packet::new(PacketKind::Audio, 23, vec![0xAF, 1, 1, 2]),
            Packet::new(PacketKind::Video, 0xFFFF_FF00, vec![0x27, 1, 0, 0, 0, 5]),
        ];
        for packet in &sent {
            p.client.write_media(packet);
        }
        p.pump();
        let got: Vec<Packet> = p
            .server_events
            .drain(..)
            .map(|e| match e {
                SessionEvent::Media(packet) => packet,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, sent, "@setDataFrame is stripped by the server again");
    }

    #[test]
    fn refusals_become_failed_events_with_the_status_code() {
        let mut p = Pair::connected("rtmp://localhost/live/none");
        p.client.play().unwrap();
        p.pump();
        p.server
            .reject_play("NetStream.Play.StreamNotFound", "no channel live/none");
        p.pump();
        assert_eq!(
            p.client_events(),
            vec![ClientEvent::Failed {
                code: "NetStream.Play.StreamNotFound".into(),
                description: "no channel live/none".into()
            }]
        );

        let mut p = Pair::connected("rtmp://localhost/live/taken");
        p.client.publish().unwrap();
        p.pump();
        p.server
            .reject_publish("NetStream.Publish.BadName", "ChannelAlreadyHasPublisher");
        p.pump();
        assert!(matches!(
            &p.client_events()[..],
            [ClientEvent::Failed { code, .. }] if code == "NetStream.Publish.BadName"
        ));
    }

    #[test]
    fn a_refused_connect_is_a_failed_event() {
        let mut p = Pair::new("rtmp://localhost/live/x");
        p.client.connect();
        let info = Amf0Value::object([
            ("level", Amf0Value::string("error")),
            ("code", Amf0Value::string("NetConnection.Connect.Rejected")),
            ("description", Amf0Value::string("go away")),
        ]);
        let mut bytes = Vec::new();
        message::write(
            &mut bytes,
            3,
            0,
            0,
            &message::command("_error", 1.0, Amf0Value::Null, vec![info]),
            128,
        );
        p.client_reader.feed(&bytes);
        let raw = p.client_reader.next_message().unwrap().unwrap();
        p.client.handle(raw).unwrap();
        assert_eq!(
            p.client_events(),
            vec![ClientEvent::Failed {
                code: "NetConnection.Connect.Rejected".into(),
                description: "go away".into()
            }]
        );
        assert!(p.client.play().is_err());
    }

    #[test]
    fn pings_are_answered_and_acknowledgements_follow_the_server_window() {
        let mut client = ClientSession::new("live", "rtmp://localhost/live", "abc");
        let mut reader = ChunkReader::new();
        let mut bytes = Vec::new();
        message::write(
            &mut bytes,
            2,
            0,
            0,
            &Message::UserControl(UserControl::PingRequest(4242)),
            session::OUT_CHUNK_SIZE,
        );
        message::write(
            &mut bytes,
            2,
            0,
            0,
            &Message::WindowAckSize(1000),
            session::OUT_CHUNK_SIZE,
        );
        reader.feed(&bytes);
        while let Some(raw) = reader.next_message().unwrap() {
            client.handle(raw).unwrap();
        }
        client.bytes_received(999);
        assert_eq!(
            decode_all(&client.take_output()),
            vec![Message::UserControl(UserControl::PingResponse(4242))]
        );
        client.bytes_received(1);
        assert_eq!(
            decode_all(&client.take_output()),
            vec![Message::Acknowledgement {
                sequence_number: 1000
            }]
        );
        client.bytes_received(999);
        assert!(client.take_output().is_empty());
    }

    // ---- the blocking client against a server thread on a loopback socket ----

    /// A one-connection RTMP server: handshake, ServerSession, accept whatever is asked; when
    /// playing, sends `media` and the end; when publishing, returns the media it got.
    fn serve_one(listener: TcpListener, media: Vec<Packet>) -> thread::JoinHandle<Vec<Packet>> {
        thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut hs = ServerHandshake::new();
            let mut reader = ChunkReader::new();
            let mut buf = vec![0u8; 65536];
            loop {
                let n = sock.read(&mut buf).unwrap();
                match hs.process(&buf[..n]).unwrap() {
                    HandshakeOutcome::InProgress { response } => sock.write_all(&response).unwrap(),
                    HandshakeOutcome::Completed {
                        response,
                        remaining,
                    } => {
                        sock.write_all(&response).unwrap();
                        reader.feed(&remaining);
                        break;
                    }
                }
            }
            let mut session = ServerSession::new();
            let mut got = Vec::new();
            loop {
                while let Some(raw) = reader.next_message().unwrap() {
                    for event in session.handle(raw).unwrap() {
                        match event {
                            SessionEvent::PlayRequested(_) => {
                                session.accept_play();
                                for p in &media {
                                    message::write(
                                        session.output(),
                                        6,
                                        1,
                                        p.timestamp,
                                        &Message::decode(p.kind.tag_type(), p.body.to_vec())
                                            .unwrap(),
                                        session::OUT_CHUNK_SIZE,
                                    );
                                }
                                session.output().extend(session::play_end_bytes(1));
                            }
                            SessionEvent::PublishRequested(_) => session.accept_publish(),
                            SessionEvent::Media(p) => got.push(p),
                            SessionEvent::PublishEnded => return got,
                            _ => {}
                        }
                    }
                }
                sock.write_all(&session.take_output()).unwrap();
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => reader.feed(&buf[..n]),
                }
            }
        })
    }

    fn media() -> Vec<Packet> {
        vec![
            Packet::new(PacketKind::Video, 0, vec![0x17, 0, 0, 0, 0, 1, 2]),
            Packet::new(PacketKind::Audio, 10, vec![0xAF, 1, 3]),
            Packet::new(PacketKind::Video, 40, vec![0x27, 1, 0, 0, 0, 4]),
        ]
    }

    #[test]
    fn blocking_client_plays_over_a_socket_until_the_end() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = RtmpUrl::parse(&format!(
            "rtmp://{}/live/abc",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let server = serve_one(listener, media());
        let mut client = RtmpClient::connect(&url, Duration::from_secs(5)).unwrap();
        client.play().unwrap();
        let mut got = Vec::new();
        while let Some(p) = client.read_packet().unwrap() {
            got.push(p);
        }
        assert_eq!(got, media());
        assert!(client.read_packet().unwrap().is_none(), "the end stays");
        assert!(client.bytes_read() > 3073 && client.bytes_written() > 3073);
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn blocking_client_publishes_over_a_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = RtmpUrl::parse(&format!(
            "rtmp://{}/live/up",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let server = serve_one(listener, vec![]);
        let mut client = RtmpClient::connect(&url, Duration::from_secs(5)).unwrap();
        assert!(
            client.write_packet(&media()[0]).is_err(),
            "not yet publishing"
        );
        client.publish().unwrap();
        assert_eq!((client.stream_id(), client.out_chunk_size()), (1, 4096));
        for p in media() {
            client.write_packet(&p).unwrap();
        }
        client.poll_incoming().unwrap();
        client.close();
        assert_eq!(server.join().unwrap(), media());
    }

    #[test]
    fn connecting_to_a_closed_port_fails_quickly() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = RtmpUrl::parse(&format!("rtmp://127.0.0.1:{port}/live/x")).unwrap();
        let t0 = Instant::now();
        let err = RtmpClient::connect(&url, Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, ClientError::Io(_)), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_silent_server_times_the_setup_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url =
            RtmpUrl::parse(&format!("rtmp://{}/live/x", listener.local_addr().unwrap())).unwrap();
        let t0 = Instant::now();
        let err = RtmpClient::connect(&url, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, ClientError::Timeout("handshake")), "{err}");
        assert!(err.is_timeout());
        assert!(t0.elapsed() < Duration::from_secs(2));
        drop(listener);
    }
}
