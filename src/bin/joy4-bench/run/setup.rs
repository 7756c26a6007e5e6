//! Subscriber setup, run on the connector threads; blocking, with the socket's timeouts.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use joy4::net::is_timeout;

use super::config::Config;
use super::shared::{record_latency, Shared};
use super::subscriber::{Sub, SubStats};
use crate::target::{self, Target};

/// Blocking setup of one subscriber: connect, then RTMP handshake/connect/createStream/play or an
/// HTTP GET, until the server has said yes.
pub fn setup_subscriber(
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
    let channel = cfg.channel_of(id);
    let target = cfg.play_target(channel);
    let base = SubStats {
        id,
        channel,
        probe,
        start_us,
        ..SubStats::default()
    };
    let stream = match target::connect(addr, cfg.timeout) {
        Ok(s) => s,
        Err(e) => return Err(fail(base, format!("connect: {e}"))),
    };
    let mut sub = Sub::new(id, channel, probe, start_us, stream, &target);
    let result = match &target {
        Target::Rtmp(_) => rtmp_play(&mut sub, shared, deadline),
        Target::Http { .. } => http_play(&mut sub, &target, shared, deadline),
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
pub fn pump(
    sub: &mut Sub,
    shared: &Shared,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<(), String> {
    if Instant::now() >= deadline {
        return Err("setup timed out".into());
    }
    let n = match sub.stream.read(buf) {
        Ok(0) => return Err("closed by the server during setup".into()),
        Ok(n) => n,
        Err(e) if is_timeout(&e) => return Err("setup timed out".into()),
        Err(e) => return Err(format!("read: {e}")),
    };
    let now = shared.now_us();
    let mut lat = Vec::new();
    sub.ingest(&buf[..n], now, shared, shared.window(), &mut lat)?;
    record_latency(shared, &lat);
    flush(sub).map_err(|e| format!("write: {e}"))
}

pub fn flush(sub: &mut Sub) -> io::Result<()> {
    if !sub.out.is_empty() {
        let out = std::mem::take(&mut sub.out);
        sub.stream.write_all(&out)?;
    }
    Ok(())
}

pub fn rtmp_play(sub: &mut Sub, shared: &Shared, deadline: Instant) -> Result<(), String> {
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

pub fn http_play(
    sub: &mut Sub,
    target: &Target,
    shared: &Shared,
    deadline: Instant,
) -> Result<(), String> {
    let Target::Http { path, .. } = target else {
        return Err("not an HTTP target".into());
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: joy4-bench\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.authority()
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
