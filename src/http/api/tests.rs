use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::hub::{Hub, HubSettings, NoEvents, StreamType};

fn api(token: Option<&str>) -> Api {
    let hub = Hub::new(HubSettings::default(), Arc::new(NoEvents));
    Api::new(hub, token.map(String::from))
}

fn call(api: &Api, method: &str, url: &str, body: &str) -> Reply {
    api.handle(&ApiRequest {
        method,
        url,
        authorization: None,
        content_type: Some("application/json"),
        origin: None,
        body: Body::Complete(body.as_bytes()),
    })
}

fn post(api: &Api, url: &str, body: Value) -> Reply {
    call(api, "POST", url, &body.to_string())
}

fn assert_err(reply: &Reply, status: u16, err: &str) {
    assert_eq!(
        (reply.status, reply.err()),
        (status, Some(err)),
        "{reply:?}"
    );
    assert!(
        reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{reply:?}"
    );
}

fn detail(reply: &Reply) -> &str {
    reply.body["detail"].as_str().unwrap_or_default()
}

#[test]
fn stat_endpoints_answer_objects_and_404_for_unknown_ids() {
    let api = api(None);
    let s = api
        .hub
        .new_stream(StreamType::Rtmp, "127.0.0.1:5000".into());
    let r = call(&api, "GET", "/stat/streams", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body[s.id()]["stat"], "connecting");
    let r = call(
        &api,
        "GET",
        &format!("/stat/stream/{}?pretty=1", s.id()),
        "",
    );
    assert_eq!(
        (r.status, &r.body["remoteAddr"]),
        (200, &json!("127.0.0.1:5000"))
    );
    assert_err(
        &call(&api, "GET", "/stat/stream/99", ""),
        404,
        "StreamNotExists",
    );
    assert_err(
        &call(&api, "GET", "/stat/channel/nope", ""),
        404,
        "ChannelNotExists",
    );
    assert_eq!(call(&api, "GET", "/stat/channels", "").body, json!({}));
}

#[test]
fn channel_create_applies_bounds_and_refuses_duplicates() {
    let api = api(None);
    let r = post(
        &api,
        "/channel/create",
        json!({"id": "a", "bufferDuration": "1.5s", "bufferGopCount": 4}),
    );
    assert_eq!((r.status, &r.body), (200, &json!({})));
    let limits = api.hub.channel("a").unwrap().limits();
    assert_eq!(limits.max_duration_ms, Some(1500));
    assert_eq!(limits.max_gops, Some(4));
    assert_eq!(limits.max_bytes, api.hub.settings.limits.max_bytes);
    assert_err(
        &post(&api, "/channel/create", json!({"id": "a"})),
        400,
        "ChannelExists",
    );

    assert_eq!(
        post(&api, "/channel/create", json!({"id": "b"})).status,
        200
    );
    assert_eq!(
        api.hub.channel("b").unwrap().limits(),
        api.hub.settings.limits
    );

    post(
        &api,
        "/channel/create",
        json!({"id": "c", "bufferSize": 1000, "bufferDuration": 2}),
    );
    let limits = api.hub.channel("c").unwrap().limits();
    assert_eq!(
        (limits.max_bytes, limits.max_duration_ms, limits.max_gops),
        (Some(1000), Some(2000), None)
    );
    post(
        &api,
        "/channel/create",
        json!({"id": 7, "bufferDuration": "2m"}),
    );
    assert_eq!(
        api.hub.channel("7").unwrap().limits().max_duration_ms,
        Some(120_000)
    );
    post(
        &api,
        "/channel/create",
        json!({"id": "d", "bufferDuration": "500ms", "unknown": [1]}),
    );
    assert_eq!(
        api.hub.channel("d").unwrap().limits().max_duration_ms,
        Some(500)
    );
}

