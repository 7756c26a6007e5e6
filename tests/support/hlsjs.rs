//! hls.js in a headless Chromium: a page served from a loopback test server loads hls.js (from
//! npm, installed by scripts/test.sh under `target/npm`) and plays an HLS URL; the test drives
//! Chromium through chromedriver's W3C WebDriver HTTP API and reads the video's `currentTime`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::{wait_until, Proc, TestDir, TMP};

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

const PAGE: &str = r#"<!doctype html><html><body>
<video id="v" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script>
window.hlsErrors = [];
var video = document.getElementById('v');
var src = decodeURIComponent(location.search.slice(5));
var hls = new Hls({ lowLatencyMode: false });
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

/// A headless Chromium session over chromedriver; dropped, it ends the session.
pub struct HeadlessChromium {
    driver: Proc,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: TestDir,
}

impl HeadlessChromium {
    pub fn start() -> Result<HeadlessChromium, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1");
        let driver = Proc::spawn("chromedriver", cmd);
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        let base = format!("http://127.0.0.1:{port}");
        wait_until(Duration::from_secs(15), || {
            let status: Value = agent
                .get(&format!("{base}/status"))
                .call()
                .ok()?
                .into_json()
                .ok()?;
            (status["value"]["ready"] == true).then_some(())
        })
        .ok_or_else(|| format!("chromedriver not ready\n{}", driver.describe()))?;
        let profile = TestDir::new();
        let binary = if Path::new("/usr/lib/chromium/chromium").exists() {
            "/usr/lib/chromium/chromium"
        } else {
            "/usr/bin/chromium"
        };
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required",
            &format!("--user-data-dir={}", profile.path.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": args},
        }}});
        let mut browser = HeadlessChromium {
            driver,
            base,
            session: String::new(),
            agent,
            _profile: profile,
        };
        let answer = browser.command("POST", "/session", Some(capabilities))?;
        browser.session = answer["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no sessionId in {answer}"))?
            .to_string();
        Ok(browser)
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let request = self.agent.request(method, &url);
        let result = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        match result {
            Ok(response) => response
                .into_json::<Value>()
                .map(|v| v["value"].clone())
                .map_err(|e| format!("{method} {path}: {e}")),
            Err(ureq::Error::Status(code, response)) => Err(format!(
                "{method} {path}: HTTP {code}: {}",
                response.into_string().unwrap_or_default()
            )),
            Err(e) => Err(format!("{method} {path}: {e}")),
        }
    }

    pub fn goto(&self, url: &str) -> Result<(), String> {
        let path = format!("/session/{}/url", self.session);
        self.command("POST", &path, Some(json!({ "url": url })))
            .map(drop)
    }

    /// Run `script` (a function body: `return …`) in the page.
    pub fn execute(&self, script: &str) -> Result<Value, String> {
        let path = format!("/session/{}/execute/sync", self.session);
        self.command("POST", &path, Some(json!({"script": script, "args": []})))
    }

    pub fn describe(&self) -> String {
        self.driver.describe()
    }
}

impl Drop for HeadlessChromium {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = self.command("DELETE", &path, None);
        }
    }
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
