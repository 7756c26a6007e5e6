//! Codecs in recordings: HEVC and AV1 from Enhanced RTMP (the Enhanced RTMP tests' fixtures) and
//! H.264 with MP3 recorded to fMP4 and probed; a codec fMP4 cannot carry ends the recording with
//! `unsupportedCodec`, and `-recordformat=flv` records it as received.
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::enhanced::*;
use support::*;

fn dir_flag(dir: &Path) -> String {
    format!("-recorddir={}", dir.display())
}

/// Publish `tags` (video only) on live/NAME at 25 fps with the test's RTMP client, then end.
fn publish_tags(server: &Server, name: &str, tags: &[Vec<u8>]) {
    let mut publisher = RtmpClient::publisher(server.rtmp_addr, "live", name)
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    let (client, sid) = (&mut publisher.0, publisher.1);
    client.set_chunk_size(4096).expect("set chunk size");
    for (i, body) in tags.iter().enumerate() {
        let ts = 40 * i.saturating_sub(1) as u32;
        client.send(6, ts, 9, sid, body).expect("send a video tag");
    }
    client
        .send_command(
            0,
            "deleteStream",
            4.0,
            amf::V::Null,
            vec![amf::V::Num(f64::from(sid))],
        )
        .expect("send deleteStream");
}

fn record_enhanced(track: &Track, codec: &str) {
    let dir = record_dir();
    let callbacks = Callbacks::start(|_| "{}".into());
    let server = Server::start(&[
        &dir_flag(&dir),
        "-recordall",
        "-publishergrace=0",
        &callbacks.flag(),
    ]);
    publish_tags(&server, codec, &single_track_tags(track));
    let done = callbacks.wait("recordDone", Duration::from_secs(10), |_| true);
    assert_eq!(
        done["reason"],
        "channelClosed",
        "{done}\n{}",
        server.describe()
    );
    let path = dir.join(done["path"].as_str().unwrap());
    let probe = ffprobe(&path, Count::Nothing).unwrap();
    let video = probe
        .video()
        .unwrap_or_else(|| panic!("no video in {probe:?}"));
    assert_eq!(
        (video.codec_name.as_str(), video.width, video.height),
        (codec, WIDTH, HEIGHT)
    );
    let flags = packet_flags(&path, "v:0");
    assert_eq!(flags.len(), FRAMES, "{flags:?}");
    let keys = flags.iter().filter(|f| f.starts_with('K')).count();
    let sent_keys = track.frames.iter().filter(|f| f.key).count();
    assert!(flags[0].starts_with('K'));
    assert_eq!(keys, sent_keys);
    // Decodes without error.
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hevc_from_enhanced_rtmp_is_recorded_as_hvc1() {
    let dir = TestDir::new();
    record_enhanced(&hevc_track(&dir), "hevc");
}

#[test]
fn av1_from_enhanced_rtmp_is_recorded_as_av01() {
    let dir = TestDir::new();
    record_enhanced(&av1_track(&dir), "av1");
}

/// `ffmpeg -re -i CLIP -c:v VCODEC -c:a ACODEC -f flv URL`
fn publish_transcoded(clip: &Path, url: &str, video: &[&str], audio: &[&str]) -> Proc {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-re",
        "-i",
    ])
    .arg(clip)
    .args(video)
    .args(audio)
    .args(["-f", "flv", url]);
    Proc::spawn("ffmpeg-publish", cmd)
}

#[test]
fn mp3_audio_is_recorded_and_a_codec_fmp4_cannot_carry_is_unsupported_but_flv_records_it() {
    let clip = clip_h264_aac(320, 240, 4);
    let dir = record_dir();
    let callbacks = Callbacks::start(|_| "{}".into());
    let server = Server::start(&[
        &dir_flag(&dir),
        "-recordall",
        "-publishergrace=0",
        &callbacks.flag(),
    ]);
    // H.264 + MP3: mp4a with object type 0x6B.
    let mut p = publish_transcoded(
        &clip,
        &server.rtmp_url("live/mp3"),
        &["-c:v", "copy"],
        &["-c:a", "libmp3lame", "-ar", "44100", "-b:a", "128k"],
    );
    p.expect_exit(Duration::from_secs(20), "publishing");
    let done = callbacks.wait("recordDone", Duration::from_secs(10), |b| {
        b["channel"] == "live/mp3"
    });
    let path = dir.join(done["path"].as_str().unwrap());
    let probe = ffprobe(&path, Count::Nothing).unwrap();
    let (v, a) = probe.video_and_audio().unwrap();
    assert_eq!(
        (v.codec_name.as_str(), a.codec_name.as_str()),
        ("h264", "mp3")
    );
    let (_, audio, key_first) = packet_counts(&path);
    assert!(key_first && audio > 100, "{audio} MP3 frames");

    // Sorenson H.263 (FLV's default video codec): no fMP4 for it.
    let mut p = publish_transcoded(
        &clip,
        &server.rtmp_url("live/flv1"),
        &["-c:v", "flv"],
        &["-c:a", "libmp3lame"],
    );
    let done = callbacks.wait("recordDone", Duration::from_secs(15), |b| {
        b["channel"] == "live/flv1"
    });
    assert_eq!(done["reason"], "unsupportedCodec", "{done}");
    assert!(done["detail"].as_str().unwrap().contains("FLV1"), "{done}");
    assert!(server.log_text().contains("is not recorded"));
    p.expect_exit(Duration::from_secs(20), "publishing");
    drop(server);

    // -recordformat=flv records it as received.
    let dir = record_dir();
    let callbacks = Callbacks::start(|_| "{}".into());
    let server = Server::start(&[
        &dir_flag(&dir),
        "-recordall",
        "-recordformat=flv",
        "-publishergrace=0",
        &callbacks.flag(),
    ]);
    let mut p = publish_transcoded(
        &clip,
        &server.rtmp_url("live/flv1"),
        &["-c:v", "flv"],
        &["-c:a", "libmp3lame"],
    );
    p.expect_exit(Duration::from_secs(20), "publishing");
    let done = callbacks.wait("recordDone", Duration::from_secs(10), |_| true);
    assert_eq!(done["reason"], "channelClosed");
    let path = dir.join(done["path"].as_str().unwrap());
    assert!(path.to_string_lossy().ends_with(".flv"));
    let probe = ffprobe(&path, Count::Nothing).unwrap();
    let (v, a) = probe.video_and_audio().unwrap();
    assert_eq!(
        (v.codec_name.as_str(), a.codec_name.as_str()),
        ("flv1", "mp3")
    );
    let (video, _, key_first) = packet_counts(&path);
    assert!(key_first && video.abs_diff(100) <= 2, "{video} frames");
    let listed = listing(&server, "live/flv1");
    let duration = listed[0]["duration"].as_f64().unwrap();
    assert!((duration - 4.0).abs() < 0.3, "{duration}");
}
