//! One playable MP4 of a time span, across files: the first file's init segment, then the
//! fragments from the keyframe at or before `start` until `start + duration`, continuing into
//! the next files while their init segments are the same (same codecs and parameters). Each
//! fragment's decode times are moved so the span starts at 0 and the files keep the distance
//! between their start times; sequence numbers count from 1. Nothing is copied into memory but
//! the `moof` boxes (bounded by `MAX_INDEX_BOX`); the media is read from the files as it is sent.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::index::read_mp4_index;
use super::listing::scan;
use super::paths::RecordFormat;

/// A file that starts within this of where the previous one ended continues it.
const CONTIGUOUS_MS: i64 = 1000;

/// A piece of the answer, read from a file when it is written.
#[derive(Debug, Clone)]
pub enum Piece {
    /// A `moof` to patch: its sequence number and decode times (position in the box, value).
    Moof {
        path: PathBuf,
        offset: u64,
        len: u64,
        sequence: (usize, u32),
        decode_times: Vec<(usize, u64)>,
    },
    /// Bytes copied as they are (an `mdat`).
    Bytes {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

#[derive(Debug, Clone)]
pub struct SpanPlan {
    pub init: Vec<u8>,
    pub pieces: Vec<Piece>,
    pub len: u64,
}

fn ms_between(later: SystemTime, earlier: SystemTime) -> i64 {
    match later.duration_since(earlier) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

fn read_range(path: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0; len as usize];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// The plan of `channel`'s span; `Ok(None)` when nothing is recorded at `start`.
pub fn plan(
    dir: &Path,
    channel: &str,
    start: SystemTime,
    duration: Duration,
) -> io::Result<Option<SpanPlan>> {
    let files: Vec<_> = scan(dir, Some(channel))
        .remove(channel)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.format == RecordFormat::Fmp4)
        .collect();
    let end = start + duration;
    let mut plan: Option<SpanPlan> = None;
    // The span's time 0, as a wall-clock time.
    let mut origin = start;
    // The span time (ms) where the last fragment taken ends.
    let mut continues_at: Option<i64> = None;
    for file in &files {
        if file.start >= end {
            break;
        }
        let index = read_mp4_index(&file.path)?;
        let Some(first) = index.fragments.first() else {
            continue;
        };
        let abs = |ms: i64| file.start + Duration::from_millis((ms - first.start_ms).max(0) as u64);
        let fragments: Vec<_> = match &plan {
            None => {
                let last_end = index.fragments.last().map_or(first.start_ms, |f| f.end_ms);
                if abs(last_end) <= start {
                    continue; // this file ends before the span
                }
                // The keyframe at or before `start` in this file.
                let Some(at) = index
                    .fragments
                    .iter()
                    .rposition(|f| f.sync && abs(f.start_ms) <= start)
                else {
                    return Ok(None);
                };
                origin = abs(index.fragments[at].start_ms);
                let init = read_range(&file.path, 0, index.init_len)?;
                plan = Some(SpanPlan {
                    len: init.len() as u64,
                    init,
                    pieces: Vec::new(),
                });
                index.fragments[at..].iter().collect()
            }
            Some(p) => {
                if read_range(&file.path, 0, index.init_len)? != p.init {
                    break; // new codecs or parameters: the span ends here
                }
                index.fragments.iter().collect()
            }
        };
        let Some(p) = plan.as_mut() else { break };
        // Where the file's first fragment goes in the span: right after the previous file's
        // last one when it continues it (a rotation leaves no gap; the wall-clock start times
        // of files jitter), else at its wall-clock distance from the span's start.
        let wall_ms = ms_between(file.start, origin);
        let at_ms = match continues_at {
            Some(end) if (wall_ms - end).abs() < CONTIGUOUS_MS => end,
            _ => wall_ms,
        };
        let shift_ms = at_ms - first.start_ms;
        for fragment in fragments {
            if abs(fragment.start_ms) >= end {
                break;
            }
            let sequence = (fragment.info.sequence_at, p.pieces.len() as u32 / 2 + 1);
            let mut decode_times = Vec::new();
            for traf in &fragment.info.trafs {
                let (Some(at), Some(track)) = (
                    traf.decode_time_at,
                    index.tracks.iter().find(|t| t.track_id == traf.track_id),
                ) else {
                    continue;
                };
                let shift = i128::from(shift_ms) * i128::from(track.timescale) / 1000;
                let moved = (i128::from(traf.base_decode_time) + shift).max(0) as u64;
                decode_times.push((at, moved));
            }
            p.pieces.push(Piece::Moof {
                path: file.path.clone(),
                offset: fragment.offset,
                len: fragment.moof_len,
                sequence,
                decode_times,
            });
            p.pieces.push(Piece::Bytes {
                path: file.path.clone(),
                offset: fragment.offset + fragment.moof_len,
                len: fragment.len - fragment.moof_len,
            });
            p.len += fragment.len;
            continues_at = Some(shift_ms + fragment.end_ms);
        }
    }
    Ok(plan.filter(|p| !p.pieces.is_empty()))
}

/// Write the span to `out`.
pub fn write(plan: &SpanPlan, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(&plan.init)?;
    for piece in &plan.pieces {
        match piece {
            Piece::Moof {
                path,
                offset,
                len,
                sequence,
                decode_times,
            } => {
                let mut moof = read_range(path, *offset, *len)?;
                let (at, value) = *sequence;
                if let Some(slot) = moof.get_mut(at..at + 4) {
                    slot.copy_from_slice(&value.to_be_bytes());
                }
                for (at, value) in decode_times {
                    if let Some(slot) = moof.get_mut(*at..*at + 8) {
                        slot.copy_from_slice(&value.to_be_bytes());
                    }
                }
                out.write_all(&moof)?;
            }
            Piece::Bytes { path, offset, len } => {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(*offset))?;
                let copied = io::copy(&mut file.take(*len), out)?;
                if copied != *len {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
    }
    Ok(())
}
