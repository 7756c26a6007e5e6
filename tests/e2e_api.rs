//! End-to-end tests of the control plane (issue 3): the REST API, the HTTP callbacks and
//! `-rtmpcheckparams`, against the real `joy4` binary with real ffmpeg publishers and players.
//!
//! A callback receiver inside the test (a small HTTP server on a loopback port) records every
//! event and answers `streamCheckParams` as each test tells it. The API is spoken with raw HTTP
//! requests (`support::http_exchange`), so the client shares no code with the server.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

/// Long enough that every test finishes while its publishers are still publishing.
const CLIP_SECS: u32 = 20;

fn clip() -> PathBuf {
    clip_h264_aac(640, 360, CLIP_SECS)
}

// ---------------------------------------------------------------------------------------------------
// API client
// ---------------------------------------------------------------------------------------------------

/// One request with `Connection: close`; `extra` is added to the headers as is (each line ending
/// in CRLF).
fn raw(addr: SocketAddr, method: &str, path: &str, body: &[u8], extra: &str) -> HttpResponse {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    http_exchange(addr, &req, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn parse(method: &str, path: &str, r: &HttpResponse) -> (u16, Value) {
    assert_eq!(
        r.head.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{method} {path}: content type of {:?}",
        r.head
    );
    assert_eq!(r.head.header("access-control-allow-origin"), Some("*"));
    let v = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: answer is not JSON ({e}): {:?}",
            r.body_text()
        )
    });
    (r.head.status, v)
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    parse("GET", path, &raw(addr, "GET", path, b"", ""))
}

fn post(addr: SocketAddr, path: &str, body: Value) -> (u16, Value) {
    let r = raw(addr, "POST", path, body.to_string().as_bytes(), "");
    parse("POST", path, &r)
}

fn post_text(addr: SocketAddr, path: &str, body: &str) -> (u16, Value) {
    parse("POST", path, &raw(addr, "POST", path, body.as_bytes(), ""))
}

/// `200 {}`.
#[track_caller]
fn assert_ok(answer: (u16, Value)) {
    assert_eq!(answer, (200, json!({})));
}

/// `STATUS {"err": ERR, "detail": non-empty}`; returns the detail.
#[track_caller]
fn assert_err(answer: (u16, Value), status: u16, err: &str) -> String {
    let (got_status, v) = &answer;
    assert_eq!(
        (*got_status, v["err"].as_str()),
        (status, Some(err)),
        "{answer:?}"
    );
    let detail = v["detail"].as_str().unwrap_or_default().to_string();
    assert!(!detail.is_empty(), "{answer:?} has no detail");
    detail
}

/// Poll `/stat/streams` until a stream satisfies `pred`; returns its id and stat object.
fn wait_stream(
    server: &mut Server,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> (String, Value) {
    let mut last = Value::Null;
    let found = wait_until(timeout, || {
        let (_, all) = get(server.api_addr, "/stat/streams");
        let hit = all.as_object().and_then(|m| {
            m.iter()
                .find(|(_, s)| pred(s))
                .map(|(id, s)| (id.clone(), s.clone()))
        });
        last = all;
        hit
    });
    found.unwrap_or_else(|| {
        panic!(
            "no stream is {what} after {timeout:?}; streams: {last:#}\n{}",
            server.describe()
        )
    })
}

/// An RTMP publisher of `name` (path `live/NAME`).
fn is_publisher(name: &str) -> impl Fn(&Value) -> bool + '_ {
    move |s| s["rtmp"]["command"] == "publish" && s["rtmp"]["streamName"] == name
}

// ---------------------------------------------------------------------------------------------------
// Callback receiver
// ---------------------------------------------------------------------------------------------------

type Decide = dyn Fn(&Value) -> String + Send + Sync;
/// The recorded (event name, body) pairs and a condvar signalled on each.
type Log = (Mutex<Vec<(String, Value)>>, Condvar);

/// A callback server: records each `POST /hooks/event/NAME` and answers `streamCheckParams` with
/// `decide(body)` (every other event with `{}`).
struct Callbacks {
    addr: SocketAddr,
    events: Arc<Log>,
}

