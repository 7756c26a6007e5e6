//! Hostile input and leaks on an open network: metadata and `connect` bombs, HTTP-FLV play under
//! `-rtmpcheckparams`, viewers of a silent channel that leave, and the connection limits.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::api::*;
use support::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A raw RTMP publisher of `live/NAME`, once `NetStream.Publish.Start` has arrived.
fn raw_publisher(server: &Server, name: &str) -> (RtmpClient, u32) {
    RtmpClient::publisher(server.rtmp_addr, "live", name).unwrap_or_else(|e| panic!("{e}"))
}

/// An RTMP player of `live/NAME`, once `NetStream.Play.Start` has arrived.
fn raw_player(server: &Server, name: &str) -> RtmpClient {
    let mut c = RtmpClient::connect_app(server.rtmp_addr, "live").unwrap();
    let sid = c.create_stream().unwrap();
    c.play(sid, name).unwrap();
    c.wait_for(secs(5.0), "Play.Start", |m| {
        m.status_code().as_deref() == Some("NetStream.Play.Start")
    })
    .unwrap();
    c
}

/// `@setDataFrame("onMetaData", AMF3 array)`: one 400 KB string and `refs` references to it.
/// Under 1 MiB as sent; each reference becomes another 400 KB when re-encoded as AMF0.
fn amf3_metadata_bomb(refs: usize) -> Vec<u8> {
    let mut p = amf::encode_all(&[amf::s("@setDataFrame"), amf::s("onMetaData")]);
    p.extend_from_slice(&[0x11, 0x09]); // avmplus, AMF3 array
    p.push((((1 + refs) << 1) | 1) as u8); // dense count
    p.push(0x01); // no associative part
    let long = "y".repeat(400_000);
    let h = ((long.len() as u32) << 1) | 1;
    p.extend_from_slice(&[
        0x06,
        0x80 | ((h >> 14) & 0x7F) as u8,
        0x80 | ((h >> 7) & 0x7F) as u8,
        (h & 0x7F) as u8,
    ]);
    p.extend_from_slice(long.as_bytes());
    for _ in 0..refs {
        p.extend_from_slice(&[0x06, 0x00]);
    }
    p
}

/// The server's resident memory in KiB (Linux `/proc/PID/status`).
fn rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.proc.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

