//! Zero-copy fan-out of a shared batch: the batch's bytes are written once into a kernel pipe (the
//! "stage"), and each subscriber socket gets them by `tee` (pipe to pipe, page references) and
//! `splice` (pipe to socket, page references again), so no subscriber costs a copy of the media.
//!
//! The stage is per thread: a channel offers one batch to all its sinks from one thread, so the
//! first sink loads the batch and the others reuse it. Sockets must be non-blocking (the kernel's
//! splice to a socket only stops at a full socket when the socket itself is non-blocking).
//! Anything the stage cannot do (no pipes, a batch larger than a pipe, an old kernel) reports
//! `Unstaged`, and the caller falls back to an ordinary vectored write.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::MAX_IOV;
use crate::hub::SharedBatch;

/// Below this many bytes a plain copy costs less than the extra system call of `tee`.
pub const MIN_STAGED_BYTES: usize = 8 * 1024;
/// Only batches that go to at least this many sockets are staged (the stage itself is a copy).
pub const MIN_STAGED_FANOUT: usize = 2;
/// Pipe size asked for, so that high-bitrate batches fit (the kernel's default is 64 KiB).
const PIPE_SIZE: i32 = 256 * 1024;

/// Why a send did not go through the stage.
#[derive(Debug)]
pub enum StageError {
    /// Not staged: write the batch the ordinary way.
    Unstaged,
    /// The socket failed (the same error an ordinary write would have met).
    Socket(io::Error),
}

struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid two-element array for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Pipe { read, write })
    }

    /// The pipe's capacity in bytes, after asking for `PIPE_SIZE` (refused past the user's limit).
    fn grow(&self) -> usize {
        let fd = self.write.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own; failure leaves the pipe as it was.
        unsafe {
            libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE);
            libc::fcntl(fd, libc::F_GETPIPE_SZ).max(0) as usize
        }
    }
}

struct Stage {
    /// Holds the loaded batch for as long as sinks are being offered it.
    master: Pipe,
    /// Takes a `tee` of the batch for one socket; always empty between sends.
    scratch: Pipe,
    /// Where unwanted pipe contents are spliced to (dropped without a copy).
    discard: Option<File>,
    capacity: usize,
    /// The batch in `master`: its id and length.
    loaded: Option<(u64, usize)>,
}

enum Slot {
    Untried,
    Ready(Stage),
    Unavailable,
}

thread_local! {
    static STAGE: RefCell<Slot> = const { RefCell::new(Slot::Untried) };
}

/// Whether a batch is worth staging at all.
pub fn worth_staging(batch: &SharedBatch<'_>) -> bool {
    batch.len >= MIN_STAGED_BYTES && batch.fanout >= MIN_STAGED_FANOUT
}

/// Send `batch` to the non-blocking socket `socket` through this thread's stage. Returns the
/// bytes the socket took (0 when it is full), like a non-blocking write.
pub fn send(socket: RawFd, batch: &SharedBatch<'_>) -> Result<usize, StageError> {
    STAGE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if matches!(*slot, Slot::Untried) {
            *slot = match Stage::new() {
                Ok(stage) => Slot::Ready(stage),
                Err(e) => {
                    log::debug!("zero-copy fan-out unavailable on this thread: {e}");
                    Slot::Unavailable
                }
            };
        }
        let Slot::Ready(stage) = &mut *slot else {
            return Err(StageError::Unstaged);
        };
        match stage.send(socket, batch) {
            Err(StageError::Unstaged) if stage.broken() => {
                log::debug!("zero-copy fan-out disabled on this thread");
                *slot = Slot::Unavailable;
                Err(StageError::Unstaged)
            }
            result => result,
        }
    })
}

impl Stage {
    fn new() -> io::Result<Stage> {
        let master = Pipe::new()?;
        let scratch = Pipe::new()?;
        let capacity = master.grow().min(scratch.grow());
        let discard = File::options().write(true).open("/dev/null").ok();
        Ok(Stage {
            master,
            scratch,
            discard,
            capacity,
            loaded: None,
        })
    }

    /// A stage whose pipes are in an unknown state is given up for this thread.
    fn broken(&self) -> bool {
        self.capacity == 0
    }

