//! The commands a client sends, and the answers to those that need no decision.

use super::events::split_query;
use super::{status, Phase, ServerSession, SessionError, SessionEvent, StreamRequest};
use crate::amf0::Amf0Value;
use crate::rtmp::message::{self, Message};
use crate::rtmp::{CSID_COMMAND, CSID_CONTROL, OUT_CHUNK_SIZE, WINDOW_ACK_SIZE};

impl ServerSession {
    pub(super) fn command(
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
                // `_result, 1, {properties}, {information}`: the properties object is the
                // command object, with no null before it, as FMS, nginx-rtmp and SRS send it
                // (GStreamer's rtmp2 looks for the status code in the second object).
                let mut properties = Amf0Value::object([
                    ("fmsVer", Amf0Value::string("FMS/3,0,1,123")),
                    ("capabilities", Amf0Value::Number(31.0)),
                    ("mode", Amf0Value::Number(1.0)),
                ]);
                // Enhanced RTMP v2: echo the Reconnect bit of a client that advertises it.
                let caps_ex = command_object
                    .get("capsEx")
                    .and_then(Amf0Value::as_number)
                    .unwrap_or(0.0);
                if caps_ex.is_finite() && (caps_ex as u32) & super::CAPS_EX_RECONNECT != 0 {
                    if let Amf0Value::Object(pairs) = &mut properties {
                        pairs.push((
                            "capsEx".into(),
                            Amf0Value::Number(f64::from(super::CAPS_EX_RECONNECT)),
                        ));
                    }
                }
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
                let result = message::command("_result", transaction_id, properties, vec![info]);
                self.send(CSID_COMMAND, 0, &result);
                events.push(SessionEvent::Connected {
                    command_object: command_object
                        .bounded(super::CONNECT_SUMMARY_VALUES, super::CONNECT_SUMMARY_STRING),
                });
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
}
