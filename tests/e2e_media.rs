//! End-to-end tests of the media path (issue 2): the real `joy4` binary on ephemeral loopback ports,
//! real ffmpeg publishers and players, and raw sockets for protocol details and bad input.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::io::Write;
use std::net::{Shutdown, SocketAddr};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

/// Length of the standard clip: long enough that every test finishes while it is still publishing.
const CLIP_SECS: u32 = 20;
/// A bad connection must be closed within this long.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

fn clip() -> PathBuf {
    clip_h264_aac(640, 360, CLIP_SECS)
}

/// A server with `clip()` being published (`-re -c copy`) to PATH; returns once the channel answers.
fn server_with_publisher(path: &str) -> (Server, Proc) {
    let clip = clip();
    let mut server = Server::start(&[]);
    let mut publisher = publish(&clip, &server.rtmp_url(path));
    wait_for_channel(&mut server, path, &mut publisher);
    (server, publisher)
}

/// The recorded file holds H.264 640x360 + AAC 44.1 kHz stereo, lasts at least `min_secs`, and the
/// number of decoded video (and audio) frames is within 10 % of what that duration should hold.
fn check_h264_aac_recording(file: &Path, min_secs: f64) -> Result<(), String> {
    let p = ffprobe(file, Count::Frames)?;
    let v = p
        .video()
        .ok_or_else(|| format!("no video stream in {p:?}"))?;
    let a = p
        .audio()
        .ok_or_else(|| format!("no audio stream in {p:?}"))?;
    if v.codec_name != "h264" || (v.width, v.height) != (640, 360) {
        return Err(format!(
            "video is {} {}x{}, want h264 640x360",
            v.codec_name, v.width, v.height
        ));
    }
    if a.codec_name != "aac" || a.sample_rate != 44100 || a.channels != 2 {
        return Err(format!(
            "audio is {} {} Hz {} ch, want aac 44100 Hz 2 ch",
            a.codec_name, a.sample_rate, a.channels
        ));
    }
    let dur = p.duration.ok_or("ffprobe reports no duration")?;
    if dur < min_secs {
        return Err(format!("recorded {dur:.2} s, want at least {min_secs} s"));
    }
    let frames = v.nb_read_frames.ok_or("no decoded video frame count")? as f64;
    let expected = FPS * dur;
    if (frames - expected).abs() > 0.10 * expected {
        return Err(format!(
            "decoded {frames} video frames in {dur:.2} s, expected {expected:.0} ± 10 %"
        ));
    }
    let aframes = a.nb_read_frames.ok_or("no decoded audio frame count")? as f64;
    let aexpected = 44100.0 / 1024.0 * dur;
    if (aframes - aexpected).abs() > 0.10 * aexpected {
        return Err(format!(
            "decoded {aframes} AAC frames in {dur:.2} s, expected {aexpected:.0} ± 10 %"
        ));
    }
    eprintln!(
        "{}: {dur:.2} s, {frames} video frames (expected {expected:.0}), {aframes} AAC frames \
         (expected {aexpected:.0})",
        file.display()
    );
    Ok(())
}

/// Video and audio are present, the file lasts at least `min_secs`, and no video frame is missing
/// (packet count within 10 % of 25 fps over the duration). Packet counting only: no decoding.
fn check_received_media(file: &Path, min_secs: f64, vcodec: &str) -> Result<(), String> {
    let p = ffprobe(file, Count::Packets)?;
    let v = p
        .video()
        .ok_or_else(|| format!("no video stream in {p:?}"))?;
    let a = p
        .audio()
        .ok_or_else(|| format!("no audio stream in {p:?}"))?;
    if v.codec_name != vcodec {
        return Err(format!("video codec {}, want {vcodec}", v.codec_name));
    }
    let dur = p.duration.ok_or("ffprobe reports no duration")?;
    if dur < min_secs {
        return Err(format!("recorded {dur:.2} s, want at least {min_secs} s"));
    }
    let packets = v.nb_read_packets.ok_or("no video packet count")? as f64;
    if (packets - FPS * dur).abs() > 0.10 * FPS * dur {
        return Err(format!(
            "{packets} video packets in {dur:.2} s, expected {:.0} ± 10 %",
            FPS * dur
        ));
    }
    if a.nb_read_packets.unwrap_or(0) < (20.0 * dur) as u64 {
        return Err(format!(
            "only {:?} audio packets in {dur:.2} s",
            a.nb_read_packets
        ));
    }
    Ok(())
}

fn assert_recorded(player: &mut Proc, server: &Server, what: &str, result: Result<(), String>) {
    if let Err(e) = result {
        panic!("{what}: {e}\n{}\n{}", player.describe(), server.describe());
    }
}

