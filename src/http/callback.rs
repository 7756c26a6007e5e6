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

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::{Condvar, Mutex};
use serde_json::Value;

use crate::hub::{EventSink, Hub};

/// Events waiting in each lane before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 4096;
/// Check lanes (streams are spread over them by key).
pub const CHECK_LANES: usize = 4;
/// Connect and whole-request timeout of each POST.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// The most of a reply body that is read.
const MAX_REPLY: u64 = 64 * 1024;
/// How long the event lane holds a stream's event for that stream's check before sending anyway.
const MAX_ORDER_WAIT: Duration = Duration::from_secs(30);
const STACK: usize = 512 * 1024;

struct Event {
    key: Option<u64>,
    name: &'static str,
    body: Value,
}

/// One warning per second at most; the rest are counted and reported with the next one.
struct Throttle {
    last: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    fn warn(&mut self, message: impl FnOnce() -> String) {
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
struct Shared {
    base: String,
    agent: ureq::Agent,
    hub: OnceLock<Weak<Hub>>,
    /// Stream keys with a `streamCheckParams` not yet delivered, and how many.
    checks_pending: Mutex<HashMap<u64, usize>>,
    check_done: Condvar,
    delivered: AtomicU64,
    failures: AtomicU64,
    dropped: AtomicU64,
    throttle: Mutex<Throttle>,
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
        let shared = Arc::new(Shared {
            base: base_url.trim_end_matches('/').to_string(),
            agent,
            hub: OnceLock::new(),
            checks_pending: Mutex::new(HashMap::new()),
            check_done: Condvar::new(),
            delivered: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            throttle: Mutex::new(Throttle {
                last: None,
                held_back: 0,
            }),
        });
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

    /// POSTs answered with a 2xx status.
    pub fn delivered(&self) -> u64 {
        self.shared.delivered.load(Ordering::Relaxed)
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
    fn emit(&self, stream_key: Option<u64>, name: &'static str, body: Value) {
        let event = Event {
            key: stream_key,
            name,
            body,
        };
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

/// Everything but `streamCheckParams`, in order, each after its stream's pending check.
fn event_lane(shared: &Shared, rx: Receiver<Event>) {
    for event in rx {
        if let Some(key) = event.key {
            shared.wait_for_checks(key);
        }
        shared.post(&event);
    }
}

/// `streamCheckParams` of the streams of one shard: post, then act on the reply.
fn check_lane(shared: &Shared, rx: Receiver<Event>) {
    for event in rx {
        if let Some(reply) = shared.post(&event) {
            shared.decide(&event, &reply);
        }
        shared.check_finished(event.key.unwrap_or(0));
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

    fn check_finished(&self, key: u64) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{CloseReason, HubSettings, StreamType};
    use serde_json::json;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;

    /// A callback server: records (path, body) and answers with `reply(path, body)`.
    struct Receiver {
        base: String,
        got: mpsc::Receiver<(String, Value)>,
    }

    fn receiver(reply: impl Fn(&str, &Value) -> (u16, String) + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/cb", listener.local_addr().unwrap());
        let (tx, got) = mpsc::channel();
        let reply = Arc::new(reply);
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let (tx, reply) = (tx.clone(), reply.clone());
                thread::spawn(move || serve_one(conn, &tx, &*reply));
            }
        });
        Receiver { base, got }
    }

    fn serve_one(
        conn: TcpStream,
        tx: &mpsc::Sender<(String, Value)>,
        reply: &(dyn Fn(&str, &Value) -> (u16, String) + Send + Sync),
    ) {
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let mut length = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            let (status, text) = reply(&path, &body);
            let _ = tx.send((path, body));
            let mut w = &conn;
            let _ = write!(
                w,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                text.len()
            );
        }
    }

    impl Receiver {
        fn next(&self) -> (String, Value) {
            self.got
                .recv_timeout(Duration::from_secs(5))
                .expect("an event")
        }
    }

    fn closed_port() -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        url
    }

    #[test]
    fn events_are_posted_in_order_to_base_event_name() {
        let r = receiver(|_, _| (200, "{}".into()));
        let sender = CallbackSender::start(format!("{}/", r.base));
        for i in 0..20 {
            sender.emit(Some(1), "streamConnected", json!({ "id": "1", "n": i }));
        }
        sender.emit(None, "channelClose", json!({ "id": "c" }));
        for i in 0..20 {
            let (path, body) = r.next();
            assert_eq!(path, "/cb/event/streamConnected");
            assert_eq!(body["n"], i);
        }
        assert_eq!(
            r.next(),
            ("/cb/event/channelClose".into(), json!({ "id": "c" }))
        );
        assert_eq!((sender.failures(), sender.dropped()), (0, 0));
    }

    #[test]
    fn a_dead_callback_server_costs_a_counter_and_never_blocks() {
        let sender = CallbackSender::start(closed_port());
        let start = Instant::now();
        for _ in 0..10 {
            sender.emit(Some(3), "streamClose", json!({ "id": "3" }));
        }
        assert!(start.elapsed() < Duration::from_millis(100));
        let deadline = Instant::now() + Duration::from_secs(10);
        while sender.failures() < 10 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(sender.failures(), 10);
        assert_eq!(sender.delivered(), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        // A server that accepts and never answers: the lane is stuck in its first POST.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sender = CallbackSender::start_with(base, 2, Duration::from_secs(1));
        let start = Instant::now();
        for _ in 0..10 {
            sender.emit(None, "channelClose", json!({ "id": "x" }));
        }
        assert!(start.elapsed() < Duration::from_millis(100));
        // One in flight (maybe), two queued: at least seven dropped.
        assert!(sender.dropped() >= 7, "dropped {}", sender.dropped());
        drop(listener);
    }

    #[test]
    fn non_2xx_answers_are_failures() {
        let r = receiver(|_, _| (500, "oops".into()));
        let sender = CallbackSender::start(r.base.clone());
        sender.emit(Some(1), "streamClose", json!({ "id": "1" }));
        r.next();
        let deadline = Instant::now() + Duration::from_secs(5);
        while sender.failures() == 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(sender.failures(), 1);
    }

    fn checking_hub(sender: &Arc<CallbackSender>, timeout: Duration) -> Arc<Hub> {
        let hub = Hub::new(
            HubSettings {
                check_params: true,
                check_timeout: timeout,
                ..HubSettings::default()
            },
            sender.clone(),
        );
        sender.attach_hub(&hub);
        hub
    }

    #[test]
    fn the_check_reply_accepts_or_rejects_the_stream() {
        let r = receiver(|path, body| {
            assert_eq!(path, "/cb/event/streamCheckParams");
            let accept = body["id"] == "1";
            (200, json!({ "accept": accept }).to_string())
        });
        let sender = CallbackSender::start(r.base.clone());
        let hub = checking_hub(&sender, Duration::from_secs(10));
        let a = hub.new_stream(StreamType::Rtmp, "127.0.0.1:1".into());
        let b = hub.new_stream(StreamType::Rtmp, "127.0.0.1:2".into());
        let start = Instant::now();
        assert_eq!(hub.check_params(&a), Ok(()));
        assert_eq!(hub.check_params(&b), Err(CloseReason::Rejected));
        assert!(start.elapsed() < Duration::from_secs(5));
        let (_, body) = r.next();
        assert_eq!(
            (&body["id"], &body["type"], &body["remoteAddr"]),
            (&json!("1"), &json!("rtmp"), &json!("127.0.0.1:1"))
        );
    }

    #[test]
    fn other_replies_leave_the_decision_to_the_api() {
        let r = receiver(|_, _| (200, "{\"ok\": true}".into()));
        let sender = CallbackSender::start(r.base.clone());
        let hub = checking_hub(&sender, Duration::from_millis(300));
        let s = hub.new_stream(StreamType::Rtmp, "x".into());
        assert_eq!(hub.check_params(&s), Err(CloseReason::Timeout));
        r.next();
    }

    #[test]
    fn a_streams_later_events_wait_for_its_check_but_other_streams_do_not() {
        // The check of stream 1 is answered slowly: stream 2's event does not wait for it, stream
        // 1's streamClose does.
        let r = receiver(|path, _| {
            if path.ends_with("streamCheckParams") {
                thread::sleep(Duration::from_millis(400));
            }
            (200, "{}".into())
        });
        let sender = CallbackSender::start(r.base.clone());
        sender.emit(Some(1), "streamCheckParams", json!({ "id": "1" }));
        sender.emit(Some(2), "streamClose", json!({ "id": "2" }));
        sender.emit(Some(1), "streamClose", json!({ "id": "1" }));
        let order: Vec<(String, Value)> = (0..3).map(|_| r.next()).collect();
        let names: Vec<String> = order
            .iter()
            .map(|(p, b)| format!("{} {}", p.rsplit('/').next().unwrap(), b["id"]))
            .collect();
        // The check is recorded when its reply is written, so it shows after stream 2's event
        // and before stream 1's close.
        assert_eq!(
            names,
            [
                "streamClose \"2\"",
                "streamCheckParams \"1\"",
                "streamClose \"1\""
            ]
        );
    }

    #[test]
    fn throttle_holds_back_warnings_within_a_second() {
        let mut t = Throttle {
            last: None,
            held_back: 0,
        };
        let mut shown = 0;
        for _ in 0..5 {
            t.warn(|| {
                shown += 1;
                String::new()
            });
        }
        assert_eq!((shown, t.held_back), (1, 4));
    }
}
