//! When a proxy reconnects: how one connection ended, and the delay before the next one.

use std::time::Duration;

use crate::hub::CloseReason;
use crate::rtmp::RtmpError;

/// First reconnect delay; it doubles after each failure up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that carried media this long resets the delay to `FIRST_BACKOFF`.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);

/// The reconnect delay: 0.5 s doubling to 30 s, reset by a connection with a minute of media.
#[derive(Debug)]
pub(super) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(super) fn new() -> Backoff {
        Backoff {
            next: FIRST_BACKOFF,
        }
    }

    /// The delay before the next attempt, after a connection that carried `media_for` of media.
    pub(super) fn after(&mut self, media_for: Duration) -> Duration {
        if media_for >= BACKOFF_RESET_AFTER {
            self.next = FIRST_BACKOFF;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        delay
    }
}

/// How one connection of a proxy ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// For good (close requested, channel closed, edge idle, publish refused locally).
    Stop(CloseReason),
    /// The remote ended or failed: try again after the backoff.
    Retry {
        why: String,
        /// How long media flowed on this connection.
        media_for: Duration,
        /// The remote answered with a refusal (unknown stream, bad name, HTTP 4xx).
        refused: bool,
    },
}

impl Ended {
    pub(super) fn retry(why: impl Into<String>, media_for: Duration) -> Ended {
        Ended::Retry {
            why: why.into(),
            media_for,
            refused: false,
        }
    }

    pub(super) fn from_client(what: &str, e: &RtmpError, media_for: Duration) -> Ended {
        Ended::Retry {
            why: format!("{what}: {e}"),
            media_for,
            refused: matches!(e, RtmpError::Rejected { .. }),
        }
    }
}
