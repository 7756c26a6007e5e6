//! Registry behaviour: ids, publish and play wiring, grace periods, events, decisions.

use super::*;
use crate::media::{Packet, PacketKind};

#[derive(Default)]
struct Recorder(Mutex<Vec<(&'static str, HubEvent)>>);

impl EventSink for Recorder {
    fn emit(&self, _: Option<u64>, event: HubEvent) {
        self.0.lock().push((event.name(), event));
    }
}

/// The close reason a streamClose event carries.
fn reason(event: &HubEvent) -> &'static str {
    match event {
        HubEvent::StreamClose { reason, .. } => reason.as_str(),
        _ => "",
    }
}

fn hub_with(settings: HubSettings) -> (Arc<Hub>, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    (Hub::new(settings, rec.clone()), rec)
}

fn hub() -> (Arc<Hub>, Arc<Recorder>) {
    hub_with(HubSettings {
        publisher_grace: Duration::ZERO,
        ..HubSettings::default()
    })
}

#[test]
fn a_vacant_channel_waits_out_the_grace_period_for_a_new_publisher() {
    let (hub, rec) = hub_with(HubSettings {
        publisher_grace: Duration::from_millis(200),
        ..HubSettings::default()
    });
    let first = hub.new_stream(StreamType::Rtmp, "x".into());
    hub.start_publish(&first, "live/a").unwrap();
    let player = hub.new_stream(StreamType::HttpFlv, "y".into());
    let _queue = hub.start_play(&player, "live/a", Cursor::Latest).unwrap();
    hub.finish_stream(&first, CloseReason::PeerClosed);
    assert!(
        hub.channel("live/a").is_some(),
        "kept during the grace period"
    );
    let second = hub.new_stream(StreamType::Rtmp, "x".into());
    hub.start_publish(&second, "live/a").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        hub.channel("live/a").is_some(),
        "the new publisher keeps it"
    );
    assert_eq!(hub.channel("live/a").unwrap().subscriber_count(), 1);
    hub.finish_stream(&second, CloseReason::PeerClosed);
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        hub.channel("live/a").is_none(),
        "closed after the grace period"
    );
    assert!(rec.0.lock().iter().any(|(name, _)| *name == "channelClose"));
}

#[test]
fn ids_are_decimal_counters_that_skip_taken_names() {
    let (hub, _) = hub();
    let a = hub.new_stream(StreamType::Rtmp, "x".into());
    assert_eq!(a.id(), "1");
    hub.change_stream_id("1", "3").unwrap();
    let b = hub.new_stream(StreamType::Rtmp, "x".into());
    assert_eq!(b.id(), "2");
    let c = hub.new_stream(StreamType::Rtmp, "x".into());
    assert_eq!(c.id(), "4");
    assert_eq!(hub.change_stream_id("2", "3"), Err(HubError::StreamExists));
    assert_eq!(
        hub.change_stream_id("9", "10"),
        Err(HubError::StreamNotExists)
    );
}

#[test]
fn a_second_publisher_on_a_path_is_refused() {
    let (hub, _) = hub();
    let a = hub.new_stream(StreamType::Rtmp, "x".into());
    let b = hub.new_stream(StreamType::Rtmp, "x".into());
    hub.start_publish(&a, "live/a").unwrap();
    assert_eq!(
        hub.start_publish(&b, "live/a").unwrap_err(),
        HubError::ChannelAlreadyHasPublisher
    );
}

