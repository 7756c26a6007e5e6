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
//! plays, validates an HMAC digest in S1 whenever S1[4] >= 3, and zeros make it skip that check. A C1
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
mod tests {
    use super::*;

    fn c0c1(version: u8) -> Vec<u8> {
        let mut v = vec![version];
        v.extend((0..HANDSHAKE_PACKET_LEN).map(|i| (i * 7) as u8));
        v
    }

    /// Deterministic fragment sizes in 1..=max.
    fn fragments(seed: u64, data: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut rng = XorShift::new(seed);
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let n = (1 + (rng.next() as usize) % max).min(rest.len());
            out.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        out
    }

    #[test]
    fn server_answers_c0c1_with_s0_s1_with_zeros_and_s2_echoing_c1() {
        let mut server = ServerHandshake::from_parts(0x0102_0304, 42);
        let input = c0c1(3);
        let HandshakeOutcome::InProgress { response } = server.process(&input).unwrap() else {
            panic!("completed without C2");
        };
        assert_eq!(response.len(), 1 + 2 * HANDSHAKE_PACKET_LEN);
        assert_eq!(response[0], RTMP_VERSION);
        assert_eq!(&response[1..5], &[1, 2, 3, 4]);
        assert_eq!(&response[5..9], &[0, 0, 0, 0]);
        assert!(response[9..1 + HANDSHAKE_PACKET_LEN]
            .iter()
            .any(|&b| b != 0));
        assert_eq!(&response[1 + HANDSHAKE_PACKET_LEN..], &input[1..]);
    }

    #[test]
    fn server_completes_on_c2_and_keeps_the_bytes_after_it() {
        let mut server = ServerHandshake::new();
        server.process(&c0c1(3)).unwrap();
        let mut c2 = vec![0xAB; HANDSHAKE_PACKET_LEN];
        c2.extend_from_slice(b"first chunk");
        assert_eq!(
            server.process(&c2).unwrap(),
            HandshakeOutcome::Completed {
                response: vec![],
                remaining: b"first chunk".to_vec()
            }
        );
        assert_eq!(server.process(b"x"), Err(HandshakeError::AlreadyCompleted));
    }

    #[test]
    fn server_accepts_everything_in_one_read() {
        let mut server = ServerHandshake::new();
        let mut all = c0c1(3);
        all.extend_from_slice(&[0; HANDSHAKE_PACKET_LEN]);
        all.extend_from_slice(&[9, 9]);
        let HandshakeOutcome::Completed {
            response,
            remaining,
        } = server.process(&all).unwrap()
        else {
            panic!("not completed");
        };
        assert_eq!(response.len(), 1 + 2 * HANDSHAKE_PACKET_LEN);
        assert_eq!(remaining, vec![9, 9]);
    }

    #[test]
    fn server_works_one_byte_at_a_time() {
        let mut server = ServerHandshake::new();
        let mut all = c0c1(3);
        all.extend_from_slice(&[0; HANDSHAKE_PACKET_LEN]);
        let mut sent = Vec::new();
        for (i, b) in all.iter().enumerate() {
            match server.process(&[*b]).unwrap() {
                HandshakeOutcome::InProgress { response } => sent.extend(response),
                HandshakeOutcome::Completed {
                    response,
                    remaining,
                } => {
                    assert_eq!(i, all.len() - 1);
                    assert!(remaining.is_empty());
                    sent.extend(response);
                }
            }
        }
        assert_eq!(sent.len(), 1 + 2 * HANDSHAKE_PACKET_LEN);
    }

    #[test]
    fn server_treats_rtmpe_version_as_plain() {
        let mut server = ServerHandshake::new();
        let HandshakeOutcome::InProgress { response } = server.process(&c0c1(6)).unwrap() else {
            panic!()
        };
        assert_eq!(response[0], RTMP_VERSION);
    }

    #[test]
    fn server_rejects_a_bad_version_on_its_first_byte() {
        let mut server = ServerHandshake::new();
        assert_eq!(server.process(b"G"), Err(HandshakeError::BadVersion(b'G')));
    }

    #[test]
    fn client_rejects_a_bad_server_version() {
        let (mut client, _) = ClientHandshake::new();
        assert_eq!(
            client.process(&[4, 0, 0]),
            Err(HandshakeError::BadVersion(4))
        );
    }

    #[test]
    fn client_sends_c0_c1_with_zero_version_field() {
        let (_, c0c1) = ClientHandshake::from_parts(7, 1);
        assert_eq!(c0c1.len(), 1 + HANDSHAKE_PACKET_LEN);
        assert_eq!(c0c1[0], RTMP_VERSION);
        assert_eq!(&c0c1[1..9], &[0, 0, 0, 7, 0, 0, 0, 0]);
    }

    #[test]
    fn client_and_server_complete_each_other_under_random_fragmentation() {
        for seed in 1..40u64 {
            let max = [1, 2, 7, 100, 1537, 5000][(seed % 6) as usize];
            let mut server = ServerHandshake::new();
            let (mut client, c0c1) = ClientHandshake::new();

            // Client -> server: C0C1.
            let mut to_client = Vec::new();
            for frag in fragments(seed, &c0c1, max) {
                match server.process(&frag).unwrap() {
                    HandshakeOutcome::InProgress { response } => to_client.extend(response),
                    HandshakeOutcome::Completed { .. } => panic!("server completed early"),
                }
            }
            assert_eq!(&to_client[1 + HANDSHAKE_PACKET_LEN..], &c0c1[1..]);

            // Server -> client: S0S1S2 plus the server's first chunk bytes.
            to_client.extend_from_slice(b"server-hello");
            let mut c2 = None;
            let mut client_leftover = Vec::new();
            for frag in fragments(seed + 100, &to_client, max) {
                if c2.is_some() {
                    client_leftover.extend(frag);
                    continue;
                }
                match client.process(&frag).unwrap() {
                    HandshakeOutcome::InProgress { response } => assert!(response.is_empty()),
                    HandshakeOutcome::Completed {
                        response,
                        remaining,
                    } => {
                        c2 = Some(response);
                        client_leftover.extend(remaining);
                    }
                }
            }
            assert_eq!(client_leftover, b"server-hello");
            let c2 = c2.expect("client completed");
            assert_eq!(&c2[..], &to_client[1..1 + HANDSHAKE_PACKET_LEN]);

            // Client -> server: C2 plus the client's first chunk bytes.
            let mut to_server = c2;
            to_server.extend_from_slice(b"connect...");
            let mut server_leftover = Vec::new();
            let mut done = false;
            for frag in fragments(seed + 200, &to_server, max) {
                if done {
                    server_leftover.extend(frag);
                    continue;
                }
                match server.process(&frag).unwrap() {
                    HandshakeOutcome::InProgress { response } => assert!(response.is_empty()),
                    HandshakeOutcome::Completed {
                        response,
                        remaining,
                    } => {
                        assert!(response.is_empty());
                        server_leftover.extend(remaining);
                        done = true;
                    }
                }
            }
            assert!(done);
            assert_eq!(server_leftover, b"connect...");
        }
    }

    #[test]
    fn random_bytes_differ_between_handshakes() {
        let (_, a) = ClientHandshake::new();
        let (_, b) = ClientHandshake::new();
        assert_ne!(a[9..], b[9..]);
    }
}
