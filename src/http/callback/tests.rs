use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::json;

use super::lanes::Throttle;
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
    assert_eq!((sender.failures(), sender.dropped()), (0, 0));
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
        sender.post(None, "channelClose", json!({ "id": "x" }));
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
    sender.post(Some(1), "streamClose", json!({ "id": "1" }));
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

#[test]
fn drain_waits_until_every_queued_event_is_posted() {
    let r = receiver(|_, _| (200, "{}".into()));
    let sender = CallbackSender::start(r.base.clone());
    for i in 0..20 {
        sender.post(Some(i % 3), "streamClose", json!({ "id": i.to_string() }));
    }
    sender.post(None, "channelClose", json!({ "id": "c" }));
    assert_eq!(sender.drain(Instant::now() + Duration::from_secs(10)), 0);
    assert_eq!(sender.delivered(), 21);
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