impl Callbacks {
    fn start(decide: impl Fn(&Value) -> String + Send + Sync + 'static) -> Callbacks {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind callback receiver");
        let addr = listener.local_addr().unwrap();
        let events: Arc<Log> = Arc::default();
        let decide: Arc<Decide> = Arc::new(decide);
        let ev = events.clone();
        thread::Builder::new()
            .name("callbacks".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { return };
                    let (ev, decide) = (ev.clone(), decide.clone());
                    thread::spawn(move || serve_callbacks(conn, &ev, &*decide));
                }
            })
            .unwrap();
        Callbacks { addr, events }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    fn flag(&self) -> String {
        format!("-httpcallback={}", self.url())
    }

    fn all(&self) -> Vec<(String, Value)> {
        self.events.0.lock().unwrap().clone()
    }

    fn named(&self, name: &str) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter(|(n, _)| n == name)
            .map(|(_, b)| b)
            .collect()
    }

    /// How many `name` events carry `"id": id`.
    fn count(&self, name: &str, id: &str) -> usize {
        self.named(name).iter().filter(|b| b["id"] == id).count()
    }

    /// Wait for a `name` event whose body satisfies `pred`.
    fn wait(&self, name: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.events;
        let mut events = lock.lock().unwrap();
        loop {
            if let Some((_, b)) = events.iter().find(|(n, b)| n == name && pred(b)) {
                return b.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                panic!("no matching {name} event within {timeout:?}; received: {events:#?}");
            }
            events = cv.wait_timeout(events, deadline - now).unwrap().0;
        }
    }
}

/// Requests on one connection (keep-alive is honoured), each recorded before it is answered.
fn serve_callbacks(conn: TcpStream, events: &Log, decide: &Decide) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
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
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let name = path
            .strip_prefix("/hooks/event/")
            .unwrap_or(&path)
            .to_string();
        let reply = if name == "streamCheckParams" {
            decide(&body)
        } else {
            "{}".to_string()
        };
        {
            let (lock, cv) = events;
            lock.lock().unwrap().push((name, body));
            cv.notify_all();
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A loopback URL nothing listens on.
fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", l.local_addr().unwrap());
    drop(l);
    url
}

// ---------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() < 20 || !(digits(0..4) && digits(5..7) && digits(8..10) && digits(11..13)) {
        return false;
    }
    if (b[4], b[7], b[10], b[13], b[16]) != (b'-', b'-', b'T', b':', b':')
        || !digits(14..16)
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':')
}