#[test]
fn bad_bodies_name_the_field() {
    let api = api(None);
    let cases: &[(&str, &str, &str)] = &[
        ("/channel/create", "", "body is empty"),
        ("/channel/create", "{\"id\":", "body is not valid JSON"),
        (
            "/channel/create",
            "[1]",
            "body must be a JSON object, not an array",
        ),
        ("/channel/create", "{}", "field 'id' is missing"),
        ("/channel/create", "{\"id\":null}", "field 'id' is missing"),
        (
            "/channel/create",
            "{\"id\":\"\"}",
            "field 'id' must not be empty",
        ),
        (
            "/channel/create",
            "{\"id\":-1}",
            "field 'id' must be a string or a non-negative integer",
        ),
        (
            "/channel/create",
            "{\"id\":true}",
            "field 'id' must be a string or a non-negative integer",
        ),
        (
            "/channel/create",
            "{\"id\":\"x\",\"bufferGopCount\":0}",
            "field 'bufferGopCount' must be a positive integer",
        ),
        (
            "/channel/create",
            "{\"id\":\"x\",\"bufferGopCount\":1.5}",
            "field 'bufferGopCount' must be a positive integer",
        ),
        (
            "/channel/create",
            "{\"id\":\"x\",\"bufferSize\":\"big\"}",
            "field 'bufferSize' must be a positive integer",
        ),
        (
            "/channel/create",
            "{\"id\":\"x\",\"bufferDuration\":\"soon\"}",
            "field 'bufferDuration' must be a positive duration",
        ),
        (
            "/channel/create",
            "{\"id\":\"x\",\"bufferDuration\":\"0s\"}",
            "field 'bufferDuration' must be a positive duration",
        ),
        (
            "/channel/create",
            "{\"id\":\"x\",\"bufferDuration\":[]}",
            "field 'bufferDuration' must be a positive duration",
        ),
        (
            "/channel/setPublisher",
            "{\"id\":\"x\"}",
            "field 'streamId' is missing",
        ),
        (
            "/channel/setPublisher",
            "{\"id\":\"x\",\"streamId\":\"1\",\"replace\":\"yes\"}",
            "field 'replace' must be true or false",
        ),
        (
            "/channel/addSubscriber",
            "{\"id\":\"x\",\"streamId\":1,\"cursor\":5}",
            "field 'cursor' must be a string",
        ),
        (
            "/stream/changeid",
            "{\"id\":\"1\"}",
            "field 'newid' is missing",
        ),
        (
            "/stream/close",
            "\"1\"",
            "body must be a JSON object, not a string",
        ),
        ("/stream/accept", "{\"ID\":\"1\"}", "field 'id' is missing"),
        (
            "/stream/reject",
            "{\"id\":{}}",
            "field 'id' must be a string or a non-negative integer",
        ),
        (
            "/channel/close",
            "{\"id\":[\"a\"]}",
            "field 'id' must be a string or a non-negative integer",
        ),
    ];
    for (path, body, want) in cases {
        let r = call(&api, "POST", path, body);
        assert_err(&r, 400, "BadRequest");
        assert!(
            detail(&r).starts_with(want),
            "POST {path} {body}: {:?} does not start with {want:?}",
            detail(&r)
        );
    }
    assert!(api.hub.channel("x").is_none());
}

