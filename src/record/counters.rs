//! What `/metrics` counts of recording, process-wide.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes written to recording files.
pub static BYTES_WRITTEN: AtomicU64 = AtomicU64::new(0);
/// Files completed (any reason).
pub static FILES_DONE: AtomicU64 = AtomicU64::new(0);
/// Recordings ended by a write error (disk full, I/O error, permissions).
pub static WRITE_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Recordings ended because the disk could not keep up (their queue overflowed).
pub static TOO_SLOW: AtomicU64 = AtomicU64::new(0);
/// Completed files deleted by retention (`-recorddeleteafter`, `-recordmaxbytes`).
pub static FILES_DELETED: AtomicU64 = AtomicU64::new(0);

pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
