//! The churn soak: thousands of short connections of every kind against one server that has a
//! steady publisher and a callback receiver, then proof that the server is back at its baseline.
//! `tests/e2e_soak.rs` runs a short soak in the suite; `tests/soak.rs` (ignored; `scripts/soak.sh`
//! runs it) the long one.
//!
//! A cycle is one connection of one kind (see [`Kind`]); kinds take turns in a fixed rotation.
//! Workers run cycles flat out, or paced at `rate` cycles a second for all of them together.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{
    amf, api::publisher_id, c0c1, clip, default_server_args, get_json, http_get, publish_loop,
    tcp_connect, wait_until, FlvStream, RtmpClient, RtmpMessage, Server,
};

/// What a soak is asked to do.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub cycles: usize,
    /// Cycles a second for all workers together; `None` = flat out.
    pub rate: Option<f64>,
    pub workers: usize,
}

/// Threads, open descriptors and resident memory of a process, from `/proc/PID`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub threads: u64,
    pub fds: u64,
    pub rss_kib: u64,
}

impl Usage {
    pub fn of(pid: u32) -> Usage {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
        Usage {
            threads: field("Threads:"),
            fds,
            rss_kib: field("VmRSS:"),
        }
    }

    fn max(self, other: Usage) -> Usage {
        Usage {
            threads: self.threads.max(other.threads),
            fds: self.fds.max(other.fds),
            rss_kib: self.rss_kib.max(other.rss_kib),
        }
    }

    /// Within the soak's tolerances of `baseline`: threads +2, descriptors +8 (the callback
    /// sender's kept-alive connections grow with its lanes), RSS +32 MiB or +50 %.
    pub fn is_back_to(&self, baseline: &Usage) -> bool {
        self.threads <= baseline.threads + 2
            && self.fds <= baseline.fds + 8
            && self.rss_kib <= baseline.rss_kib + (baseline.rss_kib / 2).max(32 * 1024)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} threads, {} fds, {:.1} MiB RSS",
            self.threads,
            self.fds,
            self.rss_kib as f64 / 1024.0
        )
    }
}

/// One kind of short connection. Those ending in `Reset` close with `SO_LINGER` 0 (an RST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An RTMP player of the steady channel that reads to the first keyframe and leaves.
    RtmpPlay,
    RtmpPlayReset,
    /// An RTMP publisher of a name of its own: headers and a few frames, then it leaves.
    RtmpPublish,
    RtmpPublishReset,
    /// An HTTP-FLV player of the steady channel, to the first keyframe.
    FlvPlay,
    FlvPlayReset,
    /// `GET /stat/channel/live/steady` on the API.
    Api,
    /// An RTMP connection that leaves in the middle of the handshake.
    MidHandshake,
    MidHandshakeReset,
    /// A media-port and an API connection that leave in the middle of a request head or body.
    MidRequest,
    ApiMidRequestReset,
}

const ROTATION: [Kind; 11] = [
    Kind::RtmpPlay,
    Kind::RtmpPublish,
    Kind::FlvPlay,
    Kind::Api,
    Kind::MidHandshake,
    Kind::RtmpPlayReset,
    Kind::RtmpPublishReset,
    Kind::FlvPlayReset,
    Kind::MidRequest,
    Kind::MidHandshakeReset,
    Kind::ApiMidRequestReset,
];

impl Kind {
    fn resets(self) -> bool {
        matches!(
            self,
            Kind::RtmpPlayReset
                | Kind::RtmpPublishReset
                | Kind::FlvPlayReset
                | Kind::MidHandshakeReset
                | Kind::ApiMidRequestReset
        )
    }

    /// Whether the server sees a stream (streamConnected … streamClose).
    fn is_stream(self) -> bool {
        matches!(
            self,
            Kind::RtmpPlay
                | Kind::RtmpPlayReset
                | Kind::RtmpPublish
                | Kind::RtmpPublishReset
                | Kind::FlvPlay
                | Kind::FlvPlayReset
        )
    }
}

/// The steady channel's headers and a keyframe, replayed by each short-lived publisher.
#[derive(Default, Clone)]
struct Headers {
    messages: Vec<RtmpMessage>,
}

/// A callback receiver that counts, per stream id, the streamConnected and streamClose it got.
struct Counting {
    addr: SocketAddr,
    /// id -> (streamConnected, streamClose)
    counts: Arc<Mutex<HashMap<String, (u32, u32)>>>,
}

