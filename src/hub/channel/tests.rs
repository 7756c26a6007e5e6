//! Channel behaviour with in-process subscribers: joins, switches, the merge window, close.

use super::flush::PARALLEL_FLUSH_SINKS;
use super::*;
use crate::hub::buffer::Cursor;
use crate::hub::sink::QueueEnd;
use crate::hub::types::{CloseReason, StreamType};

fn stream(key: u64) -> Arc<Stream> {
    Arc::new(Stream::new(
        key,
        key.to_string(),
        StreamType::Rtmp,
        "test".into(),
    ))
}

fn video(ts: u32, key: bool) -> Packet {
    Packet::new(
        PacketKind::Video,
        ts,
        vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 9],
    )
}

fn avc_header(tag: u8) -> Packet {
    Packet::new(PacketKind::Video, 0, vec![0x17, 0, 0, 0, 0, tag])
}

fn audio(ts: u32) -> Packet {
    Packet::new(PacketKind::Audio, ts, vec![0xAF, 1, 7])
}

fn drain(sink: &Sink) -> Vec<Arc<Frame>> {
    let mut out = Vec::new();
    while let Ok(true) = sink.next_batch(Duration::from_millis(1), &mut out) {}
    out
}

/// A channel that merges writes for `window` whatever its audience.
fn channel_with_window(window: Duration, timers: Option<Arc<Timers>>) -> Arc<Channel> {
    channel_merging(MergeWindow::fixed(window), timers)
}

fn channel_merging(merge_window: MergeWindow, timers: Option<Arc<Timers>>) -> Arc<Channel> {
    let config = ChannelConfig {
        limits: BufferLimits::default(),
        auto_created: true,
        max_lag_ms: 5000,
        merge_window,
        counters: None,
    };
    Channel::new("c".into(), config, timers)
}

fn channel() -> Arc<Channel> {
    channel_with_window(Duration::ZERO, None)
}

fn subscribe(ch: &Channel, key: u64, cursor: Cursor) -> Arc<Sink> {
    let sink = Sink::queue(stream(key));
    ch.add_subscriber(&sink, cursor).unwrap();
    sink
}

#[test]
fn a_big_channel_split_over_two_threads_gives_every_subscriber_every_frame_once() {
    let ch = channel();
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    ch.push(&publisher, video(0, true));
    let sinks: Vec<_> = (0..PARALLEL_FLUSH_SINKS as u64 + 11)
        .map(|key| subscribe(&ch, 10 + key, Cursor::Next))
        .collect();
    for i in 1..=20u32 {
        ch.push(&publisher, video(i * 40, i % 10 == 0));
    }
    for sink in &sinks {
        let got: Vec<u32> = drain(sink).iter().map(|f| f.timestamp()).collect();
        let want: Vec<u32> = (10..=20).map(|i| i * 40).collect();
        assert_eq!(got, want, "subscriber {}", sink.stream.id());
    }
}

#[test]
fn only_the_current_publisher_is_heard() {
    let ch = channel();
    let (a, b) = (stream(1), stream(2));
    ch.set_publisher(&a);
    assert!(ch.push(&a, video(0, true)));
    assert!(!ch.push(&b, video(0, true)));
}

#[test]
fn a_joiner_gets_headers_then_the_latest_gop_then_live_frames_without_gaps() {
    let ch = channel();
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    ch.push(&publisher, avc_header(1));
    for i in 0..60u32 {
        ch.push(&publisher, video(i * 40, i % 50 == 0));
    }
    let sub = subscribe(&ch, 2, Cursor::Latest);
    for i in 60..70u32 {
        ch.push(&publisher, video(i * 40, false));
    }
    let got = drain(&sub);
    assert!(got[0].is_sequence_header());
    assert_eq!(
        got[0].timestamp(),
        2000,
        "headers are stamped at the joiner's start"
    );
    assert!(got[1].is_keyframe());
    let ts: Vec<u32> = got[1..].iter().map(|f| f.timestamp()).collect();
    let expected: Vec<u32> = (50..70).map(|i| i * 40).collect();
    assert_eq!(ts, expected);
}

#[test]
fn a_merge_window_holds_frames_until_it_passes_and_a_joiner_neither_loses_nor_doubles() {
    let ch = channel_with_window(Duration::from_secs(3600), None);
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    let early = subscribe(&ch, 2, Cursor::Latest);
    ch.push(&publisher, video(0, true));
    ch.push(&publisher, video(40, false));
    assert!(drain(&early).is_empty(), "held back by the window");
    // A joiner flushes the pending batch to the others and takes it from the buffer.
    let late = subscribe(&ch, 3, Cursor::Latest);
    ch.push(&publisher, video(80, false));
    ch.flush();
    let ts = |fs: Vec<Arc<Frame>>| fs.iter().map(|f| f.timestamp()).collect::<Vec<_>>();
    assert_eq!(ts(drain(&early)), vec![0, 40, 80]);
    assert_eq!(ts(drain(&late)), vec![0, 40, 80]);
}

