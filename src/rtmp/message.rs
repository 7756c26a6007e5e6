//! RTMP messages: typed views of the payloads the chunk layer reassembles, and their encoding.
//!
//! Protocol control and user control bodies (all integers big-endian):
//!
//! ```text
//! 1 Set Chunk Size      | 0 | chunk size (31 bits)                  |   4 bytes
//! 2 Abort               | chunk stream id (32)                      |   4 bytes
//! 3 Acknowledgement     | sequence number (32)                      |   4 bytes
//! 5 Window Ack Size     | window size (32)                          |   4 bytes
//! 6 Set Peer Bandwidth  | window size (32)            | limit type  |   5 bytes
//! 4 User Control        | event type (16) | event data ...          |
//!     0 StreamBegin, 1 StreamEOF, 2 StreamDry, 4 StreamIsRecorded:   stream id (32)
//!     3 SetBufferLength:                                             stream id (32) | buffer ms (32)
//!     6 PingRequest, 7 PingResponse:                                 timestamp (32)
//! ```
//!
//! Commands (type 20) are a run of AMF0 values: name (string), transaction id (number), command object
//! (often null), arguments. Data messages (type 18) are a run of AMF0 values. The "AMF3" variants
//! (17, 15) carry one 0x00 byte and then the same AMF0 values.

use std::fmt;

use super::chunk;
use crate::amf0::{self, Amf0Error, Amf0Value};

pub mod type_id {
    pub const SET_CHUNK_SIZE: u8 = 1;
    pub const ABORT: u8 = 2;
    pub const ACKNOWLEDGEMENT: u8 = 3;
    pub const USER_CONTROL: u8 = 4;
    pub const WINDOW_ACK_SIZE: u8 = 5;
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const DATA_AMF3: u8 = 15;
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    pub const COMMAND_AMF3: u8 = 17;
    pub const DATA_AMF0: u8 = 18;
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    pub const COMMAND_AMF0: u8 = 20;
    pub const AGGREGATE: u8 = 22;
}

/// User control event types.
mod event {
    pub const STREAM_BEGIN: u16 = 0;
    pub const STREAM_EOF: u16 = 1;
    pub const STREAM_DRY: u16 = 2;
    pub const SET_BUFFER_LENGTH: u16 = 3;
    pub const STREAM_IS_RECORDED: u16 = 4;
    pub const PING_REQUEST: u16 = 6;
    pub const PING_RESPONSE: u16 = 7;
}

