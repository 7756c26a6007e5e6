//! A reader thread: it serves the sockets of many subscribers from one epoll set.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;

use super::config::Config;
use super::shared::{record_latency, LatSample, Shared};
use super::subscriber::{Sub, SubStats};
use joy4::net::sys;

const READ_BUF: usize = 256 * 1024;

/// One reader thread: its epoll set, the subscribers handed to it, and the stats of those that ended.
pub struct Reader {
    pub epoll: sys::Epoll,
    pub pending: Mutex<Vec<Sub>>,
}

pub fn reader_loop(reader: Arc<Reader>, shared: Arc<Shared>, cfg: Arc<Config>) -> Vec<SubStats> {
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

pub fn finish(sub: Sub, now: u64, reader: &Reader) -> SubStats {
    reader.epoll.delete(sub.stream.as_raw_fd());
    let mut stats = sub.stats;
    stats.ended_us = Some(now);
    stats
}

pub fn write_replies(sub: &mut Sub) -> Result<(), String> {
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
