//! One timer thread for the whole hub: the flush deadline of every channel's merge window and
//! the grace period of every channel that lost its publisher. A deadline costs a message and a
//! heap entry; there is no thread per channel.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// Something whose work is due at a deadline the timer keeps: a channel's merge window. The
/// timer holds it weakly, so a deadline never keeps it alive.
pub trait Due: Send + Sync {
    /// Do the work if it is due by now (a later deadline may have replaced this one).
    fn run_if_due(&self);
}

/// What is due at a deadline.
enum Task {
    /// Flush a channel's pending batch if its window has ended.
    Flush(Weak<dyn Due>),
    Run(Box<dyn FnOnce() + Send>),
}

struct Entry {
    at: Instant,
    seq: u64,
    task: Task,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The hub's deadlines. The thread ends when the last `Timers` handle is dropped.
pub struct Timers {
    tx: Sender<(Instant, Task)>,
}

impl Timers {
    /// Start the timer thread.
    pub fn start() -> std::io::Result<Arc<Timers>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("hub-timers".into())
            .stack_size(128 * 1024)
            .spawn(move || run(rx))?;
        Ok(Arc::new(Timers { tx }))
    }

    /// Flush `channel`'s batch at `at` (if its window has ended by then).
    pub fn flush_at(&self, at: Instant, channel: Weak<dyn Due>) {
        let _ = self.tx.send((at, Task::Flush(channel)));
    }

    /// Run `task` on the timer thread after `delay`. It must not block for long.
    pub fn after(&self, delay: Duration, task: Box<dyn FnOnce() + Send>) {
        let _ = self.tx.send((Instant::now() + delay, Task::Run(task)));
    }
}

fn run(rx: Receiver<(Instant, Task)>) {
    let mut heap: BinaryHeap<Reverse<Entry>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            if let Some(Reverse(entry)) = heap.pop() {
                match entry.task {
                    Task::Flush(channel) => {
                        if let Some(channel) = channel.upgrade() {
                            channel.run_if_due();
                        }
                    }
                    Task::Run(task) => task(),
                }
            }
        }
        let received = match heap.peek() {
            Some(Reverse(next)) => rx.recv_timeout(next.at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok((at, task)) => {
                seq += 1;
                heap.push(Reverse(Entry { at, seq, task }));
                // Take whatever else is waiting before looking at the clock again.
                while let Ok((at, task)) = rx.try_recv() {
                    seq += 1;
                    heap.push(Reverse(Entry { at, seq, task }));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_in_deadline_order() {
        let timers = Timers::start().unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        for (n, ms) in [(3, 60), (1, 20), (2, 40)] {
            let tx = tx.clone();
            timers.after(
                Duration::from_millis(ms),
                Box::new(move || tx.send(n).unwrap()),
            );
        }
        let got: Vec<i32> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, vec![1, 2, 3]);
    }
}