#[test]
fn stat_fields_are_real_values_for_an_h264_aac_publish() {
    let clip = clip();
    let probe = ffprobe(&clip, Count::Nothing).expect("probe the clip");
    let clip_secs = probe.duration.unwrap_or(CLIP_SECS as f64);
    let clip_bitrate = std::fs::metadata(&clip).unwrap().len() as f64 * 8.0 / clip_secs;

    let mut server = Server::start(&[]);
    let mut publisher = publish(&clip, &server.rtmp_url("live/stat"));
    wait_for_channel(&mut server, "live/stat", &mut publisher);
    let dir = TestDir::new();
    let _player = record(&server.flv_url("live/stat"), &dir.file("rec.flv"), 12.0);
    let api = server.api_addr;

    // The bitrate is averaged over complete seconds of a 5 s window: let it fill.
    let (pid, first) = wait_stream(&mut server, "a publisher for 6 s", secs(15.0), |s| {
        is_publisher("stat")(s) && s["elapsed"].as_f64().unwrap_or(0.0) >= 6.0
    });
    thread::sleep(Duration::from_millis(1500));
    let (status, second) = get(api, &format!("/stat/stream/{pid}"));
    assert_eq!(status, 200, "{second}");

    let s = &second;
    assert_eq!(s["id"], pid.as_str());
    assert!(
        is_rfc3339(s["createdAt"].as_str().unwrap_or_default()),
        "createdAt {}",
        s["createdAt"]
    );
    assert_eq!(
        (&s["type"], &s["stat"]),
        (&json!("rtmp"), &json!("publishing"))
    );
    assert_eq!(s["rtmp"]["command"], "publish");
    assert_eq!(s["rtmp"]["streamName"], "stat");
    assert_eq!(s["rtmp"]["connectParams"]["app"], "live");
    let tc_url = s["rtmp"]["connectParams"]["tcUrl"]
        .as_str()
        .unwrap_or_default();
    assert!(
        tc_url.starts_with("rtmp://127.0.0.1:") && tc_url.ends_with("/live"),
        "tcUrl {tc_url}"
    );
    assert!(s["rtmp"]["params"].is_object());
    assert!(
        s["remoteAddr"]
            .as_str()
            .unwrap_or_default()
            .starts_with("127.0.0.1:"),
        "{s}"
    );
    assert_eq!(
        s["audio"],
        json!({"type": "AAC", "samplerate": 44100, "channelCount": 2})
    );
    assert_eq!(
        s["video"],
        json!({"type": "H264", "width": 640, "height": 360})
    );
    assert_eq!(s["channel"], "live/stat");
    assert_eq!(s["droppedPackets"], 0);
    let bitrate = s["bitrate"].as_f64().unwrap_or(0.0);
    assert!(
        (bitrate - clip_bitrate).abs() <= 0.2 * clip_bitrate,
        "bitrate {bitrate} is not within 20 % of the clip's {clip_bitrate:.0}"
    );
    let num = |v: &Value, k: &str| v[k].as_f64().unwrap_or(-1.0);
    assert!(
        num(s, "time") >= num(&first, "time") + 1.0,
        "time {} then {}",
        first["time"],
        s["time"]
    );
    assert!(
        num(s, "time") > 5.0 && num(s, "time") < num(s, "elapsed") + 1.0,
        "{s}"
    );
    assert!(
        num(s, "bytes") > num(&first, "bytes"),
        "bytes {} then {}",
        first["bytes"],
        s["bytes"]
    );
    assert!(num(s, "elapsed") > num(&first, "elapsed"));

    // The player: its channel's media, its own bytes.
    let (player_id, player) = wait_stream(&mut server, "the HTTP-FLV player", secs(10.0), |s| {
        s["type"] == "http-flv"
            && s["stat"] == "subscribing"
            && s["elapsed"].as_f64().unwrap_or(0.0) > 2.0
    });
    assert_eq!(player["channel"], "live/stat");
    assert_eq!(
        player["video"],
        json!({"type": "H264", "width": 640, "height": 360})
    );
    assert_eq!(player["audio"]["type"], "AAC");
    assert!(player["rtmp"].is_null());
    assert!(num(&player, "bytes") > 100_000.0, "{player}");

    // The whole map carries the same objects.
    let (_, all) = get(api, "/stat/streams");
    assert_eq!(all[&pid]["id"], pid.as_str());
    assert_eq!(all[&player_id]["type"], "http-flv");

    // Channels: by id, with the slash unescaped or escaped.
    let (status, ch) = get(api, "/stat/channel/live/stat");
    assert_eq!(status, 200, "{ch}");
    assert_eq!(get(api, "/stat/channel/live%2Fstat").1["id"], "live/stat");
    assert!(
        is_rfc3339(ch["createdAt"].as_str().unwrap_or_default()),
        "{ch}"
    );
    assert!(num(&ch, "elapsed") > 5.0);
    assert_eq!(ch["publisher"], pid.as_str());
    assert_eq!(ch["subscriberCount"], 1, "{ch}");
    assert_eq!(ch["subscribers"], json!([player_id]));
    assert_eq!(ch["bufferSize"], 16 * 1024 * 1024);
    assert_eq!(ch["bufferGopCount"], 1);
    assert!(num(&ch, "bufferUsed") > 10_000.0, "{ch}");
    let (_, channels) = get(api, "/stat/channels");
    assert_eq!(channels["live/stat"]["publisher"], pid.as_str());
    server.assert_alive("after the stat checks");
}