#[test]
fn publisher_leaving_closes_its_channel_and_ends_players_with_one_event_each() {
    let (hub, rec) = hub();
    let publisher = hub.new_stream(StreamType::Rtmp, "x".into());
    let ch = hub.start_publish(&publisher, "1").unwrap();
    ch.push(
        &publisher,
        Packet::new(PacketKind::Video, 0, vec![0x17, 1, 0, 0, 0]),
    );
    let player = hub.new_stream(StreamType::HttpFlv, "y".into());
    let queue = hub.start_play(&player, "1", Cursor::Latest).unwrap();
    hub.finish_stream(&publisher, CloseReason::PeerClosed);
    hub.finish_stream(&publisher, CloseReason::PeerClosed);
    assert!(hub.channel("1").is_none());
    let mut frames = Vec::new();
    let end = loop {
        match queue.next_batch(Duration::from_millis(50), &mut frames) {
            Err(e) => break e,
            Ok(_) => frames.clear(),
        }
    };
    assert_eq!(
        end,
        super::super::sink::QueueEnd::Ended(CloseReason::ChannelClosed)
    );
    hub.finish_stream(&player, CloseReason::PeerClosed);
    let events = rec.0.lock();
    let names: Vec<&str> = events.iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        vec![
            "streamConnected",
            "streamConnected",
            "streamClose",
            "channelClose",
            "streamClose"
        ]
    );
    assert_eq!(reason(&events[4].1), "channelClosed");
    assert_eq!(reason(&events[2].1), "peerClosed");
}

#[test]
fn a_finished_player_releases_its_own_thread() {
    let (hub, _) = hub();
    let publisher = hub.new_stream(StreamType::Rtmp, "x".into());
    hub.start_publish(&publisher, "1").unwrap();
    let player = hub.new_stream(StreamType::Rtmp, "y".into());
    let sink = hub.start_play(&player, "1", Cursor::Latest).unwrap();
    // The player's connection ended (its reader saw EOF): the thread waiting on the sink
    // must be told, or it waits forever.
    hub.finish_stream(&player, CloseReason::PeerClosed);
    let mut frames = Vec::new();
    assert_eq!(
        sink.next_batch(Duration::from_secs(1), &mut frames),
        Err(super::super::sink::QueueEnd::Ended(CloseReason::PeerClosed))
    );
    assert_eq!(hub.channel("1").unwrap().subscriber_count(), 0);
}

#[test]
fn a_decision_by_key_follows_a_renamed_stream() {
    let (hub, _) = hub_with(HubSettings {
        check_params: true,
        check_timeout: Duration::from_secs(5),
        ..HubSettings::default()
    });
    let s = hub.new_stream(StreamType::Rtmp, "x".into());
    let (h2, s2) = (hub.clone(), s.clone());
    let waiter = std::thread::spawn(move || h2.check_params(&s2));
    while s.state() != StreamState::CheckingParams {
        std::thread::yield_now();
    }
    hub.change_stream_id(&s.id(), "renamed").unwrap();
    hub.decide_stream_key(s.key, true).unwrap();
    assert_eq!(waiter.join().unwrap(), Ok(()));
    assert_eq!(
        hub.decide_stream_key(9999, true),
        Err(HubError::StreamNotExists)
    );
}

#[test]
fn play_of_an_unknown_channel_is_not_found() {
    let (hub, _) = hub();
    let player = hub.new_stream(StreamType::Rtmp, "y".into());
    assert_eq!(
        hub.start_play(&player, "nope", Cursor::Latest).err(),
        Some(HubError::ChannelNotExists)
    );
}

#[test]
fn check_params_times_out_and_can_be_accepted() {
    let rec = Arc::new(Recorder::default());
    let hub = Hub::new(
        HubSettings {
            check_params: true,
            check_timeout: Duration::from_millis(50),
            ..HubSettings::default()
        },
        rec.clone(),
    );
    let s = hub.new_stream(StreamType::Rtmp, "x".into());
    assert_eq!(hub.check_params(&s), Err(CloseReason::Timeout));
    let t = hub.new_stream(StreamType::Rtmp, "x".into());
    let (h2, t2) = (hub.clone(), t.clone());
    let waiter = std::thread::spawn(move || h2.check_params(&t2));
    while t.state() != StreamState::CheckingParams {
        std::thread::yield_now();
    }
    hub.accept_stream(&t.id()).unwrap();
    assert_eq!(waiter.join().unwrap(), Ok(()));
    assert_eq!(
        hub.accept_stream(&t.id()),
        Err(HubError::StreamStateInvalid)
    );
    assert_eq!(rec.0.lock()[0].0, "streamCheckParams");
}

