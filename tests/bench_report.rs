//! `joy4-bench` end to end: a short run against the real server over RTMP and HTTP-FLV, its JSON
//! report, the side-by-side summary, and the bounds it refuses to exceed.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{Server, TestDir};

const BENCH: &str = env!("CARGO_BIN_EXE_joy4-bench");

/// Run the bench to completion (it stops by itself; the deadline only guards the test).
fn bench(args: &[&str], deadline: Duration) -> Output {
    let mut child = Command::new(BENCH)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start joy4-bench");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "joy4-bench {args:?} ran longer than {deadline:?}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the JSON report was written");
    serde_json::from_str(&text).expect("valid JSON")
}

fn f(v: &serde_json::Value, ptr: &str) -> f64 {
    v.pointer(ptr)
        .and_then(|x| x.as_f64())
        .unwrap_or_else(|| panic!("{ptr} missing in {v:#}"))
}

/// A short run: 20 subscribers, 2 s measured.
fn short_run(server: &Server, play: &str, json: &Path, label: &str) -> serde_json::Value {
    let publish = server.rtmp_url("live/bench");
    let pid = server.proc.pid().to_string();
    let out = bench(
        &[
            "--publish",
            &publish,
            "--play",
            play,
            "-n",
            "20",
            "--ramp",
            "200",
            "--warmup",
            "1s",
            "--settle",
            "500ms",
            "--duration",
            "2s",
            "--probes",
            "5",
            "--pid",
            &pid,
            "--label",
            label,
            "--json",
            json.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver:\n{}",
        out.status,
        server.describe()
    );
    assert!(stdout.contains("server-added latency ms"), "{stdout}");
    assert!(
        stderr.contains("measure"),
        "a progress line per second: {stderr}"
    );
    read_json(json)
}

fn assert_every_subscriber_got_the_stream(v: &serde_json::Value, protocol: &str) {
    assert_eq!(v["config"]["protocol"], protocol, "{v:#}");
    assert_eq!(f(v, "/subscribers/connected"), 20.0, "{v:#}");
    assert_eq!(f(v, "/subscribers/failed"), 0.0, "{v:#}");
    assert_eq!(f(v, "/subscribers/disconnected"), 0.0, "{v:#}");
    // The synthetic stream is ~1 Mbit/s; every subscriber gets (nearly) all of it.
    let kbps = f(v, "/stream/published_kbps");
    assert!((700.0..1300.0).contains(&kbps), "{kbps} kbit/s");
    assert!(f(v, "/per_subscriber/share/min") >= 0.95, "{v:#}");
    assert!(f(v, "/per_subscriber/frames/min") > 50.0, "{v:#}");
    // joy4 keeps publisher timestamps, so every live message is matched to its send time.
    assert_eq!(f(v, "/latency_ms/unmatched_messages"), 0.0, "{v:#}");
    assert!(f(v, "/latency_ms/samples") > 100.0, "{v:#}");
    let p99 = f(v, "/latency_ms/p99");
    assert!((0.0..2000.0).contains(&p99), "p99 {p99} ms");
    assert!(f(v, "/time_to_first_keyframe_ms/max") < 5000.0, "{v:#}");
    // /proc figures of the server.
    assert!(f(v, "/server/cpu_seconds") >= 0.0, "{v:#}");
    assert!(f(v, "/server/rss_before_kib") > 0.0, "{v:#}");
    assert!(v.pointer("/server/cpu_us_per_subscriber_second").is_some());
    assert!(v["timeline"].as_array().is_some_and(|t| !t.is_empty()));
}

#[test]
fn a_short_run_over_rtmp_and_http_flv_reports_every_subscriber_getting_the_stream() {
    let dir = TestDir::new();
    let server = Server::start(&[]);
    let rtmp_json = dir.file("rtmp.json");
    let v = short_run(&server, &server.rtmp_url("live/bench"), &rtmp_json, "joy4");
    assert_every_subscriber_got_the_stream(&v, "rtmp");

    let server = Server::start(&[]);
    let http_json = dir.file("http.json");
    let v = short_run(&server, &server.flv_url("live/bench"), &http_json, "joy4");
    assert_every_subscriber_got_the_stream(&v, "http-flv");

    // The side-by-side table of both runs, Markdown-shaped: header, rule, one row per file.
    let out = bench(
        &[
            "summary",
            "--baseline",
            "joy4",
            rtmp_json.to_str().unwrap(),
            http_json.to_str().unwrap(),
        ],
        Duration::from_secs(10),
    );
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[2].contains("| joy4") && lines[2].contains("rtmp"),
        "{table}"
    );
    assert!(lines[3].contains("http-flv"), "{table}");
    // A tiny run may have burnt no measurable server CPU (10 ms ticks), so no ratio is checked.
    assert!(lines[0].contains("CPU vs base"), "{table}");
}

#[test]
fn the_bench_refuses_more_than_ten_thousand_subscribers_and_bad_urls() {
    let out = bench(
        &["--publish", "rtmp://127.0.0.1:1/live/x", "-n", "10001"],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("10000"));

    let out = bench(
        &["--publish", "http://127.0.0.1:1/x"],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = bench(&["-n", "5"], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2), "--publish is required");

    let out = bench(&["--help"], Duration::from_secs(10));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--subscribers"));
}

#[test]
fn a_server_that_is_not_there_fails_the_run_quickly() {
    // A port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("rtmp://127.0.0.1:{port}/live/x");
    let start = Instant::now();
    let out = bench(
        &["--publish", &url, "-n", "5", "--timeout", "2s"],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("publisher"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}
