//! A pull: play a remote stream (RTMP, or an HTTP-FLV body) and publish it here, reconnecting
//! until closed. It stays its channel's publisher across reconnects.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backoff::{Backoff, Ended};
use super::connection::{client_options, ByteCounts, MediaClock, SocketSlot};
use super::connection::{rtmp_info, MEDIA_TIMEOUT, SETUP_TIMEOUT, TICK};
use super::edge_watch::EdgeWatch;
use super::origins::Failover;
use super::request::Source;
use crate::flv::FlvReader;
use crate::hub::{CloseReason, Hub, StreamHandle, StreamState};
use crate::media::{Packet, PacketKind};
use crate::net;
use crate::rtmp::client::{ClientOptions, RtmpClient, RtmpUrl};
use crate::text::{log_safe, LOG_TEXT_MAX};

const HTTP_READ_BUFFER: usize = 64 * 1024;
/// An edge pull whose origin sends no media for this long fails over to the next origin.
const EDGE_MEDIA_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound of each setup step of an edge pull with origins to fail over to: an origin whose link
/// is down costs this, not the 10 s of a lone remote.
const EDGE_FAILOVER_SETUP_TIMEOUT: Duration = Duration::from_secs(2);

/// How one RTMP play ended: for good or to retry, or moved to a new server by a
/// ReconnectRequest (the new connection already playing).
enum Played {
    Ended(Ended),
    Moved(Box<RtmpClient>),
}

/// A pull that follows a ReconnectRequest reads from its old server until the next video
/// keyframe, at most this long.
const MOVE_WITHIN: Duration = Duration::from_secs(5);

pub(super) struct Pull {
    hub: Arc<Hub>,
    stream: Arc<StreamHandle>,
    source: Source,
    channel: Option<String>,
    edge: Option<EdgeWatch>,
    socket: SocketSlot,
    connected_once: bool,
}

impl Pull {
    pub(super) fn new(
        hub: &Arc<Hub>,
        stream: &Arc<StreamHandle>,
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

    pub(super) fn run(mut self) {
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
                    let why = log_safe(&why, LOG_TEXT_MAX);
                    let carried_media = !media_for.is_zero();
                    let next = self
                        .edge
                        .as_mut()
                        .map(|edge| edge.origins.failed(refused, carried_media));
                    let delay = match next {
                        None => backoff.after(media_for),
                        Some(Failover::GiveUp) => {
                            // Every origin says the channel is not there: end like they did.
                            log::info!(
                                "edge pull {id}: {why}; no origin has the channel; giving up"
                            );
                            break CloseReason::PeerClosed;
                        }
                        Some(Failover::Next(url)) => {
                            self.switch_origin(url);
                            Duration::ZERO
                        }
                        Some(Failover::Wait(url)) => {
                            self.switch_origin(url);
                            backoff.after(media_for)
                        }
                    };
                    let to = match &self.source {
                        Source::Rtmp(url) if self.edge.is_some() => {
                            format!(" to {}", log_safe(&url.to_string(), LOG_TEXT_MAX))
                        }
                        _ => String::new(),
                    };
                    log::info!("pull {id}: {why}; reconnecting{to} in {delay:?}");
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
            edge.release(&self.hub);
        }
    }

    /// An edge pull moves to another of its origins: `/stat` shows it in the stream's tcUrl.
    fn switch_origin(&mut self, url: crate::rtmp::client::RtmpUrl) {
        self.stream.set_rtmp_info(rtmp_info("pull", &url));
        self.source = Source::Rtmp(url);
    }

