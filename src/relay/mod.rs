//! Stream proxies: relays between this server and others, one thread each.
//!
//! ```text
//! pull  POST /stream/new {url, channel?}        remote --RtmpClient play / HTTP GET name.flv-->
//!                                                  Stream (a publisher) --> Channel (if wired)
//! push  POST /stream/new {url, channel, push}   Channel --PlayQueue (cursor latest)-->
//!                                                  RtmpClient publish --> remote
//! edge  -origin=rtmp://host:port                play of an unknown channel --> ensure_channel +
//!                                                  pull of {origin}/{app}/{name}, stopped when
//!                                                  the channel has had no subscriber for 5 s
//! ```
//!
//! A proxy reconnects whenever its remote ends or fails: after 0.5 s, doubling up to 30 s, back to
//! 0.5 s once a connection has carried a minute of media; until `/stream/close`. A pull stays its
//! channel's publisher across reconnects, and `Hub::restart_source` makes the channel continue its
//! timeline from the new connection's first keyframe, so players stay connected. A push keeps its
//! subscription while its remote is away (draining the queue and remembering the headers), and
//! after reconnecting sends the headers and then media from the next keyframe.
//!
//! Files: `request` (the fields of `POST /stream/new`), `pull`, `push`, `edge`, `backoff` (how a
//! connection ended and when to reconnect), `connection` (media clock, socket, byte counts).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::amf0::Amf0Value;
use crate::hub::{CloseReason, Hub, Protocol, StreamGuard, StreamType};
use crate::hub::{ConnectObject, RtmpInfo};
use crate::net;
use crate::rtmp::client::RtmpUrl;
use crate::text::{log_safe, LOG_TEXT_MAX};

mod backoff;
mod connection;
mod edge;
mod pull;
mod push;
mod request;
#[cfg(test)]
mod tests;

pub use edge::{edge_url, install_edge};
use pull::Pull;
use push::Push;
use request::{ProxyRequest, Source};

/// Bound of connecting, the handshake, connect and play/publish (each).
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// A remote that sends no media for this long is dropped and reconnected.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a waiting proxy looks at close requests and its edge channel.
const TICK: Duration = Duration::from_millis(250);

/// Why `POST /stream/new` was refused (answered `400 {"err": name, "detail": detail}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyError {
    /// A URL the proxy cannot use: scheme, host, port, path.
    BadUrl(String),
    /// The requested id is taken.
    StreamExists(String),
    /// A push names a channel that does not exist.
    ChannelNotExists(String),
    /// The body is not an object, or a field is missing or of the wrong type.
    BadRequest(String),
}

impl ProxyError {
    pub fn name(&self) -> &'static str {
        match self {
            ProxyError::BadUrl(_) => "BadUrl",
            ProxyError::StreamExists(_) => "StreamExists",
            ProxyError::ChannelNotExists(_) => "ChannelNotExists",
            ProxyError::BadRequest(_) => "BadRequest",
        }
    }

    /// A sentence for the answer's `detail`.
    pub fn detail(&self) -> String {
        match self {
            ProxyError::BadUrl(why) => why.clone(),
            ProxyError::StreamExists(id) => format!("a stream with id {id:?} already exists"),
            ProxyError::ChannelNotExists(id) => format!("no channel has id {id:?}"),
            ProxyError::BadRequest(why) => why.clone(),
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.detail())
    }
}

impl std::error::Error for ProxyError {}

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

/// The `rtmp` part of a proxy stream's stat: what it does and where.
fn rtmp_info(command: &str, url: &RtmpUrl) -> RtmpInfo {
    RtmpInfo {
        command: command.to_string(),
        connect_params: Some(ConnectObject::new(&Amf0Value::Object(vec![
            ("app".into(), Amf0Value::String(url.app.clone())),
            ("tcUrl".into(), Amf0Value::String(url.tc_url.clone())),
        ]))),
        stream_name: url.stream_name().to_string(),
        params: crate::text::query_pairs(url.query()),
    }
}
