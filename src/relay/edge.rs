//! Edge mode: a play of an unknown channel creates it and pulls it from the origin; the pull
//! stops, and the channel closes, once nobody has watched it for `EDGE_IDLE`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::pull::Pull;
use super::request::Source;
use super::{rtmp_info, TICK};
use crate::hub::{Channel, CloseReason, Hub, Protocol, StreamGuard, StreamType};
use crate::net;
use crate::rtmp::client::RtmpUrl;
use crate::rtmp::session;
use crate::text::{log_safe, LOG_TEXT_MAX};

/// An edge pull stops once its channel has had no subscriber for this long.
const EDGE_IDLE: Duration = Duration::from_secs(5);

/// Edge mode: a play of an unknown channel creates it and pulls it from `origin`
/// (`rtmp://host[:port]`): channel `live/abc` from `{origin}/live/abc`, channel `abc` from
/// `{origin}/abc/abc` (app and name `abc`, which joy4 maps back to channel `abc`). The pull stops,
/// and the channel closes, once the channel has had no subscriber for 5 s. At most `max_pulls`
/// pulls run at once; a play of another unknown channel then finds none.
pub fn install_edge(hub: &Arc<Hub>, origin: String, max_pulls: usize) {
    let active: ActivePulls = Arc::new(Mutex::new(HashSet::new()));
    hub.set_missing_channel_handler(Box::new(move |hub: &Arc<Hub>, path: &str| {
        start_edge_pull(hub, &origin, path, &active, max_pulls)
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
    active: &ActivePulls,
    max_pulls: usize,
) -> bool {
    let url_text = edge_url(origin, path);
    let shown = log_safe(path, LOG_TEXT_MAX);
    let url = match RtmpUrl::parse(&url_text) {
        Ok(url) if session::channel_path(&url.app, url.stream_name()) == path => url,
        Ok(_) | Err(_) => {
            let url_shown = log_safe(&url_text, LOG_TEXT_MAX);
            log::info!("edge: channel \"{shown}\" cannot be pulled from \"{url_shown}\"");
            return false;
        }
    };
    // Taken, and the channel created, under the set's lock: a second play of the same channel
    // finds the pull and its channel.
    let (slot, channel) = {
        let mut pulls = active.lock();
        match PullSlot::take(active, &mut pulls, path, max_pulls) {
            Ok(slot) => (slot, hub.ensure_channel(path)),
            // A pull is starting or ending: the player finds its channel or, very rarely, none.
            Err(SlotRefusal::Pulling) => return hub.channel(path).is_some(),
            Err(SlotRefusal::Full) => {
                log::warn!(
                    "edge: {max_pulls} pulls running (-maxpulls); not pulling channel {shown}"
                );
                return false;
            }
        }
    };
    let stream = hub.new_stream(StreamType::Rtmp, url_text.clone());
    stream.set_protocol(Protocol::Relay);
    stream.set_rtmp_info(rtmp_info("pull", &url));
    let edge = EdgeWatch {
        channel: channel.clone(),
        _slot: slot,
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
    // `run` finishes the stream; the guard does it should the thread panic. The pull's slot is
    // freed when the pull is dropped: at the end of `run`, in a panic's unwinding, or here if the
    // thread cannot start.
    let guard = StreamGuard::new(hub.clone(), stream.clone());
    match net::spawn(format!("edge-{id}"), net::CONNECTION_STACK, move || {
        pull.run();
        drop(guard);
    }) {
        Ok(_) => {
            let url_shown = log_safe(&url_text, LOG_TEXT_MAX);
            log::info!("edge: stream {id} pulls channel {shown} from {url_shown}");
            true
        }
        Err(e) => {
            log::warn!("edge: cannot start a pull thread for {shown}: {e}");
            hub.finish_stream(&stream, CloseReason::Error);
            close_if_vacant(hub, &channel);
            false
        }
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

/// The paths with an edge pull, shared by the missing-channel handler and the pulls.
type ActivePulls = Arc<Mutex<HashSet<String>>>;

/// Why no slot was given.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SlotRefusal {
    /// The path has a pull already.
    Pulling,
    /// `-maxpulls` pulls are running.
    Full,
}

/// One edge pull's place in the set of active pulls (`-maxpulls`): freed when dropped, however
/// the pull's thread ends (a panic included).
pub(super) struct PullSlot {
    active: ActivePulls,
    path: String,
}

impl PullSlot {
    /// Take the slot of `path` in `pulls` (the locked `active`), if it is free and fewer than
    /// `max` pulls run.
    pub(super) fn take(
        active: &ActivePulls,
        pulls: &mut HashSet<String>,
        path: &str,
        max: usize,
    ) -> Result<PullSlot, SlotRefusal> {
        if pulls.contains(path) {
            return Err(SlotRefusal::Pulling);
        }
        if pulls.len() >= max {
            return Err(SlotRefusal::Full);
        }
        pulls.insert(path.to_string());
        Ok(PullSlot {
            active: active.clone(),
            path: path.to_string(),
        })
    }
}

impl Drop for PullSlot {
    fn drop(&mut self) {
        self.active.lock().remove(&self.path);
    }
}

/// An edge pull's view of its channel: stop once nobody has watched for `EDGE_IDLE`.
pub(super) struct EdgeWatch {
    channel: Arc<Channel>,
    /// Dropped with the pull: a later play may start a new one.
    _slot: PullSlot,
    empty_since: Option<Instant>,
    last_check: Instant,
}

impl EdgeWatch {
    pub(super) fn idle(&mut self) -> bool {
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

    /// The pull has ended: close its channel if nobody else feeds it (its slot is freed when
    /// the pull is dropped, right after).
    pub(super) fn release(&self, hub: &Hub) {
        close_if_vacant(hub, &self.channel);
    }
}