fn next_video_tag(viewer: &mut FlvStream, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match viewer.next_tag_until(deadline) {
            Ok(Some(tag)) if tag.is_video() => return Ok(()),
            Ok(Some(_)) => {}
            Ok(None) => return Err("body ended".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[test]
fn an_amf3_metadata_bomb_is_dropped_and_the_channel_serves_the_next_publisher() {
    let mut server = Server::start(&["-publishergrace=30s"]);
    let (mut bomber, sid) = raw_publisher(&server, "bomb");
    let mut flv_viewer =
        FlvStream::open(server.http_addr, "/live/bomb.flv", secs(5.0)).expect("HTTP-FLV viewer");
    assert_eq!(flv_viewer.head.status, 200);
    let mut rtmp_viewer = raw_player(&server, "bomb");
    bomber.set_chunk_size(60_000).unwrap();
    // 400 KB sent, 1.2 MB as AMF0: over the 1 MiB bound, dropped; twice, for good measure.
    for _ in 0..2 {
        bomber.send(5, 0, 18, sid, &amf3_metadata_bomb(2)).unwrap();
    }
    // A small metadata message after it still goes through.
    let small = amf::encode_all(&[
        amf::s("@setDataFrame"),
        amf::s("onMetaData"),
        amf::obj(&[("width", amf::V::Num(64.0))]),
    ]);
    bomber.send(5, 0, 18, sid, &small).unwrap();
    let (meta, _) = rtmp_viewer
        .wait_for(secs(5.0), "the small onMetaData", |m| m.type_id == 18)
        .unwrap();
    assert!(meta.payload.len() < 1000, "{}", meta.describe());
    server.assert_alive("after the metadata bomb");
    let logged = wait_until(secs(5.0), || {
        server
            .log_text()
            .contains("dropping a data message")
            .then_some(())
    });
    assert!(
        logged.is_some(),
        "the drop was not logged\n{}",
        server.describe()
    );
    drop(bomber);

    let clip = clip();
    let mut publisher = publish_with(
        &clip,
        &server.rtmp_url("live/bomb"),
        Publish {
            loop_forever: true,
            ..Publish::default()
        },
    );
    let got = next_video_tag(&mut flv_viewer, secs(15.0));
    assert!(
        got.is_ok(),
        "HTTP-FLV viewer: {got:?}\n{}\n{}",
        publisher.describe(),
        server.describe()
    );
    rtmp_viewer
        .wait_for(secs(10.0), "video from the new publisher", |m| {
            m.type_id == 9
        })
        .unwrap_or_else(|e| panic!("RTMP viewer: {e}\n{}", server.describe()));
    assert!(publisher.is_running(), "{}", publisher.describe());
}

#[test]
fn connect_bombs_do_not_grow_the_server() {
    let mut server = Server::start(&[]);
    let before = rss_kib(&server);
    // A command object of a million nulls (1 MB on the wire, 32 MB as values) from 8
    // connections at once, each sent in chunks of 64 KiB.
    let mut nulls = vec![0x0A];
    nulls.extend_from_slice(&1_000_000u32.to_be_bytes());
    nulls.extend(std::iter::repeat_n(0x05u8, 1_000_000));
    let mut payload = amf::encode_all(&[amf::s("connect"), amf::V::Num(1.0)]);
    payload.push(0x03);
    payload.extend_from_slice(&[0, 3]);
    payload.extend_from_slice(b"app");
    payload.extend_from_slice(&nulls);
    payload.extend_from_slice(&[0, 0, 9]);
    let mut peak = before;
    let mut clients = Vec::new();
    for _ in 0..8 {
        let mut c = RtmpClient::connect_tcp(server.rtmp_addr).unwrap();
        c.handshake().unwrap();
        c.set_chunk_size(65_536).unwrap();
        let _ = c.send(3, 0, 20, 0, &payload);
        clients.push(c);
        peak = peak.max(rss_kib(&server));
    }
    for c in &clients {
        let closed = wait_closed(&c.sock, secs(5.0));
        assert!(closed.is_ok(), "a connect bomb was not closed: {closed:?}");
        peak = peak.max(rss_kib(&server));
    }
    server.assert_alive("after connect bombs");
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 64,
        "RSS grew by {grown_mib} MiB ({before} KiB before, {peak} KiB peak)"
    );
    // A normal client connects as before.
    RtmpClient::connect_app(server.rtmp_addr, "live").expect("a normal connect");
}

#[test]
fn http_flv_plays_go_through_check_params() {
    let cb = Callbacks::start(|body| {
        if body["type"] == "http-flv" && body["rtmp"]["params"]["token"] == "good" {
            r#"{"accept": true}"#.into()
        } else if body["type"] == "http-flv" {
            r#"{"accept": false}"#.into()
        } else {
            r#"{"accept": true}"#.into()
        }
    });
    let mut server = Server::start(&[&cb.flag(), "-rtmpcheckparams", "-checktimeout=5s"]);
    let mut publisher = publish_loop(&mut server, &clip(), "live/auth");

    let refused = http_get(server.http_addr, "/live/auth.flv?token=bad").unwrap();
    assert_eq!(refused.head.status, 403, "{:?}", refused.head);
    let why: serde_json::Value = serde_json::from_slice(&refused.body).expect("a JSON reason");
    assert_eq!(why["error"], "Rejected");
    assert!(why["detail"].as_str().is_some_and(|d| !d.is_empty()));
    let check = cb.wait("streamCheckParams", secs(5.0), |b| {
        b["type"] == "http-flv" && b["rtmp"]["params"]["token"] == "bad"
    });
    assert_eq!(check["rtmp"]["command"], "play");
    assert_eq!(check["rtmp"]["streamName"], "live/auth");

    let mut viewer = FlvStream::open(server.http_addr, "/live/auth.flv?token=good", secs(10.0))
        .expect("HTTP-FLV viewer");
    assert_eq!(viewer.head.status, 200, "{:?}", viewer.head);
    let got = next_video_tag(&mut viewer, secs(10.0));
    assert!(got.is_ok(), "{got:?}\n{}", server.describe());
    cb.wait("streamCheckParams", secs(5.0), |b| {
        b["type"] == "http-flv" && b["rtmp"]["params"]["token"] == "good"
    });
    assert!(publisher.is_running(), "{}", publisher.describe());
}

#[test]
fn viewers_of_a_silent_channel_that_leave_are_gone_within_seconds() {
    let server = Server::start(&[]);
    let api = server.api_addr;
    assert_ok(post(api, "/channel/create", json!({"id": "live/quiet"})));
    let mut viewers = Vec::new();
    for _ in 0..200 {
        let v = FlvStream::open(server.http_addr, "/live/quiet.flv", secs(5.0)).unwrap();
        assert_eq!(v.head.status, 200);
        viewers.push(v);
    }
    let count_viewers = || {
        let (_, all) = get(api, "/stat/streams");
        all.as_object()
            .map(|m| m.values().filter(|s| s["type"] == "http-flv").count())
            .unwrap_or(0)
    };
    assert!(
        wait_until(secs(5.0), || (count_viewers() == 200).then_some(())).is_some(),
        "{} viewers registered",
        count_viewers()
    );
    let left = Instant::now();
    drop(viewers);
    let gone = wait_until(secs(10.0), || (count_viewers() == 0).then_some(()));
    assert!(
        gone.is_some(),
        "{} viewers still listed {:?} after they left",
        count_viewers(),
        left.elapsed()
    );
    assert!(left.elapsed() < secs(5.0), "took {:?}", left.elapsed());
}

#[test]
fn connections_over_the_limits_are_closed_at_once() {
    let server = Server::start(&["-maxconnections=6", "-maxconnperip=4"]);
    // Four from 127.0.0.1 are admitted (they stay open, waiting for a handshake) ...
    let held: Vec<_> = (0..4)
        .map(|_| tcp_connect(server.rtmp_addr).unwrap())
        .collect();
    for s in &held {
        assert!(
            wait_closed(s, secs(0.5)).is_err(),
            "an admitted connection was closed"
        );
    }
    // ... the fifth from the same address is closed at once, on either media port.
    for addr in [server.rtmp_addr, server.http_addr] {
        let extra = tcp_connect(addr).unwrap();
        let started = Instant::now();
        wait_closed(&extra, secs(2.0)).expect("the connection over -maxconnperip is closed");
        assert!(started.elapsed() < secs(1.0), "{:?}", started.elapsed());
    }
    drop(held);
    // Places are freed when connections end: a normal client gets in again.
    let ok = wait_until(secs(5.0), || {
        RtmpClient::connect_app(server.rtmp_addr, "live").ok()
    });
    assert!(ok.is_some(), "no place was freed\n{}", server.describe());
}

#[test]
fn a_connection_that_neither_publishes_nor_plays_is_closed_after_10_s() {
    let server = Server::start(&[]);
    let mut idle = RtmpClient::connect_app(server.rtmp_addr, "live").unwrap();
    let started = Instant::now();
    // Pings and createStream do not extend the deadline.
    let deadline = started + secs(14.0);
    let mut closed = false;
    while Instant::now() < deadline {
        let ping = [0u8, 6, 0, 0, 0, 1];
        if idle.send(2, 0, 4, 0, &ping).is_err() {
            closed = true;
            break;
        }
        if wait_closed(&idle.sock, secs(1.0)).is_ok() {
            closed = true;
            break;
        }
    }
    assert!(closed, "still open after {:?}", started.elapsed());
    assert!(
        started.elapsed() < secs(12.0),
        "closed only after {:?}",
        started.elapsed()
    );
}
