//! Listen addresses and log levels as flags spell them.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// Where a listener binds. `:PORT` means every interface (IPv6 and IPv4 where the host has both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    AllInterfaces(u16),
    Specific(SocketAddr),
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::AllInterfaces(port) => write!(f, ":{port}"),
            ListenAddr::Specific(addr) => write!(f, "{addr}"),
        }
    }
}

impl ListenAddr {
    pub fn parse(text: &str) -> Result<ListenAddr, String> {
        if let Some(port) = text.strip_prefix(':') {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("bad port in {text:?}"))?;
            return Ok(ListenAddr::AllInterfaces(port));
        }
        if !text.contains(':') {
            return Err(format!("{text:?} is not HOST:PORT or :PORT"));
        }
        let mut addrs = text
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {text:?}: {e}"))?;
        addrs
            .next()
            .map(ListenAddr::Specific)
            .ok_or_else(|| format!("{text:?} resolves to no address"))
    }

    /// Bind a blocking listener. For `:PORT`, try the dual-stack IPv6 wildcard first, then IPv4.
    pub fn bind(&self) -> std::io::Result<std::net::TcpListener> {
        match self {
            ListenAddr::AllInterfaces(port) => {
                std::net::TcpListener::bind(("::", *port)).or_else(|v6_err| {
                    std::net::TcpListener::bind(("0.0.0.0", *port)).map_err(|v4_err| {
                        // Report the IPv4 error unless IPv6 failed for the same reason.
                        if v4_err.kind() == std::io::ErrorKind::AddrInUse {
                            v4_err
                        } else {
                            v6_err
                        }
                    })
                })
            }
            ListenAddr::Specific(addr) => std::net::TcpListener::bind(addr),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub fn to_filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
        }
    }
}
