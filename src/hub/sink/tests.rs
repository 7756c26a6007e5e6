//! Sink behaviour on a fake wire: fast path, backlog, skipping, queue mode.

use super::*;
use crate::hub::types::StreamType;
use crate::media::PacketKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A socket that takes `capacity` bytes without blocking, then nothing until drained; it counts
/// how often the sink woke the subscriber's thread.
struct FakeWire {
    written: Mutex<Vec<u8>>,
    capacity: Mutex<usize>,
    wakes: AtomicUsize,
}

impl FakeWire {
    fn new(capacity: usize) -> Arc<FakeWire> {
        Arc::new(FakeWire {
            written: Mutex::new(Vec::new()),
            capacity: Mutex::new(capacity),
            wakes: AtomicUsize::new(0),
        })
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wire for FakeWire {
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> Result<usize, CloseReason> {
        let mut cap = self.capacity.lock();
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(*cap - n);
            self.written.lock().extend_from_slice(&b[..take]);
            n += take;
            if n == *cap {
                break;
            }
        }
        *cap -= n;
        Ok(n)
    }
    fn write_all_vectored(&self, bufs: &mut [IoSlice<'_>]) -> Result<(), CloseReason> {
        for b in bufs.iter() {
            self.written.lock().extend_from_slice(b);
        }
        Ok(())
    }
    fn shutdown(&self) {}
    fn wake_owner(&self) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

fn stream() -> Arc<Stream> {
    Arc::new(Stream::new(1, "1".into(), StreamType::HttpFlv, "t".into()))
}

fn video(ts: u32, key: bool) -> Arc<Frame> {
    Arc::new(Frame::new(Packet::new(
        PacketKind::Video,
        ts,
        vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, (ts / 40) as u8],
    )))
}

fn offer_all(sink: &Sink, frames: &[Arc<Frame>]) {
    let mut flv: Vec<IoSlice<'_>> = Vec::new();
    for f in frames {
        f.wire_slices(Format::Flv, &mut flv);
    }
    sink.offer(&Offer {
        frames,
        rtmp: SharedBatch::new(0, &[], 0),
        flv: SharedBatch::new(next_batch_id(), &flv, 1),
        has_video: true,
        headers: &[],
        max_lag_ms: 5000,
        second: clock_seconds(),
    });
}

fn expected(frames: &[Arc<Frame>]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| f.wire_bytes(Format::Flv))
        .collect()
}

#[test]
fn a_keeping_up_socket_is_written_directly_and_never_queued() {
    let wire = FakeWire::new(usize::MAX / 2);
    let sink = Sink::new(stream(), Format::Flv, wire.clone());
    let frames: Vec<_> = (0..10).map(|i| video(i * 40, i == 0)).collect();
    offer_all(&sink, &frames[..5]);
    offer_all(&sink, &frames[5..]);
    assert_eq!(*wire.written.lock(), expected(&frames));
    assert!(sink.state.lock().backlog.is_empty());
    assert_eq!(
        wire.wakes(),
        0,
        "the subscriber's thread sleeps while the socket keeps up"
    );
    assert_eq!(sink.stream.bytes_out() as usize, expected(&frames).len());
}

#[test]
fn a_partial_write_hands_the_rest_to_the_owner_in_order_and_then_back() {
    let frames: Vec<_> = (0..6).map(|i| video(i * 40, i == 0)).collect();
    let all = expected(&frames);
    let wire = FakeWire::new(all.len() / 3);
    let sink = Sink::new(stream(), Format::Flv, wire.clone());
    offer_all(&sink, &frames[..4]);
    offer_all(&sink, &frames[4..]); // queued behind the remainder, not written directly
    assert_eq!(wire.written.lock().len(), all.len() / 3);
    assert!(wire.wakes() >= 1, "the subscriber's thread is woken");
    sink.end(CloseReason::ApiClose);
    assert_eq!(sink.write_backlog(), Some(CloseReason::ApiClose));
    assert_eq!(*wire.written.lock(), all);
}

#[test]
fn the_owner_hands_the_socket_back_once_caught_up() {
    let frames: Vec<_> = (0..6).map(|i| video(i * 40, i == 0)).collect();
    let wire = FakeWire::new(10);
    let sink = Sink::new(stream(), Format::Flv, wire.clone());
    offer_all(&sink, &frames[..2]);
    offer_all(&sink, &frames[2..4]);
    assert!(sink.state.lock().owner_writes);
    assert_eq!(wire.wakes(), 1, "woken once when the socket is handed over");
    assert_eq!(sink.write_backlog(), None, "caught up, the stream goes on");
    assert!(!sink.state.lock().owner_writes);
    *wire.capacity.lock() = usize::MAX / 2;
    offer_all(&sink, &frames[4..]);
    assert!(
        sink.state.lock().backlog.is_empty(),
        "written directly again"
    );
    assert_eq!(wire.wakes(), 1);
    sink.end(CloseReason::PeerClosed);
    assert_eq!(wire.wakes(), 2, "woken for the end");
    assert_eq!(sink.write_backlog(), Some(CloseReason::PeerClosed));
    assert_eq!(*wire.written.lock(), expected(&frames));
}

#[test]
fn a_stuck_subscriber_skips_to_the_next_keyframe_and_counts_what_it_missed() {
    let wire = FakeWire::new(0);
    let sink = Sink::new(stream(), Format::Flv, wire.clone());
    // Never drained: past 5 s of lag it starts skipping.
    let mut ts = 0;
    while ts <= 8000 {
        offer_all(&sink, &[video(ts, ts % 2000 == 0)]);
        ts += 40;
    }
    let dropped = sink.stream.dropped_packets();
    assert!(dropped > 50, "{dropped}");
    assert!(sink.state.lock().skipping);
    // The owner drains the queue; the next keyframe resumes without further loss.
    assert_eq!(sink.write_backlog(), None);
    *wire.capacity.lock() = usize::MAX / 2;
    wire.written.lock().clear();
    offer_all(
        &sink,
        &[video(8040, false), video(10000, true), video(10040, false)],
    );
    assert_eq!(sink.stream.dropped_packets(), dropped + 1);
    assert_eq!(
        *wire.written.lock(),
        expected(&[video(10000, true), video(10040, false)])
    );
}

#[test]
fn queue_mode_hands_out_frames_and_then_the_end() {
    let sink = Sink::queue(stream());
    let frames: Vec<_> = (0..3).map(|i| video(i * 40, i == 0)).collect();
    offer_all(&sink, &frames);
    sink.end(CloseReason::ChannelClosed);
    let mut out = Vec::new();
    assert_eq!(
        sink.next_batch(Duration::from_millis(10), &mut out),
        Ok(true)
    );
    assert_eq!(out.len(), 3);
    assert_eq!(
        sink.next_batch(Duration::from_millis(10), &mut out),
        Err(QueueEnd::Ended(CloseReason::ChannelClosed))
    );
}

#[test]
fn control_bytes_keep_their_place_among_queued_media() {
    let frames: Vec<_> = (0..2).map(|i| video(i * 40, i == 0)).collect();
    let wire = FakeWire::new(5);
    let sink = Sink::new(stream(), Format::Flv, wire.clone());
    offer_all(&sink, &frames[..1]);
    sink.send_raw(b"PING".to_vec());
    offer_all(&sink, &frames[1..]);
    sink.end(CloseReason::ApiClose);
    assert_eq!(sink.write_backlog(), Some(CloseReason::ApiClose));
    let mut want = expected(&frames[..1]);
    want.extend_from_slice(b"PING");
    want.extend(expected(&frames[1..]));
    assert_eq!(*wire.written.lock(), want);
}

#[test]
fn a_queue_consumer_waits_for_frames_and_is_woken_by_them() {
    let sink = Sink::queue(stream());
    let mut out = Vec::new();
    assert_eq!(
        sink.next_batch(Duration::from_millis(5), &mut out),
        Ok(false)
    );
    let waiter = {
        let sink = sink.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let woke = sink.next_batch(Duration::from_secs(10), &mut got);
            (woke, got.len())
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    offer_all(&sink, &[video(0, true), video(40, false)]);
    assert_eq!(waiter.join().unwrap(), (Ok(true), 2));
}

#[test]
fn the_end_reaches_the_owner_even_behind_a_full_queue() {
    let wire = FakeWire::new(0);
    let sink = Sink::new(stream(), Format::Flv, wire.clone());
    // Control bytes are queued whatever the lag, until the queue is full.
    for _ in 0..QUEUE_ITEMS + QUEUE_SLACK + 10 {
        sink.send_raw(b"ping".to_vec());
    }
    assert_eq!(sink.state.lock().backlog.len(), QUEUE_ITEMS + QUEUE_SLACK);
    sink.end(CloseReason::ApiClose);
    assert_eq!(sink.write_backlog(), Some(CloseReason::ApiClose));
}

#[test]
fn drops_and_the_owners_writes_count_into_the_joined_channel_and_the_server() {
    use crate::hub::counters::ServerCounters;
    use crate::hub::traffic::{ChannelTraffic, Protocol};
    let counters = Arc::new(ServerCounters::default());
    let s = stream();
    s.count_into(counters.clone());
    let wire = FakeWire::new(0);
    let sink = Sink::new(s, Format::Flv, wire.clone());
    let channel = Arc::new(ChannelTraffic::default());
    assert!(sink.join(Vec::new(), false, channel.clone(), None));
    let mut ts = 0;
    while ts <= 8000 {
        offer_all(&sink, &[video(ts, ts % 2000 == 0)]);
        ts += 40;
    }
    let dropped = sink.stream.dropped_packets();
    assert!(dropped > 50, "{dropped}");
    assert_eq!(channel.dropped(), dropped);
    assert_eq!(counters.dropped_packets(), dropped);
    // What the owner writes from the backlog is counted where the flush's batch is not.
    assert_eq!(sink.write_backlog(), None);
    let written = wire.written.lock().len() as u64;
    assert!(written > 0);
    assert_eq!(channel.sent(), written);
    assert_eq!(counters.traffic.sent(Protocol::HttpFlv), written);
    assert_eq!(sink.stream.bytes_out(), written);
}

/// Runs `sink.gather(max)` on a thread of its own; returns how long it took.
fn gather_on_thread(sink: &Arc<Sink>, max: Duration) -> std::thread::JoinHandle<Duration> {
    let sink = sink.clone();
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        sink.gather(max);
        started.elapsed()
    })
}

