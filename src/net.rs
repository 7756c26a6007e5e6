//! Small socket helpers for the server layer: named small-stack threads, vectored writes, and the
//! classification of I/O errors into close reasons.

use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::hub::{CloseReason, Frame, Stream};

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

/// The close reason an I/O error stands for.
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

/// A connection's write side, shared by the threads that write to it (an RTMP player's reader
/// answers pings while its writer sends media). Each call writes whole messages under the lock,
/// so the two never interleave inside a message.
pub struct SocketWriter {
    socket: Mutex<TcpStream>,
    stream: Arc<Stream>,
}

impl SocketWriter {
    pub fn new(socket: TcpStream, stream: Arc<Stream>) -> SocketWriter {
        SocketWriter {
            socket: Mutex::new(socket),
            stream,
        }
    }

    pub fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.socket.lock().write_all(bytes)?;
        self.stream.add_bytes_out(bytes.len() as u64);
        Ok(())
    }

    /// Write a batch of frames with one vectored write, picking each frame's serialisation.
    pub fn write_frames(
        &self,
        frames: &[Arc<Frame>],
        serialised: impl Fn(&Frame) -> &[u8],
    ) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> =
            frames.iter().map(|f| IoSlice::new(serialised(f))).collect();
        let total: usize = slices.iter().map(|s| s.len()).sum();
        write_all_vectored(&mut *self.socket.lock(), &mut slices)?;
        self.stream.add_bytes_out(total as u64);
        if let Some(last) = frames.last() {
            self.stream.note_media_ts(last.timestamp());
        }
        Ok(())
    }

    /// Shut both directions down: wakes a thread blocked reading the same socket.
    pub fn shutdown(&self) {
        let _ = self.socket.lock().shutdown(Shutdown::Both);
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
