//! joy4: a live-streaming media server. RTMP and HTTP-FLV in and out, steered by a REST API and
//! HTTP callbacks; one thread per connection, no async runtime.
//!
//! # How a packet travels
//! ```text
//! publisher socket --rtmp_server--> rtmp::handshake -> rtmp::chunk (reader) -> rtmp::message
//!   -> rtmp::session: events (connect, publish, play, media as media::Packet)
//!   -> hub::Hub wires the stream (hub::StreamHandle) to a hub::Channel
//!   -> Channel::push: headers kept (hub::headers), frame buffered (hub::buffer),
//!      appended to the pending batch
//!   -> when the merge window ends (sized to the audience: none for a few subscribers; the next
//!      packet or hub::timer's deadline) the batch is
//!      laid out once per output format (hub::frame: FLV tag / RTMP chunk headers around
//!      slices of the body, which is never copied; shared by Arc)
//!      and offered to each subscriber's hub::Sink: a non-blocking write straight to its socket
//!      (a hub::Wire; net::stage splices a large shared batch without copying it per socket);
//!      only a backed-up socket's own thread, woken by its sink (net::wake), writes its backlog
//!   -> player socket (rtmp_server) or HTTP-FLV response (http::flv)
//! ```
//!
//! # The rooms
//! Codecs, sans-IO, importing nothing of hub, net, http or relay:
//! - [`amf0`]: AMF0 values (and AMF3 read into them), encode and decode.
//! - [`flv`]: FLV tags and a tag reader.
//! - [`media`]: `Packet` (flags read once), codec ids, SPS / HEVC / AudioSpecificConfig parsing;
//!   `media::ts`, the MPEG-TS writer; `media::mp4`, the fragmented-MP4 writer and reader.
//! - [`hls`]: cutting a channel into segments in memory (MPEG-TS, or CMAF with LL-HLS parts),
//!   the playlists, and LL-HLS delivery directives.
//! - [`rtmp`]: wire constants, `handshake`, `chunk`, `message`, server `session`, `client`
//!   (its session is sans-IO; `client::RtmpClient` drives it on a socket).
//!
//! The hub, which knows no sockets and renders no JSON:
//! - [`hub`]: streams, channels, buffers, sinks and the registry; typed events and stats.
//!
//! Sockets and threads:
//! - [`net`]: socket helpers, the only place with `unsafe` (sendmsg, tee/splice, a signal and
//!   ppoll for a viewer's wake-ups, bare threads for viewers, rlimits, epoll, keepalive, shutdown
//!   signals); the accept loop, connection limits and PROXY protocol headers (`proxy_protocol`,
//!   sans-IO; `proxied`: who must send one, read within its bounds); `/proc` figures of a process.
//! - [`http`]: the media port (`media_port`: HTTP-FLV and HLS play, the watch page and
//!   `/channels.json`),
//!   the REST API (`api`: routes, `/stat`, `/metrics`, `/events`), the callback sender, the
//!   event fan-out (`events`), and the hub's stats and events as JSON (`json`, `amf_json`).
//! - [`rtmp_server`]: the blocking RTMP server connection: handshake, chunks and the server
//!   session over a socket, publish and play wired to the hub, a player's backlog written.
//! - [`relay`]: stream proxies (pull, push, edge mode).
//! - [`record`]: recordings to fragmented MP4 (or FLV): a writer thread per recording, files,
//!   start-up repair, retention, listings and spans.
//!
//! Shared: [`config`] (flags), [`text`] (percent-decoding, query strings, durations, RFC 3339).
#![deny(unsafe_code)]

pub mod amf0;
pub mod config;
pub mod flv;
pub mod hls;
pub mod http;
pub mod hub;
pub mod media;
#[allow(unsafe_code)]
pub mod net;
pub mod record;
pub mod relay;
pub mod rtmp;
pub mod rtmp_server;
pub mod text;
