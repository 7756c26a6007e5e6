//! One recording file being written, fMP4 or FLV: created with its header, fed frames, written
//! a part at a time, closed. The bytes written always end at a whole part: a failed write is
//! cut back (`set_len`) so the file stays playable up to its last whole fragment.
//!
//! fsync: once, when a file is closed (`sync_data`). Parts are written with `write` as they are
//! due, so a killed process (SIGKILL, a crash) loses at most `-recordpart`; a power cut may lose
//! what the kernel had not written yet.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::counters::{self, BYTES_WRITTEN};
use super::paths::{file_name, RecordFormat};
use crate::hub::Frame;
use crate::media::mp4::{audio_sample, init_segment, video_sample, PartBuilder, TrackConfig};
use crate::media::{Packet, PacketKind};

/// The tracks of a new fMP4 file, and which is which.
pub struct Mp4Tracks {
    pub configs: Vec<TrackConfig>,
    pub video: Option<usize>,
    pub audio: Option<usize>,
}

enum Body {
    Mp4 {
        parts: PartBuilder,
        video: Option<usize>,
        audio: Option<usize>,
    },
    /// FLV tags of the part being gathered.
    Flv { pending: Vec<u8> },
}

pub struct RecordFile {
    file: File,
    pub path: PathBuf,
    /// Relative to the recording folder, with `/`.
    pub rel_path: String,
    pub name: String,
    pub start: SystemTime,
    /// The first frame's time on the recording's timeline (ms).
    pub first_ms: i64,
    /// Bytes written: always the end of a whole part.
    pub bytes: u64,
    /// Media time written, from the first frame (ms).
    pub duration_ms: i64,
    body: Body,
}

