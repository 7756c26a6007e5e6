//! HLS play on the media port: `GET /PATH.m3u8` and its segments `/PATH/RUN-SEQ.ts` (the
//! `mpegts` variant) or `/PATH/RUN-SEQ.m4s`, parts `/PATH/RUN-SEQ.INDEX.m4s` and init segments
//! `/PATH/RUN-init-ID.mp4` (`fmp4` and `lowlatency`, served by `cmaf`).
//!
//! Each channel is muxed once (`muxer`), on the first request, and every viewer reads the same
//! `Arc`'d segments. A request without a session gets a one-variant playlist pointing at
//! `NAME.m3u8?session=TOKEN`; that media playlist names segments `NAME/RUN-SEQ.ts?session=TOKEN`,
//! so every request of a viewer is counted on its `hls-mem` stream (`session`).
//!
//! ```text
//! GET /live/abc.m3u8                      -> 200 multivariant playlist (opens a session)
//! GET /live/abc.m3u8?session=T            -> 200 media playlist of the window
//! GET /live/abc/1732950000123-42.ts?session=T -> 200/206 MPEG-TS segment (HEAD, Range)
//! ```

mod cmaf;
mod muxer;
mod response;
mod route;
mod session;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use self::muxer::MUXER_IDLE;
pub use self::muxer::{ChannelMuxer, MUXERS_STARTED};
use self::response::{write_error, write_playlist, Exchange, Refusal};
use self::response::{CACHE_ENTRY, CACHE_PLAYLIST, SEGMENT_TYPE};
pub use self::route::{route, HlsRequest};
use self::session::{Lookup, Session, Sessions, SWEEP};
use super::exchange::read_head;
use super::request::RequestHead;
use crate::hls::playlist::{media_playlist, multivariant_playlist};
use crate::hls::{HlsVariant, SegmenterSettings};
use crate::hub::{CloseReason, HlsRequestKind, Hub, RtmpInfo, StreamType};

/// How long a first request waits for the channel's first segment.
const FIRST_SEGMENT_WAIT: Duration = Duration::from_secs(12);

/// The media port's HLS output: the muxers (one per channel) and the viewers' sessions.
pub struct HlsService {
    hub: Arc<Hub>,
    settings: SegmenterSettings,
    muxers: Mutex<HashMap<String, Arc<ChannelMuxer>>>,
    sessions: Sessions,
}

impl HlsService {
    pub fn new(hub: Arc<Hub>, settings: SegmenterSettings) -> Arc<HlsService> {
        let service = Arc::new(HlsService {
            hub,
            settings,
            muxers: Mutex::new(HashMap::new()),
            sessions: Sessions::default(),
        });
        start_housekeeping(Arc::downgrade(&service));
        service
    }

    /// Live HLS viewers.
    pub fn viewer_count(&self) -> usize {
        self.sessions.count()
    }

    /// Answer `head` and the HLS requests that follow on the same connection; returns the first
    /// request that is not for HLS, for the media port to answer.
    pub fn serve_connection(
        &self,
        socket: &mut TcpStream,
        peer: SocketAddr,
        head: &RequestHead,
        query: &str,
        request: HlsRequest,
    ) -> Option<RequestHead> {
        // A response is a head then a body: without Nagle a part's body (smaller than a segment
        // yet in a write of its own) does not wait for the ACK of the head.
        let _ = socket.set_nodelay(true);
        if !self.serve(socket, peer, head, query, request) {
            return None;
        }
        // Keep-alive: a player asks for the playlist and its segments on one connection (and a
        // page, other things too).
        while let Ok(head) = read_head(socket) {
            let (path, query) = head.path_and_query();
            let request = match route(&path) {
                Some(request) if matches!(head.method.as_str(), "GET" | "HEAD") => request,
                _ => return Some(head),
            };
            log::debug!("http {peer}: {} {}", head.method, head.target);
            if !self.serve(socket, peer, &head, query, request) {
                return None;
            }
        }
        None
    }

