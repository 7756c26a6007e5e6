//! Waking one thread that sleeps in `poll` on its socket, without a descriptor of its own.
//!
//! A viewer's thread sleeps in `ppoll` on its socket; its sink wakes it by setting a flag and
//! sending the thread `SIGURG` (`pthread_kill`). The thread keeps `SIGURG` blocked except inside
//! `ppoll`, which unblocks it atomically, so a signal sent at any moment either interrupts the
//! sleep or waits, pending, for the next one: no wake-up is lost. An eventfd would do the same
//! at the cost of one descriptor per viewer, and a process's descriptors are what bounds how many
//! viewers a small host holds (10,000 viewers fit in a 20,000 limit only at one each).
//!
//! `SIGURG` is what nothing else here uses: the kernel sends it only to a socket's owner for
//! out-of-band data, and joy4 never sets an owner. Standard signals do not queue, so a burst of
//! wake-ups costs one interruption.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

const WAKE_SIGNAL: libc::c_int = libc::SIGURG;

/// A thread's wake-up: a flag, and the thread to signal while it sleeps.
#[derive(Default)]
pub struct Wake {
    woken: AtomicBool,
    /// The thread sleeping in [`Wake::sleep`]; it leaves under this lock before it returns, so
    /// a thread named here is alive while the lock is held.
    sleeper: Mutex<Option<libc::pthread_t>>,
}

/// What woke a subscriber's thread in [`Wake::sleep`] (`SocketWire::wait`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// The peer sent bytes, closed, or the socket failed or was shut down: read it.
    pub readable: bool,
    /// The sink asked for its thread (`Wire::wake_owner`): write its backlog.
    pub woken: bool,
}

impl Wake {
    /// Wake the thread in `sleep` (or make its next `sleep` return at once).
    pub fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        let sleeper = self.sleeper.lock();
        if let Some(thread) = *sleeper {
            // SAFETY: `thread` is alive: it removes itself under this lock before it returns
            // from `sleep`, and we hold the lock. The handler is installed before any thread
            // registers (`sleep` installs it first).
            unsafe { libc::pthread_kill(thread, WAKE_SIGNAL) };
        }
    }

    /// Sleep until `fd` is readable (or hung up), [`Wake::wake`] is called, or `timeout` passes
    /// (both false). A wake-up that came before the call counts.
    pub fn sleep(&self, fd: RawFd, timeout: Option<Duration>) -> io::Result<Ready> {
        let unblocked = prepare_this_thread()?;
        // SAFETY: pthread_self has no preconditions.
        *self.sleeper.lock() = Some(unsafe { libc::pthread_self() });
        let result = self.poll_until_woken(fd, timeout, &unblocked);
        *self.sleeper.lock() = None;
        result
    }

    fn poll_until_woken(
        &self,
        fd: RawFd,
        timeout: Option<Duration>,
        unblocked: &libc::sigset_t,
    ) -> io::Result<Ready> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let left = if self.woken.load(Ordering::Acquire) {
                Some(Duration::ZERO)
            } else {
                left
            };
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN | libc::POLLRDHUP,
                revents: 0,
            };
            let spec = left.map(|d| libc::timespec {
                tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            });
            let spec_ptr = spec.as_ref().map_or(std::ptr::null(), |s| s as *const _);
            // SAFETY: one valid pollfd, a timespec (or null) and a signal set, all alive for
            // the duration of the call.
            let n = unsafe { libc::ppoll(&mut pfd, 1, spec_ptr, unblocked) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            let ready = Ready {
                readable: n > 0 && pfd.revents != 0,
                woken: self.woken.swap(false, Ordering::AcqRel),
            };
            // ppoll returns 0 only when its timeout passed.
            if ready.readable || ready.woken || n == 0 {
                return Ok(ready);
            }
            // Interrupted by a signal meant for an earlier sleep: sleep on.
        }
    }
}

/// Install the (empty) handler once per process, block the signal in this thread once, and
/// return the mask `ppoll` sleeps with: this thread's own, with the signal let through.
fn prepare_this_thread() -> io::Result<libc::sigset_t> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        extern "C" fn on_wake(_: libc::c_int) {}
        // SAFETY: a zeroed sigaction is a valid starting point; the handler is an
        // async-signal-safe function that does nothing; SA_RESTART is off so that nothing is
        // restarted in its place (ppoll never is anyway).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_wake as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(WAKE_SIGNAL, &action, std::ptr::null_mut());
        }
    });
    thread_local! {
        static UNBLOCKED: std::cell::Cell<Option<libc::sigset_t>> = const { std::cell::Cell::new(None) };
    }
    if let Some(mask) = UNBLOCKED.with(|m| m.get()) {
        return Ok(mask);
    }
    // SAFETY: the sets are plain values initialised by sigemptyset / pthread_sigmask before use.
    let mask = unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, WAKE_SIGNAL);
        let mut old: libc::sigset_t = std::mem::zeroed();
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        libc::sigdelset(&mut old, WAKE_SIGNAL);
        old
    };
    UNBLOCKED.with(|m| m.set(Some(mask)));
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::sync::Arc;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener.accept().unwrap().0, client)
    }

    #[test]
    fn a_sleeping_thread_is_woken_by_another_thread() {
        let (server, _client) = pair();
        let wake = Arc::new(Wake::default());
        let sleeper = {
            let wake = wake.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let woke = wake.sleep(server.as_raw_fd(), Some(Duration::from_secs(10)));
                (woke.unwrap(), started.elapsed())
            })
        };
        while wake.sleeper.lock().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        wake.wake();
        let (woke, took) = sleeper.join().unwrap();
        assert_eq!(
            woke,
            Ready {
                readable: false,
                woken: true
            }
        );
        assert!(
            took < Duration::from_secs(5),
            "woken, not timed out: {took:?}"
        );
    }

    #[test]
    fn a_wake_before_the_sleep_is_kept_and_taken_once() {
        let (server, _client) = pair();
        let wake = Wake::default();
        wake.wake();
        wake.wake();
        let woke = wake
            .sleep(server.as_raw_fd(), Some(Duration::from_secs(5)))
            .unwrap();
        assert!(woke.woken);
        let started = Instant::now();
        let idle = wake
            .sleep(server.as_raw_fd(), Some(Duration::from_millis(30)))
            .unwrap();
        assert_eq!(idle, Ready::default());
        assert!(
            started.elapsed() >= Duration::from_millis(25),
            "slept its timeout"
        );
    }

    #[test]
    fn wakes_from_many_threads_end_every_sleep() {
        let (server, _client) = pair();
        let wake = Arc::new(Wake::default());
        let stop = Arc::new(AtomicBool::new(false));
        let wakers: Vec<_> = (0..4)
            .map(|_| {
                let (wake, stop) = (wake.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        wake.wake();
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        for _ in 0..500 {
            let woke = wake
                .sleep(server.as_raw_fd(), Some(Duration::from_secs(5)))
                .unwrap();
            assert!(woke.woken, "a wake-up, not the timeout, ends each sleep");
        }
        stop.store(true, Ordering::Release);
        for w in wakers {
            w.join().unwrap();
        }
    }
}
