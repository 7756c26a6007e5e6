//! `joy4-bench hls`: N HLS viewers poll a live playlist as players do (the entry playlist, then the
//! media playlist about twice per target duration, and every new segment once, on one kept-alive
//! connection each), and the run reports what they got and what the server spent per
//! viewer-second. The channel must already be live (publish it with `joy4-bench --publish` or
//! ffmpeg). With `--ll` (a server with `-hlsvariant=lowlatency`) each viewer is an LL-HLS player:
//! a blocking playlist reload for the hinted part, then every new part once.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use joy4::net::sys;
use serde_json::json;

pub const USAGE: &str = "\
joy4-bench hls --play http://HOST:PORT/PATH.m3u8 [-n N] [--ramp R] [--duration DUR] [--pid PID]
               [--ll] [--json FILE]
N viewers (default 100, at most 5000) open the playlist at R per second (default 50), poll it and
fetch each new segment for DUR (default 20s) after the ramp; with --pid, the server's CPU per
viewer-second over that window. --ll: LL-HLS viewers (blocking reloads, every part).
";

pub struct HlsConfig {
    pub host: String,
    pub path: String,
    pub viewers: usize,
    pub ramp: f64,
    pub duration: Duration,
    pub pid: Option<u32>,
    /// LL-HLS viewers: blocking reloads and parts.
    pub ll: bool,
}

#[derive(Default)]
struct Totals {
    requests: AtomicU64,
    failures: AtomicU64,
    segments: AtomicU64,
    bytes: AtomicU64,
    /// Segment fetch times (ms) in the window.
    fetch_ms: Mutex<Vec<f64>>,
}

/// A kept-alive HTTP/1.1 connection that reads `Content-Length` bodies.
struct Conn {
    host: String,
    stream: Option<TcpStream>,
}

impl Conn {
    fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>), String> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.host).map_err(|e| e.to_string())?;
            let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
            let _ = s.set_nodelay(true);
            self.stream = Some(s);
        }
        let result = self.exchange(path);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn exchange(&mut self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let s = self.stream.as_mut().ok_or("no connection")?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 16384];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 64 * 1024 {
                return Err("response head too long".into());
            }
            let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status")?;
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .ok_or("no Content-Length")?;
        if len > 256 << 20 {
            return Err("body too long".into());
        }
        let mut body = buf.split_off(head_end);
        while body.len() < len {
            let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed in the body".into());
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
        Ok((status, body))
    }
}

fn dir_of(path: &str) -> &str {
    &path[..=path.rfind('/').unwrap_or(0)]
}