    /// Answer one request; returns whether the connection may carry another.
    fn serve(
        &self,
        socket: &mut TcpStream,
        peer: SocketAddr,
        head: &RequestHead,
        query: &str,
        request: HlsRequest,
    ) -> bool {
        let keep_alive = head.version == "HTTP/1.1"
            && !head
                .header("Connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let x = Exchange {
            head_only: head.method == "HEAD",
            keep_alive,
        };
        let params = crate::text::query_pairs(query);
        let token = crate::text::last_value(&params, "session").map(str::to_string);
        let range = head.header("Range");
        // Parts and init segments count as segment requests.
        self.hub.counters.hls_request(match (&request, &token) {
            (HlsRequest::Playlist { .. }, Some(_)) => HlsRequestKind::Playlist,
            (HlsRequest::Playlist { .. }, None) => HlsRequestKind::Entry,
            _ => HlsRequestKind::Segment,
        });
        let served = match request {
            HlsRequest::Playlist { channel } => {
                self.playlist(socket, peer, &channel, token.as_deref(), &params, x)
            }
            HlsRequest::Segment {
                channel,
                run,
                sequence,
            } => self
                .viewer(&channel, run, token.as_deref())
                .and_then(|session| ts_segment(socket, &session, sequence, range, x)),
            HlsRequest::CmafSegment {
                channel,
                run,
                sequence,
            } => self
                .viewer(&channel, run, token.as_deref())
                .and_then(|session| cmaf::segment(socket, &session, sequence, range, x)),
            HlsRequest::Part {
                channel,
                run,
                sequence,
                index,
            } => self
                .viewer(&channel, run, token.as_deref())
                .and_then(|session| cmaf::part(socket, &session, sequence, index, range, x)),
            HlsRequest::Init { channel, run, id } => self
                .viewer(&channel, run, token.as_deref())
                .and_then(|session| cmaf::init(socket, &session, id, range, x)),
        };
        match served {
            Ok(written) => written && keep_alive,
            Err((status, error, reason)) => {
                log::debug!("hls {peer}: {} {}: {reason}", head.method, head.target);
                write_error(socket, status, error, &reason, x);
                keep_alive
            }
        }
    }

    fn playlist(
        &self,
        socket: &mut TcpStream,
        peer: SocketAddr,
        channel: &str,
        token: Option<&str>,
        params: &[(String, String)],
        x: Exchange,
    ) -> Result<bool, Refusal> {
        let leaf = channel.rsplit('/').next().unwrap_or(channel);
        let session = match token.map(|t| self.sessions.lookup(t)) {
            Some(Lookup::Live(session)) if session.channel == channel => session,
            Some(Lookup::Live(_)) => {
                return Err((404, "SessionNotFound", "session of another channel".into()))
            }
            Some(Lookup::Closed) => {
                return Err((
                    403,
                    "StreamClosed",
                    "this viewer's stream was closed".into(),
                ))
            }
            // A HEAD of the entry playlist (a monitor, a cache's check) opens no session.
            None if x.head_only => {
                self.ready_muxer(channel)?;
                let written = write_playlist(socket, "", CACHE_ENTRY, x).is_ok();
                return Ok(written);
            }
            None => {
                // The entry playlist: open a session and hand out its media playlist.
                let session = self.open_session(peer, channel, params)?;
                let codecs = session.muxer.with_output(|o| o.codecs());
                let media = session.muxer.channel.media_info();
                let size = media.width.zip(media.height);
                let bandwidth = self.bandwidth(&session);
                let uri = format!("{leaf}.m3u8?session={}", session.token);
                let text = multivariant_playlist(&uri, bandwidth, &codecs, size);
                return Ok(session.respond(socket, |s| write_playlist(s, &text, CACHE_ENTRY, x)));
            }
            // Expired: the player carries on in a new session.
            Some(Lookup::Unknown) => self.open_session(peer, channel, params)?,
        };
        session.touch();
        if self.settings.variant != HlsVariant::Mpegts {
            return cmaf::media_playlist(socket, &session, leaf, params, x);
        }
        let token = &session.token;
        let run = session.muxer.run;
        let text = session.muxer.with_output(|o| {
            o.ts().map(|s| {
                media_playlist(s, |seg| {
                    format!("{leaf}/{run}-{}.ts?session={token}", seg.sequence)
                })
            })
        });
        let text = text.unwrap_or_default();
        Ok(session.respond(socket, |s| write_playlist(s, &text, CACHE_PLAYLIST, x)))
    }

    /// The live session `token` names, for a file of `channel`'s muxer run `run`.
    fn viewer(
        &self,
        channel: &str,
        run: u64,
        token: Option<&str>,
    ) -> Result<Arc<Session>, Refusal> {
        let session = match token.map(|t| self.sessions.lookup(t)) {
            Some(Lookup::Live(session)) if session.channel == channel => session,
            Some(Lookup::Closed) => {
                return Err((
                    403,
                    "StreamClosed",
                    "this viewer's stream was closed".into(),
                ))
            }
            _ => {
                return Err((
                    404,
                    "SessionNotFound",
                    "no such session: load the playlist again".into(),
                ))
            }
        };
        session.touch();
        if session.muxer.run != run {
            return Err((
                404,
                "SegmentNotFound",
                format!("run {run} is over: load the playlist again"),
            ));
        }
        Ok(session)
    }

