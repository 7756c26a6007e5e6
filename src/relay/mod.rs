//! Stream proxies: relays between this server and others, one thread each.
//!
//! ```text
//! pull  POST /stream/new {url, channel?}        remote --RtmpClient play / HTTP GET name.flv-->
//!                                                  Stream (a publisher) --> Channel (if wired)
//! push  POST /stream/new {url, channel, push}   Channel --PlayQueue (cursor latest)-->
//!                                                  RtmpClient publish --> remote
//! edge  -origin=rtmp://a:port,rtmp://b:port     play of an unknown channel --> ensure_channel +
//!                                                  pull of {origin}/{app}/{name}, failing over
//!                                                  to the next origin (no media 3 s, refused,
//!                                                  closed); stopped when the channel has had
//!                                                  no subscriber for 5 s
//! ```
//!
//! A proxy reconnects whenever its remote ends or fails: after 0.5 s, doubling up to 30 s, back to
//! 0.5 s once a connection has carried a minute of media; until `/stream/close`. A pull stays its
//! channel's publisher across reconnects, and `Hub::restart_source` makes the channel continue its
//! timeline from the new connection's first keyframe, so players stay connected. A push keeps its
//! subscription while its remote is away (draining the queue and remembering the headers), and
//! after reconnecting sends the headers and then media from the next keyframe.
//!
//! A remote that sends a ReconnectRequest (Enhanced RTMP v2) moves the relay: it connects to the
//! new tcUrl (rtmp:// only; for an edge, one of its origins), carries on with the old server up to
//! the next video keyframe (at most 5 s), switches, and leaves the old server.
//!
//! Files: `request` (the fields of `POST /stream/new`, `ProxyError`), `pull`, `push`, `edge`,
//! `edge_watch` (an edge pull's slot and idle check), `origins` (an edge's origins and which to
//! try next), `backoff` (how a connection ended and when to reconnect), `connection` (what every
//! relay connection shares: timeouts, media clock, socket, byte counts, its stat).

use std::sync::Arc;

use serde_json::Value;

use crate::hub::{CloseReason, Hub, Protocol, StreamGuard, StreamType};
use crate::net;
use crate::text::{log_safe, LOG_TEXT_MAX};

mod backoff;
mod connection;
mod edge;
mod edge_watch;
mod origins;
mod pull;
mod push;
mod request;
#[cfg(test)]
mod tests;

use connection::rtmp_info;
pub use edge::{edge_url, install_edge};
use pull::Pull;
use push::Push;
pub use request::ProxyError;
use request::{ProxyRequest, Source};

/// `POST /stream/new {id?, url, channel?, push?}`: start a pull (or, with `push: true`, a push)
/// and return the new stream's id.
pub fn new_stream(hub: &Arc<Hub>, body: &Value) -> Result<String, ProxyError> {
    let request = ProxyRequest::parse(body)?;
    if let Some(id) = &request.id {
        if hub.stream(id).is_some() {
            return Err(ProxyError::StreamExists(id.clone()));
        }
    }
    if request.push {
        let channel = request.channel.as_deref().unwrap_or_default();
        if hub.channel(channel).is_none() {
            return Err(ProxyError::ChannelNotExists(channel.to_string()));
        }
    }
    let stream_type = match request.source {
        Source::Rtmp(_) => StreamType::Rtmp,
        Source::HttpFlv(_) => StreamType::HttpFlv,
    };
    let stream = hub.new_stream(stream_type, request.url.clone());
    stream.set_protocol(Protocol::Relay);
    if let Some(id) = &request.id {
        if hub.change_stream_id(&stream.id(), id).is_err() {
            // Taken between the check and now.
            hub.finish_stream(&stream, CloseReason::Rejected);
            return Err(ProxyError::StreamExists(id.clone()));
        }
    }
    let id = stream.id();
    let push = request.push;
    let spawned = match (request.source, push) {
        (Source::Rtmp(url), true) => {
            stream.set_rtmp_info(rtmp_info("push", &url));
            let push = Push::new(hub, &stream, url, request.channel.unwrap_or_default());
            // `run` finishes the stream; the guard does it should the thread panic.
            let guard = StreamGuard::new(hub.clone(), stream.clone());
            net::spawn(format!("push-{id}"), net::CONNECTION_STACK, move || {
                push.run();
                drop(guard);
            })
        }
        (source, _) => {
            if let Source::Rtmp(url) = &source {
                stream.set_rtmp_info(rtmp_info("pull", url));
            }
            let pull = Pull::new(hub, &stream, source, request.channel, None);
            let guard = StreamGuard::new(hub.clone(), stream.clone());
            net::spawn(format!("pull-{id}"), net::CONNECTION_STACK, move || {
                pull.run();
                drop(guard);
            })
        }
    };
    if let Err(e) = spawned {
        hub.finish_stream(&stream, CloseReason::Error);
        return Err(ProxyError::BadRequest(format!(
            "cannot start a proxy thread: {e}"
        )));
    }
    log::info!(
        "stream {id}: {} {}",
        if push { "pushing to" } else { "pulling from" },
        log_safe(&request.url, LOG_TEXT_MAX)
    );
    Ok(id)
}