impl Counting {
    fn start() -> Counting {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let counts: Arc<Mutex<HashMap<String, (u32, u32)>>> = Arc::default();
        let c = counts.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let c = c.clone();
                thread::spawn(move || count_requests(conn, &c));
            }
        });
        Counting { addr, counts }
    }

    fn snapshot(&self) -> HashMap<String, (u32, u32)> {
        self.counts.lock().unwrap().clone()
    }
}

fn count_requests(conn: TcpStream, counts: &Mutex<HashMap<String, (u32, u32)>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let Some((path, body)) = super::callback::read_post(&mut reader) else {
            return;
        };
        let name = path.rsplit('/').next().unwrap_or_default().to_string();
        if let Some(id) = body["id"].as_str() {
            let mut counts = counts.lock().unwrap();
            let entry = counts.entry(id.to_string()).or_default();
            match name.as_str() {
                "streamConnected" => entry.0 += 1,
                "streamClose" => entry.1 += 1,
                _ => {}
            }
        }
        let answer =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// What a soak measured.
#[derive(Debug)]
pub struct SoakReport {
    pub cycles: usize,
    pub elapsed: Duration,
    pub errors: Vec<String>,
    pub baseline: Usage,
    pub peak: Usage,
    pub after: Usage,
    /// Streams the callback receiver saw a streamConnected for.
    pub streams: usize,
}

impl SoakReport {
    pub fn cycles_per_sec(&self) -> f64 {
        self.cycles as f64 / self.elapsed.as_secs_f64()
    }

    pub fn print(&self, options: &SoakOptions) {
        let pace = match options.rate {
            Some(r) => format!("paced at {r}/s"),
            None => "flat out".into(),
        };
        eprintln!(
            "soak: {} cycles ({pace}, {} workers) in {:.1} s = {:.0} cycles/s; {} streams with callbacks; {} errors\n\
             soak: baseline {}\nsoak: peak     {}\nsoak: after    {}",
            self.cycles,
            options.workers,
            self.elapsed.as_secs_f64(),
            self.cycles_per_sec(),
            self.streams,
            self.errors.len(),
            self.baseline.describe(),
            self.peak.describe(),
            self.after.describe(),
        );
    }
}

const STEADY: &str = "steady";

/// Run a soak and check everything it promises; panics with the details when something is off.
pub fn run_soak(options: &SoakOptions) -> SoakReport {
    let receiver = Counting::start();
    let callback = format!("-httpcallback=http://{}/hooks", receiver.addr);
    // Debug logging of every connection would measure the log, not the server.
    let mut args: Vec<String> = default_server_args()
        .into_iter()
        .filter(|a| !a.starts_with("-loglevel"))
        .collect();
    args.extend([
        callback,
        "-publishergrace=1s".into(),
        "-loglevel=warn".into(),
    ]);
    let mut server = Server::start_args(&args).unwrap_or_else(|e| panic!("{e}"));
    let _steady = publish_loop(&mut server, &clip(), &format!("live/{STEADY}"));
    let steady_id = publisher_id(&server, STEADY);

    // Warm up: one of each kind (and the headers the publishers replay), then settle.
    let headers = steady_headers(&server);
    for (i, kind) in ROTATION.iter().enumerate() {
        cycle(&server, *kind, i, &headers).unwrap_or_else(|e| panic!("warm-up {kind:?}: {e}"));
    }
    // A first churn grows what the allocator keeps for itself (per-thread arenas); the
    // baseline is taken after it, so that what the real churn leaves behind shows.
    let warm_up = SoakOptions {
        cycles: (options.cycles / 5).clamp(ROTATION.len(), 2000),
        rate: None,
        workers: options.workers,
    };
    let (_, errors) = churn(&server, &headers, &warm_up, options.cycles);
    assert!(
        errors.is_empty(),
        "warm-up churn: {:?}",
        &errors[..errors.len().min(10)]
    );
    let pid = server.proc.pid();
    let baseline = settle(pid, None);
    // Once the warm-up's streams and channels are gone, only the steady publisher is left.
    let streams_before = wait_for_keys(&server, "/stat/streams", std::slice::from_ref(&steady_id));
    let channels_before = wait_for_keys(&server, "/stat/channels", &[format!("live/{STEADY}")]);

    let peak = Arc::new(Mutex::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let now = Usage::of(pid);
                let mut p = peak.lock().unwrap();
                *p = p.max(now);
                drop(p);
                thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let (elapsed, errors) = churn(&server, &headers, options, 0);
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let peak = *peak.lock().unwrap();

    let after = settle(pid, Some(&baseline));
    server.assert_alive("after the churn");
    let report = SoakReport {
        cycles: options.cycles,
        elapsed,
        errors,
        baseline,
        peak,
        after,
        streams: receiver.snapshot().values().filter(|c| c.0 > 0).count(),
    };
    report.print(options);
    assert!(
        report.errors.is_empty(),
        "{} cycles failed, the first: {:#?}\n{}",
        report.errors.len(),
        &report.errors[..report.errors.len().min(10)],
        server.describe()
    );
    assert!(
        after.is_back_to(&baseline),
        "not back at the baseline: {} after, {} before\n{}",
        after.describe(),
        baseline.describe(),
        server.describe()
    );

    // The registry holds what it held before, and the steady publisher is the same stream.
    assert_eq!(
        wait_for_keys(&server, "/stat/streams", &streams_before),
        streams_before
    );
    assert_eq!(
        wait_for_keys(&server, "/stat/channels", &channels_before),
        channels_before
    );
    assert_eq!(publisher_id(&server, STEADY), steady_id);
    cycle(&server, Kind::RtmpPlay, 1, &headers).expect("a fresh RTMP player plays");
    cycle(&server, Kind::FlvPlay, 2, &headers).expect("a fresh HTTP-FLV player plays");

    check_callbacks(&receiver, options, &server, &steady_id);
    report
}

/// Run `options.cycles` cycles (numbered from `first`, which keeps publisher names unique) on
/// `options.workers` threads; the time taken and the cycles' errors.
fn churn(
    server: &Server,
    headers: &Headers,
    options: &SoakOptions,
    first: usize,
) -> (Duration, Vec<String>) {
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..options.workers {
            let (next, errors) = (&next, &errors);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= options.cycles {
                    return;
                }
                if let Some(rate) = options.rate {
                    let at = start + Duration::from_secs_f64(i as f64 / rate);
                    thread::sleep(at.saturating_duration_since(Instant::now()));
                }
                let kind = ROTATION[i % ROTATION.len()];
                if let Err(e) = cycle(server, kind, first + i + 1000, headers) {
                    errors
                        .lock()
                        .unwrap()
                        .push(format!("cycle {i} {kind:?}: {e}"));
                }
            });
        }
    });
    (start.elapsed(), errors.into_inner().unwrap())
}

