//! The REST API's operations on channels and streams (create, setPublisher, addSubscriber, changeid,
//! close), each named error, and the callback events they cause.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::thread;
use std::time::Duration;

use serde_json::json;
use support::api::*;
use support::*;

#[test]
fn channel_and_stream_operations_and_each_named_error() {
    let clip = clip();
    let mut server = Server::start(&[]);
    let api = server.api_addr;
    let mut pub_a = publish(&clip, &server.rtmp_url("live/a"));
    let mut pub_b = publish(&clip, &server.rtmp_url("live/b"));
    wait_for_channel(&mut server, "live/a", &mut pub_a);
    wait_for_channel(&mut server, "live/b", &mut pub_b);
    let dir = TestDir::new();
    let _player = record(&server.flv_url("live/a"), &dir.file("rec.flv"), 15.0);
    let (a, _) = wait_stream(&server, "publisher a", secs(10.0), is_publisher("a"));
    let (b, _) = wait_stream(&server, "publisher b", secs(10.0), is_publisher("b"));
    let (player, _) = wait_stream(&server, "the player", secs(10.0), |s| {
        s["type"] == "http-flv"
            && s["stat"] == "subscribing"
            && s["elapsed"].as_f64().unwrap_or(0.0) > 1.0
    });

    // /channel/create
    assert_ok(post(
        api,
        "/channel/create",
        json!({"id": "c", "bufferDuration": "4s", "bufferGopCount": 3}),
    ));
    assert_err(
        post(api, "/channel/create", json!({"id": "c"})),
        400,
        "ChannelExists",
    );
    let (_, c) = get(api, "/stat/channel/c");
    assert_eq!(
        (&c["bufferDuration"], &c["bufferGopCount"], &c["publisher"]),
        (&json!(4.0), &json!(3), &json!(""))
    );
    assert_ok(post(
        api,
        "/channel/create",
        json!({"id": 42, "bufferSize": 500000}),
    ));
    assert_eq!(get(api, "/stat/channel/42").1["bufferSize"], 500000);

    // /channel/setPublisher
    assert_err(
        post(
            api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": "999"}),
        ),
        400,
        "StreamNotExists",
    );
    assert_err(
        post(
            api,
            "/channel/setPublisher",
            json!({"id": "nope", "streamId": a}),
        ),
        400,
        "ChannelNotExists",
    );
    assert_err(
        post(
            api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": player}),
        ),
        400,
        "StreamStateInvalid",
    );
    assert_ok(post(
        api,
        "/channel/setPublisher",
        json!({"id": "c", "streamId": a}),
    ));
    assert_eq!(get(api, "/stat/channel/c").1["publisher"], a.as_str());
    assert_eq!(get(api, &format!("/stat/stream/{a}")).1["channel"], "c");
    assert_err(
        post(
            api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": b, "replace": false}),
        ),
        400,
        "ChannelAlreadyHasPublisher",
    );
    // A number is the decimal id; replace defaults to true.
    let b_num: u64 = b.parse().expect("stream ids are decimal");
    assert_ok(post(
        api,
        "/channel/setPublisher",
        json!({"id": "c", "streamId": b_num}),
    ));
    assert_eq!(get(api, "/stat/channel/c").1["publisher"], b.as_str());
    assert_eq!(
        get(api, &format!("/stat/stream/{a}")).1["stat"],
        "connected"
    );

    // /channel/addSubscriber
    assert_err(
        post(
            api,
            "/channel/addSubscriber",
            json!({"id": "c", "streamId": "999"}),
        ),
        400,
        "StreamNotExists",
    );
    assert_err(
        post(
            api,
            "/channel/addSubscriber",
            json!({"id": "nope", "streamId": player}),
        ),
        400,
        "ChannelNotExists",
    );
    assert_err(
        post(
            api,
            "/channel/addSubscriber",
            json!({"id": "c", "streamId": b}),
        ),
        400,
        "StreamStateInvalid",
    );
    assert_err(
        post(
            api,
            "/channel/addSubscriber",
            json!({"id": "c", "streamId": player, "cursor": "sideways"}),
        ),
        400,
        "BadCursor",
    );
    assert_ok(post(
        api,
        "/channel/addSubscriber",
        json!({"id": "c", "streamId": player}),
    ));
    let (_, c) = get(api, "/stat/channel/c");
    assert_eq!(
        (&c["subscribers"], &c["subscriberCount"]),
        (&json!([player]), &json!(1))
    );
    assert_eq!(
        get(api, &format!("/stat/stream/{player}")).1["channel"],
        "c"
    );
    assert_ok(post(
        api,
        "/channel/addSubscriber",
        json!({"id": "42", "streamId": player, "cursor": "next"}),
    ));
    assert_eq!(
        get(api, &format!("/stat/stream/{player}")).1["channel"],
        "42"
    );

    // accept / reject outside checkingParams; changeid; close; new
    for path in ["/stream/accept", "/stream/reject"] {
        assert_err(
            post(api, path, json!({"id": "999"})),
            400,
            "StreamNotExists",
        );
        assert_err(post(api, path, json!({"id": b})), 400, "StreamStateInvalid");
    }
    assert_err(
        post(api, "/stream/changeid", json!({"id": "999", "newid": "x"})),
        400,
        "StreamNotExists",
    );
    assert_err(
        post(api, "/stream/changeid", json!({"id": a, "newid": b})),
        400,
        "StreamExists",
    );
    assert_err(
        post(api, "/stream/close", json!({"id": "999"})),
        400,
        "StreamNotExists",
    );
    assert_err(
        post(api, "/channel/close", json!({"id": "nope"})),
        400,
        "ChannelNotExists",
    );
    let detail = assert_err(
        post(api, "/stream/new", json!({"url": "ftp://nowhere/live/b"})),
        400,
        "BadUrl",
    );
    assert!(!detail.is_empty());

    assert_ok(post(api, "/stream/close", json!({"id": a})));
    pub_a.expect_exit(secs(10.0), "publisher a after /stream/close");
    assert_ok(post(api, "/channel/close", json!({"id": "42"})));
    assert_err(get(api, "/stat/channel/42"), 404, "ChannelNotExists");
    assert_err(get(api, "/stat/stream/999"), 404, "StreamNotExists");
    server.assert_alive("after the operations");
}

