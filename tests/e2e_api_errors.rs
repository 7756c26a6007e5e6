//! The REST API's answers to malformed requests (each with a named error), its documented routes,
//! and the API token.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::io::{Read, Write};

use serde_json::json;
use support::api::*;
use support::*;

#[test]
fn malformed_requests_get_named_errors() {
    let mut server = Server::start(&[]);
    let api = server.api_addr;

    // 400 naming the field
    let cases: &[(&str, &str, &str)] = &[
        ("/channel/create", "{\"id\": ", "body is not valid JSON"),
        ("/channel/create", "", "body is empty"),
        ("/channel/create", "[\"id\"]", "body must be a JSON object"),
        ("/channel/create", "{}", "field 'id' is missing"),
        (
            "/channel/create",
            "{\"id\": false}",
            "field 'id' must be a string",
        ),
        (
            "/channel/create",
            "{\"id\": \"x\", \"bufferGopCount\": -1}",
            "field 'bufferGopCount' must be a positive integer",
        ),
        (
            "/channel/create",
            "{\"id\": \"x\", \"bufferSize\": \"1MB\"}",
            "field 'bufferSize' must be a positive integer",
        ),
        (
            "/channel/create",
            "{\"id\": \"x\", \"bufferDuration\": \"forever\"}",
            "field 'bufferDuration' must be a positive duration",
        ),
        (
            "/channel/setPublisher",
            "{\"id\": \"x\"}",
            "field 'streamId' is missing",
        ),
        (
            "/channel/setPublisher",
            "{\"id\": \"x\", \"streamId\": \"1\", \"replace\": 1}",
            "field 'replace' must be true or false",
        ),
        (
            "/channel/addSubscriber",
            "{\"streamId\": \"1\"}",
            "field 'id' is missing",
        ),
        (
            "/stream/changeid",
            "{\"id\": \"1\", \"newid\": \"\"}",
            "field 'newid' must not be empty",
        ),
        (
            "/stream/accept",
            "{\"id\": 1.5}",
            "field 'id' must be a string",
        ),
    ];
    for (path, body, want) in cases {
        let detail = assert_err(post_text(api, path, body), 400, "BadRequest");
        assert!(
            detail.starts_with(want),
            "POST {path} {body}: {detail:?} should start with {want:?}"
        );
    }
    assert_err(get(api, "/stat/channel/x"), 404, "ChannelNotExists");

    // 404, 405 (with Allow), OPTIONS preflight
    assert_err(get(api, "/no/such/thing"), 404, "NotFound");
    let r = raw(api, "GET", "/channel/create", b"", "");
    assert_eq!(r.head.header("allow"), Some("POST, OPTIONS"));
    assert_err(parse("GET", "/channel/create", &r), 405, "MethodNotAllowed");
    assert_err(
        post(api, "/stat/streams", json!({})),
        405,
        "MethodNotAllowed",
    );
    let r = raw(
        api,
        "OPTIONS",
        "/channel/create",
        b"",
        "Origin: http://example.com\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n",
    );
    assert_eq!(parse("OPTIONS", "/channel/create", &r).0, 200);
    assert!(r
        .head
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST")));
    assert!(r
        .head
        .header("access-control-allow-headers")
        .is_some_and(|h| h.to_ascii_lowercase().contains("authorization")));

    // 413: announced, sent without a length, and absurd; exactly 1 MiB is fine.
    let big = format!(
        "{{\"id\": \"big\", \"pad\": \"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );
    assert_err(post_text(api, "/channel/create", &big), 413, "BodyTooLarge");
    let mut chunked = Vec::new();
    for piece in big.as_bytes().chunks(8192) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let mut req = format!("POST /channel/create HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    req.extend_from_slice(&chunked);
    let r = http_exchange(api, &req, secs(10.0)).expect("chunked request");
    assert_err(parse("POST", "/channel/create", &r), 413, "BodyTooLarge");
    let head = format!(
        "POST /channel/create HTTP/1.1\r\nHost: {api}\r\nContent-Length: 100000000000000\r\n\r\n{{"
    );
    let mut sock = tcp_connect(api).unwrap();
    sock.write_all(head.as_bytes()).unwrap();
    let mut answer = [0u8; 12];
    sock.read_exact(&mut answer)
        .expect("an answer to an absurd Content-Length");
    assert_eq!(&answer, b"HTTP/1.1 413");
    drop(sock);
    let exact = format!("{{\"id\": \"edge\"{}}}", " ".repeat(1024 * 1024 - 14));
    assert_eq!(exact.len(), 1024 * 1024);
    assert_ok(post_text(api, "/channel/create", &exact));
    assert_eq!(get(api, "/stat/channel/edge").0, 200);
    assert_err(get(api, "/stat/channel/big"), 404, "ChannelNotExists");
    server.assert_alive("after the oversized bodies");

    // The served document describes every route the server answers, and the server answers every
    // route it describes.
    let (status, doc) = get(api, "/openapi.json");
    assert_eq!(status, 200);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.0")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 14);
    // Two routes answer other than JSON: /metrics (text; checked here by status) and /events
    // (a stream that does not end; e2e_api_hardening reads it).
    assert_eq!(raw(api, "GET", "/metrics", b"", "").head.status, 200);
    for (path, ops) in paths
        .iter()
        .filter(|(p, _)| !matches!(p.as_str(), "/events" | "/metrics"))
    {
        for method in ops.as_object().unwrap().keys() {
            let url = path.replace("{id}", "no-such-id");
            let method = method.to_ascii_uppercase();
            let (status, v) = parse(&method, &url, &raw(api, &method, &url, b"{}", ""));
            assert!(
                !matches!(v["err"].as_str(), Some("NotFound" | "MethodNotAllowed")),
                "{method} {url} is documented but answers {status} {v}"
            );
        }
    }
    server.assert_alive("at the end");
}

#[test]
fn the_api_token_is_required_when_set() {
    let server = Server::start(&["-apitoken=s3cret"]);
    let api = server.api_addr;
    let r = raw(api, "GET", "/stat/streams", b"", "");
    assert_eq!(r.head.header("www-authenticate"), Some("Bearer"));
    assert_err(parse("GET", "/stat/streams", &r), 401, "Unauthorized");
    let wrong = raw(
        api,
        "GET",
        "/stat/streams",
        b"",
        "Authorization: Bearer s3cre\r\n",
    );
    assert_err(parse("GET", "/stat/streams", &wrong), 401, "Unauthorized");
    let right = raw(
        api,
        "GET",
        "/stat/streams",
        b"",
        "Authorization: Bearer s3cret\r\n",
    );
    assert_eq!(parse("GET", "/stat/streams", &right), (200, json!({})));
    let body = br#"{"id": "t"}"#;
    let create = raw(
        api,
        "POST",
        "/channel/create",
        body,
        "Authorization: Bearer s3cret\r\n",
    );
    assert_ok(parse("POST", "/channel/create", &create));
    let denied = raw(
        api,
        "POST",
        "/channel/close",
        body,
        "Authorization: Bearer nope\r\n",
    );
    assert_err(
        parse("POST", "/channel/close", &denied),
        401,
        "Unauthorized",
    );
    assert_err(get(api, "/unknown"), 401, "Unauthorized");
    // A CORS preflight carries no credentials.
    assert_eq!(
        parse(
            "OPTIONS",
            "/stat/streams",
            &raw(api, "OPTIONS", "/stat/streams", b"", "")
        )
        .0,
        200
    );
}