#[test]
fn stream_operations_report_the_hubs_errors() {
    let api = api(None);
    for path in ["/stream/close", "/stream/accept", "/stream/reject"] {
        assert_err(
            &post(&api, path, json!({"id": "9"})),
            400,
            "StreamNotExists",
        );
    }
    assert_err(
        &post(&api, "/channel/close", json!({"id": "9"})),
        400,
        "ChannelNotExists",
    );
    assert_err(
        &post(&api, "/stream/changeid", json!({"id": "9", "newid": "x"})),
        400,
        "StreamNotExists",
    );
    assert_err(
        &post(
            &api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": "9"}),
        ),
        400,
        "StreamNotExists",
    );
    assert_err(
        &post(
            &api,
            "/channel/addSubscriber",
            json!({"id": "c", "streamId": "9"}),
        ),
        400,
        "StreamNotExists",
    );
    assert_err(
        &post(&api, "/stream/new", json!({"url": "ftp://x/y"})),
        400,
        "BadUrl",
    );

    let a = api.hub.new_stream(StreamType::Rtmp, "x".into());
    let b = api.hub.new_stream(StreamType::Rtmp, "x".into());
    // A number id is its decimal string.
    assert_err(
        &post(&api, "/stream/accept", json!({"id": 1})),
        400,
        "StreamStateInvalid",
    );
    assert_err(
        &post(
            &api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": 1}),
        ),
        400,
        "ChannelNotExists",
    );
    assert_err(
        &post(
            &api,
            "/channel/addSubscriber",
            json!({"id": "c", "streamId": 1, "cursor": "sideways"}),
        ),
        400,
        "BadCursor",
    );
    assert_err(
        &post(
            &api,
            "/stream/changeid",
            json!({"id": a.id(), "newid": b.id()}),
        ),
        400,
        "StreamExists",
    );
    assert_eq!(
        post(
            &api,
            "/stream/changeid",
            json!({"id": a.id(), "newid": "cam"})
        )
        .status,
        200
    );
    assert_eq!(a.id(), "cam");

    post(&api, "/channel/create", json!({"id": "c"}));
    assert_eq!(
        post(
            &api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": "cam"})
        )
        .status,
        200
    );
    assert_err(
        &post(
            &api,
            "/channel/setPublisher",
            json!({"id": "c", "streamId": b.id(), "replace": false}),
        ),
        400,
        "ChannelAlreadyHasPublisher",
    );
    assert_err(
        &post(
            &api,
            "/channel/addSubscriber",
            json!({"id": "c", "streamId": "cam"}),
        ),
        400,
        "StreamStateInvalid",
    );
    assert_eq!(
        api.hub.channel("c").unwrap().stats().publisher.as_deref(),
        Some("cam")
    );
    assert_eq!(
        post(&api, "/stream/close", json!({"id": "cam"})).status,
        200
    );
    assert_eq!(post(&api, "/channel/close", json!({"id": "c"})).status, 200);
    assert!(api.hub.channel("c").is_none());
}

#[test]
fn http_level_errors() {
    let api = api(None);
    assert_err(&call(&api, "GET", "/nope", ""), 404, "NotFound");
    assert_err(&call(&api, "GET", "/", ""), 404, "NotFound");
    let r = call(&api, "DELETE", "/stream/close", "");
    assert_err(&r, 405, "MethodNotAllowed");
    assert_eq!(r.allow.as_deref(), Some("POST, OPTIONS"));
    let r = api.handle(&ApiRequest {
        method: "POST",
        url: "/channel/create",
        content_type: Some("application/json"),
        body: Body::TooLarge,
        ..ApiRequest::default()
    });
    assert_err(&r, 413, "BodyTooLarge");
    let r = call(&api, "OPTIONS", "/channel/create", "");
    assert_eq!((r.status, r.allow.as_deref()), (200, Some("POST, OPTIONS")));
    assert_err(&call(&api, "OPTIONS", "/nope", ""), 404, "NotFound");
    let r = call(&api, "GET", "/openapi.json", "");
    assert_eq!(
        (r.status, &r.body["info"]["title"]),
        (200, &json!("joy4 control API"))
    );
}

#[test]
fn the_token_is_required_when_set() {
    let api = api(Some("s3cret"));
    let with = |auth: Option<&str>| {
        api.handle(&ApiRequest {
            method: "GET",
            url: "/stat/streams",
            authorization: auth,
            ..ApiRequest::default()
        })
    };
    assert_err(&with(None), 401, "Unauthorized");
    assert_err(&with(Some("Bearer s3cre")), 401, "Unauthorized");
    assert_err(&with(Some("Bearer s3cret2")), 401, "Unauthorized");
    assert_err(&with(Some("Basic s3cret")), 401, "Unauthorized");
    assert_err(&with(Some("s3cret")), 401, "Unauthorized");
    assert_eq!(with(Some("Bearer s3cret")).status, 200);
    assert_eq!(with(Some("bearer  s3cret ")).status, 200);
    // Unknown paths do not reveal themselves without the token; preflights need none.
    assert_err(&call(&api, "GET", "/nope", ""), 401, "Unauthorized");
    assert_eq!(call(&api, "OPTIONS", "/stat/streams", "").status, 200);
    // An empty token means no token.
    assert_eq!(
        call(&self::api(Some("")), "GET", "/stat/streams", "").status,
        200
    );
}
