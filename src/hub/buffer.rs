//! A channel's media buffer: whole GOPs, bounded by size (the bytes its frames really hold),
//! media duration and GOP count; and the cursor a joiner starts from.

use std::collections::VecDeque;
use std::sync::Arc;

use super::frame::Frame;

use crate::media::{ts_after, ts_diff, PacketKind};

/// The three optional bounds of a channel buffer. The GOP in progress is never trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferLimits {
    pub max_bytes: Option<usize>,
    pub max_duration_ms: Option<u32>,
    /// GOPs kept, counting the one in progress (1 = only the latest GOP).
    pub max_gops: Option<usize>,
}

impl Default for BufferLimits {
    fn default() -> BufferLimits {
        BufferLimits {
            max_bytes: Some(16 * 1024 * 1024),
            max_duration_ms: None,
            max_gops: Some(1),
        }
    }
}

/// Where a joining subscriber starts in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The newest keyframe in the buffer (the default).
    Latest,
    /// The first keyframe in the buffer.
    Oldest,
    /// Nothing from the buffer: wait for the next keyframe.
    Next,
    /// This many milliseconds behind live, snapped to the keyframe at or before it.
    Behind(u32),
}

impl Cursor {
    /// `latest`, `oldest`, `next`, or a duration (`5s`, `1500ms`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Cursor> {
        match text {
            "" | "latest" => Some(Cursor::Latest),
            "oldest" => Some(Cursor::Oldest),
            "next" => Some(Cursor::Next),
            other => {
                // A cursor must name a unit, so a stray number is refused rather than guessed.
                if !other.ends_with('s') && !other.ends_with('m') {
                    return None;
                }
                let d = crate::text::parse_duration(other).ok()?;
                Some(Cursor::Behind(d.as_millis().min(u32::MAX as u128) as u32))
            }
        }
    }
}

/// Media frames from a video keyframe on (or, for audio-only channels, any frames), trimmed from the
/// head a whole GOP at a time.
#[derive(Debug, Default)]
pub struct GopBuffer {
    frames: VecDeque<Arc<Frame>>,
    /// Absolute index (see `base`) of each keyframe that starts a GOP, oldest first.
    gop_starts: VecDeque<u64>,
    /// Absolute index of `frames[0]`.
    base: u64,
    bytes: usize,
    /// Set once a video keyframe has been seen: from then on the buffer is GOP-structured.
    has_video: bool,
    /// Frames dropped because one GOP alone outgrew the size bound (memory must stay bounded).
    pub overflow_resets: u64,
}

impl GopBuffer {
    pub fn new() -> GopBuffer {
        GopBuffer::default()
    }

