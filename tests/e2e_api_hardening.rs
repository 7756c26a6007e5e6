//! The API port on an open network: idle and slow clients, oversized requests, browsers from
//! other origins, the token's sources; and what operators read from it: `/metrics` (parsed by
//! the Prometheus client library's own parser) and the `/events` stream.
//!
//! Each test starts its own server; load is bounded (1,000 connections) and on 127.0.0.1 only.
mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::api::*;
use support::*;

/// Open descriptors and threads of a process, from `/proc/PID`.
fn fds_and_threads(pid: u32) -> (usize, usize) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (fds, threads)
}

/// Connect and send `bytes` (which need not be a whole request).
fn send(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut s = tcp_connect(addr).expect("connect to the API");
    s.write_all(bytes).expect("send to the API");
    s
}

/// The status of the answer the server sent before closing `sock`, and how long the close took.
fn answer_then_close(sock: &TcpStream, timeout: Duration) -> (u16, Duration) {
    let start = Instant::now();
    let closed = wait_closed(sock, timeout).unwrap_or_else(|e| panic!("not closed: {e}"));
    let text = String::from_utf8_lossy(&closed.received).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer before the close: {text:?}"));
    (status, closed.at - start)
}

fn api_connections(api: SocketAddr) -> u64 {
    get(api, "/stat").1["connections"]["api"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_thousand_idle_and_slow_connections_leave_the_api_answering_at_once() {
    let _ = joy4::net::raise_fd_limit();
    let mut server = Server::start(&[]);
    let api = server.api_addr;
    let pid = server.proc.pid();
    // The baseline once the server has started all its threads (they start after the
    // `listening` lines): a first answered request, then a moment.
    assert_eq!(get(api, "/stat/streams").0, 200);
    std::thread::sleep(Duration::from_millis(300));
    let (_, threads_before) = fds_and_threads(pid);
    let mut held = Vec::new();
    for i in 0..1000 {
        let partial: &[u8] = match i % 3 {
            0 => b"",
            // A body announced and never sent.
            1 => b"POST /channel/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{",
            // A head that never ends.
            _ => b"GET /stat/streams HTTP/1.1\r\nHost: x\r\nX-Slow: 1",
        };
        held.push(send(api, partial));
    }
    let all_in = wait_until(secs(10.0), || (api_connections(api) > 1000).then_some(()));
    assert!(
        all_in.is_some(),
        "the server did not take 1,000 connections\n{}",
        server.describe()
    );

    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let start = Instant::now();
        let (status, _) = get(api, "/stat/streams");
        worst = worst.max(start.elapsed());
        assert_eq!(status, 200);
    }
    eprintln!("slowest of 20 requests with 1,000 idle and slow connections open: {worst:?}");
    assert!(
        worst < Duration::from_millis(500),
        "a request took {worst:?}"
    );

    // A whole request must arrive within 10 s: each kind is answered 408 and closed.
    for sock in &held[..3] {
        let (status, _) = answer_then_close(sock, secs(15.0));
        assert_eq!(status, 408);
    }
    drop(held);
    let settled = wait_until(secs(15.0), || {
        let (_, threads) = fds_and_threads(pid);
        (api_connections(api) <= 1 && threads <= threads_before + 2).then_some(threads)
    });
    assert!(
        settled.is_some(),
        "connections or threads left over: api {} threads {:?} (before {threads_before})\n{}",
        api_connections(api),
        fds_and_threads(pid),
        server.describe()
    );
    server.assert_alive("after 1,000 connections");
}

#[test]
fn oversized_heads_and_absurd_bodies_are_refused_without_leaking_sockets_or_threads() {
    let mut server = Server::start(&[]);
    let api = server.api_addr;
    let pid = server.proc.pid();
    assert_eq!(get(api, "/stat/streams").0, 200);
    let before = fds_and_threads(pid);

    let mut big_head = b"GET /stat/streams HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big_head.resize(17 * 1024, b'a');
    let absurd = b"POST /channel/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000000000\r\n\r\n{\"id\":";
    let over_a_mib = format!(
        "POST /channel/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        (1 << 20) + 1
    );
    for round in 0..10 {
        let mut socks = Vec::new();
        for request in [&big_head[..], absurd, over_a_mib.as_bytes()] {
            let sock = send(api, request);
            // Half of the clients go quiet after sending (the server closes them on its own);
            // the other half stop sending, as most clients do.
            if round % 2 == 0 {
                sock.shutdown(std::net::Shutdown::Write).unwrap();
            }
            socks.push(sock);
        }
        let statuses: Vec<u16> = socks
            .iter()
            .map(|s| {
                let (status, took) = answer_then_close(s, secs(5.0));
                assert!(took < secs(4.0), "closed after {took:?}");
                status
            })
            .collect();
        assert_eq!(statuses, [431, 413, 413]);
    }
    assert_err(get(api, "/stat/channel/x"), 404, "ChannelNotExists");
    let settled = wait_until(secs(5.0), || {
        let now = fds_and_threads(pid);
        (now.0 <= before.0 && now.1 <= before.1).then_some(now)
    });
    assert!(
        settled.is_some(),
        "descriptors and threads before {before:?}, now {:?}\n{}",
        fds_and_threads(pid),
        server.describe()
    );
    server.assert_alive("after the oversized requests");
}

/// A request as a browser page on `origin` sends it.
fn browser(
    api: SocketAddr,
    method: &str,
    path: &str,
    origin: &str,
    extra: &str,
    body: &str,
) -> HttpResponse {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nOrigin: {origin}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    http_exchange(api, req.as_bytes(), secs(5.0)).expect("an answer")
}

fn err_of(r: &HttpResponse) -> (u16, String) {
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (
        r.head.status,
        v["err"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn pages_from_other_origins_cannot_change_the_server() {
    let server = Server::start(&["-apicors=http://ops.example"]);
    let api = server.api_addr;
    let create = r#"{"id": "from-page"}"#;

    // The "simple" request a page may send without a preflight.
    let r = browser(
        api,
        "POST",
        "/channel/create",
        "http://evil.example",
        "Content-Type: text/plain;charset=UTF-8\r\n",
        create,
    );
    assert_eq!(err_of(&r), (415, "UnsupportedMediaType".into()));
    assert_eq!(r.head.header("access-control-allow-origin"), None);
    // A JSON POST from an origin not listed (a browser would have stopped at the preflight).
    let r = browser(
        api,
        "POST",
        "/channel/create",
        "http://evil.example",
        "Content-Type: application/json\r\n",
        create,
    );
    assert_eq!(err_of(&r), (403, "OriginNotAllowed".into()));
    assert_eq!(r.head.header("access-control-allow-origin"), None);
    let preflight =
        "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n";
    let r = browser(
        api,
        "OPTIONS",
        "/channel/create",
        "http://evil.example",
        preflight,
        "",
    );
    assert_eq!(r.head.status, 200);
    assert_eq!(r.head.header("access-control-allow-origin"), None);
    assert!(!has_channel(&server, "from-page"));

    // The listed origin passes its preflight and its POST.
    let r = browser(
        api,
        "OPTIONS",
        "/channel/create",
        "http://ops.example",
        preflight,
        "",
    );
    assert_eq!(
        r.head.header("access-control-allow-origin"),
        Some("http://ops.example")
    );
    let r = browser(
        api,
        "POST",
        "/channel/create",
        "http://ops.example",
        "Content-Type: application/json\r\n",
        create,
    );
    assert_eq!(r.head.status, 200, "{}", r.body_text());
    assert_eq!(
        r.head.header("access-control-allow-origin"),
        Some("http://ops.example")
    );
    assert_eq!(r.head.header("vary"), Some("Origin"));
    assert!(has_channel(&server, "from-page"));
    // Stats stay readable from any page.
    let r = browser(api, "GET", "/stat/channels", "http://evil.example", "", "");
    assert_eq!(r.head.status, 200);
    assert_eq!(r.head.header("access-control-allow-origin"), Some("*"));
    // Scripts send no Origin: a JSON POST works as before, a form-encoded one does not.
    assert_eq!(
        raw(api, "POST", "/channel/close", create.as_bytes(), "")
            .head
            .status,
        200
    );
    let form = format!(
        "POST /channel/create HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{create}",
        create.len()
    );
    let r = http_exchange(api, form.as_bytes(), secs(5.0)).unwrap();
    assert_eq!(err_of(&r), (415, "UnsupportedMediaType".into()));
}

#[test]
fn the_token_can_come_from_the_environment() {
    let server = Server::start_args_env(&default_server_args(), &[("JOY4_API_TOKEN", "from-env")])
        .unwrap_or_else(|e| panic!("{e}"));
    let api = server.api_addr;
    assert_err(get(api, "/stat/streams"), 401, "Unauthorized");
    let r = raw(
        api,
        "GET",
        "/stat/streams",
        b"",
        "Authorization: Bearer from-env\r\n",
    );
    assert_eq!(r.head.status, 200);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.proc.pid())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("from-env"));
}

#[test]
fn an_empty_token_is_a_start_up_error() {
    let args = [
        "-rtmp=127.0.0.1:0",
        "-http=127.0.0.1:0",
        "-httpapi=127.0.0.1:0",
    ];
    let mut with_flag = args.to_vec();
    with_flag.push("-apitoken=");
    let out = run_joy4(&with_flag, secs(10.0));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("-apitoken"), "{}", out.stderr);
    let out = run_joy4_env(&args, &[("JOY4_API_TOKEN", "")], secs(10.0));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("JOY4_API_TOKEN"), "{}", out.stderr);
}

