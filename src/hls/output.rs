//! One channel's HLS output in the server's variant: the MPEG-TS segmenter, or the CMAF one
//! (with parts for Low-Latency HLS). What a muxer holds and a request reads.

use super::cmaf::{CmafSegmenter, CmafSettings};
use super::segmenter::{Segmenter, SegmenterSettings};
use super::HlsVariant;
use crate::media::Packet;

#[derive(Debug)]
pub enum HlsOutput {
    Ts(Segmenter),
    Cmaf(CmafSegmenter),
}

/// What a push failed on: a codec this variant has no container for (its description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl HlsOutput {
    pub fn new(settings: SegmenterSettings) -> HlsOutput {
        let cmaf = |part_ms| {
            HlsOutput::Cmaf(CmafSegmenter::new(CmafSettings {
                fragment_ms: settings.fragment_ms,
                window: settings.window,
                part_ms,
            }))
        };
        match settings.variant {
            HlsVariant::Mpegts => HlsOutput::Ts(Segmenter::new(settings)),
            HlsVariant::Fmp4 => cmaf(None),
            HlsVariant::LowLatency => cmaf(Some(settings.part_ms.max(1))),
        }
    }

    /// Take one packet; returns whether anything a request may wait for appeared (a segment,
    /// or a part).
    pub fn push(
        &mut self,
        packet: &Packet,
        starts_source: bool,
        received_ms: u64,
    ) -> Result<bool, Unsupported> {
        match self {
            HlsOutput::Ts(s) => match s.push(packet, starts_source, received_ms) {
                Ok(done) => Ok(done),
                Err(crate::media::ts::TsError::Unsupported(what)) => Err(Unsupported(what)),
                Err(_) => Ok(false),
            },
            HlsOutput::Cmaf(s) => match s.push(packet, starts_source, received_ms) {
                Ok(progress) => Ok(progress.parts + progress.segments > 0),
                Err(crate::media::mp4::Mp4Error::Unsupported(what)) => Err(Unsupported(what)),
                Err(_) => Ok(false),
            },
        }
    }

    pub fn end(&mut self) {
        match self {
            HlsOutput::Ts(s) => s.end(),
            HlsOutput::Cmaf(s) => s.end(),
        }
    }

    pub fn is_ended(&self) -> bool {
        match self {
            HlsOutput::Ts(s) => s.is_ended(),
            HlsOutput::Cmaf(s) => s.is_ended(),
        }
    }

    /// The window holds a complete segment.
    pub fn has_segment(&self) -> bool {
        match self {
            HlsOutput::Ts(s) => !s.segments().is_empty(),
            HlsOutput::Cmaf(s) => !s.segments().is_empty(),
        }
    }

    pub fn target_duration_secs(&self) -> u32 {
        match self {
            HlsOutput::Ts(s) => s.target_duration_secs(),
            HlsOutput::Cmaf(s) => s.target_duration_secs(),
        }
    }

    /// The RFC 6381 codec strings, once known.
    pub fn codecs(&self) -> String {
        match self {
            HlsOutput::Ts(s) => s.codecs(),
            HlsOutput::Cmaf(s) => s.codecs(),
        }
    }

    pub fn held_bytes(&self) -> usize {
        match self {
            HlsOutput::Ts(s) => s.held_bytes(),
            HlsOutput::Cmaf(s) => s.held_bytes(),
        }
    }

    pub fn ts(&self) -> Option<&Segmenter> {
        match self {
            HlsOutput::Ts(s) => Some(s),
            HlsOutput::Cmaf(_) => None,
        }
    }

    pub fn cmaf(&self) -> Option<&CmafSegmenter> {
        match self {
            HlsOutput::Ts(_) => None,
            HlsOutput::Cmaf(s) => Some(s),
        }
    }
}
