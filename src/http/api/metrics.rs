//! `GET /metrics` (Prometheus text format 0.0.4, written by hand) and `GET /stat` (the same
//! server-wide figures as one JSON object).
//!
//! Names follow Prometheus conventions: `_total` for counters (which only grow, for the server's
//! or the channel's life), base units (`_bytes`, `_seconds`), the standard `process_*` names for
//! the process. Per-channel figures carry a `channel` label. Files: `server` (the server-wide
//! counters), `channels` (the per-channel families), `text` (the format), `counters` (what the
//! API itself counts).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::http::events::EventBroadcaster;
use crate::hub::{Hub, Protocol, ServerCounters, StreamStats};

mod channels;
mod counters;
mod record;
mod server;
mod text;

pub use counters::{CallbackCounters, RequestCounters};
#[cfg(test)]
use text::escape_label;
use text::Text;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The process's own figures from `/proc/self`.
struct ProcessFigures {
    cpu_seconds: f64,
    resident_bytes: u64,
    threads: u64,
    open_fds: u64,
    max_fds: Option<u64>,
}

/// The soft open-file limit, from `/proc/self/limits` ("Max open files  1024  4096  files").
fn max_fds() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn process_figures() -> Option<ProcessFigures> {
    let sample = crate::net::sys::sample_self().ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(ProcessFigures {
        cpu_seconds: sample.cpu_ticks as f64 / crate::net::sys::clock_ticks_per_second() as f64,
        resident_bytes: sample.rss_kib * 1024,
        threads: sample.threads,
        open_fds,
        max_fds: max_fds(),
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

/// What `/metrics` and `/stat` are read from: the API's state, lent by its handler.
pub(super) struct Sources<'a> {
    pub hub: &'a Hub,
    pub callback: Option<&'a dyn CallbackCounters>,
    pub events: &'a EventBroadcaster,
    pub requests: &'a RequestCounters,
    pub started: std::time::Instant,
    /// Recording is on (`-recorddir`): its lines are shown.
    pub recording: bool,
}

/// The whole `/metrics` page.
pub(super) fn render(api: &Sources<'_>) -> String {
    let streams = api.hub.stream_stats();
    let mut channels = api.hub.channel_stats();
    channels.sort_by(|a, b| a.id.cmp(&b.id));
    let by_id: HashMap<&str, &StreamStats> = streams.iter().map(|s| (s.id.as_str(), s)).collect();
    let hls_viewers = channels::hls_viewers(&channels, &streams);
    let figures: Vec<(&str, channels::ChannelFigures)> = channels
        .iter()
        .map(|c| {
            let figures = channels::channel_figures(c, &by_id, &hls_viewers);
            (c.id.as_str(), figures)
        })
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
        if let Some(max) = p.max_fds {
            t.single(
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max,
            );
        }
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
    server::render(&mut t, &api.hub.counters);
    channels::render(&mut t, &figures);

    if let Some(cb) = api.callback {
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
    record::render(&mut t, api.recording);
    t.0
}

/// `{"rtmp": n, "http-flv": n, …}` over every protocol.
fn by_protocol(value: impl Fn(Protocol) -> u64) -> Value {
    Protocol::ALL
        .iter()
        .map(|p| (p.as_str().to_string(), json!(value(*p))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `GET /stat`: the server in one object.
pub(super) fn stat_json(api: &Sources<'_>) -> Value {
    // Counts only: no snapshot of every stream and channel for a summary.
    let (by_type, channels) = api.hub.census();
    let mut connections = serde_json::Map::new();
    for kind in ["rtmp", "http-flv"] {
        connections.insert(kind.into(), json!(0));
    }
    for (stream_type, n) in &by_type {
        connections.insert(stream_type.as_str().into(), json!(n));
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
        "streams": by_type.iter().map(|(_, n)| n).sum::<usize>(),
        "channels": channels,
        "panics": ServerCounters::get(&counters.panics),
        "receivedBytes": by_protocol(|p| counters.traffic.received(p)),
        "sentBytes": by_protocol(|p| counters.traffic.sent(p)),
        "droppedPackets": counters.dropped_packets(),
        "refusedConnections": ServerCounters::get(&counters.refused_connections),
        "badProxyHeaders": ServerCounters::get(&counters.bad_proxy_headers),
        "callbacks": api.callback.map(|cb| serde_json::to_value(cb.stats()).unwrap_or_default()),
        "events": { "readers": api.events.readers(), "dropped": api.events.dropped() },
        "apiRequests": requests,
    })
}

#[cfg(test)]
mod tests;
