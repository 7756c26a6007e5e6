//! The sockets side: tiny_http's accept loop, one short-lived `api-N` thread per request (at most
//! [`MAX_IN_FLIGHT`]), reading the bounded body, and writing the reply as a JSON response with
//! its CORS headers.
//!
//! Why a thread per request rather than a fixed pool: tiny_http sets no socket timeouts, so a
//! client that announces a body and never sends it holds whichever thread reads that body. With a
//! pool of four, four such clients would stop the API; with a thread per request they only hold
//! their own threads.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::{Api, ApiRequest, Body, Reply, MAX_BODY, MAX_IN_FLIGHT};
use crate::hub::Hub;

/// Above this declared `Content-Length`, the request is never dropped (see [`respond`]).
const UNDROPPABLE_BODY: usize = 256 << 20;
const HANDLER_STACK: usize = 256 * 1024;

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A counting limit on requests in flight.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

struct SlotGuard(Arc<Slots>);

impl Slots {
    fn acquire(self: &Arc<Slots>) -> SlotGuard {
        let mut free = self.free.lock();
        while *free == 0 {
            self.freed.wait(&mut free);
        }
        *free -= 1;
        SlotGuard(self.clone())
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        *self.0.free.lock() += 1;
        self.0.freed.notify_one();
    }
}

/// Serve the API until the server is unblocked: each request is handled on its own `api-N` thread.
pub fn serve(server: tiny_http::Server, hub: Arc<Hub>, api_token: Option<String>) {
    let api = Arc::new(Api::new(hub, api_token));
    let slots = Arc::new(Slots {
        free: Mutex::new(MAX_IN_FLIGHT),
        freed: Condvar::new(),
    });
    let counter = AtomicU64::new(0);
    loop {
        let request = match server.recv() {
            Ok(r) => r,
            Err(e) if e.to_string() == "thread unblocked" => break,
            Err(e) => {
                // Accept errors (e.g. out of file descriptors): do not spin.
                log::warn!("api: accepting a connection failed: {e}");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let slot = slots.acquire();
        let api = api.clone();
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        let spawned = thread::Builder::new()
            .name(format!("api-{n}"))
            .stack_size(HANDLER_STACK)
            .spawn(move || {
                let _slot = slot;
                respond(&api, request);
            });
        if let Err(e) = spawned {
            // The request is dropped with the closure: tiny_http answers 500.
            log::warn!("api: cannot start a request thread: {e}");
        }
    }
}

/// Read the body (never more than `MAX_BODY + 1` bytes, whatever Content-Length says), decide, write.
fn respond(api: &Api, mut request: tiny_http::Request) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let peer = request
        .remote_addr()
        .map(|a| crate::net::peer_text(*a))
        .unwrap_or_default();
    let authorization = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string());
    let declared = request.body_length();
    let mut buf = Vec::new();
    let body = if declared.is_some_and(|n| n > MAX_BODY) {
        Body::TooLarge
    } else {
        match request
            .as_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut buf)
        {
            Ok(_) if buf.len() > MAX_BODY => Body::TooLarge,
            Ok(_) => Body::Complete(&buf),
            Err(e) => {
                log::debug!("api {peer}: {method} {url}: reading the body failed: {e}");
                return;
            }
        }
    };
    let reply = api.handle(&ApiRequest {
        method: &method,
        url: &url,
        authorization: authorization.as_deref(),
        body,
    });
    match reply.err() {
        None => log::debug!("api {peer}: {method} {url} -> {}", reply.status),
        Some(err) => log::info!(
            "api {peer}: {method} {url} -> {} {err}: {}",
            reply.status,
            reply.body["detail"].as_str().unwrap_or_default()
        ),
    }
    let response = to_response(&reply);
    if declared.is_some_and(|n| n > UNDROPPABLE_BODY) {
        // tiny_http 0.12 drains an unread body when the request is dropped, into one buffer the
        // size of what is left: an absurd Content-Length would abort the process. Take the
        // connection out of tiny_http's hands instead and leave it open (a leak, only for such
        // requests).
        log::warn!("api {peer}: {method} {url} announced a {declared:?}-byte body; leaving the connection open");
        let mut stream = request.upgrade("close", response);
        let _ = stream.write_all(format!("{}\n", reply.body).as_bytes());
        let _ = stream.flush();
        std::mem::forget(stream);
        return;
    }
    if let Err(e) = request.respond(response) {
        log::debug!("api {peer}: {method} {url}: writing the response failed: {e}");
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn to_response(reply: &Reply) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut response = tiny_http::Response::from_string(format!("{}\n", reply.body))
        .with_status_code(reply.status)
        .with_header(header("Content-Type", CONTENT_TYPE))
        .with_header(header("Access-Control-Allow-Origin", "*"))
        .with_header(header("Cache-Control", "no-store"));
    if let Some(allow) = &reply.allow {
        response = response
            .with_header(header("Allow", allow))
            .with_header(header("Access-Control-Allow-Methods", allow))
            .with_header(header(
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type",
            ))
            .with_header(header("Access-Control-Max-Age", "86400"));
    }
    if reply.status == 401 {
        response = response.with_header(header("WWW-Authenticate", "Bearer"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::super::render::ApiError;
    use super::*;

    #[test]
    fn responses_are_json_with_cors() {
        let reply =
            ApiError::new(405, "MethodNotAllowed", "x").into_reply(Some("GET, OPTIONS".into()));
        let response = to_response(&reply);
        let get = |name: &'static str| {
            response
                .headers()
                .iter()
                .find(|h| h.field.equiv(name))
                .map(|h| h.value.as_str().to_string())
        };
        assert_eq!(response.status_code().0, 405);
        assert_eq!(get("Content-Type").as_deref(), Some(CONTENT_TYPE));
        assert_eq!(get("Access-Control-Allow-Origin").as_deref(), Some("*"));
        assert_eq!(get("Allow").as_deref(), Some("GET, OPTIONS"));
    }
}
