//! How a peer's address is written: in logs, thread names, `remoteAddr` and callbacks.
//!
//! Listeners on `:PORT` bind the IPv6 wildcard in dual-stack mode, so an IPv4 peer arrives as an
//! IPv4-mapped IPv6 address (`[::ffff:1.2.3.4]:5555`). People, nginx-rtmp and SRS write it as
//! `1.2.3.4:5555`.

use std::net::SocketAddr;

/// The address with an IPv4-mapped IPv6 address turned back into the IPv4 address it carries.
pub fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// `1.2.3.4:5555` for an IPv4 peer (mapped or not), `[2001:db8::1]:5555` for an IPv6 one.
pub fn peer_text(addr: SocketAddr) -> String {
    unmapped(addr).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_peers_of_a_dual_stack_listener_read_as_ipv4() {
        let text = |s: &str| peer_text(s.parse().unwrap());
        assert_eq!(text("[::ffff:1.2.3.4]:5555"), "1.2.3.4:5555");
        assert_eq!(text("[::ffff:127.0.0.1]:1"), "127.0.0.1:1");
        assert_eq!(text("1.2.3.4:5555"), "1.2.3.4:5555");
        assert_eq!(text("[2001:db8::1]:5555"), "[2001:db8::1]:5555");
        assert_eq!(text("[::1]:80"), "[::1]:80");
        // IPv4-compatible (deprecated, ::a.b.c.d) addresses are IPv6 peers, left as they are.
        assert_eq!(text("[::1.2.3.4]:7"), "[::102:304]:7");
    }
}
