//! The hub's events for more than one listener: [`FanOut`] hands each event to several sinks (the
//! callback sender and the `/events` broadcaster), and [`EventBroadcaster`] keeps a bounded
//! history and a bounded queue per `/events` reader.
//!
//! ```text
//! Hub::emit -> FanOut -> CallbackSender (POST …/event/NAME)
//!                     -> EventBroadcaster: id assigned, JSON rendered once, kept in the history
//!                          -> reader queue (bounded; full = dropped and counted) -> `api-…` thread
//! ```
//!
//! Emitting never blocks: each reader's queue takes the event with `try_send`, so a reader that
//! does not keep up loses events (counted, and told with an SSE comment) instead of slowing the
//! hub, the API or the other readers. A reader that comes back with `Last-Event-ID` gets what it
//! missed from the history, if the history still holds it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;

use crate::hub::{EventSink, HubEvent};

/// Events kept for readers that resume with `Last-Event-ID`: at most this many, holding at most
/// `HISTORY_BYTES` of JSON (a stream's event is about 0.5 KiB: a burst of connections must not
/// cost a small host a megabyte).
pub const HISTORY: usize = 1024;
pub const HISTORY_BYTES: usize = 256 * 1024;
/// Events waiting for one reader before further ones are dropped for it.
pub const READER_QUEUE: usize = 256;

/// Hands every event to each of its sinks, in order.
pub struct FanOut(pub Vec<Arc<dyn EventSink>>);

impl EventSink for FanOut {
    fn emit(&self, stream_key: Option<u64>, event: HubEvent) {
        if let Some((last, rest)) = self.0.split_last() {
            for sink in rest {
                sink.emit(stream_key, event.clone());
            }
            last.emit(stream_key, event);
        }
    }
}

/// One event as `/events` sends it.
#[derive(Debug)]
pub struct SseEvent {
    /// 1, 2, 3 … in the order the hub emitted them.
    pub id: u64,
    /// The callback's event name (`streamConnected` …).
    pub name: &'static str,
    /// The callback's JSON body, on one line.
    pub data: String,
}

struct Reader {
    queue: Sender<Arc<SseEvent>>,
    dropped: Arc<AtomicU64>,
}

#[derive(Default)]
struct Inner {
    last_id: u64,
    history: VecDeque<Arc<SseEvent>>,
    /// JSON bytes held by `history`.
    history_bytes: usize,
    readers: Vec<Reader>,
}

/// The `/events` side of the hub's events.
#[derive(Default)]
pub struct EventBroadcaster {
    inner: Mutex<Inner>,
    dropped: AtomicU64,
    /// Readers whose [`EventReader`] is alive.
    active: Arc<AtomicUsize>,
}

/// A subscription: the missed events to send first, then the live queue.
pub struct EventReader {
    /// Events after the reader's `Last-Event-ID`, from the history.
    pub backlog: Vec<Arc<SseEvent>>,
    /// Some events after `Last-Event-ID` are no longer in the history.
    pub gap: bool,
    queue: Receiver<Arc<SseEvent>>,
    dropped: Arc<AtomicU64>,
    active: Arc<AtomicUsize>,
}

impl Drop for EventReader {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl EventReader {
    /// The next live event, waiting up to `timeout`.
    pub fn next(&self, timeout: Duration) -> Result<Arc<SseEvent>, RecvTimeoutError> {
        self.queue.recv_timeout(timeout)
    }

    /// Events dropped for this reader because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl EventBroadcaster {
    pub fn new() -> EventBroadcaster {
        EventBroadcaster::default()
    }

