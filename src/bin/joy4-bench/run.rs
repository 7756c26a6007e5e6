//! One bench run: a publisher thread, a ramp that opens subscribers through a few connector threads,
//! a couple of reader threads that serve every subscriber socket from an epoll set, and the main
//! thread that samples the server every second, prints progress, and ends the run on time.
//!
//! ```text
//! publisher --RTMP--> server ==fan-out==> N subscriber sockets
//!    | send time per (type, timestamp)            | connector threads: connect, handshake, play
//!    v                                            v
//!  SendLog  <---- lookup on arrival ----  reader threads (epoll; skim chunk/tag headers only)
//! ```
//!
//! Measurement window: it opens `settle` after the last subscriber's setup ended (connected or
//! failed) and lasts `duration`. CPU, bytes, frames, latency and the bitrate share are counted inside
//! it; RSS growth compares the server before the first subscriber with the server at its start.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel as channel;
use parking_lot::Mutex;
use serde_json::json;

use crate::report::{self, Histogram, Spread};
use crate::sendlog::SendLog;
use crate::skim::{self, Event, FlvSkimmer, RtmpSkimmer};
use crate::stream::{Source, Synthetic};
use crate::sys;
use crate::target::{self, Target};
use joy4::media::{Packet, PacketKind};
use joy4::rtmp::chunk::RawMessage;
use joy4::rtmp::client::{ClientEvent, ClientOptions, ClientSession, RtmpClient, RtmpUrl};

pub const MAX_SUBSCRIBERS: usize = 10_000;
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Longest ramp accepted (N / ramp rate).
pub const MAX_RAMP: Duration = Duration::from_secs(1800);
const READ_BUF: usize = 256 * 1024;
const THREAD_STACK: usize = 256 * 1024;
/// Reading goes on this long after the window closed, for the messages sent just before.
const DRAIN: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub enum SourceSpec {
    Synthetic(Synthetic),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub publish: RtmpUrl,
    pub play: Target,
    pub subscribers: usize,
    /// Subscribers opened per second.
    pub ramp: f64,
    pub duration: Duration,
    pub warmup: Duration,
    pub settle: Duration,
    pub source: SourceSpec,
    pub pid: Option<u32>,
    /// Subscribers that never set SO_RCVLOWAT, so their arrival times are exact; latency figures
    /// come from them.
    pub probes: usize,
    /// SO_RCVLOWAT for the other subscribers once they have their first keyframe (0 = never).
    pub rcvlowat: usize,
    pub readers: usize,
    pub connectors: usize,
    pub timeout: Duration,
    pub label: String,
    pub quiet: bool,
}