#[test]
fn a_gathering_consumer_is_not_woken_by_frames_but_by_its_end() {
    let sink = Sink::queue(stream());
    let gatherer = gather_on_thread(&sink, Duration::from_secs(30));
    for i in 0..10 {
        std::thread::sleep(Duration::from_millis(5));
        offer_all(&sink, &[video(i * 40, i == 0)]);
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(!gatherer.is_finished(), "frames ended the gathering");
    sink.end(CloseReason::ChannelClosed);
    assert!(gatherer.join().unwrap() < Duration::from_secs(10));
    let mut out = Vec::new();
    assert_eq!(sink.next_batch(Duration::ZERO, &mut out), Ok(true));
    assert_eq!(out.len(), 10);
}

#[test]
fn a_burst_ends_the_gathering_long_before_the_queue_counts_as_behind() {
    let sink = Sink::queue(stream());
    let gatherer = gather_on_thread(&sink, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(20));
    let burst: Vec<_> = (0..GATHER_WAKE_FRAMES as u32)
        .map(|i| video(i * 10, i == 0))
        .collect();
    offer_all(&sink, &burst);
    assert!(gatherer.join().unwrap() < Duration::from_secs(10));
    let mut out = Vec::new();
    assert_eq!(sink.next_batch(Duration::ZERO, &mut out), Ok(true));
    assert_eq!(out.len(), GATHER_WAKE_FRAMES, "nothing was dropped");
    assert_eq!(sink.stream.dropped_packets(), 0);
}

#[test]
fn a_gathering_limited_to_a_moment_returns_by_itself() {
    let sink = Sink::queue(stream());
    let took = gather_on_thread(&sink, Duration::from_millis(30))
        .join()
        .unwrap();
    assert!(took >= Duration::from_millis(30));
}
