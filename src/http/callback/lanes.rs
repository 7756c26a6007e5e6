//! The lane threads and the state they share with the sender handle: holding a stream's events
//! behind its pending check, the POST itself, and acting on a check's reply.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use parking_lot::{Condvar, Mutex};
use serde_json::Value;

use super::Event;
use crate::hub::Hub;

/// The most of a reply body that is read.
const MAX_REPLY: u64 = 64 * 1024;
/// How long the event lane holds a stream's event for that stream's check before sending anyway.
const MAX_ORDER_WAIT: Duration = Duration::from_secs(30);

/// One warning per second at most; the rest are counted and reported with the next one.
pub(super) struct Throttle {
    pub(super) last: Option<Instant>,
    pub(super) held_back: u64,
}

impl Throttle {
    pub(super) fn warn(&mut self, message: impl FnOnce() -> String) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            self.held_back += 1;
            return;
        }
        let more = match std::mem::take(&mut self.held_back) {
            0 => String::new(),
            n => format!(" ({n} similar warnings held back)"),
        };
        let text = message();
        log::warn!("{text}{more}");
        self.last = Some(now);
    }
}

/// State shared by the sender handle and its threads.
pub(super) struct Shared {
    pub(super) base: String,
    agent: ureq::Agent,
    pub(super) hub: OnceLock<Weak<Hub>>,
    /// Stream keys with a `streamCheckParams` not yet delivered, and how many.
    pub(super) checks_pending: Mutex<HashMap<u64, usize>>,
    check_done: Condvar,
    /// Events queued or being posted, in every lane; `drained` is signalled when it drops to 0.
    pub(super) outstanding: Mutex<usize>,
    pub(super) drained: Condvar,
    pub(super) delivered: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) throttle: Mutex<Throttle>,
}

impl Shared {
    pub(super) fn new(base: String, agent: ureq::Agent) -> Shared {
        Shared {
            base,
            agent,
            hub: OnceLock::new(),
            checks_pending: Mutex::new(HashMap::new()),
            check_done: Condvar::new(),
            outstanding: Mutex::new(0),
            drained: Condvar::new(),
            delivered: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            throttle: Mutex::new(Throttle {
                last: None,
                held_back: 0,
            }),
        }
    }
}

/// Everything but `streamCheckParams`, in order, each after its stream's pending check.
pub(super) fn event_lane(shared: &Shared, rx: Receiver<Event>) {
    for event in rx {
        if let Some(key) = event.key {
            shared.wait_for_checks(key);
        }
        shared.post(&event);
        shared.event_done();
    }
}

/// `streamCheckParams` of the streams of one shard: post, then act on the reply.
pub(super) fn check_lane(shared: &Shared, rx: Receiver<Event>) {
    for event in rx {
        if let Some(reply) = shared.post(&event) {
            shared.decide(&event, &reply);
        }
        shared.check_finished(event.key.unwrap_or(0));
        shared.event_done();
    }
}

impl Shared {
    /// An event was queued (it counts until a lane has handled it).
    pub(super) fn event_queued(&self) {
        *self.outstanding.lock() += 1;
    }

    /// A queued event was posted (or failed, or could not be queued after all).
    pub(super) fn event_done(&self) {
        let mut outstanding = self.outstanding.lock();
        *outstanding = outstanding.saturating_sub(1);
        if *outstanding == 0 {
            self.drained.notify_all();
        }
    }

    fn wait_for_checks(&self, key: u64) {
        let deadline = Instant::now() + MAX_ORDER_WAIT;
        let mut pending = self.checks_pending.lock();
        while pending.contains_key(&key) {
            if self
                .check_done
                .wait_until(&mut pending, deadline)
                .timed_out()
            {
                log::warn!("callback: stream {key}'s streamCheckParams is still queued after {MAX_ORDER_WAIT:?}; sending its later events anyway");
                return;
            }
        }
    }

    pub(super) fn check_finished(&self, key: u64) {
        let mut pending = self.checks_pending.lock();
        if let Some(n) = pending.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                pending.remove(&key);
            }
        }
        drop(pending);
        self.check_done.notify_all();
    }

    /// POST one event; the reply's JSON when the status is 200 and the body parses.
    fn post(&self, event: &Event) -> Option<Value> {
        let url = format!("{}/event/{}", self.base, event.name);
        match self.agent.post(&url).send_json(&event.body) {
            Ok(response) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
                let status = response.status();
                let mut body = Vec::new();
                let read = response
                    .into_reader()
                    .take(MAX_REPLY)
                    .read_to_end(&mut body);
                log::debug!("callback {url} -> {status}");
                match read {
                    Ok(_) if status == 200 => serde_json::from_slice(&body).ok(),
                    _ => None,
                }
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let why = match e {
                    ureq::Error::Status(code, _) => format!("answered {code}"),
                    ureq::Error::Transport(t) => t.to_string(),
                };
                self.throttle
                    .lock()
                    .warn(|| format!("callback POST {url} failed: {why}"));
                None
            }
        }
    }

    /// Act on a `streamCheckParams` reply of `{"accept": true|false}`.
    fn decide(&self, event: &Event, reply: &Value) {
        let Some(accept) = reply.get("accept").and_then(Value::as_bool) else {
            return;
        };
        let Some(id) = event.body.get("id").and_then(Value::as_str) else {
            return;
        };
        let Some(hub) = self.hub.get().and_then(Weak::upgrade) else {
            log::debug!("callback: no hub attached; reply for stream {id} ignored");
            return;
        };
        let verb = if accept { "accepted" } else { "rejected" };
        // By the stream's key, not its id: a /stream/changeid before the reply is followed.
        let result = match event.key {
            Some(key) => hub.decide_stream_key(key, accept),
            None if accept => hub.accept_stream(id),
            None => hub.reject_stream(id),
        };
        match result {
            Ok(()) => log::info!("stream {id} {verb} by the callback's reply"),
            // Already decided through the API, timed out, or gone.
            Err(e) => log::debug!("callback reply for stream {id} not applied: {e}"),
        }
    }
}
