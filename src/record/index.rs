//! Reading a recording file back: the whole fragments of an fMP4 file (where its torn tail
//! begins, each fragment's media time and whether it starts with a keyframe) and the last
//! timestamp of an FLV file. Only box headers and `moov`/`moof` boxes are read (each bounded by
//! `MAX_INDEX_BOX`), never the media.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::media::mp4::reader::MAX_INDEX_BOX;
use crate::media::mp4::{box_header, parse_moof, parse_moov, FragmentInfo, TrackInfo};

/// One whole fragment (`moof` + `mdat`) of a file.
#[derive(Debug, Clone)]
pub struct FragmentEntry {
    pub offset: u64,
    pub moof_len: u64,
    /// `moof` and `mdat` together.
    pub len: u64,
    /// Media time of the main track (video, else the first), in ms from the file's decode time 0.
    pub start_ms: i64,
    pub end_ms: i64,
    /// Starts with a sync sample of the main track.
    pub sync: bool,
    pub info: FragmentInfo,
}

#[derive(Debug, Clone, Default)]
pub struct Mp4Index {
    pub file_len: u64,
    /// The end of the last whole box (`moov`, or a `moof` with its whole `mdat`): what survives
    /// a repair. 0 without a whole `moov`.
    pub good_len: u64,
    /// `ftyp` + `moov`.
    pub init_len: u64,
    pub tracks: Vec<TrackInfo>,
    pub fragments: Vec<FragmentEntry>,
}

impl Mp4Index {
    /// Media seconds from the first fragment's start to the last one's end.
    pub fn duration_secs(&self) -> f64 {
        match (self.fragments.first(), self.fragments.last()) {
            (Some(first), Some(last)) => (last.end_ms - first.start_ms).max(0) as f64 / 1000.0,
            _ => 0.0,
        }
    }
}

fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Walk the file's top-level boxes and read its index. A torn or malformed box ends the walk:
/// everything from there on is the torn tail.
pub fn read_mp4_index(path: &Path) -> io::Result<Mp4Index> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut index = Mp4Index {
        file_len,
        ..Mp4Index::default()
    };
    let mut at = 0u64;
    let mut pending_moof: Option<(u64, u64, FragmentInfo)> = None;
    let mut head = [0u8; 16];
    while at < file_len {
        let n = read_at(&mut file, at, &mut head)?;
        let Ok(Some(h)) = box_header(&head[..n]) else {
            break;
        };
        let size = h.size.unwrap_or(file_len - at);
        if at + size > file_len {
            break;
        }
        match &h.kind {
            b"moov" | b"moof" if size > MAX_INDEX_BOX => break,
            b"moov" => {
                let mut body = vec![0; (size - h.header_len) as usize];
                read_at(&mut file, at + h.header_len, &mut body)?;
                let Ok(tracks) = parse_moov(&body) else { break };
                index.tracks = tracks;
                index.init_len = at + size;
                index.good_len = at + size;
            }
            b"moof" => {
                let mut whole = vec![0; size as usize];
                read_at(&mut file, at, &mut whole)?;
                let Ok(info) = parse_moof(&whole) else { break };
                pending_moof = Some((at, size, info));
            }
            b"mdat" => {
                if let Some((offset, moof_len, info)) = pending_moof.take() {
                    if index.init_len > 0 {
                        let entry = fragment_entry(&index.tracks, offset, moof_len, size, info);
                        index.fragments.push(entry);
                        index.good_len = at + size;
                    }
                }
            }
            _ => {}
        }
        at += size;
    }
    Ok(index)
}

fn fragment_entry(
    tracks: &[TrackInfo],
    offset: u64,
    moof_len: u64,
    mdat_len: u64,
    info: FragmentInfo,
) -> FragmentEntry {
    let main = tracks
        .iter()
        .find(|t| t.video && info.trafs.iter().any(|f| f.track_id == t.track_id))
        .or_else(|| {
            tracks
                .iter()
                .find(|t| info.trafs.iter().any(|f| f.track_id == t.track_id))
        });
    let (start_ms, end_ms, sync) = match main {
        Some(track) => {
            let traf = info.trafs.iter().find(|f| f.track_id == track.track_id);
            let scale = u64::from(track.timescale.max(1));
            match traf {
                Some(traf) => (
                    (traf.base_decode_time * 1000 / scale) as i64,
                    ((traf.base_decode_time + traf.duration()) * 1000 / scale) as i64,
                    traf.samples.first().is_some_and(|s| s.sync),
                ),
                None => (0, 0, false),
            }
        }
        None => (0, 0, false),
    };
    FragmentEntry {
        offset,
        moof_len,
        len: moof_len + mdat_len,
        start_ms,
        end_ms,
        sync,
        info,
    }
}

