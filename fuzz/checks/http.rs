//! HTTP: the request-head parser of the media port, and the API's JSON bodies.

use std::sync::{Arc, OnceLock};

use joy4::http::api::{Api, ApiRequest, Body, Method, COMMON_ERRORS, ROUTES};
use joy4::http::request::{parse_head, HeadError, MAX_HEAD_LEN};
use joy4::hub::{Hub, HubSettings, NoEvents};

/// A request head as read from a socket: a complete head parses the same from exactly its bytes,
/// any shorter prefix asks for more, its fields are what the parser promises, and "too large"
/// only comes past the limit.
pub fn http_head(data: &[u8]) {
    match parse_head(data) {
        Ok(Some((head, used))) => {
            assert!(used <= data.len() && used <= MAX_HEAD_LEN + 4);
            assert_eq!(parse_head(&data[..used]), Ok(Some((head.clone(), used))));
            if used - 1 < MAX_HEAD_LEN {
                assert_eq!(parse_head(&data[..used - 1]), Ok(None));
            }
            assert!(!head.method.is_empty());
            assert!(head.method.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(head.target.starts_with('/'));
            assert!(head.version == "HTTP/1.1" || head.version == "HTTP/1.0");
            for (name, value) in &head.headers {
                assert!(!name.is_empty() && !name.contains(' '));
                assert!(head.header(name).is_some());
                assert_eq!(value.trim(), value);
            }
            let _ = head.path_and_query();
        }
        Ok(None) => assert!(data.len() < MAX_HEAD_LEN),
        Err(HeadError::TooLarge) => assert!(data.len() >= MAX_HEAD_LEN),
        Err(HeadError::Malformed(why)) => assert!(!why.is_empty()),
    }
}

/// One API for every run: a hub starts a timer thread, so it is made once. The channels a run
/// creates are closed at its end.
fn api() -> &'static (Arc<Hub>, Api) {
    static API: OnceLock<(Arc<Hub>, Api)> = OnceLock::new();
    API.get_or_init(|| {
        let hub = Hub::new(HubSettings::default(), Arc::new(NoEvents));
        (hub.clone(), Api::new(hub, None))
    })
}

/// The input as the JSON body of every POST route (but `/stream/new`, which starts proxies that
/// connect out): the answer is 200 or an error the route lists (or one every route may give),
/// with a detail; a created channel exists under the id the body names.
pub fn api_body(data: &[u8]) {
    let (hub, api) = api();
    for route in ROUTES.iter().filter(|r| r.method == Method::Post) {
        if route.path == "/stream/new" || route.path.contains('{') {
            continue;
        }
        let reply = api.handle(&ApiRequest {
            method: "POST",
            url: route.path,
            authorization: None,
            content_type: Some("application/json"),
            origin: None,
            body: Body::Complete(data),
        });
        if reply.status == 200 {
            assert_eq!(reply.err(), None);
        } else {
            let err = reply
                .err()
                .unwrap_or_else(|| panic!("{} answered {reply:?}", route.path));
            assert!(
                route.errors.contains(&err) || COMMON_ERRORS.contains(&err),
                "{err}"
            );
            let detail = reply.body["detail"].as_str().unwrap_or_default();
            assert!(!detail.is_empty(), "{reply:?}");
        }
        if route.path == "/channel/create" && reply.status == 200 {
            let body: serde_json::Value = serde_json::from_slice(data).expect("accepted JSON");
            let id = match &body["id"] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert!(hub.channel(&id).is_some(), "channel {id:?} was not created");
        }
    }
    for channel in hub.channel_stats() {
        let _ = hub.close_channel(&channel.id);
    }
}
