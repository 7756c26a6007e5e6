//! The init segment: `ftyp`, then `moov` with one `trak` per track and `mvex` (so the samples
//! follow in fragments). Every table in `stbl` is empty; durations are 0 (unknown: fragmented).
//!
//! ```text
//! ftyp
//! moov
//!   mvhd
//!   trak*  tkhd, mdia(mdhd, hdlr, minf(vmhd|smhd, dinf(dref(url)), stbl(stsd, stts, stsc, stsz, stco)))
//!   mvex   trex*
//! ```

use super::boxes::{BoxWriter, UNITY_MATRIX};
use super::track::{Codec, TrackConfig};

/// Movie header time units per second (the movie has no duration of its own).
const MOVIE_TIMESCALE: u32 = 1000;
/// `und`, packed as three 5-bit letters.
const LANGUAGE_UND: u16 = 0x55C4;

/// The init segment of `tracks`; track ids are 1, 2, … in order.
pub fn init_segment(tracks: &[TrackConfig]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let mut w = BoxWriter::new(&mut out);
    let ftyp = w.open(b"ftyp");
    w.bytes(b"isom");
    w.u32(0x200);
    for brand in [b"isom", b"iso6", b"mp41", b"dash"] {
        w.bytes(brand);
    }
    w.close(ftyp);
    let moov = w.open(b"moov");
    mvhd(&mut w, tracks.len() as u32 + 1);
    for (i, track) in tracks.iter().enumerate() {
        trak(&mut w, i as u32 + 1, track);
    }
    let mvex = w.open(b"mvex");
    for i in 0..tracks.len() {
        let trex = w.open_full(b"trex", 0, 0);
        w.u32(i as u32 + 1); // track id
        w.u32(1); // default sample description index
        w.zeros(12); // default duration, size, flags
        w.close(trex);
    }
    w.close(mvex);
    w.close(moov);
    out
}

fn mvhd(w: &mut BoxWriter<'_>, next_track_id: u32) {
    let b = w.open_full(b"mvhd", 0, 0);
    w.zeros(8); // creation, modification time
    w.u32(MOVIE_TIMESCALE);
    w.u32(0); // duration
    w.u32(0x0001_0000); // rate 1.0
    w.u16(0x0100); // volume 1.0
    w.zeros(10);
    UNITY_MATRIX.iter().for_each(|&m| w.u32(m));
    w.zeros(24); // pre_defined
    w.u32(next_track_id);
    w.close(b);
}

fn trak(w: &mut BoxWriter<'_>, id: u32, track: &TrackConfig) {
    let video = track.codec.is_video();
    let trak = w.open(b"trak");
    let tkhd = w.open_full(b"tkhd", 0, 0x3); // enabled, in movie
    w.zeros(8);
    w.u32(id);
    w.zeros(4); // reserved
    w.u32(0); // duration
    w.zeros(8);
    w.u16(0); // layer
    w.u16(if video { 0 } else { 1 }); // alternate group
    w.u16(if video { 0 } else { 0x0100 }); // volume
    w.u16(0);
    UNITY_MATRIX.iter().for_each(|&m| w.u32(m));
    w.u32(track.width << 16);
    w.u32(track.height << 16);
    w.close(tkhd);
    let mdia = w.open(b"mdia");
    let mdhd = w.open_full(b"mdhd", 0, 0);
    w.zeros(8);
    w.u32(track.timescale());
    w.u32(0);
    w.u16(LANGUAGE_UND);
    w.u16(0);
    w.close(mdhd);
    let hdlr = w.open_full(b"hdlr", 0, 0);
    w.u32(0);
    w.bytes(if video { b"vide" } else { b"soun" });
    w.zeros(12);
    w.bytes(if video {
        b"joy4 video\0"
    } else {
        b"joy4 audio\0"
    });
    w.close(hdlr);
    let minf = w.open(b"minf");
    if video {
        let vmhd = w.open_full(b"vmhd", 0, 1);
        w.zeros(8);
        w.close(vmhd);
    } else {
        let smhd = w.open_full(b"smhd", 0, 0);
        w.zeros(4);
        w.close(smhd);
    }
    let dinf = w.open(b"dinf");
    let dref = w.open_full(b"dref", 0, 0);
    w.u32(1);
    let url = w.open_full(b"url ", 0, 1); // media in this file
    w.close(url);
    w.close(dref);
    w.close(dinf);
    let stbl = w.open(b"stbl");
    let stsd = w.open_full(b"stsd", 0, 0);
    w.u32(1);
    sample_entry(w, track);
    w.close(stsd);
    for kind in [b"stts", b"stsc", b"stco"] {
        let b = w.open_full(kind, 0, 0);
        w.u32(0);
        w.close(b);
    }
    let stsz = w.open_full(b"stsz", 0, 0);
    w.zeros(8); // sample size, count
    w.close(stsz);
    w.close(stbl);
    w.close(minf);
    w.close(mdia);
    w.close(trak);
}

