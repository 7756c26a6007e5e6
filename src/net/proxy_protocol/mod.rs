//! PROXY protocol headers (v1 text, v2 binary), sans-IO: what a layer-4 load balancer (haproxy,
//! an AWS NLB) sends first on a connection to say who its client is.
//!
//! ```text
//! v1: "PROXY TCP4 203.0.113.7 10.0.0.5 51234 1935\r\n"   at most 107 bytes, CRLF included
//!     "PROXY UNKNOWN ...\r\n"                             the balancer's own connection
//! v2: 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A                 12-byte signature
//!     ver<<4|cmd (0x20 LOCAL, 0x21 PROXY)  fam<<4|proto  length (u16 BE)
//!     addresses: INET 4+4+2+2, INET6 16+16+2+2, UNIX 108+108; then TLVs (ignored)
//! ```
//!
//! [`next_step`] looks at the bytes read so far and says how many more to read, never more than
//! the header holds, so the socket is left at the first byte of the protocol behind it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A v1 header is at most this long, CRLF included.
pub const V1_MAX: usize = 107;
/// The most a v2 header may carry after its 16 fixed bytes (addresses and TLVs): haproxy's
/// largest headers (SSL and unique-id TLVs) are a few hundred bytes.
pub const V2_MAX_PAYLOAD: usize = 1024;
/// The v2 signature.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8] = b"PROXY ";
/// Both headers are longer than this, so it can always be read first.
const PROBE: usize = 8;

/// A complete header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    /// 1 or 2.
    pub version: u8,
    /// The client's address; `None` for the balancer's own connections (v1 `UNKNOWN`, v2
    /// `LOCAL`, an unspecified or UNIX family): the TCP peer stands.
    pub source: Option<SocketAddr>,
}

/// Why a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeaderError {
    /// Neither `PROXY ` nor the v2 signature, or a v2 version other than 2.
    UnknownVersion,
    /// A v1 protocol other than TCP4/TCP6/UNKNOWN, a v2 family above UNIX or a transport
    /// other than STREAM.
    UnknownFamily,
    /// A v1 line without CRLF within 107 bytes, or a v2 length over [`V2_MAX_PAYLOAD`].
    Oversized,
    /// The connection ended inside the header.
    Truncated,
    /// The header did not arrive within its time.
    TooSlow,
    /// A field that does not parse.
    Malformed(&'static str),
}

impl ProxyHeaderError {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProxyHeaderError::UnknownVersion => "not a PROXY protocol header",
            ProxyHeaderError::UnknownFamily => "unknown address family",
            ProxyHeaderError::Oversized => "oversized",
            ProxyHeaderError::Truncated => "truncated",
            ProxyHeaderError::TooSlow => "too slow",
            ProxyHeaderError::Malformed(what) => what,
        }
    }
}

impl fmt::Display for ProxyHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad PROXY protocol header: {}", self.as_str())
    }
}

impl std::error::Error for ProxyHeaderError {}

/// What to do after the bytes read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Read exactly this many more bytes (the header is at least that much longer).
    Need(usize),
    /// The header is complete: it was all of the bytes given.
    Done(ProxyHeader),
}

/// Whether `prefix` (the first bytes a peer sent, however few) is the start of a PROXY header:
/// used on peers that may not send one. RTMP's first byte is 3 and no HTTP method starts with
/// `PROXY ` or CR, so no real request of either looks like one.
pub fn starts_like_header(prefix: &[u8]) -> bool {
    let v1 = &V1_PREFIX[..prefix.len().min(V1_PREFIX.len())];
    let v2 = &V2_SIGNATURE[..prefix.len().min(V2_SIGNATURE.len())];
    !prefix.is_empty() && (prefix.starts_with(v1) || prefix.starts_with(v2))
}

/// Whether `prefix` is too short for [`starts_like_header`] to be sure of a match.
pub fn undecided(prefix: &[u8]) -> bool {
    starts_like_header(prefix) && prefix.len() < V1_PREFIX.len().min(V2_SIGNATURE.len())
}

/// Look at `buf`, the bytes read so far (read in the amounts this asked for).
pub fn next_step(buf: &[u8]) -> Result<Step, ProxyHeaderError> {
    if !buf.is_empty() && !starts_like_header(buf) {
        return Err(ProxyHeaderError::UnknownVersion);
    }
    if buf.len() < PROBE {
        return Ok(Step::Need(PROBE - buf.len()));
    }
    if buf.starts_with(V1_PREFIX) {
        v1_step(buf)
    } else {
        v2_step(buf)
    }
}

/// Parse one complete header at the start of `buf`; returns it and its length (tests, tools).
pub fn parse(buf: &[u8]) -> Result<(ProxyHeader, usize), ProxyHeaderError> {
    if !buf.is_empty() && !starts_like_header(buf) {
        return Err(ProxyHeaderError::UnknownVersion);
    }
    let mut len = 0;
    loop {
        match next_step(&buf[..len])? {
            Step::Done(header) => return Ok((header, len)),
            Step::Need(n) if len + n > buf.len() => return Err(ProxyHeaderError::Truncated),
            Step::Need(n) => len += n,
        }
    }
}

