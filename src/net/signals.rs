//! The process's shutdown signals (SIGTERM, SIGINT), taken synchronously: they are blocked in
//! every thread and one thread waits for them with `sigwait`, so no signal handler runs and the
//! shutdown itself is ordinary code. And `stop_listener`, which ends an accept loop.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

/// The signals that ask for a graceful shutdown.
const SHUTDOWN_SIGNALS: [libc::c_int; 2] = [libc::SIGTERM, libc::SIGINT];

/// SIGTERM and SIGINT, blocked; `wait` takes the next one.
pub struct ShutdownSignals {
    set: libc::sigset_t,
}

impl ShutdownSignals {
    /// Block SIGTERM and SIGINT in the calling thread, and so in every thread it starts from
    /// now on (threads inherit the mask): call it before any thread is started, so that only
    /// `wait` ever sees these signals.
    pub fn block() -> io::Result<ShutdownSignals> {
        // SAFETY: `sigset_t` is plain data; `sigemptyset` initialises it before any other use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, writable sigset_t for each call.
        unsafe {
            libc::sigemptyset(&mut set);
            for signal in SHUTDOWN_SIGNALS {
                libc::sigaddset(&mut set, signal);
            }
        }
        // SAFETY: `set` is initialised; a null old-set pointer is allowed.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(ShutdownSignals { set })
    }

    /// Wait until SIGTERM or SIGINT arrives (or is already pending); returns its number.
    pub fn wait(&self) -> io::Result<libc::c_int> {
        loop {
            let mut signal: libc::c_int = 0;
            // SAFETY: `self.set` is an initialised sigset_t and `signal` a writable c_int.
            let rc = unsafe { libc::sigwait(&self.set, &mut signal) };
            match rc {
                0 => return Ok(signal),
                libc::EINTR => continue,
                e => return Err(io::Error::from_raw_os_error(e)),
            }
        }
    }
}

/// The usual name of a shutdown signal, for logs.
pub fn signal_name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "signal",
    }
}

/// Stop a listening socket: connections are refused from now on, and an `accept` blocked on it
/// (in this or any other thread, through any handle of the socket) returns `EINVAL`, which ends
/// `accept_loop`.
pub fn stop_listener(listener: &TcpListener) -> io::Result<()> {
    // SAFETY: a valid socket descriptor owned by `listener`, alive for the call.
    let rc = unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether an `accept` error means the listener was stopped (or is no longer listening): no
/// connection will ever come from it again.
pub fn is_listener_stopped(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_blocked_signal_raised_in_the_thread_is_taken_by_wait() {
        // In a thread of its own: the test harness's threads keep their signal mask, and a
        // signal raised by a thread is pending for that thread only.
        let got = std::thread::spawn(|| {
            let signals = ShutdownSignals::block().unwrap();
            // SAFETY: raising a signal that this thread blocks only makes it pending.
            unsafe { libc::raise(libc::SIGINT) };
            signals.wait().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(got, libc::SIGINT);
        assert_eq!(signal_name(got), "SIGINT");
    }

    #[test]
    fn a_stopped_listener_ends_a_blocked_accept_and_refuses_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = listener.try_clone().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(listener.accept().map(|_| ()));
        });
        std::thread::sleep(Duration::from_millis(50));
        stop_listener(&handle).unwrap();
        let accepted = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the blocked accept returned");
        assert!(is_listener_stopped(&accepted.unwrap_err()));
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
