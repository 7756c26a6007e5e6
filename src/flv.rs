//! FLV file/stream framing: writing headers and tags, a sans-IO streaming reader, and the splitting of
//! RTMP aggregate messages (which carry FLV tags).
//!
//! Tag bodies are passed through untouched: an RTMP audio/video/data payload *is* an FLV tag body.

use std::fmt;

/// 9-byte file header + PreviousTagSize0.
pub const FILE_HEADER_LEN: usize = 13;
pub const TAG_HEADER_LEN: usize = 11;
/// FLV's 24-bit data size limit.
pub const MAX_TAG_DATA_LEN: usize = 16 * 1024 * 1024 - 1;

const BACK_POINTER_LEN: usize = 4;
/// The DataOffset of a version 1 header: the header's own length.
const HEADER_DATA_OFFSET: u32 = 9;

/// The file header and PreviousTagSize0.
///
/// ```text
///  0   1   2   3         4          5   6   7   8   9  10  11  12
/// 'F' 'L' 'V'  1  | 00000A0V | DataOffset = 9 BE | PreviousTagSize0 = 0
///                      A = has audio, V = has video
/// ```
pub fn file_header(has_audio: bool, has_video: bool) -> [u8; FILE_HEADER_LEN] {
    let flags = (u8::from(has_audio) << 2) | u8::from(has_video);
    let o = HEADER_DATA_OFFSET.to_be_bytes();
    [
        b'F', b'L', b'V', 1, flags, o[0], o[1], o[2], o[3], 0, 0, 0, 0,
    ]
}

/// A tag header.
///
/// ```text
///   0  |  1   2   3  |  4   5   6   |    7     |  8   9  10
/// type | data size BE| timestamp BE | ts 31-24 | stream id = 0
///      |  (24 bits)  | (low 24 bits)|          |
/// ```
///
/// `None` when `data_len` exceeds [`MAX_TAG_DATA_LEN`]: such a tag cannot be written.
pub fn tag_header(tag_type: u8, timestamp: u32, data_len: usize) -> Option<[u8; TAG_HEADER_LEN]> {
    if data_len > MAX_TAG_DATA_LEN {
        return None;
    }
    let size = (data_len as u32).to_be_bytes();
    let ts = timestamp.to_be_bytes();
    Some([
        tag_type, size[1], size[2], size[3], ts[1], ts[2], ts[3], ts[0], 0, 0, 0,
    ])
}

/// The back pointer after a tag: the tag's full length (header + body), big-endian.
pub fn previous_tag_size(data_len: usize) -> [u8; 4] {
    ((TAG_HEADER_LEN + data_len) as u32).to_be_bytes()
}

/// Append a whole tag: header, body and back pointer. A body over [`MAX_TAG_DATA_LEN`] is not
/// written (its size does not fit the header): returns `false` and leaves `out` as it was.
pub fn write_tag(tag_type: u8, timestamp: u32, body: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(header) = tag_header(tag_type, timestamp, body.len()) else {
        log::warn!("not writing an FLV tag of {} bytes", body.len());
        return false;
    };
    out.reserve(TAG_HEADER_LEN + body.len() + BACK_POINTER_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out.extend_from_slice(&previous_tag_size(body.len()));
    true
}

/// One tag. `tag_type` is the whole first header byte (8 audio, 9 video, 18 script data); the
/// reserved and filter bits are kept so that a caller matching on 8/9/18 skips encrypted tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag {
    pub tag_type: u8,
    pub timestamp: u32,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvFileHeader {
    pub has_audio: bool,
    pub has_video: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlvError {
    /// The stream does not start with "FLV"; the three bytes found.
    BadSignature([u8; 3]),
    /// Only version 1 exists.
    BadVersion(u8),
    /// The header's DataOffset is smaller than the header itself.
    BadHeaderSize(u32),
    /// A tag declares a body larger than allowed.
    TagTooLarge(usize),
    /// The input ended inside a tag (aggregate messages, which are complete by construction).
    Truncated,
    /// A back pointer disagrees with the tag before it (only checked when asked to be strict).
    BadPreviousTagSize { expected: u32, found: u32 },
}

impl fmt::Display for FlvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlvError::BadSignature(sig) => {
                write!(
                    f,
                    "not an FLV stream: signature {:?}",
                    sig.escape_ascii().to_string()
                )
            }
            FlvError::BadVersion(v) => write!(f, "unsupported FLV version {v}"),
            FlvError::BadHeaderSize(n) => write!(f, "FLV header size {n} is below 9"),
            FlvError::TagTooLarge(n) => write!(f, "FLV tag of {n} bytes exceeds the limit"),
            FlvError::Truncated => write!(f, "FLV data ended inside a tag"),
            FlvError::BadPreviousTagSize { expected, found } => write!(
                f,
                "FLV PreviousTagSize is {found}, the tag before it was {expected} bytes"
            ),
        }
    }
}

