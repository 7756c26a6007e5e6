//! `GET /metrics` (Prometheus text format 0.0.4, written by hand) and `GET /stat` (the same
//! server-wide figures as one JSON object).
//!
//! Names follow Prometheus conventions: `_total` for counters, base units (`_bytes`,
//! `_seconds`), the standard `process_*` names for the process. Per-channel figures carry a
//! `channel` label; byte and drop figures of a channel are gauges over the connections open now
//! (they fall when a viewer leaves), so they are not named `_total`.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::handlers::Api;
use crate::hub::{ChannelStats, ServerCounters, StreamStats};

mod counters;
mod record;
mod text;

pub use counters::{CallbackCounters, RequestCounters};
#[cfg(test)]
use text::escape_label;
use text::Text;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One channel's figures, gathered from its stats and its streams' stats.
#[derive(Debug, Default)]
struct ChannelFigures {
    subscribers_by_type: HashMap<&'static str, u64>,
    publisher: bool,
    bitrate_in: u64,
    bitrate_out: u64,
    bytes_in: u64,
    bytes_out: u64,
    dropped: u64,
    buffer_bytes: usize,
    buffer_gops: usize,
    buffer_seconds: f64,
}

fn channel_figures(
    channel: &ChannelStats,
    streams: &HashMap<&str, &StreamStats>,
) -> ChannelFigures {
    let mut f = ChannelFigures {
        buffer_bytes: channel.buffer_used,
        buffer_gops: channel.buffered_gops,
        buffer_seconds: f64::from(channel.buffered_duration_ms) / 1000.0,
        ..ChannelFigures::default()
    };
    for kind in ["rtmp", "http-flv"] {
        f.subscribers_by_type.insert(kind, 0);
    }
    if let Some(p) = channel.publisher.as_deref().and_then(|id| streams.get(id)) {
        f.publisher = true;
        f.bitrate_in = p.bitrate;
        f.bytes_in = p.bytes;
    }
    for s in channel
        .subscribers
        .iter()
        .filter_map(|id| streams.get(id.as_str()))
    {
        *f.subscribers_by_type
            .entry(s.stream_type.as_str())
            .or_default() += 1;
        f.bitrate_out += s.bitrate;
        f.bytes_out += s.bytes;
        f.dropped += s.dropped_packets;
    }
    f
}

/// The process's own figures from `/proc/self`.
struct ProcessFigures {
    cpu_seconds: f64,
    resident_bytes: u64,
    threads: u64,
    open_fds: u64,
}

fn process_figures() -> Option<ProcessFigures> {
    let sample = crate::net::sys::sample_self().ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(ProcessFigures {
        cpu_seconds: sample.cpu_ticks as f64 / crate::net::sys::clock_ticks_per_second() as f64,
        resident_bytes: sample.rss_kib * 1024,
        threads: sample.threads,
        open_fds,
    })
}

