//! Server-wide counters the registry does not derive from its streams: shown by the API's
//! `/stat` and `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct ServerCounters {
    /// Connection threads that panicked (their stream was cleaned up all the same).
    pub panics: AtomicU64,
    /// Connections closed at accept because a connection limit was reached.
    pub refused_connections: AtomicU64,
    /// Connections closed for their PROXY protocol header: bad, slow, or from an untrusted peer.
    pub bad_proxy_headers: AtomicU64,
}

impl ServerCounters {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
