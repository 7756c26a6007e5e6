use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::*;
use serde_json::json;

use crate::hub::{HubSettings, NoEvents};
use crate::rtmp::client::RtmpUrl;
use crate::rtmp::session;

fn hub() -> Arc<Hub> {
    Hub::new(HubSettings::default(), Arc::new(NoEvents))
}

#[test]
fn backoff_doubles_to_thirty_seconds_and_resets_after_a_minute_of_media() {
    let mut b = Backoff::new();
    let delays: Vec<f64> = (0..9)
        .map(|_| b.after(Duration::from_secs(5)).as_secs_f64())
        .collect();
    assert_eq!(delays, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
    assert_eq!(b.after(Duration::from_secs(60)), Duration::from_millis(500));
    assert_eq!(b.after(Duration::ZERO), Duration::from_secs(1));
}

#[test]
fn edge_urls_map_back_to_the_channel() {
    for (origin, path, url) in [
        ("rtmp://a:1935", "live/abc", "rtmp://a:1935/live/abc"),
        ("rtmp://a:1935/", "1", "rtmp://a:1935/1/1"),
        ("rtmp://a", "live/x/y", "rtmp://a/live/x/y"),
    ] {
        assert_eq!(edge_url(origin, path), url);
        let parsed = RtmpUrl::parse(url).unwrap();
        assert_eq!(
            session::channel_path(&parsed.app, parsed.stream_name()),
            path
        );
    }
}

#[test]
fn requests_are_checked_field_by_field() {
    let r = ProxyRequest::parse(&json!({"url": "rtmp://h/live/a", "id": 7})).unwrap();
    assert_eq!((r.id.as_deref(), r.push), (Some("7"), false));
    let r =
        ProxyRequest::parse(&json!({"url": "http://h:8081/live/a.flv", "channel": "/x/"})).unwrap();
    assert_eq!(r.channel.as_deref(), Some("x"));
    assert_eq!(r.source, Source::HttpFlv("http://h:8081/live/a.flv".into()));

    let err = |body: Value| ProxyRequest::parse(&body).unwrap_err();
    for body in [
        json!([1]),
        json!({}),
        json!({"url": 5}),
        json!({"url": "rtmp://h/a/b", "id": ""}),
        json!({"url": "rtmp://h/a/b", "id": -1}),
        json!({"url": "rtmp://h/a/b", "channel": 3}),
        json!({"url": "rtmp://h/a/b", "channel": "/"}),
        json!({"url": "rtmp://h/a/b", "push": "yes"}),
        json!({"url": "rtmp://h/a/b", "push": true}),
    ] {
        assert_eq!(err(body.clone()).name(), "BadRequest", "{body}");
    }
    for url in [
        "ftp://h/a/b",
        "https://h/a.flv",
        "rtmp://",
        "rtmp://h:99999/a/b",
        "rtmp://h",
        "http://",
        "http://h:x/a.flv",
        "http://h/",
        "nonsense",
        "",
    ] {
        let e = err(json!({ "url": url }));
        assert_eq!(e.name(), "BadUrl", "{url}: {e}");
        assert!(!e.detail().is_empty());
    }
    let e = err(json!({"url": "http://h/a.flv", "channel": "c", "push": true}));
    assert_eq!(e.name(), "BadUrl");
}

#[test]
fn new_stream_refuses_taken_ids_and_missing_push_channels() {
    let hub = hub();
    let taken = hub.new_stream(StreamType::Rtmp, "x".into()).id();
    let e = new_stream(&hub, &json!({"url": "rtmp://127.0.0.1:1/a/b", "id": taken}));
    assert_eq!(e.unwrap_err().name(), "StreamExists");
    let e = new_stream(
        &hub,
        &json!({"url": "rtmp://127.0.0.1:1/a/b", "channel": "none", "push": true}),
    );
    assert_eq!(e.unwrap_err(), ProxyError::ChannelNotExists("none".into()));
}

#[test]
fn a_pull_of_an_unreachable_url_stays_connecting_until_closed() {
    let hub = hub();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let id = new_stream(
        &hub,
        &json!({"url": format!("rtmp://127.0.0.1:{port}/live/a"), "id": "p1", "channel": "c"}),
    )
    .unwrap();
    assert_eq!(id, "p1");
    let stat = crate::http::json::stream_json(&hub.stream("p1").unwrap().stats());
    assert_eq!(stat["stat"], "connecting");
    assert_eq!(stat["type"], "rtmp");
    assert_eq!(stat["rtmp"]["command"], "pull");
    assert_eq!(stat["rtmp"]["streamName"], "a");
    std::thread::sleep(Duration::from_millis(700));
    assert!(hub.channel("c").is_none(), "wired only once connected");
    hub.close_stream("p1").unwrap();
    let t0 = Instant::now();
    while hub.stream("p1").is_some() {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "the pull did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_edge_pull_slot_is_freed_when_its_thread_panics() {
    use super::edge_watch::{PullSlot, SlotRefusal};
    use parking_lot::Mutex;
    use std::collections::HashSet;

    let active = Arc::new(Mutex::new(HashSet::new()));
    let take = |path: &str| PullSlot::take(&active, &mut active.lock(), path, 1);
    let slot = take("live/a").unwrap();
    assert_eq!(take("live/a").err(), Some(SlotRefusal::Pulling));
    assert_eq!(take("live/b").err(), Some(SlotRefusal::Full));
    let pull = std::thread::spawn(move || {
        let _slot = slot;
        panic!("an edge pull's thread panics");
    });
    assert!(pull.join().is_err());
    assert!(active.lock().is_empty(), "the slot was not freed");
    assert!(take("live/b").is_ok());
}
