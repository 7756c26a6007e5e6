//! The errors that end a server session.

use std::fmt;

use crate::flv;
use crate::rtmp::message::MessageError;

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
