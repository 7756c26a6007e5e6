//! A recording's files: opening one with its init segment (or FLV header), writing parts,
//! finishing a file (its `recordDone`), and what `/stat` shows of the file being written.

use super::*;

impl Session {
    fn mp4_tracks(&self) -> Result<Mp4Tracks, Unsupported> {
        let unsupported = |e: Mp4Error| Unsupported(e.to_string());
        let mut tracks = Mp4Tracks {
            configs: Vec::new(),
            video: None,
            audio: None,
        };
        if let Some(header) = &self.video_header {
            let config = TrackConfig::from_video_header(&header.body).map_err(unsupported)?;
            tracks.video = Some(tracks.configs.len());
            tracks.configs.push(config);
        }
        let audio = self.audio_header.as_ref().or(self.audio_probe.as_ref());
        if let Some(packet) = audio {
            if let Some(config) = TrackConfig::from_audio(&packet.body).map_err(unsupported)? {
                tracks.audio = Some(tracks.configs.len());
                tracks.configs.push(config);
            }
        }
        Ok(tracks)
    }

    pub(super) fn open_file(&mut self, ms: i64) -> Result<(), Unsupported> {
        let settings = &self.ctx.settings;
        let start = SystemTime::now();
        let created = match settings.format {
            RecordFormat::Fmp4 => {
                let tracks = self.mp4_tracks()?;
                if tracks.configs.is_empty() {
                    return Ok(());
                }
                self.file_video_track = tracks.video;
                RecordFile::create_mp4(&settings.dir, &self.channel_dir, start, ms, tracks)
            }
            RecordFormat::Flv => {
                let headers: Vec<Packet> = [&self.metadata, &self.video_header, &self.audio_header]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                let audio = self.audio_header.is_some() || self.audio_probe.is_some();
                let video = self.video_header.is_some() || self.video_seen;
                RecordFile::create_flv(
                    &settings.dir,
                    &self.channel_dir,
                    start,
                    ms,
                    &headers,
                    audio,
                    video,
                )
            }
        };
        self.headers_changed = false;
        match created {
            Ok(file) => {
                log::info!(
                    "record: channel {}: writing {}",
                    self.channel.id,
                    file.rel_path
                );
                self.file = Some(file);
            }
            Err(e) => {
                log::warn!(
                    "record: channel {}: cannot start a file: {e}; trying again at the next segment",
                    self.channel.id
                );
                counters::add(&WRITE_ERRORS, 1);
                self.retry_at_ms = Some(ms + settings.segment.as_millis() as i64);
                self.emit_done(
                    String::new(),
                    String::new(),
                    start,
                    0.0,
                    0,
                    "error",
                    Some(e.to_string()),
                );
            }
        }
        self.publish_status();
        Ok(())
    }

    pub(super) fn write_part(&mut self) {
        let Some(file) = &mut self.file else {
            self.part_started = None;
            return;
        };
        match file.write_part(false) {
            Ok(()) => {
                // Held back for their durations: the newest frames, of the latest batch.
                self.part_started = file.has_pending().then_some(self.batch_since);
                self.publish_status();
            }
            Err(e) => {
                let detail = e.to_string();
                log::warn!(
                    "record: channel {}: writing {} failed: {detail}; the file ends at its last whole part",
                    self.channel.id,
                    file.rel_path
                );
                self.fail(detail);
            }
        }
    }

    /// End the file with reason `error`; the next file starts a segment later.
    pub(super) fn fail(&mut self, detail: String) {
        let retry = self.file.as_ref().map_or(0, |f| f.first_ms)
            + self.ctx.settings.segment.as_millis() as i64;
        self.retry_at_ms = Some(retry);
        self.finish_file("error", Some(detail));
    }

    /// Frames the queue dropped because this thread fell behind: the disk is too slow. One
    /// episode (the queue skipping until it resumes at a keyframe) is counted and reported
    /// once, though its drops are counted over several batches; `skipping` is the queue's state
    /// now.
    pub(super) fn check_dropped(&mut self, skipping: bool) {
        let dropped = self.rec.record.dropped_packets();
        let new_drops = dropped > self.dropped_seen;
        self.dropped_seen = dropped;
        if !new_drops {
            if !skipping {
                self.too_slow = false;
            }
            return;
        }
        if std::mem::replace(&mut self.too_slow, true) {
            return;
        }
        counters::add(&TOO_SLOW, 1);
        log::warn!(
            "record: channel {}: the disk is too slow, frames were lost",
            self.channel.id
        );
        if self.file.is_some() {
            self.finish_file("error", Some("disk too slow".into()));
            // The queue resumes at the next keyframe: so does the next file.
            self.retry_at_ms = None;
        }
    }

    pub(super) fn finish_file(&mut self, reason: &'static str, detail: Option<String>) {
        self.part_started = None;
        self.file_video_track = None;
        *self.rec.current.lock() = None;
        let Some(file) = self.file.take() else {
            if reason == "unsupportedCodec" {
                self.emit_done(
                    String::new(),
                    String::new(),
                    SystemTime::now(),
                    0.0,
                    0,
                    reason,
                    detail,
                );
            }
            return;
        };
        let (file, closed) = file.close();
        let (reason, detail) = match closed {
            Err(e) if reason != "error" => {
                log::warn!(
                    "record: channel {}: closing {} failed: {e}; the file ends at its last whole part",
                    self.channel.id,
                    file.rel_path
                );
                ("error", Some(e.to_string()))
            }
            _ => (reason, detail),
        };
        if reason == "error" && detail.as_deref() != Some("disk too slow") {
            counters::add(&WRITE_ERRORS, 1);
        }
        counters::add(&FILES_DONE, 1);
        log::info!(
            "record: channel {}: {} done ({reason}, {} bytes)",
            self.channel.id,
            file.rel_path,
            file.bytes
        );
        let duration = file.duration_ms as f64 / 1000.0;
        self.emit_done(
            file.name.clone(),
            file.rel_path.clone(),
            file.start,
            duration,
            file.bytes,
            reason,
            detail,
        );
        self.ctx.poke_janitor();
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_done(
        &self,
        name: String,
        path: String,
        start: SystemTime,
        duration_secs: f64,
        bytes: u64,
        reason: &'static str,
        detail: Option<String>,
    ) {
        let done = RecordDone {
            channel: self.channel.id.clone(),
            name,
            path,
            start,
            duration_secs,
            bytes,
            reason,
            detail,
        };
        self.ctx
            .events
            .emit(None, HubEvent::RecordDone(Box::new(done)));
    }

    pub(super) fn publish_status(&self) {
        let status = self.file.as_ref().map(|f| CurrentFile {
            name: f.name.clone(),
            rel_path: f.rel_path.clone(),
            bytes: f.bytes,
            duration_secs: f.duration_ms as f64 / 1000.0,
        });
        *self.rec.current.lock() = status;
    }
}
