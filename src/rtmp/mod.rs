//! RTMP: the wire layers (handshake, chunk stream, messages) and the command flows are sans-IO;
//! `client::RtmpClient` drives the client's flow on a socket. The server connection that drives
//! the server's flow and wires it to the hub is a room of its own above the hub, `rtmp_server`.
//!
//! ```text
//! handshake   C0/C1/C2 <-> S0/S1/S2, bytes in, bytes out
//! chunk       chunk headers <-> whole messages (RawMessage)
//! message     RawMessage <-> typed Message (control, user control, media, AMF0 commands and data)
//! session     the server's command flow: messages in, replies out, events for the application
//! url         rtmp:// URLs (RtmpUrl): what a client connects to, what a ReconnectRequest names
//! client      the client's command flow (ClientSession) and the blocking RtmpClient
//! error       RtmpError, what a server connection or a client ends with
//! ```
//!
//! The wire constants both sides share are defined here, once.
pub mod chunk;
pub mod client;
pub mod error;
pub mod handshake;
pub mod message;
pub mod session;
pub mod url;

pub use error::RtmpError;

/// Chunk stream of protocol control messages (Set Chunk Size, Abort, Acknowledgement, Window
/// Acknowledgement Size, Set Peer Bandwidth) and user control events; fixed by the spec.
pub const CSID_CONTROL: u32 = 2;
/// Chunk stream of connection-level commands and their answers (connect, createStream, `_result`).
pub const CSID_COMMAND: u32 = 3;
/// Chunk stream of audio messages.
pub const CSID_AUDIO: u32 = 4;
/// Chunk stream of data messages (onMetaData).
pub const CSID_DATA: u32 = 5;
/// Chunk stream of the server's onStatus and |RtmpSampleAccess on a message stream (the same id
/// as data messages, as other servers use).
pub const CSID_STATUS: u32 = 5;
/// Chunk stream of video messages.
pub const CSID_VIDEO: u32 = 6;
/// Chunk stream of the client's commands on a message stream (play, publish).
pub const CSID_STREAM_COMMAND: u32 = 8;

/// Chunk size joy4 sends with: the server announces it right after `connect`, the client before
/// it publishes. A channel's shared media serialisation is chunked at this size.
pub const OUT_CHUNK_SIZE: u32 = 4096;
/// The message stream id the server's first `createStream` returns: every play session gets it,
/// and a channel's shared media chunks carry it.
pub const PLAY_STREAM_ID: u32 = 1;
/// Window acknowledgement size (and peer bandwidth) both sides announce.
pub const WINDOW_ACK_SIZE: u32 = 2_500_000;

/// Message type ids.
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
