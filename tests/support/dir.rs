//! Test names, scratch directories and log paths; polling with a deadline.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::TMP;

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub(super) fn next_id() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A number unique within this test process.
pub fn next_id_pub() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// The current test's name (libtest names each test thread after its test), usable in file names.
pub fn test_label() -> String {
    let t = thread::current();
    let name = match t.name() {
        Some("main") | None => "test",
        Some(n) => n,
    };
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A path for a log file under `target/tmp/logs`, unique per process and call.
pub fn log_path(kind: &str) -> PathBuf {
    let dir = Path::new(TMP).join("logs");
    fs::create_dir_all(&dir).expect("create log dir");
    dir.join(format!(
        "{}-{}-{}-{}.log",
        test_label(),
        std::process::id(),
        next_id(),
        kind
    ))
}

/// A scratch directory for one test; removed on drop unless the test failed (then kept and printed).
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new() -> TestDir {
        let path = Path::new(TMP).join("work").join(format!(
            "{}-{}-{}",
            test_label(),
            std::process::id(),
            next_id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create test dir");
        TestDir { path }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("test files kept in {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Poll `f` every 50 ms until it returns `Some` or `timeout` passes.
pub fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

pub(super) fn tail_of_file(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}
