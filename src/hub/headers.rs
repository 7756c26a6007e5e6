//! What a channel (and a publisher) keeps besides frames: the latest onMetaData and sequence
//! headers, sent first to every joiner, and the codec facts learnt from them.

use crate::media::codec;
use crate::media::{Packet, PacketKind};

/// Sequence headers of one kind, by track: `None` for a stream's only track (or a packet that
/// starts every track at once), `Some(id)` for a multitrack stream that starts each track in a
/// message of its own. A track id is a byte, so there are at most 257 slots.
type TrackSlots = Vec<(Option<u8>, Option<Packet>)>;

/// The latest onMetaData and sequence headers, kept outside the buffer and sent first to joiners.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    pub metadata: Option<Packet>,
    video: TrackSlots,
    audio: TrackSlots,
}

/// Where a header packet is kept, and whether it is the first slot of its kind (the one whose
/// codec facts a stream's stats show).
pub(crate) struct Slot<'a> {
    pub(crate) packet: &'a mut Option<Packet>,
    pub(crate) first_of_kind: bool,
}

fn track_slot(slots: &mut TrackSlots, track: Option<u8>) -> Slot<'_> {
    let index = match slots.iter().position(|(t, _)| *t == track) {
        Some(i) => i,
        None => {
            slots.push((track, None));
            slots.len() - 1
        }
    };
    Slot {
        first_of_kind: index == 0,
        packet: &mut slots[index].1,
    }
}

impl Headers {
    /// Whether `packet` is a header (onMetaData or a sequence header) the channel keeps.
    pub fn is_header(packet: &Packet) -> bool {
        match packet.kind {
            PacketKind::Data => is_metadata(&packet.body),
            PacketKind::Video | PacketKind::Audio => packet.is_sequence_header(),
        }
    }

    /// The slot `packet` belongs in, if it is a header.
    pub(crate) fn slot_for(&mut self, packet: &Packet) -> Option<Slot<'_>> {
        if !Self::is_header(packet) {
            return None;
        }
        let video = packet.kind == PacketKind::Video;
        Some(match packet.kind {
            PacketKind::Data => Slot {
                packet: &mut self.metadata,
                first_of_kind: true,
            },
            PacketKind::Video => {
                track_slot(&mut self.video, codec::header_track(video, &packet.body))
            }
            PacketKind::Audio => {
                track_slot(&mut self.audio, codec::header_track(video, &packet.body))
            }
        })
    }

    /// Remember a header packet; returns whether it was a header at all.
    pub fn observe(&mut self, packet: &Packet) -> bool {
        match self.slot_for(packet) {
            Some(slot) => {
                *slot.packet = Some(packet.clone());
                true
            }
            None => false,
        }
    }

    /// Whether a video sequence header is kept (the stream has video).
    pub fn has_video(&self) -> bool {
        self.video.iter().any(|(_, p)| p.is_some())
    }

    /// onMetaData, then the video and the audio sequence headers, in the order joiners get them.
    pub fn iter(&self) -> impl Iterator<Item = &Packet> {
        let tracks = self.video.iter().chain(&self.audio);
        self.metadata
            .iter()
            .chain(tracks.filter_map(|(_, p)| p.as_ref()))
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

    #[test]
    fn each_multitrack_track_keeps_its_own_sequence_header() {
        let mut h = Headers::default();
        // Enhanced RTMP: multitrack (6), one track (0) + SequenceStart (0), FourCC, track id.
        let start = |track: u8, fourcc: &[u8; 4]| {
            let body = [&[0x96, 0x00][..], fourcc, &[track, 1, 2, 3]].concat();
            Packet::new(PacketKind::Video, 0, body)
        };
        assert!(h.observe(&start(0, b"hvc1")));
        assert!(h.observe(&start(1, b"av01")));
        assert!(h.observe(&start(0, b"hvc1")));
        assert_eq!(
            h.iter().count(),
            2,
            "one header per track, the latest of each"
        );
        assert!(h.has_video());
        assert!(h.slot_for(&start(0, b"hvc1")).unwrap().first_of_kind);
        assert!(!h.slot_for(&start(1, b"av01")).unwrap().first_of_kind);
    }
}
