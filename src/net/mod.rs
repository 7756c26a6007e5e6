//! Small socket helpers for the server layer: named small-stack threads, vectored writes, peer
//! addresses as text (`peer`), the classification of I/O errors into close reasons, and the
//! shutdown signals and listener stop (`signals`).

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};

use std::time::{Duration, Instant};

use crate::hub::CloseReason;

mod accept;
mod lean_thread;
pub mod limits;
pub mod peer;
pub mod proxied;
pub mod proxy_protocol;
pub mod signals;
mod sockopt;
pub mod stage;
mod subscriber;
pub mod sys;
mod wake;
mod wire;

pub use accept::{accept_loop, proxied_peer, AcceptPolicy, Continuation};
pub use lean_thread::spawn_lean;
pub use limits::{ConnectionLimits, ConnectionSlot, Refusal};
pub use peer::{peer_text, unmapped};
pub use signals::{stop_listener, ShutdownSignals};
pub use sockopt::{
    limit_malloc_arenas, raise_fd_limit, reset_on_close, set_keepalive, widen_backlog,
    LISTEN_BACKLOG,
};
pub use subscriber::serve_silent_subscriber;
pub use wake::Ready;
pub use wire::SocketWire;

/// At most this many slices go to one `sendmsg` or `writev` (Linux's IOV_MAX); the rest is a
/// partial write.
pub(crate) const MAX_IOV: usize = 1024;

/// Stack of a connection thread (it parses AMF, whose nesting is bounded at 64 levels).
pub const CONNECTION_STACK: usize = 512 * 1024;
/// Stack of a connection's thread once it streams to a viewer (see `Continuation`): it moves
/// bytes and reads small control messages, whose AMF nesting is bounded.
pub const STREAMING_STACK: usize = 256 * 1024;
/// Stack of a small helper thread (a muxer, a sweeper).
pub const WRITER_STACK: usize = 128 * 1024;
/// A subscriber that has not taken any bytes for this long is closed.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshake plus `connect` (RTMP), or request line plus headers (HTTP), must arrive within this.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Spawn a named thread with a small stack.
pub fn spawn(
    name: String,
    stack: usize,
    f: impl FnOnce() + Send + 'static,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(stack)
        .spawn(f)
}

/// TCP keepalive of media sockets: probes after this much silence ...
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// ... this far apart, and the connection is dropped after this many go unanswered.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
pub const KEEPALIVE_PROBES: u32 = 3;

/// Whether an I/O error just means the peer went away (logged at debug, not warn).
pub fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The close reason an I/O error stands for: timeouts, a peer that went away, or an error.
pub fn close_reason(e: &io::Error) -> CloseReason {
    if is_timeout(e) {
        CloseReason::Timeout
    } else if is_peer_gone(e) {
        CloseReason::PeerClosed
    } else {
        CloseReason::Error
    }
}

/// Write every byte of `bufs`, however the kernel splits it.
pub fn write_all_vectored(w: &mut impl Write, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Wait until `fd` is ready for `events` (`libc::POLLIN` / `POLLOUT`), up to `timeout` (`None`:
/// no limit). `Ok(false)` on timeout. A hung-up or failed socket counts as ready: the next read
/// or write reports it.
pub fn wait_ready(fd: RawFd, events: libc::c_short, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let millis = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up, so a wait never ends early and spins.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, millis) };
        if n > 0 {
            return Ok(true);
        }
        if n == 0 {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            continue;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Read from `socket`, waiting up to `timeout` (`None`: no limit) for data; a timeout is an error
/// of kind `WouldBlock` or `TimedOut` (see `is_timeout`). `nonblocking` says which mode the socket
/// is in (a player's socket turns non-blocking when it starts to play). A signal interrupting the
/// read (a debugger or profiler attaching, job control) is not an error of the connection.
pub fn read_timeout(
    socket: &TcpStream,
    buf: &mut [u8],
    timeout: Option<Duration>,
    nonblocking: bool,
) -> io::Result<usize> {
    if !nonblocking {
        socket.set_read_timeout(timeout)?;
    }
    read_timeout_set(socket, buf, timeout, nonblocking)
}

/// `read_timeout` on a blocking socket whose read timeout is already `timeout`.
pub(crate) fn read_timeout_set(
    socket: &TcpStream,
    buf: &mut [u8],
    timeout: Option<Duration>,
    nonblocking: bool,
) -> io::Result<usize> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match (&*socket).read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && nonblocking => {}
            other => return other,
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if !wait_ready(socket.as_raw_fd(), libc::POLLIN, left)? {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no data in time"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Wire;

    /// A writer that takes at most `step` bytes per call.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn vectored_writes_survive_partial_writes() {
        let parts: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; i as usize * 7]).collect();
        let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut w = Trickle {
            out: Vec::new(),
            step: 5,
        };
        write_all_vectored(&mut w, &mut slices).unwrap();
        assert_eq!(w.out, parts.concat());
    }

    #[test]
    fn a_full_socket_takes_part_of_a_nonblocking_write_and_then_nothing() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server_side, _) = listener.accept().unwrap();
        let wire = SocketWire::new(client);
        let chunk = vec![7u8; 1 << 20];
        let mut total = 0;
        loop {
            let n = wire.try_write_vectored(&[IoSlice::new(&chunk)]).unwrap();
            if n == 0 {
                break;
            }
            total += n;
            assert!(total < 256 << 20, "the socket never filled up");
        }
        assert!(total > 0);
    }

    #[test]
    fn read_timeout_waits_for_data_in_both_socket_modes_and_times_out() {
        for nonblocking in [false, true] {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            server.set_nonblocking(nonblocking).unwrap();
            let mut buf = [0u8; 16];
            let quiet = read_timeout(
                &server,
                &mut buf,
                Some(Duration::from_millis(30)),
                nonblocking,
            );
            assert!(is_timeout(&quiet.unwrap_err()), "nonblocking={nonblocking}");
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                client.write_all(b"hello").unwrap();
                client
            });
            let n =
                read_timeout(&server, &mut buf, Some(Duration::from_secs(5)), nonblocking).unwrap();
            assert_eq!(&buf[..n], b"hello", "nonblocking={nonblocking}");
            drop(writer.join().unwrap());
        }
    }

    #[test]
    fn raising_the_fd_limit_reports_a_usable_limit() {
        assert!(raise_fd_limit().unwrap().0 >= 64);
    }

    #[test]
    fn io_errors_map_to_close_reasons() {
        assert_eq!(
            close_reason(&io::ErrorKind::BrokenPipe.into()),
            CloseReason::PeerClosed
        );
        assert_eq!(
            close_reason(&io::ErrorKind::WouldBlock.into()),
            CloseReason::Timeout
        );
        assert_eq!(
            close_reason(&io::ErrorKind::InvalidData.into()),
            CloseReason::Error
        );
    }
}