fn sample_entry(w: &mut BoxWriter<'_>, track: &TrackConfig) {
    let (kind, config_box): (&[u8; 4], &[u8; 4]) = match track.codec {
        Codec::Avc => (b"avc1", b"avcC"),
        Codec::Hevc => (b"hvc1", b"hvcC"),
        Codec::Av1 => (b"av01", b"av1C"),
        Codec::Aac | Codec::Mp3 => (b"mp4a", b"esds"),
    };
    let entry = w.open(kind);
    w.zeros(6);
    w.u16(1); // data reference index
    if track.codec.is_video() {
        w.zeros(16); // pre_defined, reserved
        w.u16(track.width as u16);
        w.u16(track.height as u16);
        w.u32(0x0048_0000); // 72 dpi
        w.u32(0x0048_0000);
        w.u32(0);
        w.u16(1); // frame count
        w.zeros(32); // compressor name
        w.u16(0x18); // depth
        w.u16(0xFFFF); // pre_defined = -1
        w.leaf(config_box, &track.config);
    } else {
        w.zeros(8);
        w.u16(u16::from(track.channels.max(1)));
        w.u16(16); // sample size
        w.zeros(4);
        // 16.16 fixed point; rates above 65535 Hz do not fit and are given as 0.
        w.u32(if track.sample_rate <= 0xFFFF {
            track.sample_rate << 16
        } else {
            0
        });
        esds(w, track);
    }
    w.close(entry);
}

/// `esds`: an ES_Descriptor with a DecoderConfigDescriptor (AAC 0x40 with its
/// AudioSpecificConfig as DecoderSpecificInfo, MP3 0x6B) and an SLConfigDescriptor.
fn esds(w: &mut BoxWriter<'_>, track: &TrackConfig) {
    let b = w.open_full(b"esds", 0, 0);
    let dsi_len = if track.config.is_empty() {
        0
    } else {
        5 + track.config.len()
    };
    let dcd_len = 13 + dsi_len;
    let es_len = 3 + (5 + dcd_len) + (5 + 1);
    descriptor_header(w, 0x03, es_len);
    w.u16(1); // ES id
    w.u8(0); // flags, priority
    descriptor_header(w, 0x04, dcd_len);
    w.u8(if track.codec == Codec::Aac {
        0x40
    } else {
        0x6B
    });
    w.u8(0x15); // audio stream, upstream 0, reserved 1
    w.bytes(&[0, 0, 0]); // buffer size
    w.u32(0); // max bitrate
    w.u32(0); // average bitrate
    if !track.config.is_empty() {
        descriptor_header(w, 0x05, track.config.len());
        w.bytes(&track.config);
    }
    descriptor_header(w, 0x06, 1);
    w.u8(2); // predefined: MP4
    w.close(b);
}

/// A descriptor tag and its size in the 4-byte form (7 bits a byte, continuation bits set).
fn descriptor_header(w: &mut BoxWriter<'_>, tag: u8, len: usize) {
    let len = len.min(0x0FFF_FFFF) as u32;
    w.u8(tag);
    w.bytes(&[
        0x80 | (len >> 21) as u8 & 0x7F,
        0x80 | (len >> 14) as u8 & 0x7F,
        0x80 | (len >> 7) as u8 & 0x7F,
        len as u8 & 0x7F,
    ]);
}
