//! The event sender of `-httpcallback=BASE`: each hub event becomes `POST BASE/event/NAME` with a
//! JSON body, sent from threads of its own so that delivery never blocks media or the API.
//!
//! ```text
//! Hub::emit (never blocks: try_send, or drop + count)
//!   |-- streamCheckParams --> check lane k = stream_key % 4  (threads `callback-check-k`)
//!   |                           POST, then act on the reply {"accept": true|false}
//!   `-- everything else ----> event lane                      (thread `callback`)
//!                               waits while its stream still has a check in a check lane
//! ```
//!
//! Two kinds of lane, so that a stream waiting for its accept/reject never waits behind a backlog
//! of other events (nor behind another stream's slow check: check lanes are sharded by stream).
//! Order per stream is kept: a stream's events after its `streamCheckParams` (streamConnected,
//! streamClose) are held in the event lane until that check has been delivered (or has failed).
//! The event lane is one FIFO, so all other events keep the order the hub emitted them in (a
//! publisher's streamClose before its channel's channelClose); the price is that while it holds
//! an event for a check still in flight (at most the 3 s request timeout per check), the events
//! behind it wait too. That only happens when a stream was decided or closed before the callback
//! server answered its check.
//!
//! The reply to `streamCheckParams` is acted upon when it is `200` with `{"accept": true}` (the
//! stream is accepted) or `{"accept": false}` (rejected); any other reply leaves the decision to
//! `/stream/accept`, `/stream/reject` or the timeout. The decision follows the stream itself, so a
//! `/stream/changeid` made before the reply does not lose it.
//!
//! Each request has a 3 s timeout. A failure (refused, timed out, non-2xx) costs a counter and a
//! warning, at most one warning per second (with the count of the ones held back).
//!
//! This file is the handle the hub emits into; `lanes` holds the threads and the POST.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde_json::Value;

use crate::hub::{EventSink, Hub, HubEvent};
use lanes::{check_lane, event_lane, Shared};

mod lanes;
#[cfg(test)]
mod tests;

/// Events waiting in each lane before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 4096;
/// Check lanes (streams are spread over them by key).
pub const CHECK_LANES: usize = 4;
/// Connect and whole-request timeout of each POST.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
const STACK: usize = 512 * 1024;

struct Event {
    key: Option<u64>,
    name: &'static str,
    body: Value,
}

/// The `-httpcallback` event sink. Dropping it lets its threads finish the queued events and end.
pub struct CallbackSender {
    shared: Arc<Shared>,
    events: Sender<Event>,
    checks: Vec<Sender<Event>>,
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
            .user_agent(concat!("joy4/", env!("CARGO_PKG_VERSION")))
            .build();
        let shared = Arc::new(Shared::new(
            base_url.trim_end_matches('/').to_string(),
            agent,
        ));
        let (events, rx) = crossbeam_channel::bounded(capacity);
        spawn("callback".into(), shared.clone(), rx, event_lane);
        let checks = (0..CHECK_LANES)
            .map(|i| {
                let (tx, rx) = crossbeam_channel::bounded(capacity);
                spawn(
                    format!("callback-check-{i}"),
                    shared.clone(),
                    rx,
                    check_lane,
                );
                tx
            })
            .collect();
        log::info!("callbacks go to {}/event/NAME", shared.base);
        if !shared.base.starts_with("http://") {
            // ureq is built without TLS (no extra crates): only plain http works.
            log::warn!(
                "callbacks to {} will fail: only http:// URLs are supported",
                shared.base
            );
        }
        Arc::new(CallbackSender {
            shared,
            events,
            checks,
        })
    }

    /// Give the sender the hub it accepts and rejects streams in (the hub is built with the sender
    /// as its event sink, so this comes after). Only the first call counts.
    pub fn attach_hub(&self, hub: &Arc<Hub>) {
        let _ = self.shared.hub.set(Arc::downgrade(hub));
    }

    /// POSTs that failed (refused, timed out, answered with a non-2xx status).
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }

    /// Events dropped because a queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Events waiting in the lanes.
    pub fn queued(&self) -> usize {
        self.events.len() + self.checks.iter().map(Sender::len).sum::<usize>()
    }

    /// POSTs answered with a 2xx status.
    pub fn delivered(&self) -> u64 {
        self.shared.delivered.load(Ordering::Relaxed)
    }

    /// Wait until every event queued so far has been posted (answered, or failed), but not past
    /// `deadline` (a shutdown delivers its close events within a bound). Returns how many events
    /// were still queued or in flight when it gave up: 0 when all went out.
    pub fn drain(&self, deadline: Instant) -> usize {
        let mut outstanding = self.shared.outstanding.lock();
        while *outstanding > 0 {
            if self
                .shared
                .drained
                .wait_until(&mut outstanding, deadline)
                .timed_out()
            {
                break;
            }
        }
        *outstanding
    }
}

fn spawn(
    name: String,
    shared: Arc<Shared>,
    rx: Receiver<Event>,
    lane: fn(&Shared, Receiver<Event>),
) {
    thread::Builder::new()
        .name(name)
        .stack_size(STACK)
        .spawn(move || lane(&shared, rx))
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
        let event = Event {
            key: stream_key,
            name,
            body,
        };
        self.shared.event_queued();
        let sent = if name == "streamCheckParams" {
            let key = stream_key.unwrap_or(0);
            let lane = &self.checks[(key % self.checks.len() as u64) as usize];
            *self.shared.checks_pending.lock().entry(key).or_default() += 1;
            let sent = lane.try_send(event);
            if sent.is_err() {
                self.shared.check_finished(key);
            }
            sent
        } else {
            self.events.try_send(event)
        };
        if let Err(e) = sent {
            self.shared.event_done();
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            let why = match e {
                TrySendError::Full(_) => "the queue is full",
                TrySendError::Disconnected(_) => "the sender thread has ended",
            };
            self.shared
                .throttle
                .lock()
                .warn(|| format!("callback event {name} dropped: {why}"));
        }
    }
}
