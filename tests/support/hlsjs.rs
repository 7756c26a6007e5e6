//! hls.js for the browser tests: a page served from a loopback test server loads hls.js (from npm,
//! installed by scripts/test.sh under `target/npm`) and plays an HLS URL; the test drives
//! Chromium with `webdriver::Browser` and reads the video's `currentTime`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use super::TMP;

/// Where scripts/test.sh installs hls.js (`npm install --prefix target/npm hls.js@1`).
pub fn hlsjs_path() -> Result<PathBuf, String> {
    let path = Path::new(TMP).join("../npm/node_modules/hls.js/dist/hls.min.js");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: scripts/test.sh installs hls.js with npm",
            path.display()
        ))
    }
}

/// The player page: `?src=URL` plays it; `&ll=1` turns on hls.js's `lowLatencyMode`.
/// `window.latency()` is the wall-clock latency (now − the `PROGRAM-DATE-TIME` position on
/// screen, seconds); `window.stalls` counts `waiting` events once playback started.
const PAGE: &str = r#"<!doctype html><html><body>
<video id="v" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script>
window.hlsErrors = [];
window.stalls = 0;
var playing = false;
var video = document.getElementById('v');
var params = new URLSearchParams(location.search);
var src = params.get('src');
// A low-latency player that started behind (a slow first load on a busy machine) plays a
// little faster until it is back at the target latency, as LL-HLS deployments configure it.
var ll = params.get('ll') === '1';
var hls = new Hls({ lowLatencyMode: ll, maxLiveSyncPlaybackRate: ll ? 1.5 : 1 });
window.hls = hls;
window.latency = function () {
  var d = hls.playingDate;
  return d ? (Date.now() - d.getTime()) / 1000 : null;
};
video.addEventListener('playing', function () { playing = true; });
video.addEventListener('waiting', function () { if (playing) { window.stalls += 1; } });
hls.on(Hls.Events.ERROR, function (_, d) {
  window.hlsErrors.push(d.type + ':' + d.details + (d.fatal ? ':fatal' : ''));
});
hls.loadSource(src);
hls.attachMedia(video);
video.play().catch(function (e) { window.hlsErrors.push('play:' + e); });
</script></body></html>"#;

/// Serve the page at `/` and hls.js at `/hls.min.js` on a loopback port, forever.
pub fn serve_player_page(hlsjs: &Path) -> SocketAddr {
    let script = std::fs::read(hlsjs).expect("read hls.js");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the page server");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut line = String::new();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Drain the headers.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let (kind, body): (&str, &[u8]) = if line.starts_with("GET /hls.min.js") {
                ("application/javascript", &script)
            } else {
                ("text/html", PAGE.as_bytes())
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body);
        }
    });
    addr
}

/// `s` percent-encoded for a query value.
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
