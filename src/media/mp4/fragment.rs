//! A fragment: `moof` (the samples' table) then `mdat` (their bytes). One `traf` per track with
//! samples, each with its absolute decode time (`tfdt`), so a player placing a fragment never
//! adds up durations from the start and nothing drifts.
//!
//! ```text
//! moof
//!   mfhd  sequence number
//!   traf* tfhd (track id; default-base-is-moof), tfdt (v1: 64-bit decode time),
//!         trun (v1: data offset; per sample duration, size, flags, signed composition offset)
//! mdat    track 1's samples, then track 2's, … in the order of the trafs
//! ```
//! [`fragment_header`] writes `moof` and the `mdat` header only: the caller writes the samples'
//! bytes after it, straight from where they are (no copy into the fragment).

use super::boxes::BoxWriter;

/// `tfhd` flag: data offsets count from the start of the `moof`.
const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `trun` flags: data offset, and per sample its duration, size, flags, composition offset.
const TRUN_FLAGS: u32 = 0x01 | 0x100 | 0x200 | 0x400 | 0x800;
/// Sample flags: a sync sample (depends on no other), and a non-sync one.
pub const SYNC_SAMPLE: u32 = 0x0200_0000;
pub const NON_SYNC_SAMPLE: u32 = 0x0101_0000;
/// Bytes per sample in a `trun` written here.
pub const TRUN_SAMPLE_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// In the track's timescale.
    pub duration: u32,
    pub size: u32,
    /// A sync sample: a keyframe, or any audio frame.
    pub sync: bool,
    /// Presentation minus decode time, in the track's timescale.
    pub composition_offset: i32,
}

/// One track's samples in a fragment.
#[derive(Debug, Clone, Copy)]
pub struct TrackRun<'a> {
    pub track_id: u32,
    /// The first sample's decode time, in the track's timescale.
    pub base_decode_time: u64,
    pub samples: &'a [Sample],
}

/// `moof` and the `mdat` header of a fragment of `runs` (runs without samples are left out).
/// The samples' bytes, run after run, must follow it: their total is the `mdat` body.
pub fn fragment_header(sequence: u32, runs: &[TrackRun<'_>]) -> Vec<u8> {
    let runs: Vec<&TrackRun<'_>> = runs.iter().filter(|r| !r.samples.is_empty()).collect();
    let samples: usize = runs.iter().map(|r| r.samples.len()).sum();
    let mut out = Vec::with_capacity(64 + runs.len() * 72 + samples * TRUN_SAMPLE_LEN);
    let mut data_offsets = Vec::with_capacity(runs.len());
    let mut w = BoxWriter::new(&mut out);
    let moof = w.open(b"moof");
    let mfhd = w.open_full(b"mfhd", 0, 0);
    w.u32(sequence);
    w.close(mfhd);
    for run in &runs {
        let traf = w.open(b"traf");
        let tfhd = w.open_full(b"tfhd", 0, DEFAULT_BASE_IS_MOOF);
        w.u32(run.track_id);
        w.close(tfhd);
        let tfdt = w.open_full(b"tfdt", 1, 0);
        w.u64(run.base_decode_time);
        w.close(tfdt);
        let trun = w.open_full(b"trun", 1, TRUN_FLAGS);
        w.u32(run.samples.len() as u32);
        data_offsets.push(w.out.len());
        w.u32(0); // data offset, filled in below
        for s in run.samples {
            w.u32(s.duration);
            w.u32(s.size);
            w.u32(if s.sync { SYNC_SAMPLE } else { NON_SYNC_SAMPLE });
            w.u32(s.composition_offset as u32);
        }
        w.close(trun);
        w.close(traf);
    }
    w.close(moof);
    let data_len: u64 = runs
        .iter()
        .flat_map(|r| r.samples.iter())
        .map(|s| u64::from(s.size))
        .sum();
    let mdat_header = if data_len + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    let mut offset = out.len() as u64 + mdat_header;
    for (at, run) in data_offsets.iter().zip(&runs) {
        out[*at..*at + 4].copy_from_slice(&(offset as u32).to_be_bytes());
        offset += run.samples.iter().map(|s| u64::from(s.size)).sum::<u64>();
    }
    if mdat_header == 16 {
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&(data_len + 16).to_be_bytes());
    } else {
        out.extend_from_slice(&((data_len + 8) as u32).to_be_bytes());
        out.extend_from_slice(b"mdat");
    }
    out
}
