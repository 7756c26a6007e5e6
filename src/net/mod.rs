//! Small socket helpers for the server layer: named small-stack threads, vectored writes, peer
//! addresses as text (`peer`), the classification of I/O errors into close reasons, and the
//! shutdown signals and listener stop (`signals`).

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hub::{CloseReason, SharedBatch, Wire};

pub mod limits;
pub mod peer;
pub mod signals;
pub mod stage;
pub mod sys;

pub use limits::{ConnectionLimits, ConnectionSlot, Refusal};
pub use peer::{peer_text, unmapped};
pub use signals::{stop_listener, ShutdownSignals};

/// Stack of a connection thread (it parses AMF, whose nesting is bounded at 64 levels).
pub const CONNECTION_STACK: usize = 512 * 1024;
/// Stack of a player's writer thread (it only moves bytes).
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

/// How a media listener accepts: the connection limits it shares with the other listeners, and
/// what to do for each connection refused by them.
#[derive(Clone)]
pub struct AcceptPolicy {
    pub limits: Arc<ConnectionLimits>,
    pub on_refused: Arc<dyn Fn() + Send + Sync>,
}

impl AcceptPolicy {
    /// No limits (tests and tools).
    pub fn unlimited() -> AcceptPolicy {
        AcceptPolicy {
            limits: ConnectionLimits::unlimited(),
            on_refused: Arc::new(|| {}),
        }
    }
}

/// Accept connections until the listener is stopped (`stop_listener`), each on its own
/// named thread running `handle`. A connection over a limit of `policy` is closed at once,
/// without a thread; admitted ones get TCP keepalive.
pub fn accept_loop(
    listener: std::net::TcpListener,
    protocol: &'static str,
    policy: AcceptPolicy,
    handle: impl Fn(TcpStream, std::net::SocketAddr) + Send + Sync + Clone + 'static,
) {
    for conn in listener.incoming() {
        match conn {
            Ok(socket) => {
                let peer = socket
                    .peer_addr()
                    .map(unmapped)
                    .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
                let slot = match policy.limits.admit(peer.ip()) {
                    Ok(slot) => slot,
                    Err(refusal) => {
                        (policy.on_refused)();
                        log::debug!("{protocol}: refusing {peer}: {refusal:?} connections open");
                        drop(socket);
                        continue;
                    }
                };
                set_keepalive(
                    &socket,
                    KEEPALIVE_IDLE,
                    KEEPALIVE_INTERVAL,
                    KEEPALIVE_PROBES,
                );
                let handle = handle.clone();
                let spawned = spawn(format!("{protocol}-{peer}"), CONNECTION_STACK, move || {
                    handle(socket, peer);
                    drop(slot);
                });
                if let Err(e) = spawned {
                    log::warn!("{protocol}: cannot start a thread for {peer}: {e}");
                }
            }
            Err(e) if signals::is_listener_stopped(&e) => {
                log::debug!("{protocol}: listener stopped");
                return;
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log::warn!("{protocol}: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

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

/// A subscriber write failed: log the error and tell the hub what it means.
fn wire_failure(e: io::Error) -> CloseReason {
    log::debug!("subscriber write failed: {e}");
    close_reason(&e)
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

/// A subscriber socket as the hub's `Wire`: non-blocking writes for the channel's fast path
/// (`sendmsg` with `MSG_DONTWAIT`, or the zero-copy `stage` once the socket is non-blocking),
/// and writes that wait for the socket, up to the write timeout, for the slow path.
///
/// A player's socket is switched to non-blocking mode (`make_nonblocking`) when it starts to
/// play: the kernel only lets a splice stop at a full socket when the socket is non-blocking.
/// Its reader thread then waits with `read_timeout`.
pub struct SocketWire {
    socket: TcpStream,
    nonblocking: AtomicBool,
}

/// At most this many slices go to one `sendmsg` or `writev` (Linux's IOV_MAX); the rest is a
/// partial write.
pub(crate) const MAX_IOV: usize = 1024;

impl SocketWire {
    pub fn new(socket: TcpStream) -> SocketWire {
        SocketWire {
            socket,
            nonblocking: AtomicBool::new(false),
        }
    }

    /// Switch the socket (every handle of it) to non-blocking mode, for zero-copy fan-out.
    pub fn make_nonblocking(&self) -> io::Result<()> {
        self.socket.set_nonblocking(true)?;
        self.nonblocking.store(true, Ordering::Release);
        Ok(())
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

    fn peer_gone(&self) -> bool {
        peer_hung_up(self.socket.as_raw_fd())
    }
}

/// Whether the peer of socket `fd` has closed its side or reset the connection, without reading
/// (bytes it sent stay unread) and without blocking.
pub fn peer_hung_up(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call; a zero timeout never blocks.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// Turn on TCP keepalive for a media socket: a peer that vanished without closing (power loss,
/// a dropped NAT mapping) is found after `idle` of silence plus `count` unanswered probes
/// `interval` apart.
pub fn set_keepalive(socket: &TcpStream, idle: Duration, interval: Duration, count: u32) {
    let fd = socket.as_raw_fd();
    let secs = |d: Duration| d.as_secs().clamp(1, i32::MAX as u64) as libc::c_int;
    for (level, name, value) in [
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs(idle)),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs(interval)),
        (
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            count.min(127) as libc::c_int,
        ),
    ] {
        // SAFETY: a valid socket descriptor and a pointer to a c_int of the size given.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            log::debug!(
                "setsockopt({level}, {name}) failed: {}",
                io::Error::last_os_error()
            );
        }
    }
}

/// Make closing `socket` abort the connection with a reset instead of a FIN (`SO_LINGER` 0):
/// what a client that crashes or is killed does. The soak tests use it.
pub fn reset_on_close(socket: &TcpStream) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a pointer to a linger struct of the size given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raise the open-file limit to its hard maximum (every subscriber is a socket). Returns the
/// (soft, hard) limits now in force.
pub fn raise_fd_limit() -> io::Result<(u64, u64)> {
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                return Err(io::Error::last_os_error());
            }
            limit.rlim_cur = limit.rlim_max;
        }
        Ok((limit.rlim_cur as u64, limit.rlim_max as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
