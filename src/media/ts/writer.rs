//! The muxer: FLV tag bodies of one channel in, TS packets out, with the tables written again
//! whenever the streams change.

use super::adts::AdtsConfig;
use super::annexb::AvcConfig;
use super::pes::{pes_header, write_pes, FirstPacket, STREAM_ID_AUDIO, STREAM_ID_VIDEO};
use super::psi::PmtStream;
use super::*;
use crate::media::codec::{audio_codec, video_codec, AudioCodec, VideoCodec};
use crate::media::{Packet, PacketKind};

const FLV_AVC: u8 = 7;
const AVC_SEQUENCE_HEADER: u8 = 0;
const AVC_NALU: u8 = 1;
const AAC_SEQUENCE_HEADER: u8 = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AudioTrack {
    Aac(AdtsConfig),
    Mp3,
}

/// The muxer state of one TS stream: codec configurations and continuity counters.
#[derive(Debug, Default)]
pub struct TsWriter {
    video: Option<AvcConfig>,
    audio: Option<AudioTrack>,
    /// What the last PAT/PMT listed; the tables are written again when the streams change.
    listed: Option<Vec<PmtStream>>,
    pmt_version: u8,
    table_cc: [u8; 2],
    video_cc: u8,
    audio_cc: u8,
}

impl TsWriter {
    pub fn new() -> TsWriter {
        TsWriter::default()
    }

    /// Whether an H.264 configuration has been seen (segments are then cut at keyframes).
    pub fn has_video(&self) -> bool {
        self.video.is_some()
    }

    /// The RFC 6381 codec strings of the known tracks (`avc1.64001f,mp4a.40.2`).
    pub fn codecs(&self) -> String {
        let mut codecs = Vec::new();
        if let Some(v) = &self.video {
            codecs.push(v.codec_string());
        }
        match self.audio {
            Some(AudioTrack::Aac(c)) => codecs.push(format!("mp4a.40.{}", c.object_type)),
            Some(AudioTrack::Mp3) => codecs.push("mp4a.40.34".to_string()),
            None => {}
        }
        codecs.join(",")
    }

    fn streams(&self) -> Vec<PmtStream> {
        let mut streams = Vec::new();
        if self.video.is_some() {
            streams.push(PmtStream {
                stream_type: STREAM_TYPE_H264,
                pid: VIDEO_PID,
            });
        }
        if let Some(audio) = self.audio {
            let stream_type = match audio {
                AudioTrack::Aac(_) => STREAM_TYPE_AAC,
                AudioTrack::Mp3 => STREAM_TYPE_MPEG_AUDIO,
            };
            streams.push(PmtStream {
                stream_type,
                pid: AUDIO_PID,
            });
        }
        streams
    }

    fn pcr_pid(&self) -> u16 {
        if self.video.is_some() || self.audio.is_none() {
            VIDEO_PID
        } else {
            AUDIO_PID
        }
    }

    /// PAT and PMT, as every segment starts.
    pub fn write_tables(&mut self, out: &mut Vec<u8>) {
        let streams = self.streams();
        if self.listed.as_ref().is_some_and(|l| *l != streams) {
            self.pmt_version = (self.pmt_version + 1) & 0x1F;
        }
        let pcr_pid = self.pcr_pid();
        psi::write_tables(&mut self.table_cc, self.pmt_version, pcr_pid, &streams, out);
        self.listed = Some(streams);
    }

    /// Tables again if a track appeared since they were written last.
    fn refresh_tables(&mut self, out: &mut Vec<u8>) {
        if self.listed.as_ref() != Some(&self.streams()) {
            self.write_tables(out);
        }
    }

    /// Write one packet. Sequence headers update the configuration and write nothing; data
    /// (onMetaData) is ignored.
    pub fn write(&mut self, packet: &Packet, out: &mut Vec<u8>) -> Result<(), TsError> {
        match packet.kind {
            PacketKind::Video => self.write_video(packet, out),
            PacketKind::Audio => self.write_audio(packet, out),
            PacketKind::Data => Ok(()),
        }
    }

