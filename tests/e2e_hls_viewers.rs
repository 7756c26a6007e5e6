//! HLS viewers as streams: each is an `hls-mem` stream in `/stat/streams` with its bytes and
//! address, reported by `streamConnected` and `streamClose`, closable by the API, held for
//! accept/reject with `-rtmpcheckparams`; and a hundred of them cost one mux.
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use serde_json::{json, Value};
use support::api::*;
use support::*;

fn hls_streams(server: &Server) -> Vec<Value> {
    let all = get_json(server, "/stat/streams");
    all.as_object()
        .map(|m| {
            m.values()
                .filter(|s| s["type"] == "hls-mem")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn json_of(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body_text()))
}

#[test]
fn an_hls_viewer_is_a_stream_until_it_stops_polling() {
    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&cb.flag()]);
    let _publisher = publish_loop(&mut server, &clip(), "live/watched");
    let head = get_with(server.http_addr, "HEAD", "/live/watched.m3u8", "");
    assert_eq!(head.head.status, 200);
    assert!(hls_streams(&server).is_empty(), "a HEAD opens no session");
    let viewer = HlsViewer::open(server.http_addr, "live/watched").unwrap();
    let playlist = viewer.media_playlist();
    let segment = viewer.get_segment(&playlist.segments[0], "");
    assert_eq!(segment.head.status, 200);

    let streams = hls_streams(&server);
    assert_eq!(streams.len(), 1, "{streams:#?}");
    let stream = &streams[0];
    let id = stream["id"].as_str().unwrap().to_string();
    assert_eq!(stream["stat"], "subscribing");
    assert_eq!(stream["channel"], "live/watched");
    assert!(stream["remoteAddr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(
        f64_of(&stream["bytes"]) >= segment.body.len() as f64,
        "bytes count what it was sent: {stream}"
    );
    assert_eq!(stream["video"]["width"], 640);
    let connected = cb.wait("streamConnected", secs(5.0), |b| b["id"] == id.as_str());
    assert_eq!(connected["type"], "hls-mem");
    // A rate shows once the stream has lived a whole second; the viewer polls meanwhile.
    wait_until(secs(5.0), || {
        viewer.media_playlist();
        let bitrate = f64_of(&stream_stat(&server, &id)?["bitrate"]);
        thread::sleep(secs(0.3));
        (bitrate > 0.0).then_some(())
    })
    .expect("a bitrate");

    // Quiet: still a viewer within two target durations (4 s), gone after.
    viewer.media_playlist();
    let quiet = Instant::now();
    thread::sleep(secs(2.0));
    assert!(stream_stat(&server, &id).is_some(), "left too early");
    let close = cb.wait("streamClose", secs(10.0), |b| b["id"] == id.as_str());
    let after = quiet.elapsed().as_secs_f64();
    assert!((3.5..9.0).contains(&after), "left after {after} s");
    assert_eq!(close["reason"], "timeout");
    assert!(stream_stat(&server, &id).is_none());

    // An expired session's player carries on in a new session.
    let again = viewer.media_playlist();
    assert!(!again.segments.is_empty());
    assert_eq!(hls_streams(&server).len(), 1);
}

#[test]
fn closing_an_hls_viewer_by_the_api_refuses_its_next_request() {
    let mut server = Server::start(&[]);
    let _publisher = publish_loop(&mut server, &clip(), "live/closed");
    let viewer = HlsViewer::open(server.http_addr, "live/closed").unwrap();
    let playlist = viewer.media_playlist();
    let id = hls_streams(&server)[0]["id"].as_str().unwrap().to_string();
    let (status, _) = post_json(&server, "/stream/close", &json!({ "id": id }));
    assert_eq!(status, 200);
    wait_until(secs(5.0), || {
        stream_stat(&server, &id).is_none().then_some(())
    })
    .expect("the closed viewer leaves /stat/streams");
    let r = get_with(server.http_addr, "GET", &viewer.media_path, "");
    assert_eq!(r.head.status, 403);
    assert_eq!(json_of(&r)["error"], "StreamClosed");
    let r = viewer.get_segment(&playlist.segments[0], "");
    assert_eq!(r.head.status, 403);
}