/// Every stream that got streamConnected gets exactly one streamClose, and no stream two (the
/// steady publisher, still on, has none yet).
fn check_callbacks(receiver: &Counting, options: &SoakOptions, server: &Server, steady_id: &str) {
    let settled = wait_until(Duration::from_secs(30), || {
        let mut counts = receiver.snapshot();
        counts.remove(steady_id);
        counts
            .values()
            .all(|&(connected, close)| connected == 0 || close >= 1)
            .then_some(counts)
    });
    let mut counts = settled.unwrap_or_else(|| receiver.snapshot());
    counts.remove(steady_id);
    let wrong: Vec<_> = counts
        .iter()
        .filter(|(_, &(connected, close))| {
            connected > 1 || close > 1 || (connected == 1 && close != 1)
        })
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "streams with other than one streamConnected and one streamClose (id, (connected, close)): {wrong:?}\n{}",
        server.describe()
    );
    let connected = counts.values().filter(|c| c.0 == 1).count();
    let stream_cycles = (0..options.cycles)
        .filter(|i| ROTATION[i % ROTATION.len()].is_stream())
        .count();
    // Under a churn faster than the controller takes events, streamConnected may be dropped to
    // keep the queue bounded (never a close): then the server must have said so.
    let missing = stream_cycles.saturating_sub(connected);
    if missing > 0 {
        eprintln!("soak: {missing} streamConnected fewer than player and publisher cycles");
        assert!(
            server.log_text().contains("streamConnected dropped"),
            "{missing} streamConnected missing and no warning about dropped callbacks\n{}",
            server.describe()
        );
    }
}

