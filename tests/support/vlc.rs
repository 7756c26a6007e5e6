//! VLC as a second player of recordings: headless `cvlc` demuxes a file and remuxes what it read
//! to Matroska, which ffprobe then counts and decodes. (Matroska through VLC's avformat muxer:
//! its MPEG-TS muxer drops the last ~200 ms of any input when the input ends, even of an fMP4
//! file made by ffmpeg, and its PS muxer mangles AAC.)
//!
//! VLC refuses to run as root (CI runs as root), so there it runs as `nobody` (uid/gid 65534,
//! through `setpriv`): the files it reads must be readable and their folders traversable by
//! everyone, and what it writes goes to a folder `nobody` owns. [`VlcScratch`] is such a place:
//! a fresh folder under the system temp dir (a checkout under /root would not be traversable),
//! removed when dropped.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{next_id_pub, test_label, Proc};

/// The user VLC runs as when the test runs as root: `nobody`.
const NOBODY: u32 = 65534;

/// A scratch folder everyone may traverse, with `out/` writable by the user VLC runs as.
pub struct VlcScratch {
    pub path: PathBuf,
    out: PathBuf,
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl VlcScratch {
    pub fn new() -> VlcScratch {
        let path = std::env::temp_dir().join(format!(
            "joy4-vlc-{}-{}-{}",
            test_label(),
            std::process::id(),
            next_id_pub()
        ));
        let _ = fs::remove_dir_all(&path);
        let out = path.join("out");
        fs::create_dir_all(&out).expect("create the VLC scratch folder");
        for dir in [&path, &out] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
        if running_as_root() {
            std::os::unix::fs::chown(&out, Some(NOBODY), Some(NOBODY))
                .expect("give the VLC output folder to nobody");
        }
        VlcScratch { path, out }
    }

    /// Make `file` and the folders from this scratch folder down to it readable by everyone
    /// (joy4 creates them with the process umask).
    fn open_to_all(&self, file: &Path) {
        let mut dir = file.parent();
        while let Some(d) = dir {
            if !d.starts_with(&self.path) {
                break;
            }
            let _ = fs::set_permissions(d, fs::Permissions::from_mode(0o755));
            dir = d.parent();
        }
        let _ = fs::set_permissions(file, fs::Permissions::from_mode(0o644));
    }

    /// `cvlc` reads `input` (an MP4 file) with its demuxer and remuxes every elementary stream it
    /// found, unchanged, into `out/LABEL.mkv`; returns that file once VLC has exited. VLC runs
    /// headless (dummy interface and outputs, no D-Bus), as fast as it can read, bounded by 60 s.
    pub fn remux(&self, input: &Path, label: &str) -> Result<PathBuf, String> {
        self.open_to_all(input);
        let out = self.out.join(format!("{label}.mkv"));
        let mut cmd = if running_as_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "cvlc"]);
            c
        } else {
            Command::new("cvlc")
        };
        // VLC keeps its configuration and caches under HOME.
        cmd.env("HOME", &self.out);
        cmd.args([
            "--intf",
            "dummy",
            "--no-dbus",
            "--vout",
            "dummy",
            "--aout",
            "dummy",
        ])
        .args(["--no-video-title-show", "--sout-all"])
        .args(["--play-and-exit", "--sout"])
        .arg(format!(
            "#std{{access=file,mux=avformat{{mux=matroska}},dst={}}}",
            out.display()
        ))
        .arg(input);
        let mut vlc = Proc::spawn(&format!("vlc-{label}"), cmd);
        let status = vlc
            .wait_timeout(Duration::from_secs(60))
            .ok_or_else(|| format!("VLC still running after 60 s\n{}", vlc.describe()))?;
        let size = fs::metadata(&out).map_or(0, |m| m.len());
        if !status.success() || size == 0 {
            return Err(format!(
                "VLC exited with {status:?} and wrote {size} bytes to {}\n{}",
                out.display(),
                vlc.describe()
            ));
        }
        Ok(out)
    }
}

impl Drop for VlcScratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
