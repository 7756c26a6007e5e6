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

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::flv::FlvReader;
use crate::hub::buffer::{RTMP_OUT_CHUNK_SIZE, RTMP_PLAY_STREAM_ID};
use crate::hub::channel::Headers;
use crate::hub::stream::RtmpInfo;
use crate::hub::{
    Channel, CloseReason, Cursor, Frame, Hub, PlayQueue, QueueEnd, Stream, StreamState, StreamType,
};
use crate::media::{Packet, PacketKind};
use crate::net;
use crate::rtmp::client::{self, ClientError, ClientOptions, RtmpClient, RtmpUrl};
use crate::rtmp::session;

/// First reconnect delay; it doubles after each failure up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that carried media this long resets the delay to `FIRST_BACKOFF`.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);
/// Bound of connecting, the handshake, connect and play/publish (each).
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// A remote that sends no media for this long is dropped and reconnected.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a waiting proxy looks at close requests and its edge channel.
const TICK: Duration = Duration::from_millis(250);
/// An edge pull stops once its channel has had no subscriber for this long.
const EDGE_IDLE: Duration = Duration::from_secs(5);
const HTTP_READ_BUFFER: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Errors and the request
// ---------------------------------------------------------------------------------------------

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

/// Where a pull reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Rtmp(RtmpUrl),
    /// An `http://…` URL of a live FLV body.
    HttpFlv(String),
}

impl Source {
    fn parse(url: &str) -> Result<Source, ProxyError> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("rtmp") => RtmpUrl::parse(url)
                .map(Source::Rtmp)
                .map_err(|e| ProxyError::BadUrl(format!("{url:?}: {}", e.reason))),
            Some("http") => check_http_url(url)
                .map(|()| Source::HttpFlv(url.to_string()))
                .map_err(|why| ProxyError::BadUrl(format!("{url:?}: {why}"))),
            Some(other) => Err(ProxyError::BadUrl(format!(
                "{url:?}: scheme {other:?} is not supported (rtmp:// or http://)"
            ))),
            None => Err(ProxyError::BadUrl(format!(
                "{url:?} is not a URL: expected rtmp://host[:port]/app/name or http://host[:port]/name.flv"
            ))),
        }
    }
}

/// `http://host[:port]/path`: a host, a valid port and a path.
fn check_http_url(url: &str) -> Result<(), String> {
    let rest = &url["http://".len()..];
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    client::parse_authority(authority, 80)?;
    if path.trim_start_matches('/').is_empty() {
        return Err("the path (e.g. /live/abc.flv) is missing".into());
    }
    Ok(())
}

/// The fields of `POST /stream/new`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProxyRequest {
    id: Option<String>,
    url: String,
    source: Source,
    channel: Option<String>,
    push: bool,
}