/// Sample until the usage is back within the tolerances of `baseline` (or, without one, until it
/// stops changing), for up to 20 s; the last sample.
fn settle(pid: u32, baseline: Option<&Usage>) -> Usage {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = Usage::of(pid);
    loop {
        thread::sleep(Duration::from_millis(500));
        let now = Usage::of(pid);
        let stable = match baseline {
            Some(b) => now.is_back_to(b),
            None => now.threads == last.threads && now.fds == last.fds,
        };
        if stable || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

fn stat_keys(server: &Server, path: &str) -> BTreeSet<String> {
    match get_json(server, path) {
        Value::Object(m) => m.keys().cloned().collect(),
        other => panic!("{path}: not an object: {other}"),
    }
}

/// `path`'s keys once they are `expected` (channels of departed publishers close after the
/// grace period), or after 10 s whatever they are.
fn wait_for_keys(server: &Server, path: &str, expected: &[String]) -> Vec<String> {
    let mut keys = Vec::new();
    wait_until(Duration::from_secs(10), || {
        keys = stat_keys(server, path).into_iter().collect();
        (keys == expected).then_some(())
    });
    keys
}

/// The steady channel's headers and first keyframe, as an RTMP player receives them.
fn steady_headers(server: &Server) -> Headers {
    let mut c = RtmpClient::connect_app(server.rtmp_addr, "live").expect("connect");
    let sid = c.create_stream().expect("createStream");
    c.play(sid, STEADY).expect("play");
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = c
            .read_message_until(deadline)
            .expect("the steady channel's media");
        let keyframe = is_keyframe(&m);
        if matches!(m.type_id, 8 | 9 | 18) {
            messages.push(m);
        }
        if keyframe {
            return Headers { messages };
        }
    }
}

fn is_keyframe(m: &RtmpMessage) -> bool {
    m.type_id == 9 && m.payload.len() > 1 && m.payload[0] >> 4 == 1 && m.payload[1] == 1
}

/// Close `sock` the way `kind` leaves: FIN, or RST with `SO_LINGER` 0.
fn leave(sock: &TcpStream, kind: Kind) {
    if kind.resets() {
        let _ = joy4::net::reset_on_close(sock);
    }
}

/// One short connection of `kind`; `n` makes a publisher's name unique.
fn cycle(server: &Server, kind: Kind, n: usize, headers: &Headers) -> Result<(), String> {
    let timeout = Duration::from_secs(10);
    match kind {
        Kind::RtmpPlay | Kind::RtmpPlayReset => {
            let mut c = RtmpClient::connect_app(server.rtmp_addr, "live")?;
            let sid = c.create_stream()?;
            c.play(sid, STEADY)?;
            c.wait_for(timeout, "a keyframe", is_keyframe)?;
            leave(&c.sock, kind);
        }
        Kind::RtmpPublish | Kind::RtmpPublishReset => {
            let mut c = RtmpClient::connect_app(server.rtmp_addr, "live")?;
            let sid = c.create_stream()?;
            let name = format!("soak-{n}");
            c.send_command(
                sid,
                "publish",
                5.0,
                amf::V::Null,
                vec![amf::s(&name), amf::s("live")],
            )
            .map_err(|e| format!("send publish: {e}"))?;
            c.wait_for(timeout, "Publish.Start", |m| {
                m.status_code().as_deref() == Some("NetStream.Publish.Start")
            })?;
            for (i, m) in headers.messages.iter().enumerate() {
                c.send(6, i as u32 * 40, m.type_id, sid, &m.payload)
                    .map_err(|e| format!("send media: {e}"))?;
            }
            leave(&c.sock, kind);
        }
        Kind::FlvPlay | Kind::FlvPlayReset => {
            let mut s = FlvStream::open(server.http_addr, &format!("/live/{STEADY}.flv"), timeout)?;
            if s.head.status != 200 {
                return Err(format!("HTTP-FLV answered {}", s.head.status));
            }
            let deadline = Instant::now() + timeout;
            loop {
                match s.next_tag_until(deadline) {
                    Ok(Some(t)) if t.is_video_keyframe() && !t.is_avc_sequence_header() => break,
                    Ok(Some(_)) => {}
                    Ok(None) => return Err("HTTP-FLV ended before a keyframe".into()),
                    Err(e) => return Err(format!("HTTP-FLV: {e}")),
                }
            }
            leave(&s.sock, kind);
        }
        Kind::Api => {
            let r = http_get(server.api_addr, &format!("/stat/channel/live/{STEADY}"))?;
            if r.head.status != 200 {
                return Err(format!("API answered {}", r.head.status));
            }
        }
        Kind::MidHandshake | Kind::MidHandshakeReset => {
            let mut sock = tcp_connect(server.rtmp_addr).map_err(|e| e.to_string())?;
            sock.write_all(&c0c1()[..700]).map_err(|e| e.to_string())?;
            leave(&sock, kind);
        }
        Kind::MidRequest => {
            let mut sock = tcp_connect(server.http_addr).map_err(|e| e.to_string())?;
            sock.write_all(format!("GET /live/{STEADY}.fl").as_bytes())
                .map_err(|e| e.to_string())?;
        }
        Kind::ApiMidRequestReset => {
            let mut sock = tcp_connect(server.api_addr).map_err(|e| e.to_string())?;
            sock.write_all(b"POST /stream/new HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"url\":")
                .map_err(|e| e.to_string())?;
            leave(&sock, kind);
        }
    }
    Ok(())
}
