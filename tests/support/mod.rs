//! Shared helpers for the end-to-end tests.
//!
//! * [`Server`] starts the real `joy4` binary on ephemeral loopback ports and parses its
//!   `listening KIND ADDR` lines; its stderr goes to a log file under `target/tmp/logs` whose tail is
//!   printed when a test fails (logs of passing tests are removed unless `JOY4_TEST_KEEP_LOGS` is set).
//! * [`Proc`] guards every child process (server, ffmpeg): killed and reaped on drop, log tail printed on
//!   failure, so a failing test never leaves ffmpeg running.
//! * Test media is made at test time with ffmpeg's lavfi sources and cached under the cargo target tmp dir.
//! * ffmpeg publisher/recorder helpers and ffprobe helpers returning parsed fields.
//! * Raw clients written independently of the crate under test (an oracle should not share code with
//!   what it checks): an HTTP/1.1 client, a streaming FLV tag parser, and a minimal RTMP client
//!   (handshake, chunk writer and reader, AMF0) that can also send deliberately broken input.
//!
//! Everything that waits has a deadline; nothing sleeps a fixed time where a condition can be polled.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The server binary built by cargo for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_joy4");
/// Cargo's scratch directory for integration tests (`target/tmp`).
pub const TMP: &str = env!("CARGO_TARGET_TMPDIR");
/// Frame rate of the generated test clips.
pub const FPS: f64 = 25.0;

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

// ---------------------------------------------------------------------------------------------------
// Names, directories, waiting
// ---------------------------------------------------------------------------------------------------

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next_id() -> u64 {
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

fn tail_of_file(path: &Path, lines: usize) -> String {
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

// ---------------------------------------------------------------------------------------------------
// Child process guard
// ---------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------------------

/// The `joy4` binary, running. Dropping it kills it.
pub struct Server {
    pub proc: Proc,
    /// Addresses to connect to (an unspecified listen address is mapped to loopback).
    pub rtmp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub api_addr: SocketAddr,
    /// The `listening` lines exactly as printed: (kind, address).
    pub listening: Vec<(String, SocketAddr)>,
}

/// The arguments every test server gets: all listeners on ephemeral loopback ports, debug logging.
pub fn default_server_args() -> Vec<String> {
    [
        "-rtmp=127.0.0.1:0",
        "-http=127.0.0.1:0",
        "-httpapi=127.0.0.1:0",
        "-loglevel=debug",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

impl Server {
    /// Start with the default arguments plus `extra`; panics (with the log) if it does not come up.
    pub fn start(extra: &[&str]) -> Server {
        let mut args = default_server_args();
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start_args(&args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Start with exactly `args`; waits up to 10 s for the three `listening` lines.
    pub fn start_args(args: &[String]) -> Result<Server, String> {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        let (mut proc, stdout) = Proc::spawn_piped("joy4", cmd);
        let (tx, rx) = mpsc::channel::<String>();
        thread::Builder::new()
            .name("joy4-stdout".into())
            .spawn(move || {
                // Keep draining after the listening lines so the pipe never fills up.
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let _ = tx.send(line);
                }
            })
            .expect("spawn stdout reader");

        let deadline = Instant::now() + Duration::from_secs(10);
        let mut listening: Vec<(String, SocketAddr)> = Vec::new();
        let mut other_lines = Vec::new();
        let have = |l: &Vec<(String, SocketAddr)>, k: &str| l.iter().any(|(kind, _)| kind == k);
        while !(have(&listening, "rtmp") && have(&listening, "http") && have(&listening, "httpapi"))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let mut words = line.split_whitespace();
                    match (words.next(), words.next(), words.next()) {
                        (Some("listening"), Some(kind), Some(addr)) => {
                            let addr: SocketAddr = addr.parse().map_err(|e| {
                                format!(
                                    "bad address in stdout line {line:?}: {e}\n{}",
                                    proc.describe()
                                )
                            })?;
                            listening.push((kind.to_string(), addr));
                        }
                        _ => other_lines.push(line),
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "joy4 {args:?} did not print its three listening lines within 10 s \
                         (got {listening:?}, other stdout {other_lines:?})\n{}",
                        proc.describe()
                    ));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let st = proc.wait_timeout(Duration::from_secs(2));
                    return Err(format!(
                        "joy4 {args:?} closed stdout (exit {st:?}) before printing its listening lines \
                         (got {listening:?}, other stdout {other_lines:?})\n{}",
                        proc.describe()
                    ));
                }
            }
        }
        let find = |k: &str| connectable(listening.iter().find(|(kind, _)| kind == k).unwrap().1);
        Ok(Server {
            rtmp_addr: find("rtmp"),
            http_addr: find("http"),
            api_addr: find("httpapi"),
            listening,
            proc,
        })
    }

    /// `rtmp://127.0.0.1:P/PATH`
    pub fn rtmp_url(&self, path: &str) -> String {
        format!("rtmp://{}/{}", self.rtmp_addr, path.trim_start_matches('/'))
    }

    /// `http://127.0.0.1:H/PATH.flv`
    pub fn flv_url(&self, path: &str) -> String {
        format!(
            "http://{}/{}.flv",
            self.http_addr,
            path.trim_start_matches('/')
        )
    }

    /// `/PATH.flv`
    pub fn flv_path(path: &str) -> String {
        format!("/{}.flv", path.trim_start_matches('/'))
    }

    pub fn is_alive(&mut self) -> bool {
        self.proc.is_running()
    }

    /// Panic with the server log unless the process is still running.
    pub fn assert_alive(&mut self, when: &str) {
        if !self.is_alive() {
            panic!("server died ({when})\n{}", self.proc.describe());
        }
    }

    pub fn log_text(&self) -> String {
        self.proc.log_text()
    }

    pub fn describe(&self) -> String {
        self.proc.describe()
    }
}

/// Output of a short-lived run of the binary.
#[derive(Debug)]
pub struct RunOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Run `joy4 ARGS` to completion (for CLI tests); panics if it runs longer than `timeout`.
pub fn run_joy4(args: &[&str], timeout: Duration) -> RunOutput {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn joy4");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let t_err = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let end = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break s;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = t_out.join().unwrap_or_default();
            let stderr = t_err.join().unwrap_or_default();
            panic!("joy4 {args:?} still running after {timeout:?}; killed.\nstdout:\n{stdout}\nstderr:\n{stderr}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    RunOutput {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Test media (generated with lavfi, cached)
// ---------------------------------------------------------------------------------------------------

static MEDIA_LOCK: Mutex<()> = Mutex::new(());

/// Make (once) the file `target/tmp/media/NAME` by running ffmpeg with `args` plus an output path.
/// Generated under a temporary name, then renamed, so parallel test binaries never see a partial file.
fn cached_media(name: &str, args: &[String]) -> PathBuf {
    let dir = Path::new(TMP).join("media");
    fs::create_dir_all(&dir).expect("create media dir");
    let path = dir.join(name);
    let _guard = MEDIA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return path;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!("{name}.{}.{nanos}.tmp.flv", std::process::id()));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .arg(&tmp);
    let mut p = Proc::spawn(&format!("ffmpeg-gen-{name}"), cmd);
    let st = p.expect_exit(Duration::from_secs(180), "generating test media");
    let size = fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
    assert!(
        st.success() && size > 0,
        "ffmpeg failed to generate {name} ({st:?}, {size} bytes)\n{}",
        p.describe()
    );
    fs::rename(&tmp, &path).expect("rename generated media");
    path
}

/// testsrc2 WxH at 25 fps + a 440 Hz sine at 44.1 kHz stereo, libx264 (2 s GOP, no scene cuts,
/// 800 kb/s) + AAC, in an FLV file of `seconds` seconds.
pub fn clip_h264_aac(w: u32, h: u32, seconds: u32) -> PathBuf {
    let name = format!("h264_aac_{w}x{h}_{seconds}s.flv");
    let args: Vec<String> = [
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={w}x{h}:rate=25"),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        &seconds.to_string(),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "50",
        "-keyint_min",
        "50",
        "-sc_threshold",
        "0",
        "-b:v",
        "800k",
        "-c:a",
        "aac",
        "-ar",
        "44100",
        "-ac",
        "2",
        "-b:a",
        "128k",
        "-f",
        "flv",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cached_media(&name, &args)
}

// ---------------------------------------------------------------------------------------------------
// ffmpeg publishers and players
// ---------------------------------------------------------------------------------------------------

/// How to publish a clip.
#[derive(Debug, Clone, Copy)]
pub struct Publish {
    /// `-c copy` (H.264/AAC stay as they are); false re-encodes to FLV's defaults (flv1 + mp3).
    pub copy: bool,
    /// `-stream_loop -1`: publish forever.
    pub loop_forever: bool,
    /// `-t SECS` on the output: stop after this much media.
    pub limit_secs: Option<f64>,
}

impl Default for Publish {
    fn default() -> Self {
        Publish {
            copy: true,
            loop_forever: false,
            limit_secs: None,
        }
    }
}

/// `ffmpeg -re -i CLIP [-c copy] -f flv URL`
pub fn publish_with(clip: &Path, url: &str, opts: Publish) -> Proc {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"]);
    if opts.loop_forever {
        cmd.args(["-stream_loop", "-1"]);
    }
    cmd.arg("-i").arg(clip);
    if opts.copy {
        cmd.args(["-c", "copy"]);
    }
    if let Some(t) = opts.limit_secs {
        cmd.args(["-t", &t.to_string()]);
    }
    cmd.args(["-f", "flv", url]);
    Proc::spawn("ffmpeg-publish", cmd)
}

/// Publish `clip` to `url` with `-re -c copy`.
pub fn publish(clip: &Path, url: &str) -> Proc {
    publish_with(clip, url, Publish::default())
}

fn player_cmd(url: &str) -> Command {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-loglevel",
        "warning",
        "-nostdin",
        "-y",
        "-rw_timeout",
        "15000000",
        "-i",
        url,
    ]);
    cmd
}

/// Play `url` and record `secs` seconds of it without re-encoding: `-i URL -c copy -t SECS -f flv OUT`.
pub fn record(url: &str, out: &Path, secs: f64) -> Proc {
    let mut cmd = player_cmd(url);
    cmd.args(["-c", "copy", "-t", &secs.to_string(), "-f", "flv"])
        .arg(out);
    Proc::spawn("ffmpeg-record", cmd)
}

/// Play `url` and record it until the stream ends.
pub fn record_until_end(url: &str, out: &Path) -> Proc {
    let mut cmd = player_cmd(url);
    cmd.args(["-c", "copy", "-f", "flv"]).arg(out);
    Proc::spawn("ffmpeg-record", cmd)
}

/// Play and decode `url` for `secs` seconds, discarding the output.
pub fn play_null(url: &str, secs: f64) -> Proc {
    let mut cmd = player_cmd(url);
    cmd.args(["-t", &secs.to_string(), "-f", "null", "-"]);
    Proc::spawn("ffmpeg-play", cmd)
}

// ---------------------------------------------------------------------------------------------------
// ffprobe
// ---------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Nothing,
    /// `-count_packets` (no decoding).
    Packets,
    /// `-count_frames` (decodes everything).
    Frames,
}

