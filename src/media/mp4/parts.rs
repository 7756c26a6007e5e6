//! Gathering samples into fragments: FLV tag bodies in (shared, not copied), `moof` + the
//! sample bytes to write after it out.
//!
//! Times arrive as absolute milliseconds on the recording's timeline (0 = its first frame) and
//! are converted to each track's timescale one by one, so a sample's decode time is always
//! `round(ms × timescale / 1000)` of its own timestamp: durations are differences of converted
//! absolute times and never add up to a drift. A sample's duration needs its successor, so
//! [`PartBuilder::finish`] keeps each track's last sample back for the next part; only the last
//! part of a file ([`PartBuilder::finish_all`]) gives its last samples the track's previous
//! duration.

use std::sync::Arc;

use super::fragment::{fragment_header, Sample, TrackRun};
use super::track::{SampleSlice, TrackConfig};

/// A sample whose bytes are the tail of a shared tag body.
#[derive(Debug, Clone)]
pub struct SampleBytes {
    pub body: Arc<Vec<u8>>,
    pub offset: usize,
}

impl SampleBytes {
    pub fn bytes(&self) -> &[u8] {
        &self.body[self.offset..]
    }
}

#[derive(Debug)]
struct Pending {
    dts_ms: i64,
    composition_ms: i32,
    sync: bool,
    bytes: SampleBytes,
}

#[derive(Debug)]
struct TrackParts {
    config: TrackConfig,
    pending: Vec<Pending>,
    /// The duration of the last sample written (timescale units), for the next part's last one.
    last_duration: u32,
    /// When the track's next sample comes (ms), if known: its last pending one is complete.
    next_ms: Option<i64>,
}

/// One fragment ready to write: `header` (moof and the mdat header), then each of `samples`'
/// bytes in order.
#[derive(Debug)]
pub struct Part {
    pub header: Vec<u8>,
    pub samples: Vec<SampleBytes>,
    /// The whole fragment's size.
    pub len: u64,
    /// The first video sample (or, without video, the first sample) is a sync sample.
    pub starts_with_sync: bool,
    /// The part's media time: first decode time and end (ms on the recording's timeline).
    pub start_ms: i64,
    pub end_ms: i64,
}

/// The samples of the part being gathered, per track (track ids 1, 2, … in order).
#[derive(Debug)]
pub struct PartBuilder {
    tracks: Vec<TrackParts>,
    sequence: u32,
}

fn to_timescale(ms: i64, timescale: u32) -> u64 {
    let ms = ms.max(0) as u128;
    ((ms * u128::from(timescale) + 500) / 1000) as u64
}

impl PartBuilder {
    pub fn new(tracks: Vec<TrackConfig>) -> PartBuilder {
        PartBuilder {
            tracks: tracks
                .into_iter()
                .map(|config| TrackParts {
                    last_duration: if config.codec.is_video() {
                        config.timescale() / 30
                    } else {
                        1024
                    },
                    config,
                    pending: Vec::new(),
                    next_ms: None,
                })
                .collect(),
            sequence: 0,
        }
    }

    pub fn configs(&self) -> impl Iterator<Item = &TrackConfig> {
        self.tracks.iter().map(|t| &t.config)
    }

    pub fn is_empty(&self) -> bool {
        self.tracks.iter().all(|t| t.pending.is_empty())
    }

    /// The bytes of sample data gathered so far.
    pub fn pending_bytes(&self) -> usize {
        self.tracks
            .iter()
            .flat_map(|t| &t.pending)
            .map(|p| p.bytes.body.len() - p.bytes.offset)
            .sum()
    }

    /// Track `index`'s next sample comes at `next_ms`: its last pending sample is complete and
    /// goes out with the next part (so a part can end right before a keyframe).
    pub fn next_sample_at(&mut self, index: usize, next_ms: i64) {
        if let Some(track) = self.tracks.get_mut(index) {
            track.next_ms = Some(next_ms);
        }
    }

