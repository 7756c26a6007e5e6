//! Cutting a channel into CMAF segments (fragmented MP4, written by `media::mp4`), and for
//! Low-Latency HLS into parts. The rules of the MPEG-TS segmenter hold: a segment starts at a
//! video keyframe once the fragment duration has passed (audio-only: at an audio frame), and at
//! the first keyframe after a discontinuity. With parts, a part is cut at the last packet before
//! the part duration would be passed (so none is longer than `PART-TARGET`), and at every
//! keyframe, so a part that starts with a keyframe is independent.
//!
//! A new set of tracks (new sequence headers, a track that appears late such as MP3, whose
//! configuration comes with its first frame) gets a new init segment and a discontinuity;
//! segments name the init segment they decode with. A complete segment keeps its parts while it is among
//! the last `PART_SEGMENTS`, the ones an LL-HLS playlist lists parts for.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::media::mp4::{audio_sample, video_sample, Mp4Error, TrackConfig};
use crate::media::{ts_diff, Packet, PacketKind};

use super::segmenter::MAX_SEGMENT_BYTES;
use segment::{add_part, Tracks};
pub use segment::{Building, CmafPart, CmafSegment, InitSegment};

mod segment;

/// Complete segments whose parts are kept (and listed by an LL-HLS playlist).
pub const PART_SEGMENTS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmafSettings {
    /// The least media time in a segment before it may be cut (milliseconds).
    pub fragment_ms: u32,
    /// Complete segments kept and listed.
    pub window: usize,
    /// Low-Latency HLS: the part duration (milliseconds); `None`: one fragment per segment.
    pub part_ms: Option<u32>,
}

/// What a packet changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub parts: usize,
    pub segments: usize,
}

#[derive(Debug)]
pub struct CmafSegmenter {
    settings: CmafSettings,
    /// The newest configuration of video and audio from the channel.
    video: Option<TrackConfig>,
    audio: Option<TrackConfig>,
    tracks: Option<Tracks>,
    building: Option<Building>,
    segments: VecDeque<Arc<CmafSegment>>,
    /// The parts of the last `PART_SEGMENTS` complete segments (LL-HLS), by sequence.
    part_lists: VecDeque<(u64, Vec<Arc<CmafPart>>)>,
    next_sequence: u64,
    next_init: u32,
    discontinuity_sequence: u64,
    discontinuity_pending: bool,
    /// The configuration changed: the next segment needs a new init segment.
    new_init_pending: bool,
    target_secs: u32,
    /// The channel's clock unwrapped: (last timestamp, its milliseconds on the timeline).
    clock: Option<(u32, i64)>,
    /// The widest step between packets seen (at most half a part): a part is cut at the last
    /// packet before its target would be passed, so no part is longer than the target.
    max_step_ms: i64,
    ended: bool,
}

impl CmafSegmenter {
    pub fn new(settings: CmafSettings) -> CmafSegmenter {
        CmafSegmenter {
            settings,
            video: None,
            audio: None,
            tracks: None,
            building: None,
            segments: VecDeque::new(),
            part_lists: VecDeque::new(),
            next_sequence: 0,
            next_init: 0,
            discontinuity_sequence: 0,
            discontinuity_pending: false,
            new_init_pending: true,
            target_secs: settings.fragment_ms.div_ceil(1000).max(1),
            clock: None,
            max_step_ms: 0,
            ended: false,
        }
    }

    pub fn settings(&self) -> CmafSettings {
        self.settings
    }

    pub fn segments(&self) -> &VecDeque<Arc<CmafSegment>> {
        &self.segments
    }

    pub fn building(&self) -> Option<&Building> {
        self.building.as_ref()
    }

    pub fn segment(&self, sequence: u64) -> Option<Arc<CmafSegment>> {
        let first = self.segments.front()?.sequence;
        let index = usize::try_from(sequence.checked_sub(first)?).ok()?;
        self.segments.get(index).cloned()
    }