#[test]
fn a_join_writes_nothing_and_the_pending_batch_brings_the_joiner_only_what_it_lacks() {
    let ch = channel_with_window(Duration::from_secs(3600), None);
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    let early = subscribe(&ch, 2, Cursor::Latest);
    ch.push(&publisher, video(0, true));
    ch.flush();
    ch.push(&publisher, video(40, false));
    ch.push(&publisher, video(80, false));
    let ts = |fs: Vec<Arc<Frame>>| fs.iter().map(|f| f.timestamp()).collect::<Vec<_>>();
    assert_eq!(
        ts(drain(&early)),
        vec![0],
        "the batch of 40 and 80 is pending"
    );
    let late = subscribe(&ch, 3, Cursor::Latest);
    assert!(drain(&early).is_empty(), "the join wrote nothing");
    assert_eq!(
        ts(drain(&late)),
        vec![0, 40, 80],
        "the buffer, pending frames included"
    );
    ch.push(&publisher, video(120, false));
    ch.flush();
    assert_eq!(ts(drain(&early)), vec![40, 80, 120]);
    assert_eq!(ts(drain(&late)), vec![120], "nothing it had twice");
}

/// onMetaData with `tag` as its last byte.
fn metadata(ts: u32, tag: u8) -> Packet {
    let mut body = b"\x02\x00\x0aonMetaData".to_vec();
    body.push(tag);
    Packet::new(PacketKind::Data, ts, body)
}

#[test]
fn a_header_pending_at_a_join_reaches_the_joiner_once() {
    let ch = channel_with_window(Duration::from_secs(3600), None);
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    let early = subscribe(&ch, 2, Cursor::Latest);
    ch.push(&publisher, metadata(0, 1));
    ch.push(&publisher, video(0, true));
    ch.flush();
    drain(&early);
    ch.push(&publisher, video(40, false));
    ch.push(&publisher, metadata(40, 2));
    let late = subscribe(&ch, 3, Cursor::Latest);
    ch.push(&publisher, metadata(80, 3));
    ch.flush();
    assert_eq!(drain(&early).len(), 3, "40 and both new onMetaData");
    let got = drain(&late);
    let tags: Vec<u8> = got
        .iter()
        .filter(|f| f.is_header())
        .map(|f| *f.packet.body.last().unwrap())
        .collect();
    assert_eq!(
        tags,
        vec![2, 3],
        "the metadata current at the join, then the newer one"
    );
    let media: Vec<u32> = got
        .iter()
        .filter(|f| !f.is_header())
        .map(|f| f.timestamp())
        .collect();
    assert_eq!(media, vec![0, 40], "the buffer, once");
}

#[test]
fn a_joiner_with_nothing_buffered_gets_the_pending_media_but_not_its_headers_again() {
    let ch = channel_with_window(Duration::from_secs(3600), None);
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    // Someone watching, so that the batch waits for its window.
    let _early = subscribe(&ch, 2, Cursor::Latest);
    ch.push(&publisher, audio(0));
    ch.push(&publisher, metadata(0, 1));
    ch.push(&publisher, audio(23));
    let late = subscribe(&ch, 3, Cursor::Next);
    ch.push(&publisher, audio(46));
    ch.flush();
    let got = drain(&late);
    let ts: Vec<u32> = got
        .iter()
        .filter(|f| !f.is_header())
        .map(|f| f.timestamp())
        .collect();
    assert_eq!(ts, vec![0, 23, 46], "the pending media: it had none of it");
    assert_eq!(
        got.iter().filter(|f| f.is_header()).count(),
        1,
        "the metadata once"
    );
}

#[test]
fn a_burst_goes_out_at_its_end_on_a_channel_that_writes_each_message_at_once() {
    let ch = channel();
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    let sink = subscribe(&ch, 2, Cursor::Latest);
    let burst = ch.hold_flushes();
    ch.push(&publisher, video(0, true));
    ch.push(&publisher, audio(10));
    assert!(drain(&sink).is_empty(), "held until the burst ends");
    drop(burst);
    let ts: Vec<u32> = drain(&sink).iter().map(|f| f.timestamp()).collect();
    assert_eq!(ts, vec![0, 10]);
    ch.push(&publisher, video(40, false));
    assert_eq!(
        drain(&sink).len(),
        1,
        "outside a burst, each message at once"
    );
}

