//! A bare POSIX thread for a connection's long streaming life.
//!
//! A `std::thread` costs about 1.5 KiB of memory beyond its stack pages: its handle, name, spawn
//! bookkeeping and alternate signal stack, and what its start-up leaves in the allocator's
//! per-thread cache. For a thread per viewer that is a tenth of the viewer's cost, so a viewer's
//! streaming thread is started with `pthread_create` directly: it runs one closure, catching a
//! panic as `std` would (the closure's captures are dropped either way, so a stream guard among
//! them still finishes the stream).

use std::ffi::CString;
use std::io;

/// Run `task` on a new detached thread with a `stack`-byte stack, named `name` (cut to the 15
/// bytes Linux keeps). If no thread can start, `task` is dropped unrun.
pub fn spawn_lean<F: FnOnce() + Send + 'static>(
    name: &str,
    stack: usize,
    task: F,
) -> io::Result<()> {
    let arg = Box::into_raw(Box::new(task));
    // SAFETY: `attr` is initialised by pthread_attr_init before use and destroyed after;
    // `thread` is written by pthread_create. `arg` is a valid `Box<F>` pointer whose ownership
    // passes to the new thread on success (`lean_main::<F>` takes it back exactly once) and is
    // taken back here on failure.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        let rc = libc::pthread_attr_init(&mut attr);
        if rc != 0 {
            drop(Box::from_raw(arg));
            return Err(io::Error::from_raw_os_error(rc));
        }
        let stack = stack.max(libc::PTHREAD_STACK_MIN);
        let rc = libc::pthread_attr_setstacksize(&mut attr, stack);
        let mut thread: libc::pthread_t = 0;
        let rc = if rc == 0 {
            libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
            libc::pthread_create(&mut thread, &attr, lean_main::<F>, arg.cast())
        } else {
            rc
        };
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            drop(Box::from_raw(arg));
            return Err(io::Error::from_raw_os_error(rc));
        }
        let short: String = name.chars().filter(|c| *c != '\0').take(15).collect();
        if let Ok(name) = CString::new(short) {
            libc::pthread_setname_np(thread, name.as_ptr());
        }
    }
    Ok(())
}

extern "C" fn lean_main<F: FnOnce()>(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the `Box<F>` pointer `spawn_lean::<F>` gave this thread, taken back once.
    let task = unsafe { Box::from_raw(arg.cast::<F>()) };
    // A panic must not unwind out of an `extern "C"` function; it is logged by the panic hook.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || (*task)()));
    std::ptr::null_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_lean_thread_runs_its_task_and_survives_a_panic_in_another() {
        let (tx, rx) = mpsc::channel();
        spawn_lean("lean-test", 256 * 1024, || panic!("a test panic")).unwrap();
        spawn_lean("lean-test-a-long-name", 256 * 1024, move || {
            tx.send(42).unwrap()
        })
        .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(42));
    }

    #[test]
    fn a_panicking_task_still_drops_what_it_holds() {
        struct Flag(mpsc::Sender<&'static str>);
        impl Drop for Flag {
            fn drop(&mut self) {
                let _ = self.0.send("dropped");
            }
        }
        let (tx, rx) = mpsc::channel();
        let flag = Flag(tx);
        spawn_lean("lean-test", 256 * 1024, move || {
            let _held = flag;
            panic!("a test panic");
        })
        .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok("dropped"));
    }
}
