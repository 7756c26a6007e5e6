//! The watch page on the media port: `GET /` lists the live channels and plays one in the
//! browser (HTTP-FLV through the vendored mpegts.js, or the channel's HLS where the browser plays
//! HLS itself); `GET /channels.json` is the public list it polls. Everything it serves is
//! embedded in the binary; the page loads nothing from anywhere else (its Content-Security-Policy
//! says so to the browser).

pub mod listing;

use std::io::Write;
use std::net::TcpStream;

use super::exchange::reason_phrase;
use super::request::RequestHead;
use crate::hub::Hub;

/// The vendored mpegts.js release (see `README.md` beside this file).
pub const MPEGTS_VERSION: &str = "1.8.2";

const INDEX_HTML: &[u8] = include_bytes!("index.html");
const WATCH_JS: &[u8] = include_bytes!("watch.js");
const MPEGTS_JS: &[u8] = include_bytes!("mpegts.js");
const MPEGTS_NOTICE: &[u8] = include_bytes!("mpegts.js.LICENSE.txt");
const MPEGTS_LICENSE: &[u8] = include_bytes!("LICENSE-mpegts.js");

/// Same-origin only: the page, its scripts, the channel list and the media all come from here
/// (`blob:` is the Media Source that mpegts.js hands the video element).
const PAGE_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
     media-src 'self' blob:; img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; \
     base-uri 'none'; form-action 'none'";

/// What the watch page serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Page,
    Script,
    Player,
    PlayerLicense,
    Channels,
}

/// The resource a path names, if any. Channel playback paths (`.flv`, `.m3u8`) never match.
pub fn resource_of_path(path: &str) -> Option<Resource> {
    match path {
        "/" | "/index.html" => Some(Resource::Page),
        "/watch.js" => Some(Resource::Script),
        "/mpegts.js" => Some(Resource::Player),
        "/mpegts.js.LICENSE.txt" => Some(Resource::PlayerLicense),
        "/channels.json" => Some(Resource::Channels),
        _ => None,
    }
}

/// Answer a GET or HEAD for `resource`, then close.
pub(crate) fn respond(socket: &mut TcpStream, head: &RequestHead, resource: Resource, hub: &Hub) {
    let head_only = head.method == "HEAD";
    let page_headers = format!("Content-Security-Policy: {PAGE_POLICY}\r\n");
    let channels;
    let (content_type, extra, body): (&str, &str, Vec<&[u8]>) = match resource {
        Resource::Page => ("text/html; charset=utf-8", &page_headers, vec![INDEX_HTML]),
        Resource::Script => ("text/javascript; charset=utf-8", "", vec![WATCH_JS]),
        Resource::Player => (
            "text/javascript; charset=utf-8",
            "Cache-Control: max-age=3600\r\n",
            vec![MPEGTS_JS],
        ),
        Resource::PlayerLicense => (
            "text/plain; charset=utf-8",
            "",
            vec![MPEGTS_NOTICE, b"\n", MPEGTS_LICENSE],
        ),
        Resource::Channels => {
            channels = listing::channels_json(&listing::channel_summaries(hub)).to_string();
            (
                "application/json",
                "Access-Control-Allow-Origin: *\r\n",
                vec![channels.as_bytes()],
            )
        }
    };
    write_response(socket, content_type, extra, &body, head_only);
}

/// A 200 with a known length; `Cache-Control: no-cache` unless `extra` sets its own.
fn write_response(
    socket: &mut TcpStream,
    content_type: &str,
    extra: &str,
    body: &[&[u8]],
    head_only: bool,
) {
    let length: usize = body.iter().map(|part| part.len()).sum();
    let cache = if extra.contains("Cache-Control") {
        ""
    } else {
        "Cache-Control: no-cache\r\n"
    };
    let mut out = format!(
        "HTTP/1.1 200 {}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\
         X-Content-Type-Options: nosniff\r\n{cache}{extra}Connection: close\r\nServer: joy4\r\n\r\n",
        reason_phrase(200)
    )
    .into_bytes();
    if !head_only {
        out.reserve(length);
        for part in body {
            out.extend_from_slice(part);
        }
    }
    if let Err(e) = socket.write_all(&out) {
        log::debug!("watch page: write failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_paths_are_named_and_playback_paths_are_not() {
        assert_eq!(resource_of_path("/"), Some(Resource::Page));
        assert_eq!(resource_of_path("/channels.json"), Some(Resource::Channels));
        assert_eq!(resource_of_path("/mpegts.js"), Some(Resource::Player));
        assert_eq!(resource_of_path("/live/abc.flv"), None);
        assert_eq!(resource_of_path("/live/abc.m3u8"), None);
        assert_eq!(resource_of_path("/channels.json/x"), None);
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for (name, text) in [("index.html", INDEX_HTML), ("watch.js", WATCH_JS)] {
            let text = String::from_utf8_lossy(text);
            for scheme in ["http:", "https:", "//"] {
                for quote in ["\"", "'", "`", "("] {
                    let needle = format!("{quote}{scheme}");
                    assert!(!text.contains(&needle), "{name} refers to {needle}");
                }
            }
        }
        let page = String::from_utf8_lossy(INDEX_HTML);
        assert!(page.contains("src=\"/mpegts.js\"") && page.contains("src=\"/watch.js\""));
    }

    #[test]
    fn the_vendored_player_is_the_recorded_release() {
        let js = String::from_utf8_lossy(MPEGTS_JS);
        assert!(js[..100].contains("mpegts.js.LICENSE.txt"));
        assert!(js.contains(&format!("return\"{MPEGTS_VERSION}\"")));
        let readme = include_str!("README.md");
        assert!(readme.contains(&format!("version **{MPEGTS_VERSION}**")));
        assert!(String::from_utf8_lossy(MPEGTS_LICENSE).contains("Apache License"));
    }
}
