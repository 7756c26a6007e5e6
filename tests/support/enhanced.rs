//! Enhanced RTMP video fixtures: ffmpeg encodes libx265 Annex-B and libaom AV1 OBUs (Debian's
//! ffmpeg cannot publish Enhanced RTMP), and these wrap them into `hvcC` / `av1C` sequence starts
//! and coded-frame tags for the test's own RTMP client.

use std::process::Command;
use std::time::{Duration, Instant};

use super::{Proc, RtmpClient, Server, TestDir};

/// Frames in each fixture: 320x240 at 25 fps, a keyframe every 10.
pub const FRAMES: usize = 30;
pub const WIDTH: u64 = 320;
pub const HEIGHT: u64 = 240;

/// One encoded picture: its bytes as a coded-frames payload wants them, and whether it is a keyframe.
pub struct Frame {
    pub data: Vec<u8>,
    pub key: bool,
}

/// A video track: its configuration record and its frames.
pub struct Track {
    pub fourcc: &'static [u8; 4],
    pub config: Vec<u8>,
    pub frames: Vec<Frame>,
}

pub fn ffmpeg_encode(dir: &TestDir, name: &str, codec_args: &[&str]) -> Vec<u8> {
    let out = dir.file(name);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={WIDTH}x{HEIGHT}:rate=25"))
        .args(["-frames:v", &FRAMES.to_string()])
        .args(codec_args)
        .arg(&out);
    let mut p = Proc::spawn(&format!("ffmpeg-{name}"), cmd);
    let status = p.expect_exit(Duration::from_secs(120), "encoding a fixture");
    assert!(status.success(), "ffmpeg failed\n{}", p.describe());
    std::fs::read(&out).expect("read the fixture")
}

// ---- HEVC: Annex-B -> hvcC + length-prefixed access units ----

/// NAL units of an Annex-B stream (start codes `00 00 01` / `00 00 00 01` removed).
pub fn annexb_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(data.len(), |&next| next - 3);
        while end > s && data[end - 1] == 0 {
            end -= 1; // trailing zeros belong to the next (4-byte) start code
        }
        nals.push(&data[s..end]);
    }
    nals
}

pub fn hevc_nal_type(nal: &[u8]) -> u8 {
    (nal[0] >> 1) & 0x3F
}

