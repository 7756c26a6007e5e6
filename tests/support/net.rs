//! Raw socket helpers: connecting, reading with a deadline, seeing a close, random bytes.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::dir::next_id;

/// Connect with a 5 s timeout; reads and writes time out after 10 s unless changed.
pub fn tcp_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// How a connection was seen to close.
#[derive(Debug)]
pub struct Closed {
    pub at: Instant,
    /// "eof" or the error (reset, ...).
    pub how: String,
    /// The first 64 KiB received before the close (e.g. an HTTP error response).
    pub received: Vec<u8>,
}

/// One read from `sock` before `deadline`: Ok(0) at EOF, `Timeout` once the deadline has passed,
/// `Closed` on an error such as a reset.
pub fn read_before(
    mut sock: &TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<usize, StreamError> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(StreamError::Timeout);
        }
        let _ = sock.set_read_timeout(Some(deadline - now));
        match sock.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Closed(e.to_string())),
        }
    }
}

/// Read (and keep the first 64 KiB of) whatever arrives until the peer closes the connection (EOF or
/// an error such as a reset). Err if it is still open after `timeout`.
pub fn wait_closed(sock: &TcpStream, timeout: Duration) -> Result<Closed, String> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65536];
    let mut received = Vec::new();
    let mut total = 0usize;
    loop {
        let how = match read_before(sock, &mut buf, deadline) {
            Ok(0) => "eof".to_string(),
            Ok(n) => {
                total += n;
                let keep = n.min(65536usize.saturating_sub(received.len()));
                received.extend_from_slice(&buf[..keep]);
                continue;
            }
            Err(StreamError::Closed(e)) | Err(StreamError::Protocol(e)) => e,
            Err(StreamError::Timeout) => {
                return Err(format!(
                "connection still open after {timeout:?} ({total} bytes received meanwhile: {:?})",
                String::from_utf8_lossy(&received[..received.len().min(200)])
            ))
            }
        };
        return Ok(Closed {
            at: Instant::now(),
            how,
            received,
        });
    }
}

/// Write the pieces `gen` yields on a clone of `sock` from a background thread, until `gen` is
/// exhausted, a write fails (the peer closed) or the returned flag is set.
pub fn write_in_background(
    sock: &TcpStream,
    mut gen: impl FnMut() -> Option<Vec<u8>> + Send + 'static,
) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let w = sock.try_clone().expect("clone socket");
    let _ = w.set_write_timeout(Some(Duration::from_secs(20)));
    let flag = stop.clone();
    thread::Builder::new()
        .name("bad-input-writer".into())
        .spawn(move || {
            let mut w = w;
            while !flag.load(Ordering::Relaxed) {
                let Some(piece) = gen() else { break };
                if w.write_all(&piece).is_err() {
                    break;
                }
            }
        })
        .expect("spawn writer");
    stop
}

/// A small xorshift generator (no rand crate): random bytes for bad-input tests.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng((nanos
            ^ ((std::process::id() as u64) << 32)
            ^ next_id().wrapping_mul(0x9E37_79B9_7F4A_7C15))
            | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Errors of the streaming readers: a timeout is distinguishable from a failure.
#[derive(Debug)]
pub enum StreamError {
    Timeout,
    /// The connection ended (EOF where more was needed, or a reset).
    Closed(String),
    Protocol(String),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Timeout => write!(f, "timed out"),
            StreamError::Closed(s) => write!(f, "connection closed: {s}"),
            StreamError::Protocol(s) => write!(f, "protocol error: {s}"),
        }
    }
}

impl From<StreamError> for String {
    fn from(e: StreamError) -> String {
        e.to_string()
    }
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
