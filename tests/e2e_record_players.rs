//! Recordings play in VLC, while they are written, once done and after a kill -9: VLC's MP4
//! demuxer reads the fMP4 file and remuxes what it read to Matroska; ffprobe counts (and decodes) the frames VLC
//! got and compares them with what the recording held as VLC read it.
mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

/// (video packets, audio packets, decoded video frames) of the file VLC wrote, after
/// checking its codecs and picture size.
fn vlc_output(out: &Path) -> (usize, usize, u64) {
    let probe = ffprobe(out, Count::Frames).unwrap_or_else(|e| panic!("{e}"));
    let (video, audio) = probe.video_and_audio().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (video.codec_name.as_str(), video.width, video.height),
        ("h264", 320, 240),
        "{probe:?}"
    );
    assert_eq!(audio.codec_name, "aac", "{probe:?}");
    let (v, a, _) = packet_counts(out);
    (v, a, video.nb_read_frames.unwrap_or(0))
}

#[test]
fn vlc_plays_a_recording_while_it_is_written_and_once_it_is_done() {
    let scratch = VlcScratch::new();
    let dir = scratch.path.join("record");
    std::fs::create_dir_all(&dir).unwrap();
    let callbacks = Callbacks::start(|_| "{}".into());
    let server = Server::start(&[
        &format!("-recorddir={}", dir.display()),
        "-recordall",
        "-recordpart=500ms",
        "-publishergrace=0",
        &callbacks.flag(),
    ]);
    let clip = clip_h264_aac(320, 240, 10);
    let (src_video, src_audio, _) = packet_counts(&clip);
    let mut publisher = publish(&clip, &server.rtmp_url("live/vlc"));

    // (a) The file being written, some 4 s into it.
    let writing = wait_until(Duration::from_secs(15), || {
        listing(&server, "live/vlc")
            .into_iter()
            .find(|f| f["recording"] == true && f["duration"].as_f64() > Some(4.0))
    })
    .unwrap_or_else(|| panic!("no file being written\n{}", server.describe()));
    let path = dir.join("live/vlc").join(writing["name"].as_str().unwrap());
    let (before, _, key_first) = packet_counts(&path);
    assert!(key_first && before >= 75, "{before} frames in the file");
    let out = scratch
        .remux(&path, "writing")
        .unwrap_or_else(|e| panic!("{e}"));
    let (after, _, _) = packet_counts(&path);
    let (video, audio, decoded) = vlc_output(&out);
    println!(
        "VLC read {video} video frames ({decoded} decoded) and {audio} audio frames of a file \
         holding {before}..{after} video frames as it read"
    );
    assert!(
        video + 2 >= before && video <= after + 2,
        "VLC read {video} video frames of a file holding {before} before and {after} after"
    );
    assert!(decoded + 2 >= video as u64, "{decoded} of {video} decoded");
    assert!(audio * 10 >= video * 15, "{audio} audio for {video} video");
    assert!(publisher.is_running(), "the clip ended before VLC was done");

    // (b) The finished file: every frame published, VLC reads them all.
    publisher.expect_exit(Duration::from_secs(20), "publishing the clip");
    let done = callbacks.wait("recordDone", Duration::from_secs(15), |b| {
        b["reason"] == "channelClosed"
    });
    let path = dir.join(done["path"].as_str().unwrap());
    let (file_video, file_audio, key_first) = packet_counts(&path);
    assert!(key_first);
    assert!(
        file_video.abs_diff(src_video) <= 1,
        "{file_video} of {src_video} published"
    );
    let out = scratch
        .remux(&path, "done")
        .unwrap_or_else(|e| panic!("{e}"));
    let (video, audio, decoded) = vlc_output(&out);
    println!(
        "VLC read {video} video frames ({decoded} decoded) and {audio} audio frames of the \
         finished file's {file_video} and {file_audio} (published {src_video} and {src_audio})"
    );
    assert!(
        video.abs_diff(file_video) <= 2,
        "VLC read {video} of {file_video} video frames"
    );
    // VLC leaves out the last few AAC frames of any MP4 (5 of ffmpeg's own fMP4 of this clip).
    assert!(
        audio.abs_diff(file_audio) <= 8,
        "VLC read {audio} of {file_audio} audio frames"
    );
    assert!(decoded + 2 >= video as u64, "{decoded} of {video} decoded");
}

#[test]
fn vlc_plays_what_a_kill_9_left() {
    let scratch = VlcScratch::new();
    let dir = scratch.path.join("record");
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Server::start(&[
        &format!("-recorddir={}", dir.display()),
        "-recordall",
        "-recordpart=500ms",
    ]);
    let clip = clip_h264_aac(320, 240, 10);
    let _publisher = publish(&clip, &server.rtmp_url("live/crash"));
    let id = api::publisher_id(&server, "crash");
    api::wait_media_time(&server, &id, 4.0);
    let received = api::f64_of(&api::stream_stat(&server, &id).unwrap()["time"]);
    server.proc.kill();
    let files: Vec<_> = std::fs::read_dir(dir.join("live/crash"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let (file_video, file_audio, key_first) = packet_counts(&files[0]);
    assert!(key_first);
    // At most -recordpart (and a frame held back) of what joy4 had received is missing.
    assert!(
        file_video as f64 / FPS >= received - 0.75,
        "{file_video} frames recorded of {received} s received"
    );
    let out = scratch
        .remux(&files[0], "killed")
        .unwrap_or_else(|e| panic!("{e}"));
    let (video, audio, decoded) = vlc_output(&out);
    println!(
        "VLC read {video} video frames ({decoded} decoded) and {audio} audio frames of the \
         {file_video} and {file_audio} a kill -9 left ({received} s received)"
    );
    assert!(
        video.abs_diff(file_video) <= 2,
        "VLC read {video} of {file_video} video frames"
    );
    assert!(
        audio.abs_diff(file_audio) <= 8,
        "VLC read {audio} of {file_audio} audio frames"
    );
    assert!(decoded + 2 >= video as u64, "{decoded} of {video} decoded");
}
