//! The server-wide counters of `/metrics`: bytes by protocol, connections accepted and refused,
//! streams closed by reason, packets dropped, HLS requests by kind, panics. They only grow.

use super::text::Text;
use crate::hub::counters::CLOSE_REASONS;
use crate::hub::{HlsRequestKind, Listener, Protocol, ServerCounters};

pub(super) fn render(t: &mut Text, c: &ServerCounters) {
    t.family(
        "joy4_received_bytes_total",
        "counter",
        "Bytes received from clients and origins, by protocol (relay: pulls and pushes).",
    );
    for p in Protocol::ALL {
        let value = c.traffic.received(p);
        t.sample(
            "joy4_received_bytes_total",
            &[("protocol", p.as_str())],
            value,
        );
    }
    t.family(
        "joy4_sent_bytes_total",
        "counter",
        "Bytes sent to players and viewers, by protocol (relay: pulls and pushes).",
    );
    for p in Protocol::ALL {
        t.sample(
            "joy4_sent_bytes_total",
            &[("protocol", p.as_str())],
            c.traffic.sent(p),
        );
    }
    t.family(
        "joy4_accepted_connections_total",
        "counter",
        "Connections accepted within the connection limits, by listener (http: the media port).",
    );
    for l in Listener::ALL {
        let value = c.accepted_on(l);
        t.sample(
            "joy4_accepted_connections_total",
            &[("protocol", l.as_str())],
            value,
        );
    }
    t.single(
        "joy4_refused_connections_total",
        "counter",
        "Connections closed at accept because a connection limit was reached.",
        ServerCounters::get(&c.refused_connections),
    );
    t.single(
        "joy4_bad_proxy_headers_total",
        "counter",
        "Connections closed for their PROXY protocol header: bad, slow, or from an untrusted peer.",
        ServerCounters::get(&c.bad_proxy_headers),
    );
    t.family(
        "joy4_closed_streams_total",
        "counter",
        "Streams closed, by the reason their streamClose reports.",
    );
    for reason in CLOSE_REASONS {
        let value = c.closed_for(reason);
        t.sample(
            "joy4_closed_streams_total",
            &[("reason", reason.as_str())],
            value,
        );
    }
    t.single(
        "joy4_dropped_packets_total",
        "counter",
        "Packets subscribers skipped for being too slow, on every channel.",
        c.dropped_packets(),
    );
    t.family(
        "joy4_hls_requests_total",
        "counter",
        "HLS requests, by kind (entry: the playlist that opens a session).",
    );
    for kind in HlsRequestKind::ALL {
        let value = c.hls_requests(kind);
        t.sample("joy4_hls_requests_total", &[("kind", kind.as_str())], value);
    }
    t.single(
        "joy4_panics_total",
        "counter",
        "Connection threads that panicked (their streams were cleaned up).",
        ServerCounters::get(&c.panics),
    );
}
