//! User control events and the acknowledgement window.

use super::{be32_at, type_id, Message, MessageError};

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

    pub(super) fn decode(payload: &[u8]) -> Result<UserControl, MessageError> {
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

    pub(super) fn encode(&self) -> Vec<u8> {
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