/// Emulation prevention removed (`00 00 03` -> `00 00`).
pub fn unescape(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = 0;
    for &b in data {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// HEVCDecoderConfigurationRecord with one VPS, SPS and PPS; profile, tier and level copied from
/// the SPS's profile_tier_level; 4:2:0 8-bit; 4-byte NAL lengths.
pub fn hvcc(vps: &[u8], sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let rbsp = unescape(&sps[2..]);
    let ptl = &rbsp[1..13];
    let mut out = vec![1, ptl[0]];
    out.extend_from_slice(&ptl[1..11]); // compatibility flags (4), constraint flags (6)
    out.push(ptl[11]); // level
    out.extend_from_slice(&[0xF0, 0x00, 0xFC, 0xFD, 0xF8, 0xF8, 0x00, 0x00, 0x0F, 3]);
    for nal in [vps, sps, pps] {
        out.push(0x80 | hevc_nal_type(nal));
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&(nal.len() as u16).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

pub fn hevc_track(dir: &TestDir) -> Track {
    let params = "keyint=10:min-keyint=10:bframes=0:scenecut=0:log-level=error";
    let stream = ffmpeg_encode(
        dir,
        "fixture.hevc",
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            params,
            "-f",
            "hevc",
        ],
    );
    let nals = annexb_nals(&stream);
    let find = |t: u8| {
        *nals
            .iter()
            .find(|n| hevc_nal_type(n) == t)
            .expect("a parameter set")
    };
    let config = hvcc(find(32), find(33), find(34));
    let mut frames: Vec<Frame> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_key = false;
    let mut has_picture = false;
    for nal in nals {
        let t = hevc_nal_type(nal);
        let is_slice = t < 32;
        let starts_picture = (is_slice && nal[2] & 0x80 != 0) || matches!(t, 32..=35 | 39);
        if starts_picture && has_picture {
            frames.push(Frame {
                data: std::mem::take(&mut pending),
                key: pending_key,
            });
            (pending_key, has_picture) = (false, false);
        }
        if (32..=34).contains(&t) {
            continue; // in hvcC
        }
        has_picture |= is_slice;
        pending_key |= (16..=23).contains(&t);
        pending.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        pending.extend_from_slice(nal);
    }
    frames.push(Frame {
        data: pending,
        key: pending_key,
    });
    Track {
        fourcc: b"hvc1",
        config,
        frames,
    }
}

// ---- AV1: OBUs -> av1C + temporal units ----

/// The OBUs of a low-overhead bitstream: (type, the whole OBU).
pub fn obus(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < data.len() {
        let start = p;
        let header = data[p];
        p += 1 + usize::from(header & 0x04 != 0);
        assert!(header & 0x02 != 0, "OBU without a size field");
        let mut size = 0usize;
        for i in 0.. {
            let b = data[p];
            p += 1;
            size |= usize::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        p += size;
        out.push(((header >> 3) & 0x0F, &data[start..p]));
    }
    out
}

pub fn av1_track(dir: &TestDir) -> Track {
    let stream = ffmpeg_encode(
        dir,
        "fixture.obu",
        &["-c:v", "libaom-av1", "-cpu-used", "8", "-usage", "realtime"]
            .into_iter()
            .chain(["-g", "10", "-keyint_min", "10", "-f", "obu"])
            .collect::<Vec<_>>(),
    );
    const SEQUENCE_HEADER: u8 = 1;
    const TEMPORAL_DELIMITER: u8 = 2;
    let all = obus(&stream);
    let (_, sequence_header) = *all
        .iter()
        .find(|(t, _)| *t == SEQUENCE_HEADER)
        .expect("a sequence header OBU");
    // av1C: marker and version, then profile/level/tier/colour fields the server does not need
    // (main profile, 4:2:0), then the sequence header OBU.
    let mut config = vec![0x81, 0x00, 0x0C, 0x00];
    config.extend_from_slice(sequence_header);
    let mut frames: Vec<Frame> = Vec::new();
    for (t, obu) in all {
        if t == TEMPORAL_DELIMITER {
            frames.push(Frame {
                data: Vec::new(),
                key: false,
            });
            continue; // a temporal unit's boundary; not sent
        }
        let frame = frames.last_mut().expect("a temporal delimiter first");
        frame.key |= t == SEQUENCE_HEADER; // libaom repeats it at each keyframe
        frame.data.extend_from_slice(obu);
    }
    Track {
        fourcc: b"av01",
        config,
        frames,
    }
}

// ---- Enhanced RTMP video tags ----

pub const KEY: u8 = 1;
pub const INTER: u8 = 2;
pub const SEQUENCE_START: u8 = 0;
pub const CODED_FRAMES: u8 = 1;
pub const CODED_FRAMES_X: u8 = 3;
pub const MULTITRACK: u8 = 6;
/// Multitrack type 2: each track has its own FourCC.
pub const MANY_TRACKS_MANY_CODECS: u8 = 2;

pub fn ex_byte(frame_type: u8, packet_type: u8) -> u8 {
    0x80 | frame_type << 4 | packet_type
}

/// SequenceStart, then each frame as CodedFrames (keyframes, with a zero composition time for
/// `hvc1`) or CodedFramesX (`hvc1` inter frames: no composition time).
pub fn single_track_tags(track: &Track) -> Vec<Vec<u8>> {
    let mut tags = vec![[
        &[ex_byte(KEY, SEQUENCE_START)][..],
        track.fourcc,
        &track.config,
    ]
    .concat()];
    for f in &track.frames {
        let frame_type = if f.key { KEY } else { INTER };
        let tag = match (track.fourcc, f.key) {
            (b"hvc1", true) => [
                &[ex_byte(KEY, CODED_FRAMES)][..],
                b"hvc1",
                &[0, 0, 0],
                &f.data,
            ]
            .concat(),
            (b"hvc1", false) => [&[ex_byte(INTER, CODED_FRAMES_X)][..], b"hvc1", &f.data].concat(),
            (fourcc, _) => [
                &[ex_byte(frame_type, CODED_FRAMES)][..],
                &fourcc[..],
                &f.data,
            ]
            .concat(),
        };
        tags.push(tag);
    }
    tags
}

/// Publish `track` on `live/NAME` in real time (25 fps), its frames looped, for `seconds`.
pub fn publish_enhanced_loop(
    server: &Server,
    name: &str,
    track: &Track,
    seconds: f64,
) -> std::thread::JoinHandle<()> {
    let (mut client, sid) = RtmpClient::publisher(server.rtmp_addr, "live", name)
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    client.set_chunk_size(4096).expect("set chunk size");
    let tags = single_track_tags(track);
    std::thread::spawn(move || {
        client
            .send(6, 0, 9, sid, &tags[0])
            .expect("send the sequence start");
        let started = Instant::now();
        let frames = &tags[1..];
        let mut n = 0usize;
        while started.elapsed().as_secs_f64() < seconds {
            let ts = 40 * n as u32;
            if client
                .send(6, ts, 9, sid, &frames[n % frames.len()])
                .is_err()
            {
                return;
            }
            n += 1;
            let due = started + Duration::from_millis(40 * n as u64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    })
}
