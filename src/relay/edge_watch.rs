//! An edge pull's hold on its channel: its place among the running pulls (`-maxpulls`), and
//! when it stops (nobody has watched the channel for `EDGE_IDLE`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::connection::TICK;
use super::origins::Origins;
use crate::hub::{Channel, Hub};

/// An edge pull stops once its channel has had no subscriber for this long.
const EDGE_IDLE: Duration = Duration::from_secs(5);

/// Close `channel` if it is still registered and has no publisher (an edge channel whose pull
/// ended: players must not wait on a channel nobody feeds).
pub(super) fn close_if_vacant(hub: &Hub, channel: &Arc<Channel>) {
    if let Some(current) = hub.channel(&channel.id) {
        if Arc::ptr_eq(&current, channel) && current.publisher().is_none() {
            let _ = hub.close_channel(&channel.id);
        }
    }
}

/// The paths with an edge pull, shared by the missing-channel handler and the pulls.
pub(super) type ActivePulls = Arc<Mutex<HashSet<String>>>;

/// Why no slot was given.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SlotRefusal {
    /// The path has a pull already.
    Pulling,
    /// `-maxpulls` pulls are running.
    Full,
}

/// One edge pull's place in the set of active pulls (`-maxpulls`): freed when dropped, however
/// the pull's thread ends (a panic included).
pub(super) struct PullSlot {
    active: ActivePulls,
    path: String,
}

impl PullSlot {
    /// Take the slot of `path` in `pulls` (the locked `active`), if it is free and fewer than
    /// `max` pulls run.
    pub(super) fn take(
        active: &ActivePulls,
        pulls: &mut HashSet<String>,
        path: &str,
        max: usize,
    ) -> Result<PullSlot, SlotRefusal> {
        if pulls.contains(path) {
            return Err(SlotRefusal::Pulling);
        }
        if pulls.len() >= max {
            return Err(SlotRefusal::Full);
        }
        pulls.insert(path.to_string());
        Ok(PullSlot {
            active: active.clone(),
            path: path.to_string(),
        })
    }
}

impl Drop for PullSlot {
    fn drop(&mut self) {
        self.active.lock().remove(&self.path);
    }
}

/// An edge pull's view of its channel: stop once nobody has watched for `EDGE_IDLE`.
pub(super) struct EdgeWatch {
    channel: Arc<Channel>,
    /// Dropped with the pull: a later play may start a new one.
    _slot: PullSlot,
    empty_since: Option<Instant>,
    last_check: Instant,
    /// Where the channel is pulled from, and where next.
    pub(super) origins: Origins,
}

impl EdgeWatch {
    pub(super) fn new(channel: Arc<Channel>, slot: PullSlot, origins: Origins) -> EdgeWatch {
        EdgeWatch {
            channel,
            _slot: slot,
            empty_since: None,
            last_check: Instant::now(),
            origins,
        }
    }

    pub(super) fn idle(&mut self) -> bool {
        // Looked at every tick, not per packet: the count takes the channel's lock.
        if self.last_check.elapsed() >= TICK {
            self.last_check = Instant::now();
            if self.channel.is_closed() {
                return true;
            }
            if self.channel.subscriber_count() > 0 {
                self.empty_since = None;
            } else {
                self.empty_since.get_or_insert_with(Instant::now);
            }
        }
        self.empty_since
            .is_some_and(|since| since.elapsed() >= EDGE_IDLE)
    }

    /// The pull has ended: close its channel if nobody else feeds it (its slot is freed when
    /// the pull is dropped, right after).
    pub(super) fn release(&self, hub: &Hub) {
        close_if_vacant(hub, &self.channel);
    }
}
