//! FLV, read independently of the crate under test: tags, an incremental parser, and a live
//! HTTP-FLV response read tag by tag.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::amf;
use super::http::{read_head, Dechunk};
use super::{read_before, tcp_connect, HttpHead, StreamError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvHeader {
    pub version: u8,
    /// Byte 4: 4 = audio, 1 = video.
    pub flags: u8,
    pub header_size: u32,
}

impl FlvHeader {
    pub fn has_audio(&self) -> bool {
        self.flags & 4 != 0
    }
    pub fn has_video(&self) -> bool {
        self.flags & 1 != 0
    }
}

#[derive(Debug, Clone)]
pub struct FlvTag {
    /// 8 audio, 9 video, 18 script data.
    pub tag_type: u8,
    /// Milliseconds (24 bits + the extended byte).
    pub timestamp: u32,
    pub body: Vec<u8>,
}

impl FlvTag {
    pub fn is_audio(&self) -> bool {
        self.tag_type == 8
    }
    pub fn is_video(&self) -> bool {
        self.tag_type == 9
    }
    pub fn is_script(&self) -> bool {
        self.tag_type == 18
    }
    pub fn is_video_keyframe(&self) -> bool {
        self.is_video() && self.body.first().is_some_and(|b| b >> 4 == 1)
    }
    pub fn is_avc_sequence_header(&self) -> bool {
        self.is_video() && self.body.len() >= 2 && self.body[0] & 0x0f == 7 && self.body[1] == 0
    }
    pub fn is_aac_sequence_header(&self) -> bool {
        self.is_audio() && self.body.len() >= 2 && self.body[0] >> 4 == 10 && self.body[1] == 0
    }
    /// A coded frame (not a sequence header, not a video info/command frame).
    pub fn is_media(&self) -> bool {
        (self.is_audio() && !self.is_aac_sequence_header())
            || (self.is_video()
                && !self.is_avc_sequence_header()
                && self.body.first().is_some_and(|b| b >> 4 != 5))
    }
    /// The name of a script tag (`onMetaData`), if the body starts with an AMF0 string.
    pub fn script_name(&self) -> Option<String> {
        if !self.is_script() {
            return None;
        }
        let mut input = &self.body[..];
        match amf::decode(&mut input) {
            Ok(amf::V::Str(s)) => Some(s),
            _ => None,
        }
    }
    /// The AVC sequence header's SPS width/height is not parsed here; ffprobe checks dimensions.
    pub fn describe(&self) -> String {
        let kind = if self.is_avc_sequence_header() {
            "avc-seq-header".to_string()
        } else if self.is_aac_sequence_header() {
            "aac-seq-header".to_string()
        } else if self.is_video_keyframe() {
            "video-key".to_string()
        } else if self.is_video() {
            "video".to_string()
        } else if self.is_audio() {
            "audio".to_string()
        } else if let Some(n) = self.script_name() {
            format!("script {n}")
        } else {
            format!("type {}", self.tag_type)
        };
        format!("{kind}@{}ms({}B)", self.timestamp, self.body.len())
    }
}

/// Incremental FLV parser: feed bytes, pull the header and tags.
#[derive(Debug, Default)]
pub struct FlvParser {
    buf: Vec<u8>,
    pos: usize,
    header: Option<FlvHeader>,
}

impl FlvParser {
    pub fn new() -> FlvParser {
        FlvParser::default()
    }

    pub fn feed(&mut self, data: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 1 << 20 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes fed but not yet parsed.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The file header once its bytes (and PreviousTagSize0) have arrived.
    pub fn header(&mut self) -> Result<Option<FlvHeader>, String> {
        if self.header.is_none() {
            let b = &self.buf[self.pos..];
            if b.len() < 9 {
                return Ok(None);
            }
            if &b[..3] != b"FLV" {
                return Err(format!("FLV signature missing: {:02x?}", &b[..9]));
            }
            let header_size = u32::from_be_bytes([b[5], b[6], b[7], b[8]]);
            if header_size < 9 {
                return Err(format!("FLV header size {header_size}"));
            }
            let need = header_size as usize + 4;
            if b.len() < need {
                return Ok(None);
            }
            let prev0 = u32::from_be_bytes([b[need - 4], b[need - 3], b[need - 2], b[need - 1]]);
            if prev0 != 0 {
                return Err(format!("PreviousTagSize0 is {prev0}, not 0"));
            }
            self.header = Some(FlvHeader {
                version: b[3],
                flags: b[4],
                header_size,
            });
            self.pos += need;
        }
        Ok(self.header.clone())
    }

    /// The next complete tag, if its bytes have all arrived.
    pub fn next_tag(&mut self) -> Result<Option<FlvTag>, String> {
        if self.header()?.is_none() {
            return Ok(None);
        }
        let b = &self.buf[self.pos..];
        if b.len() < 11 {
            return Ok(None);
        }
        let tag_type = b[0] & 0x1f;
        let size = u32::from_be_bytes([0, b[1], b[2], b[3]]) as usize;
        let timestamp = u32::from_be_bytes([b[7], b[4], b[5], b[6]]);
        if b.len() < 11 + size + 4 {
            return Ok(None);
        }
        let prev =
            u32::from_be_bytes([b[11 + size], b[12 + size], b[13 + size], b[14 + size]]) as usize;
        if prev != 11 + size {
            return Err(format!(
                "PreviousTagSize {prev} after a tag of type {tag_type} with {size} data bytes"
            ));
        }
        if b[0] & 0x20 != 0 {
            return Err("filtered (encrypted) FLV tag".into());
        }
        let tag = FlvTag {
            tag_type,
            timestamp,
            body: b[11..11 + size].to_vec(),
        };
        self.pos += 11 + size + 4;
        Ok(Some(tag))
    }
}

/// A live HTTP-FLV response being read tag by tag (plain or chunked transfer encoding).
pub struct FlvStream {
    pub sock: TcpStream,
    pub head: HttpHead,
    dechunk: Option<Dechunk>,
    parser: FlvParser,
    eof: bool,
    /// Body bytes received so far (after de-chunking).
    pub bytes: u64,
}

impl FlvStream {
    /// `GET PATH` and read the response head. The status is not checked: see `head`.
    pub fn open(addr: SocketAddr, path: &str, timeout: Duration) -> Result<FlvStream, String> {
        let mut sock = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: joy4-tests\r\nAccept: */*\r\n\r\n"
        );
        sock.write_all(req.as_bytes())
            .map_err(|e| format!("write request: {e}"))?;
        let (head, rest) = read_head(&mut sock, timeout).map_err(|e| format!("GET {path}: {e}"))?;
        let dechunk = if head.is_chunked() {
            Some(Dechunk::default())
        } else {
            None
        };
        let mut s = FlvStream {
            sock,
            head,
            dechunk,
            parser: FlvParser::new(),
            eof: false,
            bytes: 0,
        };
        s.accept(&rest).map_err(String::from)?;
        Ok(s)
    }

    fn accept(&mut self, data: &[u8]) -> Result<(), StreamError> {
        match &mut self.dechunk {
            Some(d) => {
                let mut out = Vec::new();
                d.push(data, &mut out).map_err(StreamError::Protocol)?;
                if d.done() {
                    self.eof = true;
                }
                self.bytes += out.len() as u64;
                self.parser.feed(&out);
            }
            None => {
                self.bytes += data.len() as u64;
                self.parser.feed(data);
            }
        }
        Ok(())
    }

    /// Read more bytes; Ok(false) at the end of the body.
    fn pump(&mut self, deadline: Instant) -> Result<bool, StreamError> {
        if self.eof {
            return Ok(false);
        }
        let mut tmp = [0u8; 65536];
        match read_before(&self.sock, &mut tmp, deadline)? {
            0 => {
                self.eof = true;
                Ok(false)
            }
            n => {
                self.accept(&tmp[..n])?;
                Ok(true)
            }
        }
    }

    pub fn header(&mut self, timeout: Duration) -> Result<FlvHeader, StreamError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(h) = self.parser.header().map_err(StreamError::Protocol)? {
                return Ok(h);
            }
            if !self.pump(deadline)? {
                return Err(StreamError::Closed(
                    "body ended before the FLV header".into(),
                ));
            }
        }
    }

    /// The next tag; Ok(None) when the body ended cleanly at a tag boundary.
    pub fn next_tag(&mut self, timeout: Duration) -> Result<Option<FlvTag>, StreamError> {
        self.next_tag_until(Instant::now() + timeout)
    }

    pub fn next_tag_until(&mut self, deadline: Instant) -> Result<Option<FlvTag>, StreamError> {
        loop {
            if let Some(t) = self.parser.next_tag().map_err(StreamError::Protocol)? {
                return Ok(Some(t));
            }
            if !self.pump(deadline)? {
                return match self.parser.header().map_err(StreamError::Protocol)? {
                    None => Err(StreamError::Closed(
                        "body ended before the FLV header".into(),
                    )),
                    Some(_) if self.parser.pending() > 0 => Err(StreamError::Closed(format!(
                        "body ended inside a tag ({} bytes left)",
                        self.parser.pending()
                    ))),
                    Some(_) => Ok(None),
                };
            }
        }
    }
}
