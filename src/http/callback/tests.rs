use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::json;

use std::sync::atomic::{AtomicBool, Ordering};

use super::counters::Throttle;
use super::queue::{Pushed, Queues};
use super::*;
use crate::hub::{CloseReason, HubSettings, StreamType};

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
        let mut w = &conn;
        if status == 0 {
            // Not HTTP at all.
            let _ = w.write_all(text.as_bytes());
            continue;
        }
        let _ = tx.send((path, body));
        // One write: a reply split over several small writes waits for delayed ACKs (Nagle).
        let answer = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        let _ = w.write_all(answer.as_bytes());
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
        sender.post(Some(1), "streamConnected", json!({ "id": "1", "n": i }));
    }
    sender.post(None, "channelClose", json!({ "id": "c" }));
    for i in 0..20 {
        let (path, body) = r.next();
        assert_eq!(path, "/cb/event/streamConnected");
        assert_eq!(body["n"], i);
    }
    assert_eq!(
        r.next(),
        ("/cb/event/channelClose".into(), json!({ "id": "c" }))
    );
    let stats = sender.stats();
    assert_eq!((stats.failed, stats.dropped), (0, 0));
}

#[test]
fn a_dead_callback_server_costs_a_counter_and_never_blocks() {
    let sender = CallbackSender::start(closed_port());
    let start = Instant::now();
    for _ in 0..10 {
        sender.post(Some(3), "streamClose", json!({ "id": "3" }));
    }
    assert!(start.elapsed() < Duration::from_millis(100));
    let deadline = Instant::now() + Duration::from_secs(10);
    while sender.stats().failed < 10 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let stats = sender.stats();
    assert_eq!((stats.failed, stats.sent), (10, 0));
    assert_eq!(stats.events["streamClose"].failed, 10);
}

#[test]
fn a_full_queue_drops_and_counts() {
    // A server that accepts and never answers: the lane is stuck in its first POST.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sender = CallbackSender::start_with(base, 2, Duration::from_secs(1));
    let start = Instant::now();
    for _ in 0..10 {
        sender.post(None, "channelClose", json!({ "id": "x" }));
    }
    assert!(start.elapsed() < Duration::from_millis(100));
    // At most one in flight per lane, two queued: at least four dropped, and counted by name.
    let stats = sender.stats();
    assert!(stats.dropped >= 4, "{stats:?}");
    assert_eq!(stats.events["channelClose"].dropped, stats.dropped);
    drop(listener);
}

#[test]
fn non_2xx_answers_are_failures() {
    let r = receiver(|_, _| (500, "oops".into()));
    let sender = CallbackSender::start(r.base.clone());
    sender.post(Some(1), "streamClose", json!({ "id": "1" }));
    r.next();
    let deadline = Instant::now() + Duration::from_secs(5);
    while sender.stats().failed == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(sender.stats().failed, 1);
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
    sender.post(Some(1), "streamCheckParams", json!({ "id": "1" }));
    sender.post(Some(2), "streamClose", json!({ "id": "2" }));
    sender.post(Some(1), "streamClose", json!({ "id": "1" }));
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
    let mut t = Throttle::new();
    let passed: Vec<Option<u64>> = (0..5).map(|_| t.pass()).collect();
    assert_eq!(passed, [Some(0), None, None, None, None]);
    assert_eq!(t.held_back, 4);
}

fn event(key: Option<u64>, name: &'static str, n: u64) -> Event {
    Event {
        key,
        name,
        body: json!({ "n": n }),
    }
}

#[test]
fn the_last_places_of_the_queue_are_kept_for_close_events() {
    let q = Queues::new(2, 4, 2);
    assert_eq!(
        q.push(0, event(Some(0), "streamConnected", 0)),
        Pushed::Queued
    );
    assert_eq!(
        q.push(1, event(Some(1), "streamConnected", 1)),
        Pushed::Queued
    );
    assert_eq!(
        q.push(0, event(Some(0), "streamConnected", 2)),
        Pushed::Dropped
    );
    assert_eq!(q.push(0, event(Some(0), "streamClose", 3)), Pushed::Queued);
    assert_eq!(q.push(1, event(None, "channelClose", 4)), Pushed::Queued);
    assert_eq!(q.len(), 4);
}