#[test]
fn channel_and_stream_operations_and_each_named_error() {
    let clip = clip();
    let mut server = Server::start(&[]);
    let api = server.api_addr;
    let mut pub_a = publish(&clip, &server.rtmp_url("live/a"));
    let mut pub_b = publish(&clip, &server.rtmp_url("live/b"));
    wait_for_channel(&mut server, "live/a", &mut pub_a);
    wait_for_channel(&mut server, "live/b", &mut pub_b);
    let dir = TestDir::new();
    let _player = record(&server.flv_url("live/a"), &dir.file("rec.flv"), 15.0);
    let (a, _) = wait_stream(&mut server, "publisher a", secs(10.0), is_publisher("a"));
    let (b, _) = wait_stream(&mut server, "publisher b", secs(10.0), is_publisher("b"));
    let (player, _) = wait_stream(&mut server, "the player", secs(10.0), |s| {
        s["type"] == "http-flv"
            && s["stat"] == "subscribing"
            && s["elapsed"].as_f64().unwrap_or(0.0) > 1.0
    });

    // /channel/create
    assert_ok(post(
        api,
        "/channel/create",
        json!({"id": "c", "bufferDuration": "4s", "bufferGopCount": 3}),
    ));
    assert_err(
        post(api, "/channel/create", json!({"id": "c"})),
        400,
        "ChannelExists",
    );
    let (_, c) = get(api, "/stat/channel/c");
    assert_eq!(
        (&c["bufferDuration"], &c["bufferGopCount"], &c["publisher"]),
        (&json!(4.0), &json!(3), &json!(""))
    );
    assert_ok(post(
        api,
        "/channel/create",
        json!({"id": 42, "bufferSize": 500000}),
    ));
    assert_eq!(get(api, "/stat/channel/42").1["bufferSize"], 500000);

    // /channel/setPublisher
    assert_err(
        post(
            api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": "999"}),
        ),
        400,
        "StreamNotExists",
    );
    assert_err(
        post(
            api,
            "/channel/setPublisher",
            json!({"id": "nope", "streamId": a}),
        ),
        400,
        "ChannelNotExists",
    );
    assert_err(
        post(
            api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": player}),
        ),
        400,
        "StreamStateInvalid",
    );
    assert_ok(post(
        api,
        "/channel/setPublisher",
        json!({"id": "c", "streamId": a}),
    ));
    assert_eq!(get(api, "/stat/channel/c").1["publisher"], a.as_str());
    assert_eq!(get(api, &format!("/stat/stream/{a}")).1["channel"], "c");
    assert_err(
        post(
            api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": b, "replace": false}),
        ),
        400,
        "ChannelAlreadyHasPublisher",
    );
    // A number is the decimal id; replace defaults to true.
    let b_num: u64 = b.parse().expect("stream ids are decimal");
    assert_ok(post(
        api,
        "/channel/setPublisher",
        json!({"id": "c", "streamId": b_num}),
    ));
    assert_eq!(get(api, "/stat/channel/c").1["publisher"], b.as_str());
    assert_eq!(
        get(api, &format!("/stat/stream/{a}")).1["stat"],
        "connected"
    );

    // /channel/addSubscriber
    assert_err(
        post(
            api,
            "/channel/addSubscriber",
            json!({"id": "c", "streamId": "999"}),
        ),
        400,
        "StreamNotExists",
    );
    assert_err(
        post(
            api,
            "/channel/addSubscriber",
            json!({"id": "nope", "streamId": player}),
        ),
        400,
        "ChannelNotExists",
    );
    assert_err(
        post(
            api,
            "/channel/addSubscriber",
            json!({"id": "c", "streamId": b}),
        ),
        400,
        "StreamStateInvalid",
    );
    assert_err(
        post(
            api,
            "/channel/addSubscriber",
            json!({"id": "c", "streamId": player, "cursor": "sideways"}),
        ),
        400,
        "BadCursor",
    );
    assert_ok(post(
        api,
        "/channel/addSubscriber",
        json!({"id": "c", "streamId": player}),
    ));
    let (_, c) = get(api, "/stat/channel/c");
    assert_eq!(
        (&c["subscribers"], &c["subscriberCount"]),
        (&json!([player]), &json!(1))
    );
    assert_eq!(
        get(api, &format!("/stat/stream/{player}")).1["channel"],
        "c"
    );
    assert_ok(post(
        api,
        "/channel/addSubscriber",
        json!({"id": "42", "streamId": player, "cursor": "next"}),
    ));
    assert_eq!(
        get(api, &format!("/stat/stream/{player}")).1["channel"],
        "42"
    );

    // accept / reject outside checkingParams; changeid; close; new
    for path in ["/stream/accept", "/stream/reject"] {
        assert_err(
            post(api, path, json!({"id": "999"})),
            400,
            "StreamNotExists",
        );
        assert_err(post(api, path, json!({"id": b})), 400, "StreamStateInvalid");
    }
    assert_err(
        post(api, "/stream/changeid", json!({"id": "999", "newid": "x"})),
        400,
        "StreamNotExists",
    );
    assert_err(
        post(api, "/stream/changeid", json!({"id": a, "newid": b})),
        400,
        "StreamExists",
    );
    assert_err(
        post(api, "/stream/close", json!({"id": "999"})),
        400,
        "StreamNotExists",
    );
    assert_err(
        post(api, "/channel/close", json!({"id": "nope"})),
        400,
        "ChannelNotExists",
    );
    let detail = assert_err(
        post(api, "/stream/new", json!({"url": "ftp://nowhere/live/b"})),
        400,
        "BadUrl",
    );
    assert!(!detail.is_empty());

    assert_ok(post(api, "/stream/close", json!({"id": a})));
    pub_a.expect_exit(secs(10.0), "publisher a after /stream/close");
    assert_ok(post(api, "/channel/close", json!({"id": "42"})));
    assert_err(get(api, "/stat/channel/42"), 404, "ChannelNotExists");
    assert_err(get(api, "/stat/stream/999"), 404, "StreamNotExists");
    server.assert_alive("after the operations");
}

