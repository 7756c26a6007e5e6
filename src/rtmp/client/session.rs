//! [`ClientSession`]: the command flow of a player or a publisher, sans-IO.

use std::collections::VecDeque;

use crate::amf0::Amf0Value;
use crate::media::{Packet, PacketKind};
use crate::rtmp::chunk::{self, DEFAULT_CHUNK_SIZE};
use crate::rtmp::message::{self, type_id, AckWindow, Message};
use crate::rtmp::url::RtmpUrl;
use crate::rtmp::{
    RtmpError, CSID_AUDIO, CSID_COMMAND, CSID_CONTROL, CSID_DATA, CSID_VIDEO, WINDOW_ACK_SIZE,
};

mod incoming;

/// Buffer length the client asks for when it plays (ms), as ffmpeg does.
const PLAY_BUFFER_MS: u32 = 3000;
/// Transaction id of `connect`; later calls count up from 2.
const CONNECT_TRANSACTION: f64 = 1.0;
/// `capsEx` Reconnect bit the client advertises in `connect`.
const CAPS_EX_RECONNECT: f64 = 1.0;
/// AMF0 string "@setDataFrame", the prefix publishers put before onMetaData.
const SET_DATA_FRAME: &[u8] = b"\x02\x00\x0d@setDataFrame";

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
    /// NetConnection.Connect.ReconnectRequest (Enhanced RTMP v2): connect to `tc_url` (absent:
    /// the same server), then leave this one.
    ReconnectRequest {
        tc_url: Option<String>,
        description: String,
    },
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

impl ClientSession {
    /// A session for `tc_url` (`rtmp://host[:port]/app`), app `app`, stream `name` (with its
    /// query string, as sent in play/publish).
    pub fn new(app: &str, tc_url: &str, name: &str) -> ClientSession {
        ClientSession {
            app: app.to_string(),
            tc_url: tc_url.to_string(),
            name: name.to_string(),
            output: Vec::new(),
            out_chunk_size: DEFAULT_CHUNK_SIZE,
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
            // Enhanced RTMP v2: this client follows a ReconnectRequest.
            ("capsEx", Amf0Value::Number(CAPS_EX_RECONNECT)),
        ]);
        let msg = message::command("connect", CONNECT_TRANSACTION, object, vec![]);
        self.send(CSID_COMMAND, 0, &msg);
        self.send(CSID_CONTROL, 0, &Message::WindowAckSize(WINDOW_ACK_SIZE));
        self.phase = Phase::Connecting;
    }

    /// Queue createStream and then play of the session's stream name (after `Connected`).
    pub fn play(&mut self) -> Result<(), RtmpError> {
        if self.phase != Phase::Connected {
            return Err(RtmpError::State("play before connect succeeded"));
        }
        let transaction = self.call("createStream", vec![]);
        self.phase = Phase::CreatingStream {
            transaction,
            intent: Intent::Play,
        };
        Ok(())
    }

    /// Queue releaseStream, FCPublish, createStream and then publish (after `Connected`).
    pub fn publish(&mut self) -> Result<(), RtmpError> {
        if self.phase != Phase::Connected {
            return Err(RtmpError::State("publish before connect succeeded"));
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