#[test]
fn a_close_event_replaces_the_oldest_streamconnected_when_the_queue_is_full() {
    let q = Queues::new(2, 3, 0);
    q.push(1, event(Some(1), "streamConnected", 0));
    q.push(0, event(Some(0), "streamConnected", 1));
    q.push(0, event(Some(0), "streamClose", 2));
    assert_eq!(
        q.push(0, event(Some(0), "streamClose", 3)),
        Pushed::Replaced("streamConnected")
    );
    // The oldest (lane 1's) went; lane 0 keeps its order.
    let lane0: Vec<Value> = (0..3)
        .map(|_| q.pop(0).unwrap().1.body["n"].clone())
        .collect();
    assert_eq!(lane0, [json!(1), json!(2), json!(3)]);
    assert_eq!(q.len(), 0);
    // Only close events queued: another close is dropped, not one of them.
    let q = Queues::new(1, 1, 0);
    q.push(0, event(Some(0), "streamClose", 0));
    assert_eq!(q.push(0, event(Some(0), "streamClose", 1)), Pushed::Dropped);
}

#[test]
fn a_keyless_event_waits_for_the_events_queued_before_it_in_other_lanes() {
    let q = Arc::new(Queues::new(2, 8, 0));
    q.push(0, event(Some(0), "streamClose", 0));
    q.push(1, event(None, "channelClose", 1));
    q.push(0, event(Some(0), "streamClose", 2));
    let (seq0, _) = q.pop(0).unwrap();
    let (seq1, _) = q.pop(1).unwrap();
    assert!(seq0 < seq1);
    // Lane 0 is still sending its first event: lane 1 waits.
    assert!(!q.wait_for_earlier(1, seq1, Duration::from_millis(50)));
    let q2 = q.clone();
    let finisher = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        q2.finished(0);
    });
    // The later event of lane 0 is not waited for.
    assert!(q.wait_for_earlier(1, seq1, Duration::from_secs(5)));
    finisher.join().unwrap();
}

/// Wait until `pred(stats)` or panic after 10 s.
fn wait_stats(sender: &CallbackSender, pred: impl Fn(&CallbackStats) -> bool) -> CallbackStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = sender.stats();
        if pred(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "{stats:?}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Post `n` events of each of `streams` streams (streamConnected then streamClose alternating),
/// and check that each stream's events arrived in order.
fn assert_in_order_per_stream(got: &[(String, Value)]) {
    let mut last: std::collections::HashMap<String, i64> = Default::default();
    for (_, body) in got {
        let id = body["id"].as_str().unwrap().to_string();
        let n = body["n"].as_i64().unwrap();
        let prev = last.insert(id.clone(), n);
        assert!(
            prev.is_none_or(|p| p < n),
            "stream {id}: {n} after {prev:?}"
        );
    }
}

#[test]
fn delivery_to_a_local_controller_keeps_up_with_thousands_of_events_a_second() {
    let r = receiver(|_, _| (200, "{}".into()));
    let sender = CallbackSender::start(r.base.clone());
    // A burst that fits in the queue (the share of it streamConnected may take).
    const EVENTS: u64 = 3000;
    let start = Instant::now();
    for i in 0..EVENTS {
        let key = i % 50;
        let name = if i % 2 == 0 {
            "streamConnected"
        } else {
            "streamClose"
        };
        sender.post(Some(key), name, json!({ "id": key.to_string(), "n": i }));
    }
    let got: Vec<(String, Value)> = (0..EVENTS)
        .map(|i| {
            r.got
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("event {i}: {:?}", sender.stats()))
        })
        .collect();
    let rate = EVENTS as f64 / start.elapsed().as_secs_f64();
    eprintln!("callback delivery: {rate:.0} events/s");
    let stats = wait_stats(&sender, |s| s.sent == EVENTS);
    assert_eq!((stats.dropped, stats.failed, stats.queued), (0, 0, 0));
    assert_in_order_per_stream(&got);
    // Far below what a release build does (see README); a debug build on a busy machine still
    // clears it.
    assert!(rate > 1000.0, "{rate:.0} events/s");
}

#[test]
fn a_slow_controller_delays_neither_the_caller_nor_the_order() {
    let r = receiver(|_, _| {
        thread::sleep(Duration::from_millis(20));
        (200, "{}".into())
    });
    let sender = CallbackSender::start(r.base.clone());
    let start = Instant::now();
    for i in 0..40 {
        sender.post(
            Some(i % 2),
            "streamConnected",
            json!({ "id": (i % 2).to_string(), "n": i }),
        );
    }
    assert!(start.elapsed() < Duration::from_millis(50));
    let got: Vec<(String, Value)> = (0..40).map(|_| r.next()).collect();
    assert_in_order_per_stream(&got);
}