#[derive(Debug, Clone, Default)]
pub struct StreamInfo {
    pub codec_type: String,
    pub codec_name: String,
    pub width: u64,
    pub height: u64,
    pub sample_rate: u64,
    pub channels: u64,
    pub nb_read_frames: Option<u64>,
    pub nb_read_packets: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub streams: Vec<StreamInfo>,
    /// The container duration ffprobe reports, in seconds.
    pub duration: Option<f64>,
}

impl Probe {
    pub fn video(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.codec_type == "video")
    }
    pub fn audio(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.codec_type == "audio")
    }
}

fn json_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn json_f64(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn run_ffprobe(args: &[&str], path: &Path) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-hide_banner", "-v", "error"])
        .args(args)
        .args(["-of", "json"])
        .arg(path);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run ffprobe: {e}"))?;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_err = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let mut text = Vec::new();
    let _ = out.read_to_end(&mut text);
    let status = child.wait().map_err(|e| e.to_string())?;
    let stderr = t_err.join().unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "ffprobe {args:?} {} failed ({status}): {stderr}",
            path.display()
        ));
    }
    serde_json::from_slice(&text)
        .map_err(|e| format!("ffprobe output is not JSON ({e}); stderr: {stderr}"))
}

/// `ffprobe -show_streams -show_format -of json [-count_frames|-count_packets] FILE`, parsed.
pub fn ffprobe(path: &Path, count: Count) -> Result<Probe, String> {
    let mut args = vec!["-show_streams", "-show_format"];
    match count {
        Count::Nothing => {}
        Count::Packets => args.push("-count_packets"),
        Count::Frames => args.push("-count_frames"),
    }
    let v = run_ffprobe(&args, path)?;
    let mut probe = Probe::default();
    for s in v["streams"].as_array().cloned().unwrap_or_default() {
        probe.streams.push(StreamInfo {
            codec_type: s["codec_type"].as_str().unwrap_or("").to_string(),
            codec_name: s["codec_name"].as_str().unwrap_or("").to_string(),
            width: json_u64(&s["width"]).unwrap_or(0),
            height: json_u64(&s["height"]).unwrap_or(0),
            sample_rate: json_u64(&s["sample_rate"]).unwrap_or(0),
            channels: json_u64(&s["channels"]).unwrap_or(0),
            nb_read_frames: json_u64(&s["nb_read_frames"]),
            nb_read_packets: json_u64(&s["nb_read_packets"]),
        });
    }
    probe.duration = json_f64(&v["format"]["duration"]);
    Ok(probe)
}

