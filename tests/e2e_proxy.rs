//! End-to-end tests of the stream proxy (issue 5): pulls over RTMP and HTTP-FLV, a push, edge mode
//! and the API's refusals, with two or three `joy4` processes on loopback ports and real ffmpeg
//! publishers and players.
//!
//! Servers that get killed and restarted on the same ports are started with fixed ports, picked
//! by binding port 0 first. Each test starts its own servers, so the tests run in parallel.
mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

/// Publishers loop this clip (`-stream_loop -1`); the same cached clip as the other e2e tests.
fn clip() -> PathBuf {
    clip_h264_aac(640, 360, 20)
}

fn publish_loop(server: &mut Server, path: &str) -> Proc {
    let mut p = publish_with(
        &clip(),
        &server.rtmp_url(path),
        Publish {
            loop_forever: true,
            ..Publish::default()
        },
    );
    wait_for_channel(server, path, &mut p);
    p
}

// ---------------------------------------------------------------------------------------------------
// Servers on fixed ports
// ---------------------------------------------------------------------------------------------------

/// Three free loopback ports (rtmp, http, httpapi): bound at once, then released.
fn free_ports() -> [u16; 3] {
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    let port = |i: usize| listeners[i].local_addr().unwrap().port();
    [port(0), port(1), port(2)]
}

