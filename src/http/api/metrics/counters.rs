//! What the API counts for `/metrics` and `/stat`: the callback sender's counters (through a
//! trait, so tests can stand in for the sender) and the API's own answers and connections.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::http::callback::{CallbackSender, CallbackStats};

/// What the callback sender has done, for `/metrics` and `/stat`.
pub trait CallbackCounters: Send + Sync {
    /// Sent, failed, dropped (in all and per event name) and queued.
    fn stats(&self) -> CallbackStats;
}

impl CallbackCounters for CallbackSender {
    fn stats(&self) -> CallbackStats {
        CallbackSender::stats(self)
    }
}

/// Answers sent by the API, by status class; and its connections open now.
#[derive(Debug, Default)]
pub struct RequestCounters {
    classes: [AtomicU64; 5],
    pub(in crate::http::api) connections: AtomicUsize,
}

impl RequestCounters {
    pub fn record(&self, status: u16) {
        if let Some(c) = (status / 100)
            .checked_sub(1)
            .and_then(|i| self.classes.get(i as usize))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(class, count)`: `("2xx", 12)` …
    pub fn by_class(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        (1..=5).map(|k| {
            (
                format!("{k}xx"),
                self.classes[k - 1].load(Ordering::Relaxed),
            )
        })
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}
