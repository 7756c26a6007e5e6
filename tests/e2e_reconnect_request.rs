//! Enhanced RTMP ReconnectRequest on loopback: a push relay (A's channel published to B) is
//! moved to C by `POST /stream/reconnect` on B, and back by `POST /server/drain` on C; a
//! tcUrl that is not rtmp:// is refused by joy4's client; a stream without an RTMP client
//! answers StreamStateInvalid.
mod support;

use std::time::Instant;

use serde_json::{json, Value};
use support::api::*;
use support::*;

/// The id of the stream publishing `channel` on `server`, if any.
fn publisher_of(server: &Server, channel: &str) -> Option<String> {
    get_json(server, "/stat/streams")
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, s)| s["channel"] == channel && s["stat"] == "publishing")
        .map(|(id, _)| id.clone())
}

fn wait_publisher(server: &Server, channel: &str, what: &str) -> String {
    wait_until(secs(10.0), || publisher_of(server, channel))
        .unwrap_or_else(|| panic!("{what}: no publisher of {channel}\n{}", server.describe()))
}

#[test]
fn a_push_relay_follows_reconnect_requests_and_a_drain_empties_a_server() {
    let mut a = Server::start(&[]);
    let b = Server::start(&[]);
    let c = Server::start(&[]);
    let _encoder = publish_loop(&mut a, &clip(), "live/src");
    let push = new_stream(
        &a,
        json!({"url": b.rtmp_url("live/p"), "channel": "live/src", "push": true}),
    );
    let on_b = wait_publisher(&b, "live/p", "B before the move");
    let viewer_b = Watcher::start(b.http_addr, "live/p", "viewer on B");
    assert!(viewer_b.video_after(Instant::now(), secs(5.0)).is_some());

    // Not rtmp://: joy4's client refuses to follow; the push stays on B.
    assert_ok(post_json(
        &b,
        "/stream/reconnect",
        &json!({"id": on_b, "tcUrl": "http://evil/live"}),
    ));
    std::thread::sleep(secs(1.5));
    assert_eq!(publisher_of(&b, "live/p").as_deref(), Some(on_b.as_str()));
    assert!(
        a.proc.log_text().contains("refusing a ReconnectRequest"),
        "{}",
        a.describe()
    );

    // A stream without an RTMP client cannot be asked.
    let viewer_id = wait_until(secs(5.0), || {
        get_json(&b, "/stat/streams")
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, s)| s["type"] == "http-flv")
            .map(|(id, _)| id.clone())
    })
    .expect("the HTTP-FLV viewer's stream");
    let (status, body) = post_json(&b, "/stream/reconnect", &json!({"id": viewer_id}));
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("StreamStateInvalid")),
        "{body}"
    );

    // B moves the push to C: C gets the publisher, B loses it, A's stat shows C.
    let t0 = Instant::now();
    let to_c = format!("rtmp://{}/live", c.rtmp_addr);
    assert_ok(post_json(
        &b,
        "/stream/reconnect",
        &json!({"id": on_b, "tcUrl": to_c, "description": "moving"}),
    ));
    wait_publisher(&c, "live/p", "C after /stream/reconnect");
    let viewer_c = Watcher::start(c.http_addr, "live/p", "viewer on C");
    let moved = t0.elapsed();
    eprintln!("reconnect: the push publishes on C {moved:?} after the request");
    assert!(
        viewer_c.video_after(t0, secs(8.0)).is_some(),
        "no video on C\n{}",
        c.describe()
    );
    let left = wait_until(secs(8.0), || {
        publisher_of(&b, "live/p").is_none().then_some(())
    });
    assert!(left.is_some(), "the push did not leave B\n{}", b.describe());
    let push_stat = stream_stat(&a, &push).expect("the push is still listed on A");
    assert_eq!(
        push_stat["rtmp"]["connectParams"]["tcUrl"],
        Value::from(to_c.clone())
    );

    // C drains: the push goes back to B; the answer counts it.
    let t1 = Instant::now();
    let to_b = format!("rtmp://{}/live", b.rtmp_addr);
    let (status, drained) = post_json(
        &c,
        "/server/drain",
        &json!({"tcUrl": to_b, "timeout": "10s"}),
    );
    assert_eq!(status, 200, "{drained}");
    assert_eq!(drained, json!({"asked": 1, "left": 1, "remaining": 0}));
    eprintln!("drain: C emptied in {:?}", t1.elapsed());
    assert!(publisher_of(&c, "live/p").is_none());
    wait_publisher(&b, "live/p", "B after C's drain");
    // The push relay kept its stream throughout.
    assert!(has_stream(&a, &push));
    viewer_b.finish();
    viewer_c.finish();
}
