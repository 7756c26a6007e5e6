//! A subscriber that never reads: it slows neither the publisher nor the other subscribers, and
//! its packets are dropped.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::api::*;
use support::*;

// ---------------------------------------------------------------------------------------------------

/// An HTTP-FLV subscriber that never reads its socket: the publisher keeps real time, a parallel
/// ffmpeg recorder gets every frame, and the stuck subscriber's `droppedPackets` grows.
#[test]
fn a_subscriber_that_never_reads_slows_nobody_and_drops_packets() {
    const RECORD_SECS: f64 = 18.0;
    let dir = TestDir::new();
    let mut server = Server::start(&[]);
    let _publisher = publish_loop(&mut server, &clip_high_bitrate(), "live/slow");
    let pub_id = publisher_id(&server, "slow");

    let stuck = tcp_connect(server.http_addr).unwrap();
    let req = format!(
        "GET /live/slow.flv HTTP/1.1\r\nHost: {}\r\nUser-Agent: joy4-tests\r\n\r\n",
        server.http_addr
    );
    std::io::Write::write_all(&mut &stuck, req.as_bytes()).unwrap();
    let stuck_addr = stuck.local_addr().unwrap().to_string();
    let stuck_id = wait_until(secs(5.0), || {
        let all = get_json(&server, "/stat/streams");
        all.as_object()?
            .iter()
            .find(|(_, s)| s["remoteAddr"] == stuck_addr.as_str())
            .map(|(id, _)| id.clone())
    })
    .unwrap_or_else(|| {
        panic!(
            "no stream from {stuck_addr}: {:#}\n{}",
            get_json(&server, "/stat/streams"),
            server.describe()
        )
    });

    let out = dir.file("parallel.flv");
    let mut rec = record(&server.flv_url("live/slow"), &out, RECORD_SECS);
    let start = Instant::now();
    let t_start = f64_of(&stream_stat(&server, &pub_id).unwrap()["time"]);
    let mut dropped_max = 0u64;
    let mut last_seen = Value::Null;
    while start.elapsed() < secs(RECORD_SECS + 8.0) && rec.is_running() {
        if let Some(s) = stream_stat(&server, &stuck_id) {
            dropped_max = dropped_max.max(s["droppedPackets"].as_u64().unwrap_or(0));
            last_seen = s;
        }
        thread::sleep(Duration::from_millis(200));
    }
    let wall = start.elapsed().as_secs_f64();
    let pub_stat = stream_stat(&server, &pub_id)
        .unwrap_or_else(|| panic!("the publisher is gone\n{}", server.describe()));
    let advanced = f64_of(&pub_stat["time"]) - t_start;
    eprintln!(
        "stuck subscriber: droppedPackets up to {dropped_max} (last stat {last_seen}); publisher \
         advanced {advanced:.2} s in {wall:.2} s"
    );
    let status = rec.expect_exit(secs(5.0), "parallel recorder");
    assert!(
        status.success(),
        "parallel recorder failed: {status}\n{}\n{}",
        rec.describe(),
        server.describe()
    );
    assert!(
        advanced >= 0.9 * wall - 0.5,
        "the publisher advanced {advanced:.2} s of media in {wall:.2} s: it was slowed\n{}",
        server.describe()
    );
    let probe = ffprobe(&out, Count::Packets).unwrap();
    let dur = probe.duration.unwrap_or(0.0);
    let packets = probe.video().and_then(|v| v.nb_read_packets).unwrap_or(0) as f64;
    assert!(
        dur >= RECORD_SECS - 1.0 && packets >= 0.95 * FPS * dur,
        "parallel recorder: {packets} video packets in {dur:.2} s\n{}",
        server.describe()
    );
    let (video, _) = packet_dts(&out);
    let (gap, at) = largest_step(&video);
    assert!(
        gap <= 0.2,
        "parallel recorder has a {gap:.3} s video gap at {at:.3} s\n{}",
        server.describe()
    );
    assert!(
        dropped_max > 0,
        "the stuck subscriber never dropped a packet (last stat {last_seen:#})\n{}",
        server.describe()
    );
    drop(stuck);
    server.assert_alive("after the stuck subscriber");
}
