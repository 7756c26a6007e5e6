//! The recorder: starts and stops recordings (on publish with `-recordall`, by
//! `/channel/create` and `/channel/record`), lists, finds and deletes files, and closes every
//! recording at shutdown.
//!
//! It learns of publishers as an `EventSink` of the hub (`streamConnected` of a publishing
//! stream), so the hub needs no hook of its own; its `recordDone` events go to the callback
//! sender and `/events` (the sink it is given, which must not include itself).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::listing::{self, FileEntry};
use super::paths::channel_dir;
use super::recording::{Context, CurrentFile, Recording};
use super::retention::{self, JANITOR_TICK};
use super::session::Session;
use super::settings::RecordSettings;
use crate::hub::{Cursor, EventSink, Hub, HubEvent, Sink, Stream, StreamState, StreamType};
use crate::net;

/// Recording subscribers take keys from the upper half of the key space, apart from streams
/// and HLS muxers (which count down from the top).
static NEXT_RECORDING_KEY: AtomicU64 = AtomicU64::new(u64::MAX / 2);

/// Why a recording request was refused (the API's error names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    RecordingDisabled,
    ChannelNotExists,
    /// A channel name that cannot be a folder (see `paths`).
    BadChannelName(&'static str),
    /// No such recording file.
    NotFound,
    /// The file is being written.
    Busy,
    Io(String),
}

pub struct Recorder {
    ctx: Arc<Context>,
    hub: OnceLock<Weak<Hub>>,
}

/// A file as `/recordings` lists it.
#[derive(Debug, Clone)]
pub struct ListedFile {
    pub entry: FileEntry,
    pub duration_secs: f64,
    pub recording: bool,
}

impl Recorder {
    /// Repair the folder's files, start the janitor. `events` gets `recordDone`.
    pub fn start(settings: RecordSettings, events: Arc<dyn EventSink>) -> Arc<Recorder> {
        if let Err(e) = std::fs::create_dir_all(&settings.dir) {
            log::warn!("record: cannot create {}: {e}", settings.dir.display());
        }
        let (cut, removed) = listing::repair_all(&settings.dir);
        if cut + removed > 0 {
            log::warn!(
                "record: start-up repair cut {cut} torn files and removed {removed} empty ones"
            );
        }
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let ctx = Arc::new(Context::new(settings, events, Some(tx)));
        let janitor_ctx = Arc::downgrade(&ctx);
        let spawned = net::spawn("record-janitor".into(), net::WRITER_STACK, move || loop {
            let woke = rx.recv_timeout(JANITOR_TICK);
            if matches!(woke, Err(crossbeam_channel::RecvTimeoutError::Disconnected)) {
                return;
            }
            let Some(ctx) = janitor_ctx.upgrade() else {
                return;
            };
            let s = &ctx.settings;
            retention::enforce(
                &s.dir,
                s.delete_after,
                s.max_bytes,
                &ctx.files_in_progress(),
            );
        });
        if let Err(e) = spawned {
            log::error!("record: cannot start the retention thread: {e}");
        }
        Arc::new(Recorder {
            ctx,
            hub: OnceLock::new(),
        })
    }

    pub fn settings(&self) -> &RecordSettings {
        &self.ctx.settings
    }

    pub fn attach_hub(&self, hub: &Arc<Hub>) {
        let _ = self.hub.set(Arc::downgrade(hub));
    }

    fn hub(&self) -> Option<Arc<Hub>> {
        self.hub.get().and_then(Weak::upgrade)
    }

    /// `POST /channel/record`: start or stop recording `channel` now (and remember the choice
    /// for the channel's later publishers).
    pub fn set_recording(&self, channel: &str, on: bool) -> Result<(), RecordError> {
        let hub = self.hub().ok_or(RecordError::ChannelNotExists)?;
        if hub.channel(channel).is_none() {
            return Err(RecordError::ChannelNotExists);
        }
        channel_dir(channel).map_err(RecordError::BadChannelName)?;
        self.ctx.overrides.lock().insert(channel.to_string(), on);
        if on {
            self.start_recording(channel)
        } else {
            if let Some(rec) = self.ctx.active.lock().get(channel).cloned() {
                stop(&rec, "stopped");
            }
            Ok(())
        }
    }

    /// `POST /channel/create` with `"record"`: the channel's choice over `-recordall`.
    pub fn channel_created(&self, channel: &str, record: bool) -> Result<(), RecordError> {
        if record {
            channel_dir(channel).map_err(RecordError::BadChannelName)?;
        }
        self.ctx
            .overrides
            .lock()
            .insert(channel.to_string(), record);
        if record {
            self.start_recording(channel)?;
        }
        Ok(())
    }