/// Streams open now by protocol (`rtmp`, `http-flv`).
fn connections_by_protocol(streams: &[StreamStats]) -> Vec<(&'static str, u64)> {
    let mut counts = vec![("rtmp", 0), ("http-flv", 0)];
    for s in streams {
        let kind = s.stream_type.as_str();
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    counts
}

/// The whole `/metrics` page.
pub(super) fn render(api: &Api) -> String {
    let streams = api.hub.stream_stats();
    let mut channels = api.hub.channel_stats();
    channels.sort_by(|a, b| a.id.cmp(&b.id));
    let by_id: HashMap<&str, &StreamStats> = streams.iter().map(|s| (s.id.as_str(), s)).collect();
    let figures: Vec<(&str, ChannelFigures)> = channels
        .iter()
        .map(|c| (c.id.as_str(), channel_figures(c, &by_id)))
        .collect();
    let mut t = Text::default();

    let uptime = api.started.elapsed().as_secs_f64();
    t.single(
        "joy4_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        uptime,
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    t.single(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch, in seconds.",
        (now - uptime).floor(),
    );
    if let Some(p) = process_figures() {
        t.single(
            "process_cpu_seconds_total",
            "counter",
            "CPU time used, in seconds.",
            p.cpu_seconds,
        );
        t.single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory, in bytes.",
            p.resident_bytes,
        );
        t.single(
            "process_threads",
            "gauge",
            "Threads of the process.",
            p.threads,
        );
        t.single(
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            p.open_fds,
        );
    }

    t.family(
        "joy4_connections",
        "gauge",
        "Connections open now, by protocol.",
    );
    for (protocol, n) in connections_by_protocol(&streams) {
        t.sample("joy4_connections", &[("protocol", protocol)], n);
    }
    t.sample(
        "joy4_connections",
        &[("protocol", "api")],
        api.requests.connections(),
    );
    t.single(
        "joy4_channels",
        "gauge",
        "Channels open now.",
        channels.len(),
    );
    let counters = &api.hub.counters;
    t.single(
        "joy4_panics_total",
        "counter",
        "Connection threads that panicked (their streams were cleaned up).",
        ServerCounters::get(&counters.panics),
    );
    t.single(
        "joy4_refused_connections_total",
        "counter",
        "Connections closed at accept because a connection limit was reached.",
        ServerCounters::get(&counters.refused_connections),
    );

    type Gauge<'a> = (&'a str, &'a str, fn(&ChannelFigures) -> f64);
    let per_channel: [Gauge; 9] = [
        (
            "joy4_channel_publisher",
            "Whether the channel has a publisher (1) or not (0).",
            |f| f64::from(u8::from(f.publisher)),
        ),
        (
            "joy4_channel_in_bitrate_bits_per_second",
            "Bit rate received from the publisher.",
            |f| f.bitrate_in as f64,
        ),
        (
            "joy4_channel_out_bitrate_bits_per_second",
            "Bit rate sent to all subscribers together.",
            |f| f.bitrate_out as f64,
        ),
        (
            "joy4_channel_received_bytes",
            "Bytes received by the current publisher's connection.",
            |f| f.bytes_in as f64,
        ),
        (
            "joy4_channel_sent_bytes",
            "Bytes sent by the current subscribers' connections.",
            |f| f.bytes_out as f64,
        ),
        (
            "joy4_channel_dropped_packets",
            "Packets the current subscribers dropped for being slow.",
            |f| f.dropped as f64,
        ),
        (
            "joy4_channel_buffer_bytes",
            "Bytes the channel's buffer holds.",
            |f| f.buffer_bytes as f64,
        ),
        (
            "joy4_channel_buffer_gops",
            "GOPs the channel's buffer holds.",
            |f| f.buffer_gops as f64,
        ),
        (
            "joy4_channel_buffer_seconds",
            "Media time the channel's buffer holds.",
            |f| f.buffer_seconds,
        ),
    ];
    t.family(
        "joy4_channel_subscribers",
        "gauge",
        "Subscribers of the channel, by type.",
    );
    for (channel, f) in &figures {
        let mut kinds: Vec<_> = f.subscribers_by_type.iter().collect();
        kinds.sort();
        for (kind, n) in kinds {
            t.sample(
                "joy4_channel_subscribers",
                &[("channel", channel), ("type", kind)],
                n,
            );
        }
    }
    for (name, help, value) in &per_channel {
        t.family(name, "gauge", help);
        for (channel, f) in &figures {
            t.sample(name, &[("channel", channel)], value(f));
        }
    }

    if let Some(cb) = &api.callback {
        let stats = cb.stats();
        t.single(
            "joy4_callbacks_sent_total",
            "counter",
            "Callback POSTs answered with a 2xx status.",
            stats.sent,
        );
        t.single(
            "joy4_callbacks_failed_total",
            "counter",
            "Callback POSTs that failed.",
            stats.failed,
        );
        t.single(
            "joy4_callbacks_dropped_total",
            "counter",
            "Callback events never posted (a full queue, or a close event took their place).",
            stats.dropped,
        );
        t.single(
            "joy4_callbacks_queued",
            "gauge",
            "Callback events waiting to be sent.",
            stats.queued,
        );
        t.family(
            "joy4_callback_events_total",
            "counter",
            "Callback events by event name and what became of them.",
        );
        for (event, counts) in &stats.events {
            for (fate, n) in [
                ("sent", counts.sent),
                ("failed", counts.failed),
                ("dropped", counts.dropped),
            ] {
                t.sample(
                    "joy4_callback_events_total",
                    &[("event", event), ("fate", fate)],
                    n,
                );
            }
        }
    }
    t.single(
        "joy4_event_readers",
        "gauge",
        "Readers of GET /events connected now.",
        api.events.readers(),
    );
    t.single(
        "joy4_event_dropped_total",
        "counter",
        "Events not delivered to a GET /events reader that did not keep up.",
        api.events.dropped(),
    );
    t.family(
        "joy4_api_requests_total",
        "counter",
        "API answers sent, by status class.",
    );
    for (class, n) in api.requests.by_class() {
        t.sample("joy4_api_requests_total", &[("code", &class)], n);
    }
    record::render(&mut t, api.recorder.is_some());
    t.0
}

/// `GET /stat`: the server in one object.
pub(super) fn stat_json(api: &Api) -> Value {
    let streams = api.hub.stream_stats();
    let mut connections = serde_json::Map::new();
    for (protocol, n) in connections_by_protocol(&streams) {
        connections.insert(protocol.into(), json!(n));
    }
    connections.insert("api".into(), json!(api.requests.connections()));
    let counters = &api.hub.counters;
    let requests: serde_json::Map<String, Value> = api
        .requests
        .by_class()
        .map(|(k, n)| (k, json!(n)))
        .collect();
    json!({
        "version": crate::config::VERSION,
        "uptime": api.started.elapsed().as_secs_f64(),
        "connections": connections,
        "streams": streams.len(),
        "channels": api.hub.channel_stats().len(),
        "panics": ServerCounters::get(&counters.panics),
        "refusedConnections": ServerCounters::get(&counters.refused_connections),
        "callbacks": api.callback.as_ref().map(|cb| serde_json::to_value(cb.stats()).unwrap_or_default()),
        "events": { "readers": api.events.readers(), "dropped": api.events.dropped() },
        "apiRequests": requests,
    })
}

#[cfg(test)]
mod tests;
