//! HTTP callbacks and `-rtmpcheckparams`: a fake callback server (`support::Callbacks`) records
//! every event and answers `streamCheckParams` as each test tells it; a publisher is accepted or
//! rejected by the API, by the callback's reply or by the timeout; a dead callback server costs
//! nothing.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use support::api::*;
use support::*;

#[test]
fn check_params_accept_and_reject_through_the_api() {
    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&cb.flag(), "-rtmpcheckparams", "-checktimeout=15s"]);
    let api = server.api_addr;
    let clip = clip();

    let mut yes = publish(&clip, &server.rtmp_url("live/yes"));
    let check = cb.wait("streamCheckParams", secs(10.0), |b| {
        b["rtmp"]["streamName"] == "yes"
    });
    let id = check["id"].as_str().expect("an id").to_string();
    assert_eq!(
        (&check["type"], &check["rtmp"]["command"]),
        (&json!("rtmp"), &json!("publish"))
    );
    assert_eq!(check["rtmp"]["connectParams"]["app"], "live");
    assert!(check["remoteAddr"]
        .as_str()
        .unwrap_or_default()
        .starts_with("127.0.0.1:"));
    assert_eq!(
        get(api, &format!("/stat/stream/{id}")).1["stat"],
        "checkingParams"
    );
    // Not wired before it is accepted.
    assert_err(get(api, "/stat/channel/live/yes"), 404, "ChannelNotExists");
    assert_ok(post(api, "/stream/accept", json!({"id": id})));
    wait_for_channel(&mut server, "live/yes", &mut yes);
    assert_eq!(
        get(api, &format!("/stat/stream/{id}")).1["stat"],
        "publishing"
    );
    assert_err(
        post(api, "/stream/accept", json!({"id": id})),
        400,
        "StreamStateInvalid",
    );
    assert_err(
        post(api, "/stream/reject", json!({"id": id})),
        400,
        "StreamStateInvalid",
    );
    let connected = cb.wait("streamConnected", secs(5.0), |b| b["id"] == id.as_str());
    assert_eq!(connected["stat"], "publishing");

    let mut no = publish(&clip, &server.rtmp_url("live/no"));
    let check = cb.wait("streamCheckParams", secs(10.0), |b| {
        b["rtmp"]["streamName"] == "no"
    });
    let no_id = check["id"].as_str().unwrap().to_string();
    assert_ok(post(api, "/stream/reject", json!({"id": no_id})));
    let status = no.expect_exit(secs(10.0), "the rejected publisher");
    assert!(
        !status.success(),
        "a rejected ffmpeg publisher must fail: {status:?}"
    );
    let close = cb.wait("streamClose", secs(5.0), |b| b["id"] == no_id.as_str());
    assert_eq!(close["reason"], "rejected");
    assert_eq!(cb.count("streamConnected", &no_id), 0);
    assert!(
        yes.is_running(),
        "the accepted publisher stopped\n{}",
        yes.describe()
    );
    thread::sleep(Duration::from_millis(500));
    assert_eq!(cb.count("streamClose", &no_id), 1);
}

#[test]
fn check_params_decided_by_the_callback_reply_or_the_timeout() {
    let cb = Callbacks::start(|b| match b["rtmp"]["streamName"].as_str() {
        Some("yes") => r#"{"accept": true}"#.into(),
        Some("no") => r#"{"accept": false}"#.into(),
        _ => r#"{"thinking": true}"#.into(),
    });
    let mut server = Server::start(&[&cb.flag(), "-rtmpcheckparams", "-checktimeout=2s"]);
    let clip = clip();
    let start = Instant::now();
    let mut yes = publish(&clip, &server.rtmp_url("live/yes"));
    let mut no = publish(&clip, &server.rtmp_url("live/no"));
    let mut later = publish(&clip, &server.rtmp_url("live/later"));

    wait_for_channel(&mut server, "live/yes", &mut yes);
    let status = no.expect_exit(secs(10.0), "the publisher the callback rejected");
    assert!(!status.success(), "{status:?}");
    let status = later.expect_exit(secs(12.0), "the publisher nobody decided on");
    assert!(!status.success(), "{status:?}");
    assert!(
        start.elapsed() >= secs(2.0),
        "timed out before -checktimeout"
    );

    let id_of = |name: &str| {
        let c = cb.wait("streamCheckParams", secs(1.0), |b| {
            b["rtmp"]["streamName"] == name
        });
        c["id"].as_str().unwrap().to_string()
    };
    let (yes_id, no_id, later_id) = (id_of("yes"), id_of("no"), id_of("later"));
    cb.wait("streamConnected", secs(5.0), |b| b["id"] == yes_id.as_str());
    assert_eq!(
        cb.wait("streamClose", secs(5.0), |b| b["id"] == no_id.as_str())["reason"],
        "rejected"
    );
    assert_eq!(
        cb.wait("streamClose", secs(5.0), |b| b["id"] == later_id.as_str())["reason"],
        "timeout"
    );
    assert_eq!(
        get(server.api_addr, &format!("/stat/stream/{yes_id}")).1["stat"],
        "publishing"
    );
}

#[test]
fn a_dead_callback_server_stops_neither_media_nor_the_api() {
    media_and_api_go_on_with_callbacks_to(&dead_url());
}

#[test]
fn a_callback_server_that_never_answers_stops_neither_media_nor_the_api() {
    // Connections are accepted (by the backlog) and never answered: each POST waits for its
    // timeout.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", black_hole.local_addr().unwrap());
    media_and_api_go_on_with_callbacks_to(&url);
    drop(black_hole);
}

/// A publisher, an HTTP-FLV player and the API work as usual while callbacks go to `url`, and
/// the failed callbacks are logged.
fn media_and_api_go_on_with_callbacks_to(url: &str) {
    let mut server = Server::start(&[&format!("-httpcallback={url}")]);
    let mut publisher = publish(&clip(), &server.rtmp_url("live/dead"));
    wait_for_channel(&mut server, "live/dead", &mut publisher);
    let mut flv = FlvStream::open(server.http_addr, "/live/dead.flv", secs(5.0))
        .expect("open the HTTP-FLV stream");
    let deadline = Instant::now() + secs(10.0);
    let mut keyframes = 0;
    while keyframes < 2 {
        match flv.next_tag_until(deadline) {
            Ok(Some(tag)) if tag.is_video_keyframe() && !tag.is_avc_sequence_header() => {
                keyframes += 1
            }
            Ok(Some(_)) => {}
            other => panic!("HTTP-FLV ended early: {other:?}\n{}", server.describe()),
        }
    }
    let t = Instant::now();
    let (status, streams) = get(server.api_addr, "/stat/streams");
    assert_eq!(status, 200);
    assert!(t.elapsed() < secs(1.0), "the API took {:?}", t.elapsed());
    assert!(
        streams.as_object().is_some_and(|m| m.len() >= 2),
        "{streams}"
    );
    assert!(
        wait_until(secs(10.0), || server
            .log_text()
            .contains("callback POST")
            .then_some(()))
        .is_some(),
        "no warning about the dead callback server\n{}",
        server.describe()
    );
    server.assert_alive("with a dead callback server");
}
