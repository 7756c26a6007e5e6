//! Recordings that survive: kill -9 mid-recording leaves a file ffprobe plays, missing at most
//! about -recordpart; a restart cuts a torn tail and lists the file; SIGTERM closes every
//! recording with reason `shutdown` and delivers its recordDone; a publisher that reconnects
//! within -publishergrace continues the same file.
mod support;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

fn dir_flag(dir: &Path) -> String {
    format!("-recorddir={}", dir.display())
}

#[test]
fn kill_9_leaves_a_playable_file_and_a_restart_cuts_its_torn_tail_and_lists_it() {
    let dir = record_dir();
    let ports = free_ports();
    let mut server = Server::start_on(ports, &[&dir_flag(&dir), "-recordall", "-recordpart=500ms"]);
    let clip = clip_h264_aac(320, 240, 20);
    let _publisher = publish(&clip, &server.rtmp_url("live/crash"));
    let id = api::publisher_id(&server, "crash");
    api::wait_media_time(&server, &id, 4.5);
    let media_at_kill = api::f64_of(&api::stream_stat(&server, &id).unwrap()["time"]);
    server.proc.kill();
    let files: Vec<_> = std::fs::read_dir(dir.join("live/crash"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let path = files[0].clone();
    // Plays as it is, with at most -recordpart (and a frame held back) of what joy4 had.
    let probe = ffprobe(&path, Count::Nothing).unwrap();
    probe.video_and_audio().unwrap();
    let (video, _, key_first) = packet_counts(&path);
    assert!(key_first);
    let recorded = video as f64 / 25.0;
    assert!(
        recorded >= media_at_kill - 0.5 - 0.25,
        "{recorded} s recorded of {media_at_kill} s received"
    );
    // Tear its tail as a crash in the middle of a write would: a moof that never ends.
    let whole = std::fs::metadata(&path).unwrap().len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&[0, 0, 0x40, 0, b'm', b'o', b'o', b'f', 1, 2, 3])
        .unwrap();
    drop(f);
    let server = Server::start_on(ports, &[&dir_flag(&dir)]);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        whole,
        "the torn tail was not cut"
    );
    assert!(
        server.log_text().contains("torn tail"),
        "{}",
        server.describe()
    );
    let listed = listing(&server, "live/crash");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["bytes"].as_u64(), Some(whole));
    assert_eq!(listed[0]["recording"], false);
    let duration = listed[0]["duration"].as_f64().unwrap();
    assert!(
        (duration - recorded).abs() < 0.2,
        "listed {duration} s, {recorded} s of frames"
    );
}

#[test]
fn sigterm_closes_each_recording_with_reason_shutdown_and_delivers_record_done() {
    let dir = record_dir();
    let callbacks = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&dir_flag(&dir), "-recordall", &callbacks.flag()]);
    let clip = clip_h264_aac(320, 240, 20);
    let _a = publish(&clip, &server.rtmp_url("live/one"));
    let _b = publish(&clip, &server.rtmp_url("live/two"));
    for name in ["one", "two"] {
        let id = api::publisher_id(&server, name);
        api::wait_media_time(&server, &id, 2.5);
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.proc.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let sent = Instant::now();
    let exit = server
        .proc
        .expect_exit(Duration::from_secs(8), "exit after SIGTERM");
    assert!(exit.success(), "{exit:?}\n{}", server.describe());
    assert!(sent.elapsed() < Duration::from_secs(6));
    let done = callbacks.named("recordDone");
    assert_eq!(done.len(), 2, "{done:?}\n{}", server.describe());
    for event in &done {
        assert_eq!(event["reason"], "shutdown", "{event}");
        let path = dir.join(event["path"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            event["bytes"].as_u64().unwrap()
        );
        let (video, _, key_first) = packet_counts(&path);
        assert!(
            key_first && video >= 50,
            "{video} frames in {}",
            path.display()
        );
    }
}

#[test]
fn a_publisher_that_reconnects_within_the_grace_continues_the_same_file() {
    let dir = record_dir();
    let callbacks = Callbacks::start(|_| "{}".into());
    let server = Server::start(&[
        &dir_flag(&dir),
        "-recordall",
        "-publishergrace=5s",
        &callbacks.flag(),
    ]);
    let clip = clip_h264_aac(320, 240, 4);
    let (src_video, src_audio, _) = packet_counts(&clip);
    for _ in 0..2 {
        let mut p = publish(&clip, &server.rtmp_url("live/again"));
        p.expect_exit(Duration::from_secs(20), "publishing the clip");
    }
    let done = callbacks.wait("recordDone", Duration::from_secs(15), |_| true);
    assert_eq!(done["reason"], "channelClosed", "{done}");
    assert_eq!(callbacks.named("recordDone").len(), 1);
    let files = listing(&server, "live/again");
    assert_eq!(files.len(), 1, "{files:?}");
    let path = dir.join(done["path"].as_str().unwrap());
    let (video, audio, key_first) = packet_counts(&path);
    assert!(key_first);
    assert!(
        video.abs_diff(2 * src_video) <= 2,
        "{video} of 2 x {src_video}"
    );
    assert!(
        audio.abs_diff(2 * src_audio) <= 4,
        "{audio} of 2 x {src_audio}"
    );
    let (video_dts, _) = packet_dts(&path);
    assert_eq!(backward_steps(&video_dts), Vec::<String>::new());
}