impl ProxyRequest {
    fn parse(body: &Value) -> Result<ProxyRequest, ProxyError> {
        let bad = |why: String| ProxyError::BadRequest(why);
        let Value::Object(fields) = body else {
            return Err(bad("body must be a JSON object".into()));
        };
        let field = |name: &str| fields.get(name).filter(|v| !v.is_null());
        let url = match field("url") {
            None => return Err(bad("field 'url' is missing".into())),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => return Err(bad("field 'url' must be a string".into())),
        };
        let id = match field("id") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) if n.is_u64() => Some(n.to_string()),
            Some(_) => {
                return Err(bad(
                    "field 'id' must be a non-empty string or a non-negative integer".into(),
                ))
            }
        };
        let channel = match field("channel") {
            None => None,
            Some(Value::String(s)) if !s.trim_matches('/').is_empty() => {
                Some(s.trim_matches('/').to_string())
            }
            Some(_) => return Err(bad("field 'channel' must be a non-empty string".into())),
        };
        let push = match field("push") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("field 'push' must be true or false".into())),
        };
        let source = Source::parse(&url)?;
        if push {
            if channel.is_none() {
                return Err(bad(
                    "field 'channel' is missing: a push publishes a channel".into(),
                ));
            }
            if !matches!(source, Source::Rtmp(_)) {
                return Err(ProxyError::BadUrl(format!(
                    "{url:?}: a push needs an rtmp:// URL"
                )));
            }
        }
        Ok(ProxyRequest {
            id,
            url,
            source,
            channel,
            push,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

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
            let push = Push {
                hub: hub.clone(),
                stream: stream.clone(),
                url,
                channel: request.channel.unwrap_or_default(),
                socket: SocketSlot::install(&stream),
            };
            net::spawn(format!("push-{id}"), net::CONNECTION_STACK, move || {
                push.run()
            })
        }
        (source, _) => {
            if let Source::Rtmp(url) = &source {
                stream.set_rtmp_info(rtmp_info("pull", url));
            }
            let pull = Pull::new(hub, &stream, source, request.channel, None);
            net::spawn(format!("pull-{id}"), net::CONNECTION_STACK, move || {
                pull.run()
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
        request.url
    );
    Ok(id)
}

/// Edge mode: a play of an unknown channel creates it and pulls it from `origin`
/// (`rtmp://host[:port]`): channel `live/abc` from `{origin}/live/abc`, channel `abc` from
/// `{origin}/abc/abc` (app and name `abc`, which joy4 maps back to channel `abc`). The pull stops,
/// and the channel closes, once the channel has had no subscriber for 5 s.
pub fn install_edge(hub: &Arc<Hub>, origin: String) {
    let active: Arc<Mutex<HashSet<String>>> = Arc::new(Mutex::new(HashSet::new()));
    hub.set_missing_channel_handler(Box::new(move |hub: &Arc<Hub>, path: &str| {
        start_edge_pull(hub, &origin, path, &active)
    }));
}

/// The origin URL that channel `path` is pulled from.
pub fn edge_url(origin: &str, path: &str) -> String {
    let origin = origin.trim_end_matches('/');
    let path = path.trim_matches('/');
    if path.contains('/') {
        format!("{origin}/{path}")
    } else {
        format!("{origin}/{path}/{path}")
    }
}

fn start_edge_pull(
    hub: &Arc<Hub>,
    origin: &str,
    path: &str,
    active: &Arc<Mutex<HashSet<String>>>,
) -> bool {
    let url_text = edge_url(origin, path);
    let url = match RtmpUrl::parse(&url_text) {
        Ok(url) if session::channel_path(&url.app, url.stream_name()) == path => url,
        Ok(_) | Err(_) => {
            log::info!("edge: channel {path:?} cannot be pulled from {url_text:?}");
            return false;
        }
    };
    let mut pulls = active.lock();
    if pulls.contains(path) {
        // A pull is starting or ending: the player finds its channel or, very rarely, none.
        return hub.channel(path).is_some();
    }
    let channel = hub.ensure_channel(path);
    let stream = hub.new_stream(StreamType::Rtmp, url_text.clone());
    stream.set_rtmp_info(rtmp_info("pull", &url));
    let edge = EdgeWatch {
        channel: channel.clone(),
        active: active.clone(),
        empty_since: None,
        last_check: Instant::now(),
    };
    let pull = Pull::new(
        hub,
        &stream,
        Source::Rtmp(url),
        Some(path.to_string()),
        Some(edge),
    );
    let id = stream.id();
    match net::spawn(format!("edge-{id}"), net::CONNECTION_STACK, move || {
        pull.run()
    }) {
        Ok(_) => {
            log::info!("edge: stream {id} pulls channel {path} from {url_text}");
            pulls.insert(path.to_string());
            true
        }
        Err(e) => {
            log::warn!("edge: cannot start a pull thread for {path}: {e}");
            drop(pulls);
            hub.finish_stream(&stream, CloseReason::Error);
            close_if_vacant(hub, &channel);
            false
        }
    }
}

fn rtmp_info(command: &str, url: &RtmpUrl) -> RtmpInfo {
    RtmpInfo {
        command: command.to_string(),
        connect_params: json!({ "app": url.app, "tcUrl": url.tc_url }),
        stream_name: url.stream_name().to_string(),
        params: crate::text::query_pairs(url.query()),
    }
}

/// Close `channel` if it is still registered and has no publisher (an edge channel whose pull
/// ended: players must not wait on a channel nobody feeds).
fn close_if_vacant(hub: &Hub, channel: &Arc<Channel>) {
    if let Some(current) = hub.channel(&channel.id) {
        if Arc::ptr_eq(&current, channel) && current.publisher().is_none() {
            let _ = hub.close_channel(&channel.id);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/// The reconnect delay: 0.5 s doubling to 30 s, reset by a connection with a minute of media.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            next: FIRST_BACKOFF,
        }
    }

    /// The delay before the next attempt, after a connection that carried `media_for` of media.
    fn after(&mut self, media_for: Duration) -> Duration {
        if media_for >= BACKOFF_RESET_AFTER {
            self.next = FIRST_BACKOFF;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        delay
    }
}

/// How one connection of a proxy ended.
#[derive(Debug)]
enum Ended {
    /// For good (close requested, channel closed, edge idle, publish refused locally).
    Stop(CloseReason),
    /// The remote ended or failed: try again after the backoff.
    Retry {
        why: String,
        /// How long media flowed on this connection.
        media_for: Duration,
        /// The remote answered with a refusal (unknown stream, bad name, HTTP 4xx).
        refused: bool,
    },
}

impl Ended {
    fn retry(why: impl Into<String>, media_for: Duration) -> Ended {
        Ended::Retry {
            why: why.into(),
            media_for,
            refused: false,
        }
    }

    fn from_client(what: &str, e: &ClientError, media_for: Duration) -> Ended {
        Ended::Retry {
            why: format!("{what}: {e}"),
            media_for,
            refused: matches!(e, ClientError::Rejected { .. }),
        }
    }
}

/// When media started and last arrived on one connection.
struct MediaClock {
    connected: Instant,
    first: Option<Instant>,
    last: Instant,
}

impl MediaClock {
    fn new() -> MediaClock {
        let now = Instant::now();
        MediaClock {
            connected: now,
            first: None,
            last: now,
        }
    }

    fn note(&mut self) {
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = now;
    }

    fn media_for(&self) -> Duration {
        self.first
            .map(|first| self.last.duration_since(first))
            .unwrap_or_default()
    }

    fn silent_for(&self) -> Duration {
        self.last.max(self.connected).elapsed()
    }
}

/// The current connection's socket, shut down by the stream's closer (`/stream/close`) so a
/// blocked read wakes up at once.
#[derive(Clone)]
struct SocketSlot(Arc<Mutex<Option<TcpStream>>>);

impl SocketSlot {
    fn install(stream: &Arc<Stream>) -> SocketSlot {
        let slot = SocketSlot(Arc::new(Mutex::new(None)));
        let closer = slot.clone();
        stream.set_closer(Box::new(move || {
            if let Some(socket) = closer.0.lock().as_ref() {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }));
        slot
    }

    /// Remember the client's socket; `Err` if a close was requested meanwhile.
    fn attach(&self, client: &RtmpClient, stream: &Stream) -> Result<(), CloseReason> {
        if let Ok(socket) = client.try_clone_socket() {
            *self.0.lock() = Some(socket);
        }
        match stream.close_requested() {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    fn detach(&self) {
        self.0.lock().take();
    }
}

/// Bytes a client moved since the last call, added to the stream's counters.
#[derive(Default)]
struct ByteCounts {
    read: u64,
    written: u64,
}

impl ByteCounts {
    fn account(&mut self, client: &RtmpClient, stream: &Stream) {
        let (read, written) = (client.bytes_read(), client.bytes_written());
        if read > self.read {
            stream.add_bytes_in(read - self.read);
        }
        if written > self.written {
            stream.add_bytes_out(written - self.written);
        }
        self.read = read;
        self.written = written;
    }
}

fn client_options() -> ClientOptions {
    ClientOptions {
        setup_timeout: SETUP_TIMEOUT,
        read_timeout: Some(TICK),
        write_timeout: net::WRITE_TIMEOUT,
    }
}

fn queue_end_reason(end: QueueEnd) -> CloseReason {
    #[allow(unreachable_patterns)]
    match end {
        QueueEnd::Ended(reason) => reason,
        _ => CloseReason::Error,
    }
}

// ---------------------------------------------------------------------------------------------
// Pull
// ---------------------------------------------------------------------------------------------

/// An edge pull's view of its channel: stop once nobody has watched for `EDGE_IDLE`.
struct EdgeWatch {
    channel: Arc<Channel>,
    /// The paths with an edge pull, shared with the missing-channel handler.
    active: Arc<Mutex<HashSet<String>>>,
    empty_since: Option<Instant>,
    last_check: Instant,
}

impl EdgeWatch {
    fn idle(&mut self) -> bool {
        // Looked at every tick, not per packet: the count takes the channel's lock.
        if self.last_check.elapsed() >= TICK {
            self.last_check = Instant::now();
            if self.channel.is_closed() {
                return true;
            }
            if self.channel.subscriber_count() > 0 {
                self.empty_since = None;
            } else {
                self.empty_since.get_or_insert_with(Instant::now);
            }
        }
        self.empty_since
            .is_some_and(|since| since.elapsed() >= EDGE_IDLE)
    }
}

struct Pull {
    hub: Arc<Hub>,
    stream: Arc<Stream>,
    source: Source,
    channel: Option<String>,
    edge: Option<EdgeWatch>,
    socket: SocketSlot,
    connected_once: bool,
}

impl Pull {
    fn new(
        hub: &Arc<Hub>,
        stream: &Arc<Stream>,
        source: Source,
        channel: Option<String>,
        edge: Option<EdgeWatch>,
    ) -> Pull {
        Pull {
            hub: hub.clone(),
            stream: stream.clone(),
            socket: SocketSlot::install(stream),
            source,
            channel,
            edge,
            connected_once: false,
        }
    }

    fn run(mut self) {
        let id = self.stream.id();
        let mut backoff = Backoff::new();
        let reason = loop {
            if let Some(reason) = self.should_stop() {
                break reason;
            }
            let ended = match self.source.clone() {
                Source::Rtmp(url) => self.pull_rtmp(&url),
                Source::HttpFlv(url) => self.pull_http(&url),
            };
            self.socket.detach();
            match ended {
                Ended::Stop(reason) => break reason,
                Ended::Retry {
                    why,
                    media_for,
                    refused,
                } => {
                    if self.edge.is_some() && refused {
                        // The origin says the channel is not there: end like it did.
                        log::info!("edge pull {id}: {why}; giving up");
                        break CloseReason::PeerClosed;
                    }
                    let delay = backoff.after(media_for);
                    log::info!("pull {id}: {why}; reconnecting in {delay:?}");
                    if let Some(reason) = self.wait(delay) {
                        break reason;
                    }
                    if self.connected_once {
                        self.stream.set_state(StreamState::Connecting);
                    }
                }
            }
        };
        log::info!("pull {id}: ended ({})", reason.as_str());
        self.hub.finish_stream(&self.stream, reason);
        if let Some(edge) = &self.edge {
            close_if_vacant(&self.hub, &edge.channel);
            edge.active.lock().remove(&edge.channel.id);
        }
    }

    fn should_stop(&mut self) -> Option<CloseReason> {
        if let Some(reason) = self.stream.close_requested() {
            return Some(reason);
        }
        match &mut self.edge {
            Some(edge) => edge.idle().then_some(CloseReason::ChannelClosed),
            None => None,
        }
    }

    /// Sleep `delay` in ticks; `Some` if the pull must stop meanwhile.
    fn wait(&mut self, delay: Duration) -> Option<CloseReason> {
        let end = Instant::now() + delay;
        loop {
            if let Some(reason) = self.should_stop() {
                return Some(reason);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            std::thread::sleep(left.min(TICK));
        }
    }

    /// The remote is playing: wire the channel the first time, restart its timeline after.
    fn on_connected(&mut self) -> Result<(), CloseReason> {
        if self.connected_once {
            self.hub.restart_source(&self.stream);
            log::info!("pull {}: reconnected", self.stream.id());
        } else {
            self.connected_once = true;
            if let Some(path) = &self.channel {
                if let Err(e) = self.hub.start_publish(&self.stream, path) {
                    log::warn!(
                        "pull {}: cannot publish channel {path}: {}",
                        self.stream.id(),
                        e.name()
                    );
                    return Err(CloseReason::Rejected);
                }
            }
            log::info!("pull {}: connected", self.stream.id());
        }
        let state = if self.stream.channel().is_some() {
            StreamState::Publishing
        } else {
            StreamState::Connected
        };
        self.stream.set_state(state);
        Ok(())
    }

    fn pull_rtmp(&mut self, url: &RtmpUrl) -> Ended {
        let mut client = match RtmpClient::connect_with(url, client_options()) {
            Ok(client) => client,
            Err(e) => return Ended::from_client("cannot connect", &e, Duration::ZERO),
        };
        let mut bytes = ByteCounts::default();
        let result = self.play_rtmp(&mut client, &mut bytes);
        bytes.account(&client, &self.stream);
        if matches!(result, Ended::Stop(_)) {
            client.close();
        }
        result
    }

    fn play_rtmp(&mut self, client: &mut RtmpClient, bytes: &mut ByteCounts) -> Ended {
        if let Err(reason) = self.socket.attach(client, &self.stream) {
            return Ended::Stop(reason);
        }
        if let Err(e) = client.play() {
            return Ended::from_client("cannot play", &e, Duration::ZERO);
        }
        if let Err(reason) = self.on_connected() {
            return Ended::Stop(reason);
        }
        let mut clock = MediaClock::new();
        loop {
            match client.read_packet() {
                Ok(Some(packet)) => {
                    clock.note();
                    self.stream.publish_packet(packet);
                    bytes.account(client, &self.stream);
                }
                Ok(None) => return Ended::retry("the remote ended the stream", clock.media_for()),
                Err(e) if e.is_timeout() => {
                    if clock.silent_for() >= MEDIA_TIMEOUT {
                        return Ended::retry(
                            format!("no media for {MEDIA_TIMEOUT:?}"),
                            clock.media_for(),
                        );
                    }
                }
                Err(e) => return Ended::from_client("connection lost", &e, clock.media_for()),
            }
            if let Some(reason) = self.should_stop() {
                return Ended::Stop(reason);
            }
        }
    }

    fn pull_http(&mut self, url: &str) -> Ended {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(SETUP_TIMEOUT)
            .timeout_read(MEDIA_TIMEOUT)
            .timeout_write(net::WRITE_TIMEOUT)
            .user_agent(concat!("joy4/", env!("CARGO_PKG_VERSION")))
            .build();
        let response = match agent.get(url).call() {
            Ok(response) => response,
            Err(ureq::Error::Status(code, _)) => {
                return Ended::Retry {
                    why: format!("the remote answered HTTP {code}"),
                    media_for: Duration::ZERO,
                    refused: (400..500).contains(&code),
                }
            }
            Err(e) => return Ended::retry(format!("cannot connect: {e}"), Duration::ZERO),
        };
        if let Some(reason) = self.should_stop() {
            return Ended::Stop(reason);
        }
        if let Err(reason) = self.on_connected() {
            return Ended::Stop(reason);
        }
        // The body is endless: read it a buffer at a time into the FLV reader, never whole.
        let mut body = response.into_reader();
        let mut flv = FlvReader::new();
        let mut buf = vec![0u8; HTTP_READ_BUFFER];
        let mut clock = MediaClock::new();
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => return Ended::retry("the remote ended the body", clock.media_for()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Ended::retry(format!("connection lost: {e}"), clock.media_for()),
            };
            self.stream.add_bytes_in(n as u64);
            flv.feed(&buf[..n]);
            loop {
                match flv.next_tag() {
                    Ok(Some(tag)) => {
                        if let Some(kind) = PacketKind::from_tag_type(tag.tag_type) {
                            clock.note();
                            self.stream
                                .publish_packet(Packet::new(kind, tag.timestamp, tag.body));
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Ended::retry(format!("bad FLV body: {e}"), clock.media_for()),
                }
            }
            if let Some(reason) = self.should_stop() {
                return Ended::Stop(reason);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Push
// ---------------------------------------------------------------------------------------------

struct Push {
    hub: Arc<Hub>,
    stream: Arc<Stream>,
    url: RtmpUrl,
    channel: String,
    socket: SocketSlot,
}

/// What a push carries across its reconnects.
struct PushState {
    queue: Option<PlayQueue>,
    /// The channel's latest metadata and sequence headers, resent after a reconnect.
    headers: Headers,
    /// Timestamp of the last frame taken (headers resent after a reconnect carry it).
    last_ts: u32,
    frames: Vec<Arc<Frame>>,
}

impl Push {
    fn run(self) {
        let id = self.stream.id();
        let mut backoff = Backoff::new();
        let mut state = PushState {
            queue: None,
            headers: Headers::default(),
            last_ts: 0,
            frames: Vec::with_capacity(64),
        };
        let reason = loop {
            if let Some(reason) = self.stream.close_requested() {
                break reason;
            }
            let ended = self.push_once(&mut state);
            self.socket.detach();
            match ended {
                Ended::Stop(reason) => break reason,
                Ended::Retry { why, media_for, .. } => {
                    let delay = backoff.after(media_for);
                    log::info!("push {id}: {why}; reconnecting in {delay:?}");
                    if let Err(reason) = self.wait_draining(delay, &mut state) {
                        break reason;
                    }
                }
            }
        };
        log::info!("push {id}: ended ({})", reason.as_str());
        self.hub.finish_stream(&self.stream, reason);
    }

    /// Sleep `delay` while taking (and dropping) what the channel sends, so the subscription
    /// does not fall behind; headers are remembered.
    fn wait_draining(&self, delay: Duration, state: &mut PushState) -> Result<(), CloseReason> {
        let end = Instant::now() + delay;
        loop {
            if let Some(reason) = self.stream.close_requested() {
                return Err(reason);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            match &state.queue {
                None => std::thread::sleep(left.min(TICK)),
                Some(queue) => match queue.next_batch(left.min(TICK), &mut state.frames) {
                    Ok(_) => {
                        for frame in state.frames.drain(..) {
                            state.headers.observe(&frame.packet);
                            state.last_ts = frame.timestamp();
                        }
                    }
                    Err(end) => return Err(queue_end_reason(end)),
                },
            }
        }
    }

    fn push_once(&self, state: &mut PushState) -> Ended {
        let mut client = match RtmpClient::connect_with(&self.url, client_options()) {
            Ok(client) => client,
            Err(e) => return Ended::from_client("cannot connect", &e, Duration::ZERO),
        };
        let mut bytes = ByteCounts::default();
        let result = self.publish(&mut client, state, &mut bytes);
        bytes.account(&client, &self.stream);
        if matches!(result, Ended::Stop(_)) {
            client.close();
        }
        result
    }

    fn publish(
        &self,
        client: &mut RtmpClient,
        state: &mut PushState,
        bytes: &mut ByteCounts,
    ) -> Ended {
        if let Err(reason) = self.socket.attach(client, &self.stream) {
            return Ended::Stop(reason);
        }
        if let Err(e) = client.publish() {
            return Ended::from_client("cannot publish", &e, Duration::ZERO);
        }
        let mut awaiting_keyframe = false;
        let queue = match state.queue.take() {
            Some(queue) => {
                // A reconnect: headers first, then media from the next keyframe.
                let headers = [
                    &state.headers.metadata,
                    &state.headers.video,
                    &state.headers.audio,
                ];
                for header in headers.into_iter().flatten() {
                    let packet = Packet {
                        timestamp: state.last_ts,
                        ..header.clone()
                    };
                    if let Err(e) = client.write_packet(&packet) {
                        state.queue = Some(queue);
                        return Ended::from_client("connection lost", &e, Duration::ZERO);
                    }
                }
                awaiting_keyframe = state.headers.video.is_some();
                log::info!("push {}: reconnected", self.stream.id());
                queue
            }
            None => match self
                .hub
                .start_play(&self.stream, &self.channel, Cursor::Latest)
            {
                Ok(queue) => {
                    log::info!(
                        "push {}: publishing channel {} to {}",
                        self.stream.id(),
                        self.channel,
                        self.url
                    );
                    queue
                }
                Err(e) => {
                    log::info!(
                        "push {}: cannot subscribe to channel {}: {}",
                        self.stream.id(),
                        self.channel,
                        e.name()
                    );
                    return Ended::Stop(CloseReason::ChannelClosed);
                }
            },
        };
        let queue = state.queue.insert(queue);
        // The channel's shared serialisation fits this connection when the ids and chunk size
        // match joy4's own players (they do against joy4, nginx-rtmp and SRS).
        let shared = client.stream_id() == RTMP_PLAY_STREAM_ID
            && client.out_chunk_size() == RTMP_OUT_CHUNK_SIZE;
        let mut clock = MediaClock::new();
        loop {
            match queue.next_batch(TICK, &mut state.frames) {
                Ok(true) => {
                    for frame in state.frames.drain(..) {
                        state.headers.observe(&frame.packet);
                        state.last_ts = frame.timestamp();
                        let is_header =
                            frame.sequence_header || frame.packet.kind == PacketKind::Data;
                        if awaiting_keyframe && !is_header {
                            if !(frame.keyframe && frame.packet.kind == PacketKind::Video) {
                                continue;
                            }
                            awaiting_keyframe = false;
                        }
                        let written = if shared && frame.packet.kind != PacketKind::Data {
                            client.write_prechunked(frame.rtmp_bytes())
                        } else {
                            client.write_packet(&frame.packet)
                        };
                        if let Err(e) = written {
                            // (Dropping the drain empties `frames`.)
                            return Ended::from_client("connection lost", &e, clock.media_for());
                        }
                        clock.note();
                    }
                    self.stream.note_media_ts(state.last_ts);
                    bytes.account(client, &self.stream);
                }
                Ok(false) => {
                    if let Err(e) = client.poll_incoming() {
                        return Ended::from_client("connection lost", &e, clock.media_for());
                    }
                }
                Err(end) => return Ended::Stop(queue_end_reason(end)),
            }
            if let Some(reason) = self.stream.close_requested() {
                return Ended::Stop(reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{HubSettings, NoEvents};

    fn hub() -> Arc<Hub> {
        Hub::new(HubSettings::default(), Arc::new(NoEvents))
    }

    #[test]
    fn backoff_doubles_to_thirty_seconds_and_resets_after_a_minute_of_media() {
        let mut b = Backoff::new();
        let delays: Vec<f64> = (0..9)
            .map(|_| b.after(Duration::from_secs(5)).as_secs_f64())
            .collect();
        assert_eq!(delays, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
        assert_eq!(b.after(Duration::from_secs(60)), Duration::from_millis(500));
        assert_eq!(b.after(Duration::ZERO), Duration::from_secs(1));
    }

    #[test]
    fn edge_urls_map_back_to_the_channel() {
        for (origin, path, url) in [
            ("rtmp://a:1935", "live/abc", "rtmp://a:1935/live/abc"),
            ("rtmp://a:1935/", "1", "rtmp://a:1935/1/1"),
            ("rtmp://a", "live/x/y", "rtmp://a/live/x/y"),
        ] {
            assert_eq!(edge_url(origin, path), url);
            let parsed = RtmpUrl::parse(url).unwrap();
            assert_eq!(
                session::channel_path(&parsed.app, parsed.stream_name()),
                path
            );
        }
    }

    #[test]
    fn requests_are_checked_field_by_field() {
        let r = ProxyRequest::parse(&json!({"url": "rtmp://h/live/a", "id": 7})).unwrap();
        assert_eq!((r.id.as_deref(), r.push), (Some("7"), false));
        let r = ProxyRequest::parse(&json!({"url": "http://h:8081/live/a.flv", "channel": "/x/"}))
            .unwrap();
        assert_eq!(r.channel.as_deref(), Some("x"));
        assert_eq!(r.source, Source::HttpFlv("http://h:8081/live/a.flv".into()));

        let err = |body: Value| ProxyRequest::parse(&body).unwrap_err();
        for body in [
            json!([1]),
            json!({}),
            json!({"url": 5}),
            json!({"url": "rtmp://h/a/b", "id": ""}),
            json!({"url": "rtmp://h/a/b", "id": -1}),
            json!({"url": "rtmp://h/a/b", "channel": 3}),
            json!({"url": "rtmp://h/a/b", "channel": "/"}),
            json!({"url": "rtmp://h/a/b", "push": "yes"}),
            json!({"url": "rtmp://h/a/b", "push": true}),
        ] {
            assert_eq!(err(body.clone()).name(), "BadRequest", "{body}");
        }
        for url in [
            "ftp://h/a/b",
            "https://h/a.flv",
            "rtmp://",
            "rtmp://h:99999/a/b",
            "rtmp://h",
            "http://",
            "http://h:x/a.flv",
            "http://h/",
            "nonsense",
            "",
        ] {
            let e = err(json!({ "url": url }));
            assert_eq!(e.name(), "BadUrl", "{url}: {e}");
            assert!(!e.detail().is_empty());
        }
        let e = err(json!({"url": "http://h/a.flv", "channel": "c", "push": true}));
        assert_eq!(e.name(), "BadUrl");
    }

    #[test]
    fn new_stream_refuses_taken_ids_and_missing_push_channels() {
        let hub = hub();
        let taken = hub.new_stream(StreamType::Rtmp, "x".into()).id();
        let e = new_stream(&hub, &json!({"url": "rtmp://127.0.0.1:1/a/b", "id": taken}));
        assert_eq!(e.unwrap_err().name(), "StreamExists");
        let e = new_stream(
            &hub,
            &json!({"url": "rtmp://127.0.0.1:1/a/b", "channel": "none", "push": true}),
        );
        assert_eq!(e.unwrap_err(), ProxyError::ChannelNotExists("none".into()));
    }

    #[test]
    fn a_pull_of_an_unreachable_url_stays_connecting_until_closed() {
        let hub = hub();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let id = new_stream(
            &hub,
            &json!({"url": format!("rtmp://127.0.0.1:{port}/live/a"), "id": "p1", "channel": "c"}),
        )
        .unwrap();
        assert_eq!(id, "p1");
        let stat = hub.stream("p1").unwrap().stat_json();
        assert_eq!(stat["stat"], "connecting");
        assert_eq!(stat["type"], "rtmp");
        assert_eq!(stat["rtmp"]["command"], "pull");
        assert_eq!(stat["rtmp"]["streamName"], "a");
        std::thread::sleep(Duration::from_millis(700));
        assert!(hub.channel("c").is_none(), "wired only once connected");
        hub.close_stream("p1").unwrap();
        let t0 = Instant::now();
        while hub.stream("p1").is_some() {
            assert!(
                t0.elapsed() < Duration::from_secs(3),
                "the pull did not end"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
