//! The ramp: one thread hands out subscriber ids at the configured rate; connector threads set each
//! subscriber up and pass it to a reader thread.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel as channel;

use super::config::Config;
use super::reader::Reader;
use super::setup::setup_subscriber;
use super::shared::Shared;
use super::subscriber::SubStats;

/// Send ids `0..n` at `rate` per second from `start`, until done or stopped.
pub fn ramp_loop(
    shared: &Shared,
    n: usize,
    rate: f64,
    start: Instant,
    ids: channel::Sender<usize>,
) {
    for id in 0..n {
        let due = start + Duration::from_secs_f64(id as f64 / rate);
        while Instant::now() < due && !shared.stopping() {
            thread::sleep((due - Instant::now()).min(Duration::from_millis(50)));
        }
        if shared.stopping() {
            break;
        }
        shared.attempted.fetch_add(1, Ordering::AcqRel);
        if ids.send(id).is_err() {
            break;
        }
    }
}

/// Set up each subscriber whose id arrives and hand it to reader `id % readers`; every
/// `probe_every`-th subscriber is a latency probe. Returns the stats of those that failed.
pub fn connector_loop(
    ids: channel::Receiver<usize>,
    shared: &Shared,
    cfg: &Config,
    readers: &[Arc<Reader>],
    probe_every: usize,
    play_addr: SocketAddr,
) -> Vec<SubStats> {
    let mut failed = Vec::new();
    for id in ids {
        if shared.stopping() {
            break;
        }
        let probe = id % probe_every == 0;
        match setup_subscriber(id, probe, cfg, play_addr, shared) {
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
}
