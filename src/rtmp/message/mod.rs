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

use super::chunk::{self, MAX_CHUNK_SIZE};
use crate::amf0::{self, Amf0Error, Amf0Value};

mod control;

pub use super::type_id;
pub use control::{AckWindow, UserControl};

/// Largest command message (types 20 and 17) decoded: a `connect` with every usual property is
/// under 1 KiB.
pub const MAX_COMMAND_LEN: usize = 64 * 1024;
/// Largest data message (types 18 and 15) decoded, and largest script-tag body made from one
/// (after an AMF3 value inside it is re-encoded as AMF0): larger ones are dropped.
pub const MAX_DATA_LEN: usize = 1024 * 1024;

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
    /// A command or data message over its size limit, refused before it is decoded.
    TooLarge { type_id: u8, len: usize, max: usize },
}

impl MessageError {
    /// A data message over the limit: the caller drops it and goes on.
    pub fn is_oversized_data(&self) -> bool {
        matches!(self, MessageError::TooLarge { type_id, .. }
            if *type_id == type_id::DATA_AMF0 || *type_id == type_id::DATA_AMF3)
    }
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
            MessageError::TooLarge { type_id, len, max } => write!(
                f,
                "message type {type_id} of {len} bytes exceeds the limit of {max}"
            ),
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

impl Message {
    /// Decode a chunk-layer message (takes ownership so media payloads move without copying).
    pub fn decode(type_id: u8, payload: Vec<u8>) -> Result<Message, MessageError> {
        use self::type_id as t;
        let max = match type_id {
            t::COMMAND_AMF0 | t::COMMAND_AMF3 => MAX_COMMAND_LEN,
            t::DATA_AMF0 | t::DATA_AMF3 => MAX_DATA_LEN,
            _ => usize::MAX,
        };
        if payload.len() > max {
            return Err(MessageError::TooLarge {
                type_id,
                len: payload.len(),
                max,
            });
        }
        Ok(match type_id {
            t::SET_CHUNK_SIZE => {
                Message::SetChunkSize(be32_at(type_id, &payload, 0)? & MAX_CHUNK_SIZE)
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

/// The script-tag body a data message is stored as: `@setDataFrame(name, value)` becomes
/// `name(value)` (re-encoded as AMF0), anything else stays as received. `None` when the body would
/// be over [`MAX_DATA_LEN`] (an AMF3 value can grow several times when re-encoded); the size is
/// known before anything is encoded.
pub fn data_body(values: &[Amf0Value], payload: Vec<u8>) -> Option<Vec<u8>> {
    match values.split_first() {
        Some((first, rest)) if first.as_str() == Some("@setDataFrame") => {
            (amf0::encoded_len_all(rest) <= MAX_DATA_LEN).then(|| amf0::encode_all(rest))
        }
        _ => (payload.len() <= MAX_DATA_LEN).then_some(payload),
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
mod tests;
