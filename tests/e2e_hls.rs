//! HLS from memory: `GET /PATH.m3u8` on the media port. ffprobe and ffmpeg read the live playlist;
//! segments are checked on their own (keyframe first, HEAD, Range); a publisher switch shows a
//! discontinuity; codecs HLS cannot carry are refused with a JSON reason.
mod support;

use std::process::Command;

use serde_json::Value;
use support::*;

/// A server with the standard clip (640x360, 2 s GOP) looping to `path`.
fn live(path: &str) -> (Server, Proc) {
    let mut server = Server::start(&[]);
    let publisher = publish_loop(&mut server, &clip(), path);
    (server, publisher)
}

fn hls_url(server: &Server, path: &str) -> String {
    format!("http://{}/{path}.m3u8", server.http_addr)
}

#[test]
fn ffprobe_sees_h264_and_aac_at_the_publishers_size() {
    let (server, _publisher) = live("live/probe");
    let r = get_with(server.http_addr, "GET", "/live/probe.m3u8", "");
    assert_eq!(
        r.head.status,
        200,
        "{}\n{}",
        r.body_text(),
        server.describe()
    );
    assert_eq!(
        r.head.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(r.head.header("access-control-allow-origin"), Some("*"));
    let entry = r.body_text();
    assert!(entry.contains("RESOLUTION=640x360"), "{entry}");
    assert!(entry.contains("CODECS=\"avc1.64"), "{entry}");
    assert!(entry.contains(",mp4a.40.2\""), "{entry}");

    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-of", "json"])
        .arg(hls_url(&server, "live/probe"))
        .output()
        .expect("run ffprobe");
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let video = streams.iter().find(|s| s["codec_type"] == "video");
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    let video = video.unwrap_or_else(|| panic!("no video: {v}\n{}", server.describe()));
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(640), Some(360))
    );
    let audio = audio.unwrap_or_else(|| panic!("no audio: {v}"));
    assert_eq!(audio["codec_name"], "aac");
    assert_eq!(audio["sample_rate"], "44100");
    assert_eq!(audio["channels"], 2);
}

#[test]
fn ffmpeg_decodes_six_seconds_of_the_live_playlist_without_errors() {
    let (server, _publisher) = live("live/decode");
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-rw_timeout",
            "15000000",
        ])
        .arg("-i")
        .arg(hls_url(&server, "live/decode"))
        .args(["-t", "6", "-map", "0:v", "-f", "framecrc", "-"])
        .output()
        .expect("run ffmpeg");
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ffmpeg failed: {errors}\n{}",
        server.describe()
    );
    assert!(errors.trim().is_empty(), "decoding errors: {errors}");
    let frames = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    let expected = 6.0 * FPS;
    assert!(
        frames as f64 >= 0.9 * expected,
        "{frames} frames decoded of {expected}"
    );
}

#[test]
fn each_segment_starts_with_a_keyframe_and_answers_head_and_range() {
    let (server, _publisher) = live("live/seg");
    let viewer = HlsViewer::open(server.http_addr, "live/seg").unwrap();
    let playlist = viewer.media_playlist();
    assert_eq!(playlist.version, Some(3));
    assert_eq!(playlist.target_duration, Some(2), "{}", playlist.text);
    assert!(playlist.media_sequence.is_some());
    // Wait for three segments (the clip has a keyframe every 2 s).
    let playlist = wait_until(secs(15.0), || {
        let p = viewer.media_playlist();
        (p.segments.len() >= 3).then_some(p)
    })
    .unwrap_or_else(|| panic!("fewer than 3 segments\n{}", server.describe()));
    let dir = TestDir::new();
    for (i, segment) in playlist.segments.iter().enumerate() {
        assert!((1.5..=2.5).contains(&segment.duration), "{segment:?}");
        let r = viewer.get_segment(segment, "");
        assert_eq!(r.head.status, 200, "{segment:?}: {}", r.body_text());
        assert_eq!(r.head.header("content-type"), Some("video/mp2t"));
        assert!(r
            .head
            .header("cache-control")
            .unwrap_or("")
            .contains("immutable"));
        assert_eq!(r.head.header("access-control-allow-origin"), Some("*"));
        assert_eq!(r.body.len() % 188, 0);
        assert_eq!(r.body[0], 0x47);
        let file = dir.file(&format!("{i}.ts"));
        std::fs::write(&file, &r.body).unwrap();
        let flags = first_video_packet_flags(&file);
        assert!(flags.starts_with('K'), "segment {i} starts with {flags:?}");
        let checked = ffprobe(&file, Count::Frames).expect("the segment decodes on its own");
        assert_eq!(
            checked.video().map(|v| (v.width, v.height)),
            Some((640, 360))
        );
    }
    // HEAD and Range on the last segment.
    let last = playlist.segments.last().unwrap();
    let whole = viewer.get_segment(last, "");
    let path = viewer.segment_path(last);
    let head = get_with(server.http_addr, "HEAD", &path, "");
    assert_eq!(head.head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.head.header("content-length"),
        Some(whole.body.len().to_string().as_str())
    );
    let part = viewer.get_segment(last, "Range: bytes=188-375\r\n");
    assert_eq!(part.head.status, 206);
    assert_eq!(part.body, whole.body[188..376]);
    let expected = format!("bytes 188-375/{}", whole.body.len());
    assert_eq!(part.head.header("content-range"), Some(expected.as_str()));
    let tail = viewer.get_segment(last, "Range: bytes=-188\r\n");
    assert_eq!(tail.body, whole.body[whole.body.len() - 188..]);
    let past = viewer.get_segment(last, &format!("Range: bytes={}-\r\n", whole.body.len()));
    assert_eq!(past.head.status, 416);
    // A segment outside the window.
    let gone = viewer.segment_path(last).replacen(".ts", "0000.ts", 1);
    let r = get_with(server.http_addr, "GET", &gone, "");
    assert_eq!(r.head.status, 404);
    let v: Value = serde_json::from_slice(&r.body).expect("a JSON reason");
    assert_eq!(v["error"], "SegmentNotFound");
}

