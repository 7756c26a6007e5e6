//! A disk that cannot keep up: the recordings go to a FUSE filesystem (`tests/support/slowfs.py`)
//! whose next write stalls when told. A short stall is absorbed by the recording's queue; one of
//! 6 s, more than the queue may hold (at most 1024 frames, 128 batches or 5 s of media), ends the
//! recording with reason `error`, detail "disk too slow", counted in /metrics; its file plays up
//! to its last whole fragment; an HTTP-FLV viewer of the channel never notices.
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::*;

/// A stall the queue absorbs.
const SHORT_STALL_SECS: f64 = 0.7;
/// A stall longer than the queue holds (5 s of media at most, `-maxlag`'s default).
const STALL_SECS: f64 = 6.0;

/// `/metrics`' value of `name` (no labels).
fn metric(server: &Server, name: &str) -> Option<f64> {
    let text = api::raw(server.api_addr, "GET", "/metrics", b"", "").body_text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The top-level boxes of an MP4 file, (type, size), which must end exactly at its end.
fn top_level_boxes(path: &Path) -> Vec<(String, u64)> {
    let data = std::fs::read(path).unwrap();
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        assert!(at + 8 <= data.len(), "a torn box header at {at}: {boxes:?}");
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned();
        assert!(
            size >= 8 && at + size <= data.len(),
            "box {kind} of {size} bytes at {at} runs past the end ({} bytes): {boxes:?}",
            data.len()
        );
        boxes.push((kind, size as u64));
        at += size;
    }
    boxes
}

#[test]
fn a_disk_that_stalls_ends_the_recording_as_too_slow_and_viewers_never_notice() {
    let base = record_dir();
    let disk = match SlowDisk::mount(&base) {
        Ok(disk) => disk,
        Err(e) => {
            println!("SKIPPED: cannot mount a FUSE filesystem here ({e}); run as root");
            return;
        }
    };
    let callbacks = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[
        &format!("-recorddir={}", disk.mountpoint.display()),
        "-recordall",
        "-recordpart=500ms",
        &callbacks.flag(),
    ]);
    let clip = clip_h264_aac(320, 240, 20);
    let _publisher = publish_loop(&mut server, &clip, "live/slow");
    let viewer = Watcher::start(server.http_addr, "live/slow", "the HTTP-FLV viewer");
    wait_until(Duration::from_secs(10), || {
        listing(&server, "live/slow")
            .into_iter()
            .find(|f| f["recording"] == true && f["duration"].as_f64() > Some(2.0))
    })
    .unwrap_or_else(|| panic!("nothing recorded\n{}", server.describe()));

    // A short stall: the recording goes on.
    disk.stall_next_write(SHORT_STALL_SECS);
    wait_until(Duration::from_secs(5), || disk.stalled().then_some(()))
        .unwrap_or_else(|| panic!("no write stalled\n{}", disk.log_text()));
    std::thread::sleep(secs(SHORT_STALL_SECS + 1.5));
    assert_eq!(
        callbacks.named("recordDone"),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(metric(&server, "joy4_record_too_slow_total"), Some(0.0));

    let started = Instant::now();
    disk.stall_next_write(STALL_SECS);
    let done = callbacks.wait("recordDone", Duration::from_secs(20), |b| {
        b["reason"] == "error"
    });
    let took = started.elapsed();
    println!(
        "recordDone {done} {:.1} s after the stall was asked for",
        took.as_secs_f64()
    );
    assert!(disk.stalled(), "no write stalled\n{}", disk.log_text());
    assert_eq!(
        done["detail"],
        "disk too slow",
        "{done}\n{}",
        server.describe()
    );
    assert!(
        took.as_secs_f64() >= STALL_SECS - 1.5,
        "{took:?}: ended before the queue was full"
    );
    assert_eq!(metric(&server, "joy4_record_too_slow_total"), Some(1.0));
    assert!(
        server.log_text().contains("the disk is too slow"),
        "{}",
        server.describe()
    );

    // The file: as long as recordDone says, whole fragments only, and it plays.
    let path = disk.mountpoint.join(done["path"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        done["bytes"].as_u64().unwrap(),
        "{done}"
    );
    let boxes = top_level_boxes(&path);
    let kinds: Vec<&str> = boxes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds[..2], ["ftyp", "moov"], "{boxes:?}");
    assert!(
        kinds[2..].chunks(2).all(|pair| pair == ["moof", "mdat"]),
        "{boxes:?}"
    );
    let probe = ffprobe(&path, Count::Nothing).unwrap_or_else(|e| panic!("{e}"));
    probe.video_and_audio().unwrap_or_else(|e| panic!("{e}"));
    let (video, audio, key_first) = packet_counts(&path);
    let listed = done["duration"].as_f64().unwrap();
    println!(
        "{} fragments, {video} video and {audio} audio frames, {listed} s",
        (kinds.len() - 2) / 2
    );
    assert!(key_first && video >= 50, "{video} video frames");
    assert!(
        (video as f64 / FPS - listed).abs() < 0.2,
        "{video} frames, {listed} s listed"
    );

    // The viewer got every frame, on time, throughout.
    std::thread::sleep(Duration::from_secs(1));
    let seen = viewer.finish();
    let during: Vec<_> = seen.iter().filter(|(at, _)| *at >= started).collect();
    assert!(
        during.len() as f64 >= took.as_secs_f64() * FPS * 0.8,
        "the viewer got {} frames in {took:?}",
        during.len()
    );
    let arrival_gap = during
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or_default();
    println!(
        "the viewer: {} video frames from the stall on, longest wait {arrival_gap:?}",
        during.len()
    );
    assert!(
        arrival_gap < Duration::from_millis(700),
        "a {arrival_gap:?} wait"
    );
    let ts_steps: Vec<u32> = during
        .windows(2)
        .map(|w| w[1].1.wrapping_sub(w[0].1))
        .collect();
    assert!(
        ts_steps.iter().all(|&step| step <= 80),
        "frames skipped: timestamp steps {ts_steps:?}"
    );

    // One stall is one episode: reported and counted once, and the recording goes on in a
    // new file that nothing ends.
    let resumed = wait_until(Duration::from_secs(10), || {
        listing(&server, "live/slow")
            .into_iter()
            .find(|f| f["recording"] == true && f["duration"].as_f64() > Some(2.0))
    });
    assert!(resumed.is_some(), "no new file\n{}", server.describe());
    let too_slow: Vec<_> = callbacks
        .named("recordDone")
        .into_iter()
        .filter(|b| b["detail"] == "disk too slow")
        .collect();
    assert_eq!(too_slow.len(), 1, "{too_slow:?}");
    assert_eq!(metric(&server, "joy4_record_too_slow_total"), Some(1.0));
}
