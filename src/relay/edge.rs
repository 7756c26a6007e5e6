//! Edge mode: a play of an unknown channel creates it and pulls it from the first of the
//! origins that has it (`origins`: failing over to the next); the pull stops, and the channel
//! closes, once nobody has watched it for `EDGE_IDLE`.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;

use super::connection::rtmp_info;
use super::edge_watch::{close_if_vacant, ActivePulls, EdgeWatch, PullSlot, SlotRefusal};
use super::origins::Origins;
use super::pull::Pull;
use super::request::Source;
use crate::hub::{CloseReason, Hub, Protocol, StreamGuard, StreamType};
use crate::net;
use crate::rtmp::client::RtmpUrl;
use crate::rtmp::session;
use crate::text::{log_safe, LOG_TEXT_MAX};

/// Edge mode: a play of an unknown channel creates it and pulls it from the first of `origins`
/// (`rtmp://host[:port]`): channel `live/abc` from `{origin}/live/abc`, channel `abc` from
/// `{origin}/abc/abc` (app and name `abc`, which joy4 maps back to channel `abc`). A pull that
/// fails moves to the next origin at once (see `origins`). The pull stops, and the channel
/// closes, once the channel has had no subscriber for 5 s. At most `max_pulls` pulls run at
/// once; a play of another unknown channel then finds none.
pub fn install_edge(hub: &Arc<Hub>, origins: Vec<String>, max_pulls: usize) {
    let active: ActivePulls = Arc::new(Mutex::new(HashSet::new()));
    hub.set_missing_channel_handler(Box::new(move |hub: &Arc<Hub>, path: &str| {
        start_edge_pull(hub, &origins, path, &active, max_pulls)
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

/// The channel's URL on each origin that can serve its path.
fn origin_urls(origins: &[String], path: &str) -> Vec<RtmpUrl> {
    let shown = log_safe(path, LOG_TEXT_MAX);
    let mut urls = Vec::with_capacity(origins.len());
    for origin in origins {
        let url_text = edge_url(origin, path);
        match RtmpUrl::parse(&url_text) {
            Ok(url) if session::channel_path(&url.app, url.stream_name()) == path => urls.push(url),
            Ok(_) | Err(_) => {
                let url_shown = log_safe(&url_text, LOG_TEXT_MAX);
                log::info!("edge: channel \"{shown}\" cannot be pulled from \"{url_shown}\"");
            }
        }
    }
    urls
}

fn start_edge_pull(
    hub: &Arc<Hub>,
    origins: &[String],
    path: &str,
    active: &ActivePulls,
    max_pulls: usize,
) -> bool {
    let shown = log_safe(path, LOG_TEXT_MAX);
    let urls = origin_urls(origins, path);
    let Some(url) = urls.first().cloned() else {
        return false;
    };
    let url_text = url.to_string();
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
    let edge = EdgeWatch::new(channel.clone(), slot, Origins::new(urls));
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
