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
/// `data_len` must not exceed [`MAX_TAG_DATA_LEN`]; RTMP message lengths are 24-bit, so no body that
/// came from RTMP can.
pub fn tag_header(tag_type: u8, timestamp: u32, data_len: usize) -> [u8; TAG_HEADER_LEN] {
    debug_assert!(data_len <= MAX_TAG_DATA_LEN, "FLV tag body too large");
    let size = (data_len as u32).to_be_bytes();
    let ts = timestamp.to_be_bytes();
    [
        tag_type, size[1], size[2], size[3], ts[1], ts[2], ts[3], ts[0], 0, 0, 0,
    ]
}

/// The back pointer after a tag: the tag's full length (header + body), big-endian.
pub fn previous_tag_size(data_len: usize) -> [u8; 4] {
    ((TAG_HEADER_LEN + data_len) as u32).to_be_bytes()
}

/// Append a whole tag: header, body and back pointer.
pub fn write_tag(tag_type: u8, timestamp: u32, body: &[u8], out: &mut Vec<u8>) {
    out.reserve(TAG_HEADER_LEN + body.len() + BACK_POINTER_LEN);
    out.extend_from_slice(&tag_header(tag_type, timestamp, body.len()));
    out.extend_from_slice(body);
    out.extend_from_slice(&previous_tag_size(body.len()));
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
mod tests {
    use super::*;

    fn sample_tags() -> Vec<FlvTag> {
        vec![
            FlvTag {
                tag_type: 18,
                timestamp: 0,
                body: b"\x02\x00\x0aonMetaData\x05".to_vec(),
            },
            FlvTag {
                tag_type: 9,
                timestamp: 0,
                body: vec![0x17, 0, 0, 0, 0, 1, 2, 3],
            },
            FlvTag {
                tag_type: 8,
                timestamp: 23,
                body: vec![0xAF, 1, 9, 9],
            },
            FlvTag {
                tag_type: 9,
                timestamp: 0x0123_4567, // needs the extended byte
                body: vec![],
            },
            FlvTag {
                tag_type: 8,
                timestamp: u32::MAX,
                body: vec![0x2F; 300],
            },
        ]
    }

    fn sample_file() -> Vec<u8> {
        let mut out = file_header(true, true).to_vec();
        for tag in sample_tags() {
            write_tag(tag.tag_type, tag.timestamp, &tag.body, &mut out);
        }
        out
    }

    fn read_all(reader: &mut FlvReader) -> Vec<FlvTag> {
        let mut tags = Vec::new();
        while let Some(tag) = reader.next_tag().unwrap() {
            tags.push(tag);
        }
        tags
    }

    #[test]
    fn headers_have_the_documented_layout() {
        assert_eq!(
            file_header(true, false),
            [b'F', b'L', b'V', 1, 4, 0, 0, 0, 9, 0, 0, 0, 0]
        );
        assert_eq!(file_header(false, true)[4], 1);
        assert_eq!(
            tag_header(9, 0x0A0B_0C0D, 0x01_0203),
            [9, 0x01, 0x02, 0x03, 0x0B, 0x0C, 0x0D, 0x0A, 0, 0, 0]
        );
        assert_eq!(previous_tag_size(5), [0, 0, 0, 16]);
    }

    #[test]
    fn written_tags_read_back_the_same_including_extended_timestamps() {
        let mut reader = FlvReader::new().strict();
        assert_eq!(reader.header(), None);
        reader.feed(&sample_file());
        assert_eq!(read_all(&mut reader), sample_tags());
        assert_eq!(
            reader.header(),
            Some(&FlvFileHeader {
                has_audio: true,
                has_video: true
            })
        );
    }

    #[test]
    fn bytes_fed_one_at_a_time_give_the_same_tags() {
        let mut reader = FlvReader::new().strict();
        let mut tags = Vec::new();
        for &b in &sample_file() {
            reader.feed(&[b]);
            tags.extend(read_all(&mut reader));
            assert!(reader.buf.len() <= TAG_HEADER_LEN + 300 + BACK_POINTER_LEN);
        }
        assert_eq!(tags, sample_tags());
    }

    #[test]
    fn a_tag_is_returned_before_its_back_pointer_arrives() {
        let mut bytes = file_header(false, true).to_vec();
        write_tag(9, 40, &[0x27, 1], &mut bytes);
        let mut reader = FlvReader::new();
        reader.feed(&bytes[..bytes.len() - BACK_POINTER_LEN]);
        assert_eq!(reader.next_tag().unwrap().unwrap().timestamp, 40);
        assert_eq!(reader.next_tag(), Ok(None));
    }

    #[test]
    fn truncated_input_asks_for_more_bytes() {
        let file = sample_file();
        for cut in 0..FILE_HEADER_LEN + TAG_HEADER_LEN + 5 {
            let mut reader = FlvReader::new();
            reader.feed(&file[..cut]);
            assert_eq!(reader.next_tag(), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn an_oversized_tag_is_refused_from_its_header_alone() {
        let mut bytes = file_header(true, true).to_vec();
        bytes.extend_from_slice(&tag_header(9, 0, 2000));
        let mut reader = FlvReader::with_max_tag_len(1000);
        reader.feed(&bytes);
        assert_eq!(reader.next_tag(), Err(FlvError::TagTooLarge(2000)));
        // It stays refused.
        assert_eq!(reader.next_tag(), Err(FlvError::TagTooLarge(2000)));
    }

    #[test]
    fn a_bad_signature_or_version_is_an_error() {
        let mut reader = FlvReader::new();
        reader.feed(b"GET / HTTP/1.1\r\n");
        assert_eq!(reader.next_tag(), Err(FlvError::BadSignature(*b"GET")));

        let mut header = file_header(true, true);
        header[3] = 2;
        let mut reader = FlvReader::new();
        reader.feed(&header);
        assert_eq!(reader.next_tag(), Err(FlvError::BadVersion(2)));

        let mut header = file_header(true, true);
        header[8] = 8;
        let mut reader = FlvReader::new();
        reader.feed(&header);
        assert_eq!(reader.next_tag(), Err(FlvError::BadHeaderSize(8)));
        assert!(!FlvError::BadHeaderSize(8).to_string().is_empty());
    }

    #[test]
    fn wrong_back_pointers_are_ignored_unless_strict() {
        let mut bytes = sample_file();
        bytes[FILE_HEADER_LEN - 1] = 7; // PreviousTagSize0
        let mut lenient = FlvReader::new();
        lenient.feed(&bytes);
        assert_eq!(read_all(&mut lenient), sample_tags());

        let mut strict = FlvReader::new().strict();
        strict.feed(&bytes);
        assert_eq!(
            strict.next_tag(),
            Err(FlvError::BadPreviousTagSize {
                expected: 0,
                found: 7
            })
        );
    }

    #[test]
    fn a_longer_header_is_skipped_using_its_data_offset() {
        let mut bytes = file_header(true, false).to_vec();
        bytes[8] = 12;
        bytes.splice(9..9, [0xEE, 0xEE, 0xEE]);
        write_tag(8, 1, &[0xAF, 0], &mut bytes);
        let mut reader = FlvReader::new();
        let mut tags = Vec::new();
        for chunk in bytes.chunks(2) {
            reader.feed(chunk);
            tags.extend(read_all(&mut reader));
        }
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].body, vec![0xAF, 0]);
    }

    #[test]
    fn the_buffer_stays_compact_while_tags_are_pulled() {
        let mut reader = FlvReader::new();
        reader.feed(&file_header(false, true));
        assert_eq!(reader.next_tag(), Ok(None));
        let mut tag = Vec::new();
        write_tag(9, 0, &[0x27; 100], &mut tag);
        // Split each tag across two feeds so that a partial tag is always left behind.
        let (a, b) = tag.split_at(50);
        reader.feed(a);
        for _ in 0..1000 {
            reader.feed(b);
            reader.feed(a);
            assert_eq!(reader.next_tag().unwrap().map(|t| t.body.len()), Some(100));
            assert_eq!(reader.next_tag(), Ok(None));
        }
        assert!(
            reader.buf.capacity() < 4 * tag.len(),
            "{}",
            reader.buf.capacity()
        );
    }

    #[test]
    fn an_aggregate_is_split_and_rebased_on_the_message_timestamp() {
        let mut payload = Vec::new();
        write_tag(9, 1000, &[0x17, 1], &mut payload);
        write_tag(8, 1010, &[0xAF, 1], &mut payload);
        write_tag(9, 1040, &[0x27, 1], &mut payload);
        let tags = split_aggregate(&payload, 5000).unwrap();
        let times: Vec<_> = tags.iter().map(|t| (t.tag_type, t.timestamp)).collect();
        assert_eq!(times, [(9, 5000), (8, 5010), (9, 5040)]);
        assert_eq!(tags[2].body, vec![0x27, 1]);

        // The final back pointer may be missing.
        let tags = split_aggregate(&payload[..payload.len() - 4], 0).unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!(split_aggregate(&[], 7), Ok(vec![]));
    }

    #[test]
    fn aggregate_timestamps_wrap_around_2_pow_32() {
        let mut payload = Vec::new();
        write_tag(9, u32::MAX - 5, &[0x17], &mut payload);
        write_tag(9, 4, &[0x27], &mut payload); // 10 ms later, across the wrap
        let tags = split_aggregate(&payload, 100).unwrap();
        assert_eq!(tags[1].timestamp, 110);
    }

    #[test]
    fn a_truncated_aggregate_is_an_error_at_every_cut_point() {
        let mut payload = Vec::new();
        write_tag(9, 0, &[0x17, 1, 2], &mut payload);
        write_tag(8, 0, &[0xAF, 1], &mut payload);
        let first_end = TAG_HEADER_LEN + 3;
        let ok_cuts = [first_end, first_end + 4, payload.len() - 4, payload.len()];
        for cut in 1..=payload.len() {
            let result = split_aggregate(&payload[..cut], 0);
            assert_eq!(result.is_ok(), ok_cuts.contains(&cut), "cut at {cut}");
            if let Err(e) = result {
                assert_eq!(e, FlvError::Truncated);
            }
        }
    }
}
