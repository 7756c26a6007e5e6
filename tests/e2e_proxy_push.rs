//! Stream proxy pushes to another server (which is restarted meanwhile), a pull wired to a channel
//! by the API, and the API's refusals of what the proxy cannot do.
//!
//! A server that gets killed and restarted on the same ports is started with fixed ports, picked
//! by binding port 0 first. Each test starts its own servers, so the tests run in parallel.
mod support;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use support::api::*;
use support::*;

/// Wait until `GET /PATH.flv` on `server` answers 200.
fn wait_channel_up(server: &Server, path: &str, timeout: Duration) -> bool {
    let flv = Server::flv_path(path);
    wait_until(timeout, || {
        (http_status(server.http_addr, &flv).ok() == Some(200)).then_some(())
    })
    .is_some()
}

/// B pushes a channel to C; C's player decodes it. C is killed and started again: the push
/// reconnects and C has the channel again. A pull without a channel is wired by
/// `/channel/setPublisher`. `/stream/close` ends a push.
#[test]
fn push_to_another_server_reconnects_and_plays_there() {
    let mut b = Server::start(&[]);
    let ports_c = free_ports();
    let c = Server::start_on(ports_c, &["-publishergrace=1s"]);
    let _publisher = publish_loop(&mut b, &clip(), "live/p");

    let push = new_stream(
        &b,
        json!({"url": c.rtmp_url("live/pushed"), "channel": "live/p", "push": true}),
    );
    let stat = wait_stream_stat(&b, &push, "pushing", secs(10.0), |s| {
        s["channel"] == "live/p"
    });
    assert_eq!(stat["type"], "rtmp");
    assert_eq!(stat["rtmp"]["command"], "push");
    assert_eq!(stat["rtmp"]["streamName"], "pushed");
    assert!(
        wait_channel_up(&c, "live/pushed", secs(10.0)),
        "C has no channel live/pushed\n{}\n{}",
        b.describe(),
        c.describe()
    );
    record_and_decode(&c.rtmp_url("live/pushed"), 4.0, "played from C");
    let pushed = wait_stream_stat(&b, &push, "counting bytes", secs(5.0), |s| {
        s["bytes"].as_u64().unwrap_or(0) > 100_000
    });
    assert!(pushed["time"].as_f64().unwrap_or(0.0) > 1.0, "{pushed}");

    // C goes away and comes back: the push publishes again.
    let mut c = c;
    c.proc.kill();
    thread::sleep(secs(1.0));
    let c = Server::start_on(ports_c, &["-publishergrace=1s"]);
    let back = Instant::now();
    assert!(
        wait_channel_up(&c, "live/pushed", secs(10.0)),
        "the push did not come back to C\n{}",
        b.describe()
    );
    eprintln!(
        "push: C has the channel again {:?} after its return",
        back.elapsed()
    );
    assert!(back.elapsed() < secs(8.0));
    record_and_decode(
        &c.rtmp_url("live/pushed"),
        3.0,
        "played from C after its restart",
    );

    // A pull without a channel waits in `connected` for the controller.
    let free = new_stream(&b, json!({"url": b.rtmp_url("live/p"), "id": "loop"}));
    let stat = wait_stream_stat(&b, &free, "connected", secs(10.0), |s| {
        s["stat"] == "connected"
    });
    assert!(stat["channel"].is_null(), "{stat}");
    assert_eq!(
        post_json(&b, "/channel/create", &json!({"id": "live/free"})),
        (200, json!({}))
    );
    assert_eq!(
        post_json(
            &b,
            "/channel/setPublisher",
            &json!({"id": "live/free", "streamId": "loop"})
        ),
        (200, json!({}))
    );
    wait_stream_stat(&b, &free, "publishing", secs(5.0), |s| {
        s["stat"] == "publishing" && s["channel"] == "live/free"
    });
    let watch = Watcher::start(b.http_addr, "live/free", "player of the wired pull");
    assert!(watch.video_after(Instant::now(), secs(5.0)).is_some());
    watch.finish();

    // /stream/close ends the push for good: it leaves B's stats and C's channel closes.
    assert_eq!(
        post_json(&b, "/stream/close", &json!({"id": push})),
        (200, json!({}))
    );
    assert!(
        wait_until(secs(5.0), || (!has_stream(&b, &push)).then_some(())).is_some(),
        "the push is still listed after /stream/close"
    );
    assert!(
        wait_until(secs(15.0), || (!has_channel(&c, "live/pushed"))
            .then_some(()))
        .is_some(),
        "C still has the channel after the push ended"
    );
}

/// URLs the proxy cannot use get 400 BadUrl; a taken id 400 StreamExists; a push of a missing
/// channel 400 ChannelNotExists; a pull of an unreachable server stays `connecting` until closed.
#[test]
fn bad_requests_get_400_and_unreachable_pulls_keep_connecting() {
    let b = Server::start(&[]);
    for url in [
        "ftp://127.0.0.1/live/x",
        "https://127.0.0.1/live/x.flv",
        "rtmp://",
        "rtmp:///live/x",
        "rtmp://127.0.0.1:99999/live/x",
        "rtmp://127.0.0.1:port/live/x",
        "rtmp://127.0.0.1",
        "rtmp://127.0.0.1/live/",
        "http://127.0.0.1:0/live/x.flv",
        "http://127.0.0.1/",
        "not a url",
    ] {
        assert_refused(&b, "/stream/new", json!({ "url": url }), "BadUrl");
    }
    assert_refused(&b, "/stream/new", json!({}), "BadRequest");
    assert_refused(&b, "/stream/new", json!({"url": 7}), "BadRequest");
    assert_refused(
        &b,
        "/stream/new",
        json!({"url": "rtmp://127.0.0.1/live/x", "push": true}),
        "BadRequest",
    );
    assert_refused(
        &b,
        "/stream/new",
        json!({"url": "rtmp://127.0.0.1/live/x", "channel": "nothing", "push": true}),
        "ChannelNotExists",
    );

    let port = free_ports()[0];
    let url = format!("rtmp://127.0.0.1:{port}/live/x");
    let id = new_stream(
        &b,
        json!({"id": "pending", "url": url, "channel": "live/x"}),
    );
    assert_eq!(id, "pending");
    assert_refused(
        &b,
        "/stream/new",
        json!({"id": "pending", "url": url}),
        "StreamExists",
    );
    thread::sleep(secs(1.5));
    let stat = get_json(&b, "/stat/stream/pending");
    assert_eq!(stat["stat"], "connecting", "{stat}");
    assert_eq!(stat["type"], "rtmp");
    assert!(
        !has_channel(&b, "live/x"),
        "the channel waits for the first connection"
    );
    assert_eq!(
        post_json(&b, "/stream/close", &json!({"id": "pending"})),
        (200, json!({}))
    );
    assert!(
        wait_until(secs(3.0), || (!has_stream(&b, "pending")).then_some(())).is_some(),
        "the pull is still listed after /stream/close"
    );
}
