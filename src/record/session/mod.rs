//! One recording: an in-process subscriber of its channel whose own thread (the writer) takes
//! the channel's frames from the subscriber's bounded queue and writes files.
//!
//! The queue is the hub's: a subscriber may have at most `MAX_QUEUED_FRAMES` (1024) frames or
//! `-maxlag` of media waiting; a writer further behind skips to the next keyframe, which this
//! thread notices (the frames it missed are counted) and reports as "disk too slow". The
//! publisher's thread never waits on a disk. The writer takes what is queued, then lets frames
//! gather for `GATHER` (1 s, never past a part's deadline; not at all after a burst) before it
//! looks again, so it wakes about once a part rather than once per frame; only the queue's end
//! (stop, shutdown) wakes it sooner.
//!
//! Files: a file opens at the first video keyframe (or, without video, the first frame), a part
//! is written at each video keyframe and at most `-recordpart` after its first frame arrived,
//! and a new file starts at the first keyframe after `-recordsegment` of media, or at the first
//! keyframe after new sequence headers. A publisher that reconnects (or a `setPublisher` switch)
//! with the same sequence headers continues the same file: the channel's timeline continues.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::counters::{self, FILES_DONE, TOO_SLOW, WRITE_ERRORS};
use super::file::{Mp4Tracks, RecordFile};
use super::paths::RecordFormat;
use super::recording::{Context, CurrentFile, Recording};
use crate::hub::{
    Channel, CloseReason, Frame, HubEvent, QueueEnd, RecordDone, Sink, GATHER_WAKE_FRAMES,
};
use crate::media::mp4::{Mp4Error, TrackConfig};
use crate::media::{ts_diff, Packet, PacketKind};

mod output;

const IDLE_TICK: Duration = Duration::from_millis(500);
/// After a batch, the writer lets frames gather this long (never past a part's deadline)
/// before it takes the next: about one wake-up a part instead of one per frame. The queue holds
/// far more (1024 frames, `-maxlag` of media), and a burst ends the gathering early.
const GATHER: Duration = Duration::from_secs(1);
/// A batch this big means frames come faster than they play (a burst): take the next at once.
/// Over twice what a `GATHER` of 60 fps video and 48 kHz audio holds; a gather ends when it is
/// reached (`GATHER_WAKE_FRAMES`).
const BURST_FRAMES: usize = GATHER_WAKE_FRAMES;
/// How long a new file waits for the first frame of an audio track announced but not seen.
const AUDIO_WAIT_MS: i64 = 1000;

/// Why a recording's loop ended early.
struct Unsupported(String);

pub(super) struct Session {
    ctx: Arc<Context>,
    rec: Arc<Recording>,
    channel: Arc<Channel>,
    channel_dir: PathBuf,
    video_header: Option<Packet>,
    audio_header: Option<Packet>,
    metadata: Option<Packet>,
    /// The latest audio frame, for codecs without a sequence header (MP3).
    audio_probe: Option<Packet>,
    file: Option<RecordFile>,
    /// The open file's video track (fMP4), for parts that end right before a keyframe.
    file_video_track: Option<usize>,
    headers_changed: bool,
    /// Video without a sequence header was seen (FLV of codecs that have none).
    video_seen: bool,
    /// (last channel timestamp, its time on the recording's timeline in ms).
    timeline: Option<(u32, i64)>,
    /// Frames from a start point held while the audio track's codec is still unknown (MP3 has
    /// no sequence header: its first frame tells), at most `AUDIO_WAIT_MS` of them.
    waiting: Vec<(Arc<Frame>, i64)>,
    /// When the first frame of the part being gathered arrived (at the latest).
    part_started: Option<Instant>,
    /// When the queue was last emptied: what the next batch holds arrived after it.
    arrived_after: Instant,
    /// The same for the batch being handled.
    batch_since: Instant,
    /// After a failure, no file starts before this time on the timeline.
    retry_at_ms: Option<i64>,
    dropped_seen: u64,
    /// In a "disk too slow" episode: the queue has dropped frames and not yet caught up.
    too_slow: bool,
}

