//! joy4: a live-streaming media server.
//!
//! ```text
//! publisher socket -> rtmp::handshake -> rtmp::chunk -> rtmp::message -> rtmp::session (events)
//!      -> hub::Hub wires the stream to a hub::Channel
//!      -> Channel::push: headers kept, frame buffered (hub::buffer), one Arc<Frame> per packet
//!         fanned out to every subscriber's bounded queue (serialised once per output format)
//!      -> subscriber thread: queue -> vectored write -> RTMP play socket / HTTP-FLV response
//! ```
//! Protocol modules (`amf0`, `flv`, `media`, `rtmp::{handshake,chunk,message,session}`) are sans-IO;
//! `hub` knows nothing of sockets; `rtmp::conn` and `http` own sockets and threads.
pub mod amf0;
pub mod config;
pub mod flv;
pub mod http;
pub mod hub;
pub mod media;
pub mod net;
pub mod rtmp;