    /// The parts of segment `sequence`: a recent complete one, or the one being written.
    pub fn parts_of(&self, sequence: u64) -> Option<&[Arc<CmafPart>]> {
        match &self.building {
            Some(b) if b.sequence == sequence => Some(&b.parts),
            _ => self
                .part_lists
                .iter()
                .find(|(s, _)| *s == sequence)
                .map(|(_, parts)| parts.as_slice()),
        }
    }

    /// Part `index` of segment `sequence`, complete or in the segment being written.
    pub fn part(&self, sequence: u64, index: usize) -> Option<Arc<CmafPart>> {
        self.parts_of(sequence)?.get(index).cloned()
    }

    /// An init segment still named by the window or the segment being written.
    pub fn init(&self, id: u32) -> Option<Arc<InitSegment>> {
        let building = self.building.as_ref().map(|b| &b.init);
        self.segments
            .iter()
            .map(|s| &s.init)
            .chain(building)
            .find(|i| i.id == id)
            .cloned()
    }

    /// The codecs of the newest init segment.
    pub fn codecs(&self) -> String {
        let newest = self.building.as_ref().map(|b| &b.init);
        newest
            .or_else(|| self.segments.back().map(|s| &s.init))
            .map_or_else(String::new, |i| i.codecs.clone())
    }

    pub fn target_duration_secs(&self) -> u32 {
        self.target_secs
    }

