//! A small WebDriver client: starts `chromedriver` on a loopback port, opens a headless Chromium
//! session with a fresh profile, and drives it over the W3C WebDriver HTTP API (navigate, find,
//! click, execute script, screenshot, browser console). Dropping it ends the session (Chromium
//! exits) and kills chromedriver.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::{wait_until, Proc, TestDir};

/// The W3C key of an element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The flags a test browser starts with: headless, no sandbox (tests run as root), nothing that
/// reaches out to the network by itself, and autoplay without a user gesture.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1200,1000",
];

/// A headless Chromium driven through chromedriver.
pub struct Browser {
    driver: Proc,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: TestDir,
}

/// The Chromium binary: Debian's real one, else the launcher script on PATH.
fn chromium_binary() -> &'static str {
    if Path::new("/usr/lib/chromium/chromium").exists() {
        "/usr/lib/chromium/chromium"
    } else {
        "/usr/bin/chromium"
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl Browser {
    /// Start chromedriver and a headless Chromium session; an error names what is missing.
    pub fn start() -> Result<Browser, String> {
        for tool in ["chromedriver", "chromium"] {
            if Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
            {
                return Err(format!(
                    "{tool} not found: install Debian's chromium and chromium-driver \
                     (scripts/test.sh does)"
                ));
            }
        }
        let port = free_port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1");
        let driver = Proc::spawn("chromedriver", cmd);
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        let base = format!("http://127.0.0.1:{port}");
        let ready = wait_until(Duration::from_secs(15), || {
            let status: Value = agent
                .get(&format!("{base}/status"))
                .call()
                .ok()?
                .into_json()
                .ok()?;
            (status["value"]["ready"] == true).then_some(())
        });
        if ready.is_none() {
            return Err(format!(
                "chromedriver did not become ready on port {port} within 15 s\n{}",
                driver.describe()
            ));
        }
        let profile = TestDir::new();
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path.display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium_binary(), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let mut browser = Browser {
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

    /// One WebDriver command; returns its `value`, or the WebDriver error as text.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let request = self.agent.request(method, &url);
        let result = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        let answer: Value = match result {
            Ok(response) => response
                .into_json()
                .map_err(|e| format!("{method} {path}: {e}"))?,
            Err(ureq::Error::Status(code, response)) => {
                let text = response.into_string().unwrap_or_default();
                return Err(format!("{method} {path}: HTTP {code}: {text}"));
            }
            Err(e) => return Err(format!("{method} {path}: {e}")),
        };
        Ok(answer["value"].clone())
    }

    fn session_command(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.session);
        let body = (method == "POST").then_some(body);
        self.command(method, &path, body)
    }

    pub fn goto(&self, url: &str) -> Result<(), String> {
        self.session_command("POST", "/url", json!({ "url": url }))
            .map(drop)
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> Result<String, String> {
        let found = self.session_command(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        )?;
        found[ELEMENT_KEY]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no element reference in {found}"))
    }

    pub fn click(&self, element: &str) -> Result<(), String> {
        self.session_command("POST", &format!("/element/{element}/click"), json!({}))
            .map(drop)
    }

    /// Run `script` (a function body: `return …`) in the page and return its value.
    pub fn execute(&self, script: &str) -> Result<Value, String> {
        self.session_command(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// Run `script` in every page before the page's own scripts (Chromium's DevTools protocol).
    pub fn before_each_page(&self, script: &str) -> Result<(), String> {
        self.session_command(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": script}}),
        )
        .map(drop)
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Result<Vec<u8>, String> {
        let encoded = self.session_command("GET", "/screenshot", Value::Null)?;
        let text = encoded.as_str().ok_or("screenshot is not a string")?;
        decode_base64(text)
    }

    /// The browser console so far (Chromium's log extension), one line per entry.
    pub fn console(&self) -> String {
        match self.session_command("POST", "/se/log", json!({"type": "browser"})) {
            Ok(Value::Array(entries)) => entries
                .iter()
                .map(|e| format!("{} {}", e["level"], e["message"]))
                .collect::<Vec<_>>()
                .join("\n"),
            Ok(other) => other.to_string(),
            Err(e) => format!("(no console log: {e})"),
        }
    }

    /// The chromedriver log, the browser console, for a failure message.
    pub fn describe(&self) -> String {
        format!(
            "browser console:\n{}\n{}",
            self.console(),
            self.driver.describe()
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = self.command("DELETE", &path, None);
        }
    }
}

/// Standard base64 (the screenshot's encoding), padding optional.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let value = |c: u8| -> Result<u32, String> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("bad base64 byte {c:#x}")),
        } as u32)
    };
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for group in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in group.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let produced = group.len().saturating_sub(1);
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + produced]);
    }
    Ok(out)
}