#[test]
fn without_a_gop_kept_a_joiner_starts_at_the_next_keyframe() {
    let config = ChannelConfig {
        limits: BufferLimits {
            max_gops: Some(0),
            ..BufferLimits::default()
        },
        auto_created: true,
        max_lag_ms: 5000,
        merge_window: MergeWindow::fixed(Duration::ZERO),
        counters: None,
    };
    let ch = Channel::new("c".into(), config, None);
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    ch.push(&publisher, avc_header(1));
    ch.push(&publisher, video(0, true));
    ch.push(&publisher, video(40, false));
    let sink = subscribe(&ch, 2, Cursor::Latest);
    ch.push(&publisher, video(80, false));
    ch.push(&publisher, video(2000, true));
    ch.push(&publisher, video(2040, false));
    let got = drain(&sink);
    let media: Vec<u32> = got
        .iter()
        .filter(|f| !f.is_header())
        .map(|f| f.timestamp())
        .collect();
    assert_eq!(media, vec![2000, 2040], "from the next keyframe");
    assert!(got[0].is_header(), "the headers first");
}

#[test]
fn a_subscriber_with_cursor_next_waits_for_a_keyframe_without_counting_drops() {
    let ch = channel();
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    ch.push(&publisher, avc_header(1));
    ch.push(&publisher, video(0, true));
    ch.push(&publisher, video(40, false));
    let sub = subscribe(&ch, 2, Cursor::Next);
    ch.push(&publisher, video(80, false));
    ch.push(&publisher, video(120, true));
    let got = drain(&sub);
    assert!(got[0].is_sequence_header());
    assert_eq!(got[1].timestamp(), 120);
    assert_eq!(got.len(), 2);
    assert_eq!(sub.stream.dropped_packets(), 0);
}

#[test]
fn a_new_publisher_continues_the_timeline_from_its_first_keyframe() {
    let ch = channel();
    let (a, b) = (stream(1), stream(2));
    ch.set_publisher(&a);
    ch.push(&a, avc_header(1));
    ch.push(&a, video(1000, true));
    ch.push(&a, video(1040, false));
    let sub = subscribe(&ch, 3, Cursor::Latest);
    drain(&sub);
    // b has been streaming with other headers; it takes over.
    b.observe_packet(&avc_header(2));
    ch.set_publisher(&b);
    assert!(ch.push(&b, video(0, false)), "dropped until b's keyframe");
    ch.push(&b, audio(5));
    ch.push(&b, video(40, true));
    ch.push(&b, video(80, false));
    let got = drain(&sub);
    assert!(got[0].is_sequence_header(), "the new header comes first");
    assert_eq!(got[0].packet.body[5], 2);
    let media: Vec<u32> = got[1..].iter().map(|f| f.timestamp()).collect();
    assert_eq!(media, vec![1080, 1120]);
}

#[test]
fn closing_ends_every_subscriber() {
    let ch = channel();
    let sub = subscribe(&ch, 2, Cursor::Latest);
    let (_, subs) = ch.close();
    assert_eq!(subs.len(), 1);
    let mut out = Vec::new();
    assert_eq!(
        sub.next_batch(Duration::from_millis(10), &mut out),
        Err(QueueEnd::Ended(CloseReason::ChannelClosed))
    );
    assert!(ch
        .add_subscriber(&Sink::queue(stream(4)), Cursor::Latest)
        .is_err());
}

#[test]
fn a_batch_goes_out_when_its_window_ends_although_no_other_frame_arrives() {
    let timers = Timers::start().expect("timer thread");
    let ch = channel_with_window(Duration::from_millis(50), Some(timers));
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    let sink = subscribe(&ch, 2, Cursor::Next);
    let pushed = std::time::Instant::now();
    ch.push(&publisher, video(0, true));
    ch.push(&publisher, video(40, false));
    let mut got = Vec::new();
    while got.len() < 2 && pushed.elapsed() < Duration::from_secs(5) {
        let _ = sink.next_batch(Duration::from_millis(10), &mut got);
    }
    let waited = pushed.elapsed();
    assert_eq!(got.len(), 2, "both frames written by the deadline alone");
    assert!(
        waited >= Duration::from_millis(45),
        "held for the window: {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(1000),
        "written at the deadline: {waited:?}"
    );
}