#[test]
fn with_rtmpcheckparams_an_hls_viewer_waits_for_accept_or_reject() {
    let cb = Callbacks::start(|b| {
        let token = b["rtmp"]["params"]["token"].as_str();
        match (b["type"].as_str(), token) {
            (Some("rtmp"), _) => r#"{"accept": true}"#.into(),
            (_, Some("bad")) => r#"{"accept": false}"#.into(),
            _ => "{}".into(),
        }
    });
    let mut server = Server::start(&[&cb.flag(), "-rtmpcheckparams", "-checktimeout=15s"]);
    let _publisher = publish_loop(&mut server, &clip(), "live/guarded");
    let addr = server.http_addr;
    let waiting = thread::spawn(move || HlsViewer::open_with(addr, "live/guarded", "token=good"));
    let check = cb.wait("streamCheckParams", secs(15.0), |b| b["type"] == "hls-mem");
    let id = check["id"].as_str().unwrap().to_string();
    assert_eq!(check["rtmp"]["streamName"], "live/guarded");
    assert_eq!(stream_stat(&server, &id).unwrap()["stat"], "checkingParams");
    thread::sleep(secs(0.5));
    assert!(!waiting.is_finished(), "answered before the decision");
    let (status, _) = post_json(&server, "/stream/accept", &json!({ "id": id }));
    assert_eq!(status, 200);
    let viewer = waiting.join().unwrap().expect("accepted");
    assert!(!viewer.media_playlist().segments.is_empty());
    assert_eq!(stream_stat(&server, &id).unwrap()["stat"], "subscribing");

    let r = get_with(addr, "GET", "/live/guarded.m3u8?token=bad", "");
    assert_eq!(r.head.status, 403, "{}", r.body_text());
    assert_eq!(json_of(&r)["error"], "Rejected");
}

#[test]
fn a_hundred_viewers_cost_one_mux() {
    const VIEWERS: usize = 100;
    const POLL_SECS: f64 = 6.0;
    let mut server = Server::start(&[]);
    let _publisher = publish_loop(&mut server, &clip(), "live/many");
    // The first viewer starts the muxer; the rest join it.
    HlsViewer::open(server.http_addr, "live/many").unwrap();
    let addr = server.http_addr;
    // Segment path (without the session) -> the distinct bodies served under it.
    let bodies: Arc<Mutex<HashMap<String, Vec<Vec<u8>>>>> = Arc::default();
    let cpu_before = cpu_seconds(server.proc.pid());
    let started = Instant::now();
    let threads: Vec<_> = (0..VIEWERS)
        .map(|_| {
            let bodies = bodies.clone();
            thread::spawn(move || {
                let viewer = HlsViewer::open(addr, "live/many").unwrap();
                let mut fetched = 0;
                while started.elapsed().as_secs_f64() < POLL_SECS {
                    let playlist = viewer.media_playlist();
                    let newest = playlist.segments.last().unwrap();
                    let path = viewer.segment_path(newest);
                    let key = path.split('?').next().unwrap().to_string();
                    let r = viewer.get_segment(newest, "");
                    assert_eq!(r.head.status, 200);
                    let mut seen = bodies.lock().unwrap();
                    let list = seen.entry(key).or_default();
                    if !list.contains(&r.body) {
                        list.push(r.body);
                    }
                    fetched += 1;
                    drop(seen);
                    thread::sleep(secs(1.0));
                }
                fetched
            })
        })
        .collect();
    let fetched: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.proc.pid()) - cpu_before;

    let channel = channel_stat(&server, "live/many");
    assert_eq!(
        channel["subscribers"],
        json!(["hls:live/many"]),
        "one muxer subscribes, however many watch"
    );
    let viewers = hls_streams(&server).len();
    assert!(viewers >= VIEWERS, "{viewers} hls-mem streams");
    let bodies = bodies.lock().unwrap();
    assert!(!bodies.is_empty());
    for (path, versions) in bodies.iter() {
        assert_eq!(versions.len(), 1, "{path} was served with different bytes");
    }
    let viewer_secs = VIEWERS as f64 * wall;
    eprintln!(
        "{VIEWERS} HLS viewers for {wall:.1} s ({fetched} playlist+segment fetches): server CPU {cpu:.2} s, {:.2} ms CPU per viewer-second",
        cpu * 1000.0 / viewer_secs
    );
}
