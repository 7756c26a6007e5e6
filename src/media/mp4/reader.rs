//! Reading back what the writer wrote, bounded: box headers (to walk a file's top-level boxes and
//! find a torn tail), the tracks of a `moov`, and the samples of a `moof` (durations, sync
//! samples, sizes) for listings and for cutting a span out of recordings.
//!
//! Sans-IO: the caller reads bytes (a header's 16, a whole `moov` or `moof` it has bounded) and
//! hands them over. Nothing here allocates more than the bytes given justify.

use super::fragment::Sample;
use super::Mp4Error;

/// The largest `moov` or `moof` a reader should load (the writer's are a few KiB).
pub const MAX_INDEX_BOX: u64 = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    pub kind: [u8; 4],
    /// The whole box, header included; `None`: it runs to the end of the file.
    pub size: Option<u64>,
    pub header_len: u64,
}

/// The header at the start of `bytes`; `Ok(None)` when `bytes` is too short to hold it.
pub fn box_header(bytes: &[u8]) -> Result<Option<BoxHeader>, Mp4Error> {
    if bytes.len() < 8 {
        return Ok(None);
    }
    let size32 = u32::from_be_bytes(bytes[..4].try_into().unwrap_or_default());
    let kind: [u8; 4] = bytes[4..8].try_into().unwrap_or_default();
    let (size, header_len) = match size32 {
        0 => (None, 8),
        1 => {
            if bytes.len() < 16 {
                return Ok(None);
            }
            let size = u64::from_be_bytes(bytes[8..16].try_into().unwrap_or_default());
            (Some(size), 16)
        }
        n => (Some(u64::from(n)), 8),
    };
    if size.is_some_and(|s| s < header_len) {
        return Err(Mp4Error::Malformed("box size smaller than its header"));
    }
    Ok(Some(BoxHeader {
        kind,
        size,
        header_len,
    }))
}

/// A box's type and body.
type Child<'a> = ([u8; 4], &'a [u8]);

/// The boxes directly inside `bytes`, as (type, body).
fn children(mut bytes: &[u8]) -> Result<Vec<Child<'_>>, Mp4Error> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let h = box_header(bytes)?.ok_or(Mp4Error::Malformed("truncated box header"))?;
        let size = h.size.unwrap_or(bytes.len() as u64);
        if size > bytes.len() as u64 {
            return Err(Mp4Error::Malformed("box runs past its parent"));
        }
        out.push((h.kind, &bytes[h.header_len as usize..size as usize]));
        bytes = &bytes[size as usize..];
    }
    Ok(out)
}

fn child<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, Mp4Error> {
    Ok(children(bytes)?
        .into_iter()
        .find(|(k, _)| k == kind)
        .map(|(_, b)| b))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Mp4Error> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(Mp4Error::Malformed("box body too short"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32, Mp4Error> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self) -> Result<u64, Mp4Error> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
}

/// A track as the `moov` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackInfo {
    pub track_id: u32,
    pub timescale: u32,
    pub video: bool,
}

/// The tracks of a `moov` body.
pub fn parse_moov(moov: &[u8]) -> Result<Vec<TrackInfo>, Mp4Error> {
    let mut tracks = Vec::new();
    for (kind, trak) in children(moov)? {
        if &kind != b"trak" {
            continue;
        }
        let tkhd = child(trak, b"tkhd")?.ok_or(Mp4Error::Malformed("trak without tkhd"))?;
        let mut c = Cursor { bytes: tkhd, at: 0 };
        let version = c.u32()? >> 24;
        c.take(if version == 1 { 16 } else { 8 })?;
        let track_id = c.u32()?;
        let mdia = child(trak, b"mdia")?.ok_or(Mp4Error::Malformed("trak without mdia"))?;
        let mdhd = child(mdia, b"mdhd")?.ok_or(Mp4Error::Malformed("mdia without mdhd"))?;
        let mut c = Cursor { bytes: mdhd, at: 0 };
        let version = c.u32()? >> 24;
        c.take(if version == 1 { 16 } else { 8 })?;
        let timescale = c.u32()?;
        let hdlr = child(mdia, b"hdlr")?.ok_or(Mp4Error::Malformed("mdia without hdlr"))?;
        let video = hdlr.get(8..12) == Some(b"vide");
        tracks.push(TrackInfo {
            track_id,
            timescale,
            video,
        });
    }
    Ok(tracks)
}

