//! One subscriber: its socket, its stream reader, the RTMP client session, and what it went through.

use std::net::TcpStream;

use joy4::media::codec;
use joy4::rtmp::chunk::RawMessage;
use joy4::rtmp::client::{ClientEvent, ClientSession};

use super::shared::{LatSample, Shared, WindowCount};
use crate::skim::{self, Event, FlvSkimmer, RtmpSkimmer};
use crate::target::Target;

/// What one subscriber went through; all times in µs since the bench started.
#[derive(Debug, Clone, Default)]
pub struct SubStats {
    pub id: usize,
    /// The channel it plays.
    pub channel: usize,
    pub probe: bool,
    pub start_us: u64,
    /// When the play (RTMP `play`, HTTP `GET`) request went out.
    pub request_us: Option<u64>,
    pub connected_us: Option<u64>,
    pub first_media_us: Option<u64>,
    pub first_key_us: Option<u64>,
    pub ended_us: Option<u64>,
    pub error: Option<String>,
    /// Audio and video payload bytes.
    pub bytes: WindowCount,
    pub frames: WindowCount,
    pub wire_bytes: u64,
    /// Live messages whose send time was found, messages sent before this subscriber asked to play
    /// (replayed from a cache), and messages not found in the send log.
    pub matched: u64,
    pub replayed: u64,
    pub unmatched: u64,
}

/// The reader of the subscriber's protocol.
pub enum Proto {
    Rtmp(RtmpSkimmer),
    Http(FlvSkimmer),
}

/// A subscriber being set up (on a connector thread) or read (on a reader thread).
pub struct Sub {
    pub stats: SubStats,
    pub proto: Proto,
    pub stream: TcpStream,
    /// RTMP: the project's client command flow (connect, createStream, play; pings and
    /// acknowledgements). It sees every message but audio, video and data, which the skimmer skips.
    pub session: Option<ClientSession>,
    /// Bytes the session queued (commands, acknowledgements, pongs), waiting to be written.
    pub out: Vec<u8>,
    pub setting_up: bool,
    pub play_started: bool,
    pub http_status: Option<u16>,
    pub want_lowat: bool,
    pub lowat_set: bool,
}

impl Sub {
    pub fn new(
        id: usize,
        channel: usize,
        probe: bool,
        start_us: u64,
        stream: TcpStream,
        target: &Target,
    ) -> Sub {
        let (proto, session) = match target {
            Target::Rtmp(url) => (
                Proto::Rtmp(RtmpSkimmer::new()),
                Some(ClientSession::for_url(url)),
            ),
            Target::Http { .. } => (Proto::Http(FlvSkimmer::new()), None),
        };
        Sub {
            stats: SubStats {
                id,
                channel,
                probe,
                start_us,
                ..SubStats::default()
            },
            proto,
            stream,
            session,
            out: Vec::new(),
            setting_up: true,
            play_started: false,
            http_status: None,
            want_lowat: false,
            lowat_set: false,
        }
    }

    /// Take in bytes read at `now`.
    pub fn ingest(
        &mut self,
        data: &[u8],
        now: u64,
        shared: &Shared,
        w: (u64, u64),
        lat: &mut Vec<LatSample>,
    ) -> Result<(), String> {
        self.stats.wire_bytes += data.len() as u64;
        let Sub {
            stats,
            proto,
            session,
            http_status,
            want_lowat,
            ..
        } = self;
        let mut session_error: Option<String> = None;
        let mut on_event = |e: Event<'_>| match e {
            Event::Media {
                type_id,
                timestamp,
                len,
                head,
            } => {
                if type_id != 8 && type_id != 9 {
                    return;
                }
                stats.first_media_us.get_or_insert(now);
                let is_header = match type_id {
                    9 => codec::video_is_sequence_header(head),
                    _ => codec::audio_is_sequence_header(head),
                };
                if type_id == 9 && stats.first_key_us.is_none() && skim::is_video_keyframe(head) {
                    stats.first_key_us = Some(now);
                    *want_lowat = true;
                }
                let sent = if is_header {
                    None
                } else {
                    shared.channels[stats.channel]
                        .log
                        .lookup(type_id, timestamp)
                };
                // A message counts in the window when it was *sent* in it (latency does not shift
                // frames across the window's edges); by arrival when its send time is unknown.
                let t = sent.unwrap_or(now);
                stats.bytes.add(t, len as u64, w);
                stats.frames.add(t, 1, w);
                if is_header {
                    return;
                }
                match sent {
                    Some(sent) if sent >= stats.request_us.unwrap_or(u64::MAX) => {
                        stats.matched += 1;
                        let in_window = now >= w.0 && now < w.1;
                        if in_window || stats.probe {
                            lat.push(LatSample {
                                us: now.saturating_sub(sent),
                                probe: stats.probe,
                                in_window,
                            });
                        }
                    }
                    Some(_) => stats.replayed += 1,
                    None => stats.unmatched += 1,
                }
            }
            Event::Control {
                type_id,
                stream_id,
                timestamp,
                payload,
            } => {
                if let Some(session) = session.as_mut() {
                    let raw = RawMessage {
                        csid: 0,
                        timestamp,
                        type_id,
                        stream_id,
                        payload: payload.to_vec(),
                    };
                    if let Err(e) = session.handle(raw) {
                        session_error.get_or_insert(e.to_string());
                    }
                    // createStream answered: the session has just queued `play`.
                    if stats.request_us.is_none() && session.stream_id() != 0 {
                        stats.request_us = Some(now);
                    }
                }
            }
            Event::HttpStatus(code) => *http_status = Some(code),
        };
        let result = match proto {
            Proto::Rtmp(s) => s.feed(data, &mut on_event),
            Proto::Http(s) => s.feed(data, &mut on_event),
        };
        result.map_err(|e| e.to_string())?;
        if let Some(e) = session_error {
            return Err(e);
        }
        if let Some(code) = self.http_status {
            if code != 200 {
                return Err(format!("HTTP status {code}"));
            }
        }
        if let Some(session) = self.session.as_mut() {
            session.bytes_received(data.len());
            while let Some(event) = session.poll_event() {
                match event {
                    ClientEvent::Connected if self.setting_up => {
                        session.play().map_err(|e| format!("play: {e}"))?
                    }
                    ClientEvent::PlayStarted { .. } => self.play_started = true,
                    ClientEvent::Failed { code, description } => {
                        return Err(format!("refused: {code} {description}"))
                    }
                    ClientEvent::StreamEnded { code } => return Err(format!("ended: {code}")),
                    _ => {}
                }
            }
            let out = session.output();
            if !out.is_empty() {
                self.out.extend_from_slice(out);
                out.clear();
            }
        }
        Ok(())
    }
}