/// Write every byte of `slices` (as `write_all`, but vectored).
fn write_all_vectored(file: &mut File, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl RecordFile {
    fn create_file(
        dir: &Path,
        channel_dir: &Path,
        start: SystemTime,
        format: RecordFormat,
    ) -> io::Result<(File, PathBuf, String, String)> {
        let folder = dir.join(channel_dir);
        std::fs::create_dir_all(&folder)?;
        let mut name = file_name(start, format);
        let mut path = folder.join(&name);
        // Two files within a millisecond (a codec change at once): the later one waits its turn.
        let mut start = start;
        while path.exists() {
            start += std::time::Duration::from_millis(1);
            name = file_name(start, format);
            path = folder.join(&name);
        }
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        let rel = channel_dir.join(&name);
        let rel_path = rel.to_string_lossy().replace('\\', "/");
        Ok((file, path, rel_path, name))
    }

    /// A new fMP4 file with its init segment written.
    pub fn create_mp4(
        dir: &Path,
        channel_dir: &Path,
        start: SystemTime,
        first_ms: i64,
        tracks: Mp4Tracks,
    ) -> io::Result<RecordFile> {
        let (mut file, path, rel_path, name) =
            Self::create_file(dir, channel_dir, start, RecordFormat::Fmp4)?;
        let init = init_segment(&tracks.configs);
        let written = file.write_all(&init);
        let mut rec = RecordFile {
            file,
            path,
            rel_path,
            name,
            start,
            first_ms,
            bytes: 0,
            duration_ms: 0,
            body: Body::Mp4 {
                parts: PartBuilder::new(tracks.configs),
                video: tracks.video,
                audio: tracks.audio,
            },
        };
        if let Err(e) = rec.after_write(written, init.len() as u64) {
            let _ = std::fs::remove_file(&rec.path);
            return Err(e);
        }
        Ok(rec)
    }

    /// A new FLV file with its header and `headers` (metadata, sequence headers) at time 0.
    pub fn create_flv(
        dir: &Path,
        channel_dir: &Path,
        start: SystemTime,
        first_ms: i64,
        headers: &[Packet],
        audio: bool,
        video: bool,
    ) -> io::Result<RecordFile> {
        let (mut file, path, rel_path, name) =
            Self::create_file(dir, channel_dir, start, RecordFormat::Flv)?;
        let flags = (u8::from(audio) << 2) | u8::from(video);
        let mut head = vec![b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0];
        for packet in headers {
            flv_tag(&mut head, packet.kind, 0, &packet.body);
        }
        let written = file.write_all(&head);
        let mut rec = RecordFile {
            file,
            path,
            rel_path,
            name,
            start,
            first_ms,
            bytes: 0,
            duration_ms: 0,
            body: Body::Flv {
                pending: Vec::new(),
            },
        };
        if let Err(e) = rec.after_write(written, head.len() as u64) {
            let _ = std::fs::remove_file(&rec.path);
            return Err(e);
        }
        Ok(rec)
    }

    /// Count a write, or cut the file back to its last whole part.
    fn after_write(&mut self, result: io::Result<()>, len: u64) -> io::Result<()> {
        match result {
            Ok(()) => {
                self.bytes += len;
                counters::add(&BYTES_WRITTEN, len);
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.bytes);
                Err(e)
            }
        }
    }

    /// Add a media frame at `ms` on the recording's timeline. Returns whether it was taken
    /// (headers, metadata and frames without a track are not).
    pub fn push(&mut self, frame: &Arc<Frame>, ms: i64) -> bool {
        let rel = ms - self.first_ms;
        let packet = &frame.packet;
        match &mut self.body {
            Body::Mp4 {
                parts,
                video,
                audio,
            } => {
                let (track, slice) = match packet.kind {
                    PacketKind::Video => (*video, video_sample(&packet.body)),
                    PacketKind::Audio => (*audio, audio_sample(&packet.body)),
                    PacketKind::Data => (None, None),
                };
                let (Some(track), Some(slice)) = (track, slice) else {
                    return false;
                };
                let sync = packet.kind == PacketKind::Audio || packet.is_keyframe();
                parts.push(track, rel, packet.body.clone(), slice, sync);
            }
            Body::Flv { pending } => {
                let ts = rel.clamp(0, i64::from(u32::MAX)) as u32;
                flv_tag(pending, packet.kind, ts, &packet.body);
                self.duration_ms = self.duration_ms.max(rel);
            }
        }
        true
    }

    /// Video track `track`'s next sample comes at `ms` (fMP4): the part written next may end
    /// right before it.
    pub fn next_sample_at(&mut self, track: usize, ms: i64) {
        if let Body::Mp4 { parts, .. } = &mut self.body {
            parts.next_sample_at(track, ms - self.first_ms);
        }
    }

    pub fn has_pending(&self) -> bool {
        match &self.body {
            Body::Mp4 { parts, .. } => !parts.is_empty(),
            Body::Flv { pending } => !pending.is_empty(),
        }
    }

    /// Write the part gathered so far (`last`: everything, at the end of the file; otherwise
    /// each track's last sample waits for its successor to know its duration).
    pub fn write_part(&mut self, last: bool) -> io::Result<()> {
        match &mut self.body {
            Body::Mp4 { parts, .. } => {
                let part = if last {
                    parts.finish_all()
                } else {
                    parts.finish()
                };
                let Some(part) = part else {
                    return Ok(());
                };
                let mut slices = Vec::with_capacity(part.samples.len() + 1);
                slices.push(IoSlice::new(&part.header));
                slices.extend(part.samples.iter().map(|s| IoSlice::new(s.bytes())));
                let written = write_all_vectored(&mut self.file, &mut slices);
                drop(slices);
                self.after_write(written, part.len)?;
                self.duration_ms = self.duration_ms.max(part.end_ms);
                Ok(())
            }
            Body::Flv { pending } => {
                if pending.is_empty() {
                    return Ok(());
                }
                let bytes = std::mem::take(pending);
                let written = self.file.write_all(&bytes);
                self.after_write(written, bytes.len() as u64)
            }
        }
    }

    /// Write what is left and make it durable.
    pub fn close(mut self) -> (RecordFile, io::Result<()>) {
        let result = self.write_part(true).and_then(|()| self.file.sync_data());
        (self, result)
    }
}

/// An FLV tag: | type | size (24) | timestamp (24) | timestamp high (8) | stream id (24) = 0 |
/// body | previous tag size (32) |.
fn flv_tag(out: &mut Vec<u8>, kind: PacketKind, ts: u32, body: &[u8]) {
    let size = (body.len() as u32).min(0xFF_FFFF);
    out.push(kind.tag_type());
    out.extend_from_slice(&size.to_be_bytes()[1..]);
    out.extend_from_slice(&ts.to_be_bytes()[1..]);
    out.push((ts >> 24) as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&body[..size as usize]);
    out.extend_from_slice(&(size + 11).to_be_bytes());
}
