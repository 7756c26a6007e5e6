//! What the bench publishes: a synthetic H.264/AAC-like stream of a given bitrate and GOP (valid
//! sequence headers, NALU-shaped frames that need not decode), or an FLV file looped without end.
//! Either way a [`Source`] yields messages with timestamps to send them at, in real time.

use std::sync::Arc;

mod file;
mod h264;
mod synthetic;

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

#[cfg(test)]
mod tests;