#[test]
fn metrics_are_prometheus_text_with_per_channel_figures() {
    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&["-apitoken=m3trics", &cb.flag()]);
    let api = server.api_addr;
    let auth = "Authorization: Bearer m3trics\r\n";
    assert_eq!(raw(api, "GET", "/metrics", b"", "").head.status, 401);
    let mut publisher = publish_loop(&mut server, &clip(), "live/abc");
    let _player = play_null(&server.flv_url("live/abc"), 20.0);
    let odd = "odd \"quoted\" \\ name";
    let body = json!({ "id": odd }).to_string();
    assert_eq!(
        raw(api, "POST", "/channel/create", body.as_bytes(), auth)
            .head
            .status,
        200
    );
    cb.wait("streamConnected", secs(10.0), |_| true);

    let mut last = String::new();
    let found = wait_until(secs(15.0), || {
        let r = raw(api, "GET", "/metrics", b"", auth);
        assert_eq!(r.head.status, 200);
        assert_eq!(
            r.head.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        last = r.body_text();
        let (samples, types) = prometheus_parse(&last);
        let value = |name: &str, labels: &[(&str, &str)]| {
            samples
                .iter()
                .find(|(n, l, _)| {
                    n == name
                        && labels
                            .iter()
                            .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
                        && l.len() == labels.len()
                })
                .map(|s| s.2)
        };
        let abc = [("channel", "live/abc")];
        let playing = value(
            "joy4_channel_subscribers",
            &[("channel", "live/abc"), ("type", "http-flv")],
        ) == Some(1.0);
        let flowing = value("joy4_channel_in_bitrate_bits_per_second", &abc)
            .is_some_and(|v| v > 0.0)
            && value("joy4_channel_sent_bytes_total", &abc).is_some_and(|v| v > 0.0);
        (playing && flowing).then(|| {
            (
                samples.clone(),
                types.clone(),
                value("joy4_channel_publisher", &abc),
            )
        })
    });
    let Some((samples, types, publisher_present)) = found else {
        panic!(
            "no player or no media in the metrics:\n{last}\n{}",
            server.describe()
        );
    };
    assert_eq!(publisher_present, Some(1.0));
    let one = |name: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l.is_empty())
            .map(|s| s.2)
            .unwrap_or_else(|| panic!("no {name} in\n{last}"))
    };
    assert!(one("process_resident_memory_bytes") > 1e6);
    assert!(one("process_open_fds") >= 3.0);
    assert!(one("process_threads") >= 3.0);
    assert!(one("joy4_uptime_seconds") > 0.0);
    assert!(one("joy4_callbacks_sent_total") >= 1.0);
    assert_eq!(one("joy4_panics_total"), 0.0);
    assert_eq!(types["joy4_panics"], "counter");
    assert_eq!(types["joy4_channel_buffer_bytes"], "gauge");
    assert!(samples
        .iter()
        .any(|(n, l, v)| n == "joy4_api_requests_total" && l["code"] == "2xx" && *v >= 1.0));
    assert!(samples
        .iter()
        .any(|(n, l, v)| n == "joy4_api_requests_total" && l["code"] == "4xx" && *v >= 1.0));
    assert!(samples
        .iter()
        .any(|(n, l, _)| n == "joy4_channel_buffer_gops" && l["channel"] == odd));
    assert!(samples
        .iter()
        .any(|(n, l, v)| n == "joy4_connections" && l["protocol"] == "rtmp" && *v >= 1.0));

    let stat = raw(api, "GET", "/stat", b"", auth);
    let stat: Value = serde_json::from_slice(&stat.body).unwrap();
    assert!(
        stat["connections"]["http-flv"].as_u64().unwrap_or(0) >= 1,
        "{stat}"
    );
    assert!(
        stat["callbacks"]["sent"].as_u64().unwrap_or(0) >= 1,
        "{stat}"
    );
    assert_eq!(stat["panics"], 0);
    publisher.kill();
}