    /// Add a sample of track `index` (0-based) at `dts_ms` on the recording's timeline.
    pub fn push(
        &mut self,
        index: usize,
        dts_ms: i64,
        body: Arc<Vec<u8>>,
        slice: SampleSlice,
        sync: bool,
    ) {
        if let Some(track) = self.tracks.get_mut(index) {
            track.pending.push(Pending {
                dts_ms,
                composition_ms: slice.composition_ms,
                sync,
                bytes: SampleBytes {
                    body,
                    offset: slice.offset,
                },
            });
        }
    }

    /// The gathered samples but each track's last as the next fragment (sequence numbers 1,
    /// 2, …); `None` if there are none to write.
    pub fn finish(&mut self) -> Option<Part> {
        self.build(true)
    }

    /// Every gathered sample as the next fragment: the end of a file.
    pub fn finish_all(&mut self) -> Option<Part> {
        self.build(false)
    }

    fn build(&mut self, keep_last: bool) -> Option<Part> {
        let ready = |t: &TrackParts| {
            let hold = keep_last && t.next_ms.is_none();
            t.pending.len().saturating_sub(usize::from(hold))
        };
        if self.tracks.iter().all(|t| ready(t) == 0) {
            self.tracks.iter_mut().for_each(|t| t.next_ms = None);
            return None;
        }
        self.sequence += 1;
        let mut tables: Vec<(u32, u64, Vec<Sample>)> = Vec::new();
        let mut samples = Vec::new();
        let (mut start_ms, mut end_ms) = (i64::MAX, i64::MIN);
        let mut starts_with_sync = None;
        let has_video = self
            .tracks
            .iter()
            .any(|t| t.config.codec.is_video() && ready(t) > 0);
        for (i, track) in self.tracks.iter_mut().enumerate() {
            let count = ready(track);
            if count == 0 {
                continue;
            }
            let scale = track.config.timescale();
            let mut times: Vec<u64> = track
                .pending
                .iter()
                .map(|p| to_timescale(p.dts_ms, scale))
                .collect();
            if let Some(next) = track.next_ms.take() {
                times.push(to_timescale(next, scale));
            }
            let mut table = Vec::with_capacity(count);
            for (n, p) in track.pending.iter().take(count).enumerate() {
                let duration = match times.get(n + 1) {
                    Some(&next) => next.saturating_sub(times[n]).min(u64::from(u32::MAX)) as u32,
                    None => track.last_duration,
                };
                track.last_duration = duration;
                table.push(Sample {
                    duration,
                    size: (p.bytes.body.len() - p.bytes.offset) as u32,
                    sync: p.sync,
                    composition_offset: (i64::from(p.composition_ms) * i64::from(scale) / 1000)
                        as i32,
                });
            }
            if starts_with_sync.is_none() && (has_video == track.config.codec.is_video()) {
                starts_with_sync = Some(track.pending[0].sync);
            }
            start_ms = start_ms.min(track.pending[0].dts_ms);
            let last_end = times[count - 1] + u64::from(track.last_duration);
            end_ms = end_ms.max((last_end * 1000 / u64::from(scale.max(1))) as i64);
            samples.extend(track.pending.drain(..count).map(|p| p.bytes));
            tables.push((i as u32 + 1, times[0], table));
        }
        for track in &mut self.tracks {
            track.next_ms = None;
        }
        let runs: Vec<TrackRun<'_>> = tables
            .iter()
            .map(|(id, base, table)| TrackRun {
                track_id: *id,
                base_decode_time: *base,
                samples: table,
            })
            .collect();
        let header = fragment_header(self.sequence, &runs);
        let len = header.len() as u64
            + samples
                .iter()
                .map(|s| (s.body.len() - s.offset) as u64)
                .sum::<u64>();
        Some(Part {
            header,
            samples,
            len,
            starts_with_sync: starts_with_sync.unwrap_or(false),
            start_ms,
            end_ms,
        })
    }
}