#[test]
fn unknown_channels_and_codecs_without_hls_are_404_with_a_reason() {
    let mut server = Server::start(&[]);
    let r = get_with(server.http_addr, "GET", "/live/nobody.m3u8", "");
    assert_eq!(r.head.status, 404);
    let v: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(v["error"], "ChannelNotExists");
    // Re-encoded to FLV's defaults: Sorenson H.263 and MP3.
    let mut publisher = publish_with(
        &clip(),
        &server.rtmp_url("live/old"),
        Publish {
            copy: false,
            loop_forever: true,
            ..Publish::default()
        },
    );
    wait_for_channel(&mut server, "live/old", &mut publisher);
    let r = get_with(server.http_addr, "GET", "/live/old.m3u8", "");
    assert_eq!(r.head.status, 404, "{}", r.body_text());
    let v: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(v["error"], "UnsupportedCodec");
    assert!(v["reason"].as_str().unwrap_or("").contains("FLV1"), "{v}");
}

#[test]
fn an_audio_only_channel_is_cut_by_time() {
    let mut server = Server::start(&["-hlsfragment=1s"]);
    let _publisher = publish_loop(&mut server, &clip_audio_only(20), "live/radio");
    let viewer = HlsViewer::open(server.http_addr, "live/radio").unwrap();
    let playlist = wait_until(secs(10.0), || {
        let p = viewer.media_playlist();
        (p.segments.len() >= 2).then_some(p)
    })
    .expect("two segments");
    assert_eq!(playlist.target_duration, Some(1));
    for segment in &playlist.segments {
        assert!((0.9..1.2).contains(&segment.duration), "{segment:?}");
    }
    let dir = TestDir::new();
    let file = dir.file("a.ts");
    std::fs::write(&file, viewer.get_segment(&playlist.segments[0], "").body).unwrap();
    let probe = ffprobe(&file, Count::Nothing).unwrap();
    assert!(probe.video().is_none());
    assert_eq!(probe.audio().map(|a| a.codec_name.as_str()), Some("aac"));
}

#[test]
fn a_publisher_switch_shows_a_discontinuity_and_the_player_goes_on() {
    let mut server = Server::start(&[]);
    let mut first = publish_loop(&mut server, &clip(), "live/switch");
    let viewer = HlsViewer::open(server.http_addr, "live/switch").unwrap();
    let player_url = format!("http://{}{}", server.http_addr, viewer.media_path);
    let dir = TestDir::new();
    let recording = dir.file("switch.ts");
    let mut player = Command::new("ffmpeg");
    player
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-rw_timeout",
            "20000000",
        ])
        .arg("-i")
        .arg(&player_url)
        .args(["-t", "16", "-c", "copy", "-f", "mpegts"])
        .arg(&recording);
    let mut player = Proc::spawn("ffmpeg-hls-player", player);
    std::thread::sleep(secs(4.0));
    first.kill();
    // Another encoder with another picture size takes the channel within its grace period.
    let mut second = publish_loop(&mut server, &clip_h264_aac(320, 240, 20), "live/switch");
    let playlist = wait_until(secs(20.0), || {
        let p = viewer.media_playlist();
        p.segments.iter().any(|s| s.discontinuity).then_some(p)
    })
    .unwrap_or_else(|| panic!("no discontinuity\n{}", server.describe()));
    let marked = playlist.segments.iter().find(|s| s.discontinuity).unwrap();
    let r = viewer.get_segment(marked, "");
    let file = dir.file("after.ts");
    std::fs::write(&file, &r.body).unwrap();
    let probe = ffprobe(&file, Count::Nothing).unwrap();
    assert_eq!(probe.video().map(|v| (v.width, v.height)), Some((320, 240)));
    assert!(first_video_packet_flags(&file).starts_with('K'));
    let status = player.expect_exit(secs(40.0), "the HLS player");
    assert!(status.success(), "player failed\n{}", player.describe());
    let runs = resolution_runs(&recording);
    let sizes: Vec<(u64, u64)> = runs.iter().map(|(size, _)| *size).collect();
    assert!(
        sizes.contains(&(640, 360)) && sizes.contains(&(320, 240)),
        "the player went on across the switch: {runs:?}"
    );
    assert!(second.is_running());
}

#[test]
fn the_channels_end_writes_endlist() {
    let mut server = Server::start(&["-publishergrace=0"]);
    let mut publisher = publish_with(
        &clip(),
        &server.rtmp_url("live/short"),
        Publish {
            limit_secs: Some(7.0),
            ..Publish::default()
        },
    );
    wait_for_channel(&mut server, "live/short", &mut publisher);
    let viewer = HlsViewer::open(server.http_addr, "live/short").unwrap();
    assert!(!viewer.media_playlist().ended);
    let playlist = wait_until(secs(20.0), || {
        let p = viewer.media_playlist();
        p.ended.then_some(p)
    })
    .unwrap_or_else(|| panic!("no ENDLIST\n{}", server.describe()));
    assert!(playlist.text.ends_with("#EXT-X-ENDLIST\n"));
    let last = playlist.segments.last().unwrap();
    assert_eq!(viewer.get_segment(last, "").head.status, 200);
}