/// A reader of `GET /events`: the answer's head, then events as they come.
struct EventStream {
    sock: TcpStream,
    pending: String,
}

#[derive(Debug, Clone)]
struct Event {
    id: u64,
    name: String,
    data: Value,
}

impl EventStream {
    fn open(api: SocketAddr, last_event_id: Option<u64>) -> EventStream {
        let resume = last_event_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET /events HTTP/1.1\r\nHost: {api}\r\nAccept: text/event-stream\r\n{resume}\r\n"
        );
        let sock = send(api, req.as_bytes());
        let mut stream = EventStream {
            sock,
            pending: String::new(),
        };
        let head = stream.block(secs(5.0)).expect("the answer's head");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/event-stream"),
            "{head}"
        );
        stream
    }

    /// The next block (up to a blank line), as text.
    fn block(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            let normalised = self.pending.replace("\r\n", "\n");
            if let Some(end) = normalised.find("\n\n") {
                let block = normalised[..end].to_string();
                self.pending = normalised[end + 2..].to_string();
                return Some(block);
            }
            match read_before(&self.sock, &mut buf, deadline) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.pending.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    }

    /// The next event (comments and `retry:` skipped; they are returned in `comments`).
    fn next(&mut self, timeout: Duration, comments: &mut Vec<String>) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            let block = self.block(deadline.saturating_duration_since(Instant::now()))?;
            let mut event = (None, None, None);
            for line in block.lines() {
                if let Some(c) = line.strip_prefix(':') {
                    comments.push(c.trim().to_string());
                } else if let Some(v) = line.strip_prefix("id: ") {
                    event.0 = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event.1 = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    event.2 = Some(serde_json::from_str(v).expect("data is JSON"));
                }
            }
            if let (Some(id), Some(name), Some(data)) = event {
                return Some(Event { id, name, data });
            }
        }
    }

    /// Events until one named `name` whose data satisfies `pred`.
    fn until(&mut self, name: &str, pred: impl Fn(&Value) -> bool) -> Vec<Event> {
        let mut seen = Vec::new();
        let mut comments = Vec::new();
        while let Some(e) = self.next(secs(15.0), &mut comments) {
            let done = e.name == name && pred(&e.data);
            seen.push(e);
            if done {
                return seen;
            }
        }
        panic!("no {name} event; saw {seen:?}");
    }
}

