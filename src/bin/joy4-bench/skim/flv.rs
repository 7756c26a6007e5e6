//! The HTTP-FLV skimmer: response head, chunked transfer encoding, FLV tag headers.

use super::{be24, be32, Event, SkimError, HEAD_LEN};

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
