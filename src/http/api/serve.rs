//! The sockets side of the API: our own accept loop and one `api-PEER` thread per connection,
//! which reads each request within its bounds (`conn`), lets [`Api`] decide, and writes the
//! answer with tiny_http's response writer.
//!
//! Why not tiny_http's own server: it reads a header line without any limit, sets no socket
//! timeouts (a client that announces a body and sends nothing holds a thread forever), drains an
//! unread body into one buffer the size of its `Content-Length`, and has no bound on connections.
//! None of that can be configured away, so the request side is ours (the media port's bounded
//! head parser, deadlines, a connection limit), and tiny_http keeps what it does well: building
//! and writing responses (status line, `Date`, `Content-Length`, `HEAD`).
//!
//! A connection thread spends its time waiting for bytes with a deadline; a thousand idle or
//! slow clients cost a thousand small threads and never a slot another request needs.

use std::io::{BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{is_quiet, Connection, Framing, ReadError};
use super::handlers::{Admission, Api};
use super::render::ApiError;
use super::{ApiRequest, Body, Cors, Reply, MAX_BODY, MAX_CONNECTIONS, MAX_HEAD, REQUEST_TIMEOUT};
use crate::http::request::RequestHead;
use crate::hub::{Listener, ServerCounters};
use crate::net;

const CONNECTION_STACK: usize = 256 * 1024;
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Counts an open connection for as long as it lives.
struct Open(Arc<Api>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.requests.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serve the API on `listener` until it is stopped (shutdown): each connection on its own
/// `api-PEER` thread, at most [`MAX_CONNECTIONS`] at once.
/// With `proxy`, peers in its ranges must open with a PROXY protocol header, which names the
/// client shown in the logs.
pub fn serve(listener: TcpListener, api: Arc<Api>, proxy: Option<Arc<net::proxied::ProxyTrust>>) {
    let last_refusal_warning = AtomicU64::new(0);
    let started = Instant::now();
    for conn in listener.incoming() {
        let accepted = Instant::now();
        let socket = match conn {
            Ok(socket) => socket,
            Err(e) if net::signals::is_listener_stopped(&e) => return,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log::warn!("api: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let peer = net::unmapped(
            socket
                .peer_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
        );
        if api.requests.connections.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            api.requests.connections.fetch_sub(1, Ordering::Relaxed);
            refuse(socket, &api);
            let second = started.elapsed().as_secs() + 1;
            if last_refusal_warning.swap(second, Ordering::Relaxed) != second {
                log::warn!("api: {MAX_CONNECTIONS} connections open; refusing {peer}");
            }
            continue;
        }
        api.hub.counters.accepted(Listener::Api);
        let open = Open(api.clone());
        let proxy = proxy.clone();
        let spawned = net::spawn(format!("api-{peer}"), CONNECTION_STACK, move || {
            let api = open.0.clone();
            let counters = api.hub.clone();
            let on_bad = move || ServerCounters::add(&counters.counters.bad_proxy_headers);
            let Some(peer) =
                net::proxied_peer(&socket, peer, accepted, proxy.as_deref(), "api", &on_bad)
            else {
                return;
            };
            handle_connection(socket, peer, &api);
            drop(open);
        });
        if let Err(e) = spawned {
            log::warn!("api: cannot start a thread for {peer}: {e}");
        }
    }
}

/// Over the connection limit: a best-effort 503 that never waits, then close.
fn refuse(socket: TcpStream, api: &Api) {
    ServerCounters::add(&api.hub.counters.refused_connections);
    api.requests.record(503);
    let body = ApiError::new(
        503,
        "TooManyConnections",
        "the API has too many connections open",
    )
    .into_reply(None)
    .body
    .to_string();
    let text = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n{body}",
        body.len()
    );
    if socket.set_nonblocking(true).is_ok() {
        let _ = (&socket).write(text.as_bytes());
    }
}

/// The answer to a request that could not be read, if it gets one.
fn read_failure(e: &ReadError) -> Option<ApiError> {
    match e {
        ReadError::Gone(_) => None,
        ReadError::TimedOut => Some(ApiError::new(
            408,
            "RequestTimeout",
            format!(
                "the request did not arrive within {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )),
        ReadError::HeadTooLarge => Some(ApiError::new(
            431,
            "HeaderTooLarge",
            format!("the request line and headers are over {MAX_HEAD} bytes"),
        )),
        ReadError::BodyTooLarge => Some(ApiError::new(
            413,
            "BodyTooLarge",
            format!("the request body is over {MAX_BODY} bytes"),
        )),
        ReadError::Malformed(what) => Some(ApiError::bad(format!("malformed request: {what}"))),
    }
}

fn handle_connection(socket: TcpStream, peer: SocketAddr, api: &Api) {
    let _ = socket.set_write_timeout(Some(net::WRITE_TIMEOUT));
    let _ = socket.set_nodelay(true);
    let mut conn = Connection::new(socket);
    let mut first = true;
    loop {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let read = conn
            .read_head(deadline, !first)
            .and_then(|head| Framing::of(&head).map(|framing| (head, framing)));
        first = false;
        let (head, framing) = match read {
            Ok(read) => read,
            Err(e) => {
                if let Some(error) = read_failure(&e) {
                    log::info!("api {peer}: {} {}", error.status, error.detail);
                    let _ = write_reply(
                        &conn.socket,
                        api,
                        &error.into_reply(None),
                        "HTTP/1.1",
                        false,
                        true,
                    );
                    conn.linger();
                } else {
                    log::debug!("api {peer}: {e:?}");
                }
                return;
            }
        };
        let keep_alive = wants_keep_alive(&head);
        let req = ApiRequest {
            method: &head.method,
            url: &head.target,
            authorization: head.header("authorization"),
            content_type: head.header("content-type"),
            origin: head.header("origin"),
            body: if framing == Framing::TooLong {
                Body::TooLarge
            } else {
                Body::Complete(b"")
            },
        };
        let head_only = head.method == "HEAD";
        let (reply, close) = match api.admit(&req) {
            Admission::Answer(reply) => (reply, !keep_alive || framing.has_body()),
            Admission::Proceed(admitted) => match conn.read_body(framing, deadline) {
                Ok(body) if admitted.is_event_stream() => {
                    drop(body);
                    api.requests.record(200);
                    let last = head
                        .header("last-event-id")
                        .and_then(|v| v.trim().parse().ok());
                    log::debug!(
                        "api {peer}: {} {} -> event stream",
                        head.method,
                        head.target
                    );
                    super::sse::run(conn.socket, peer, api, last);
                    return;
                }
                Ok(_) if admitted.is_download() => {
                    let range = head.header("range");
                    match super::downloads::prepare(
                        api.recorder.as_deref(),
                        admitted.path(),
                        admitted.query(),
                        range,
                    ) {
                        Ok(download) => {
                            let status =
                                super::downloads::write(&download, &conn.socket, head_only);
                            let status = status.unwrap_or_else(|e| {
                                log::debug!("api {peer}: {} {}: {e}", head.method, head.target);
                                200
                            });
                            api.requests.record(status);
                            conn.linger();
                            return;
                        }
                        Err(e) => (e.into_reply(None), !keep_alive),
                    }
                }
                Ok(body) => (api.answer(&admitted, Body::Complete(&body)), !keep_alive),
                Err(ReadError::BodyTooLarge) => (api.answer(&admitted, Body::TooLarge), true),
                Err(e) => match read_failure(&e) {
                    Some(error) => (error.into_reply(None), true),
                    None => {
                        log::debug!("api {peer}: {e:?}");
                        return;
                    }
                },
            },
        };
        log_reply(peer, &head, &reply);
        let written = write_reply(&conn.socket, api, &reply, &head.version, head_only, close);
        if let Err(e) = written {
            if !is_quiet(&e) {
                log::info!("api {peer}: writing the answer failed: {e}");
            }
            return;
        }
        if close {
            conn.linger();
            return;
        }
    }
}

fn wants_keep_alive(head: &RequestHead) -> bool {
    let connection = head
        .header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if head.version == "HTTP/1.0" {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    }
}

fn log_reply(peer: SocketAddr, head: &RequestHead, reply: &Reply) {
    let (method, url) = (&head.method, &head.target);
    match reply.err() {
        None => log::debug!("api {peer}: {method} {url} -> {}", reply.status),
        Some(err) => log::info!(
            "api {peer}: {method} {url} -> {} {err}: {}",
            reply.status,
            reply.body["detail"].as_str().unwrap_or_default()
        ),
    }
}

fn write_reply(
    socket: &TcpStream,
    api: &Api,
    reply: &Reply,
    version: &str,
    head_only: bool,
    close: bool,
) -> std::io::Result<()> {
    api.requests.record(reply.status);
    let mut response = to_response(reply);
    if close {
        response = response.with_header(header("Connection", "close"));
    }
    let version = if version == "HTTP/1.0" {
        tiny_http::HTTPVersion(1, 0)
    } else {
        tiny_http::HTTPVersion(1, 1)
    };
    let mut out = BufWriter::new(socket);
    response.raw_print(&mut out, version, &[], head_only, None)?;
    out.flush()
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    // Names and values here are ours or an origin that came in a header line, which cannot hold
    // a line break; a value that still does not fit is left out.
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap_or_else(|()| {
        tiny_http::Header::from_bytes(&b"X-Omitted"[..], &b"1"[..]).expect("a valid header")
    })
}

fn to_response(reply: &Reply) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let (content_type, body) = match &reply.text {
        Some((content_type, text)) => (*content_type, text.clone()),
        None => (CONTENT_TYPE, format!("{}\n", reply.body)),
    };
    let mut response = tiny_http::Response::from_string(body)
        .with_status_code(reply.status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"))
        .with_header(header(
            "Server",
            concat!("joy4/", env!("CARGO_PKG_VERSION")),
        ));
    match &reply.cors {
        Cors::Any => response = response.with_header(header("Access-Control-Allow-Origin", "*")),
        Cors::Origin(origin) => {
            response = response
                .with_header(header("Access-Control-Allow-Origin", origin))
                .with_header(header("Vary", "Origin"))
        }
        Cors::Denied => response = response.with_header(header("Vary", "Origin")),
    }
    if let Some(allow) = &reply.allow {
        response = response
            .with_header(header("Allow", allow))
            .with_header(header("Access-Control-Allow-Methods", allow))
            .with_header(header(
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type, Last-Event-ID",
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

    fn get(
        response: &tiny_http::Response<std::io::Cursor<Vec<u8>>>,
        name: &'static str,
    ) -> Option<String> {
        response
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    }

    #[test]
    fn responses_are_json_with_cors() {
        let reply =
            ApiError::new(405, "MethodNotAllowed", "x").into_reply(Some("GET, OPTIONS".into()));
        let response = to_response(&reply);
        assert_eq!(response.status_code().0, 405);
        assert_eq!(
            get(&response, "Content-Type").as_deref(),
            Some(CONTENT_TYPE)
        );
        assert_eq!(
            get(&response, "Access-Control-Allow-Origin").as_deref(),
            Some("*")
        );
        assert_eq!(get(&response, "Allow").as_deref(), Some("GET, OPTIONS"));
    }

    #[test]
    fn state_changing_answers_name_only_an_allowed_origin() {
        let mut reply = ApiError::new(415, "UnsupportedMediaType", "x").into_reply(None);
        reply.cors = Cors::Denied;
        let response = to_response(&reply);
        assert_eq!(get(&response, "Access-Control-Allow-Origin"), None);
        assert_eq!(get(&response, "Vary").as_deref(), Some("Origin"));
        reply.cors = Cors::Origin("https://ops.example".into());
        let response = to_response(&reply);
        assert_eq!(
            get(&response, "Access-Control-Allow-Origin").as_deref(),
            Some("https://ops.example")
        );
    }
}
