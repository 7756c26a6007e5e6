//! Recording to fragmented MP4: files that ffprobe reads with every published frame, rotation
//! at keyframes, recordDone events, the listing, a span across files, and the API's refusals.
mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use support::*;

fn dir_flag(dir: &Path) -> String {
    format!("-recorddir={}", dir.display())
}

#[test]
fn a_published_clip_is_recorded_in_4s_segments_with_every_frame_and_a_keyframe_first() {
    let clip = clip_h264_aac(320, 240, 9);
    let (src_video, src_audio, _) = packet_counts(&clip);
    let dir = record_dir();
    let callbacks = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[
        &dir_flag(&dir),
        "-recordall",
        "-recordsegment=4s",
        "-recordpart=500ms",
        "-publishergrace=0",
        &callbacks.flag(),
    ]);
    let mut publisher = publish(&clip, &server.rtmp_url("live/rec"));
    // While it runs, /stat/channel shows the file being written.
    let recording = wait_until(Duration::from_secs(10), || {
        let stat = api::channel_stat(&server, "live/rec");
        stat.get("recording")
            .filter(|r| r["bytes"].as_u64() > Some(0))
            .cloned()
    })
    .unwrap_or_else(|| panic!("no recording in /stat/channel\n{}", server.describe()));
    assert!(recording["name"].as_str().unwrap().ends_with(".mp4"));
    publisher.expect_exit(Duration::from_secs(30), "publishing the clip");
    let done = callbacks.wait("recordDone", Duration::from_secs(10), |b| {
        b["reason"] == "channelClosed"
    });
    let files = wait_files_done(&server, "live/rec", 2, Duration::from_secs(5));
    server.assert_alive("after recording");
    // 9 s of media with a keyframe every 2 s, cut at the first keyframe after 4 s: 0-4, 4-8, 8-9.
    assert_eq!(files.len(), 3, "{files:?}");
    let segments = callbacks.named("recordDone");
    let reasons: Vec<&str> = segments
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["segment", "segment", "channelClosed"],
        "{segments:?}"
    );
    assert_eq!(done["channel"], "live/rec");
    assert_eq!(
        done["path"],
        format!("live/rec/{}", done["name"].as_str().unwrap())
    );
    let (mut video, mut audio) = (0, 0);
    for (file, event) in files.iter().zip(&segments) {
        let name = file["name"].as_str().unwrap();
        assert_eq!(event["name"], name);
        assert_eq!(event["bytes"], file["bytes"]);
        let path = dir.join("live/rec").join(name);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            file["bytes"].as_u64().unwrap()
        );
        let probe = ffprobe(&path, Count::Nothing).unwrap();
        let (v, a) = probe.video_and_audio().unwrap();
        assert_eq!(
            (v.codec_name.as_str(), v.width, v.height),
            ("h264", 320, 240)
        );
        assert_eq!(
            (a.codec_name.as_str(), a.sample_rate, a.channels),
            ("aac", 44100, 2)
        );
        let (nv, na, key_first) = packet_counts(&path);
        assert!(key_first, "{name} does not start with a keyframe");
        video += nv;
        audio += na;
        // Listed and reported durations come from the media: 4 s segments (±1 frame).
        let listed = file["duration"].as_f64().unwrap();
        let reported = event["duration"].as_f64().unwrap();
        assert!((listed - reported).abs() < 0.05, "{listed} vs {reported}");
        let media = nv as f64 / 25.0;
        assert!(
            (listed - media).abs() <= 0.1,
            "{name}: listed {listed} s, {nv} frames"
        );
    }
    // Every published frame is in the files: none lost or doubled at a rotation.
    assert!(
        video.abs_diff(src_video) <= 1,
        "video {video} of {src_video}"
    );
    assert!(
        audio.abs_diff(src_audio) <= 2,
        "audio {audio} of {src_audio}"
    );

    // A span across the first two files: from the keyframe at or before start + 3 s, 3 s long.
    let start = files[0]["start"].as_str().unwrap();
    let start = start.replace("+00:00", "Z");
    let t = humantime_add(&start, 3.0);
    let url = format!("/recordings/get?channel=live/rec&start={t}&duration=3s");
    let span = api::raw(server.api_addr, "GET", &url, b"", "");
    assert_eq!(
        span.head.status,
        200,
        "{url}: {}",
        String::from_utf8_lossy(&span.body)
    );
    let out = dir.join("span.mp4");
    std::fs::write(&out, &span.body).unwrap();
    let (nv, na, key_first) = packet_counts(&out);
    assert!(key_first);
    // From the keyframe at 2 s to the fragment that covers 6 s: 4 s and more of video.
    assert!((100..=125).contains(&nv), "span has {nv} video packets");
    assert!(na > 150, "span has {na} audio packets");
    // Decode times run on across the file boundary: no gap, no step back.
    let (video_dts, audio_dts) = packet_dts(&out);
    let (largest, at) = largest_step(&video_dts);
    assert!(largest < 0.1, "the span has a gap of {largest} s at {at} s");
    assert!(
        video_dts[0].abs() < 0.05,
        "the span starts at {} s",
        video_dts[0]
    );
    assert_eq!(backward_steps(&video_dts), Vec::<String>::new());
    assert_eq!(backward_steps(&audio_dts), Vec::<String>::new());

    // Nothing recorded at that time: 404.
    let url = "/recordings/get?channel=live/rec&start=2000-01-01T00:00:00Z&duration=10s";
    api::assert_err(api::get(server.api_addr, url), 404, "RecordingNotFound");
    api::assert_err(
        api::get(
            server.api_addr,
            "/recordings/get?channel=live/rec&start=yesterday&duration=1s",
        ),
        400,
        "BadRequest",
    );

    // One file, whole and in ranges.
    let name = files[1]["name"].as_str().unwrap();
    let url = format!("/recordings/file?channel=live/rec&name={name}");
    let whole = api::raw(server.api_addr, "GET", &url, b"", "");
    assert_eq!(whole.head.status, 200);
    assert_eq!(
        whole.body,
        std::fs::read(dir.join("live/rec").join(name)).unwrap()
    );
    let part = api::raw(server.api_addr, "GET", &url, b"", "Range: bytes=4-11\r\n");
    assert_eq!(part.head.status, 206);
    assert_eq!(part.body, whole.body[4..12].to_vec());
    assert_eq!(&part.body[..4], b"ftyp");
    let head = api::raw(server.api_addr, "HEAD", &url, b"", "");
    assert_eq!(head.head.status, 200);
    assert!(head.body.is_empty());

    // Delete a completed file; a second delete finds nothing.
    api::assert_ok(api::post(
        server.api_addr,
        "/recordings/delete",
        json!({"channel": "live/rec", "name": name}),
    ));
    assert!(!dir.join("live/rec").join(name).exists());
    api::assert_err(
        api::post(
            server.api_addr,
            "/recordings/delete",
            json!({"channel": "live/rec", "name": name}),
        ),
        404,
        "RecordingNotFound",
    );
}

