//! Recording checks: a scratch recording folder, the listing, ffprobe of recorded files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{get_json, test_label, wait_until, Server, TMP};

/// A fresh, empty folder for a test's recordings.
pub fn record_dir() -> PathBuf {
    let dir = Path::new(TMP).join("record").join(format!(
        "{}-{}",
        test_label(),
        super::dir::next_id_pub()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create record dir");
    dir
}

/// `GET /recordings?channel=C` → that channel's files.
pub fn listing(server: &Server, channel: &str) -> Vec<Value> {
    let v = get_json(server, &format!("/recordings?channel={channel}"));
    v[channel].as_array().cloned().unwrap_or_default()
}

/// Wait until the listing of `channel` has `n` files none of which is being written.
pub fn wait_files_done(server: &Server, channel: &str, n: usize, timeout: Duration) -> Vec<Value> {
    wait_until(timeout, || {
        let files = listing(server, channel);
        (files.len() >= n && files.iter().all(|f| f["recording"] == false)).then_some(files)
    })
    .unwrap_or_else(|| {
        panic!(
            "{channel}: {n} completed files not listed within {timeout:?}: {:?}\n{}",
            listing(server, channel),
            server.describe()
        )
    })
}

/// The flags of each packet of `stream` (`v:0`, `a:0`) in file order (`K_` for a keyframe).
pub fn packet_flags(path: &Path, stream: &str) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream])
        .args(["-show_entries", "packet=flags", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// (video packets, audio packets) in a media file, and whether its first video packet is a
/// keyframe.
pub fn packet_counts(path: &Path) -> (usize, usize, bool) {
    let video = packet_flags(path, "v:0");
    let audio = packet_flags(path, "a:0");
    let first_key = video.first().is_some_and(|f| f.starts_with('K'));
    (video.len(), audio.len(), first_key)
}
