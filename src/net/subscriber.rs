//! The thread of a subscriber that sends nothing after its request (an HTTP-FLV viewer): it
//! sleeps until its sink needs it (the socket backed up, or the stream ended) or the peer sends,
//! hangs up or fails. No timer wakes it.

use super::{close_reason, SocketWire};
use crate::hub::{CloseReason, Sink};

/// Serve `sink`'s slow path on this thread until the stream ends; returns why it ended.
pub fn serve_silent_subscriber(wire: &SocketWire, sink: &Sink) -> CloseReason {
    let peer_left = |seen: CloseReason| {
        sink.stop();
        // A close asked for from outside (API, shutdown) shut the socket: that is the reason.
        sink.stream.close_requested().unwrap_or(seen)
    };
    loop {
        let ready = match wire.wait(None) {
            Ok(ready) => ready,
            Err(e) => return peer_left(close_reason(&e)),
        };
        if ready.woken {
            if let Some(reason) = sink.write_backlog() {
                return reason;
            }
        }
        if ready.readable {
            match wire.discard_input() {
                Ok(true) => {}
                Ok(false) => return peer_left(CloseReason::PeerClosed),
                Err(e) => return peer_left(close_reason(&e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{Format, Stream, StreamType, Wire};
    use crate::net::Ready;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener.accept().unwrap().0, client)
    }

    fn subscriber(server: TcpStream) -> (Arc<SocketWire>, Arc<Sink>) {
        let wire = Arc::new(SocketWire::new(server));
        wire.prepare_subscriber().unwrap();
        let stream = Arc::new(Stream::new(7, "7".into(), StreamType::HttpFlv, "t".into()));
        let sink = Sink::new(stream, Format::Flv, wire.clone());
        (wire, sink)
    }

    #[test]
    fn a_prepared_wire_sleeps_until_woken_or_the_peer_sends() {
        let (server, mut client) = pair();
        let (wire, _sink) = subscriber(server);
        let idle = wire.wait(Some(Duration::from_millis(30))).unwrap();
        assert_eq!(idle, Ready::default(), "nothing happened");
        wire.wake_owner();
        wire.wake_owner();
        let woken = wire.wait(Some(Duration::from_secs(5))).unwrap();
        assert!(woken.woken && !woken.readable);
        // The wake-ups were taken by the one wait.
        assert_eq!(wire.wait(Some(Duration::ZERO)).unwrap(), Ready::default());
        std::io::Write::write_all(&mut client, b"x").unwrap();
        let sent = wire.wait(Some(Duration::from_secs(5))).unwrap();
        assert!(sent.readable && !sent.woken);
        assert!(wire.discard_input().unwrap(), "the peer is still there");
    }

    #[test]
    fn a_silent_subscriber_writes_what_its_sink_queued_and_ends_when_the_peer_leaves() {
        let (server, mut client) = pair();
        let (wire, sink) = subscriber(server);
        let thread = {
            let (wire, sink) = (wire.clone(), sink.clone());
            std::thread::spawn(move || serve_silent_subscriber(&wire, &sink))
        };
        // Control bytes queued for the owner: its thread is woken and writes them.
        sink.send_raw(b"first".to_vec());
        let mut got = [0u8; 5];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"first");
        let started = Instant::now();
        drop(client);
        assert_eq!(thread.join().unwrap(), CloseReason::PeerClosed);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "noticed at once"
        );
    }
}