impl Session {
    pub(super) fn new(
        ctx: Arc<Context>,
        rec: Arc<Recording>,
        channel: Arc<Channel>,
        channel_dir: PathBuf,
    ) -> Session {
        Session {
            ctx,
            rec,
            channel,
            channel_dir,
            video_header: None,
            audio_header: None,
            metadata: None,
            audio_probe: None,
            file: None,
            file_video_track: None,
            headers_changed: false,
            video_seen: false,
            timeline: None,
            waiting: Vec::new(),
            part_started: None,
            arrived_after: Instant::now(),
            batch_since: Instant::now(),
            retry_at_ms: None,
            dropped_seen: 0,
            too_slow: false,
        }
    }

    pub(super) fn run(mut self, sink: Arc<Sink>) {
        let channel_id = self.channel.id.clone();
        log::info!("record: recording channel {channel_id}");
        let mut frames = Vec::with_capacity(64);
        let end: (&'static str, Option<String>) = loop {
            let timeout = match self.part_started {
                Some(t) => (t + self.ctx.settings.part)
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
                None => IDLE_TICK,
            };
            let (ended, got) = match sink.next_batch(timeout, &mut frames) {
                Ok(got) => (None, got),
                Err(QueueEnd::Ended(reason)) => (Some(reason), false),
            };
            // What comes with the next batch arrives after now.
            let arrived_after = std::mem::replace(&mut self.arrived_after, Instant::now());
            self.batch_since = arrived_after;
            let taken = frames.len();
            let mut unsupported = None;
            for frame in frames.drain(..) {
                if let Err(Unsupported(what)) = self.on_frame(frame, arrived_after) {
                    unsupported = Some(what);
                    break;
                }
            }
            frames.clear();
            if let Some(what) = unsupported {
                log::warn!("record: channel {channel_id} is not recorded: {what}");
                break ("unsupportedCodec", Some(what));
            }
            self.check_dropped(sink.is_skipping());
            if let Some(reason) = ended {
                break (self.end_reason(reason), None);
            }
            if self
                .part_started
                .is_some_and(|t| t.elapsed() >= self.ctx.settings.part)
            {
                self.write_part();
            }
            if got && taken < BURST_FRAMES {
                let until_part = self.part_started.map_or(GATHER, |t| {
                    (t + self.ctx.settings.part).saturating_duration_since(Instant::now())
                });
                sink.gather(GATHER.min(until_part));
            }
        };
        let (reason, detail) = end;
        if self.file.is_some() || reason == "unsupportedCodec" {
            self.finish_file(reason, detail);
        }
        self.channel.remove_subscriber(&self.rec.record);
        sink.end(CloseReason::PeerClosed);
        log::info!("record: channel {channel_id} no longer recorded ({reason})");
        self.ctx.finished(&self.rec);
    }