#[test]
fn check_params_accept_and_reject_through_the_api() {
    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&cb.flag(), "-rtmpcheckparams", "-checktimeout=15s"]);
    let api = server.api_addr;
    let clip = clip();

    let mut yes = publish(&clip, &server.rtmp_url("live/yes"));
    let check = cb.wait("streamCheckParams", secs(10.0), |b| {
        b["rtmp"]["streamName"] == "yes"
    });
    let id = check["id"].as_str().expect("an id").to_string();
    assert_eq!(
        (&check["type"], &check["rtmp"]["command"]),
        (&json!("rtmp"), &json!("publish"))
    );
    assert_eq!(check["rtmp"]["connectParams"]["app"], "live");
    assert!(check["remoteAddr"]
        .as_str()
        .unwrap_or_default()
        .starts_with("127.0.0.1:"));
    assert_eq!(
        get(api, &format!("/stat/stream/{id}")).1["stat"],
        "checkingParams"
    );
    // Not wired before it is accepted.
    assert_err(get(api, "/stat/channel/live/yes"), 404, "ChannelNotExists");
    assert_ok(post(api, "/stream/accept", json!({"id": id})));
    wait_for_channel(&mut server, "live/yes", &mut yes);
    assert_eq!(
        get(api, &format!("/stat/stream/{id}")).1["stat"],
        "publishing"
    );
    assert_err(
        post(api, "/stream/accept", json!({"id": id})),
        400,
        "StreamStateInvalid",
    );
    assert_err(
        post(api, "/stream/reject", json!({"id": id})),
        400,
        "StreamStateInvalid",
    );
    let connected = cb.wait("streamConnected", secs(5.0), |b| b["id"] == id.as_str());
    assert_eq!(connected["stat"], "publishing");

    let mut no = publish(&clip, &server.rtmp_url("live/no"));
    let check = cb.wait("streamCheckParams", secs(10.0), |b| {
        b["rtmp"]["streamName"] == "no"
    });
    let no_id = check["id"].as_str().unwrap().to_string();
    assert_ok(post(api, "/stream/reject", json!({"id": no_id})));
    let status = no.expect_exit(secs(10.0), "the rejected publisher");
    assert!(
        !status.success(),
        "a rejected ffmpeg publisher must fail: {status:?}"
    );
    let close = cb.wait("streamClose", secs(5.0), |b| b["id"] == no_id.as_str());
    assert_eq!(close["reason"], "rejected");
    assert_eq!(cb.count("streamConnected", &no_id), 0);
    assert!(
        yes.is_running(),
        "the accepted publisher stopped\n{}",
        yes.describe()
    );
    thread::sleep(Duration::from_millis(500));
    assert_eq!(cb.count("streamClose", &no_id), 1);
}

#[test]
fn check_params_decided_by_the_callback_reply_or_the_timeout() {
    let cb = Callbacks::start(|b| match b["rtmp"]["streamName"].as_str() {
        Some("yes") => r#"{"accept": true}"#.into(),
        Some("no") => r#"{"accept": false}"#.into(),
        _ => r#"{"thinking": true}"#.into(),
    });
    let mut server = Server::start(&[&cb.flag(), "-rtmpcheckparams", "-checktimeout=2s"]);
    let clip = clip();
    let start = Instant::now();
    let mut yes = publish(&clip, &server.rtmp_url("live/yes"));
    let mut no = publish(&clip, &server.rtmp_url("live/no"));
    let mut later = publish(&clip, &server.rtmp_url("live/later"));

    wait_for_channel(&mut server, "live/yes", &mut yes);
    let status = no.expect_exit(secs(10.0), "the publisher the callback rejected");
    assert!(!status.success(), "{status:?}");
    let status = later.expect_exit(secs(12.0), "the publisher nobody decided on");
    assert!(!status.success(), "{status:?}");
    assert!(
        start.elapsed() >= secs(2.0),
        "timed out before -checktimeout"
    );

    let id_of = |name: &str| {
        let c = cb.wait("streamCheckParams", secs(1.0), |b| {
            b["rtmp"]["streamName"] == name
        });
        c["id"].as_str().unwrap().to_string()
    };
    let (yes_id, no_id, later_id) = (id_of("yes"), id_of("no"), id_of("later"));
    cb.wait("streamConnected", secs(5.0), |b| b["id"] == yes_id.as_str());
    assert_eq!(
        cb.wait("streamClose", secs(5.0), |b| b["id"] == no_id.as_str())["reason"],
        "rejected"
    );
    assert_eq!(
        cb.wait("streamClose", secs(5.0), |b| b["id"] == later_id.as_str())["reason"],
        "timeout"
    );
    assert_eq!(
        get(server.api_addr, &format!("/stat/stream/{yes_id}")).1["stat"],
        "publishing"
    );
}