#[test]
fn an_attached_viewer_is_a_subscribing_player_that_is_not_subscribed() {
    let (hub, rec) = hub();
    let publisher = hub.new_stream(StreamType::Rtmp, "x".into());
    let channel = hub.start_publish(&publisher, "live/v").unwrap();
    let viewer = hub.new_stream(StreamType::HlsMem, "127.0.0.1:9".into());
    hub.attach_viewer(&viewer, &channel);
    let stats = viewer.stats();
    assert_eq!(stats.state, StreamState::Subscribing);
    assert_eq!(stats.channel.as_deref(), Some("live/v"));
    assert_eq!(stats.stream_type.as_str(), "hls-mem");
    assert_eq!(
        channel.subscriber_count(),
        0,
        "served by a muxer, not the channel"
    );
    hub.finish_stream(&viewer, CloseReason::Timeout);
    assert!(hub.stream(&viewer.id()).is_none());
    assert!(
        hub.channel("live/v").is_some(),
        "a viewer leaving closes nothing"
    );
    let names: Vec<&str> = rec.0.lock().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["streamConnected", "streamConnected", "streamClose"]);
    assert_eq!(reason(&rec.0.lock()[2].1), "timeout");
}

#[test]
fn shutdown_closes_every_stream_and_channel_and_reports_each_once() {
    let (hub, rec) = hub_with(HubSettings {
        publisher_grace: Duration::from_secs(30),
        ..HubSettings::default()
    });
    let publisher = hub.new_stream(StreamType::Rtmp, "x".into());
    let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = woken.clone();
    publisher.set_closer(Box::new(move || flag.store(true, Ordering::SeqCst)));
    hub.start_publish(&publisher, "live/a").unwrap();
    let player = hub.new_stream(StreamType::HttpFlv, "y".into());
    let queue = hub.start_play(&player, "live/a", Cursor::Latest).unwrap();
    let lone = hub.new_stream(StreamType::Rtmp, "x".into());
    hub.start_publish(&lone, "live/b").unwrap();
    hub.create_channel("empty", BufferLimits::default())
        .unwrap();
    let connecting = hub.new_stream(StreamType::Rtmp, "z".into());
    rec.0.lock().clear();

    assert_eq!(hub.shutdown(), (4, 3));

    assert!(
        woken.load(Ordering::SeqCst),
        "the publisher was asked to end"
    );
    let mut frames = Vec::new();
    let end = loop {
        match queue.next_batch(Duration::from_millis(50), &mut frames) {
            Err(e) => break e,
            Ok(_) => frames.clear(),
        }
    };
    // The player's own thread sees its channel close (and writes its goodbye).
    assert_eq!(
        end,
        super::super::sink::QueueEnd::Ended(CloseReason::ChannelClosed)
    );
    let events = rec.0.lock().clone();
    let names: Vec<&str> = events.iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        vec![
            "streamClose",
            "streamClose",
            "channelClose",
            "channelClose",
            "channelClose",
            "streamClose",
            "streamClose"
        ]
    );
    let closed: std::collections::BTreeSet<String> = events
        .iter()
        .filter_map(|(_, e)| match e {
            HubEvent::StreamClose { id, reason, .. } => {
                assert_eq!(*reason, CloseReason::Shutdown);
                Some(id.clone())
            }
            _ => None,
        })
        .collect();
    let all: std::collections::BTreeSet<String> = [&publisher, &player, &lone, &connecting]
        .iter()
        .map(|s| s.id())
        .collect();
    assert_eq!(closed, all);
    assert!(hub.stream_stats().is_empty() && hub.channel_stats().is_empty());

    // Streams that were still setting up are refused from now on, and a close that comes later
    // (the connection's own thread ending) reports nothing more.
    assert_eq!(
        hub.start_publish(&connecting, "live/c").unwrap_err(),
        HubError::StreamStateInvalid
    );
    let late = hub.new_stream(StreamType::HttpFlv, "y".into());
    assert!(hub.start_play(&late, "live/a", Cursor::Latest).is_err());
    hub.finish_stream(&publisher, CloseReason::PeerClosed);
    assert!(hub.channel("live/c").is_none());
    assert_eq!(rec.0.lock().len(), events.len());
}
