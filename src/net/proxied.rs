//! Who must open with a PROXY protocol header (`-proxyprotocol=CIDR,...`), and reading it off a
//! socket: a trusted peer's header names the client, whose address then stands for the
//! connection (`remoteAddr`, `-maxconnperip`, logs, callbacks); any other peer that sends one is
//! refused.

use std::fmt;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::proxy_protocol::{
    next_step, starts_like_header, undecided, ProxyHeader, ProxyHeaderError, Step,
};
use super::{unmapped, wait_ready};

/// A PROXY header must have arrived this long after the connection was accepted.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// An address range, `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = ip
            .parse()
            .map_err(|_| format!("{text:?} is not an address or address/prefix"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("{text:?}: the prefix length is not 0 to {max}")),
            },
        };
        Ok(Cidr {
            network: unmapped(SocketAddr::new(network, 0)).ip(),
            prefix,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmapped(SocketAddr::new(ip, 0)).ip();
        let (net, ip, bits) = match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => (u32::from(n) as u128, u32::from(i) as u128, 32),
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
            _ => return false,
        };
        let host_bits = bits - self.prefix as u32;
        host_bits >= bits || (net >> host_bits) == (ip >> host_bits)
    }
}

/// The peers that must open with a PROXY header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyTrust {
    ranges: Vec<Cidr>,
}

impl ProxyTrust {
    pub fn new(ranges: Vec<Cidr>) -> ProxyTrust {
        ProxyTrust { ranges }
    }

    /// `-proxyprotocol=CIDR[,CIDR]`.
    pub fn parse_list(text: &str) -> Result<ProxyTrust, String> {
        let ranges = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Cidr::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if ranges.is_empty() {
            return Err("no address range given".into());
        }
        Ok(ProxyTrust { ranges })
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    pub fn ranges(&self) -> &[Cidr] {
        &self.ranges
    }
}

/// Read a PROXY header from a trusted peer within [`HEADER_TIMEOUT`] (of `accepted`), exactly
/// its bytes: the socket is left at the first byte of what follows.
pub fn read_header(socket: &TcpStream, accepted: Instant) -> Result<ProxyHeader, ProxyHeaderError> {
    let deadline = accepted + HEADER_TIMEOUT;
    let mut buf = Vec::with_capacity(64);
    loop {
        let need = match next_step(&buf)? {
            Step::Done(header) => {
                let _ = socket.set_read_timeout(None);
                return Ok(header);
            }
            Step::Need(n) => n,
        };
        let start = buf.len();
        buf.resize(start + need, 0);
        let mut filled = start;
        while filled < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ProxyHeaderError::TooSlow);
            }
            let _ = socket.set_read_timeout(Some(left));
            match (&*socket).read(&mut buf[filled..]) {
                Ok(0) => return Err(ProxyHeaderError::Truncated),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if super::is_timeout(&e) => return Err(ProxyHeaderError::TooSlow),
                Err(_) => return Err(ProxyHeaderError::Truncated),
            }
        }
    }
}

/// Whether an untrusted peer opens with (the start of) a PROXY header, looking at its first
/// bytes without taking them. Waits up to [`HEADER_TIMEOUT`] for its first bytes; a peer that
/// sends nothing is left to the protocol's own timeouts.
pub fn sends_header(socket: &TcpStream, accepted: Instant) -> bool {
    let deadline = accepted + HEADER_TIMEOUT;
    let mut buf = [0u8; 8];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if !matches!(
            wait_ready(socket.as_raw_fd(), libc::POLLIN, Some(left)),
            Ok(true)
        ) {
            return false;
        }
        let n = match socket.peek(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        if n == 0 || !undecided(&buf[..n]) {
            return starts_like_header(&buf[..n]);
        }
        // "PRO": wait for the few bytes that tell a header from anything else.
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn ranges_contain_their_addresses_ipv4_mapped_included() {
        let trust = ProxyTrust::parse_list("10.0.0.0/8, 192.168.1.7,2001:db8::/32").unwrap();
        let has = |ip: &str| trust.trusts(ip.parse().unwrap());
        assert!(has("10.200.3.4"));
        assert!(has("::ffff:10.1.2.3"));
        assert!(has("192.168.1.7"));
        assert!(!has("192.168.1.8"));
        assert!(has("2001:db8:1::5"));
        assert!(!has("2001:db9::5"));
        assert!(!has("11.0.0.1"));
        assert!(ProxyTrust::parse_list("0.0.0.0/0")
            .unwrap()
            .trusts("8.8.8.8".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(ProxyTrust::parse_list(bad).is_err(), "{bad}");
        }
    }

    fn pair() -> (TcpStream, TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (client, listener.accept().unwrap().0)
    }

    #[test]
    fn a_header_is_read_exactly_and_the_protocol_behind_it_is_left() {
        let (mut client, server) = pair();
        client
            .write_all(b"PROXY TCP4 203.0.113.9 10.0.0.1 4000 1935\r\n\x03C1")
            .unwrap();
        let header = read_header(&server, Instant::now()).unwrap();
        assert_eq!(header.source, Some("203.0.113.9:4000".parse().unwrap()));
        let mut rest = [0u8; 3];
        (&server).read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"\x03C1");
    }

    #[test]
    fn a_slow_or_truncated_header_is_refused_within_its_bound() {
        let (mut client, server) = pair();
        client.write_all(b"PROX").unwrap();
        let started = Instant::now() - HEADER_TIMEOUT + Duration::from_millis(200);
        assert_eq!(
            read_header(&server, started).unwrap_err(),
            ProxyHeaderError::TooSlow
        );
        let (mut client, server) = pair();
        client.write_all(b"PROXY TCP4 1.2").unwrap();
        drop(client);
        assert_eq!(
            read_header(&server, Instant::now()).unwrap_err(),
            ProxyHeaderError::Truncated
        );
    }

    #[test]
    fn an_untrusted_peer_is_seen_sending_a_header_without_taking_its_bytes() {
        let (mut client, server) = pair();
        client
            .write_all(b"PROXY TCP4 1.2.3.4 1.2.3.5 1 2\r\n")
            .unwrap();
        assert!(sends_header(&server, Instant::now()));
        let (mut client, server) = pair();
        client.write_all(b"POST /x HTTP/1.1\r\n").unwrap();
        assert!(!sends_header(&server, Instant::now()));
        let mut first = [0u8; 4];
        (&server).read_exact(&mut first).unwrap();
        assert_eq!(&first, b"POST");
    }
}
