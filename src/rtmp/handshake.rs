//! The RTMP "simple" handshake, sans-IO: bytes in, bytes to send out.
//!
//! ```text
//! client                                server
//!   C0 (1 byte: version 3)
//!   C1 (1536 bytes)        ------->
//!                          <-------     S0 (version 3) + S1 (1536) + S2 (echo of C1)
//!   C2 (echo of S1)        ------->
//! ```
//!
//! C1/S1 layout (1536 bytes):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          time (BE)                            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 zero (or a version: "complex" mode)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    random bytes (1528) ...                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! We never produce the digest ("complex") form. S1 bytes 4..8 stay zero on purpose: ffmpeg, when it
//! plays, validates an HMAC digest in S1 whenever `S1[4] >= 3`, and zeros make it skip that check. A C1
//! that carries a digest (ffmpeg sends one) is simply echoed back like any other C1.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

pub const RTMP_VERSION: u8 = 3;
pub const HANDSHAKE_PACKET_LEN: usize = 1536;

/// C0 value of RTMPE (encrypted RTMP). We answer it with a plain handshake, which clients that asked
/// for RTMPE opportunistically accept.
const RTMPE_VERSION: u8 = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeOutcome {
    /// Send `response` (possibly empty) and feed more bytes.
    InProgress { response: Vec<u8> },
    /// Send `response`; `remaining` are bytes that followed the handshake (the peer's first chunks)
    /// and belong to the chunk reader.
    Completed {
        response: Vec<u8>,
        remaining: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The peer's C0/S0 is not a version we speak.
    BadVersion(u8),
    /// `process` was called again after the handshake had completed.
    AlreadyCompleted,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::BadVersion(v) => {
                write!(
                    f,
                    "unsupported RTMP handshake version {v} (expected {RTMP_VERSION})"
                )
            }
            HandshakeError::AlreadyCompleted => write!(f, "handshake already completed"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Append bytes from `input` to `buf` until it holds `want` bytes; returns the rest of `input`.
fn fill<'a>(buf: &mut Vec<u8>, want: usize, input: &'a [u8]) -> &'a [u8] {
    let take = want.saturating_sub(buf.len()).min(input.len());
    buf.extend_from_slice(&input[..take]);
    &input[take..]
}

#[derive(Debug)]
enum ServerState {
    /// Collecting C0 + C1 (1 + 1536 bytes).
    AwaitC0C1 {
        buf: Vec<u8>,
    },
    /// S0+S1+S2 produced; counting C2 bytes (content is not checked, so not kept).
    AwaitC2 {
        received: usize,
    },
    Done,
}

/// Server side of the handshake.
#[derive(Debug)]
pub struct ServerHandshake {
    state: ServerState,
    time: u32,
    rng: XorShift,
}

impl Default for ServerHandshake {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerHandshake {
    pub fn new() -> Self {
        Self::from_parts(epoch_millis(), random_seed())
    }

    fn from_parts(time: u32, seed: u64) -> Self {
        ServerHandshake {
            state: ServerState::AwaitC0C1 {
                buf: Vec::with_capacity(1 + HANDSHAKE_PACKET_LEN),
            },
            time,
            rng: XorShift::new(seed),
        }
    }

    /// Feed bytes received from the client, in any fragmentation.
    pub fn process(&mut self, bytes: &[u8]) -> Result<HandshakeOutcome, HandshakeError> {
        let mut input = bytes;
        let mut response = Vec::new();
        if let ServerState::AwaitC0C1 { buf } = &mut self.state {
            input = fill(buf, 1 + HANDSHAKE_PACKET_LEN, input);
            // Reject a wrong version as soon as its first byte is in, not after 1536 more.
            if let Some(&version) = buf.first() {
                if version != RTMP_VERSION && version != RTMPE_VERSION {
                    return Err(HandshakeError::BadVersion(version));
                }
            }
            if buf.len() < 1 + HANDSHAKE_PACKET_LEN {
                return Ok(HandshakeOutcome::InProgress { response });
            }
            response.reserve(1 + 2 * HANDSHAKE_PACKET_LEN);
            response.push(RTMP_VERSION);
            // S1: time, four zero bytes (see the module comment), random.
            response.extend_from_slice(&self.time.to_be_bytes());
            response.extend_from_slice(&[0; 4]);
            self.rng.fill(&mut response, HANDSHAKE_PACKET_LEN - 8);
            // S2: echo of C1.
            response.extend_from_slice(&buf[1..]);
            self.state = ServerState::AwaitC2 { received: 0 };
        }
        match &mut self.state {
            ServerState::AwaitC0C1 { .. } => unreachable!("handled above"),
            ServerState::AwaitC2 { received } => {
                let take = (HANDSHAKE_PACKET_LEN - *received).min(input.len());
                *received += take;
                if *received < HANDSHAKE_PACKET_LEN {
                    return Ok(HandshakeOutcome::InProgress { response });
                }
                self.state = ServerState::Done;
                Ok(HandshakeOutcome::Completed {
                    response,
                    remaining: input[take..].to_vec(),
                })
            }
            ServerState::Done => Err(HandshakeError::AlreadyCompleted),
        }
    }
}

#[derive(Debug)]
enum ClientState {
    /// Collecting S0 + S1 + S2 (1 + 2 * 1536 bytes).
    AwaitS0S1S2 {
        buf: Vec<u8>,
    },
    Done,
}

/// Client side of the handshake.
#[derive(Debug)]
pub struct ClientHandshake {
    state: ClientState,
}

impl ClientHandshake {
    /// A new client handshake and the C0+C1 bytes to send right away.
    pub fn new() -> (Self, Vec<u8>) {
        Self::from_parts(epoch_millis(), random_seed())
    }

    fn from_parts(time: u32, seed: u64) -> (Self, Vec<u8>) {
        let mut c0c1 = Vec::with_capacity(1 + HANDSHAKE_PACKET_LEN);
        c0c1.push(RTMP_VERSION);
        c0c1.extend_from_slice(&time.to_be_bytes());
        // Zeros: we do not offer the digest handshake.
        c0c1.extend_from_slice(&[0; 4]);
        XorShift::new(seed).fill(&mut c0c1, HANDSHAKE_PACKET_LEN - 8);
        let hs = ClientHandshake {
            state: ClientState::AwaitS0S1S2 {
                buf: Vec::with_capacity(1 + 2 * HANDSHAKE_PACKET_LEN),
            },
        };
        (hs, c0c1)
    }

    /// Feed bytes received from the server, in any fragmentation.
    pub fn process(&mut self, bytes: &[u8]) -> Result<HandshakeOutcome, HandshakeError> {
        let ClientState::AwaitS0S1S2 { buf } = &mut self.state else {
            return Err(HandshakeError::AlreadyCompleted);
        };
        let rest = fill(buf, 1 + 2 * HANDSHAKE_PACKET_LEN, bytes);
        if let Some(&version) = buf.first() {
            if version != RTMP_VERSION {
                return Err(HandshakeError::BadVersion(version));
            }
        }
        if buf.len() < 1 + 2 * HANDSHAKE_PACKET_LEN {
            return Ok(HandshakeOutcome::InProgress {
                response: Vec::new(),
            });
        }
        // C2 echoes S1. S2 is not checked: servers doing the digest handshake do not echo C1 exactly.
        let response = buf[1..1 + HANDSHAKE_PACKET_LEN].to_vec();
        let remaining = rest.to_vec();
        self.state = ClientState::Done;
        Ok(HandshakeOutcome::Completed {
            response,
            remaining,
        })
    }
}

/// Milliseconds since the epoch, truncated: the handshake time field is only an opaque epoch.
fn epoch_millis() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u32)
        .unwrap_or(0)
}

/// A seed that differs between handshakes: std's `RandomState` keys come from the OS once per thread
/// and change with every instance; mixed with the clock for good measure.
fn random_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    hasher.write_u64(nanos);
    hasher.finish()
}

/// xorshift64*: the random part of C1/S1 only needs to look random, not to be secret.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Zero is xorshift's fixed point.
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, out: &mut Vec<u8>, len: usize) {
        let end = out.len() + len;
        while out.len() < end {
            let word = self.next().to_le_bytes();
            let take = (end - out.len()).min(word.len());
            out.extend_from_slice(&word[..take]);
        }
    }
}

#[cfg(test)]
mod tests;
