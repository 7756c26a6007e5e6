//! Stream proxy pulls: over RTMP and HTTP-FLV through an origin restart, and edge mode pulling
//! unknown channels from the origin on demand. Two `joy4` processes on loopback ports, real ffmpeg
//! publishers and players.
//!
//! An origin that gets killed and restarted on the same ports is started with fixed ports, picked
//! by binding port 0 first. Each test starts its own servers, so the tests run in parallel.
mod support;

use std::thread;
use std::time::Instant;

use serde_json::{json, Value};
use support::api::*;
use support::*;

/// A pull or push that shows its codec facts: H.264 640x360 and AAC.
fn carries_the_clip(stat: &Value) -> bool {
    stat["video"]["type"] == "H264"
        && stat["video"]["width"] == 640
        && stat["audio"]["type"] == "AAC"
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

/// B pulls A's channel over RTMP (into `live/r`) and over HTTP-FLV (into `live/h`); an ffmpeg
/// player records `live/r` from B and decodes it, two HTTP-FLV players watch both channels. A is
/// killed and started again on the same ports: the players stay connected, media come back
/// within a few seconds of A's return, and timestamps continue.
#[test]
fn pulls_over_rtmp_and_http_flv_survive_an_origin_restart() {
    let ports_a = free_ports();
    let mut a = Server::start_on(ports_a, &[]);
    let b = Server::start(&[]);
    let mut publisher = publish_loop(&mut a, &clip(), "live/src");

    let rtmp_pull = new_stream(
        &b,
        json!({"id": "from-a", "url": a.rtmp_url("live/src"), "channel": "live/r"}),
    );
    assert_eq!(rtmp_pull, "from-a");
    let http_pull = new_stream(
        &b,
        json!({"url": a.flv_url("live/src"), "channel": "live/h"}),
    );
    let stat = wait_stream_stat(&b, &rtmp_pull, "publishing the clip", secs(10.0), |s| {
        s["stat"] == "publishing" && carries_the_clip(s)
    });
    assert_eq!(stat["type"], "rtmp");
    assert_eq!(stat["rtmp"]["command"], "pull");
    assert_eq!(stat["rtmp"]["streamName"], "src");
    assert_eq!(stat["channel"], "live/r");
    let stat = wait_stream_stat(&b, &http_pull, "publishing the clip", secs(10.0), |s| {
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
    let mut a = Server::start_on(ports_a, &[]);
    let mut publisher = publish_loop(&mut a, &clip(), "live/src");
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

/// B in edge mode (`-origin=rtmp://A`): plays of channels only A has start within 2 s (a
/// two-segment path over HTTP-FLV, a one-segment path over RTMP with ffmpeg), a channel A does
/// not have ends at once, and an edge channel closes a few seconds after its last player left.
#[test]
fn edge_mode_pulls_unknown_channels_from_the_origin_on_demand() {
    let mut a = Server::start(&[]);
    let origin = format!("-origin=rtmp://{}", a.rtmp_addr);
    let b = Server::start(&[&origin]);
    let _p1 = publish_loop(&mut a, &clip(), "live/e");
    let _p2 = publish_loop(&mut a, &clip(), "solo");

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
