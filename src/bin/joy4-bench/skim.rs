//! Lean readers for a subscriber's byte stream: they find message boundaries, timestamps and the
//! first bytes of each media message, and never copy or allocate for media payloads. That keeps the
//! bench's own CPU per subscriber far below the server's.
//!
//! * [`RtmpSkimmer`] follows the chunk stream (same header semantics as `rtmp::chunk::ChunkReader`,
//!   whose tests it is checked against) and hands back control and command messages whole, because
//!   the client must answer pings and acknowledge windows, and read the `play` replies.
//! * [`FlvSkimmer`] reads an HTTP response head, undoes chunked transfer encoding when present, and
//!   walks FLV tag headers.

use std::fmt;

use joy4::media::codec;
use joy4::rtmp::chunk::{self, Header, HeaderEffect, HeaderState};

/// Bytes of a media message's body kept to classify it (frame type, AVC packet type, ex-header).
pub const HEAD_LEN: usize = 5;

/// A complete message, as the skimmers see it.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// An audio (8), video (9), data (18) or aggregate (22) message: only its size and first bytes.
    Media {
        type_id: u8,
        timestamp: u32,
        len: usize,
        head: &'a [u8],
    },
    /// Any other RTMP message, with its payload (control, user control, commands).
    Control {
        type_id: u8,
        stream_id: u32,
        timestamp: u32,
        payload: &'a [u8],
    },
    /// HTTP response head parsed: the status code.
    HttpStatus(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkimError {
    Rtmp(String),
    Http(String),
    Flv(String),
}

impl fmt::Display for SkimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkimError::Rtmp(m) => write!(f, "RTMP stream: {m}"),
            SkimError::Http(m) => write!(f, "HTTP response: {m}"),
            SkimError::Flv(m) => write!(f, "FLV stream: {m}"),
        }
    }
}

impl std::error::Error for SkimError {}

/// Whether a message type carries media (its payload is skipped).
pub fn is_media_type(type_id: u8) -> bool {
    matches!(type_id, 8 | 9 | 18 | 22)
}

/// Whether a video body's first bytes say "keyframe, not a sequence header".
pub fn is_video_keyframe(head: &[u8]) -> bool {
    codec::video_is_keyframe(head) && !is_video_sequence_start(head)
}

fn is_video_sequence_start(head: &[u8]) -> bool {
    match head.first() {
        // Enhanced RTMP: the packet type is the low nibble; 0 is SequenceStart, 5 MPEG2-TS start.
        Some(&b0) if b0 & 0x80 != 0 => matches!(b0 & 0x0F, 0 | 5),
        Some(_) => codec::video_is_sequence_header(head),
        None => false,
    }
}

// ---------------------------------------------------------------------------------------------------
// RTMP
// ---------------------------------------------------------------------------------------------------

const MAX_HEADER_LEN: usize = 18;
/// Non-media messages larger than this are skipped rather than kept (commands are a few hundred
/// bytes).
const MAX_CONTROL_LEN: usize = 64 * 1024;
const MAX_CHUNK_STREAMS: usize = 64;

#[derive(Debug, Default)]
struct ChunkStream {
    header: HeaderState,
    /// Payload bytes of the current message received so far.
    received: usize,
    head: [u8; HEAD_LEN],
    /// Payload of a non-media message (empty for media).
    payload: Vec<u8>,
}

impl std::ops::Deref for ChunkStream {
    type Target = HeaderState;
    fn deref(&self) -> &HeaderState {
        &self.header
    }
}

impl std::ops::DerefMut for ChunkStream {
    fn deref_mut(&mut self) -> &mut HeaderState {
        &mut self.header
    }
}

impl AsRef<HeaderState> for ChunkStream {
    fn as_ref(&self) -> &HeaderState {
        &self.header
    }
}

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
                if st.received < HEAD_LEN {
                    let k = (HEAD_LEN - st.received).min(n);
                    st.head[st.received..st.received + k].copy_from_slice(&data[..k]);
                }
                if !is_media_type(st.type_id) && st.length <= MAX_CONTROL_LEN {
                    st.payload.extend_from_slice(&data[..n]);
                }
                st.received += n;
                data = &data[n..];
                if n < left {
                    self.current = Some((index, left - n));
                    return Ok(());
                }
                self.current = None;
                if st.received == st.length {
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
                head: &st.head[..n],
            });
            return Ok(());
        }
        let payload = std::mem::take(&mut st.payload);
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
                        s.received = 0;
                        s.payload.clear();
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
        if st.payload.is_empty() {
            st.payload = payload;
            st.payload.clear();
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
            st.received = 0;
            st.payload.clear();
        }
        let left = st.length - st.received;
        self.current = Some((index, left.min(self.chunk_size)));
        Ok(())
    }
}

