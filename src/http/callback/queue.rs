//! The bounded queue the lanes take their events from: one FIFO per lane under one lock, one
//! bound for all of them, and a share of that bound kept for close events.
//!
//! ```text
//! len < capacity - reserve     any event is queued
//! len < capacity               only close events (streamClose, channelClose) are queued
//! len == capacity              a close event takes the place of the oldest queued other event
//!                              (that one is dropped); anything else is dropped
//! ```
//!
//! Every event gets a sequence number when it is queued. An event without a stream key (a
//! channelClose) is sent only after every event queued before it in the other lanes has been
//! sent (or has failed), so a publisher's streamClose still reaches the controller before its
//! channel's channelClose although they travel in different lanes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde_json::Value;

/// One callback to send: the stream it is about (events of one stream keep their order), the
/// event name (the URL's last segment) and its JSON body.
pub(super) struct Event {
    pub(super) key: Option<u64>,
    pub(super) name: &'static str,
    pub(super) body: Value,
}

/// Whether an event may take the reserved share, and push out a less important one.
pub(super) fn is_close(name: &str) -> bool {
    matches!(name, "streamClose" | "channelClose" | "recordDone")
}

/// What became of a pushed event.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pushed {
    Queued,
    /// Queued in the place of an older, less important event, which is dropped.
    Replaced(&'static str),
    /// Not queued: the queue is full (or closed).
    Dropped,
}

struct Queued {
    seq: u64,
    event: Event,
}

struct State {
    lanes: Vec<VecDeque<Queued>>,
    /// The sequence number of the event each lane is sending.
    in_flight: Vec<Option<u64>>,
    len: usize,
    next_seq: u64,
    closed: bool,
}

pub(super) struct Queues {
    state: Mutex<State>,
    /// Signalled when lane i gets an event (or the queue closes).
    ready: Vec<Condvar>,
    /// Signalled when any lane has finished an event.
    progress: Condvar,
    capacity: usize,
    reserve: usize,
}

impl Queues {
    /// `lanes` FIFOs holding at most `capacity` events together, `reserve` of them for closes.
    pub(super) fn new(lanes: usize, capacity: usize, reserve: usize) -> Queues {
        Queues {
            state: Mutex::new(State {
                lanes: (0..lanes).map(|_| VecDeque::new()).collect(),
                in_flight: vec![None; lanes],
                len: 0,
                next_seq: 0,
                closed: false,
            }),
            ready: (0..lanes).map(|_| Condvar::new()).collect(),
            progress: Condvar::new(),
            capacity,
            reserve: reserve.min(capacity),
        }
    }

    pub(super) fn lanes(&self) -> usize {
        self.ready.len()
    }

    /// Events waiting (not counting the ones being sent).
    pub(super) fn len(&self) -> usize {
        self.state.lock().len
    }

    /// Queue `event` in `lane`; never blocks.
    pub(super) fn push(&self, lane: usize, event: Event) -> Pushed {
        let mut state = self.state.lock();
        if state.closed {
            return Pushed::Dropped;
        }
        let close = is_close(event.name);
        let mut outcome = Pushed::Queued;
        let limit = if close {
            self.capacity
        } else {
            self.capacity - self.reserve
        };
        if state.len >= limit {
            if !close {
                return Pushed::Dropped;
            }
            match state.evict_oldest_non_close() {
                Some(name) => outcome = Pushed::Replaced(name),
                None => return Pushed::Dropped,
            }
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.lanes[lane].push_back(Queued { seq, event });
        state.len += 1;
        drop(state);
        self.ready[lane].notify_one();
        outcome
    }

    /// The next event of `lane` and its sequence number, waiting for one; `None` once the queue
    /// is closed and the lane is empty. The caller reports `finished(lane)` after sending it.
    pub(super) fn pop(&self, lane: usize) -> Option<(u64, Event)> {
        let mut state = self.state.lock();
        loop {
            if let Some(q) = state.lanes[lane].pop_front() {
                state.len -= 1;
                state.in_flight[lane] = Some(q.seq);
                return Some((q.seq, q.event));
            }
            if state.closed {
                return None;
            }
            self.ready[lane].wait(&mut state);
        }
    }

    /// `lane` has sent (or failed to send) the event it popped.
    pub(super) fn finished(&self, lane: usize) {
        self.state.lock().in_flight[lane] = None;
        self.progress.notify_all();
    }

    /// Wait until no other lane still holds an event queued before `seq`; false if `max_wait`
    /// passed first.
    pub(super) fn wait_for_earlier(&self, lane: usize, seq: u64, max_wait: Duration) -> bool {
        let deadline = Instant::now() + max_wait;
        let mut state = self.state.lock();
        while state.has_earlier(lane, seq) {
            if self.progress.wait_until(&mut state, deadline).timed_out() {
                return !state.has_earlier(lane, seq);
            }
        }
        true
    }

    /// Wait until every queued event has been sent (or has failed), or `deadline` passes;
    /// returns how many are still queued or being sent.
    pub(super) fn wait_idle(&self, deadline: Instant) -> usize {
        let mut state = self.state.lock();
        loop {
            let outstanding = state.len + state.in_flight.iter().flatten().count();
            if outstanding == 0 {
                return 0;
            }
            if self.progress.wait_until(&mut state, deadline).timed_out() {
                return state.len + state.in_flight.iter().flatten().count();
            }
        }
    }

    /// Refuse new events; the lanes send what is queued and then end.
    pub(super) fn close(&self) {
        self.state.lock().closed = true;
        for ready in &self.ready {
            ready.notify_all();
        }
    }
}

impl State {
    fn evict_oldest_non_close(&mut self) -> Option<&'static str> {
        let (lane, index) = self
            .lanes
            .iter()
            .enumerate()
            .filter_map(|(lane, q)| {
                let index = q.iter().position(|q| !is_close(q.event.name))?;
                Some((q[index].seq, lane, index))
            })
            .min()
            .map(|(_, lane, index)| (lane, index))?;
        let evicted = self.lanes[lane].remove(index)?;
        self.len -= 1;
        Some(evicted.event.name)
    }

    fn has_earlier(&self, lane: usize, seq: u64) -> bool {
        (0..self.lanes.len()).filter(|&l| l != lane).any(|l| {
            let oldest = self.in_flight[l].or_else(|| self.lanes[l].front().map(|q| q.seq));
            oldest.is_some_and(|s| s < seq)
        })
    }
}