    /// The variant's peak rate: the publisher's measured rate with headroom, or a guess.
    fn bandwidth(&self, session: &Session) -> u64 {
        let measured = session.muxer.channel.publisher().map_or(0, |p| p.bitrate());
        if measured > 0 {
            measured * 5 / 4
        } else {
            2_000_000
        }
    }

    /// The channel's muxer, started if it has none (or its last one stopped).
    fn muxer_for(&self, name: &str) -> Result<Arc<ChannelMuxer>, Refusal> {
        let channel = self.hub.channel_for_play(name);
        let mut muxers = self.muxers.lock();
        if let Some(m) = muxers.get(name) {
            let same = channel.as_ref().is_some_and(|c| Arc::ptr_eq(c, &m.channel));
            let keep = if same {
                !m.is_stopped() || m.is_ended() || m.unsupported().is_some()
            } else {
                channel.is_none() && m.is_ended()
            };
            if keep {
                m.touch();
                return Ok(m.clone());
            }
        }
        let channel = channel
            .ok_or_else(|| (404, "ChannelNotExists", format!("channel {name} not found")))?;
        let muxer = ChannelMuxer::start(channel, self.settings);
        muxers.insert(name.to_string(), muxer.clone());
        Ok(muxer)
    }

    /// The channel's muxer, once it has a segment.
    fn ready_muxer(&self, channel: &str) -> Result<Arc<ChannelMuxer>, Refusal> {
        let muxer = self.muxer_for(channel)?;
        let ready = muxer.wait_ready(FIRST_SEGMENT_WAIT);
        if let Some(why) = muxer.unsupported() {
            return Err((404, "UnsupportedCodec", why));
        }
        if !ready {
            return Err((
                404,
                "NoSegmentYet",
                format!("channel {channel} has no complete segment yet"),
            ));
        }
        Ok(muxer)
    }

    /// A new viewer of `channel`: its muxer ready, its stream accepted and wired.
    fn open_session(
        &self,
        peer: SocketAddr,
        channel: &str,
        params: &[(String, String)],
    ) -> Result<Arc<Session>, Refusal> {
        let muxer = self.ready_muxer(channel)?;
        let stream = self.hub.new_stream(StreamType::HlsMem, peer.to_string());
        stream.set_rtmp_info(RtmpInfo {
            command: "play".into(),
            connect_params: None,
            stream_name: channel.to_string(),
            params: params
                .iter()
                .filter(|(k, _)| k != "session")
                .cloned()
                .collect(),
        });
        if let Err(reason) = self.hub.check_params(&stream) {
            self.hub.finish_stream(&stream, reason);
            return Err((403, "Rejected", "the stream was not accepted".into()));
        }
        if stream.close_requested().is_some() {
            self.hub.finish_stream(&stream, CloseReason::ApiClose);
            return Err((403, "StreamClosed", "the stream was closed".into()));
        }
        self.hub.attach_viewer(&stream, &muxer.channel);
        log::info!(
            "hls {peer}: stream {} watches channel {channel}",
            stream.id()
        );
        Ok(self.sessions.insert(channel, stream, muxer))
    }
}

/// An MPEG-TS segment of the window.
fn ts_segment(
    socket: &mut TcpStream,
    session: &Session,
    sequence: u64,
    range: Option<&str>,
    x: Exchange,
) -> Result<bool, Refusal> {
    let segment = session.muxer.segment(sequence).ok_or_else(|| {
        (
            404,
            "SegmentNotFound",
            format!(
                "segment {}-{sequence} is not in the window",
                session.muxer.run
            ),
        )
    })?;
    let end_ts = segment.start_ts.wrapping_add(segment.duration_ms);
    Ok(session.send_segment(socket, SEGMENT_TYPE, &segment.bytes, end_ts, range, x))
}

/// Start the thread that ends quiet or closed sessions and forgets stopped muxers.
pub fn start_housekeeping(service: Weak<HlsService>) {
    let spawned = crate::net::spawn("hls-sweep".into(), crate::net::WRITER_STACK, move || loop {
        std::thread::sleep(SWEEP);
        let Some(service) = service.upgrade() else {
            return;
        };
        for (session, reason) in service.sessions.take_ended() {
            log::debug!(
                "hls {}: stream {} ended ({})",
                session.stream.remote_addr,
                session.stream.id(),
                reason.as_str()
            );
            service.hub.finish_stream(&session.stream, reason);
        }
        service
            .muxers
            .lock()
            .retain(|_, m| !(m.is_stopped() && m.idle_for() > MUXER_IDLE));
    });
    if let Err(e) = spawned {
        log::error!("hls: cannot start the session sweeper: {e}");
    }
}

#[cfg(test)]
mod tests;
