//! The child process guard: every process a test starts is killed and reaped when dropped.

use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::dir::{log_path, tail_of_file};

/// A child process whose stderr goes to a log file. Dropping it kills and reaps the process; if the
/// test is failing, the log's tail is printed (libtest shows it with the failure).
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
    status: Option<ExitStatus>,
    pub started: Instant,
}

impl Proc {
    /// Spawn `cmd` with stdin closed, stdout discarded and stderr logged.
    pub fn spawn(name: &str, cmd: Command) -> Proc {
        Self::spawn_inner(name, cmd, false).0
    }

    /// Like [`Proc::spawn`] but with stdout piped back to the caller.
    pub fn spawn_piped(name: &str, cmd: Command) -> (Proc, ChildStdout) {
        let (p, out) = Self::spawn_inner(name, cmd, true);
        (p, out.expect("piped stdout"))
    }

    fn spawn_inner(name: &str, mut cmd: Command, piped: bool) -> (Proc, Option<ChildStdout>) {
        let log = log_path(name);
        let file = fs::File::create(&log).expect("create process log");
        cmd.stdin(Stdio::null()).stderr(file);
        cmd.stdout(if piped { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {name} ({cmd:?}): {e}"));
        let out = child.stdout.take();
        (
            Proc {
                name: name.to_string(),
                child,
                log,
                status: None,
                started: Instant::now(),
            },
            out,
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has ended.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.status = Some(s);
            }
        }
        self.status
    }

    pub fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// Wait up to `timeout` for the process to end.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= end {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the process to end or panic (with its log) after `timeout`.
    pub fn expect_exit(&mut self, timeout: Duration, what: &str) -> ExitStatus {
        match self.wait_timeout(timeout) {
            Some(s) => s,
            None => panic!(
                "{what}: still running after {timeout:?}\n{}",
                self.describe()
            ),
        }
    }

    pub fn kill(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            if let Ok(s) = self.child.wait() {
                self.status = Some(s);
            }
        }
    }

    pub fn log_text(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        tail_of_file(&self.log, lines)
    }

    /// Name, status, log path and the last lines of the log: for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "--- {} (pid {}, status {:?}) log {} ---\n{}\n--- end of {} ---",
            self.name,
            self.child.id(),
            self.status,
            self.log.display(),
            self.log_tail(40),
            self.name
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            eprintln!("{}", self.describe());
        } else if std::env::var_os("JOY4_TEST_KEEP_LOGS").is_none() {
            let _ = fs::remove_file(&self.log);
        }
    }
}

/// Read `r` to its end on a thread; the text (lossy UTF-8) is the thread's result.
pub(super) fn read_in_background(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}
