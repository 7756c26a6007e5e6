//! [`RtmpError`]: why an RTMP connection ended, for the server's connections and the client alike.
//! Each wire layer keeps its own error type; this one wraps them and adds what only a driver with a
//! socket knows (I/O, timeouts, the peer's refusal).

use std::fmt;
use std::io;

use super::chunk::ChunkError;
use super::handshake::HandshakeError;
use super::message::MessageError;
use super::session::SessionError;
use super::url::UrlError;
use crate::flv;

#[derive(Debug)]
pub enum RtmpError {
    /// The URL to connect to is not usable (client).
    Url(UrlError),
    Io(io::Error),
    Handshake(HandshakeError),
    Chunk(ChunkError),
    Message(MessageError),
    /// The server session refused the peer's messages (server).
    Session(SessionError),
    BadAggregate(flv::FlvError),
    /// The peer answered with an error status (`_error`, or onStatus level "error").
    Rejected {
        code: String,
        description: String,
    },
    /// The server ended the stream before it started (e.g. UnpublishNotify during setup).
    Ended {
        code: String,
    },
    /// A setup step (handshake, connect, play, publish) did not finish in time; names the step.
    Timeout(&'static str),
    /// A call that the session's phase does not allow (e.g. `play` before `connect`).
    State(&'static str),
}

impl RtmpError {
    /// A read or write timed out, or a setup step did. After a timed-out read the session is
    /// intact: the read may simply be retried.
    pub fn is_timeout(&self) -> bool {
        match self {
            RtmpError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            RtmpError::Timeout(_) => true,
            _ => false,
        }
    }
}

impl RtmpError {
    /// The time left before `deadline` for `step`, or `Timeout(step)` once it has passed.
    pub fn time_left(
        deadline: std::time::Instant,
        step: &'static str,
    ) -> Result<std::time::Duration, RtmpError> {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            Err(RtmpError::Timeout(step))
        } else {
            Ok(left)
        }
    }
}

impl fmt::Display for RtmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtmpError::Url(e) => write!(f, "{e}"),
            RtmpError::Io(e) => write!(f, "{e}"),
            RtmpError::Handshake(e) => write!(f, "bad handshake: {e}"),
            RtmpError::Chunk(e) => write!(f, "bad chunk stream: {e}"),
            RtmpError::Message(e) => write!(f, "bad message: {e}"),
            RtmpError::Session(e) => write!(f, "{e}"),
            RtmpError::BadAggregate(e) => write!(f, "bad aggregate message: {e}"),
            RtmpError::Rejected { code, description } => {
                write!(f, "the server refused: {code} ({description})")
            }
            RtmpError::Ended { code } => write!(f, "the server ended the stream: {code}"),
            RtmpError::Timeout(step) => write!(f, "{step} timed out"),
            RtmpError::State(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for RtmpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RtmpError::Url(e) => Some(e),
            RtmpError::Io(e) => Some(e),
            RtmpError::Handshake(e) => Some(e),
            RtmpError::Chunk(e) => Some(e),
            RtmpError::Message(e) => Some(e),
            RtmpError::Session(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for RtmpError {
    fn from(e: io::Error) -> RtmpError {
        RtmpError::Io(e)
    }
}

impl From<UrlError> for RtmpError {
    fn from(e: UrlError) -> RtmpError {
        RtmpError::Url(e)
    }
}

impl From<HandshakeError> for RtmpError {
    fn from(e: HandshakeError) -> RtmpError {
        RtmpError::Handshake(e)
    }
}

impl From<ChunkError> for RtmpError {
    fn from(e: ChunkError) -> RtmpError {
        RtmpError::Chunk(e)
    }
}

impl From<MessageError> for RtmpError {
    fn from(e: MessageError) -> RtmpError {
        RtmpError::Message(e)
    }
}

impl From<SessionError> for RtmpError {
    fn from(e: SessionError) -> RtmpError {
        RtmpError::Session(e)
    }
}
