//! The accept loop of the media listeners (RTMP, the media HTTP port): connection limits, the
//! PROXY protocol header of trusted balancers, one thread per connection and then a lean one
//! for the rest of its life.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::limits::{ConnectionLimits, ConnectionSlot};
use super::proxied::{read_header, sends_header, ProxyTrust};
use super::{
    set_keepalive, signals, spawn, spawn_lean, unmapped, CONNECTION_STACK, KEEPALIVE_IDLE,
    KEEPALIVE_INTERVAL, KEEPALIVE_PROBES, STREAMING_STACK,
};

/// The rest of a connection's life after its setup, which `accept_loop` runs on a fresh thread
/// with a small stack while the setup's thread ends. A viewer lives for hours: this way it keeps
/// only the memory it uses, not the stack pages its setup touched nor the allocator's per-thread
/// cache of what the setup freed. A connection still has one thread at any time.
pub struct Continuation(Box<dyn FnOnce() + Send>);

impl Continuation {
    pub fn new(rest: impl FnOnce() + Send + 'static) -> Continuation {
        Continuation(Box::new(rest))
    }
}

/// How a media listener accepts: the connection limits it shares with the other listeners,
/// what to do for each connection refused by them, and which peers speak PROXY protocol.
#[derive(Clone)]
pub struct AcceptPolicy {
    pub limits: Arc<ConnectionLimits>,
    pub on_refused: Arc<dyn Fn() + Send + Sync>,
    /// `-proxyprotocol`: `None` reads no header and looks for none (nothing changes).
    pub proxy: Option<Arc<ProxyTrust>>,
    /// A PROXY header refused: bad, slow, or from a peer that may not send one.
    pub on_bad_proxy_header: Arc<dyn Fn() + Send + Sync>,
}

impl AcceptPolicy {
    /// No limits (tests and tools).
    pub fn unlimited() -> AcceptPolicy {
        AcceptPolicy {
            limits: ConnectionLimits::unlimited(),
            on_refused: Arc::new(|| {}),
            proxy: None,
            on_bad_proxy_header: Arc::new(|| {}),
        }
    }
}

/// Settle who the client of a fresh connection is, before its protocol starts: a trusted peer's
/// PROXY header names it (`tcp_peer` otherwise); an untrusted peer that opens with a PROXY header
/// is refused. `None`: close (the policy's counter was told). Waits at most 5 s.
pub fn proxied_peer(
    socket: &TcpStream,
    tcp_peer: SocketAddr,
    accepted: Instant,
    proxy: Option<&ProxyTrust>,
    protocol: &str,
    on_bad_header: &(dyn Fn() + Send + Sync),
) -> Option<SocketAddr> {
    let Some(proxy) = proxy else {
        return Some(tcp_peer);
    };
    if !proxy.trusts(tcp_peer.ip()) {
        if sends_header(socket, accepted) {
            on_bad_header();
            log::warn!(
                "{protocol} {tcp_peer}: a PROXY protocol header from an untrusted peer; closing"
            );
            return None;
        }
        return Some(tcp_peer);
    }
    match read_header(socket, accepted) {
        Ok(header) => Some(header.source.map(unmapped).unwrap_or(tcp_peer)),
        Err(e) => {
            on_bad_header();
            log::warn!("{protocol} {tcp_peer}: {e}; closing");
            None
        }
    }
}

/// Accept connections until the listener is stopped (`stop_listener`), each on its own
/// named thread running `handle`, and then the `Continuation` it may return on a fresh thread
/// with a small stack. A connection over a limit of `policy` is closed at once, without a
/// thread; admitted ones get TCP keepalive. A trusted balancer's connection is admitted in
/// the total, then counted per address once its PROXY header has named the client.
pub fn accept_loop(
    listener: TcpListener,
    protocol: &'static str,
    policy: AcceptPolicy,
    handle: impl Fn(TcpStream, SocketAddr) -> Option<Continuation> + Send + Sync + Clone + 'static,
) {
    for conn in listener.incoming() {
        match conn {
            Ok(socket) => {
                let accepted = Instant::now();
                let peer = socket
                    .peer_addr()
                    .map(unmapped)
                    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                let trusted = policy.proxy.as_ref().is_some_and(|p| p.trusts(peer.ip()));
                let admitted = if trusted {
                    policy.limits.admit_unnamed()
                } else {
                    policy.limits.admit(peer.ip())
                };
                let slot = match admitted {
                    Ok(slot) => slot,
                    Err(refusal) => {
                        (policy.on_refused)();
                        log::debug!("{protocol}: refusing {peer}: {refusal:?} connections open");
                        drop(socket);
                        continue;
                    }
                };
                set_keepalive(
                    &socket,
                    KEEPALIVE_IDLE,
                    KEEPALIVE_INTERVAL,
                    KEEPALIVE_PROBES,
                );
                let handle = handle.clone();
                let policy_here = policy.clone();
                let name = format!("{protocol}-{peer}");
                let spawned = spawn(name.clone(), CONNECTION_STACK, move || {
                    let Some((peer, slot)) =
                        settle_client(&socket, peer, accepted, slot, &policy_here, protocol)
                    else {
                        return;
                    };
                    let Some(rest) = handle(socket, peer) else {
                        drop(slot);
                        return;
                    };
                    // Should no thread start, the closure is dropped unrun: what it holds
                    // (the connection's stream guard, its socket, its slot) closes it.
                    let spawned = spawn_lean(&name, STREAMING_STACK, move || {
                        (rest.0)();
                        drop(slot);
                    });
                    if let Err(e) = spawned {
                        log::warn!("{protocol}: cannot start the streaming thread for {peer}: {e}");
                    }
                });
                if let Err(e) = spawned {
                    log::warn!("{protocol}: cannot start a thread for {peer}: {e}");
                }
            }
            Err(e) if signals::is_listener_stopped(&e) => {
                log::debug!("{protocol}: listener stopped");
                return;
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log::warn!("{protocol}: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// The client of a connection and its slot, counted per address; `None`: closed.
fn settle_client(
    socket: &TcpStream,
    tcp_peer: SocketAddr,
    accepted: Instant,
    mut slot: ConnectionSlot,
    policy: &AcceptPolicy,
    protocol: &str,
) -> Option<(SocketAddr, ConnectionSlot)> {
    let Some(proxy) = policy.proxy.as_deref() else {
        return Some((tcp_peer, slot));
    };
    let trusted = proxy.trusts(tcp_peer.ip());
    let peer = proxied_peer(
        socket,
        tcp_peer,
        accepted,
        Some(proxy),
        protocol,
        &*policy.on_bad_proxy_header,
    )?;
    if trusted {
        if let Err(refusal) = slot.claim_address(peer.ip()) {
            (policy.on_refused)();
            log::debug!(
                "{protocol}: refusing {peer} (via {tcp_peer}): {refusal:?} connections open"
            );
            return None;
        }
        log::debug!("{protocol}: {peer} via {tcp_peer}");
    }
    Some((peer, slot))
}
