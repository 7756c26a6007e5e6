//! Channels on the media path: one publisher per channel, what players see when the publisher ends,
//! unknown channel names, and how a URL names its channel.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::thread;
use std::time::{Duration, Instant};

use support::*;

#[test]
fn second_publisher_is_refused_while_the_first_keeps_streaming() {
    let dir = TestDir::new();
    let (mut server, mut first) = server_with_publisher("live/busy");
    // A subscriber from before the attempt: it must see no new sequence header (nothing of the intruder).
    let mut watcher =
        FlvStream::open(server.http_addr, "/live/busy.flv", Duration::from_secs(5)).unwrap();
    assert_eq!(watcher.head.status, 200);
    let mut seq_headers_before = 0;
    let early_deadline = Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(tag)) = watcher.next_tag_until(early_deadline) {
        if tag.is_avc_sequence_header() {
            seq_headers_before += 1;
        }
    }
    assert_eq!(
        seq_headers_before, 1,
        "the watcher should get exactly one AVC sequence header on joining"
    );

    let intruder_clip = clip_h264_aac(320, 180, 4);
    let mut second = publish(&intruder_clip, &server.rtmp_url("live/busy"));
    let st = second.expect_exit(
        Duration::from_secs(10),
        "second publisher should be refused",
    );
    assert!(
        !st.success(),
        "second publisher exited successfully: it was not refused\n{}",
        second.describe()
    );
    assert!(
        first.is_running(),
        "the first publisher died when a second one tried\n{}\n{}",
        first.describe(),
        server.describe()
    );

    // The earlier subscriber keeps getting the first publisher's media, without a new sequence header.
    let end = Instant::now() + Duration::from_secs(2);
    let mut video_ts = Vec::new();
    loop {
        match watcher.next_tag_until(end) {
            Ok(Some(tag)) => {
                assert!(
                    !tag.is_avc_sequence_header(),
                    "a new AVC sequence header reached the subscriber: {}",
                    tag.describe()
                );
                if tag.is_video() {
                    video_ts.push(tag.timestamp);
                }
            }
            Ok(None) => panic!("the subscriber's stream ended\n{}", server.describe()),
            Err(StreamError::Timeout) => break,
            Err(e) => panic!("subscriber: {e}\n{}", server.describe()),
        }
    }
    assert!(
        video_ts.len() >= 25,
        "subscriber got only {} video tags in 2 s after the refusal",
        video_ts.len()
    );

    // A player that starts now gets the first publisher's 640x360 stream.
    let out = dir.file("after.flv");
    let mut player = record(&server.flv_url("live/busy"), &out, 3.0);
    let st = player.expect_exit(Duration::from_secs(20), "player after the refusal");
    assert!(
        st.success(),
        "player after the refusal failed: {st}\n{}",
        player.describe()
    );
    let probe = ffprobe(&out, Count::Packets).unwrap();
    let v = probe.video().expect("video stream");
    assert_eq!(
        (v.codec_name.as_str(), v.width, v.height),
        ("h264", 640, 360),
        "the channel must still carry the first publisher"
    );
    assert!(
        v.nb_read_packets.unwrap_or(0) >= 60,
        "player after the refusal got {:?} video packets",
        v.nb_read_packets
    );
    assert!(
        first.is_running(),
        "first publisher died\n{}",
        first.describe()
    );
    server.assert_alive("after a refused publisher");
}

/// Publishes 5 s of media, records it over RTMP and HTTP-FLV until the stream ends, and checks that
/// both players stay through the grace period `grace` and then exit cleanly within 5 s more, with an
/// intact recording, and that the channel is gone (404) afterwards.
fn publisher_end_case(grace: Duration) {
    let dir = TestDir::new();
    let clip = clip();
    let grace_flag = format!("-publishergrace={}ms", grace.as_millis());
    let mut server = Server::start(&[&grace_flag]);
    let mut publisher = publish_with(
        &clip,
        &server.rtmp_url("live/short"),
        Publish {
            limit_secs: Some(5.0),
            ..Publish::default()
        },
    );
    wait_for_channel(&mut server, "live/short", &mut publisher);
    let rtmp_out = dir.file("rtmp.flv");
    let http_out = dir.file("http.flv");
    let mut rtmp = record_until_end(&server.rtmp_url("live/short"), &rtmp_out);
    let mut http = record_until_end(&server.flv_url("live/short"), &http_out);

    let st = publisher.expect_exit(Duration::from_secs(20), "publisher of a 5 s stream");
    assert!(
        st.success(),
        "publisher failed: {st}\n{}",
        publisher.describe()
    );
    let ended = Instant::now();
    if !grace.is_zero() {
        // Subscribers wait for a returning publisher during the grace period.
        thread::sleep(grace.mul_f64(0.75));
        for (p, what) in [(&mut rtmp, "RTMP"), (&mut http, "HTTP-FLV")] {
            assert!(
                p.is_running(),
                "{what} player ended within the {grace:?} grace period\n{}\n{}",
                p.describe(),
                server.describe()
            );
        }
    }
    let limit = grace + Duration::from_secs(5);
    for (p, out, what) in [
        (&mut rtmp, &rtmp_out, "RTMP"),
        (&mut http, &http_out, "HTTP-FLV"),
    ] {
        let st = match p.wait_timeout(limit.saturating_sub(ended.elapsed())) {
            Some(st) => st,
            None => panic!(
                "{what} player still running {limit:?} after the publisher ended \
                 (grace {grace:?})\n{}\n{}",
                p.describe(),
                server.describe()
            ),
        };
        assert!(
            st.success(),
            "{what} player exit {st} after the publisher ended\n{}",
            p.describe()
        );
        let probe = ffprobe(out, Count::Packets)
            .unwrap_or_else(|e| panic!("{what} recording unreadable: {e}"));
        let v = probe
            .video()
            .unwrap_or_else(|| panic!("{what}: no video in {probe:?}"));
        assert_eq!(v.codec_name, "h264", "{what}");
        assert!(
            probe.duration.unwrap_or(0.0) >= 2.0,
            "{what}: recording lasts only {:?} s",
            probe.duration
        );
        assert!(
            v.nb_read_packets.unwrap_or(0) >= 50,
            "{what}: {:?} video packets",
            v.nb_read_packets
        );
    }
    // The channel is gone with its publisher.
    let gone = wait_until(Duration::from_secs(3), || {
        match http_status(server.http_addr, "/live/short.flv") {
            Ok(404) => Some(()),
            _ => None,
        }
    });
    assert!(
        gone.is_some(),
        "GET /live/short.flv does not answer 404 after the publisher ended\n{}",
        server.describe()
    );
    server.assert_alive("after a publisher ended");
}

