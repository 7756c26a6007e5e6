//! What the bench publishes: a synthetic H.264/AAC-like stream of a given bitrate and GOP (valid
//! sequence headers, NALU-shaped frames that need not decode), or an FLV file looped without end.
//! Either way a [`Source`] yields messages with timestamps to send them at, in real time.

use std::sync::Arc;

use joy4::amf0::{self, Amf0Value};
use joy4::flv::FlvReader;
use joy4::media::codec;

/// One message to publish: an FLV tag body (= RTMP message payload) and its timestamp in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    /// 8 audio, 9 video, 18 data.
    pub type_id: u8,
    pub timestamp: u32,
    pub body: Arc<[u8]>,
}

/// Parameters of the synthetic stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synthetic {
    /// Total bitrate of the media payloads, kbit/s.
    pub kbps: u32,
    /// Keyframe interval, seconds.
    pub gop_s: f64,
    pub fps: u32,
}

const AAC_RATE: u64 = 44_100;
const AAC_FRAME: u64 = 1024;
/// A keyframe is this many times the size of an inter frame.
const KEY_WEIGHT: usize = 8;

/// An endless sequence of messages: headers first (timestamp 0), then media.
#[derive(Debug)]
pub struct Source {
    headers: std::vec::IntoIter<Msg>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Synthetic {
        key: Arc<[u8]>,
        inter: Arc<[u8]>,
        audio: Arc<[u8]>,
        fps: u32,
        gop_frames: u64,
        video_index: u64,
        audio_index: u64,
    },
    File {
        media: Vec<Msg>,
        loop_ms: u32,
        pos: usize,
        round: u32,
    },
}

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

    /// Load an FLV file: metadata and sequence headers (their first occurrence) become the headers,
    /// the other audio/video tags are looped, each round shifted by the length of the file.
    pub fn from_flv(bytes: &[u8]) -> Result<Source, String> {
        let mut reader = FlvReader::new();
        reader.feed(bytes);
        let mut headers: Vec<Msg> = Vec::new();
        let mut media: Vec<Msg> = Vec::new();
        let mut seen = [false; 3];
        while let Some(tag) = reader.next_tag().map_err(|e| e.to_string())? {
            let type_id = tag.tag_type & 0x1F;
            let is_header = match type_id {
                18 => true,
                9 => codec::video_is_sequence_header(&tag.body),
                8 => codec::audio_is_sequence_header(&tag.body),
                _ => continue,
            };
            let msg = Msg {
                type_id,
                timestamp: tag.timestamp,
                body: tag.body.into(),
            };
            if is_header {
                let slot = match type_id {
                    18 => 0,
                    9 => 1,
                    _ => 2,
                };
                if !seen[slot] {
                    seen[slot] = true;
                    headers.push(Msg {
                        timestamp: 0,
                        ..msg
                    });
                }
            } else {
                media.push(msg);
            }
        }
        if media.is_empty() {
            return Err("no audio or video tags".into());
        }
        // Timestamps from 0; the file may start anywhere and interleave slightly out of order.
        let first = media.iter().map(|m| m.timestamp).min().unwrap_or(0);
        for m in &mut media {
            m.timestamp -= first;
        }
        let last = media.iter().map(|m| m.timestamp).max().unwrap_or(0);
        let video: Vec<u32> = media
            .iter()
            .filter(|m| m.type_id == 9)
            .map(|m| m.timestamp)
            .collect();
        // A round lasts up to one frame interval past the last video frame (the last tag when there
        // is no video), and always past the last tag, so that rounds never overlap.
        let (base, step) = if video.len() > 1 {
            let last_video = video[video.len() - 1];
            (
                last_video,
                (last_video - video[0]) / (video.len() as u32 - 1),
            )
        } else {
            (last, 40)
        };
        Ok(Source {
            headers: headers.into_iter(),
            kind: Kind::File {
                media,
                loop_ms: (base + step.max(1)).max(last + 1),
                pos: 0,
                round: 0,
            },
        })
    }

    /// The next message to send.
    pub fn next_msg(&mut self) -> Msg {
        if let Some(h) = self.headers.next() {
            return h;
        }
        match &mut self.kind {
            Kind::Synthetic {
                key,
                inter,
                audio,
                fps,
                gop_frames,
                video_index,
                audio_index,
            } => {
                let vts = *video_index * 1000 / u64::from(*fps);
                let ats = *audio_index * AAC_FRAME * 1000 / AAC_RATE;
                if vts <= ats {
                    let body = if *video_index % *gop_frames == 0 {
                        key.clone()
                    } else {
                        inter.clone()
                    };
                    *video_index += 1;
                    Msg {
                        type_id: 9,
                        timestamp: vts as u32,
                        body,
                    }
                } else {
                    *audio_index += 1;
                    Msg {
                        type_id: 8,
                        timestamp: ats as u32,
                        body: audio.clone(),
                    }
                }
            }
            Kind::File {
                media,
                loop_ms,
                pos,
                round,
            } => {
                let m = &media[*pos];
                let msg = Msg {
                    timestamp: m.timestamp.wrapping_add(round.wrapping_mul(*loop_ms)),
                    ..m.clone()
                };
                *pos += 1;
                if *pos == media.len() {
                    *pos = 0;
                    *round += 1;
                }
                msg
            }
        }
    }
}

