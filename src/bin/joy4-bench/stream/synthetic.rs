//! The synthetic stream: an H.264/AAC-like stream of a given bitrate, GOP and frame rate.

use joy4::amf0::{self, Amf0Value};

use super::h264::avc_sequence_header;
use super::{Kind, Msg, Source, Synthetic, AAC_FRAME, AAC_RATE};

/// A keyframe is this many times the size of an inter frame.
const KEY_WEIGHT: usize = 8;

impl Source {
    pub fn synthetic(p: Synthetic) -> Source {
        let fps = p.fps.clamp(1, 240);
        let audio_kbps = 64.min(p.kbps / 4);
        let video_kbps = p.kbps.saturating_sub(audio_kbps).max(1);
        let gop_frames = ((p.gop_s * f64::from(fps)).round() as u64).max(1);
        let gop_bytes =
            (f64::from(video_kbps) * 1000.0 / 8.0 * gop_frames as f64 / f64::from(fps)) as usize;
        let weights = gop_frames as usize - 1 + KEY_WEIGHT;
        let inter_len = (gop_bytes / weights).max(16);
        let key_len = if gop_frames == 1 {
            gop_bytes.max(16)
        } else {
            inter_len * KEY_WEIGHT
        };
        let audio_len = ((u64::from(audio_kbps) * 1000 / 8 * AAC_FRAME / AAC_RATE) as usize).max(8);

        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let key = video_frame(true, key_len, &mut rng);
        let inter = video_frame(false, inter_len, &mut rng);
        let mut audio = vec![0xAF, 0x01];
        audio.extend((0..audio_len.saturating_sub(2)).map(|_| rng.byte()));

        let headers = vec![
            Msg {
                type_id: 18,
                timestamp: 0,
                body: metadata(p.kbps, video_kbps, audio_kbps, fps).into(),
            },
            Msg {
                type_id: 9,
                timestamp: 0,
                body: avc_sequence_header().into(),
            },
            Msg {
                type_id: 8,
                timestamp: 0,
                body: vec![0xAF, 0x00, 0x12, 0x10].into(),
            },
        ];
        Source {
            headers: headers.into_iter(),
            kind: Kind::Synthetic {
                key: key.into(),
                inter: inter.into(),
                audio: audio.into(),
                fps,
                gop_frames,
                video_index: 0,
                audio_index: 0,
            },
        }
    }
}

pub(super) fn metadata(kbps: u32, video_kbps: u32, audio_kbps: u32, fps: u32) -> Vec<u8> {
    let num = |x: u32| Amf0Value::Number(f64::from(x));
    amf0::encode_all(&[
        Amf0Value::string("@setDataFrame"),
        Amf0Value::string("onMetaData"),
        Amf0Value::EcmaArray(vec![
            ("width".into(), num(640)),
            ("height".into(), num(360)),
            ("framerate".into(), num(fps)),
            ("videocodecid".into(), num(7)),
            ("videodatarate".into(), num(video_kbps)),
            ("audiocodecid".into(), num(10)),
            ("audiodatarate".into(), num(audio_kbps)),
            ("audiosamplerate".into(), num(44_100)),
            ("stereo".into(), Amf0Value::Boolean(true)),
            ("encoder".into(), Amf0Value::string("joy4-bench synthetic")),
            ("totaldatarate".into(), num(kbps)),
        ]),
    ])
}

/// A video tag body: frame type + AVC NALU packet, one length-prefixed NAL unit of `len` bytes in all.
fn video_frame(key: bool, len: usize, rng: &mut XorShift) -> Vec<u8> {
    let mut body = Vec::with_capacity(len.max(10));
    body.push(if key { 0x17 } else { 0x27 });
    body.extend_from_slice(&[0x01, 0, 0, 0]); // AVC NALU, composition time 0
    let nal_len = len.saturating_sub(9).max(1);
    body.extend_from_slice(&(nal_len as u32).to_be_bytes());
    body.push(if key { 0x65 } else { 0x41 }); // IDR slice / non-IDR slice
    body.extend((1..nal_len).map(|_| rng.byte()));
    body
}

/// xorshift64: filler bytes that do not compress.
struct XorShift(u64);

impl XorShift {
    fn byte(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u8
    }
}