// ---------------------------------------------------------------------------------------------------
// Playback by ffmpeg
// ---------------------------------------------------------------------------------------------------

#[test]
fn rtmp_player_receives_h264_aac_with_all_frames() {
    let dir = TestDir::new();
    let (mut server, mut publisher) = server_with_publisher("live/abc");
    let out = dir.file("rtmp.flv");
    let mut player = record(&server.rtmp_url("live/abc"), &out, 6.0);
    let st = player.expect_exit(Duration::from_secs(25), "RTMP player recording 6 s");
    assert!(
        st.success(),
        "RTMP player failed: {st}\n{}\n{}",
        player.describe(),
        server.describe()
    );
    assert_recorded(
        &mut player,
        &server,
        "RTMP playback",
        check_h264_aac_recording(&out, 5.0),
    );
    assert!(
        publisher.is_running(),
        "publisher ended early\n{}",
        publisher.describe()
    );
    server.assert_alive("after RTMP playback");
}

#[test]
fn http_flv_player_receives_h264_aac_with_all_frames() {
    let dir = TestDir::new();
    let (mut server, mut publisher) = server_with_publisher("live/abc");
    let out = dir.file("http.flv");
    let mut player = record(&server.flv_url("live/abc"), &out, 6.0);
    let st = player.expect_exit(Duration::from_secs(25), "HTTP-FLV player recording 6 s");
    assert!(
        st.success(),
        "HTTP-FLV player failed: {st}\n{}\n{}",
        player.describe(),
        server.describe()
    );
    assert_recorded(
        &mut player,
        &server,
        "HTTP-FLV playback",
        check_h264_aac_recording(&out, 5.0),
    );
    assert!(
        publisher.is_running(),
        "publisher ended early\n{}",
        publisher.describe()
    );
    server.assert_alive("after HTTP-FLV playback");
}

/// The seed's command without `-c copy`: ffmpeg re-encodes to Sorenson H.263 (flv1) + MP3, which the
/// server passes through untouched.
#[test]
fn reencoded_flv1_mp3_passes_through_to_rtmp_and_http_players() {
    let dir = TestDir::new();
    let clip = clip();
    let mut server = Server::start(&[]);
    let mut publisher = publish_with(
        &clip,
        &server.rtmp_url("1"),
        Publish {
            copy: false,
            ..Publish::default()
        },
    );
    wait_for_channel(&mut server, "1", &mut publisher);
    let rtmp_out = dir.file("rtmp.flv");
    let http_out = dir.file("http.flv");
    let mut rtmp = record(&server.rtmp_url("1"), &rtmp_out, 4.0);
    let mut http = record(&server.flv_url("1"), &http_out, 4.0);
    for (p, out, what) in [
        (&mut rtmp, &rtmp_out, "RTMP"),
        (&mut http, &http_out, "HTTP-FLV"),
    ] {
        let st = p.expect_exit(Duration::from_secs(25), what);
        assert!(
            st.success(),
            "{what} player failed: {st}\n{}\n{}",
            p.describe(),
            server.describe()
        );
        let probe = ffprobe(out, Count::Frames).unwrap_or_else(|e| panic!("{what}: {e}"));
        let v = probe
            .video()
            .unwrap_or_else(|| panic!("{what}: no video in {probe:?}"));
        let a = probe
            .audio()
            .unwrap_or_else(|| panic!("{what}: no audio in {probe:?}"));
        assert_eq!(
            (v.codec_name.as_str(), v.width, v.height),
            ("flv1", 640, 360),
            "{what} video"
        );
        assert_eq!(
            (a.codec_name.as_str(), a.sample_rate, a.channels),
            ("mp3", 44100, 2),
            "{what} audio"
        );
        let dur = probe.duration.unwrap_or(0.0);
        assert!(dur >= 3.5, "{what}: recorded only {dur} s");
        let frames = v.nb_read_frames.unwrap_or(0) as f64;
        assert!(
            (frames - FPS * dur).abs() <= 0.10 * FPS * dur,
            "{what}: decoded {frames} flv1 frames in {dur:.2} s, expected {:.0} ± 10 %",
            FPS * dur
        );
        assert!(
            a.nb_read_frames.unwrap_or(0) > 0,
            "{what}: no MP3 frame decoded"
        );
    }
    server.assert_alive("after flv1/mp3 playback");
}