/// A controller that misbehaves with `bad` while `broken` is set, then answers 200: the events
/// sent while broken are counted as failed, the ones after arrive, in order.
fn recovers_after(bad: impl Fn() -> (u16, String) + Send + Sync + 'static, timeout: Duration) {
    let broken = Arc::new(AtomicBool::new(true));
    let flag = broken.clone();
    let r = receiver(move |_, _| {
        if flag.load(Ordering::SeqCst) {
            bad()
        } else {
            (200, "{}".into())
        }
    });
    let sender = CallbackSender::start_with(r.base.clone(), QUEUE_CAPACITY, timeout);
    let start = Instant::now();
    for i in 0..4 {
        sender.post(Some(7), "streamConnected", json!({ "id": "7", "n": i }));
    }
    assert!(start.elapsed() < Duration::from_millis(50));
    wait_stats(&sender, |s| s.failed == 4);
    broken.store(false, Ordering::SeqCst);
    for i in 4..24 {
        let name = if i % 2 == 0 {
            "streamConnected"
        } else {
            "streamClose"
        };
        sender.post(Some(7), name, json!({ "id": "7", "n": i }));
    }
    // What a hung or failing controller records late is not counted as delivered by the sender.
    let mut got = Vec::new();
    while got.len() < 20 {
        let n = r.next().1["n"].as_i64().unwrap();
        if n >= 4 {
            got.push(n);
        }
    }
    assert_eq!(got, (4..24).collect::<Vec<i64>>());
    let stats = wait_stats(&sender, |s| s.sent == 20);
    assert_eq!(stats.events["streamConnected"].failed, 4);
    assert_eq!(stats.dropped, 0);
}

#[test]
fn delivery_resumes_in_order_after_500s() {
    recovers_after(|| (500, "oops".into()), REQUEST_TIMEOUT);
}

#[test]
fn delivery_resumes_in_order_after_garbage_replies() {
    recovers_after(|| (0, "garbage\r\n\r\n".into()), REQUEST_TIMEOUT);
}

#[test]
fn delivery_resumes_in_order_after_a_controller_that_does_not_answer() {
    recovers_after(
        || {
            thread::sleep(Duration::from_millis(600));
            (200, "{}".into())
        },
        Duration::from_millis(200),
    );
}

#[test]
fn a_stale_kept_alive_connection_is_retried_once() {
    // Every connection serves one request, then closes without telling (no Connection: close).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, got) = mpsc::channel();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
            let _ = tx.send(());
        }
    });
    let sender = CallbackSender::start(base);
    for i in 0..5 {
        sender.post(Some(1), "streamClose", json!({ "id": "1", "n": i }));
        got.recv_timeout(Duration::from_secs(5)).expect("a request");
        thread::sleep(Duration::from_millis(20));
    }
    let stats = wait_stats(&sender, |s| s.sent == 5);
    assert_eq!(stats.failed, 0);
}

#[test]
fn drain_waits_until_every_queued_event_is_posted() {
    let r = receiver(|_, _| (200, "{}".into()));
    let sender = CallbackSender::start(r.base.clone());
    for i in 0..20 {
        sender.post(Some(i % 3), "streamClose", json!({ "id": i.to_string() }));
    }
    sender.post(None, "channelClose", json!({ "id": "c" }));
    assert_eq!(sender.drain(Instant::now() + Duration::from_secs(10)), 0);
    assert_eq!(sender.stats().sent, 21);
    assert_eq!(r.got.try_iter().count(), 21);
}

#[test]
fn drain_gives_up_at_its_deadline_when_the_callback_server_hangs() {
    // A server that accepts and never answers: every POST waits for its request timeout.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sender = CallbackSender::start_with(base, 16, Duration::from_secs(3));
    for _ in 0..3 {
        sender.post(None, "channelClose", json!({ "id": "x" }));
    }
    let start = Instant::now();
    let left = sender.drain(start + Duration::from_millis(300));
    let took = start.elapsed();
    assert_eq!(left, 3);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    drop(listener);
}