    pub fn discontinuity_sequence(&self) -> u64 {
        self.discontinuity_sequence
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The sequence number the next segment to start will get.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Bytes held: the window's segments and parts, and the segment being written.
    pub fn held_bytes(&self) -> usize {
        let parts = |p: &[Arc<CmafPart>]| p.iter().map(|p| p.bytes.len()).sum::<usize>();
        let building = self
            .building
            .as_ref()
            .map_or(0, |b| b.bytes.len() + parts(&b.parts));
        let pending = self
            .tracks
            .as_ref()
            .map_or(0, |t| t.builder.pending_bytes());
        let listed: usize = self.part_lists.iter().map(|(_, p)| parts(p)).sum();
        building + pending + listed + self.segments.iter().map(|s| s.bytes.len()).sum::<usize>()
    }

    /// Take one packet; `received_ms` is the wall-clock time (Unix ms) it reached the server.
    /// Only an unsupported codec is an error; a malformed frame or one before its header is
    /// skipped.
    pub fn push(
        &mut self,
        packet: &Packet,
        starts_source: bool,
        received_ms: u64,
    ) -> Result<Progress, Mp4Error> {
        let mut progress = Progress::default();
        if self.ended || packet.kind == PacketKind::Data {
            return Ok(progress);
        }
        if starts_source {
            self.discontinuity_pending = true;
        }
        let body = &packet.body;
        if packet.kind == PacketKind::Video && packet.is_sequence_header() {
            match TrackConfig::from_video_header(body) {
                Ok(config) => self.configure(true, config),
                Err(e @ Mp4Error::Unsupported(_)) => return Err(e),
                Err(e) => log::debug!("hls: video header skipped: {e}"),
            }
            return Ok(progress);
        }
        if packet.kind == PacketKind::Audio {
            match TrackConfig::from_audio(body) {
                Ok(Some(config)) => self.configure(false, config),
                Ok(None) => {}
                Err(e @ Mp4Error::Unsupported(_)) => return Err(e),
                Err(e) => {
                    log::debug!("hls: audio frame skipped: {e}");
                    return Ok(progress);
                }
            }
            if packet.is_sequence_header() {
                return Ok(progress);
            }
        }
        let ms = self.timeline_ms(packet.timestamp);
        let is_video = packet.kind == PacketKind::Video;
        let slice = if is_video {
            video_sample(body)
        } else {
            audio_sample(body)
        };
        let Some(slice) = slice else {
            return Ok(progress);
        };
        let keyframe = is_video && packet.is_keyframe();
        let starts_segment = if self.video.is_some() {
            keyframe
        } else {
            !is_video
        };
        if starts_segment {
            let due = match &self.building {
                None => true,
                Some(b) => {
                    self.discontinuity_pending
                        || self.new_init_pending
                        || ms - b.start_ms >= i64::from(self.settings.fragment_ms)
                }
            };
            if due {
                self.start_segment(packet, slice, ms, received_ms, &mut progress);
                return Ok(progress);
            }
        }
        let Some(tracks) = &mut self.tracks else {
            return Ok(progress);
        };
        let Some(building) = &mut self.building else {
            return Ok(progress); // waiting for a keyframe
        };
        let index = if is_video { tracks.video } else { tracks.audio };
        let Some(index) = index else {
            return Ok(progress); // a track the init segment lacks: it comes at the next one
        };
        tracks
            .builder
            .push(index, ms, body.clone(), slice, keyframe || !is_video);
        let step = ms - building.last_ms;
        if let Some(part) = self.settings.part_ms {
            self.max_step_ms = self.max_step_ms.max(step.min(i64::from(part) / 2));
        }
        building.last_ms = building.last_ms.max(ms);
        let max_step = self.max_step_ms;
        let part_due = self.settings.part_ms.is_some_and(|part| {
            let length = ms - building.part_start_ms;
            length > 0 && (length + max_step > i64::from(part) || keyframe)
        });
        if part_due {
            // The packet just pushed stays back for the next part (its duration needs the
            // sample after it), so the part ends where this packet starts.
            if let Some(part) = tracks.builder.finish() {
                let duration = (ms - building.part_start_ms).max(1) as u32;
                building.part_start_ms = ms;
                add_part(building, part, duration, true);
                progress.parts += 1;
            }
        }
        if building.bytes.len() + tracks.builder.pending_bytes() > MAX_SEGMENT_BYTES {
            log::warn!(
                "hls: a segment grew past {MAX_SEGMENT_BYTES} bytes without a keyframe; dropped"
            );
            self.building = None;
            self.tracks = None;
            self.discontinuity_pending = true;
            self.new_init_pending = true;
        }
        Ok(progress)
    }

    /// The channel ended: the segment being written is complete, no more follow.
    pub fn end(&mut self) {
        if self.ended {
            return;
        }
        let keep = self.settings.part_ms.is_some();
        if let Some(part) = self.tracks.as_mut().and_then(|t| t.builder.finish_all()) {
            if let Some(b) = &mut self.building {
                let duration = (part.end_ms - b.part_start_ms).max(1) as u32;
                b.last_ms = b.last_ms.max(part.end_ms);
                add_part(b, part, duration, keep);
            }
        }
        if let Some(end) = self.building.as_ref().map(|b| b.last_ms) {
            self.close_building(end);
        }
        self.ended = true;
    }

    fn configure(&mut self, video: bool, config: TrackConfig) {
        let slot = if video {
            &mut self.video
        } else {
            &mut self.audio
        };
        if slot.as_ref() != Some(&config) {
            if slot.is_some() {
                self.discontinuity_pending = true;
            }
            *slot = Some(config);
            self.new_init_pending = true;
        }
    }

    fn timeline_ms(&mut self, ts: u32) -> i64 {
        let ms = match self.clock {
            None => i64::from(ts),
            Some((last_ts, last_ms)) => last_ms + i64::from(ts_diff(ts, last_ts)),
        };
        self.clock = Some((ts, ms));
        ms
    }

    /// Close the segment being written where `packet` (a keyframe, or audio-only an audio frame)
    /// starts, and open the next with it.
    fn start_segment(
        &mut self,
        packet: &Packet,
        slice: crate::media::mp4::SampleSlice,
        ms: i64,
        received_ms: u64,
        progress: &mut Progress,
    ) {
        let is_video = packet.kind == PacketKind::Video;
        let reuse = !self.new_init_pending && self.tracks.is_some();
        if reuse {
            // Same tracks: the keyframe goes in first and stays back, so the old segment's last
            // samples get their true durations.
            if let Some(tracks) = &mut self.tracks {
                let index = if is_video { tracks.video } else { tracks.audio };
                if let Some(index) = index {
                    tracks
                        .builder
                        .push(index, ms, packet.body.clone(), slice, true);
                }
            }
            self.finish_part(ms, false, progress);
        } else {
            self.finish_part(ms, true, progress);
        }
        if self.building.is_some() {
            self.close_building(ms);
            progress.segments += 1;
        }
        if !reuse {
            let (mut tracks, init) =
                Tracks::new(self.video.clone(), self.audio.clone(), self.next_init);
            self.next_init += 1;
            if init.id > 0 {
                self.discontinuity_pending = true; // a player resets its decoders
            }
            let index = if is_video { tracks.video } else { tracks.audio };
            if let Some(index) = index {
                tracks
                    .builder
                    .push(index, ms, packet.body.clone(), slice, true);
            }
            self.tracks = Some(tracks);
            self.new_init_pending = false;
            self.open(packet.timestamp, ms, received_ms, init);
        } else {
            let init = self.building_init();
            if let Some(init) = init {
                self.open(packet.timestamp, ms, received_ms, init);
            }
        }
    }

    fn building_init(&self) -> Option<Arc<InitSegment>> {
        self.segments.back().map(|s| s.init.clone())
    }

    /// The samples gathered become the segment's last part (`all`: every one, the tracks end).
    fn finish_part(&mut self, end_ms: i64, all: bool, progress: &mut Progress) {
        let keep = self.settings.part_ms.is_some();
        let (Some(tracks), Some(b)) = (&mut self.tracks, &mut self.building) else {
            return;
        };
        let part = if all {
            tracks.builder.finish_all()
        } else {
            tracks.builder.finish()
        };
        if let Some(part) = part {
            let duration = (end_ms - b.part_start_ms).max(1) as u32;
            b.part_start_ms = end_ms;
            add_part(b, part, duration, keep);
            progress.parts += 1;
        }
    }

    fn open(&mut self, ts: u32, ms: i64, received_ms: u64, init: Arc<InitSegment>) {
        self.building = Some(Building {
            sequence: self.next_sequence,
            start_ts: ts,
            discontinuity: std::mem::take(&mut self.discontinuity_pending)
                && self.next_sequence > 0,
            program_date_ms: received_ms,
            init,
            parts: Vec::new(),
            start_ms: ms,
            part_start_ms: ms,
            last_ms: ms,
            bytes: Vec::new(),
        });
        self.next_sequence += 1;
    }

    /// Complete the segment being written, ending at `end_ms` on the timeline.
    fn close_building(&mut self, end_ms: i64) {
        let Some(b) = self.building.take() else {
            return;
        };
        let duration_ms = (end_ms - b.start_ms).clamp(1, i64::from(u32::MAX)) as u32;
        self.target_secs = self.target_secs.max((duration_ms + 500) / 1000);
        self.segments.push_back(Arc::new(CmafSegment {
            sequence: b.sequence,
            start_ts: b.start_ts,
            duration_ms,
            discontinuity: b.discontinuity,
            program_date_ms: b.program_date_ms,
            init: b.init,
            bytes: b.bytes,
        }));
        if self.settings.part_ms.is_some() {
            self.part_lists.push_back((b.sequence, b.parts));
            if self.part_lists.len() > PART_SEGMENTS {
                self.part_lists.pop_front();
            }
        }
        while self.segments.len() > self.settings.window.max(1) {
            if let Some(old) = self.segments.pop_front() {
                if old.discontinuity {
                    self.discontinuity_sequence += 1;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