#[test]
fn changeid_then_close_under_the_new_id_with_one_event_each() {
    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&cb.flag(), "-publishergrace=1s"]);
    let api = server.api_addr;
    let mut publisher = publish(&clip(), &server.rtmp_url("live/cid"));
    wait_for_channel(&mut server, "live/cid", &mut publisher);
    let (id, _) = wait_stream(&mut server, "the publisher", secs(5.0), is_publisher("cid"));

    assert_ok(post(
        api,
        "/stream/changeid",
        json!({"id": id, "newid": "cam-7"}),
    ));
    assert_err(
        get(api, &format!("/stat/stream/{id}")),
        404,
        "StreamNotExists",
    );
    assert_eq!(get(api, "/stat/stream/cam-7").1["id"], "cam-7");
    assert_eq!(get(api, "/stat/channel/live/cid").1["publisher"], "cam-7");
    assert_err(
        post(api, "/stream/close", json!({"id": id})),
        400,
        "StreamNotExists",
    );
    assert_ok(post(api, "/stream/close", json!({"id": "cam-7"})));
    publisher.expect_exit(secs(10.0), "the publisher closed by the API");

    let close = cb.wait("streamClose", secs(5.0), |b| b["id"] == "cam-7");
    assert_eq!(close["reason"], "apiClose");
    assert!(
        close["bytes"].as_u64().unwrap_or(0) > 0 && close["elapsed"].as_f64().unwrap_or(0.0) > 0.0,
        "{close}"
    );
    cb.wait("channelClose", secs(15.0), |b| b["id"] == "live/cid");
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(cb.count("streamClose", "cam-7"), 1, "{:#?}", cb.all());
    assert_eq!(cb.count("streamClose", &id), 0, "{:#?}", cb.all());
    assert_eq!(cb.count("channelClose", "live/cid"), 1, "{:#?}", cb.all());
    assert_err(get(api, "/stat/stream/cam-7"), 404, "StreamNotExists");
}

#[test]
fn channel_close_ends_its_publisher_and_players_with_one_event_each() {
    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&cb.flag()]);
    let api = server.api_addr;
    assert_ok(post(api, "/channel/create", json!({"id": "room"})));
    let mut publisher = publish(&clip(), &server.rtmp_url("room"));
    wait_for_channel(&mut server, "room", &mut publisher);
    let dir = TestDir::new();
    let mut player = record(&server.flv_url("room"), &dir.file("rec.flv"), 15.0);
    let (pid, _) = wait_stream(&mut server, "the publisher", secs(5.0), |s| {
        s["rtmp"]["command"] == "publish"
    });
    let (player_id, _) = wait_stream(&mut server, "the player", secs(10.0), |s| {
        s["type"] == "http-flv"
            && s["stat"] == "subscribing"
            && s["elapsed"].as_f64().unwrap_or(0.0) > 1.0
    });

    assert_ok(post(api, "/channel/close", json!({"id": "room"})));
    publisher.expect_exit(secs(10.0), "the publisher of the closed channel");
    player.expect_exit(secs(10.0), "the player of the closed channel");
    cb.wait("channelClose", secs(5.0), |b| b["id"] == "room");
    for id in [&pid, &player_id] {
        let close = cb.wait("streamClose", secs(5.0), |b| b["id"] == id.as_str());
        assert_eq!(close["reason"], "channelClosed", "{close}");
    }
    assert_err(
        post(api, "/channel/close", json!({"id": "room"})),
        400,
        "ChannelNotExists",
    );
    thread::sleep(Duration::from_millis(1000));
    assert_eq!(cb.count("channelClose", "room"), 1, "{:#?}", cb.all());
    assert_eq!(cb.count("streamClose", &pid), 1, "{:#?}", cb.all());
    assert_eq!(cb.count("streamClose", &player_id), 1, "{:#?}", cb.all());
    // Every stream that connected was closed exactly once (the probes of wait_for_channel too).
    for connected in cb.named("streamConnected") {
        let id = connected["id"].as_str().unwrap();
        assert_eq!(
            cb.count("streamClose", id),
            1,
            "stream {id}: {:#?}",
            cb.all()
        );
    }
}