    /// How long a remote may send no media before it is dropped.
    fn media_timeout(&self) -> Duration {
        if self.edge.is_some() {
            EDGE_MEDIA_TIMEOUT
        } else {
            MEDIA_TIMEOUT
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
                        "pull {}: cannot publish channel {}: {}",
                        self.stream.id(),
                        log_safe(path, LOG_TEXT_MAX),
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

    fn options(&self) -> ClientOptions {
        let mut options = client_options();
        if self.edge.as_ref().is_some_and(|e| e.origins.several()) {
            options.setup_timeout = EDGE_FAILOVER_SETUP_TIMEOUT;
        }
        options
    }

    fn pull_rtmp(&mut self, url: &RtmpUrl) -> Ended {
        let mut client = match RtmpClient::connect_with(url, self.options()) {
            Ok(client) => client,
            Err(e) => return Ended::from_client("cannot connect", &e, Duration::ZERO),
        };
        let mut bytes = ByteCounts::default();
        let mut playing = false;
        let result = loop {
            match self.play_rtmp(&mut client, &mut bytes, playing) {
                Played::Ended(ended) => break ended,
                Played::Moved(next) => {
                    bytes.account(&client, &self.stream);
                    std::mem::replace(&mut client, *next).close();
                    bytes = ByteCounts::default();
                    playing = true;
                    log::info!("pull {}: moved; the old server is left", self.stream.id());
                }
            }
        };
        bytes.account(&client, &self.stream);
        if matches!(result, Ended::Stop(_)) {
            client.close();
        }
        result
    }

    /// Follow a ReconnectRequest: connect to its target and play there; `None` (logged) if
    /// the target is refused (not rtmp://; for an edge, not one of its origins) or cannot be
    /// reached: the pull stays.
    fn connect_elsewhere(&mut self, current: &RtmpUrl, tc_url: Option<&str>) -> Option<RtmpClient> {
        let id = self.stream.id();
        let refuse = |why: String| {
            let why = log_safe(&why, LOG_TEXT_MAX);
            log::warn!("pull {id}: refusing a ReconnectRequest: {why}");
        };
        let target = match current.reconnect_target(tc_url) {
            Ok(target) => target,
            Err(e) => {
                refuse(e.to_string());
                return None;
            }
        };
        if let Some(edge) = &self.edge {
            if !edge.origins.contains(&target) {
                refuse(format!("{target} is not in the -origin list"));
                return None;
            }
        }
        let shown = log_safe(&target.to_string(), LOG_TEXT_MAX);
        let connected = RtmpClient::connect_with(&target, self.options()).and_then(|mut c| {
            c.play()?;
            Ok(c)
        });
        match connected {
            Ok(client) => {
                log::info!("pull {id}: ReconnectRequest: playing from {shown}; leaving the old server at the next keyframe");
                if let Some(edge) = &mut self.edge {
                    edge.origins.select(&target);
                }
                self.switch_origin(target);
                Some(client)
            }
            Err(e) => {
                let why = log_safe(&e.to_string(), LOG_TEXT_MAX);
                log::warn!("pull {id}: ReconnectRequest to {shown} failed: {why}; staying");
                None
            }
        }
    }

    fn play_rtmp(
        &mut self,
        client: &mut RtmpClient,
        bytes: &mut ByteCounts,
        playing: bool,
    ) -> Played {
        if let Err(reason) = self.socket.attach(client, &self.stream) {
            return Played::Ended(Ended::Stop(reason));
        }
        if !playing {
            if let Err(e) = client.play() {
                return Played::Ended(Ended::from_client("cannot play", &e, Duration::ZERO));
            }
        }
        if let Err(reason) = self.on_connected() {
            return Played::Ended(Ended::Stop(reason));
        }
        let mut clock = MediaClock::new();
        let media_timeout = self.media_timeout();
        // The connection a ReconnectRequest opened, and since when.
        let mut moving: Option<(RtmpClient, Instant)> = None;
        loop {
            if moving.is_none() {
                if let Some((tc_url, _)) = client.take_reconnect_request() {
                    let current = client.url().clone();
                    moving = self
                        .connect_elsewhere(&current, tc_url.as_deref())
                        .map(|next| (next, Instant::now()));
                }
            }
            if let Some((_, since)) = &moving {
                if since.elapsed() >= MOVE_WITHIN {
                    return Played::Moved(Box::new(
                        moving.take().expect("a connection to move to").0,
                    ));
                }
            }
            let played = match client.read_packet() {
                Ok(Some(packet)) => {
                    if moving.is_some() && packet.kind == PacketKind::Video && packet.is_keyframe()
                    {
                        // The new server's play starts at a keyframe: switch here.
                        return Played::Moved(Box::new(
                            moving.take().expect("a connection to move to").0,
                        ));
                    }
                    clock.note();
                    self.stream.publish_packet(packet);
                    bytes.account(client, &self.stream);
                    None
                }
                Ok(None) => Some(Ended::retry(
                    "the remote ended the stream",
                    clock.media_for(),
                )),
                Err(e) if e.is_timeout() => (clock.silent_for() >= media_timeout).then(|| {
                    Ended::retry(format!("no media for {media_timeout:?}"), clock.media_for())
                }),
                Err(e) => Some(Ended::from_client("connection lost", &e, clock.media_for())),
            };
            if let Some(ended) = played {
                return Played::Ended(ended);
            }
            if let Some(reason) = self.should_stop() {
                return Played::Ended(Ended::Stop(reason));
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
