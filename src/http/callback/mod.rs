//! The event sender of `-httpcallback=BASE`: each hub event becomes `POST BASE/event/NAME` with a
//! JSON body, sent from threads of its own so that delivery never blocks media or the API.
//!
//! ```text
//! Hub::emit (never blocks: queue, or drop + count)
//!   |-- streamCheckParams --> check lane k = stream key % 4    (threads `callback-check-k`)
//!   |                           POST, then act on the reply {"accept": true|false}
//!   `-- everything else ----> event lane k = stream key % 4    (threads `callback-k`)
//!                               (a channelClose: by its channel's name)
//!                               waits while its stream still has a check in a check lane
//! ```
//!
//! Lanes send in parallel over kept-alive connections (one ureq `Agent`, a pool as large as the
//! lanes), so a local controller sees thousands of events a second. A stream's events always take
//! the same lane, so they arrive in order; its events after its `streamCheckParams`
//! (streamConnected, streamClose) are held until that check has been delivered (or has failed).
//! A channelClose waits until the events queued before it in the other lanes are sent, so a
//! publisher's streamClose comes before its channel's channelClose. Check lanes are separate so
//! that a stream waiting for its accept/reject never waits behind a backlog of other events.
//!
//! The queues are bounded (`QUEUE_CAPACITY` events for all event lanes together); the last
//! `CLOSE_RESERVE` places are kept for streamClose and channelClose, and when even those are
//! taken a close event replaces the oldest queued streamConnected. Whatever is not sent is counted
//! per event name ([`CallbackStats`]: sent, failed, dropped, queued) and logged at warn, at most
//! once a second.
//!
//! The reply to `streamCheckParams` is acted upon when it is `200` with `{"accept": true}` (the
//! stream is accepted) or `{"accept": false}` (rejected); any other reply leaves the decision to
//! `/stream/accept`, `/stream/reject` or the timeout. The decision follows the stream itself, so a
//! `/stream/changeid` made before the reply does not lose it.
//!
//! Each request has a 3 s timeout. A failed POST (refused, timed out, non-2xx, not HTTP) is not
//! retried: the event is counted as failed and the lane goes on with the next one, so delivery
//! resumes, in order, as soon as the controller answers again.
//!
//! This file is the handle the hub emits into; `queue` holds the bounded lanes, `lanes` the
//! threads and the POST, `counters` what became of the events.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::hub::{EventSink, Hub, HubEvent};
use counters::Fate;
pub use counters::{CallbackStats, EventCounts};
use lanes::{check_lane, event_lane, Shared};
use queue::{Event, Pushed, Queues};

mod counters;
mod lanes;
mod queue;
#[cfg(test)]
mod tests;

/// Events waiting in the event lanes together before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 4096;
/// The places of `QUEUE_CAPACITY` only streamClose and channelClose may take.
pub const CLOSE_RESERVE: usize = 1024;
/// Lanes for events other than `streamCheckParams` (streams are spread over them by key).
pub const EVENT_LANES: usize = 4;
/// Check lanes (streams are spread over them by key).
pub const CHECK_LANES: usize = 4;
/// Connect and whole-request timeout of each POST.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
const STACK: usize = 512 * 1024;

/// The `-httpcallback` event sink. Dropping it lets its threads finish the queued events and end.
pub struct CallbackSender {
    shared: Arc<Shared>,
}

impl CallbackSender {
    /// Start the sender threads for callbacks to `base_url` (`http://host:port/prefix`).
    pub fn start(base_url: String) -> Arc<CallbackSender> {
        Self::start_with(base_url, QUEUE_CAPACITY, REQUEST_TIMEOUT)
    }