    /// Bytes held: each frame's body and record (`Frame::held_bytes`).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub fn gop_count(&self) -> usize {
        self.gop_starts.len()
    }

    /// Media time from the first to the last frame held.
    pub fn duration_ms(&self) -> u32 {
        match (self.frames.front(), self.frames.back()) {
            (Some(first), Some(last)) => ts_diff(last.timestamp(), first.timestamp()).max(0) as u32,
            _ => 0,
        }
    }

    pub fn clear(&mut self) {
        self.base += self.frames.len() as u64;
        self.frames.clear();
        self.gop_starts.clear();
        self.bytes = 0;
    }

    /// Append a media frame (never a sequence header or metadata) and trim to `limits`.
    pub fn push(&mut self, frame: Arc<Frame>, limits: &BufferLimits) {
        let is_video = frame.packet.kind == PacketKind::Video;
        if limits.max_gops == Some(0) {
            // No GOP kept: joiners wait for the next keyframe, and the channel holds no media.
            self.has_video |= is_video;
            return;
        }
        if is_video && frame.is_keyframe() {
            self.has_video = true;
            self.gop_starts
                .push_back(self.base + self.frames.len() as u64);
        } else if self.has_video && self.gop_starts.is_empty() {
            // A video channel's buffer always begins at a keyframe.
            return;
        }
        self.bytes += frame.held_bytes();
        self.frames.push_back(frame);
        self.trim(limits);
    }

    fn over_limits(&self, limits: &BufferLimits) -> bool {
        limits.max_bytes.is_some_and(|max| self.bytes > max)
            || limits
                .max_duration_ms
                .is_some_and(|max| self.duration_ms() > max)
            || (self.has_video
                && limits
                    .max_gops
                    .is_some_and(|max| self.gop_starts.len() > max))
    }

    fn trim(&mut self, limits: &BufferLimits) {
        if self.has_video {
            while self.gop_starts.len() > 1 && self.over_limits(limits) {
                self.gop_starts.pop_front();
                let next_start = self.gop_starts[0];
                self.drop_front_until(next_start);
            }
            // One GOP alone beyond the size bound: keep memory bounded; joiners wait for the next
            // keyframe.
            if let Some(max) = limits.max_bytes {
                if self.bytes > max.saturating_mul(2).max(1) {
                    self.overflow_resets += 1;
                    self.clear();
                }
            }
        } else {
            // Audio-only (or no keyframe yet): a packet at a time.
            while self.frames.len() > 1 && self.over_limits(limits) {
                self.drop_front_until(self.base + 1);
            }
        }
    }

    fn drop_front_until(&mut self, absolute: u64) {
        while self.base < absolute {
            match self.frames.pop_front() {
                Some(frame) => {
                    self.bytes -= frame.held_bytes();
                    self.base += 1;
                }
                None => break,
            }
        }
    }

    /// The frames a joiner at `cursor` receives, in order.
    pub fn frames_from(&self, cursor: Cursor) -> Vec<Arc<Frame>> {
        let start = match cursor {
            Cursor::Next => return Vec::new(),
            _ if !self.has_video => match cursor {
                // Audio-only: "latest" starts live, like a joiner at the newest keyframe would.
                Cursor::Latest => return Vec::new(),
                Cursor::Behind(ms) => self.audio_index_behind(ms),
                _ => 0,
            },
            Cursor::Latest => match self.gop_starts.back() {
                Some(&abs) => (abs - self.base) as usize,
                None => return Vec::new(),
            },
            Cursor::Oldest => match self.gop_starts.front() {
                Some(&abs) => (abs - self.base) as usize,
                None => return Vec::new(),
            },
            Cursor::Behind(ms) => match self.keyframe_index_behind(ms) {
                Some(i) => i,
                None => return Vec::new(),
            },
        };
        self.frames.range(start..).cloned().collect()
    }

    fn live_ts(&self) -> Option<u32> {
        self.frames.back().map(|f| f.timestamp())
    }

    /// The newest GOP start at or before `live - ms`, or the oldest if none is that old.
    fn keyframe_index_behind(&self, ms: u32) -> Option<usize> {
        let live = self.live_ts()?;
        let target = live.wrapping_sub(ms);
        let mut chosen = *self.gop_starts.front()?;
        for &abs in &self.gop_starts {
            let ts = self.frames[(abs - self.base) as usize].timestamp();
            if !ts_after(ts, target) {
                chosen = abs;
            }
        }
        Some((chosen - self.base) as usize)
    }

    fn audio_index_behind(&self, ms: u32) -> usize {
        let Some(live) = self.live_ts() else { return 0 };
        let target = live.wrapping_sub(ms);
        self.frames
            .iter()
            .rposition(|f| !ts_after(f.timestamp(), target))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Packet;

    fn video(ts: u32, key: bool, len: usize) -> Arc<Frame> {
        let mut body = vec![0u8; len.max(5)];
        body[0] = if key { 0x17 } else { 0x27 };
        body[1] = 1;
        Arc::new(Frame::new(Packet::new(PacketKind::Video, ts, body)))
    }

    fn audio(ts: u32, len: usize) -> Arc<Frame> {
        let mut body = vec![0u8; len.max(2)];
        body[0] = 0xAF;
        body[1] = 1;
        Arc::new(Frame::new(Packet::new(PacketKind::Audio, ts, body)))
    }

    /// Push `gops` GOPs of `gop_ms` at 25 fps with audio every 23 ms.
    fn feed(buffer: &mut GopBuffer, limits: &BufferLimits, gops: u32, gop_ms: u32) {
        let mut ts = 0;
        while ts < gops * gop_ms {
            buffer.push(video(ts, ts % gop_ms == 0, 1000), limits);
            buffer.push(audio(ts + 5, 100), limits);
            ts += 40;
        }
    }

    #[test]
    fn default_buffer_keeps_only_the_gop_in_progress() {
        let limits = BufferLimits::default();
        let mut b = GopBuffer::new();
        feed(&mut b, &limits, 5, 2000);
        assert_eq!(b.gop_count(), 1);
        let frames = b.frames_from(Cursor::Latest);
        assert!(frames[0].is_keyframe());
        assert_eq!(frames[0].timestamp(), 8000);
        let held: usize = frames.iter().map(|f| f.held_bytes()).sum();
        assert_eq!(b.bytes(), held);
        assert!(held > 50 * 1000, "the bodies count");
    }

    #[test]
    fn a_gop_count_of_zero_keeps_nothing() {
        let limits = BufferLimits {
            max_gops: Some(0),
            ..BufferLimits::default()
        };
        let mut b = GopBuffer::new();
        feed(&mut b, &limits, 2, 2000);
        assert_eq!((b.bytes(), b.gop_count()), (0, 0));
        assert!(b.frames_from(Cursor::Latest).is_empty());
        assert!(b.frames_from(Cursor::Oldest).is_empty());
    }

    #[test]
    fn gop_count_bound_keeps_that_many_gops_and_starts_at_a_keyframe() {
        let limits = BufferLimits {
            max_gops: Some(3),
            ..BufferLimits::default()
        };
        let mut b = GopBuffer::new();
        feed(&mut b, &limits, 6, 2000);
        assert_eq!(b.gop_count(), 3);
        let oldest = b.frames_from(Cursor::Oldest);
        assert_eq!(oldest[0].timestamp(), 6000);
        assert!(oldest[0].is_keyframe());
        assert_eq!(b.frames_from(Cursor::Latest)[0].timestamp(), 10000);
        assert!(b.frames_from(Cursor::Next).is_empty());
    }

    #[test]
    fn duration_bound_trims_whole_gops_but_never_the_one_in_progress() {
        let limits = BufferLimits {
            max_bytes: None,
            max_duration_ms: Some(4000),
            max_gops: None,
        };
        let mut b = GopBuffer::new();
        feed(&mut b, &limits, 10, 2000);
        assert!(b.duration_ms() <= 4000 + 2000, "{}", b.duration_ms());
        assert!(b.frames_from(Cursor::Oldest)[0].is_keyframe());
        // A GOP longer than the bound is kept whole while in progress.
        let mut long = GopBuffer::new();
        feed(&mut long, &limits, 1, 10_000);
        assert_eq!(long.gop_count(), 1);
        assert!(long.duration_ms() > 4000);
    }

    #[test]
    fn size_bound_holds_and_used_bytes_are_exact() {
        let limits = BufferLimits {
            max_bytes: Some(450_000),
            max_duration_ms: None,
            max_gops: None,
        };
        let mut b = GopBuffer::new();
        feed(&mut b, &limits, 10, 2000);
        let held: usize = b
            .frames_from(Cursor::Oldest)
            .iter()
            .map(|f| f.held_bytes())
            .sum();
        assert_eq!(held, b.bytes());
        assert!(b.bytes() <= 450_000, "{}", b.bytes());
        assert!(b.gop_count() >= 1);
    }

    #[test]
    fn frames_before_the_first_keyframe_are_not_buffered() {
        let limits = BufferLimits::default();
        let mut b = GopBuffer::new();
        b.push(video(0, true, 10), &limits);
        b.clear();
        b.push(video(40, false, 10), &limits);
        b.push(audio(45, 10), &limits);
        assert!(b.is_empty());
        b.push(video(80, true, 10), &limits);
        assert_eq!(b.frames_from(Cursor::Oldest)[0].timestamp(), 80);
    }

    #[test]
    fn audio_only_buffer_trims_a_packet_at_a_time() {
        let limits = BufferLimits {
            max_bytes: None,
            max_duration_ms: Some(1000),
            max_gops: Some(1),
        };
        let mut b = GopBuffer::new();
        for i in 0..200 {
            b.push(audio(i * 23, 100), &limits);
        }
        assert!(b.duration_ms() <= 1000);
        assert!(b.duration_ms() >= 950);
        assert_eq!(b.frames_from(Cursor::Oldest).len(), b.len());
        assert!(b.frames_from(Cursor::Latest).is_empty());
    }

    #[test]
    fn behind_cursor_snaps_to_the_keyframe_at_or_before_and_clamps_to_the_oldest() {
        let limits = BufferLimits {
            max_gops: Some(4),
            ..BufferLimits::default()
        };
        let mut b = GopBuffer::new();
        feed(&mut b, &limits, 4, 2000); // keyframes at 0, 2000, 4000, 6000; live 7965
        let at = |ms| b.frames_from(Cursor::Behind(ms))[0].timestamp();
        assert_eq!(at(5000), 2000); // target 2965 -> keyframe 2000
        assert_eq!(at(1000), 6000);
        assert_eq!(at(60_000), 0);
    }

    #[test]
    fn cursor_parses_names_and_durations() {
        assert_eq!(Cursor::parse("latest"), Some(Cursor::Latest));
        assert_eq!(Cursor::parse("oldest"), Some(Cursor::Oldest));
        assert_eq!(Cursor::parse("next"), Some(Cursor::Next));
        assert_eq!(Cursor::parse("5s"), Some(Cursor::Behind(5000)));
        assert_eq!(Cursor::parse("1500ms"), Some(Cursor::Behind(1500)));
        assert_eq!(Cursor::parse("soon"), None);
        assert_eq!(Cursor::parse("5"), None);
    }
}
