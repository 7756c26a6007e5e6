//! The server under test, started on loopback ports; `run_joy4` for short CLI runs.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::proc::read_in_background;
use super::{Proc, BIN, TMP};

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
    listen_args([0, 0, 0])
}

/// Listeners on loopback ports (rtmp, http, httpapi), debug logging.
fn listen_args(ports: [u16; 3]) -> Vec<String> {
    vec![
        format!("-rtmp=127.0.0.1:{}", ports[0]),
        format!("-http=127.0.0.1:{}", ports[1]),
        format!("-httpapi=127.0.0.1:{}", ports[2]),
        "-loglevel=debug".into(),
    ]
}

/// Three loopback ports (rtmp, http, httpapi) reserved for this test process until it exits, so
/// that a server killed with -9 can be started again on them.
///
/// A port the kernel hands out (the ephemeral range, which `bind(0)` and every client socket use)
/// could be taken by another test's client in the gap between the kill and the restart ("Address
/// already in use"). These come from just below that range, where the kernel never picks, and
/// each is reserved across parallel test processes by an exclusive lock on
/// `target/tmp/ports/PORT.lock` held (with the open file) until this process exits; a port some
/// other program has bound is skipped.
pub fn free_ports() -> [u16; 3] {
    [reserve_port(), reserve_port(), reserve_port()]
}

/// The lock files of the ports this process reserved: kept open (and locked) until it exits.
static RESERVED_PORTS: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// How many ports below the ephemeral range [`free_ports`] draws from.
const RESERVED_SPAN: u16 = 8000;

/// One port below the ephemeral range, locked for this process and free to bind right now.
fn reserve_port() -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low = ephemeral_low.saturating_sub(RESERVED_SPAN).max(1024);
    let span = ephemeral_low.saturating_sub(low).max(1);
    let dir = Path::new(TMP).join("ports");
    std::fs::create_dir_all(&dir).expect("create the port lock dir");
    // Start somewhere different in each process so that parallel tests rarely meet.
    let seed = std::process::id() as u64 * 7919
        + SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
    let mut reserved = RESERVED_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    for i in 0..span as u64 {
        let port = low + ((seed + i) % span as u64) as u16;
        let Ok(lock) = File::create(dir.join(format!("{port}.lock"))) else {
            continue;
        };
        // Held by another test process, or already by this one (each open is its own lock).
        if lock.try_lock().is_err() {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        reserved.push(lock);
        return port;
    }
    panic!("no free port in {low}..{ephemeral_low}");
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
        Server::start_on([0, 0, 0], extra)
    }

    /// Start on `ports` (rtmp, http, httpapi; 0 for any) plus `extra`, so that a server can be
    /// killed and started again at the same addresses: take them from [`free_ports`], whose
    /// ports no other socket can take in between.
    pub fn start_on(ports: [u16; 3], extra: &[&str]) -> Server {
        let mut args = listen_args(ports);
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start_args(&args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Start with exactly `args`; waits up to 10 s for the three `listening` lines.
    pub fn start_args(args: &[String]) -> Result<Server, String> {
        Server::start_args_env(args, &[])
    }

    /// [`Server::start_args`] with environment variables set for the server only.
    pub fn start_args_env(args: &[String], env: &[(&str, &str)]) -> Result<Server, String> {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        cmd.envs(env.iter().copied());
        Server::start_command(cmd, args)
    }

    /// Start `cmd`, which runs the binary with `args` (through a wrapper such as
    /// `ip netns exec`); waits up to 10 s for the three `listening` lines.
    pub fn start_command(cmd: Command, args: &[String]) -> Result<Server, String> {
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
    run_joy4_env(args, &[], timeout)
}

/// [`run_joy4`] with environment variables set for the run.
pub fn run_joy4_env(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> RunOutput {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn joy4");
    let t_out = read_in_background(child.stdout.take().unwrap());
    let t_err = read_in_background(child.stderr.take().unwrap());
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
