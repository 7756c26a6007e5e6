//! The RTMP skimmer: follows the chunk stream, keeps control and command messages whole.

use joy4::rtmp::chunk::{self, Header, HeaderEffect, HeaderState};

use super::{be32, is_media_type, Event, SkimError, HEAD_LEN};

const MAX_HEADER_LEN: usize = 18;
/// Non-media messages larger than this are skipped rather than kept (commands are a few hundred
/// bytes).
const MAX_CONTROL_LEN: usize = 64 * 1024;
const MAX_CHUNK_STREAMS: usize = 64;

/// What the skimmer keeps of a chunk stream's message in progress.
#[derive(Debug, Default)]
struct Skim {
    /// Payload bytes of the current message received so far.
    received: usize,
    head: [u8; HEAD_LEN],
    /// Payload of a non-media message (empty for media).
    payload: Vec<u8>,
}

type ChunkStream = chunk::ChunkStream<Skim>;

/// Follows an RTMP chunk stream (after the handshake) without keeping media payloads.
#[derive(Debug)]
pub struct RtmpSkimmer {
    chunk_size: usize,
    streams: Vec<ChunkStream>,
    /// Bytes of a chunk header split across reads.
    partial: [u8; MAX_HEADER_LEN],
    partial_len: usize,
    /// Stream index and payload bytes left in the chunk being read.
    current: Option<(usize, usize)>,
}

impl Default for RtmpSkimmer {
    fn default() -> Self {
        Self::new()
    }
}

impl RtmpSkimmer {
    pub fn new() -> RtmpSkimmer {
        RtmpSkimmer {
            chunk_size: 128,
            streams: Vec::new(),
            partial: [0; MAX_HEADER_LEN],
            partial_len: 0,
            current: None,
        }
    }

    /// Consume `data`, calling `on_event` for each message completed in it.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SkimError> {
        loop {
            if let Some((index, left)) = self.current {
                let n = left.min(data.len());
                let st = &mut self.streams[index];
                if st.data.received < HEAD_LEN {
                    let k = (HEAD_LEN - st.data.received).min(n);
                    st.data.head[st.data.received..st.data.received + k]
                        .copy_from_slice(&data[..k]);
                }
                if !is_media_type(st.type_id) && st.length <= MAX_CONTROL_LEN {
                    st.data.payload.extend_from_slice(&data[..n]);
                }
                st.data.received += n;
                data = &data[n..];
                if n < left {
                    self.current = Some((index, left - n));
                    return Ok(());
                }
                self.current = None;
                if st.data.received == st.length {
                    st.in_progress = false;
                    self.complete(index, on_event)?;
                }
                continue;
            }
            if data.is_empty() {
                return Ok(());
            }
            // A chunk header, possibly continuing bytes stashed from the previous read.
            let header = if self.partial_len > 0 {
                let mut joined = [0u8; MAX_HEADER_LEN];
                let old = self.partial_len;
                joined[..old].copy_from_slice(&self.partial[..old]);
                let take = (MAX_HEADER_LEN - old).min(data.len());
                joined[old..old + take].copy_from_slice(&data[..take]);
                match self.parse_header(&joined[..old + take])? {
                    Some(h) => {
                        data = &data[h.len - old..];
                        self.partial_len = 0;
                        h
                    }
                    None => {
                        self.partial[old..old + take].copy_from_slice(&data[..take]);
                        self.partial_len += take;
                        return Ok(());
                    }
                }
            } else {
                match self.parse_header(data)? {
                    Some(h) => {
                        data = &data[h.len..];
                        h
                    }
                    None => {
                        self.partial[..data.len()].copy_from_slice(data);
                        self.partial_len = data.len();
                        return Ok(());
                    }
                }
            };
            self.apply_header(header)?;
        }
    }

    fn complete(
        &mut self,
        index: usize,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SkimError> {
        let st = &mut self.streams[index];
        if is_media_type(st.type_id) {
            let n = st.length.min(HEAD_LEN);
            on_event(Event::Media {
                type_id: st.type_id,
                timestamp: st.timestamp,
                len: st.length,
                head: &st.data.head[..n],
            });
            return Ok(());
        }
        let payload = std::mem::take(&mut st.data.payload);
        if st.length > MAX_CONTROL_LEN {
            return Ok(());
        }
        let (type_id, stream_id, timestamp) = (st.type_id, st.stream_id, st.timestamp);
        match type_id {
            1 if payload.len() >= 4 => {
                let size = be32(&payload) & 0x7FFF_FFFF;
                if size == 0 {
                    return Err(SkimError::Rtmp("Set Chunk Size 0".into()));
                }
                self.chunk_size = size as usize;
            }
            2 if payload.len() >= 4 => {
                let csid = be32(&payload);
                if let Some(s) = self.streams.iter_mut().find(|s| s.csid == csid) {
                    if s.in_progress {
                        s.in_progress = false;
                        s.data.received = 0;
                        s.data.payload.clear();
                    }
                }
            }
            1 | 2 => return Err(SkimError::Rtmp(format!("short control message {type_id}"))),
            _ => {}
        }
        on_event(Event::Control {
            type_id,
            stream_id,
            timestamp,
            payload: &payload,
        });
        // Keep the allocation for the next control message on this chunk stream.
        let st = &mut self.streams[index];
        if st.data.payload.is_empty() {
            st.data.payload = payload;
            st.data.payload.clear();
        }
        Ok(())
    }

    /// The chunk header at the start of `input`, `None` if incomplete (`rtmp::chunk`'s parser).
    fn parse_header(&self, input: &[u8]) -> Result<Option<Header>, SkimError> {
        chunk::parse_header(input, &self.streams).map_err(|e| SkimError::Rtmp(e.to_string()))
    }

    fn apply_header(&mut self, h: Header) -> Result<(), SkimError> {
        let index = match h.index {
            Some(i) => i,
            None => {
                if self.streams.len() >= MAX_CHUNK_STREAMS {
                    return Err(SkimError::Rtmp("too many chunk streams".into()));
                }
                self.streams.push(ChunkStream {
                    header: HeaderState::new(h.csid),
                    ..ChunkStream::default()
                });
                self.streams.len() - 1
            }
        };
        let st = &mut self.streams[index];
        if let HeaderEffect::Starts { .. } = st.header.apply(&h) {
            st.data.received = 0;
            st.data.payload.clear();
        }
        let left = st.length - st.data.received;
        self.current = Some((index, left.min(self.chunk_size)));
        Ok(())
    }
}
