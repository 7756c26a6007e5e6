//! A client of the REST API over the raw HTTP client: strict requests that check the answer's
//! headers (for the API's own tests), and short helpers that panic with the server's log.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::{http_exchange, http_get, secs, wait_until, HttpResponse, Server};

/// One request with `Connection: close`; `extra` is added to the headers as is (each line ending
/// in CRLF).
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    extra: &str,
) -> Result<HttpResponse, String> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    http_exchange(addr, &req, Duration::from_secs(10))
}

/// [`request`], panicking on failure.
pub fn raw(addr: SocketAddr, method: &str, path: &str, body: &[u8], extra: &str) -> HttpResponse {
    request(addr, method, path, body, extra).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// The status and JSON body of an API answer, which must carry the API's content type and CORS
/// header.
pub fn parse(method: &str, path: &str, r: &HttpResponse) -> (u16, Value) {
    assert_eq!(
        r.head.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{method} {path}: content type of {:?}",
        r.head
    );
    // Anyone may read GET answers; a state-changing route names no origin (the test client
    // sends none), though errors met before routing (401, 404, 405) are as open as GETs.
    let allow_origin = r.head.header("access-control-allow-origin");
    if method == "GET" {
        assert_eq!(allow_origin, Some("*"), "{method} {path}");
    } else {
        assert!(
            matches!(allow_origin, None | Some("*")),
            "{method} {path}: {allow_origin:?}"
        );
    }
    let v = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: answer is not JSON ({e}): {:?}",
            r.body_text()
        )
    });
    (r.head.status, v)
}

/// `GET path`, strictly parsed.
pub fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    parse("GET", path, &raw(addr, "GET", path, b"", ""))
}

/// `POST path` with a JSON body, strictly parsed.
pub fn post(addr: SocketAddr, path: &str, body: Value) -> (u16, Value) {
    let r = raw(addr, "POST", path, body.to_string().as_bytes(), "");
    parse("POST", path, &r)
}

/// `POST path` with a body sent as is, strictly parsed.
pub fn post_text(addr: SocketAddr, path: &str, body: &str) -> (u16, Value) {
    parse("POST", path, &raw(addr, "POST", path, body.as_bytes(), ""))
}

/// `200 {}`.
#[track_caller]
pub fn assert_ok(answer: (u16, Value)) {
    assert_eq!(answer, (200, json!({})));
}

/// `STATUS {"err": ERR, "detail": non-empty}`; returns the detail.
#[track_caller]
pub fn assert_err(answer: (u16, Value), status: u16, err: &str) -> String {
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
pub fn wait_stream(
    server: &Server,
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
pub fn is_publisher(name: &str) -> impl Fn(&Value) -> bool + '_ {
    move |s| s["rtmp"]["command"] == "publish" && s["rtmp"]["streamName"] == name
}

/// `GET path` on the server's API, parsed as JSON (panics with the server log otherwise).
pub fn get_json(server: &Server, path: &str) -> Value {
    let r = http_get(server.api_addr, path)
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.describe()));
    serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "GET {path}: not JSON ({e}): {:?}\n{}",
            r.body_text(),
            server.describe()
        )
    })
}

/// `POST path` with a JSON body on the server's API: the status and the parsed JSON answer.
pub fn post_json(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let r = request(server.api_addr, "POST", path, body.as_bytes(), "")
        .unwrap_or_else(|e| panic!("POST {path} {body}: {e}\n{}", server.describe()));
    let v = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "POST {path} {body}: not JSON ({e}): {:?}\n{}",
            r.body_text(),
            server.describe()
        )
    });
    (r.head.status, v)
}

/// `POST path` with a JSON body, which must answer `200 {}`.
#[track_caller]
pub fn post_ok(server: &Server, path: &str, body: Value) {
    let answer = post_json(server, path, &body);
    assert_eq!(
        answer,
        (200, json!({})),
        "POST {path} {body}\n{}",
        server.describe()
    );
}

/// `/stat/channel/ID`.
pub fn channel_stat(server: &Server, id: &str) -> Value {
    get_json(server, &format!("/stat/channel/{id}"))
}

/// A stream's `/stat/streams` entry, if it is still there.
pub fn stream_stat(server: &Server, id: &str) -> Option<Value> {
    let all = get_json(server, "/stat/streams");
    all.get(id).cloned()
}

/// A stat field that must be a number.
pub fn f64_of(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Wait until the stream `id` has published `media_secs` of media (its stat `time`).
pub fn wait_media_time(server: &Server, id: &str, media_secs: f64) {
    let mut last = Value::Null;
    let ok = wait_until(secs(media_secs + 10.0), || {
        let s = stream_stat(server, id)?;
        let t = s["time"].as_f64().unwrap_or(0.0);
        last = s;
        (t >= media_secs).then_some(())
    });
    assert!(
        ok.is_some(),
        "stream {id} did not reach {media_secs} s of media: {last:#}\n{}",
        server.describe()
    );
}

/// The id of the RTMP stream publishing `live/NAME` (waits up to 10 s for it to show).
pub fn publisher_id(server: &Server, name: &str) -> String {
    let what = format!("publishing {name}");
    wait_stream(server, &what, secs(10.0), is_publisher(name)).0
}

/// `POST /stream/new BODY`, which must answer `200 {"id": …}`; returns the id.
#[track_caller]
pub fn new_stream(server: &Server, body: Value) -> String {
    let (status, v) = post_json(server, "/stream/new", &body);
    assert_eq!(
        status,
        200,
        "POST /stream/new {body}: {v}\n{}",
        server.describe()
    );
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("POST /stream/new {body}: no id in {v}"))
        .to_string()
}

/// `POST PATH BODY`, which must answer `400 {"err": ERR, "detail": non-empty}`.
#[track_caller]
pub fn assert_refused(server: &Server, path: &str, body: Value, err: &str) {
    assert_err(post_json(server, path, &body), 400, err);
}

/// Poll `/stat/stream/{id}` until `pred` holds; returns the stat object.
pub fn wait_stream_stat(
    server: &Server,
    id: &str,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    let found = wait_until(timeout, || {
        last = get_json(server, &format!("/stat/stream/{id}"));
        pred(&last).then(|| last.clone())
    });
    found.unwrap_or_else(|| {
        panic!(
            "stream {id} is not {what} after {timeout:?}; last stat: {last:#}\n{}",
            server.describe()
        )
    })
}

/// Whether `/stat/streams` lists `id`.
pub fn has_stream(server: &Server, id: &str) -> bool {
    stream_stat(server, id).is_some()
}

/// Whether `/stat/channels` lists `id`.
pub fn has_channel(server: &Server, id: &str) -> bool {
    get_json(server, "/stat/channels").get(id).is_some()
}