    fn send(&mut self, socket: RawFd, batch: &SharedBatch<'_>) -> Result<usize, StageError> {
        if batch.len > self.capacity {
            return Err(StageError::Unstaged);
        }
        self.load(batch)?;
        // SAFETY: both descriptors are open pipes owned by this stage.
        let teed = unsafe {
            libc::tee(
                self.master.read.as_raw_fd(),
                self.scratch.write.as_raw_fd(),
                batch.len,
                libc::SPLICE_F_NONBLOCK,
            )
        };
        if teed < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            // Nothing was duplicated: this one batch goes the ordinary way.
            return Err(StageError::Unstaged);
        }
        if teed < 0 || teed as usize != batch.len {
            // An empty scratch pipe with room for the whole batch takes all of it; anything
            // else means the kernel does not do what this stage relies on.
            if teed > 0 {
                self.discard_from(Which::Scratch, teed as usize);
            }
            self.capacity = 0;
            return Err(StageError::Unstaged);
        }
        // SAFETY: a pipe we own and a socket descriptor the caller owns; no offsets (streams).
        let spliced = unsafe {
            libc::splice(
                self.scratch.read.as_raw_fd(),
                std::ptr::null_mut(),
                socket,
                std::ptr::null_mut(),
                batch.len,
                libc::SPLICE_F_NONBLOCK,
            )
        };
        let sent = if spliced >= 0 {
            spliced as usize
        } else {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => 0,
                _ if e.raw_os_error() == Some(libc::EINVAL) => {
                    // Not a socket the kernel splices to: write this one the ordinary way.
                    self.discard_from(Which::Scratch, batch.len);
                    return Err(StageError::Unstaged);
                }
                _ => {
                    self.discard_from(Which::Scratch, batch.len);
                    return Err(StageError::Socket(e));
                }
            }
        };
        if sent < batch.len {
            self.discard_from(Which::Scratch, batch.len - sent);
        }
        Ok(sent)
    }

    /// Make `batch` the contents of the master pipe (a no-op when it already is).
    fn load(&mut self, batch: &SharedBatch<'_>) -> Result<(), StageError> {
        if self.loaded.map(|(id, _)| id) == Some(batch.id) {
            return Ok(());
        }
        if let Some((_, len)) = self.loaded.take() {
            self.discard_from(Which::Master, len);
        }
        let mut written = 0;
        let mut bufs: &[IoSlice<'_>] = batch.bufs;
        while written < batch.len {
            let count = bufs.len().min(MAX_IOV);
            // SAFETY: `IoSlice` is ABI-compatible with `iovec`; the slices outlive the call.
            let n = unsafe {
                libc::writev(
                    self.master.write.as_raw_fd(),
                    bufs.as_ptr() as *const libc::iovec,
                    count as i32,
                )
            };
            if n <= 0 {
                if written > 0 {
                    self.discard_from(Which::Master, written);
                }
                return Err(StageError::Unstaged);
            }
            written += n as usize;
            let mut left = n as usize;
            // Advance past fully written slices; a partly written one cannot happen with room
            // for the whole batch, and is treated as a failure if it does.
            while let Some(first) = bufs.first() {
                if left < first.len() {
                    break;
                }
                left -= first.len();
                bufs = &bufs[1..];
            }
            if left > 0 {
                self.discard_from(Which::Master, written);
                return Err(StageError::Unstaged);
            }
        }
        self.loaded = Some((batch.id, batch.len));
        Ok(())
    }

    /// Drop `len` bytes from the front of a pipe.
    fn discard_from(&mut self, which: Which, mut len: usize) {
        let pipe = match which {
            Which::Master => &self.master,
            Which::Scratch => &self.scratch,
        };
        let fd = pipe.read.as_raw_fd();
        while len > 0 {
            let n = match &self.discard {
                // SAFETY: descriptors we own; /dev/null takes spliced pages without a copy.
                Some(null) => unsafe {
                    libc::splice(
                        fd,
                        std::ptr::null_mut(),
                        null.as_raw_fd(),
                        std::ptr::null_mut(),
                        len,
                        libc::SPLICE_F_NONBLOCK,
                    )
                },
                None => {
                    let mut buf = [0u8; 16 * 1024];
                    // SAFETY: a pipe we own, read into a local buffer of the given length.
                    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len.min(buf.len())) }
                }
            };
            if n <= 0 {
                // The pipe is not in the state we think it is: stop using the stage.
                self.capacity = 0;
                self.loaded = None;
                return;
            }
            len -= n as usize;
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    Master,
    Scratch,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    /// A connected pair: (non-blocking server side, client side).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (server, client)
    }

    fn parts(seed: u8) -> Vec<Vec<u8>> {
        (0..7u8)
            .map(|i| (0..3001u32).map(|j| (j as u8) ^ i ^ seed).collect())
            .collect()
    }

    fn read_exactly(client: &mut TcpStream, len: usize) -> Vec<u8> {
        let mut got = vec![0u8; len];
        client.read_exact(&mut got).unwrap();
        got
    }

    #[test]
    fn a_staged_batch_reaches_every_socket_intact_and_the_next_batch_replaces_it() {
        let mut pairs: Vec<_> = (0..3).map(|_| pair()).collect();
        for (id, seed) in [(1_000_001u64, 1u8), (1_000_002, 2)] {
            let data = parts(seed);
            let slices: Vec<IoSlice<'_>> = data.iter().map(|p| IoSlice::new(p)).collect();
            let batch = SharedBatch::new(id, &slices, pairs.len());
            assert!(worth_staging(&batch));
            for (server, client) in pairs.iter_mut() {
                let sent = send(server.as_raw_fd(), &batch).unwrap();
                assert_eq!(sent, batch.len);
                assert_eq!(read_exactly(client, batch.len), data.concat());
            }
        }
    }

    #[test]
    fn a_full_socket_takes_part_of_a_batch_and_the_stage_stays_consistent() {
        let (stuck, _never_read) = pair();
        let mut id = 2_000_000u64;
        let mut partial_seen = false;
        for _ in 0..100_000 {
            id += 1;
            let data = parts(id as u8);
            let slices: Vec<IoSlice<'_>> = data.iter().map(|p| IoSlice::new(p)).collect();
            let batch = SharedBatch::new(id, &slices, 2);
            let sent = send(stuck.as_raw_fd(), &batch).unwrap();
            if sent < batch.len {
                partial_seen = true;
                if sent == 0 {
                    break;
                }
            }
        }
        assert!(partial_seen, "the socket never filled up");
        // The same thread's stage still delivers whole batches to a socket that reads.
        let (server, mut client) = pair();
        let data = parts(9);
        let slices: Vec<IoSlice<'_>> = data.iter().map(|p| IoSlice::new(p)).collect();
        let batch = SharedBatch::new(id + 1, &slices, 2);
        assert_eq!(send(server.as_raw_fd(), &batch).unwrap(), batch.len);
        assert_eq!(read_exactly(&mut client, batch.len), data.concat());
    }

    #[test]
    fn a_closed_peer_is_a_socket_error_not_a_silent_loss() {
        let (server, client) = pair();
        drop(client);
        let data = parts(3);
        let slices: Vec<IoSlice<'_>> = data.iter().map(|p| IoSlice::new(p)).collect();
        let mut outcome = Ok(0);
        for id in 3_000_001..3_000_050u64 {
            outcome = send(server.as_raw_fd(), &SharedBatch::new(id, &slices, 2));
            if outcome.is_err() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert!(matches!(outcome, Err(StageError::Socket(_))), "{outcome:?}");
    }

    #[test]
    fn small_or_single_subscriber_batches_are_not_worth_staging() {
        let small = [0u8; MIN_STAGED_BYTES - 1];
        let big = vec![0u8; MIN_STAGED_BYTES];
        let small_slices = [IoSlice::new(&small)];
        let big_slices = [IoSlice::new(&big)];
        assert!(!worth_staging(&SharedBatch::new(1, &small_slices, 10)));
        assert!(!worth_staging(&SharedBatch::new(2, &big_slices, 1)));
        assert!(worth_staging(&SharedBatch::new(3, &big_slices, 2)));
    }
}
