//! Edge mode with a list of origins (`-origin=o1,o2`), on loopback: the main origin goes silent
//! (SIGSTOP: no FIN, no RST, like a host whose link went down) while a backup encoder publishes
//! the same channel on the second origin. The edge moves its one pull to the backup within 5 s,
//! its viewers (HTTP-FLV, RTMP, HLS) stay connected, timestamps continue and HLS marks a
//! discontinuity. A channel only the second origin has is found there at once.
mod support;

use std::time::Instant;

use serde_json::{json, Value};
use support::api::*;
use support::*;

/// The edge's pull of `channel`: its tcUrl (which origin) and state.
fn edge_pull(edge: &Server, channel: &str) -> Option<Value> {
    get_json(edge, "/stat/streams")
        .as_object()
        .unwrap()
        .values()
        .find(|s| s["channel"] == channel && s["rtmp"]["command"] == "pull")
        .cloned()
}

fn pull_origin(edge: &Server, channel: &str) -> String {
    edge_pull(edge, channel)
        .map(|p| {
            p["rtmp"]["connectParams"]["tcUrl"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default()
}

fn subscribers(server: &Server, channel: &str) -> u64 {
    channel_stat(server, channel)["subscriberCount"]
        .as_u64()
        .unwrap_or(0)
}

fn signal(server: &Server, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &server.proc.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[test]
fn an_edge_fails_over_to_the_backup_origin_without_dropping_its_viewers() {
    let mut o1 = Server::start(&[]);
    let mut o2 = Server::start(&[]);
    let _main_encoder = publish_loop(&mut o1, &clip(), "live/f");
    let _backup_encoder = publish_loop(&mut o2, &clip(), "live/f");
    let _only_on_o2 = publish_loop(&mut o2, &clip(), "live/two");
    let origins = format!("-origin=rtmp://{},rtmp://{}", o1.rtmp_addr, o2.rtmp_addr);
    let edge = Server::start(&[&origins]);
    let o1_url = format!("rtmp://{}/live", o1.rtmp_addr);
    let o2_url = format!("rtmp://{}/live", o2.rtmp_addr);

    let t0 = Instant::now();
    let viewers: Vec<Watcher> = (0..3)
        .map(|i| Watcher::start(edge.http_addr, "live/f", &format!("edge viewer {i}")))
        .collect();
    for v in &viewers {
        assert!(
            v.video_after(t0, secs(5.0)).is_some(),
            "no video\n{}",
            edge.describe()
        );
    }
    let rtmp_viewer = play_null(&edge.rtmp_url("live/f"), 60.0);
    let hls = HlsViewer::open(edge.http_addr, "live/f").expect("HLS from the edge");
    assert_eq!(pull_origin(&edge, "live/f"), o1_url);
    // However many viewers, the edge is one subscriber of its origin.
    assert!(wait_until(secs(5.0), || (subscribers(&edge, "live/f") >= 4)
        .then_some(()))
    .is_some());
    assert_eq!(subscribers(&o1, "live/f"), 1);
    assert_eq!(subscribers(&o2, "live/f"), 0);
    // Wait for an HLS segment or two before the failover.
    assert!(
        wait_until(secs(10.0), || (hls.media_playlist().segments.len() >= 2)
            .then_some(()))
        .is_some()
    );

    // The main origin goes silent.
    signal(&o1, "STOP");
    let dead = Instant::now();
    let moved = wait_until(secs(8.0), || {
        (pull_origin(&edge, "live/f") == o2_url).then(|| dead.elapsed())
    });
    signal(&o1, "CONT");
    let moved = moved.unwrap_or_else(|| {
        panic!(
            "the edge did not move to o2 within 8 s\n{}",
            edge.describe()
        )
    });
    eprintln!("failover: the edge pulls from o2 {moved:?} after o1 went silent");
    assert!(moved <= secs(5.0), "failover took {moved:?}");
    for v in &viewers {
        let video = v.video_after(dead + moved, secs(5.0));
        assert!(
            video.is_some(),
            "a viewer got no video after the failover (ended: {:?})\n{}",
            v.ended(),
            edge.describe()
        );
        let gap = video.unwrap() - dead;
        assert!(gap <= secs(6.5), "a viewer saw no video for {gap:?}");
    }
    assert_eq!(
        subscribers(&o2, "live/f"),
        1,
        "o2 should serve the edge once"
    );
    // HLS marks the seam.
    let marked = wait_until(secs(10.0), || {
        hls.media_playlist()
            .segments
            .iter()
            .any(|s| s.discontinuity)
            .then_some(())
    });
    assert!(
        marked.is_some(),
        "no discontinuity in {}",
        hls.media_playlist().text
    );

    // A channel only o2 has: o1 says StreamNotFound, the edge asks o2 at once.
    let t1 = Instant::now();
    let two = Watcher::start(edge.http_addr, "live/two", "edge viewer of live/two");
    let first = two.video_after(t1, secs(5.0));
    assert!(
        first.is_some(),
        "live/two not found on o2\n{}",
        edge.describe()
    );
    assert!(
        first.unwrap() - t1 <= secs(3.0),
        "live/two took {:?}",
        first.unwrap() - t1
    );
    assert_eq!(pull_origin(&edge, "live/two"), o2_url);

    let mut rtmp_viewer = rtmp_viewer;
    assert!(
        rtmp_viewer.is_running(),
        "the RTMP viewer stopped\n{}",
        rtmp_viewer.describe()
    );
    for v in viewers {
        assert!(
            v.ended().is_none(),
            "a viewer's play ended: {:?}",
            v.ended()
        );
        let video = v.finish();
        for w in video.windows(2) {
            assert!(
                w[1].1 >= w[0].1,
                "video timestamp went back from {} to {}",
                w[0].1,
                w[1].1
            );
        }
        let before = video.iter().rev().find(|x| x.0 <= dead);
        let after = video.iter().find(|x| x.0 > dead);
        if let (Some(b), Some(a)) = (before, after) {
            assert!(
                a.1 - b.1 <= 2000,
                "timestamps jump by {} ms across the failover",
                a.1 - b.1
            );
        }
    }
    two.finish();
}

/// The edge's pull is an RTMP player on the origin that advertised it follows ReconnectRequests:
/// a request naming a server outside the edge's origins is refused; `/server/drain` on o1 naming
/// o2 moves the pull there while the edge's viewer keeps playing.
#[test]
fn draining_an_origin_moves_the_edges_pulls_to_another_of_its_origins() {
    let mut o1 = Server::start(&[]);
    let mut o2 = Server::start(&[]);
    let mut stranger = Server::start(&[]);
    let _main_encoder = publish_loop(&mut o1, &clip(), "live/d");
    let _backup_encoder = publish_loop(&mut o2, &clip(), "live/d");
    let _stranger_encoder = publish_loop(&mut stranger, &clip(), "live/d");
    let origins = format!("-origin=rtmp://{},rtmp://{}", o1.rtmp_addr, o2.rtmp_addr);
    let edge = Server::start(&[&origins]);
    let viewer = Watcher::start(edge.http_addr, "live/d", "edge viewer");
    assert!(viewer.video_after(Instant::now(), secs(5.0)).is_some());
    let pull_on_o1 = wait_until(secs(5.0), || {
        get_json(&o1, "/stat/streams")
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, s)| s["channel"] == "live/d" && s["stat"] != "publishing")
            .map(|(id, _)| id.clone())
    })
    .expect("the edge's pull plays on o1");

    // Not one of the edge's origins: refused, the pull stays on o1.
    let elsewhere = format!("rtmp://{}/live", stranger.rtmp_addr);
    assert_ok(post_json(
        &o1,
        "/stream/reconnect",
        &json!({"id": pull_on_o1, "tcUrl": elsewhere}),
    ));
    let refused = wait_until(secs(5.0), || {
        edge.proc
            .log_text()
            .contains("is not in the -origin list")
            .then_some(())
    });
    assert!(refused.is_some(), "{}", edge.describe());
    assert_eq!(subscribers(&stranger, "live/d"), 0);
    assert_eq!(
        pull_origin(&edge, "live/d"),
        format!("rtmp://{}/live", o1.rtmp_addr)
    );

    // o1 drains towards o2: the pull moves, o1 is left, the viewer plays on.
    let t0 = Instant::now();
    let to_o2 = format!("rtmp://{}/live", o2.rtmp_addr);
    let (status, drained) = post_json(
        &o1,
        "/server/drain",
        &json!({"tcUrl": to_o2, "timeout": "4s"}),
    );
    assert_eq!(status, 200, "{drained}");
    // The main encoder (ffmpeg) is asked too but does not follow: it remains.
    assert_eq!(drained["asked"], 2, "{drained}");
    assert_eq!(drained["left"], 1, "{drained}");
    eprintln!("drain: the edge's pull left o1 within {:?}", t0.elapsed());
    assert_eq!(pull_origin(&edge, "live/d"), to_o2);
    assert_eq!(subscribers(&o1, "live/d"), 0);
    assert_eq!(subscribers(&o2, "live/d"), 1);
    let after = Instant::now();
    assert!(
        viewer.video_after(after, secs(5.0)).is_some(),
        "the viewer stopped after the move"
    );
    assert!(viewer.ended().is_none());
    viewer.finish();
}