impl std::error::Error for FlvError {}

#[derive(Debug)]
enum ReadState {
    /// Waiting for the 9-byte file header.
    Header,
    /// Discarding bytes: header bytes past the 9 we understand (rare but allowed by DataOffset).
    Skip(usize),
    /// Between tags. `back_pointer` is the PreviousTagSize still to be read before the next tag
    /// header. Reading it lazily lets a tag be returned as soon as its body is complete, even if the
    /// sender flushes the back pointer only with the next tag.
    Tags { back_pointer: Option<u32> },
}

/// Sans-IO streaming reader: feed bytes as they arrive, pull the header then tags.
///
/// Lenient about PreviousTagSize values (real files carry wrong ones) unless built with
/// [`FlvReader::strict`]; strict about tag sizes over the maximum, which it reports as soon as the
/// tag header arrives, before buffering the body. The internal buffer holds what was fed and not yet
/// pulled: a caller that pulls all tags after each `feed` keeps it within one tag plus one feed.
#[derive(Debug)]
pub struct FlvReader {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed; dropped from the front at the next `feed` so that pulling
    /// many small tags out of one big feed costs one move, not one per tag.
    pos: usize,
    state: ReadState,
    header: Option<FlvFileHeader>,
    max_tag_len: usize,
    strict: bool,
}

impl Default for FlvReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FlvReader {
    /// A reader that expects a file header first and accepts tags up to [`MAX_TAG_DATA_LEN`].
    pub fn new() -> Self {
        Self::with_max_tag_len(MAX_TAG_DATA_LEN)
    }

    /// A reader that refuses tag bodies longer than `max` (itself capped at [`MAX_TAG_DATA_LEN`]).
    pub fn with_max_tag_len(max: usize) -> Self {
        FlvReader {
            buf: Vec::new(),
            pos: 0,
            state: ReadState::Header,
            header: None,
            max_tag_len: max.min(MAX_TAG_DATA_LEN),
            strict: false,
        }
    }

    /// Check every PreviousTagSize (useful to test a writer); by default they are ignored.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    pub fn feed(&mut self, data: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The file header, once parsed.
    pub fn header(&self) -> Option<&FlvFileHeader> {
        self.header.as_ref()
    }