    /// Start reading: the events after `last_id` still in the history, then every new one.
    /// Registering and copying the history happen under one lock, so nothing is lost or doubled.
    pub fn subscribe(&self, last_id: Option<u64>) -> EventReader {
        let (tx, rx) = crossbeam_channel::bounded(READER_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut inner = self.inner.lock();
        let (backlog, gap) = match last_id {
            None => (Vec::new(), false),
            Some(last) => {
                let oldest_kept = inner.history.front().map_or(inner.last_id + 1, |e| e.id);
                let backlog = inner
                    .history
                    .iter()
                    .filter(|e| e.id > last)
                    .cloned()
                    .collect();
                (backlog, last + 1 < oldest_kept && last < inner.last_id)
            }
        };
        inner.readers.push(Reader {
            queue: tx,
            dropped: dropped.clone(),
        });
        self.active.fetch_add(1, Ordering::Relaxed);
        EventReader {
            backlog,
            gap,
            queue: rx,
            dropped,
            active: self.active.clone(),
        }
    }

    /// Events dropped for readers that did not keep up, in total.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Readers connected now.
    pub fn readers(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Record one event and offer it to every reader; never waits.
    pub fn publish(&self, name: &'static str, mut data: String) {
        // Kept in the history: no spare capacity (a rendered event is about 1 KiB).
        data.shrink_to_fit();
        let mut inner = self.inner.lock();
        inner.last_id += 1;
        let event = Arc::new(SseEvent {
            id: inner.last_id,
            name,
            data,
        });
        while inner.history.len() >= HISTORY
            || (inner.history_bytes + event.data.len() > HISTORY_BYTES && !inner.history.is_empty())
        {
            let Some(oldest) = inner.history.pop_front() else {
                break;
            };
            inner.history_bytes -= oldest.data.len();
        }
        inner.history_bytes += event.data.len();
        inner.history.push_back(event.clone());
        // try_send does not block, so offering under the lock keeps every reader's order equal to
        // the history's.
        inner
            .readers
            .retain(|reader| match reader.queue.try_send(event.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    reader.dropped.fetch_add(1, Ordering::Relaxed);
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            });
    }
}

impl EventSink for EventBroadcaster {
    fn emit(&self, _: Option<u64>, event: HubEvent) {
        let data = crate::http::json::event_json(&event).to_string();
        self.publish(event.name(), data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(events: &[Arc<SseEvent>]) -> Vec<u64> {
        events.iter().map(|e| e.id).collect()
    }

    fn drain(reader: &EventReader) -> Vec<u64> {
        std::iter::from_fn(|| reader.next(Duration::ZERO).ok())
            .map(|e| e.id)
            .collect()
    }

    #[test]
    fn readers_get_every_event_in_order_with_rising_ids() {
        let b = EventBroadcaster::new();
        let r = b.subscribe(None);
        b.emit(
            None,
            HubEvent::ChannelClose {
                id: "live/a".into(),
            },
        );
        b.publish("streamClose", "{}".into());
        let first = r.next(Duration::ZERO).unwrap();
        assert_eq!((first.id, first.name), (1, "channelClose"));
        assert_eq!(first.data, r#"{"id":"live/a"}"#);
        assert_eq!(drain(&r), [2]);
        assert!(r.backlog.is_empty());
    }

    #[test]
    fn last_event_id_resumes_from_the_history() {
        let b = EventBroadcaster::new();
        for _ in 0..5 {
            b.publish("channelClose", "{}".into());
        }
        let r = b.subscribe(Some(3));
        assert_eq!(ids(&r.backlog), [4, 5]);
        assert!(!r.gap);
        b.publish("channelClose", "{}".into());
        assert_eq!(drain(&r), [6]);
        assert!(b.subscribe(Some(6)).backlog.is_empty());
        assert!(!b.subscribe(Some(0)).gap);
    }

    #[test]
    fn the_history_is_bounded_and_a_gap_is_reported() {
        let b = EventBroadcaster::new();
        for _ in 0..HISTORY + 10 {
            b.publish("channelClose", "{}".into());
        }
        let r = b.subscribe(Some(2));
        assert_eq!(r.backlog.len(), HISTORY);
        assert_eq!(r.backlog[0].id, 11);
        assert!(r.gap);
    }

    #[test]
    fn the_history_holds_at_most_its_byte_bound() {
        let b = EventBroadcaster::new();
        let event = format!("{{\"pad\":\"{}\"}}", "x".repeat(1000));
        for _ in 0..HISTORY {
            b.publish("streamConnected", event.clone());
        }
        let reader = b.subscribe(Some(0));
        assert_eq!(reader.backlog.len(), HISTORY_BYTES / event.len());
        assert_eq!(
            reader.backlog.last().unwrap().id,
            HISTORY as u64,
            "the newest are kept"
        );
    }

    #[test]
    fn a_reader_that_does_not_read_loses_events_without_holding_up_others() {
        let b = EventBroadcaster::new();
        let slow = b.subscribe(None);
        let fast = b.subscribe(None);
        let mut fast_seen = 0;
        for _ in 0..READER_QUEUE + 50 {
            b.publish("channelClose", "{}".into());
            fast_seen += drain(&fast).len();
        }
        assert_eq!(fast_seen, READER_QUEUE + 50);
        assert_eq!(slow.dropped(), 50);
        assert_eq!(b.dropped(), 50);
        assert_eq!(drain(&slow).len(), READER_QUEUE);
    }

    #[test]
    fn readers_that_left_are_forgotten() {
        let b = EventBroadcaster::new();
        let r = b.subscribe(None);
        assert_eq!(b.readers(), 1);
        drop(r);
        assert_eq!(b.readers(), 0);
        b.publish("channelClose", "{}".into());
        assert!(b.inner.lock().readers.is_empty());
    }

    #[test]
    fn fan_out_reaches_every_sink() {
        let a = Arc::new(EventBroadcaster::new());
        let c = Arc::new(EventBroadcaster::new());
        let (ra, rc) = (a.subscribe(None), c.subscribe(None));
        let fan = FanOut(vec![a.clone(), c.clone()]);
        fan.emit(Some(1), HubEvent::ChannelClose { id: "x".into() });
        assert_eq!((drain(&ra), drain(&rc)), (vec![1], vec![1]));
    }
}
