//! A fake callback server: records each `POST BASE/event/NAME` the server under test sends, and
//! answers `streamCheckParams` as the test decides.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

type Decide = dyn Fn(&Value) -> String + Send + Sync;
/// The recorded (event name, body) pairs and a condvar signalled on each.
type Log = (Mutex<Vec<(String, Value)>>, Condvar);

/// A callback server: records each `POST /hooks/event/NAME` and answers `streamCheckParams` with
/// `decide(body)` (every other event with `{}`).
pub struct Callbacks {
    pub addr: SocketAddr,
    events: Arc<Log>,
}

impl Callbacks {
    pub fn start(decide: impl Fn(&Value) -> String + Send + Sync + 'static) -> Callbacks {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind callback receiver");
        let addr = listener.local_addr().unwrap();
        let events: Arc<Log> = Arc::default();
        let decide: Arc<Decide> = Arc::new(decide);
        let ev = events.clone();
        thread::Builder::new()
            .name("callbacks".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { return };
                    let (ev, decide) = (ev.clone(), decide.clone());
                    thread::spawn(move || serve_callbacks(conn, &ev, &*decide));
                }
            })
            .unwrap();
        Callbacks { addr, events }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn flag(&self) -> String {
        format!("-httpcallback={}", self.url())
    }

    pub fn all(&self) -> Vec<(String, Value)> {
        self.events.0.lock().unwrap().clone()
    }

    pub fn named(&self, name: &str) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter(|(n, _)| n == name)
            .map(|(_, b)| b)
            .collect()
    }

    /// How many `name` events carry `"id": id`.
    pub fn count(&self, name: &str, id: &str) -> usize {
        self.named(name).iter().filter(|b| b["id"] == id).count()
    }

    /// Wait for a `name` event whose body satisfies `pred`.
    pub fn wait(&self, name: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.events;
        let mut events = lock.lock().unwrap();
        loop {
            if let Some((_, b)) = events.iter().find(|(n, b)| n == name && pred(b)) {
                return b.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                panic!("no matching {name} event within {timeout:?}; received: {events:#?}");
            }
            events = cv.wait_timeout(events, deadline - now).unwrap().0;
        }
    }
}

/// One HTTP request from `reader`: its path and its body as JSON (`Null` if it is not JSON);
/// `None` once the connection ends or breaks.
pub fn read_post(reader: &mut impl BufRead) -> Option<(String, Value)> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// Requests on one connection (keep-alive is honoured), each recorded before it is answered.
fn serve_callbacks(conn: TcpStream, events: &Log, decide: &Decide) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let Some((path, body)) = read_post(&mut reader) else {
            return;
        };
        let name = path
            .strip_prefix("/hooks/event/")
            .unwrap_or(&path)
            .to_string();
        let reply = if name == "streamCheckParams" {
            decide(&body)
        } else {
            "{}".to_string()
        };
        {
            let (lock, cv) = events;
            lock.lock().unwrap().push((name, body));
            cv.notify_all();
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A loopback URL nothing listens on.
pub fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", l.local_addr().unwrap());
    drop(l);
    url
}
