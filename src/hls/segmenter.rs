//! Cutting a channel into segments: a new segment starts at a video keyframe once at least the
//! fragment duration has passed since the current one started (audio-only channels: at the first
//! audio frame past it), and at the first keyframe after a discontinuity (a new source, or new
//! sequence headers). The last `window` complete segments are kept, plus the one being written.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::media::ts::{TsError, TsWriter};
use crate::media::{ts_diff, Packet, PacketKind};

/// A segment being written that grows past this (a stream without keyframes) is dropped.
pub const MAX_SEGMENT_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmenterSettings {
    /// The least media time in a segment before it may be cut (milliseconds).
    pub fragment_ms: u32,
    /// Complete segments kept and listed.
    pub window: usize,
    /// Which segments and playlists (`-hlsvariant`).
    pub variant: super::HlsVariant,
    /// `lowlatency`: the part duration (milliseconds).
    pub part_ms: u32,
}

impl Default for SegmenterSettings {
    fn default() -> SegmenterSettings {
        SegmenterSettings {
            fragment_ms: 2000,
            window: 6,
            variant: super::HlsVariant::Mpegts,
            part_ms: 200,
        }
    }
}

/// A complete segment: MPEG-TS bytes that start with PAT, PMT and (with video) a keyframe.
#[derive(Debug)]
pub struct Segment {
    pub sequence: u64,
    /// Channel timestamp of its first frame (milliseconds).
    pub start_ts: u32,
    pub duration_ms: u32,
    /// The playlist puts `#EXT-X-DISCONTINUITY` before it.
    pub discontinuity: bool,
    /// Wall-clock time (Unix ms) its first frame reached the server; 0 if unknown.
    pub program_date_ms: u64,
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
struct Building {
    sequence: u64,
    start_ts: u32,
    program_date_ms: u64,
    last_ts: u32,
    discontinuity: bool,
    bytes: Vec<u8>,
}

#[derive(Debug)]
pub struct Segmenter {
    settings: SegmenterSettings,
    writer: TsWriter,
    building: Option<Building>,
    segments: VecDeque<Arc<Segment>>,
    next_sequence: u64,
    /// Discontinuities that left the window (`#EXT-X-DISCONTINUITY-SEQUENCE`).
    discontinuity_sequence: u64,
    discontinuity_pending: bool,
    target_secs: u32,
    /// The sequence headers in use (video, audio): a change is a discontinuity.
    headers: [Option<Arc<Vec<u8>>>; 2],
    ended: bool,
}

impl Segmenter {
    pub fn new(settings: SegmenterSettings) -> Segmenter {
        Segmenter {
            settings,
            writer: TsWriter::new(),
            building: None,
            segments: VecDeque::new(),
            next_sequence: 0,
            discontinuity_sequence: 0,
            discontinuity_pending: false,
            target_secs: settings.fragment_ms.div_ceil(1000).max(1),
            headers: [None, None],
            ended: false,
        }
    }

    pub fn segments(&self) -> &VecDeque<Arc<Segment>> {
        &self.segments
    }

