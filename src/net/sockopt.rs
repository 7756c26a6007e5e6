//! Socket options and process limits: keepalive, reset on close, a listener's backlog, the
//! open-file limit.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// How many finished handshakes a listener's queue holds before the kernel drops new ones; the
/// kernel caps it at `net.core.somaxconn` (4096 on current kernels).
pub const LISTEN_BACKLOG: libc::c_int = 4096;

/// Let `listener` queue up to [`LISTEN_BACKLOG`] connections instead of the standard library's
/// 128. A storm of connections (thousands of players a second after an announcement) otherwise
/// overflows the queue whenever the accepting thread is late by a few tens of milliseconds, and
/// every dropped handshake costs its client a SYN retransmission: one second, then two, four…
pub fn widen_backlog(listener: &TcpListener) -> io::Result<()> {
    // SAFETY: listen on a valid listening socket only changes its backlog.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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

/// Let the allocator keep at most `arenas` heaps. glibc gives threads up to eight heaps per
/// core, each keeping the memory its threads freed for those threads alone; with a thread per
/// connection that is tens of KiB per publisher spread over heaps that seldom reuse each other's
/// free memory. As many heaps as cores keep allocation uncontended (only as many threads run at
/// once) and let every thread reuse what any other freed.
pub fn limit_malloc_arenas(arenas: usize) {
    let arenas = arenas.clamp(1, 64) as libc::c_int;
    // SAFETY: mallopt takes two integers; called before the connection threads start.
    if unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) } != 1 {
        log::debug!("mallopt(M_ARENA_MAX, {arenas}) was refused");
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
    use std::time::Instant;

    #[test]
    fn a_widened_listener_queues_hundreds_of_connections_nobody_accepts_yet() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        widen_backlog(&listener).unwrap();
        let addr = listener.local_addr().unwrap();
        let started = Instant::now();
        // The standard library's backlog of 128 would drop the handshakes past it: their
        // connects would wait for a SYN retransmission and time out here.
        let clients: Vec<TcpStream> = (0..400)
            .map(|i| {
                TcpStream::connect_timeout(&addr, Duration::from_millis(900))
                    .unwrap_or_else(|e| panic!("connection {i} was not queued: {e}"))
            })
            .collect();
        assert_eq!(clients.len(), 400);
        assert!(started.elapsed() < Duration::from_secs(5));
        let (first, _) = listener.accept().unwrap();
        drop(first);
    }
}