impl Config {
    /// Bounds every run respects, whoever built the config.
    pub fn check(&self) -> Result<(), String> {
        if self.subscribers == 0 || self.subscribers > MAX_SUBSCRIBERS {
            return Err(format!(
                "subscribers must be 1..={MAX_SUBSCRIBERS}, not {}",
                self.subscribers
            ));
        }
        if !(self.ramp.is_finite() && self.ramp > 0.0) {
            return Err("ramp must be a positive number of subscribers per second".into());
        }
        if Duration::from_secs_f64(self.subscribers as f64 / self.ramp) > MAX_RAMP {
            return Err(format!(
                "the ramp would take longer than {} s",
                MAX_RAMP.as_secs()
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err(format!(
                "duration must be above 0 and at most {} s",
                MAX_DURATION.as_secs()
            ));
        }
        if self.warmup > Duration::from_secs(120) || self.settle > Duration::from_secs(60) {
            return Err("warmup is at most 120 s and settle at most 60 s".into());
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(120) {
            return Err("timeout must be above 0 and at most 120 s".into());
        }
        if self.readers == 0 || self.readers > 16 || self.connectors == 0 || self.connectors > 64 {
            return Err("readers must be 1..=16 and connectors 1..=64".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------
// State shared by the threads
// ---------------------------------------------------------------------------------------------------

/// Bytes (or frames) counted before the window opened and before it closed: their difference is the
/// amount inside the window, without any thread having to take a snapshot at the right moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowCount {
    pub total: u64,
    pub before_start: u64,
    pub before_end: u64,
}

impl WindowCount {
    fn add(&mut self, t: u64, n: u64, w: (u64, u64)) {
        self.total += n;
        if t < w.0 {
            self.before_start += n;
        }
        if t < w.1 {
            self.before_end += n;
        }
    }

    pub fn in_window(&self) -> u64 {
        self.before_end.saturating_sub(self.before_start)
    }
}

#[derive(Default)]
struct Latency {
    /// Probe samples of the current second (progress line); cleared by the main thread.
    interval: Histogram,
    /// Probe samples inside the window: the reported figure.
    probes: Histogram,
    /// Samples of every subscriber inside the window, SO_RCVLOWAT batching included.
    all: Histogram,
}

struct Shared {
    epoch: Instant,
    log: SendLog,
    window_start: AtomicU64,
    window_end: AtomicU64,
    stop: AtomicBool,
    attempted: AtomicUsize,
    connected: AtomicUsize,
    failed: AtomicUsize,
    dropped: AtomicUsize,
    rx_bytes: AtomicU64,
    latency: Mutex<Latency>,
    published: Mutex<WindowCount>,
    published_frames: Mutex<WindowCount>,
    publisher_error: Mutex<Option<String>>,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn window(&self) -> (u64, u64) {
        (
            self.window_start.load(Ordering::Acquire),
            self.window_end.load(Ordering::Acquire),
        )
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

// ---------------------------------------------------------------------------------------------------
// Subscribers
// ---------------------------------------------------------------------------------------------------

/// What one subscriber went through; all times in µs since the bench started.
#[derive(Debug, Clone, Default)]
pub struct SubStats {
    pub id: usize,
    pub probe: bool,
    pub start_us: u64,
    /// When the play (RTMP `play`, HTTP `GET`) request went out.
    pub request_us: Option<u64>,
    pub connected_us: Option<u64>,
    pub first_media_us: Option<u64>,
    pub first_key_us: Option<u64>,
    pub ended_us: Option<u64>,
    pub error: Option<String>,
    /// Audio and video payload bytes.
    pub bytes: WindowCount,
    pub frames: WindowCount,
    pub wire_bytes: u64,
    /// Live messages whose send time was found, messages sent before this subscriber asked to play
    /// (replayed from a cache), and messages not found in the send log.
    pub matched: u64,
    pub replayed: u64,
    pub unmatched: u64,
}

enum Proto {
    Rtmp(RtmpSkimmer),
    Http(FlvSkimmer),
}

struct Sub {
    stats: SubStats,
    proto: Proto,
    stream: TcpStream,
    /// RTMP: the project's client command flow (connect, createStream, play; pings and
    /// acknowledgements). It sees every message but audio, video and data, which the skimmer skips.
    session: Option<ClientSession>,
    /// Bytes the session queued (commands, acknowledgements, pongs), waiting to be written.
    out: Vec<u8>,
    setting_up: bool,
    play_started: bool,
    http_status: Option<u16>,
    want_lowat: bool,
    lowat_set: bool,
}

struct LatSample {
    us: u64,
    probe: bool,
    in_window: bool,
}

impl Sub {
    fn new(id: usize, probe: bool, start_us: u64, stream: TcpStream, target: &Target) -> Sub {
        let (proto, session) = match target {
            Target::Rtmp(url) => (
                Proto::Rtmp(RtmpSkimmer::new()),
                Some(ClientSession::for_url(url)),
            ),
            Target::Http { .. } => (Proto::Http(FlvSkimmer::new()), None),
        };
        Sub {
            stats: SubStats {
                id,
                probe,
                start_us,
                ..SubStats::default()
            },
            proto,
            stream,
            session,
            out: Vec::new(),
            setting_up: true,
            play_started: false,
            http_status: None,
            want_lowat: false,
            lowat_set: false,
        }
    }

    /// Take in bytes read at `now`.
    fn ingest(
        &mut self,
        data: &[u8],
        now: u64,
        shared: &Shared,
        w: (u64, u64),
        lat: &mut Vec<LatSample>,
    ) -> Result<(), String> {
        self.stats.wire_bytes += data.len() as u64;
        let Sub {
            stats,
            proto,
            session,
            http_status,
            want_lowat,
            ..
        } = self;
        let mut session_error: Option<String> = None;
        let mut on_event = |e: Event<'_>| match e {
            Event::Media {
                type_id,
                timestamp,
                len,
                head,
            } => {
                if type_id != 8 && type_id != 9 {
                    return;
                }
                stats.first_media_us.get_or_insert(now);
                let is_header = match type_id {
                    9 => joy4::media::codec::video_is_sequence_header(head),
                    _ => joy4::media::codec::audio_is_sequence_header(head),
                };
                if type_id == 9 && stats.first_key_us.is_none() && skim::is_video_keyframe(head) {
                    stats.first_key_us = Some(now);
                    *want_lowat = true;
                }
                let sent = if is_header {
                    None
                } else {
                    shared.log.lookup(type_id, timestamp)
                };
                // A message counts in the window when it was *sent* in it (latency does not shift
                // frames across the window's edges); by arrival when its send time is unknown.
                let t = sent.unwrap_or(now);
                stats.bytes.add(t, len as u64, w);
                stats.frames.add(t, 1, w);
                if is_header {
                    return;
                }
                match sent {
                    Some(sent) if sent >= stats.request_us.unwrap_or(u64::MAX) => {
                        stats.matched += 1;
                        let in_window = now >= w.0 && now < w.1;
                        if in_window || stats.probe {
                            lat.push(LatSample {
                                us: now.saturating_sub(sent),
                                probe: stats.probe,
                                in_window,
                            });
                        }
                    }
                    Some(_) => stats.replayed += 1,
                    None => stats.unmatched += 1,
                }
            }
            Event::Control {
                type_id,
                stream_id,
                timestamp,
                payload,
            } => {
                if let Some(session) = session.as_mut() {
                    let raw = RawMessage {
                        csid: 0,
                        timestamp,
                        type_id,
                        stream_id,
                        payload: payload.to_vec(),
                    };
                    if let Err(e) = session.handle(raw) {
                        session_error.get_or_insert(e.to_string());
                    }
                    // createStream answered: the session has just queued `play`.
                    if stats.request_us.is_none() && session.stream_id() != 0 {
                        stats.request_us = Some(now);
                    }
                }
            }
            Event::HttpStatus(code) => *http_status = Some(code),
        };
        let result = match proto {
            Proto::Rtmp(s) => s.feed(data, &mut on_event),
            Proto::Http(s) => s.feed(data, &mut on_event),
        };
        result.map_err(|e| e.to_string())?;
        if let Some(e) = session_error {
            return Err(e);
        }
        if let Some(code) = self.http_status {
            if code != 200 {
                return Err(format!("HTTP status {code}"));
            }
        }
        if let Some(session) = self.session.as_mut() {
            session.bytes_received(data.len());
            while let Some(event) = session.poll_event() {
                match event {
                    ClientEvent::Connected if self.setting_up => {
                        session.play().map_err(|e| format!("play: {e}"))?
                    }
                    ClientEvent::PlayStarted { .. } => self.play_started = true,
                    ClientEvent::Failed { code, description } => {
                        return Err(format!("refused: {code} {description}"))
                    }
                    ClientEvent::StreamEnded { code } => return Err(format!("ended: {code}")),
                    _ => {}
                }
            }
            let out = session.output();
            if !out.is_empty() {
                self.out.extend_from_slice(out);
                out.clear();
            }
        }
        Ok(())
    }
}

/// Blocking setup of one subscriber: connect, then RTMP handshake/connect/createStream/play or an
/// HTTP GET, until the server has said yes.
fn setup_subscriber(
    id: usize,
    probe: bool,
    cfg: &Config,
    addr: SocketAddr,
    shared: &Shared,
) -> Result<Sub, Box<SubStats>> {
    let start_us = shared.now_us();
    let deadline = Instant::now() + cfg.timeout;
    let fail = |stats: SubStats, e: String| {
        let mut stats = Box::new(stats);
        stats.error = Some(e);
        stats.ended_us = Some(shared.now_us());
        stats
    };
    let base = SubStats {
        id,
        probe,
        start_us,
        ..SubStats::default()
    };
    let stream = match target::connect(addr, cfg.timeout) {
        Ok(s) => s,
        Err(e) => return Err(fail(base, format!("connect: {e}"))),
    };
    let mut sub = Sub::new(id, probe, start_us, stream, &cfg.play);
    let result = match &cfg.play {
        Target::Rtmp(_) => rtmp_play(&mut sub, shared, deadline),
        Target::Http { .. } => http_play(&mut sub, cfg, shared, deadline),
    };
    match result {
        Ok(()) => {
            sub.setting_up = false;
            sub.stats.connected_us = Some(shared.now_us());
            Ok(sub)
        }
        Err(e) => Err(fail(sub.stats, e)),
    }
}

/// Read once (blocking, with the socket's timeout) and ingest; flush replies.
fn pump(sub: &mut Sub, shared: &Shared, buf: &mut [u8], deadline: Instant) -> Result<(), String> {
    if Instant::now() >= deadline {
        return Err("setup timed out".into());
    }
    let n = match sub.stream.read(buf) {
        Ok(0) => return Err("closed by the server during setup".into()),
        Ok(n) => n,
        Err(e) if sys_timeout(&e) => return Err("setup timed out".into()),
        Err(e) => return Err(format!("read: {e}")),
    };
    let now = shared.now_us();
    let mut lat = Vec::new();
    sub.ingest(&buf[..n], now, shared, shared.window(), &mut lat)?;
    record_latency(shared, &lat);
    flush(sub).map_err(|e| format!("write: {e}"))
}

fn sys_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn flush(sub: &mut Sub) -> io::Result<()> {
    if !sub.out.is_empty() {
        let out = std::mem::take(&mut sub.out);
        sub.stream.write_all(&out)?;
    }
    Ok(())
}

fn rtmp_play(sub: &mut Sub, shared: &Shared, deadline: Instant) -> Result<(), String> {
    let leftover =
        target::handshake(&mut sub.stream, deadline).map_err(|e| format!("handshake: {e}"))?;
    if let Some(session) = sub.session.as_mut() {
        session.connect();
        sub.out.append(session.output());
    }
    let mut lat = Vec::new();
    sub.ingest(
        &leftover,
        shared.now_us(),
        shared,
        shared.window(),
        &mut lat,
    )?;
    flush(sub).map_err(|e| format!("write: {e}"))?;
    // The session answers `connect` with createStream + play; done at NetStream.Play.Start.
    let mut buf = vec![0u8; 64 * 1024];
    while !sub.play_started {
        pump(sub, shared, &mut buf, deadline)?;
    }
    Ok(())
}

fn http_play(
    sub: &mut Sub,
    cfg: &Config,
    shared: &Shared,
    deadline: Instant,
) -> Result<(), String> {
    let Target::Http { path, .. } = &cfg.play else {
        return Err("not an HTTP target".into());
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: joy4-bench\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        cfg.play.authority()
    );
    sub.stats.request_us = Some(shared.now_us());
    sub.stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = vec![0u8; 16 * 1024];
    while sub.http_status.is_none() {
        pump(sub, shared, &mut buf, deadline)?;
    }
    Ok(())
}

fn record_latency(shared: &Shared, lat: &[LatSample]) {
    if lat.is_empty() {
        return;
    }
    let mut l = shared.latency.lock();
    for s in lat {
        if s.probe {
            l.interval.record(s.us);
        }
        if s.in_window {
            l.all.record(s.us);
            if s.probe {
                l.probes.record(s.us);
            }
        }
    }
}

/// One reader thread: its epoll set, the subscribers handed to it, and the stats of those that ended.
struct Reader {
    epoll: sys::Epoll,
    pending: Mutex<Vec<Sub>>,
}

fn reader_loop(reader: Arc<Reader>, shared: Arc<Shared>, cfg: Arc<Config>) -> Vec<SubStats> {
    let mut subs: Vec<Option<Sub>> = Vec::new();
    let mut done: Vec<SubStats> = Vec::new();
    let mut events = sys::Events::with_capacity(1024);
    let mut buf = vec![0u8; READ_BUF];
    let mut lat: Vec<LatSample> = Vec::new();
    let mut rx = 0u64;
    let end = |sub: Sub, reason: String, now: u64, done: &mut Vec<SubStats>, r: &Reader| {
        r.epoll.delete(sub.stream.as_raw_fd());
        let mut stats = sub.stats;
        stats.ended_us = Some(now);
        stats.error = Some(reason);
        done.push(stats);
    };
    while !shared.stopping() {
        if let Err(e) = reader.epoll.wait(&mut events, 100) {
            log::error!("epoll_wait: {e}");
            break;
        }
        for sub in reader.pending.lock().drain(..) {
            let id = sub.stats.id;
            if subs.len() <= id {
                subs.resize_with(id + 1, || None);
            }
            subs[id] = Some(sub);
        }
        let w = shared.window();
        for token in events.tokens() {
            let id = token as usize;
            let Some(slot) = subs.get_mut(id) else {
                continue;
            };
            let Some(sub) = slot.as_mut() else {
                continue;
            };
            let outcome = match sub.stream.read(&mut buf) {
                Ok(0) => Err("closed by the server".to_string()),
                Ok(n) => {
                    rx += n as u64;
                    let now = shared.now_us();
                    sub.ingest(&buf[..n], now, &shared, w, &mut lat)
                        .and_then(|()| write_replies(sub))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
                Err(e) => Err(format!("read: {e}")),
            };
            match outcome {
                Ok(()) => {
                    if sub.want_lowat && !sub.lowat_set && !sub.stats.probe && cfg.rcvlowat > 0 {
                        sub.lowat_set = true;
                        if let Err(e) = sys::set_rcvlowat(sub.stream.as_raw_fd(), cfg.rcvlowat) {
                            log::warn!("SO_RCVLOWAT: {e}");
                        }
                    }
                }
                Err(reason) => {
                    let sub = slot.take().expect("present");
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    end(sub, reason, shared.now_us(), &mut done, &reader);
                }
            }
        }
        if rx > 0 {
            shared.rx_bytes.fetch_add(rx, Ordering::Relaxed);
            rx = 0;
        }
        record_latency(&shared, &lat);
        lat.clear();
    }
    // Stopped: subscribers still connected end here (not counted as dropped).
    let now = shared.now_us();
    for sub in reader.pending.lock().drain(..) {
        done.push(finish(sub, now, &reader));
    }
    for sub in subs.into_iter().flatten() {
        done.push(finish(sub, now, &reader));
    }
    done
}

fn finish(sub: Sub, now: u64, reader: &Reader) -> SubStats {
    reader.epoll.delete(sub.stream.as_raw_fd());
    let mut stats = sub.stats;
    stats.ended_us = Some(now);
    stats
}

fn write_replies(sub: &mut Sub) -> Result<(), String> {
    if sub.out.is_empty() {
        return Ok(());
    }
    // Non-blocking: acknowledgements and pongs are tiny; a full socket buffer just loses one.
    match sub.stream.write(&sub.out) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(format!("write: {e}")),
    }
    sub.out.clear();
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Publisher
// ---------------------------------------------------------------------------------------------------

/// Connect, publish, and send the source in real time until stopped (the project's RTMP client;
/// it answers pings and acknowledges between writes).
fn publisher(
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    mut source: Source,
    ready: channel::Sender<Result<(), String>>,
) {
    let options = ClientOptions {
        setup_timeout: cfg.timeout,
        read_timeout: None,
        write_timeout: Duration::from_secs(10),
    };
    let setup = RtmpClient::connect_with(&cfg.publish, options).and_then(|mut c| {
        c.publish()?;
        Ok(c)
    });
    let mut client = match setup {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(format!("publisher ({}): {e}", cfg.publish)));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let start = Instant::now();
    let mut first_ts: Option<u32> = None;
    while !shared.stopping() {
        let msg = source.next_msg();
        let kind = match msg.type_id {
            8 => PacketKind::Audio,
            9 => PacketKind::Video,
            _ => PacketKind::Data,
        };
        let is_media = kind != PacketKind::Data;
        if is_media {
            let base = *first_ts.get_or_insert(msg.timestamp);
            let due = start + Duration::from_millis(u64::from(msg.timestamp.wrapping_sub(base)));
            loop {
                let now = Instant::now();
                if now >= due || shared.stopping() {
                    break;
                }
                thread::sleep((due - now).min(Duration::from_millis(100)));
            }
            if shared.stopping() {
                break;
            }
        }
        let len = msg.body.len() as u64;
        let packet = Packet {
            kind,
            timestamp: msg.timestamp,
            body: msg.body,
        };
        let now = shared.now_us();
        if is_media {
            shared.log.record(msg.type_id, msg.timestamp, now);
        }
        if let Err(e) = client.write_packet(&packet) {
            if !shared.stopping() {
                *shared.publisher_error.lock() = Some(format!("publisher: {e}"));
            }
            break;
        }
        if is_media {
            let w = shared.window();
            shared.published.lock().add(now, len, w);
            shared.published_frames.lock().add(now, 1, w);
        }
    }
    client.close();
}

// ---------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------

/// What `run` hands back: the JSON document and the table for people.
pub struct Outcome {
    pub json: serde_json::Value,
    pub table: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct ServerSample {
    t_us: u64,
    proc_: sys::ProcSample,
}

fn sample(pid: Option<u32>, shared: &Shared) -> Option<ServerSample> {
    let pid = pid?;
    let p = sys::sample_proc(pid).ok()?;
    Some(ServerSample {
        t_us: shared.now_us(),
        proc_: p,
    })
}

pub fn run(cfg: Config) -> Result<Outcome, String> {
    cfg.check()?;
    let cfg = Arc::new(cfg);
    let nofile = joy4::net::raise_fd_limit().ok();
    if let Some((soft, _)) = nofile {
        if (soft as usize) < cfg.subscribers + 64 {
            eprintln!(
                "joy4-bench: warning: open-file limit {soft} is below {} subscribers + 64",
                cfg.subscribers
            );
        }
    }
    let source = match &cfg.source {
        SourceSpec::Synthetic(p) => Source::synthetic(*p),
        SourceSpec::File(path) => {
            let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Source::from_flv(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    let play_addr = cfg
        .play
        .resolve()
        .map_err(|e| format!("play URL host {}: {e}", cfg.play.host()))?;
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        log: SendLog::new(),
        window_start: AtomicU64::new(u64::MAX),
        window_end: AtomicU64::new(u64::MAX),
        stop: AtomicBool::new(false),
        attempted: AtomicUsize::new(0),
        connected: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        dropped: AtomicUsize::new(0),
        rx_bytes: AtomicU64::new(0),
        latency: Mutex::new(Latency::default()),
        published: Mutex::new(WindowCount::default()),
        published_frames: Mutex::new(WindowCount::default()),
        publisher_error: Mutex::new(None),
    });
    let ticks = sys::clock_ticks_per_second();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);

    // Publisher first; subscribers only once it is publishing and the warm-up has passed.
    let (ready_tx, ready_rx) = channel::bounded(1);
    let publisher_thread = {
        let (cfg, shared) = (cfg.clone(), shared.clone());
        thread::Builder::new()
            .name("bench-publisher".into())
            .stack_size(THREAD_STACK)
            .spawn(move || publisher(cfg, shared, source, ready_tx))
            .map_err(|e| e.to_string())?
    };
    match ready_rx.recv_timeout(cfg.timeout + Duration::from_secs(1)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            shared.stop.store(true, Ordering::Release);
            let _ = publisher_thread.join();
            return Err(e);
        }
        Err(_) => {
            shared.stop.store(true, Ordering::Release);
            return Err("the publisher did not get going in time".into());
        }
    }
    progress(&cfg, &shared, "warmup");
    sleep_while(&shared, cfg.warmup);
    if let Some(e) = shared.publisher_error.lock().clone() {
        shared.stop.store(true, Ordering::Release);
        let _ = publisher_thread.join();
        return Err(e);
    }

    let before = sample(cfg.pid, &shared);
    let self_before = sys::sample_self().ok();

    // Readers.
    let mut readers = Vec::new();
    let mut reader_threads = Vec::new();
    for i in 0..cfg.readers {
        let r = Arc::new(Reader {
            epoll: sys::Epoll::new().map_err(|e| format!("epoll: {e}"))?,
            pending: Mutex::new(Vec::new()),
        });
        readers.push(r.clone());
        let (shared, cfg) = (shared.clone(), cfg.clone());
        reader_threads.push(
            thread::Builder::new()
                .name(format!("bench-reader-{i}"))
                .stack_size(THREAD_STACK)
                .spawn(move || reader_loop(r, shared, cfg))
                .map_err(|e| e.to_string())?,
        );
    }

    // Connectors, fed by the ramp.
    let (ramp_tx, ramp_rx) = channel::unbounded::<usize>();
    let probe_every = if cfg.rcvlowat == 0 || cfg.probes >= cfg.subscribers {
        1
    } else {
        cfg.subscribers.div_ceil(cfg.probes.max(1))
    };
    let mut connector_threads = Vec::new();
    for i in 0..cfg.connectors.min(cfg.subscribers) {
        let (rx, shared, cfg, readers) = (
            ramp_rx.clone(),
            shared.clone(),
            cfg.clone(),
            readers.clone(),
        );
        connector_threads.push(
            thread::Builder::new()
                .name(format!("bench-connect-{i}"))
                .stack_size(THREAD_STACK)
                .spawn(move || {
                    let mut failed = Vec::new();
                    for id in rx {
                        if shared.stopping() {
                            break;
                        }
                        let probe = id % probe_every == 0;
                        match setup_subscriber(id, probe, &cfg, play_addr, &shared) {
                            Ok(sub) => {
                                let fd = sub.stream.as_raw_fd();
                                if let Err(e) = sub.stream.set_nonblocking(true) {
                                    log::warn!("set_nonblocking: {e}");
                                }
                                let r = &readers[id % readers.len()];
                                r.pending.lock().push(sub);
                                if let Err(e) = r.epoll.add(fd, id as u64) {
                                    log::error!("epoll add: {e}");
                                }
                                shared.connected.fetch_add(1, Ordering::AcqRel);
                            }
                            Err(stats) => {
                                shared.failed.fetch_add(1, Ordering::AcqRel);
                                failed.push(*stats);
                            }
                        }
                    }
                    failed
                })
                .map_err(|e| e.to_string())?,
        );
    }
    drop(ramp_rx);
    let ramp_start = Instant::now();
    let ramp_thread = {
        let (shared, n, rate) = (shared.clone(), cfg.subscribers, cfg.ramp);
        thread::Builder::new()
            .name("bench-ramp".into())
            .stack_size(THREAD_STACK)
            .spawn(move || {
                for id in 0..n {
                    let due = ramp_start + Duration::from_secs_f64(id as f64 / rate);
                    while Instant::now() < due && !shared.stopping() {
                        thread::sleep((due - Instant::now()).min(Duration::from_millis(50)));
                    }
                    if shared.stopping() {
                        break;
                    }
                    shared.attempted.fetch_add(1, Ordering::AcqRel);
                    if ramp_tx.send(id).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| e.to_string())?
    };

    // Main loop: one progress line a second; open and close the window.
    let ramp_limit = ramp_start
        + Duration::from_secs_f64(cfg.subscribers as f64 / cfg.ramp)
        + cfg.timeout
        + Duration::from_secs(5);
    let mut at_start: Option<ServerSample> = None;
    let mut self_at_start: Option<sys::ProcSample> = None;
    let mut at_end: Option<ServerSample> = None;
    let mut self_at_end: Option<sys::ProcSample> = None;
    let mut window_opened = false;
    let mut window_closed = false;
    let mut connected_at_start = 0usize;
    let mut max_rss = before.map(|s| s.proc_.rss_kib).unwrap_or(0);
    let mut max_threads = 0u64;
    let mut timeline = Vec::new();
    let mut last_tick = Instant::now();
    let mut last_rx = 0u64;
    let mut last_cpu = before;
    let mut next_tick = Instant::now() + Duration::from_secs(1);
    let mut ramp_ended_us: Option<u64> = None;
    while !window_closed {
        // Wake for the next tick or the window's next edge, whichever comes first.
        let (w0, w1) = shared.window();
        let edge = if !window_opened {
            w0
        } else if self_at_end.is_none() {
            w1
        } else {
            w1 + DRAIN.as_micros() as u64
        };
        let mut wake = next_tick;
        if edge != u64::MAX {
            let at = shared.epoch + Duration::from_micros(edge);
            wake = wake.min(at);
        }
        let now = Instant::now();
        if wake > now {
            thread::sleep(wake - now);
        }
        let now_us = shared.now_us();
        if w0 == u64::MAX {
            let settled = shared.attempted.load(Ordering::Acquire) == cfg.subscribers
                && shared.connected.load(Ordering::Acquire) + shared.failed.load(Ordering::Acquire)
                    == cfg.subscribers;
            if settled || Instant::now() >= ramp_limit {
                ramp_ended_us = Some(now_us);
                let start = now_us + cfg.settle.as_micros() as u64;
                shared
                    .window_end
                    .store(start + cfg.duration.as_micros() as u64, Ordering::Release);
                shared.window_start.store(start, Ordering::Release);
            }
        }
        let (w0, w1) = shared.window();
        if !window_opened && now_us >= w0 {
            window_opened = true;
            at_start = sample(cfg.pid, &shared);
            self_at_start = sys::sample_self().ok();
            connected_at_start =
                shared.connected.load(Ordering::Acquire) - shared.dropped.load(Ordering::Acquire);
        }
        if window_opened && now_us >= w1 && at_end.is_none() && self_at_end.is_none() {
            at_end = sample(cfg.pid, &shared);
            self_at_end = sys::sample_self().ok();
        }
        // Messages sent just before the window closed are still on their way: keep reading a little.
        if window_opened && now_us >= w1 + DRAIN.as_micros() as u64 {
            window_closed = true;
        }
        if Instant::now() >= next_tick {
            next_tick += Duration::from_secs(1);
            let s = sample(cfg.pid, &shared);
            if let Some(s) = s {
                max_rss = max_rss.max(s.proc_.rss_kib);
                max_threads = max_threads.max(s.proc_.threads);
            }
            let dt = last_tick.elapsed().as_secs_f64();
            last_tick = Instant::now();
            let rx = shared.rx_bytes.load(Ordering::Relaxed);
            let rx_mbps = (rx - last_rx) as f64 * 8.0 / 1e6 / dt.max(1e-3);
            last_rx = rx;
            let cpu_pct = match (last_cpu, s) {
                (Some(a), Some(b)) if b.t_us > a.t_us => Some(
                    report::ticks_to_seconds(b.proc_.cpu_ticks - a.proc_.cpu_ticks, ticks) * 1e6
                        / (b.t_us - a.t_us) as f64
                        * 100.0,
                ),
                _ => None,
            };
            if s.is_some() {
                last_cpu = s;
            }
            let (p50, p99) = {
                let mut l = shared.latency.lock();
                let r = (
                    l.interval.percentile_us(50.0),
                    l.interval.percentile_us(99.0),
                );
                l.interval.clear();
                r
            };
            let phase = if w0 == u64::MAX {
                "ramp"
            } else if now_us < w0 {
                "settle"
            } else {
                "measure"
            };
            let t = now_us as f64 / 1e6;
            timeline.push(json!({
                "t": report::round3(t),
                "phase": phase,
                "attempted": shared.attempted.load(Ordering::Relaxed),
                "connected": shared.connected.load(Ordering::Relaxed),
                "failed": shared.failed.load(Ordering::Relaxed),
                "dropped": shared.dropped.load(Ordering::Relaxed),
                "rx_mbit_s": report::round3(rx_mbps),
                "latency_p50_ms": p50.map(|u| report::round3(u as f64 / 1000.0)),
                "latency_p99_ms": p99.map(|u| report::round3(u as f64 / 1000.0)),
                "server_cpu_percent": cpu_pct.map(report::round3),
                "server_rss_kib": s.map(|s| s.proc_.rss_kib),
            }));
            if !cfg.quiet {
                let ms = |u: Option<u64>| match u {
                    Some(u) => format!("{:.1}", u as f64 / 1000.0),
                    None => "-".into(),
                };
                let server = match s {
                    Some(s) => format!(
                        " | server cpu {} rss {:.1} MiB",
                        cpu_pct.map(|c| format!("{c:.1}%")).unwrap_or("-".into()),
                        s.proc_.rss_kib as f64 / 1024.0
                    ),
                    None => String::new(),
                };
                eprintln!(
                    "[{t:6.1}s] {phase:<7} subs {}/{} ok, {} failed, {} dropped | rx {rx_mbps:.1} Mbit/s | latency p50 {} p99 {} ms{server}",
                    shared.connected.load(Ordering::Relaxed),
                    cfg.subscribers,
                    shared.failed.load(Ordering::Relaxed),
                    shared.dropped.load(Ordering::Relaxed),
                    ms(p50),
                    ms(p99),
                );
            }
        }
    }
    let hwm = sample(cfg.pid, &shared).map(|s| s.proc_.hwm_kib);

    // Stop everything and collect.
    shared.stop.store(true, Ordering::Release);
    let _ = ramp_thread.join();
    let mut all: Vec<SubStats> = Vec::new();
    for t in connector_threads {
        all.extend(t.join().unwrap_or_default());
    }
    for t in reader_threads {
        all.extend(t.join().unwrap_or_default());
    }
    let _ = publisher_thread.join();
    all.sort_by_key(|s| s.id);

    let (w0, w1) = shared.window();
    let window_s = (w1 - w0) as f64 / 1e6;
    let ctx = Figures {
        cfg: &cfg,
        shared: &shared,
        subs: &all,
        w0,
        w1,
        window_s,
        ticks,
        before,
        at_start,
        at_end,
        hwm,
        max_rss,
        max_threads,
        self_before,
        self_at_start,
        self_at_end,
        connected_at_start,
        ramp_ended_us,
        started_unix,
        timeline,
        nofile,
    };
    let json = ctx.json();
    let table = report::table(&json);
    Ok(Outcome { json, table })
}

fn sleep_while(shared: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !shared.stopping() {
        thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
    }
}

fn progress(cfg: &Config, shared: &Shared, what: &str) {
    if !cfg.quiet {
        eprintln!(
            "[{:6.1}s] {what:<7} publishing to {}",
            shared.now_us() as f64 / 1e6,
            cfg.publish
        );
    }
}

struct Figures<'a> {
    cfg: &'a Config,
    shared: &'a Shared,
    subs: &'a [SubStats],
    w0: u64,
    w1: u64,
    window_s: f64,
    ticks: u64,
    before: Option<ServerSample>,
    at_start: Option<ServerSample>,
    at_end: Option<ServerSample>,
    hwm: Option<u64>,
    max_rss: u64,
    max_threads: u64,
    self_before: Option<sys::ProcSample>,
    self_at_start: Option<sys::ProcSample>,
    self_at_end: Option<sys::ProcSample>,
    connected_at_start: usize,
    ramp_ended_us: Option<u64>,
    started_unix: u64,
    timeline: Vec<serde_json::Value>,
    nofile: Option<(u64, u64)>,
}

impl Figures<'_> {
    fn json(&self) -> serde_json::Value {
        let cfg = self.cfg;
        let us_s = |u: u64| u as f64 / 1e6;
        let connected: Vec<&SubStats> = self
            .subs
            .iter()
            .filter(|s| s.connected_us.is_some())
            .collect();
        let failed: Vec<&SubStats> = self
            .subs
            .iter()
            .filter(|s| s.connected_us.is_none())
            .collect();
        // Dropped: connected, then ended with an error before the window closed.
        let dropped: Vec<&SubStats> = connected
            .iter()
            .copied()
            .filter(|s| s.error.is_some() && s.ended_us.is_some_and(|e| e < self.w1))
            .collect();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for s in failed.iter().chain(dropped.iter()) {
            *reasons
                .entry(s.error.clone().unwrap_or_else(|| "not started".into()))
                .or_default() += 1;
        }
        let published = *self.shared.published.lock();
        let published_frames = *self.shared.published_frames.lock();
        let pub_window = published.in_window();
        let spread = |v: Vec<f64>| Spread::of(v).map(|s| s.to_json());
        let shares: Vec<f64> = connected
            .iter()
            .filter_map(|s| report::bitrate_share(s.bytes.in_window(), pub_window))
            .collect();
        let below_95 = shares.iter().filter(|&&x| x < 0.95).count();
        // Who missed frames of the window, for a look at why (first 20).
        let published_in_window = published_frames.in_window();
        let short: Vec<serde_json::Value> = connected
            .iter()
            .filter(|s| s.frames.in_window() < published_in_window)
            .take(20)
            .map(|s| {
                json!({
                    "id": s.id, "probe": s.probe, "frames": s.frames.in_window(),
                    "bytes": s.bytes.in_window(), "ended_s": s.ended_us.map(|u| report::round3(us_s(u))),
                    "error": s.error,
                })
            })
            .collect();
        let short_count = connected
            .iter()
            .filter(|s| s.frames.in_window() < published_in_window)
            .count();
        let ms_since = |from: u64, to: Option<u64>| to.map(|t| t.saturating_sub(from) as f64 / 1e3);
        let ttfb: Vec<f64> = connected
            .iter()
            .filter_map(|s| ms_since(s.start_us, s.first_media_us))
            .collect();
        let ttfk: Vec<f64> = connected
            .iter()
            .filter_map(|s| ms_since(s.start_us, s.first_key_us))
            .collect();
        let setup: Vec<f64> = connected
            .iter()
            .filter_map(|s| ms_since(s.start_us, s.connected_us))
            .collect();
        let sub_seconds: f64 = connected
            .iter()
            .map(|s| {
                report::overlap(
                    us_s(s.connected_us.unwrap_or(0)),
                    us_s(s.ended_us.unwrap_or(self.w1).min(self.w1)),
                    us_s(self.w0),
                    us_s(self.w1),
                )
            })
            .sum();
        let (matched, replayed, unmatched) = self.subs.iter().fold((0, 0, 0), |a, s| {
            (a.0 + s.matched, a.1 + s.replayed, a.2 + s.unmatched)
        });
        let latency = self.shared.latency.lock();
        let probes = connected.iter().filter(|s| s.probe).count();

        let server = match (self.before, self.at_start, self.at_end) {
            (Some(b), Some(s), Some(e)) => {
                let cpu = report::ticks_to_seconds(
                    e.proc_.cpu_ticks.saturating_sub(s.proc_.cpu_ticks),
                    self.ticks,
                );
                let secs = (e.t_us - s.t_us) as f64 / 1e6;
                json!({
                    "pid": cfg.pid,
                    "cpu_seconds": report::round3(cpu),
                    "cpu_percent": report::rate_per_second(cpu * 100.0, secs).map(report::round3),
                    "cpu_us_per_subscriber_second":
                        report::cpu_us_per_subscriber_second(cpu, sub_seconds).map(report::round3),
                    "rss_before_kib": b.proc_.rss_kib,
                    "rss_after_ramp_kib": s.proc_.rss_kib,
                    "rss_end_kib": e.proc_.rss_kib,
                    "rss_growth_per_subscriber_kib": report::rss_growth_per_subscriber_kib(
                        b.proc_.rss_kib, s.proc_.rss_kib, self.connected_at_start).map(report::round3),
                    "peak_rss_kib": self.hwm,
                    "max_sampled_rss_kib": self.max_rss,
                    "max_threads": self.max_threads,
                })
            }
            _ => json!({"pid": cfg.pid}),
        };
        let bench = match (self.self_before, self.self_at_start, self.self_at_end) {
            (Some(b), Some(s), Some(e)) => {
                let cpu =
                    report::ticks_to_seconds(e.cpu_ticks.saturating_sub(s.cpu_ticks), self.ticks);
                json!({
                    "cpu_seconds": report::round3(cpu),
                    "cpu_us_per_subscriber_second":
                        report::cpu_us_per_subscriber_second(cpu, sub_seconds).map(report::round3),
                    "rss_before_kib": b.rss_kib,
                    "rss_end_kib": e.rss_kib,
                    "threads": e.threads,
                })
            }
            _ => json!({}),
        };
        let source = match &cfg.source {
            SourceSpec::Synthetic(p) => json!({"synthetic": {
                "kbps": p.kbps, "gop_s": p.gop_s, "fps": p.fps}}),
            SourceSpec::File(path) => json!({"file": path.display().to_string()}),
        };
        json!({
            "tool": "joy4-bench",
            "version": env!("CARGO_PKG_VERSION"),
            "label": cfg.label,
            "started_unix": self.started_unix,
            "config": {
                "publish_url": cfg.publish.to_string(),
                "play_url": cfg.play.to_string(),
                "protocol": cfg.play.protocol(),
                "subscribers": cfg.subscribers,
                "ramp_per_second": cfg.ramp,
                "duration_s": cfg.duration.as_secs_f64(),
                "warmup_s": cfg.warmup.as_secs_f64(),
                "settle_s": cfg.settle.as_secs_f64(),
                "source": source,
                "probes": cfg.probes,
                "rcvlowat": cfg.rcvlowat,
                "readers": cfg.readers,
                "connectors": cfg.connectors,
                "timeout_s": cfg.timeout.as_secs_f64(),
                "nofile_limit": self.nofile.map(|(s, h)| json!({"soft": s, "hard": h})),
            },
            "window": {
                "ramp_ended_s": self.ramp_ended_us.map(|u| report::round3(us_s(u))),
                "start_s": report::round3(us_s(self.w0)),
                "end_s": report::round3(us_s(self.w1)),
                "seconds": report::round3(self.window_s),
                "subscriber_seconds": report::round3(sub_seconds),
            },
            "stream": {
                "published_bytes": published.in_window(),
                "published_frames": published_frames.in_window(),
                "published_kbps": report::kbit_per_second(pub_window, self.window_s).map(report::round3),
                "published_bytes_total": published.total,
                "publisher_error": self.shared.publisher_error.lock().clone(),
            },
            "subscribers": {
                "attempted": self.subs.len(),
                "connected": connected.len(),
                "connected_at_window_start": self.connected_at_start,
                "failed": failed.len(),
                "disconnected": dropped.len(),
                "reasons": reasons,
            },
            "per_subscriber": {
                "bytes": spread(connected.iter().map(|s| s.bytes.in_window() as f64).collect()),
                "frames": spread(connected.iter().map(|s| s.frames.in_window() as f64).collect()),
                "bytes_total": spread(connected.iter().map(|s| s.bytes.total as f64).collect()),
                "share": spread(shares.clone()),
                "share_below_95_percent": below_95,
                "missing_frames_count": short_count,
                "missing_frames_examples": short,
            },
            "setup_ms": spread(setup),
            "time_to_first_byte_ms": spread(ttfb),
            "time_to_first_keyframe_ms": spread(ttfk),
            "latency_ms": {
                "probes": probes,
                "matched_messages": matched,
                "replayed_messages": replayed,
                "unmatched_messages": unmatched,
                "samples": latency.probes.count(),
                "p50": latency.probes.percentile_us(50.0).map(|u| report::round3(u as f64 / 1e3)),
                "p95": latency.probes.percentile_us(95.0).map(|u| report::round3(u as f64 / 1e3)),
                "p99": latency.probes.percentile_us(99.0).map(|u| report::round3(u as f64 / 1e3)),
                "max": latency.probes.max_us().map(|u| report::round3(u as f64 / 1e3)),
            },
            "latency_all_subscribers_ms": latency.all.to_json_ms(),
            "server": server,
            "bench": bench,
            "timeline": self.timeline,
        })
    }
}
