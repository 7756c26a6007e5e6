//! What a channel (and a publisher) keeps besides frames: the latest onMetaData and sequence
//! headers, sent first to every joiner, and the codec facts learnt from them.

use crate::media::codec;
use crate::media::{Packet, PacketKind};

/// The latest onMetaData and sequence headers, kept outside the buffer and sent first to joiners.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    pub metadata: Option<Packet>,
    pub video: Option<Packet>,
    pub audio: Option<Packet>,
}

impl Headers {
    pub(crate) fn slot_for(&mut self, packet: &Packet) -> Option<&mut Option<Packet>> {
        match packet.kind {
            PacketKind::Data if is_metadata(&packet.body) => Some(&mut self.metadata),
            PacketKind::Video if packet.is_sequence_header() => Some(&mut self.video),
            PacketKind::Audio if packet.is_sequence_header() => Some(&mut self.audio),
            _ => None,
        }
    }

    /// Remember a header packet; returns whether it was a header at all.
    pub fn observe(&mut self, packet: &Packet) -> bool {
        match self.slot_for(packet) {
            Some(slot) => {
                *slot = Some(packet.clone());
                true
            }
            None => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Packet> {
        [&self.metadata, &self.video, &self.audio]
            .into_iter()
            .filter_map(|p| p.as_ref())
    }
}

/// Whether an AMF0 data body is `onMetaData` (string marker, length 10, the name).
pub fn is_metadata(body: &[u8]) -> bool {
    body.starts_with(b"\x02\x00\x0aonMetaData")
}

/// Codec facts of a stream or channel, learnt from its sequence headers and onMetaData.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaInfo {
    pub video_codec: Option<&'static str>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub audio_codec: Option<&'static str>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
}

impl MediaInfo {
    /// Learn codec facts from a packet (sequence headers give the exact size and audio parameters).
    pub fn observe(&mut self, packet: &Packet) {
        match packet.kind {
            PacketKind::Video => {
                if let Some(c) = codec::video_codec(&packet.body) {
                    self.video_codec = Some(c.name());
                }
                if codec::video_is_sequence_header(&packet.body) {
                    if let Ok(Some(size)) = codec::video_size_from_sequence_header(&packet.body) {
                        self.width = Some(size.width);
                        self.height = Some(size.height);
                    }
                }
            }
            PacketKind::Audio => {
                if let Some(c) = codec::audio_codec(&packet.body) {
                    self.audio_codec = Some(c.name());
                }
                if let Some(p) = codec::audio_params(&packet.body) {
                    self.sample_rate = Some(p.sample_rate);
                    self.channels = Some(p.channels);
                }
            }
            PacketKind::Data => {
                // onMetaData fills what sequence headers cannot (e.g. Sorenson H.263 sizes).
                if let Ok(values) = crate::amf0::decode_all(&packet.body) {
                    if let Some(meta) = values.iter().find(|v| v.get("width").is_some()) {
                        let num = |k| meta.get(k).and_then(|v| v.as_number());
                        if self.width.is_none() {
                            self.width = num("width").map(|w| w as u32);
                        }
                        if self.height.is_none() {
                            self.height = num("height").map(|h| h as u32);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_keep_the_latest_of_each_kind_and_ignore_media() {
        let mut h = Headers::default();
        let avc = Packet::new(PacketKind::Video, 0, vec![0x17, 0, 0, 0, 0, 1]);
        let aac = Packet::new(PacketKind::Audio, 0, vec![0xAF, 0, 0x12, 0x10]);
        let meta = Packet::new(PacketKind::Data, 0, b"\x02\x00\x0aonMetaData\x05".to_vec());
        let frame = Packet::new(PacketKind::Video, 40, vec![0x27, 1, 0, 0, 0]);
        assert!(h.observe(&avc) && h.observe(&aac) && h.observe(&meta));
        assert!(!h.observe(&frame));
        assert_eq!(h.iter().count(), 3);
        assert_eq!(h.iter().next().map(|p| p.kind), Some(PacketKind::Data));
    }
}