    fn end_reason(&self, close: CloseReason) -> &'static str {
        if let Some(reason) = self.rec.stop_reason() {
            return reason;
        }
        if self.ctx.is_shutting_down() {
            return "shutdown";
        }
        match close {
            CloseReason::ChannelClosed => "channelClosed",
            CloseReason::Shutdown => "shutdown",
            _ => "stopped",
        }
    }

    /// The channel timestamp on the recording's own timeline (ms, 0 = its first frame), which
    /// never wraps.
    fn time_of(&mut self, ts: u32) -> i64 {
        let ms = match self.timeline {
            None => 0,
            Some((last, at)) => at + i64::from(ts_diff(ts, last)),
        };
        self.timeline = Some((ts, ms));
        ms
    }

    /// Handle a frame that arrived after `arrived`.
    fn on_frame(&mut self, frame: Arc<Frame>, arrived: Instant) -> Result<(), Unsupported> {
        let packet = &frame.packet;
        if packet.kind == PacketKind::Data {
            self.metadata = Some(packet.clone());
            return Ok(());
        }
        if frame.is_sequence_header() {
            let slot = match packet.kind {
                PacketKind::Video => &mut self.video_header,
                _ => &mut self.audio_header,
            };
            if slot.as_ref().map(|h| &h.body) != Some(&packet.body) {
                *slot = Some(packet.clone());
                self.headers_changed |= self.file.is_some();
            }
            return Ok(());
        }
        let ms = self.time_of(frame.timestamp());
        let is_video = packet.kind == PacketKind::Video;
        if !is_video && self.audio_header.is_none() {
            self.audio_probe = Some(packet.clone());
        }
        if is_video && self.video_header.is_none() {
            self.check_headerless_video(packet)?;
        }
        let start_point = match self.video_header.is_some() || self.video_seen {
            true => is_video && packet.is_keyframe(),
            false => true,
        };
        if start_point {
            if let Some(file) = &mut self.file {
                let segment_ms = self.ctx.settings.segment.as_millis() as i64;
                let rotate = self.headers_changed || ms - file.first_ms >= segment_ms;
                if rotate || (is_video && file.has_pending()) {
                    // The part (or the file) ends right before this keyframe.
                    if let Some(track) = self.file_video_track.filter(|_| is_video) {
                        file.next_sample_at(track, ms);
                    }
                }
                if rotate {
                    self.finish_file("segment", None);
                } else if is_video && file.has_pending() {
                    self.write_part();
                }
            }
        }
        if self.file.is_none() {
            if self.waiting.is_empty()
                && (!start_point || self.retry_at_ms.is_some_and(|at| ms < at))
            {
                return Ok(());
            }
            self.retry_at_ms = None;
            self.waiting.push((frame, ms));
            let waited = ms - self.waiting[0].1;
            if self.expects_audio() && waited < AUDIO_WAIT_MS {
                return Ok(());
            }
            let waiting = std::mem::take(&mut self.waiting);
            self.open_file(waiting[0].1)?;
            for (frame, ms) in waiting {
                self.push(&frame, ms, arrived);
            }
            return Ok(());
        }
        self.push(&frame, ms, arrived);
        Ok(())
    }

    /// A video frame before any video sequence header: a codec that has none (Sorenson
    /// H.263, VP6…) is recorded as received in FLV and has no fMP4; the others wait for theirs.
    fn check_headerless_video(&mut self, packet: &Packet) -> Result<(), Unsupported> {
        use crate::media::codec::{video_codec, VideoCodec};
        let codec = video_codec(&packet.body);
        if matches!(
            codec,
            Some(VideoCodec::H264 | VideoCodec::Hevc | VideoCodec::Av1) | None
        ) {
            return Ok(());
        }
        if self.ctx.settings.format == RecordFormat::Fmp4 {
            let name = codec.map_or("unknown", |c| c.name());
            return Err(Unsupported(format!("no fMP4 for this codec: {name}")));
        }
        self.video_seen = true;
        Ok(())
    }

    /// Add a frame to the file's part; the part's deadline counts from the frame's arrival.
    fn push(&mut self, frame: &Arc<Frame>, ms: i64, arrived: Instant) {
        if let Some(file) = &mut self.file {
            if file.push(frame, ms) && self.part_started.is_none() {
                self.part_started = Some(arrived);
            }
        }
    }

    /// The stream has audio (its metadata or the channel says so) whose codec no frame has
    /// shown yet.
    fn expects_audio(&self) -> bool {
        if self.audio_header.is_some() || self.audio_probe.is_some() {
            return false;
        }
        let announced = self.metadata.as_ref().is_some_and(|m| {
            crate::amf0::decode_all(&m.body)
                .is_ok_and(|values| values.iter().any(|v| v.get("audiocodecid").is_some()))
        });
        announced || self.channel.media_info().audio_codec.is_some()
    }
}