#[test]
fn events_stream_every_hub_event_and_resume_after_the_last_id() {
    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&cb.flag()]);
    let api = server.api_addr;
    let mut reader = EventStream::open(api, None);
    // A reader that never reads must not hold anything up.
    let _stalled = EventStream::open(api, None);

    assert_ok(post(api, "/channel/create", json!({"id": "room"})));
    assert_ok(post(api, "/channel/close", json!({"id": "room"})));
    let closed = reader.until("channelClose", |d| d["id"] == "room");
    let mut publisher = publish_loop(&mut server, &clip(), "live/sse");
    let pid = publisher_id(&server, "sse");
    let connected = reader.until("streamConnected", |d| d["id"] == pid.as_str());
    let connected = connected.last().unwrap();
    // The same JSON the callback posts.
    let posted = cb.wait("streamConnected", secs(5.0), |b| b["id"] == pid.as_str());
    assert_eq!(connected.data["remoteAddr"], posted["remoteAddr"]);
    assert_eq!(connected.data["rtmp"], posted["rtmp"]);
    assert!(connected.id > closed.last().unwrap().id);
    publisher.kill();
    let gone = reader.until("streamClose", |d| d["id"] == pid.as_str());
    let last_id = gone.last().unwrap().id;

    // Resuming after the channelClose replays what came since, in order.
    let mut resumed = EventStream::open(api, Some(closed.last().unwrap().id));
    let mut comments = Vec::new();
    let replayed: Vec<Event> = std::iter::from_fn(|| resumed.next(secs(2.0), &mut comments))
        .take_while(|e| e.id <= last_id)
        .collect();
    let ids: Vec<u64> = replayed.iter().map(|e| e.id).collect();
    assert_eq!(
        ids.first(),
        Some(&(closed.last().unwrap().id + 1)),
        "{replayed:?}"
    );
    assert_eq!(ids.last(), Some(&last_id));
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert!(replayed
        .iter()
        .any(|e| e.name == "streamConnected" && e.data["id"] == pid.as_str()));

    // Idle: a keep-alive comment within 15 s (and a little).
    // Idle: a keep-alive comment within 15 s (and a little) of the last event (the channel's
    // own channelClose comes when its publisher's grace ends).
    let mut comments = Vec::new();
    let give_up = Instant::now() + secs(40.0);
    let mut deadline = Instant::now() + secs(17.0);
    while !comments.iter().any(|c| c == "keep-alive") && Instant::now() < deadline.min(give_up) {
        if reader
            .next(
                deadline.saturating_duration_since(Instant::now()),
                &mut comments,
            )
            .is_some()
        {
            deadline = Instant::now() + secs(17.0);
        }
    }
    assert!(comments.iter().any(|c| c == "keep-alive"), "{comments:?}");
    // The API answered throughout, and counts its readers.
    let (_, stat) = get(api, "/stat");
    assert!(
        stat["events"]["readers"].as_u64().unwrap_or(0) >= 3,
        "{stat}"
    );
}