/// RFC 3339 `start` plus `secs`, as RFC 3339 with Z.
fn humantime_add(start: &str, secs: f64) -> String {
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("{start} + {} seconds", secs),
            "+%Y-%m-%dT%H:%M:%S.%3NZ",
        ])
        .output()
        .expect("run date");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn without_recorddir_recording_requests_are_refused_and_with_it_unsafe_names_are() {
    let server = Server::start(&[]);
    api::assert_err(
        api::post(
            server.api_addr,
            "/channel/create",
            json!({"id": "a", "record": true}),
        ),
        400,
        "RecordingDisabled",
    );
    api::assert_err(
        api::post(
            server.api_addr,
            "/channel/record",
            json!({"id": "a", "record": true}),
        ),
        400,
        "RecordingDisabled",
    );
    api::assert_err(
        api::get(server.api_addr, "/recordings"),
        400,
        "RecordingDisabled",
    );
    drop(server);

    let dir = record_dir();
    let inside = dir.join("inside");
    std::fs::create_dir_all(&inside).unwrap();
    let server = Server::start(&[&dir_flag(&inside)]);
    api::assert_err(
        api::post(
            server.api_addr,
            "/channel/record",
            json!({"id": "nope", "record": true}),
        ),
        400,
        "ChannelNotExists",
    );
    // Names that would leave the folder are refused, not escaped.
    for id in ["../escape", "a/../../escape", "/abs", "a\u{1}b", ".hidden"] {
        api::assert_err(
            api::post(
                server.api_addr,
                "/channel/create",
                json!({"id": id, "record": true}),
            ),
            400,
            "BadRequest",
        );
    }
    for (channel, name) in [
        ("..", "2026-12-05T16-30-00.123Z.mp4"),
        ("live", "../../../etc/passwd"),
        ("live", "2026-12-05T16-30-00.123Z.mp4%00"),
    ] {
        let url = format!("/recordings/file?channel={channel}&name={name}");
        let r = api::raw(server.api_addr, "GET", &url, b"", "");
        assert!(
            r.head.status == 404 || r.head.status == 400,
            "{channel} {name}: {}",
            r.head.status
        );
    }
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        entries,
        ["inside"],
        "something was written outside -recorddir"
    );
}

#[test]
fn record_false_at_create_overrides_recordall_and_channel_record_starts_and_stops_at_run_time() {
    let dir = record_dir();
    let callbacks = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&dir_flag(&dir), "-recordall", &callbacks.flag()]);
    api::assert_ok(api::post(
        server.api_addr,
        "/channel/create",
        json!({"id": "live/quiet", "record": false}),
    ));
    let clip = clip_h264_aac(320, 240, 20);
    let _publisher = publish_loop(&mut server, &clip, "live/quiet");
    let id = api::publisher_id(&server, "quiet");
    api::wait_media_time(&server, &id, 2.5);
    assert!(listing(&server, "live/quiet").is_empty());
    assert!(api::channel_stat(&server, "live/quiet")
        .get("recording")
        .is_none());
    api::assert_ok(api::post(
        server.api_addr,
        "/channel/record",
        json!({"id": "live/quiet", "record": true}),
    ));
    let writing = wait_until(Duration::from_secs(10), || {
        listing(&server, "live/quiet")
            .into_iter()
            .find(|f| f["recording"] == true)
    });
    assert!(writing.is_some(), "{}", server.describe());
    // A file being written is not deleted.
    let name = writing.unwrap()["name"].as_str().unwrap().to_string();
    api::assert_err(
        api::post(
            server.api_addr,
            "/recordings/delete",
            json!({"channel": "live/quiet", "name": name}),
        ),
        409,
        "RecordingBusy",
    );
    api::wait_media_time(&server, &id, 6.0);
    api::assert_ok(api::post(
        server.api_addr,
        "/channel/record",
        json!({"id": "live/quiet", "record": false}),
    ));
    let done = callbacks.wait("recordDone", Duration::from_secs(10), |_| true);
    assert_eq!(done["reason"], "stopped");
    assert_eq!(done["name"], name.as_str());
    let path = dir.join(done["path"].as_str().unwrap());
    let (video, _, key_first) = packet_counts(&path);
    assert!(key_first && video >= 50, "{video} frames");
    assert!(done["duration"].as_f64().unwrap() >= 2.0, "{done}");
}
