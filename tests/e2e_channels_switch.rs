//! Changing a channel's publisher: switched by the API while a recorder plays, and an encoder that
//! reconnects within the grace period. Recordings must continue without a gap or a step back.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use support::api::*;
use support::*;

/// Largest DTS step allowed in a recording across a publisher change: no gap over 1 s is allowed,
/// and the design rebases the new source to one frame (40 ms) after the last timestamp sent, so
/// anything above a few frames is a jump.
const MAX_STEP: f64 = 0.3;

/// The second source: smaller than [`clip`], so that ffprobe tells the two apart.
fn clip_b() -> PathBuf {
    clip_h264_aac(320, 240, CLIP_SECS)
}

/// Channel `id`'s subscriber ids.
fn subscribers(server: &Server, id: &str) -> Vec<String> {
    channel_stat(server, id)["subscribers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Wait until channel `id` has no subscriber (the probe of `wait_for_channel` has gone).
fn wait_no_subscriber(server: &Server, id: &str) {
    let ok = wait_until(secs(5.0), || {
        subscribers(server, id).is_empty().then_some(())
    });
    assert!(
        ok.is_some(),
        "channel {id} keeps subscribers {:?}\n{}",
        subscribers(server, id),
        server.describe()
    );
}

/// Wait until channel `id` has exactly one subscriber, the same in two polls 300 ms apart.
fn sole_subscriber(server: &Server, id: &str, player: &Proc) -> String {
    let mut previous = Vec::new();
    wait_until(secs(8.0), || {
        thread::sleep(Duration::from_millis(250));
        let now = subscribers(server, id);
        let stable = now.len() == 1 && now == previous;
        previous = now;
        stable.then(|| previous[0].clone())
    })
    .unwrap_or_else(|| {
        panic!(
            "channel {id} never had one steady subscriber (last {previous:?})\n{}\n{}",
            player.describe(),
            server.describe()
        )
    })
}

/// A recorder plays channel `show` while the API switches its source A (640x360) -> B (320x240) -> A.
/// The recording has both resolutions in that order, DTS never decreasing, no gap over 1 s, the full
/// requested duration, and the recorder exits 0 on its own.
#[test]
fn publisher_switched_twice_by_the_api_while_a_recorder_plays() {
    const RECORD_SECS: f64 = 15.0;
    let dir = TestDir::new();
    let mut server = Server::start(&[]);
    let _a = publish_loop(&mut server, &clip(), "live/srcA");
    let _b = publish_loop(&mut server, &clip_b(), "live/srcB");
    let a_id = publisher_id(&server, "srcA");
    let b_id = publisher_id(&server, "srcB");
    post_ok(&server, "/channel/create", json!({"id": "show"}));
    post_ok(
        &server,
        "/channel/setPublisher",
        json!({"id": "show", "streamId": a_id}),
    );
    let ready = wait_until(secs(5.0), || {
        (f64_of(&channel_stat(&server, "show")["bufferUsed"]) > 0.0).then_some(())
    });
    assert!(
        ready.is_some(),
        "channel show got no media from A: {:#}\n{}",
        channel_stat(&server, "show"),
        server.describe()
    );

    let out = dir.file("show.flv");
    let mut rec = record(&server.flv_url("show"), &out, RECORD_SECS);
    let sub_id = sole_subscriber(&server, "show", &rec);

    let switch = |to: &str, name: &str| {
        post_ok(
            &server,
            "/channel/setPublisher",
            json!({"id": "show", "streamId": to}),
        );
        let st = channel_stat(&server, "show");
        assert_eq!(st["publisher"], to, "after switching to {name}: {st:#}");
        assert_eq!(
            st["subscribers"],
            json!([sub_id]),
            "after switching to {name}: the recorder must stay the one subscriber: {st:#}"
        );
    };
    thread::sleep(secs(4.0));
    switch(&b_id, "B");
    thread::sleep(secs(5.0));
    switch(&a_id, "A");

    let st = rec.expect_exit(secs(20.0), "recorder of show");
    assert!(
        st.success(),
        "recorder failed: {st}\n{}\n{}",
        rec.describe(),
        server.describe()
    );
    // Both publishers are still connected (the one switched away from only has its media dropped).
    for id in [&a_id, &b_id] {
        assert!(
            stream_stat(&server, id).is_some(),
            "publisher {id} disconnected\n{}",
            server.describe()
        );
    }
    let dur = check_continuous_recording(&out, RECORD_SECS - 1.0, MAX_STEP).unwrap_or_else(|e| {
        panic!(
            "recording of show: {e}\n{}\n{}",
            rec.describe(),
            server.describe()
        )
    });
    let runs = resolution_runs(&out);
    eprintln!("recorded {dur:.2} s; resolution runs {runs:?}");
    let order: Vec<(u64, u64)> = runs.iter().map(|(wh, _)| *wh).collect();
    assert_eq!(
        order,
        vec![(640, 360), (320, 240), (640, 360)],
        "decoded frame sizes in order (runs {runs:?})\n{}",
        server.describe()
    );
    assert!(
        runs.iter().all(|(_, n)| *n >= 25),
        "each source should last at least a second: {runs:?}"
    );
    server.assert_alive("after the switches");
}

/// The publisher of `live/re` is killed and a new one starts 2 s later (within the default 10 s
/// grace): the HTTP-FLV recorder keeps its one connection and records media from both publishers,
/// with timestamps continuing.
#[test]
fn encoder_reconnect_within_grace_keeps_the_http_flv_player() {
    const RECORD_SECS: f64 = 14.0;
    let dir = TestDir::new();
    let mut server = Server::start(&[]);
    let mut first = publish_loop(&mut server, &clip(), "live/re");
    wait_no_subscriber(&server, "live/re");
    let out = dir.file("re.flv");
    let mut rec = record(&server.flv_url("live/re"), &out, RECORD_SECS);
    let sub_id = sole_subscriber(&server, "live/re", &rec);
    let subscribed = Instant::now();

    thread::sleep(secs(4.0));
    first.kill();
    // What the recorder can have had from the first publisher: the time it was subscribed (it
    // joined at most ~0.7 s before `sole_subscriber` saw it twice) plus one GOP of backlog.
    let first_half = subscribed.elapsed().as_secs_f64() + 0.7 + GOP_MS as f64 / 1000.0;
    thread::sleep(secs(2.0));
    let st = channel_stat(&server, "live/re");
    assert_eq!(
        (st["publisher"].as_str(), st["subscribers"].clone()),
        (Some(""), json!([sub_id])),
        "during the grace period the channel waits with its subscriber: {st:#}\n{}",
        server.describe()
    );
    assert!(rec.is_running(), "recorder ended\n{}", rec.describe());
    let second = publish_with(
        &clip(),
        &server.rtmp_url("live/re"),
        Publish {
            loop_forever: true,
            ..Publish::default()
        },
    );
    let second_id = publisher_id(&server, "re");
    let took_over = wait_until(secs(5.0), || {
        (channel_stat(&server, "live/re")["publisher"] == second_id.as_str()).then_some(())
    });
    assert!(
        took_over.is_some(),
        "the new publisher {second_id} did not take over live/re: {:#}\n{}\n{}",
        channel_stat(&server, "live/re"),
        second.describe(),
        server.describe()
    );
    // The recorder stays subscribed (the same stream) until it has its media.
    while rec.is_running() {
        let subs = subscribers(&server, "live/re");
        if rec.is_running() {
            assert_eq!(
                subs,
                vec![sub_id.clone()],
                "the recorder's subscription changed after the reconnect\n{}",
                server.describe()
            );
        }
        thread::sleep(Duration::from_millis(250));
    }

    let status = rec.expect_exit(secs(RECORD_SECS + 10.0), "recorder of live/re");
    assert!(
        status.success(),
        "recorder failed: {status}\n{}\n{}",
        rec.describe(),
        server.describe()
    );
    // It got RECORD_SECS of media, far more than the first publisher gave it: one connection.
    let dur = check_continuous_recording(&out, first_half + 4.0, MAX_STEP).unwrap_or_else(|e| {
        panic!(
            "recording across the reconnect (first half <= {first_half:.1} s): {e}\n{}\n{}",
            rec.describe(),
            server.describe()
        )
    });
    let probe = ffprobe(&out, Count::Frames).unwrap();
    let frames = probe.video().and_then(|v| v.nb_read_frames).unwrap_or(0) as f64;
    assert!(
        frames >= 0.9 * FPS * dur,
        "decoded {frames} video frames of {dur:.2} s\n{}",
        server.describe()
    );
    server.assert_alive("after the reconnect");
}