/// Start joy4 on `ports`, so that it can be killed and started again at the same addresses.
fn start_on(ports: [u16; 3], extra: &[&str]) -> Server {
    let mut args: Vec<String> = vec![
        format!("-rtmp=127.0.0.1:{}", ports[0]),
        format!("-http=127.0.0.1:{}", ports[1]),
        format!("-httpapi=127.0.0.1:{}", ports[2]),
        "-loglevel=debug".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Server::start_args(&args).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------------------
// API client
// ---------------------------------------------------------------------------------------------------

/// `POST /stream/new BODY`, which must answer `200 {"id": …}`; returns the id.
#[track_caller]
fn new_stream(server: &Server, body: Value) -> String {
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
fn assert_refused(server: &Server, path: &str, body: Value, err: &str) {
    let (status, v) = post_json(server, path, &body);
    assert_eq!(
        (status, v["err"].as_str()),
        (400, Some(err)),
        "POST {path} {body}: {v}"
    );
    assert!(
        v["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "POST {path} {body}: no detail in {v}"
    );
}

/// Poll `/stat/stream/{id}` until `pred` holds; returns the stat object.
fn wait_stream(
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

fn has_stream(server: &Server, id: &str) -> bool {
    get_json(server, "/stat/streams").get(id).is_some()
}

/// Wait until `GET /PATH.flv` on `server` answers 200.
fn wait_channel_up(server: &Server, path: &str, timeout: Duration) -> bool {
    let flv = Server::flv_path(path);
    wait_until(timeout, || {
        (http_status(server.http_addr, &flv).ok() == Some(200)).then_some(())
    })
    .is_some()
}

fn has_channel(server: &Server, id: &str) -> bool {
    get_json(server, "/stat/channels").get(id).is_some()
}

/// A pull or push that shows its codec facts: H.264 640x360 and AAC.
fn carries_the_clip(stat: &Value) -> bool {
    stat["video"]["type"] == "H264"
        && stat["video"]["width"] == 640
        && stat["audio"]["type"] == "AAC"
}

/// Record `secs` of `url` and check that it decodes as the clip (H.264 640x360 + AAC, most
/// frames there).
fn record_and_decode(url: &str, secs: f64, label: &str) {
    let dir = TestDir::new();
    let out = dir.file(&format!("{label}.flv"));
    let mut rec = record(url, &out, secs);
    let st = rec.expect_exit(Duration::from_secs_f64(secs + 20.0), label);
    assert!(
        st.success(),
        "{label}: recorder failed ({st})\n{}",
        rec.describe()
    );
    let probe = ffprobe(&out, Count::Frames).unwrap_or_else(|e| panic!("{label}: {e}"));
    let video = probe
        .video()
        .unwrap_or_else(|| panic!("{label}: no video in {probe:?}"));
    assert_eq!(
        (video.codec_name.as_str(), video.width, video.height),
        ("h264", 640, 360),
        "{label}"
    );
    let frames = video.nb_read_frames.unwrap_or(0) as f64;
    assert!(
        frames >= secs * FPS * 0.8,
        "{label}: only {frames} video frames decoded in {secs} s"
    );
    let audio = probe
        .audio()
        .unwrap_or_else(|| panic!("{label}: no audio in {probe:?}"));
    assert_eq!(audio.codec_name, "aac", "{label}");
}

// ---------------------------------------------------------------------------------------------------
// An HTTP-FLV player that notes when each video tag arrives
// ---------------------------------------------------------------------------------------------------

#[derive(Default)]
struct Seen {
    /// Arrival and timestamp of every video tag.
    video: Vec<(Instant, u32)>,
    /// Why the body ended, if it did.
    ended: Option<String>,
}

struct Watcher {
    label: String,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watcher {
    fn start(addr: SocketAddr, path: &str, label: &str) -> Watcher {
        let mut stream = FlvStream::open(addr, &Server::flv_path(path), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(stream.head.status, 200, "{label}: {:?}", stream.head);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match stream.next_tag(Duration::from_millis(200)) {
                    Ok(Some(tag)) if tag.is_video() => {
                        seen2
                            .lock()
                            .unwrap()
                            .video
                            .push((Instant::now(), tag.timestamp));
                    }
                    Ok(Some(_)) | Err(StreamError::Timeout) => {}
                    Ok(None) => {
                        seen2.lock().unwrap().ended = Some("the body ended".into());
                        return;
                    }
                    Err(e) => {
                        seen2.lock().unwrap().ended = Some(e.to_string());
                        return;
                    }
                }
            }
        });
        Watcher {
            label: label.to_string(),
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// The first video tag that arrived after `t`, waiting up to `timeout` for it.
    fn video_after(&self, t: Instant, timeout: Duration) -> Option<Instant> {
        wait_until(timeout, || {
            let seen = self.seen.lock().unwrap();
            seen.video.iter().map(|v| v.0).find(|&at| at > t)
        })
    }

    fn ended(&self) -> Option<String> {
        self.seen.lock().unwrap().ended.clone()
    }

    /// Stop reading; returns the video tags seen. Panics if the body ended meanwhile.
    fn finish(mut self) -> Vec<(Instant, u32)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("watcher thread");
        }
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        assert!(
            seen.ended.is_none(),
            "{}: the player was disconnected: {:?}",
            self.label,
            seen.ended
        );
        seen.video
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Video timestamps never go backwards, and the seam around `gap_at` (the outage) is a small
/// step: the channel continued its timeline instead of restarting it.
fn assert_continuous(label: &str, video: &[(Instant, u32)], gap_at: Instant) {
    for w in video.windows(2) {
        assert!(
            w[1].1 >= w[0].1,
            "{label}: video timestamp went back from {} to {}",
            w[0].1,
            w[1].1
        );
    }
    let before = video.iter().rev().find(|v| v.0 <= gap_at);
    let after = video.iter().find(|v| v.0 > gap_at);
    if let (Some(b), Some(a)) = (before, after) {
        assert!(
            a.1 - b.1 <= 2000,
            "{label}: timestamps jump by {} ms across the outage",
            a.1 - b.1
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------

/// B pulls A's channel over RTMP (into `live/r`) and over HTTP-FLV (into `live/h`); an ffmpeg
/// player records `live/r` from B and decodes it, two HTTP-FLV players watch both channels. A is
/// killed and started again on the same ports: the players stay connected, media come back
/// within a few seconds of A's return, and timestamps continue.
#[test]
fn pulls_over_rtmp_and_http_flv_survive_an_origin_restart() {
    let ports_a = free_ports();
    let mut a = start_on(ports_a, &[]);
    let b = Server::start(&[]);
    let mut publisher = publish_loop(&mut a, "live/src");

    let rtmp_pull = new_stream(
        &b,
        json!({"id": "from-a", "url": a.rtmp_url("live/src"), "channel": "live/r"}),
    );
    assert_eq!(rtmp_pull, "from-a");
    let http_pull = new_stream(
        &b,
        json!({"url": a.flv_url("live/src"), "channel": "live/h"}),
    );
    let stat = wait_stream(&b, &rtmp_pull, "publishing the clip", secs(10.0), |s| {
        s["stat"] == "publishing" && carries_the_clip(s)
    });
    assert_eq!(stat["type"], "rtmp");
    assert_eq!(stat["rtmp"]["command"], "pull");
    assert_eq!(stat["rtmp"]["streamName"], "src");
    assert_eq!(stat["channel"], "live/r");
    let stat = wait_stream(&b, &http_pull, "publishing the clip", secs(10.0), |s| {
        s["stat"] == "publishing" && carries_the_clip(s)
    });
    assert_eq!(stat["type"], "http-flv");
    assert_eq!(get_json(&b, "/stat/channel/live/h")["publisher"], http_pull);

    // Players on B: an ffmpeg recorder of 12 s of media (spanning the outage) and two watchers.
    let dir = TestDir::new();
    let recording = dir.file("through-restart.flv");
    let mut recorder = record(&b.rtmp_url("live/r"), &recording, 12.0);
    let watch_r = Watcher::start(b.http_addr, "live/r", "HTTP-FLV player of live/r");
    let watch_h = Watcher::start(b.http_addr, "live/h", "HTTP-FLV player of live/h");
    let t0 = Instant::now();
    for w in [&watch_r, &watch_h] {
        assert!(
            w.video_after(t0, secs(5.0)).is_some(),
            "{}: no video before the restart",
            w.label
        );
    }
    thread::sleep(secs(2.0));

    // Kill A (and its publisher), wait a second, start it again at the same addresses.
    publisher.kill();
    a.proc.kill();
    let killed = Instant::now();
    thread::sleep(secs(1.0));
    let mut a = start_on(ports_a, &[]);
    let mut publisher = publish_loop(&mut a, "live/src");
    let back = Instant::now();
    for w in [&watch_r, &watch_h] {
        let again = w.video_after(back, secs(10.0)).unwrap_or_else(|| {
            panic!(
                "{}: no video within 10 s of the origin's return (ended: {:?})\n{}",
                w.label,
                w.ended(),
                b.describe()
            )
        });
        let delay = again - back;
        assert!(
            delay < secs(8.0),
            "{}: media came back {delay:?} after the origin",
            w.label
        );
        eprintln!(
            "{}: media again {delay:?} after the origin's return",
            w.label
        );
    }
    assert_continuous("live/r", &watch_r.finish(), killed);
    assert_continuous("live/h", &watch_h.finish(), killed);

    let st = recorder.expect_exit(secs(40.0), "recording through the restart");
    assert!(st.success(), "recorder: {st}\n{}", recorder.describe());
    let probe = ffprobe(&recording, Count::Frames).unwrap();
    let video = probe.video().expect("video in the recording");
    assert_eq!((video.width, video.height), (640, 360));
    assert!(
        video.nb_read_frames.unwrap_or(0) >= 250,
        "only {:?} frames decoded of 12 s",
        video.nb_read_frames
    );
    let gap = max_gap(&packet_times(&recording, "v:0").unwrap());
    assert!(
        gap < 1.0,
        "the recording has a {gap} s hole in its timeline"
    );
    assert!(has_stream(&b, &rtmp_pull) && has_stream(&b, &http_pull));
    publisher.kill();
}

/// B pushes a channel to C; C's player decodes it. C is killed and started again: the push
/// reconnects and C has the channel again. A pull without a channel is wired by
/// `/channel/setPublisher`. `/stream/close` ends a push.
#[test]
fn push_to_another_server_reconnects_and_plays_there() {
    let mut b = Server::start(&[]);
    let ports_c = free_ports();
    let c = start_on(ports_c, &["-publishergrace=1s"]);
    let _publisher = publish_loop(&mut b, "live/p");

    let push = new_stream(
        &b,
        json!({"url": c.rtmp_url("live/pushed"), "channel": "live/p", "push": true}),
    );
    let stat = wait_stream(&b, &push, "pushing", secs(10.0), |s| {
        s["channel"] == "live/p"
    });
    assert_eq!(stat["type"], "rtmp");
    assert_eq!(stat["rtmp"]["command"], "push");
    assert_eq!(stat["rtmp"]["streamName"], "pushed");
    assert!(
        wait_channel_up(&c, "live/pushed", secs(10.0)),
        "C has no channel live/pushed\n{}\n{}",
        b.describe(),
        c.describe()
    );
    record_and_decode(&c.rtmp_url("live/pushed"), 4.0, "played from C");
    let pushed = wait_stream(&b, &push, "counting bytes", secs(5.0), |s| {
        s["bytes"].as_u64().unwrap_or(0) > 100_000
    });
    assert!(pushed["time"].as_f64().unwrap_or(0.0) > 1.0, "{pushed}");

    // C goes away and comes back: the push publishes again.
    let mut c = c;
    c.proc.kill();
    thread::sleep(secs(1.0));
    let c = start_on(ports_c, &["-publishergrace=1s"]);
    let back = Instant::now();
    assert!(
        wait_channel_up(&c, "live/pushed", secs(10.0)),
        "the push did not come back to C\n{}",
        b.describe()
    );
    eprintln!(
        "push: C has the channel again {:?} after its return",
        back.elapsed()
    );
    assert!(back.elapsed() < secs(8.0));
    record_and_decode(
        &c.rtmp_url("live/pushed"),
        3.0,
        "played from C after its restart",
    );

    // A pull without a channel waits in `connected` for the controller.
    let free = new_stream(&b, json!({"url": b.rtmp_url("live/p"), "id": "loop"}));
    let stat = wait_stream(&b, &free, "connected", secs(10.0), |s| {
        s["stat"] == "connected"
    });
    assert!(stat["channel"].is_null(), "{stat}");
    assert_eq!(
        post_json(&b, "/channel/create", &json!({"id": "live/free"})),
        (200, json!({}))
    );
    assert_eq!(
        post_json(
            &b,
            "/channel/setPublisher",
            &json!({"id": "live/free", "streamId": "loop"})
        ),
        (200, json!({}))
    );
    wait_stream(&b, &free, "publishing", secs(5.0), |s| {
        s["stat"] == "publishing" && s["channel"] == "live/free"
    });
    let watch = Watcher::start(b.http_addr, "live/free", "player of the wired pull");
    assert!(watch.video_after(Instant::now(), secs(5.0)).is_some());
    watch.finish();

    // /stream/close ends the push for good: it leaves B's stats and C's channel closes.
    assert_eq!(
        post_json(&b, "/stream/close", &json!({"id": push})),
        (200, json!({}))
    );
    assert!(
        wait_until(secs(5.0), || (!has_stream(&b, &push)).then_some(())).is_some(),
        "the push is still listed after /stream/close"
    );
    assert!(
        wait_until(secs(15.0), || (!has_channel(&c, "live/pushed"))
            .then_some(()))
        .is_some(),
        "C still has the channel after the push ended"
    );
}

/// B in edge mode (`-origin=rtmp://A`): plays of channels only A has start within 2 s (a
/// two-segment path over HTTP-FLV, a one-segment path over RTMP with ffmpeg), a channel A does
/// not have ends at once, and an edge channel closes a few seconds after its last player left.
#[test]
fn edge_mode_pulls_unknown_channels_from_the_origin_on_demand() {
    let mut a = Server::start(&[]);
    let origin = format!("-origin=rtmp://{}", a.rtmp_addr);
    let b = Server::start(&[&origin]);
    let _p1 = publish_loop(&mut a, "live/e");
    let _p2 = publish_loop(&mut a, "solo");

    assert!(!has_channel(&b, "live/e"));
    let t0 = Instant::now();
    let watch = Watcher::start(b.http_addr, "live/e", "edge player of live/e");
    let first = watch.video_after(t0, secs(5.0)).unwrap_or_else(|| {
        panic!(
            "edge: no video within 5 s (ended: {:?})\n{}",
            watch.ended(),
            b.describe()
        )
    });
    let startup = first - t0;
    eprintln!("edge: first video {startup:?} after the play");
    assert!(startup < secs(2.0), "edge play took {startup:?} to start");
    let pulls: Vec<Value> = get_json(&b, "/stat/streams")
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["rtmp"]["command"] == "pull")
        .cloned()
        .collect();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(pulls[0]["channel"], "live/e");
    assert_eq!(pulls[0]["stat"], "publishing");

    // ffmpeg plays rtmp://B/solo (app and name "solo", channel "solo") and decodes it.
    let t1 = Instant::now();
    record_and_decode(&b.rtmp_url("solo"), 3.0, "edge play of solo");
    assert!(t1.elapsed() < secs(12.0));

    // A channel the origin does not have: the player's body ends instead of waiting forever.
    let missing = Watcher::start(b.http_addr, "live/none", "edge player of a missing channel");
    assert!(
        wait_until(secs(5.0), || missing.ended()).is_some(),
        "the player of a channel the origin lacks is still waiting"
    );
    assert!(!has_channel(&b, "live/none"));

    // The last player leaves: a few seconds later the pull stops and the channel closes.
    watch.finish();
    let left = Instant::now();
    let closed = wait_until(secs(12.0), || {
        (!has_channel(&b, "live/e")).then(|| left.elapsed())
    });
    let closed = closed.unwrap_or_else(|| {
        panic!(
            "edge channel live/e still open 12 s after its last player left\n{}",
            b.describe()
        )
    });
    assert!(
        closed >= secs(4.0),
        "edge channel closed after only {closed:?}"
    );
    assert!(
        wait_until(secs(3.0), || {
            let streams = get_json(&b, "/stat/streams");
            (!streams
                .as_object()
                .unwrap()
                .values()
                .any(|s| s["channel"] == "live/e"))
            .then_some(())
        })
        .is_some(),
        "the edge pull of live/e is still listed"
    );

    // Played again, it is pulled again.
    let again = Watcher::start(b.http_addr, "live/e", "second edge player of live/e");
    assert!(again.video_after(Instant::now(), secs(5.0)).is_some());
    again.finish();
}

/// URLs the proxy cannot use get 400 BadUrl; a taken id 400 StreamExists; a push of a missing
/// channel 400 ChannelNotExists; a pull of an unreachable server stays `connecting` until closed.
#[test]
fn bad_requests_get_400_and_unreachable_pulls_keep_connecting() {
    let b = Server::start(&[]);
    for url in [
        "ftp://127.0.0.1/live/x",
        "https://127.0.0.1/live/x.flv",
        "rtmp://",
        "rtmp:///live/x",
        "rtmp://127.0.0.1:99999/live/x",
        "rtmp://127.0.0.1:port/live/x",
        "rtmp://127.0.0.1",
        "rtmp://127.0.0.1/live/",
        "http://127.0.0.1:0/live/x.flv",
        "http://127.0.0.1/",
        "not a url",
    ] {
        assert_refused(&b, "/stream/new", json!({ "url": url }), "BadUrl");
    }
    assert_refused(&b, "/stream/new", json!({}), "BadRequest");
    assert_refused(&b, "/stream/new", json!({"url": 7}), "BadRequest");
    assert_refused(
        &b,
        "/stream/new",
        json!({"url": "rtmp://127.0.0.1/live/x", "push": true}),
        "BadRequest",
    );
    assert_refused(
        &b,
        "/stream/new",
        json!({"url": "rtmp://127.0.0.1/live/x", "channel": "nothing", "push": true}),
        "ChannelNotExists",
    );

    let port = free_ports()[0];
    let url = format!("rtmp://127.0.0.1:{port}/live/x");
    let id = new_stream(
        &b,
        json!({"id": "pending", "url": url, "channel": "live/x"}),
    );
    assert_eq!(id, "pending");
    assert_refused(
        &b,
        "/stream/new",
        json!({"id": "pending", "url": url}),
        "StreamExists",
    );
    thread::sleep(secs(1.5));
    let stat = get_json(&b, "/stat/stream/pending");
    assert_eq!(stat["stat"], "connecting", "{stat}");
    assert_eq!(stat["type"], "rtmp");
    assert!(
        !has_channel(&b, "live/x"),
        "the channel waits for the first connection"
    );
    assert_eq!(
        post_json(&b, "/stream/close", &json!({"id": "pending"})),
        (200, json!({}))
    );
    assert!(
        wait_until(secs(3.0), || (!has_stream(&b, "pending")).then_some(())).is_some(),
        "the pull is still listed after /stream/close"
    );
}