    /// The next complete tag; `Ok(None)` means more bytes are needed. Parses the file header first.
    /// After an error the reader stays stuck on the offending bytes and returns it again.
    pub fn next_tag(&mut self) -> Result<Option<FlvTag>, FlvError> {
        loop {
            let avail = &self.buf[self.pos..];
            match self.state {
                ReadState::Header => {
                    let Some(h) = avail.get(..HEADER_DATA_OFFSET as usize) else {
                        return Ok(None);
                    };
                    let header = parse_file_header(h)?;
                    let data_offset = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
                    self.header = Some(header);
                    self.consume(HEADER_DATA_OFFSET as usize);
                    self.state = ReadState::Skip((data_offset - HEADER_DATA_OFFSET) as usize);
                }
                ReadState::Skip(n) => {
                    let step = n.min(avail.len());
                    self.consume(step);
                    if step < n {
                        self.state = ReadState::Skip(n - step);
                        return Ok(None);
                    }
                    // PreviousTagSize0 follows the header and should be 0.
                    self.state = ReadState::Tags {
                        back_pointer: Some(0),
                    };
                }
                ReadState::Tags {
                    back_pointer: Some(expected),
                } => {
                    let Some(b) = avail.get(..BACK_POINTER_LEN) else {
                        return Ok(None);
                    };
                    let found = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    if self.strict && found != expected {
                        return Err(FlvError::BadPreviousTagSize { expected, found });
                    }
                    self.consume(BACK_POINTER_LEN);
                    self.state = ReadState::Tags { back_pointer: None };
                }
                ReadState::Tags { back_pointer: None } => {
                    let Some(h) = avail.get(..TAG_HEADER_LEN) else {
                        return Ok(None);
                    };
                    let (tag_type, data_len, timestamp) = parse_tag_header(h);
                    if data_len > self.max_tag_len {
                        return Err(FlvError::TagTooLarge(data_len));
                    }
                    // No reservation from the declared size: 11 bytes must not buy 16 MiB.
                    let Some(body) = avail.get(TAG_HEADER_LEN..TAG_HEADER_LEN + data_len) else {
                        return Ok(None);
                    };
                    let tag = FlvTag {
                        tag_type,
                        timestamp,
                        body: body.to_vec(),
                    };
                    self.consume(TAG_HEADER_LEN + data_len);
                    self.state = ReadState::Tags {
                        back_pointer: Some((TAG_HEADER_LEN + data_len) as u32),
                    };
                    return Ok(Some(tag));
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }
}

fn parse_file_header(h: &[u8]) -> Result<FlvFileHeader, FlvError> {
    if &h[..3] != b"FLV" {
        return Err(FlvError::BadSignature([h[0], h[1], h[2]]));
    }
    if h[3] != 1 {
        return Err(FlvError::BadVersion(h[3]));
    }
    let data_offset = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
    if data_offset < HEADER_DATA_OFFSET {
        return Err(FlvError::BadHeaderSize(data_offset));
    }
    Ok(FlvFileHeader {
        has_audio: h[4] & 0x04 != 0,
        has_video: h[4] & 0x01 != 0,
    })
}

/// (type, data size, timestamp) from an 11-byte tag header; see [`tag_header`] for the layout.
fn parse_tag_header(h: &[u8]) -> (u8, usize, u32) {
    let data_len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
    let timestamp = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
    (h[0], data_len, timestamp)
}

/// RTMP aggregate message (type 22): a run of FLV tags (11-byte header + body + 4-byte back pointer).
/// The first sub-tag's timestamp maps to `message_timestamp`; later ones keep their offset from the first.
///
/// Like nginx-rtmp, back pointers are not checked, and a missing final one is tolerated.
pub fn split_aggregate(payload: &[u8], message_timestamp: u32) -> Result<Vec<FlvTag>, FlvError> {
    let mut tags = Vec::new();
    let mut rest = payload;
    let mut first_timestamp = None;
    while !rest.is_empty() {
        let Some(h) = rest.get(..TAG_HEADER_LEN) else {
            return Err(FlvError::Truncated);
        };
        let (tag_type, data_len, timestamp) = parse_tag_header(h);
        let Some(body) = rest.get(TAG_HEADER_LEN..TAG_HEADER_LEN + data_len) else {
            return Err(FlvError::Truncated);
        };
        let first = *first_timestamp.get_or_insert(timestamp);
        tags.push(FlvTag {
            tag_type,
            // Wrapping: sub-tag times may straddle the 2^32 ms wrap, or the message's time may.
            timestamp: message_timestamp.wrapping_add(timestamp.wrapping_sub(first)),
            body: body.to_vec(),
        });
        rest = &rest[TAG_HEADER_LEN + data_len..];
        match rest.len() {
            0 => {}
            n if n < BACK_POINTER_LEN => return Err(FlvError::Truncated),
            _ => rest = &rest[BACK_POINTER_LEN..],
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests;