fn metadata(kbps: u32, video_kbps: u32, audio_kbps: u32, fps: u32) -> Vec<u8> {
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

/// Baseline-profile SPS for 640x360 (40x23 macroblocks, 8 rows cropped), written field by field.
pub fn h264_sps() -> Vec<u8> {
    let mut w = BitWriter::default();
    w.bits(66, 8); // profile_idc: Baseline
    w.bits(0xC0, 8); // constraint_set0/1
    w.bits(30, 8); // level_idc 3.0
    w.ue(0); // seq_parameter_set_id
    w.ue(0); // log2_max_frame_num_minus4
    w.ue(2); // pic_order_cnt_type
    w.ue(1); // max_num_ref_frames
    w.bits(0, 1); // gaps_in_frame_num_value_allowed_flag
    w.ue(39); // pic_width_in_mbs_minus1 -> 640
    w.ue(22); // pic_height_in_map_units_minus1 -> 368
    w.bits(1, 1); // frame_mbs_only_flag
    w.bits(1, 1); // direct_8x8_inference_flag
    w.bits(1, 1); // frame_cropping_flag
    w.ue(0);
    w.ue(0);
    w.ue(0);
    w.ue(4); // bottom: 4 crop units of 2 rows -> 360
    w.bits(0, 1); // vui_parameters_present_flag
    let mut nal = vec![0x67];
    nal.extend(w.finish());
    nal
}

/// PPS: ids 0, CAVLC, one slice group, defaults, deblocking control present.
pub fn h264_pps() -> Vec<u8> {
    let mut w = BitWriter::default();
    w.ue(0); // pic_parameter_set_id
    w.ue(0); // seq_parameter_set_id
    w.bits(0, 1); // entropy_coding_mode_flag
    w.bits(0, 1); // bottom_field_pic_order_in_frame_present_flag
    w.ue(0); // num_slice_groups_minus1
    w.ue(0); // num_ref_idx_l0_default_active_minus1
    w.ue(0); // num_ref_idx_l1_default_active_minus1
    w.bits(0, 1); // weighted_pred_flag
    w.bits(0, 2); // weighted_bipred_idc
    w.se(0); // pic_init_qp_minus26
    w.se(0); // pic_init_qs_minus26
    w.se(0); // chroma_qp_index_offset
    w.bits(1, 1); // deblocking_filter_control_present_flag
    w.bits(0, 1); // constrained_intra_pred_flag
    w.bits(0, 1); // redundant_pic_cnt_present_flag
    let mut nal = vec![0x68];
    nal.extend(w.finish());
    nal
}

/// Video tag body of the AVC sequence header (AVCDecoderConfigurationRecord).
pub fn avc_sequence_header() -> Vec<u8> {
    let sps = h264_sps();
    let pps = h264_pps();
    let mut body = vec![0x17, 0x00, 0, 0, 0];
    body.extend_from_slice(&[1, sps[1], sps[2], sps[3], 0xFF, 0xE1]);
    body.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    body.extend_from_slice(&sps);
    body.push(1);
    body.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    body.extend_from_slice(&pps);
    body
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn bits(&mut self, value: u64, count: u32) {
        for i in (0..count).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// Unsigned Exp-Golomb.
    fn ue(&mut self, value: u64) {
        let v = value + 1;
        let len = 64 - v.leading_zeros();
        self.bits(0, len - 1);
        self.bits(v, len);
    }

    /// Signed Exp-Golomb.
    fn se(&mut self, value: i64) {
        let mapped = if value > 0 {
            (2 * value - 1) as u64
        } else {
            (-2 * value) as u64
        };
        self.ue(mapped);
    }

    /// RBSP trailing bits: a stop bit, then zeros to the byte boundary.
    fn finish(mut self) -> Vec<u8> {
        self.bits(1, 1);
        while self.n != 0 {
            self.bits(0, 1);
        }
        self.out
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_sequence_header_describes_640x360() {
        let body = avc_sequence_header();
        assert!(codec::video_is_sequence_header(&body));
        let size = codec::video_size_from_sequence_header(&body)
            .unwrap()
            .unwrap();
        assert_eq!((size.width, size.height), (640, 360));
        assert_eq!(h264_pps(), vec![0x68, 0xCE, 0x3C, 0x80]);
        // No start-code emulation inside the parameter sets.
        let sps = h264_sps();
        assert!(!sps.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 3));
    }

    #[test]
    fn the_synthetic_stream_has_the_asked_bitrate_gop_and_timing() {
        let mut src = Source::synthetic(Synthetic {
            kbps: 1000,
            gop_s: 2.0,
            fps: 25,
        });
        let headers: Vec<Msg> = (0..3).map(|_| src.next_msg()).collect();
        assert_eq!(
            headers.iter().map(|m| m.type_id).collect::<Vec<_>>(),
            vec![18, 9, 8]
        );
        assert!(codec::audio_is_sequence_header(&headers[2].body));
        let mut bytes = 0usize;
        let mut keys = Vec::new();
        let mut last_ts = [0u32; 2];
        loop {
            let m = src.next_msg();
            if m.timestamp >= 10_000 {
                break;
            }
            let k = usize::from(m.type_id == 9);
            assert!(
                m.timestamp >= last_ts[k],
                "per-track timestamps never go back"
            );
            last_ts[k] = m.timestamp;
            bytes += m.body.len();
            if m.type_id == 9 && codec::video_is_keyframe(&m.body) {
                keys.push(m.timestamp);
            }
        }
        assert_eq!(keys, vec![0, 2000, 4000, 6000, 8000]);
        let kbps = bytes as f64 * 8.0 / 10.0 / 1000.0;
        assert!((950.0..=1050.0).contains(&kbps), "{kbps} kbit/s");
    }

    #[test]
    fn a_looped_file_keeps_timestamps_rising_and_headers_first() {
        let mut file = joy4::flv::file_header(true, true).to_vec();
        joy4::flv::write_tag(18, 0, &metadata(1, 1, 1, 25), &mut file);
        joy4::flv::write_tag(9, 0, &avc_sequence_header(), &mut file);
        joy4::flv::write_tag(8, 0, &[0xAF, 0, 0x12, 0x10], &mut file);
        for i in 0..5u32 {
            joy4::flv::write_tag(9, 1000 + i * 40, &[0x27, 1, 0, 0, 0, 9], &mut file);
            joy4::flv::write_tag(8, 1000 + i * 40 + 5, &[0xAF, 1, 7], &mut file);
        }
        let mut src = Source::from_flv(&file).unwrap();
        let types: Vec<u8> = (0..3).map(|_| src.next_msg().type_id).collect();
        assert_eq!(types, vec![18, 9, 8]);
        let ts: Vec<u32> = (0..12).map(|_| src.next_msg().timestamp).collect();
        // One round spans 160 ms + one 40 ms frame interval.
        assert_eq!(ts, vec![0, 5, 40, 45, 80, 85, 120, 125, 160, 165, 200, 205]);
        assert!(Source::from_flv(&joy4::flv::file_header(true, true)).is_err());
    }
}
