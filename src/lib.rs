//! joy4: a live-streaming media server.
//!
//! ```text
//! publisher socket -> rtmp::handshake -> rtmp::chunk -> rtmp::message -> rtmp::session (events)
//!      -> hub::Hub wires the stream to a hub::Channel
//!      -> Channel::push: headers kept, frame buffered (hub::buffer), appended to the pending batch
//!      -> every merge window the batch is serialised once per output format (FLV / RTMP chunks)
//!         and offered to each subscriber's hub::Sink: a non-blocking write straight to its
//!         socket (net::stage splices a large shared batch without copying it per socket);
//!         only a backed-up socket's own thread writes its backlog (waiting for the socket)
//! ```
//! Protocol modules (`amf0`, `flv`, `media`, `rtmp::{handshake,chunk,message,session}`) are sans-IO;
//! `hub` knows nothing of sockets (a subscriber's socket is a `hub::Wire`); `rtmp::conn`, `http`,
//! `proxy` and `net` own sockets and threads.
pub mod amf0;
pub mod config;
pub mod flv;
pub mod http;
pub mod hub;
pub mod media;
pub mod net;
pub mod relay;
pub mod rtmp;
pub mod text;
