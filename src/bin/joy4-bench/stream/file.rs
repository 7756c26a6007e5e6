//! An FLV file as a source, looped without end.

use joy4::flv::FlvReader;
use joy4::media::codec;

use super::{Kind, Msg, Source};

impl Source {
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
}
