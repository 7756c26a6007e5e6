//! One run read back from its JSON report, as a row of the side-by-side summary.

/// One row of the side-by-side table, read from a run's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    pub protocol: String,
    pub subscribers: u64,
    /// How the non-probe subscribers read: `player` (woken for every write, like ffplay or VLC)
    /// or `lowat NK` (SO_RCVLOWAT of N KiB).
    pub readers: String,
    pub cpu_us: Option<f64>,
    pub rss_kib: Option<f64>,
    pub share_min: Option<f64>,
    pub share_median: Option<f64>,
    pub lat_p50: Option<f64>,
    pub lat_p99: Option<f64>,
    /// Time from a subscriber's connect to its first keyframe: median and maximum over subscribers.
    pub first_key_p50: Option<f64>,
    pub first_key_max: Option<f64>,
    pub failures: u64,
    pub bench_cpu_us: Option<f64>,
    /// The run's shape: channels published at once, subscribers opened per second.
    pub channels: u64,
    pub ramp: f64,
    /// Per channel (channel runs): server CPU µs per channel-second, RSS growth KiB per channel.
    pub cpu_us_per_channel: Option<f64>,
    pub rss_kib_per_channel: Option<f64>,
    pub first_key_p99: Option<f64>,
    /// The `--poll` URL's answer times (the API under load), ms.
    pub poll_p99: Option<f64>,
    pub poll_max: Option<f64>,
    pub poll_failures: u64,
}

/// From this many subscribers a second, a run is a connection storm.
pub const STORM_RAMP: f64 = 1000.0;

impl Row {
    /// Several channels at once: compared per channel.
    pub fn is_channels_run(&self) -> bool {
        self.channels > 1
    }

    /// A connection storm: compared on connecting, first keyframes and the API.
    pub fn is_storm(&self) -> bool {
        !self.is_channels_run() && self.ramp >= STORM_RAMP
    }
}

impl Row {
    pub fn from_json(v: &serde_json::Value) -> Row {
        let f = |ptr: &str| v.pointer(ptr).and_then(|x| x.as_f64());
        let u = |ptr: &str| v.pointer(ptr).and_then(|x| x.as_u64()).unwrap_or(0);
        Row {
            label: v
                .pointer("/label")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .to_string(),
            protocol: v
                .pointer("/config/protocol")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .to_string(),
            subscribers: u("/config/subscribers"),
            readers: readers_name(u("/config/rcvlowat")),
            cpu_us: f("/server/cpu_us_per_subscriber_second"),
            rss_kib: f("/server/rss_growth_per_subscriber_kib"),
            share_min: f("/per_subscriber/share/min"),
            share_median: f("/per_subscriber/share/median"),
            lat_p50: f("/latency_ms/p50"),
            lat_p99: f("/latency_ms/p99"),
            first_key_p50: f("/time_to_first_keyframe_ms/median"),
            first_key_max: f("/time_to_first_keyframe_ms/max"),
            failures: u("/subscribers/failed") + u("/subscribers/disconnected"),
            bench_cpu_us: f("/bench/cpu_us_per_subscriber_second"),
            channels: u("/config/channels").max(1),
            ramp: f("/config/ramp_per_second").unwrap_or(0.0),
            cpu_us_per_channel: f("/server/cpu_us_per_channel_second"),
            rss_kib_per_channel: f("/server/rss_growth_per_channel_kib"),
            first_key_p99: f("/time_to_first_keyframe_ms/p99"),
            poll_p99: f("/poll_ms/p99"),
            poll_max: f("/poll_ms/max"),
            poll_failures: u("/poll_ms/failures"),
        }
    }
}

/// The readers column for a run's SO_RCVLOWAT setting.
pub fn readers_name(rcvlowat: u64) -> String {
    match rcvlowat {
        0 => "player".to_string(),
        n if n % 1024 == 0 => format!("lowat {}K", n / 1024),
        n => format!("lowat {n}"),
    }
}

/// The baseline row a row is compared with: the row whose label contains `baseline`, whose
/// protocol is RTMP (so that an HTTP-FLV row is compared with the baseline's RTMP figures too), and
/// whose subscriber count, readers and shape (channels, storm or not) are the row's.
pub fn baseline_row<'a>(row: &Row, rows: &'a [Row], baseline: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|b| b.label.contains(baseline) && b.protocol == "rtmp" && same_case(b, row))
}

/// The same case of the bench: subscribers, readers, channels, and storm or not.
pub fn same_case(a: &Row, b: &Row) -> bool {
    a.subscribers == b.subscribers
        && a.readers == b.readers
        && a.channels == b.channels
        && a.is_storm() == b.is_storm()
}

/// CPU ratio of a row to its baseline row (see `baseline_row`).
pub fn cpu_ratio(row: &Row, rows: &[Row], baseline: &str) -> Option<f64> {
    match (row.cpu_us, baseline_row(row, rows, baseline)?.cpu_us) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}