    pub fn segment(&self, sequence: u64) -> Option<Arc<Segment>> {
        let first = self.segments.front()?.sequence;
        let index = usize::try_from(sequence.checked_sub(first)?).ok()?;
        self.segments.get(index).cloned()
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

    /// The RFC 6381 codec strings, once the sequence headers are known.
    pub fn codecs(&self) -> String {
        self.writer.codecs()
    }

    /// Bytes held: the window and the segment being written.
    pub fn held_bytes(&self) -> usize {
        let building = self.building.as_ref().map_or(0, |b| b.bytes.len());
        building + self.segments.iter().map(|s| s.bytes.len()).sum::<usize>()
    }

    /// Take one packet of the channel; `starts_source` marks the first frame of a new source
    /// (publisher switch, encoder reconnect), `received_ms` the wall-clock time (Unix ms) it
    /// reached the server. Returns whether a segment was completed. Only an unsupported codec
    /// is an error; a malformed frame or one before its header is skipped.
    pub fn push(
        &mut self,
        packet: &Packet,
        starts_source: bool,
        received_ms: u64,
    ) -> Result<bool, TsError> {
        if self.ended || packet.kind == PacketKind::Data {
            return Ok(false);
        }
        if starts_source {
            self.discontinuity_pending = true;
        }
        if packet.is_sequence_header() {
            let slot = &mut self.headers[usize::from(packet.kind == PacketKind::Audio)];
            if slot.as_ref().is_some_and(|old| **old != *packet.body) {
                self.discontinuity_pending = true;
            }
            *slot = Some(packet.body.clone());
            return self.write(packet).map(|_| false);
        }
        let has_video = self.writer.has_video();
        let starts_segment = match packet.kind {
            PacketKind::Video => packet.is_keyframe(),
            _ => !has_video,
        };
        let mut completed = false;
        if starts_segment {
            let due = match &self.building {
                None => true,
                Some(b) => {
                    self.discontinuity_pending
                        || ts_diff(packet.timestamp, b.start_ts) >= self.settings.fragment_ms as i32
                }
            };
            if due {
                completed = self.close_building(packet.timestamp);
                self.open(packet.timestamp, received_ms);
            }
        }
        if self.building.is_none() {
            return Ok(completed); // waiting for a keyframe
        }
        self.write(packet)?;
        let too_big = self
            .building
            .as_ref()
            .is_some_and(|b| b.bytes.len() > MAX_SEGMENT_BYTES);
        if too_big {
            log::warn!(
                "hls: a segment grew past {MAX_SEGMENT_BYTES} bytes without a keyframe; dropped"
            );
            self.building = None;
            self.discontinuity_pending = true;
        }
        Ok(completed)
    }

    /// The channel ended: the segment being written is complete, no more follow.
    pub fn end(&mut self) {
        if self.ended {
            return;
        }
        if let Some(last) = self.building.as_ref().map(|b| b.last_ts) {
            self.close_building(last);
        }
        self.ended = true;
    }

    fn write(&mut self, packet: &Packet) -> Result<(), TsError> {
        let mut scratch = Vec::new();
        let out = match &mut self.building {
            Some(b) => &mut b.bytes,
            None => &mut scratch,
        };
        match self.writer.write(packet, out) {
            Ok(()) => {
                if let Some(b) = &mut self.building {
                    if ts_diff(packet.timestamp, b.last_ts) > 0 {
                        b.last_ts = packet.timestamp;
                    }
                }
                Ok(())
            }
            Err(e @ TsError::Unsupported(_)) => Err(e),
            Err(e) => {
                log::debug!("hls: packet at {} skipped: {e}", packet.timestamp);
                Ok(())
            }
        }
    }

    fn open(&mut self, ts: u32, received_ms: u64) {
        let mut bytes = Vec::with_capacity(256 * 1024);
        self.writer.write_tables(&mut bytes);
        self.building = Some(Building {
            sequence: self.next_sequence,
            start_ts: ts,
            program_date_ms: received_ms,
            last_ts: ts,
            discontinuity: std::mem::take(&mut self.discontinuity_pending)
                && self.next_sequence > 0,
            bytes,
        });
        self.next_sequence += 1;
    }

    /// Complete the segment being written, ending at `end_ts`; returns whether there was one.
    fn close_building(&mut self, end_ts: u32) -> bool {
        let Some(b) = self.building.take() else {
            return false;
        };
        let duration_ms = ts_diff(end_ts, b.start_ts).max(1) as u32;
        self.target_secs = self.target_secs.max((duration_ms + 500) / 1000);
        self.segments.push_back(Arc::new(Segment {
            sequence: b.sequence,
            start_ts: b.start_ts,
            duration_ms,
            discontinuity: b.discontinuity,
            program_date_ms: b.program_date_ms,
            bytes: b.bytes,
        }));
        while self.segments.len() > self.settings.window.max(1) {
            if let Some(old) = self.segments.pop_front() {
                if old.discontinuity {
                    self.discontinuity_sequence += 1;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests;