/// One viewer until `stop`: counts go to `totals` while `in_window`.
fn viewer(cfg: &HlsConfig, totals: &Totals, stop: &AtomicBool, in_window: &AtomicBool) {
    let mut conn = Conn {
        host: cfg.host.clone(),
        stream: None,
    };
    let count = |ok: bool| {
        if in_window.load(Ordering::Relaxed) {
            totals.requests.fetch_add(1, Ordering::Relaxed);
            if !ok {
                totals.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let mut media = None;
    let mut seen: HashSet<String> = HashSet::new();
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let path = media.clone().unwrap_or_else(|| cfg.path.clone());
        let text = match conn.get(&path) {
            Ok((200, body)) => String::from_utf8_lossy(&body).to_string(),
            _ => {
                count(false);
                thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        count(true);
        if media.is_none() {
            let variant = text
                .lines()
                .skip_while(|l| !l.starts_with("#EXT-X-STREAM-INF"))
                .nth(1);
            media = variant.map(|v| format!("{}{v}", dir_of(&cfg.path)));
            continue;
        }
        let target: f64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("#EXT-X-TARGETDURATION:")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(2.0);
        let uris: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        // A player starts near live: the newest segment first.
        let skip = if first {
            uris.len().saturating_sub(1)
        } else {
            0
        };
        first = false;
        for uri in uris.into_iter().skip(skip) {
            if !seen.insert(uri.to_string()) || stop.load(Ordering::Relaxed) {
                continue;
            }
            let started = Instant::now();
            let got = conn.get(&format!("{}{uri}", dir_of(&cfg.path)));
            let ok = matches!(got, Ok((200, _)));
            count(ok);
            if let (true, Ok((_, body))) = (in_window.load(Ordering::Relaxed), got) {
                totals.segments.fetch_add(1, Ordering::Relaxed);
                totals.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                totals.fetch_ms.lock().unwrap().push(ms);
            }
        }
        if seen.len() > 1000 {
            seen.clear();
        }
        thread::sleep(Duration::from_secs_f64(target / 2.0));
    }
}

/// (sequence, index) of the part a playlist's `#EXT-X-PRELOAD-HINT` names (`…/RUN-SEQ.INDEX.m4s?…`).
fn hinted_part(text: &str) -> Option<(u64, usize)> {
    let line = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"))?;
    let uri = line.split("URI=\"").nth(1)?.split('"').next()?;
    let file = uri.split('?').next()?.rsplit('/').next()?;
    let (_, rest) = file.strip_suffix(".m4s")?.split_once('-')?;
    let (seq, index) = rest.split_once('.')?;
    Some((seq.parse().ok()?, index.parse().ok()?))
}

/// One LL-HLS viewer until `stop`: a blocking reload for the hinted part, then each part listed
/// that it has not fetched (starting with the newest three), on one kept-alive connection.
fn ll_viewer(cfg: &HlsConfig, totals: &Totals, stop: &AtomicBool, in_window: &AtomicBool) {
    let mut conn = Conn {
        host: cfg.host.clone(),
        stream: None,
    };
    let count = |ok: bool| {
        if in_window.load(Ordering::Relaxed) {
            totals.requests.fetch_add(1, Ordering::Relaxed);
            if !ok {
                totals.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let mut media: Option<String> = None;
    let mut next: Option<(u64, usize)> = None;
    let mut seen: HashSet<String> = HashSet::new();
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let path = match (&media, next) {
            (None, _) => cfg.path.clone(),
            (Some(m), Some((msn, part))) => format!("{m}&_HLS_msn={msn}&_HLS_part={part}"),
            (Some(m), None) => m.clone(),
        };
        let text = match conn.get(&path) {
            Ok((200, body)) => String::from_utf8_lossy(&body).to_string(),
            _ => {
                count(false);
                next = None;
                thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        count(true);
        if media.is_none() {
            let variant = text
                .lines()
                .skip_while(|l| !l.starts_with("#EXT-X-STREAM-INF"))
                .nth(1);
            media = variant.map(|v| format!("{}{v}", dir_of(&cfg.path)));
            continue;
        }
        let parts: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("#EXT-X-PART:"))
            .filter_map(|l| l.split("URI=\"").nth(1)?.split('"').next())
            .collect();
        let skip = if first {
            parts.len().saturating_sub(3)
        } else {
            0
        };
        first = false;
        for uri in parts.into_iter().skip(skip) {
            if !seen.insert(uri.to_string()) || stop.load(Ordering::Relaxed) {
                continue;
            }
            let started = Instant::now();
            let got = conn.get(&format!("{}{uri}", dir_of(&cfg.path)));
            count(matches!(got, Ok((200, _))));
            if let (true, Ok((200, body))) = (in_window.load(Ordering::Relaxed), got) {
                totals.segments.fetch_add(1, Ordering::Relaxed);
                totals.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                totals.fetch_ms.lock().unwrap().push(ms);
            }
        }
        if seen.len() > 1000 {
            seen.clear();
        }
        next = hinted_part(&text);
        if next.is_none() {
            thread::sleep(Duration::from_millis(200));
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Run the viewers; returns the report line and the JSON figures.
pub fn run(cfg: HlsConfig) -> Result<(String, serde_json::Value), String> {
    let cfg = Arc::new(cfg);
    let totals = Arc::new(Totals::default());
    let stop = Arc::new(AtomicBool::new(false));
    let in_window = Arc::new(AtomicBool::new(false));
    let idle = cfg.pid.and_then(|p| sys::sample_proc(p).ok());
    let mut threads = Vec::new();
    for i in 0..cfg.viewers {
        let (cfg2, totals, stop, in_window) =
            (cfg.clone(), totals.clone(), stop.clone(), in_window.clone());
        let t = thread::Builder::new()
            .name(format!("hls-viewer-{i}"))
            .stack_size(128 * 1024)
            .spawn(move || {
                if cfg2.ll {
                    ll_viewer(&cfg2, &totals, &stop, &in_window)
                } else {
                    viewer(&cfg2, &totals, &stop, &in_window)
                }
            })
            .map_err(|e| format!("cannot start a viewer thread: {e}"))?;
        threads.push(t);
        thread::sleep(Duration::from_secs_f64(1.0 / cfg.ramp));
    }
    thread::sleep(Duration::from_secs(2));
    let before = cfg.pid.and_then(|p| sys::sample_proc(p).ok());
    let started = Instant::now();
    in_window.store(true, Ordering::Relaxed);
    thread::sleep(cfg.duration);
    in_window.store(false, Ordering::Relaxed);
    let window = started.elapsed().as_secs_f64();
    let after = cfg.pid.and_then(|p| sys::sample_proc(p).ok());
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let viewer_secs = cfg.viewers as f64 * window;
    let cpu_secs = match (before, after) {
        (Some(b), Some(a)) => Some(
            a.cpu_ticks.saturating_sub(b.cpu_ticks) as f64 / sys::clock_ticks_per_second() as f64,
        ),
        _ => None,
    };
    let mut fetch = totals.fetch_ms.lock().unwrap().clone();
    fetch.sort_by(|a, b| a.total_cmp(b));
    let requests = totals.requests.load(Ordering::Relaxed);
    let failures = totals.failures.load(Ordering::Relaxed);
    let bytes = totals.bytes.load(Ordering::Relaxed);
    let per_viewer_kbps = bytes as f64 * 8.0 / 1000.0 / viewer_secs.max(1e-9);
    let cpu_pct = cpu_secs.map(|c| c * 100.0 / window);
    // Memory per viewer: what the server holds with the viewers over what it held before them.
    let kib_per_viewer = match (idle, after) {
        (Some(i), Some(a)) => Some(a.rss_kib.saturating_sub(i.rss_kib) as f64 / cfg.viewers as f64),
        _ => None,
    };
    let cpu_ms_per_viewer_s = cpu_secs.map(|c| c * 1000.0 / viewer_secs.max(1e-9));
    let line = format!(
        "{} viewers {} for {window:.1} s: {requests} requests ({failures} failed), {} {}, {per_viewer_kbps:.0} kbit/s per viewer, {} fetch p50/p99 {:.1}/{:.1} ms, server CPU {} ({} ms per viewer-second), RSS {} KiB ({} KiB per viewer)\n",
        if cfg.ll { "ll-hls" } else { "hls" },
        cfg.viewers,
        totals.segments.load(Ordering::Relaxed),
        if cfg.ll { "parts" } else { "segments" },
        if cfg.ll { "part" } else { "segment" },
        percentile(&fetch, 0.5),
        percentile(&fetch, 0.99),
        cpu_pct.map_or("-".into(), |c| format!("{c:.1} %")),
        cpu_ms_per_viewer_s.map_or("-".into(), |c| format!("{c:.3}")),
        after.map_or("-".into(), |a| a.rss_kib.to_string()),
        kib_per_viewer.map_or("-".into(), |k| format!("{k:.1}")),
    );
    let figures = json!({
        "protocol": if cfg.ll { "ll-hls" } else { "hls" },
        "viewers": cfg.viewers,
        "windowSecs": window,
        "requests": requests,
        "failedRequests": failures,
        "segments": totals.segments.load(Ordering::Relaxed),
        "kbpsPerViewer": per_viewer_kbps,
        "segmentFetchMs": {"p50": percentile(&fetch, 0.5), "p99": percentile(&fetch, 0.99)},
        "serverCpuPercent": cpu_pct,
        "serverCpuMsPerViewerSecond": cpu_ms_per_viewer_s,
        "serverRssKib": after.map(|a| a.rss_kib),
        "serverRssKibBeforeViewers": idle.map(|i| i.rss_kib),
        "serverKibPerViewer": kib_per_viewer,
    });
    Ok((line, figures))
}
