//! joy4: a live-streaming media server.
pub mod amf0;
pub mod flv;
pub mod media;
pub mod rtmp;
