//! HLS viewers as hub streams. A player's first playlist request opens a session: a stream of
//! type `hls-mem` (after the accept/reject check with `-rtmpcheckparams`), named by a token that
//! the playlist puts in every URL it hands out. A session ends when its stream is closed (API)
//! or after two target durations without a request.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt::Write;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::muxer::ChannelMuxer;
use super::response::{write_segment, Exchange};
use crate::hub::{CloseReason, StreamHandle};

/// The housekeeping period: session expiry and muxer clean-up.
pub(super) const SWEEP: Duration = Duration::from_millis(250);
/// How long the token of a closed or rejected session is still refused.
const CLOSED_MEMORY: Duration = Duration::from_secs(120);
const MAX_CLOSED_TOKENS: usize = 10_000;

pub struct Session {
    pub token: String,
    pub channel: String,
    pub stream: Arc<StreamHandle>,
    pub muxer: Arc<ChannelMuxer>,
    last_request: Mutex<Instant>,
}

impl Session {
    pub fn touch(&self) {
        *self.last_request.lock() = Instant::now();
        self.muxer.touch();
    }

    /// Without a request for this long the viewer has gone: two target durations, plus the
    /// three a blocking LL-HLS request may wait.
    fn expiry(&self) -> Duration {
        let blocking = self
            .muxer
            .with_output(|o| o.cmaf().is_some_and(|c| c.settings().part_ms.is_some()));
        let targets = if blocking { 5 } else { 2 };
        (self.muxer.target_duration() * targets).max(Duration::from_secs(2))
    }

    /// Write with `write`, counting the body bytes on the viewer's stream and its channel;
    /// returns whether the write went through.
    pub fn respond(
        &self,
        socket: &mut TcpStream,
        write: impl FnOnce(&mut TcpStream) -> std::io::Result<usize>,
    ) -> bool {
        match write(socket) {
            Ok(n) => {
                self.stream.add_bytes_out(n as u64);
                self.muxer.channel.traffic.add_sent(n as u64);
                true
            }
            Err(e) => {
                log::debug!("hls {}: write failed: {e}", self.stream.remote_addr);
                false
            }
        }
    }

    /// Send a whole segment (or the `range` of it asked for), and note on the viewer's stream
    /// the media time it reaches: `end_ts`.
    pub fn send_segment(
        &self,
        socket: &mut TcpStream,
        content_type: &str,
        bytes: &[u8],
        end_ts: u32,
        range: Option<&str>,
        x: Exchange,
    ) -> bool {
        let written = self.respond(socket, |s| write_segment(s, content_type, bytes, range, x));
        self.stream.meter.note_media_ts(end_ts);
        written
    }
}

/// What a token names.
pub enum Lookup {
    Live(Arc<Session>),
    /// Closed by the API or rejected: refused, so a close sticks.
    Closed,
    /// Never issued, or expired: the player may start a new session.
    Unknown,
}

#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Arc<Session>>>,
    closed: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    pub fn lookup(&self, token: &str) -> Lookup {
        if let Some(session) = self.live.lock().get(token) {
            return Lookup::Live(session.clone());
        }
        if self.closed.lock().contains_key(token) {
            return Lookup::Closed;
        }
        Lookup::Unknown
    }

    pub fn insert(
        &self,
        channel: &str,
        stream: Arc<StreamHandle>,
        muxer: Arc<ChannelMuxer>,
    ) -> Arc<Session> {
        let session = Arc::new(Session {
            token: new_token(),
            channel: channel.to_string(),
            stream,
            muxer,
            last_request: Mutex::new(Instant::now()),
        });
        self.live
            .lock()
            .insert(session.token.clone(), session.clone());
        session
    }

    pub fn remember_closed(&self, token: String) {
        let mut closed = self.closed.lock();
        if closed.len() >= MAX_CLOSED_TOKENS {
            closed.retain(|_, at| at.elapsed() < CLOSED_MEMORY);
        }
        if closed.len() < MAX_CLOSED_TOKENS {
            closed.insert(token, Instant::now());
        }
    }

    pub fn count(&self) -> usize {
        self.live.lock().len()
    }

    /// Sessions that were closed or went quiet, taken out of the table. A closed one's token is
    /// refused from the moment it leaves the table.
    pub(super) fn take_ended(&self) -> Vec<(Arc<Session>, CloseReason)> {
        let mut ended = Vec::new();
        let mut live = self.live.lock();
        live.retain(|_, session| {
            let reason = match session.stream.close_requested() {
                Some(reason) => Some(reason),
                None => (session.last_request.lock().elapsed() > session.expiry())
                    .then_some(CloseReason::Timeout),
            };
            match reason {
                Some(reason) => {
                    if reason != CloseReason::Timeout {
                        self.remember_closed(session.token.clone());
                    }
                    ended.push((session.clone(), reason));
                    false
                }
                None => true,
            }
        });
        drop(live);
        self.closed
            .lock()
            .retain(|_, at| at.elapsed() < CLOSED_MEMORY);
        ended
    }
}

/// 128 unpredictable bits as hex: SipHash under the process's random keys, over a counter and
/// the clock.
fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut token = String::with_capacity(32);
    for half in 0..2u8 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(nanos);
        h.write_u8(half);
        let _ = write!(token, "{:016x}", h.finish());
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
