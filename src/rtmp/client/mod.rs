//! The client side of RTMP: a sans-IO [`ClientSession`] (the command flow of a player or of a
//! publisher) and a blocking [`RtmpClient`] that drives it over a `TcpStream`. The stream proxy
//! (pull and push), the tests and the benchmark tool use it; it shares the handshake, chunk and
//! message layers with the server.
//!
//! ```text
//! client                                             server
//!   C0 C1 / C2 (handshake::ClientHandshake)   <-->   S0 S1 S2
//!   connect(1, {app, tcUrl, flashVer, ...})   --->
//!                                             <---   Window Ack Size, Set Peer Bandwidth,
//!                                                    Set Chunk Size, _result(1, {fmsVer..}, {Connect.Success})
//! play:    createStream(2)                    --->
//!                                             <---   _result(2, null, stream id)
//!          play(0, name, -2000) on stream id,
//!          SetBufferLength                    --->
//!                                             <---   StreamBegin, onStatus Play.Reset, Play.Start,
//!                                                    onMetaData, sequence headers, media ...
//!                                             <---   onStatus Play.UnpublishNotify, StreamEOF (end)
//! publish: releaseStream(2, name), FCPublish(3, name), createStream(4)
//!                                             <---   _result(4, null, stream id)
//!          Set Chunk Size 4096,
//!          publish(0, name, "live")           --->
//!                                             <---   onStatus Publish.Start
//!          @setDataFrame onMetaData, audio, video ...
//! ```
//!
//! The client advertises `capsEx` Reconnect in `connect` and reports a server's
//! `onStatus NetConnection.Connect.ReconnectRequest` ([`ClientEvent::ReconnectRequest`];
//! [`RtmpClient::take_reconnect_request`]); following it is the caller's (see `relay`).
//!
//! Whatever the phase, the session answers PingRequest with PingResponse and sends an
//! Acknowledgement each time the bytes received pass the window the server announced. A `_error`
//! answer or an onStatus of level "error" becomes [`ClientEvent::Failed`] with the status code.
//!
//! `rtmp::url` parses rtmp:// URLs; `session` is the command flow, `blocking` drives it over a socket;
//! errors are the [`RtmpError`](crate::rtmp::RtmpError) the server's connections use too.

mod blocking;
mod session;

pub use super::url::{parse_authority, RtmpUrl, UrlError, DEFAULT_PORT};
pub use blocking::{ClientOptions, RtmpClient};
pub use session::{ClientEvent, ClientSession};

#[cfg(test)]
mod tests;
