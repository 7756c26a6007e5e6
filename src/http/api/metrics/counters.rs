//! What the API counts for `/metrics` and `/stat`: the callback sender's counters (through a
//! trait, so tests can stand in for the sender) and the API's own answers and connections.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::http::callback::CallbackSender;

/// What the callback sender has done, for `/metrics` and `/stat`.
pub trait CallbackCounters: Send + Sync {
    /// POSTs answered with a 2xx status.
    fn sent(&self) -> u64;
    /// POSTs refused, timed out, or answered with another status.
    fn failed(&self) -> u64;
    /// Events dropped because a queue was full.
    fn dropped(&self) -> u64;
    /// Events waiting to be sent.
    fn queued(&self) -> u64;
}

impl CallbackCounters for CallbackSender {
    fn sent(&self) -> u64 {
        self.delivered()
    }
    fn failed(&self) -> u64 {
        self.failures()
    }
    fn dropped(&self) -> u64 {
        CallbackSender::dropped(self)
    }
    fn queued(&self) -> u64 {
        CallbackSender::queued(self) as u64
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