#[test]
fn changeid_then_close_under_the_new_id_with_one_event_each() {
    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&cb.flag(), "-publishergrace=1s"]);
    let api = server.api_addr;
    let mut publisher = publish(&clip(), &server.rtmp_url("live/cid"));
    wait_for_channel(&mut server, "live/cid", &mut publisher);
    let (id, _) = wait_stream(&server, "the publisher", secs(5.0), is_publisher("cid"));

    assert_ok(post(
        api,
        "/stream/changeid",
        json!({"id": id, "newid": "cam-7"}),
    ));
    assert_err(
        get(api, &format!("/stat/stream/{id}")),
        404,
        "StreamNotExists",
    );
    assert_eq!(get(api, "/stat/stream/cam-7").1["id"], "cam-7");
    assert_eq!(get(api, "/stat/channel/live/cid").1["publisher"], "cam-7");
    assert_err(
        post(api, "/stream/close", json!({"id": id})),
        400,
        "StreamNotExists",
    );
    assert_ok(post(api, "/stream/close", json!({"id": "cam-7"})));
    publisher.expect_exit(secs(10.0), "the publisher closed by the API");

    let close = cb.wait("streamClose", secs(5.0), |b| b["id"] == "cam-7");
    assert_eq!(close["reason"], "apiClose");
    assert!(
        close["bytes"].as_u64().unwrap_or(0) > 0 && close["elapsed"].as_f64().unwrap_or(0.0) > 0.0,
        "{close}"
    );
    cb.wait("channelClose", secs(15.0), |b| b["id"] == "live/cid");
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(cb.count("streamClose", "cam-7"), 1, "{:#?}", cb.all());
    assert_eq!(cb.count("streamClose", &id), 0, "{:#?}", cb.all());
    assert_eq!(cb.count("channelClose", "live/cid"), 1, "{:#?}", cb.all());
    assert_err(get(api, "/stat/stream/cam-7"), 404, "StreamNotExists");
}

#[test]
fn channel_close_ends_its_publisher_and_players_with_one_event_each() {
    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&cb.flag()]);
    let api = server.api_addr;
    assert_ok(post(api, "/channel/create", json!({"id": "room"})));
    let mut publisher = publish(&clip(), &server.rtmp_url("room"));
    wait_for_channel(&mut server, "room", &mut publisher);
    let dir = TestDir::new();
    let mut player = record(&server.flv_url("room"), &dir.file("rec.flv"), 15.0);
    let (pid, _) = wait_stream(&server, "the publisher", secs(5.0), |s| {
        s["rtmp"]["command"] == "publish"
    });
    let (player_id, _) = wait_stream(&server, "the player", secs(10.0), |s| {
        s["type"] == "http-flv"
            && s["stat"] == "subscribing"
            && s["elapsed"].as_f64().unwrap_or(0.0) > 1.0
    });

    assert_ok(post(api, "/channel/close", json!({"id": "room"})));
    publisher.expect_exit(secs(10.0), "the publisher of the closed channel");
    player.expect_exit(secs(10.0), "the player of the closed channel");
    cb.wait("channelClose", secs(5.0), |b| b["id"] == "room");
    for id in [&pid, &player_id] {
        let close = cb.wait("streamClose", secs(5.0), |b| b["id"] == id.as_str());
        assert_eq!(close["reason"], "channelClosed", "{close}");
    }
    assert_err(
        post(api, "/channel/close", json!({"id": "room"})),
        400,
        "ChannelNotExists",
    );
    thread::sleep(Duration::from_millis(1000));
    assert_eq!(cb.count("channelClose", "room"), 1, "{:#?}", cb.all());
    assert_eq!(cb.count("streamClose", &pid), 1, "{:#?}", cb.all());
    assert_eq!(cb.count("streamClose", &player_id), 1, "{:#?}", cb.all());
    // Every stream that connected was closed exactly once (the probes of wait_for_channel too).
    for connected in cb.named("streamConnected") {
        let id = connected["id"].as_str().unwrap();
        assert_eq!(
            cb.count("streamClose", id),
            1,
            "stream {id}: {:#?}",
            cb.all()
        );
    }
}