/// One track's part of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafInfo {
    pub track_id: u32,
    pub base_decode_time: u64,
    /// Where the 64-bit decode time sits in the `moof` (from the start of the `moof` box),
    /// so a span can restamp a fragment; `None` for a 32-bit `tfdt`.
    pub decode_time_at: Option<usize>,
    pub samples: Vec<Sample>,
}

impl TrafInfo {
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }
}

/// What a `moof` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentInfo {
    pub sequence: u32,
    /// Where the sequence number sits in the `moof`.
    pub sequence_at: usize,
    pub trafs: Vec<TrafInfo>,
}

/// Parse a whole `moof` box (header included).
pub fn parse_moof(moof: &[u8]) -> Result<FragmentInfo, Mp4Error> {
    let h = box_header(moof)?.ok_or(Mp4Error::Malformed("truncated moof"))?;
    if &h.kind != b"moof" || h.size != Some(moof.len() as u64) {
        return Err(Mp4Error::Malformed("not a whole moof"));
    }
    let base = moof.as_ptr() as usize;
    let mut sequence = None;
    let mut trafs = Vec::new();
    for (kind, body) in children(&moof[h.header_len as usize..])? {
        match &kind {
            b"mfhd" => {
                let at = body.as_ptr() as usize - base + 4;
                sequence = Some((Cursor { bytes: body, at: 4 }.u32()?, at));
            }
            b"traf" => trafs.push(parse_traf(body, base)?),
            _ => {}
        }
    }
    let (sequence, sequence_at) = sequence.ok_or(Mp4Error::Malformed("moof without mfhd"))?;
    Ok(FragmentInfo {
        sequence,
        sequence_at,
        trafs,
    })
}

fn parse_traf(traf: &[u8], base: usize) -> Result<TrafInfo, Mp4Error> {
    let tfhd = child(traf, b"tfhd")?.ok_or(Mp4Error::Malformed("traf without tfhd"))?;
    let mut c = Cursor { bytes: tfhd, at: 0 };
    let flags = c.u32()? & 0x00FF_FFFF;
    let track_id = c.u32()?;
    if flags & 0x01 != 0 {
        c.u64()?; // base data offset
    }
    if flags & 0x02 != 0 {
        c.u32()?; // sample description index
    }
    let default_duration = if flags & 0x08 != 0 { c.u32()? } else { 0 };
    let default_size = if flags & 0x10 != 0 { c.u32()? } else { 0 };
    let default_flags = if flags & 0x20 != 0 { c.u32()? } else { 0 };
    let (base_decode_time, decode_time_at) = match child(traf, b"tfdt")? {
        Some(tfdt) => {
            let mut c = Cursor { bytes: tfdt, at: 0 };
            if c.u32()? >> 24 == 1 {
                let at = tfdt.as_ptr() as usize - base + 4;
                (c.u64()?, Some(at))
            } else {
                (u64::from(c.u32()?), None)
            }
        }
        None => (0, None),
    };
    let mut samples = Vec::new();
    for (kind, trun) in children(traf)? {
        if &kind != b"trun" {
            continue;
        }
        let mut c = Cursor { bytes: trun, at: 0 };
        let flags = c.u32()? & 0x00FF_FFFF;
        let count = c.u32()? as usize;
        if flags & 0x01 != 0 {
            c.u32()?;
        }
        let first_flags = if flags & 0x04 != 0 {
            Some(c.u32()?)
        } else {
            None
        };
        let per_sample = [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|&&f| flags & f != 0)
            .count()
            * 4;
        // Bounded by the bytes present before anything is allocated.
        if per_sample > 0 && count > (trun.len() - c.at) / per_sample {
            return Err(Mp4Error::Malformed("trun sample count beyond its size"));
        }
        samples.reserve(count.min(trun.len()));
        for i in 0..count {
            let duration = if flags & 0x100 != 0 {
                c.u32()?
            } else {
                default_duration
            };
            let size = if flags & 0x200 != 0 {
                c.u32()?
            } else {
                default_size
            };
            let sample_flags = if flags & 0x400 != 0 {
                c.u32()?
            } else if i == 0 {
                first_flags.unwrap_or(default_flags)
            } else {
                default_flags
            };
            let composition_offset = if flags & 0x800 != 0 {
                c.u32()? as i32
            } else {
                0
            };
            samples.push(Sample {
                duration,
                size,
                // sample_is_non_sync_sample is bit 16.
                sync: sample_flags & 0x0001_0000 == 0,
                composition_offset,
            });
        }
    }
    Ok(TrafInfo {
        track_id,
        base_decode_time,
        decode_time_at,
        samples,
    })
}