    fn start_with(base_url: String, capacity: usize, timeout: Duration) -> Arc<CallbackSender> {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout(timeout)
            .max_idle_connections(EVENT_LANES + CHECK_LANES)
            .max_idle_connections_per_host(EVENT_LANES + CHECK_LANES)
            .user_agent(concat!("joy4/", env!("CARGO_PKG_VERSION")))
            .build();
        let reserve = CLOSE_RESERVE * capacity / QUEUE_CAPACITY;
        let shared = Arc::new(Shared::new(
            base_url.trim_end_matches('/').to_string(),
            agent,
            Queues::new(EVENT_LANES, capacity, reserve),
            Queues::new(CHECK_LANES, capacity, 0),
        ));
        for lane in 0..EVENT_LANES {
            spawn(format!("callback-{lane}"), shared.clone(), lane, event_lane);
        }
        for lane in 0..CHECK_LANES {
            spawn(
                format!("callback-check-{lane}"),
                shared.clone(),
                lane,
                check_lane,
            );
        }
        log::info!("callbacks go to {}/event/NAME", shared.base);
        if !shared.base.starts_with("http://") {
            // ureq is built without TLS (no extra crates): only plain http works.
            log::warn!(
                "callbacks to {} will fail: only http:// URLs are supported",
                shared.base
            );
        }
        Arc::new(CallbackSender { shared })
    }

    /// Give the sender the hub it accepts and rejects streams in (the hub is built with the sender
    /// as its event sink, so this comes after). Only the first call counts.
    pub fn attach_hub(&self, hub: &Arc<Hub>) {
        let _ = self.shared.hub.set(Arc::downgrade(hub));
    }

    /// What became of the events so far: sent, failed, dropped (in all and per event name), and
    /// how many wait in the queues.
    pub fn stats(&self) -> CallbackStats {
        let queued = self.shared.events.len() + self.shared.checks.len();
        self.shared.counters.snapshot(queued)
    }

    /// Wait until every queued event has been posted (answered or failed), or `deadline`
    /// passes (shutdown); returns how many were still queued or being posted.
    pub fn drain(&self, deadline: std::time::Instant) -> usize {
        self.shared.events.wait_idle(deadline) + self.shared.checks.wait_idle(deadline)
    }
}

impl Drop for CallbackSender {
    fn drop(&mut self) {
        self.shared.events.close();
        self.shared.checks.close();
    }
}

fn spawn(name: String, shared: Arc<Shared>, lane: usize, run: fn(&Shared, usize)) {
    thread::Builder::new()
        .name(name)
        .stack_size(STACK)
        .spawn(move || run(&shared, lane))
        .expect("spawn a callback thread");
}

impl EventSink for CallbackSender {
    fn emit(&self, stream_key: Option<u64>, event: HubEvent) {
        self.post(
            stream_key,
            event.name(),
            crate::http::json::event_json(&event),
        );
    }
}

impl CallbackSender {
    /// Queue the POST of `body` to `…/event/NAME`; never blocks (a full queue drops and counts).
    pub fn post(&self, stream_key: Option<u64>, name: &'static str, body: Value) {
        let shared = &self.shared;
        let event = Event {
            key: stream_key,
            name,
            body,
        };
        let pushed = if name == "streamCheckParams" {
            let key = stream_key.unwrap_or(0);
            *shared.checks_pending.lock().entry(key).or_default() += 1;
            let pushed = shared.checks.push(lane_of(&event, &shared.checks), event);
            if pushed == Pushed::Dropped {
                shared.check_finished(key);
            }
            pushed
        } else {
            shared.events.push(lane_of(&event, &shared.events), event)
        };
        let (dropped, why) = match pushed {
            Pushed::Queued => return,
            Pushed::Replaced(older) => (older, "to make room for a close event"),
            Pushed::Dropped => (name, "the queue is full"),
        };
        shared.counters.add(dropped, Fate::Dropped);
        let pass = shared.drop_warnings.lock().pass();
        if let Some(held_back) = pass {
            let totals: Vec<String> = shared
                .counters
                .snapshot(0)
                .events
                .iter()
                .filter(|(_, c)| c.dropped > 0)
                .map(|(name, c)| format!("{name} {}", c.dropped))
                .collect();
            counters::warn(
                &format!(
                    "callback event {dropped} dropped: {why} (dropped so far: {})",
                    totals.join(", ")
                ),
                held_back,
            );
        }
    }
}

/// A stream's lane is its key's shard; a keyless event (channelClose) goes by the id in its body.
fn lane_of(event: &Event, queues: &Queues) -> usize {
    let hash = match event.key {
        Some(key) => key,
        None => {
            let mut h = DefaultHasher::new();
            event.body.get("id").and_then(Value::as_str).hash(&mut h);
            h.finish()
        }
    };
    (hash % queues.lanes() as u64) as usize
}
