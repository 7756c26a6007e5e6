//! The per-channel families of `/metrics`: gauges of now (subscribers, viewers, bit rates,
//! buffer) and the channel's counters over its life (bytes in and out, packets dropped).

use std::collections::{HashMap, HashSet};

use super::text::Text;
use crate::hub::{ChannelStats, ChannelTotals, StreamStats, StreamType};

/// One channel's figures, gathered from its stats and its streams' stats.
#[derive(Debug, Default)]
pub(super) struct ChannelFigures {
    subscribers_by_type: HashMap<&'static str, u64>,
    /// Players watching now, by protocol (`rtmp`, `http-flv`, `hls`).
    viewers: [u64; 3],
    publisher: bool,
    bitrate_in: u64,
    bitrate_out: u64,
    totals: ChannelTotals,
    buffer_bytes: usize,
    buffer_gops: usize,
    buffer_seconds: f64,
}

const VIEWER_PROTOCOLS: [&str; 3] = ["rtmp", "http-flv", "hls"];

/// HLS viewers by channel: `(count, bits per second)`. They are wired to their channel without
/// subscribing to it (the channel's muxer, a subscriber of type `hls-mem`, serves them).
pub(super) fn hls_viewers<'a>(
    channels: &[ChannelStats],
    streams: &'a [StreamStats],
) -> HashMap<&'a str, (u64, u64)> {
    let muxers: HashSet<&str> = channels
        .iter()
        .flat_map(|c| c.subscribers.iter().map(String::as_str))
        .collect();
    let mut viewers: HashMap<&str, (u64, u64)> = HashMap::new();
    for s in streams {
        if let (StreamType::HlsMem, Some(channel)) = (s.stream_type, s.channel.as_deref()) {
            if !muxers.contains(s.id.as_str()) {
                let entry = viewers.entry(channel).or_default();
                entry.0 += 1;
                entry.1 += s.bitrate;
            }
        }
    }
    viewers
}

pub(super) fn channel_figures(
    channel: &ChannelStats,
    streams: &HashMap<&str, &StreamStats>,
    hls_viewers: &HashMap<&str, (u64, u64)>,
) -> ChannelFigures {
    let mut f = ChannelFigures {
        buffer_bytes: channel.buffer_used,
        buffer_gops: channel.buffered_gops,
        buffer_seconds: f64::from(channel.buffered_duration_ms) / 1000.0,
        totals: channel.totals,
        ..ChannelFigures::default()
    };
    for kind in ["rtmp", "http-flv"] {
        f.subscribers_by_type.insert(kind, 0);
    }
    if let Some(p) = channel.publisher.as_deref().and_then(|id| streams.get(id)) {
        f.publisher = true;
        f.bitrate_in = p.bitrate;
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
        match s.stream_type {
            StreamType::Rtmp => f.viewers[0] += 1,
            StreamType::HttpFlv => f.viewers[1] += 1,
            // The channel's HLS muxer, not a viewer.
            StreamType::HlsMem => {}
        }
    }
    if let Some((n, bitrate)) = hls_viewers.get(channel.id.as_str()) {
        f.viewers[2] = *n;
        f.bitrate_out += bitrate;
    }
    f
}

type Figure<'a> = (&'a str, &'a str, &'a str, fn(&ChannelFigures) -> f64);

/// The per-channel families, each with one sample per channel.
pub(super) fn render(t: &mut Text, figures: &[(&str, ChannelFigures)]) {
    t.family(
        "joy4_channel_subscribers",
        "gauge",
        "Subscribers of the channel now, by type (hls-mem: the channel's HLS muxer).",
    );
    for (channel, f) in figures {
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
    t.family(
        "joy4_channel_viewers",
        "gauge",
        "Players watching the channel now, by protocol (relay pushes count as rtmp).",
    );
    for (channel, f) in figures {
        for (protocol, n) in VIEWER_PROTOCOLS.iter().zip(f.viewers) {
            t.sample(
                "joy4_channel_viewers",
                &[("channel", channel), ("protocol", protocol)],
                n,
            );
        }
    }
    let per_channel: [Figure; 9] = [
        (
            "joy4_channel_publisher",
            "gauge",
            "Whether the channel has a publisher (1) or not (0).",
            |f| f64::from(u8::from(f.publisher)),
        ),
        (
            "joy4_channel_in_bitrate_bits_per_second",
            "gauge",
            "Bit rate received from the publisher now.",
            |f| f.bitrate_in as f64,
        ),
        (
            "joy4_channel_out_bitrate_bits_per_second",
            "gauge",
            "Bit rate sent to all subscribers and HLS viewers together now.",
            |f| f.bitrate_out as f64,
        ),
        (
            "joy4_channel_received_bytes_total",
            "counter",
            "Media bytes (message bodies) the channel took from its publishers over its life.",
            |f| f.totals.received_bytes as f64,
        ),
        (
            "joy4_channel_sent_bytes_total",
            "counter",
            "Bytes written to the channel's subscribers and HLS viewers over its life.",
            |f| f.totals.sent_bytes as f64,
        ),
        (
            "joy4_channel_dropped_packets_total",
            "counter",
            "Packets the channel's subscribers skipped for being slow, over its life.",
            |f| f.totals.dropped_packets as f64,
        ),
        (
            "joy4_channel_buffer_bytes",
            "gauge",
            "Bytes the channel's buffer holds.",
            |f| f.buffer_bytes as f64,
        ),
        (
            "joy4_channel_buffer_gops",
            "gauge",
            "GOPs the channel's buffer holds.",
            |f| f.buffer_gops as f64,
        ),
        (
            "joy4_channel_buffer_seconds",
            "gauge",
            "Media time the channel's buffer holds.",
            |f| f.buffer_seconds,
        ),
    ];
    for (name, kind, help, value) in &per_channel {
        t.family(name, kind, help);
        for (channel, f) in figures {
            t.sample(name, &[("channel", channel)], value(f));
        }
    }
}