    fn write_video(&mut self, packet: &Packet, out: &mut Vec<u8>) -> Result<(), TsError> {
        let body = &packet.body[..];
        let b0 = *body.first().ok_or(TsError::Malformed("empty video body"))?;
        if b0 & 0x80 != 0 || b0 & 0x0F != FLV_AVC {
            let name = video_codec(body).map_or("unknown", VideoCodec::name);
            return Err(TsError::Unsupported(format!("video {name}")));
        }
        let header = body
            .get(..5)
            .ok_or(TsError::Malformed("AVC video header is truncated"))?;
        match header[1] {
            AVC_SEQUENCE_HEADER => {
                self.video = Some(AvcConfig::parse(&body[5..])?);
                return Ok(());
            }
            AVC_NALU => {}
            _ => return Ok(()), // end of sequence
        }
        let config = self
            .video
            .as_ref()
            .ok_or(TsError::NoConfig("H.264 frame"))?;
        // Composition time: signed 24 bits, milliseconds.
        let cts = (i32::from_be_bytes([0, header[2], header[3], header[4]]) << 8) >> 8;
        let keyframe = packet.is_keyframe();
        let access_unit = annexb::to_annex_b(&body[5..], config, keyframe)?;
        self.refresh_tables(out);
        let dts = u64::from(packet.timestamp) * 90 + TIMESTAMP_OFFSET;
        let pts = dts.saturating_add_signed(i64::from(cts) * 90);
        let header = pes_header(STREAM_ID_VIDEO, pts, Some(dts), access_unit.len());
        let first = FirstPacket {
            pcr: Some(dts - PCR_DELAY),
            random_access: keyframe,
        };
        write_pes(
            VIDEO_PID,
            &mut self.video_cc,
            first,
            &[&header, &access_unit],
            out,
        );
        Ok(())
    }

    fn write_audio(&mut self, packet: &Packet, out: &mut Vec<u8>) -> Result<(), TsError> {
        let body = &packet.body[..];
        let codec = audio_codec(body).ok_or(TsError::Malformed("empty audio body"))?;
        let adts_header;
        let payload = match codec {
            AudioCodec::Aac if body[0] >> 4 == 10 => {
                let packet_type = *body
                    .get(1)
                    .ok_or(TsError::Malformed("AAC header is truncated"))?;
                if packet_type == AAC_SEQUENCE_HEADER {
                    let config = AdtsConfig::from_audio_specific_config(&body[2..])?;
                    self.audio = Some(AudioTrack::Aac(config));
                    return Ok(());
                }
                let Some(AudioTrack::Aac(config)) = self.audio else {
                    return Err(TsError::NoConfig("AAC frame"));
                };
                adts_header = config.header(body.len() - 2)?;
                vec![&adts_header[..], &body[2..]]
            }
            AudioCodec::Mp3 | AudioCodec::Mp3_8k if body[0] >> 4 != 9 => {
                if self.audio.is_none() {
                    self.audio = Some(AudioTrack::Mp3);
                }
                vec![&body[1..]]
            }
            other => return Err(TsError::Unsupported(format!("audio {}", other.name()))),
        };
        self.refresh_tables(out);
        let payload_len = payload.iter().map(|p| p.len()).sum();
        let pts = u64::from(packet.timestamp) * 90 + TIMESTAMP_OFFSET;
        let header = pes_header(STREAM_ID_AUDIO, pts, None, payload_len);
        let first = FirstPacket {
            pcr: (self.pcr_pid() == AUDIO_PID).then(|| pts - PCR_DELAY),
            random_access: self.video.is_none(),
        };
        let mut pieces: Vec<&[u8]> = vec![&header];
        pieces.extend(payload);
        write_pes(AUDIO_PID, &mut self.audio_cc, first, &pieces, out);
        Ok(())
    }
}
