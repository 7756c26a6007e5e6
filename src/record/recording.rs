//! What the recorder and its writer threads share: the settings, where events go, the running
//! recordings by channel, and the janitor's wake-up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};

use super::settings::RecordSettings;
use crate::hub::{CloseReason, EventSink, Sink, Stream};

/// The file a recording is writing, as `/stat/channel` shows it.
#[derive(Debug, Clone)]
pub struct CurrentFile {
    pub name: String,
    pub rel_path: String,
    pub bytes: u64,
    pub duration_secs: f64,
}

/// One running recording (its writer thread holds a `Session`).
pub(super) struct Recording {
    pub channel: String,
    /// Its subscriber record on the channel, and its queue.
    pub record: Arc<Stream>,
    pub sink: Arc<Sink>,
    stop: Mutex<Option<&'static str>>,
    pub current: Mutex<Option<CurrentFile>>,
    done: Mutex<bool>,
    done_changed: Condvar,
}

impl Recording {
    pub fn new(channel: String, record: Arc<Stream>, sink: Arc<Sink>) -> Recording {
        Recording {
            channel,
            record,
            sink,
            stop: Mutex::new(None),
            current: Mutex::new(None),
            done: Mutex::new(false),
            done_changed: Condvar::new(),
        }
    }

    /// Ask the writer to end with `reason` (`stopped`, `shutdown`); the first reason stays.
    pub fn request_stop(&self, reason: &'static str) {
        self.stop.lock().get_or_insert(reason);
    }

    /// End the queue: the writer takes what is queued, then ends.
    pub fn end_queue(&self) {
        self.sink.end(CloseReason::ApiClose);
    }

    pub fn stop_reason(&self) -> Option<&'static str> {
        *self.stop.lock()
    }

    pub fn is_done(&self) -> bool {
        *self.done.lock()
    }

    fn mark_done(&self) {
        *self.done.lock() = true;
        self.done_changed.notify_all();
    }
}

pub(super) struct Context {
    pub settings: RecordSettings,
    /// Where `recordDone` goes (the callbacks and `/events`).
    pub events: Arc<dyn EventSink>,
    shutting_down: AtomicBool,
    /// Running recordings by channel id; a writer removes its own when it ends.
    pub active: Mutex<HashMap<String, Arc<Recording>>>,
    /// `/channel/create` and `/channel/record` choices by channel id (over `-recordall`).
    pub overrides: Mutex<HashMap<String, bool>>,
    pub janitor: Option<Sender<()>>,
}

impl Context {
    pub fn new(
        settings: RecordSettings,
        events: Arc<dyn EventSink>,
        janitor: Option<Sender<()>>,
    ) -> Context {
        Context {
            settings,
            events,
            shutting_down: AtomicBool::new(false),
            active: Mutex::new(HashMap::new()),
            overrides: Mutex::new(HashMap::new()),
            janitor,
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// A writer ended: forget its recording (if a newer one has not taken its place).
    pub fn finished(&self, rec: &Arc<Recording>) {
        {
            let mut active = self.active.lock();
            if active
                .get(&rec.channel)
                .is_some_and(|r| Arc::ptr_eq(r, rec))
            {
                active.remove(&rec.channel);
            }
        }
        rec.mark_done();
    }

    /// Run retention soon (a file was completed).
    pub fn poke_janitor(&self) {
        if let Some(janitor) = &self.janitor {
            let _ = janitor.try_send(());
        }
    }

    /// The relative paths of the files being written.
    pub fn files_in_progress(&self) -> Vec<String> {
        self.active
            .lock()
            .values()
            .filter_map(|r| r.current.lock().as_ref().map(|c| c.rel_path.clone()))
            .collect()
    }
}