#[test]
fn a_dead_callback_server_stops_neither_media_nor_the_api() {
    let mut server = Server::start(&[&format!("-httpcallback={}", dead_url())]);
    let mut publisher = publish(&clip(), &server.rtmp_url("live/dead"));
    wait_for_channel(&mut server, "live/dead", &mut publisher);
    let mut flv = FlvStream::open(server.http_addr, "/live/dead.flv", secs(5.0))
        .expect("open the HTTP-FLV stream");
    let deadline = Instant::now() + secs(10.0);
    let mut keyframes = 0;
    while keyframes < 2 {
        match flv.next_tag_until(deadline) {
            Ok(Some(tag)) if tag.is_video_keyframe() && !tag.is_avc_sequence_header() => {
                keyframes += 1
            }
            Ok(Some(_)) => {}
            other => panic!("HTTP-FLV ended early: {other:?}\n{}", server.describe()),
        }
    }
    let t = Instant::now();
    let (status, streams) = get(server.api_addr, "/stat/streams");
    assert_eq!(status, 200);
    assert!(t.elapsed() < secs(1.0), "the API took {:?}", t.elapsed());
    assert!(
        streams.as_object().is_some_and(|m| m.len() >= 2),
        "{streams}"
    );
    assert!(
        wait_until(secs(5.0), || server
            .log_text()
            .contains("callback POST")
            .then_some(()))
        .is_some(),
        "no warning about the dead callback server\n{}",
        server.describe()
    );
    server.assert_alive("with a dead callback server");
}

