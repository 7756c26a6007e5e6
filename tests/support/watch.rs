//! An HTTP-FLV player on its own thread that notes when each video tag arrives.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{wait_until, FlvStream, Server, StreamError};

#[derive(Default)]
struct Seen {
    /// Arrival and timestamp of every video tag.
    video: Vec<(Instant, u32)>,
    /// Why the body ended, if it did.
    ended: Option<String>,
}

/// Reads `GET /PATH.flv` until finished or dropped.
pub struct Watcher {
    pub label: String,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watcher {
    /// Open `GET /PATH.flv` (status 200 required) and read it on a thread.
    pub fn start(addr: SocketAddr, path: &str, label: &str) -> Watcher {
        let mut stream = FlvStream::open(addr, &Server::flv_path(path), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(stream.head.status, 200, "{label}: {:?}", stream.head);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match stream.next_tag(Duration::from_millis(200)) {
                    Ok(Some(tag)) if tag.is_video() => {
                        seen2
                            .lock()
                            .unwrap()
                            .video
                            .push((Instant::now(), tag.timestamp));
                    }
                    Ok(Some(_)) | Err(StreamError::Timeout) => {}
                    Ok(None) => {
                        seen2.lock().unwrap().ended = Some("the body ended".into());
                        return;
                    }
                    Err(e) => {
                        seen2.lock().unwrap().ended = Some(e.to_string());
                        return;
                    }
                }
            }
        });
        Watcher {
            label: label.to_string(),
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// The first video tag that arrived after `t`, waiting up to `timeout` for it.
    pub fn video_after(&self, t: Instant, timeout: Duration) -> Option<Instant> {
        wait_until(timeout, || {
            let seen = self.seen.lock().unwrap();
            seen.video.iter().map(|v| v.0).find(|&at| at > t)
        })
    }

    /// Why the body ended, if it did.
    pub fn ended(&self) -> Option<String> {
        self.seen.lock().unwrap().ended.clone()
    }

    /// Stop reading; returns the video tags seen. Panics if the body ended meanwhile.
    pub fn finish(mut self) -> Vec<(Instant, u32)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("watcher thread");
        }
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        assert!(
            seen.ended.is_none(),
            "{}: the player was disconnected: {:?}",
            self.label,
            seen.ended
        );
        seen.video
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