/// The duration of an FLV recording (its tags are stamped from 0): the last whole tag's
/// timestamp, found through the file's last PreviousTagSize.
pub fn flv_duration_secs(path: &Path) -> io::Result<f64> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < 13 + 15 {
        return Ok(0.0);
    }
    let mut tail = [0u8; 4];
    read_at(&mut file, len - 4, &mut tail)?;
    let prev = u64::from(u32::from_be_bytes(tail));
    if prev < 11 || prev + 4 > len - 13 {
        return Ok(0.0);
    }
    let mut tag = [0u8; 8];
    read_at(&mut file, len - 4 - prev, &mut tag)?;
    let ts = u32::from_be_bytes([tag[7], tag[4], tag[5], tag[6]]);
    Ok(f64::from(ts) / 1000.0)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use super::*;
    use crate::media::mp4::{init_segment, video_sample, PartBuilder, TrackConfig};

    /// An AVC track whose avcC is not parsed for its size (any bytes do for the box layout).
    fn track() -> TrackConfig {
        TrackConfig {
            codec: crate::media::mp4::Codec::Avc,
            config: vec![1, 0x42, 0xC0, 0x1E, 0xFF, 0xE0, 0],
            width: 320,
            height: 240,
            sample_rate: 0,
            channels: 0,
        }
    }

    fn write_file(path: &Path, seconds: i64, tail: &[u8]) -> u64 {
        let mut parts = PartBuilder::new(vec![track()]);
        let mut bytes = init_segment(&[track()]);
        let body = Arc::new(vec![0x27, 1, 0, 0, 0, 9, 9, 9]);
        let slice = video_sample(&body).unwrap();
        for frame in 0..seconds * 25 {
            let ms = frame * 40;
            if frame % 25 == 0 && frame > 0 {
                parts.next_sample_at(0, ms);
                let part = parts.finish().unwrap();
                bytes.extend_from_slice(&part.header);
                part.samples
                    .iter()
                    .for_each(|s| bytes.extend_from_slice(s.bytes()));
            }
            parts.push(0, ms, body.clone(), slice, frame % 50 == 0);
        }
        let part = parts.finish_all().unwrap();
        bytes.extend_from_slice(&part.header);
        part.samples
            .iter()
            .for_each(|s| bytes.extend_from_slice(s.bytes()));
        let whole = bytes.len() as u64;
        bytes.extend_from_slice(tail);
        std::fs::File::create(path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        whole
    }

    #[test]
    fn an_index_lists_whole_fragments_and_stops_at_a_torn_tail() {
        let dir = std::env::temp_dir().join(format!("joy4-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.mp4");
        // A moof whose size runs past the end, as a write cut short leaves it.
        let whole = write_file(&path, 4, &[0, 0, 0x10, 0, b'm', b'o', b'o', b'f', 0, 0]);
        let index = read_mp4_index(&path).unwrap();
        assert_eq!(index.good_len, whole);
        assert_eq!(index.file_len, whole + 10);
        assert_eq!(index.tracks.len(), 1);
        assert_eq!(index.fragments.len(), 4);
        assert!(index.fragments[0].sync && !index.fragments[1].sync && index.fragments[2].sync);
        assert_eq!(index.fragments[1].start_ms, 1000);
        // 100 frames of 40 ms: 4 s, to the millisecond.
        assert_eq!(index.duration_secs(), 4.0);
        // A moof without its mdat is torn too.
        let moof_end = index.fragments[3].offset + index.fragments[3].moof_len;
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..moof_end as usize + 4]).unwrap();
        let index = read_mp4_index(&path).unwrap();
        assert_eq!(index.fragments.len(), 3);
        assert_eq!(
            index.good_len,
            index.fragments[3 - 1].offset + index.fragments[2].len
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
