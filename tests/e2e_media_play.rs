//! Playback by ffmpeg: the real `joy4` binary on ephemeral loopback ports, real ffmpeg publishers,
//! and RTMP and HTTP-FLV players whose recordings are checked frame by frame.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::*;

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

/// Publishing without `-c copy`: ffmpeg re-encodes to Sorenson H.263 (flv1) + MP3, which the
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