/// With no grace period the publisher's end ends its players at once.
#[test]
fn publisher_end_ends_rtmp_and_http_players_cleanly() {
    publisher_end_case(Duration::ZERO);
}

/// With a grace period the players wait for a returning publisher, then end cleanly.
#[test]
fn publisher_end_ends_players_cleanly_after_the_grace_period() {
    publisher_end_case(Duration::from_secs(2));
}

#[test]
fn unknown_channel_gives_http_404_and_rtmp_stream_not_found() {
    let mut server = Server::start(&[]);

    let r = http_get(server.http_addr, "/live/nope.flv").unwrap();
    assert_eq!(
        r.head.status, 404,
        "GET of an unknown channel: {:?}",
        r.head
    );
    assert!(!r.body.is_empty(), "404 without a body");
    assert!(
        std::str::from_utf8(&r.body).is_ok(),
        "404 body is not text: {:?}",
        r.body
    );
    if let Some(ct) = r.head.header("content-type") {
        assert!(ct.starts_with("text/"), "404 Content-Type {ct}");
    }

    let mut c = RtmpClient::connect_app(server.rtmp_addr, "live").unwrap();
    let sid = c.create_stream().unwrap();
    c.play(sid, "nope").unwrap();
    let (m, _) = c
        .wait_for(
            Duration::from_secs(5),
            "onStatus for an unknown stream",
            |m| {
                m.command_name().as_deref() == Some("onStatus")
                    && m.status_code().as_deref() != Some("NetStream.Play.Reset")
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    assert_eq!(
        m.status_code().as_deref(),
        Some("NetStream.Play.StreamNotFound"),
        "{}",
        m.describe()
    );

    let mut player = play_null(&server.rtmp_url("live/nope"), 2.0);
    let st = player.expect_exit(
        Duration::from_secs(15),
        "ffmpeg playing an unknown RTMP stream",
    );
    assert!(
        !st.success(),
        "ffmpeg played an unknown RTMP stream successfully\n{}",
        player.describe()
    );
    server.assert_alive("after unknown channels");
}

/// `rtmp://host/1` pairs with `/1.flv`; a query string on the stream name is not part of the channel.
#[test]
fn channel_is_the_url_path_without_query() {
    let clip = clip();
    let mut server = Server::start(&[]);
    let mut one = publish(&clip, &server.rtmp_url("1"));
    wait_for_channel(&mut server, "1", &mut one);
    let mut keyed = publish(
        &clip,
        &format!("{}?token=secret", server.rtmp_url("live/abc")),
    );
    wait_for_channel(&mut server, "live/abc", &mut keyed);

    for path in ["/1.flv", "/live/abc.flv"] {
        let mut s = FlvStream::open(server.http_addr, path, Duration::from_secs(5)).unwrap();
        assert_eq!(s.head.status, 200, "GET {path}");
        let found = (0..400).find_map(|_| match s.next_tag(Duration::from_secs(5)) {
            Ok(Some(t)) if t.is_video() && t.is_media() => Some(t),
            Ok(Some(_)) => None,
            other => panic!("GET {path}: {other:?}"),
        });
        assert!(found.is_some(), "GET {path}: no video frame");
    }
    for path in ["/live/1.flv", "/1/1.flv", "/abc.flv"] {
        assert_eq!(
            http_status(server.http_addr, path).unwrap(),
            404,
            "GET {path} should be an unknown channel"
        );
    }
    server.assert_alive("after naming checks");
}