    fn start_recording(&self, channel_id: &str) -> Result<(), RecordError> {
        if self.ctx.is_shutting_down() {
            return Ok(());
        }
        let hub = self.hub().ok_or(RecordError::ChannelNotExists)?;
        let channel = hub
            .channel(channel_id)
            .ok_or(RecordError::ChannelNotExists)?;
        let dir = channel_dir(channel_id).map_err(RecordError::BadChannelName)?;
        let mut active = self.ctx.active.lock();
        if active
            .get(channel_id)
            .is_some_and(|r| r.stop_reason().is_none())
        {
            return Ok(());
        }
        let key = NEXT_RECORDING_KEY.fetch_sub(1, Ordering::Relaxed);
        let record = Arc::new(Stream::new(
            key,
            format!("record:{channel_id}"),
            StreamType::Rtmp,
            "in-process".into(),
        ));
        let sink = Sink::queue(record.clone());
        let rec = Arc::new(Recording::new(channel_id.to_string(), record, sink.clone()));
        if channel.add_subscriber(&sink, Cursor::Latest).is_err() {
            return Err(RecordError::ChannelNotExists);
        }
        active.insert(channel_id.to_string(), rec.clone());
        drop(active);
        let session = Session::new(self.ctx.clone(), rec.clone(), channel.clone(), dir);
        let name = format!("record-{channel_id}");
        let ctx = self.ctx.clone();
        if let Err(e) = net::spawn(name, net::WRITER_STACK, move || session.run(sink)) {
            log::error!("record: cannot start the writer of {channel_id}: {e}");
            channel.remove_subscriber(&rec.record);
            rec.end_queue();
            ctx.finished(&rec);
            return Err(RecordError::Io(e.to_string()));
        }
        Ok(())
    }

    /// A publisher started on `channel`: record it with `-recordall` unless told otherwise.
    fn on_publish(&self, channel: &str) {
        let choice = self.ctx.overrides.lock().get(channel).copied();
        if choice.unwrap_or(self.ctx.settings.all) {
            if let Err(e) = self.start_recording(channel) {
                log::warn!("record: channel {channel} is not recorded: {e:?}");
            }
        }
    }

    /// The file `channel` is writing, for `/stat/channel`.
    pub fn current(&self, channel: &str) -> Option<CurrentFile> {
        let rec = self.ctx.active.lock().get(channel).cloned()?;
        let current = rec.current.lock().clone();
        current
    }

    /// `/recordings`: every file (of `channel`) with its media duration.
    pub fn list(&self, channel: Option<&str>) -> BTreeMap<String, Vec<ListedFile>> {
        let busy = self.ctx.files_in_progress();
        listing::scan(&self.ctx.settings.dir, channel)
            .into_iter()
            .map(|(id, files)| {
                let listed = files
                    .into_iter()
                    .map(|entry| ListedFile {
                        duration_secs: listing::duration_secs(&entry),
                        recording: busy.contains(&entry.rel_path),
                        entry,
                    })
                    .collect();
                (id, listed)
            })
            .collect()
    }

    /// The path of a recording file that exists.
    pub fn file_path(&self, channel: &str, name: &str) -> Result<PathBuf, RecordError> {
        let path = listing::file_path(&self.ctx.settings.dir, channel, name)
            .ok_or(RecordError::NotFound)?;
        if path.is_file() {
            Ok(path)
        } else {
            Err(RecordError::NotFound)
        }
    }

    /// `POST /recordings/delete`: a completed file.
    pub fn delete(&self, channel: &str, name: &str) -> Result<(), RecordError> {
        let path = self.file_path(channel, name)?;
        let rel = format!("{channel}/{name}");
        if self.ctx.files_in_progress().contains(&rel) {
            return Err(RecordError::Busy);
        }
        listing::remove_file(&self.ctx.settings.dir, &path)
            .map_err(|e| RecordError::Io(e.to_string()))
    }

    /// `GET /recordings/get`: the plan of one MP4 of `channel` from the keyframe at or before
    /// `start` for `duration`.
    pub fn span(
        &self,
        channel: &str,
        start: std::time::SystemTime,
        duration: Duration,
    ) -> Result<super::SpanPlan, RecordError> {
        channel_dir(channel).map_err(RecordError::BadChannelName)?;
        match super::span::plan(&self.ctx.settings.dir, channel, start, duration) {
            Ok(Some(plan)) => Ok(plan),
            Ok(None) => Err(RecordError::NotFound),
            Err(e) => Err(RecordError::Io(e.to_string())),
        }
    }

    /// Shutdown, first step: every recording ends with reason `shutdown` (its file closed and
    /// its `recordDone` emitted by its own thread). Then [`Recorder::wait`].
    pub fn shutdown(&self) {
        self.ctx.set_shutting_down();
        let running: Vec<Arc<Recording>> = self.ctx.active.lock().values().cloned().collect();
        for rec in &running {
            stop(rec, "shutdown");
        }
    }

    /// Wait until every recording has ended, or `deadline`. Returns how many are still running.
    pub fn wait(&self, deadline: Instant) -> usize {
        loop {
            let running = self
                .ctx
                .active
                .lock()
                .values()
                .filter(|r| !r.is_done())
                .count();
            if running == 0 || Instant::now() >= deadline {
                return running;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Ask a recording's writer to end with `reason`: it writes what it has and closes its file.
fn stop(rec: &Recording, reason: &'static str) {
    rec.request_stop(reason);
    // Ending its queue wakes the writer; frames already queued are written first.
    rec.end_queue();
}

impl EventSink for Recorder {
    fn emit(&self, _: Option<u64>, event: HubEvent) {
        match event {
            HubEvent::StreamConnected(stats) if stats.state == StreamState::Publishing => {
                if let Some(channel) = &stats.channel {
                    self.on_publish(channel);
                }
            }
            HubEvent::ChannelClose { id } => {
                self.ctx.overrides.lock().remove(&id);
            }
            _ => {}
        }
    }
}