/// Presentation times (seconds) of the packets of one stream (`v:0`, `a:0`), in file order.
pub fn packet_times(path: &Path, stream: &str) -> Result<Vec<f64>, String> {
    let v = run_ffprobe(
        &[
            "-select_streams",
            stream,
            "-show_entries",
            "packet=pts_time",
        ],
        path,
    )?;
    Ok(v["packets"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| json_f64(&p["pts_time"])).collect())
        .unwrap_or_default())
}

/// The largest step between consecutive sorted times (0 for fewer than two).
pub fn max_gap(times: &[f64]) -> f64 {
    let mut t = times.to_vec();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

// ---------------------------------------------------------------------------------------------------
// Raw sockets
// ---------------------------------------------------------------------------------------------------

/// Connect with a 5 s timeout; reads and writes time out after 10 s unless changed.
pub fn tcp_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// How a connection was seen to close.
#[derive(Debug)]
pub struct Closed {
    pub at: Instant,
    /// "eof" or the error (reset, ...).
    pub how: String,
    /// The first 64 KiB received before the close (e.g. an HTTP error response).
    pub received: Vec<u8>,
}

/// Read (and keep the first 64 KiB of) whatever arrives until the peer closes the connection (EOF or
/// an error such as a reset). Err if it is still open after `timeout`.
pub fn wait_closed(sock: &TcpStream, timeout: Duration) -> Result<Closed, String> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut buf = vec![0u8; 65536];
    let mut received = Vec::new();
    let mut total = 0usize;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "connection still open after {timeout:?} ({total} bytes received meanwhile: {:?})",
                String::from_utf8_lossy(&received[..received.len().min(200)])
            ));
        }
        let _ = sock.set_read_timeout(Some(deadline - now));
        match (&*sock).read(&mut buf) {
            Ok(0) => {
                return Ok(Closed {
                    at: Instant::now(),
                    how: "eof".into(),
                    received,
                })
            }
            Ok(n) => {
                total += n;
                let keep = n.min(65536usize.saturating_sub(received.len()));
                received.extend_from_slice(&buf[..keep]);
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Ok(Closed {
                    at: Instant::now(),
                    how: e.to_string(),
                    received,
                })
            }
        }
    }
}

/// Write the pieces `gen` yields on a clone of `sock` from a background thread, until `gen` is
/// exhausted, a write fails (the peer closed) or the returned flag is set.
pub fn write_in_background(
    sock: &TcpStream,
    mut gen: impl FnMut() -> Option<Vec<u8>> + Send + 'static,
) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let w = sock.try_clone().expect("clone socket");
    let _ = w.set_write_timeout(Some(Duration::from_secs(20)));
    let flag = stop.clone();
    thread::Builder::new()
        .name("bad-input-writer".into())
        .spawn(move || {
            let mut w = w;
            while !flag.load(Ordering::Relaxed) {
                let Some(piece) = gen() else { break };
                if w.write_all(&piece).is_err() {
                    break;
                }
            }
        })
        .expect("spawn writer");
    stop
}

/// A small xorshift generator (no rand crate): random bytes for bad-input tests.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng((nanos
            ^ ((std::process::id() as u64) << 32)
            ^ next_id().wrapping_mul(0x9E37_79B9_7F4A_7C15))
            | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Errors of the streaming readers: a timeout is distinguishable from a failure.
#[derive(Debug)]
pub enum StreamError {
    Timeout,
    /// The connection ended (EOF where more was needed, or a reset).
    Closed(String),
    Protocol(String),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Timeout => write!(f, "timed out"),
            StreamError::Closed(s) => write!(f, "connection closed: {s}"),
            StreamError::Protocol(s) => write!(f, "protocol error: {s}"),
        }
    }
}

