//! [`SocketWire`]: a subscriber's socket as the hub's `Wire`.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::wake::{Ready, Wake};
use super::{close_reason, stage, wait_ready, MAX_IOV, WRITE_TIMEOUT};
use crate::hub::{CloseReason, SharedBatch, Wire};

/// A subscriber write failed: log the error and tell the hub what it means.
fn wire_failure(e: io::Error) -> CloseReason {
    log::debug!("subscriber write failed: {e}");
    close_reason(&e)
}

/// A subscriber socket as the hub's `Wire`: non-blocking writes for the channel's fast path
/// (`sendmsg` with `MSG_DONTWAIT`, or the zero-copy `stage` once the socket is non-blocking),
/// and writes that wait for the socket, up to the write timeout, for the slow path.
///
/// A subscriber's socket is prepared when it starts to play (`prepare_subscriber`): switched
/// to non-blocking mode (the kernel only lets a splice stop at a full socket when the socket is
/// non-blocking). The connection's thread sleeps in `wait` until the socket is readable or the
/// sink wakes it (`net::wake`: a flag and a signal, no descriptor of its own).
pub struct SocketWire {
    socket: TcpStream,
    nonblocking: AtomicBool,
    wake: Wake,
    /// The read timeout last set on the (blocking) socket, so that a steady one costs no system
    /// call per read: 0 none set yet, `u64::MAX` no timeout, else microseconds + 1.
    read_timeout: AtomicU64,
}

impl SocketWire {
    pub fn new(socket: TcpStream) -> SocketWire {
        SocketWire {
            socket,
            nonblocking: AtomicBool::new(false),
            wake: Wake::default(),
            read_timeout: AtomicU64::new(0),
        }
    }

    /// Read once, waiting at most `timeout` (`net::read_timeout`), setting the socket's read
    /// timeout only when it differs from the last one set.
    pub fn read_within(&self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
        let nonblocking = self.is_nonblocking();
        if !nonblocking {
            let code = timeout.map_or(u64::MAX, |t| {
                (t.as_micros().min(u64::MAX as u128 - 2) as u64) + 1
            });
            if self.read_timeout.swap(code, Ordering::AcqRel) != code {
                if let Err(e) = self.socket.set_read_timeout(timeout) {
                    self.read_timeout.store(0, Ordering::Release);
                    return Err(e);
                }
            }
        }
        super::read_timeout_set(&self.socket, buf, timeout, nonblocking)
    }

    /// The socket, for the connection's own reads.
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Make the socket a subscriber's: non-blocking (every handle of it), for zero-copy
    /// fan-out.
    pub fn prepare_subscriber(&self) -> io::Result<()> {
        self.socket.set_nonblocking(true)?;
        self.nonblocking.store(true, Ordering::Release);
        Ok(())
    }

    /// Sleep until the peer sends (or hangs up) or the sink wakes this thread, or `timeout`
    /// passes (both false). Only for a prepared subscriber socket.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<Ready> {
        self.wake.sleep(self.socket.as_raw_fd(), timeout)
    }

    /// Read and drop what the peer sent (a subscriber that should send nothing). `Ok(false)`
    /// when the peer has closed its side.
    pub fn discard_input(&self) -> io::Result<bool> {
        let mut scratch = [0u8; 512];
        match (&self.socket).read(&mut scratch) {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Acquire)
    }

    /// Write all of `bytes` (connection bytes before the stream has a sink: handshake, status),
    /// waiting for the socket up to the write timeout.
    pub fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        self.write_all_bufs(&mut [IoSlice::new(bytes)])
    }

    /// Send what the socket takes now; `Ok(0)` when it takes nothing.
    fn send_now(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if bufs.is_empty() {
            return Ok(0);
        }
        // SAFETY: `msghdr` is plain data; zeroed is its empty value. `IoSlice` is guaranteed to be
        // ABI-compatible with `iovec` on Unix, and `bufs` outlives the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len().min(MAX_IOV) as _;
        loop {
            // SAFETY: a valid socket descriptor owned by `self.socket` and a valid `msghdr`.
            let sent = unsafe {
                libc::sendmsg(
                    self.socket.as_raw_fd(),
                    &msg,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if sent >= 0 {
                return Ok(sent as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return Ok(0),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
    }

    /// `send_now` for a batch many sockets get: staged once and spliced where that pays.
    fn send_shared_now(&self, batch: &SharedBatch<'_>) -> io::Result<usize> {
        if self.is_nonblocking() && stage::worth_staging(batch) {
            match stage::send(self.socket.as_raw_fd(), batch) {
                Ok(n) => return Ok(n),
                Err(stage::StageError::Socket(e)) => return Err(e),
                Err(stage::StageError::Unstaged) => {}
            }
        }
        self.send_now(batch.bufs)
    }

    /// Write all of `bufs`, waiting for the socket up to the write timeout in total.
    fn write_all_bufs(&self, bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        // SO_SNDTIMEO restarts whenever the peer takes a few bytes; a subscriber that trickles
        // must still be closed once one batch has taken longer than the write timeout.
        let deadline = Instant::now() + WRITE_TIMEOUT;
        let timed_out = || {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the subscriber took no data for too long",
            )
        };
        let mut bufs = bufs;
        IoSlice::advance_slices(&mut bufs, 0);
        while !bufs.is_empty() {
            if Instant::now() > deadline {
                return Err(timed_out());
            }
            match (&self.socket).write_vectored(bufs) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.is_nonblocking() => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if !wait_ready(self.socket.as_raw_fd(), libc::POLLOUT, Some(left))? {
                        return Err(timed_out());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn shut_down(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }

    /// Stop reading only: a read blocked on the socket returns end-of-file, and the socket can
    /// still take a last message before it is shut down.
    pub fn shutdown_read(&self) {
        let _ = self.socket.shutdown(Shutdown::Read);
    }
}

impl Wire for SocketWire {
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> Result<usize, CloseReason> {
        self.send_now(bufs).map_err(wire_failure)
    }

    fn try_write_shared(&self, batch: &SharedBatch<'_>) -> Result<usize, CloseReason> {
        self.send_shared_now(batch).map_err(wire_failure)
    }

    fn write_all_vectored(&self, bufs: &mut [IoSlice<'_>]) -> Result<(), CloseReason> {
        self.write_all_bufs(bufs).map_err(wire_failure)
    }

    fn shutdown(&self) {
        self.shut_down();
    }

    fn wake_owner(&self) {
        self.wake.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_changed_read_timeout_takes_effect_and_a_steady_one_holds() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let wire = SocketWire::new(listener.accept().unwrap().0);
        let mut buf = [0u8; 16];
        for (ms, at_least) in [(40, 30), (40, 30), (300, 250), (40, 30)] {
            let started = Instant::now();
            let e = wire
                .read_within(&mut buf, Some(Duration::from_millis(ms)))
                .unwrap_err();
            let took = started.elapsed();
            assert!(super::super::is_timeout(&e), "{e}");
            assert!(
                took >= Duration::from_millis(at_least),
                "{ms} ms: took {took:?}"
            );
            assert!(
                took < Duration::from_millis(ms + 200),
                "{ms} ms: took {took:?}"
            );
        }
    }
}