#[test]
fn malformed_requests_get_named_errors() {
    let mut server = Server::start(&[]);
    let api = server.api_addr;

    // 400 naming the field
    let cases: &[(&str, &str, &str)] = &[
        ("/channel/create", "{\"id\": ", "body is not valid JSON"),
        ("/channel/create", "", "body is empty"),
        ("/channel/create", "[\"id\"]", "body must be a JSON object"),
        ("/channel/create", "{}", "field 'id' is missing"),
        (
            "/channel/create",
            "{\"id\": false}",
            "field 'id' must be a string",
        ),
        (
            "/channel/create",
            "{\"id\": \"x\", \"bufferGopCount\": -1}",
            "field 'bufferGopCount' must be a positive integer",
        ),
        (
            "/channel/create",
            "{\"id\": \"x\", \"bufferSize\": \"1MB\"}",
            "field 'bufferSize' must be a positive integer",
        ),
        (
            "/channel/create",
            "{\"id\": \"x\", \"bufferDuration\": \"forever\"}",
            "field 'bufferDuration' must be a positive duration",
        ),
        (
            "/channel/setPublisher",
            "{\"id\": \"x\"}",
            "field 'streamId' is missing",
        ),
        (
            "/channel/setPublisher",
            "{\"id\": \"x\", \"streamId\": \"1\", \"replace\": 1}",
            "field 'replace' must be true or false",
        ),
        (
            "/channel/addSubscriber",
            "{\"streamId\": \"1\"}",
            "field 'id' is missing",
        ),
        (
            "/stream/changeid",
            "{\"id\": \"1\", \"newid\": \"\"}",
            "field 'newid' must not be empty",
        ),
        (
            "/stream/accept",
            "{\"id\": 1.5}",
            "field 'id' must be a string",
        ),
    ];
    for (path, body, want) in cases {
        let detail = assert_err(post_text(api, path, body), 400, "BadRequest");
        assert!(
            detail.starts_with(want),
            "POST {path} {body}: {detail:?} should start with {want:?}"
        );
    }
    assert_err(get(api, "/stat/channel/x"), 404, "ChannelNotExists");

    // 404, 405 (with Allow), OPTIONS preflight
    assert_err(get(api, "/no/such/thing"), 404, "NotFound");
    let r = raw(api, "GET", "/channel/create", b"", "");
    assert_eq!(r.head.header("allow"), Some("POST, OPTIONS"));
    assert_err(parse("GET", "/channel/create", &r), 405, "MethodNotAllowed");
    assert_err(
        post(api, "/stat/streams", json!({})),
        405,
        "MethodNotAllowed",
    );
    let r = raw(
        api,
        "OPTIONS",
        "/channel/create",
        b"",
        "Origin: http://example.com\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n",
    );
    assert_eq!(parse("OPTIONS", "/channel/create", &r).0, 200);
    assert!(r
        .head
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST")));
    assert!(r
        .head
        .header("access-control-allow-headers")
        .is_some_and(|h| h.to_ascii_lowercase().contains("authorization")));

    // 413: announced, sent without a length, and absurd; exactly 64 KiB is fine.
    let big = format!(
        "{{\"id\": \"big\", \"pad\": \"{}\"}}",
        "x".repeat(70 * 1024)
    );
    assert_err(post_text(api, "/channel/create", &big), 413, "BodyTooLarge");
    let mut chunked = Vec::new();
    for piece in big.as_bytes().chunks(8192) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let mut req = format!("POST /channel/create HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    req.extend_from_slice(&chunked);
    let r = http_exchange(api, &req, secs(10.0)).expect("chunked request");
    assert_err(parse("POST", "/channel/create", &r), 413, "BodyTooLarge");
    let head = format!(
        "POST /channel/create HTTP/1.1\r\nHost: {api}\r\nContent-Length: 100000000000000\r\n\r\n{{"
    );
    let mut sock = tcp_connect(api).unwrap();
    sock.write_all(head.as_bytes()).unwrap();
    let mut answer = [0u8; 12];
    sock.read_exact(&mut answer)
        .expect("an answer to an absurd Content-Length");
    assert_eq!(&answer, b"HTTP/1.1 413");
    drop(sock);
    let exact = format!("{{\"id\": \"edge\"{}}}", " ".repeat(64 * 1024 - 14));
    assert_eq!(exact.len(), 64 * 1024);
    assert_ok(post_text(api, "/channel/create", &exact));
    assert_eq!(get(api, "/stat/channel/edge").0, 200);
    assert_err(get(api, "/stat/channel/big"), 404, "ChannelNotExists");
    server.assert_alive("after the oversized bodies");

    // The served document describes every route the server answers, and the server answers every
    // route it describes.
    let (status, doc) = get(api, "/openapi.json");
    assert_eq!(status, 200);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.0")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 14);
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let url = path.replace("{id}", "no-such-id");
            let method = method.to_ascii_uppercase();
            let (status, v) = parse(&method, &url, &raw(api, &method, &url, b"{}", ""));
            assert!(
                !matches!(v["err"].as_str(), Some("NotFound" | "MethodNotAllowed")),
                "{method} {url} is documented but answers {status} {v}"
            );
        }
    }
    server.assert_alive("at the end");
}

#[test]
fn the_api_token_is_required_when_set() {
    let server = Server::start(&["-apitoken=s3cret"]);
    let api = server.api_addr;
    let r = raw(api, "GET", "/stat/streams", b"", "");
    assert_eq!(r.head.header("www-authenticate"), Some("Bearer"));
    assert_err(parse("GET", "/stat/streams", &r), 401, "Unauthorized");
    let wrong = raw(
        api,
        "GET",
        "/stat/streams",
        b"",
        "Authorization: Bearer s3cre\r\n",
    );
    assert_err(parse("GET", "/stat/streams", &wrong), 401, "Unauthorized");
    let right = raw(
        api,
        "GET",
        "/stat/streams",
        b"",
        "Authorization: Bearer s3cret\r\n",
    );
    assert_eq!(parse("GET", "/stat/streams", &right), (200, json!({})));
    let body = br#"{"id": "t"}"#;
    let create = raw(
        api,
        "POST",
        "/channel/create",
        body,
        "Authorization: Bearer s3cret\r\n",
    );
    assert_ok(parse("POST", "/channel/create", &create));
    let denied = raw(
        api,
        "POST",
        "/channel/close",
        body,
        "Authorization: Bearer nope\r\n",
    );
    assert_err(
        parse("POST", "/channel/close", &denied),
        401,
        "Unauthorized",
    );
    assert_err(get(api, "/unknown"), 401, "Unauthorized");
    // A CORS preflight carries no credentials.
    assert_eq!(
        parse(
            "OPTIONS",
            "/stat/streams",
            &raw(api, "OPTIONS", "/stat/streams", b"", "")
        )
        .0,
        200
    );
}