impl From<StreamError> for String {
    fn from(e: StreamError) -> String {
        e.to_string()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct HttpHead {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl HttpHead {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub head: HttpHead,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn parse_head(raw: &[u8]) -> Result<HttpHead, String> {
    let text =
        std::str::from_utf8(raw).map_err(|_| format!("response head is not UTF-8: {raw:?}"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("").to_string();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP status line: {status_line:?}"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(HttpHead {
        version,
        status,
        reason,
        headers,
    })
}

/// Read a response head; returns it and the body bytes that came with it.
fn read_head(sock: &mut TcpStream, timeout: Duration) -> Result<(HttpHead, Vec<u8>), StreamError> {
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            let head = parse_head(&buf[..i]).map_err(StreamError::Protocol)?;
            return Ok((head, buf[i + 4..].to_vec()));
        }
        if buf.len() > 64 * 1024 {
            return Err(StreamError::Protocol(
                "response head larger than 64 KiB".into(),
            ));
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(StreamError::Timeout);
        }
        let _ = sock.set_read_timeout(Some(deadline - now));
        match sock.read(&mut tmp) {
            Ok(0) => {
                return Err(StreamError::Closed(format!(
                    "EOF before the end of the response head (got {:?})",
                    String::from_utf8_lossy(&buf)
                )))
            }
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if is_timeout(&e) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Closed(e.to_string())),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
enum ChunkState {
    #[default]
    Size,
    Data(usize),
    DataEnd,
    Done,
}

/// Incremental decoder for `Transfer-Encoding: chunked`.
#[derive(Debug, Default)]
struct Dechunk {
    state: ChunkState,
    raw: Vec<u8>,
}

impl Dechunk {
    fn done(&self) -> bool {
        matches!(self.state, ChunkState::Done)
    }

    fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.raw.extend_from_slice(data);
        let mut p = 0;
        loop {
            match self.state {
                ChunkState::Size => {
                    let Some(i) = find(&self.raw[p..], b"\r\n") else {
                        if self.raw.len() - p > 1024 {
                            return Err("chunk size line too long".into());
                        }
                        break;
                    };
                    let line = String::from_utf8_lossy(&self.raw[p..p + i]).into_owned();
                    let hex = line.split(';').next().unwrap_or("").trim();
                    let n = usize::from_str_radix(hex, 16)
                        .map_err(|_| format!("bad chunk size line {line:?}"))?;
                    p += i + 2;
                    self.state = if n == 0 {
                        ChunkState::Done
                    } else {
                        ChunkState::Data(n)
                    };
                }
                ChunkState::Data(n) => {
                    let avail = self.raw.len() - p;
                    if avail == 0 {
                        break;
                    }
                    let k = n.min(avail);
                    out.extend_from_slice(&self.raw[p..p + k]);
                    p += k;
                    self.state = if k == n {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(n - k)
                    };
                }
                ChunkState::DataEnd => {
                    if self.raw.len() - p < 2 {
                        break;
                    }
                    if &self.raw[p..p + 2] != b"\r\n" {
                        return Err("chunk data not followed by CRLF".into());
                    }
                    p += 2;
                    self.state = ChunkState::Size;
                }
                ChunkState::Done => break,
            }
        }
        self.raw.drain(..p);
        Ok(())
    }
}

/// Send `request` as is and read one response (body by Content-Length, chunked, or until EOF; at
/// most 1 MiB). For non-streaming answers (404, 405, 400, OPTIONS).
pub fn http_exchange(
    addr: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> Result<HttpResponse, String> {
    let mut sock = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    sock.write_all(request)
        .map_err(|e| format!("write request: {e}"))?;
    let (head, mut rest) =
        read_head(&mut sock, timeout).map_err(|e| format!("reading response head: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut body = Vec::new();
    let mut dechunk = if head.is_chunked() {
        Some(Dechunk::default())
    } else {
        None
    };
    let content_length: Option<usize> = head
        .header("content-length")
        .and_then(|v| v.trim().parse().ok());
    let mut tmp = [0u8; 8192];
    loop {
        match &mut dechunk {
            Some(d) => {
                d.push(&rest, &mut body)?;
                if d.done() {
                    break;
                }
            }
            None => body.extend_from_slice(&rest),
        }
        rest.clear();
        if let Some(n) = content_length {
            if body.len() >= n {
                body.truncate(n);
                break;
            }
        }
        if body.len() > 1 << 20 {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            if content_length.is_none() && dechunk.is_none() {
                break; // close-delimited body that did not close: return what came
            }
            return Err(format!("timed out reading the body of {head:?}"));
        }
        let _ = sock.set_read_timeout(Some(deadline - now));
        match sock.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => rest.extend_from_slice(&tmp[..n]),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    Ok(HttpResponse { head, body })
}

/// `GET PATH` with `Connection: close`: for answers that end (not for a live stream).
pub fn http_get(addr: SocketAddr, path: &str) -> Result<HttpResponse, String> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: joy4-tests\r\nConnection: close\r\n\r\n");
    http_exchange(addr, req.as_bytes(), Duration::from_secs(5))
}

/// `GET PATH`, read only the status line and headers, then drop the connection.
pub fn http_status(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let mut sock = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: joy4-tests\r\nConnection: close\r\n\r\n");
    sock.write_all(req.as_bytes())
        .map_err(|e| format!("write request: {e}"))?;
    let (head, _) = read_head(&mut sock, Duration::from_secs(5)).map_err(String::from)?;
    Ok(head.status)
}

/// Wait until `GET /PATH.flv` answers 200 (the publisher is on), checking that the publisher is
/// still running meanwhile. Panics with both logs after 10 s.
pub fn wait_for_channel(server: &mut Server, path: &str, publisher: &mut Proc) {
    let flv = Server::flv_path(path);
    let mut last = String::new();
    let ok = wait_until(Duration::from_secs(10), || {
        if !publisher.is_running() {
            return Some(false);
        }
        match http_status(server.http_addr, &flv) {
            Ok(200) => Some(true),
            Ok(s) => {
                last = format!("status {s}");
                None
            }
            Err(e) => {
                last = e;
                None
            }
        }
    });
    match ok {
        Some(true) => {}
        Some(false) => panic!(
            "publisher to {path} exited before the channel appeared (last GET {flv}: {last})\n{}\n{}",
            publisher.describe(),
            server.describe()
        ),
        None => panic!(
            "channel {path} did not appear within 10 s (last GET {flv}: {last})\n{}\n{}",
            publisher.describe(),
            server.describe()
        ),
    }
}

// ---------------------------------------------------------------------------------------------------
// FLV
// ---------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvHeader {
    pub version: u8,
    /// Byte 4: 4 = audio, 1 = video.
    pub flags: u8,
    pub header_size: u32,
}

impl FlvHeader {
    pub fn has_audio(&self) -> bool {
        self.flags & 4 != 0
    }
    pub fn has_video(&self) -> bool {
        self.flags & 1 != 0
    }
}

#[derive(Debug, Clone)]
pub struct FlvTag {
    /// 8 audio, 9 video, 18 script data.
    pub tag_type: u8,
    /// Milliseconds (24 bits + the extended byte).
    pub timestamp: u32,
    pub body: Vec<u8>,
}

impl FlvTag {
    pub fn is_audio(&self) -> bool {
        self.tag_type == 8
    }
    pub fn is_video(&self) -> bool {
        self.tag_type == 9
    }
    pub fn is_script(&self) -> bool {
        self.tag_type == 18
    }
    pub fn is_video_keyframe(&self) -> bool {
        self.is_video() && self.body.first().is_some_and(|b| b >> 4 == 1)
    }
    pub fn is_avc_sequence_header(&self) -> bool {
        self.is_video() && self.body.len() >= 2 && self.body[0] & 0x0f == 7 && self.body[1] == 0
    }
    pub fn is_aac_sequence_header(&self) -> bool {
        self.is_audio() && self.body.len() >= 2 && self.body[0] >> 4 == 10 && self.body[1] == 0
    }
    /// A coded frame (not a sequence header, not a video info/command frame).
    pub fn is_media(&self) -> bool {
        (self.is_audio() && !self.is_aac_sequence_header())
            || (self.is_video()
                && !self.is_avc_sequence_header()
                && self.body.first().is_some_and(|b| b >> 4 != 5))
    }
    /// The name of a script tag (`onMetaData`), if the body starts with an AMF0 string.
    pub fn script_name(&self) -> Option<String> {
        if !self.is_script() {
            return None;
        }
        let mut input = &self.body[..];
        match amf::decode(&mut input) {
            Ok(amf::V::Str(s)) => Some(s),
            _ => None,
        }
    }
    /// The AVC sequence header's SPS width/height is not parsed here; ffprobe checks dimensions.
    pub fn describe(&self) -> String {
        let kind = if self.is_avc_sequence_header() {
            "avc-seq-header".to_string()
        } else if self.is_aac_sequence_header() {
            "aac-seq-header".to_string()
        } else if self.is_video_keyframe() {
            "video-key".to_string()
        } else if self.is_video() {
            "video".to_string()
        } else if self.is_audio() {
            "audio".to_string()
        } else if let Some(n) = self.script_name() {
            format!("script {n}")
        } else {
            format!("type {}", self.tag_type)
        };
        format!("{kind}@{}ms({}B)", self.timestamp, self.body.len())
    }
}

/// Incremental FLV parser: feed bytes, pull the header and tags.
#[derive(Debug, Default)]
pub struct FlvParser {
    buf: Vec<u8>,
    pos: usize,
    header: Option<FlvHeader>,
}

impl FlvParser {
    pub fn new() -> FlvParser {
        FlvParser::default()
    }

    pub fn feed(&mut self, data: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 1 << 20 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes fed but not yet parsed.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The file header once its bytes (and PreviousTagSize0) have arrived.
    pub fn header(&mut self) -> Result<Option<FlvHeader>, String> {
        if self.header.is_none() {
            let b = &self.buf[self.pos..];
            if b.len() < 9 {
                return Ok(None);
            }
            if &b[..3] != b"FLV" {
                return Err(format!("FLV signature missing: {:02x?}", &b[..9]));
            }
            let header_size = u32::from_be_bytes([b[5], b[6], b[7], b[8]]);
            if header_size < 9 {
                return Err(format!("FLV header size {header_size}"));
            }
            let need = header_size as usize + 4;
            if b.len() < need {
                return Ok(None);
            }
            let prev0 = u32::from_be_bytes([b[need - 4], b[need - 3], b[need - 2], b[need - 1]]);
            if prev0 != 0 {
                return Err(format!("PreviousTagSize0 is {prev0}, not 0"));
            }
            self.header = Some(FlvHeader {
                version: b[3],
                flags: b[4],
                header_size,
            });
            self.pos += need;
        }
        Ok(self.header.clone())
    }

    /// The next complete tag, if its bytes have all arrived.
    pub fn next_tag(&mut self) -> Result<Option<FlvTag>, String> {
        if self.header()?.is_none() {
            return Ok(None);
        }
        let b = &self.buf[self.pos..];
        if b.len() < 11 {
            return Ok(None);
        }
        let tag_type = b[0] & 0x1f;
        let size = u32::from_be_bytes([0, b[1], b[2], b[3]]) as usize;
        let timestamp = u32::from_be_bytes([b[7], b[4], b[5], b[6]]);
        if b.len() < 11 + size + 4 {
            return Ok(None);
        }
        let prev =
            u32::from_be_bytes([b[11 + size], b[12 + size], b[13 + size], b[14 + size]]) as usize;
        if prev != 11 + size {
            return Err(format!(
                "PreviousTagSize {prev} after a tag of type {tag_type} with {size} data bytes"
            ));
        }
        if b[0] & 0x20 != 0 {
            return Err("filtered (encrypted) FLV tag".into());
        }
        let tag = FlvTag {
            tag_type,
            timestamp,
            body: b[11..11 + size].to_vec(),
        };
        self.pos += 11 + size + 4;
        Ok(Some(tag))
    }
}

/// A live HTTP-FLV response being read tag by tag (plain or chunked transfer encoding).
pub struct FlvStream {
    sock: TcpStream,
    pub head: HttpHead,
    dechunk: Option<Dechunk>,
    parser: FlvParser,
    eof: bool,
    /// Body bytes received so far (after de-chunking).
    pub bytes: u64,
}

impl FlvStream {
    /// `GET PATH` and read the response head. The status is not checked: see `head`.
    pub fn open(addr: SocketAddr, path: &str, timeout: Duration) -> Result<FlvStream, String> {
        let mut sock = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: joy4-tests\r\nAccept: */*\r\n\r\n"
        );
        sock.write_all(req.as_bytes())
            .map_err(|e| format!("write request: {e}"))?;
        let (head, rest) = read_head(&mut sock, timeout).map_err(|e| format!("GET {path}: {e}"))?;
        let dechunk = if head.is_chunked() {
            Some(Dechunk::default())
        } else {
            None
        };
        let mut s = FlvStream {
            sock,
            head,
            dechunk,
            parser: FlvParser::new(),
            eof: false,
            bytes: 0,
        };
        s.accept(&rest).map_err(String::from)?;
        Ok(s)
    }

    fn accept(&mut self, data: &[u8]) -> Result<(), StreamError> {
        match &mut self.dechunk {
            Some(d) => {
                let mut out = Vec::new();
                d.push(data, &mut out).map_err(StreamError::Protocol)?;
                if d.done() {
                    self.eof = true;
                }
                self.bytes += out.len() as u64;
                self.parser.feed(&out);
            }
            None => {
                self.bytes += data.len() as u64;
                self.parser.feed(data);
            }
        }
        Ok(())
    }

    /// Read more bytes; Ok(false) at the end of the body.
    fn pump(&mut self, deadline: Instant) -> Result<bool, StreamError> {
        if self.eof {
            return Ok(false);
        }
        let mut tmp = [0u8; 65536];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(StreamError::Timeout);
            }
            let _ = self.sock.set_read_timeout(Some(deadline - now));
            match self.sock.read(&mut tmp) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.accept(&tmp[..n])?;
                    return Ok(true);
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamError::Closed(e.to_string())),
            }
        }
    }

    pub fn header(&mut self, timeout: Duration) -> Result<FlvHeader, StreamError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(h) = self.parser.header().map_err(StreamError::Protocol)? {
                return Ok(h);
            }
            if !self.pump(deadline)? {
                return Err(StreamError::Closed(
                    "body ended before the FLV header".into(),
                ));
            }
        }
    }

    /// The next tag; Ok(None) when the body ended cleanly at a tag boundary.
    pub fn next_tag(&mut self, timeout: Duration) -> Result<Option<FlvTag>, StreamError> {
        self.next_tag_until(Instant::now() + timeout)
    }

    pub fn next_tag_until(&mut self, deadline: Instant) -> Result<Option<FlvTag>, StreamError> {
        loop {
            if let Some(t) = self.parser.next_tag().map_err(StreamError::Protocol)? {
                return Ok(Some(t));
            }
            if !self.pump(deadline)? {
                return match self.parser.header().map_err(StreamError::Protocol)? {
                    None => Err(StreamError::Closed(
                        "body ended before the FLV header".into(),
                    )),
                    Some(_) if self.parser.pending() > 0 => Err(StreamError::Closed(format!(
                        "body ended inside a tag ({} bytes left)",
                        self.parser.pending()
                    ))),
                    Some(_) => Ok(None),
                };
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// AMF0 (test-side, independent of the crate's)
// ---------------------------------------------------------------------------------------------------

pub mod amf {
    #[derive(Debug, Clone, PartialEq)]
    pub enum V {
        Num(f64),
        Bool(bool),
        Str(String),
        Obj(Vec<(String, V)>),
        Null,
        Undefined,
        Ecma(Vec<(String, V)>),
        Arr(Vec<V>),
        Date(f64),
    }

    impl V {
        pub fn get(&self, key: &str) -> Option<&V> {
            match self {
                V::Obj(p) | V::Ecma(p) => p.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            match self {
                V::Str(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_num(&self) -> Option<f64> {
            match self {
                V::Num(n) => Some(*n),
                _ => None,
            }
        }
    }

    pub fn s(x: &str) -> V {
        V::Str(x.to_string())
    }

    pub fn obj(pairs: &[(&str, V)]) -> V {
        V::Obj(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn put_key(k: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
    }

    pub fn encode(v: &V, out: &mut Vec<u8>) {
        match v {
            V::Num(n) => {
                out.push(0);
                out.extend_from_slice(&n.to_be_bytes());
            }
            V::Bool(b) => out.extend_from_slice(&[1, *b as u8]),
            V::Str(s) if s.len() <= 0xffff => {
                out.push(2);
                put_key(s, out);
            }
            V::Str(s) => {
                out.push(12);
                out.extend_from_slice(&(s.len() as u32).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            V::Obj(p) => {
                out.push(3);
                for (k, v) in p {
                    put_key(k, out);
                    encode(v, out);
                }
                out.extend_from_slice(&[0, 0, 9]);
            }
            V::Null => out.push(5),
            V::Undefined => out.push(6),
            V::Ecma(p) => {
                out.push(8);
                out.extend_from_slice(&(p.len() as u32).to_be_bytes());
                for (k, v) in p {
                    put_key(k, out);
                    encode(v, out);
                }
                out.extend_from_slice(&[0, 0, 9]);
            }
            V::Arr(a) => {
                out.push(10);
                out.extend_from_slice(&(a.len() as u32).to_be_bytes());
                for v in a {
                    encode(v, out);
                }
            }
            V::Date(ms) => {
                out.push(11);
                out.extend_from_slice(&ms.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
        }
    }

    pub fn encode_all(vs: &[V]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in vs {
            encode(v, &mut out);
        }
        out
    }

    fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if input.len() < n {
            return Err(format!(
                "AMF0 truncated: need {n} bytes, have {}",
                input.len()
            ));
        }
        let (a, b) = input.split_at(n);
        *input = b;
        Ok(a)
    }

    fn key(input: &mut &[u8]) -> Result<String, String> {
        let l = take(input, 2)?;
        let n = u16::from_be_bytes([l[0], l[1]]) as usize;
        Ok(String::from_utf8_lossy(take(input, n)?).into_owned())
    }

    fn pairs(input: &mut &[u8], depth: u32) -> Result<Vec<(String, V)>, String> {
        let mut p = Vec::new();
        loop {
            let k = key(input)?;
            if k.is_empty() && input.first() == Some(&9) {
                *input = &input[1..];
                return Ok(p);
            }
            let v = decode_depth(input, depth + 1)?;
            p.push((k, v));
        }
    }

    pub fn decode(input: &mut &[u8]) -> Result<V, String> {
        decode_depth(input, 0)
    }

    fn decode_depth(input: &mut &[u8], depth: u32) -> Result<V, String> {
        if depth > 32 {
            return Err("AMF0 nested too deep".into());
        }
        let m = take(input, 1)?[0];
        Ok(match m {
            0 => V::Num(f64::from_be_bytes(take(input, 8)?.try_into().unwrap())),
            1 => V::Bool(take(input, 1)?[0] != 0),
            2 => V::Str(key(input)?),
            3 => V::Obj(pairs(input, depth)?),
            5 => V::Null,
            6 => V::Undefined,
            8 => {
                take(input, 4)?;
                V::Ecma(pairs(input, depth)?)
            }
            10 => {
                let n = u32::from_be_bytes(take(input, 4)?.try_into().unwrap()) as usize;
                if n > input.len() {
                    return Err("AMF0 strict array count too large".into());
                }
                let mut a = Vec::new();
                for _ in 0..n {
                    a.push(decode_depth(input, depth + 1)?);
                }
                V::Arr(a)
            }
            11 => {
                let ms = f64::from_be_bytes(take(input, 8)?.try_into().unwrap());
                take(input, 2)?;
                V::Date(ms)
            }
            12 => {
                let n = u32::from_be_bytes(take(input, 4)?.try_into().unwrap()) as usize;
                V::Str(String::from_utf8_lossy(take(input, n)?).into_owned())
            }
            m => return Err(format!("AMF0 marker {m} not supported by the test decoder")),
        })
    }

    pub fn decode_all(mut input: &[u8]) -> Result<Vec<V>, String> {
        let mut out = Vec::new();
        while !input.is_empty() {
            out.push(decode(&mut input)?);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------------
// RTMP (test-side client; can also emit broken input)
// ---------------------------------------------------------------------------------------------------

/// The basic header for `fmt` and chunk stream id `csid` (1, 2 or 3 bytes).
pub fn basic_header(fmt: u8, csid: u32, out: &mut Vec<u8>) {
    if csid < 64 {
        out.push(fmt << 6 | csid as u8);
    } else if csid < 320 {
        out.push(fmt << 6);
        out.push((csid - 64) as u8);
    } else {
        let x = csid - 64;
        out.push(fmt << 6 | 1);
        out.push((x & 0xff) as u8);
        out.push((x >> 8) as u8);
    }
}

/// A type-0 chunk header (basic header + 11-byte message header, extended timestamp if needed).
pub fn fmt0_header(
    csid: u32,
    timestamp: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    out: &mut Vec<u8>,
) {
    basic_header(0, csid, out);
    let ts = timestamp.min(0xFF_FFFF);
    out.extend_from_slice(&ts.to_be_bytes()[1..]);
    out.extend_from_slice(&length.to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&stream_id.to_le_bytes());
    if timestamp >= 0xFF_FFFF {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
}

/// Chunk one message: a type-0 chunk, then type-3 continuations (repeating the extended timestamp).
pub fn write_chunks(
    csid: u32,
    timestamp: u32,
    type_id: u8,
    stream_id: u32,
    payload: &[u8],
    chunk_size: usize,
    out: &mut Vec<u8>,
) {
    fmt0_header(
        csid,
        timestamp,
        payload.len() as u32,
        type_id,
        stream_id,
        out,
    );
    let mut first = true;
    for piece in payload.chunks(chunk_size.max(1)) {
        if !first {
            basic_header(3, csid, out);
            if timestamp >= 0xFF_FFFF {
                out.extend_from_slice(&timestamp.to_be_bytes());
            }
        }
        first = false;
        out.extend_from_slice(piece);
    }
}

/// C0 + C1 of a simple handshake.
pub fn c0c1() -> Vec<u8> {
    let mut v = vec![3u8];
    v.extend_from_slice(&[0u8; 8]);
    v.extend_from_slice(&Rng::seeded().bytes(1528));
    v
}

#[derive(Debug, Clone)]
pub struct RtmpMessage {
    pub csid: u32,
    pub timestamp: u32,
    pub type_id: u8,
    pub stream_id: u32,
    pub payload: Vec<u8>,
}

impl RtmpMessage {
    /// The AMF0 values of a command or data message (types 20/18, and AMF3-wrapped 17/15).
    pub fn amf(&self) -> Option<Vec<amf::V>> {
        let body = match self.type_id {
            20 | 18 => &self.payload[..],
            17 | 15 if !self.payload.is_empty() => &self.payload[1..],
            _ => return None,
        };
        amf::decode_all(body).ok()
    }
    pub fn command_name(&self) -> Option<String> {
        self.amf()?.first()?.as_str().map(str::to_string)
    }
    pub fn transaction(&self) -> Option<f64> {
        self.amf()?.get(1)?.as_num()
    }
    /// The `code` of an onStatus / _result / _error info object.
    pub fn status_code(&self) -> Option<String> {
        let vals = self.amf()?;
        vals.iter()
            .skip(2)
            .find_map(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string))
    }
    pub fn as_flv_tag(&self) -> FlvTag {
        FlvTag {
            tag_type: self.type_id,
            timestamp: self.timestamp,
            body: self.payload.clone(),
        }
    }
    pub fn describe(&self) -> String {
        match self.type_id {
            20 | 17 | 18 | 15 => format!(
                "type {} {} {}",
                self.type_id,
                self.command_name().unwrap_or_else(|| "?".into()),
                self.status_code().unwrap_or_default()
            ),
            8 | 9 => self.as_flv_tag().describe(),
            4 if self.payload.len() >= 2 => format!(
                "user-control {}",
                u16::from_be_bytes([self.payload[0], self.payload[1]])
            ),
            t => format!("type {t} ({} bytes)", self.payload.len()),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct ChunkHdr {
    timestamp: u32,
    delta: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    extended: bool,
}

/// A minimal RTMP client over a blocking socket.
pub struct RtmpClient {
    pub sock: TcpStream,
    pub addr: SocketAddr,
    rbuf: Vec<u8>,
    rpos: usize,
    in_chunk_size: usize,
    pub out_chunk_size: usize,
    hdrs: HashMap<u32, ChunkHdr>,
    partials: HashMap<u32, Vec<u8>>,
    received: u64,
    window: u64,
    last_ack: u64,
}

impl RtmpClient {
    /// TCP connect only.
    pub fn connect_tcp(addr: SocketAddr) -> Result<RtmpClient, String> {
        let sock = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        Ok(RtmpClient {
            sock,
            addr,
            rbuf: Vec::new(),
            rpos: 0,
            in_chunk_size: 128,
            out_chunk_size: 128,
            hdrs: HashMap::new(),
            partials: HashMap::new(),
            received: 0,
            window: 0,
            last_ack: 0,
        })
    }

    /// TCP connect, handshake, `connect` to `app` (waits for NetConnection.Connect.Success).
    pub fn connect_app(addr: SocketAddr, app: &str) -> Result<RtmpClient, String> {
        let mut c = RtmpClient::connect_tcp(addr)?;
        c.handshake()?;
        c.connect(app)?;
        Ok(c)
    }

    fn read_more(&mut self, deadline: Instant) -> Result<(), StreamError> {
        let mut tmp = [0u8; 65536];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(StreamError::Timeout);
            }
            let _ = self.sock.set_read_timeout(Some(deadline - now));
            match self.sock.read(&mut tmp) {
                Ok(0) => return Err(StreamError::Closed("EOF".into())),
                Ok(n) => {
                    if self.rpos > 0 {
                        self.rbuf.drain(..self.rpos);
                        self.rpos = 0;
                    }
                    self.rbuf.extend_from_slice(&tmp[..n]);
                    self.received += n as u64;
                    if self.window > 0 && self.received - self.last_ack >= self.window {
                        self.last_ack = self.received;
                        let seq = (self.received & 0xffff_ffff) as u32;
                        let _ = self.send(2, 0, 3, 0, &seq.to_be_bytes());
                    }
                    return Ok(());
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamError::Closed(e.to_string())),
            }
        }
    }

    fn read_exact_buf(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, StreamError> {
        while self.rbuf.len() - self.rpos < n {
            self.read_more(deadline)?;
        }
        let v = self.rbuf[self.rpos..self.rpos + n].to_vec();
        self.rpos += n;
        Ok(v)
    }

    /// C0+C1 -> S0+S1+S2 -> C2 (echo of S1).
    pub fn handshake(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        self.sock
            .write_all(&c0c1())
            .map_err(|e| format!("write C0C1: {e}"))?;
        let s = self
            .read_exact_buf(1 + 1536 + 1536, deadline)
            .map_err(|e| format!("reading S0S1S2: {e}"))?;
        if s[0] != 3 {
            return Err(format!("S0 is {}, not 3", s[0]));
        }
        let s1 = s[1..1537].to_vec();
        self.sock
            .write_all(&s1)
            .map_err(|e| format!("write C2: {e}"))?;
        Ok(())
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sock.write_all(bytes)
    }

    /// Send one message, chunked at the current outbound chunk size.
    pub fn send(
        &mut self,
        csid: u32,
        timestamp: u32,
        type_id: u8,
        stream_id: u32,
        payload: &[u8],
    ) -> io::Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 64);
        write_chunks(
            csid,
            timestamp,
            type_id,
            stream_id,
            payload,
            self.out_chunk_size,
            &mut out,
        );
        self.sock.write_all(&out)
    }

    pub fn send_command(
        &mut self,
        stream_id: u32,
        name: &str,
        txn: f64,
        cmd_obj: amf::V,
        args: Vec<amf::V>,
    ) -> io::Result<()> {
        let mut vals = vec![amf::s(name), amf::V::Num(txn), cmd_obj];
        vals.extend(args);
        let payload = amf::encode_all(&vals);
        self.send(3, 0, 20, stream_id, &payload)
    }

    /// Send Set Chunk Size (any value, valid or not) and use it for later messages if sane.
    pub fn set_chunk_size(&mut self, size: u32) -> io::Result<()> {
        self.send(2, 0, 1, 0, &size.to_be_bytes())?;
        if (1..=0x7fff_ffff).contains(&size) {
            self.out_chunk_size = size as usize;
        }
        Ok(())
    }

    /// Parse one chunk if all its bytes are buffered: None = need more bytes.
    fn try_chunk(&mut self) -> Result<Option<Option<RtmpMessage>>, StreamError> {
        let b = &self.rbuf[self.rpos..];
        macro_rules! need {
            ($n:expr) => {
                if b.len() < $n {
                    return Ok(None);
                }
            };
        }
        need!(1);
        let fmt = b[0] >> 6;
        let mut csid = (b[0] & 0x3f) as u32;
        let mut p = 1;
        if csid == 0 {
            need!(2);
            csid = 64 + b[1] as u32;
            p = 2;
        } else if csid == 1 {
            need!(3);
            csid = 64 + b[1] as u32 + ((b[2] as u32) << 8);
            p = 3;
        }
        let prev = self.hdrs.get(&csid).copied();
        if fmt != 0 && prev.is_none() {
            return Err(StreamError::Protocol(format!(
                "chunk type {fmt} on chunk stream {csid} without a previous header"
            )));
        }
        let mut h = prev.unwrap_or_default();
        let hl = [11usize, 7, 3, 0][fmt as usize];
        need!(p + hl);
        let m = &b[p..p + hl];
        let mut field = 0u32;
        if fmt <= 2 {
            field = u32::from_be_bytes([0, m[0], m[1], m[2]]);
            h.extended = field == 0xFF_FFFF;
        }
        if fmt <= 1 {
            h.length = u32::from_be_bytes([0, m[3], m[4], m[5]]);
            h.type_id = m[6];
        }
        if fmt == 0 {
            h.stream_id = u32::from_le_bytes([m[7], m[8], m[9], m[10]]);
        }
        p += hl;
        if h.extended {
            need!(p + 4);
            let e = u32::from_be_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]);
            p += 4;
            if fmt <= 2 {
                field = e;
            }
        }
        let have = self.partials.get(&csid).map_or(0, |v| v.len());
        let new_message = have == 0;
        match fmt {
            0 => {
                h.timestamp = field;
                h.delta = 0;
            }
            1 | 2 => {
                h.delta = field;
                if new_message {
                    h.timestamp = h.timestamp.wrapping_add(field);
                }
            }
            _ => {
                if new_message {
                    h.timestamp = h.timestamp.wrapping_add(h.delta);
                }
            }
        }
        let n = (h.length as usize - have.min(h.length as usize)).min(self.in_chunk_size);
        need!(p + n);
        let data = b[p..p + n].to_vec();
        self.rpos += p + n;
        self.hdrs.insert(csid, h);
        let part = self.partials.entry(csid).or_default();
        part.extend_from_slice(&data);
        if part.len() < h.length as usize {
            return Ok(Some(None));
        }
        let payload = std::mem::take(part);
        let msg = RtmpMessage {
            csid,
            timestamp: h.timestamp,
            type_id: h.type_id,
            stream_id: h.stream_id,
            payload,
        };
        self.on_control(&msg)?;
        Ok(Some(Some(msg)))
    }

    fn on_control(&mut self, m: &RtmpMessage) -> Result<(), StreamError> {
        let be32 = |p: &[u8]| u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
        match m.type_id {
            1 if m.payload.len() >= 4 => {
                let n = be32(&m.payload) & 0x7fff_ffff;
                if n == 0 {
                    return Err(StreamError::Protocol("server set chunk size 0".into()));
                }
                self.in_chunk_size = n as usize;
            }
            5 if m.payload.len() >= 4 => self.window = be32(&m.payload) as u64,
            4 if m.payload.len() >= 6 && m.payload[..2] == [0, 6] => {
                let mut pong = vec![0, 7];
                pong.extend_from_slice(&m.payload[2..6]);
                let _ = self.send(2, 0, 4, 0, &pong);
            }
            _ => {}
        }
        Ok(())
    }

    /// The next complete message (protocol control messages included; they are also acted upon).
    pub fn read_message(&mut self, timeout: Duration) -> Result<RtmpMessage, StreamError> {
        self.read_message_until(Instant::now() + timeout)
    }

    pub fn read_message_until(&mut self, deadline: Instant) -> Result<RtmpMessage, StreamError> {
        loop {
            match self.try_chunk()? {
                Some(Some(m)) => return Ok(m),
                Some(None) => continue,
                None => self.read_more(deadline)?,
            }
        }
    }

    /// Read messages until `pred` accepts one; returns it and the messages before it.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&RtmpMessage) -> bool,
    ) -> Result<(RtmpMessage, Vec<RtmpMessage>), String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            match self.read_message_until(deadline) {
                Ok(m) if pred(&m) => return Ok((m, seen)),
                Ok(m) => seen.push(m),
                Err(e) => {
                    let list: Vec<String> = seen.iter().take(30).map(|m| m.describe()).collect();
                    return Err(format!(
                        "waiting for {what}: {e}; received before: {list:?}"
                    ));
                }
            }
        }
    }

    /// `connect` with a command object like ffmpeg's; waits for `_result` NetConnection.Connect.Success.
    pub fn connect(&mut self, app: &str) -> Result<(), String> {
        let tc_url = format!("rtmp://{}/{}", self.addr, app);
        let cmd = amf::obj(&[
            ("app", amf::s(app)),
            ("flashVer", amf::s("LNX 9,0,124,2")),
            ("tcUrl", amf::s(&tc_url)),
            ("fpad", amf::V::Bool(false)),
            ("capabilities", amf::V::Num(15.0)),
            ("audioCodecs", amf::V::Num(4071.0)),
            ("videoCodecs", amf::V::Num(252.0)),
            ("videoFunction", amf::V::Num(1.0)),
        ]);
        self.send_command(0, "connect", 1.0, cmd, vec![])
            .map_err(|e| format!("send connect: {e}"))?;
        let (m, _) = self.wait_for(Duration::from_secs(5), "connect _result", |m| {
            matches!(
                m.command_name().as_deref(),
                Some("_result") | Some("_error")
            ) && m.transaction() == Some(1.0)
        })?;
        match (m.command_name().as_deref(), m.status_code().as_deref()) {
            (Some("_result"), Some("NetConnection.Connect.Success")) => Ok(()),
            _ => Err(format!("connect answered {}", m.describe())),
        }
    }

    /// `createStream` (transaction 2); returns the new stream id.
    pub fn create_stream(&mut self) -> Result<u32, String> {
        self.send_command(0, "createStream", 2.0, amf::V::Null, vec![])
            .map_err(|e| format!("send createStream: {e}"))?;
        let (m, _) = self.wait_for(Duration::from_secs(5), "createStream _result", |m| {
            m.command_name().as_deref() == Some("_result") && m.transaction() == Some(2.0)
        })?;
        let vals = m.amf().unwrap_or_default();
        vals.get(3)
            .and_then(|v| v.as_num())
            .map(|n| n as u32)
            .ok_or_else(|| format!("createStream answered {vals:?}"))
    }

    /// SetBufferLength + `play NAME` on `stream_id` (like ffmpeg: start -2000 = live or recorded).
    pub fn play(&mut self, stream_id: u32, name: &str) -> Result<(), String> {
        let mut ctl = vec![0, 3];
        ctl.extend_from_slice(&stream_id.to_be_bytes());
        ctl.extend_from_slice(&3000u32.to_be_bytes());
        self.send(2, 0, 4, 0, &ctl)
            .map_err(|e| format!("send SetBufferLength: {e}"))?;
        let payload = amf::encode_all(&[
            amf::s("play"),
            amf::V::Num(0.0),
            amf::V::Null,
            amf::s(name),
            amf::V::Num(-2000.0),
        ]);
        self.send(8, 0, 20, stream_id, &payload)
            .map_err(|e| format!("send play: {e}"))
    }
}

// ---------------------------------------------------------------------------------------------------
// REST API client
// ---------------------------------------------------------------------------------------------------

/// `GET path` on the server's API, parsed as JSON (panics with the server log otherwise).
pub fn get_json(server: &Server, path: &str) -> serde_json::Value {
    let r = http_get(server.api_addr, path)
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.describe()));
    serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "GET {path}: not JSON ({e}): {:?}\n{}",
            r.body_text(),
            server.describe()
        )
    })
}

/// `POST path` with a JSON body on the server's API: the status and the parsed JSON answer.
pub fn post_json(
    server: &Server,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let body = body.to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        server.api_addr,
        body.len()
    );
    let r = http_exchange(server.api_addr, req.as_bytes(), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("POST {path} {body}: {e}\n{}", server.describe()));
    let v = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "POST {path} {body}: not JSON ({e}): {:?}\n{}",
            r.body_text(),
            server.describe()
        )
    });
    (r.head.status, v)
}