#[test]
fn the_first_frame_of_a_new_source_is_marked() {
    let ch = channel();
    let first = stream(1);
    ch.set_publisher(&first);
    let sink = subscribe(&ch, 9, Cursor::Latest);
    ch.push(&first, video(0, true));
    ch.push(&first, video(40, false));
    let second = stream(2);
    ch.set_publisher(&second);
    // Dropped until its first keyframe, which starts the new source.
    ch.push(&second, video(5000, false));
    ch.push(&second, video(5040, true));
    ch.push(&second, video(5080, false));
    let marks: Vec<(u32, bool)> = drain(&sink)
        .iter()
        .map(|f| (f.timestamp(), f.starts_source()))
        .collect();
    assert_eq!(marks, [(0, false), (40, false), (80, true), (120, false)]);
}

#[test]
fn the_merge_window_grows_with_the_audience() {
    let merge = MergeWindow::adaptive(Duration::from_millis(100));
    let ms = |n| merge.for_audience(n).as_millis();
    assert_eq!(
        (ms(0), ms(1), ms(20), ms(32)),
        (0, 0, 0, 0),
        "a write per message"
    );
    assert_eq!(ms(96), 50);
    assert!(ms(50) > 0 && ms(50) < ms(100) && ms(100) < 100);
    assert_eq!((ms(160), ms(200), ms(5000)), (100, 100, 100));
    let fixed = MergeWindow::fixed(Duration::from_millis(100));
    assert_eq!(fixed.for_audience(1), Duration::from_millis(100));
}

#[test]
fn a_small_audience_gets_each_frame_at_once_and_a_big_one_waits_for_the_window() {
    let small = MergeWindow {
        max: Duration::from_secs(3600),
        per_message_up_to: 2,
        full_from: 3,
    };
    let ch = channel_merging(small, None);
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    let first = subscribe(&ch, 2, Cursor::Latest);
    let second = subscribe(&ch, 3, Cursor::Latest);
    ch.push(&publisher, video(0, true));
    assert_eq!(drain(&first).len(), 1, "two subscribers: written at once");
    assert_eq!(drain(&second).len(), 1);
    let third = subscribe(&ch, 4, Cursor::Latest);
    drain(&third);
    ch.push(&publisher, video(40, false));
    assert!(
        drain(&first).is_empty(),
        "three subscribers: held for the window"
    );
    ch.flush();
    assert_eq!(drain(&first).len(), 1);
}

/// A socket that takes everything at once.
struct OpenWire;

impl crate::hub::sink::Wire for OpenWire {
    fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> Result<usize, CloseReason> {
        Ok(bufs.iter().map(|b| b.len()).sum())
    }
    fn write_all_vectored(&self, _: &mut [std::io::IoSlice<'_>]) -> Result<(), CloseReason> {
        Ok(())
    }
    fn shutdown(&self) {}
}

#[test]
fn the_channel_counts_its_bytes_for_its_life_and_the_server_by_protocol() {
    use crate::hub::counters::ServerCounters;
    use crate::hub::sink::Format;
    use crate::hub::traffic::Protocol;
    let counters = Arc::new(ServerCounters::default());
    let config = ChannelConfig {
        limits: BufferLimits::default(),
        auto_created: true,
        max_lag_ms: 5000,
        merge_window: MergeWindow::fixed(Duration::ZERO),
        counters: Some(counters.clone()),
    };
    let ch = Channel::new("c".into(), config, None);
    let publisher = stream(1);
    ch.set_publisher(&publisher);
    let viewer = |key: u64| {
        let s = Arc::new(Stream::new(
            key,
            key.to_string(),
            StreamType::HttpFlv,
            "t".into(),
        ));
        s.count_into(counters.clone());
        let sink = Sink::new(s, Format::Flv, Arc::new(OpenWire));
        ch.add_subscriber(&sink, Cursor::Next).unwrap();
        sink
    };
    let (a, b) = (viewer(2), viewer(3));
    for i in 0..10u32 {
        ch.push(&publisher, video(i * 40, i == 0));
    }
    assert_eq!(ch.stats().totals.received_bytes, 10 * 6);
    let sent = ch.stats().totals.sent_bytes;
    assert!(sent > 0);
    assert_eq!(sent, a.stream.bytes_out() + b.stream.bytes_out());
    assert_eq!(counters.traffic.sent(Protocol::HttpFlv), sent);
    assert_eq!(counters.traffic.sent(Protocol::Rtmp), 0);
    ch.remove_subscriber(&b.stream);
    assert_eq!(
        ch.stats().totals.sent_bytes,
        sent,
        "a viewer leaving takes nothing away"
    );
    ch.push(&publisher, video(400, false));
    assert!(ch.stats().totals.sent_bytes > sent);
    assert_eq!(
        counters.traffic.sent(Protocol::HttpFlv),
        ch.stats().totals.sent_bytes
    );
}