fn be24(b: &[u8]) -> u32 {
    u32::from_be_bytes([0, b[0], b[1], b[2]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

// ---------------------------------------------------------------------------------------------------
// HTTP-FLV
// ---------------------------------------------------------------------------------------------------

const MAX_HTTP_HEAD: usize = 16 * 1024;
/// Tag prefix: the previous tag's 4-byte size, then the 11-byte tag header.
const TAG_PREFIX: usize = 4 + 11;

#[derive(Debug)]
enum HttpState {
    Head(Vec<u8>),
    Body,
}

#[derive(Debug)]
enum Chunked {
    /// Reading a chunk-size line (hex digits, optional extensions, CRLF).
    Size {
        value: usize,
        digits: usize,
        in_ext: bool,
    },
    Data(usize),
    /// The CRLF after a chunk's data: bytes of it still to skip.
    DataEnd(usize),
    /// The last (zero-size) chunk was read.
    Done,
}

#[derive(Debug)]
enum FlvState {
    /// The 9-byte file header.
    FileHeader,
    /// Header bytes beyond the 9 we read (DataOffset > 9).
    Skip(usize),
    /// Collecting a tag prefix.
    Prefix,
    /// In a tag body: bytes left.
    Body(usize),
}

/// Reads an HTTP-FLV response: head, optional chunked encoding, FLV tags.
#[derive(Debug)]
pub struct FlvSkimmer {
    http: HttpState,
    chunked: Option<Chunked>,
    flv: FlvState,
    buf: [u8; TAG_PREFIX],
    buf_len: usize,
    /// The tag in progress: type, timestamp, length, head bytes received.
    tag_type: u8,
    tag_ts: u32,
    tag_len: usize,
    head: [u8; HEAD_LEN],
    head_len: usize,
}

impl Default for FlvSkimmer {
    fn default() -> Self {
        Self::new()
    }
}

impl FlvSkimmer {
    /// A reader expecting an HTTP response head first.
    pub fn new() -> FlvSkimmer {
        FlvSkimmer {
            http: HttpState::Head(Vec::new()),
            chunked: None,
            flv: FlvState::FileHeader,
            buf: [0; TAG_PREFIX],
            buf_len: 0,
            tag_type: 0,
            tag_ts: 0,
            tag_len: 0,
            head: [0; HEAD_LEN],
            head_len: 0,
        }
    }

    /// A reader of a bare FLV byte stream (no HTTP head).
    #[cfg(test)]
    pub fn bare() -> FlvSkimmer {
        FlvSkimmer {
            http: HttpState::Body,
            ..FlvSkimmer::new()
        }
    }

    pub fn feed(
        &mut self,
        mut data: &[u8],
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SkimError> {
        if let HttpState::Head(head) = &mut self.http {
            let before = head.len();
            head.extend_from_slice(&data[..data.len().min(MAX_HTTP_HEAD)]);
            let Some(end) = find(head, b"\r\n\r\n") else {
                if head.len() >= MAX_HTTP_HEAD {
                    return Err(SkimError::Http("response head too long".into()));
                }
                return Ok(());
            };
            let (status, chunked) = parse_head(&head[..end])?;
            let body_start = end + 4 - before;
            data = &data[body_start..];
            self.http = HttpState::Body;
            if chunked {
                self.chunked = Some(Chunked::Size {
                    value: 0,
                    digits: 0,
                    in_ext: false,
                });
            }
            on_event(Event::HttpStatus(status));
            if status != 200 {
                return Ok(());
            }
        }
        if self.chunked.is_none() {
            return self.flv(data, on_event);
        }
        while !data.is_empty() {
            let state = self.chunked.as_mut().expect("chunked");
            match state {
                Chunked::Size {
                    value,
                    digits,
                    in_ext,
                } => {
                    let b = data[0];
                    data = &data[1..];
                    match b {
                        b'\n' => {
                            if *digits == 0 {
                                return Err(SkimError::Http("empty chunk size".into()));
                            }
                            *state = if *value == 0 {
                                Chunked::Done
                            } else {
                                Chunked::Data(*value)
                            };
                        }
                        b'\r' => {}
                        _ if *in_ext => {}
                        b';' | b' ' | b'\t' => *in_ext = true,
                        _ => {
                            let d = (b as char).to_digit(16).ok_or_else(|| {
                                SkimError::Http(format!("bad chunk size byte {b:#04x}"))
                            })?;
                            if *digits >= 8 {
                                return Err(SkimError::Http("chunk size too large".into()));
                            }
                            *value = *value * 16 + d as usize;
                            *digits += 1;
                        }
                    }
                }
                Chunked::Data(left) => {
                    let n = (*left).min(data.len());
                    let rest = *left - n;
                    *state = if rest == 0 {
                        Chunked::DataEnd(2)
                    } else {
                        Chunked::Data(rest)
                    };
                    let (body, tail) = data.split_at(n);
                    data = tail;
                    self.flv(body, on_event)?;
                }
                Chunked::DataEnd(left) => {
                    data = &data[1..];
                    *left -= 1;
                    if *left == 0 {
                        *state = Chunked::Size {
                            value: 0,
                            digits: 0,
                            in_ext: false,
                        };
                    }
                }
                Chunked::Done => return Ok(()),
            }
        }
        Ok(())
    }

    /// FLV bytes (after HTTP framing).
    fn flv(
        &mut self,
        mut data: &[u8],
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SkimError> {
        while !data.is_empty() {
            match self.flv {
                FlvState::FileHeader => {
                    let n = (9 - self.buf_len).min(data.len());
                    self.buf[self.buf_len..self.buf_len + n].copy_from_slice(&data[..n]);
                    self.buf_len += n;
                    data = &data[n..];
                    if self.buf_len == 9 {
                        if &self.buf[..3] != b"FLV" {
                            return Err(SkimError::Flv(format!(
                                "bad signature {:?}",
                                self.buf[..3].escape_ascii().to_string()
                            )));
                        }
                        let offset = be32(&self.buf[5..9]) as usize;
                        self.buf_len = 0;
                        self.flv = if offset > 9 {
                            FlvState::Skip(offset - 9)
                        } else {
                            FlvState::Prefix
                        };
                    }
                }
                FlvState::Skip(left) => {
                    let n = left.min(data.len());
                    data = &data[n..];
                    self.flv = if n == left {
                        FlvState::Prefix
                    } else {
                        FlvState::Skip(left - n)
                    };
                }
                FlvState::Prefix => {
                    let n = (TAG_PREFIX - self.buf_len).min(data.len());
                    self.buf[self.buf_len..self.buf_len + n].copy_from_slice(&data[..n]);
                    self.buf_len += n;
                    data = &data[n..];
                    if self.buf_len == TAG_PREFIX {
                        self.buf_len = 0;
                        let h = &self.buf[4..];
                        self.tag_type = h[0] & 0x1F;
                        self.tag_len = be24(&h[1..4]) as usize;
                        self.tag_ts = be24(&h[4..7]) | (u32::from(h[7]) << 24);
                        self.head_len = 0;
                        if self.tag_len == 0 {
                            self.emit(on_event);
                        } else {
                            self.flv = FlvState::Body(self.tag_len);
                        }
                    }
                }
                FlvState::Body(left) => {
                    let n = left.min(data.len());
                    if self.head_len < HEAD_LEN {
                        let k = (HEAD_LEN - self.head_len).min(n);
                        self.head[self.head_len..self.head_len + k].copy_from_slice(&data[..k]);
                        self.head_len += k;
                    }
                    data = &data[n..];
                    if n == left {
                        self.flv = FlvState::Prefix;
                        self.emit(on_event);
                    } else {
                        self.flv = FlvState::Body(left - n);
                    }
                }
            }
        }
        Ok(())
    }

    fn emit(&mut self, on_event: &mut dyn FnMut(Event<'_>)) {
        self.flv = FlvState::Prefix;
        on_event(Event::Media {
            type_id: self.tag_type,
            timestamp: self.tag_ts,
            len: self.tag_len,
            head: &self.head[..self.head_len],
        });
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Status code and whether the body is chunked.
fn parse_head(head: &[u8]) -> Result<(u16, bool), SkimError> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/") {
        return Err(SkimError::Http(format!("bad status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| SkimError::Http(format!("bad status line {status_line:?}")))?;
    let chunked = lines.any(|line| {
        let mut kv = line.splitn(2, ':');
        let k = kv.next().unwrap_or("").trim();
        let v = kv.next().unwrap_or("").trim();
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    Ok((status, chunked))
}

#[cfg(test)]
mod tests {
    use super::*;
    use joy4::rtmp::chunk::{write_message, ChunkReader};

    /// What a skimmer reports, owned, for comparisons.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Seen {
        Media(u8, u32, usize, Vec<u8>),
        Control(u8, u32, u32, Vec<u8>),
        Status(u16),
    }

    fn skim_rtmp(bytes: &[u8], split: usize) -> Vec<Seen> {
        let mut s = RtmpSkimmer::new();
        let mut seen = Vec::new();
        for piece in bytes.chunks(split.max(1)) {
            s.feed(piece, &mut |e| seen.push(own(e))).unwrap();
        }
        seen
    }

    fn own(e: Event<'_>) -> Seen {
        match e {
            Event::Media {
                type_id,
                timestamp,
                len,
                head,
            } => Seen::Media(type_id, timestamp, len, head.to_vec()),
            Event::Control {
                type_id,
                stream_id,
                timestamp,
                payload,
            } => Seen::Control(type_id, stream_id, timestamp, payload.to_vec()),
            Event::HttpStatus(s) => Seen::Status(s),
        }
    }

    /// A stream of messages as a server would send it: a chunk-size change, commands, media of
    /// several sizes (some past the chunk size, some with extended timestamps), on several csids.
    fn sample_stream() -> Vec<u8> {
        let mut out = Vec::new();
        write_message(2, 0, 1, 0, &4000u32.to_be_bytes(), 128, &mut out);
        let cmd: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        write_message(3, 0, 20, 0, &cmd, 4000, &mut out);
        let mut ts = 0xFF_FF00u32;
        for i in 0..60u32 {
            let len = [10usize, 4000, 4001, 9000, 1][i as usize % 5];
            let body: Vec<u8> = (0..len).map(|k| (k as u32 * 7 + i) as u8).collect();
            let (csid, type_id) = if i % 3 == 0 { (4, 8) } else { (6, 9) };
            write_message(csid, ts, type_id, 1, &body, 4000, &mut out);
            ts = ts.wrapping_add(40);
        }
        write_message(2, 0, 4, 0, &[0, 6, 0, 0, 0, 9], 4000, &mut out);
        out
    }

    /// The reference: the project's ChunkReader on the same bytes.
    fn reference(bytes: &[u8]) -> Vec<Seen> {
        let mut r = ChunkReader::new();
        r.feed(bytes);
        let mut seen = Vec::new();
        while let Some(m) = r.next_message().unwrap() {
            if is_media_type(m.type_id) {
                let n = m.payload.len().min(HEAD_LEN);
                seen.push(Seen::Media(
                    m.type_id,
                    m.timestamp,
                    m.payload.len(),
                    m.payload[..n].to_vec(),
                ));
            } else {
                seen.push(Seen::Control(
                    m.type_id,
                    m.stream_id,
                    m.timestamp,
                    m.payload,
                ));
            }
        }
        seen
    }

    #[test]
    fn rtmp_skimmer_agrees_with_the_chunk_reader_at_every_fragmentation() {
        let bytes = sample_stream();
        let expected = reference(&bytes);
        assert_eq!(expected.len(), 63);
        for split in [1, 2, 3, 7, 17, 18, 19, 128, 1000, 4096, bytes.len()] {
            assert_eq!(skim_rtmp(&bytes, split), expected, "split {split}");
        }
    }

    #[test]
    fn rtmp_skimmer_follows_delta_headers_and_fmt3_new_messages() {
        // fmt 0 at t=1000, then a fmt 3 chunk starting a new message: t=2000; fmt 2 delta 40.
        let mut out = Vec::new();
        write_message(4, 1000, 8, 1, &[0xAF, 1, 2], 128, &mut out);
        out.extend_from_slice(&[0xC4, 0xAF, 1, 3]); // fmt 3, csid 4, 3 bytes of payload
        out.extend_from_slice(&[0x84, 0, 0, 40, 0xAF, 1, 4]); // fmt 2, delta 40
        let seen = skim_rtmp(&out, 1);
        let ts: Vec<u32> = seen
            .iter()
            .map(|s| match s {
                Seen::Media(_, ts, _, _) => *ts,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ts, vec![1000, 2000, 2040]);
        assert_eq!(seen, reference(&out));
    }

    #[test]
    fn rtmp_skimmer_rejects_a_continuation_on_an_unknown_stream() {
        let mut s = RtmpSkimmer::new();
        assert!(s.feed(&[0xC5, 1, 2, 3], &mut |_| {}).is_err());
    }

    #[test]
    fn keyframes_are_told_from_sequence_headers() {
        assert!(is_video_keyframe(&[0x17, 0x01, 0, 0, 0]));
        assert!(!is_video_keyframe(&[0x17, 0x00, 0, 0, 0]));
        assert!(!is_video_keyframe(&[0x27, 0x01, 0, 0, 0]));
        // Enhanced RTMP: key frame (1 << 4), packet type CodedFrames (1) vs SequenceStart (0).
        assert!(is_video_keyframe(&[
            0x80 | 0x10 | 1,
            b'h',
            b'v',
            b'c',
            b'1'
        ]));
        assert!(!is_video_keyframe(&[0x80 | 0x10, b'h', b'v', b'c', b'1']));
        assert!(!is_video_keyframe(&[]));
    }

    fn flv_stream() -> Vec<u8> {
        let mut out = joy4::flv::file_header(true, true).to_vec();
        joy4::flv::write_tag(18, 0, b"meta", &mut out);
        for i in 0..20u32 {
            let body: Vec<u8> = (0..(i as usize * 97 % 3000 + 1)).map(|k| k as u8).collect();
            let tag_type = if i % 2 == 0 { 9 } else { 8 };
            // A timestamp past 24 bits uses the extension byte.
            joy4::flv::write_tag(tag_type, 0xFF_FFF0 + i * 33, &body, &mut out);
        }
        out
    }

    fn flv_expected(bytes: &[u8]) -> Vec<Seen> {
        let mut r = joy4::flv::FlvReader::new();
        r.feed(bytes);
        let mut seen = Vec::new();
        while let Some(tag) = r.next_tag().unwrap() {
            let n = tag.body.len().min(HEAD_LEN);
            seen.push(Seen::Media(
                tag.tag_type,
                tag.timestamp,
                tag.body.len(),
                tag.body[..n].to_vec(),
            ));
        }
        seen
    }

    fn skim_http(bytes: &[u8], split: usize) -> Vec<Seen> {
        let mut s = FlvSkimmer::new();
        let mut seen = Vec::new();
        for piece in bytes.chunks(split.max(1)) {
            s.feed(piece, &mut |e| seen.push(own(e))).unwrap();
        }
        seen
    }

    #[test]
    fn flv_skimmer_reads_a_plain_body_at_every_fragmentation() {
        let flv = flv_stream();
        let mut expected = vec![Seen::Status(200)];
        expected.extend(flv_expected(&flv));
        assert_eq!(expected.len(), 22);
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n".to_vec();
        bytes.extend_from_slice(&flv);
        for split in [1, 2, 5, 14, 15, 16, 100, 4096, bytes.len()] {
            assert_eq!(skim_http(&bytes, split), expected, "split {split}");
        }
    }

    #[test]
    fn flv_skimmer_undoes_chunked_encoding() {
        let flv = flv_stream();
        let mut expected = vec![Seen::Status(200)];
        expected.extend(flv_expected(&flv));
        let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n".to_vec();
        for (i, piece) in flv.chunks(777).enumerate() {
            if i % 2 == 0 {
                bytes.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            } else {
                bytes.extend_from_slice(format!("{:X};ext=1\r\n", piece.len()).as_bytes());
            }
            bytes.extend_from_slice(piece);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n\r\n");
        for split in [1, 3, 64, bytes.len()] {
            assert_eq!(skim_http(&bytes, split), expected, "split {split}");
        }
    }

    #[test]
    fn flv_skimmer_reports_an_error_status_and_a_bad_signature() {
        let seen = skim_http(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!", 4);
        assert_eq!(seen, vec![Seen::Status(404)]);
        let mut s = FlvSkimmer::new();
        let err = s
            .feed(b"HTTP/1.0 200 OK\r\n\r\nFLX\x01\x05\0\0\0\x09", &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, SkimError::Flv(_)), "{err}");
        let mut s = FlvSkimmer::new();
        assert!(s.feed(b"SSH-2.0\r\n\r\n", &mut |_| {}).is_err());
    }

    #[test]
    fn bare_flv_has_no_http_head() {
        let flv = flv_stream();
        let mut s = FlvSkimmer::bare();
        let mut seen = Vec::new();
        s.feed(&flv, &mut |e| seen.push(own(e))).unwrap();
        assert_eq!(seen, flv_expected(&flv));
    }
}
