//! Disks that fill up: a full disk ends the recording with reason `error` (its file playable up
//! to its last whole part, viewers unaffected) and the next segment tries again; retention
//! deletes completed files over `-recordmaxbytes` and older than `-recorddeleteafter`.
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::*;

fn dir_flag(dir: &Path) -> String {
    format!("-recorddir={}", dir.display())
}

/// A small tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_ends_the_file_with_error_viewers_never_notice_and_the_next_segment_retries() {
    let dir = record_dir();
    let _tmpfs = match Tmpfs::mount(&dir, "600k") {
        Ok(t) => t,
        Err(e) => {
            println!(
                "SKIPPED: cannot mount a tmpfs at {} ({e}); run as root",
                dir.display()
            );
            return;
        }
    };
    let callbacks = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[
        &dir_flag(&dir),
        "-recordall",
        "-recordpart=250ms",
        "-recordsegment=2s",
        &callbacks.flag(),
    ]);
    let clip = clip_h264_aac(320, 240, 20);
    let _publisher = publish_loop(&mut server, &clip, "live/full");
    let viewed = dir.with_extension("viewer.flv");
    let mut viewer = record(&server.flv_url("live/full"), &viewed, 10.0);
    let failed = callbacks.wait("recordDone", Duration::from_secs(20), |b| {
        b["reason"] == "error"
    });
    let detail = failed["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("No space left"), "{failed}");
    // The failed file plays up to its last whole part.
    if !failed["name"].as_str().unwrap_or_default().is_empty() {
        let path = dir.join(failed["path"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            failed["bytes"].as_u64().unwrap()
        );
        let (video, _, key_first) = packet_counts(&path);
        assert!(key_first && video > 0);
        ffprobe(&path, Count::Nothing)
            .unwrap()
            .video_and_audio()
            .unwrap();
    }
    assert!(server.log_text().contains("No space left"));
    // The HTTP-FLV viewer got its 10 s of media all the same.
    viewer.expect_exit(Duration::from_secs(20), "the viewer");
    let (video, _, _) = packet_counts(&viewed);
    assert!(video >= 240, "the viewer got {video} frames in 10 s");
    // Free the disk: a later segment records again.
    for file in listing(&server, "live/full") {
        let name = file["name"].as_str().unwrap();
        if file["recording"] == false {
            let _ = api::post(
                server.api_addr,
                "/recordings/delete",
                json!({"channel": "live/full", "name": name}),
            );
        }
    }
    let resumed = wait_until(Duration::from_secs(15), || {
        listing(&server, "live/full")
            .into_iter()
            .find(|f| f["recording"] == true && f["bytes"].as_u64() > Some(10_000))
    });
    assert!(
        resumed.is_some(),
        "no new file after the disk was freed\n{}",
        server.describe()
    );
    let metrics = api::raw(server.api_addr, "GET", "/metrics", b"", "").body_text();
    let errors = metrics
        .lines()
        .find_map(|l| l.strip_prefix("joy4_record_write_errors_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(errors >= Some(1), "{metrics}");
}

#[test]
fn retention_keeps_the_total_under_the_cap_and_deletes_old_files() {
    let dir = record_dir();
    let callbacks = Callbacks::start(|_| "{}".into());
    let server = Server::start(&[
        &dir_flag(&dir),
        "-recordall",
        "-recordsegment=2s",
        "-recordmaxbytes=500000",
        "-publishergrace=0",
        &callbacks.flag(),
    ]);
    let clip = clip_h264_aac(320, 240, 11);
    let mut p = publish(&clip, &server.rtmp_url("live/cap"));
    p.expect_exit(Duration::from_secs(30), "publishing");
    callbacks.wait("recordDone", Duration::from_secs(10), |b| {
        b["reason"] == "channelClosed"
    });
    let made = callbacks.named("recordDone").len();
    assert!(made >= 5, "{made} files made");
    let kept = wait_until(Duration::from_secs(5), || {
        let files = listing(&server, "live/cap");
        let total: u64 = files.iter().map(|f| f["bytes"].as_u64().unwrap()).sum();
        (total <= 500_000).then_some(files)
    })
    .unwrap_or_else(|| panic!("over the cap: {:?}", listing(&server, "live/cap")));
    assert!(
        kept.len() < made && !kept.is_empty(),
        "kept {} of {made}",
        kept.len()
    );
    // The newest files are the ones kept.
    let newest: Vec<_> = callbacks
        .named("recordDone")
        .iter()
        .rev()
        .take(kept.len())
        .map(|e| e["name"].clone())
        .collect();
    for f in &kept {
        assert!(newest.contains(&f["name"]), "{f} is not among the newest");
    }
    drop(server);

    // Completed files older than -recorddeleteafter go (checked as each file completes).
    let dir = record_dir();
    let callbacks = Callbacks::start(|_| "{}".into());
    let server = Server::start(&[
        &dir_flag(&dir),
        "-recordall",
        "-recordsegment=2s",
        "-recorddeleteafter=3s",
        "-publishergrace=0",
        &callbacks.flag(),
    ]);
    let mut p = publish(&clip, &server.rtmp_url("live/old"));
    p.expect_exit(Duration::from_secs(30), "publishing");
    callbacks.wait("recordDone", Duration::from_secs(10), |b| {
        b["reason"] == "channelClosed"
    });
    let done = callbacks.named("recordDone");
    let first = done[0]["name"].as_str().unwrap().to_string();
    let last = done.last().unwrap()["name"].as_str().unwrap().to_string();
    let gone = wait_until(Duration::from_secs(5), || {
        let names: Vec<String> = listing(&server, "live/old")
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect();
        (!names.contains(&first) && names.contains(&last)).then_some(())
    });
    assert!(
        gone.is_some(),
        "{:?}\n{}",
        listing(&server, "live/old"),
        server.describe()
    );
}
