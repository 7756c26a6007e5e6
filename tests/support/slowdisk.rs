//! A disk that stalls: `slowfs.py`, a passthrough FUSE filesystem whose next write() sleeps
//! when told, mounted for one test and unmounted when dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{wait_until, Proc};

/// `slowfs.py` mounted at `mountpoint`, its files kept in a folder beside it.
pub struct SlowDisk {
    pub mountpoint: PathBuf,
    control: PathBuf,
    fuse: Proc,
}

impl SlowDisk {
    /// Mount a slow disk at `base/mnt` (its files in `base/files`). Err says why it cannot be
    /// mounted here (no FUSE, not allowed); a missing fusepy panics (scripts/test.sh installs it).
    pub fn mount(base: &Path) -> Result<SlowDisk, String> {
        if !Path::new("/dev/fuse").exists() {
            return Err("no /dev/fuse".into());
        }
        let (files, mountpoint) = (base.join("files"), base.join("mnt"));
        fs::create_dir_all(&files).expect("create the slow disk's folder");
        fs::create_dir_all(&mountpoint).expect("create the mount point");
        let control = base.join("stall");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/slowfs.py");
        // Debian's python3-fusepy is there for the system's Python, whatever else is on PATH.
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg(&files).arg(&mountpoint).arg(&control);
        let mut fuse = Proc::spawn("slowfs", cmd);
        let mounted = wait_until(Duration::from_secs(10), || {
            let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
            let at = mountpoint.to_string_lossy();
            if mounts.lines().any(|l| l.split(' ').nth(1) == Some(&at)) {
                return Some(true);
            }
            (!fuse.is_running()).then_some(false)
        });
        let log = fuse.log_text();
        if log.contains("No module named") {
            panic!("slowfs.py needs fusepy: apt-get install python3-fusepy\n{log}");
        }
        match mounted {
            Some(true) => Ok(SlowDisk {
                mountpoint,
                control,
                fuse,
            }),
            _ => Err(format!("slowfs.py did not mount: {}", log.trim())),
        }
    }

    /// The next write() on the disk sleeps `seconds` first (one write: a stall).
    pub fn stall_next_write(&self, seconds: f64) {
        fs::write(&self.control, seconds.to_string()).expect("write the stall control file");
    }

    /// Whether a write has taken the stall asked for.
    pub fn stalled(&self) -> bool {
        !self.control.exists()
    }

    pub fn log_text(&self) -> String {
        self.fuse.log_text()
    }
}

impl Drop for SlowDisk {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.control);
        // Lazily: a process that still has a file open there does not keep it mounted.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mountpoint)
            .status();
        self.fuse.kill();
    }
}