#[test]
fn twenty_concurrent_players_all_receive_media() {
    let dir = TestDir::new();
    let (mut server, mut publisher) = server_with_publisher("live/crowd");
    let mut players: Vec<(String, Proc, PathBuf)> = Vec::new();
    for i in 0..20 {
        let (kind, url) = if i % 2 == 0 {
            ("rtmp", server.rtmp_url("live/crowd"))
        } else {
            ("http", server.flv_url("live/crowd"))
        };
        let out = dir.file(&format!("player{i}-{kind}.flv"));
        players.push((format!("player {i} ({kind})"), record(&url, &out, 4.0), out));
    }
    let mut failures = Vec::new();
    for (name, p, out) in players.iter_mut() {
        match p.wait_timeout(Duration::from_secs(40)) {
            None => failures.push(format!(
                "{name}: still running after 40 s\n{}",
                p.describe()
            )),
            Some(st) if !st.success() => {
                failures.push(format!("{name}: exit {st}\n{}", p.describe()))
            }
            Some(_) => {
                if let Err(e) = check_received_media(out, 3.5, "h264") {
                    failures.push(format!("{name}: {e}\n{}", p.describe()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 20 players failed:\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        server.describe()
    );
    assert!(
        publisher.is_running(),
        "publisher ended early\n{}",
        publisher.describe()
    );
    server.assert_alive("after 20 players");
}

// ---------------------------------------------------------------------------------------------------
// Channels: ownership, end of stream, unknown names, naming
// ---------------------------------------------------------------------------------------------------

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

/// Issue 2's behaviour (no grace period): the publisher's end ends its players at once.
#[test]
fn publisher_end_ends_rtmp_and_http_players_cleanly() {
    publisher_end_case(Duration::ZERO);
}

/// With a grace period the players wait for a returning publisher, then end cleanly (issue 4).
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

// ---------------------------------------------------------------------------------------------------
// What a late joiner gets, byte by byte
// ---------------------------------------------------------------------------------------------------

/// Checks the start of a subscription: onMetaData, then both sequence headers, then media from a
/// keyframe, never more than one GOP of backlog, timestamps never going backwards.
fn check_join_sequence(tags: &[(Duration, FlvTag)]) -> Result<(), String> {
    let list = || {
        tags.iter()
            .take(12)
            .map(|(_, t)| t.describe())
            .collect::<Vec<_>>()
    };
    let first = tags.first().ok_or("no tags")?;
    if first.1.script_name().as_deref() != Some("onMetaData") {
        return Err(format!("first tag is not onMetaData: {:?}", list()));
    }
    let first_media = tags
        .iter()
        .position(|(_, t)| t.is_media())
        .ok_or_else(|| format!("no media: {:?}", list()))?;
    let before = &tags[..first_media];
    if !before.iter().any(|(_, t)| t.is_avc_sequence_header()) {
        return Err(format!(
            "no AVC sequence header before the first media tag: {:?}",
            list()
        ));
    }
    if !before.iter().any(|(_, t)| t.is_aac_sequence_header()) {
        return Err(format!(
            "no AAC sequence header before the first media tag: {:?}",
            list()
        ));
    }
    let first_video = tags
        .iter()
        .find(|(_, t)| t.is_video() && t.is_media())
        .ok_or("no video frame")?;
    if !first_video.1.is_video_keyframe() {
        return Err(format!(
            "first video frame is not a keyframe: {}",
            first_video.1.describe()
        ));
    }
    for kind in [8u8, 9] {
        let ts: Vec<u32> = tags
            .iter()
            .filter(|(_, t)| t.tag_type == kind && t.is_media())
            .map(|(_, t)| t.timestamp)
            .collect();
        if let Some(w) = ts.windows(2).find(|w| w[1] < w[0]) {
            return Err(format!(
                "type {kind} timestamps go backwards: {} then {}",
                w[0], w[1]
            ));
        }
    }
    // The backlog delivered at once is at most the latest GOP (2 s), not the whole history.
    let t0 = tags[0].0;
    let burst: Vec<u32> = tags
        .iter()
        .filter(|(at, t)| *at <= t0 + Duration::from_millis(300) && t.is_video() && t.is_media())
        .map(|(_, t)| t.timestamp)
        .collect();
    if let (Some(lo), Some(hi)) = (burst.iter().min(), burst.iter().max()) {
        if hi - lo > 2500 {
            return Err(format!(
                "joined with {} ms of video backlog; want at most the latest 2 s GOP",
                hi - lo
            ));
        }
    }
    let vspan = tags
        .iter()
        .filter(|(_, t)| t.is_video())
        .map(|(_, t)| t.timestamp)
        .max()
        .unwrap_or(0)
        - first_video.1.timestamp;
    if vspan < 2000 {
        return Err(format!(
            "only {vspan} ms of video arrived in the observation window"
        ));
    }
    Ok(())
}

#[test]
fn http_flv_response_headers_and_late_joiner_tag_order() {
    let (mut server, _publisher) = server_with_publisher("live/late");
    thread::sleep(Duration::from_millis(4500)); // past two GOPs: a late joiner must start at the latest
    let start = Instant::now();
    let mut s =
        FlvStream::open(server.http_addr, "/live/late.flv", Duration::from_secs(5)).unwrap();
    assert_eq!(s.head.status, 200, "{:?}", s.head);
    let ct = s.head.header("content-type").unwrap_or("");
    assert!(
        ct.eq_ignore_ascii_case("video/x-flv"),
        "Content-Type {ct:?}"
    );
    assert_eq!(
        s.head.header("access-control-allow-origin"),
        Some("*"),
        "{:?}",
        s.head
    );
    assert!(
        s.head.header("content-length").is_none(),
        "a live body must not have a Content-Length: {:?}",
        s.head
    );

    let h = s.header(Duration::from_secs(5)).unwrap();
    assert_eq!(h.version, 1);
    assert!(
        h.has_audio() && h.has_video(),
        "FLV header flags {:#x}, want audio+video (5)",
        h.flags
    );

    let mut tags = Vec::new();
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        match s.next_tag_until(end) {
            Ok(Some(t)) => tags.push((start.elapsed(), t)),
            Ok(None) => panic!("stream ended early\n{}", server.describe()),
            Err(StreamError::Timeout) => break,
            Err(e) => panic!("{e}\n{}", server.describe()),
        }
    }
    if let Err(e) = check_join_sequence(&tags) {
        panic!("HTTP-FLV late joiner: {e}\n{}", server.describe());
    }
    server.assert_alive("after the HTTP-FLV late joiner");
}

#[test]
fn rtmp_late_joiner_gets_status_metadata_headers_then_keyframe() {
    let (mut server, _publisher) = server_with_publisher("live/late");
    thread::sleep(Duration::from_millis(4500));
    let mut c = RtmpClient::connect_app(server.rtmp_addr, "live")
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    let sid = c.create_stream().unwrap();
    let start = Instant::now();
    c.play(sid, "late").unwrap();
    let (_, before) = c
        .wait_for(Duration::from_secs(5), "NetStream.Play.Start", |m| {
            m.status_code().as_deref() == Some("NetStream.Play.Start")
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    assert!(
        !before.iter().any(|m| matches!(m.type_id, 8 | 9)),
        "media arrived before NetStream.Play.Start: {:?}",
        before.iter().map(|m| m.describe()).collect::<Vec<_>>()
    );

    let mut tags = Vec::new();
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        match c.read_message_until(end) {
            Ok(m) => {
                let sample_access = m.command_name().as_deref() == Some("|RtmpSampleAccess");
                if matches!(m.type_id, 8 | 9) || (m.type_id == 18 && !sample_access) {
                    assert_eq!(
                        m.stream_id, sid,
                        "media on message stream {} instead of {sid}",
                        m.stream_id
                    );
                    tags.push((start.elapsed(), m.as_flv_tag()));
                }
            }
            Err(StreamError::Timeout) => break,
            Err(e) => panic!("{e}\n{}", server.describe()),
        }
    }
    // Measure the backlog from the first tag after Play.Start, like the HTTP check.
    if let Err(e) = check_join_sequence(&tags) {
        panic!("RTMP late joiner: {e}\n{}", server.describe());
    }
    server.assert_alive("after the RTMP late joiner");
}

// ---------------------------------------------------------------------------------------------------
// HTTP method handling
// ---------------------------------------------------------------------------------------------------

#[test]
fn http_options_preflight_405_and_400() {
    let mut server = Server::start(&[]);
    let a = server.http_addr;

    let req = format!(
        "OPTIONS /live/x.flv HTTP/1.1\r\nHost: {a}\r\nOrigin: http://example.com\r\n\
         Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n"
    );
    let r = http_exchange(a, req.as_bytes(), Duration::from_secs(5)).unwrap();
    assert!((200..300).contains(&r.head.status), "OPTIONS: {:?}", r.head);
    let methods = r
        .head
        .header("access-control-allow-methods")
        .unwrap_or_else(|| panic!("OPTIONS without Allow-Methods: {:?}", r.head));
    assert!(
        methods.to_ascii_uppercase().contains("GET"),
        "Access-Control-Allow-Methods {methods:?}"
    );
    assert!(
        r.head.header("access-control-allow-origin").is_some(),
        "OPTIONS without Allow-Origin: {:?}",
        r.head
    );

    for method in ["POST", "PUT", "DELETE"] {
        let req = format!("{method} /live/x.flv HTTP/1.1\r\nHost: {a}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let r = http_exchange(a, req.as_bytes(), Duration::from_secs(5)).unwrap();
        assert_eq!(r.head.status, 405, "{method}: {:?}", r.head);
    }

    for bad in [
        "HELLO\r\n\r\n".to_string(),
        "GET\r\n\r\n".to_string(),
        format!("GET /live/x.flv HTTP/1.1\r\nHost: {a}\r\nthis line has no colon\r\n\r\n"),
        "GET /live/x.flv HTTP/1.1 extra\r\n\r\n".to_string(),
    ] {
        let r = http_exchange(a, bad.as_bytes(), CLOSE_LIMIT)
            .unwrap_or_else(|e| panic!("malformed request {bad:?}: {e}"));
        assert_eq!(
            r.head.status, 400,
            "malformed request {bad:?}: {:?}",
            r.head
        );
    }
    server.assert_alive("after bad HTTP requests");
}

// ---------------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------------

/// Where the bad input goes (copied into each attacker thread).
#[derive(Clone, Copy)]
struct Addrs {
    rtmp: SocketAddr,
    http: SocketAddr,
}

type BadInput = fn(Addrs) -> Result<Closed, String>;

fn rtmp_random_bytes(s: Addrs) -> Result<Closed, String> {
    let sock = tcp_connect(s.rtmp).map_err(|e| e.to_string())?;
    let mut bytes = Rng::seeded().bytes(8192);
    bytes[0] = 0x47; // neither 3 (RTMP) nor 6 (RTMPE)
    let mut once = Some(bytes);
    write_in_background(&sock, move || once.take());
    wait_closed(&sock, CLOSE_LIMIT)
}

fn rtmp_truncated_handshake(s: Addrs) -> Result<Closed, String> {
    let sock = tcp_connect(s.rtmp).map_err(|e| e.to_string())?;
    let c = c0c1();
    (&sock).write_all(&c[..700]).map_err(|e| e.to_string())?;
    sock.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
    wait_closed(&sock, CLOSE_LIMIT)
}

fn rtmp_chunk_size(s: Addrs, size: u32) -> Result<Closed, String> {
    let mut c = RtmpClient::connect_app(s.rtmp, "live")?;
    c.set_chunk_size(size).map_err(|e| e.to_string())?;
    // A command after it, which the server cannot read with that chunk size.
    let _ = c.send_command(0, "createStream", 2.0, amf::V::Null, vec![]);
    wait_closed(&c.sock, CLOSE_LIMIT)
}

fn rtmp_chunk_size_zero(s: Addrs) -> Result<Closed, String> {
    rtmp_chunk_size(s, 0)
}

fn rtmp_chunk_size_2_pow_31(s: Addrs) -> Result<Closed, String> {
    rtmp_chunk_size(s, 0x8000_0000)
}

/// A data message declaring the largest 24-bit length (16 MiB - 1), then its bytes.
fn rtmp_message_length_16mib(s: Addrs) -> Result<Closed, String> {
    let mut c = RtmpClient::connect_app(s.rtmp, "live")?;
    c.set_chunk_size(65536).map_err(|e| e.to_string())?;
    let total: usize = 0xFF_FFFF;
    let mut sent = 0usize;
    let mut first = true;
    write_in_background(&c.sock, move || {
        if sent >= total {
            return None;
        }
        let mut out = Vec::new();
        if first {
            fmt0_header(3, 0, total as u32, 18, 0, &mut out);
            first = false;
        } else {
            basic_header(3, 3, &mut out);
        }
        let n = (total - sent).min(65536);
        out.resize(out.len() + n, 0x05); // AMF0 null markers: only the size is wrong
        sent += n;
        Some(out)
    });
    wait_closed(&c.sock, CLOSE_LIMIT)
}

/// Partial messages on every chunk stream id from 3 up: the number in flight must be bounded.
fn rtmp_thousands_of_chunk_streams(s: Addrs) -> Result<Closed, String> {
    let mut c = RtmpClient::connect_app(s.rtmp, "live")?;
    c.set_chunk_size(4096).map_err(|e| e.to_string())?;
    let mut csid = 3u32;
    write_in_background(&c.sock, move || {
        if csid > 65599 {
            return None;
        }
        let mut out = Vec::new();
        for _ in 0..16 {
            if csid > 65599 {
                break;
            }
            fmt0_header(csid, 0, 8192, 18, 0, &mut out);
            out.resize(out.len() + 4096, 0x05);
            csid += 1;
        }
        Some(out)
    });
    wait_closed(&c.sock, CLOSE_LIMIT)
}

fn rtmp_connect_with(s: Addrs, payload: Vec<u8>) -> Result<Closed, String> {
    let mut c = RtmpClient::connect_tcp(s.rtmp)?;
    c.handshake()?;
    c.send(3, 0, 20, 0, &payload).map_err(|e| e.to_string())?;
    wait_closed(&c.sock, CLOSE_LIMIT)
}

/// `connect` whose command object holds a string claiming 65535 bytes, with the message ending first.
fn rtmp_connect_truncated_amf(s: Addrs) -> Result<Closed, String> {
    let mut p = amf::encode_all(&[amf::s("connect"), amf::V::Num(1.0)]);
    p.extend_from_slice(&[3, 0, 3, b'a', b'p', b'p', 2, 0xff, 0xff, b'l', b'i']);
    rtmp_connect_with(s, p)
}

/// `connect` whose command object holds a value with an unknown AMF0 marker.
fn rtmp_connect_unknown_amf_marker(s: Addrs) -> Result<Closed, String> {
    let mut p = amf::encode_all(&[amf::s("connect"), amf::V::Num(1.0)]);
    p.extend_from_slice(&[3, 0, 3, b'a', b'p', b'p', 0x7f, 1, 2, 3, 4, 0, 0, 9]);
    rtmp_connect_with(s, p)
}

fn expect_4xx_or_nothing(c: Closed) -> Result<Closed, String> {
    if c.received.is_empty() {
        return Ok(c);
    }
    let text = String::from_utf8_lossy(&c.received).into_owned();
    match text.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok()) {
        Some(code) if text.starts_with("HTTP/1.") && (400..500).contains(&code) && code != 404 => {
            Ok(c)
        }
        _ => Err(format!("answered {:?}", &text[..text.len().min(200)])),
    }
}

fn http_random_bytes(s: Addrs) -> Result<Closed, String> {
    let sock = tcp_connect(s.http).map_err(|e| e.to_string())?;
    let mut bytes = Rng::seeded().bytes(4096);
    bytes[0] = 0;
    bytes.extend_from_slice(b"\r\n\r\n");
    let mut once = Some(bytes);
    write_in_background(&sock, move || once.take());
    expect_4xx_or_nothing(wait_closed(&sock, CLOSE_LIMIT)?)
}

/// A 1 MiB request line that never ends: the server must not buffer it until its 10 s deadline.
fn http_1mib_request_line(s: Addrs) -> Result<Closed, String> {
    let sock = tcp_connect(s.http).map_err(|e| e.to_string())?;
    let mut line = b"GET /".to_vec();
    line.resize(1 << 20, b'a');
    let mut once = Some(line);
    write_in_background(&sock, move || once.take());
    expect_4xx_or_nothing(wait_closed(&sock, CLOSE_LIMIT)?)
}

const BAD_INPUTS: &[(&str, BadInput)] = &[
    ("RTMP random bytes", rtmp_random_bytes),
    ("RTMP truncated handshake", rtmp_truncated_handshake),
    ("RTMP chunk size 0", rtmp_chunk_size_zero),
    ("RTMP chunk size 2^31", rtmp_chunk_size_2_pow_31),
    ("RTMP message length 16 MiB", rtmp_message_length_16mib),
    (
        "RTMP thousands of chunk stream ids",
        rtmp_thousands_of_chunk_streams,
    ),
    (
        "RTMP connect with truncated AMF",
        rtmp_connect_truncated_amf,
    ),
    (
        "RTMP connect with unknown AMF marker",
        rtmp_connect_unknown_amf_marker,
    ),
    ("HTTP random bytes", http_random_bytes),
    ("HTTP 1 MiB request line", http_1mib_request_line),
];

/// Every bad input closes its own connection within a few seconds, while an ffmpeg HTTP-FLV player
/// and a raw subscriber of a live channel carry on undisturbed and the server stays up.
#[test]
fn bad_inputs_close_only_their_own_connection() {
    let dir = TestDir::new();
    let (mut server, mut publisher) = server_with_publisher("live/steady");
    let out = dir.file("steady.flv");
    let mut player = record(&server.flv_url("live/steady"), &out, 8.0);

    // A raw subscriber measuring the longest pause between tag arrivals.
    let http = server.http_addr;
    let watcher = thread::spawn(move || -> Result<(usize, Duration), String> {
        let mut s = FlvStream::open(http, "/live/steady.flv", Duration::from_secs(5))?;
        if s.head.status != 200 {
            return Err(format!("watcher GET: {:?}", s.head));
        }
        let end = Instant::now() + Duration::from_secs(7);
        let (mut n, mut last, mut max_gap) = (0usize, None::<Instant>, Duration::ZERO);
        loop {
            match s.next_tag_until(end) {
                Ok(Some(_)) => {
                    let now = Instant::now();
                    if let Some(l) = last {
                        max_gap = max_gap.max(now - l);
                    }
                    last = Some(now);
                    n += 1;
                }
                Ok(None) => return Err("watcher's stream ended".into()),
                Err(StreamError::Timeout) => return Ok((n, max_gap)),
                Err(e) => return Err(format!("watcher: {e}")),
            }
        }
    });
    // Let both subscribers attach before the attacks start.
    let attached = wait_until(Duration::from_secs(5), || {
        (std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) > 0).then_some(())
    });
    assert!(
        attached.is_some(),
        "the ffmpeg player wrote nothing within 5 s\n{}",
        player.describe()
    );

    let started = Instant::now();
    let addrs = Addrs {
        rtmp: server.rtmp_addr,
        http: server.http_addr,
    };
    let handles: Vec<_> = BAD_INPUTS
        .iter()
        .map(|&(name, f)| thread::spawn(move || (name, f(addrs))))
        .collect();
    // Control: a well-behaved client connected meanwhile must not be closed with the bad ones.
    let control = thread::spawn(move || -> Result<(), String> {
        let mut c = RtmpClient::connect_app(addrs.rtmp, "live")?;
        c.create_stream()?;
        match wait_closed(&c.sock, CLOSE_LIMIT) {
            Err(_still_open) => Ok(()),
            Ok(closed) => Err(format!("closed ({}) too", closed.how)),
        }
    });
    let mut failures = Vec::new();
    if let Err(e) = control.join().expect("control thread panicked") {
        failures.push(format!("well-behaved RTMP client: {e}"));
    }
    for h in handles {
        let (name, res) = h.join().expect("bad-input thread panicked");
        match res {
            Ok(closed) => eprintln!(
                "{name}: closed ({}) after {:?}",
                closed.how,
                closed.at.duration_since(started)
            ),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }

    let st = player.expect_exit(Duration::from_secs(25), "the parallel HTTP-FLV player");
    let watched = watcher.join().expect("watcher thread panicked");
    server.assert_alive("after bad input");
    assert!(
        failures.is_empty(),
        "bad input not handled:\n{}\n{}",
        failures.join("\n"),
        server.describe()
    );

    assert!(
        st.success(),
        "the parallel player failed: {st}\n{}",
        player.describe()
    );
    assert_recorded(
        &mut player,
        &server,
        "parallel player",
        check_h264_aac_recording(&out, 7.5),
    );
    let vts = packet_times(&out, "v:0").unwrap();
    let gap = max_gap(&vts);
    assert!(
        gap <= 0.1,
        "the parallel player's video has a {gap:.3} s hole (frames lost)"
    );
    let (n, max_pause) = watched.unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    assert!(n > 100, "the raw subscriber got only {n} tags in 7 s");
    assert!(
        max_pause < Duration::from_secs(2),
        "the raw subscriber saw a {max_pause:?} pause in delivery"
    );
    assert!(
        publisher.is_running(),
        "publisher died during bad input\n{}",
        publisher.describe()
    );

    // New connections still work.
    RtmpClient::connect_app(server.rtmp_addr, "live")
        .unwrap_or_else(|e| panic!("fresh RTMP connect: {e}\n{}", server.describe()));
    assert_eq!(
        http_status(server.http_addr, "/live/steady.flv").unwrap(),
        200
    );
    server.assert_alive("at the end");
}

// ---------------------------------------------------------------------------------------------------
// Slowloris: connections that never finish their opening are closed after ~10 s
// ---------------------------------------------------------------------------------------------------

/// Runs `open` on a fresh connection, then expects the server to close it between 8 and 15 s after
/// the connection was made. `trickle`, if set, is written one byte every `every` meanwhile.
fn expect_closed_after_about_10s(
    sock: std::net::TcpStream,
    connected: Instant,
    trickle: Option<(Vec<u8>, Duration)>,
) -> Result<Duration, String> {
    if let Some((bytes, every)) = trickle {
        let mut i = 0usize;
        let mut next = Instant::now();
        write_in_background(&sock, move || {
            let now = Instant::now();
            if next > now {
                thread::sleep(next - now);
            }
            next += every;
            let b = *bytes.get(i)?;
            i += 1;
            Some(vec![b])
        });
    }
    let closed = wait_closed(
        &sock,
        Duration::from_secs(16).saturating_sub(connected.elapsed()),
    )?;
    let after = closed.at.duration_since(connected);
    if after < Duration::from_secs(8) {
        return Err(format!(
            "closed after only {after:?} ({}); the deadline should be 10 s",
            closed.how
        ));
    }
    if after > Duration::from_secs(15) {
        return Err(format!("closed only after {after:?}"));
    }
    Ok(after)
}

/// A named slow client, run on its own thread; Ok(when it was closed).
type SlowCase = (
    &'static str,
    Box<dyn FnOnce() -> Result<Duration, String> + Send>,
);

fn run_slow_cases(server: &mut Server, cases: Vec<SlowCase>) {
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(name, f)| thread::spawn(move || (name, f())))
        .collect();
    let mut failures = Vec::new();
    for h in handles {
        let (name, r) = h.join().expect("slow-client thread panicked");
        match r {
            Ok(after) => eprintln!("{name}: closed after {after:?}"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    server.assert_alive("after slow clients");
    assert!(
        failures.is_empty(),
        "slow clients:\n{}\n{}",
        failures.join("\n"),
        server.describe()
    );
}

#[test]
fn slowloris_http_request_head_is_closed_after_about_10s() {
    let mut server = Server::start(&[]);
    let a = server.http_addr;
    let cases: Vec<SlowCase> = vec![
        (
            "HTTP: nothing sent",
            Box::new(move || {
                let sock = tcp_connect(a).map_err(|e| e.to_string())?;
                expect_closed_after_about_10s(sock, Instant::now(), None)
            }),
        ),
        (
            "HTTP: header trickled one byte a second",
            Box::new(move || {
                let sock = tcp_connect(a).map_err(|e| e.to_string())?;
                let t = Instant::now();
                (&sock)
                    .write_all(b"GET /live/slow.flv HTTP/1.1\r\nHost: x\r\n")
                    .map_err(|e| e.to_string())?;
                expect_closed_after_about_10s(
                    sock,
                    t,
                    Some((
                        b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
                        Duration::from_secs(1),
                    )),
                )
            }),
        ),
    ];
    run_slow_cases(&mut server, cases);
    assert_eq!(
        http_status(server.http_addr, "/live/none.flv").unwrap(),
        404,
        "the HTTP listener still answers"
    );
}

#[test]
fn slowloris_rtmp_handshake_and_connect_are_closed_after_about_10s() {
    let mut server = Server::start(&[]);
    let a = server.rtmp_addr;
    let cases: Vec<SlowCase> = vec![
        (
            "RTMP: nothing sent",
            Box::new(move || {
                let sock = tcp_connect(a).map_err(|e| e.to_string())?;
                expect_closed_after_about_10s(sock, Instant::now(), None)
            }),
        ),
        (
            "RTMP: C2 trickled two bytes a second",
            Box::new(move || {
                let mut c = RtmpClient::connect_tcp(a)?;
                let t = Instant::now();
                c.send_raw(&c0c1()).map_err(|e| e.to_string())?;
                // S0 S1 S2 come at once; then C2 dribbles in.
                let mut s = vec![0u8; 1 + 1536 + 1536];
                c.sock
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .map_err(|e| e.to_string())?;
                std::io::Read::read_exact(&mut c.sock, &mut s)
                    .map_err(|e| format!("reading S0S1S2: {e}"))?;
                expect_closed_after_about_10s(
                    c.sock,
                    t,
                    Some((s[1..1537].to_vec(), Duration::from_millis(500))),
                )
            }),
        ),
        (
            "RTMP: handshake done, no connect",
            Box::new(move || {
                let mut c = RtmpClient::connect_tcp(a)?;
                let t = Instant::now();
                c.handshake()?;
                expect_closed_after_about_10s(c.sock, t, None)
            }),
        ),
    ];
    run_slow_cases(&mut server, cases);
    RtmpClient::connect_app(server.rtmp_addr, "live")
        .unwrap_or_else(|e| panic!("a normal client after the slow ones: {e}"));
}

/// A late joiner sees exactly the publisher's two tracks: onMetaData must read as metadata (it is
/// stamped 0, as at the start of a file), not as an extra data track.
#[test]
fn late_joiners_see_only_the_audio_and_video_tracks() {
    let (mut server, mut publisher) = server_with_publisher("live/tracks");
    std::thread::sleep(Duration::from_secs(3));
    for url in [
        server.flv_url("live/tracks"),
        server.rtmp_url("live/tracks"),
    ] {
        let probe = ffprobe(Path::new(&url), Count::Nothing)
            .unwrap_or_else(|e| panic!("ffprobe {url}: {e}\n{}", server.describe()));
        let kinds: Vec<&str> = probe
            .streams
            .iter()
            .map(|s| s.codec_type.as_str())
            .collect();
        assert_eq!(kinds.len(), 2, "{url}: tracks {kinds:?}");
        assert!(
            kinds.contains(&"video") && kinds.contains(&"audio"),
            "{url}: {kinds:?}"
        );
    }
    assert!(publisher.is_running(), "{}", publisher.describe());
    server.assert_alive("after probing");
}
