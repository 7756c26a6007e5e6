//! What the client does with the messages the server sends.

use super::{ClientEvent, ClientSession, Intent, Phase, CONNECT_TRANSACTION, PLAY_BUFFER_MS};
use crate::amf0::Amf0Value;
use crate::flv;
use crate::media::{Packet, PacketKind};
use crate::rtmp::chunk::RawMessage;
use crate::rtmp::message::{self, type_id, Message, UserControl};
use crate::rtmp::{RtmpError, CSID_CONTROL, CSID_STREAM_COMMAND, OUT_CHUNK_SIZE};

/// The code, level and description of the info object of an onStatus, `_result` or `_error`: the
/// first object with a `code`, the command object included. Servers answer `connect` with
/// `_result, 1, {properties}, {info}` (FMS, nginx-rtmp, SRS) or with a null first
/// (`_result, 1, null, {properties}, {info}`); both are understood.
fn info_of<'a>(
    object: &'a Amf0Value,
    args: &'a [Amf0Value],
) -> Option<(&'a str, &'a str, &'a str)> {
    let info = [object]
        .into_iter()
        .chain(args)
        .find(|a| a.get("code").is_some())?;
    let text = |key| info.get(key).and_then(Amf0Value::as_str).unwrap_or("");
    Some((text("code"), text("level"), text("description")))
}

impl ClientSession {
    /// Handle one message from the chunk reader (which applies Set Chunk Size itself).
    pub fn handle(&mut self, raw: RawMessage) -> Result<(), RtmpError> {
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
        let msg = match Message::decode(raw.type_id, raw.payload) {
            Err(e) if e.is_oversized_data() => {
                log::warn!("dropping a data message: {e}");
                return Ok(());
            }
            other => other?,
        };
        match msg {
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
                // Flash-player permissions, not stream data.
                if values.first().and_then(Amf0Value::as_str) == Some("|RtmpSampleAccess") {
                    return Ok(());
                }
                match message::data_body(&values, payload) {
                    Some(body) => self.media(PacketKind::Data, timestamp, body),
                    None => log::warn!(
                        "dropping a data message whose AMF0 form exceeds {} bytes",
                        message::MAX_DATA_LEN
                    ),
                }
            }
            Message::Aggregate(payload) if self.is_playing() => {
                let tags =
                    flv::split_aggregate(&payload, timestamp).map_err(RtmpError::BadAggregate)?;
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
                let (code, level, description) = info_of(&object, &args).unwrap_or_default();
                if code == "NetConnection.Connect.ReconnectRequest" && self.phase != Phase::Ended {
                    let tc_url = [&object]
                        .into_iter()
                        .chain(&args)
                        .find_map(|a| a.get("tcUrl").and_then(Amf0Value::as_str))
                        .map(str::to_string);
                    self.events.push_back(ClientEvent::ReconnectRequest {
                        tc_url,
                        description: description.to_string(),
                    });
                    return;
                }
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
                    let (code, _, description) = info_of(&object, args).unwrap_or_default();
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
                    let (code, _, description) = info_of(&object, args).unwrap_or_default();
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
                        self.send(CSID_CONTROL, 0, &Message::SetChunkSize(OUT_CHUNK_SIZE));
                        self.out_chunk_size = OUT_CHUNK_SIZE;
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
}
