//! RTMP: the wire layers (handshake, chunk stream, messages) and the command flow are sans-IO;
//! `conn` is the blocking server that drives them over sockets.
pub mod chunk;
pub mod client;
pub mod conn;
pub mod handshake;
pub mod message;
pub mod session;