fn v1_step(buf: &[u8]) -> Result<Step, ProxyHeaderError> {
    let last = buf[buf.len() - 1];
    if last != b'\n' {
        if buf[..buf.len() - 1].contains(&b'\n') {
            return Err(ProxyHeaderError::Malformed(
                "a line feed inside the v1 header",
            ));
        }
        if buf.len() >= V1_MAX {
            return Err(ProxyHeaderError::Oversized);
        }
        // The line ends somewhere ahead: read it a byte at a time, never past it.
        return Ok(Step::Need(1));
    }
    let line = buf
        .strip_suffix(b"\r\n")
        .ok_or(ProxyHeaderError::Malformed(
            "the v1 line does not end in CRLF",
        ))?;
    let line = std::str::from_utf8(line)
        .map_err(|_| ProxyHeaderError::Malformed("the v1 line is not text"))?;
    let mut words = line.split(' ');
    words.next(); // "PROXY"
    let family = words.next().unwrap_or_default();
    let unknown = ProxyHeader {
        version: 1,
        source: None,
    };
    let v4 = match family {
        "UNKNOWN" => return Ok(Step::Done(unknown)),
        "TCP4" => true,
        "TCP6" => false,
        _ => return Err(ProxyHeaderError::UnknownFamily),
    };
    let fields: Vec<&str> = words.collect();
    let [src, dst, sport, dport] = fields[..] else {
        return Err(ProxyHeaderError::Malformed(
            "a v1 header needs 4 address fields",
        ));
    };
    let ip = |text: &str| -> Result<IpAddr, ProxyHeaderError> {
        let bad = ProxyHeaderError::Malformed("a v1 address does not parse");
        if v4 {
            text.parse::<Ipv4Addr>().map(IpAddr::from).map_err(|_| bad)
        } else {
            text.parse::<Ipv6Addr>().map(IpAddr::from).map_err(|_| bad)
        }
    };
    let port = |text: &str| -> Result<u16, ProxyHeaderError> {
        let bad = ProxyHeaderError::Malformed("a v1 port does not parse");
        if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad);
        }
        text.parse().map_err(|_| bad)
    };
    let source = SocketAddr::new(ip(src)?, port(sport)?);
    ip(dst)?;
    port(dport)?;
    Ok(Step::Done(ProxyHeader {
        version: 1,
        source: Some(source),
    }))
}

fn v2_step(buf: &[u8]) -> Result<Step, ProxyHeaderError> {
    const FIXED: usize = 16;
    if buf.len() < FIXED {
        return Ok(Step::Need(FIXED - buf.len()));
    }
    let version = buf[12] >> 4;
    let command = buf[12] & 0x0f;
    if version != 2 {
        return Err(ProxyHeaderError::UnknownVersion);
    }
    let length = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    if length > V2_MAX_PAYLOAD {
        return Err(ProxyHeaderError::Oversized);
    }
    if buf.len() < FIXED + length {
        return Ok(Step::Need(FIXED + length - buf.len()));
    }
    let family = buf[13] >> 4;
    let transport = buf[13] & 0x0f;
    let body = &buf[FIXED..];
    if family > 3 || transport > 2 {
        return Err(ProxyHeaderError::UnknownFamily);
    }
    let local = ProxyHeader {
        version: 2,
        source: None,
    };
    match command {
        0 => return Ok(Step::Done(local)),
        1 => {}
        _ => {
            return Err(ProxyHeaderError::Malformed(
                "a v2 command other than LOCAL or PROXY",
            ))
        }
    }
    if family != 0 && transport != 1 {
        // A datagram client's address means nothing for a TCP connection.
        return Err(ProxyHeaderError::UnknownFamily);
    }
    let short = ProxyHeaderError::Malformed("a v2 address block shorter than its family");
    let source = match family {
        1 => {
            let a: [u8; 12] = body.get(..12).ok_or(short)?.try_into().expect("12 bytes");
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            SocketAddr::new(ip.into(), u16::from_be_bytes([a[8], a[9]]))
        }
        2 => {
            let a: [u8; 36] = body.get(..36).ok_or(short)?.try_into().expect("36 bytes");
            let ip: [u8; 16] = a[..16].try_into().expect("16 bytes");
            SocketAddr::new(
                Ipv6Addr::from(ip).into(),
                u16::from_be_bytes([a[32], a[33]]),
            )
        }
        // UNSPEC or UNIX: no address of use; the TCP peer stands.
        _ => return Ok(Step::Done(local)),
    };
    Ok(Step::Done(ProxyHeader {
        version: 2,
        source: Some(source),
    }))
}

#[cfg(test)]
mod tests;