#[derive(Debug, Clone, PartialEq)]
pub enum UserControl {
    StreamBegin(u32),
    StreamEof(u32),
    StreamDry(u32),
    SetBufferLength {
        stream_id: u32,
        buffer_ms: u32,
    },
    StreamIsRecorded(u32),
    PingRequest(u32),
    PingResponse(u32),
    /// Any other event (e.g. 31/32, SWF verification), kept as received.
    Other {
        event_type: u16,
        data: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The effective size: the reserved top bit is cleared on decoding.
    SetChunkSize(u32),
    Abort {
        csid: u32,
    },
    Acknowledgement {
        sequence_number: u32,
    },
    UserControl(UserControl),
    WindowAckSize(u32),
    SetPeerBandwidth {
        size: u32,
        limit_type: u8,
    },
    Audio(Vec<u8>),
    Video(Vec<u8>),
    /// Data message (type 18, or 15 with its leading 0x00 stripped): the decoded values and the AMF0
    /// payload bytes. `encode` serialises `values`; `payload` is what was received.
    Data {
        values: Vec<Amf0Value>,
        payload: Vec<u8>,
    },
    /// Command (type 20, or 17 with its leading 0x00 stripped).
    Command {
        name: String,
        transaction_id: f64,
        command_object: Amf0Value,
        args: Vec<Amf0Value>,
    },
    Aggregate(Vec<u8>),
    /// Any other type (shared objects included), kept as received.
    Unknown {
        type_id: u8,
        payload: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum MessageError {
    /// A fixed-layout message of type `type_id` had `len` bytes where `needed` are required.
    Truncated {
        type_id: u8,
        len: usize,
        needed: usize,
    },
    /// The AMF0 body of a command or data message does not decode.
    Amf(Amf0Error),
    /// A command without a string name or a number transaction id.
    BadCommand(&'static str),
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::Truncated {
                type_id,
                len,
                needed,
            } => write!(
                f,
                "message type {type_id} has {len} bytes, needs at least {needed}"
            ),
            MessageError::Amf(e) => write!(f, "bad AMF0 in message: {e}"),
            MessageError::BadCommand(why) => write!(f, "bad command: {why}"),
        }
    }
}

impl std::error::Error for MessageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MessageError::Amf(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Amf0Error> for MessageError {
    fn from(e: Amf0Error) -> Self {
        MessageError::Amf(e)
    }
}

/// Big-endian u32 at `at`, or `Truncated`.
fn be32_at(type_id: u8, payload: &[u8], at: usize) -> Result<u32, MessageError> {
    match payload.get(at..at + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(MessageError::Truncated {
            type_id,
            len: payload.len(),
            needed: at + 4,
        }),
    }
}

/// Drop the 0x00 byte that starts an AMF3-typed (15/17) payload. Only that byte: an AMF0 command or
/// data message never starts with a number (marker 0x00), so a missing prefix is unambiguous.
fn strip_amf3_prefix(mut payload: Vec<u8>) -> Vec<u8> {
    if payload.first() == Some(&0) {
        payload.remove(0);
    }
    payload
}

impl UserControl {
    pub fn event_type(&self) -> u16 {
        match self {
            UserControl::StreamBegin(_) => event::STREAM_BEGIN,
            UserControl::StreamEof(_) => event::STREAM_EOF,
            UserControl::StreamDry(_) => event::STREAM_DRY,
            UserControl::SetBufferLength { .. } => event::SET_BUFFER_LENGTH,
            UserControl::StreamIsRecorded(_) => event::STREAM_IS_RECORDED,
            UserControl::PingRequest(_) => event::PING_REQUEST,
            UserControl::PingResponse(_) => event::PING_RESPONSE,
            UserControl::Other { event_type, .. } => *event_type,
        }
    }

    fn decode(payload: &[u8]) -> Result<UserControl, MessageError> {
        const T: u8 = type_id::USER_CONTROL;
        let [hi, lo, ..] = payload[..] else {
            return Err(MessageError::Truncated {
                type_id: T,
                len: payload.len(),
                needed: 2,
            });
        };
        let event_type = u16::from_be_bytes([hi, lo]);
        let value = || be32_at(T, payload, 2);
        Ok(match event_type {
            event::STREAM_BEGIN => UserControl::StreamBegin(value()?),
            event::STREAM_EOF => UserControl::StreamEof(value()?),
            event::STREAM_DRY => UserControl::StreamDry(value()?),
            event::SET_BUFFER_LENGTH => UserControl::SetBufferLength {
                stream_id: value()?,
                buffer_ms: be32_at(T, payload, 6)?,
            },
            event::STREAM_IS_RECORDED => UserControl::StreamIsRecorded(value()?),
            event::PING_REQUEST => UserControl::PingRequest(value()?),
            event::PING_RESPONSE => UserControl::PingResponse(value()?),
            _ => UserControl::Other {
                event_type,
                data: payload[2..].to_vec(),
            },
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10);
        out.extend_from_slice(&self.event_type().to_be_bytes());
        match self {
            UserControl::StreamBegin(v)
            | UserControl::StreamEof(v)
            | UserControl::StreamDry(v)
            | UserControl::StreamIsRecorded(v)
            | UserControl::PingRequest(v)
            | UserControl::PingResponse(v) => out.extend_from_slice(&v.to_be_bytes()),
            UserControl::SetBufferLength {
                stream_id,
                buffer_ms,
            } => {
                out.extend_from_slice(&stream_id.to_be_bytes());
                out.extend_from_slice(&buffer_ms.to_be_bytes());
            }
            UserControl::Other { data, .. } => out.extend_from_slice(data),
        }
        out
    }
}

impl Message {
    /// Decode a chunk-layer message (takes ownership so media payloads move without copying).
    pub fn decode(type_id: u8, payload: Vec<u8>) -> Result<Message, MessageError> {
        use self::type_id as t;
        Ok(match type_id {
            t::SET_CHUNK_SIZE => {
                Message::SetChunkSize(be32_at(type_id, &payload, 0)? & 0x7FFF_FFFF)
            }
            t::ABORT => Message::Abort {
                csid: be32_at(type_id, &payload, 0)?,
            },
            t::ACKNOWLEDGEMENT => Message::Acknowledgement {
                sequence_number: be32_at(type_id, &payload, 0)?,
            },
            t::USER_CONTROL => Message::UserControl(UserControl::decode(&payload)?),
            t::WINDOW_ACK_SIZE => Message::WindowAckSize(be32_at(type_id, &payload, 0)?),
            t::SET_PEER_BANDWIDTH => {
                let size = be32_at(type_id, &payload, 0)?;
                let Some(&limit_type) = payload.get(4) else {
                    return Err(MessageError::Truncated {
                        type_id,
                        len: payload.len(),
                        needed: 5,
                    });
                };
                Message::SetPeerBandwidth { size, limit_type }
            }
            t::AUDIO => Message::Audio(payload),
            t::VIDEO => Message::Video(payload),
            t::DATA_AMF0 => decode_data(payload)?,
            t::DATA_AMF3 => decode_data(strip_amf3_prefix(payload))?,
            t::COMMAND_AMF0 => decode_command(&payload)?,
            t::COMMAND_AMF3 => {
                let body = match payload.first() {
                    Some(0) => &payload[1..],
                    _ => &payload[..],
                };
                decode_command(body)?
            }
            t::AGGREGATE => Message::Aggregate(payload),
            _ => Message::Unknown { type_id, payload },
        })
    }

    /// Message type id and payload bytes for sending (commands as AMF0 type 20, data as type 18).
    pub fn encode(&self) -> (u8, Vec<u8>) {
        use self::type_id as t;
        match self {
            Message::SetChunkSize(size) => (t::SET_CHUNK_SIZE, size.to_be_bytes().to_vec()),
            Message::Abort { csid } => (t::ABORT, csid.to_be_bytes().to_vec()),
            Message::Acknowledgement { sequence_number } => {
                (t::ACKNOWLEDGEMENT, sequence_number.to_be_bytes().to_vec())
            }
            Message::UserControl(event) => (t::USER_CONTROL, event.encode()),
            Message::WindowAckSize(size) => (t::WINDOW_ACK_SIZE, size.to_be_bytes().to_vec()),
            Message::SetPeerBandwidth { size, limit_type } => {
                let mut out = size.to_be_bytes().to_vec();
                out.push(*limit_type);
                (t::SET_PEER_BANDWIDTH, out)
            }
            Message::Audio(p) => (t::AUDIO, p.clone()),
            Message::Video(p) => (t::VIDEO, p.clone()),
            Message::Data { values, .. } => (t::DATA_AMF0, amf0::encode_all(values)),
            Message::Command {
                name,
                transaction_id,
                command_object,
                args,
            } => {
                let mut out = Vec::new();
                amf0::encode(&Amf0Value::String(name.clone()), &mut out);
                amf0::encode(&Amf0Value::Number(*transaction_id), &mut out);
                amf0::encode(command_object, &mut out);
                for arg in args {
                    amf0::encode(arg, &mut out);
                }
                (t::COMMAND_AMF0, out)
            }
            Message::Aggregate(p) => (t::AGGREGATE, p.clone()),
            Message::Unknown { type_id, payload } => (*type_id, payload.clone()),
        }
    }
}

fn decode_data(payload: Vec<u8>) -> Result<Message, MessageError> {
    let values = amf0::decode_all(&payload)?;
    Ok(Message::Data { values, payload })
}

fn decode_command(mut input: &[u8]) -> Result<Message, MessageError> {
    if input.is_empty() {
        return Err(MessageError::BadCommand("missing command name"));
    }
    let Amf0Value::String(name) = amf0::decode(&mut input)? else {
        return Err(MessageError::BadCommand("command name is not a string"));
    };
    if input.is_empty() {
        return Err(MessageError::BadCommand("missing transaction id"));
    }
    let Amf0Value::Number(transaction_id) = amf0::decode(&mut input)? else {
        return Err(MessageError::BadCommand("transaction id is not a number"));
    };
    let command_object = if input.is_empty() {
        Amf0Value::Null
    } else {
        amf0::decode(&mut input)?
    };
    let mut args = Vec::new();
    while !input.is_empty() {
        args.push(amf0::decode(&mut input)?);
    }
    Ok(Message::Command {
        name,
        transaction_id,
        command_object,
        args,
    })
}

/// Counts the bytes received on a connection and says when an Acknowledgement is due: each time
/// the peer's window (its Window Acknowledgement Size) has passed since the last one.
#[derive(Debug, Clone, Default)]
pub struct AckWindow {
    window: u32,
    received: u64,
    last_ack: u64,
}

impl AckWindow {
    pub fn set_window(&mut self, window: u32) {
        self.window = window;
    }

    /// Count `n` more bytes; the Acknowledgement to send, if one is due.
    pub fn received(&mut self, n: usize) -> Option<Message> {
        self.received += n as u64;
        if self.window == 0 || self.received - self.last_ack < u64::from(self.window) {
            return None;
        }
        self.last_ack = self.received;
        Some(Message::Acknowledgement {
            // The sequence number wraps like every RTMP counter.
            sequence_number: self.received as u32,
        })
    }
}

/// Convenience for the session layer: encode `msg` and chunk it onto `out`.
pub fn write(
    out: &mut Vec<u8>,
    csid: u32,
    stream_id: u32,
    timestamp: u32,
    msg: &Message,
    chunk_size: u32,
) {
    let (type_id, payload) = msg.encode();
    chunk::write_message(
        csid, timestamp, type_id, stream_id, &payload, chunk_size, out,
    );
}

pub fn command(
    name: &str,
    transaction_id: f64,
    command_object: Amf0Value,
    args: Vec<Amf0Value>,
) -> Message {
    Message::Command {
        name: name.to_string(),
        transaction_id,
        command_object,
        args,
    }
}

/// A data message whose `payload` matches its `values`.
pub fn data(values: Vec<Amf0Value>) -> Message {
    let payload = amf0::encode_all(&values);
    Message::Data { values, payload }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::chunk::ChunkReader;

    fn round_trip(msg: Message) {
        let (type_id, payload) = msg.encode();
        assert_eq!(Message::decode(type_id, payload), Ok(msg));
    }

    #[test]
    fn control_messages_round_trip() {
        round_trip(Message::SetChunkSize(4096));
        round_trip(Message::Abort { csid: 6 });
        round_trip(Message::Acknowledgement {
            sequence_number: 0xDEAD_BEEF,
        });
        round_trip(Message::WindowAckSize(2_500_000));
        round_trip(Message::SetPeerBandwidth {
            size: 2_500_000,
            limit_type: 2,
        });
    }

    #[test]
    fn every_user_control_event_round_trips() {
        for event in [
            UserControl::StreamBegin(1),
            UserControl::StreamEof(2),
            UserControl::StreamDry(3),
            UserControl::SetBufferLength {
                stream_id: 1,
                buffer_ms: 3000,
            },
            UserControl::StreamIsRecorded(4),
            UserControl::PingRequest(123_456),
            UserControl::PingResponse(654_321),
            UserControl::Other {
                event_type: 31,
                data: vec![1, 2, 3],
            },
        ] {
            round_trip(Message::UserControl(event));
        }
    }

    #[test]
    fn media_aggregate_and_unknown_round_trip() {
        round_trip(Message::Audio(vec![0xAF, 1, 2, 3]));
        round_trip(Message::Video(vec![0x17, 0, 0, 0, 0]));
        round_trip(Message::Video(vec![]));
        round_trip(Message::Aggregate(vec![9, 0, 0, 1, 2]));
        round_trip(Message::Unknown {
            type_id: type_id::SHARED_OBJECT_AMF0,
            payload: vec![5, 6],
        });
    }

    #[test]
    fn commands_and_data_round_trip() {
        round_trip(command(
            "connect",
            1.0,
            Amf0Value::object([
                ("app", Amf0Value::string("live")),
                ("tcUrl", Amf0Value::string("rtmp://localhost/live")),
            ]),
            vec![],
        ));
        round_trip(command(
            "publish",
            5.0,
            Amf0Value::Null,
            vec![Amf0Value::string("abc"), Amf0Value::string("live")],
        ));
        round_trip(data(vec![
            Amf0Value::string("@setDataFrame"),
            Amf0Value::string("onMetaData"),
            Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(1280.0))]),
        ]));
    }

    #[test]
    fn user_control_payloads_have_the_documented_layout() {
        let (t, p) = Message::UserControl(UserControl::StreamBegin(1)).encode();
        assert_eq!((t, p), (4, vec![0, 0, 0, 0, 0, 1]));
        let (_, p) = Message::UserControl(UserControl::SetBufferLength {
            stream_id: 1,
            buffer_ms: 0x0102,
        })
        .encode();
        assert_eq!(p, vec![0, 3, 0, 0, 0, 1, 0, 0, 1, 2]);
        let (_, p) = Message::UserControl(UserControl::PingResponse(9)).encode();
        assert_eq!(p, vec![0, 7, 0, 0, 0, 9]);
    }

    #[test]
    fn set_chunk_size_decoding_clears_the_reserved_bit() {
        assert_eq!(
            Message::decode(1, vec![0x80, 0, 0x10, 0]),
            Ok(Message::SetChunkSize(0x1000))
        );
    }

    #[test]
    fn truncated_control_messages_are_errors() {
        let cases: &[(u8, &[u8], usize)] = &[
            (type_id::SET_CHUNK_SIZE, &[0, 0, 1], 4),
            (type_id::ABORT, &[], 4),
            (type_id::ACKNOWLEDGEMENT, &[1], 4),
            (type_id::WINDOW_ACK_SIZE, &[0, 0], 4),
            (type_id::SET_PEER_BANDWIDTH, &[0, 0, 0, 1], 5),
            (type_id::USER_CONTROL, &[0], 2),
            (type_id::USER_CONTROL, &[0, 0, 0, 0, 1], 6),
            (type_id::USER_CONTROL, &[0, 3, 0, 0, 0, 1, 0, 0], 10),
        ];
        for &(t, payload, needed) in cases {
            assert_eq!(
                Message::decode(t, payload.to_vec()),
                Err(MessageError::Truncated {
                    type_id: t,
                    len: payload.len(),
                    needed
                }),
                "type {t} payload {payload:?}"
            );
        }
    }

    #[test]
    fn media_payloads_move_without_copying() {
        let payload = vec![0x17; 1000];
        let ptr = payload.as_ptr();
        let Ok(Message::Video(v)) = Message::decode(type_id::VIDEO, payload) else {
            panic!("not video");
        };
        assert_eq!(v.as_ptr(), ptr);
    }

    #[test]
    fn amf3_wrapped_command_decodes_like_the_amf0_one() {
        let msg = command(
            "play",
            4.0,
            Amf0Value::Null,
            vec![Amf0Value::string("stream"), Amf0Value::Number(-2000.0)],
        );
        let (_, amf0_payload) = msg.encode();
        let mut amf3_payload = vec![0];
        amf3_payload.extend_from_slice(&amf0_payload);
        assert_eq!(
            Message::decode(type_id::COMMAND_AMF3, amf3_payload),
            Ok(msg.clone())
        );
        // Some senders omit the 0x00.
        assert_eq!(
            Message::decode(type_id::COMMAND_AMF3, amf0_payload),
            Ok(msg)
        );
    }

    #[test]
    fn amf3_wrapped_data_decodes_with_the_prefix_stripped() {
        let values = vec![Amf0Value::string("onMetaData"), Amf0Value::Null];
        let amf0_payload = amf0::encode_all(&values);
        let mut amf3_payload = vec![0];
        amf3_payload.extend_from_slice(&amf0_payload);
        assert_eq!(
            Message::decode(type_id::DATA_AMF3, amf3_payload),
            Ok(Message::Data {
                values,
                payload: amf0_payload
            })
        );
    }

    #[test]
    fn a_command_without_an_object_gets_null() {
        let payload = amf0::encode_all(&[Amf0Value::string("closeStream"), Amf0Value::Number(0.0)]);
        assert_eq!(
            Message::decode(type_id::COMMAND_AMF0, payload),
            Ok(command("closeStream", 0.0, Amf0Value::Null, vec![]))
        );
    }

    #[test]
    fn commands_missing_name_or_transaction_id_are_bad() {
        assert!(matches!(
            Message::decode(type_id::COMMAND_AMF0, vec![]),
            Err(MessageError::BadCommand(_))
        ));
        let only_name = amf0::encode_all(&[Amf0Value::string("connect")]);
        assert!(matches!(
            Message::decode(type_id::COMMAND_AMF0, only_name),
            Err(MessageError::BadCommand(_))
        ));
        let number_first = amf0::encode_all(&[Amf0Value::Number(1.0), Amf0Value::Number(1.0)]);
        assert!(matches!(
            Message::decode(type_id::COMMAND_AMF0, number_first),
            Err(MessageError::BadCommand(_))
        ));
        let string_tid = amf0::encode_all(&[Amf0Value::string("a"), Amf0Value::string("1")]);
        assert!(matches!(
            Message::decode(type_id::COMMAND_AMF0, string_tid),
            Err(MessageError::BadCommand(_))
        ));
    }

    #[test]
    fn broken_amf_in_a_command_is_an_amf_error() {
        let mut payload = amf0::encode_all(&[Amf0Value::string("connect"), Amf0Value::Number(1.0)]);
        payload.push(0xEE);
        assert!(matches!(
            Message::decode(type_id::COMMAND_AMF0, payload),
            Err(MessageError::Amf(_))
        ));
    }

    #[test]
    fn write_chunks_a_message_the_reader_gives_back() {
        let msg = Message::WindowAckSize(5_000_000);
        let mut out = Vec::new();
        write(&mut out, 2, 0, 0, &msg, 128);
        let mut reader = ChunkReader::new();
        reader.feed(&out);
        let raw = reader.next_message().unwrap().unwrap();
        assert_eq!((raw.csid, raw.stream_id, raw.timestamp), (2, 0, 0));
        assert_eq!(Message::decode(raw.type_id, raw.payload), Ok(msg));
    }
}
