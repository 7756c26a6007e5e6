//! The media port (`-http`): one thread per connection reads the request head, answers CORS
//! preflights, and hands the request to the output its path names: `/PATH.flv` is HTTP-FLV play,
//! `/PATH.m3u8` and its segments are HLS (`http::hls`, which keeps the connection for more).
//!
//! Responses are written by our own code, not tiny_http: its `Response` buffers bodies of unknown
//! length (HTTP/1.0) or holds bytes back (chunked), and a live body must reach the player as it
//! comes.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use super::exchange::{read_head, simple_response};
use super::hls::HlsService;
use super::request::RequestHead;
use crate::hls::SegmenterSettings;
use crate::hub::{Hub, Listener};
use crate::net::{self, Continuation};
use crate::text::{log_safe, LOG_TEXT_MAX};

/// Accept media-port connections, a thread each, within the limits of `policy`. `watch_page`:
/// serve the watch page (`/`, `/channels.json` and its assets); `hls`: how HLS cuts segments.
pub fn serve(
    listener: TcpListener,
    hub: Arc<Hub>,
    policy: net::AcceptPolicy,
    watch_page: bool,
    hls: SegmenterSettings,
) {
    let hls = HlsService::new(hub.clone(), hls);
    let proxy = policy.proxy.clone();
    net::accept_loop(listener, "http", policy, move |socket, peer| {
        hub.counters.accepted(Listener::Http);
        // `X-Forwarded-For` is believed from the balancers `-proxyprotocol` trusts only.
        let forwarding = proxy.as_ref().is_some_and(|trust| {
            socket
                .peer_addr()
                .is_ok_and(|tcp| trust.trusts(net::unmapped(tcp).ip()))
        });
        handle_connection(
            socket,
            peer,
            forwarding,
            hub.clone(),
            watch_page,
            hls.clone(),
        )
    });
}

/// The client a trusted proxy names in `X-Forwarded-For`: the last address, the one the proxy
/// that connected to us added (the ones before it are whatever the client claimed).
pub(crate) fn forwarded_client(head: &RequestHead) -> Option<SocketAddr> {
    let last = head.header("x-forwarded-for")?.rsplit(',').next()?.trim();
    last.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 0))
        .or_else(|_| last.parse::<SocketAddr>())
        .ok()
        .map(net::unmapped)
}

/// What a connection does after a request.
enum Next {
    Close,
    /// A kept-alive HLS connection brought a request for something else: answer it.
    Request(RequestHead),
    /// A viewer plays: the rest of its life, for a fresh thread.
    Stream(Continuation),
}

fn handle_connection(
    mut socket: TcpStream,
    peer: SocketAddr,
    forwarding: bool,
    hub: Arc<Hub>,
    watch_page: bool,
    hls: Arc<HlsService>,
) -> Option<Continuation> {
    let _ = socket.set_write_timeout(Some(net::WRITE_TIMEOUT));
    let head = match read_head(&mut socket) {
        Ok(head) => head,
        Err((0, why)) => {
            log::debug!("http {peer}: {}", log_safe(&why, LOG_TEXT_MAX));
            return None;
        }
        Err((status, why)) => {
            log::warn!("http {peer}: {}", log_safe(&why, LOG_TEXT_MAX));
            simple_response(&mut socket, status, "", &format!("{why}\n"));
            return None;
        }
    };
    let mut head = head;
    loop {
        let client = match forwarding {
            true => forwarded_client(&head).unwrap_or(peer),
            false => peer,
        };
        match dispatch(&mut socket, client, head, &hub, watch_page, &hls) {
            Next::Request(next) => head = next,
            Next::Close => return None,
            Next::Stream(rest) => return Some(rest),
        }
    }
}

/// Answer one request, and say what the connection does next.
fn dispatch(
    socket: &mut TcpStream,
    peer: SocketAddr,
    head: RequestHead,
    hub: &Arc<Hub>,
    watch_page: bool,
    hls: &HlsService,
) -> Next {
    let (path, query) = head.path_and_query();
    let (path, query) = (path.as_str(), query);
    log::debug!(
        "http {peer}: {} {}",
        log_safe(&head.method, 16),
        log_safe(&head.target, LOG_TEXT_MAX)
    );
    match head.method.as_str() {
        "OPTIONS" => {
            let allow_headers = head
                .header("Access-Control-Request-Headers")
                .map(|h| format!("Access-Control-Allow-Headers: {h}\r\n"))
                .unwrap_or_default();
            simple_response(
                socket,
                204,
                &format!("Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\nAccess-Control-Max-Age: 86400\r\n{allow_headers}"),
                "",
            );
            return Next::Close;
        }
        "GET" | "HEAD" => {}
        _ => {
            simple_response(
                socket,
                405,
                "Allow: GET, HEAD, OPTIONS\r\n",
                "method not allowed\n",
            );
            return Next::Close;
        }
    }
    if let Some(request) = super::hls::route(path) {
        // A kept-alive HLS connection hands back the first request that is not HLS.
        return match hls.serve_connection(socket, peer, &head, query, request) {
            Some(next) => Next::Request(next),
            None => Next::Close,
        };
    }
    if let Some(channel) = super::flv::channel_of_path(path) {
        let Ok(socket) = socket.try_clone() else {
            return Next::Close;
        };
        return match super::flv::play_request(socket, peer, &head, query, &channel, hub) {
            Some(rest) => Next::Stream(rest),
            None => Next::Close,
        };
    }
    if let Some(resource) = super::page::resource_of_path(path).filter(|_| watch_page) {
        super::page::respond(socket, &head, resource, hub);
        return Next::Close;
    }
    simple_response(
        socket,
        404,
        "",
        "not found: use /CHANNEL.flv or /CHANNEL.m3u8\n",
    );
    Next::Close
}

#[cfg(test)]
mod forwarded_tests {
    use super::*;
    use crate::http::request::parse_head;

    fn head(xff: &str) -> RequestHead {
        let text = format!("GET /a.flv HTTP/1.1\r\nX-Forwarded-For: {xff}\r\n\r\n");
        parse_head(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn the_last_forwarded_address_is_the_client() {
        assert_eq!(
            forwarded_client(&head("6.6.6.6, 203.0.113.9")),
            Some("203.0.113.9:0".parse().unwrap())
        );
        assert_eq!(
            forwarded_client(&head("2001:db8::5")),
            Some("[2001:db8::5]:0".parse().unwrap())
        );
        assert_eq!(forwarded_client(&head("unknown")), None);
    }
}
