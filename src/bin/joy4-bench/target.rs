//! Where the bench connects: an RTMP URL (parsed by the project's `rtmp::client::RtmpUrl`) or an
//! HTTP-FLV URL, and the socket helpers of a subscriber's setup.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use joy4::rtmp::client::{parse_authority, RtmpUrl};
use joy4::rtmp::handshake::{ClientHandshake, HandshakeOutcome};

/// What subscribers open (and, RTMP only, where the publisher publishes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Rtmp(RtmpUrl),
    /// `http://host[:port]/path?query`: `path` includes the query.
    Http {
        host: String,
        port: u16,
        path: String,
    },
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, String> {
        if let Some(rest) = text.strip_prefix("http://") {
            let (authority, path) = match rest.find(['/', '?']) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let (host, port) =
                parse_authority(authority, 80).map_err(|e| format!("bad URL {text:?}: {e}"))?;
            let path = if path.starts_with('/') {
                path.to_string()
            } else {
                format!("/{path}")
            };
            return Ok(Target::Http { host, port, path });
        }
        if text.starts_with("rtmp://") {
            return RtmpUrl::parse(text)
                .map(Target::Rtmp)
                .map_err(|e| e.to_string());
        }
        Err(format!("{text:?}: expected rtmp://… or http://…"))
    }

    pub fn protocol(&self) -> &'static str {
        match self {
            Target::Rtmp(_) => "rtmp",
            Target::Http { .. } => "http-flv",
        }
    }

    pub fn host(&self) -> &str {
        match self {
            Target::Rtmp(u) => &u.host,
            Target::Http { host, .. } => host,
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Target::Rtmp(u) => u.port,
            Target::Http { port, .. } => *port,
        }
    }

    /// `host:port`, with brackets around an IPv6 host.
    pub fn authority(&self) -> String {
        let host = self.host();
        if host.contains(':') {
            format!("[{host}]:{}", self.port())
        } else {
            format!("{host}:{}", self.port())
        }
    }

    pub fn resolve(&self) -> io::Result<SocketAddr> {
        (self.host(), self.port())
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host has no address"))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Rtmp(u) => write!(f, "{u}"),
            Target::Http { path, .. } => write!(f, "http://{}{path}", self.authority()),
        }
    }
}

/// One `GET` of an HTTP target, read to its end: the status code.
pub fn http_get_status(target: &Target, timeout: Duration) -> io::Result<u16> {
    let Target::Http { path, .. } = target else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not http://"));
    };
    let mut stream = connect(target.resolve()?, timeout)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: joy4-bench\r\nConnection: close\r\n\r\n",
        target.authority()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
    head.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no status: {head:?}")))
}

/// Connect with a timeout and set the socket up for a subscriber (no Nagle, read/write timeouts).
pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// Run the RTMP client handshake; returns the bytes the server sent after S2 (its first chunks).
pub fn handshake(stream: &mut TcpStream, deadline: Instant) -> io::Result<Vec<u8>> {
    let (mut hs, c0c1) = ClientHandshake::new();
    stream.write_all(&c0c1)?;
    let mut buf = [0u8; 4096];
    loop {
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "handshake timed out",
            ));
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed during the handshake",
            ));
        }
        match hs.process(&buf[..n]) {
            Ok(HandshakeOutcome::InProgress { response }) => {
                if !response.is_empty() {
                    stream.write_all(&response)?;
                }
            }
            Ok(HandshakeOutcome::Completed {
                response,
                remaining,
            }) => {
                stream.write_all(&response)?;
                return Ok(remaining);
            }
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtmp_targets_use_the_clients_url_rules() {
        let Target::Rtmp(u) = Target::parse("rtmp://127.0.0.1:1936/live/bench").unwrap() else {
            panic!("not rtmp");
        };
        assert_eq!(
            (u.host.as_str(), u.port, u.app.as_str(), u.name.as_str()),
            ("127.0.0.1", 1936, "live", "bench")
        );
        let t = Target::parse("rtmp://127.0.0.1:1936/live/bench").unwrap();
        assert_eq!(t.protocol(), "rtmp");
        assert_eq!(t.authority(), "127.0.0.1:1936");
        assert!(Target::parse("rtmp://host").is_err());
    }

    #[test]
    fn http_targets_keep_path_and_query() {
        let t = Target::parse("http://127.0.0.1:8081/live/bench.flv?x=1").unwrap();
        assert_eq!(
            t,
            Target::Http {
                host: "127.0.0.1".into(),
                port: 8081,
                path: "/live/bench.flv?x=1".into()
            }
        );
        assert_eq!(t.protocol(), "http-flv");
        assert_eq!(t.to_string(), "http://127.0.0.1:8081/live/bench.flv?x=1");
        assert_eq!(
            Target::parse("http://[::1]/x.flv").unwrap().authority(),
            "[::1]:80"
        );
        assert!(Target::parse("http://h:0/x").is_err());
        assert!(Target::parse("ftp://h/x").is_err());
    }
}
