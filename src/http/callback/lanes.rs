//! The lane threads and the state they share with the sender handle: holding a stream's events
//! behind its pending check, the POST itself, and acting on a check's reply.

use std::collections::HashMap;
use std::io::{ErrorKind, Read};
use std::sync::{OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde_json::Value;

use super::counters::{warn, Counters, Fate, Throttle};
use super::queue::{Event, Queues};
use crate::hub::Hub;

/// The most of a reply body that is read.
const MAX_REPLY: u64 = 64 * 1024;
/// How long a lane holds an event for its stream's check, or a channelClose for the events
/// queued before it, before sending it anyway.
const MAX_ORDER_WAIT: Duration = Duration::from_secs(30);

/// State shared by the sender handle and its threads.
pub(super) struct Shared {
    pub(super) base: String,
    agent: ureq::Agent,
    pub(super) hub: OnceLock<Weak<Hub>>,
    /// Everything but `streamCheckParams`, one lane per shard of stream keys.
    pub(super) events: Queues,
    /// `streamCheckParams`, one lane per shard of stream keys.
    pub(super) checks: Queues,
    /// Stream keys with a `streamCheckParams` not yet delivered, and how many.
    pub(super) checks_pending: Mutex<HashMap<u64, usize>>,
    check_done: Condvar,
    pub(super) counters: Counters,
    failure_warnings: Mutex<Throttle>,
    pub(super) drop_warnings: Mutex<Throttle>,
}

impl Shared {
    pub(super) fn new(base: String, agent: ureq::Agent, events: Queues, checks: Queues) -> Shared {
        Shared {
            base,
            agent,
            hub: OnceLock::new(),
            events,
            checks,
            checks_pending: Mutex::new(HashMap::new()),
            check_done: Condvar::new(),
            counters: Counters::default(),
            failure_warnings: Mutex::new(Throttle::new()),
            drop_warnings: Mutex::new(Throttle::new()),
        }
    }
}

/// Lane `lane` of everything but `streamCheckParams`: in order, each event after its stream's
/// pending check, a channelClose after the events queued before it in the other lanes.
pub(super) fn event_lane(shared: &Shared, lane: usize) {
    while let Some((seq, event)) = shared.events.pop(lane) {
        match event.key {
            Some(key) => shared.wait_for_checks(key),
            None => {
                if !shared.events.wait_for_earlier(lane, seq, MAX_ORDER_WAIT) {
                    log::warn!("callback: events queued before a {} are still unsent after {MAX_ORDER_WAIT:?}; sending it anyway", event.name);
                }
            }
        }
        shared.post(&event);
        shared.events.finished(lane);
    }
}

/// Lane `lane` of `streamCheckParams`: post, then act on the reply.
pub(super) fn check_lane(shared: &Shared, lane: usize) {
    while let Some((_, event)) = shared.checks.pop(lane) {
        if let Some(reply) = shared.post(&event) {
            shared.decide(&event, &reply);
        }
        shared.check_finished(event.key.unwrap_or(0));
        shared.checks.finished(lane);
    }
}

impl Shared {
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
        let body = serde_json::to_vec(&event.body).unwrap_or_default();
        // A kept-alive connection the controller closed while it was idle fails at once: one
        // more try on a fresh connection.
        let mut tries = 0;
        let result = loop {
            tries += 1;
            let result = self
                .agent
                .post(&url)
                .set("Content-Type", "application/json")
                .send_bytes(&body);
            match result {
                Err(e) if tries == 1 && is_stale_connection(&e) => continue,
                other => break other,
            }
        };
        match result {
            Ok(response) => {
                self.counters.add(event.name, Fate::Sent);
                let status = response.status();
                let mut reply = Vec::new();
                let read = response
                    .into_reader()
                    .take(MAX_REPLY)
                    .read_to_end(&mut reply);
                log::debug!("callback {url} -> {status}");
                match read {
                    Ok(_) if status == 200 => serde_json::from_slice(&reply).ok(),
                    _ => None,
                }
            }
            Err(e) => {
                self.counters.add(event.name, Fate::Failed);
                let why = match e {
                    ureq::Error::Status(code, _) => format!("answered {code}"),
                    ureq::Error::Transport(t) => t.to_string(),
                };
                let pass = self.failure_warnings.lock().pass();
                if let Some(held_back) = pass {
                    warn(&format!("callback POST {url} failed: {why}"), held_back);
                }
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

/// A reset, broken pipe or early end of a reused connection (not a refusal or a timeout).
fn is_stale_connection(e: &ureq::Error) -> bool {
    let ureq::Error::Transport(t) = e else {
        return false;
    };
    let io = std::error::Error::source(t).and_then(|s| s.downcast_ref::<std::io::Error>());
    io.is_some_and(|io| {
        matches!(
            io.kind(),
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
        )
    })
}
